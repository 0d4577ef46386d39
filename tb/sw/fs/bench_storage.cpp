// What the page cache costs on the host, per 4 KiB (docs/storage.md,
// "Costs"): pread64 of a page already in the page cache, pwrite64 of a
// cached page (it becomes dirty; writeback is not timed here), a fault of a
// shared file mapping on a cached page (an iteration maps 1 MiB, faults its
// 256 pages and unmaps it: scripts/bench.sh divides by 256), and the
// baseline every row is a ratio to in scripts/bench.sh, a memcpy of 4 KiB
// measured in the same run. The firmware runs on the host HAL with a RAM
// disk (sw/drivers/block/brd), as fw_fs_test does; simulated time is not
// part of these figures.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "sw/drivers/block/brd.h"
#include "sw/fs/mmfs/format.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

constexpr uint64_t kFile = 16 * MiB, kSpan = 4 * MiB, kPage = 4096;

// A 256 MiB machine with a 64 MiB RAM disk holding one 16 MiB file, opened
// by a process that has a 1 MiB user buffer, with the file's first 4 MiB in
// the page cache.
struct StorageRig {
  StorageRig() : r(spec_mb(256)) {
    hal::Hal& h = r.cpu();
    fw::brd_device* disk = fw::brd_create(h, &r.k->ctx(), "ram0", 64 * MiB, 512);
    const fw::mmfs::file_spec files[] = {{1, "data", kFile}};
    std::vector<uint8_t> image(64 * KiB);
    uint64_t used = 0;
    if (!disk || fw::mmfs::mkfs(files, 1, 64 * MiB, 512, image.data(), image.size(), &used) != 0 ||
        !fw::brd_write(h, disk, 0, image.data(), used) || r.k->mmfs().mount_all(h) != 1)
      throw std::runtime_error("bench_storage: cannot make the RAM disk's filesystem");
    r.start_process(0);
    buf = static_cast<uint64_t>(r.mmap(0, 0, MiB));
    for (uint64_t va = buf; va < buf + MiB; va += kPage) r.access(0, va, x86::Access::write);
    fd = r.sys(0, hal::Sys::open, 0, uapi::kORdwr);
    for (uint64_t off = 0; off < kSpan; off += MiB) r.sys(0, hal::Sys::pread64, fd, buf, MiB, off);
  }
  Rig r;
  uint64_t buf = 0;
  int64_t fd = -1;
};

StorageRig& rig() {
  static StorageRig s;
  return s;
}

// pread64 or pwrite64 of one cached page per iteration, through the first 4 MiB.
void io_4k(benchmark::State& st, hal::Sys call, const char* label) {
  StorageRig& s = rig();
  uint64_t off = 0;
  for (auto _ : st) {
    const int64_t n = s.r.sys(0, call, s.fd, s.buf, kPage, off);
    if (n != static_cast<int64_t>(kPage)) st.SkipWithError("the call failed");
    off = (off + kPage) % kSpan;
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kPage));
  st.SetLabel(label);
}

void BM_PageCacheHitRead4K(benchmark::State& st) { io_4k(st, hal::Sys::pread64, "page-cache hit read, ns per 4 KiB"); }
BENCHMARK(BM_PageCacheHitRead4K);

void BM_BufferedWrite4K(benchmark::State& st) {
  io_4k(st, hal::Sys::pwrite64, "buffered write of a cached page, ns per 4 KiB");
}
BENCHMARK(BM_BufferedWrite4K);

void BM_FileFault256x4K(benchmark::State& st) {
  StorageRig& s = rig();
  for (auto _ : st) {
    const int64_t va = s.r.sys(0, hal::Sys::mmap, 0, MiB, uapi::kProtRead, uapi::kMapShared, s.fd, 0);
    if (va < 0) {
      st.SkipWithError("mmap of the file failed");
      break;
    }
    for (uint64_t off = 0; off < MiB; off += kPage) s.r.access(0, static_cast<uint64_t>(va) + off, x86::Access::read);
    s.r.munmap(0, static_cast<uint64_t>(va), MiB);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * MiB));
  st.SetLabel("256 file faults on cached pages (with mmap and munmap)");
}
BENCHMARK(BM_FileFault256x4K);

void BM_Memcpy4K(benchmark::State& st) {
  std::vector<uint8_t> a(kSpan), b(kPage);
  uint64_t off = 0;
  for (auto _ : st) {
    std::memcpy(b.data(), a.data() + off, kPage);
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
    off = (off + kPage) % kSpan;
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * kPage));
  st.SetLabel("baseline: memcpy of 4 KiB");
}
BENCHMARK(BM_Memcpy4K);

}  // namespace

BENCHMARK_MAIN();
