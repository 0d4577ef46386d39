#include "hw/base/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace sim {

// ---------------------------------------------------------------------------
// Value syntax
// ---------------------------------------------------------------------------

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits "64MiB" into a number (integer or decimal) and its suffix.
bool split_number(const std::string& text, double& number, bool& is_integer, uint64_t& integer,
                  std::string& suffix) {
  const std::string t = trim(text);
  if (t.empty()) return false;
  size_t i = 0;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    i = 2;
    while (i < t.size() && (std::isxdigit(static_cast<unsigned char>(t[i])) || t[i] == '_')) ++i;
    std::string digits;
    for (size_t k = 2; k < i; ++k)
      if (t[k] != '_') digits += t[k];
    if (digits.empty() || digits.size() > 16) return false;
    integer = std::stoull(digits, nullptr, 16);
    number = static_cast<double>(integer);
    is_integer = true;
    suffix = trim(t.substr(i));
    return true;
  }
  std::string digits;
  bool dot = false;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.' || t[i] == '_')) {
    if (t[i] == '.') {
      if (dot) return false;
      dot = true;
    }
    if (t[i] != '_') digits += t[i];
    ++i;
  }
  if (digits.empty() || digits == ".") return false;
  is_integer = !dot;
  if (is_integer) {
    if (digits.size() > 20) return false;
    errno = 0;
    integer = std::strtoull(digits.c_str(), nullptr, 10);
    if (errno == ERANGE) return false;
  }
  number = std::strtod(digits.c_str(), nullptr);
  suffix = trim(t.substr(i));
  return true;
}

bool scaled(double number, bool is_integer, uint64_t integer, uint64_t scale, uint64_t& out) {
  if (is_integer) {
    if (scale != 0 && integer > UINT64_MAX / scale) return false;
    out = integer * scale;
    return true;
  }
  const double v = number * static_cast<double>(scale);
  if (v < 0 || v >= 18446744073709551615.0 || v != std::floor(v)) return false;
  out = static_cast<uint64_t>(v);
  return true;
}

}  // namespace

bool parse_uint(const std::string& text, uint64_t& value) {
  double n;
  bool is_int;
  std::string suffix;
  return split_number(text, n, is_int, value, suffix) && is_int && suffix.empty();
}

namespace {

struct Unit {
  const char* suffix;
  uint64_t scale;
};

// A number with one of `units`' suffixes, scaled to a whole count.
template <size_t N>
bool parse_with_units(const std::string& text, const Unit (&units)[N], uint64_t& out) {
  double n;
  bool is_int;
  uint64_t i;
  std::string s;
  if (!split_number(text, n, is_int, i, s)) return false;
  for (const Unit& u : units)
    if (s == u.suffix) return scaled(n, is_int, i, u.scale, out);
  return false;
}

}  // namespace

bool parse_size(const std::string& text, uint64_t& bytes) {
  static const Unit units[] = {
      {"", 1}, {"B", 1},
      {"K", 1ull << 10}, {"KB", 1ull << 10}, {"KiB", 1ull << 10}, {"k", 1ull << 10},
      {"M", 1ull << 20}, {"MB", 1ull << 20}, {"MiB", 1ull << 20},
      {"G", 1ull << 30}, {"GB", 1ull << 30}, {"GiB", 1ull << 30},
      {"T", 1ull << 40}, {"TB", 1ull << 40}, {"TiB", 1ull << 40},
  };
  return parse_with_units(text, units, bytes);
}

bool parse_duration(const std::string& text, uint64_t& ps) {
  static const Unit units[] = {
      {"ps", 1}, {"ns", 1000}, {"us", 1000000}, {"ms", 1000000000ull}, {"s", 1000000000000ull},
  };
  return parse_with_units(text, units, ps);
}

bool parse_frequency(const std::string& text, uint64_t& hz) {
  static const Unit units[] = {{"Hz", 1}, {"kHz", 1000}, {"MHz", 1000000}, {"GHz", 1000000000ull}};
  return parse_with_units(text, units, hz) && hz > 0;
}

