// The reference page walker: the oracle every test that checks a translation
// compares against. Written step by step from docs/walker.md and the Intel
// SDM (Vol. 3A: 4.5 "4-level and 5-level paging", 4.6 "access rights", 4.7
// "page-fault exceptions", 4.8 "accessed and dirty flags"), independently of
// hw/mmu/walker.cpp and rtl/walker.sv. Users:
//   - tb/hw/mmu: conformance and differential tests of the TLM walker;
//   - tb/rtl: the random test of the RTL walker, and the field comparison of
//     its RTL-against-TLM test;
//   - tb/sw/mm/fw_rig.h: the firmware tests' model of a core's user access on
//     the host HAL (checks the page tables the firmware builds).
// It depends on sw/hal/x86.h only (no SystemC, no fmt), so host-only tests
// can use it. Memory is reached through `reference::Memory`, which a test
// implements over whatever holds its tables (DRAM, a sparse map, host memory).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sw/hal/x86.h"

namespace reference {

constexpr unsigned kMaxLevels = 5;

// The walk's inputs (docs/walker.md, "Inputs"). A full walk has
// start_level == levels; a walk resumed from a paging-structure-cache hit
// starts below the root with the rights accumulated above it.
struct Request {
  uint64_t va = 0;
  x86::Access access = x86::Access::read;
  bool user = false;    // CPL 3
  uint64_t cr3 = 0;     // raw: PCID, PWT/PCD and bit 63 are below or above the table address
  bool wp = true;       // CR0.WP
  bool nxe = true;      // EFER.NXE
  bool pcide = false;   // CR4.PCIDE: does not change the walk (the PCID is below the table address)
  unsigned levels = 4;  // 4, or 5 with LA57
  unsigned maxphyaddr = 46;
  unsigned start_level = 4;
  uint64_t start_table = 0;
  bool acc_rw = true, acc_us = true, acc_nx = false;
};

// Numbered as hw::WalkStatus.
enum class Status : uint8_t { ok = 0, page_fault = 1, machine_check = 2 };

// The walk's result (docs/walker.md, "Result"); fields that do not belong to
// the status are 0.
struct Result {
  Status status = Status::ok;
  uint64_t pa = 0, page_size = 0;
  unsigned leaf_level = 0;
  bool rw = false, us = false, nx = false, global = false, dirty = false;
  uint8_t memtype = 0;  // PAT:PCD:PWT
  uint32_t error_code = 0;
  unsigned fault_level = 0;
  uint64_t fault_pte_addr = 0;
  uint64_t mc_addr = 0;
  bool mc_poison = false;
  // The entries of the final pass, as read before its A/D writes.
  bool pte_valid[kMaxLevels + 1] = {};
  uint64_t pte_addr[kMaxLevels + 1] = {};
  uint64_t pte_value[kMaxLevels + 1] = {};
  unsigned mem_reads = 0, mem_writes = 0, restarts = 0;
};

// What memory answers a page-table read.
enum class ReadStatus : uint8_t { ok, error, poison };

// The memory holding the page tables.
class Memory {
 public:
  // An 8-byte read. `locked`: the read that takes the bus lock of an A/D
  // update (a test memory may change the entry at this moment).
  virtual ReadStatus read(uint64_t pa, uint64_t& value, bool locked) = 0;
  // The write that releases the lock a successful locked read took.
  virtual void write(uint64_t pa, uint64_t value) = 0;

