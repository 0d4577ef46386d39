#include "hw/base/trace.h"

#include <algorithm>
#include <ostream>

#include <fmt/format.h>

namespace sim::trace {

namespace {

// A JSON string literal of s.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A metadata ("M") event: `name` (process_name, thread_sort_index, ...)
// with its one argument, `value` as JSON text.
std::string metadata(uint32_t pid, uint32_t tid, const char* name, const char* key, const std::string& value) {
  return fmt::format("{{\"ph\":\"M\",\"pid\":{},\"tid\":{},\"name\":\"{}\",\"args\":{{\"{}\":{}}}}}", pid, tid,
                     name, key, value);
}

// Picoseconds as the format's microseconds, exactly.
std::string micros(uint64_t ps) { return fmt::format("{}.{:06}", ps / 1000000, ps % 1000000); }

void append_args(std::string& out, const Arg* args, unsigned n) {
  out += ",\"args\":{";
  for (unsigned i = 0; i < n; ++i) {
    const Arg& a = args[i];
    if (i) out += ',';
    out += quoted(a.key) + ':';
    if (a.kind == Arg::num) out += fmt::format("{}", a.value);
    else if (a.kind == Arg::hex) out += fmt::format("\"{:#x}\"", a.value);
    else out += quoted(a.text ? a.text : "");
  }
  out += '}';
}

}  // namespace

Sink::Sink(uint64_t limit, std::string flags) : limit_(std::max<uint64_t>(limit, 1)), flags_(std::move(flags)) {}

TrackId Sink::track(const std::string& process, const std::string& thread) {
  for (size_t i = 0; i < tracks_.size(); ++i)
    if (tracks_[i].process == process && tracks_[i].thread == thread) return static_cast<TrackId>(i);
  auto p = std::find(processes_.begin(), processes_.end(), process);
  if (p == processes_.end()) p = processes_.insert(p, process);
  Track t;
  t.pid = static_cast<uint32_t>(p - processes_.begin()) + 1;
  t.tid = static_cast<uint32_t>(tracks_.size()) + 1;
  t.process = process;
  t.thread = thread;
  tracks_.push_back(std::move(t));
  return static_cast<TrackId>(tracks_.size() - 1);
}

TrackId Sink::lane(const std::string& process, const std::string& thread, uint64_t start_ps, uint64_t end_ps) {
  for (unsigned n = 1;; ++n) {
    const TrackId t = track(process, n == 1 ? thread : fmt::format("{}#{}", thread, n));
    if (tracks_[t].busy_until <= start_ps) {
      tracks_[t].busy_until = end_ps;
      return t;
    }
  }
}

Sink::Event Sink::make(TrackId t, char ph, const char* cat, const char* name, uint64_t ts_ps,
                       std::initializer_list<Arg> args) const {
  Event e{};
  e.ts_ps = ts_ps;
  e.cat = cat;
  e.name = name;
  e.track = t;
  e.ph = ph;
  for (const Arg& a : args)
    if (e.nargs < kMaxArgs) e.args[e.nargs++] = a;
  return e;
}

void Sink::record(const Event& e) {
  if (ring_.size() < limit_) {
    ring_.push_back(e);
    ring_.back().seq = recorded_++;
    return;
  }
  ring_[next_] = e;  // the oldest goes
  ring_[next_].seq = recorded_++;
  next_ = (next_ + 1) % limit_;
}

void Sink::complete(TrackId t, const char* cat, const char* name, uint64_t start_ps, uint64_t end_ps,
                    std::initializer_list<Arg> args) {
  Event e = make(t, 'X', cat, name, start_ps, args);
  e.dur_ps = end_ps > start_ps ? end_ps - start_ps : 0;
  record(e);
}

void Sink::instant(TrackId t, const char* cat, const char* name, uint64_t ts_ps, std::initializer_list<Arg> args) {
  record(make(t, 'i', cat, name, ts_ps, args));
}

void Sink::counter(TrackId t, const char* name, uint64_t ts_ps, uint64_t value) {
  record(make(t, 'C', "counter", name, ts_ps, {Arg("value", value)}));
}

void Sink::begin(TrackId t, const char* cat, const char* name, uint64_t ts_ps, std::initializer_list<Arg> args) {
  tracks_[t].open.push_back(make(t, 'X', cat, name, ts_ps, args));
}

void Sink::end(TrackId t, uint64_t ts_ps, std::initializer_list<Arg> args, bool keep) {
  std::vector<Event>& open = tracks_[t].open;
  if (open.empty()) return;
  Event e = open.back();
  open.pop_back();
  if (!keep) return;
  for (const Arg& a : args)
    if (e.nargs < kMaxArgs) e.args[e.nargs++] = a;
  e.dur_ps = ts_ps > e.ts_ps ? ts_ps - e.ts_ps : 0;
  record(e);
}

const char* Sink::intern(const std::string& s) { return strings_.insert(s).first->c_str(); }

void Sink::write(std::ostream& out, uint64_t end_ps, const std::vector<std::pair<std::string, std::string>>& other) {
  for (TrackId t = 0; t < tracks_.size(); ++t)
    while (!tracks_[t].open.empty()) end(t, std::max(end_ps, tracks_[t].open.back().ts_ps), {Arg("unfinished", 1)});
  std::vector<const Event*> kept;
  kept.reserve(ring_.size());
  for (const Event& e : ring_) kept.push_back(&e);
  // By time; at one time the longer span first, so that spans nest as
  // they are read; else in recording order.
  std::sort(kept.begin(), kept.end(), [](const Event* a, const Event* b) {
    if (a->ts_ps != b->ts_ps) return a->ts_ps < b->ts_ps;
    if (a->dur_ps != b->dur_ps) return a->dur_ps > b->dur_ps;
    return a->seq < b->seq;
  });
  out << "{\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"generator\":\"mmcosim\",\"clock\":\"simulated time\","
      << "\"trace_flags\":" << quoted(flags_) << ",\"trace_limit\":" << limit_ << ",\"events_recorded\":" << recorded_
      << ",\"events_kept\":" << ring_.size() << ",\"events_dropped\":" << dropped();
  for (const auto& [key, json] : other) out << ',' << quoted(key) << ':' << json;
  out << "},\n\"traceEvents\":[\n";
  bool first = true;
  auto emit = [&](const std::string& line) {
    out << (first ? "" : ",\n") << line;
    first = false;
  };
  // Metadata for the tracks and processes that have events (a daemon that
  // never did any work leaves no empty track). Processes show in the order
  // of their names, numbers by value: cpu0, cpu1, ..., cpu10, disk0, dma0
  // (pids are in order of first use).
  std::vector<bool> used_track(tracks_.size()), used_process(processes_.size());
  for (const Event* e : kept) {
    used_track[e->track] = true;
    used_process[tracks_[e->track].pid - 1] = true;
  }
  std::vector<size_t> order;
  for (size_t p = 0; p < processes_.size(); ++p)
    if (used_process[p]) order.push_back(p);
  const auto split = [this](size_t p) {
    const std::string& n = processes_[p];
    size_t digits = n.size();
    while (digits > 0 && n[digits - 1] >= '0' && n[digits - 1] <= '9') --digits;
    return std::make_pair(n.substr(0, digits), n.substr(digits).size() < 19 && digits < n.size()
                                                   ? std::stoull(n.substr(digits)) : 0ull);
  };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return split(a) < split(b); });
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const uint32_t pid = static_cast<uint32_t>(order[rank]) + 1;
    emit(metadata(pid, 0, "process_name", "name", quoted(processes_[order[rank]])));
    emit(metadata(pid, 0, "process_sort_index", "sort_index", std::to_string(rank + 1)));
  }
  for (TrackId i = 0; i < tracks_.size(); ++i) {
    if (!used_track[i]) continue;
    const Track& t = tracks_[i];
    emit(metadata(t.pid, t.tid, "thread_name", "name", quoted(t.thread)));
    emit(metadata(t.pid, t.tid, "thread_sort_index", "sort_index", std::to_string(t.tid)));
  }
  std::string line;
  for (const Event* e : kept) {
    const Track& t = tracks_[e->track];
    line = fmt::format("{{\"ph\":\"{}\",\"pid\":{},\"tid\":{},\"ts\":{},\"cat\":{},\"name\":{}", e->ph, t.pid, t.tid,
                       micros(e->ts_ps), quoted(e->cat), quoted(e->name));
    if (e->ph == 'X') line += ",\"dur\":" + micros(e->dur_ps);
    if (e->ph == 'i') line += ",\"s\":\"t\"";
    append_args(line, e->args, e->nargs);
    line += '}';
    emit(line);
  }
  out << "\n]}\n";
}

std::string enable(Sink& sink, const std::string& list) {
  return debug::for_each_named(list, [&sink](debug::Flag& f) { f.trace = &sink; });
}

void disable_all() {
  for (debug::Flag* f : debug::all_flags()) f->trace = nullptr;
}

}  // namespace sim::trace
