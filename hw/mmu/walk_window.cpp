#include "hw/mmu/walk_window.h"

#include <algorithm>
#include <stdexcept>

#include "hw/base/time.h"

namespace hw {

using sc_core::sc_time;

WalkWindow::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "walkWindow") {}

WalkWindow::WalkWindow(sim::stats::Group* stats_parent, const Params& p) : stats(stats_parent), p_(p) {
  if (p_.slots == 0) throw std::invalid_argument("walks in flight must be at least 1");
  walks_.reserve(p_.slots);
}

sc_time WalkWindow::stall(sc_time now, sc_time until, sim::stats::Scalar& counter) {
  if (until <= now) return now;
  ++counter;
  stats.stall_time += sim::to_ps(until - now);
  return until;
}

void WalkWindow::retire_some(sc_time now) {
  walks_.erase(std::remove_if(walks_.begin(), walks_.end(), [&](const Walk& w) { return w.done <= now; }),
               walks_.end());
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
  if (walks_.size() < p_.slots) return now;
  sc_time earliest = walks_.front().done;
  for (const Walk& w : walks_) earliest = std::min(earliest, w.done);
  now = stall(now, earliest, stats.full_stalls);
  retire(now);
  return now;
}

sc_time WalkWindow::drain(sc_time now) {
  sc_time last = now;
  for (const Walk& w : walks_) last = std::max(last, w.done);
  now = stall(now, last, stats.drain_stalls);
  walks_.clear();
  update_gate();
  return now;
}

void WalkWindow::serialize() {
  if (walks_.empty()) return;
  sc_time last = barrier_pending_ ? barrier_ : sc_core::SC_ZERO_TIME;
  for (const Walk& w : walks_) last = std::max(last, w.done);
  barrier_ = last;
  barrier_pending_ = true;
  walks_.clear();
  update_gate();
}

void WalkWindow::revoke_host(uint64_t pa_start, uint64_t pa_end) {
  for (Walk& w : walks_) {
    TlbEntry& e = w.page;
    if (e.pa_base + e.host_lo <= pa_end && e.pa_base + e.host_hi >= pa_start) e.host = e.pending_host = nullptr;
  }
}

}  // namespace hw
