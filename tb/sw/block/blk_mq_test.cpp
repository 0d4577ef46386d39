// The block layer (sw/block/blk_mq.h) against a test request driver that
// holds what it is given until the test completes it: adjacent bios merge
// (back and front, within the limits) while plugged or while the device is
// full, and not once issued; a plug holding 32 requests is issued before it
// takes another; at most queue_depth requests exist and more
// bios wait, in order; completion ends every bio of a request with its
// status; PREFLUSH and FUA follow the device's cache; out-of-range bios
// fail; and the disk's counters and /proc/diskstats line are what Linux
// 6.18 would show for the same I/O.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sw/block/blk_mq.h"
#include "sw/fs/proc/proc_fs.h"
#include "sw/hal/debug.h"
#include "sw/hal/host/host_hal.h"
#include "sw/lib/seq_file.h"
#include "sw/mm/context.h"

namespace fw {
namespace {

struct StringSink final : TextSink {
  std::string s;
  void write(const char* t, size_t n) override { s.append(t, n); }
};

struct TestDriver {
  std::vector<request*> issued;
  size_t room = 1000;  // requests the device takes at once
  std::vector<std::pair<req_op, uint32_t>> ops;  // what was issued, in order (op, flags)
  static blk_status_t queue_rq(hal::Hal&, request* rq) {
    auto* d = static_cast<TestDriver*>(rq->q->queuedata);
    if (d->issued.size() >= d->room) return blk_status_t::BLK_STS_RESOURCE;
    d->issued.push_back(rq);
    d->ops.push_back({rq->op, rq->cmd_flags});
    return blk_status_t::BLK_STS_OK;
  }
};

int ended = 0;
void count_end(hal::Hal&, bio*) { ++ended; }

struct Rig {
  explicit Rig(unsigned depth = 8, uint32_t lbs = 512, bool cache = true, uint32_t max_segments = 256) {
    hosthal::MachineSpec spec;
    spec.mem_bytes = 32ull << 20;
    m = std::make_unique<hosthal::HostMachine>(spec);
    std::strcpy(bdev.bd_disk_name, "disk0");
    bdev.bd_nr_sectors = 1 << 20;
    bdev.logical_block_size = lbs;
    rqs.resize(depth);
    blk_mq_init_queue(&q, &bdev, &ops, rqs.data(), depth, queue_limits{lbs, 2048, max_segments}, cache, &drv);
    devs.init();
    devs.add(&bdev);
    ended = 0;
  }
  hal::Hal& h() { return m->cpu(0); }
  // A bio of `pages` 4 KiB pieces at `sector` (the pages are never touched;
  // a bio holds at most 16).
  bio* make(req_op op, uint64_t sector, unsigned pages = 1, uint32_t opf = 0) {
    bios.push_back(std::make_unique<bio>());
    bio* b = bios.back().get();
    bio_init(b, &bdev, op, opf, sector);
    for (unsigned i = 0; i < pages; ++i)
      EXPECT_TRUE(bio_add_page(b, reinterpret_cast<page*>(0x1000 * (i + 1)), 4096, 0)) << "vec " << i;
    b->bi_end_io = count_end;
    return b;
  }
  bio* submit(req_op op, uint64_t sector, unsigned pages = 1, uint32_t opf = 0) {
    bio* b = make(op, sector, pages, opf);
    submit_bio(h(), b);
    return b;
  }
  // The device completes the i-th request it holds, `ns` after now.
  void complete(size_t i = 0, blk_status_t st = blk_status_t::BLK_STS_OK, uint64_t ns = 1000000) {
    m->cpu(0).advance_ns(ns);
    request* rq = drv.issued.at(i);
    drv.issued.erase(drv.issued.begin() + static_cast<long>(i));
    blk_mq_end_request(h(), rq, st);
  }
  std::string diskstats() {
    MmContext ctx;
    ctx.blockdevs = &devs;
    StringSink sink;
    seq_file sf(sink);
    diskstats_show(&sf, ctx);
    return sink.s;
  }

