// The monitor, driven by a command script: it stops after boot, steps,
// runs until events, dumps page tables and TLBs, and still writes the
// run's outputs.
#include <gtest/gtest.h>

#include <regex>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

RunResult run_script(const std::string& name, const std::string& commands) {
  const std::string dir = temp_dir(name);
  const std::string script = write_file(dir, "cmds", commands);
  return run_mmcosim({"run", "--script", script, "--outdir", dir + "/out"});
}

TEST(Monitor, StepsAndShowsTheFaultedPageInThePageTables) {
  RunResult r = run_script("monitor-step", "step 2\nptdump 1\ntlb\nuntil exit\nquit\n");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("firmware booted on system.cpu0.core; 1 process(es) spawned"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("app: store of 8 bytes at"), std::string::npos) << r.output;
  // One 4 KiB user page, present, writable, user, no-exec, dirty: the page the first store faulted in.
  EXPECT_TRUE(std::regex_search(r.output, std::regex("0x00007fff[0-9a-f]{8}-0x00007fff[0-9a-f]{8} +4K +RW USR +NX A D pte")))
      << r.output;
  EXPECT_NE(r.output.find("---[ Kernel Space ]---"), std::string::npos);
  EXPECT_TRUE(std::regex_search(r.output, std::regex("dtlb:\n  va 0x7fff[0-9a-f]+ -> pa ")));
  EXPECT_NE(r.output.find("pid 1 exited with status 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("16384 page faults"), std::string::npos) << r.output;
}

TEST(Monitor, UntilFaultStopsBeforeTheFirmwareRuns) {
  RunResult r = run_script("monitor-fault", "until fault\nstats system.fw.vmstat.pgfault\ncontinue\nquit\n");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("page fault at 0x7fff[0-9a-f]+, error code 0x6 \\(about to enter")))
      << r.output;
  // Stopped before the handler: the firmware has counted no fault yet.
  EXPECT_TRUE(std::regex_search(r.output, std::regex("system\\.fw\\.vmstat\\.pgfault +0\n"))) << r.output;
  EXPECT_NE(r.output.find("simulation finished"), std::string::npos);
}

TEST(Monitor, UntilATimeAlreadyReachedIsRefused) {
  RunResult r = run_script("monitor-until-time", "until time 1ms\nuntil time 1ms\ntime\nquit\n");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("until time 1ms: the simulation is at 1000000000 ps"), std::string::npos) << r.output;
  // Refused, it ran nothing: the time is still the break's.
  EXPECT_NE(r.output.find("0.001000000 s (1000000000 ps)"), std::string::npos) << r.output;
}

TEST(Monitor, ProcFilesPoisonAndBadCommands) {
  RunResult r = run_script("monitor-misc", "buddyinfo\nmeminfo\nfrobnicate\nstep 0\npoison 0x5000\nquit\n");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Node 0, zone"), std::string::npos);
  EXPECT_NE(r.output.find("MemTotal:"), std::string::npos);
  EXPECT_NE(r.output.find("unknown command 'frobnicate'"), std::string::npos);
  EXPECT_NE(r.output.find("step: N must be a positive number"), std::string::npos);
  EXPECT_NE(r.output.find("poisoned the line at 0x5000"), std::string::npos);
}

TEST(Monitor, DmaListsDevicesTransfersMappingsAndSwiotlb) {
  RunResult r = run_script("monitor-dma", "dma\nquit\n");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("dma0: dma, 24-bit, registers 0x[0-9a-f]+, vector"))) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("dma1: dma, 32-bit, registers 0x[0-9a-f]+, vector"))) << r.output;
  EXPECT_NE(r.output.find("idle; no transfer yet"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mappings (the DMA checker's view):\ndma0: 24-bit,"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("swiotlb:\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("io_tlb_nslabs: "), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tb
