// System calls (Linux arch/x86/entry/syscall_64.c and the sys_* handlers):
// syscall.cpp holds the table of handlers, indexed by system call number
// (hal::Sys, Linux's x86-64 numbers), and fw::Kernel::syscall dispatches
// through it; each handled call has its counter, syscall.<name>.
#pragma once

#include <stdint.h>

#include "sw/lib/observe.h"

namespace fw {

// One past the highest system call number the table can hold (exit_group, 231).
constexpr unsigned NR_syscalls = 232;

struct SyscallStats {
  uint64_t total = 0;
  uint64_t enosys = 0;                 // numbers with no handler (ENOSYS)
  uint64_t calls[NR_syscalls] = {};    // by number

  // total, each handled call by name (the file calls only with `storage`:
  // machines with block devices), enosys, under "<prefix>.".
  void visit(StatVisitor& v, const char* prefix, bool storage) const;
};

}  // namespace fw
