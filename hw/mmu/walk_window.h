// The timing of page walks in flight on one core (docs/mmu.md, "Walks in
// flight"). The core is functional-first: every access takes effect in
// program order at once, and a walk's result is in the TLB as soon as it was
// walked. Only time overlaps:
//
//  - a walk occupies one of `slots` walkers from its start to its completion
//    (start + the PWC lookup + the latency of each of its page-table reads);
//  - the core does not wait for a walk: it goes on issuing younger accesses,
//    each paying its own TLB and access latency;
//  - it waits when (1) a walk needs a walker and all are busy (until the
//    earliest completes), (2) an access would be more than `lookahead`
//    accesses younger than the oldest walk in flight (until that walk
//    completes: a stand-in for the reorder window), (3) the access faults or
//    takes a machine check (precise: until every walk in flight completes),
//    (4) after a serialising MMU operation (CR3 write, INVLPG, INVPCID,
//    paging-control change): the next access starts no earlier than the
//    completion of every walk in flight at that point;
//  - an access to a page whose walk is still in flight joins that walk (a
//    merge: no second walk) and completes with it; the core does not wait.
//
// Everything is deterministic: times are the core's (sc_time_stamp() plus
// its decoupled offset), and walks are ordered by the access that started
// them.
#pragma once

#include <cstdint>
#include <vector>

#include <systemc>

#include "hw/mmu/tlb.h"
#include "hw/base/stats.h"

namespace hw {

class WalkWindow {
 public:
  struct Params {
    unsigned slots = 4;        // walks in flight (page walkers)
    unsigned lookahead = 128;  // younger accesses the core may issue past a walk
  };
  struct Walk {
    sc_core::sc_time start, done;  // absolute simulated times
    uint64_t seq = 0;              // number of the access that started it
    TlbEntry page;                 // its translation (whole page), for merges
  };

  WalkWindow(sim::stats::Group* stats_parent, const Params& p);

  const Params& params() const { return p_; }
  // The fast path may complete access number seq+1 only while seq < gate().
  uint64_t gate() const { return gate_; }
  // No walk in flight and no barrier: accesses need no bookkeeping at all.
  bool idle() const { return idle_; }
  unsigned in_flight() const { return n_; }

  // Before access number `seq` issues at `now`: applies a pending
  // serialising barrier, retires walks done by `now` and waits for walks the
  // lookahead no longer lets the core pass. Returns when the access issues.
  // Inline: every slow-path access calls it; the rest is admit_busy().
  __attribute__((always_inline)) sc_core::sc_time admit(sc_core::sc_time now, uint64_t seq) {
    if (idle_) return now;  // nothing to retire or wait for; the gate is open
    // The usual case of a core whose last miss's walk is over by now.
    if (n_ == 1 && !barrier_pending_ && walks_[0].done <= now) {
      n_ = 0;
      become_idle();
      return now;
    }
    return admit_busy(now, seq);
  }
  // The walk in flight whose page holds va for pcid, or nullptr.
  const Walk* covering(uint64_t va, uint16_t pcid) const {
    for (unsigned i = 0; i < n_; ++i) {
      const Walk& w = walks_[i];
      const unsigned shift = size_shift(w.page.size);
      if ((va >> shift) == w.page.vpn && (w.page.global || w.page.pcid == pcid)) return &w;
    }
    return nullptr;
  }
  // Without waiting: retires walks done by `now` and a barrier passed by
  // then. True when the fast path may complete access number seq+1.
  bool refresh(sc_core::sc_time now, uint64_t seq);
  // A walk wants to start at `now`: returns when a walker is free for it.
  sc_core::sc_time acquire(sc_core::sc_time now) { return n_ == 0 ? now : acquire_busy(now); }
  // Occupies a walker from `start` to `done` (call after acquire(), with no
  // barrier pending: after admit()) for the walk access number `seq`
  // started; returns the walk as stored, whose `page` (left as a former
  // walk's: every field stale) the caller makes the walk's translation,
  // every field, before any other call here: the MMU builds it there, in
  // place.
  // Inline: every miss whose walk outlasts its access comes here.
  __attribute__((always_inline)) Walk& add(sc_core::sc_time start, sc_core::sc_time done, uint64_t seq) {
    const unsigned others = n_;
    ++stats.walks;
    if (others) {
      ++stats.overlapped;
      stats.concurrency_sum += others;
      if (others + 1 > stats.max_concurrency.value()) stats.max_concurrency.set(others + 1);
    } else {
      if (!stats.max_concurrency.value()) stats.max_concurrency.set(1);
      become_busy(seq + p_.lookahead);  // the only walk: it sets the gate
    }
    Walk& w = walks_[n_++];
    w.start = start;
    w.done = done;
    w.seq = seq;
    return w;
  }
  // A precise exception at `now`: waits for every walk; returns that time.
  sc_core::sc_time drain(sc_core::sc_time now);
  // A serialising operation: the next access waits for every walk in flight.
  void serialize();
  // DMI to [start, end] was revoked: drop host pointers into it.
  void revoke_host(uint64_t pa_start, uint64_t pa_end);
  void count_merge() { ++stats.merges; }
  // While the window is not idle, bit 63 of *word is set (the MMU's memo
  // epoch: memo hits then fail and accesses take the counting path).
  void mark_busy_in(uint64_t* word) {
    busy_word_ = word ? word : &own_busy_word_;
    update_gate();
  }
  static constexpr uint64_t kBusyBit = 1ull << 63;

