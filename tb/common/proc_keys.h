// The key sets of Linux 6.18's /proc/vmstat, /proc/zoneinfo and
// /proc/meminfo, and the check that a proc file prints its keys in 6.18's
// order, only keys 6.18 prints, and at least a share of them. The key sets
// are tb/ref/linux-6.18-proc/keys/*.keys: the keys of the files captured
// from a real 6.18 kernel (tb/ref/linux-6.18-proc/{vmstat,zoneinfo,meminfo})
// plus the keys of the configuration options that kernel lacked and the
// firmware models (kConfigKeys). Used by tb/system/proc_format_test.cpp and
// the firmware's host tests; the oracle passes on the real kernel's files.
#pragma once

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace tb::proc_keys {

enum class File { vmstat, zoneinfo, meminfo };

inline const char* file_name(File f) { return f == File::vmstat ? "vmstat" : f == File::zoneinfo ? "zoneinfo" : "meminfo"; }

// The key of one line: vmstat's name; meminfo's label (without the colon);
// zoneinfo's label with its colon where it has one ("count:", "protection:",
// "cpu:"), else the words before the value ("pages free", "nr_free_pages"),
// "Node" for a zone's heading. Empty for lines without a key.
inline std::string line_key(File f, const std::string& raw) {
  const size_t b = raw.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  std::string line = raw.substr(b);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  if (f == File::vmstat) return line.substr(0, line.find(' '));
  if (f == File::meminfo) return line.substr(0, line.find(':'));
  if (line.rfind("Node ", 0) == 0) return "Node";
  if (line == "per-node stats" || line == "pagesets") return line;
  const size_t colon = line.find(':');
  if (colon != std::string::npos) return line.substr(0, colon + 1);
  const size_t sp = line.find_last_of(' ');
  return sp == std::string::npos ? line : line.substr(0, line.find_last_not_of(' ', sp) + 1);
}

inline std::vector<std::string> keys_of(File f, const std::string& text) {
  std::vector<std::string> keys;
  std::istringstream is(text);
  for (std::string line; std::getline(is, line);) {
    std::string k = line_key(f, line);
    if (!k.empty()) keys.push_back(k);
  }
  return keys;
}

// Each key once, in the order of its first appearance.
inline std::vector<std::string> first_appearance(const std::vector<std::string>& keys) {
  std::vector<std::string> out;
  for (const std::string& k : keys)
    if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
  return out;
}

// Keys 6.18 prints with options the reference kernel was built without
// (CONFIG_CMA, CONFIG_MEMORY_FAILURE), each placed after the key 6.18's
// source prints before it (mm/vmstat.c vmstat_text[], fs/proc/meminfo.c).
struct ConfigKey {
  File file;
  const char* key;
  const char* after;
};
inline const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> k = {
      {File::vmstat, "cma_alloc_success", "htlb_buddy_alloc_fail"},
      {File::vmstat, "cma_alloc_fail", "cma_alloc_success"},
      {File::meminfo, "HardwareCorrupted", "Percpu"},
      {File::meminfo, "CmaTotal", "FilePmdMapped"},
      {File::meminfo, "CmaFree", "CmaTotal"},
  };
  return k;
}

// The 6.18 key set of a file from the real kernel's capture: its keys in
// first-appearance order with the configuration keys added.
inline std::vector<std::string> reference_keys(File f, const std::string& captured) {
  std::vector<std::string> keys = first_appearance(keys_of(f, captured));
  for (const ConfigKey& c : config_keys()) {
    if (c.file != f || std::find(keys.begin(), keys.end(), c.key) != keys.end()) continue;
    auto at = std::find(keys.begin(), keys.end(), c.after);
    keys.insert(at == keys.end() ? at : at + 1, c.key);
  }
  return keys;
}

inline std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A .keys file: one key per line; lines starting with '#' are comments.
inline std::vector<std::string> read_keys(const std::string& path) {
  std::vector<std::string> keys;
  std::istringstream is(read_text(path));
  for (std::string line; std::getline(is, line);)
    if (!line.empty() && line[0] != '#') keys.push_back(line);
  return keys;
}

struct Verdict {
  std::string error;      // the first problem, empty when the order is 6.18's and every key known
  double coverage = 0;    // share of the key set the file prints
};

// Checks a proc file against a key set: every key known, keys in the set's
// order (zoneinfo: within each zone, and only the per-CPU block may
// repeat), and the share of the set printed.
inline Verdict check(File f, const std::string& text, const std::vector<std::string>& set) {
  Verdict v;
  auto index = [&](const std::string& k) {
    auto it = std::find(set.begin(), set.end(), k);
    return it == set.end() ? -1 : static_cast<int>(it - set.begin());
  };
  const std::vector<std::string> keys = keys_of(f, text);
  int prev = -1;
  std::string prev_key;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& k = keys[i];
    const int idx = index(k);
    if (idx < 0) {
      if (v.error.empty()) v.error = "line " + std::to_string(i + 1) + ": key '" + k + "' is not printed by 6.18";
      continue;
    }
    const bool new_zone = f == File::zoneinfo && k == "Node";
    const bool next_cpu = f == File::zoneinfo && k == "cpu:" && prev_key == "vm stats threshold:";
    if (idx <= prev && !new_zone && !next_cpu && v.error.empty())
      v.error = "line " + std::to_string(i + 1) + ": key '" + k + "' after '" + prev_key + "' is out of 6.18's order";
    prev = idx;
    prev_key = k;
  }
  const std::vector<std::string> seen = first_appearance(keys);
  size_t covered = 0;
  for (const std::string& k : set)
    if (std::find(seen.begin(), seen.end(), k) != seen.end()) ++covered;
  v.coverage = set.empty() ? 0 : static_cast<double>(covered) / static_cast<double>(set.size());
  return v;
}

}  // namespace tb::proc_keys
