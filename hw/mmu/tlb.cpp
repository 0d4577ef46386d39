#include "hw/mmu/tlb.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <systemc>

#include "hw/base/time.h"

SIM_DEBUG_FLAG(TLB, "TLB lookups that miss, fills, evictions and invalidations")

namespace hw {

const char* size_name(unsigned code) {
  static const char* const names[kPageSizes] = {"4k", "2m", "1g"};
  return code < kPageSizes ? names[code] : "?";
}

// ---- TlbArray -------------------------------------------------------------------

TlbArray::TlbArray(const Geometry& g, uint64_t seed)
    : g_(g), set_mask_(g.sets - 1), repl_(g.replacement, g.sets, g.ways, seed) {
  if (g_.sets == 0 || (g_.sets & (g_.sets - 1)))
    throw std::invalid_argument(fmt::format("TLB array {}: sets must be a power of two, got {}", g_.name, g_.sets));
  if (g_.ways == 0) throw std::invalid_argument(fmt::format("TLB array {}: ways must be at least 1", g_.name));
  if (g_.sizes.empty()) throw std::invalid_argument(fmt::format("TLB array {}: holds no page size", g_.name));
  for (unsigned s : g_.sizes) {
    if (s >= kPageSizes) throw std::invalid_argument(fmt::format("TLB array {}: bad page size code {}", g_.name, s));
    holds_mask_ |= 1u << s;
  }
  tags_.assign(static_cast<size_t>(g_.sets) * g_.ways, kNoTag);
  entries_.resize(tags_.size());
}

unsigned TlbArray::match_wide(const TlbEntry& e, uint64_t tag, unsigned base) const {
  unsigned free_way = g_.ways;
  for (unsigned w = 0; w < g_.ways; ++w) {
    const uint64_t t = tags_[base + w];
    if (t == tag) {
      const TlbEntry& x = entries_[base + w];
      if (x.global || e.global || x.pcid == e.pcid) return w;
    } else if (t == kNoTag && free_way == g_.ways) {
      free_way = w;
    }
  }
  return free_way;
}

// ---- Tlb ------------------------------------------------------------------------

Tlb::SizeStats::SizeStats(sim::stats::Group* parent, const std::string& name, Tlb* owner, unsigned size)
    : sim::stats::Group(parent, name),
      hits(this, "hits", "Lookups that hit an entry of this page size", "Count",
           [owner, size] { return owner->hits(size); }) {}

Tlb::Stats::Stats(sim::stats::Group* parent, const std::string& name, Tlb* t)
    : sim::stats::Group(parent, name),
      hits(this, "hits", "Lookups that hit", "Count", [t] { return static_cast<double>(t->hits()); }),
      accesses(this, "accesses", "Lookups", "Count",
               [this, t] { return static_cast<double>(t->hits() + misses.value()); }),
      miss_rate(this, "missRate", "Misses per lookup", "Ratio",
                [this, t] {
                  const double a = static_cast<double>(t->hits() + misses.value());
                  return a ? misses.value() / a : 0.0;
                }),
      fills(this, "fills", "Entries installed", "Count",
            [t] { return static_cast<double>(t->sum(&SizeStats::fills)); }),
      evictions(this, "evictions", "Valid entries replaced", "Count",
                [t] { return static_cast<double>(t->sum(&SizeStats::evictions)); }),
      invalidations(this, "invalidations", "Entries removed by invalidation", "Count",
                    [t] { return static_cast<double>(t->sum(&SizeStats::invalidations)); }),
      entries(this, "validEntries", "Valid entries at the end of the run", "Count",
              [t] { return static_cast<uint64_t>(t->valid_entries()); }) {}

Tlb::Tlb(sim::stats::Group* stats_parent, const std::string& name, const std::string& who,
         const std::vector<TlbArray::Geometry>& arrays, uint64_t seed)
    : stats(stats_parent, name, this), name_(name), who_(who) {
  if (arrays.empty()) throw std::invalid_argument(fmt::format("{}: has no array", name_));
  unsigned index = 0;
  for (const TlbArray::Geometry& g : arrays) {
    arrays_.push_back(std::make_unique<TlbArray>(g, mix_seed(seed, index++)));
    for (unsigned s : g.sizes) holds_mask_ |= 1u << s;
  }
  if (!holds(0)) throw std::invalid_argument(fmt::format("{}: no array holds 4 KiB pages", name_));
  // Lookup order: by page size, 4 KiB first (the common case), then by array.
  for (unsigned s = 0; s < kPageSizes; ++s)
    for (auto& a : arrays_)
      if (a->holds(s))
        probes_.push_back({a.get(), s, size_shift(s), a->geometry().ways, a->geometry().sets - 1ull, a->tags()});
  if (probes_.size() > 32) throw std::invalid_argument(fmt::format("{}: more than 32 (array, page size) pairs", name_));
  for (unsigned i = 0; i < probes_.size(); ++i) probes_[i].array->report_live(&live_, probes_[i].size, 1u << i);
  for (unsigned s = 0; s < kPageSizes; ++s)
    if (holds(s)) size_stats_[s] = std::make_unique<SizeStats>(&stats, size_name(s), this, s);
  for (unsigned s = 0; s < kPageSizes; ++s)
    for (auto& a : arrays_)
      if (!fill_target_[s] && a->holds(s)) fill_target_[s] = a.get();
  for (auto& a : arrays_) {
    a->replacement().share_clock(lru_clock_);
    for (unsigned s = 0; s < kPageSizes; ++s)
      if (a->holds(s)) a->hit_count[s] = &slow_hits_[s];
  }
}

unsigned Tlb::capacity() const {
  unsigned n = 0;
  for (const auto& a : arrays_) n += a->capacity();
  return n;
}

unsigned Tlb::valid_entries() const {
  unsigned n = 0;
  for_each_valid([&](const TlbEntry&) { ++n; });
  return n;
}

uint64_t Tlb::sum(sim::stats::Scalar SizeStats::*field) const {
  uint64_t n = 0;
  for (const auto& s : size_stats_)
    if (s) n += ((*s).*field).value();
  return n;
}

uint64_t Tlb::tick() const {
  return clock_ ? sim::to_ps(*clock_) : sim::now_ps();
}

void Tlb::share_lru_clock(uint64_t* clock) {
  *clock = *lru_clock_;
  lru_clock_ = clock;
  for (auto& a : arrays_) a->replacement().share_clock(clock);
}

uint64_t Tlb::memo_hits() const {
  uint64_t ticks = 0;
  for (const auto& a : arrays_) ticks += const_cast<TlbArray&>(*a).replacement().ticks();
  return *lru_clock_ - ticks;
}

uint64_t Tlb::hits(unsigned size) const { return slow_hits_[size] + (size == 0 ? memo_hits() : 0); }

uint64_t Tlb::hits() const {
  uint64_t n = 0;
  for (unsigned s = 0; s < kPageSizes; ++s) n += hits(s);
  return n;
}

void Tlb::fill_unheld(const TlbEntry& e) const {
  throw std::logic_error(fmt::format("{}: fill of a size ({}) it does not hold", name_, static_cast<unsigned>(e.size)));
}

void Tlb::trace_eviction(const TlbEntry& old) const {
  DPRINTF(TLB, tick(), who_.c_str(), "evict va={:#x} size={} pcid={}", old.va_base(), size_name(old.size), old.pcid);
}

unsigned Tlb::flush_if(bool (*pred)(const TlbEntry&, const void*), const void* ctx) {
  changed();
  unsigned n = 0;
  for (auto& a : arrays_) {
    for (unsigned s = 0; s < a->capacity(); ++s) {
      if (a->valid(s) && pred(a->entry(s), ctx)) {
        a->invalidate(s);
        ++size_stats_[a->entry(s).size]->invalidations;
        ++n;
      }
    }
  }
  return n;
}

namespace {
struct VaCtx {
  uint64_t va;
  uint16_t pcid;
  bool include_global;
};
bool owned(const TlbEntry& e, uint16_t pcid, bool include_global) {
  return e.global ? include_global : e.pcid == pcid;
}
}  // namespace

unsigned Tlb::flush_va(uint64_t va, uint16_t pcid, bool include_global) {
  changed();
  unsigned n = 0;
  if (fractured_) {
    // A page held as pieces: every piece goes, not only the one holding va.
    VaCtx ctx{va, pcid, include_global};
    n = flush_if(
        [](const TlbEntry& e, const void* p) {
          const VaCtx& c = *static_cast<const VaCtx*>(p);
          const unsigned page_shift = size_shift(e.page_size);
          return owned(e, c.pcid, c.include_global) && (e.va_base() >> page_shift) == (c.va >> page_shift);
        },
        &ctx);
  } else {
    for (const Probe& p : probes_) {
      // A set may hold several entries for va (a global and a PCID-tagged one).
      const TlbArray::Geometry& g = p.array->geometry();
      const uint64_t vpn = va >> size_shift(p.size);
      const uint64_t tag = TlbArray::tag_of(vpn, p.size);
      const unsigned base = static_cast<unsigned>(vpn & (g.sets - 1)) * g.ways;
      for (unsigned s = base; s < base + g.ways; ++s) {
        const TlbEntry& e = p.array->entry(s);
        if (p.array->valid(s) && TlbArray::tag_of(e.vpn, e.size) == tag && owned(e, pcid, include_global)) {
          p.array->invalidate(s);
          ++size_stats_[p.size]->invalidations;
          ++n;
        }
      }
    }
  }
  if (n)
    DPRINTF(TLB, tick(), who_.c_str(), "invalidate va={:#x} pcid={}{}: {} entries", va, pcid,
            include_global ? " +global" : "", n);
  return n;
}

unsigned Tlb::flush_pcid(uint16_t pcid, bool include_global) {
  VaCtx ctx{0, pcid, include_global};
  const unsigned n = flush_if(
      [](const TlbEntry& e, const void* p) {
        const VaCtx& c = *static_cast<const VaCtx*>(p);
        return owned(e, c.pcid, c.include_global);
      },
      &ctx);
  if (n)
    DPRINTF(TLB, tick(), who_.c_str(), "invalidate pcid={}{}: {} entries", pcid, include_global ? " +global" : "",
            n);
  return n;
}

unsigned Tlb::flush_all(bool include_global) {
  const bool g = include_global;
  const unsigned n = flush_if([](const TlbEntry& e, const void* p) { return *static_cast<const bool*>(p) || !e.global; },
                              &g);
  if (include_global) fractured_ = 0;
  if (n) DPRINTF(TLB, tick(), who_.c_str(), "invalidate all{}: {} entries", include_global ? " +global" : "", n);
  return n;
}

void Tlb::revoke_host(uint64_t pa_start, uint64_t pa_end) {
  changed();
  for (auto& a : arrays_) {
    for (unsigned s = 0; s < a->capacity(); ++s) {
      if (!a->valid(s)) continue;
      TlbEntry& e = a->entry(s);
      if ((e.host || e.pending_host) && e.pa_base + e.host_lo <= pa_end && e.pa_base + e.host_hi >= pa_start)
        e.host = e.pending_host = nullptr;
    }
  }
}

void Tlb::recompute_perm(bool wp, bool nxe) {
  changed();
  for (auto& a : arrays_)
    for (unsigned s = 0; s < a->capacity(); ++s)
      if (a->valid(s)) a->entry(s).compute_perm(wp, nxe);
}

}  // namespace hw
