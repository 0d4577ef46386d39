// A small reference translator for the RTL walker tests, written from
// docs/walker.md step by step (independent of rtl/walker.sv, of the
// transactor and of the TLM walker), over a memory model that answers like
// tb/rtl/test_memory.h: sparse words, error words, poisoned lines, and a hook
// run when a locked read arrives.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "hw/ext/walk.h"
#include "sw/hal/x86.h"

namespace rtltest {

struct RefMemory {
  enum class Res { ok, error, poison };

  std::map<uint64_t, uint64_t> words;
  std::set<uint64_t> error_words;
  std::set<uint64_t> poison_lines;
  std::function<void(RefMemory&, uint64_t addr)> on_locked_read;
  std::vector<uint64_t> written;  // addresses written, in order

  uint64_t peek(uint64_t a) const {
    auto it = words.find(a);
    return it == words.end() ? 0 : it->second;
  }
  Res read(uint64_t a, uint64_t& v, bool lock) {
    v = 0;
    if (lock && on_locked_read) on_locked_read(*this, a);
    if (error_words.count(a)) return Res::error;
    if (poison_lines.count(a & ~63ull)) return Res::poison;
    v = peek(a);
    return Res::ok;
  }
  void write(uint64_t a, uint64_t v) {
    written.push_back(a);
    if (error_words.count(a)) return;
    words[a] = v;
  }
};

// docs/walker.md, "The walk".
inline hw::WalkResult reference_walk(const hw::WalkRequest& rq, RefMemory& mem) {
  using hw::WalkResult;
  using hw::WalkStatus;
  constexpr unsigned kRestartLimit = 8;
  const uint64_t phys = x86::phys_mask(rq.maxphyaddr);
  const uint64_t above = rq.maxphyaddr >= 52 ? 0 : (((1ull << 52) - 1) & ~((1ull << rq.maxphyaddr) - 1));
  const bool write = rq.access == x86::Access::write;
  const bool fetch = rq.access == x86::Access::fetch;
  uint32_t access_ec = 0;
  if (write) access_ec |= x86::PF_W;
  if (rq.user) access_ec |= x86::PF_U;
  if (fetch && rq.nxe) access_ec |= x86::PF_I;

  WalkResult r;
  auto page_fault = [&](uint32_t ec, unsigned level, uint64_t addr) {
    r.status = WalkStatus::page_fault;
    r.error_code = ec | access_ec;
    r.fault_level = level;
    r.fault_pte_addr = addr;
    return r;
  };
  auto machine_check = [&](uint64_t addr, RefMemory::Res res) {
    r.status = WalkStatus::machine_check;
    r.mc_addr = addr;
    r.mc_poison = res == RefMemory::Res::poison;
    return r;
  };

  for (;;) {
    // A (re)start: the request's start, the entries of this pass only.
    for (unsigned l = 0; l <= hw::kMaxLevels; ++l) {
      r.pte_valid[l] = false;
      r.pte_addr[l] = r.pte_value[l] = 0;
    }
    uint64_t table = (rq.start_level == rq.levels ? rq.cr3 : rq.start_table) & phys;
    unsigned L = rq.start_level;
    bool rw = rq.acc_rw, us = rq.acc_us, nx = rq.acc_nx;
    uint64_t E = 0;
    for (;;) {
      // 1. read
      const uint64_t addr = table + 8 * ((rq.va >> (12 + 9 * (L - 1))) & 511);
      const RefMemory::Res res = mem.read(addr, E, false);
      ++r.mem_reads;
      r.pte_addr[L] = addr;
      r.pte_value[L] = E;
      r.pte_valid[L] = true;
      if (res != RefMemory::Res::ok) return machine_check(addr, res);
      // 2. present
      if (!(E & x86::PTE_P)) return page_fault(0, L, addr);
      // 3. reserved bits
      const bool ps = E & x86::PTE_PS;
      const bool rsvd = (E & above) || ((E >> 63) && !rq.nxe) || (L >= 4 && ps) ||
                        (L == 3 && ps && ((E >> 13) & 0x1ffff)) || (L == 2 && ps && ((E >> 13) & 0xff));
      if (rsvd) return page_fault(x86::PF_P | x86::PF_RSVD, L, addr);
      // 4. accumulate
      rw = rw && (E & x86::PTE_RW);
      us = us && (E & x86::PTE_US);
      nx = nx || (E >> 63);
      // 5. leaf?
      if (L == 1 || ((L == 2 || L == 3) && ps)) break;
      table = E & phys;
      --L;
    }
    // 6. rights
    const unsigned leaf = L;
    const uint64_t leaf_addr = r.pte_addr[leaf];
    if (rq.user && !us) return page_fault(x86::PF_P, leaf, leaf_addr);
    if (write && rq.user && !rw) return page_fault(x86::PF_P, leaf, leaf_addr);
    if (write && !rq.user && rq.wp && !rw) return page_fault(x86::PF_P, leaf, leaf_addr);
    if (fetch && rq.nxe && nx) return page_fault(x86::PF_P, leaf, leaf_addr);
    // 7. Accessed and Dirty
    bool dirty = E & x86::PTE_D;
    bool restart = false;
    for (unsigned l = rq.start_level; l >= leaf && !restart; --l) {
      const uint64_t used = r.pte_value[l];
      const bool needs = !(used & x86::PTE_A) || (l == leaf && write && !(used & x86::PTE_D));
      if (!needs) continue;
      uint64_t now = 0;
      const RefMemory::Res res = mem.read(r.pte_addr[l], now, true);
      ++r.mem_reads;
      // A failed locked read takes no lock: nothing is released or written.
      if (res != RefMemory::Res::ok) return machine_check(r.pte_addr[l], res);
      const uint64_t ad = x86::PTE_A | x86::PTE_D;
      if ((now & ~ad) != (used & ~ad)) {
        mem.write(r.pte_addr[l], now);  // release, unchanged
        ++r.mem_writes;
        ++r.restarts;
        if (r.restarts == kRestartLimit) return page_fault(0, l, r.pte_addr[l]);
        restart = true;
        break;
      }
      const uint64_t updated = now | x86::PTE_A | (l == leaf && write ? x86::PTE_D : 0);
      mem.write(r.pte_addr[l], updated);
      ++r.mem_writes;
      if (l == leaf) dirty = updated & x86::PTE_D;
    }
    if (restart) continue;
    // 8. result
    const uint64_t size = 1ull << (12 + 9 * (leaf - 1));
    r.status = WalkStatus::ok;
    r.page_size = size;
    r.leaf_level = leaf;
    r.pa = (E & phys & ~(size - 1)) | (rq.va & (size - 1));
    r.rw = rw;
    r.us = us;
    r.nx = rq.nxe && nx;
    r.global = E & x86::PTE_G;
    r.dirty = dirty;
    const bool pat = leaf == 1 ? (E & x86::PTE_PS) : (E & x86::PTE_PAT_LARGE);
    r.memtype = static_cast<uint8_t>((pat ? 4 : 0) | ((E & x86::PTE_PCD) ? 2 : 0) | ((E & x86::PTE_PWT) ? 1 : 0));
    return r;
  }
}

// Field-by-field comparison; "" when equal.
inline std::string diff_results(const hw::WalkResult& got, const hw::WalkResult& want,
                                const char* got_name = "rtl", const char* want_name = "reference") {
  std::string d;
  auto chk = [&](const std::string& what, uint64_t g, uint64_t w) {
    if (g != w) d += fmt::format(" {}: {} {:#x}, {} {:#x};", what, got_name, g, want_name, w);
  };
  chk("status", static_cast<unsigned>(got.status), static_cast<unsigned>(want.status));
  chk("pa", got.pa, want.pa);
  chk("page_size", got.page_size, want.page_size);
  chk("leaf_level", got.leaf_level, want.leaf_level);
  chk("rw", got.rw, want.rw);
  chk("us", got.us, want.us);
  chk("nx", got.nx, want.nx);
  chk("global", got.global, want.global);
  chk("dirty", got.dirty, want.dirty);
  chk("memtype", got.memtype, want.memtype);
  chk("error_code", got.error_code, want.error_code);
  chk("fault_level", got.fault_level, want.fault_level);
  chk("fault_pte_addr", got.fault_pte_addr, want.fault_pte_addr);
  chk("mc_addr", got.mc_addr, want.mc_addr);
  chk("mc_poison", got.mc_poison, want.mc_poison);
  for (unsigned l = 1; l <= hw::kMaxLevels; ++l) {
    chk(fmt::format("pte_valid[{}]", l), got.pte_valid[l], want.pte_valid[l]);
    chk(fmt::format("pte_addr[{}]", l), got.pte_addr[l], want.pte_addr[l]);
    chk(fmt::format("pte_value[{}]", l), got.pte_value[l], want.pte_value[l]);
  }
  chk("mem_reads", got.mem_reads, want.mem_reads);
  chk("mem_writes", got.mem_writes, want.mem_writes);
  chk("restarts", got.restarts, want.restarts);
  return d;
}

inline std::string describe(const hw::WalkRequest& rq) {
  return fmt::format("va={:#x} {} {} wp={} nxe={} maxphyaddr={} levels={} cr3={:#x} start=L{}@{:#x} acc={}{}{}",
                     rq.va,
                     rq.access == x86::Access::write ? "write" : rq.access == x86::Access::fetch ? "fetch" : "read",
                     rq.user ? "user" : "supervisor", rq.wp, rq.nxe, rq.maxphyaddr, rq.levels, rq.cr3,
                     rq.start_level, rq.start_table, rq.acc_rw, rq.acc_us, rq.acc_nx);
}

}  // namespace rtltest