 protected:
  ~Memory() = default;
};

struct Options {
  // Accessed/Dirty: `locked_update` is docs/walker.md step 7 (locked reads,
  // restarts, the livelock guard); `none` leaves memory untouched, for tests
  // that only check where page tables lead.
  enum class AccessedDirty : uint8_t { locked_update, none };
  AccessedDirty accessed_dirty = AccessedDirty::locked_update;
  // The restart that brings the count to this ends the walk (a livelock guard).
  unsigned restart_limit = 8;
};

namespace detail {

constexpr uint64_t bit(uint64_t v, unsigned b) { return (v >> b) & 1; }
// Bits hi..lo of v, shifted down.
constexpr uint64_t field(uint64_t v, unsigned hi, unsigned lo) {
  return (v >> lo) & (hi - lo >= 63 ? ~0ull : (1ull << (hi - lo + 1)) - 1);
}
// Bits maxphyaddr-1..12: the address of a table or frame.
constexpr uint64_t address_bits(unsigned maxphyaddr) { return ((1ull << maxphyaddr) - 1) & ~0xfffull; }
constexpr unsigned index(uint64_t va, unsigned level) {
  return static_cast<unsigned>(field(va, 12 + 9 * level - 1, 12 + 9 * (level - 1)));
}

// Step 3: does `e`, read at `level`, have a reserved bit set?
inline bool reserved(uint64_t e, unsigned level, const Request& rq) {
  const bool ps = bit(e, 7);
  if (rq.maxphyaddr < 52 && field(e, 51, rq.maxphyaddr) != 0) return true;
  if (bit(e, 63) && !rq.nxe) return true;
  if (level >= 4 && ps) return true;
  if (level == 3 && ps && field(e, 29, 13) != 0) return true;  // a misaligned 1 GiB frame
  if (level == 2 && ps && field(e, 20, 13) != 0) return true;  // a misaligned 2 MiB frame
  return false;
}

class Walk {
 public:
  Walk(const Request& rq, Memory& mem, const Options& opt) : rq_(rq), mem_(mem), opt_(opt) {
    const bool write = rq.access == x86::Access::write;
    access_ec_ = (write ? x86::PF_W : 0) | (rq.user ? x86::PF_U : 0) |
                 (rq.access == x86::Access::fetch && rq.nxe ? x86::PF_I : 0);
  }

  Result run() {
    for (;;) {
      clear_entries();
      if (!read_chain()) return r_;
      if (!rights_allow()) {
        page_fault(x86::PF_P, leaf_);
        return r_;
      }
      if (opt_.accessed_dirty == Options::AccessedDirty::locked_update) {
        const Step7 s = update_accessed_dirty();
        if (s == Step7::restart) continue;
        if (s == Step7::stop) return r_;
      }
      return translation();
    }
  }

 private:
  enum class Step7 { done, restart, stop };

  bool write() const { return rq_.access == x86::Access::write; }

  void clear_entries() {
    for (unsigned l = 0; l <= kMaxLevels; ++l) {
      r_.pte_valid[l] = false;
      r_.pte_addr[l] = r_.pte_value[l] = 0;
    }
  }

  // Steps 1 to 5, from the request's start down to the leaf. Returns false
  // when the walk ended (machine check or fault; r_ holds it).
  bool read_chain() {
    const uint64_t full = rq_.start_level == rq_.levels ? rq_.cr3 : rq_.start_table;
    uint64_t table = full & address_bits(rq_.maxphyaddr);
    rw_ = rq_.acc_rw;
    us_ = rq_.acc_us;
    nx_ = rq_.acc_nx;
    for (unsigned level = rq_.start_level;; --level) {
      const uint64_t addr = table + 8ull * index(rq_.va, level);
      uint64_t e = 0;
      const ReadStatus st = mem_.read(addr, e, false);
      ++r_.mem_reads;
      if (st != ReadStatus::ok) e = 0;
      r_.pte_valid[level] = true;
      r_.pte_addr[level] = addr;
      r_.pte_value[level] = e;
      if (st != ReadStatus::ok) {
        machine_check(addr, st);
        return false;
      }
      if (!bit(e, 0)) {
        page_fault(0, level);
        return false;
      }
      if (reserved(e, level, rq_)) {
        page_fault(x86::PF_P | x86::PF_RSVD, level);
        return false;
      }
      rw_ = rw_ && bit(e, 1);
      us_ = us_ && bit(e, 2);
      nx_ = nx_ || bit(e, 63);
      if (level == 1 || ((level == 2 || level == 3) && bit(e, 7))) {
        leaf_ = level;
        return true;
      }
      table = e & address_bits(rq_.maxphyaddr);
    }
  }

  // Step 6, SDM 4.6 with CR4.SMEP = CR4.SMAP = 0 (not modelled).
  bool rights_allow() const {
    if (rq_.user && !us_) return false;
    if (write() && !rw_ && (rq_.user || rq_.wp)) return false;
    if (rq_.access == x86::Access::fetch && rq_.nxe && nx_) return false;
    return true;
  }

