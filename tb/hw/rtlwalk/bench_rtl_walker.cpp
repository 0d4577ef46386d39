// Host speed of the RTL walker (hw::RtlWalker around the Verilated
// rtl/walker.sv) against the TLM walker (hw::PageWalker), on the same page
// tables in one binary (docs/rtl-walker.md, "Host speed"):
//   BM_TlmWalkerDmi/L  walks of the TLM walker reading through DMI (as with
//                      --walker=tlm);
//   BM_TlmWalker/L     the TLM walker reading through transactions (as the
//                      RTL walker did before its plain reads used DMI);
//   BM_RtlWalker/L     the same walks on the RTL walker (its plain reads
//                      through DMI, as in a run);
//   BM_RtlVsTlm/L      all three, interleaved batch by batch: host CPU ns
//                      per walk of each, and the ratios RTL / TLM through
//                      transactions ("ratio") and RTL / TLM with DMI
//                      ("ratio_dmi").
// L is the level the walks start at: 2 is a walk whose paging-structure
// cache supplied the PML4E and PDPTE (two reads: the default scenario's
// typical walk), 4 a full walk from CR3 (four reads). Every walk arrives
// with a small annotated delay, as the MMU's do (the RTL walker waits it
// first: the benchmark never lets it start ahead, as a one-CPU run does),
// and hits a page whose entries have A and D set, so
// walks only read. Walks are issued from a SystemC thread in batches.
#include <benchmark/benchmark.h>

#include <time.h>

#include <cstring>
#include <functional>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "hw/bus/interconnect.h"
#include "hw/mem/dram.h"
#include "hw/mmu/walker.h"
#include "hw/rtlwalk/rtl_walker.h"
#include "tb/common/bench_page_tables.h"

