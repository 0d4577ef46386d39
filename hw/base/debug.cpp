#include "hw/base/debug.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace sim::debug {

namespace {
std::vector<Flag*>& registry() {
  static std::vector<Flag*> flags;
  return flags;
}
}  // namespace

Flag::Flag(const char* name, const char* desc) : name_(name), desc_(desc) {
  // Sorted by name: flags register from static constructors of several
  // files, in whatever order the linker chose.
  std::vector<Flag*>& flags = registry();
  auto at = std::lower_bound(flags.begin(), flags.end(), this,
                             [](const Flag* a, const Flag* b) { return std::strcmp(a->name(), b->name()) < 0; });
  flags.insert(at, this);
}

const std::vector<Flag*>& all_flags() { return registry(); }

std::vector<Flag*> named(const std::string& list, std::string& unknown) {
  std::vector<Flag*> out;
  unknown.clear();
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string name = list.substr(start, comma - start);
    if (!name.empty()) {
      bool found = false;
      for (Flag* f : registry()) {
        if (name == "All" || name == f->name()) {
          out.push_back(f);
          found = true;
        }
      }
      if (!found) {
        unknown = name;
        return {};
      }
    }
    start = comma + 1;
  }
  return out;
}

std::string enable(const std::string& list) {
  return for_each_named(list, [](Flag& f) { f.enabled = true; });
}

void disable_all() {
  for (Flag* f : registry()) f->enabled = false;
}

void vprint(uint64_t tick_ps, const char* who, fmt::string_view format, fmt::format_args args) {
  fmt::memory_buffer buf;
  fmt::format_to(std::back_inserter(buf), "{:>12}: {}: ", tick_ps, who);
  fmt::vformat_to(std::back_inserter(buf), format, args);
  buf.push_back('\n');
  std::fwrite(buf.data(), 1, buf.size(), stdout);
}

}  // namespace sim::debug