  struct Stats : sim::stats::Group {
    explicit Stats(sim::stats::Group* parent);
    sim::stats::Scalar merges{this, "merges", "Accesses that joined a walk already in flight for their page", "Count"};
    sim::stats::Scalar full_stalls{this, "fullStalls", "Walks that waited for a free walker", "Count"};
    sim::stats::Scalar lookahead_stalls{this, "lookaheadStalls",
                                        "Accesses that waited for a walk more than lookahead accesses older", "Count"};
    sim::stats::Scalar drain_stalls{this, "drainStalls", "Faults and machine checks that waited for walks in flight",
                                    "Count"};
    sim::stats::Scalar serialize_stalls{this, "serializeStalls",
                                        "Accesses that waited for walks across a serialising MMU operation", "Count"};
    sim::stats::Scalar stall_time{this, "stallTime", "Time the core waited for walks", "ps"};
    sim::stats::Scalar walks{this, "walks", "Walks that occupied a walker", "Count"};
    sim::stats::Scalar overlapped{this, "overlapped", "Walks that started while another was in flight", "Count"};
    sim::stats::Scalar concurrency_sum{this, "concurrencySum", "Sum over walks of the other walks in flight at their start",
                                       "Count"};
    sim::stats::Formula concurrency{this, "concurrencyMean", "Mean number of other walks in flight when a walk starts",
                                    "Count", [this] {
                                      return walks.value() ? static_cast<double>(concurrency_sum.value()) / walks.value()
                                                           : 0.0;
                                    }};
    sim::stats::Scalar max_concurrency{this, "maxConcurrency", "Most walks in flight at once", "Count"};
  } stats;

 private:
  sc_core::sc_time acquire_busy(sc_core::sc_time now);
  sc_core::sc_time admit_busy(sc_core::sc_time now, uint64_t seq);
  // Drops the walks done by `now`. Most calls find one walk or none: no
  // search for those.
  void retire(sc_core::sc_time now) {
    if (n_ == 1) {
      if (walks_[0].done <= now) n_ = 0;
    } else if (n_) {
      retire_some(now);
    }
  }
  void retire_some(sc_core::sc_time now);
  // No walk in flight and no barrier.
  void become_idle() {
    idle_ = true;
    *busy_word_ &= ~kBusyBit;
    gate_ = ~0ull;
  }
  // A walk in flight or a barrier, with this gate.
  void become_busy(uint64_t gate) {
    idle_ = false;
    *busy_word_ |= kBusyBit;
    gate_ = gate;
  }
  // Recomputes idle_, the gate and the busy bit from the walks and the barrier.
  void update_gate() {
    if (n_ == 0 && !barrier_pending_) become_idle();
    else become_busy(barrier_pending_ ? 0 : walks_[0].seq + p_.lookahead);
  }
  sc_core::sc_time stall(sc_core::sc_time now, sc_core::sc_time until, sim::stats::Scalar& counter);

  Params p_;
  // One per walker; the first n_ are the walks in flight, in start order
  // (= access order). Fixed: adding a walk copies nothing.
  std::vector<Walk> walks_;
  unsigned n_ = 0;
  sc_core::sc_time barrier_ = sc_core::SC_ZERO_TIME;
  bool barrier_pending_ = false;
  uint64_t gate_ = ~0ull;
  bool idle_ = true;
  uint64_t own_busy_word_ = 0;
  uint64_t* busy_word_ = &own_busy_word_;
};

}  // namespace hw
