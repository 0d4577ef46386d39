// The core (hw/cpu/core) on a small real machine (DRAM, interconnect,
// interrupt controller, per CPU an MMU and its TLM walker) with a stub
// firmware written here: boot on the bootstrap core, user accesses through
// the MMU, page faults and system calls entering the firmware, the HAL's
// physical accesses, interrupts at operation boundaries, halt; with the RAS
// model (hw/ras): EINJ through the HAL, machine checks, skipped accesses in
// and out of the fast loop's batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "hw/bus/interconnect.h"
#include "hw/cpu/core.h"
#include "hw/cpu/user_program.h"
#include "hw/intc/intc.h"
#include "hw/mem/dram.h"
#include "hw/mmu/mmu.h"
#include "hw/mmu/walker.h"
#include "hw/ras/ras.h"
#include "sw/hal/firmware.h"

namespace hw {
namespace {

using sc_core::SC_NS;
using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

constexpr uint64_t kMem = 64ull << 20, kIntc = 0xfee00000;
constexpr uint64_t kTables = 1ull << 20, kFrames = 8ull << 20;  // where the stub firmware allocates
constexpr uint64_t kUser = x86::PTE_P | x86::PTE_RW | x86::PTE_US;

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%#llx", static_cast<unsigned long long>(v));
  return b;
}

// A user program that runs a list of operations, spinning first while
// `hold` says so; what it sees goes to the bench's log.
struct ScriptProgram : UserProgram {
  std::string name_ = "script";
  std::vector<UserOp> ops;
  std::function<bool()> hold;
  std::vector<std::string>* log = nullptr;
  std::vector<uint64_t> results;  // per operation: the result, or the first 8 bytes accessed
  int exit_status = -1, signal = -1;
  size_t at = 0;

  const std::string& name() const override { return name_; }
  bool next(UserOp& op) override {
    if (hold && hold()) {
      op = UserOp{};
      op.kind = UserOp::Kind::spin;
      return true;
    }
    if (at == ops.size()) return false;
    op = ops[at++];
    return true;
  }
  void complete(const UserOp& op, uint64_t result, const uint8_t* data) override {
    if (op.kind == UserOp::Kind::spin) return;
    uint64_t v = result;
    if (data) std::memcpy(&v, data, std::min<unsigned>(8, op.size));
    results.push_back(v);
    log->push_back("op " + std::to_string(results.size() - 1) + " done");
  }
  void ended(int status, int sig) override {
    exit_status = status;
    signal = sig;
  }
  void signalled(const hal::SigInfo& si) override { signals.push_back(si); }
  void skipped(const UserOp& op) override {
    results.push_back(~0ull);
    log->push_back("op " + std::to_string(results.size() - 1) + " skipped at " + std::to_string(op.va));
  }
  std::vector<hal::SigInfo> signals;
};

// A ScriptProgram whose accesses after its operations come as one batch
// (UserProgram::access_batch), as an access phase makes them: the core's
// fast loop runs them until one is not a memo hit, which next() returns.
struct BatchProgram : ScriptProgram {
  std::vector<UserAccess> batch;
  size_t pos = 0;
  unsigned offered = 0;  // batches the core asked for and got

