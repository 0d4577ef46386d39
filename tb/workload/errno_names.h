// Linux's errno names, as x86-64 numbers them (include/uapi/asm-generic/
// errno-base.h and errno.h): the one table the workload uses both to read a
// scenario's `expect: EINVAL` and to name a system call's error in messages.
// Used by tb/workload/workload.cpp (parsing) and program.cpp (run errors).
#pragma once

#include <cstdint>
#include <string>

namespace tb {

// Returns the name of errno `e` ("EINVAL"), or nullptr when the table lacks it.
const char* errno_name(int64_t e);
// Returns the errno called `name` in `e`; false when no errno is called so.
bool errno_by_name(const std::string& name, int64_t& e);
// Returns "EINVAL", or "errno 300" for a number the table lacks.
std::string errno_text(int64_t e);

}  // namespace tb
