// What swap costs on the host, per 4 KiB page (docs/reclaim.md, "Costs"):
// one iteration swaps a dirty page out through the real reclaim path
// (MADV_PAGEOUT: isolation, add_to_swap, try_to_unmap, swap_writepage,
// removal from the swap cache), faults it back in (do_swap_page, a read of
// the slot), checks the value and stores a new one. The baseline, measured in the
// same run, is a 4 KiB memcpy. The firmware runs on the host HAL with a RAM
// disk (sw/drivers/block/brd) as the swap device, as fw_swap_test does;
// simulated time is not part of these figures.
#include <benchmark/benchmark.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "sw/drivers/block/brd.h"
#include "sw/mm/mkswap.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

constexpr uint64_t kPage = 4096, kSwap = 16 * MiB;

// A 128 MiB machine with a 16 MiB RAM disk as its swap area and a process
// with one page holding a known value.
struct SwapBenchRig {
  SwapBenchRig() : r(spec_mb(128)) {
    hal::Hal& h = r.cpu();
    fw::brd_device* disk = fw::brd_create(h, &r.k->ctx(), "swap0", kSwap, 512);
    std::vector<uint8_t> hdr(kPage, 0);
    fw::mkswap_header(hdr.data(), kSwap);
    if (!disk || !fw::brd_write(h, disk, 0, hdr.data(), hdr.size()) || r.k->swapfile().swapon(h, &disk->bdev) != 0)
      throw std::runtime_error("bench_swap: cannot make the RAM disk a swap area");
    r.start_process(0);
    va = static_cast<uint64_t>(r.mmap(0, 0, kPage));
    r.write64(r.access(0, va, x86::Access::write), kValue);
  }
  uint64_t event(unsigned item) { return r.k->vmstat().event[item]; }
  static constexpr uint64_t kValue = 0x5157a9ull;
  Rig r;
  uint64_t va = 0;
};

void BM_SwapOutIn4K(benchmark::State& st) {
  SwapBenchRig s;
  const uint64_t out0 = s.event(fw::PSWPOUT), in0 = s.event(fw::PSWPIN);
  uint64_t value = SwapBenchRig::kValue;
  for (auto _ : st) {
    s.r.sys(0, hal::Sys::madvise, s.va, kPage, uapi::kMadvPageout);
    if (s.r.read64(s.r.access(0, s.va, x86::Access::read)) != value) {
      st.SkipWithError("the page came back with another value");
      break;
    }
    // A new value dirties the page, so the next page-out writes it again
    // (a clean page still in the swap cache would just be dropped).
    s.r.write64(s.r.access(0, s.va, x86::Access::write), ++value);
  }
  const uint64_t outs = s.event(fw::PSWPOUT) - out0, ins = s.event(fw::PSWPIN) - in0;
  // Every iteration must really have gone to the disk and back.
  const uint64_t rounds = static_cast<uint64_t>(st.iterations());
  if (outs != rounds || ins != rounds) st.SkipWithError("not every iteration swapped out and in");
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kPage));
  st.SetLabel("swap-out (MADV_PAGEOUT) + swap-in fault of a dirty page, ns per 4 KiB");
}
BENCHMARK(BM_SwapOutIn4K);

void BM_Memcpy4K(benchmark::State& st) {
  std::vector<uint8_t> a(4 * MiB), b(kPage);
  uint64_t off = 0;
  for (auto _ : st) {
    std::memcpy(b.data(), a.data() + off, kPage);
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
    off = (off + kPage) % a.size();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kPage));
  st.SetLabel("baseline: memcpy of 4 KiB");
}
BENCHMARK(BM_Memcpy4K);

}  // namespace

BENCHMARK_MAIN();