  std::unique_ptr<hosthal::HostMachine> m;
  block_device bdev{};
  request_queue q{};
  std::vector<request> rqs;
  TestDriver drv;
  blk_mq_ops ops{&TestDriver::queue_rq};
  BlockDevices devs{};
  std::vector<std::unique_ptr<bio>> bios;
};

TEST(BlkMq, PluggedAdjacentBiosMergeIntoOneRequest) {
  Rig r;
  blk_plug plug;
  blk_start_plug(r.h(), &plug);
  r.submit(req_op::write, 8);
  r.submit(req_op::write, 16);
  r.submit(req_op::write, 0);   // front merge
  r.submit(req_op::write, 24);  // back merge
  r.submit(req_op::write, 64);  // not adjacent: its own request
  r.submit(req_op::read, 32);   // another op: its own request
  EXPECT_TRUE(r.drv.issued.empty()) << "nothing is issued while plugged";
  blk_finish_plug(r.h(), &plug);
  ASSERT_EQ(r.drv.issued.size(), 3u);
  request* rq = r.drv.issued[0];
  EXPECT_EQ(blk_rq_pos(rq), 0u);
  EXPECT_EQ(blk_rq_bytes(rq), 4u * 4096);
  EXPECT_EQ(rq->nr_phys_segments, 4u);
  EXPECT_EQ(r.q.stats.back_merges, 2u);
  EXPECT_EQ(r.q.stats.front_merges, 1u);
  EXPECT_EQ(r.q.stats.plug_merges, 3u);
  EXPECT_EQ(r.q.dstats.merges[STAT_WRITE], 3u);
  // Completion ends every bio of the request.
  r.complete(0);
  EXPECT_EQ(ended, 4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.bios[i]->bi_done);
  EXPECT_FALSE(r.bios[4]->bi_done);
}

TEST(BlkMq, MergesRespectTheLimits) {
  Rig r(8, 512, true, 3);  // at most 3 segments per request
  blk_plug plug;
  blk_start_plug(r.h(), &plug);
  for (uint64_t s = 0; s < 5 * 8; s += 8) r.submit(req_op::read, s);
  blk_finish_plug(r.h(), &plug);
  ASSERT_EQ(r.drv.issued.size(), 2u);
  EXPECT_EQ(r.drv.issued[0]->nr_phys_segments, 3u);
  EXPECT_EQ(r.drv.issued[1]->nr_phys_segments, 2u);
  // And at most max_sectors (1 MiB): 17 adjacent 64 KiB bios fill one
  // request exactly, the last starts another (segments allow all 17).
  Rig big(8, 512, true, 1024);
  blk_start_plug(big.h(), &plug);
  for (uint64_t s = 0; s < 17 * 128; s += 128) big.submit(req_op::read, s, 16);
  blk_finish_plug(big.h(), &plug);
  ASSERT_EQ(big.drv.issued.size(), 2u);
  EXPECT_EQ(blk_rq_bytes(big.drv.issued[0]), 1u << 20);
  EXPECT_EQ(blk_rq_pos(big.drv.issued[1]), 2048u);
  EXPECT_EQ(blk_rq_bytes(big.drv.issued[1]), 64u << 10);
}

TEST(BlkMq, UnpluggedBiosIssueAtOnceAndMergeOnlyWhileTheDeviceIsFull) {
  Rig r;
  r.submit(req_op::write, 0);
  r.submit(req_op::write, 8);
  EXPECT_EQ(r.drv.issued.size(), 2u) << "an issued request takes no more bios";
  EXPECT_EQ(r.q.dstats.merges[STAT_WRITE], 0u);
  r.drv.room = 2;  // the device is full: the next bios wait on the dispatch list and merge there
  r.submit(req_op::write, 16);
  r.submit(req_op::write, 24);
  EXPECT_EQ(r.drv.issued.size(), 2u);
  EXPECT_EQ(r.q.stats.busy_requeues, 2u);
  EXPECT_EQ(r.q.dstats.merges[STAT_WRITE], 1u);
  r.complete(0);
  ASSERT_EQ(r.drv.issued.size(), 2u);
  EXPECT_EQ(blk_rq_pos(r.drv.issued[1]), 16u);
  EXPECT_EQ(blk_rq_bytes(r.drv.issued[1]), 8192u);
}

TEST(BlkMq, QueueDepthBoundsRequestsAndTheRestWaitInOrder) {
  Rig r(4);
  for (uint64_t i = 0; i < 6; ++i) r.submit(req_op::read, i * 64);
  EXPECT_EQ(r.drv.issued.size(), 4u);
  EXPECT_EQ(r.q.stats.tag_waits, 2u);
  EXPECT_EQ(r.q.stats.max_in_flight, 4u);
  EXPECT_EQ(r.q.dstats.in_flight, 4u);
  r.complete(0);
  ASSERT_EQ(r.drv.issued.size(), 4u);
  EXPECT_EQ(blk_rq_pos(r.drv.issued.back()), 4u * 64) << "the first waiter goes first";
  while (!r.drv.issued.empty()) r.complete(0);
  EXPECT_EQ(ended, 6);
  EXPECT_EQ(r.q.stats.max_in_flight, 4u);
  EXPECT_EQ(r.q.nr_free, 4u);
}

TEST(BlkMq, CompletionStatusReachesEveryBio) {
  Rig r;
  blk_plug plug;
  blk_start_plug(r.h(), &plug);
  bio* a = r.submit(req_op::read, 0);
  bio* b = r.submit(req_op::read, 8);
  blk_finish_plug(r.h(), &plug);
  r.complete(0, blk_status_t::BLK_STS_MEDIUM);
  EXPECT_EQ(a->bi_status, blk_status_t::BLK_STS_MEDIUM);
  EXPECT_EQ(b->bi_status, blk_status_t::BLK_STS_MEDIUM);
  EXPECT_EQ(blk_status_to_errno(b->bi_status), -5);
}

TEST(BlkMq, PreflushAndFuaFollowTheWriteCache) {
  Rig r;
  r.submit(req_op::write, 0, 1, REQ_PREFLUSH | REQ_FUA);
  ASSERT_EQ(r.drv.ops.size(), 2u);
  EXPECT_EQ(r.drv.ops[0].first, req_op::flush) << "PREFLUSH: a flush ahead of the write";
  EXPECT_EQ(r.drv.ops[1].first, req_op::write);
  EXPECT_TRUE(r.drv.ops[1].second & REQ_FUA);
  r.submit(req_op::write, 8);  // the FUA write takes no merge
  EXPECT_EQ(r.drv.ops.size(), 3u);
  bio* f = r.submit(req_op::flush, 0, 0);
  EXPECT_EQ(r.drv.ops.size(), 4u);
  EXPECT_FALSE(f->bi_done);
  while (!r.drv.issued.empty()) r.complete(0);
  EXPECT_TRUE(f->bi_done);
  EXPECT_EQ(r.q.dstats.ios[STAT_FLUSH], 2u);

  Rig nocache(8, 512, false);
  nocache.submit(req_op::write, 0, 1, REQ_PREFLUSH | REQ_FUA);
  ASSERT_EQ(nocache.drv.ops.size(), 1u);
  EXPECT_EQ(nocache.drv.ops[0].second & (REQ_PREFLUSH | REQ_FUA), 0u);
  bio* nf = nocache.submit(req_op::flush, 0, 0);
  EXPECT_TRUE(nf->bi_done) << "nothing to flush: done at once";
}

TEST(BlkMq, BiosOutsideTheDiskOrItsBlocksFail) {
  Rig r(8, 4096);
  bio* beyond = r.submit(req_op::read, (1 << 20) - 8, 2);
  bio* odd = r.submit(req_op::read, 4);
  EXPECT_TRUE(beyond->bi_done);
  EXPECT_EQ(beyond->bi_status, blk_status_t::BLK_STS_IOERR);
  EXPECT_EQ(odd->bi_status, blk_status_t::BLK_STS_IOERR);
  EXPECT_TRUE(r.drv.issued.empty());
  r.submit(req_op::read, 8);
  EXPECT_EQ(r.drv.issued.size(), 1u);
  // Half a logical block fails; a bio ending at the last sector does not.
  bio* half = r.make(req_op::read, 16, 0);
  ASSERT_TRUE(bio_add_page(half, reinterpret_cast<page*>(0x1000), 2048, 0));
  submit_bio(r.h(), half);
  EXPECT_EQ(half->bi_status, blk_status_t::BLK_STS_IOERR);
  bio* last = r.submit(req_op::read, (1 << 20) - 16, 2);
  EXPECT_FALSE(last->bi_done);
  EXPECT_EQ(r.drv.issued.size(), 2u);
}

TEST(BlkMq, APlugOf32RequestsIsIssuedBeforeItTakesAnother) {
  Rig r(64);
  blk_plug plug;
  blk_start_plug(r.h(), &plug);
  // BLK_MAX_REQUEST_COUNT: the 33rd request's bio flushes the 32 gathered.
  for (uint64_t i = 0; i < 33; ++i) r.submit(req_op::read, i * 64);
  EXPECT_EQ(r.drv.issued.size(), 32u);
  blk_finish_plug(r.h(), &plug);
  ASSERT_EQ(r.drv.issued.size(), 33u);
  EXPECT_EQ(blk_rq_pos(r.drv.issued.back()), 32u * 64);
}

TEST(BlkMq, DiskstatsCountAsLinux) {
  Rig r;
  blk_plug plug;
  blk_start_plug(r.h(), &plug);
  r.submit(req_op::read, 0);
  r.submit(req_op::read, 8);
  blk_finish_plug(r.h(), &plug);
  r.submit(req_op::write, 100, 2);
  EXPECT_EQ(r.q.dstats.in_flight, 2u);
  r.complete(0, blk_status_t::BLK_STS_OK, 3000000);  // the read: 3 ms after it was queued
  r.complete(0, blk_status_t::BLK_STS_OK, 2000000);  // the write: 5 ms
  r.submit(req_op::flush, 0, 0);
  r.complete(0, blk_status_t::BLK_STS_OK, 1000000);
  const disk_stats& s = r.q.dstats;
  EXPECT_EQ(s.ios[STAT_READ], 1u);
  EXPECT_EQ(s.merges[STAT_READ], 1u);
  EXPECT_EQ(s.sectors[STAT_READ], 16u);
  EXPECT_EQ(s.nsecs[STAT_READ], 3000000u);
  EXPECT_EQ(s.ios[STAT_WRITE], 1u);
  EXPECT_EQ(s.sectors[STAT_WRITE], 16u);
  EXPECT_EQ(s.nsecs[STAT_WRITE], 5000000u);
  EXPECT_EQ(s.ios[STAT_FLUSH], 1u);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.io_ticks_ns, 6000000u);  // busy from the first issue to the last completion
  // major minor name, reads merges sectors ms, writes merges sectors ms, in flight, io ms, queue ms,
  // discards merges sectors ms, flushes ms.
  EXPECT_EQ(r.diskstats(), " 253       0 disk0 1 1 16 3 1 0 16 5 0 6 9 0 0 0 0 1 1\n");
}

}  // namespace
}  // namespace fw