std::string format_size(uint64_t bytes, SizeStyle style) {
  if (style == SizeStyle::rounded) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    for (; v >= 1024 && u < 4; ++u) v /= 1024;
    return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.4g} {}", v, units[u]);
  }
  static const char* const exact[] = {"", "KiB", "MiB", "GiB", "TiB"};
  static const char* const compact[] = {"", "K", "M", "G", "T", "P"};
  const char* const* units = style == SizeStyle::exact ? exact : compact;
  const int top = style == SizeStyle::exact ? 4 : 5;
  int u = 0;
  for (; u < top && bytes >= 1024 && bytes % 1024 == 0; ++u) bytes /= 1024;
  return fmt::format("{}{}", bytes, units[u]);
}

std::string format_duration(uint64_t ps) {
  static const char* names[] = {"s", "ms", "us", "ns"};
  static const uint64_t scales[] = {1000000000000ull, 1000000000ull, 1000000ull, 1000ull};
  if (ps == 0) return "0ns";
  for (int k = 0; k < 4; ++k)
    if (ps % scales[k] == 0) return fmt::format("{}{}", ps / scales[k], names[k]);
  return fmt::format("{}ps", ps);
}

std::string format_frequency(uint64_t hz) {
  if (hz % 1000000000ull == 0) return fmt::format("{}GHz", hz / 1000000000ull);
  if (hz % 1000000ull == 0) return fmt::format("{}MHz", hz / 1000000ull);
  if (hz % 1000ull == 0) return fmt::format("{}kHz", hz / 1000ull);
  return fmt::format("{}Hz", hz);
}

// ---------------------------------------------------------------------------
// The scenario tree: YAML converted to a tree that remembers positions and
// which keys were read.
// ---------------------------------------------------------------------------

struct ConfigTree {
  enum class Kind { null, scalar, map, seq } kind = Kind::null;
  std::string scalar;
  std::vector<std::pair<std::string, std::unique_ptr<ConfigTree>>> map;
  std::vector<std::unique_ptr<ConfigTree>> seq;
  int line = 0;         // 1-based; 0 when unknown
  std::string origin;   // file name, or "--set key=value"
  bool used = false;

  ConfigTree* find(const std::string& key) {
    for (auto& [k, v] : map)
      if (k == key) return v.get();
    return nullptr;
  }
  std::string where() const { return line > 0 ? fmt::format("{}:{}", origin, line) : origin; }
};

namespace {

const char* kind_name(ConfigTree::Kind k) {
  switch (k) {
    case ConfigTree::Kind::null: return "nothing";
    case ConfigTree::Kind::scalar: return "a value";
    case ConfigTree::Kind::map: return "a mapping";
    case ConfigTree::Kind::seq: return "a list";
  }
  return "?";
}

std::unique_ptr<ConfigTree> convert(const YAML::Node& node, const std::string& origin, int line) {
  auto t = std::make_unique<ConfigTree>();
  t->origin = origin;
  t->line = node.Mark().line >= 0 ? node.Mark().line + 1 : line;
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      t->kind = ConfigTree::Kind::null;
      break;
    case YAML::NodeType::Scalar:
      t->kind = ConfigTree::Kind::scalar;
      t->scalar = node.Scalar();
      break;
    case YAML::NodeType::Sequence:
      t->kind = ConfigTree::Kind::seq;
      for (const auto& item : node) t->seq.push_back(convert(item, origin, t->line));
      break;
    case YAML::NodeType::Map:
      t->kind = ConfigTree::Kind::map;
      for (const auto& kv : node) {
        const int key_line = kv.first.Mark().line >= 0 ? kv.first.Mark().line + 1 : t->line;
        if (!kv.first.IsScalar())
          throw ConfigError(fmt::format("{}:{}: a key must be a plain word", origin, key_line));
        const std::string key = kv.first.Scalar();
        if (t->find(key))
          throw ConfigError(fmt::format("{}:{}: {}: duplicate key", origin, key_line, key));
        auto child = convert(kv.second, origin, key_line);
        child->line = key_line;  // errors about a value point at its key
        t->map.emplace_back(key, std::move(child));
      }
      break;
  }
  return t;
}

