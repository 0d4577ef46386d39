// Reclaim on the host HAL (sw/mm/lru, rmap, vmscan, workingset): Linux's
// inactive_is_low rule, the Accessed-bit harvest through the reverse map,
// clean page-cache pages reclaimed with shadows and their data read back,
// dirty ones left to the flusher and rotated when written, refault
// activation against the active list, workingset restores of deactivated
// pages, vm.swappiness 0 sparing anonymous pages, direct reclaim's target and
// allocstall, kswapd reclaiming to the high watermark, napping and
// sleeping (or giving up on a node with nothing to reclaim), anonymous
// pages untouched without swap, and mlock's unevictable list.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "sw/drivers/block/brd.h"
#include "sw/fs/mmfs/format.h"
#include "sw/mm/internal.h"
#include "sw/mm/lru.h"
#include "sw/mm/mkswap.h"
#include "sw/mm/rmap.h"
#include "sw/mm/swap.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmscan.h"
#include "sw/mm/watermark.h"
#include "sw/mm/workingset.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

namespace fwtest {
namespace {

using hal::Sys;
using fw::page;

// Byte `off` of file `ino`'s content (files 2 and 3; file 1 is never
// written and reads as zeros, so the disk costs no memory for it).
uint8_t pattern(uint32_t ino, uint64_t off) { return static_cast<uint8_t>((off * 11 + ino * 29 + (off >> 12)) & 0xff); }

constexpr uint64_t kBig = 96 * MiB;  // file 1: the stream that makes the pressure
constexpr uint64_t kData = 2 * MiB;  // files 2 and 3: checked content

struct ReclaimRig {
  // big: the size of file 1 (the disk holds it and 32 MiB more).
  explicit ReclaimRig(uint64_t mem_mib = 64, fw::Params p = quiet_params(), uint64_t big = kBig)
      : r(spec_mb(mem_mib), p) {
    const uint64_t disk_size = big + 32 * MiB;
    disk = fw::brd_create(r.cpu(), &r.k->ctx(), "ram0", disk_size, 512);
    EXPECT_NE(disk, nullptr);
    const fw::mmfs::file_spec files[] = {{1, "big", big}, {2, "data", kData}, {3, "hot", kData}};
    std::vector<uint8_t> image(64 * KiB);
    uint64_t used = 0;
    EXPECT_EQ(fw::mmfs::mkfs(files, 3, disk_size, 512, image.data(), image.size(), &used), 0);
    EXPECT_TRUE(fw::brd_write(r.cpu(), disk, 0, image.data(), used));
    fw::mmfs::super_block_disk sb;
    std::memcpy(&sb, image.data(), sizeof sb);
    for (unsigned i = 1; i < 3; ++i) {
      fw::mmfs::inode_disk d;
      std::memcpy(&d, image.data() + sb.block_size + i * sizeof d, sizeof d);
      std::vector<uint8_t> content(d.allocated);
      for (uint64_t o = 0; o < content.size(); ++o) content[o] = pattern(d.ino, o);
      EXPECT_TRUE(fw::brd_write(r.cpu(), disk, fw::mmfs::file_disk_offset(sb, d, 0), content.data(), content.size()));
    }
    EXPECT_EQ(r.k->mmfs().mount_all(r.cpu()), 1u);
    pid = r.start_process(0);
    buf = static_cast<uint64_t>(r.mmap(0, 0, 1 * MiB));
    for (unsigned i = 0; i < 3; ++i) fd[i] = sys(Sys::open, i, uapi::kORdwr);
  }
  int64_t sys(Sys nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0) {
    return r.sys(0, nr, a0, a1, a2, a3);
  }
  // Reads [off, off + len) of file i through the 1 MiB user buffer; with
  // check, compares every byte with the file's content.
  void read(unsigned i, uint64_t off, uint64_t len, bool check = false, bool tick = false) {
    for (uint64_t o = off; o < off + len; o += MiB) {
      const uint64_t n = std::min<uint64_t>(MiB, off + len - o);
      SCOPED_TRACE(o);
      ASSERT_EQ(sys(Sys::pread64, static_cast<uint64_t>(fd[i]), buf, n, o), static_cast<int64_t>(n)) << o;
      if (check) {
        for (uint64_t b = 0; b < n; b += 509) ASSERT_EQ(byte(buf + b), pattern(i + 1, o + b)) << o + b;
      }
      if (tick) r.k->run_deferred_work(r.cpu());
    }
  }
  uint8_t byte(uint64_t va) { return *r.m->raw(r.access(0, va, x86::Access::read), 1); }
  fw::inode* ino(unsigned i) { return r.k->filemap().find_inode(i + 1); }
  page* cached(unsigned i, uint64_t index) { return r.k->shmem().find_page(r.cpu(), ino(i)->i_mapping, index); }
  uint64_t node(unsigned item) { return static_cast<uint64_t>(r.k->vmstat().node_total(item)); }
  uint64_t ev(unsigned item) { return r.k->vmstat().event[item]; }
  fw::pglist_data& pg() { return r.k->nodes().node(0); }
  // Direct reclaim as the allocator's slow path asks for it.
  uint64_t direct_reclaim(fw::gfp_t gfp = fw::GFP_KERNEL) {
    fw::alloc_context ac{};
    EXPECT_TRUE(r.k->page_alloc().prepare_alloc(r.cpu(), gfp, 0, &ac));
    return r.k->vmscan().try_to_free_pages(r.cpu(), gfp, 0, ac);
  }
  // MADV_PAGEOUT's path for the cached pages [first, last) of file i.
  uint64_t pageout(unsigned i, uint64_t first, uint64_t last) {
    fw::list_head l;
    fw::INIT_LIST_HEAD(&l);
    for (uint64_t x = first; x < last; ++x)
      if (page* p = cached(i, x); p && r.k->lru().isolate_lru(r.cpu(), p)) fw::list_add_tail(&p->lru, &l);
    return r.k->vmscan().reclaim_pages(r.cpu(), &l);
  }

