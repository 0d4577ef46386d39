// Virtual memory and huge pages end to end: TLB reach by page
// size, huge-page translations at every offset class, Linux mm-selftest
// mirrors, THP under fragmentation, a four-core TLB shootdown, and a real
// program's trace. Scenarios: tb/scenarios/vm/.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <regex>
#include <sstream>

#include "tb/common/mmcosim_run.h"
#include "tb/workload/lackey.h"

namespace tb {
namespace {

const std::string kVm = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/vm/";

// A monitor command showing va's translation in pid 1 and n bytes there.
std::string translate_command(uint64_t va, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "translate 1 %#llx %zu\n", static_cast<unsigned long long>(va), n);
  return buf;
}

std::map<std::string, double> run_ok(const std::string& name, std::vector<std::string> args) {
  const std::string out = temp_dir(name);
  args.insert(args.begin(), "run");
  args.push_back("--outdir");
  args.push_back(out);
  args.push_back("--no-progress");
  RunResult r = run_mmcosim(args);
  EXPECT_EQ(r.status, 0) << r.output;
  if (r.status != 0) return {};
  return read_stats(out + "/stats.txt");
}

double stat(const std::map<std::string, double>& s, const std::string& name) {
  auto it = s.find(name);
  EXPECT_NE(it, s.end()) << "no statistic " << name;
  return it == s.end() ? NAN : it->second;
}

TEST(Vm, HugePagesCutWalksOfAUniformRandomWorkload) {
  struct Config {
    const char* name;
    std::vector<std::string> sets;
  };
  const std::vector<Config> configs = {
      {"4 KiB pages", {}},
      {"THP", {"--set", "firmware.transparent_hugepage=always"}},
      {"2 MiB hugetlb",
       {"--set", "workload.processes[0].ops[0].mmap.huge=2MiB", "--set", "firmware.hugepages_2m=512"}},
      {"1 GiB hugetlb",
       {"--set", "workload.processes[0].ops[0].mmap.huge=1GiB", "--set", "firmware.hugepages_1g=1"}},
  };
  std::vector<double> walks, stlb;
  std::string table = "page size        walks/1000 accesses  STLB misses/1000 accesses\n";
  for (const Config& c : configs) {
    std::vector<std::string> args = {kVm + "tlb-reach.yaml"};
    args.insert(args.end(), c.sets.begin(), c.sets.end());
    auto s = run_ok(std::string("reach-") + std::to_string(walks.size()), args);
    ASSERT_FALSE(s.empty()) << c.name;
    walks.push_back(stat(s, "system.cpu0.walksPerKiloAccess"));
    stlb.push_back(stat(s, "system.cpu0.stlbMissesPerKiloAccess"));
    char line[160];
    std::snprintf(line, sizeof line, "%-16s %19.3f %26.3f\n", c.name, walks.back(), stlb.back());
    table += line;
  }
  std::printf("%s", table.c_str());  // for the record: ctest --output-on-failure -V shows it
  RecordProperty("tlb_reach", table);
  // Uniform random over 1 GiB defeats a 4 KiB STLB: nearly every access walks.
  EXPECT_GT(walks[0], 500);
  // 2 MiB pages: 512 translations, which the STLB holds: at least 50x fewer walks.
  EXPECT_GE(walks[0] / std::max(walks[2], 1e-9), 50.0) << table;
  // THP gives huge pages too (apart from any range a huge page could not cover).
  EXPECT_GE(walks[0] / std::max(walks[1], 1e-9), 10.0) << table;
  EXPECT_LE(walks[3], walks[2]) << table;
}

// The physical address and the bytes the monitor shows for `va`.
struct Seen {
  uint64_t pa = 0;
  std::string page;
  std::vector<unsigned> bytes;
};

std::map<uint64_t, Seen> parse_translations(const std::string& out) {
  std::map<uint64_t, Seen> seen;
  std::regex line("(0x[0-9a-f]+) -> (0x[0-9a-f]+) \\(([0-9]+[KMG]) page[^\\n]*\\n  [0-9]+ bytes at 0x[0-9a-f]+: ([0-9a-f ]+)");
  for (std::sregex_iterator it(out.begin(), out.end(), line), end; it != end; ++it) {
    Seen s;
    s.pa = std::stoull((*it)[2].str(), nullptr, 16);
    s.page = (*it)[3].str();
    std::istringstream bs((*it)[4].str());
    std::string b;
    while (bs >> b) s.bytes.push_back(static_cast<unsigned>(std::stoul(b, nullptr, 16)));
    seen[std::stoull((*it)[1].str(), nullptr, 16)] = s;
  }
  return seen;
}

TEST(Vm, EveryOffsetClassOfHugePagesTranslatesToTheRightByte) {
  // The scenario writes known values; stop before its munmap and look at
  // each address from the physical side, through the firmware's tables.
  struct Probe {
    uint64_t va;
    std::vector<unsigned> bytes;
  };
  const uint64_t h2 = 0x40000000, h1 = 0x80000000;
  const std::vector<Probe> probes = {
      {h2, {0xa1}}, {h2 + 63, {0xa2}}, {h2 + 64, {0xa3}},
      {h2 + 0x7c, {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}},  // across a cache line
      {h2 + 4095, {0xa4}}, {h2 + 4096, {0xa5}}, {h2 + 0x100000, {0xa6}}, {h2 + 0x1fffff, {0xa7}},
      {h1, {0xb1}}, {h1 + 0xfc, {0x00, 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99}},
      {h1 + 4095, {0xb2}}, {h1 + 0x200000, {0xb3}}, {h1 + 0x20000000, {0xb4}}, {h1 + 0x3fffffff, {0xb5}},
  };
  std::string script = "until syscall\nuntil syscall\nuntil syscall\n";
  for (const Probe& p : probes) script += translate_command(p.va, p.bytes.size());
  script += "continue\nquit\n";
  const std::string dir = temp_dir("huge-offsets");
  RunResult r = run_mmcosim({"run", kVm + "huge-offsets.yaml", "--script", write_file(dir, "cmds", script), "--outdir",
                             dir + "/out"});
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_NE(r.output.find("system call 11"), std::string::npos) << "did not stop before the munmap\n" << r.output;
  const auto seen = parse_translations(r.output);
  for (const Probe& p : probes) {
    auto it = seen.find(p.va);
    ASSERT_NE(it, seen.end()) << "no translation shown for " << std::hex << p.va << "\n" << r.output;
    EXPECT_EQ(it->second.bytes, p.bytes) << "wrong bytes at the physical address of va " << std::hex << p.va;
    const bool in_2m = p.va < h1;
    EXPECT_EQ(it->second.page, in_2m ? "2M" : "1G") << std::hex << p.va;
    // Within one huge page, physical = physical of the page start + offset.
    const uint64_t base = seen.at(in_2m ? h2 : h1).pa;
    EXPECT_EQ(it->second.pa - base, p.va - (in_2m ? h2 : h1)) << std::hex << p.va;
    EXPECT_EQ(base % (in_2m ? 0x200000 : 0x40000000), 0u) << "a huge page must be physically aligned";
  }
}

// 5-level paging: mmap hints above 2^47 give 57-bit addresses (the scenario
// checks where each mapping lands and every load against the shadow), in
// lockstep with the RTL walker; the PML5E cache lets a walk skip the root.
TEST(Vm, La57HintsAbove47BitsMapTheUpperUserSpace) {
  const std::string out = temp_dir("la57-hint");
  RunResult r = run_mmcosim({"run", kVm + "la57-hint.yaml", "--walker=lockstep", "--outdir", out, "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto s = read_stats(out + "/stats.txt");
  EXPECT_EQ(stat(s, "system.cpu0.mmu.lockstep.mismatches"), 0);
  EXPECT_GT(stat(s, "system.cpu0.mmu.pwc.pml5e.hits"), 0);
  EXPECT_GT(stat(s, "system.workload.la57.verifiedReads"), 1000000);
  EXPECT_GT(stat(s, "system.workload.child.verifiedReads"), 0);
  // And with 4 levels the high hint cannot be honoured: the scenario's own check fails the run.
  RunResult four = run_mmcosim({"run", kVm + "la57-hint.yaml", "--set", "platform.paging_levels=4", "--outdir",
                                temp_dir("la57-hint4"), "-q", "--no-progress"});
  EXPECT_EQ(four.status, 1);
  EXPECT_NE(four.output.find("mmap placed high at [0x7ff"), std::string::npos) << four.output;
}

TEST(Vm, SelftestMapHugetlb256MiB) {
  auto s = run_ok("hugetlb-256m", {kVm + "hugetlb-256m.yaml"});
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(stat(s, "system.workload.map_hugetlb.verifiedReads"), 256 << 20 >> 3);
  EXPECT_EQ(stat(s, "system.cpu0.core.pageFaults"), 128) << "one fault per 2 MiB page";
  EXPECT_GE(stat(s, "system.cpu0.mmu.walker.leaves2M"), 128);
  EXPECT_EQ(stat(s, "system.cpu0.mmu.walker.leaves4K"), 0);
}

TEST(Vm, SelftestMadvPopulate) {
  auto s = run_ok("populate", {kVm + "populate.yaml"});
  ASSERT_FALSE(s.empty());
  // Populated ranges are present: neither the reads nor the writes fault.
  EXPECT_EQ(stat(s, "system.cpu0.core.pageFaults"), 0);
  EXPECT_EQ(stat(s, "system.workload.madv_populate.failedSyscalls"), 1) << "populate_write of a read-only mapping";
}

TEST(Vm, SelftestCowAfterForkIsolatesBothWaysAlsoForThp) {
  auto s = run_ok("cow-fork", {kVm + "cow-fork.yaml"});
  ASSERT_FALSE(s.empty());
  EXPECT_GT(stat(s, "system.workload.child.verifiedReads"), 0);
  EXPECT_GT(stat(s, "system.workload.parent.verifiedReads"), 0);
  EXPECT_GE(stat(s, "system.fw.vmstat.thp_fault_alloc"), 1) << "the madvised region got a huge page";
  EXPECT_EQ(stat(s, "system.fw.buddy.free_pages"), stat(s, "system.fw.buddy.boot_free_pages"))
      << "every page came back after both exited";
}

TEST(Vm, SelftestHugetlbDontneedRefaultsZeros) {
  auto s = run_ok("hugetlb-dontneed", {kVm + "hugetlb-dontneed.yaml"});
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(stat(s, "system.cpu0.core.pageFaults"), 4) << "two huge pages, then two again after MADV_DONTNEED";
}

TEST(Vm, ThpFallsBackUnderFragmentationAndKhugepagedCollapsesLater) {
  auto s = run_ok("thp-frag", {kVm + "thp-fragmentation.yaml"});
  ASSERT_FALSE(s.empty());
  EXPECT_GT(stat(s, "system.fw.vmstat.thp_fault_fallback"), 0);
  EXPECT_GT(stat(s, "system.fw.vmstat.thp_collapse_alloc"), 0);
}

TEST(Vm, ShootdownLeavesNoCoreTranslatingAnUnmappedPage) {
  // Stop before the munmap (the fifth system call: mmap, three clones,
  // munmap), then at the next one, after it.
  std::string script = "until syscall\nuntil syscall\nuntil syscall\nuntil syscall\nuntil syscall\n";
  script += "tlb 0\ntlb 1\ntlb 2\ntlb 3\necho --- after the munmap ---\nuntil syscall\ntlb 0\ntlb 1\ntlb 2\ntlb 3\n";
  script += "continue\nquit\n";
  const std::string dir = temp_dir("shootdown");
  RunResult r = run_mmcosim({"run", kVm + "shootdown-4cores.yaml", "--script", write_file(dir, "cmds", script),
                             "--outdir", dir + "/out"});
  ASSERT_EQ(r.status, 0) << r.output;
  const size_t split = r.output.find("\n--- after the munmap ---");
  ASSERT_NE(split, std::string::npos) << r.output;
  const std::string before = r.output.substr(0, split), after = r.output.substr(split);
  ASSERT_NE(before.find("system call 11 (0x10000000, 0x1000"), std::string::npos) << "not stopped at the munmap\n"
                                                                                 << before;
  // Every other core had read the page: each of their TLBs holds it.
  for (int cpu = 1; cpu <= 3; ++cpu) {
    const size_t at = before.find("cpu" + std::to_string(cpu) + ": CR3");
    ASSERT_NE(at, std::string::npos);
    const size_t next = before.find("cpu", at + 4);
    EXPECT_NE(before.substr(at, next - at).find("va 0x000010000000 "), std::string::npos)
        << "cpu" << cpu << " should hold the page before the munmap";
  }
  // After the munmap no core does.
  EXPECT_EQ(after.find("va 0x000010000000 "), std::string::npos) << "a core still translates the unmapped page\n"
                                                                  << after;
  EXPECT_NE(after.find("va 0x000010001000 "), std::string::npos) << "the rest of the mapping is still there";
}

TEST(Vm, LackeyTraceOfARealProgramReplaysCleanAndAddsUp) {
  const LackeyTrace trace(MMCOSIM_SAMPLE_TRACE, 0);
  const std::string dir = temp_dir("replay");
  const std::string scen = write_file(dir, "s.yaml",
                                      "platform: {memory: {size: 1GiB}}\n"
                                      "workload:\n  processes:\n    - name: sample\n      ops:\n"
                                      "        - replay: {file: " MMCOSIM_SAMPLE_TRACE "}\n");
  auto s = run_ok("replay-run", {scen});
  ASSERT_FALSE(s.empty());
  const double tlb = stat(s, "system.cpu0.mmu.itlb.accesses") + stat(s, "system.cpu0.mmu.dtlb.accesses");
  EXPECT_EQ(tlb, static_cast<double>(trace.counts().accesses() + trace.counts().page_splits))
      << "TLB lookups must be the trace's accesses plus its page-crossing splits";
  EXPECT_EQ(stat(s, "system.cpu0.mmu.itlb.accesses"),
            static_cast<double>(trace.counts().fetches + trace.counts().fetch_splits))
      << "instruction fetches (and their page-crossing splits) go through the ITLB";
  EXPECT_EQ(stat(s, "system.cpu0.core.pageFaults"), 0) << "the replay's mappings are populated";
  EXPECT_GT(stat(s, "system.workload.sample.verifiedReads"), 0);
}

// The replay on a second host thread (the op's `threads`: it reads the trace
// ahead and checks the shadow behind the simulation) runs the same machine.
TEST(Vm, LackeyReplayOnTwoHostThreadsIsTheOneThreadRunExactly) {
  const std::string dir = temp_dir("replay-threads");
  std::string out[2];
  for (unsigned threads : {1u, 2u}) {
    const std::string scen = write_file(dir, "s" + std::to_string(threads) + ".yaml",
                                        "platform: {memory: {size: 1GiB}}\n"
                                        "workload:\n  processes:\n    - name: sample\n      ops:\n"
                                        "        - replay: {file: " MMCOSIM_SAMPLE_TRACE ", threads: " +
                                            std::to_string(threads) + "}\n");
    out[threads - 1] = dir + "/out" + std::to_string(threads);
    const RunResult r = run_mmcosim({"run", scen, "--outdir", out[threads - 1], "-q", "--no-progress"});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(read_file(out[0] + "/stats.txt"), read_file(out[1] + "/stats.txt"));
  EXPECT_EQ(read_file(out[0] + "/stats.json"), read_file(out[1] + "/stats.json"));
}

}  // namespace
}  // namespace tb
