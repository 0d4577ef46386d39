#include "hw/base/trace.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace sim::trace {

namespace {

constexpr unsigned kMaxArgs = 4;
constexpr size_t kNameLen = 56;

struct Event {
  uint64_t ts = 0, dur = 0;
  uint32_t track = 0;
  char ph = 'X';
  uint8_t nargs = 0;
  const char* category = "";
  char name[kNameLen] = {};
  Arg args[kMaxArgs] = {};
};

struct Open {
  std::string name;
  const char* category;
  uint64_t ts;
  uint64_t events_before;  // events on the track when it began
};

struct Track {
  std::string name;
  Group group;
  std::vector<Open> open;
  uint64_t events = 0;
};

struct Recorder {
  bool on = false;
  uint64_t limit = 0;
  std::string flags;
  std::vector<Event> ring;
  uint64_t next = 0;  // events recorded so far; the ring's slot is next % limit
  std::vector<Track> tracks;
};

Recorder& rec() {
  static Recorder r;
  return r;
}

Event& slot(unsigned track_id) {
  Recorder& r = rec();
  Event& e = r.ring[r.next % r.limit];
  ++r.next;
  if (track_id < r.tracks.size()) ++r.tracks[track_id].events;
  e = Event{};
  e.track = track_id;
  return e;
}

void fill(Event& e, const char* category, std::string_view name, std::initializer_list<Arg> args) {
  e.category = category;
  const size_t n = std::min(name.size(), kNameLen - 1);
  std::memcpy(e.name, name.data(), n);
  e.name[n] = '\0';
  for (const Arg& a : args) {
    if (e.nargs == kMaxArgs) break;
    e.args[e.nargs++] = a;
  }
}

void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  out += '"';
}

// Microseconds with six decimals: every picosecond kept.
std::string micros(uint64_t ps) { return fmt::format("{}.{:06}", ps / 1000000, ps % 1000000); }

void write_event(std::string& out, const Event& e) {
  const Recorder& r = rec();
  const Track& t = r.tracks.at(e.track);
  out += "{\"name\":";
  json_string(out, e.name);
  out += ",\"cat\":";
  json_string(out, e.category);
  out += fmt::format(",\"ph\":\"{}\",\"ts\":{},", e.ph, micros(e.ts));
  if (e.ph == 'X') out += fmt::format("\"dur\":{},", micros(e.dur));
  else out += "\"s\":\"t\",";
  out += fmt::format("\"pid\":{},\"tid\":{}", static_cast<unsigned>(t.group), e.track + 1);
  if (e.nargs) {
    out += ",\"args\":{";
    for (unsigned i = 0; i < e.nargs; ++i) {
      if (i) out += ',';
      json_string(out, e.args[i].key);
      out += e.args[i].hex ? fmt::format(":\"{:#x}\"", e.args[i].value) : fmt::format(":{}", e.args[i].value);
    }
    out += '}';
  }
  out += '}';
}

void write_metadata(std::string& out) {
  const Recorder& r = rec();
  out += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"CPUs\"}},\n";
  out += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":2,\"args\":{\"name\":\"devices\"}},\n";
  for (size_t i = 0; i < r.tracks.size(); ++i) {
    const Track& t = r.tracks[i];
    const unsigned pid = static_cast<unsigned>(t.group);
    out += fmt::format("{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{},\"tid\":{},\"args\":{{\"name\":", pid, i + 1);
    json_string(out, t.name);
    out += "}},\n";
    out += fmt::format("{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":{},\"tid\":{},\"args\":{{\"sort_index\":{}}}}},\n",
                       pid, i + 1, i);
  }
}

}  // namespace

unsigned track(const std::string& name, Group group) {
  Recorder& r = rec();
  for (size_t i = 0; i < r.tracks.size(); ++i)
    if (r.tracks[i].name == name) return static_cast<unsigned>(i);
  r.tracks.push_back(Track{name, group, {}, 0});
  return static_cast<unsigned>(r.tracks.size() - 1);
}