  // A swap area of mib MiB on a second RAM disk.
  void swapon(uint64_t mib) {
    fw::brd_device* d = fw::brd_create(r.cpu(), &r.k->ctx(), "swap0", mib * MiB, 512);
    ASSERT_NE(d, nullptr);
    std::vector<uint8_t> hdr(PAGE_SIZE);
    fw::mkswap_header(hdr.data(), mib * MiB);
    ASSERT_TRUE(fw::brd_write(r.cpu(), d, 0, hdr.data(), hdr.size()));
    ASSERT_EQ(r.k->swapfile().swapon(r.cpu(), &d->bdev), 0);
  }
  // One shrink_node pass at priority prio (0: the last, most desperate one).
  void shrink(int prio, bool force_deactivate = false, uint64_t target = ~0ull) {
    fw::scan_control sc;
    sc.nr_to_reclaim = target;
    sc.gfp_mask = fw::GFP_KERNEL;
    sc.priority = prio;
    sc.force_deactivate = force_deactivate;
    r.k->vmscan().shrink_node(r.cpu(), pg(), sc);
  }

  Rig r;
  fw::brd_device* disk = nullptr;
  uint64_t buf = 0;
  int64_t fd[3] = {};
  int pid = 0;
};

TEST(fw_reclaim, inactive_is_low_follows_linux) {
  Rig r(spec_mb(64));
  fw::pglist_data pg{};
  fw::zone& z = pg.node_zones[fw::ZONE_NORMAL];
  fw::Lru& lru = r.k->lru();
  // Below 1 GiB the ratio is 1.
  z.vm_stat[fw::NR_ZONE_INACTIVE_FILE] = 1000;
  z.vm_stat[fw::NR_ZONE_ACTIVE_FILE] = 1000;
  EXPECT_FALSE(lru.inactive_is_low(pg, fw::LRU_INACTIVE_FILE));
  z.vm_stat[fw::NR_ZONE_ACTIVE_FILE] = 1001;
  EXPECT_TRUE(lru.inactive_is_low(pg, fw::LRU_INACTIVE_FILE));
  // 1 GiB: int_sqrt(10) = 3; 10 GiB: int_sqrt(100) = 10.
  z.vm_stat[fw::NR_ZONE_INACTIVE_ANON] = 65536;
  z.vm_stat[fw::NR_ZONE_ACTIVE_ANON] = 196608;
  EXPECT_FALSE(lru.inactive_is_low(pg, fw::LRU_INACTIVE_ANON));
  z.vm_stat[fw::NR_ZONE_ACTIVE_ANON] = 196609;
  EXPECT_TRUE(lru.inactive_is_low(pg, fw::LRU_INACTIVE_ANON));
  z.vm_stat[fw::NR_ZONE_INACTIVE_ANON] = 262144;
  z.vm_stat[fw::NR_ZONE_ACTIVE_ANON] = 2359296;  // 10 GiB in all
  EXPECT_FALSE(lru.inactive_is_low(pg, fw::LRU_INACTIVE_ANON));
  z.vm_stat[fw::NR_ZONE_ACTIVE_ANON] = 2621441;
  EXPECT_TRUE(lru.inactive_is_low(pg, fw::LRU_INACTIVE_ANON));
}

TEST(fw_reclaim, folio_referenced_harvests_and_clears_accessed_bits) {
  ReclaimRig f;
  const int64_t m = f.r.mmap(0, 0, 64 * KiB, fw::PROT_READ | fw::PROT_WRITE, fw::MAP_SHARED | fw::MAP_ANONYMOUS);
  ASSERT_GT(m, 0);
  const uint64_t a = static_cast<uint64_t>(m);
  const uint64_t pa = f.r.access(0, a, x86::Access::write);
  page* p = f.r.k->nodes().pfn_to_page(pa >> fw::PAGE_SHIFT);
  // A forked child maps the same shared page: two mappings, both used.
  ASSERT_GT(f.r.fork(0), 0);
  uint64_t flags = 0;
  EXPECT_GE(f.r.k->rmap().folio_referenced(f.r.cpu(), p, &flags), 1);
  EXPECT_NE(flags & fw::VM_SHARED, 0u);
  EXPECT_EQ(f.r.k->rmap().folio_referenced(f.r.cpu(), p, &flags), 0) << "the bits were cleared";
  f.r.access(0, a, x86::Access::read);  // the walker sets A again
  EXPECT_EQ(f.r.k->rmap().folio_referenced(f.r.cpu(), p, &flags), 1);
  // An unmapped page has no PTEs to look at.
  page* q = f.r.k->page_alloc().alloc_pages(f.r.cpu(), fw::GFP_KERNEL, 0);
  EXPECT_EQ(f.r.k->rmap().folio_referenced(f.r.cpu(), q, &flags), 0);
  f.r.k->page_alloc().free_pages(f.r.cpu(), q, 0);
}

TEST(fw_reclaim, clean_file_pages_are_reclaimed_with_shadows_and_read_back) {
  ReclaimRig f;
  f.read(1, 0, kData, true);
  const uint64_t cached = f.node(fw::NR_FILE_PAGES);
  ASSERT_GE(cached, kData / PAGE_SIZE);
  EXPECT_EQ(f.pageout(1, 0, kData / PAGE_SIZE), kData / PAGE_SIZE);
  EXPECT_EQ(f.node(fw::NR_FILE_PAGES), cached - kData / PAGE_SIZE);
  EXPECT_EQ(f.cached(1, 0), nullptr) << "a shadow reads as absent";
  EXPECT_EQ(f.node(fw::NR_ISOLATED_FILE), 0u);
  // Read again: every page a refault, the data what the disk holds.
  f.read(1, 0, kData, true);
  EXPECT_EQ(f.node(fw::WORKINGSET_REFAULT_FILE), kData / PAGE_SIZE);
  // Nothing competes (no active file pages, no swap): no refault is recent.
  EXPECT_EQ(f.node(fw::WORKINGSET_ACTIVATE_FILE), 0u);
  // Truncation drops the shadows with the pages.
  ASSERT_EQ(f.sys(Sys::ftruncate, static_cast<uint64_t>(f.fd[1]), 0), 0);
  EXPECT_EQ(f.r.k->shmem().clear_shadows(f.r.cpu(), f.ino(1)->i_mapping, 0, ~0ull), 0u);
}

// The shadow-node shrinker: leaves of a file's page-cache tree holding
// only shadows count in workingset_nodes; beyond node_present_pages >> 6
// of them, shrink_slab (from reclaim, from drop_caches) frees the excess
// in batches of 16, counting slabs_scanned and workingset_nodereclaim,
// and a page whose shadow went refaults no more.
TEST(fw_reclaim, the_shadow_node_shrinker_bounds_shadow_only_leaves) {
  constexpr uint64_t kChunk = 2 * MiB;  // one 512-slot leaf of the tree
  constexpr uint64_t kLeaves = 104;
  ReclaimRig f(16, quiet_params(), kLeaves * kChunk);
  fw::Workingset& ws = f.r.k->workingset();
  const uint64_t max_nodes = f.pg().node_present_pages >> fw::Workingset::kShadowNodeShift;
  ASSERT_LT(max_nodes + 2 * fw::Workingset::kShadowBatch, kLeaves);
  for (uint64_t c = 0; c < kLeaves; ++c) {
    f.read(0, c * kChunk, kChunk);
    ASSERT_EQ(f.pageout(0, c * kChunk / PAGE_SIZE, (c + 1) * kChunk / PAGE_SIZE), kChunk / PAGE_SIZE) << c;
    if (c + 1 == max_nodes) {
      EXPECT_EQ(ws.count_shadow_nodes(0), 0u) << "within the bound";
    }
  }
  EXPECT_EQ(f.node(fw::WORKINGSET_NODES), kLeaves);
  EXPECT_EQ(ws.count_shadow_nodes(0), kLeaves - max_nodes);
  EXPECT_EQ(f.ev(fw::SLABS_SCANNED), 0u);
  // Reclaim's shrink_slab at priority 12: half the excess is the pressure
  // (seeks 0), one batch of 16 leaves freed.
  const uint64_t tree_nodes = f.r.k->shmem().stats().tree_nodes;
  f.r.k->shrinkers().shrink_slab(f.r.cpu(), fw::GFP_KERNEL, 0, fw::DEF_PRIORITY);
  EXPECT_EQ(f.ev(fw::SLABS_SCANNED), fw::Workingset::kShadowBatch);
  EXPECT_EQ(f.node(fw::WORKINGSET_NODERECLAIM), fw::Workingset::kShadowBatch);
  EXPECT_EQ(f.node(fw::WORKINGSET_NODES), kLeaves - fw::Workingset::kShadowBatch);
  EXPECT_EQ(f.r.k->shmem().stats().tree_nodes, tree_nodes - fw::Workingset::kShadowBatch);
  // Direct reclaim calls it too; drop_caches 2 and more rounds bring the
  // leaves down to the bound, every leaf scanned freed.
  f.direct_reclaim();
  ASSERT_EQ(f.sys(Sys::sysctl, uapi::kSysctlDropCaches, 2), 0);
  for (unsigned i = 0; i < 8; ++i) f.r.k->shrinkers().shrink_slab(f.r.cpu(), fw::GFP_KERNEL, 0, 0);
  EXPECT_GT(f.node(fw::WORKINGSET_NODERECLAIM), fw::Workingset::kShadowBatch);
  EXPECT_EQ(f.ev(fw::SLABS_SCANNED), f.node(fw::WORKINGSET_NODERECLAIM));
  EXPECT_LE(f.node(fw::WORKINGSET_NODES), max_nodes + fw::Workingset::kShadowBatch);
  EXPECT_EQ(f.node(fw::WORKINGSET_NODES) + f.node(fw::WORKINGSET_NODERECLAIM), kLeaves);
  // The first leaves went (the walk is by index): their pages come back
  // without a refault; the last one's shadows are still there.
  const uint64_t refaults = f.node(fw::WORKINGSET_REFAULT_FILE);
  f.read(0, 0, kChunk);
  EXPECT_EQ(f.node(fw::WORKINGSET_REFAULT_FILE), refaults);
  f.read(0, (kLeaves - 1) * kChunk, kChunk);
  EXPECT_EQ(f.node(fw::WORKINGSET_REFAULT_FILE), refaults + kChunk / PAGE_SIZE);
  // Truncation drops every shadow: no shadow-only leaf is left.
  ASSERT_EQ(f.sys(Sys::ftruncate, static_cast<uint64_t>(f.fd[0]), 0), 0);
  EXPECT_EQ(f.node(fw::WORKINGSET_NODES), 0u);
  EXPECT_EQ(ws.count_shadow_nodes(0), fw::SHRINK_EMPTY);
}

TEST(fw_reclaim, refaults_within_the_active_list_activate) {
  ReclaimRig f;
  // A file read twice is on the active list: the workingset to beat.
  f.read(2, 0, kData);
  f.read(2, 0, kData);
  const uint64_t active = f.node(fw::NR_ACTIVE_FILE);
  EXPECT_GE(active, kData / PAGE_SIZE);
  f.read(1, 0, kData);
  ASSERT_EQ(f.pageout(1, 0, kData / PAGE_SIZE), kData / PAGE_SIZE);
  const uint64_t activate = f.ev(fw::PGACTIVATE);
  f.read(1, 0, kData, true);
  // Each refault distance (pages evicted or activated since) is under the
  // active list's size: all come back active, none through PGACTIVATE.
  EXPECT_EQ(f.node(fw::WORKINGSET_REFAULT_FILE), kData / PAGE_SIZE);
  EXPECT_EQ(f.node(fw::WORKINGSET_ACTIVATE_FILE), kData / PAGE_SIZE);
  EXPECT_EQ(f.node(fw::WORKINGSET_RESTORE_FILE), 0u) << "they were never in the workingset";
  EXPECT_EQ(f.ev(fw::PGACTIVATE), activate);
  EXPECT_TRUE(fw::PageFlag(f.cached(1, 0), fw::PG_active));
  EXPECT_GE(f.node(fw::NR_ACTIVE_FILE), active + kData / PAGE_SIZE);
}

TEST(fw_reclaim, used_pages_survive_and_cold_ones_go) {
  ReclaimRig f;
  // Mapped, used pages first (the oldest), then a cold stream read once.
  const int64_t m = f.r.sys(0, Sys::mmap, 0, kData, fw::PROT_READ, fw::MAP_SHARED, static_cast<uint64_t>(f.fd[2]), 0);
  ASSERT_GT(m, 0);
  for (uint64_t o = 0; o < kData; o += PAGE_SIZE) ASSERT_EQ(f.byte(static_cast<uint64_t>(m) + o), pattern(3, o));
  f.read(1, 0, kData);
  const uint64_t mapped = f.node(fw::NR_FILE_MAPPED);
  uint64_t reclaimed = 0;
  for (int i = 0; i < 8; ++i) reclaimed += f.direct_reclaim();
  EXPECT_GE(reclaimed, 8 * fw::SWAP_CLUSTER_MAX);
  EXPECT_EQ(f.node(fw::NR_FILE_MAPPED), mapped) << "referenced mapped pages stay mapped";
  for (uint64_t x = 0; x < kData / PAGE_SIZE; ++x) ASSERT_NE(f.cached(2, x), nullptr) << x;
  EXPECT_GE(f.ev(fw::PGACTIVATE), kData / PAGE_SIZE) << "second use (fault + A bit): activated";
  EXPECT_EQ(f.ev(fw::PGSTEAL_DIRECT), reclaimed);
  EXPECT_EQ(f.ev(fw::PGSTEAL_FILE), reclaimed);
  EXPECT_GE(f.ev(fw::PGSCAN_DIRECT), reclaimed);
  EXPECT_EQ(f.ev(fw::PGSCAN_ANON), 0u) << "no swap: anonymous pages are not scanned";
  EXPECT_EQ(f.ev(fw::ALLOCSTALL_NORMAL) + f.ev(fw::ALLOCSTALL_DMA32), 8u);
  mapping_check(*f.r.k, f.r.cpu());
}

TEST(fw_reclaim, mapped_file_pages_are_unmapped_with_their_dirt) {
  ReclaimRig f;
  const int64_t m = f.r.sys(0, Sys::mmap, 0, kData, fw::PROT_READ | fw::PROT_WRITE, fw::MAP_SHARED,
                            static_cast<uint64_t>(f.fd[2]), 0);
  ASSERT_GT(m, 0);
  const uint64_t a = static_cast<uint64_t>(m);
  for (uint64_t o = 0; o < kData; o += PAGE_SIZE) f.byte(a + o);
  *f.r.m->raw(f.r.access(0, a + 5, x86::Access::write), 1) = 0xa5;  // dirty through the PTE
  const uint64_t rss = f.r.k->mm_of(f.pid)->rss_shmem;
  const uint64_t n = kData / PAGE_SIZE;
  EXPECT_EQ(f.pageout(2, 0, n), n - 1) << "all but the dirty page";
  EXPECT_EQ(f.r.k->mm_of(f.pid)->rss_shmem, rss - n);
  EXPECT_EQ(f.node(fw::NR_FILE_MAPPED), 0u);
  page* dirty = f.cached(2, 0);
  ASSERT_NE(dirty, nullptr);
  EXPECT_TRUE(fw::PageFlag(dirty, fw::PG_dirty)) << "the D bit moved to the page";
  EXPECT_TRUE(fw::PageFlag(dirty, fw::PG_reclaim));
  EXPECT_EQ(f.node(fw::NR_VMSCAN_IMMEDIATE), 1u);
  // The flusher writes it; its completion rotates it to the inactive tail.
  ASSERT_EQ(f.sys(Sys::fsync, static_cast<uint64_t>(f.fd[2])), 0);
  EXPECT_EQ(f.ev(fw::PGROTATED), 1u);
  EXPECT_FALSE(fw::PageFlag(dirty, fw::PG_active));
  EXPECT_EQ(f.pageout(2, 0, 1), 1u);
  // Faults read everything back, the store included.
  EXPECT_EQ(f.byte(a + 5), 0xa5);
  for (uint64_t o = PAGE_SIZE; o < kData; o += 3 * PAGE_SIZE + 7) ASSERT_EQ(f.byte(a + o), pattern(3, o)) << o;
  mapping_check(*f.r.k, f.r.cpu());
}

// kswapd runs from the ticks between reads: a wide gap between the low and
// min watermarks (vm.watermark_scale_factor 10%) lets it keep up without
// the direct reclaim the allocator's slow path would add.
fw::Params wide_gap() {
  fw::Params p = quiet_params();
  p.watermark_scale_factor = 1000;
  return p;
}

TEST(fw_reclaim, kswapd_reclaims_to_high_naps_and_sleeps) {
  ReclaimRig f(64, wide_gap());
  fw::pglist_data& pg = f.pg();
  // Computed here, not by pgdat_balanced: some zone's free pages above its
  // high watermark plus the lowmem reserve for ZONE_NORMAL requests.
  auto above_high = [&] {
    for (const fw::zone& z : pg.node_zones)
      if (z.managed_pages && static_cast<int64_t>(z.free_pages()) >
                                 static_cast<int64_t>(fw::Watermark::high_wmark_pages(&z)) + z.lowmem_reserve[fw::ZONE_NORMAL])
        return true;
    return false;
  };
  // A stream larger than memory: kswapd keeps up from the ticks. Its
  // first nap comes right after a run: that run went up to high, not low
  // (the wide gap lies between the two).
  uint64_t o = 0;
  for (; o < kBig && !pg.kswapd_nap_until; o += MiB) f.read(0, o, MiB, false, true);
  ASSERT_NE(pg.kswapd_nap_until, 0u);
  EXPECT_TRUE(above_high());
  f.read(0, o, kBig - o, false, true);
  EXPECT_GT(f.ev(fw::PGSTEAL_KSWAPD), kBig / PAGE_SIZE / 2);
  EXPECT_EQ(f.ev(fw::PGSTEAL_DIRECT), 0u);
  EXPECT_GE(f.ev(fw::PAGEOUTRUN), 1u);
  EXPECT_EQ(pg.kswapd_failures, 0u);
  // Whatever the last run left: run it once more to be sure it is done.
  if (pg.kswapd_wait) f.r.k->run_deferred_work(f.r.cpu());
  EXPECT_TRUE(f.r.k->kswapd().pgdat_balanced(pg, 0, fw::ZONE_NORMAL));
  EXPECT_TRUE(above_high());
  EXPECT_FALSE(pg.kswapd_wait);
  ASSERT_NE(pg.kswapd_nap_until, 0u) << "balanced: the short nap";
  const uint64_t hit = f.ev(fw::KSWAPD_HIGH_WMARK_HIT_QUICKLY);
  f.r.cpu().advance_ns(100000000);
  f.r.k->run_deferred_work(f.r.cpu());
  EXPECT_EQ(pg.kswapd_nap_until, 0u);
  EXPECT_FALSE(pg.kswapd_wait) << "still balanced after the nap: asleep";
  EXPECT_EQ(f.ev(fw::KSWAPD_HIGH_WMARK_HIT_QUICKLY), hit);
  // The data of another file is still right after all that.
  f.read(1, 0, kData, true);
}

TEST(fw_reclaim, kswapd_woken_during_its_nap_counts_low_wmark_hit_quickly) {
  ReclaimRig f(64, wide_gap());
  fw::pglist_data& pg = f.pg();
  for (uint64_t o = 0; o < kBig && !pg.kswapd_nap_until; o += MiB) f.read(0, o, MiB, false, true);
  ASSERT_NE(pg.kswapd_nap_until, 0u);
  const uint64_t wakes = f.ev(fw::KSWAPD_WAKE);
  // More reading drops below low again before the nap ends.
  for (uint64_t o = 48 * MiB; o < kBig && !pg.kswapd_wait; o += MiB) f.read(0, o, MiB);
  EXPECT_TRUE(pg.kswapd_wait);
  EXPECT_EQ(pg.kswapd_nap_until, 0u);
  EXPECT_EQ(f.ev(fw::KSWAPD_LOW_WMARK_HIT_QUICKLY), 1u);
  EXPECT_EQ(f.ev(fw::KSWAPD_WAKE), wakes + 1);
}

TEST(fw_reclaim, direct_reclaim_frees_its_target) {
  ReclaimRig f;
  f.read(0, 0, 32 * MiB);
  const uint64_t free_before = f.r.k->nodes().total_free_pages();
  const uint64_t got = f.direct_reclaim();
  EXPECT_GE(got, fw::SWAP_CLUSTER_MAX);
  EXPECT_GE(f.r.k->nodes().total_free_pages() + 64, free_before + got) << "freed (a few may sit on per-CPU lists)";
  EXPECT_EQ(f.ev(fw::ALLOCSTALL_NORMAL) + f.ev(fw::ALLOCSTALL_DMA32), 1u);
  EXPECT_EQ(f.ev(fw::PGSTEAL_DIRECT), got);
  EXPECT_EQ(f.node(fw::NR_ISOLATED_FILE), 0u);
}

TEST(fw_reclaim, anonymous_pages_stay_without_swap) {
  ReclaimRig f;
  const uint64_t len = 4 * MiB;
  const uint64_t a = static_cast<uint64_t>(f.r.mmap(0, 0, len));
  for (uint64_t o = 0; o < len; o += PAGE_SIZE) *f.r.m->raw(f.r.access(0, a + o), 1) = static_cast<uint8_t>(o >> 12);
  f.read(0, 0, 16 * MiB);
  const uint64_t anon = f.node(fw::NR_ANON_MAPPED);
  for (int i = 0; i < 4; ++i) f.direct_reclaim();
  EXPECT_EQ(f.ev(fw::PGSCAN_ANON), 0u);
  EXPECT_EQ(f.node(fw::NR_ANON_MAPPED), anon);
  // MADV_PAGEOUT's path: no swap slot, so the pages are activated instead.
  fw::list_head l;
  fw::INIT_LIST_HEAD(&l);
  for (uint64_t o = 0; o < 16 * PAGE_SIZE; o += PAGE_SIZE) {
    page* p = f.r.k->nodes().pfn_to_page(f.r.access(0, a + o, x86::Access::read) >> fw::PAGE_SHIFT);
    ASSERT_TRUE(f.r.k->lru().isolate_lru(f.r.cpu(), p));
    fw::list_add_tail(&p->lru, &l);
  }
  const uint64_t activate = f.ev(fw::PGACTIVATE);
  EXPECT_EQ(f.r.k->vmscan().reclaim_pages(f.r.cpu(), &l), 0u);
  EXPECT_EQ(f.ev(fw::PGACTIVATE), activate + 16);
  EXPECT_EQ(f.node(fw::NR_ACTIVE_ANON), 16u);
  for (uint64_t o = 0; o < len; o += PAGE_SIZE) ASSERT_EQ(f.byte(a + o), static_cast<uint8_t>(o >> 12));
  mapping_check(*f.r.k, f.r.cpu());
}

TEST(fw_reclaim, try_to_unmap_keeps_an_anonymous_page_whose_swap_entry_has_no_slot) {
  ReclaimRig f;
  const uint64_t a = static_cast<uint64_t>(f.r.mmap(0, 0, 64 * KiB));
  const uint64_t pa = f.r.access(0, a);
  *f.r.m->raw(pa, 1) = 0x3c;
  page* p = f.r.k->nodes().pfn_to_page(pa >> fw::PAGE_SHIFT);
  // In the swap cache with an entry no swap area holds: swap_duplicate
  // refuses, the PTE stays (Linux restores it and gives up).
  fw::SetPageFlag(p, fw::PG_swapcache);
  p->private_ = fw::swp_entry(0, 5).val;
  fw::get_page(p);
  EXPECT_FALSE(f.r.k->rmap().try_to_unmap(f.r.cpu(), p));
  EXPECT_TRUE(fw::page_mapped(p));
  EXPECT_EQ(f.r.k->mm_of(f.pid)->swapents, 0u);
  fw::ClearPageFlag(p, fw::PG_swapcache);
  p->private_ = 0;
  fw::put_page_testzero(p);
  EXPECT_EQ(f.byte(a), 0x3c);
  // Without the swap cache it is not unmapped either.
  fw::get_page(p);
  EXPECT_FALSE(f.r.k->rmap().try_to_unmap(f.r.cpu(), p));
  fw::put_page_testzero(p);
  mapping_check(*f.r.k, f.r.cpu());
}

TEST(fw_reclaim, a_huge_page_is_split_for_swap_out) {
  fw::Params prm = quiet_params();
  prm.transparent_hugepage = fw::THP_ALWAYS;
  ReclaimRig f(64, prm);
  const uint64_t a = static_cast<uint64_t>(f.r.mmap(0, 0, 4 * MiB));
  const uint64_t h = (a + 2 * MiB - 1) & ~(2 * MiB - 1);
  for (uint64_t o = 0; o < 2 * MiB; o += PAGE_SIZE) *f.r.m->raw(f.r.access(0, h + o), 1) = static_cast<uint8_t>(o >> 12);
  page* head = f.r.k->nodes().pfn_to_page(f.r.access(0, h, x86::Access::read) >> fw::PAGE_SHIFT);
  ASSERT_TRUE(fw::PageTransHuge(head));
  fw::list_head l;
  fw::INIT_LIST_HEAD(&l);
  ASSERT_TRUE(f.r.k->lru().isolate_lru(f.r.cpu(), head));
  fw::list_add(&head->lru, &l);
  // No swap slot for the first page after the split: all stays mapped.
  EXPECT_EQ(f.r.k->vmscan().reclaim_pages(f.r.cpu(), &l), 0u);
  EXPECT_EQ(f.ev(fw::THP_SWPOUT_FALLBACK), 1u);
  EXPECT_FALSE(fw::PageCompound(head));
  EXPECT_EQ(f.node(fw::NR_ISOLATED_ANON), 0u);
  for (uint64_t o = 0; o < 2 * MiB; o += PAGE_SIZE) ASSERT_EQ(f.byte(h + o), static_cast<uint8_t>(o >> 12)) << o;
  mapping_check(*f.r.k, f.r.cpu());
}

TEST(fw_reclaim, kswapd_gives_up_on_a_node_with_nothing_to_reclaim) {
  fw::Params prm = quiet_params();
  prm.watermark_boost_factor = 0;
  Rig r(spec_mb(64), prm);
  fw::pglist_data& pg = r.k->nodes().node(0);
  std::vector<page*> got;
  while (!pg.kswapd_wait) got.push_back(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE, 0));
  // No file pages, no swap: each run fails, and kswapd runs again at once
  // until the node is hopeless; then it naps and sleeps.
  r.k->run_deferred_work(r.cpu());
  EXPECT_EQ(pg.kswapd_failures, fw::MAX_RECLAIM_RETRIES);
  EXPECT_EQ(r.k->vmstat().event[fw::PAGEOUTRUN], fw::MAX_RECLAIM_RETRIES);
  EXPECT_FALSE(pg.kswapd_wait) << "hopeless: left to direct reclaim";
  EXPECT_NE(pg.kswapd_nap_until, 0u);
  EXPECT_EQ(r.k->vmstat().event[fw::KSWAPD_HIGH_WMARK_HIT_QUICKLY], fw::MAX_RECLAIM_RETRIES - 1);
  EXPECT_NE(r.proc("zoneinfo").find("node_unreclaimable:  1"), std::string::npos);
  // Further wakeups leave it alone.
  const uint64_t wakes = r.k->vmstat().event[fw::KSWAPD_WAKE];
  got.push_back(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE, 0));
  EXPECT_EQ(r.k->vmstat().event[fw::KSWAPD_WAKE], wakes);
  for (page* p : got)
    if (p) r.k->page_alloc().free_pages(r.cpu(), p, 0);
}

