// The request queue: submission, plugging, issue and completion (see
// blk_mq.h; Linux block/blk-mq.c and blk-core.c).
#include "sw/block/blk_mq.h"

#include "sw/lib/string.h"

namespace fw {

const block_device_operations blk_mq_fops = {blk_mq_submit_bio};

namespace {

// The plug of each CPU (Linux: current->plug).
blk_plug* cpu_plug[hal::kMaxCpus];

// Linux's BLK_MAX_REQUEST_COUNT: a plug holding this many requests' worth
// of bios is flushed before it grows further.
constexpr unsigned kPlugMaxRequests = 32;

bool is_data_op(req_op op) { return op == req_op::read || op == req_op::write; }

request* new_request(request_queue* q, req_op op, uint32_t flags, bio* b, uint64_t now) {
  request* rq = nullptr;
  for (unsigned i = 0; i < q->queue_depth && !rq; ++i)
    if (q->rqs[i].state == rq_state::idle) rq = &q->rqs[i];
  --q->nr_free;
  ++q->stats.requests;
  rq->op = op;
  rq->cmd_flags = flags;
  rq->sector = b ? b->bi_sector : 0;
  rq->data_len = b && op != req_op::flush ? b->bi_size : 0;
  rq->nr_phys_segments = b && op != req_op::flush ? b->bi_vcnt : 0;
  rq->bio_head = rq->bio_tail = b;
  if (b) b->bi_next = nullptr;
  rq->start_time_ns = now;
  rq->state = rq_state::queued;
  // A write the device must order against a flush, or must put on the medium itself, stays alone.
  rq->no_merge = !is_data_op(op) || (flags & (REQ_PREFLUSH | REQ_FUA));
  list_add_tail(&rq->queuelist, &q->dispatch);
  return rq;
}

// Merges b into a queued request or gives it its own. Returns false when
// the queue has no free request for it (b untouched).
bool start_bio(hal::Hal& h, request_queue* q, bio* b) {
  if (blk_mq_attempt_merge(q, b)) return true;
  uint32_t flags = b->opf;
  // Without a volatile cache there is nothing to flush (Linux's blk_flush_policy).
  if (!q->write_cache) flags &= ~(REQ_PREFLUSH | REQ_FUA);
  if (b->op == req_op::flush && !q->write_cache) {
    bio_endio(h, b);
    return true;
  }
  const bool preflush = b->op == req_op::write && (flags & REQ_PREFLUSH);
  if (q->nr_free < (preflush ? 2u : 1u)) return false;
  // PREFLUSH: a flush issued ahead of the write (the device completes in order).
  if (preflush) new_request(q, req_op::flush, 0, nullptr, h.now_ns());
  new_request(q, b->op, flags, b, h.now_ns());
  return true;
}

void wait_for_tag(request_queue* q, bio* b) {
  b->bi_next = nullptr;
  if (q->wait_tail) q->wait_tail->bi_next = b;
  else q->wait_head = b;
  q->wait_tail = b;
  ++q->stats.tag_waits;
}

// A bio enters the queue: after any that already wait for a request.
void queue_bio(hal::Hal& h, request_queue* q, bio* b) {
  if (!q->wait_head && start_bio(h, q, b)) return;
  wait_for_tag(q, b);
}

// Bios that waited for a request get one, in order, while any is free.
void start_waiters(hal::Hal& h, request_queue* q) {
  while (bio* b = q->wait_head) {
    bio* next = b->bi_next;
    b->bi_next = nullptr;
    if (!start_bio(h, q, b)) {
      b->bi_next = next;
      return;
    }
    q->wait_head = next;
    if (!next) q->wait_tail = nullptr;
  }
}

// Bios past the end of the device or not in whole logical blocks fail (Linux bio_check_eod, blk_validate).
bool bio_in_bounds(const bio* b) {
  const block_device* d = b->bi_bdev;
  if (b->op == req_op::flush) return true;
  const uint64_t lbs_sectors = d->logical_block_size >> SECTOR_SHIFT;
  const uint64_t nr = b->bi_size >> SECTOR_SHIFT;
  return (b->bi_size & (d->logical_block_size - 1)) == 0 && b->bi_sector % lbs_sectors == 0 &&
         b->bi_sector <= d->bd_nr_sectors && nr <= d->bd_nr_sectors - b->bi_sector;
}

}  // namespace

void blk_mq_init_queue(request_queue* q, block_device* bdev, const blk_mq_ops* ops, request* rqs,
                       unsigned queue_depth, const queue_limits& limits, bool write_cache, void* queuedata) {
  mem_set(q, 0, sizeof *q);
  mem_set(rqs, 0, sizeof(request) * queue_depth);
  q->disk = bdev;
  q->ops = ops;
  q->queuedata = queuedata;
  q->limits = limits;
  q->queue_depth = queue_depth;
  q->rqs = rqs;
  q->nr_free = queue_depth;
  q->write_cache = write_cache;
  INIT_LIST_HEAD(&q->dispatch);
  for (unsigned i = 0; i < queue_depth; ++i) {
    rqs[i].q = q;
    rqs[i].tag = static_cast<uint16_t>(i);
    rqs[i].state = rq_state::idle;
  }
  bdev->fops = &blk_mq_fops;
  bdev->queue = q;
  bdev->stats = &q->dstats;
}

blk_plug* blk_current_plug(hal::Hal& h) { return h.cpu() < hal::kMaxCpus ? cpu_plug[h.cpu()] : nullptr; }

void blk_start_plug(hal::Hal& h, blk_plug* plug) {
  plug->head = plug->tail = nullptr;
  plug->count = 0;
  // A nested plug does nothing: the outermost one flushes (as Linux).
  if (h.cpu() < hal::kMaxCpus && !cpu_plug[h.cpu()]) cpu_plug[h.cpu()] = plug;
}

void blk_finish_plug(hal::Hal& h, blk_plug* plug) {
  if (blk_current_plug(h) != plug) return;
  request_queue* queues[hal::kMaxDevices];
  unsigned nq = 0;
  bio* b = plug->head;
  plug->head = plug->tail = nullptr;
  plug->count = 0;
  for (; b;) {
    bio* next = b->bi_next;
    request_queue* q = b->bi_bdev->queue;
    q->plugged_merge = true;
    queue_bio(h, q, b);
    q->plugged_merge = false;
    unsigned i = 0;
    while (i < nq && queues[i] != q) ++i;
    if (i == nq) {
      if (nq < hal::kMaxDevices) queues[nq++] = q;
      else blk_mq_run_hw_queue(h, q);
    }
    b = next;
  }
  // Issued only now: the gathered bios had their chance to merge.
  for (unsigned i = 0; i < nq; ++i) blk_mq_run_hw_queue(h, queues[i]);
  // The plug stays this CPU's until its owner is done with it.
  if (plug->head) blk_finish_plug(h, plug);
  cpu_plug[h.cpu()] = nullptr;
}

void blk_mq_submit_bio(hal::Hal& h, bio* b) {
  request_queue* q = b->bi_bdev->queue;
  ++q->stats.bios;
  if (!bio_in_bounds(b)) {
    b->bi_status = blk_status_t::BLK_STS_IOERR;
    bio_endio(h, b);
    return;
  }
  blk_plug* plug = blk_current_plug(h);
  if (plug && b->op != req_op::flush) {
    // A bio continuing the last one will merge with it: it adds no request.
    const bio* t = plug->tail;
    const bool continues = t && t->bi_bdev == b->bi_bdev && t->op == b->op &&
                           t->bi_sector + (t->bi_size >> SECTOR_SHIFT) == b->bi_sector;
    if (!continues && plug->count >= kPlugMaxRequests) {
      // Flush what is gathered, keep plugging.
      blk_finish_plug(h, plug);
      blk_start_plug(h, plug);
    }
    b->bi_next = nullptr;
    if (plug->tail) plug->tail->bi_next = b;
    else plug->head = b;
    plug->tail = b;
    if (!continues) ++plug->count;
    return;
  }
  queue_bio(h, q, b);
  blk_mq_run_hw_queue(h, q);
}

void blk_mq_run_hw_queue(hal::Hal& h, request_queue* q) {
  if (q->running) {
    q->rerun = true;  // entered from a completion inside queue_rq: the outer loop goes on
    return;
  }
  q->running = true;
  do {
    q->rerun = false;
    while (!list_empty(&q->dispatch)) {
      request* rq = list_first_entry(&q->dispatch, request, queuelist);
      list_del(&rq->queuelist);
      rq->state = rq_state::in_flight;
      ++q->nr_in_flight;
      if (q->nr_in_flight > q->stats.max_in_flight) q->stats.max_in_flight = q->nr_in_flight;
      blk_account_io_start(q, h.now_ns());
      const blk_status_t st = q->ops->queue_rq(h, rq);
      if (st == blk_status_t::BLK_STS_RESOURCE) {
        // The device is full: back to the head of the list until a completion.
        rq->state = rq_state::queued;
        --q->nr_in_flight;
        --q->dstats.in_flight;
        list_add(&rq->queuelist, &q->dispatch);
        ++q->stats.busy_requeues;
        break;
      }
      if (st != blk_status_t::BLK_STS_OK) blk_mq_end_request(h, rq, st);
    }
  } while (q->rerun);
  q->running = false;
}

void blk_mq_end_request(hal::Hal& h, request* rq, blk_status_t status) {
  request_queue* q = rq->q;
  if (rq->state == rq_state::in_flight) {
    --q->nr_in_flight;
    blk_account_io_done(q, rq, h.now_ns());
  } else {
    list_del(&rq->queuelist);
  }
  bio* b = rq->bio_head;
  rq->bio_head = rq->bio_tail = nullptr;
  rq->state = rq_state::idle;
  rq->driver_data = nullptr;
  ++q->nr_free;
  // Every bio of the request ends with its status (Linux blk_update_request).
  while (b) {
    bio* next = b->bi_next;
    b->bi_next = nullptr;
    b->bi_status = status;
    bio_endio(h, b);
    b = next;
  }
  start_waiters(h, q);
  blk_mq_run_hw_queue(h, q);
}

}  // namespace fw
