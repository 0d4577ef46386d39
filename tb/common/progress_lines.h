// For tests of trace progress: the progress lines a pass printed, each one
// checked for the format (tb/workload/lackey.h, TraceProgress).
#pragma once

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace tb {

struct ProgressLine {
  std::string records, rate;
  int percent;
};

// The progress lines of `what` ("checking trace", "replaying") for `path`
// in `printed`; every line of `printed` must be a progress line.
inline std::vector<ProgressLine> progress_lines(const std::string& printed, const std::string& what,
                                                const std::string& path) {
  static const std::regex re("mmcosim: ([a-z ]+) (.*): ([0-9]+\\.[0-9]{2}) M records \\(([0-9]+\\.[0-9]{2}) M records/s\\), "
                             "([0-9]+)% of the file");
  std::vector<ProgressLine> out;
  std::istringstream in(printed);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    EXPECT_TRUE(std::regex_match(l, m, re)) << l;
    if (!m.empty() && m[1].str() == what && m[2].str() == path) out.push_back({m[3].str(), m[4].str(), std::stoi(m[5].str())});
  }
  return out;
}

// Progress through a pass: rates above zero, the fraction of the file never
// going back nor past the whole.
inline void expect_progress(const std::vector<ProgressLine>& lines) {
  int last = 0;
  for (const ProgressLine& l : lines) {
    EXPECT_GT(std::stod(l.rate), 0.0);
    EXPECT_GE(l.percent, last);
    EXPECT_LE(l.percent, 100);
    last = l.percent;
  }
}

}  // namespace tb
