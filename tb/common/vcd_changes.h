// For tests of waveforms: how often each signal of a VCD file changes.
#pragma once

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace tb {

// Value changes per signal ("scope.name") of a VCD file.
inline std::map<std::string, int> vcd_changes(const std::string& file) {
  std::ifstream in(file);
  std::map<std::string, std::string> names;  // id -> scope.name
  std::map<std::string, int> changes;
  std::vector<std::string> scopes;
  std::string line, w, a, b, id, name;
  bool defs = true;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    w.clear();
    ls >> w;
    if (defs) {
      if (w == "$scope" && ls >> a >> name) scopes.push_back(name);
      else if (w == "$upscope") scopes.pop_back();
      else if (w == "$var" && ls >> a >> b >> id >> name)
        names[id] = (scopes.empty() ? "" : scopes.back()) + "." + name;
      else if (w == "$enddefinitions") defs = false;
      continue;
    }
    if (w.empty() || w[0] == '#') continue;
    if (w[0] == 'b') ls >> id;
    else id = w.substr(1);
    ++changes[names[id]];
  }
  return changes;
}

}  // namespace tb
