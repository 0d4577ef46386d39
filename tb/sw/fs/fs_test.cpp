// mmfs and the page cache on a RAM disk: mount from a host-made image,
// read/write through user buffers, fsync/fdatasync/O_SYNC/sync consistency
// on the medium, drop_caches, truncation, readahead windows, dirty
// accounting and throttling, media errors, open-file tables across fork.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "sw/drivers/block/brd.h"
#include "sw/fs/mmfs/format.h"
#include "tb/sw/mm/fw_rig.h"

namespace fwtest {
namespace {

using hal::Sys;

// Byte `off` of file `ino`'s initial content.
uint8_t initial(uint32_t ino, uint64_t off) { return static_cast<uint8_t>((off * 7 + ino * 13 + (off >> 12)) & 0xff); }

struct FsRig {
  explicit FsRig(uint64_t mem_mib = 128, uint64_t disk_mib = 16, fw::Params p = quiet_params()) : r(spec_mb(mem_mib), p) {
    disk = fw::brd_create(r.cpu(), &r.k->ctx(), "ram0", disk_mib * MiB, 512);
    EXPECT_NE(disk, nullptr);
    const fw::mmfs::file_spec files[] = {{1, "small", 100000}, {2, "big", 4 * MiB}};
    std::vector<uint8_t> image(64 * KiB);
    uint64_t used = 0;
    EXPECT_EQ(fw::mmfs::mkfs(files, 2, disk_mib * MiB, 512, image.data(), image.size(), &used), 0);
    EXPECT_TRUE(fw::brd_write(r.cpu(), disk, 0, image.data(), used));
    std::memcpy(&sb, image.data(), sizeof sb);
    for (unsigned i = 0; i < 2; ++i) {
      fw::mmfs::inode_disk d;
      std::memcpy(&d, image.data() + sb.block_size + i * sizeof d, sizeof d);
      std::vector<uint8_t> content(d.allocated);
      for (uint64_t o = 0; o < content.size(); ++o) content[o] = initial(d.ino, o);
      EXPECT_TRUE(fw::brd_write(r.cpu(), disk, fw::mmfs::file_disk_offset(sb, d, 0), content.data(), content.size()));
    }
    EXPECT_EQ(r.k->mmfs().mount_all(r.cpu()), 1u);
    r.start_process(0);
    buf = static_cast<uint64_t>(r.mmap(0, 0, 8 * MiB));
  }
  int64_t sys(Sys nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
              uint64_t a5 = 0) {
    return r.sys(0, nr, a0, a1, a2, a3, a4, a5);
  }
  // User memory at va, as the process sees it.
  void put_user(uint64_t va, const std::vector<uint8_t>& v) {
    for (uint64_t i = 0; i < v.size(); ++i) *r.m->raw(r.access(0, va + i, x86::Access::write), 1) = v[i];
  }
  std::vector<uint8_t> get_user(uint64_t va, uint64_t n) {
    std::vector<uint8_t> v(n);
    for (uint64_t i = 0; i < n; ++i) v[i] = *r.m->raw(r.access(0, va + i, x86::Access::read), 1);
    return v;
  }
  // The file's inode and bytes as the medium holds them.
  fw::mmfs::inode_disk disk_inode(unsigned slot) {
    fw::mmfs::inode_disk d;
    EXPECT_TRUE(fw::brd_read(r.cpu(), disk, sb.block_size + slot * sizeof d, &d, sizeof d));
    return d;
  }
  std::vector<uint8_t> disk_bytes(unsigned slot, uint64_t off, uint64_t n) {
    const fw::mmfs::inode_disk d = disk_inode(slot);
    std::vector<uint8_t> v(n);
    EXPECT_TRUE(fw::brd_read(r.cpu(), disk, fw::mmfs::file_disk_offset(sb, d, off), v.data(), n));
    return v;
  }
  uint64_t stat(const char* n) { return r.stats().at(n); }
  uint64_t node(unsigned item) { return static_cast<uint64_t>(r.k->vmstat().node_total(item)); }