std::unique_ptr<ConfigTree> parse_yaml(const std::string& text, const std::string& origin) {
  try {
    return convert(YAML::Load(text), origin, 1);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}:{}: YAML syntax error: {}", origin, e.mark.line + 1, e.msg));
  }
}

// Splits "a.b[2].c" into components; indices are "[2]".
std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '.') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else if (c == '[') {
      if (!cur.empty()) parts.push_back(cur);
      const size_t close = path.find(']', i);
      if (close == std::string::npos) return {};
      parts.push_back(path.substr(i, close - i + 1));
      cur.clear();
      i = close;
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

// ---------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------

Config::Config() : tree_(std::make_unique<ConfigTree>()) {
  tree_->kind = ConfigTree::Kind::map;
  tree_->origin = name_;
  tree_->used = true;
}
Config::~Config() = default;
Config::Config(Config&&) noexcept = default;
Config& Config::operator=(Config&&) noexcept = default;

Config Config::load_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw ConfigError(fmt::format("{}: cannot open scenario: {}", file, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), file);
}

Config Config::load_string(const std::string& text, const std::string& name) {
  Config c;
  c.name_ = name;
  c.tree_ = parse_yaml(text, name);
  if (c.tree_->kind == ConfigTree::Kind::null) {  // an empty file is an empty scenario
    c.tree_->kind = ConfigTree::Kind::map;
  } else if (c.tree_->kind != ConfigTree::Kind::map) {
    throw ConfigError(fmt::format("{}:{}: a scenario must be a mapping of keys, not {}", name,
                                  c.tree_->line, kind_name(c.tree_->kind)));
  }
  c.tree_->used = true;
  return c;
}

void Config::set(const std::string& assignment) {
  const auto eq = assignment.find('=');
  const std::string origin = "--set " + assignment;
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(fmt::format("{}: expected key=value", origin));
  const std::string key = trim(assignment.substr(0, eq));
  const auto parts = split_path(key);
  if (parts.empty()) throw ConfigError(fmt::format("{}: malformed key '{}'", origin, key));
  auto value = parse_yaml(assignment.substr(eq + 1), origin);
  value->line = 0;

  ConfigTree* node = tree_.get();
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    const bool last = i + 1 == parts.size();
    if (p.front() == '[') {
      uint64_t idx;
      if (!parse_uint(p.substr(1, p.size() - 2), idx))
        throw ConfigError(fmt::format("{}: malformed index {}", origin, p));
      if (node->kind != ConfigTree::Kind::seq || idx >= node->seq.size())
        throw ConfigError(fmt::format("{}: {}: no element {} (the list has {})", origin, key, idx,
                                      node->kind == ConfigTree::Kind::seq ? node->seq.size() : 0));
      if (last) {
        node->seq[idx] = std::move(value);
        return;
      }
      node = node->seq[idx].get();
      continue;
    }
    if (node->kind == ConfigTree::Kind::null) node->kind = ConfigTree::Kind::map;
    if (node->kind != ConfigTree::Kind::map)
      throw ConfigError(fmt::format("{}: {}: '{}' is {}, not a mapping", origin, key, p, kind_name(node->kind)));
    ConfigTree* child = node->find(p);
    if (last) {
      if (child) *child = std::move(*value);
      else node->map.emplace_back(p, std::move(value));
      return;
    }
    if (!child) {
      auto fresh = std::make_unique<ConfigTree>();
      fresh->kind = ConfigTree::Kind::map;
      fresh->origin = origin;
      child = fresh.get();
      node->map.emplace_back(p, std::move(fresh));
    }
    node = child;
  }
}

ConfigNode Config::root() { return ConfigNode(this, tree_.get(), ""); }

