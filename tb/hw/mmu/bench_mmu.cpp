// Host speed of the MMU model (the targets of docs/mmu.md), with a raw baseline
// measured in the same binary:
//   BM_RawBaseline       a host-side array lookup plus a pointer access: what a
//                        TLB hit costs at the very least;
//   BM_TlbHit            a hit of the L1 DTLB on the fast path as a core's loop
//                        runs it (Mmu::try_memo with the fast-path state and the
//                        time in locals): target at most 2x the baseline;
//   BM_TlbHitOneCall     the same through Mmu::try_access (time in memory);
//   ...Cycling           both again with every access on the next page, so
//                        that every hit changes the LRU order (worst case);
//   BM_RawBaselineTimed  the baseline plus what every simulated access must
//                        do besides the lookup: advance the caller's time;
//   BM_MissStlbHit       an L1 miss that hits the STLB (slow path, no walk);
//   BM_MissPwcHitWalk    an L1 miss whose walk hits the PDE cache (one
//                        page-table read): target under 100 ns;
//   BM_MissColdWalk      an L1 miss with a full 4-level walk (no PWC hit):
//                        target under 250 ns;
//   BM_WalkerPwcHit / BM_WalkerCold   the walker alone for the same walks.
// The miss benchmarks run the whole miss path a core runs: try_access going
// on to the slow path (called directly, as the core does), the PWC lookup,
// the walk (the TLM walker called directly, as the platform binds it; its
// reads through DMI), the TLB fill and the data access. At the end a summary prints medians (or means, without
// repetitions) and the ratios.
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "hw/bus/interconnect.h"
#include "hw/mem/dram.h"
#include "hw/mmu/mmu.h"
#include "hw/mmu/walker.h"
#include "tb/common/bench_page_tables.h"

namespace {

using namespace hw;
using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

constexpr uint64_t kMem = 64ull << 20;
constexpr uint64_t kHitBase = 0x0000000010000000;   // 32 pages the DTLB holds
constexpr uint64_t kWalkBase = 0x0000000020000000;  // 512 pages of one page table
constexpr unsigned kHitPages = 32, kWalkPages = 512;

struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket{"socket"};
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n) {}
};

struct Cpu {
  std::unique_ptr<Mmu> mmu;
  std::unique_ptr<PageWalker> walker;
  std::unique_ptr<Initiator> core;
  // The core's time, kept across the runs of a benchmark (Google Benchmark
  // calls it once per calibration step and per repetition): restarting at
  // zero would put every access of the next run before the walks the last
  // one left in flight, which would then still be in the window.
  sc_time now = SC_ZERO_TIME;
};

const bool kNotMonitored = false;

// One machine, several differently configured MMUs over the same tables.
struct World {
  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", SC_ZERO_TIME, &root};
  Dram dram{"dram", Dram::Params{0, kMem, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root};
  Cpu hit, stlb, pwc, cold;
  uint64_t cr3 = 0, pt = 0;  // the root, and the page table of the walk pages

  void make(Cpu& c, const char* name, const Mmu::Params& p) {
    c.mmu = std::make_unique<Mmu>(name, p, &root);
    c.walker = std::make_unique<PageWalker>((std::string(name) + "_walker").c_str(), &c.mmu->stats, 0);
    c.core = std::make_unique<Initiator>((std::string(name) + "_core").c_str());
    c.mmu->mem_socket.bind(bus.from_initiators);
    c.walker->mem_socket.bind(bus.from_initiators);
    c.mmu->walk_socket.bind(c.walker->walk_socket);
    c.mmu->set_direct_walker(c.walker.get(), &kNotMonitored);  // as the platform binds the TLM walker
    c.core->socket.bind(c.mmu->cpu_socket);
  }
  World() {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, kMem, "dram");
    // A one-entry DTLB makes every access of the walk benchmarks miss.
    TlbArray::Geometry one;
    one.sets = 1;
    one.ways = 1;
    one.sizes = {0, 1, 2};
    Mmu::Params def, with_stlb, pwc_only, none;
    with_stlb.dtlb = {one};
    pwc_only.dtlb = {one};
    pwc_only.stlb.clear();
    none.dtlb = {one};
    none.stlb.clear();
    none.pwc.enabled = false;
    make(hit, "hit", def);
    make(stlb, "stlb", with_stlb);
    make(pwc, "pwc", pwc_only);
    make(cold, "cold", none);
    sc_core::sc_start(SC_ZERO_TIME);
    tb::BenchPageTables tables(dram, 1 << 20);
    for (unsigned i = 0; i < kHitPages; ++i) tables.map(kHitBase + 0x1000ull * i, 0x2000000 + 0x1000ull * i);
    for (unsigned i = 0; i < kWalkPages; ++i) tables.map(kWalkBase + 0x1000ull * i, 0x3000000 + 0x1000ull * i);
    cr3 = tables.cr3;
    pt = tables.tables[1];
    for (Cpu* c : {&hit, &stlb, &pwc, &cold}) c->mmu->write_cr3(cr3);
  }
};

