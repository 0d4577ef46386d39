// The sweep file and its expansion into points (sweep.h); DIR/sweep.json.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hw/base/config.h"
#include "tb/top/sweep.h"

namespace sim {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

constexpr size_t kMaxPoints = 100000;

// One value of an axis: a label per column and the assignments it makes.
struct AxisValue {
  std::vector<std::string> labels;
  std::vector<SweepSource> sets;
};

struct Axis {
  std::vector<std::string> columns;
  std::vector<AxisValue> values;
};

std::string where_of(const ConfigNode& n, const std::string& key) {
  return fmt::format("{}: {}{}{}", n.where(), n.path(), n.path().empty() ? "" : ".", key);
}

// `range: {from: 1GiB, to: 8GiB, times: 2}` or `{from: 0, to: 100, step: 25}`:
// the values from `from` up to `to` inclusive. Sizes keep their unit style.
std::vector<std::string> expand_range(ConfigNode r) {
  const std::string from_text = r.require<std::string>("from", "First value");
  const std::string to_text = r.require<std::string>("to", "Last value (included when the steps reach it)");
  uint64_t from = 0, to = 0, step = 0, times = 0;
  if (!parse_size(from_text, from)) r.fail("from", fmt::format("expected an integer or a size, got '{}'", from_text));
  if (!parse_size(to_text, to)) r.fail("to", fmt::format("expected an integer or a size, got '{}'", to_text));
  const bool has_step = r.has("step"), has_times = r.has("times");
  if (has_step == has_times) r.fail("", "a range needs one of step (added) or times (multiplied)");
  if (has_step && (!parse_size(r.get<std::string>("step", "", "Added at each step"), step) || step == 0))
    r.fail("step", "expected a positive integer or size");
  if (has_times && (times = r.get<uint64_t>("times", 0, "Multiplied at each step")) < 2)
    r.fail("times", "must be at least 2");
  if (to < from) r.fail("to", "must not be below from");
  const bool sized = from_text.find_first_not_of("0123456789_ ") != std::string::npos;
  std::vector<std::string> out;
  for (uint64_t v = from; v <= to; v = has_step ? v + step : v * times) {
    out.push_back(sized ? format_size(v) : std::to_string(v));
    if (out.size() > kMaxPoints) r.fail("", "too many values");
    if (has_times && v == 0) r.fail("from", "a multiplied range cannot start at 0");
    if ((has_step && v > UINT64_MAX - step) || (has_times && v > UINT64_MAX / times)) break;
  }
  return out;
}

// The values of one key: `values: [...]` or `range: {...}`.
std::vector<std::string> key_values(ConfigNode n) {
  if (n.has("values") == n.has("range")) n.fail("", "an axis gives its values as one of values (a list) or range");
  std::vector<std::string> v = n.has("values") ? n.get<std::vector<std::string>>("values", {}, "Values of the key")
                                               : expand_range(n.child("range"));
  if (v.empty()) n.fail("values", "an axis needs at least one value");
  return v;
}

// `key: K` with `values`/`range`, and an optional column `name`.
Axis key_axis(ConfigNode n) {
  Axis a;
  const std::string key = n.require<std::string>("key", "The scenario key this axis varies (as for --set)");
  a.columns.push_back(n.get<std::string>("name", key, "Its column in the results (default: the key)"));
  const std::string where = where_of(n, n.has("values") ? "values" : "range");
  for (const std::string& v : key_values(n)) a.values.push_back({{v}, {{key + "=" + v, where}}});
  return a;
}

// `zip: [{key, values}, ...]`: keys that vary together, one column each.
Axis zip_axis(ConfigNode n) {
  Axis a;
  for (ConfigNode& z : n.list("zip", "Keys varied together (equal numbers of values)")) {
    const Axis one = key_axis(z);
    if (!a.values.empty() && one.values.size() != a.values.size())
      z.fail("", fmt::format("has {} values, the keys before it {}: zipped keys need as many", one.values.size(),
                             a.values.size()));
    a.columns.push_back(one.columns[0]);
    if (a.values.empty()) a.values.resize(one.values.size());
    for (size_t i = 0; i < one.values.size(); ++i) {
      a.values[i].labels.push_back(one.values[i].labels[0]);
      a.values[i].sets.push_back(one.values[i].sets[0]);
    }
  }
  if (a.values.empty()) n.fail("zip", "needs at least one key");
  return a;
}

// `name: N` with `variants: [{label, set: {key: value, ...}}, ...]`.
Axis variant_axis(ConfigNode n) {
  Axis a;
  a.columns.push_back(n.require<std::string>("name", "Its column in the results"));
  for (ConfigNode& v : n.list("variants", "Labelled settings of several keys")) {
    AxisValue val;
    val.labels.push_back(v.require<std::string>("label", "This variant's value in the results"));
    ConfigNode set = v.child("set");
    for (const std::string& k : set.keys())
      val.sets.push_back({k + "=" + set.get<std::string>(k, "", "A scenario key this variant sets"), where_of(set, k)});
    a.values.push_back(std::move(val));
  }
  if (a.values.empty()) n.fail("variants", "needs at least one variant");
  return a;
}

std::vector<Axis> read_axes(ConfigNode root) {
  std::vector<Axis> axes;
  for (ConfigNode& n : root.list("axes", "What varies: each axis a key with values, zipped keys, or variants")) {
    const int forms = int(n.has("key")) + int(n.has("zip")) + int(n.has("variants"));
    if (forms != 1) n.fail("", "an axis has one of key (with values or range), zip or variants");
    axes.push_back(n.has("key") ? key_axis(n) : n.has("zip") ? zip_axis(n) : variant_axis(n));
  }
  return axes;
}

std::string sanitize(const std::string& v) {
  std::string out;
  for (const char c : v) out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' ? c : '_';
  return out.substr(0, 40);
}

// splitmix64: repetition r > 0 of a point runs with this seed.
uint64_t derive_seed(uint64_t base, unsigned rep) {
  if (rep == 0) return base;
  uint64_t z = base + 0x9e3779b97f4a7c15ull * rep;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (z ^ (z >> 31)) >> 1;  // below 2^63: any parser reads it back
}

// Every combination (crossed: the first axis varies slowest; zipped: the
// i-th values together), each repeated `reps` times.
void expand(Sweep& s, const std::vector<Axis>& axes, bool zipped, unsigned reps, uint64_t base_seed,
            const std::vector<SweepSource>& fixed, ConfigNode root) {
  size_t combos = axes.empty() ? 1 : (zipped ? axes[0].values.size() : 1);
  for (const Axis& a : axes) {
    if (zipped && a.values.size() != combos) root.fail("combine", "zipped axes need equal numbers of values");
    if (!zipped) combos *= a.values.size();
    if (combos * reps > kMaxPoints) root.fail("axes", fmt::format("more than {} points", kMaxPoints));
  }
  for (size_t c = 0; c < combos; ++c) {
    SweepPoint base;
    for (const SweepSource& f : fixed) base.sets.push_back(f.assignment);
    std::string suffix;
    size_t rest = c;
    for (size_t ai = 0; ai < axes.size(); ++ai) {
      size_t stride = 1;
      for (size_t k = ai + 1; !zipped && k < axes.size(); ++k) stride *= axes[k].values.size();
      const AxisValue& v = axes[ai].values[zipped ? c : rest / stride];
      if (!zipped) rest %= stride;
      for (size_t k = 0; k < v.labels.size(); ++k) {
        base.columns.emplace_back(axes[ai].columns[k], v.labels[k]);
        suffix += "-" + sanitize(v.labels[k]);
      }
      for (const SweepSource& src : v.sets) base.sets.push_back(src.assignment);
    }
    for (unsigned r = 0; r < reps; ++r) {
      SweepPoint p = base;
      p.rep = r;
      p.seed = derive_seed(base_seed, r);
      p.name = fmt::format("{:04}{}{}", s.points.size(), suffix, reps > 1 ? fmt::format("-r{}", r) : "");
      s.points.push_back(std::move(p));
    }
  }
}

// The base scenario, resolved against the sweep file's folder; its seed.
uint64_t read_scenario(Sweep& s, ConfigNode root, const std::string& file) {
  if (!root.has("scenario")) return 1;
  const std::string text = root.get<std::string>("scenario", "", "Base scenario, relative to this file (default: the built-in one)");
  fs::path p(text);
  if (p.is_relative()) p = fs::path(file).parent_path() / p;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) root.fail("scenario", fmt::format("{}: no such scenario file", p.string()));
  s.scenario = fs::absolute(p).lexically_normal().string();
  Config scenario = Config::load_file(s.scenario);
  return scenario.root().get<uint64_t>("seed", 1, "");
}

}  // namespace