  bool next(UserOp& op) override {
    if (at < ops.size()) return ScriptProgram::next(op);
    if (pos == batch.size()) return false;
    const UserAccess& a = batch[pos++];
    op = UserOp{};
    op.va = a.va;
    op.size = a.size;
    op.access = a.access;
    std::memcpy(op.wdata, a.data, sizeof a.data);
    return true;
  }
  UserAccess* access_batch(unsigned& n) override {
    n = at == ops.size() ? static_cast<unsigned>(batch.size() - pos) : 0;
    offered += n ? 1 : 0;
    return batch.data() + pos;
  }
  void complete_batch(unsigned n) override {
    for (unsigned i = 0; i < n; ++i, ++pos) {
      results.push_back(batch[pos].data[0]);
      log->push_back("op " + std::to_string(results.size() - 1) + " done in a batch");
    }
  }
};

UserAccess batch_load(uint64_t va) {
  UserAccess a{};
  a.va = va;
  a.size = 8;
  a.access = x86::Access::read;
  return a;
}

UserOp load(uint64_t va) {
  UserOp op;
  op.va = va;
  return op;
}
UserOp store(uint64_t va, uint64_t value) {
  UserOp op;
  op.va = va;
  op.access = x86::Access::write;
  op.wdata[0] = value;
  return op;
}
UserOp syscall(hal::Sys nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
               uint64_t a5 = 0) {
  UserOp op;
  op.kind = UserOp::Kind::syscall;
  op.sys = hal::make_syscall(nr, a0, a1, a2, a3, a4, a5);
  return op;
}

// The stub firmware: 4-level tables built through the HAL, one task per
// spawned program, page faults mapped on demand (unless `on_fault` says
// otherwise), hooks for boot and system calls; everything it is asked goes
// to the log.
struct StubFirmware final : hal::Firmware {
  struct Task {
    int pid;
    unsigned cpu;
    void* user;
    bool live;
  };
  std::vector<std::string>* log = nullptr;
  std::function<void(hal::Hal&)> on_boot;
  std::function<int64_t(hal::Hal&, const hal::SyscallArgs&)> on_syscall;
  std::function<hal::TrapOutcome(hal::Hal&, uint64_t cr2, uint32_t ec)> on_fault;
  std::function<hal::TrapOutcome(hal::Hal&, const hal::MachineCheck&)> on_machine_check;
  std::vector<hal::MachineCheck> machine_checks;
  std::vector<Task> tasks;
  std::vector<hal::SyscallArgs> syscalls;
  std::vector<std::pair<uint64_t, uint32_t>> faults;
  std::vector<unsigned> secondaries, irq_cpus;
  unsigned boots = 0, boot_cpu = ~0u;
  uint64_t root = 0, next_table = kTables, next_frame = kFrames;

  uint64_t alloc(hal::Hal& h, uint64_t& next) {
    const uint64_t f = next;
    next += 4096;
    EXPECT_EQ(h.phys_fill(f, 0, 4096), hal::MemStatus::ok);
    return f;
  }
  uint64_t entry(hal::Hal& h, uint64_t pa) {
    uint64_t e = 0;
    EXPECT_EQ(h.phys_read(pa, &e, 8), hal::MemStatus::ok);
    return e;
  }
  void map(hal::Hal& h, uint64_t va, uint64_t pa) {
    uint64_t table = root;
    for (unsigned l = 4; l > 1; --l) {
      const uint64_t at = table + 8 * x86::pt_index(va, l);
      uint64_t e = entry(h, at);
      if (!(e & x86::PTE_P)) {
        e = alloc(h, next_table) | kUser;
        h.phys_write(at, &e, 8);
      }
      table = e & x86::phys_mask(46);
    }
    const uint64_t leaf = pa | kUser;
    h.phys_write(table + 8 * x86::pt_index(va, 1), &leaf, 8);
  }

