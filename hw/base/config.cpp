#include "hw/base/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
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

bool parse_bandwidth(const std::string& text, uint64_t& bytes_per_s) {
  const std::string t =
      text.size() > 2 && text.compare(text.size() - 2, 2, "/s") == 0 ? text.substr(0, text.size() - 2) : std::string();
  return !t.empty() && parse_size(t, bytes_per_s) && bytes_per_s > 0;
}

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

std::string quoted(const std::string& text) {
  constexpr size_t kShown = 48;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  if (text.size() > kShown) out += "...";
  return out + "'";
}

std::string one_line(const std::string& message) {
  std::string out;
  for (char ch : message) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += ch;
  }
  return out;
}

std::string input_file_problem(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) return "no file named";
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return fmt::format("{}: cannot open: {}", path, ec ? ec.message() : "No such file or directory");
  if (fs::is_directory(st)) return fmt::format("{}: is a directory, not a file", path);
  // A device or a pipe could be read for ever.
  if (!fs::is_regular_file(st)) return fmt::format("{}: is not a regular file", path);
  std::ifstream in(path);
  if (!in) return fmt::format("{}: cannot open: {}", path, std::strerror(errno));
  return "";
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
  std::string origin;   // file name, "--set key=value", or "<default>"
  bool used = false;
  bool defaulted = false;  // part of a default list (ConfigNode::list): its values are recorded as defaults

  ConfigTree* find(const std::string& key) {
    for (auto& [k, v] : map)
      if (k == key) return v.get();
    return nullptr;
  }
  std::string where() const { return line > 0 ? fmt::format("{}:{}", origin, line) : origin; }
};

namespace {

// True when `e` holds a value the scenario (or --set) gave: what `mmcosim
// params` marks [set].
bool from_scenario(const ConfigTree* e) { return e && e->kind != ConfigTree::Kind::null && !e->defaulted; }

// A default list as a scenario tree, so that it is read by the same code as
// a given one.
std::unique_ptr<ConfigTree> default_tree(const nlohmann::ordered_json& value) {
  auto t = std::make_unique<ConfigTree>();
  t->origin = "<default>";
  t->defaulted = true;
  if (value.is_object()) {
    t->kind = ConfigTree::Kind::map;
    for (const auto& item : value.items()) t->map.emplace_back(item.key(), default_tree(item.value()));
  } else if (value.is_array()) {
    t->kind = ConfigTree::Kind::seq;
    for (const auto& item : value) t->seq.push_back(default_tree(item));
  } else if (!value.is_null()) {
    t->kind = ConfigTree::Kind::scalar;
    t->scalar = value.is_string() ? value.get<std::string>() : value.dump();
  }
  return t;
}

const char* kind_name(ConfigTree::Kind k) {
  switch (k) {
    case ConfigTree::Kind::null: return "nothing";
    case ConfigTree::Kind::scalar: return "a value";
    case ConfigTree::Kind::map: return "a mapping";
    case ConfigTree::Kind::seq: return "a list";
  }
  return "?";
}

// Bounds of a scenario. yaml-cpp shares the node an alias names, so a file
// of nested aliases ("billion laughs") is small until it is expanded here;
// counting every value expanded stops it within milliseconds. Real scenarios
// hold a few thousand values, nested a dozen levels deep.
constexpr size_t kMaxValues = 200000;
constexpr int kMaxDepth = 64;

struct Converter {
  const std::string& origin;
  bool numbered;  // a file: values have lines; a --set value has none
  size_t values = 0;

  std::string at(int line) const { return numbered ? fmt::format("{}:{}", origin, line) : origin; }

  std::unique_ptr<ConfigTree> convert(const YAML::Node& node, int line, const std::string& path, int depth) {
    auto t = std::make_unique<ConfigTree>();
    t->origin = origin;
    t->line = !numbered ? 0 : node.Mark().line >= 0 ? node.Mark().line + 1 : line;
    const char* const what = path.empty() ? "<scenario>" : path.c_str();
    if (++values > kMaxValues)
      throw ConfigError(fmt::format("{}: {}: the scenario holds more than {} values (nested aliases?)", at(t->line),
                                    what, kMaxValues));
    if (depth > kMaxDepth)
      throw ConfigError(fmt::format("{}: {}: nested more than {} levels deep", at(t->line), what, kMaxDepth));
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
        for (const auto& item : node)
          t->seq.push_back(convert(item, t->line, fmt::format("{}[{}]", path, t->seq.size()), depth + 1));
        break;
      case YAML::NodeType::Map:
        t->kind = ConfigTree::Kind::map;
        for (const auto& kv : node) add_entry(*t, kv.first, kv.second, path, depth);
        break;
    }
    return t;
  }

