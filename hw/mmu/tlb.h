// A TLB structure (an L1 ITLB, an L1 DTLB or the unified STLB): one or more
// set-associative arrays, each holding one or more page sizes, with their own
// geometry and replacement policy. A lookup probes every array for every page
// size it holds; a fill goes to the first array holding the page's size, or,
// when none does, as the largest held piece of the page that contains the
// address (a "fractured" entry, as x86 TLBs hold 1 GiB pages they have no
// array for).
//
// Entries are tagged by virtual page number, page size and PCID (global
// entries match every PCID) and carry what the MMU needs to complete an
// access without any TLM call: the physical base, the rights, the dirty state
// and, when memory granted DMI, the host pointer of the page.
//
// Statistics are per structure and per page size of the entry involved:
// hits, misses, fills, evictions, invalidations. A miss is counted on the
// structure when it happens and on a page size when the structure is filled
// (its size is only known then), so the per-size misses of a structure sum to
// its misses minus those that ended in a fault.
#pragma once

#include <array>
#include <initializer_list>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <systemc>

#include "hw/mmu/replacement.h"
#include "hw/base/debug.h"
#include "hw/base/stats.h"
#include "sw/hal/x86.h"

// Printed by the TLBs and the MMU that fills them.
SIM_DECLARE_DEBUG_FLAG(TLB)

namespace hw {

// Page sizes, as codes: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB (= leaf level - 1).
constexpr unsigned kPageSizes = 3;
constexpr unsigned size_shift(unsigned code) { return 12 + 9 * code; }
constexpr uint64_t size_bytes(unsigned code) { return 1ull << size_shift(code); }
const char* size_name(unsigned code);  // "4k", "2m", "1g"

namespace detail {
// The rights of a translation with these R/W, U/S and NX bits, for one
// access under CR0.WP and EFER.NXE (D not required for writes): the one
// rule behind TlbEntry::allows() and the fast path's permission bits.
constexpr bool rights_allow(bool rw, bool us, bool nx, x86::Access acc, bool user, bool wp, bool nxe) {
  if (user && !us) return false;
  if (acc == x86::Access::write) return rw || (!user && !wp);
  if (acc == x86::Access::fetch) return !(nxe && nx);
  return true;
}
// TlbEntry's fast-path permission bits (see TlbEntry::perm_bit) for index
// rw | us << 1 | nx << 2 | D << 3 | WP << 4 | NXE << 5: rights_allow(),
// with D required for writes.
constexpr uint8_t tlb_perm_bits(unsigned i) {
  const bool rw = i & 1, us = i & 2, nx = i & 4, dirty = i & 8, wp = i & 16, nxe = i & 32;
  unsigned p = 0;
  for (unsigned user = 0; user < 2; ++user) {
    for (x86::Access acc : {x86::Access::read, x86::Access::write, x86::Access::fetch}) {
      if (!rights_allow(rw, us, nx, acc, user, wp, nxe)) continue;
      if (acc == x86::Access::write && !dirty) continue;
      p |= 1u << ((user ? 3 : 0) + static_cast<unsigned>(acc));
    }
  }
  return static_cast<uint8_t>(p);
}
struct TlbPermTable {
  uint8_t bits[64];
  constexpr TlbPermTable() : bits() {
    for (unsigned i = 0; i < 64; ++i) bits[i] = tlb_perm_bits(i);
  }
};
inline constexpr TlbPermTable kTlbPerm{};
}  // namespace detail

struct TlbEntry {
  // Fast-path permission bits: bit (user * 3 + access) is set when that
  // access may complete without the slow path (a write needs D already set).
  static uint8_t perm_bit(x86::Access acc, bool user) {
    return static_cast<uint8_t>(1u << ((user ? 3 : 0) + static_cast<unsigned>(acc)));
  }