void Config::check_unused() const {
  // Depth-first in file order: the first unread key is reported, with the
  // closest key that was read at the same place as a hint.
  struct Walker {
    static void walk(const ConfigTree& t, const std::string& path, const nlohmann::ordered_json* known) {
      if (t.kind == ConfigTree::Kind::map) {
        for (const auto& [k, v] : t.map) {
          const std::string p = path.empty() ? k : path + "." + k;
          const nlohmann::ordered_json* sub =
              known && known->is_object() && known->contains(k) ? &(*known)[k] : nullptr;
          if (!v->used) {
            std::string hint;
            size_t best = 3;
            if (known && known->is_object()) {
              for (const auto& item : known->items()) {
                const size_t d = edit_distance(k, item.key());
                if (d < best) {
                  best = d;
                  hint = fmt::format(" (did you mean '{}'?)", item.key());
                }
              }
            }
            throw ConfigError(fmt::format("{}: {}: unknown key{}", v->where(), p, hint));
          }
          walk(*v, p, sub);
        }
      } else if (t.kind == ConfigTree::Kind::seq) {
        for (size_t i = 0; i < t.seq.size(); ++i) {
          const nlohmann::ordered_json* sub = known && known->is_array() && i < known->size() ? &(*known)[i] : nullptr;
          walk(*t.seq[i], fmt::format("{}[{}]", path, i), sub);
        }
      }
    }
  };
  Walker::walk(*tree_, "", &resolved_);
}

void Config::record(const std::string& path, const nlohmann::ordered_json& value,
                    const std::string& type, const std::string& text, const std::string& desc,
                    bool from_scenario) {
  nlohmann::ordered_json* node = &resolved_;
  const auto parts = split_path(path);
  for (const auto& p : parts) {
    if (p.front() == '[') {
      const size_t idx = std::stoul(p.substr(1, p.size() - 2));
      if (!node->is_array()) *node = nlohmann::ordered_json::array();
      while (node->size() <= idx) node->push_back(nlohmann::ordered_json::object());
      node = &(*node)[idx];
    } else {
      if (!node->is_object()) *node = nlohmann::ordered_json::object();
      node = &(*node)[p];
    }
  }
  *node = value;
  if (!type.empty()) params_.push_back({path, type, text, desc, from_scenario});
}

// ---------------------------------------------------------------------------
// ConfigNode
// ---------------------------------------------------------------------------

std::string ConfigNode::where() const { return node_ ? node_->where() : cfg_->name_; }

ConfigTree* ConfigNode::entry(const std::string& key) const {
  if (!node_ || node_->kind != ConfigTree::Kind::map) return nullptr;
  return node_->find(key);
}

std::string ConfigNode::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

bool ConfigNode::has(const std::string& key) const {
  const ConfigTree* e = entry(key);
  return e && e->kind != ConfigTree::Kind::null;
}

void ConfigNode::note_default(const std::string& key, const nlohmann::ordered_json& value, const std::string& desc) {
  cfg_->record(key_path(key), value, "", value.dump(), desc, false);
}

void ConfigNode::touch(const std::string& key) {
  if (ConfigTree* e = entry(key)) e->used = true;
}

void ConfigNode::fail(const std::string& key, const std::string& problem) const {
  const ConfigTree* e = key.empty() ? node_ : entry(key);
  const std::string where = e ? e->where() : this->where();
  const std::string path = key.empty() ? path_ : key_path(key);
  throw ConfigError(fmt::format("{}: {}: {}", where, path.empty() ? "<scenario>" : path, problem));
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  if (node_ && node_->kind == ConfigTree::Kind::map)
    for (const auto& [k, v] : node_->map) out.push_back(k);
  return out;
}

ConfigNode ConfigNode::child(const std::string& key) {
  ConfigTree* e = entry(key);
  const std::string p = key_path(key);
  if (!e || e->kind == ConfigTree::Kind::null) {
    if (e) e->used = true;
    return ConfigNode(cfg_, nullptr, p);
  }
  if (e->kind != ConfigTree::Kind::map) fail(key, fmt::format("expected a mapping, got {}", kind_name(e->kind)));
  e->used = true;
  return ConfigNode(cfg_, e, p);
}