  void add_entry(ConfigTree& t, const YAML::Node& k, const YAML::Node& v, const std::string& path, int depth) {
    const int key_line = !numbered ? 0 : k.Mark().line >= 0 ? k.Mark().line + 1 : t.line;
    if (!k.IsScalar())
      throw ConfigError(fmt::format("{}: {}: a key must be a plain word", at(key_line), path.empty() ? "<scenario>" : path));
    const std::string key = k.Scalar();
    const std::string p = path.empty() ? key : path + "." + key;
    if (t.find(key)) throw ConfigError(fmt::format("{}: {}: duplicate key", at(key_line), p));
    auto child = convert(v, key_line, p, depth + 1);
    child->line = key_line;  // errors about a value point at its key
    t.map.emplace_back(key, std::move(child));
  }
};

// Parses one YAML document: a scenario file (`numbered`: its errors name a
// line) or a --set value.
std::unique_ptr<ConfigTree> parse_yaml(const std::string& text, const std::string& origin, bool numbered) {
  auto at = [&](const YAML::Mark& m) {
    return numbered ? fmt::format("{}:{}", origin, std::max(m.line + 1, 1)) : origin;
  };
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::DeepRecursion& e) {
    throw ConfigError(fmt::format("{}: <scenario>: nested more than {} levels deep", at(e.mark), kMaxDepth));
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: YAML syntax error: {}", at(e.mark), e.msg));
  }
  if (docs.size() > 1)
    throw ConfigError(fmt::format("{}: a scenario is one YAML document, this is the second", at(docs[1].Mark())));
  try {
    Converter c{origin, numbered};
    return c.convert(docs.empty() ? YAML::Node() : docs[0], 1, "", 0);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: YAML error: {}", at(e.mark), e.msg));
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

// The dotted path of parts[0, n): the inverse of split_path.
std::string join_path(const std::vector<std::string>& parts, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i && parts[i].front() != '[' ? "." : "") + parts[i];
  return out;
}

// The error of an assignment into an element a list does not have.
ConfigError no_element(const std::string& origin, const std::string& key, const std::string& index, size_t size) {
  return ConfigError(fmt::format("{}: {}: no element {} (the list has {})", origin, key, index, size));
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
  if (const std::string problem = input_file_problem(file); !problem.empty()) throw ConfigError(problem);
  std::error_code ec;
  const uint64_t bytes = std::filesystem::file_size(file, ec);
  if (!ec && bytes > kMaxScenarioBytes)
    throw ConfigError(fmt::format("{}: a scenario of {} bytes is too large (at most {})", file, bytes,
                                  format_size(kMaxScenarioBytes)));
  std::ifstream in(file, std::ios::binary);
  // Read in blocks up to one byte past the limit (a pipe has no size to ask
  // for), not into a buffer of the limit's size: clearing 4 MiB first was a
  // thousand host page faults on every run.
  std::string text;
  char block[1 << 14];
  while (text.size() <= kMaxScenarioBytes && in.read(block, sizeof block).gcount() > 0)
    text.append(block, static_cast<size_t>(in.gcount()));
  if (in.bad()) throw ConfigError(fmt::format("{}: read error", file));
  if (text.size() > kMaxScenarioBytes)
    throw ConfigError(fmt::format("{}: a scenario is at most {}", file, format_size(kMaxScenarioBytes)));
  // A UTF-8 byte order mark, as some editors write one.
  if (text.rfind("\xef\xbb\xbf", 0) == 0) text.erase(0, 3);
  // YAML text holds no control character but tab and line ends: one is
  // binary data (or a corrupted file), named before the parser misreads it.
  int line = 1;
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '\n') ++line;
    else if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
      throw ConfigError(fmt::format("{}:{}: not a text file (byte {:#04x}): a scenario is YAML text", file, line, c));
  }
  return load_string(text, file);
}

Config Config::load_string(const std::string& text, const std::string& name) {
  Config c;
  c.name_ = name;
  c.tree_ = parse_yaml(text, name, true);
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
  auto value = parse_yaml(assignment.substr(eq + 1), origin, false);
  value->line = 0;
  assign(*tree_, {key, origin, parts, 0, std::move(value)});
}

