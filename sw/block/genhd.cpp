// A disk's I/O accounting (Linux block/blk-core.c update_io_ticks,
// blk-mq.c blk_account_io_start/done): what /proc/diskstats shows.
// Departure: io_ticks is kept in ns of simulated time (Linux counts
// jiffies), so a short busy period counts exactly.
#include "sw/block/blk_mq.h"

namespace fw {

stat_group op_stat_group(req_op op) {
  switch (op) {
    case req_op::read: return STAT_READ;
    case req_op::write: return STAT_WRITE;
    case req_op::flush: return STAT_FLUSH;
  }
  return STAT_READ;
}

namespace {

// Time with a request in flight, brought up to now (Linux update_io_ticks;
// `end`: a request ends now, so the time since the stamp was busy).
void update_io_ticks(disk_stats& s, uint64_t now_ns, bool end) {
  if (now_ns > s.stamp_ns && (end || s.in_flight)) s.io_ticks_ns += now_ns - s.stamp_ns;
  if (now_ns > s.stamp_ns) s.stamp_ns = now_ns;
}

}  // namespace

void blk_account_io_start(request_queue* q, uint64_t now_ns) {
  update_io_ticks(q->dstats, now_ns, false);
  ++q->dstats.in_flight;
}

void blk_account_io_done(request_queue* q, const request* rq, uint64_t now_ns) {
  disk_stats& s = q->dstats;
  const stat_group g = op_stat_group(rq->op);
  update_io_ticks(s, now_ns, true);
  ++s.ios[g];
  s.sectors[g] += rq->data_len >> SECTOR_SHIFT;
  s.nsecs[g] += now_ns > rq->start_time_ns ? now_ns - rq->start_time_ns : 0;
  --s.in_flight;
}

}  // namespace fw