std::vector<ConfigNode> ConfigNode::list(const std::string& key, const std::string& desc) {
  std::vector<ConfigNode> out;
  ConfigTree* e = entry(key);
  const std::string p = key_path(key);
  if (!e || e->kind == ConfigTree::Kind::null) {
    if (e) e->used = true;
    cfg_->record(p, nlohmann::ordered_json::array(), "", "", desc, false);
    return out;
  }
  if (e->kind != ConfigTree::Kind::seq) fail(key, fmt::format("expected a list, got {}", kind_name(e->kind)));
  e->used = true;
  cfg_->record(p, nlohmann::ordered_json::array(), "", "", desc, true);
  for (size_t i = 0; i < e->seq.size(); ++i) {
    ConfigTree* item = e->seq[i].get();
    const std::string ip = fmt::format("{}[{}]", p, i);
    if (item->kind != ConfigTree::Kind::map)
      throw ConfigError(fmt::format("{}: {}: expected a mapping, got {}", item->where(), ip, kind_name(item->kind)));
    item->used = true;
    cfg_->record(ip, nlohmann::ordered_json::object(), "", "", "", true);
    out.push_back(ConfigNode(cfg_, item, ip));
  }
  return out;
}

namespace {

// Conversion of one scalar to a typed value; `what` names the expectation.
template <typename T>
struct Conv;

template <>
struct Conv<bool> {
  static constexpr const char* type = "bool";
  static constexpr const char* what = "true or false";
  static bool parse(const std::string& s, bool& v) {
    if (s == "true" || s == "yes" || s == "on") return v = true, true;
    if (s == "false" || s == "no" || s == "off") return v = false, true;
    return false;
  }
  static nlohmann::ordered_json json(bool v) { return v; }
  static std::string text(bool v) { return v ? "true" : "false"; }
};

template <>
struct Conv<uint64_t> {
  static constexpr const char* type = "uint";
  static constexpr const char* what = "a non-negative integer";
  static bool parse(const std::string& s, uint64_t& v) { return parse_uint(s, v); }
  static nlohmann::ordered_json json(uint64_t v) { return v; }
  static std::string text(uint64_t v) { return std::to_string(v); }
};

template <>
struct Conv<int64_t> {
  static constexpr const char* type = "int";
  static constexpr const char* what = "an integer";
  static bool parse(const std::string& s, int64_t& v) {
    const std::string t = trim(s);
    const bool neg = !t.empty() && t[0] == '-';
    uint64_t u;
    if (!parse_uint(neg ? t.substr(1) : t, u) || u > static_cast<uint64_t>(INT64_MAX)) return false;
    v = neg ? -static_cast<int64_t>(u) : static_cast<int64_t>(u);
    return true;
  }
  static nlohmann::ordered_json json(int64_t v) { return v; }
  static std::string text(int64_t v) { return std::to_string(v); }
};

template <>
struct Conv<unsigned> {
  static constexpr const char* type = "uint";
  static constexpr const char* what = "a non-negative integer below 2^32";
  static bool parse(const std::string& s, unsigned& v) {
    uint64_t u;
    if (!parse_uint(s, u) || u > UINT32_MAX) return false;
    v = static_cast<unsigned>(u);
    return true;
  }
  static nlohmann::ordered_json json(unsigned v) { return v; }
  static std::string text(unsigned v) { return std::to_string(v); }
};

template <>
struct Conv<int> {
  static constexpr const char* type = "int";
  static constexpr const char* what = "an integer";
  static bool parse(const std::string& s, int& v) {
    int64_t w;
    if (!Conv<int64_t>::parse(s, w) || w < INT32_MIN || w > INT32_MAX) return false;
    v = static_cast<int>(w);
    return true;
  }
  static nlohmann::ordered_json json(int v) { return v; }
  static std::string text(int v) { return std::to_string(v); }
};

template <>
struct Conv<double> {
  static constexpr const char* type = "real";
  static constexpr const char* what = "a number";
  static bool parse(const std::string& s, double& v) {
    const std::string t = trim(s);
    if (t.empty()) return false;
    char* end = nullptr;
    v = std::strtod(t.c_str(), &end);
    return end && *end == '\0' && std::isfinite(v);
  }
  static nlohmann::ordered_json json(double v) { return v; }
  static std::string text(double v) { return fmt::format("{}", v); }
};

template <>
struct Conv<std::string> {
  static constexpr const char* type = "string";
  static constexpr const char* what = "a string";
  static bool parse(const std::string& s, std::string& v) { return v = s, true; }
  static nlohmann::ordered_json json(const std::string& v) { return v; }
  static std::string text(const std::string& v) { return v; }
};

template <>
struct Conv<Size> {
  static constexpr const char* type = "size";
  static constexpr const char* what = "a size such as 4096, 64MiB or 8GiB";
  static bool parse(const std::string& s, Size& v) { return parse_size(s, v.bytes); }
  static nlohmann::ordered_json json(Size v) {
    const std::string t = format_size(v.bytes);
    return t == std::to_string(v.bytes) ? nlohmann::ordered_json(v.bytes) : nlohmann::ordered_json(t);
  }
  static std::string text(Size v) { return format_size(v.bytes); }
};

template <>
struct Conv<Duration> {
  static constexpr const char* type = "time";
  static constexpr const char* what = "a time such as 80ns or 1.5us";
  static bool parse(const std::string& s, Duration& v) { return parse_duration(s, v.ps); }
  static nlohmann::ordered_json json(Duration v) { return format_duration(v.ps); }
  static std::string text(Duration v) { return format_duration(v.ps); }
};

template <>
struct Conv<Frequency> {
  static constexpr const char* type = "frequency";
  static constexpr const char* what = "a frequency such as 2GHz";
  static bool parse(const std::string& s, Frequency& v) { return parse_frequency(s, v.hz); }
  static nlohmann::ordered_json json(Frequency v) { return format_frequency(v.hz); }
  static std::string text(Frequency v) { return format_frequency(v.hz); }
};

template <typename T>
T convert_scalar(const ConfigNode& where, const std::string& key, const ConfigTree& t) {
  if (t.kind != ConfigTree::Kind::scalar)
    where.fail(key, fmt::format("expected {}, got {}", Conv<T>::what, kind_name(t.kind)));
  T v{};
  if (!Conv<T>::parse(t.scalar, v)) where.fail(key, fmt::format("expected {}, got '{}'", Conv<T>::what, t.scalar));
  return v;
}

}  // namespace

