// Simulated time: the one way models turn a delay into ticks and back.
// Used by every model in hw/ (latency parameters, statistics in ns or ps,
// the timestamps of debug lines) and by the tests that check them.
//
// A tick is one picosecond: mmcosim runs SystemC at a time resolution of
// 1 ps (tb/top/main.cpp sets it; it is also SystemC's default, which the
// tests use; the RTL's timeprecision is the same), so a tick is an
// sc_time's raw value and the conversions below are exact integer ones.
// They give the same results as the sc_time arithmetic the models used
// before (division by sc_time(1, SC_PS), construction from a double number
// of picoseconds) for every time below 2^52 ps (75 minutes).
#pragma once

#include <cstdint>

#include <systemc>

namespace sim {

// Ticks (picoseconds) per nanosecond.
constexpr uint64_t kTicksPerNs = 1000;

// A time in ticks (picoseconds).
inline uint64_t to_ps(const sc_core::sc_time& t) { return t.value(); }
// A number of ticks (picoseconds) as a time.
inline sc_core::sc_time from_ps(uint64_t ps) { return sc_core::sc_time::from_value(ps); }

// A time in whole nanoseconds, truncated (statistics kept in ns).
inline uint64_t to_ns(const sc_core::sc_time& t) { return t.value() / kTicksPerNs; }
// A time in nanoseconds, rounded to the nearest (ties up).
inline uint64_t to_ns_rounded(const sc_core::sc_time& t) { return (t.value() + kTicksPerNs / 2) / kTicksPerNs; }
// A fractional number of nanoseconds (a cost computed from a bandwidth),
// rounded to the nearest tick as SystemC rounds a double.
inline sc_core::sc_time from_ns(double ns) { return sc_core::sc_time(ns, sc_core::SC_NS); }

// The period of a clock of `hz` hertz, rounded to the nearest tick.
inline sc_core::sc_time period_of(uint64_t hz) {
  return sc_core::sc_time(1.0 / static_cast<double>(hz), sc_core::SC_SEC);
}

// SystemC time plus a caller's annotated delay, in ticks: the timestamp of
// a debug line or of a monitor event at the caller's local time.
inline uint64_t now_ps(const sc_core::sc_time& delay = sc_core::SC_ZERO_TIME) {
  return to_ps(sc_core::sc_time_stamp() + delay);
}

}  // namespace sim