  uint64_t vpn = 0;              // va >> size_shift(size)
  uint64_t pa_base = 0;          // physical address of the (piece of the) page
  // Host pointer of pa_base, usable for offsets in [host_lo, host_hi] (DMI
  // may stop short of a huge page, e.g. around a poisoned page). Null when
  // memory gave no DMI, or while the walk that filled it is still in flight
  // (then pending_host holds it until the walk completes).
  uint8_t* host = nullptr;
  uint8_t* pending_host = nullptr;
  // Pending: when the walk completes (absolute, as sc_time::value()). Not an
  // sc_time, whose copy is user-defined: the entry stays trivially copyable, so
  // that the miss path's fills copy it with a few wide moves.
  uint64_t ready = 0;
  uint32_t host_lo = 0, host_hi = 0;
  uint16_t pcid = 0;
  uint8_t size = 0;              // size code of this entry
  uint8_t page_size = 0;         // size code of the page it came from (> size: fractured)
  uint8_t perm = 0;
  bool global = false;
  bool rw = false, us = false, nx = false, dirty = false;
  bool pending = false;          // filled by a walk still in flight

  uint64_t bytes() const { return size_bytes(size); }
  uint64_t va_base() const { return vpn << size_shift(size); }
  // The host pointer for [va, va+len), or nullptr.
  uint8_t* host_for(uint64_t va, unsigned len) const {
    const uint64_t off = va & (bytes() - 1);
    return (host && off >= host_lo && off + len - 1 <= host_hi) ? host + off : nullptr;
  }
  // Rights as the slow path sees them (D not required for writes).
  bool allows(x86::Access acc, bool user, bool wp, bool nxe) const {
    return detail::rights_allow(rw, us, nx, acc, user, wp, nxe);
  }
  void compute_perm(bool wp, bool nxe) { perm = perm_of(rw, us, nx, dirty, wp, nxe); }
  // The permission bits of an entry with these rights and D under WP and
  // NXE: a constant table (no guard, no dependence on the entry's memory, so
  // a fill computes them from its walk's result while it builds the entry).
  static uint8_t perm_of(bool rw, bool us, bool nx, bool dirty, bool wp, bool nxe) {
    return perm_of(rw, us, nx, dirty, perm_control(wp, nxe));
  }
  // The same with CR0.WP and EFER.NXE as perm_control() gives them (a fill
  // keeps them so, worked out when they change).
  static unsigned perm_control(bool wp, bool nxe) { return (wp ? 16 : 0) | (nxe ? 32 : 0); }
  static uint8_t perm_of(bool rw, bool us, bool nx, bool dirty, unsigned control) {
    return detail::kTlbPerm.bits[(rw ? 1 : 0) | (us ? 2 : 0) | (nx ? 4 : 0) | (dirty ? 8 : 0) | control];
  }
};

static_assert(std::is_trivially_copyable_v<TlbEntry>, "fills copy entries: keep them plain data");

// dst = src field by field. A fill copies an entry its miss has just built
// field by field; a plain assignment (or a copy the compiler merges into
// wider moves) loads it 16 bytes at a time, and such a load of bytes still in
// the store buffer from several narrower stores waits for them to reach the
// cache (no store forwarding): a stall per copy. Each field goes through a
// register (the empty asm), so that every load matches the store before it.
__attribute__((always_inline)) inline void assign_entry(TlbEntry& dst, const TlbEntry& src) {
  auto field = [](auto& to, auto from) {
    asm("" : "+r"(from));
    to = from;
  };
  field(dst.vpn, src.vpn);
  field(dst.pa_base, src.pa_base);
  field(dst.host, src.host);
  field(dst.pending_host, src.pending_host);
  field(dst.ready, src.ready);
  field(dst.host_lo, src.host_lo);
  field(dst.host_hi, src.host_hi);
  field(dst.pcid, src.pcid);
  field(dst.size, src.size);
  field(dst.page_size, src.page_size);
  field(dst.perm, src.perm);
  field(dst.global, src.global);
  field(dst.rw, src.rw);
  field(dst.us, src.us);
  field(dst.nx, src.nx);
  field(dst.dirty, src.dirty);
  field(dst.pending, src.pending);
}

class TlbArray {
 public:
  struct Geometry {
    unsigned sets = 16;
    unsigned ways = 4;
    ReplacementPolicy replacement = ReplacementPolicy::lru;
    std::vector<unsigned> sizes = {0};  // size codes held
    std::string name = "4k";            // array name (config key)
  };
  static constexpr uint64_t kNoTag = ~0ull;