  Rig r;
  fw::brd_device* disk = nullptr;
  fw::mmfs::super_block_disk sb{};
  uint64_t buf = 0;
};

TEST(Mmfs, MkfsLayoutAndOffsets) {
  const fw::mmfs::file_spec files[] = {{1, "a", 5000}, {2, "b", 0}, {3, "c", 8192}};
  std::vector<uint8_t> image(16 * KiB);
  uint64_t used = 0;
  ASSERT_EQ(fw::mmfs::mkfs(files, 3, 1 * MiB, 4096, image.data(), image.size(), &used), 0);
  EXPECT_EQ(used, 2 * 4096u);
  fw::mmfs::super_block_disk sb;
  std::memcpy(&sb, image.data(), sizeof sb);
  EXPECT_EQ(sb.data_start_block, 2u);
  fw::mmfs::inode_disk a, c;
  std::memcpy(&a, image.data() + 4096, sizeof a);
  std::memcpy(&c, image.data() + 4096 + 2 * sizeof c, sizeof c);
  EXPECT_EQ(a.allocated, 8192u);
  EXPECT_EQ(fw::mmfs::file_disk_offset(sb, a, 4097), 3 * 4096u + 1);
  EXPECT_EQ(fw::mmfs::file_disk_offset(sb, a, 8192), ~0ull);
  EXPECT_EQ(fw::mmfs::file_disk_offset(sb, c, 0), 4 * 4096u);  // after a's two blocks, b has none
  const fw::mmfs::file_spec huge[] = {{1, "x", 2 * MiB}};
  EXPECT_EQ(fw::mmfs::mkfs(huge, 1, 1 * MiB, 512, image.data(), image.size(), &used), -ENOSPC);
  EXPECT_EQ(fw::mmfs::mkfs(files, 3, 1 * MiB, 1024, image.data(), image.size(), &used), -EINVAL);
}

TEST(Mmfs, ReadWriteFsyncAndDropCaches) {
  FsRig f;
  const int64_t fd = f.sys(Sys::open, 0, uapi::kORdwr);
  ASSERT_EQ(fd, 0);
  EXPECT_EQ(f.sys(Sys::open, 7, uapi::kORdonly), -ENOENT);
  // A read across a page boundary, checked against the medium's content.
  ASSERT_EQ(f.sys(Sys::pread64, fd, f.buf + 100, 6000, 3000), 6000);
  std::vector<uint8_t> got = f.get_user(f.buf + 100, 6000);
  for (uint64_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], initial(1, 3000 + i)) << i;
  // Reads stop at the end of the file.
  EXPECT_EQ(f.sys(Sys::pread64, fd, f.buf, 4096, 99000), 1000);
  EXPECT_EQ(f.sys(Sys::pread64, fd, f.buf, 4096, 100000), 0);
  // A write, then fsync: data and size on the medium.
  std::vector<uint8_t> data(12000);
  for (uint64_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 5);
  f.put_user(f.buf, data);
  ASSERT_EQ(f.sys(Sys::pwrite64, fd, f.buf, data.size(), 90000), 12000);
  EXPECT_GT(f.node(fw::NR_FILE_DIRTY), 0u);
  EXPECT_NE(f.disk_bytes(0, 90000, 12000), data);
  const uint64_t flushes = f.disk->flushes;
  ASSERT_EQ(f.sys(Sys::fsync, fd), 0);
  EXPECT_EQ(f.disk->flushes, flushes + 1) << "fsync empties the disk's volatile cache";
  EXPECT_EQ(f.node(fw::NR_FILE_DIRTY), 0u);
  EXPECT_EQ(f.node(fw::NR_WRITEBACK), 0u);
  EXPECT_EQ(f.disk_bytes(0, 90000, 12000), data);
  EXPECT_EQ(f.disk_inode(0).size, 102000u);
  EXPECT_GT(f.stat("vmstat.pgpgout"), 0u);
  // drop_caches empties the cache; the data and size survive.
  const uint64_t cached = f.node(fw::NR_FILE_PAGES);
  EXPECT_GT(cached, 0u);
  EXPECT_EQ(f.node(fw::NR_ACTIVE_FILE) + f.node(fw::NR_INACTIVE_FILE), cached);
  ASSERT_EQ(f.sys(Sys::sysctl, uapi::kSysctlDropCaches, 3), 0);
  EXPECT_EQ(f.node(fw::NR_FILE_PAGES), 0u);
  EXPECT_EQ(f.node(fw::NR_ACTIVE_FILE) + f.node(fw::NR_INACTIVE_FILE), 0u);
  EXPECT_EQ(f.stat("vmstat.drop_pagecache"), 1u);
  const uint64_t pgpgin = f.stat("vmstat.pgpgin");
  ASSERT_EQ(f.sys(Sys::pread64, fd, f.buf + 2 * MiB, 12000, 90000), 12000);
  EXPECT_EQ(f.get_user(f.buf + 2 * MiB, 12000), data);
  EXPECT_GT(f.stat("vmstat.pgpgin"), pgpgin);
  EXPECT_EQ(f.sys(Sys::sysctl, uapi::kSysctlDropCaches, 4), -EINVAL);
}

TEST(Mmfs, ErrorsOfTheCalls) {
  FsRig f;
  const int64_t ro = f.sys(Sys::open, 0, uapi::kORdonly);
  ASSERT_GE(ro, 0);
  EXPECT_EQ(f.sys(Sys::pwrite64, ro, f.buf, 10, 0), -EBADF);
  EXPECT_EQ(f.sys(Sys::ftruncate, ro, 10), -EINVAL);
  EXPECT_EQ(f.sys(Sys::pread64, 9, f.buf, 10, 0), -EBADF);
  EXPECT_EQ(f.sys(Sys::pread64, ro, 0x1000, 10, 0), -EFAULT);  // nothing mapped there
  const int64_t rw = f.sys(Sys::open, 1, uapi::kORdwr);
  ASSERT_EQ(rw, ro + 1);
  EXPECT_EQ(f.sys(Sys::pwrite64, rw, f.buf, 10, 4 * MiB), -EFBIG);  // beyond the file's blocks
  EXPECT_EQ(f.sys(Sys::ftruncate, rw, 4 * MiB + 1), -EFBIG);
  EXPECT_EQ(f.sys(Sys::close, ro), 0);
  EXPECT_EQ(f.sys(Sys::close, ro), -EBADF);
  EXPECT_EQ(f.sys(Sys::open, 0, uapi::kORdonly), ro);  // the lowest free fd again
  // A media error: EIO to the reader, the rest of the file readable.
  f.disk->fail_sector = fw::mmfs::file_disk_offset(f.sb, f.disk_inode(1), 3 * MiB) >> 9;
  EXPECT_EQ(f.sys(Sys::pread64, rw, f.buf, 4096, 3 * MiB), -EIO);
  EXPECT_EQ(f.sys(Sys::pread64, rw, f.buf, 4096, 0), 4096);
  EXPECT_GT(f.stat("filemap.read_errors"), 0u);
}

TEST(Mmfs, TruncateZeroesAndPersists) {
  FsRig f;
  const int64_t fd = f.sys(Sys::open, 0, uapi::kORdwr);
  ASSERT_EQ(f.sys(Sys::pread64, fd, f.buf, 100000, 0), 100000);  // all cached
  ASSERT_EQ(f.sys(Sys::ftruncate, fd, 5000), 0);
  EXPECT_EQ(f.node(fw::NR_FILE_PAGES), 2u);  // pages 0 and 1 stay
  EXPECT_EQ(f.sys(Sys::pread64, fd, f.buf, 100, 5000), 0);
  ASSERT_EQ(f.sys(Sys::ftruncate, fd, 20000), 0);
  ASSERT_EQ(f.sys(Sys::pread64, fd, f.buf, 20000, 0), 20000);
  const std::vector<uint8_t> got = f.get_user(f.buf, 20000);
  for (uint64_t i = 0; i < 5000; ++i) ASSERT_EQ(got[i], initial(1, i));
  for (uint64_t i = 5000; i < 20000; ++i) ASSERT_EQ(got[i], 0) << i;
  ASSERT_EQ(f.sys(Sys::fdatasync, fd), 0);  // the size changed: metadata goes too
  EXPECT_EQ(f.disk_inode(0).size, 20000u);
  EXPECT_EQ(f.disk_bytes(0, 5000, 15000), std::vector<uint8_t>(15000, 0));
  // A write past the end leaves a hole of zeros.
  f.put_user(f.buf, std::vector<uint8_t>(10, 0xab));
  ASSERT_EQ(f.sys(Sys::pwrite64, fd, f.buf, 10, 30000), 10);
  ASSERT_EQ(f.sys(Sys::sync), 0);
  EXPECT_EQ(f.disk_inode(0).size, 30010u);
  EXPECT_EQ(f.disk_bytes(0, 20000, 10000), std::vector<uint8_t>(10000, 0));
  EXPECT_EQ(f.disk_bytes(0, 30000, 10), std::vector<uint8_t>(10, 0xab));
}

TEST(Mmfs, FdatasyncAfterAnExtendingWritePersistsTheSize) {
  FsRig f;
  const int64_t fd = f.sys(Sys::open, 0, uapi::kORdwr);
  f.put_user(f.buf, std::vector<uint8_t>(10, 0xcd));
  ASSERT_EQ(f.sys(Sys::pwrite64, fd, f.buf, 10, 100000), 10);
  ASSERT_EQ(f.sys(Sys::fdatasync, fd), 0);  // the size is needed to read the data: I_DIRTY_DATASYNC
  EXPECT_EQ(f.disk_inode(0).size, 100010u);
  EXPECT_EQ(f.disk_bytes(0, 100000, 10), std::vector<uint8_t>(10, 0xcd));
}

TEST(Mmfs, OSyncWritesReachTheDiskBeforeTheyReturn) {
  FsRig f;
  const int64_t fd = f.sys(Sys::open, 0, uapi::kORdwr | uapi::kOSync);
  ASSERT_EQ(fd, 0);
  const std::vector<uint8_t> data(5000, 0x3c);
  f.put_user(f.buf, data);
  ASSERT_EQ(f.sys(Sys::pwrite64, fd, f.buf, data.size(), 3000), 5000);
  EXPECT_EQ(f.node(fw::NR_FILE_DIRTY), 0u);
  EXPECT_EQ(f.disk_bytes(0, 3000, data.size()), data);
}

TEST(Readahead, SequentialWindowsGrowToReadAheadKb) {
  FsRig f;
  const int64_t fd = f.sys(Sys::open, 1, uapi::kORdonly);
  // A 1-page read opens a 4-page window (get_init_ra_size: 4x a small
  // request); reaching its mark opens the next, 2x (get_next_ra_size).
  ASSERT_EQ(f.sys(Sys::read, fd, f.buf, 4096), 4096);
  EXPECT_EQ(f.stat("readahead.pages"), 4u);
  ASSERT_EQ(f.sys(Sys::read, fd, f.buf, 4096), 4096);
  EXPECT_EQ(f.stat("readahead.pages"), 4u + 8);
  for (uint64_t off = 8192; off < 2 * MiB; off += 4096) ASSERT_EQ(f.sys(Sys::read, fd, f.buf, 4096), 4096);
  EXPECT_EQ(f.stat("readahead.sync_ra"), 1u);  // one miss, then always ahead
  EXPECT_GT(f.stat("readahead.async_ra"), 5u);
  EXPECT_EQ(f.stat("readahead.window_max"), 32u);  // read_ahead_kb 128
  EXPECT_EQ(f.stat("filemap.read_waits"), 0u);     // a RAM disk completes at once
  // RANDOM: reads fetch what they ask for.
  ASSERT_EQ(f.sys(Sys::fadvise64, fd, 0, 0, uapi::kFadvRandom), 0);
  const uint64_t pages = f.node(fw::NR_FILE_PAGES);
  ASSERT_EQ(f.sys(Sys::pread64, fd, f.buf, 4096, 3 * MiB), 4096);
  EXPECT_EQ(f.node(fw::NR_FILE_PAGES), pages + 1);
  // WILLNEED reads the range now; DONTNEED drops it.
  ASSERT_EQ(f.sys(Sys::fadvise64, fd, 3 * MiB + 64 * KiB, 64 * KiB, uapi::kFadvWillneed), 0);
  EXPECT_EQ(f.node(fw::NR_FILE_PAGES), pages + 17);
  ASSERT_EQ(f.sys(Sys::fadvise64, fd, 3 * MiB, 1 * MiB, uapi::kFadvDontneed), 0);
  EXPECT_EQ(f.node(fw::NR_FILE_PAGES), pages);
}

// Background writeback alone keeps dirty pages under the limits here: the
// RAM disk completes every write at once, so a writer is never throttled
// (system_storage_test's dirty-throttle scenario is where it is).
TEST(Writeback, BackgroundAndPeriodicWritebackKeepDirtyUnderTheLimits) {
  fw::Params p = quiet_params();
  p.dirty_ratio = 2;
  p.dirty_background_ratio = 1;
  FsRig f(64, 16, p);
  const int64_t fd = f.sys(Sys::open, 1, uapi::kORdwr);
  const fw::DirtyLimits lim = f.r.k->writeback().global_dirty_limits();
  ASSERT_LT(lim.thresh, 1024u);  // 4 MiB of writes pass it
  for (uint64_t off = 0; off < 4 * MiB; off += 64 * KiB) {
    ASSERT_EQ(f.sys(Sys::pwrite64, fd, f.buf, 64 * KiB, off), static_cast<int64_t>(64 * KiB));
    EXPECT_LE(f.node(fw::NR_FILE_DIRTY) + f.node(fw::NR_WRITEBACK), f.r.k->writeback().global_dirty_limits().thresh);
  }
  EXPECT_GT(f.stat("writeback.background_runs"), 0u);
  EXPECT_EQ(f.stat("writeback.throttled"), 0u);
  EXPECT_GT(f.stat("vmstat.nr_written"), 0u);
  EXPECT_EQ(f.stat("vmstat.nr_dirtied"), 1024u);
  // The periodic flusher writes what stayed dirty once it expired.
  const uint64_t dirty = f.node(fw::NR_FILE_DIRTY);
  ASSERT_GT(dirty, 0u);
  f.r.cpu().advance_ns(31ull * 1000 * 1000 * 1000);
  f.r.k->run_deferred_work(f.r.cpu());
  EXPECT_EQ(f.node(fw::NR_FILE_DIRTY), 0u);
  EXPECT_GT(f.stat("writeback.expired_inodes"), 0u);
  EXPECT_NE(f.r.proc("vmstat").find("nr_dirty 0\n"), std::string::npos);
}

TEST(Mmfs, ForkCopiesTheOpenFileTable) {
  FsRig f;
  const int64_t fd = f.sys(Sys::open, 0, uapi::kORdonly);
  ASSERT_EQ(f.sys(Sys::read, fd, f.buf, 1000), 1000);
  const int64_t child = f.r.fork(0);
  ASSERT_GT(child, 0);
  EXPECT_EQ(f.sys(Sys::close, fd), 0);  // the parent's fd goes; the child's stays
  f.r.sys(0, Sys::exit, 0);
  ASSERT_EQ(f.r.k->schedule(f.r.cpu()).pid, child);
  // The shared open file kept its offset.
  EXPECT_EQ(f.sys(Sys::read, fd, f.buf, 1000), 1000);
  EXPECT_EQ(f.get_user(f.buf, 1)[0], initial(1, 1000));
}

TEST(FileMmap, SharedStoresReachTheDiskPrivateWritesCopy) {
  FsRig f;
  const int64_t fd = f.sys(Sys::open, 1, uapi::kORdwr);
  constexpr uint64_t kLen = 64 * KiB;
  const int64_t a = f.sys(Sys::mmap, 0, kLen, fw::PROT_READ | fw::PROT_WRITE, fw::MAP_SHARED, fd, 0);
  ASSERT_GT(a, 0);
  const uint64_t majflt = f.stat("vmstat.pgmajfault");
  const uint64_t pa = f.r.access(0, a + 100, x86::Access::write);  // the walker sets D
  ASSERT_NE(pa, ~0ull);
  EXPECT_EQ(*f.r.m->raw(pa, 1), initial(2, 100));
  EXPECT_EQ(f.stat("vmstat.pgmajfault"), majflt + 1);
  *f.r.m->raw(pa, 1) = 0x5a;
  EXPECT_EQ(f.sys(Sys::msync, a, kLen, uapi::kMsSync), 0);
  EXPECT_EQ(f.disk_bytes(1, 100, 1)[0], 0x5a);
  // A store after writeback dirties the page again through D only.
  const uint64_t pa2 = f.r.access(0, a + 8192, x86::Access::write);
  *f.r.m->raw(pa2, 1) = 0x6b;
  ASSERT_EQ(f.sys(Sys::sync), 0);
  EXPECT_EQ(f.disk_bytes(1, 8192, 1)[0], 0x6b);
  EXPECT_GT(f.stat("writeback.mkclean_pages"), 0u);
  // read() sees the stores.
  ASSERT_EQ(f.sys(Sys::pread64, fd, f.buf, 1, 100), 1);
  EXPECT_EQ(f.get_user(f.buf, 1)[0], 0x5a);
  // A private mapping shares the cache page until written, then copies.
  const int64_t b = f.sys(Sys::mmap, 0, kLen, fw::PROT_READ | fw::PROT_WRITE, fw::MAP_PRIVATE, fd, 0);
  ASSERT_GT(b, 0);
  EXPECT_EQ(f.r.access(0, b + 100, x86::Access::read), pa);
  const uint64_t cpa = f.r.access(0, b + 100, x86::Access::write);
  EXPECT_NE(cpa, pa);
  *f.r.m->raw(cpa, 1) = 0x77;
  EXPECT_EQ(*f.r.m->raw(pa, 1), 0x5a);
  // /proc/PID/maps names the file.
  const std::string maps = f.r.proc("1/maps");
  EXPECT_NE(maps.find(" rw-s 00000000 fd:00 2 /big\n"), std::string::npos) << maps;
  EXPECT_NE(maps.find(" rw-p 00000000 fd:00 2 /big\n"), std::string::npos) << maps;
  // MAP_POPULATE maps every page now.
  const uint64_t mapped = f.node(fw::NR_FILE_MAPPED);
  ASSERT_GT(f.sys(Sys::mmap, 0, kLen, fw::PROT_READ, fw::MAP_SHARED | fw::MAP_POPULATE, fd, kLen), 0);
  EXPECT_EQ(f.node(fw::NR_FILE_MAPPED), mapped + 16);
  // MADV_WILLNEED reads a mapped range now.
  const uint64_t cached = f.node(fw::NR_FILE_PAGES);
  const int64_t c = f.sys(Sys::mmap, 0, kLen, fw::PROT_READ, fw::MAP_SHARED, fd, 1 * MiB);
  ASSERT_GT(c, 0);
  EXPECT_EQ(f.r.madvise(0, c, kLen, uapi::kMadvWillneed), 0);
  EXPECT_EQ(f.node(fw::NR_FILE_PAGES), cached + 16);
  // Bad requests.
  const int64_t ro = f.sys(Sys::open, 1, uapi::kORdonly);
  EXPECT_EQ(f.sys(Sys::mmap, 0, kLen, fw::PROT_WRITE, fw::MAP_SHARED, ro, 0), -EACCES);
  EXPECT_EQ(f.sys(Sys::mmap, 0, kLen, fw::PROT_READ, fw::MAP_SHARED, 40, 0), -EBADF);
  EXPECT_EQ(f.sys(Sys::msync, a + 1, kLen, uapi::kMsSync), -EINVAL);
  // The monitor's views: fincore and a page's state.
  StringSink fc, ps;
  ASSERT_TRUE(f.r.k->fincore("big", fc));
  EXPECT_FALSE(f.r.k->fincore("none", fc));
  EXPECT_NE(fc.s.find(" big\n"), std::string::npos) << fc.s;
  ASSERT_TRUE(f.r.k->page_state(pa >> 12, ps));
  EXPECT_NE(ps.s.find("mapping: file big (inode 2), index 0"), std::string::npos) << ps.s;
  EXPECT_NE(ps.s.find("uptodate"), std::string::npos) << ps.s;
  // Truncation unmaps: an access beyond the new end is SIGBUS.
  ASSERT_EQ(f.sys(Sys::ftruncate, fd, 8192), 0);
  EXPECT_EQ(f.r.access(0, a + 16384, x86::Access::read), ~0ull);
}

}  // namespace
}  // namespace fwtest