template <typename T>
T ConfigNode::get(const std::string& key, const T& def, const std::string& desc) {
  ConfigTree* e = entry(key);
  T v = def;
  const bool present = e && e->kind != ConfigTree::Kind::null;
  if (e) e->used = true;
  if (present) v = convert_scalar<T>(*this, key, *e);
  cfg_->record(key_path(key), Conv<T>::json(v), Conv<T>::type, Conv<T>::text(v), desc, present);
  return v;
}

template <typename T>
T ConfigNode::require(const std::string& key, const std::string& desc) {
  if (!has(key)) fail(key, fmt::format("missing required key ({})", desc));
  return get<T>(key, T{}, desc);
}

// Lists of scalars.
template <>
std::vector<uint64_t> ConfigNode::get(const std::string& key, const std::vector<uint64_t>& def,
                                      const std::string& desc) {
  ConfigTree* e = entry(key);
  std::vector<uint64_t> v = def;
  const bool present = e && e->kind != ConfigTree::Kind::null;
  if (e) e->used = true;
  if (present) {
    if (e->kind != ConfigTree::Kind::seq) fail(key, fmt::format("expected a list of integers, got {}", kind_name(e->kind)));
    v.clear();
    for (const auto& item : e->seq) v.push_back(convert_scalar<uint64_t>(*this, key, *item));
  }
  nlohmann::ordered_json j = v;
  cfg_->record(key_path(key), j, "list", j.dump(), desc, present);
  return v;
}