  TlbArray(const Geometry& g, uint64_t seed);

  const Geometry& geometry() const { return g_; }
  bool holds(unsigned size) const { return holds_mask_ & (1u << size); }
  unsigned capacity() const { return g_.sets * g_.ways; }
  // Valid entries of this size: a probe of an array holding none can skip it.
  unsigned count(unsigned size) const { return count_[size]; }

  static uint64_t tag_of(uint64_t vpn, unsigned size) { return (vpn << 2) | size; }

  // The entry translating va at `size` for pcid; where it is in set/way.
  TlbEntry* find(uint64_t va, unsigned size, uint16_t pcid, unsigned& set, unsigned& way) {
    const uint64_t vpn = va >> size_shift(size);
    const uint64_t tag = tag_of(vpn, size);
    const unsigned s = static_cast<unsigned>(vpn & set_mask_);
    const unsigned base = s * g_.ways;
    const uint64_t* t = &tags_[base];
    if (g_.ways <= 64) return owned(s, matches(t, g_.ways, tag), pcid, set, way);
    for (unsigned w = 0; w < g_.ways; ++w) {
      if (t[w] == tag) {
        TlbEntry& e = entries_[base + w];
        if (e.global || e.pcid == pcid) {
          set = s;
          way = w;
          return &e;
        }
      }
    }
    return nullptr;
  }
  // The ways (up to 64) of a set's tags `t` that hold `tag`: branch-free (no
  // mispredicted early exit).
  static uint64_t matches(const uint64_t* t, unsigned ways, uint64_t tag) {
    uint64_t match = 0;
    for (unsigned w = 0; w < ways; ++w) match |= static_cast<uint64_t>(t[w] == tag) << w;
    return match;
  }
  // Of the ways in `match` (tags matched in set s), the first whose entry
  // translates for pcid (the rare tag matches in order).
  TlbEntry* owned(unsigned s, uint64_t match, uint16_t pcid, unsigned& set, unsigned& way) {
    for (; match; match &= match - 1) {
      const unsigned w = static_cast<unsigned>(__builtin_ctzll(match));
      TlbEntry& e = entries_[s * g_.ways + w];
      if (e.global || e.pcid == pcid) {
        set = s;
        way = w;
        return &e;
      }
    }
    return nullptr;
  }
  const uint64_t* tags() const { return tags_.data(); }
  void touch(unsigned set, unsigned way) { repl_.touch(set, way); }
  Replacement& replacement() { return repl_; }
  // The per-size hit counter a hit in this array counts (set by the Tlb).
  uint64_t* hit_count[kPageSizes] = {};

