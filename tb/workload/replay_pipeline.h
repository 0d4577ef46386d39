// A trace replay on two host threads. The slots a ring holds are filled with
// the accesses the trace's records make ahead of the simulation, and checked
// against the shadow once the simulation has completed them: a worker
// thread does both, and the simulation's thread does either itself rather
// than wait for the worker (on a busy host the worker may not run for a
// while), so the simulation's thread mostly just runs the accesses. This
// class is the hand-over; the slots' content and what filling and checking
// mean are the caller's (ScriptedProgram).
//
// Deterministic by construction: fills go in slot order, one at a time, and
// so do checks, whichever thread makes them, so what the simulation runs
// and what the shadow holds do not depend on timing; and the simulation
// learns of a failed check at fixed points, not when some thread happens to
// get there: a slot's failure when it takes the slot two after it (it waits
// for that check first), or at drain() (it waits for every slot it handed
// back).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace tb {

class ReplayPipeline {
 public:
  static constexpr unsigned kSlots = 4;
  // fill(ring): the next slot, ring index `ring`; false when nothing follows
  // it (it may be empty). check(ring): the slot the simulation finished.
  // Either may run on either thread, never two fills or two checks at once;
  // what they throw is passed on (below).
  using Fill = std::function<bool(unsigned ring)>;
  using Check = std::function<void(unsigned ring)>;

  // Without a worker (a host with one CPU, or `threads: 1`) the simulation's
  // thread fills and checks every slot itself, at the same points: a
  // failure is raised where it would be with one.
  ReplayPipeline(Fill fill, Check check, bool worker);
  // Lets the worker finish the fill or check it is in (filled slots are
  // dropped) and joins it.
  ~ReplayPipeline();
  ReplayPipeline(const ReplayPipeline&) = delete;
  ReplayPipeline& operator=(const ReplayPipeline&) = delete;

  // The simulation's side. Hands the slot it held (if any) back to be
  // checked and takes the next one: its ring index, or false at the end.
  // Throws a check's failure of the slot two back or before, or else the
  // fill's error of the slot it would take.
  bool take(unsigned& ring);
  // Waits until every slot handed back is checked; throws a check's failure.
  // The slot held stays held: its completed accesses are the caller's to check.
  void drain();

 private:
  void work();
  // A slot is free to fill (and nobody fills one now); a finished slot is
  // next to check (and nobody checks one now).
  bool fillable() const;
  bool checkable() const;
  // Fills or checks it, on whichever thread gets there first; false if there is none.
  bool try_fill();
  bool try_check();
  template <typename Ready>
  void await(std::condition_variable& cv, Ready ready);
  // The simulation's wait: it fills (when `fills`) and checks slots itself
  // meanwhile rather than idle (on a busy host the worker may not run for a
  // while), checks first when `checks_first`.
  template <typename Ready>
  void await_working(Ready ready, bool fills, bool checks_first);
  void wake(std::condition_variable& cv);

  const Fill fill_;
  const Check check_;
  // Slots by number (ring index: number % kSlots): filled, taken and
  // finished (handed back) by the simulation, checked. Fills and checks go
  // in order, one at a time each: a thread claims slot `filled_`
  // (`checked_`) by moving `fill_claimed_` (`check_claimed_`) past it, and
  // moves `filled_` (`checked_`) when done.
  std::atomic<uint64_t> filled_{0}, finished_{0}, checked_{0}, fill_claimed_{0}, check_claimed_{0};
  uint64_t taken_ = 0;  // the simulation's own
  // no_more_: no fill is to be claimed (the last one said nothing follows,
  // or threw); ended_, set after it: filled_ and fill_error_ are final.
  std::atomic<bool> no_more_{false}, ended_{false}, failed_{false}, stop_{false};
  uint64_t fail_slot_ = 0;               // written before failed_
  std::exception_ptr check_error_, fill_error_;
  std::mutex m_;
  std::condition_variable to_worker_, to_sim_;
  std::thread worker_;  // none without a worker
};

}  // namespace tb