void Config::assign(ConfigTree& root, Assignment a) {
  ConfigTree* node = &root;
  for (size_t i = a.from; i < a.parts.size(); ++i) {
    const std::string& p = a.parts[i];
    const bool last = i + 1 == a.parts.size();
    if (p.front() == '[') {
      uint64_t idx;
      if (!parse_uint(p.substr(1, p.size() - 2), idx))
        throw ConfigError(fmt::format("{}: malformed index {}", a.origin, p));
      if (node->kind != ConfigTree::Kind::seq || idx >= node->seq.size())
        throw no_element(a.origin, a.key, std::to_string(idx),
                         node->kind == ConfigTree::Kind::seq ? node->seq.size() : 0);
      if (last) {
        node->seq[idx] = std::move(a.value);
        return;
      }
      node = node->seq[idx].get();
      continue;
    }
    if (node->kind == ConfigTree::Kind::null) node->kind = ConfigTree::Kind::map;
    if (node->kind != ConfigTree::Kind::map)
      throw ConfigError(fmt::format("{}: {}: '{}' is {}, not a mapping", a.origin, a.key, p, kind_name(node->kind)));
    ConfigTree* child = node->find(p);
    if (last) {
      if (child) *child = std::move(*a.value);
      else node->map.emplace_back(p, std::move(a.value));
      return;
    }
    // Into an element of a list the scenario does not give: the list's
    // default, if it has one, is known only when the list is read.
    if (a.parts[i + 1].front() == '[' && (!child || child->kind == ConfigTree::Kind::null)) {
      a.from = i + 1;
      deferred_.push_back({join_path(a.parts, i + 1), std::move(a)});
      return;
    }
    if (!child) {
      auto fresh = std::make_unique<ConfigTree>();
      fresh->kind = ConfigTree::Kind::map;
      fresh->origin = a.origin;
      child = fresh.get();
      node->map.emplace_back(p, std::move(fresh));
    }
    node = child;
  }
}

ConfigTree* Config::default_list(const std::string& path, const nlohmann::ordered_json& def) {
  auto t = default_tree(def);
  apply_deferred(path, *t);  // an element the list lacks is an error
  if (def.empty()) return nullptr;
  defaults_.push_back(std::move(t));
  return defaults_.back().get();
}