// shrink_active_list counts as pgdeactivate only the pages it moved to the
// inactive list: mlocked pages it meets (mlock's move to the unevictable
// list not done yet, as with Linux's batched mlock_folio) are culled, and
// counted as that alone.
TEST(fw_reclaim, deactivation_culls_mlocked_pages_without_counting_them) {
  ReclaimRig f;
  const uint64_t n = kData / PAGE_SIZE;
  f.read(2, 0, kData);
  f.read(2, 0, kData);
  ASSERT_EQ(f.node(fw::NR_ACTIVE_FILE), n);
  for (uint64_t x = 0; x < n; x += 2) fw::SetPageFlag(f.cached(2, x), fw::PG_mlocked);
  const uint64_t deactivated = f.ev(fw::PGDEACTIVATE);
  fw::scan_control sc;
  sc.nr_to_reclaim = ~0ull;
  sc.gfp_mask = fw::GFP_KERNEL;
  sc.priority = 0;
  sc.force_deactivate = true;
  f.r.k->vmscan().shrink_node(f.r.cpu(), f.pg(), sc);
  EXPECT_EQ(f.ev(fw::UNEVICTABLE_PGCULLED), n / 2);
  EXPECT_EQ(f.node(fw::NR_UNEVICTABLE), n / 2);
  EXPECT_EQ(f.ev(fw::PGDEACTIVATE) - deactivated, n / 2) << "the evictable half only";
  for (uint64_t x = 0; x < n; x += 2) fw::ClearPageFlag(f.cached(2, x), fw::PG_mlocked);
}

