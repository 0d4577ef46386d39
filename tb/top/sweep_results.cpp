// Collecting a sweep's results (sweep.h): one row per point, from its
// result.json (status, error, host time) and its stats.json (the
// statistics the sweep names), into DIR/results.csv and DIR/results.json.
#include <fnmatch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tb/top/sweep.h"

namespace sim {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

// stats.json flattened to stats.txt's names in file order. A distribution's
// fields ("::mean") cannot be told from a group's in the JSON tree; they
// read "name.mean".
void flatten(const json& j, const std::string& prefix, std::vector<std::pair<std::string, json>>& out) {
  if (!j.is_object()) {
    out.emplace_back(prefix, j);
    return;
  }
  for (const auto& item : j.items()) flatten(item.value(), prefix.empty() ? item.key() : prefix + "." + item.key(), out);
}

std::string normalise(std::string name) {
  for (size_t at; (at = name.find("::")) != std::string::npos;) name.replace(at, 2, ".");
  return name;
}

bool is_glob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (const char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string value_text(const json& v) {
  if (v.is_null()) return "nan";
  if (v.is_string()) return v.get<std::string>();
  // A formula's whole-number value (a sum of counters) is a real in
  // stats.json: written as stats.txt writes it, 261632 rather than 261632.0.
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d == std::floor(d) && std::fabs(d) < 9007199254740992.0) return fmt::format("{:.0f}", d);
  }
  return v.dump();
}

struct Row {
  PointResult result;
  std::vector<std::pair<std::string, json>> stats;  // flattened stats.json; empty when absent
};

// The statistic columns: each requested name, a glob expanded to the names
// it matches in the points' statistics (first seen first).
std::vector<std::string> stat_columns(const Sweep& s, const std::vector<Row>& rows, std::ostream& err, bool& bad) {
  std::vector<std::string> cols;
  for (size_t k = 0; k < s.stats.size(); ++k) {
    const std::string want = normalise(s.stats[k]);
    bool any_stats = false, found = false;
    for (const Row& r : rows) {
      any_stats |= !r.stats.empty();
      for (const auto& [name, v] : r.stats) {
        const bool match = is_glob(want) ? fnmatch(want.c_str(), name.c_str(), 0) == 0 : name == want;
        if (!match) continue;
        found = true;
        const std::string col = is_glob(want) ? name : s.stats[k];
        if (std::find(cols.begin(), cols.end(), col) == cols.end()) cols.push_back(col);
        if (!is_glob(want)) break;
      }
    }
    if (!found && !is_glob(want)) cols.push_back(s.stats[k]);
    if (!found && any_stats) {
      err << fmt::format("mmcosim: {}: '{}' is not a statistic of any point (their stats.txt lists them)\n",
                         k < s.stat_where.size() ? s.stat_where[k] : s.file, s.stats[k]);
      bad = true;
    }
  }
  return cols;
}

const json* find_stat(const Row& r, const std::string& col) {
  const std::string want = normalise(col);
  for (const auto& [name, v] : r.stats)
    if (name == want) return &v;
  return nullptr;
}

}  // namespace

CollectOutcome collect(const Sweep& s, const std::string& outdir, std::ostream& err) {
  std::vector<Row> rows(s.points.size());
  size_t unsuccessful = 0;
  for (size_t i = 0; i < s.points.size(); ++i) {
    rows[i].result = read_point_result(s, i, outdir);
    if (!rows[i].result.finished || rows[i].result.status != 0) ++unsuccessful;
    std::ifstream in(fs::path(outdir) / s.points[i].name / "stats.json");
    if (!rows[i].result.finished || !in) continue;
    try {
      flatten(json::parse(in), "", rows[i].stats);
    } catch (const nlohmann::json::exception&) {
      rows[i].stats.clear();
    }
  }
  bool bad = false;
  const std::vector<std::string> cols = stat_columns(s, rows, err, bad);

  std::string csv = "point";
  for (const std::string& c : s.columns) csv += "," + csv_field(c);
  csv += ",rep,seed,status,error";
  for (const std::string& c : cols) csv += "," + csv_field(c);
  csv += ",host_seconds\n";
  json all = json::array();
  for (size_t i = 0; i < s.points.size(); ++i) {
    const SweepPoint& p = s.points[i];
    const Row& r = rows[i];
    json row = {{"point", p.name}};
    csv += csv_field(p.name);
    for (const auto& [k, v] : p.columns) {
      csv += "," + csv_field(v);
      row[k] = v;
    }
    const std::string status = r.result.finished ? std::to_string(r.result.status) : "";
    const std::string error = r.result.finished ? r.result.error : "no result (not run, or still running)";
    csv += fmt::format(",{},{},{},{}", p.rep, p.seed, status, csv_field(error));
    row["rep"] = p.rep;
    row["seed"] = p.seed;
    row["status"] = r.result.finished ? json(r.result.status) : json(nullptr);
    row["error"] = error;
    json stats = json::object();
    for (const std::string& c : cols) {
      const json* v = find_stat(r, c);
      csv += "," + (v ? csv_field(value_text(*v)) : std::string());
      stats[c] = v ? *v : json(nullptr);
    }
    row["stats"] = stats;
    csv += r.result.finished ? fmt::format(",{:.3f}\n", r.result.host_seconds) : ",\n";
    row["host_seconds"] = r.result.finished ? json(r.result.host_seconds) : json(nullptr);
    all.push_back(row);
  }
  std::ofstream(fs::path(outdir) / "results.csv") << csv;
  std::ofstream(fs::path(outdir) / "results.json") << all.dump(1) << '\n';
  return CollectOutcome{unsuccessful, bad};
}

}  // namespace sim
