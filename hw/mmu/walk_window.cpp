#include "hw/mmu/walk_window.h"

#include <algorithm>
#include <stdexcept>

#include "hw/base/time.h"

namespace hw {

using sc_core::sc_time;

WalkWindow::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "walkWindow") {}

WalkWindow::WalkWindow(sim::stats::Group* stats_parent, const Params& p) : stats(stats_parent), p_(p) {
  if (p_.slots == 0) throw std::invalid_argument("walks in flight must be at least 1");
  walks_.resize(p_.slots);
}

sc_time WalkWindow::stall(sc_time now, sc_time until, sim::stats::Scalar& counter) {
  if (until <= now) return now;
  ++counter;
  stats.stall_time += sim::to_ps(until - now);
  return until;
}

void WalkWindow::retire_some(sc_time now) {
  const auto first = walks_.begin(), last = first + n_;
  n_ = static_cast<unsigned>(std::remove_if(first, last, [&](const Walk& w) { return w.done <= now; }) - first);
}

sc_time WalkWindow::admit_busy(sc_time now, uint64_t seq) {
  if (barrier_pending_) {
    now = stall(now, barrier_, stats.serialize_stalls);
    barrier_pending_ = false;
  }
  retire(now);
  while (n_ && seq - walks_[0].seq > p_.lookahead) {
    now = stall(now, walks_[0].done, stats.lookahead_stalls);
    retire(now);
  }
  update_gate();
  return now;
}

bool WalkWindow::refresh(sc_time now, uint64_t seq) {
  if (barrier_pending_) {
    if (barrier_ > now) return false;
    barrier_pending_ = false;
  }
  retire(now);
  update_gate();
  return seq < gate_;
}

sc_time WalkWindow::acquire_busy(sc_time now) {
  retire(now);
  if (n_ < p_.slots) return now;
  sc_time earliest = walks_[0].done;
  for (unsigned i = 1; i < n_; ++i) earliest = std::min(earliest, walks_[i].done);
  now = stall(now, earliest, stats.full_stalls);
  retire(now);
  return now;
}

sc_time WalkWindow::drain(sc_time now) {
  sc_time last = now;
  for (unsigned i = 0; i < n_; ++i) last = std::max(last, walks_[i].done);
  now = stall(now, last, stats.drain_stalls);
  n_ = 0;
  update_gate();
  return now;
}

void WalkWindow::serialize() {
  if (n_ == 0) return;
  sc_time last = barrier_pending_ ? barrier_ : sc_core::SC_ZERO_TIME;
  for (unsigned i = 0; i < n_; ++i) last = std::max(last, walks_[i].done);
  barrier_ = last;
  barrier_pending_ = true;
  n_ = 0;
  update_gate();
}

void WalkWindow::revoke_host(uint64_t pa_start, uint64_t pa_end) {
  for (unsigned i = 0; i < n_; ++i) {
    TlbEntry& e = walks_[i].page;
    if (e.pa_base + e.host_lo <= pa_end && e.pa_base + e.host_hi >= pa_start) e.host = e.pending_host = nullptr;
  }
}

}  // namespace hw