Sweep load_sweep(const std::string& file) {
  Config cfg = Config::load_file(file);
  ConfigNode root = cfg.root();
  Sweep s;
  s.file = file;
  const uint64_t scenario_seed = read_scenario(s, root, file);
  const uint64_t seed = root.get<uint64_t>("seed", scenario_seed, "Base seed (default: the scenario's)");
  const unsigned reps = root.get<unsigned>("repetitions", 1, "Runs of every point, each with its own seed");
  if (reps == 0 || reps > 10000) root.fail("repetitions", "must be between 1 and 10000");
  std::vector<SweepSource> fixed;
  ConfigNode set = root.child("set");
  for (const std::string& k : set.keys())
    fixed.push_back({k + "=" + set.get<std::string>(k, "", "A scenario key every point sets"), where_of(set, k)});
  const std::vector<Axis> axes = read_axes(root);
  const bool zipped = root.get_enum("combine", "cross", {"cross", "zip"}, "Axes crossed (every combination) or zipped") == "zip";
  s.stats = root.get<std::vector<std::string>>("stats", {}, "Statistics to collect, by their stats.txt names (* matches any text)");
  for (size_t i = 0; i < s.stats.size(); ++i) s.stat_where.push_back(fmt::format("{}: stats[{}]", root.where("stats", i), i));
  cfg.check_unused();
  for (const Axis& a : axes)
    for (const std::string& c : a.columns) s.columns.push_back(c);
  s.sources = fixed;
  for (const Axis& a : axes)
    for (const AxisValue& v : a.values) s.sources.insert(s.sources.end(), v.sets.begin(), v.sets.end());
  expand(s, axes, zipped, reps, seed, fixed, root);
  return s;
}

