// mmap's user-visible constants: the ABI's values (sw/hal/uapi.h, one
// definition shared with the user side) under Linux's names, plus the
// derived masks the kernel side uses. (madvise and clone use uapi:: names
// directly: a host build's <sys/mman.h> and <sched.h> define theirs as
// macros.)
#pragma once

#include <stdint.h>

#include "sw/hal/uapi.h"

namespace fw {

constexpr uint64_t PROT_NONE = uapi::kProtNone;
constexpr uint64_t PROT_READ = uapi::kProtRead;
constexpr uint64_t PROT_WRITE = uapi::kProtWrite;
constexpr uint64_t PROT_EXEC = uapi::kProtExec;

constexpr uint64_t MAP_SHARED = uapi::kMapShared;
constexpr uint64_t MAP_PRIVATE = uapi::kMapPrivate;
constexpr uint64_t MAP_SHARED_VALIDATE = 0x03;
constexpr uint64_t MAP_TYPE = 0x0f;
constexpr uint64_t MAP_FIXED = uapi::kMapFixed;
constexpr uint64_t MAP_ANONYMOUS = uapi::kMapAnonymous;
constexpr uint64_t MAP_NORESERVE = uapi::kMapNoreserve;
constexpr uint64_t MAP_POPULATE = uapi::kMapPopulate;
constexpr uint64_t MAP_HUGETLB = uapi::kMapHugetlb;
constexpr uint64_t MAP_FIXED_NOREPLACE = uapi::kMapFixedNoreplace;
constexpr unsigned MAP_HUGE_SHIFT = uapi::kMapHugeShift;
constexpr uint64_t MAP_HUGE_2MB = uapi::kMapHuge2MB;
constexpr uint64_t MAP_HUGE_1GB = uapi::kMapHuge1GB;

}  // namespace fw
