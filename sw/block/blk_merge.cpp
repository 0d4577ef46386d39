// Merging bios into requests (Linux block/blk-merge.c: bio_attempt_back_merge,
// bio_attempt_front_merge, ll_back/front_merge_fn's limits).
#include "sw/block/blk_mq.h"

namespace fw {

namespace {

bool fits_limits(const request_queue* q, const request* rq, const bio* b) {
  return rq->nr_phys_segments + b->bi_vcnt <= q->limits.max_segments &&
         (static_cast<uint64_t>(rq->data_len) + b->bi_size) >> SECTOR_SHIFT <= q->limits.max_sectors;
}

void merged(request_queue* q, request* rq, const bio* b) {
  rq->data_len += b->bi_size;
  rq->nr_phys_segments += b->bi_vcnt;
  ++q->dstats.merges[op_stat_group(b->op)];
  if (q->plugged_merge) ++q->stats.plug_merges;
}

}  // namespace

bool blk_mq_attempt_merge(request_queue* q, bio* b) {
  if ((b->op != req_op::read && b->op != req_op::write) || (b->opf & (REQ_PREFLUSH | REQ_FUA)) || !b->bi_size)
    return false;
  // Newest first: a stream of adjacent bios grows the request it just made.
  for (list_head* p = q->dispatch.prev; p != &q->dispatch; p = p->prev) {
    request* rq = list_entry(p, request, queuelist);
    if (rq->no_merge || rq->op != b->op || !fits_limits(q, rq, b)) continue;
    if (rq->sector + (rq->data_len >> SECTOR_SHIFT) == b->bi_sector) {
      b->bi_next = nullptr;
      rq->bio_tail->bi_next = b;
      rq->bio_tail = b;
      merged(q, rq, b);
      ++q->stats.back_merges;
      return true;
    }
    if (b->bi_sector + (b->bi_size >> SECTOR_SHIFT) == rq->sector) {
      b->bi_next = rq->bio_head;
      rq->bio_head = b;
      rq->sector = b->bi_sector;
      merged(q, rq, b);
      ++q->stats.front_merges;
      return true;
    }
  }
  return false;
}

}  // namespace fw
