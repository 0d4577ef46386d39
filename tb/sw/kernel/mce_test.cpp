// Machine-check grading and logging (sw/kernel/mce.cpp) on the host HAL:
// mce_severity() against the rows of Linux 6.18's severities[] table that
// this platform's records hit, the record a HAL without banks stands for,
// and what Kernel::machine_check logs and does for each grade.
#include <gtest/gtest.h>

#include <cstring>

#include "sw/hal/x86_mce.h"
#include "sw/kernel/mce.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;
using namespace x86;
using fw::MceContext;
using fw::MceSeverity;

namespace {

constexpr uint64_t kExc = MCG_STATUS_MCIP | MCG_STATUS_EIPV | MCG_STATUS_RIPV;
constexpr uint64_t kSrarLoad = 0xbd80000000000134ull;   // VAL UC EN MISCV ADDRV S AR, data load
constexpr uint64_t kSrarFetch = 0xbd80000000000150ull;  // ... instruction fetch
constexpr uint64_t kSrao = 0xbd000000000000c0ull;       // VAL UC EN MISCV ADDRV S, memory scrub
constexpr uint64_t kUcnaScrub = 0xbc000000000000c0ull;  // S clear: reported through CMCI
constexpr uint64_t kCe = 0x9c0000400000009full;         // VAL EN MISCV ADDRV, count 1, memory read

void expect_grade(uint64_t mcg, uint64_t status, MceContext ctx, bool exc, MceSeverity sev, const char* msg) {
  const fw::MceGrade g = fw::mce_severity(mcg, status, ctx, true, exc);
  EXPECT_EQ(g.sev, sev) << msg;
  EXPECT_STREQ(g.msg, msg);
}

TEST(fw_mce, severity_follows_linux_for_the_platform_records) {
  expect_grade(kExc, kSrarLoad, MceContext::user, true, MceSeverity::ar,
               "Action required: data load error in a user process");
  expect_grade(kExc, kSrarFetch, MceContext::user, true, MceSeverity::ar,
               "Action required: instruction fetch error in a user process");
  expect_grade(kExc, kSrarLoad, MceContext::kernel_recov, true, MceSeverity::ar,
               "Action required: data load in error recoverable area of kernel");
  expect_grade(kExc, kSrarLoad, MceContext::kernel, true, MceSeverity::panic,
               "Data load in unrecoverable area of kernel");
  expect_grade(kExc, kSrarFetch, MceContext::kernel, true, MceSeverity::panic, "Instruction fetch error in kernel");
  expect_grade(MCG_STATUS_MCIP | MCG_STATUS_RIPV, kSrao, MceContext::kernel, true, MceSeverity::ao,
               "Action optional: memory scrubbing error");
  expect_grade(0, kUcnaScrub, MceContext::kernel, false, MceSeverity::ao, "Action optional: memory scrubbing error");
  expect_grade(0, 0xbc00000000000134ull, MceContext::kernel, false, MceSeverity::ucna,
               "Uncorrected no action required");
  expect_grade(0, kCe, MceContext::kernel, false, MceSeverity::keep, "Non signaled machine check");
  EXPECT_STREQ(fw::mce_severity(0, kCe, MceContext::kernel, false, false).msg, "Corrected error");  // no SER_P
}

TEST(fw_mce, severity_panic_and_keep_cases) {
  expect_grade(kExc, kSrarLoad | MCI_STATUS_PCC, MceContext::user, true, MceSeverity::panic,
               "Processor context corrupt");
  expect_grade(kExc, kSrarLoad | MCI_STATUS_OVER, MceContext::user, true, MceSeverity::panic,
               "Action required with lost events");
  expect_grade(MCG_STATUS_EIPV | MCG_STATUS_RIPV, kSrarLoad, MceContext::user, true, MceSeverity::panic,
               "MCIP not set in MCA handler");
  expect_grade(MCG_STATUS_MCIP, kSrarLoad, MceContext::user, true, MceSeverity::panic,
               "Neither restart nor error IP");
  expect_grade(MCG_STATUS_MCIP | MCG_STATUS_EIPV, kSrarLoad, MceContext::kernel, true, MceSeverity::panic,
               "In kernel and no restart IP");
  expect_grade(MCG_STATUS_MCIP | MCG_STATUS_RIPV, kSrarLoad, MceContext::user, true, MceSeverity::keep,
               "Action required but unaffected thread is continuable");
  expect_grade(kExc, kSrarLoad & ~MCI_STATUS_EN, MceContext::user, true, MceSeverity::none, "Not enabled");
  expect_grade(kExc, 0, MceContext::user, true, MceSeverity::none, "Invalid");
  expect_grade(kExc, (kSrarLoad & ~0xffffull) | 0x0005, MceContext::user, true, MceSeverity::panic,
               "Action required: unknown MCACOD");
}

TEST(fw_mce, a_record_without_bank_registers_is_the_platforms) {
  hal::MachineCheck mc{};
  mc.pa = 0x1234040;
  mc.action_required = true;
  const hal::MachineCheck ar = fw::Mce::record_of(mc);
  EXPECT_EQ(ar.status, kSrarLoad);
  EXPECT_EQ(ar.addr, 0x1234040u);
  EXPECT_EQ(ar.mcg_status, kExc);
  mc.action_required = false;
  const hal::MachineCheck ao = fw::Mce::record_of(mc);
  EXPECT_EQ(ao.status, kSrao);
  EXPECT_EQ(ao.bank, 2u);
  // A record the hardware filled is taken as it is.
  mc.status = kCe;
  EXPECT_EQ(fw::Mce::record_of(mc).status, kCe);
}

TEST(fw_mce, machine_check_logs_linux_lines_and_acts_on_the_grade) {
  Rig r(spec_mb(64));
  r.start_process(0, "victim");
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, x86::PAGE_SIZE));
  const uint64_t pa = r.access(0, a);
  // A scrub find (SRAO): logged as Linux does, nobody killed.
  hal::MachineCheck mc{};
  mc.pa = pa;
  mc.bank = 2;
  mc.mcg_status = MCG_STATUS_MCIP | MCG_STATUS_RIPV;
  mc.status = kSrao;
  mc.addr = pa;
  mc.misc = 0x86;
  EXPECT_EQ(r.k->machine_check(r.cpu(), mc), hal::TrapOutcome::retry);
  EXPECT_EQ(r.k->nr_tasks(), 1u);
  char want[160];
  std::snprintf(want, sizeof want, "mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 2: %016llx",
                static_cast<unsigned long long>(kSrao));
  EXPECT_NE(r.console().find(want), std::string::npos) << r.console();
  std::snprintf(want, sizeof want, "ADDR %llx MISC 86", static_cast<unsigned long long>(pa));
  EXPECT_NE(r.console().find(want), std::string::npos) << r.console();
  EXPECT_NE(r.console().find("mce: [Hardware Error]: Run the above through 'mcelog --ascii'"), std::string::npos);
  // memory_failure(pfn, 0): a dirty page nobody asked to hear of early.
  char mf[120];
  std::snprintf(mf, sizeof mf, "Memory failure: %#llx: recovery action for dirty LRU page: Recovered",
                static_cast<unsigned long long>(pa >> 12));
  EXPECT_NE(r.console().find(mf), std::string::npos) << r.console();
  EXPECT_EQ(r.k->mce_stats().action_optional, 1u);
  EXPECT_EQ(r.k->mce_stats().records, 1u);
  // The same line consumed by the task's load (SRAR): SIGBUS.
  mc.bank = 0;
  mc.mcg_status = kExc;
  mc.status = kSrarLoad;
  mc.va = a;
  mc.va_valid = true;
  EXPECT_EQ(r.k->machine_check(r.cpu(), mc), hal::TrapOutcome::task_killed);
  EXPECT_EQ(r.k->nr_tasks(), 0u);
  EXPECT_EQ(r.k->mce_stats().action_required, 1u);
  EXPECT_EQ(r.k->mce_stats().records, 2u);
  EXPECT_EQ(r.k->task_stats().sigbus, 1u);
}

}  // namespace