World* world = nullptr;

// The address of access i. Streaming: 512 consecutive 8-byte words of a
// page, then the next of the 32 pages (spatial locality, as a program walking
// an array). Cycling: each access to the next page (every hit changes the
// TLB's replacement order: the worst case for the fast path).
template <bool Cycling>
inline uint64_t hit_va(uint64_t i) {
  return Cycling ? kHitBase + ((i % kHitPages) << 12) + ((i * 8) & 0xff8)
                 : kHitBase + ((i * 8) & (kHitPages * 4096 - 1));
}

// The raw baselines' translation: a direct-mapped table of the hit pages'
// host addresses, the least any TLB model can do.
struct RawTable {
  struct Slot {
    uint64_t vpn;
    uint8_t* host;
  };
  Slot slots[64];
  RawTable() {
    for (unsigned i = 0; i < kHitPages; ++i) {
      const uint64_t vpn = (kHitBase >> 12) + i;
      slots[vpn & 63] = {vpn, world->dram.host(0x2000000 + 0x1000ull * i)};
    }
  }
  const Slot& operator[](uint64_t va) const { return slots[(va >> 12) & 63]; }
};

template <bool Cycling>
void BM_RawBaseline(benchmark::State& state) {
  const RawTable table;
  uint64_t i = 0, sum = 0;
  for (auto _ : state) {
    const uint64_t va = hit_va<Cycling>(i++);
    const RawTable::Slot& s = table[va];
    uint64_t v = 0;
    if (__builtin_expect(s.vpn == (va >> 12), 1)) std::memcpy(&v, s.host + (va & 0xfff), 8);
    sum += v;
    benchmark::DoNotOptimize(sum);
  }
}

// The raw baseline shaped like the MMU's API: the caller's data buffer and
// time live in memory across accesses (as a core's do), and each access
// advances the time by its latency. Not the target's baseline: it shows what
// of the fast path's cost is the obligatory time annotation.
__attribute__((noinline)) void escape(void* p) { benchmark::DoNotOptimize(p); }

template <bool Cycling>
void BM_RawBaselineTimed(benchmark::State& state) {
  const RawTable table;
  sc_time delay = SC_ZERO_TIME;
  const sc_time cost(1, SC_NS);
  uint64_t v = 0;
  escape(&delay);
  escape(&v);
  uint64_t i = 0, sum = 0;
  for (auto _ : state) {
    const uint64_t va = hit_va<Cycling>(i++);
    const RawTable::Slot& s = table[va];
    if (__builtin_expect(s.vpn == (va >> 12), 1)) std::memcpy(&v, s.host + (va & 0xfff), 8);
    delay += cost;
    sum += v;
    benchmark::DoNotOptimize(sum);
  }
}

template <bool Cycling>
void BM_TlbHit(benchmark::State& state) {
  Mmu& mmu = *world->hit.mmu;
  sc_time delay = SC_ZERO_TIME;
  uint64_t v = 0;
  for (uint64_t i = 0; i < 4 * kHitPages; ++i) {  // warm the DTLB; walks complete
    delay += sc_time(1, sc_core::SC_US);
    if (!mmu.try_access(hit_va<true>(i), 8, x86::Access::read, true, &v, delay)) {
      tlm::tlm_generic_payload t;
      MmuAccessExtension ext;
      t.set_extension(&ext);
      t.set_command(tlm::TLM_READ_COMMAND);
      t.set_address(hit_va<true>(i));
      t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
      t.set_data_length(8);
      t.set_streaming_width(8);
      world->hit.core->socket->b_transport(t, delay);
      t.clear_extension(&ext);
    }
  }
  // As a core's loop runs it: the fast-path state and the time in locals.
  uint64_t i = 0, sum = 0, local_ps = 0;
  Mmu::FastState fs = mmu.fast_begin();
  for (auto _ : state) {
    uint64_t x;
    const uint64_t va = hit_va<Cycling>(i++);
    if (__builtin_expect(!mmu.try_memo(va, 8, x86::Access::read, true, &x, fs, local_ps), 0)) {
      // Not in the memo: the rest of the fast path, as a core does it.
      mmu.fast_end(fs);
      sc_time d(static_cast<double>(local_ps), sc_core::SC_PS);
      const bool hit = mmu.try_access(va, 8, x86::Access::read, true, &x, d);
      local_ps = static_cast<uint64_t>(d / sc_time(1, sc_core::SC_PS));
      fs = mmu.fast_begin();
      if (!hit) {
        state.SkipWithError("a TLB hit did not take the fast path");
        break;
      }
    }
    sum += x;
    benchmark::DoNotOptimize(sum);
  }
  mmu.fast_end(fs);
  benchmark::DoNotOptimize(local_ps);
}

