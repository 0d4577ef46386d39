// The freestanding runtime of fw_freestanding_boot: the only code besides
// the firmware and libgcc in that program. Linux x86-64 user space, raw
// system calls, no libc.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace rt {

void write(int fd, const char* s, size_t n);
void puts(const char* s);  // to stdout, no newline added
[[noreturn]] void exit(int code);

}  // namespace rt

// The program's entry after the runtime ran the constructors.
int fw_main();
