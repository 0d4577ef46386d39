// The timeline: `mmcosim run --trace-events FILE.json` records what the
// models and the firmware did, when, as Chrome/Perfetto trace-event JSON
// (the JSON Object Format of the Trace Event Format: {"traceEvents": [...],
// "displayTimeUnit": "ns", "otherData": {...}}), which ui.perfetto.dev and
// chrome://tracing open. One process per CPU and per device ("cpu0",
// "dma0", "disk0"), threads inside it for what runs there (the CPU itself,
// its page-walk lanes, kswapd0, kcompactd0, khugepaged). docs/tracing.md.
//
// A model owns its events, as it owns its statistics and debug flags (gem5's
// DPRINTF, VCML's trace): it tests the debug flag the event belongs to and
// records it here with its own simulated timestamps:
//
//   if (SIM_TRACING(Walker)) trace_walk(...);   // cold path, in the model
//   ...
//   sim::trace::Sink& s = *sim::debug::Walker.trace;
//   s.complete(track_, "Walker", "walk", start_ps, end_ps, {{"va", va, Arg::hex}});
//
// Tracing off costs one null-pointer test per event site (Flag::trace).
// Spans are stored as complete ("X") events when they end, so the ring
// that bounds the file (the last N events) never keeps half of a span; a
// begin()/end() pair is matched here, per track. Timestamps are simulated
// time only, so the file is a pure function of the run. Used by hw/cpu,
// hw/mmu, hw/dma, hw/block (events) and tb/top/run.cpp (the sink, the file).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <unordered_set>
#include <vector>

#include "hw/base/debug.h"

// True when `flag`'s events are being recorded (one test of a pointer).
#define SIM_TRACING(flag) __builtin_expect(::sim::debug::flag.trace != nullptr, 0)

namespace sim::trace {

// One argument of an event: a number, a number shown in hex, or a string
// (which must outlive the sink: a literal, or Sink::intern's).
struct Arg {
  enum Kind : uint8_t { num, hex, str };
  const char* key = nullptr;
  uint64_t value = 0;
  Kind kind = num;
  const char* text = nullptr;
  Arg() = default;
  Arg(const char* k, uint64_t v, Kind how = num) : key(k), value(v), kind(how) {}
  Arg(const char* k, const char* s) : key(k), kind(str), text(s) {}
};

using TrackId = uint32_t;
constexpr unsigned kMaxArgs = 5;

class Sink {
 public:
  // Keeps the last `limit` events (at least 1). `flags` is what
  // --trace-flags said, for the file's otherData.
  Sink(uint64_t limit, std::string flags);

  // The track of thread `thread` in process `process` (created on first
  // use: pids and tids number in that order, deterministic like the run).
  TrackId track(const std::string& process, const std::string& thread);
  // Of the tracks `thread`, `thread#2`, ... of `process`, the first whose
  // last span ended by start_ps; for spans of one resource that may overlap
  // (walks in flight), so that spans on one track always nest.
  TrackId lane(const std::string& process, const std::string& thread, uint64_t start_ps, uint64_t end_ps);

  // A span [start_ps, end_ps] ("X").
  void complete(TrackId t, const char* cat, const char* name, uint64_t start_ps, uint64_t end_ps,
                std::initializer_list<Arg> args = {});
  // An instant ("i", thread scope).
  void instant(TrackId t, const char* cat, const char* name, uint64_t ts_ps, std::initializer_list<Arg> args = {});
  // A counter sample ("C"): the process's counter `name` takes `value`.
  void counter(TrackId t, const char* name, uint64_t ts_ps, uint64_t value);
  // A span whose end is not known yet: begin() opens it on t's stack,
  // end() closes the innermost open one and records it with the args of
  // both (keep = false: forget it, e.g. a daemon run that found nothing to
  // do). end() with nothing open is ignored.
  void begin(TrackId t, const char* cat, const char* name, uint64_t ts_ps, std::initializer_list<Arg> args = {});
  void end(TrackId t, uint64_t ts_ps, std::initializer_list<Arg> args = {}, bool keep = true);
  // A copy of `s` that lives as long as the sink (dynamic names).
  const char* intern(const std::string& s);

  uint64_t recorded() const { return recorded_; }
  uint64_t dropped() const { return recorded_ - ring_.size(); }
  uint64_t limit() const { return limit_; }

  // Closes every span still open at end_ps (marked "unfinished"), then
  // writes the file: metadata first, then the kept events by time.
  // `other` holds extra otherData members as "key": value JSON text.
  void write(std::ostream& out, uint64_t end_ps, const std::vector<std::pair<std::string, std::string>>& other);

 private:
  struct Event {
    uint64_t ts_ps, dur_ps;
    uint64_t seq;  // order of recording: ties keep it
    const char* cat;
    const char* name;
    TrackId track;
    char ph;
    uint8_t nargs;
    Arg args[kMaxArgs];
  };
  struct Track {
    uint32_t pid, tid;
    std::string process, thread;
    uint64_t busy_until = 0;    // lanes: where the last span ended
    std::vector<Event> open;    // begin() without end() yet
  };
  Event make(TrackId t, char ph, const char* cat, const char* name, uint64_t ts_ps,
             std::initializer_list<Arg> args) const;
  void record(const Event& e);

  uint64_t limit_;
  std::string flags_;
  std::vector<Event> ring_;  // the last limit_ events; next_ is the oldest once full
  size_t next_ = 0;
  uint64_t recorded_ = 0;
  std::vector<Track> tracks_;
  std::vector<std::string> processes_;
  std::unordered_set<std::string> strings_;
};

// Turns recording on for the flags named in `list` (comma-separated debug
// flag names, or "All"), into `sink`. Returns the first unknown name, or "".
std::string enable(Sink& sink, const std::string& list);
// Turns recording off for every flag (the sink is going away).
void disable_all();

}  // namespace sim::trace