// A page deactivated from the active list is marked PG_workingset; evicted
// and refaulting within the active list's size, it comes back active and
// counts as a workingset restore.
TEST(fw_reclaim, a_deactivated_workingset_page_refaults_as_a_restore) {
  ReclaimRig f;
  const uint64_t n = kData / PAGE_SIZE;
  // File 2 active first (the tail), then file 3: the workingset to beat.
  f.read(1, 0, kData);
  f.read(1, 0, kData);
  f.read(2, 0, kData);
  f.read(2, 0, kData);
  ASSERT_EQ(f.node(fw::NR_ACTIVE_FILE), 2 * n);
  // Priority 1: half the active list, file 2's pages, deactivated.
  f.shrink(1, true);
  EXPECT_EQ(f.node(fw::NR_ACTIVE_FILE), n);
  uint64_t marked = 0;
  for (uint64_t x = 0; x < n; ++x) marked += f.cached(1, x) && fw::PageFlag(f.cached(1, x), fw::PG_workingset);
  EXPECT_EQ(marked, n);
  ASSERT_EQ(f.pageout(1, 0, n), n);
  f.read(1, 0, kData, true);
  EXPECT_EQ(f.node(fw::WORKINGSET_REFAULT_FILE), n);
  EXPECT_EQ(f.node(fw::WORKINGSET_ACTIVATE_FILE), n);
  EXPECT_EQ(f.node(fw::WORKINGSET_RESTORE_FILE), n);
}

