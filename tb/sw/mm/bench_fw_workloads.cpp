// The two workloads of docs/firmware.md, reported as benchmark counters:
// fragmentation events without and with ALLOC_NOFRAGMENT and watermark
// boosting, and the order-9 blocks a fragmented machine yields without and
// with compaction. One iteration each: the counters are the figures.
#include <benchmark/benchmark.h>

#include "tb/sw/mm/workloads.h"

using namespace fwtest;

namespace {

void BM_fragmentation(benchmark::State& st) {
  const bool defences = st.range(0);
  fw::Params p = quiet_params();
  p.alloc_nofragment = defences;
  p.watermark_boost_factor = defences ? 15000 : 0;
  FragResult res;
  for (auto _ : st) res = run_fragmentation_workload(p, 42);
  st.counters["frag_events"] = static_cast<double>(res.fragmenting);
  st.counters["fallbacks"] = static_cast<double>(res.fallbacks);
  st.counters["boosts"] = static_cast<double>(res.boosts);
  st.counters["kcompactd_runs"] = static_cast<double>(res.kcompactd_runs);
  st.counters["migrated"] = static_cast<double>(res.migrated);
  st.SetLabel(defences ? "ALLOC_NOFRAGMENT+boost" : "neither");
}
BENCHMARK(BM_fragmentation)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_highorder(benchmark::State& st) {
  const bool compaction = st.range(0);
  HighOrderResult res;
  for (auto _ : st) res = run_highorder_workload(1024, compaction);
  st.counters["order9_blocks"] = static_cast<double>(res.blocks);
  st.counters["free_pages"] = static_cast<double>(res.free_pages);
  st.counters["fraction_pct"] = 100.0 * res.fraction;
  st.SetLabel(compaction ? "with compaction" : "without compaction");
}
BENCHMARK(BM_highorder)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