  // Installs e (replacing a matching entry, else an invalid way, else the
  // policy's victim). Returns the slot; `evicted` gets the size code of a
  // valid entry replaced by a different translation, kPageSizes when none
  // was (with the TLB debug flag on, last_evicted() then names it until the
  // next insert).
  // Inline: every TLB fill of a miss comes here.
  __attribute__((always_inline)) unsigned insert(const TlbEntry& e, unsigned& evicted) {
    const unsigned ways = g_.ways;
    const unsigned set = static_cast<unsigned>(e.vpn & set_mask_);
    const unsigned base = set * ways;
    const uint64_t tag = tag_of(e.vpn, e.size);
    uint64_t* const tags = &tags_[base];
    TlbEntry* const entries = &entries_[base];
    // The same translation (same page, same address space) is replaced in
    // place; else the first invalid way; else the policy's victim.
    unsigned way = ways;
    if (ways <= 64) {
      // Branch-free over the ways, as find(): both masks in one pass.
      uint64_t same = 0, free = 0;
      for (unsigned w = 0; w < ways; ++w) {
        same |= static_cast<uint64_t>(tags[w] == tag) << w;
        free |= static_cast<uint64_t>(tags[w] == kNoTag) << w;
      }
      for (; same; same &= same - 1) {
        const unsigned w = static_cast<unsigned>(__builtin_ctzll(same));
        if (entries[w].global || e.global || entries[w].pcid == e.pcid) {
          way = w;
          break;
        }
      }
      if (way == ways && free) way = static_cast<unsigned>(__builtin_ctzll(free));
    } else {
      way = match_wide(e, tag, base);
    }
    evicted = kPageSizes;
    unsigned old_size = kPageSizes;
    if (way == ways) {
      way = repl_.victim(set);
      old_size = evicted = entries[way].size;
      if (__builtin_expect(sim::debug::TLB.enabled, 0)) {
        last_evicted_.vpn = entries[way].vpn;
        last_evicted_.size = entries[way].size;
        last_evicted_.pcid = entries[way].pcid;
      }
    } else if (tags[way] != kNoTag) {
      old_size = entries[way].size;
    }
    // Replacing an entry of the same size (the usual fill) leaves the counts.
    if (old_size != e.size) {
      if (old_size < kPageSizes) drop_count(old_size);
      add_count(e.size);
    }
    tags[way] = tag;
    assign_entry(entries[way], e);
    repl_.touch(set, way);
    return base + way;
  }
  // The page and address space of the entry insert() evicted last (kept
  // while the TLB debug flag is on).
  const TlbEntry& last_evicted() const { return last_evicted_; }

  bool valid(unsigned slot) const { return tags_[slot] != kNoTag; }
  TlbEntry& entry(unsigned slot) { return entries_[slot]; }
  const TlbEntry& entry(unsigned slot) const { return entries_[slot]; }
  void invalidate(unsigned slot) {
    if (tags_[slot] == kNoTag) return;
    drop_count(entries_[slot].size);
    tags_[slot] = kNoTag;
  }
  // The owner's mask of probes worth making: `bit` is set in *live while
  // this array holds an entry of `size` (Tlb::find skips the others).
  void report_live(uint32_t* live, unsigned size, uint32_t bit) {
    live_ = live;
    live_bit_[size] = bit;
    if (count_[size]) *live_ |= bit;
  }

 private:
  Geometry g_;
  uint64_t set_mask_;
  unsigned holds_mask_ = 0;
  void add_count(unsigned size) {
    if (count_[size]++ == 0) *live_ |= live_bit_[size];
  }
  void drop_count(unsigned size) {
    if (--count_[size] == 0) *live_ &= ~live_bit_[size];
  }
  unsigned count_[kPageSizes] = {};  // valid entries by size code
  uint32_t own_live_ = 0;
  uint32_t* live_ = &own_live_;
  uint32_t live_bit_[kPageSizes] = {};
  std::vector<uint64_t> tags_;     // scanned on every lookup: kept apart from the payload
  std::vector<TlbEntry> entries_;
  // insert() over more than 64 ways: the way of the same translation, else
  // the first invalid way, else ways.
  unsigned match_wide(const TlbEntry& e, uint64_t tag, unsigned base) const;
  TlbEntry last_evicted_;
  Replacement repl_;
};

class Tlb {
 public:
  Tlb(sim::stats::Group* stats_parent, const std::string& name, const std::string& who,
      const std::vector<TlbArray::Geometry>& arrays, uint64_t seed);

