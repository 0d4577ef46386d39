// The RTL walker's SystemVerilog assertions are compiled into the model the
// platform links (Verilated with --assert) and stop the simulation when
// violated. These tests drive the Verilated model directly, break a rule of
// its environment on purpose, and expect the process to die on that
// assertion (a death test: the violation happens in a child process).
#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>
#include <functional>

#include <systemc>

#include "Vwalker.h"

namespace {

// A bare bench around the Verilated walker: every port on a signal, and a
// thread that resets it and then runs `scenario` on a clock it toggles.
struct BareBench : sc_core::sc_module {
  SC_HAS_PROCESS(BareBench);

  Vwalker dut{"dut"};
  sc_core::sc_signal<bool> clk{"clk"}, rst_n{"rst_n"};
  sc_core::sc_signal<bool> req_valid, req_ready, req_user, req_wp, req_nxe, req_acc_rw, req_acc_us, req_acc_nx;
  sc_core::sc_signal<uint32_t> req_access, req_levels, req_maxphyaddr, req_start_level;
  sc_core::sc_signal<uint64_t> req_va, req_cr3, req_start_table;
  sc_core::sc_signal<bool> mem_req_valid, mem_req_ready, mem_req_write, mem_req_lock;
  sc_core::sc_signal<bool> mem_rsp_valid, mem_rsp_ready, mem_rsp_error, mem_rsp_poison;
  sc_core::sc_signal<uint64_t> mem_req_addr, mem_req_wdata, mem_rsp_data;
  sc_core::sc_signal<bool> rsp_valid, rsp_ready, rsp_rw, rsp_us, rsp_nx, rsp_global, rsp_dirty, rsp_mc_poison;
  sc_core::sc_signal<uint32_t> rsp_status, rsp_leaf_level, rsp_memtype, rsp_error_code, rsp_fault_level;
  sc_core::sc_signal<uint32_t> rsp_pte_valid, rsp_mem_reads, rsp_mem_writes, rsp_restarts;
  sc_core::sc_signal<uint64_t> rsp_pa, rsp_fault_pte_addr, rsp_mc_addr;
  sc_core::sc_signal<sc_dt::sc_bv<5 * 52>> rsp_pte_addr;
  sc_core::sc_signal<sc_dt::sc_bv<5 * 64>> rsp_pte_value;

  std::function<void(BareBench&)> scenario;

  explicit BareBench(sc_core::sc_module_name n) : sc_module(n) {
    dut.clk(clk);
    dut.rst_n(rst_n);
    dut.req_valid(req_valid);
    dut.req_ready(req_ready);
    dut.req_va(req_va);
    dut.req_access(req_access);
    dut.req_user(req_user);
    dut.req_cr3(req_cr3);
    dut.req_wp(req_wp);
    dut.req_nxe(req_nxe);
    dut.req_levels(req_levels);
    dut.req_maxphyaddr(req_maxphyaddr);
    dut.req_start_level(req_start_level);
    dut.req_start_table(req_start_table);
    dut.req_acc_rw(req_acc_rw);
    dut.req_acc_us(req_acc_us);
    dut.req_acc_nx(req_acc_nx);
    dut.mem_req_valid(mem_req_valid);
    dut.mem_req_ready(mem_req_ready);
    dut.mem_req_addr(mem_req_addr);
    dut.mem_req_write(mem_req_write);
    dut.mem_req_wdata(mem_req_wdata);
    dut.mem_req_lock(mem_req_lock);
    dut.mem_rsp_valid(mem_rsp_valid);
    dut.mem_rsp_ready(mem_rsp_ready);
    dut.mem_rsp_data(mem_rsp_data);
    dut.mem_rsp_error(mem_rsp_error);
    dut.mem_rsp_poison(mem_rsp_poison);
    dut.rsp_valid(rsp_valid);
    dut.rsp_ready(rsp_ready);
    dut.rsp_status(rsp_status);
    dut.rsp_pa(rsp_pa);
    dut.rsp_leaf_level(rsp_leaf_level);
    dut.rsp_rw(rsp_rw);
    dut.rsp_us(rsp_us);
    dut.rsp_nx(rsp_nx);
    dut.rsp_global(rsp_global);
    dut.rsp_dirty(rsp_dirty);
    dut.rsp_memtype(rsp_memtype);
    dut.rsp_error_code(rsp_error_code);
    dut.rsp_fault_level(rsp_fault_level);
    dut.rsp_fault_pte_addr(rsp_fault_pte_addr);
    dut.rsp_mc_addr(rsp_mc_addr);
    dut.rsp_mc_poison(rsp_mc_poison);
    dut.rsp_pte_valid(rsp_pte_valid);
    dut.rsp_pte_addr(rsp_pte_addr);
    dut.rsp_pte_value(rsp_pte_value);
    dut.rsp_mem_reads(rsp_mem_reads);
    dut.rsp_mem_writes(rsp_mem_writes);
    dut.rsp_restarts(rsp_restarts);
    SC_THREAD(run);
  }

