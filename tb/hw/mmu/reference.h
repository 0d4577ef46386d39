// An independent reference translator for the walker tests, written from
// docs/walker.md and the SDM, and deliberately structured differently from
// hw/mmu/walker.cpp: it first collects the chain of entries a walk reads,
// then classifies the chain (machine check, not present, reserved bit,
// rights) and finally derives the Accessed/Dirty writes it expects, replayed
// on a private overlay of memory. It shares no code with the walker.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "hw/ext/walk.h"
#include "sw/hal/x86.h"

namespace hw::test {

// One page-table read: 0 ok, 1 error response, 2 poison.
using RefRead = std::function<int(uint64_t pa, uint64_t& value)>;

struct RefResult {
  WalkStatus status = WalkStatus::ok;
  uint64_t pa = 0, page_size = 0;
  unsigned leaf_level = 0;
  bool rw = false, us = false, nx = false, global = false, dirty = false;
  uint8_t memtype = 0;
  uint32_t error_code = 0;
  unsigned fault_level = 0;
  uint64_t fault_pte_addr = 0;
  uint64_t mc_addr = 0;
  bool mc_poison = false;
  bool pte_valid[kMaxLevels + 1] = {};
  uint64_t pte_addr[kMaxLevels + 1] = {};
  uint64_t pte_value[kMaxLevels + 1] = {};
  unsigned mem_reads = 0, mem_writes = 0;
  // The memory the walk leaves behind: entry address -> final value.
  std::map<uint64_t, uint64_t> final_memory;
};

namespace ref_detail {

inline uint64_t field(uint64_t v, unsigned hi, unsigned lo) {
  return (v >> lo) & ((hi - lo == 63) ? ~0ull : ((1ull << (hi - lo + 1)) - 1));
}
inline bool bit(uint64_t v, unsigned b) { return (v >> b) & 1; }

// Is `e`, read at `level`, reserved-bit-faulty for this request?
inline bool reserved(uint64_t e, unsigned level, unsigned maxphyaddr, bool nxe) {
  const bool high = maxphyaddr < 52 && field(e, 51, maxphyaddr) != 0;
  const bool xd = bit(e, 63) && !nxe;
  const bool ps = bit(e, 7);
  const bool ps_too_high = level >= 4 && ps;
  const bool bad_1g = level == 3 && ps && field(e, 29, 13) != 0;
  const bool bad_2m = level == 2 && ps && field(e, 20, 13) != 0;
  return high || xd || ps_too_high || bad_1g || bad_2m;
}

}  // namespace ref_detail

inline RefResult reference_walk(const WalkRequest& rq, const RefRead& read) {
  using namespace ref_detail;
  RefResult out;
  const uint64_t addr_mask = ((1ull << rq.maxphyaddr) - 1) & ~0xfffull;
  const unsigned access_code = (rq.access == x86::Access::write ? 2u : 0u) | (rq.user ? 4u : 0u) |
                               (rq.access == x86::Access::fetch && rq.nxe ? 16u : 0u);

  // Phase 1: the chain of entries, top down, until a leaf or a stop.
  struct Link {
    unsigned level;
    uint64_t addr, value;
    int read_status;
  };
  std::vector<Link> chain;
  uint64_t table = (rq.start_level == rq.levels ? rq.cr3 : rq.start_table) & addr_mask;
  for (unsigned level = rq.start_level; level >= 1; --level) {
    const uint64_t index = (rq.va >> (12 + 9 * (level - 1))) % 512;
    Link link{level, table + index * 8, 0, 0};
    link.read_status = read(link.addr, link.value);
    if (link.read_status != 0) link.value = 0;
    chain.push_back(link);
    if (link.read_status != 0 || !bit(link.value, 0) || reserved(link.value, level, rq.maxphyaddr, rq.nxe)) break;
    const bool is_leaf = level == 1 || ((level == 2 || level == 3) && bit(link.value, 7));
    if (is_leaf) break;
    table = link.value & addr_mask;
  }
  for (const Link& l : chain) {
    out.pte_valid[l.level] = true;
    out.pte_addr[l.level] = l.addr;
    out.pte_value[l.level] = l.value;
  }
  out.mem_reads = static_cast<unsigned>(chain.size());

  // Phase 2: classify the last link.
  const Link& last = chain.back();
  if (last.read_status != 0) {
    out.status = WalkStatus::machine_check;
    out.mc_addr = last.addr;
    out.mc_poison = last.read_status == 2;
    return out;
  }
  auto fault = [&](uint32_t extra, const Link& at) {
    out.status = WalkStatus::page_fault;
    out.error_code = access_code | extra;
    out.fault_level = at.level;
    out.fault_pte_addr = at.addr;
  };
  if (!bit(last.value, 0)) {
    fault(0, last);
    return out;
  }
  if (reserved(last.value, last.level, rq.maxphyaddr, rq.nxe)) {
    fault(1 | 8, last);
    return out;
  }

  // Rights over every level, skipped ones through the request's acc_*.
  unsigned writable = rq.acc_rw ? 1 : 0, user_ok = rq.acc_us ? 1 : 0, no_exec = rq.acc_nx ? 1 : 0;
  for (const Link& l : chain) {
    writable &= bit(l.value, 1);
    user_ok &= bit(l.value, 2);
    no_exec |= bit(l.value, 63);
  }
  bool allowed = true;
  if (rq.user && !user_ok) allowed = false;
  if (rq.access == x86::Access::write && !writable && (rq.user || rq.wp)) allowed = false;
  if (rq.access == x86::Access::fetch && rq.nxe && no_exec) allowed = false;
  if (!allowed) {
    fault(1, last);
    return out;
  }

  // Phase 3: Accessed/Dirty, top down, replayed on an overlay of memory.
  std::map<uint64_t, uint64_t> overlay;
  for (const Link& l : chain) overlay.emplace(l.addr, l.value);
  const bool write = rq.access == x86::Access::write;
  bool leaf_dirty = bit(last.value, 6);
  for (const Link& l : chain) {
    const bool is_last = &l == &last;
    const bool wants_a = !bit(l.value, 5);
    const bool wants_d = is_last && write && !bit(l.value, 6);
    if (!wants_a && !wants_d) continue;
    ++out.mem_reads;  // the locked read
    ++out.mem_writes;
    uint64_t now = overlay[l.addr];
    now |= 1ull << 5;
    if (is_last && write) now |= 1ull << 6;
    overlay[l.addr] = now;
    if (is_last) leaf_dirty = bit(now, 6);
  }
  out.final_memory = overlay;

  const unsigned shift = 12 + 9 * (last.level - 1);
  out.status = WalkStatus::ok;
  out.leaf_level = last.level;
  out.page_size = 1ull << shift;
  out.pa = ((last.value & addr_mask) >> shift << shift) | (rq.va & ((1ull << shift) - 1));
  out.rw = writable;
  out.us = user_ok;
  out.nx = rq.nxe && no_exec;
  out.global = bit(last.value, 8);
  out.dirty = leaf_dirty;
  const bool pat = last.level == 1 ? bit(last.value, 7) : bit(last.value, 12);
  out.memtype = static_cast<uint8_t>((pat << 2) | (bit(last.value, 4) << 1) | bit(last.value, 3));
  return out;
}

}  // namespace hw::test