namespace {

using namespace hw;
using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

constexpr uint64_t kMem = 64ull << 20;
constexpr uint64_t kBase = 0x0000000020000000;
constexpr unsigned kPages = 2048;  // four page tables
constexpr unsigned kBatch = 256;   // walks per batch (one sc_start)

// Forwards page-table accesses and grants no DMI: a walker behind it reads
// through transactions.
struct NoDmi : sc_core::sc_module {
  tlm_utils::simple_target_socket<NoDmi> in{"in"};
  tlm_utils::simple_initiator_socket<NoDmi> out{"out"};
  explicit NoDmi(sc_core::sc_module_name n) : sc_module(n) { in.register_b_transport(this, &NoDmi::forward); }
  void forward(tlm::tlm_generic_payload& t, sc_time& d) {
    out->b_transport(t, d);
    t.set_dmi_allowed(false);
  }
};

struct World : sc_core::sc_module {
  SC_HAS_PROCESS(World);
  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", SC_ZERO_TIME, &root};
  Dram dram{"dram", Dram::Params{0, kMem, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root};
  PageWalker tlm_dmi{"tlm_dmi", &root, 0};
  PageWalker tlm{"tlm", &root, 0};
  NoDmi no_dmi{"no_dmi"};
  RtlWalker rtl{"rtl", RtlWalker::Params{}, &root, "rtlWalker"};
  // The walkers' walk sockets must be bound; the bench calls walk() directly.
  tlm_utils::simple_initiator_socket<World> to_tlm_dmi{"to_tlm_dmi"}, to_tlm{"to_tlm"}, to_rtl{"to_rtl"};
  uint64_t cr3 = 0;
  uint64_t pd[kPages / 512] = {};  // the page directory of each page table's range

  std::function<void()> job;
  sc_core::sc_event go;

  explicit World(sc_core::sc_module_name n) : sc_module(n) {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, kMem, "dram");
    tlm_dmi.mem_socket.bind(bus.from_initiators);
    tlm.mem_socket.bind(no_dmi.in);
    no_dmi.out.bind(bus.from_initiators);
    rtl.mem_socket.bind(bus.from_initiators);
    to_tlm_dmi.bind(tlm_dmi.walk_socket);
    to_tlm.bind(tlm.walk_socket);
    to_rtl.bind(rtl.walk_socket);
    SC_THREAD(driver);
  }
  void build() {
    sc_core::sc_start(SC_ZERO_TIME);
    tb::BenchPageTables tables(dram, 1 << 20);
    for (unsigned i = 0; i < kPages; ++i) {
      const uint64_t va = kBase + 0x1000ull * i;
      tables.map(va, 0x2000000 + 0x1000ull * i);
      pd[(va - kBase) >> 21] = tables.tables[2];
    }
    cr3 = tables.cr3;
  }
  // Runs `fn` in the driver thread and the simulation until it returns.
  void run(std::function<void()> fn) {
    job = std::move(fn);
    go.notify(SC_ZERO_TIME);
    sc_core::sc_start();
  }
  void driver() {
    for (;;) {
      sc_core::wait(go);
      if (job) job();
    }
  }
};

World* world = nullptr;

WalkRequest request(unsigned i, unsigned start_level) {
  WalkRequest rq;
  rq.va = kBase + 0x1000ull * (i % kPages);
  rq.cr3 = world->cr3;
  rq.user = true;
  rq.start_level = start_level;
  rq.start_table = start_level == 4 ? world->cr3 : world->pd[(rq.va - kBase) >> 21];
  return rq;
}

// CPU seconds of this thread (the SystemC kernel and all its processes run
// on it): a busy machine slows both walkers' batches alike, not one more
// than the other as wall time would.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// One batch of walks on `walker`; returns the host CPU seconds it took.
template <typename Walker>
double batch(Walker& walker, unsigned start_level, unsigned& i, uint64_t& sum, bool& ok) {
  double seconds = 0;
  world->run([&] {
    WalkResult r;
    const double t0 = cpu_seconds();
    for (unsigned k = 0; k < kBatch; ++k) {
      sc_time d(1, SC_NS);
      walker.walk(request(i++, start_level), r, d);
      sum += r.pa;
      ok = ok && r.status == WalkStatus::ok;
    }
    seconds = cpu_seconds() - t0;
  });
  return seconds;
}

void per_walk_counter(benchmark::State& state) {
  state.counters["walk"] = benchmark::Counter(static_cast<double>(kBatch),
                                              benchmark::Counter::kIsIterationInvariantRate |
                                                  benchmark::Counter::kInvert);
}

template <typename Walker>
void run_one(benchmark::State& state, Walker& walker) {
  const unsigned start_level = static_cast<unsigned>(state.range(0));
  unsigned i = 0;
  uint64_t sum = 0;
  bool ok = true;
  for (auto _ : state) batch(walker, start_level, i, sum, ok);
  benchmark::DoNotOptimize(sum);
  if (!ok) state.SkipWithError("a walk failed");
  per_walk_counter(state);
}

void BM_TlmWalkerDmi(benchmark::State& state) { run_one(state, world->tlm_dmi); }
void BM_TlmWalker(benchmark::State& state) { run_one(state, world->tlm); }
void BM_RtlWalker(benchmark::State& state) { run_one(state, world->rtl); }

void BM_RtlVsTlm(benchmark::State& state) {
  const unsigned start_level = static_cast<unsigned>(state.range(0));
  unsigned i = 0, j = 0, k = 0;
  uint64_t sum = 0;
  bool ok = true;
  double dmi_s = 0, tlm_s = 0, rtl_s = 0;
  for (auto _ : state) {
    dmi_s += batch(world->tlm_dmi, start_level, i, sum, ok);
    tlm_s += batch(world->tlm, start_level, j, sum, ok);
    rtl_s += batch(world->rtl, start_level, k, sum, ok);
  }
  benchmark::DoNotOptimize(sum);
  if (!ok) state.SkipWithError("a walk failed");
  const double walks = static_cast<double>(state.iterations()) * kBatch;
  state.counters["tlm_dmi_ns"] = dmi_s / walks * 1e9;
  state.counters["tlm_ns"] = tlm_s / walks * 1e9;
  state.counters["rtl_ns"] = rtl_s / walks * 1e9;
  state.counters["ratio"] = tlm_s > 0 ? rtl_s / tlm_s : 0.0;
  state.counters["ratio_dmi"] = dmi_s > 0 ? rtl_s / dmi_s : 0.0;
}

BENCHMARK(BM_TlmWalkerDmi)->Arg(2)->Arg(4);
BENCHMARK(BM_TlmWalker)->Arg(2)->Arg(4);
BENCHMARK(BM_RtlWalker)->Arg(2)->Arg(4);
BENCHMARK(BM_RtlVsTlm)->Arg(2)->Arg(4);

}  // namespace

// libsystemc provides main() and calls sc_main.
int sc_main(int argc, char** argv) {
  World w("world");
  world = &w;
  w.build();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
