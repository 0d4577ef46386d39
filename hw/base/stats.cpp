#include "hw/base/stats.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sim::stats {

Stat::Stat(Group* parent, std::string name, std::string desc, std::string unit)
    : name_(std::move(name)), desc_(std::move(desc)), unit_(std::move(unit)) {
  if (parent) parent->add_stat(this);
}

void Scalar::emit(Emitter& out, const std::string& path) const {
  out.integer(path + name(), value_, desc(), unit());
}

Formula::Formula(Group* parent, std::string name, std::string desc, std::string unit,
                 std::function<double()> fn)
    : Stat(parent, std::move(name), std::move(desc), std::move(unit)), fn_(std::move(fn)) {}

void Formula::emit(Emitter& out, const std::string& path) const {
  out.real(path + name(), fn_(), desc(), unit());
}

Gauge::Gauge(Group* parent, std::string name, std::string desc, std::string unit,
             std::function<uint64_t()> fn)
    : Stat(parent, std::move(name), std::move(desc), std::move(unit)), fn_(std::move(fn)) {}

void Gauge::emit(Emitter& out, const std::string& path) const {
  out.integer(path + name(), fn_(), desc(), unit());
}

Distribution::Distribution(Group* parent, std::string name, std::string desc, std::string unit,
                           uint64_t min, uint64_t bucket_size, unsigned buckets)
    : Stat(parent, std::move(name), std::move(desc), std::move(unit)),
      min_(min), bucket_size_(bucket_size ? bucket_size : 1), buckets_(buckets ? buckets : 1) {}

void Distribution::sample(uint64_t v, uint64_t n) {
  samples_ += n;
  sum_ += v * n;
  min_seen_ = std::min(min_seen_, v);
  max_seen_ = std::max(max_seen_, v);
  if (v < min_) {
    underflow_ += n;
    return;
  }
  const uint64_t idx = (v - min_) / bucket_size_;
  if (idx >= buckets_.size()) overflow_ += n;
  else buckets_[idx] += n;
}

void Distribution::reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  underflow_ = overflow_ = samples_ = sum_ = 0;
  min_seen_ = UINT64_MAX;
  max_seen_ = 0;
}

void Distribution::emit(Emitter& out, const std::string& path) const {
  const std::string base = path + name();
  out.integer(base + "::samples", samples_, desc() + ": samples", "Count");
  out.real(base + "::mean", mean(), desc() + ": mean", unit());
  out.integer(base + "::min", samples_ ? min_seen_ : 0, desc() + ": smallest sample", unit());
  out.integer(base + "::max", max_seen_, desc() + ": largest sample", unit());
  out.integer(base + "::underflows", underflow_, desc() + ": samples below the first bucket", "Count");
  for (size_t i = 0; i < buckets_.size(); ++i) {
    const uint64_t lo = min_ + i * bucket_size_;
    const uint64_t hi = lo + bucket_size_ - 1;
    out.integer(fmt::format("{}::{}-{}", base, lo, hi), buckets_[i], desc(), "Count");
  }
  out.integer(base + "::overflows", overflow_, desc() + ": samples above the last bucket", "Count");
}

Dynamic::Dynamic(Group* parent, std::string name, Producer fn)
    : Stat(parent, std::move(name), "", ""), fn_(std::move(fn)) {}

Group::Group(Group* parent, std::string name) : parent_(parent), name_(std::move(name)) {
  if (parent_) parent_->children_.push_back(this);
}

Group::~Group() {
  if (parent_) {
    auto& c = parent_->children_;
    c.erase(std::remove(c.begin(), c.end(), this), c.end());
  }
  for (Group* child : children_) child->parent_ = nullptr;
}

std::string Group::path() const {
  return parent_ ? parent_->path() + "." + name_ : name_;
}

void Group::emit(Emitter& out) const {
  const std::string prefix = path() + ".";
  for (const Stat* s : stats_) s->emit(out, prefix);
  for (const Group* g : children_) g->emit(out);
}

void Group::reset() {
  for (Stat* s : stats_) s->reset();
  for (Group* g : children_) g->reset();
}