// vm.swappiness 0: even the last priority, which scans both types equally
// otherwise, leaves anonymous pages alone while file pages remain.
TEST(fw_reclaim, swappiness_zero_scans_no_anonymous_pages_while_file_pages_remain) {
  for (const unsigned swappiness : {0u, 200u}) {
    SCOPED_TRACE(swappiness);
    fw::Params p = quiet_params();
    p.swappiness = swappiness;
    ReclaimRig f(64, p);
    f.swapon(16);
    const uint64_t a = static_cast<uint64_t>(f.r.mmap(0, 0, 4 * MiB));
    for (uint64_t o = 0; o < 4 * MiB; o += PAGE_SIZE) *f.r.m->raw(f.r.access(0, a + o), 1) = 1;
    f.read(0, 0, 16 * MiB);
    ASSERT_GT(f.node(fw::NR_INACTIVE_ANON), 0u);
    ASSERT_GT(f.node(fw::NR_INACTIVE_FILE), 0u);
    f.shrink(0, false, fw::SWAP_CLUSTER_MAX);
    EXPECT_GT(f.ev(fw::PGSCAN_FILE), 0u);
    if (swappiness) {
      EXPECT_GT(f.ev(fw::PGSCAN_ANON), 0u);
    } else {
      EXPECT_EQ(f.ev(fw::PGSCAN_ANON), 0u);
    }
  }
}