  const std::string& name() const { return name_; }
  // Debug lines carry this time (the owning core's) when set, else SystemC's.
  void set_clock(const sc_core::sc_time* now) { clock_ = now; }
  // Every change to the entries (fill, invalidation, host pointers, rights)
  // increments *epoch: host-side memos of lookups check it.
  void set_epoch(uint64_t* epoch) { epoch_ = epoch; }
  void changed() { ++*epoch_; }
  const std::vector<std::unique_ptr<TlbArray>>& arrays() const { return arrays_; }
  bool holds(unsigned size) const { return holds_mask_ & (1u << size); }
  // The largest held size not above `size` (every structure holds 4 KiB).
  unsigned fit(unsigned size) const {
    while (size > 0 && !holds(size)) --size;
    return size;
  }
  unsigned capacity() const;

  struct Loc {
    TlbArray* array = nullptr;
    unsigned set = 0, way = 0;
  };
  // Uncounted probe: the entry translating va for pcid, or nullptr. Arrays
  // holding no entry of a size are not searched for it (most hold only 4 KiB
  // pages in most runs).
  // Each probe's geometry and tags are at hand in probes_, so that a miss
  // costs one load of the set's tags per probe made.
  __attribute__((always_inline)) TlbEntry* find(uint64_t va, uint16_t pcid, Loc& loc) {
    for (uint32_t m = live_; m; m &= m - 1) {
      const Probe& p = probes_[static_cast<unsigned>(__builtin_ctz(m))];
      TlbEntry* e;
      if (__builtin_expect(p.ways <= 64, 1)) {
        const uint64_t vpn = va >> p.shift;
        const unsigned set = static_cast<unsigned>(vpn & p.set_mask);
        const uint64_t match = TlbArray::matches(p.tags + set * p.ways, p.ways, TlbArray::tag_of(vpn, p.size));
        e = match ? p.array->owned(set, match, pcid, loc.set, loc.way) : nullptr;
      } else {
        e = p.array->find(va, p.size, pcid, loc.set, loc.way);
      }
      if (e) {
        loc.array = p.array;
        return e;
      }
    }
    return nullptr;
  }
  TlbEntry* find(uint64_t va, uint16_t pcid) {
    Loc loc;
    return find(va, pcid, loc);
  }
  // A use of an entry found by find(): counts the hit, updates replacement.
  void hit(const Loc& loc, const TlbEntry& e) {
    loc.array->touch(loc.set, loc.way);
    ++*loc.array->hit_count[e.size];
  }
  // The clock of this TLB's LRU arrays; share_lru_clock() keeps it at
  // `clock` (the MMU keeps it next to its memo of recent hits). The memo
  // advances it once per hit it completes (4 KiB entries): those are the
  // clock's advances that no array made itself.
  uint64_t* lru_clock() { return lru_clock_; }
  void share_lru_clock(uint64_t* clock);
  uint64_t memo_hits() const;
  uint64_t hits(unsigned size) const;
  // find() that counts a hit or a miss.
  TlbEntry* lookup(uint64_t va, uint16_t pcid) {
    Loc loc;
    TlbEntry* e = find(va, pcid, loc);
    if (e) hit(loc, *e);
    else ++stats.misses;
    return e;
  }
  // A lookup known to miss (its probe was just made): counts the miss.
  TlbEntry* count_miss() {
    ++stats.misses;
    return nullptr;
  }
  // The miss just counted was resolved with an entry of this size.
  void attribute_miss(unsigned size) { ++size_stats_[size]->misses; }

  // Installs a translation whose size this structure holds (callers fracture
  // with fit() first). Returns the installed entry.
  __attribute__((always_inline)) TlbEntry* insert(const TlbEntry& e) {
    TlbArray* target = e.size < kPageSizes ? fill_target_[e.size] : nullptr;
    if (__builtin_expect(!target, 0)) fill_unheld(e);
    unsigned evicted;
    changed();
    const unsigned slot = target->insert(e, evicted);
    ++size_stats_[e.size]->fills;
    if (e.page_size > e.size) ++fractured_;
    if (evicted < kPageSizes) {
      ++size_stats_[evicted]->evictions;
      if (__builtin_expect(sim::debug::TLB.enabled, 0)) trace_eviction(target->last_evicted());
    }
    return &target->entry(slot);
  }

