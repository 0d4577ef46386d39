// The block layer for request-based devices (Linux block/blk-mq.c,
// blk-merge.c, blk-core.c's plugging, genhd.c's I/O statistics): bios
// become requests on a queue per device; adjacent bios merge into one
// request (back and front merges, up to the queue's limits); at most
// queue_depth requests exist per queue (its tags), and bios that find none
// wait for a completion; a plug (blk_start_plug .. blk_finish_plug) gathers
// a caller's bios so they merge before any is issued; completion ends every
// bio of the request; each disk counts what /proc/diskstats shows.
//
// One software/hardware queue pair per device and no I/O scheduler (Linux's
// "none"): requests wait on the queue's dispatch list only while the device
// has no room, and bios merge into requests still on it. Submission and
// completion run on the CPU that calls them (completion from the driver's
// interrupt), never concurrently with each other on one queue.
//
// Users: block drivers (sw/drivers/block: they fill a blk_mq_ops and call
// blk_mq_end_request), the users of bio.h through fops->submit_bio, /proc/
// diskstats (sw/fs/proc/diskstats.cpp), the host unit tests (tb/sw/block).
#pragma once

#include <stdint.h>

#include "sw/block/bio.h"
#include "sw/hal/hal.h"
#include "sw/lib/list.h"

namespace fw {

// The groups /proc/diskstats counts (enum stat_group).
enum stat_group : unsigned { STAT_READ, STAT_WRITE, STAT_DISCARD, STAT_FLUSH, NR_STAT_GROUPS };

// One disk's I/O statistics (Linux struct disk_stats; times in ns).
struct disk_stats {
  uint64_t ios[NR_STAT_GROUPS];      // requests completed
  uint64_t merges[NR_STAT_GROUPS];   // bios merged into a request
  uint64_t sectors[NR_STAT_GROUPS];  // 512-byte sectors completed
  uint64_t nsecs[NR_STAT_GROUPS];    // time from a request's allocation to its completion, summed
  uint64_t io_ticks_ns;              // time with at least one request in flight
  uint64_t in_flight;                // requests issued to the driver, not completed
  uint64_t stamp_ns;                 // when io_ticks was last brought up to date
};

// Returns the group a request or bio of `op` counts in.
stat_group op_stat_group(req_op op);

struct request_queue;

enum class rq_state : uint8_t { idle, queued, in_flight };

// One I/O the driver issues: bios of adjacent sectors (Linux struct request).
struct request {
  request_queue* q;
  req_op op;
  uint32_t cmd_flags;        // REQ_* of its first bio (REQ_FUA passes to the driver)
  uint64_t sector;           // first 512-byte sector
  uint32_t data_len;         // bytes
  uint32_t nr_phys_segments; // bio_vecs of its bios
  bio* bio_head;
  bio* bio_tail;
  uint64_t start_time_ns;  // allocation: queue time counts in diskstats' ms
  uint16_t tag;
  rq_state state;
  bool no_merge;  // a write behind a PREFLUSH, a FUA write: alone
  list_head queuelist;
  void* driver_data;  // the driver's per-tag data
};

inline uint64_t blk_rq_pos(const request* rq) { return rq->sector; }
inline uint32_t blk_rq_bytes(const request* rq) { return rq->data_len; }

// What a driver gives the queue.
struct blk_mq_ops {
  // Issues rq to the device. Returns BLK_STS_OK when the device took it (it
  // completes later through blk_mq_end_request), BLK_STS_RESOURCE when the
  // device is full (rq is issued again after the next completion), any
  // other status to fail it now.
  blk_status_t (*queue_rq)(hal::Hal& h, request* rq);
};

// The queue's limits (Linux struct queue_limits).
struct queue_limits {
  uint32_t logical_block_size;  // 512 or 4096
  uint32_t max_sectors;         // a request's largest size, in 512-byte sectors
  uint32_t max_segments;        // a request's most bio_vecs
};

struct BlkQueueStats {
  uint64_t bios = 0;          // bios submitted
  uint64_t requests = 0;      // requests allocated
  uint64_t back_merges = 0;   // bios appended to a request
  uint64_t front_merges = 0;  // bios prepended to a request
  uint64_t plug_merges = 0;   // of those, merges of bios gathered under a plug
  uint64_t tag_waits = 0;     // bios that waited for a free request (queue depth reached)
  uint64_t busy_requeues = 0; // requests the driver sent back (device full)
  uint64_t max_in_flight = 0; // most requests issued at once
};

struct request_queue {
  block_device* disk;
  const blk_mq_ops* ops;
  void* queuedata;  // the driver's
  queue_limits limits;
  unsigned queue_depth;   // requests (tags)
  request* rqs;           // queue_depth of them
  unsigned nr_free;       // free tags
  list_head dispatch;     // allocated, not yet issued
  bio* wait_head;         // bios waiting for a tag, in order
  bio* wait_tail;
  unsigned nr_in_flight;  // issued, not completed
  bool running, rerun;    // blk_mq_run_hw_queue's guard (it may be entered from a completion)
  bool plugged_merge;     // merging bios of a plug flush (for the plug_merges count)
  bool write_cache;       // the device has a volatile cache: PREFLUSH and FUA mean something
  BlkQueueStats stats;
  disk_stats dstats;
};

// Sets q up for bdev with rqs[queue_depth] (the caller's memory), and points
// bdev->fops at blk_mq_submit_bio, bdev->queue and bdev->stats at q.
void blk_mq_init_queue(request_queue* q, block_device* bdev, const blk_mq_ops* ops, request* rqs,
                       unsigned queue_depth, const queue_limits& limits, bool write_cache, void* queuedata);
// fops->submit_bio of a request-based device: plugs, merges, allocates, issues.
void blk_mq_submit_bio(hal::Hal& h, bio* b);
// The driver finished rq: accounts it, ends its bios with status, frees its
// tag and issues what waited.
void blk_mq_end_request(hal::Hal& h, request* rq, blk_status_t status);
// Issues requests from the dispatch list while the device has room.
void blk_mq_run_hw_queue(hal::Hal& h, request_queue* q);
// The operations a request-based block_device has.
extern const block_device_operations blk_mq_fops;

// Plugging (Linux blk_start_plug / blk_finish_plug): the calling CPU's bios
// are gathered until blk_finish_plug, which merges and issues them. Linux
// keeps the plug in the task (current->plug); a firmware task runs a system
// call to its end on one CPU, so the CPU's plug stands for the task's.
struct blk_plug {
  bio* head;
  bio* tail;
  unsigned count;
};
void blk_start_plug(hal::Hal& h, blk_plug* plug);
void blk_finish_plug(hal::Hal& h, blk_plug* plug);
// Returns the calling CPU's plug, or nullptr.
blk_plug* blk_current_plug(hal::Hal& h);

// blk-merge.c: tries to merge b into a request of q not yet issued.
// Returns true when it did (b now ends with that request).
bool blk_mq_attempt_merge(request_queue* q, bio* b);

// genhd.c's accounting: a request issued / completed at now_ns.
void blk_account_io_start(request_queue* q, uint64_t now_ns);
void blk_account_io_done(request_queue* q, const request* rq, uint64_t now_ns);

}  // namespace fw
