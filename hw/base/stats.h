// Statistics in gem5's style: models own a stats::Group whose members are
// named statistics; the tree is dumped at the end of a run as stats.txt
// (gem5 format: `name value # description (unit)`) and stats.json.
//
// Only simulated quantities go here: a run repeated with the same seed,
// scenario and binary must dump byte-identical files. Host timings belong to
// the run summary that `mmcosim run` prints (tb/top), never to this tree.
// Naming (names in camelCase, gem5's units): docs/statistics.md.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace sim::stats {

class Group;

// Receives the values of a dump in order.
class Emitter {
 public:
  virtual ~Emitter() = default;
  virtual void integer(const std::string& name, uint64_t value, const std::string& desc,
                       const std::string& unit) = 0;
  virtual void real(const std::string& name, double value, const std::string& desc,
                    const std::string& unit) = 0;
};

class Stat {
 public:
  Stat(Group* parent, std::string name, std::string desc, std::string unit);
  virtual ~Stat() = default;
  Stat(const Stat&) = delete;
  Stat& operator=(const Stat&) = delete;

  const std::string& name() const { return name_; }
  const std::string& desc() const { return desc_; }
  const std::string& unit() const { return unit_; }
  virtual void emit(Emitter& out, const std::string& path) const = 0;
  virtual void reset() {}

 private:
  std::string name_, desc_, unit_;
};

// A counter. Hot paths use it directly: incrementing is one add.
class Scalar final : public Stat {
 public:
  using Stat::Stat;
  Scalar& operator++() { ++value_; return *this; }
  Scalar& operator+=(uint64_t v) { value_ += v; return *this; }
  Scalar& operator-=(uint64_t v) { value_ -= v; return *this; }
  void set(uint64_t v) { value_ = v; }
  uint64_t value() const { return value_; }
  // Reads as its value: a model's own counters compare and subtract as
  // plain integers (tests: EXPECT_EQ(walker.stats.walks, 2u)).
  operator uint64_t() const { return value_; }
  void emit(Emitter& out, const std::string& path) const override;
  void reset() override { value_ = 0; }

 private:
  uint64_t value_ = 0;
};

// A value computed at dump time from other values.
class Formula final : public Stat {
 public:
  Formula(Group* parent, std::string name, std::string desc, std::string unit,
          std::function<double()> fn);
  double value() const { return fn_(); }
  void emit(Emitter& out, const std::string& path) const override;

 private:
  std::function<double()> fn_;
};

// An integer value read at dump time (a gauge owned by someone else).
class Gauge final : public Stat {
 public:
  Gauge(Group* parent, std::string name, std::string desc, std::string unit,
        std::function<uint64_t()> fn);
  uint64_t value() const { return fn_(); }
  void emit(Emitter& out, const std::string& path) const override;

 private:
  std::function<uint64_t()> fn_;
};

// Samples in linear buckets [min, min + bucket_size * buckets), with
// underflow/overflow, count, mean, min and max, as gem5's Distribution.
class Distribution final : public Stat {
 public:
  Distribution(Group* parent, std::string name, std::string desc, std::string unit,
               uint64_t min, uint64_t bucket_size, unsigned buckets);
  void sample(uint64_t v, uint64_t n = 1);
  uint64_t samples() const { return samples_; }
  double mean() const { return samples_ ? static_cast<double>(sum_) / samples_ : 0.0; }
  uint64_t min_value() const { return min_seen_; }
  uint64_t max_value() const { return max_seen_; }
  void emit(Emitter& out, const std::string& path) const override;
  void reset() override;

 private:
  uint64_t min_, bucket_size_;
  std::vector<uint64_t> buckets_;
  uint64_t underflow_ = 0, overflow_ = 0, samples_ = 0, sum_ = 0;
  uint64_t min_seen_ = UINT64_MAX, max_seen_ = 0;
};

// Emits a list of values that only exist at dump time (e.g. the firmware's
// counters, which it reports through a visitor).
class Dynamic final : public Stat {
 public:
  using Producer = std::function<void(Emitter& out, const std::string& path)>;
  Dynamic(Group* parent, std::string name, Producer fn);
  void emit(Emitter& out, const std::string& path) const override { fn_(out, path); }

 private:
  Producer fn_;
};

class Group {
 public:
  // A root group has no parent and usually the name "system".
  Group(Group* parent, std::string name);
  virtual ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  const std::string& name() const { return name_; }
  std::string path() const;
  Group* parent() const { return parent_; }

  // Dumps this group and its children in registration order.
  void emit(Emitter& out) const;
  void reset();

  const std::vector<Stat*>& stats() const { return stats_; }
  const std::vector<Group*>& children() const { return children_; }
  // Finds a stat by a path relative to this group ("mmu.dtlb.hits").
  const Stat* find(const std::string& rel_path) const;

 private:
  friend class Stat;
  void add_stat(Stat* s) { stats_.push_back(s); }
  Group* parent_;
  std::string name_;
  std::vector<Stat*> stats_;
  std::vector<Group*> children_;
};

// Writers of the two output formats.
void write_text(const Group& root, const std::string& file, double sim_seconds);
void write_json(const Group& root, const std::string& file, double sim_seconds);
// One gem5 block (`---------- Begin Simulation Statistics ----------` ...
// `End`) on a stream: write_text writes one, periodic dumps (mmcosim run
// --stats-period) repeat them as gem5's periodic dumps do.
void write_text_block(const Group& root, std::ostream& os, double sim_seconds);
// Every value as `time,name,value` rows (stats-timeseries.csv), time in
// simulated seconds.
void write_series_rows(const Group& root, std::ostream& os, double sim_seconds);

}  // namespace sim::stats
