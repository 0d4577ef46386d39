// The timeline (`mmcosim run --trace-events FILE.json`): events of the
// models and the firmware as Chrome trace-event JSON (the "traceEvents"
// format Perfetto's UI and chrome://tracing load), one track per CPU and
// per device. Events belong to debug flags (hw/base/debug.h) and are
// recorded only for the flags chosen (--trace-flags, default every flag);
// the timeline keeps the last `limit` events (a ring) and says in its
// metadata how many it dropped.
//
// A model records an event where it prints a debug line, behind one
// predictable branch on a bool when the flag is off:
//
//   const uint64_t t0 = TRACE_ON(Fault) ? sim::to_ps(local_now()) : 0;
//   ... the work ...
//   if (TRACE_ON(Fault)) sim::trace::complete(track_, "fault", "page fault", t0, sim::to_ps(local_now()),
//                                             {{"va", va, true}, {"ec", ec, true}});
//
// Recording never changes what is simulated: it only reads times the model
// already has. Times are ticks (picoseconds); the file has microseconds
// with six decimals, so no tick is lost.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "hw/base/debug.h"

namespace sim::trace {

// One argument of an event: shown in Perfetto's details pane.
struct Arg {
  const char* key;
  uint64_t value;
  bool hex = false;  // written as "0x..." (addresses)
};

// Which process a track is grouped under in the viewer.
enum class Group : uint8_t { cpus = 1, devices = 2 };

// Registers a track (a thread id in the file) named `name` ("cpu0",
// "cpu0 walker 1", "dma0") and returns its number. Registering the same
// name again returns the same track. Cheap; models register theirs when
// they are built, whether or not a timeline is recorded.
unsigned track(const std::string& name, Group group);

// Starts recording: the ring keeps the last `limit` events. `flags` is the
// text of --trace-flags, kept in the file's metadata.
void start(uint64_t limit, const std::string& flags);
bool recording();

// A slice [start_ps, end_ps) on a track.
void complete(unsigned track, const char* category, std::string_view name, uint64_t start_ps, uint64_t end_ps,
              std::initializer_list<Arg> args = {});
// A point in time on a track.
void instant(unsigned track, const char* category, std::string_view name, uint64_t ts_ps,
             std::initializer_list<Arg> args = {});
// A slice known by its begin and end calls (the firmware's spans, which
// nest): begin pushes onto the track's stack, end pops the innermost and
// records it; a span that took no simulated time and holds no other event
// is not recorded (a kernel thread that found nothing to do).
void begin(unsigned track, const char* category, std::string_view name, uint64_t ts_ps);
void end(unsigned track, uint64_t ts_ps);

// Writes the file (every span still open ends at `end_ps`). Throws
// std::runtime_error when it cannot be written.
void write_json(const std::string& file, uint64_t end_ps);

// Counts, for the summary and tests.
uint64_t events_recorded();
uint64_t events_dropped();

// Forgets every event and stops recording (tests).
void reset();

}  // namespace sim::trace

#define TRACE_ON(flag) __builtin_expect(::sim::debug::flag.traced, 0)
