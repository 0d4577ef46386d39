#include "hw/mmu/pwc.h"

#include <stdexcept>

#include <fmt/format.h>

#include "hw/base/debug.h"
#include "hw/base/time.h"
#include "sw/hal/x86.h"

SIM_DEBUG_FLAG(PWC, "paging-structure cache hits, fills and invalidations")

namespace hw {

namespace {
}  // namespace

const char* pwc_level_name(unsigned level) {
  switch (level) {
    case 2: return "pde";
    case 3: return "pdpte";
    case 4: return "pml4e";
    case 5: return "pml5e";
  }
  return "?";
}

// ---- PwcLevel -------------------------------------------------------------------

PwcLevel::Stats::Stats(sim::stats::Group* parent, const std::string& name) : sim::stats::Group(parent, name) {}

PwcLevel::PwcLevel(sim::stats::Group* stats_parent, unsigned level, unsigned levels, const PwcGeometry& g,
                   uint64_t seed)
    : stats(stats_parent, pwc_level_name(level)), level_(level), g_(g), shift_(x86::level_shift(level)),
      repl_(g.replacement, g.sets, g.ways, seed) {
  if (g_.sets == 0 || (g_.sets & (g_.sets - 1)))
    throw std::invalid_argument(fmt::format("{} cache: sets must be a power of two, got {}", pwc_level_name(level), g_.sets));
  if (g_.ways == 0) throw std::invalid_argument(fmt::format("{} cache: no ways", pwc_level_name(level)));
  // The tag is the linear-address bits that index levels `levels`..L
  // (bits 47:21 for the PDE cache with 4-level paging).
  const unsigned va_bits = x86::level_shift(levels + 1);
  tag_mask_ = (1ull << (va_bits - shift_)) - 1;
  entries_.resize(static_cast<size_t>(g_.sets) * g_.ways);
  keys_.assign(entries_.size(), kNoKey);
}

bool PwcLevel::insert(const Entry& e) {
  const unsigned set = static_cast<unsigned>(e.tag & (g_.sets - 1));
  const unsigned base = set * g_.ways;
  const uint64_t k = key(e.tag, e.pcid);
  unsigned way = g_.ways;
  for (unsigned w = 0; w < g_.ways && way == g_.ways; ++w)
    if (keys_[base + w] == k) way = w;
  for (unsigned w = 0; w < g_.ways && way == g_.ways; ++w)
    if (keys_[base + w] == kNoKey) way = w;
  bool evicted = false;
  if (way == g_.ways) {
    way = repl_.victim(set);
    evicted = true;
    ++stats.evictions;
  }
  keys_[base + way] = k;
  entries_[base + way] = e;
  repl_.touch(set, way);
  ++stats.fills;
  return evicted;
}

unsigned PwcLevel::flush_pcid(uint16_t pcid) {
  unsigned n = 0;
  for (size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i] != kNoKey && entries_[i].pcid == pcid) {
      drop(i);
      ++n;
    }
  stats.invalidations += n;
  return n;
}

unsigned PwcLevel::flush_all() {
  unsigned n = 0;
  for (size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i] != kNoKey) {
      drop(i);
      ++n;
    }
  stats.invalidations += n;
  return n;
}

unsigned PwcLevel::flush_va(uint64_t va, uint16_t pcid) {
  unsigned set = 0, way = 0;
  if (!find(va, pcid, set, way)) return 0;
  drop(static_cast<size_t>(set) * g_.ways + way);
  ++stats.invalidations;
  return 1;
}

// ---- Pwc --------------------------------------------------------------------------

uint64_t Pwc::tick() const {
  return clock_ ? sim::to_ps(*clock_) : sim::now_ps();
}

Pwc::Stats::Stats(sim::stats::Group* parent, const Pwc* owner)
    : sim::stats::Group(parent, "pwc"),
      lookups(this, "lookups", "Walks that looked up the paging-structure caches", "Count",
              [owner] { return owner->enabled() ? owner->walks_.value() : 0; }),
      skipped_levels(this, "skippedLevels", "Page-table levels walks did not read thanks to a hit", "Count",
                     [owner] { return owner->skipped_levels(); }) {}

