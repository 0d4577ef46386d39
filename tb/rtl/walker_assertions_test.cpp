// The RTL walker's SystemVerilog assertions are compiled into the model the
// platform links (Verilated with --assert) and stop the simulation when
// violated. These tests drive the Verilated model directly, break a rule of
// its environment on purpose, and expect the process to die on that
// assertion (a death test: the violation happens in a child process).
#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>
#include <functional>

#include "Vwalker.h"

namespace {

// A bare bench around the Verilated walker (a C++ model, as the transactor
// drives it): ports set directly, a clock toggled by hand, a reset, then
// `scenario`.
struct BareBench {
  Vwalker dut{"dut"};
  std::function<void(BareBench&)> scenario;

  // Settle the inputs with the clock low, then the rising edge.
  void cycle() {
    dut.eval();
    dut.clk = 1;
    dut.eval();
    dut.clk = 0;
  }

  void legal_request(uint64_t va) {
    dut.req_va = va;
    dut.req_cr3 = 0x10000;
    dut.req_levels = 4;
    dut.req_start_level = 4;
    dut.req_maxphyaddr = 46;
    dut.req_access = 0;
    dut.req_acc_rw = 1;
    dut.req_acc_us = 1;
    dut.req_valid = 1;
  }

  void run() {
    dut.rst_n = 0;
    cycle();
    cycle();
    dut.rst_n = 1;
    cycle();
    if (scenario) scenario(*this);
    for (int i = 0; i < 10; ++i) cycle();
  }
};

// Runs `scenario` on a fresh bench (in the death test's child), with the
// model's messages on stderr where the death test reads them.
void run_bench(std::function<void(BareBench&)> scenario) {
  dup2(2, 1);
  BareBench bench;
  bench.scenario = std::move(scenario);
  bench.run();
}

TEST(RtlWalkerAssertionsDeathTest, MemoryResponseWithoutRequestStopsTheSimulation) {
  EXPECT_EXIT(run_bench([](BareBench& b) {
                b.dut.mem_rsp_valid = 1;  // nothing was asked
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
                b.dut.req_valid = 0;
                b.cycle();
              }),
              testing::KilledBySignal(SIGABRT), "ASSUME_REQ_STABLE");
}

TEST(RtlWalkerAssertionsDeathTest, IllegalRequestStopsTheSimulation) {
  EXPECT_EXIT(run_bench([](BareBench& b) {
                b.legal_request(0x1000);
                b.dut.req_start_level = 5;  // above req_levels
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
          b.dut.mem_req_ready = 1;
          b.cycle();
          b.dut.req_valid = 0;
          b.cycle();  // the walker offers its read; accepted on this edge
          b.dut.mem_rsp_valid = 1;  // a not-present entry (data 0)
          b.dut.mem_rsp_data = 0;
          b.cycle();
          b.dut.mem_rsp_valid = 0;
          b.dut.rsp_ready = 1;
          b.cycle();
        });
        std::exit(0);
      },
      testing::ExitedWithCode(0), "");
}

}  // namespace
