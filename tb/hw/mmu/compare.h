// Compares a walk of the TLM walker with the reference translator, field by
// field, and the memory it left behind. Returns "" or what differed.
#pragma once

#include <cstring>
#include <string>

#include <fmt/format.h>

#include "tb/hw/mmu/machine.h"
#include "tb/hw/mmu/reference.h"

namespace hw::test {

inline RefRead dram_reader(Machine& m) {
  return [&m](uint64_t pa, uint64_t& v) {
    if (!m.dram.contains(pa, 8)) return 1;
    if (m.dram.is_poisoned(pa, 8)) return 2;
    std::memcpy(&v, m.dram.host(pa), 8);
    return 0;
  };
}

inline std::string compare(const WalkResult& w, const RefResult& r) {
  std::string d;
  auto chk = [&](const char* what, uint64_t got, uint64_t want) {
    if (got != want) d += fmt::format(" {}: walker {:#x}, reference {:#x};", what, got, want);
  };
  chk("status", static_cast<unsigned>(w.status), static_cast<unsigned>(r.status));
  chk("pa", w.pa, r.pa);
  chk("page_size", w.page_size, r.page_size);
  chk("leaf_level", w.leaf_level, r.leaf_level);
  chk("rw", w.rw, r.rw);
  chk("us", w.us, r.us);
  chk("nx", w.nx, r.nx);
  chk("global", w.global, r.global);
  chk("dirty", w.dirty, r.dirty);
  chk("memtype", w.memtype, r.memtype);
  chk("error_code", w.error_code, r.error_code);
  chk("fault_level", w.fault_level, r.fault_level);
  chk("fault_pte_addr", w.fault_pte_addr, r.fault_pte_addr);
  chk("mc_addr", w.mc_addr, r.mc_addr);
  chk("mc_poison", w.mc_poison, r.mc_poison);
  for (unsigned l = 1; l <= kMaxLevels; ++l) {
    chk(fmt::format("pte_valid[{}]", l).c_str(), w.pte_valid[l], r.pte_valid[l]);
    chk(fmt::format("pte_addr[{}]", l).c_str(), w.pte_addr[l], r.pte_addr[l]);
    chk(fmt::format("pte_value[{}]", l).c_str(), w.pte_value[l], r.pte_value[l]);
  }
  chk("mem_reads", w.mem_reads, r.mem_reads);
  chk("mem_writes", w.mem_writes, r.mem_writes);
  chk("restarts", w.restarts, 0);
  return d;
}

// The entries' values after the walk: the reference's final memory for a
// translation; untouched entries otherwise.
inline std::string compare_memory(Machine& m, const RefResult& r) {
  std::string d;
  if (r.status == WalkStatus::ok) {
    for (const auto& [addr, value] : r.final_memory)
      if (m.word(addr) != value) d += fmt::format(" entry@{:#x}: {:#x}, expected {:#x};", addr, m.word(addr), value);
  } else {
    for (unsigned l = 1; l <= kMaxLevels; ++l)
      if (r.pte_valid[l] && m.dram.contains(r.pte_addr[l], 8) && !m.dram.is_poisoned(r.pte_addr[l], 8) &&
          m.word(r.pte_addr[l]) != r.pte_value[l])
        d += fmt::format(" entry@{:#x} written by a failed walk;", r.pte_addr[l]);
  }
  return d;
}

inline std::string describe(const WalkRequest& rq) {
  return fmt::format("va={:#x} {} {} wp={} nxe={} maxphy={} levels={} cr3={:#x} start=L{}@{:#x} acc={}{}{}", rq.va,
                     rq.access == x86::Access::write ? "write" : rq.access == x86::Access::fetch ? "fetch" : "read",
                     rq.user ? "user" : "sup", rq.wp, rq.nxe, rq.maxphyaddr, rq.levels, rq.cr3, rq.start_level,
                     rq.start_table, rq.acc_rw, rq.acc_us, rq.acc_nx);
}

}  // namespace hw::test