// The same hits through the one-call form (try_access with an sc_time the
// caller keeps in memory): what a caller that does not batch pays.
template <bool Cycling>
void BM_TlbHitOneCall(benchmark::State& state) {
  Mmu& mmu = *world->hit.mmu;
  sc_time delay = SC_ZERO_TIME;
  uint64_t v = 0;
  escape(&delay);
  escape(&v);
  uint64_t i = 0, sum = 0;
  for (auto _ : state) {
    if (__builtin_expect(!mmu.try_access(hit_va<Cycling>(i++), 8, x86::Access::read, true, &v, delay), 0)) {
      state.SkipWithError("a TLB hit did not take the fast path");
      break;
    }
    sum += v;
    benchmark::DoNotOptimize(sum);
  }
}

// One access of the miss path per iteration, 1 us of core time apart (so
// earlier walks are over), over the 512 pages of one page table. As
// Core::execute_access does it: try_access with the core's extension, which
// goes on to the slow path (no TLM payload).
void run_misses(benchmark::State& state, Cpu& cpu) {
  MmuAccessExtension ext;
  uint64_t v = 0;
  ext.access = x86::Access::read;
  sc_time& now = cpu.now;
  const sc_time step(1, sc_core::SC_US);
  uint64_t i = 0, sum = 0;
  const uint64_t walks0 = cpu.walker->stats.walks.value();
  for (auto _ : state) {
    const uint64_t va = kWalkBase + ((i++ % kWalkPages) << 12);
    now += step;
    sc_time delay = now;
    cpu.mmu->try_access(va, 8, x86::Access::read, true, &v, delay, ext);
    sum += v;
    benchmark::DoNotOptimize(sum);
  }
  state.counters["walks/access"] =
      static_cast<double>(cpu.walker->stats.walks.value() - walks0) / static_cast<double>(state.iterations());
  state.counters["ptReads/walk"] =
      cpu.walker->stats.walks.value() ? static_cast<double>(cpu.walker->stats.pt_reads.value()) /
                                             static_cast<double>(cpu.walker->stats.walks.value())
                                       : 0.0;
}

void BM_MissStlbHit(benchmark::State& state) {
  for (unsigned i = 0; i < kWalkPages; ++i) {  // warm the STLB
    world->stlb.now += sc_time(1, sc_core::SC_US);
    sc_time d = world->stlb.now;
    uint64_t v = 0;
    tlm::tlm_generic_payload t;
    MmuAccessExtension ext;
    t.set_extension(&ext);
    t.set_command(tlm::TLM_READ_COMMAND);
    t.set_address(kWalkBase + 0x1000ull * i);
    t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
    t.set_data_length(8);
    t.set_streaming_width(8);
    world->stlb.core->socket->b_transport(t, d);
    t.clear_extension(&ext);
  }
  run_misses(state, world->stlb);
}
void BM_MissPwcHitWalk(benchmark::State& state) { run_misses(state, world->pwc); }
void BM_MissColdWalk(benchmark::State& state) { run_misses(state, world->cold); }

void run_walker(benchmark::State& state, unsigned start_level) {
  PageWalker& w = *world->cold.walker;
  WalkRequest rq;
  rq.cr3 = world->cr3;
  rq.start_level = start_level;
  rq.start_table = start_level == 4 ? world->cr3 : world->pt;
  WalkResult r;
  uint64_t i = 0, sum = 0;
  for (auto _ : state) {
    rq.va = kWalkBase + ((i++ % kWalkPages) << 12);
    sc_time d = SC_ZERO_TIME;
    w.walk(rq, r, d);
    sum += r.pa;
    benchmark::DoNotOptimize(sum);
  }
  if (r.status != WalkStatus::ok) state.SkipWithError("the walk failed");
}
void BM_WalkerPwcHit(benchmark::State& state) { run_walker(state, 1); }
void BM_WalkerCold(benchmark::State& state) { run_walker(state, 4); }

