// The malformed-input corpus (tb/system/malformed/): every scenario there is
// bad input, each of its own kind (syntax, types, ranges, overlaps, dangling
// references, truncated and binary traces, overflowing addresses, absurd
// counts and sizes, deep nesting). mmcosim must reject each with exit status
// 2 and one line on stderr naming the file, the line and the key, at once:
// never a hang (the time limit), a crash or a second line.
//
// A case says what its error must be in its first lines:
//   # error: LINE: TEXT   the line starts "mmcosim: FILE:LINE: TEXT"
//   # also: TEXT          the line holds TEXT too (a trace's file and line)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

namespace fs = std::filesystem;

const std::string kCorpus = std::string(MMCOSIM_SOURCE_DIR) + "/tb/system/malformed";
// Far beyond the second bad input takes, even on a loaded machine.
constexpr unsigned kLimitSeconds = 20;

std::vector<std::string> corpus() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kCorpus))
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The case's expectations: the "# error:" line and any "# also:" lines.
struct Expectation {
  std::string prefix;
  std::vector<std::string> also;
};

Expectation expectation_of(const std::string& path) {
  Expectation x;
  const std::string text = read_file(path);
  size_t start = 0;
  while (start < text.size() && text[start] == '#') {
    const size_t nl = std::min(text.find('\n', start), text.size());
    const std::string line = text.substr(start, nl - start);
    if (line.rfind("# error: ", 0) == 0) x.prefix = "mmcosim: " + path + ":" + line.substr(9);
    else if (line.rfind("# also: ", 0) == 0) x.also.push_back(line.substr(8));
    start = nl + 1;
  }
  return x;
}

class Malformed : public testing::TestWithParam<std::string> {};

TEST_P(Malformed, IsRejectedWithOneLineNamingFileLineAndKey) {
  const std::string path = kCorpus + "/" + GetParam() + ".yaml";
  const Expectation x = expectation_of(path);
  ASSERT_FALSE(x.prefix.empty()) << path << ": the case has no '# error: LINE: TEXT' line";
  const std::string out = temp_dir("malformed-" + GetParam());
  const RunResult r = run_mmcosim({"run", path, "--outdir", out, "-q", "--no-progress"}, kLimitSeconds);
  ASSERT_NE(r.status, 124) << "no answer within " << kLimitSeconds << " s";
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_EQ(r.output.rfind(x.prefix, 0), 0u) << "output: " << r.output << "wanted: " << x.prefix;
  for (const std::string& a : x.also) EXPECT_NE(r.output.find(a), std::string::npos) << r.output << "wanted: " << a;
}

INSTANTIATE_TEST_SUITE_P(Corpus, Malformed, testing::ValuesIn(corpus()),
                         [](const testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(MalformedCorpus, HoldsAtLeastFortyCasesOfEveryKind) {
  const std::vector<std::string> names = corpus();
  EXPECT_GE(names.size(), 40u);
  for (const char* kind : {"syntax-", "type-", "range-", "overlap-", "dangling-", "trace-", "binary-", "absurd-",
                           "nesting-"})
    EXPECT_TRUE(std::any_of(names.begin(), names.end(), [&](const std::string& n) { return n.rfind(kind, 0) == 0; }))
        << "no case of kind " << kind;
}

}  // namespace
}  // namespace tb
