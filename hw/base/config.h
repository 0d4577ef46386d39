// Scenario configuration. A scenario is YAML; `--set key=value` overrides a
// key. Models read their parameters from a ConfigNode with a default and a
// description; every value read (defaults included) is recorded, which gives
// config.json (the full resolved configuration, itself a valid scenario) and
// `mmcosim params`. After elaboration, check_unused() rejects any key nobody
// read, naming its file and line.
//
// Every problem is a ConfigError whose message is one line:
//   scenario.yaml:12: platform.memory.size: expected a size such as 8GiB, got 'lots'
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace sim {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Value types with their own syntax in a scenario.
struct Size {       // bytes: 4096, 0x1000, 4KiB, 64MiB, 8GiB, 1TiB (K/M/G/T are binary too)
  uint64_t bytes = 0;
};
struct Duration {   // picoseconds: 80ns, 1.5us, 2ms, 500ps, 1s
  uint64_t ps = 0;
};
struct Frequency {  // hertz: 2GHz, 800MHz, 100kHz
  uint64_t hz = 0;
};
struct Ranges {     // a list of numbers and [first, last] pairs: [7, [100, 199]] (a disk's bad sectors)
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // inclusive
};

// Parsers shared with the command line; they return false on bad syntax.
bool parse_size(const std::string& text, uint64_t& bytes);
bool parse_duration(const std::string& text, uint64_t& ps);
bool parse_frequency(const std::string& text, uint64_t& hz);
bool parse_uint(const std::string& text, uint64_t& value);
// A rate in bytes per second: "1GiB/s", "800MiB/s" (binary multiples, as every size); false unless > 0.
bool parse_bandwidth(const std::string& text, uint64_t& bytes_per_s);
// How format_size writes a byte count.
enum class SizeStyle : uint8_t {
  exact,    // "64MiB", "1536", "0": the largest of KiB..TiB that divides it (parse_size reads it back)
  compact,  // "4K", "2M", "1536": the same with K, M, G, T, P (page and mapping sizes, as Linux's ptdump)
  rounded,  // "8 GiB", "1.5 MiB", "512 B": four significant digits (summaries)
};
std::string format_size(uint64_t bytes, SizeStyle style = SizeStyle::exact);
std::string format_duration(uint64_t ps);
std::string format_frequency(uint64_t hz);

// Returns `text` in single quotes for a message, control characters escaped
// and a long text cut short, so a message stays one line.
std::string quoted(const std::string& text);
// Returns `message` with its control characters escaped: one line.
std::string one_line(const std::string& message);
// Returns why `path` cannot be read as an input file (missing, a directory,
// a device or pipe, unreadable), or "" when it can.
std::string input_file_problem(const std::string& path);
// The largest scenario file read: far beyond any real scenario, small
// enough to parse within a second.
constexpr uint64_t kMaxScenarioBytes = 4ull << 20;

class Config;
struct ConfigTree;

// A view of one mapping in the scenario (possibly absent: then every get
// returns its default). Cheap to copy.
class ConfigNode {
 public:
  // The dotted path of this mapping ("platform.memory"); "" at the root.
  const std::string& path() const { return path_; }
  // "file:line" of this mapping, or the scenario name when it is absent.
  std::string where() const;

  bool has(const std::string& key) const;
  // "file:line" of `key`'s value, or of its element `index` when it is a
  // list (this mapping's where() when absent).
  std::string where(const std::string& key, size_t index = SIZE_MAX) const;

  // Optional key with a default. T: bool, int, unsigned, int64_t, uint64_t,
  // double, std::string, Size, Duration, Frequency, Ranges, std::vector<uint64_t>,
  // std::vector<std::string>.
  template <typename T>
  T get(const std::string& key, const T& def, const std::string& desc);
  template <typename T>
  T require(const std::string& key, const std::string& desc);
  // One of a fixed set of words.
  std::string get_enum(const std::string& key, const std::string& def,
                       std::initializer_list<const char*> allowed, const std::string& desc);

  // A nested mapping (absent: an empty view).
  ConfigNode child(const std::string& key);
  // A list of mappings. Absent (or null): `def`, an array of objects read
  // exactly as if the scenario held it, so every key its readers resolve
  // reaches config.json and `mmcosim params`; its values are recorded as
  // defaults (not [set]) and its where() is "<default>".
  std::vector<ConfigNode> list(const std::string& key, const std::string& desc,
                               const nlohmann::ordered_json& def = nlohmann::ordered_json::array());
  // The keys present in this mapping, in file order (for mappings whose keys
  // are data, such as an op name). Does not mark them used.
  std::vector<std::string> keys() const;
  // Marks a key as read without reading it (it was handled by hand).
  void touch(const std::string& key);

  // Throws a ConfigError at the position of `key` (or of this node).
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

 private:
  friend class Config;
  ConfigNode(Config* cfg, ConfigTree* node, std::string path)
      : cfg_(cfg), node_(node), path_(std::move(path)) {}
  ConfigTree* entry(const std::string& key) const;
  std::string key_path(const std::string& key) const;

  Config* cfg_ = nullptr;
  ConfigTree* node_ = nullptr;  // nullptr: absent
  std::string path_;
};

// One recorded parameter (for `mmcosim params`).
struct ParamRecord {
  std::string path;
  std::string type;
  std::string value;  // resolved, as text
  std::string desc;
  bool from_scenario;
};

class Config {
 public:
  Config();  // empty scenario (the built-in default)
  ~Config();
  Config(Config&&) noexcept;
  Config& operator=(Config&&) noexcept;

  static Config load_file(const std::string& file);
  static Config load_string(const std::string& text, const std::string& name);

  // "a.b.c=value" or "a.list[2].key=value"; the value is YAML (a scalar or a
  // flow collection such as [1, 2]).
  void set(const std::string& assignment);

  ConfigNode root();
  const std::string& name() const { return name_; }

  // Throws a ConfigError for the first key (in file order) nobody read.
  void check_unused() const;

  const nlohmann::ordered_json& resolved() const { return resolved_; }
  const std::vector<ParamRecord>& params() const { return params_; }

 private:
  friend class ConfigNode;
  void record(const std::string& path, const nlohmann::ordered_json& value,
              const std::string& type, const std::string& text, const std::string& desc,
              bool from_scenario);

  // A --set assignment: its key's parts, of which those from `from` on are
  // still to apply.
  struct Assignment {
    std::string key, origin;
    std::vector<std::string> parts;
    size_t from = 0;
    std::unique_ptr<ConfigTree> value;  // null once applied
  };
  void assign(ConfigTree& root, Assignment a);
  // An absent list's default as a tree, with the --set assignments into its
  // elements applied; nullptr when it has no default.
  ConfigTree* default_list(const std::string& path, const nlohmann::ordered_json& def);
  void apply_deferred(const std::string& list, ConfigTree& seq);

  std::string name_ = "<default>";
  std::unique_ptr<ConfigTree> tree_;
  std::vector<std::unique_ptr<ConfigTree>> defaults_;  // default lists read by ConfigNode::list
  // Assignments into elements of lists the scenario does not give, by the
  // list's path: applied when the list is read (its default is known then).
  std::vector<std::pair<std::string, Assignment>> deferred_;
  nlohmann::ordered_json resolved_ = nlohmann::ordered_json::object();
  std::vector<ParamRecord> params_;
};

}  // namespace sim