  // Invalidation; each returns the number of entries removed.
  // Entries translating va: non-global ones of `pcid` and, with
  // include_global, global ones (fractured pieces of the same page included).
  unsigned flush_va(uint64_t va, uint16_t pcid, bool include_global);
  // Every non-global entry of pcid and, with include_global, every global one.
  unsigned flush_pcid(uint16_t pcid, bool include_global);
  unsigned flush_all(bool include_global);
  // DMI to [start, end] was revoked: drop host pointers into it.
  void revoke_host(uint64_t pa_start, uint64_t pa_end);
  // CR0.WP or EFER.NXE changed: recompute the fast-path permission bits.
  void recompute_perm(bool wp, bool nxe);

  template <typename F>
  void for_each_valid(F&& f) const {
    for (const auto& a : arrays_)
      for (unsigned s = 0; s < a->capacity(); ++s)
        if (a->valid(s)) f(a->entry(s));
  }
  unsigned valid_entries() const;

  struct SizeStats : sim::stats::Group {
    SizeStats(sim::stats::Group* parent, const std::string& name, Tlb* owner, unsigned size);
    sim::stats::Gauge hits;
    sim::stats::Scalar misses{this, "misses", "Misses resolved with an entry of this page size", "Count"};
    sim::stats::Formula accesses{this, "accesses", "Hits plus misses of this page size", "Count",
                                 [this] { return static_cast<double>(hits.value() + misses.value()); }};
    sim::stats::Scalar fills{this, "fills", "Entries of this page size installed", "Count"};
    sim::stats::Scalar evictions{this, "evictions", "Valid entries of this page size replaced", "Count"};
    sim::stats::Scalar invalidations{this, "invalidations", "Entries of this page size removed by invalidation",
                                     "Count"};
  };
  struct Stats : sim::stats::Group {
    Stats(sim::stats::Group* parent, const std::string& name, Tlb* owner);
    sim::stats::Formula hits;
    sim::stats::Scalar misses{this, "misses", "Lookups that missed", "Count"};
    sim::stats::Formula accesses;
    sim::stats::Formula miss_rate;
    sim::stats::Formula fills, evictions, invalidations;
    sim::stats::Gauge entries;
  } stats;

  uint64_t hits() const;
  SizeStats& size_stats(unsigned size) { return *size_stats_[size]; }

 private:
  struct Probe {
    TlbArray* array;
    unsigned size;
    // The array's, copied here for find().
    unsigned shift = 0, ways = 0;
    uint64_t set_mask = 0;
    const uint64_t* tags = nullptr;
  };
  uint64_t sum(sim::stats::Scalar SizeStats::*field) const;
  [[noreturn]] void fill_unheld(const TlbEntry& e) const;
  void trace_eviction(const TlbEntry& old) const;
  unsigned flush_if(bool (*pred)(const TlbEntry&, const void*), const void* ctx);

  uint64_t tick() const;

  std::string name_, who_;
  const sc_core::sc_time* clock_ = nullptr;
  uint64_t own_lru_clock_ = 0;
  uint64_t* lru_clock_ = &own_lru_clock_;
  uint64_t slow_hits_[kPageSizes] = {};  // hits counted here (not by the memo)
  uint64_t own_epoch_ = 0;
  uint64_t* epoch_ = &own_epoch_;
  std::vector<std::unique_ptr<TlbArray>> arrays_;
  std::vector<Probe> probes_;        // (array, size) in lookup order: 4 KiB first
  uint32_t live_ = 0;                // bit i: probes_[i]'s array holds entries of its size
  TlbArray* fill_target_[kPageSizes] = {};  // the first array holding each size
  unsigned holds_mask_ = 0;
  unsigned fractured_ = 0;           // fractured entries installed since the last full flush
  std::array<std::unique_ptr<SizeStats>, kPageSizes> size_stats_;
};

}  // namespace hw