TEST(fw_reclaim, mlock_moves_pages_to_the_unevictable_list_and_munlock_rescues_them) {
  ReclaimRig f;
  auto zone_mlock = [&] {
    uint64_t n = 0;
    for (const fw::zone& z : f.pg().node_zones) n += static_cast<uint64_t>(z.vm_stat[fw::NR_MLOCK]);
    return n;
  };
  const uint64_t n = kData / PAGE_SIZE;
  const int64_t m = f.r.sys(0, Sys::mmap, 0, kData, fw::PROT_READ, fw::MAP_SHARED, static_cast<uint64_t>(f.fd[2]), 0);
  ASSERT_GT(m, 0);
  const uint64_t a = static_cast<uint64_t>(m);
  EXPECT_EQ(f.sys(Sys::mlock, a - 4 * PAGE_SIZE, kData), -ENOMEM) << "the range starts in a hole";
  EXPECT_EQ(zone_mlock(), 0u);
  // Unaligned ends grow to whole pages; mlock faults the range in.
  ASSERT_EQ(f.sys(Sys::mlock, a + 100, kData - 100), 0);
  EXPECT_EQ(zone_mlock(), n);
  EXPECT_EQ(f.node(fw::NR_UNEVICTABLE), n);
  EXPECT_EQ(f.ev(fw::UNEVICTABLE_PGMLOCKED), n);
  EXPECT_EQ(f.ev(fw::UNEVICTABLE_PGCULLED), n);
  EXPECT_NE(f.r.proc("meminfo").find("Mlocked:            2048 kB"), std::string::npos) << f.r.proc("meminfo");
  EXPECT_NE(f.r.k->mmap().find_vma(f.r.k->mm_of(f.pid), a)->vm_flags & fw::VM_LOCKED, 0u);
  // Reclaim keeps them, however it asks.
  EXPECT_EQ(f.pageout(2, 0, n), 0u);
  for (int i = 0; i < 4; ++i) f.direct_reclaim();
  for (uint64_t x = 0; x < n; ++x) ASSERT_NE(f.cached(2, x), nullptr);
  EXPECT_EQ(f.node(fw::NR_UNEVICTABLE), n);
  // munlock of the first half: those are evictable again.
  ASSERT_EQ(f.sys(Sys::munlock, a, kData / 2), 0);
  EXPECT_EQ(zone_mlock(), n / 2);
  EXPECT_EQ(f.ev(fw::UNEVICTABLE_PGMUNLOCKED), n / 2);
  EXPECT_EQ(f.ev(fw::UNEVICTABLE_PGRESCUED), n / 2);
  EXPECT_EQ(f.node(fw::NR_UNEVICTABLE), n / 2);
  EXPECT_EQ(f.pageout(2, 0, n / 2), n / 2);
  // munmap: the locked pages are unmapped; the page cache keeps them
  // mlocked until they are freed (cleared).
  ASSERT_EQ(f.r.munmap(0, a, kData), 0);
  ASSERT_EQ(f.sys(Sys::ftruncate, static_cast<uint64_t>(f.fd[2]), 0), 0);
  EXPECT_EQ(zone_mlock(), 0u);
  EXPECT_EQ(f.ev(fw::UNEVICTABLE_PGCLEARED), n / 2);
  EXPECT_EQ(f.node(fw::NR_UNEVICTABLE), 0u);
  mapping_check(*f.r.k, f.r.cpu());
}

}  // namespace
}  // namespace fwtest