BENCHMARK_TEMPLATE(BM_RawBaseline, false)->Name("BM_RawBaseline");
BENCHMARK_TEMPLATE(BM_TlbHit, false)->Name("BM_TlbHit");
BENCHMARK_TEMPLATE(BM_RawBaseline, true)->Name("BM_RawBaselineCycling");
BENCHMARK_TEMPLATE(BM_TlbHit, true)->Name("BM_TlbHitCycling");
BENCHMARK_TEMPLATE(BM_RawBaselineTimed, false)->Name("BM_RawBaselineTimed");
BENCHMARK_TEMPLATE(BM_RawBaselineTimed, true)->Name("BM_RawBaselineTimedCycling");
BENCHMARK_TEMPLATE(BM_TlbHitOneCall, false)->Name("BM_TlbHitOneCall");
BENCHMARK_TEMPLATE(BM_TlbHitOneCall, true)->Name("BM_TlbHitOneCallCycling");
BENCHMARK(BM_MissStlbHit);
BENCHMARK(BM_MissPwcHitWalk);
BENCHMARK(BM_MissColdWalk);
BENCHMARK(BM_WalkerPwcHit);
BENCHMARK(BM_WalkerCold);

// Console output as usual, then the medians (means without repetitions)
// against the targets.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const std::string name = r.run_name.function_name;
      if (r.run_type == Run::RT_Aggregate) {
        if (r.aggregate_name == "median") median_[name] = r.GetAdjustedCPUTime();
      } else {
        single_[name] = r.GetAdjustedCPUTime();  // ns: the default time unit
      }
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    auto get = [&](const char* n) {
      auto it = median_.find(n);
      if (it != median_.end()) return it->second;
      auto jt = single_.find(n);
      return jt != single_.end() ? jt->second : 0.0;
    };
    const double base = get("BM_RawBaseline"), hit = get("BM_TlbHit");
    const double cbase = get("BM_RawBaselineCycling"), chit = get("BM_TlbHitCycling");
    const double pwc = get("BM_MissPwcHitWalk"), cold = get("BM_MissColdWalk");
    // CPU time: the benchmarks are single-threaded, and on a shared host the
    // wall-clock time also counts the time others' processes held the core.
    std::printf("\nsummary (%s of CPU time, ns per access):\n", median_.empty() ? "means" : "medians");
    std::printf("  raw baseline            %7.2f\n", base);
    std::printf("  TLB hit (fast path)     %7.2f   ratio %.2f  (target <= 2.00)  %s\n", hit, base ? hit / base : 0.0,
                base && hit / base <= 2.0 ? "ok" : "MISSED");
    std::printf("  cycling pages: raw      %7.2f\n", cbase);
    std::printf("  cycling pages: TLB hit  %7.2f   ratio %.2f  (every hit reorders LRU: worst case)  %s\n", chit,
                cbase ? chit / cbase : 0.0, cbase && chit / cbase <= 2.0 ? "ok" : "MISSED");
    const double tbase = get("BM_RawBaselineTimed"), tcbase = get("BM_RawBaselineTimedCycling");
    std::printf("  raw + time annotation   %7.2f / %.2f (streaming / cycling): TLB hit ratios %.2f / %.2f\n", tbase,
                tcbase, tbase ? hit / tbase : 0.0, tcbase ? chit / tcbase : 0.0);
    std::printf("  TLB hit, one-call form  %7.2f / %.2f (streaming / cycling; time and LRU clock in memory)\n",
                get("BM_TlbHitOneCall"), get("BM_TlbHitOneCallCycling"));
    std::printf("  miss, STLB hit          %7.2f\n", get("BM_MissStlbHit"));
    std::printf("  miss, walk with PWC hit %7.2f   (target < 100)  %s\n", pwc, pwc < 100 ? "ok" : "MISSED");
    std::printf("  miss, cold 4-level walk %7.2f   (target < 250)  %s\n", cold, cold < 250 ? "ok" : "MISSED");
    const double wpwc = get("BM_WalkerPwcHit");
    std::printf("  walker alone: PWC-hit walk %.2f, cold walk %.2f\n", wpwc, get("BM_WalkerCold"));
    std::printf("  miss with PWC hit vs the walker alone: ratio %.2f  (target <= 2.00)  %s\n", wpwc ? pwc / wpwc : 0.0,
                wpwc && pwc / wpwc <= 2.0 ? "ok" : "MISSED");
  }

 private:
  std::map<std::string, double> median_, single_;
};

}  // namespace

int sc_main(int argc, char* argv[]) {
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  World w;
  world = &w;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  world = nullptr;
  return 0;
}