  bool boot(hal::Hal& h, const hal::BootInfo&) override {
    ++boots;
    boot_cpu = h.cpu();
    log->push_back("boot");
    h.set_paging_control({true, true, false});
    root = alloc(h, next_table);
    h.write_cr3(root);
    if (on_boot) on_boot(h);
    return true;
  }
  void start_secondary(hal::Hal& h) override {
    secondaries.push_back(h.cpu());
    h.set_paging_control({true, true, false});
    h.write_cr3(root);
  }
  int spawn(hal::Hal&, const char*, unsigned cpu, void* user) override {
    tasks.push_back({static_cast<int>(tasks.size()) + 1, cpu, user, true});
    return tasks.back().pid;
  }
  Task* current(hal::Hal& h) {
    for (Task& t : tasks)
      if (t.live && t.cpu == h.cpu()) return &t;
    return nullptr;
  }
  hal::RunTask schedule(hal::Hal& h) override {
    Task* t = current(h);
    return t ? hal::RunTask{t->pid, t->user} : hal::RunTask{-1, nullptr};
  }
  void timer_tick(hal::Hal&) override {}
  hal::TrapOutcome page_fault(hal::Hal& h, hal::vaddr_t cr2, uint32_t ec) override {
    faults.emplace_back(cr2, ec);
    log->push_back("page fault " + hex(cr2));
    if (on_fault) return on_fault(h, cr2, ec);
    map(h, cr2 & ~0xfffull, alloc(h, next_frame));
    return hal::TrapOutcome::retry;
  }
  hal::TrapOutcome machine_check(hal::Hal& h, const hal::MachineCheck& mc) override {
    machine_checks.push_back(mc);
    log->push_back("machine check " + hex(mc.pa));
    if (on_machine_check) return on_machine_check(h, mc);
    ADD_FAILURE() << "unexpected machine check";
    return hal::TrapOutcome::task_killed;
  }
  hal::TrapOutcome general_protection(hal::Hal&, hal::vaddr_t) override {
    ADD_FAILURE() << "unexpected general-protection fault";
    return hal::TrapOutcome::task_killed;
  }
  void interrupt(hal::Hal& h, uint8_t vector) override {
    irq_cpus.push_back(h.cpu());
    log->push_back("interrupt " + hex(vector));
  }
  int64_t syscall(hal::Hal& h, const hal::SyscallArgs& a) override {
    syscalls.push_back(a);
    log->push_back("syscall " + std::to_string(static_cast<unsigned>(a.nr)));
    if (a.nr == hal::Sys::exit) {
      Task* t = current(h);
      t->live = false;
      h.task_ended(t->pid, t->user, static_cast<int>(a.arg[0]), 0);
      return 0;
    }
    return on_syscall ? on_syscall(h, a) : 0;
  }
};

// `cores` CPUs, each a Core with its MMU and TLM walker, on one DRAM node,
// with the interrupt controller; programs spawned at boot, one per CPU.
struct Bench {
  struct Cpu {
    std::unique_ptr<sim::stats::Group> stats;
    std::unique_ptr<Mmu> mmu;
    std::unique_ptr<PageWalker> walker;
    std::unique_ptr<Core> core;
  };
  std::vector<std::string> log;
  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", SC_ZERO_TIME, &root};
  Dram dram{"dram", Dram::Params{0, kMem, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root};
  InterruptController intc{"intc", kIntc, sc_time(10, SC_NS), &root};
  hal::BootInfo boot_info{};
  StubFirmware fw;
  CoreComplex complex;
  std::vector<Cpu> cpus;
  std::unique_ptr<Ras> ras;  // the machine-check banks: no scrubber, no scheduled injection
  std::vector<std::unique_ptr<ScriptProgram>> programs;

  explicit Bench(unsigned cores = 1) {
    // Cores run ahead of SystemC time by up to a quantum, as in a run.
    tlm_utils::tlm_quantumkeeper::set_global_quantum(sc_time(100, SC_NS));
    bus.to_targets.bind(dram.socket);
    bus.to_targets.bind(intc.socket);
    bus.add_region(0, 0, kMem, "dram");
    bus.add_region(1, kIntc, InterruptController::kMmioSize, "intc");
    boot_info.nr_cpus = cores;
    boot_info.paging_levels = 4;
    boot_info.maxphyaddr = 46;
    fw.log = &log;
    complex.boot_info = &boot_info;
    complex.firmware = &fw;
    complex.set_cores(cores);
    complex.on_boot = [this](hal::Hal& h) {
      for (unsigned c = 0; c < programs.size(); ++c) {
        fw.spawn(h, "script", c, programs[c].get());
        complex.program_started();
      }
    };
    cpus.resize(cores);
    for (unsigned c = 0; c < cores; ++c) {
      Cpu& cpu = cpus[c];
      const std::string n = std::to_string(c);
      cpu.stats = std::make_unique<sim::stats::Group>(&root, "cpu" + n);
      Mmu::Params mp;
      mp.cpu = c;
      cpu.mmu = std::make_unique<Mmu>(("mmu" + n).c_str(), mp, cpu.stats.get());
      cpu.walker = std::make_unique<PageWalker>(("walker" + n).c_str(), &cpu.mmu->stats, static_cast<int>(c));
      Core::Params cp;
      cp.id = c;
      cp.intc_base = kIntc;
      cpu.core = std::make_unique<Core>(("core" + n).c_str(), cp, *cpu.mmu, complex, cpu.stats.get());
      cpu.core->mem_socket.bind(bus.from_initiators);
      cpu.mmu->mem_socket.bind(bus.from_initiators);
      cpu.walker->mem_socket.bind(bus.from_initiators);
      cpu.mmu->walk_socket.bind(cpu.walker->walk_socket);
      cpu.core->mmu_socket.bind(cpu.mmu->cpu_socket);
      intc.connect(c, cpu.core.get());
    }
    ras = std::make_unique<Ras>("ras", Ras::Params{}, cores, std::vector<Dram*>{&dram}, &intc, &root);
    for (unsigned c = 0; c < cores; ++c) {
      ras->connect(c, cpus[c].core.get());
      cpus[c].core->set_ras(ras.get());
    }
  }
  // The program CPU c runs (spawned at boot).
  template <typename Program = ScriptProgram>
  Program& program(std::vector<UserOp> ops) {
    auto p = std::make_unique<Program>();
    Program& ref = *p;
    p->ops = std::move(ops);
    p->log = &log;
    programs.push_back(std::move(p));
    return ref;
  }
  Core& core(unsigned c = 0) { return *cpus.at(c).core; }
  uint64_t word(uint64_t pa) {
    uint64_t v;
    std::memcpy(&v, dram.host(pa), 8);
    return v;
  }
  bool logged_before(const std::string& a, const std::string& b) const {
    auto ia = std::find(log.begin(), log.end(), a), ib = std::find(log.begin(), log.end(), b);
    return ia != log.end() && ib != log.end() && ia < ib;
  }
  std::string trace() const {
    std::string s;
    for (const std::string& l : log) s += "\n  " + l;
    return s;
  }
};

TEST(Core, BootsOnceOnTheBootstrapCoreThenStartsTheOthers) {
  Bench b(2);
  ScriptProgram& p = b.program({load(0x400000)});
  sc_core::sc_start();
  EXPECT_FALSE(b.complex.failed()) << b.complex.error();
  EXPECT_EQ(b.fw.boots, 1u);
  EXPECT_EQ(b.fw.boot_cpu, 0u);
  EXPECT_EQ(b.fw.secondaries, std::vector<unsigned>{1});
  EXPECT_TRUE(b.complex.boot_ok);
  // The program spawned at boot ran on cpu0 and exited; the run ended with it.
  EXPECT_EQ(p.results.size(), 1u);
  EXPECT_EQ(p.exit_status, 0);
  EXPECT_EQ(p.signal, 0);
  EXPECT_EQ(b.complex.live_programs(), 0u);
  EXPECT_EQ(b.core(0).stats.tasks_exited.value(), 1u);
}

TEST(Core, UserLoadsAndStoresGoThroughTheMmu) {
  Bench b;
  b.fw.on_boot = [&](hal::Hal& h) { b.fw.map(h, 0x400000, 0x800000); };
  std::memcpy(b.dram.host(0x800100), "\x0d\xf0\xed\xfe\0\0\0\0", 8);
  ScriptProgram& p = b.program({store(0x400010, 0x1122334455667788), load(0x400010), load(0x400100)});
  sc_core::sc_start();
  ASSERT_FALSE(b.complex.failed()) << b.complex.error();
  EXPECT_EQ(b.word(0x800010), 0x1122334455667788u) << "the store reached the frame the tables map";
  ASSERT_EQ(p.results.size(), 3u);
  EXPECT_EQ(p.results[1], 0x1122334455667788u);
  EXPECT_EQ(p.results[2], 0xfeedf00du);
  EXPECT_TRUE(b.fw.faults.empty());
  EXPECT_EQ(b.core().stats.writes.value(), 1u);
  EXPECT_EQ(b.core().stats.reads.value(), 2u);
  EXPECT_EQ(b.cpus[0].mmu->stats.walks.value(), 1u) << "one walk, then TLB hits";
}

TEST(Core, PageFaultEntersTheFirmwareAndTheAccessIsRetried) {
  Bench b;
  ScriptProgram& p = b.program({store(0x600008, 0xabcdef), load(0x600008)});
  sc_core::sc_start();
  ASSERT_FALSE(b.complex.failed()) << b.complex.error();
  // Not present, a user write: the firmware mapped a frame and the store went there.
  ASSERT_EQ(b.fw.faults.size(), 1u);
  EXPECT_EQ(b.fw.faults[0].first, 0x600008u);
  EXPECT_EQ(b.fw.faults[0].second, x86::PF_W | x86::PF_U);
  EXPECT_EQ(b.word(kFrames + 8), 0xabcdefu);
  EXPECT_EQ(p.results, (std::vector<uint64_t>{0xabcdef, 0xabcdef})) << "each operation completes once";
  EXPECT_TRUE(b.logged_before("page fault 0x600008", "op 0 done")) << b.trace();
  EXPECT_EQ(b.core().stats.page_faults.value(), 1u);
}

TEST(Core, AFaultTheFirmwareNeverResolvesEndsTheRun) {
  Bench b;
  b.fw.on_fault = [](hal::Hal&, uint64_t, uint32_t) { return hal::TrapOutcome::retry; };
  b.program({load(0x600000)});
  sc_core::sc_start();
  ASSERT_TRUE(b.complex.failed());
  EXPECT_NE(b.complex.error().find("access to 0x600000 still faults after 64 retries"), std::string::npos)
      << b.complex.error();
  EXPECT_EQ(b.fw.faults.size(), 65u);
}

TEST(Core, AnAccessWhoseSignalAHandlerTookIsSkippedAndTheProgramGoesOn) {
  Bench b;
  // The firmware delivers SIGBUS to the program's handler and skips the load.
  b.fw.on_fault = [&](hal::Hal& h, uint64_t cr2, uint32_t) {
    auto* t = b.fw.current(h);
    h.signal_delivered(t->pid, t->user, hal::SigInfo{7, 4, cr2 & ~0xfffull, 12});
    return hal::TrapOutcome::skip;
  };
  ScriptProgram& p = b.program({load(0x600010), syscall(hal::Sys::getpid)});
  sc_core::sc_start();
  ASSERT_FALSE(b.complex.failed()) << b.complex.error();
  ASSERT_EQ(p.signals.size(), 1u);
  EXPECT_EQ(p.signals[0].code, 4);
  EXPECT_EQ(p.signals[0].addr, 0x600000u);
  EXPECT_EQ(p.signals[0].addr_lsb, 12u);
  EXPECT_EQ(p.results, (std::vector<uint64_t>{~0ull, 0})) << "the load skipped once, then the call";
  EXPECT_EQ(b.fw.faults.size(), 1u) << "a skipped access is not retried";
  EXPECT_EQ(p.exit_status, 0);
  EXPECT_EQ(b.core().stats.skipped_accesses.value(), 1u);
}

// The stub firmware's SIGBUS for a consumed error: to the program's
// handler, the access skipped (what Linux's kill_me_maybe does for a
// process with a SIGBUS handler).
hal::TrapOutcome sigbus_to_handler(Bench& b, hal::Hal& h, const hal::MachineCheck& mc) {
  auto* t = b.fw.current(h);
  h.signal_delivered(t->pid, t->user, hal::SigInfo{7, 4, mc.va & ~0xfffull, 12});
  return hal::TrapOutcome::skip;
}

TEST(Core, EinjPoisonsTheLineNowAndALoadOfItRaisesAMachineCheckWhoseHandlerSkipsIt) {
  Bench b;
  constexpr uint64_t kPage = kFrames;  // the first frame the stub maps: 0x600000's
  b.fw.on_syscall = [&](hal::Hal& h, const hal::SyscallArgs& a) -> int64_t {
    const bool uc = a.arg[1] == 0;
    if (!h.einj_inject(a.arg[0], uc ? hal::EinjError::uc : hal::EinjError::ce)) return -22;
    // The page's DMI is gone at once: the firmware's own accesses see it too.
    EXPECT_EQ(h.direct_map(kPage, 4096), nullptr);
    return 0;
  };
  b.fw.on_machine_check = [&](hal::Hal& h, const hal::MachineCheck& mc) { return sigbus_to_handler(b, h, mc); };
  ScriptProgram& p = b.program({store(0x600000, 0x1111), store(0x600080, 0x2222),
                                syscall(hal::Sys::sysctl, kPage + 0x40, 0),   // UC in the second line
                                syscall(hal::Sys::sysctl, kPage + 0x80, 1),   // CE in the third
                                syscall(hal::Sys::sysctl, kIntc, 0),          // not DRAM
                                load(0x600048), load(0x600000), load(0x600080)});
  sc_core::sc_start();
  ASSERT_FALSE(b.complex.failed()) << b.complex.error();
  EXPECT_TRUE(b.dram.is_poisoned(kPage + 0x40, 1));
  EXPECT_FALSE(b.dram.is_poisoned(kPage + 0x80, 1));
  EXPECT_EQ(b.dram.corrected_lines().count(kPage + 0x80), 1u);
  EXPECT_EQ(p.results, (std::vector<uint64_t>{0x1111, 0x2222, 0, 0, static_cast<uint64_t>(-22), ~0ull, 0x1111, 0x2222}))
      << "the poisoned line's load skipped; the page's other lines read through transactions, the CE one corrected"
      << b.trace();
  ASSERT_EQ(b.fw.machine_checks.size(), 1u);
  EXPECT_EQ(b.fw.machine_checks[0].pa, kPage + 0x48);
  EXPECT_EQ(b.fw.machine_checks[0].va, 0x600048u);
  EXPECT_EQ(b.fw.machine_checks[0].status & 0xffff, 0x134u) << "a data load's MCACOD";
  ASSERT_EQ(p.signals.size(), 1u);
  EXPECT_EQ(p.signals[0].addr, 0x600000u);
  EXPECT_EQ(b.ras->stats.uc_consumed.value(), 1u);
  EXPECT_EQ(b.ras->stats.ce_logged.value(), 1u) << "the CE line's read logged in the memory controller's bank";
  EXPECT_EQ(b.ras->stats.injected.value(), 0u) << "counts platform.ras.inject only";
  EXPECT_EQ(b.core().stats.skipped_accesses.value(), 1u);
  EXPECT_EQ(p.exit_status, 0);
}

TEST(Core, TheFastLoopStopsAtAnAccessOfAPoisonedPageAndGoesOnAfterItsSkip) {
  Bench b;
  constexpr uint64_t kSecond = kFrames + 4096;  // 0x601000's frame
  b.fw.on_syscall = [&](hal::Hal& h, const hal::SyscallArgs& a) -> int64_t {
    return h.einj_inject(a.arg[0], hal::EinjError::uc) ? 0 : -22;
  };
  b.fw.on_machine_check = [&](hal::Hal& h, const hal::MachineCheck& mc) { return sigbus_to_handler(b, h, mc); };
  // Both pages are mapped and in the TLB (memo hits) before the batch.
  BatchProgram& p = b.program<BatchProgram>({store(0x600000, 0xa), store(0x601040, 0xb), load(0x600000),
                                             load(0x601040), syscall(hal::Sys::sysctl, kSecond)});
  p.batch = {batch_load(0x600000), batch_load(0x601000), batch_load(0x600000), batch_load(0x601040),
             batch_load(0x601000), batch_load(0x600000)};
  sc_core::sc_start();
  ASSERT_FALSE(b.complex.failed()) << b.complex.error();
  // The batch: a memo hit, the poisoned line (stopped, skipped), a hit, the
  // poisoned page's other line (no DMI: a transaction), the poisoned line
  // again (skipped again), a hit.
  EXPECT_EQ(p.results, (std::vector<uint64_t>{0xa, 0xb, 0xa, 0xb, 0, 0xa, ~0ull, 0xa, 0xb, ~0ull, 0xa}))
      << b.trace();
  EXPECT_EQ(b.fw.machine_checks.size(), 2u) << "each skipped load consumed the poison once, none was retried";
  EXPECT_EQ(p.signals.size(), 2u);
  EXPECT_EQ(b.core().stats.skipped_accesses.value(), 2u);
  EXPECT_GE(p.offered, 3u) << "the fast loop took the batch again after each skip";
  EXPECT_EQ(b.core().stats.reads.value(), 8u) << "two loads before the batch, six in it";
  EXPECT_EQ(p.exit_status, 0);
}

TEST(Core, SystemCallReachesTheFirmwareWithItsArgumentsAndReturnsItsResult) {
  Bench b;
  b.fw.on_syscall = [](hal::Hal&, const hal::SyscallArgs& a) -> int64_t {
    return a.nr == hal::Sys::mmap ? 0x7f0000000000 : -38;
  };
  ScriptProgram& p =
      b.program({syscall(hal::Sys::mmap, 0x1000, 0x2000, 3, 0x22, ~0ull, 0x40), syscall(hal::Sys::brk, 0)});
  sc_core::sc_start();
  ASSERT_FALSE(b.complex.failed()) << b.complex.error();
  ASSERT_EQ(b.fw.syscalls.size(), 3u) << "mmap, brk, and the exit of a finished program";
  const hal::SyscallArgs& m = b.fw.syscalls[0];
  EXPECT_EQ(m.nr, hal::Sys::mmap);
  EXPECT_EQ(std::vector<uint64_t>(m.arg, m.arg + 6), (std::vector<uint64_t>{0x1000, 0x2000, 3, 0x22, ~0ull, 0x40}));
  EXPECT_EQ(b.fw.syscalls[2].nr, hal::Sys::exit);
  EXPECT_EQ(p.results, (std::vector<uint64_t>{0x7f0000000000, static_cast<uint64_t>(-38)}));
  EXPECT_EQ(p.exit_status, 0);
  EXPECT_EQ(b.core().stats.syscalls.value(), 3u);
}

TEST(Core, FirmwarePhysicalAccessesGoThroughTheHal) {
  Bench b;
  b.dram.inject_poison(0x330040);
  std::vector<hal::MemStatus> st;
  void* direct = nullptr;
  void* direct_poisoned = reinterpret_cast<void*>(1);
  uint8_t back[16] = {};
  b.fw.on_boot = [&](hal::Hal& h) {
    const uint8_t data[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    st.push_back(h.phys_write(0x300000 - 8, data, 16));  // across a page boundary
    st.push_back(h.phys_read(0x300000 - 8, back, 16));
    st.push_back(h.phys_fill(0x310000 + 100, 0xab, 10000));
    st.push_back(h.phys_copy(0x320000, 0x310000, 12000));
    direct = h.direct_map(0x300000, 4096);
    direct_poisoned = h.direct_map(0x330000, 64);
    uint8_t tmp[128];
    st.push_back(h.phys_read(0x330000, tmp, 8));      // a clean line of a poisoned page
    st.push_back(h.phys_read(0x330000, tmp, 128));    // touches the poisoned line
    st.push_back(h.phys_write(kMem + 4096, tmp, 8));  // nothing decodes it
  };
  b.program({});
  sc_core::sc_start();
  ASSERT_FALSE(b.complex.failed()) << b.complex.error();
  using S = hal::MemStatus;
  EXPECT_EQ(st, (std::vector<S>{S::ok, S::ok, S::ok, S::ok, S::ok, S::poison, S::address_error}));
  EXPECT_EQ(back[0], 1);
  EXPECT_EQ(back[15], 16);
  EXPECT_EQ(*b.dram.host(0x300000), 9) << "the second page got the second half";
  EXPECT_EQ(*b.dram.host(0x310000 + 99), 0);
  EXPECT_EQ(*b.dram.host(0x310000 + 100), 0xab);
  EXPECT_EQ(*b.dram.host(0x310000 + 10099), 0xab);
  EXPECT_EQ(*b.dram.host(0x310000 + 10100), 0);
  EXPECT_EQ(std::memcmp(b.dram.host(0x320000), b.dram.host(0x310000), 12000), 0);
  EXPECT_EQ(direct, b.dram.host(0x300000)) << "the direct map is DRAM's DMI pointer";
  EXPECT_EQ(direct_poisoned, nullptr) << "no direct map over a poisoned page";
  EXPECT_GE(b.core().stats.phys_bytes.value(), 16u + 16 + 10000 + 12000 + 8 + 128 + 8);
}

TEST(Core, InterruptsAreTakenAtOperationBoundariesHighestVectorFirst) {
  Bench b;
  // Two device interrupts pending before the run: taken once boot is done.
  b.intc.device_interrupt(0, 0x31);
  b.intc.device_interrupt(0, 0x40);
  // An IPI a system call sends to its own CPU: taken when the call is done.
  b.fw.on_syscall = [&](hal::Hal& h, const hal::SyscallArgs&) -> int64_t {
    h.send_ipi(0, 0xf0);
    b.log.push_back("ipi sent");
    return 0;
  };
  b.program({syscall(hal::Sys::getpid), load(0x400000)});
  sc_core::sc_start();
  ASSERT_FALSE(b.complex.failed()) << b.complex.error();
  const std::vector<std::string> want = {"boot",      "interrupt 0x40", "interrupt 0x31", "syscall 39",
                                         "ipi sent",  "op 0 done",      "interrupt 0xf0", "page fault 0x400000",
                                         "op 1 done", "syscall 60"};
  EXPECT_EQ(b.log, want) << b.trace();
  EXPECT_EQ(b.core().stats.interrupts.value(), 3u);
  EXPECT_EQ(b.core().stats.ipis_sent.value(), 1u);
  EXPECT_EQ(b.intc.stats.ipis.value(), 1u);
}

TEST(Core, AnIpiWakesAnIdleCoreAndIsTakenThere) {
  Bench b(2);
  ScriptProgram& p = b.program({syscall(hal::Sys::getpid)});
  // cpu0 waits in user mode until cpu1 has taken the interrupt.
  bool sent = false;
  p.hold = [&] { return sent && b.fw.irq_cpus.empty(); };
  b.fw.on_syscall = [&](hal::Hal& h, const hal::SyscallArgs&) -> int64_t {
    h.send_ipi(1, 0xfd);
    sent = true;
    return 0;
  };
  sc_core::sc_start();
  ASSERT_FALSE(b.complex.failed()) << b.complex.error();
  EXPECT_EQ(b.fw.irq_cpus, std::vector<unsigned>{1}) << b.trace();
  EXPECT_EQ(b.core(1).stats.interrupts.value(), 1u);
  EXPECT_EQ(b.core(0).stats.interrupts.value(), 0u);
}

// CR4.LA57 is fixed in long mode: firmware that asks for another paging mode
// than the MMU walks stops the run (hardware: #GP on the MOV to CR4).
TEST(Core, Cr4La57MustMatchThePagingModeOfTheMmu) {
  Bench b;
  b.fw.on_boot = [](hal::Hal& h) { h.set_paging_control({true, true, false, true}); };
  b.program({load(0x400000)});
  sc_core::sc_start();
  ASSERT_TRUE(b.complex.failed());
  EXPECT_NE(b.complex.error().find("the firmware set CR4.LA57=1, but the MMU walks 4 levels"), std::string::npos)
      << b.complex.error();
}

TEST(Core, HaltEndsTheRunWithTheFirmwaresReason) {
  Bench b;
  b.fw.on_syscall = [](hal::Hal& h, const hal::SyscallArgs&) -> int64_t {
    h.halt("stub: out of memory");
    return 0;  // not reached (gcc does not see through the virtual [[noreturn]])
  };
  ScriptProgram& p = b.program({syscall(hal::Sys::getpid), load(0x400000)});
  sc_core::sc_start();
  ASSERT_TRUE(b.complex.failed());
  EXPECT_EQ(b.complex.error(), "core0: firmware panic on cpu0: stub: out of memory");
  EXPECT_TRUE(p.results.empty()) << "nothing ran after the panic";
  EXPECT_EQ(p.signal, -1) << "the program did not end: the machine stopped";
}

}  // namespace
}  // namespace hw
