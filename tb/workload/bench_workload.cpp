// The native baseline of the default run (docs/performance.md): the very
// accesses the built-in default scenario makes (64 MiB written with 8-byte
// stores in a sequential sweep, then read back the same way), with the same
// address pattern (tb::Pattern), the same value generator (splitmix64 of the
// seed, the store's number and its address, as ScriptedProgram::fill_write)
// and the same shadow checks (tb::Shadow, a region looked up per access as
// the program does), on a plain host buffer standing in for DRAM: what the
// default run would cost without simulating anything. scripts/bench.sh runs
// it and the default run in rounds and takes the median of the rounds'
// ratios.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "sw/hal/x86.h"
#include "tb/workload/pattern.h"
#include "tb/workload/rng.h"
#include "tb/workload/shadow.h"

namespace {

constexpr uint64_t kRegion = 64ull << 20;  // tb/scenarios/default.yaml: mmap 64 MiB
constexpr uint64_t kBase = 0x7f0000000000ull;
constexpr unsigned kSize = 8;
constexpr unsigned kBatch = 128;  // as the program generates them (program.h)

// One sweep of the region (the default's `write` or `read` phase).
template <bool Write>
uint64_t sweep(uint8_t* mem, tb::Shadow& shadow, uint64_t seed, uint64_t& counter) {
  tb::Pattern pat(tb::Pattern::Kind::sequential, kRegion, kSize, kSize, tb::mix64(seed), 0.99);
  const tb::Shadow::Region* region = nullptr;
  uint64_t gen = ~0ull, checked = 0;
  uint64_t off[kBatch];
  uint64_t data[kBatch];
  for (uint64_t left = kRegion / kSize; left;) {
    const unsigned n = left < kBatch ? static_cast<unsigned>(left) : kBatch;
    pat.fill(off, n);
    for (unsigned i = 0; i < n; ++i) {
      const uint64_t va = kBase + off[i];
      if (Write) {
        const uint64_t salt = seed ^ (++counter * 0x9e3779b97f4a7c15ull) ^ va;
        data[i] = tb::mix64(salt);
        std::memcpy(mem + off[i], &data[i], kSize);
      } else {
        std::memcpy(&data[i], mem + off[i], kSize);
      }
    }
    for (unsigned i = 0; i < n; ++i) {
      const uint64_t va = kBase + off[i];
      if (!region || gen != shadow.generation() || !region->contains(va, kSize)) {
        region = shadow.find(va, kSize);
        gen = shadow.generation();
      }
      if (Write) {
        shadow.store(*region, va, kSize, reinterpret_cast<const uint8_t*>(&data[i]));
      } else {
        uint8_t expected[kSize];
        if (!shadow.check(*region, va, kSize, reinterpret_cast<const uint8_t*>(&data[i]), expected))
          throw std::runtime_error("native loop: a load differs from the shadow");
        ++checked;
      }
    }
    left -= n;
  }
  return checked;
}

void BM_NativeDefaultRun(benchmark::State& state) {
  for (auto _ : state) {
    // Fresh memory every time, as a run's DRAM and shadow are.
    void* p = mmap(nullptr, kRegion, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      state.SkipWithError("mmap failed");
      break;
    }
    uint8_t* mem = static_cast<uint8_t*>(p);
    tb::Shadow shadow;
    shadow.map(kBase, kRegion, false);
    uint64_t counter = 0;
    sweep<true>(mem, shadow, 1, counter);
    benchmark::DoNotOptimize(sweep<false>(mem, shadow, 1, counter));
    munmap(p, kRegion);
  }
  state.counters["accesses"] = static_cast<double>(2 * kRegion / kSize);
}
BENCHMARK(BM_NativeDefaultRun)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
