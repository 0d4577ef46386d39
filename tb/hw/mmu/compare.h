// Compares a walk of the TLM walker with the reference walker
// (tb/common/reference_walker.h) over the same tables in the machine's
// DRAM: every result field, and the memory the walker left behind. Used by
// the walker conformance sweeps and the differential test.
#pragma once

#include <cstring>
#include <map>
#include <string>

#include <fmt/format.h>

#include "tb/common/reference_walker.h"
#include "tb/hw/mmu/machine.h"

namespace hw::test {

// What the reference expects of a walk: its result, and every word it read
// or wrote with the value it leaves behind.
struct Expected {
  reference::Result result;
  std::map<uint64_t, uint64_t> memory;
};

// The reference's walk of the tables in `m`'s DRAM, before the walker under
// test walks them; its A/D writes stay in an overlay (DRAM is not touched).
inline Expected reference_walk(Machine& m, const WalkRequest& rq) {
  reference::OverlayMemory mem([&m](uint64_t pa, uint64_t& v) {
    if (!m.dram.contains(pa, 8)) return reference::ReadStatus::error;
    if (m.dram.is_poisoned(pa, 8)) return reference::ReadStatus::poison;
    std::memcpy(&v, m.dram.host(pa), 8);
    return reference::ReadStatus::ok;
  });
  Expected e;
  e.result = reference::walk(reference::request_from(rq), mem);
  e.memory = std::move(mem.seen);
  return e;
}

// "" or what differed, field by field.
inline std::string compare(const WalkResult& w, const Expected& e) { return reference::diff(w, e.result); }

// The entries' values after the walk: the reference's for a translation;
// untouched entries otherwise.
inline std::string compare_memory(Machine& m, const Expected& e) {
  std::string d;
  const reference::Result& r = e.result;
  if (r.status == reference::Status::ok) {
    for (const auto& [addr, value] : e.memory)
      if (m.word(addr) != value) d += fmt::format(" entry@{:#x}: {:#x}, expected {:#x};", addr, m.word(addr), value);
  } else {
    for (unsigned l = 1; l <= kMaxLevels; ++l)
      if (r.pte_valid[l] && m.dram.contains(r.pte_addr[l], 8) && !m.dram.is_poisoned(r.pte_addr[l], 8) &&
          m.word(r.pte_addr[l]) != r.pte_value[l])
        d += fmt::format(" entry@{:#x} written by a failed walk;", r.pte_addr[l]);
  }
  return d;
}

inline std::string describe(const WalkRequest& rq) { return reference::describe(rq); }

}  // namespace hw::test
