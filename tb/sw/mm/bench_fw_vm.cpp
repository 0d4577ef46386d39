// Per-operation costs of the address-space side on the host HAL (host
// time): a 4 KiB demand fault, a THP fault (2 MiB zeroed), fork of a
// process with 1024 pages plus one copy-on-write fault, and a one-page
// munmap shot down on four CPUs.
#include <benchmark/benchmark.h>

#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

constexpr uint64_t RW = fw::PROT_READ | fw::PROT_WRITE;
constexpr uint64_t PA = fw::MAP_PRIVATE | fw::MAP_ANONYMOUS;

// Touches a 64 MiB mapping every `step` bytes, one fault per iteration; the
// mapping is replaced (untimed) when all of it has been touched.
void fault_loop(benchmark::State& st, Rig& r, uint64_t step) {
  r.start_process();
  const uint64_t len = 64 * MiB;
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, len));
  uint64_t off = 0;
  for (auto _ : st) {
    if (off == len) {
      st.PauseTiming();
      r.munmap(0, a, len);
      r.mmap(0, a, len, RW, PA | fw::MAP_FIXED);
      off = 0;
      st.ResumeTiming();
    }
    benchmark::DoNotOptimize(r.access(0, a + off));
    off += step;
  }
}

void BM_fault_4k(benchmark::State& st) {
  Rig r(spec_mb(512));
  fault_loop(st, r, PAGE_SIZE);
}
BENCHMARK(BM_fault_4k);

void BM_fault_thp(benchmark::State& st) {
  fw::Params p = quiet_params();
  p.transparent_hugepage = fw::THP_ALWAYS;
  Rig r(spec_mb(512), p);
  fault_loop(st, r, 2 * MiB);
}
BENCHMARK(BM_fault_thp);

void BM_fork_1024_pages_and_exit(benchmark::State& st) {
  Rig r(spec_mb(256, 2));
  r.start_process(0);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * MiB));
  for (uint64_t off = 0; off < 4 * MiB; off += PAGE_SIZE) r.access(0, a + off);
  for (auto _ : st) {
    const int child = static_cast<int>(r.fork(0, 1));
    r.k->schedule(r.cpu(1));
    benchmark::DoNotOptimize(r.access(1, a));  // one copy-on-write
    r.sys(1, hal::Sys::exit, 0);
    benchmark::DoNotOptimize(child);
  }
}
BENCHMARK(BM_fork_1024_pages_and_exit);

void BM_munmap_shootdown_4cpus(benchmark::State& st) {
  Rig r(spec_mb(256, 4));
  r.start_process(0);
  for (unsigned c = 1; c < 4; ++c) {
    r.clone_thread(0, c);
    r.k->schedule(r.cpu(c));
  }
  const uint64_t a = 0x10000000;
  for (auto _ : st) {
    r.mmap(0, a, PAGE_SIZE, RW, PA | fw::MAP_FIXED);
    r.access(0, a);
    r.munmap(0, a, PAGE_SIZE);
  }
  st.counters["ipis_per_op"] = benchmark::Counter(static_cast<double>(r.k->tlb().stats().shootdown_ipis),
                                                  benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_munmap_shootdown_4cpus);

}  // namespace

BENCHMARK_MAIN();
