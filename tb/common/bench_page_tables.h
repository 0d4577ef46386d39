// Four-level page tables written straight into a DRAM model's memory, for
// the walker benchmarks (tb/hw/mmu/bench_mmu.cpp,
// tb/hw/rtlwalk/bench_rtl_walker.cpp). Every entry has A set and every leaf
// A and D, so that walks only read.
#pragma once

#include <cstdint>
#include <cstring>

#include "hw/mem/dram.h"
#include "sw/hal/x86.h"

namespace tb {

class BenchPageTables {
 public:
  // Tables are allocated from `first_table` upwards; the root is the first.
  BenchPageTables(hw::Dram& dram, uint64_t first_table) : dram_(dram), next_(first_table), cr3(table()) {}

  // Maps the 4 KiB page at `va` to `pa`, user and writable. Afterwards
  // tables[l] is the table whose entry at level l maps `va` (tables[4] = cr3).
  void map(uint64_t va, uint64_t pa) {
    constexpr uint64_t P = x86::PTE_P, RW = x86::PTE_RW, US = x86::PTE_US, A = x86::PTE_A;
    uint64_t t = cr3;
    for (unsigned l = 4; l > 1; --l) {
      tables[l] = t;
      uint64_t& e = word(t + 8 * x86::pt_index(va, l));
      if (!(e & P)) e = table() | P | RW | US | A;
      t = e & x86::phys_mask(46);
    }
    tables[1] = t;
    word(t + 8 * x86::pt_index(va, 1)) = pa | P | RW | US | A | x86::PTE_D;
  }

 private:
  uint64_t& word(uint64_t pa) { return *reinterpret_cast<uint64_t*>(dram_.host(pa)); }
  uint64_t table() {
    const uint64_t t = next_;
    next_ += 4096;
    std::memset(dram_.host(t), 0, 4096);
    return t;
  }

  hw::Dram& dram_;
  uint64_t next_;

 public:
  const uint64_t cr3;
  uint64_t tables[5] = {};
};

}  // namespace tb