void Config::apply_deferred(const std::string& list, ConfigTree& seq) {
  // By index: an assignment may be deferred again, into a list inside an
  // element, which adds to deferred_.
  for (size_t k = 0; k < deferred_.size(); ++k) {
    if (deferred_[k].first != list || !deferred_[k].second.value) continue;
    Assignment a = std::move(deferred_[k].second);
    deferred_[k].second.value = nullptr;  // applied
    assign(seq, std::move(a));
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
  // First an assignment into a list nobody read: no element to assign (the
  // mappings on its way, created for it, were not read either).
  for (const auto& [path, a] : deferred_)
    if (a.value) throw no_element(a.origin, a.key, a.parts[a.from].substr(1, a.parts[a.from].size() - 2), 0);
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

std::string ConfigNode::where(const std::string& key, size_t index) const {
  const ConfigTree* e = entry(key);
  if (e && index != SIZE_MAX && e->kind == ConfigTree::Kind::seq && index < e->seq.size()) e = e->seq[index].get();
  return e ? e->where() : where();
}

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

std::vector<ConfigNode> ConfigNode::list(const std::string& key, const std::string& desc,
                                         const nlohmann::ordered_json& def) {
  std::vector<ConfigNode> out;
  ConfigTree* e = entry(key);
  const std::string p = key_path(key);
  if (!e || e->kind == ConfigTree::Kind::null) {
    if (e) e->used = true;
    // Kept beside the scenario's tree, not in it: the scenario did not give
    // it, and its parent mapping may be absent too.
    e = cfg_->default_list(p, def);
    if (!e) {
      cfg_->record(p, nlohmann::ordered_json::array(), "", "", desc, false);
      return out;
    }
  }
  if (e->kind != ConfigTree::Kind::seq) fail(key, fmt::format("expected a list, got {}", kind_name(e->kind)));
  e->used = true;
  cfg_->record(p, nlohmann::ordered_json::array(), "", "", desc, from_scenario(e));
  for (size_t i = 0; i < e->seq.size(); ++i) {
    ConfigTree* item = e->seq[i].get();
    const std::string ip = fmt::format("{}[{}]", p, i);
    if (item->kind != ConfigTree::Kind::map)
      throw ConfigError(fmt::format("{}: {}: expected a mapping, got {}", item->where(), ip, kind_name(item->kind)));
    item->used = true;
    cfg_->record(ip, nlohmann::ordered_json::object(), "", "", "", from_scenario(item));
    out.push_back(ConfigNode(cfg_, item, ip));
  }
  return out;
}

namespace {

// True when `text` is a number `parse` would take but for its size: more
// than 64 bits, alone or scaled by its unit.
bool number_too_large(const std::string& text, bool (*parse)(const std::string&, uint64_t&)) {
  const std::string t = trim(text);
  const bool hex = t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
  size_t i = hex ? 2 : 0;
  std::string digits = hex ? "0x" : "";
  for (; i < t.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(t[i]);
    if (!(hex ? std::isxdigit(c) : std::isdigit(c) || c == '.') && c != '_') break;
    if (c != '_') digits += t[i];
  }
  if (digits.empty() || digits == "0x") return false;
  uint64_t scale = 1;
  if (!parse("1" + t.substr(i), scale)) return false;
  return std::strtold(digits.c_str(), nullptr) * static_cast<long double>(scale) >= 18446744073709551616.0L;
}

// Conversion of one scalar to a typed value; `what` names the expectation,
// too_large tells a number beyond 64 bits from bad syntax.
template <typename T>
struct Conv;

struct NoRange {
  static bool too_large(const std::string&) { return false; }
};

template <>
struct Conv<bool> : NoRange {
  static constexpr const char* type = "bool";
  static constexpr const char* what = "true or false";
  // 1 and 0 too: Linux's sysctls that scenarios mirror (vm.memory_failure_*)
  // are written that way, and DESIGN.md's example does so.
  static bool parse(const std::string& s, bool& v) {
    if (s == "true" || s == "yes" || s == "on" || s == "1") return v = true, true;
    if (s == "false" || s == "no" || s == "off" || s == "0") return v = false, true;
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
  static bool too_large(const std::string& s) { return number_too_large(s, parse_uint); }
  static nlohmann::ordered_json json(uint64_t v) { return v; }
  static std::string text(uint64_t v) { return std::to_string(v); }
};

template <>
struct Conv<int64_t> : NoRange {
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
struct Conv<unsigned> : NoRange {
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
struct Conv<int> : NoRange {
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
struct Conv<double> : NoRange {
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
struct Conv<std::string> : NoRange {
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
  static bool too_large(const std::string& s) { return number_too_large(s, parse_size); }
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
  static bool too_large(const std::string& s) { return number_too_large(s, parse_duration); }
  static nlohmann::ordered_json json(Duration v) { return format_duration(v.ps); }
  static std::string text(Duration v) { return format_duration(v.ps); }
};

template <>
struct Conv<Frequency> {
  static constexpr const char* type = "frequency";
  static constexpr const char* what = "a frequency such as 2GHz";
  static bool parse(const std::string& s, Frequency& v) { return parse_frequency(s, v.hz); }
  static bool too_large(const std::string& s) { return number_too_large(s, parse_frequency); }
  static nlohmann::ordered_json json(Frequency v) { return format_frequency(v.hz); }
  static std::string text(Frequency v) { return format_frequency(v.hz); }
};

template <typename T>
T convert_scalar(const ConfigNode& where, const std::string& key, const ConfigTree& t) {
  if (t.kind != ConfigTree::Kind::scalar)
    where.fail(key, fmt::format("expected {}, got {}", Conv<T>::what, kind_name(t.kind)));
  T v{};
  if (!Conv<T>::parse(t.scalar, v))
    where.fail(key, fmt::format("expected {}, got {}{}", Conv<T>::what, sim::quoted(t.scalar),
                                Conv<T>::too_large(t.scalar) ? ", which does not fit in 64 bits" : ""));
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
  cfg_->record(key_path(key), Conv<T>::json(v), Conv<T>::type, Conv<T>::text(v), desc, from_scenario(e));
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
  cfg_->record(key_path(key), j, "list", j.dump(), desc, from_scenario(e));
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
  cfg_->record(key_path(key), j, "list", j.dump(), desc, from_scenario(e));
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
  cfg_->record(key_path(key), j, "matrix", j.dump(), desc, from_scenario(e));
  return v;
}

template <>
Ranges ConfigNode::get(const std::string& key, const Ranges& def, const std::string& desc) {
  ConfigTree* e = entry(key);
  Ranges v = def;
  const bool present = e && e->kind != ConfigTree::Kind::null;
  if (e) e->used = true;
  const char* what = "expected a list of numbers and [first, last] ranges";
  if (present) {
    if (e->kind != ConfigTree::Kind::seq) fail(key, what);
    v.ranges.clear();
    for (const auto& item : e->seq) {
      if (item->kind == ConfigTree::Kind::scalar) {
        const uint64_t n = convert_scalar<uint64_t>(*this, key, *item);
        v.ranges.push_back({n, n});
        continue;
      }
      if (item->kind != ConfigTree::Kind::seq || item->seq.size() != 2) fail(key, what);
      const uint64_t first = convert_scalar<uint64_t>(*this, key, *item->seq[0]);
      const uint64_t last = convert_scalar<uint64_t>(*this, key, *item->seq[1]);
      if (last < first) fail(key, fmt::format("range [{}, {}] ends before it begins", first, last));
      v.ranges.push_back({first, last});
    }
  }
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const auto& [first, last] : v.ranges)
    j.push_back(first == last ? nlohmann::ordered_json(first) : nlohmann::ordered_json::array({first, last}));
  cfg_->record(key_path(key), j, "ranges", j.dump(), desc, from_scenario(e));
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
      fail(key, fmt::format("expected one of {}, got {}", choices, sim::quoted(v)));
  }
  cfg_->record(key_path(key), v, choices, v, desc, from_scenario(e));
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