  // Step 7: a locked read-modify-write of each entry that needs A (or D at
  // the leaf of a write), top down.
  Step7 update_accessed_dirty() {
    constexpr uint64_t kA = 1ull << 5, kD = 1ull << 6;
    dirty_ = bit(r_.pte_value[leaf_], 6);
    for (unsigned level = rq_.start_level; level >= leaf_; --level) {
      const uint64_t used = r_.pte_value[level];
      const bool set_d = level == leaf_ && write();
      if ((used & kA) && (!set_d || (used & kD))) continue;
      const uint64_t addr = r_.pte_addr[level];
      uint64_t now = 0;
      const ReadStatus st = mem_.read(addr, now, true);
      ++r_.mem_reads;
      if (st != ReadStatus::ok) {  // no lock was taken: nothing to release
        machine_check(addr, st);
        return Step7::stop;
      }
      if ((now & ~(kA | kD)) != (used & ~(kA | kD))) {
        mem_.write(addr, now);  // changed under the walker: release unchanged
        ++r_.mem_writes;
        if (++r_.restarts < opt_.restart_limit) return Step7::restart;
        page_fault(0, level);
        return Step7::stop;
      }
      const uint64_t updated = now | kA | (set_d ? kD : 0);
      mem_.write(addr, updated);
      ++r_.mem_writes;
      if (level == leaf_) dirty_ = bit(updated, 6);
    }
    return Step7::done;
  }

  // Step 8.
  Result translation() {
    if (opt_.accessed_dirty == Options::AccessedDirty::none) dirty_ = bit(r_.pte_value[leaf_], 6);
    const uint64_t e = r_.pte_value[leaf_];
    const uint64_t size = 1ull << (12 + 9 * (leaf_ - 1));
    r_.status = Status::ok;
    r_.leaf_level = leaf_;
    r_.page_size = size;
    r_.pa = (e & address_bits(rq_.maxphyaddr) & ~(size - 1)) | (rq_.va & (size - 1));
    r_.rw = rw_;
    r_.us = us_;
    r_.nx = rq_.nxe && nx_;
    r_.global = bit(e, 8);
    r_.dirty = dirty_;
    const uint64_t pat = leaf_ == 1 ? bit(e, 7) : bit(e, 12);
    r_.memtype = static_cast<uint8_t>((pat << 2) | (bit(e, 4) << 1) | bit(e, 3));
    return r_;
  }

  void machine_check(uint64_t addr, ReadStatus st) {
    r_.status = Status::machine_check;
    r_.mc_addr = addr;
    r_.mc_poison = st == ReadStatus::poison;
  }
  void page_fault(uint32_t kind, unsigned level) {
    r_.status = Status::page_fault;
    r_.error_code = kind | access_ec_;
    r_.fault_level = level;
    r_.fault_pte_addr = r_.pte_addr[level];
  }

  const Request& rq_;
  Memory& mem_;
  const Options& opt_;
  uint32_t access_ec_ = 0;
  bool rw_ = true, us_ = true, nx_ = false, dirty_ = false;
  unsigned leaf_ = 0;
  Result r_;
};

}  // namespace detail

// docs/walker.md, "The walk".
inline Result walk(const Request& rq, Memory& mem, const Options& opt = Options()) {
  return detail::Walk(rq, mem, opt).run();
}

// A Request from any struct with the fields docs/walker.md names
// (hw::WalkRequest), so the oracle does not depend on the hardware's types.
template <typename R>
Request request_from(const R& rq) {
  Request q;
  q.va = rq.va;
  q.access = rq.access;
  q.user = rq.user;
  q.cr3 = rq.cr3;
  q.wp = rq.wp;
  q.nxe = rq.nxe;
  q.pcide = rq.pcide;
  q.levels = rq.levels;
  q.maxphyaddr = rq.maxphyaddr;
  q.start_level = rq.start_level;
  q.start_table = rq.start_table;
  q.acc_rw = rq.acc_rw;
  q.acc_us = rq.acc_us;
  q.acc_nx = rq.acc_nx;
  return q;
}

// A memory of sparse 8-byte words (unwritten words read as 0), words that
// answer an error, poisoned 64-byte lines, a hook run when a locked read
// arrives (before it is served), and the addresses written, in order.
struct SparseMemory final : Memory {
  std::map<uint64_t, uint64_t> words;
  std::set<uint64_t> error_words;
  std::set<uint64_t> poison_lines;
  std::function<void(SparseMemory&, uint64_t addr)> on_locked_read;
  std::vector<uint64_t> written;