void start(uint64_t limit, const std::string& flags) {
  Recorder& r = rec();
  r.on = true;
  r.limit = std::max<uint64_t>(limit, 1);
  r.flags = flags;
  r.ring.assign(std::min<uint64_t>(r.limit, 1u << 16), Event{});
  r.next = 0;
}

bool recording() { return rec().on; }

namespace {
// The ring grows to its limit as events come, so a small run with a large
// limit does not reserve the whole ring up front.
Event& record(unsigned track_id) {
  Recorder& r = rec();
  if (r.next < r.limit && r.next >= r.ring.size()) r.ring.resize(std::min<uint64_t>(r.limit, r.ring.size() * 2));
  return slot(track_id);
}
}  // namespace

void complete(unsigned track_id, const char* category, std::string_view name, uint64_t start_ps, uint64_t end_ps,
              std::initializer_list<Arg> args) {
  if (!rec().on) return;
  Event& e = record(track_id);
  e.ph = 'X';
  e.ts = start_ps;
  e.dur = end_ps > start_ps ? end_ps - start_ps : 0;
  fill(e, category, name, args);
}

void instant(unsigned track_id, const char* category, std::string_view name, uint64_t ts_ps,
             std::initializer_list<Arg> args) {
  if (!rec().on) return;
  Event& e = record(track_id);
  e.ph = 'i';
  e.ts = ts_ps;
  fill(e, category, name, args);
}

void begin(unsigned track_id, const char* category, std::string_view name, uint64_t ts_ps) {
  Recorder& r = rec();
  if (!r.on || track_id >= r.tracks.size()) return;
  Track& t = r.tracks[track_id];
  t.open.push_back(Open{std::string(name), category, ts_ps, t.events});
}

void end(unsigned track_id, uint64_t ts_ps) {
  Recorder& r = rec();
  if (!r.on || track_id >= r.tracks.size() || r.tracks[track_id].open.empty()) return;
  Track& t = r.tracks[track_id];
  const Open o = std::move(t.open.back());
  t.open.pop_back();
  if (ts_ps <= o.ts && t.events == o.events_before) return;  // nothing happened
  complete(track_id, o.category, o.name, o.ts, ts_ps);
}

void write_json(const std::string& file, uint64_t end_ps) {
  Recorder& r = rec();
  for (size_t i = 0; i < r.tracks.size(); ++i)
    while (!r.tracks[i].open.empty()) end(static_cast<unsigned>(i), end_ps);
  std::ofstream os(file);
  if (!os) throw std::runtime_error(fmt::format("{}: cannot write", file));
  const uint64_t kept = std::min(r.next, r.limit);
  std::string out = "{\"traceEvents\":[\n";
  write_metadata(out);
  const uint64_t first = r.next - kept;
  for (uint64_t i = first; i < r.next; ++i) {
    write_event(out, r.ring[i % r.limit]);
    out += i + 1 < r.next ? ",\n" : "\n";
    if (out.size() > (1u << 20)) {
      os << out;
      out.clear();
    }
  }
  if (kept == 0 && out.size() >= 2 && out.compare(out.size() - 2, 2, ",\n") == 0) out.erase(out.size() - 2, 1);
  out += "],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"generator\":\"mmcosim\",\"timeUnit\":\"us (6 decimals: ps)\",";
  out += fmt::format("\"eventLimit\":{},\"eventsRecorded\":{},\"eventsKept\":{},\"eventsDropped\":{},\"flags\":", r.limit,
                     r.next, kept, r.next - kept);
  json_string(out, r.flags.empty() ? "All" : r.flags);
  out += "}}\n";
  os << out;
  if (!os) throw std::runtime_error(fmt::format("{}: cannot write", file));
}

uint64_t events_recorded() { return rec().next; }
uint64_t events_dropped() { return rec().next > rec().limit ? rec().next - rec().limit : 0; }

void reset() {
  Recorder& r = rec();
  r.on = false;
  r.ring.clear();
  r.next = 0;
  for (Track& t : r.tracks) {
    t.open.clear();
    t.events = 0;
  }
}

}  // namespace sim::trace