template <>
std::vector<std::string> ConfigNode::get(const std::string& key, const std::vector<std::string>& def,
                                         const std::string& desc) {
  ConfigTree* e = entry(key);
  std::vector<std::string> v = def;
  const bool present = e && e->kind != ConfigTree::Kind::null;
  if (e) e->used = true;
  if (present) {
    v.clear();
    if (e->kind == ConfigTree::Kind::scalar) {
      v.push_back(e->scalar);  // a single word stands for a one-element list
    } else if (e->kind == ConfigTree::Kind::seq) {
      for (const auto& item : e->seq) v.push_back(convert_scalar<std::string>(*this, key, *item));
    } else {
      fail(key, fmt::format("expected a list of words, got {}", kind_name(e->kind)));
    }
  }
  nlohmann::ordered_json j = v;
  cfg_->record(key_path(key), j, "list", j.dump(), desc, present);
  return v;
}

template <>
std::vector<std::vector<uint64_t>> ConfigNode::get(const std::string& key,
                                                   const std::vector<std::vector<uint64_t>>& def,
                                                   const std::string& desc) {
  ConfigTree* e = entry(key);
  auto v = def;
  const bool present = e && e->kind != ConfigTree::Kind::null;
  if (e) e->used = true;
  if (present) {
    if (e->kind != ConfigTree::Kind::seq) fail(key, "expected a list of lists of integers");
    v.clear();
    for (const auto& row : e->seq) {
      if (row->kind != ConfigTree::Kind::seq) fail(key, "expected a list of lists of integers");
      std::vector<uint64_t> r;
      for (const auto& item : row->seq) r.push_back(convert_scalar<uint64_t>(*this, key, *item));
      v.push_back(std::move(r));
    }
  }
  nlohmann::ordered_json j = v;
  cfg_->record(key_path(key), j, "matrix", j.dump(), desc, present);
  return v;
}

std::string ConfigNode::get_enum(const std::string& key, const std::string& def,
                                 std::initializer_list<const char*> allowed, const std::string& desc) {
  std::string choices;
  for (const char* a : allowed) choices += choices.empty() ? a : std::string("|") + a;
  ConfigTree* e = entry(key);
  std::string v = def;
  const bool present = e && e->kind != ConfigTree::Kind::null;
  if (e) e->used = true;
  if (present) {
    v = convert_scalar<std::string>(*this, key, *e);
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return v == a; }))
      fail(key, fmt::format("expected one of {}, got '{}'", choices, v));
  }
  cfg_->record(key_path(key), v, choices, v, desc, present);
  return v;
}

template bool ConfigNode::get<bool>(const std::string&, const bool&, const std::string&);
template int ConfigNode::get<int>(const std::string&, const int&, const std::string&);
template unsigned ConfigNode::get<unsigned>(const std::string&, const unsigned&, const std::string&);
template int64_t ConfigNode::get<int64_t>(const std::string&, const int64_t&, const std::string&);
template uint64_t ConfigNode::get<uint64_t>(const std::string&, const uint64_t&, const std::string&);
template double ConfigNode::get<double>(const std::string&, const double&, const std::string&);
template std::string ConfigNode::get<std::string>(const std::string&, const std::string&, const std::string&);
template Size ConfigNode::get<Size>(const std::string&, const Size&, const std::string&);
template Duration ConfigNode::get<Duration>(const std::string&, const Duration&, const std::string&);
template Frequency ConfigNode::get<Frequency>(const std::string&, const Frequency&, const std::string&);
template uint64_t ConfigNode::require<uint64_t>(const std::string&, const std::string&);
template std::string ConfigNode::require<std::string>(const std::string&, const std::string&);
template Size ConfigNode::require<Size>(const std::string&, const std::string&);
template unsigned ConfigNode::require<unsigned>(const std::string&, const std::string&);

}  // namespace sim