void save_sweep(const Sweep& s, const std::string& outdir) {
  json j;
  j["file"] = s.file;
  j["scenario"] = s.scenario;
  j["columns"] = s.columns;
  j["stats"] = s.stats;
  j["stat_where"] = s.stat_where;
  json points = json::array();
  for (const SweepPoint& p : s.points) {
    json cols = json::array();
    for (const auto& [k, v] : p.columns) cols.push_back(json::array({k, v}));
    points.push_back({{"name", p.name}, {"columns", cols}, {"sets", p.sets}, {"rep", p.rep}, {"seed", p.seed}});
  }
  j["points"] = points;
  json sources = json::array();
  for (const SweepSource& src : s.sources) sources.push_back(json::array({src.assignment, src.where}));
  j["sources"] = sources;
  const fs::path path = fs::path(outdir) / "sweep.json";
  const fs::path tmp = fs::path(outdir) / "sweep.json.tmp";
  {
    std::ofstream os(tmp);
    os << j.dump(1) << '\n';
    if (!os) throw std::runtime_error(fmt::format("{}: cannot write", tmp.string()));
  }
  fs::rename(tmp, path);
}

Sweep read_saved_sweep(const std::string& outdir) {
  const fs::path path = fs::path(outdir) / "sweep.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read (not a sweep's output directory?)", path.string()));
  json j;
  try {
    j = json::parse(in);
    Sweep s;
    s.file = j.at("file").get<std::string>();
    s.scenario = j.at("scenario").get<std::string>();
    s.columns = j.at("columns").get<std::vector<std::string>>();
    s.stats = j.at("stats").get<std::vector<std::string>>();
    s.stat_where = j.at("stat_where").get<std::vector<std::string>>();
    for (const json& p : j.at("points")) {
      SweepPoint pt;
      pt.name = p.at("name").get<std::string>();
      for (const json& c : p.at("columns")) pt.columns.emplace_back(c.at(0).get<std::string>(), c.at(1).get<std::string>());
      pt.sets = p.at("sets").get<std::vector<std::string>>();
      pt.rep = p.at("rep").get<unsigned>();
      pt.seed = p.at("seed").get<uint64_t>();
      s.points.push_back(std::move(pt));
    }
    for (const json& src : j.at("sources")) s.sources.push_back({src.at(0).get<std::string>(), src.at(1).get<std::string>()});
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("{}: not a sweep description ({})", path.string(), e.what()));
  }
}

std::vector<std::string> point_args(const Sweep& s, const SweepPoint& p, const std::string& outdir) {
  std::vector<std::string> args{"run"};
  if (!s.scenario.empty()) args.push_back(s.scenario);
  args.insert(args.end(), {"--outdir", (fs::path(outdir) / p.name).string(), "-q", "--no-progress"});
  for (const std::string& set : p.sets) args.insert(args.end(), {"--set", set});
  args.insert(args.end(), {"--set", fmt::format("seed={}", p.seed)});
  return args;
}

}  // namespace sim