uint64_t Pwc::skipped_levels() const {
  // A hit at level l starts the walk at l - 1: levels_ - l + 1 levels unread.
  uint64_t n = 0;
  for (unsigned l = 2; l < caches_.size(); ++l)
    if (caches_[l]) n += caches_[l]->stats.hits.value() * (levels_ - l + 1);
  return n;
}

Pwc::Pwc(sim::stats::Group* stats_parent, const std::string& who, unsigned levels, const Params& p, uint64_t seed,
         const sim::stats::Scalar& walks)
    : stats(stats_parent, this), p_(p), walks_(walks), levels_(levels), who_(who) {
  caches_.resize(levels_ + 1);
  if (!p_.enabled) return;
  // Stats in walk order: the root's cache first.
  for (unsigned l = levels_; l >= 2; --l)
    if (p_.level[l].ways)
      caches_[l] = std::make_unique<PwcLevel>(&stats, l, levels_, p_.level[l], mix_seed(seed, l));
  for (unsigned l = 2; l <= levels_; ++l) by_level_[l] = caches_[l].get();
}

void Pwc::trace_hit(unsigned level, uint64_t va, uint16_t pcid, uint64_t table) const {
  DPRINTF(PWC, tick(), who_.c_str(), "hit {} va={:#x} pcid={} -> table {:#x} (walk starts at L{})",
          pwc_level_name(level), va, pcid, table, level - 1);
}

void Pwc::trace_miss(uint64_t va, uint16_t pcid) const {
  DPRINTF(PWC, tick(), who_.c_str(), "miss va={:#x} pcid={}", va, pcid);
}

void Pwc::fill_levels(const WalkRequest& rq, const WalkResult& r, uint16_t pcid) {
  const uint64_t pmask = x86::phys_mask(rq.maxphyaddr);
  bool rw = rq.acc_rw, us = rq.acc_us, nx = rq.acc_nx;
  for (unsigned l = rq.start_level; l > r.leaf_level; --l) {
    if (!r.pte_valid[l]) break;
    const uint64_t e = r.pte_value[l];
    rw = rw && (e & x86::PTE_RW);
    us = us && (e & x86::PTE_US);
    nx = nx || (e & x86::PTE_NX);
    if (l < 2 || !caches_[l]) continue;
    PwcLevel::Entry entry;
    entry.tag = caches_[l]->tag_of(rq.va);
    entry.table = e & pmask;
    entry.pcid = pcid;
    entry.rw = rw;
    entry.us = us;
    entry.nx = nx;
    const bool evicted = caches_[l]->insert(entry);
    DPRINTF(PWC, tick(), who_.c_str(), "fill {} va={:#x} pcid={} -> table {:#x}{}", pwc_level_name(l), rq.va, pcid,
            entry.table, evicted ? " (evicted one)" : "");
  }
}

unsigned Pwc::flush_pcid(uint16_t pcid) {
  unsigned n = 0;
  for (auto& c : caches_)
    if (c) n += c->flush_pcid(pcid);
  if (n) DPRINTF(PWC, tick(), who_.c_str(), "invalidate pcid={}: {} entries", pcid, n);
  return n;
}

unsigned Pwc::flush_all() {
  unsigned n = 0;
  for (auto& c : caches_)
    if (c) n += c->flush_all();
  if (n) DPRINTF(PWC, tick(), who_.c_str(), "invalidate all: {} entries", n);
  return n;
}

unsigned Pwc::flush_va(uint64_t va, uint16_t pcid) {
  unsigned n = 0;
  for (auto& c : caches_)
    if (c) n += c->flush_va(va, pcid);
  if (n) DPRINTF(PWC, tick(), who_.c_str(), "invalidate va={:#x} pcid={}: {} entries", va, pcid, n);
  return n;
}

bool Pwc::holds(unsigned level, uint64_t va, uint16_t pcid) const {
  return level < caches_.size() && caches_[level] && caches_[level]->find(va, pcid);
}

}  // namespace hw