  // Rising edge half a period after the inputs changed, then back to the
  // sample point (inputs are driven from here, between edges).
  void cycle() {
    wait(sc_core::sc_time(500, sc_core::SC_PS));
    clk.write(true);
    wait(sc_core::sc_time(500, sc_core::SC_PS));
    clk.write(false);
  }

  void legal_request(uint64_t va) {
    req_va.write(va);
    req_cr3.write(0x10000);
    req_levels.write(4);
    req_start_level.write(4);
    req_maxphyaddr.write(46);
    req_access.write(0);
    req_acc_rw.write(true);
    req_acc_us.write(true);
    req_valid.write(true);
  }

  void run() {
    rst_n.write(false);
    cycle();
    cycle();
    rst_n.write(true);
    cycle();
    if (scenario) scenario(*this);
    for (int i = 0; i < 10; ++i) cycle();
  }
};

// Runs `scenario` on a fresh bench (in the death test's child), with the
// model's messages on stderr where the death test reads them.
void run_bench(std::function<void(BareBench&)> scenario) {
  dup2(2, 1);
  BareBench bench("bench");
  bench.scenario = std::move(scenario);
  sc_core::sc_start();
}

TEST(RtlWalkerAssertionsDeathTest, MemoryResponseWithoutRequestStopsTheSimulation) {
  EXPECT_EXIT(run_bench([](BareBench& b) {
                b.mem_rsp_valid.write(true);  // nothing was asked
                b.cycle();
              }),
              testing::KilledBySignal(SIGABRT), "ASSUME_MEM_RSP_ONLY_WHEN_PENDING");
}

TEST(RtlWalkerAssertionsDeathTest, RequestWithdrawnBeforeAcceptanceStopsTheSimulation) {
  EXPECT_EXIT(run_bench([](BareBench& b) {
                // Hold the walker busy (a walk waiting for memory), then
                // offer a request and withdraw it before it is accepted.
                b.legal_request(0x1000);
                b.cycle();  // accepted: the walker is busy now
                b.legal_request(0x2000);
                b.cycle();  // offered while busy: not accepted
                b.req_valid.write(false);
                b.cycle();
              }),
              testing::KilledBySignal(SIGABRT), "ASSUME_REQ_STABLE");
}

TEST(RtlWalkerAssertionsDeathTest, IllegalRequestStopsTheSimulation) {
  EXPECT_EXIT(run_bench([](BareBench& b) {
                b.legal_request(0x1000);
                b.req_start_level.write(5);  // above req_levels
                b.cycle();
              }),
              testing::KilledBySignal(SIGABRT), "ASSUME_REQ_LEGAL");
}

// Without a violation the same bench runs to the end.
TEST(RtlWalkerAssertionsDeathTest, LegalTrafficRunsThrough) {
  EXPECT_EXIT(
      {
        run_bench([](BareBench& b) {
          b.legal_request(0x1000);
          b.mem_req_ready.write(true);
          b.cycle();
          b.req_valid.write(false);
          b.cycle();  // the walker offers its read; accepted on this edge
          b.mem_rsp_valid.write(true);  // a not-present entry (data 0)
          b.mem_rsp_data.write(0);
          b.cycle();
          b.mem_rsp_valid.write(false);
          b.rsp_ready.write(true);
          b.cycle();
        });
        std::exit(0);
      },
      testing::ExitedWithCode(0), "");
}

}  // namespace
