// The corrected-error collector (Linux drivers/ras/cec.c); see cec.h.
#include "sw/drivers/ras/cec.h"

#include <stdarg.h>

#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/lib/seq_file.h"
#include "sw/lib/string.h"
#include "sw/mm/memory_failure.h"
#include "sw/mm/mmzone.h"

namespace fw {

namespace {

constexpr unsigned kPageShift = 12;
constexpr uint64_t kFullCountMask = (1ull << kPageShift) - 1;  // age and count together

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

void Cec::trace(hal::Hal& h, const char* fmt, ...) const {
  if (!params_->trace_ras) return;
  va_list ap;
  va_start(ap, fmt);
  log_->vprintk(h, LOGLEVEL_INFO, fmt, ap);
  va_end(ap);
}

void Cec::boot(hal::Hal& h) {
  enabled_ = !params_->cec_disable;
  last_decay_ns_ = h.now_ns();
  // Linux announces the collector here ("RAS: Correctable Errors collector
  // initialized."); left out so the log of every run (log.lines) stays as
  // it was without memory errors.
}

uint64_t Cec::action_threshold() const {
  const uint64_t t = params_->cec_action_threshold;
  return t > kCountMask ? kCountMask : t;
}

int Cec::find_elem(uint64_t pfn, unsigned* to) const {
  int lo = 0, hi = static_cast<int>(n_) - 1;
  while (lo <= hi) {
    const int i = (lo + hi) / 2;
    const uint64_t this_pfn = array_[i] >> kPageShift;
    if (this_pfn < pfn) {
      lo = i + 1;
    } else if (this_pfn > pfn) {
      hi = i - 1;
    } else {
      *to = static_cast<unsigned>(i);
      return i;
    }
  }
  *to = static_cast<unsigned>(lo);  // where pfn belongs
  return -1;
}

void Cec::del_elem(unsigned idx) {
  for (unsigned i = idx; i + 1 < n_; ++i) array_[i] = array_[i + 1];
  --n_;
}

void Cec::del_lru_elem() {
  uint64_t min = kFullCountMask;
  unsigned min_idx = 0;
  for (unsigned i = 0; i < n_; ++i) {
    const uint64_t v = array_[i] & kFullCountMask;
    if (v < min) {
      min = v;
      min_idx = i;
    }
  }
  del_elem(min_idx);
  ++stats_.evicted;
}

void Cec::spring_cleaning() {
  for (unsigned i = 0; i < n_; ++i) {
    const uint64_t decay = (array_[i] >> kCountBits) & kDecayMask;
    if (!decay) continue;
    array_[i] = (array_[i] & ~(kDecayMask << kCountBits)) | ((decay - 1) << kCountBits);
  }
  decay_count_ = 0;
  ++stats_.decays_done;
}

bool Cec::queue(hal::Hal& h, uint64_t pfn) {
  if (q_len_ == kQueueSize) {
    ++stats_.queue_overflows;
    log_->printk(h, LOGLEVEL_ERR, "Memory failure: buffer overflow when queuing memory failure at %#llx", ull(pfn));
    return false;
  }
  queue_[(q_head_ + q_len_++) % kQueueSize] = pfn;
  return true;
}

int Cec::add(hal::Hal& h, uint64_t pfn) {
  if (!enabled_) return -ENODEV;
  ++stats_.ces_entered;
  if (n_ == kMaxElems) del_lru_elem();  // full: the least used entry goes
  unsigned to = 0;
  if (find_elem(pfn, &to) < 0) {
    for (unsigned i = n_; i > to; --i) array_[i] = array_[i - 1];
    array_[to] = pfn << kPageShift;
    ++n_;
  }
  // A fresh age, one more error.
  array_[to] |= kDecayMask << kCountBits;
  ++array_[to];
  trace(h, "RAS: CEC: pfn %#llx: %u errors, entry %u of %u", ull(pfn), static_cast<unsigned>(array_[to] & kCountMask),
        to, n_);
  if ((array_[to] & kCountMask) >= action_threshold()) {
    if (!nodes_->pfn_valid(pfn)) {
      log_->printk(h, LOGLEVEL_WARNING, "RAS: CEC: Invalid pfn: 0x%llx", ull(pfn));
    } else {
      log_->printk(h, LOGLEVEL_ERR, "RAS: Soft-offlining pfn: 0x%llx", ull(pfn));
      queue(h, pfn);
      ++stats_.pfns_poisoned;
    }
    del_elem(to);
    return 1;
  }
  if (++decay_count_ >= kCleanElems) spring_cleaning();
  return 0;
}

void Cec::tick(hal::Hal& h) {
  if (!enabled_) return;
  const uint64_t now = h.now_ns();
  const uint64_t interval = params_->cec_decay_interval_ms * 1000000ull;
  if (now - last_decay_ns_ >= interval) {
    spring_cleaning();
    last_decay_ns_ = now;
    trace(h, "RAS: CEC: decay interval: every entry aged (%u entries)", n_);
  }
  while (q_len_) {
    const uint64_t pfn = queue_[q_head_];
    q_head_ = (q_head_ + 1) % kQueueSize;
    --q_len_;
    const int r = mf_->soft_offline_page(h, pfn, MF_SOFT_OFFLINE);
    if (r == 0) ++stats_.offlined;
    else ++stats_.offline_failed;
    trace(h, "RAS: CEC: soft offline of pfn %#llx: %d", ull(pfn), r);
  }
}

void Cec::show(TextSink& out) const {
  // debugfs ras/cec/array's layout.
  static const char* const bins[] = {"00", "01", "10", "11"};
  seq_file m(out);
  seq_printf(&m, "{ n: %u\n", n_);
  for (unsigned i = 0; i < n_; ++i)
    seq_printf(&m, " %3u: [%016llx|%s|%03x]\n", i, ull(pfn_at(i)), bins[decay_at(i)], count_at(i));
  seq_printf(&m, "}\n");
  seq_printf(&m, "Stats:\nCEs: %llu\nofflined pages: %llu\n", ull(stats_.ces_entered), ull(stats_.pfns_poisoned));
  seq_printf(&m, "Flags: 0x%x\n", enabled_ ? 0u : 1u);
  seq_printf(&m, "Decay interval: %llu ms\n", ull(params_->cec_decay_interval_ms));
  seq_printf(&m, "Decays: %llu\n", ull(stats_.decays_done));
  seq_printf(&m, "Action threshold: %llu\n", ull(action_threshold()));
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<CecStats> cec_stat_table[] = {
    {"ces_entered", &CecStats::ces_entered, "corrected memory errors entered into the collector", "count"},
    {"pfns_poisoned", &CecStats::pfns_poisoned, "pages that reached the action threshold (queued for soft offline)",
     "count"},
    {"decays_done", &CecStats::decays_done, "ageing passes over the table (spring cleanings)", "count"},
    {"evicted", &CecStats::evicted, "entries dropped from a full table (lowest age and count)", "count"},
    {"offlined", &CecStats::offlined, "queued soft offlines that succeeded", "count"},
    {"offline_failed", &CecStats::offline_failed, "queued soft offlines that failed (the page stays in use)",
     "count"},
    {"queue_overflows", &CecStats::queue_overflows, "pages not queued: the memory-failure queue was full", "count"},
};
static_assert(stat_table_size(cec_stat_table) == sizeof(CecStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Cec::visit_stats(StatVisitor& v, const char* prefix) const {
  StatEmitter(v, prefix).table(stats_, cec_stat_table);
}

}  // namespace fw
