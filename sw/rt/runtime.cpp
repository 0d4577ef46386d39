// A tiny C/C++ runtime for the freestanding firmware build: the memory and
// string functions the compiler and the firmware may call, the pure-virtual
// trap, and _start, which runs the static constructors (.preinit_array,
// .init_array), calls fw_main() and exits through a raw system call.
#include "sw/rt/rt.h"

// The byte loops below must not be turned back into calls to themselves.
#define RT_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

extern "C" {

RT_NO_LIBCALL void* memcpy(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  while (n--) *d++ = *s++;
  return dst;
}

RT_NO_LIBCALL void* memset(void* dst, int c, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  while (n--) *d++ = static_cast<unsigned char>(c);
  return dst;
}

RT_NO_LIBCALL void* memmove(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (d < s) {
    while (n--) *d++ = *s++;
  } else {
    while (n--) d[n] = s[n];
  }
  return dst;
}

RT_NO_LIBCALL int memcmp(const void* a, const void* b, size_t n) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (; n; --n, ++x, ++y)
    if (*x != *y) return *x < *y ? -1 : 1;
  return 0;
}

RT_NO_LIBCALL size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

// Called through a vtable slot of a pure virtual function: a bug.
void __cxa_pure_virtual() {
  rt::puts("fw_freestanding_boot: pure virtual call\n");
  rt::exit(126);
}

}  // extern "C"

namespace rt {

namespace {
long syscall3(long nr, long a, long b, long c) {
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}
}  // namespace

void write(int fd, const char* s, size_t n) {
  while (n) {
    const long r = syscall3(1 /* write */, fd, reinterpret_cast<long>(s), static_cast<long>(n));
    if (r <= 0) return;
    s += r;
    n -= static_cast<size_t>(r);
  }
}

void puts(const char* s) { write(1, s, strlen(s)); }

void exit(int code) {
  syscall3(231 /* exit_group */, code, 0, 0);
  __builtin_unreachable();
}

}  // namespace rt

// Provided by the linker's default script.
extern "C" {
extern void (*__preinit_array_start[])();
extern void (*__preinit_array_end[])();
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
}

extern "C" [[noreturn]] void rt_start(uint64_t* sp) {
  (void)sp;  // argc, argv, envp: unused
  for (auto** f = __preinit_array_start; f != __preinit_array_end; ++f) (**f)();
  for (auto** f = __init_array_start; f != __init_array_end; ++f) (**f)();
  rt::exit(fw_main());
}

// The kernel enters with rsp at argc, 16-byte aligned; calls need rsp+8
// aligned at function entry, which `call` provides.
asm(R"(
  .text
  .globl _start
  .type _start, @function
_start:
  xor %ebp, %ebp
  mov %rsp, %rdi
  and $-16, %rsp
  call rt_start
  hlt
)");
