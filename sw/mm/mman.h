// mmap's user-visible constants, numbered as on Linux x86-64.
#pragma once

#include <stdint.h>

namespace fw {

constexpr uint64_t PROT_NONE = 0x0;
constexpr uint64_t PROT_READ = 0x1;
constexpr uint64_t PROT_WRITE = 0x2;
constexpr uint64_t PROT_EXEC = 0x4;

constexpr uint64_t MAP_SHARED = 0x01;
constexpr uint64_t MAP_PRIVATE = 0x02;
constexpr uint64_t MAP_SHARED_VALIDATE = 0x03;
constexpr uint64_t MAP_TYPE = 0x0f;
constexpr uint64_t MAP_FIXED = 0x10;
constexpr uint64_t MAP_ANONYMOUS = 0x20;
constexpr uint64_t MAP_32BIT = 0x40;
constexpr uint64_t MAP_GROWSDOWN = 0x0100;
constexpr uint64_t MAP_NORESERVE = 0x4000;
constexpr uint64_t MAP_POPULATE = 0x8000;
constexpr uint64_t MAP_HUGETLB = 0x40000;
constexpr uint64_t MAP_FIXED_NOREPLACE = 0x100000;

}  // namespace fw