  uint64_t peek(uint64_t a) const {
    auto it = words.find(a);
    return it == words.end() ? 0 : it->second;
  }
  ReadStatus read(uint64_t a, uint64_t& v, bool locked) override {
    v = 0;
    if (locked && on_locked_read) on_locked_read(*this, a);
    if (error_words.count(a)) return ReadStatus::error;
    if (poison_lines.count(a & ~63ull)) return ReadStatus::poison;
    v = peek(a);
    return ReadStatus::ok;
  }
  // As DRAM: a write to an erroring word is lost, a poisoned line is written.
  void write(uint64_t a, uint64_t v) override {
    written.push_back(a);
    if (!error_words.count(a)) words[a] = v;
  }
};

// A memory that reads through `base` and keeps its writes to itself, so the
// reference can walk the very tables a walker under test is about to walk
// (and then be compared with what that walker wrote). `seen` holds every
// word read or written successfully, with its value after the walk.
struct OverlayMemory final : Memory {
  std::function<ReadStatus(uint64_t pa, uint64_t& value)> base;
  std::map<uint64_t, uint64_t> seen;

  explicit OverlayMemory(std::function<ReadStatus(uint64_t, uint64_t&)> b) : base(std::move(b)) {}
  ReadStatus read(uint64_t a, uint64_t& v, bool) override {
    auto it = seen.find(a);
    if (it != seen.end()) {
      v = it->second;
      return ReadStatus::ok;
    }
    const ReadStatus st = base(a, v);
    if (st == ReadStatus::ok) seen.emplace(a, v);
    return st;
  }
  void write(uint64_t a, uint64_t v) override { seen[a] = v; }
};

// ---- Reporting -------------------------------------------------------------

inline std::string hex(uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[v & 15]);
    v >>= 4;
  } while (v);
  return "0x" + s;
}

// Field-by-field comparison of two results (a walker's and the reference's,
// or two walkers'): "" when equal, else " field: got X, want Y;" per field.
template <typename Got, typename Want>
std::string diff(const Got& got, const Want& want, const char* got_name = "walker",
                 const char* want_name = "reference") {
  std::string d;
  auto chk = [&](const std::string& what, uint64_t g, uint64_t w) {
    if (g != w) d += " " + what + ": " + got_name + " " + hex(g) + ", " + want_name + " " + hex(w) + ";";
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
  for (unsigned l = 1; l <= kMaxLevels; ++l) {
    const std::string at = "[" + std::to_string(l) + "]";
    chk("pte_valid" + at, got.pte_valid[l], want.pte_valid[l]);
    chk("pte_addr" + at, got.pte_addr[l], want.pte_addr[l]);
    chk("pte_value" + at, got.pte_value[l], want.pte_value[l]);
  }
  chk("mem_reads", got.mem_reads, want.mem_reads);
  chk("mem_writes", got.mem_writes, want.mem_writes);
  chk("restarts", got.restarts, want.restarts);
  return d;
}

// One line naming a request (Request or hw::WalkRequest), for failure messages.
template <typename R>
std::string describe(const R& rq) {
  const char* acc = rq.access == x86::Access::write ? "write" : rq.access == x86::Access::fetch ? "fetch" : "read";
  return "va=" + hex(rq.va) + " " + acc + (rq.user ? " user" : " supervisor") + " wp=" + std::to_string(rq.wp) +
         " nxe=" + std::to_string(rq.nxe) + " pcide=" + std::to_string(rq.pcide) +
         " maxphyaddr=" + std::to_string(rq.maxphyaddr) + " levels=" + std::to_string(rq.levels) +
         " cr3=" + hex(rq.cr3) + " start=L" + std::to_string(rq.start_level) + "@" + hex(rq.start_table) +
         " acc=" + std::to_string(rq.acc_rw) + std::to_string(rq.acc_us) + std::to_string(rq.acc_nx);
}

}  // namespace reference