const Stat* Group::find(const std::string& rel_path) const {
  const auto dot = rel_path.find('.');
  if (dot == std::string::npos) {
    for (const Stat* s : stats_)
      if (s->name() == rel_path) return s;
    return nullptr;
  }
  const std::string head = rel_path.substr(0, dot);
  for (const Group* g : children_)
    if (g->name() == head) return g->find(rel_path.substr(dot + 1));
  return nullptr;
}

namespace {

std::string format_real(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Whole numbers (a sum of counters, say) read best without decimals.
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) return fmt::format("{:.0f}", v);
  return fmt::format("{:.6f}", v);
}

class TextEmitter final : public Emitter {
 public:
  explicit TextEmitter(std::ostream& os) : os_(os) {}
  void integer(const std::string& name, uint64_t value, const std::string& desc,
               const std::string& unit) override {
    line(name, std::to_string(value), desc, unit);
  }
  void real(const std::string& name, double value, const std::string& desc,
            const std::string& unit) override {
    line(name, format_real(value), desc, unit);
  }

 private:
  void line(const std::string& name, const std::string& value, const std::string& desc,
            const std::string& unit) {
    os_ << fmt::format("{:<56} {:>20}", name, value);
    os_ << "  # " << desc;
    if (!unit.empty()) os_ << " (" << unit << ")";
    os_ << '\n';
  }
  std::ostream& os_;
};

class JsonEmitter final : public Emitter {
 public:
  nlohmann::ordered_json root = nlohmann::ordered_json::object();
  void integer(const std::string& name, uint64_t value, const std::string&,
               const std::string&) override {
    slot(name) = value;
  }
  void real(const std::string& name, double value, const std::string&,
            const std::string&) override {
    if (std::isfinite(value)) slot(name) = value;
    else slot(name) = nullptr;
  }

 private:
  // "a.b.c::mean" -> root["a"]["b"]["c"]["mean"]
  nlohmann::ordered_json& slot(const std::string& name) {
    nlohmann::ordered_json* node = &root;
    size_t start = 0;
    while (true) {
      size_t dot = name.find('.', start);
      const size_t sep = name.find("::", start);
      if (sep != std::string::npos && (dot == std::string::npos || sep < dot)) dot = sep;
      const std::string part = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (!node->is_object()) *node = nlohmann::ordered_json::object();
      node = &(*node)[part];
      if (dot == std::string::npos) return *node;
      start = dot + (name.compare(dot, 2, "::") == 0 ? 2 : 1);
    }
  }
};

std::ofstream open_out(const std::string& file) {
  std::ofstream os(file);
  if (!os) throw std::runtime_error(fmt::format("{}: cannot write", file));
  return os;
}

}  // namespace

void write_text_block(const Group& root, std::ostream& os, double sim_seconds) {
  TextEmitter out(os);
  os << "\n---------- Begin Simulation Statistics ----------\n";
  out.real("simSeconds", sim_seconds, "Number of seconds simulated", "Second");
  root.emit(out);
  os << "\n---------- End Simulation Statistics   ----------\n";
}

void write_text(const Group& root, const std::string& file, double sim_seconds) {
  std::ofstream os = open_out(file);
  write_text_block(root, os, sim_seconds);
}

namespace {

// time,name,value rows; values formatted as stats.txt formats them.
class SeriesEmitter final : public Emitter {
 public:
  SeriesEmitter(std::ostream& os, double time) : os_(os), time_(fmt::format("{:.12g}", time)) {}
  void integer(const std::string& name, uint64_t value, const std::string&, const std::string&) override {
    os_ << time_ << ',' << name << ',' << value << '\n';
  }
  void real(const std::string& name, double value, const std::string&, const std::string&) override {
    os_ << time_ << ',' << name << ',' << format_real(value) << '\n';
  }

 private:
  std::ostream& os_;
  std::string time_;
};

}  // namespace

void write_series_rows(const Group& root, std::ostream& os, double sim_seconds) {
  SeriesEmitter out(os, sim_seconds);
  out.real("simSeconds", sim_seconds, "", "");
  root.emit(out);
}

void write_json(const Group& root, const std::string& file, double sim_seconds) {
  std::ofstream os = open_out(file);
  JsonEmitter out;
  out.real("simSeconds", sim_seconds, "", "");
  root.emit(out);
  os << out.root.dump(1) << '\n';
}

}  // namespace sim::stats
