// The disks' driver (sw/drivers/block/virtio_blk.h).
#include "sw/drivers/block/virtio_blk.h"

#include <stddef.h>

#include "sw/dma/dma.h"
#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/lib/string.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/slub.h"

namespace fw {

namespace {

// The device's registers and ring format (hw/block/block_device.h).
constexpr uint64_t REG_QSIZE = 0x10, REG_FEATURES = 0x18, REG_DESC = 0x20, REG_AVAIL = 0x28, REG_USED = 0x30,
                   REG_CTRL = 0x38, REG_NOTIFY = 0x40, REG_IRQ = 0x48, REG_ISR = 0x50, REG_ERROR = 0x58,
                   REG_ERRADDR = 0x60;
constexpr uint64_t FEATURE_FLUSH = 1, FEATURE_FUA = 2;
constexpr uint64_t ISR_ERROR = 2;
constexpr uint16_t VRING_DESC_F_NEXT = 1, VRING_DESC_F_WRITE = 2, VRING_DESC_F_INDIRECT = 4;
constexpr uint32_t VIRTIO_BLK_T_IN = 0, VIRTIO_BLK_T_OUT = 1, VIRTIO_BLK_T_FLUSH = 4;
constexpr uint32_t VIRTIO_BLK_F_FUA_FLAG = 1;
constexpr uint8_t VIRTIO_BLK_S_OK = 0, VIRTIO_BLK_S_UNSUPP = 2, VIRTIO_BLK_S_MEDIUM = 3;
constexpr uint8_t STATUS_UNSET = 0xff;  // the device never wrote it
constexpr unsigned kMaxQueueDepth = 1024;

const char* const device_errors[] = {"none",          "address beyond the device's width", "bus error",
                                     "poisoned memory", "bad descriptor chain",              "bad request"};

// Linux's blk_errors[] names, as blk_print_req_error prints them ("<name> error, dev ...").
const char* blk_error_str(blk_status_t s) {
  switch (s) {
    case blk_status_t::BLK_STS_MEDIUM: return "critical medium";
    case blk_status_t::BLK_STS_TIMEOUT: return "timeout";
    case blk_status_t::BLK_STS_RESOURCE: return "kernel resource";
    case blk_status_t::BLK_STS_NOTSUPP: return "operation not supported";
    default: return "I/O";
  }
}

struct vring_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};
static_assert(sizeof(vring_desc) == 16, "virtio's descriptor layout");

struct virtio_blk_outhdr {
  uint32_t type, flags;
  uint64_t sector;
};

struct vring_used_elem {
  uint32_t id, len;
};

// One tag's command, in coherent memory: its indirect table, header and status.
struct vblk_cmd {
  vring_desc table[VirtioBlkDriver::kMaxSegments + 2];
  virtio_blk_outhdr hdr;
  uint8_t status;
  uint8_t pad[15];
};

// One tag's host-side state.
struct vblk_tag {
  request* rq;
  unsigned nsegs;
  dma_data_direction dir;
  uint64_t deadline_ns;
};

}  // namespace

struct virtio_blk {
  VirtioBlkDriver* drv;
  device* dev;
  uint64_t mmio;
  uint8_t vector;
  unsigned qsize;
  uint64_t features;
  void* ring;  // descriptor table, avail ring, used ring
  dma_addr_t ring_dma;
  uint64_t ring_bytes;
  vring_desc* desc;
  uint16_t* avail;  // flags, idx, ring[qsize]
  uint16_t* used;   // flags, idx, then vring_used_elem[qsize]
  uint16_t avail_idx, last_used;
  vblk_cmd* cmds;
  dma_addr_t cmds_dma;
  vblk_tag* tags;
  request* rqs;
  blk_mq_ops ops;
  block_device bdev;
  request_queue q;
  VirtioBlkStats stats;
};

block_device* VirtioBlkDriver::bdev(unsigned i) { return i < nr_disks_ ? &disks_[i]->bdev : nullptr; }
const VirtioBlkStats* VirtioBlkDriver::stats(unsigned i) const { return i < nr_disks_ ? &disks_[i]->stats : nullptr; }

void VirtioBlkDriver::start_ring(hal::Hal& h, virtio_blk* vb) {
  mem_set(vb->ring, 0, vb->ring_bytes);
  vb->avail_idx = vb->last_used = 0;
  h.mmio_write(vb->mmio + REG_DESC, vb->ring_dma, 8);
  h.mmio_write(vb->mmio + REG_AVAIL, vb->ring_dma + vb->qsize * sizeof(vring_desc), 8);
  h.mmio_write(vb->mmio + REG_USED,
               vb->ring_dma + static_cast<uint64_t>(reinterpret_cast<uint8_t*>(vb->used) -
                                                    static_cast<uint8_t*>(vb->ring)),
               8);
  h.mmio_write(vb->mmio + REG_IRQ, vb->vector | (static_cast<uint64_t>(h.cpu()) << 32), 8);
  h.mmio_write(vb->mmio + REG_CTRL, 1, 8);
}

bool VirtioBlkDriver::setup(hal::Hal& h, device* dev, const hal::Device& hw) {
  Log& log = *ctx_->log;
  uint64_t qsize = 0, features = 0;
  h.mmio_read(hw.mmio_base + REG_QSIZE, qsize, 8);
  h.mmio_read(hw.mmio_base + REG_FEATURES, features, 8);
  if (!qsize || qsize > kMaxQueueDepth || (qsize & (qsize - 1))) {
    log.printk(h, LOGLEVEL_ERR, "%s %s: unusable queue size %lu", kName, dev_name(dev), static_cast<unsigned long>(qsize));
    return false;
  }
  auto* vb = static_cast<virtio_blk*>(ctx_->slab->kzalloc(h, sizeof(virtio_blk), GFP_KERNEL));
  if (!vb) return false;
  vb->drv = this;
  vb->dev = dev;
  vb->mmio = hw.mmio_base;
  vb->vector = static_cast<uint8_t>(hw.irq_vector);
  vb->qsize = static_cast<unsigned>(qsize);
  vb->features = features;
  // The split ring: descriptors, avail ring (+ used_event), used ring 4-byte aligned (+ avail_event).
  const uint64_t avail_off = vb->qsize * sizeof(vring_desc);
  const uint64_t used_off = align_up(avail_off + 6 + 2ull * vb->qsize, 4);
  vb->ring_bytes = used_off + 6 + sizeof(vring_used_elem) * vb->qsize;
  vb->ring = dma_alloc_coherent(h, dev, vb->ring_bytes, &vb->ring_dma, GFP_KERNEL);
  vb->cmds = static_cast<vblk_cmd*>(
      dma_alloc_coherent(h, dev, sizeof(vblk_cmd) * vb->qsize, &vb->cmds_dma, GFP_KERNEL));
  vb->tags = static_cast<vblk_tag*>(ctx_->slab->kzalloc(h, sizeof(vblk_tag) * vb->qsize, GFP_KERNEL));
  vb->rqs = static_cast<request*>(ctx_->slab->kzalloc(h, sizeof(request) * vb->qsize, GFP_KERNEL));
  if (!vb->ring || !vb->cmds || !vb->tags || !vb->rqs) {
    log.printk(h, LOGLEVEL_ERR, "%s %s: cannot allocate its virtqueue", kName, dev_name(dev));
    return false;  // what was allocated stays: a boot that cannot is not going far
  }
  vb->desc = static_cast<vring_desc*>(vb->ring);
  vb->avail = reinterpret_cast<uint16_t*>(static_cast<uint8_t*>(vb->ring) + avail_off);
  vb->used = reinterpret_cast<uint16_t*>(static_cast<uint8_t*>(vb->ring) + used_off);
  vb->ops.queue_rq = &VirtioBlkDriver::queue_rq;

  block_device& b = vb->bdev;
  mem_copy(b.bd_disk_name, hw.name, kDiskNameLen);
  b.bd_disk_name[kDiskNameLen - 1] = 0;
  b.bd_nr_sectors = hw.capacity >> SECTOR_SHIFT;
  b.logical_block_size = hw.block_size;
  b.numa_node = dev->numa_node;
  b.private_data = vb;
  const queue_limits limits = {hw.block_size, BIO_MAX_VECS * 4096 >> SECTOR_SHIFT, kMaxSegments};
  blk_mq_init_queue(&vb->q, &b, &vb->ops, vb->rqs, vb->qsize, limits, (features & FEATURE_FLUSH) != 0, vb);
  start_ring(h, vb);
  if (ctx_->blockdevs->add(&b)) {
    log.printk(h, LOGLEVEL_ERR, "%s %s: a block device of that name exists", kName, dev_name(dev));
    return false;
  }
  disks_[nr_disks_++] = vb;
  // Linux: "virtio_blk virtio1: [vda] 2097152 512-byte logical blocks (1.07 GB/1.00 GiB)".
  const uint64_t blocks = hw.capacity / hw.block_size;
  log.printk(h, LOGLEVEL_NOTICE, "%s %s: [%s] %lu %u-byte logical blocks (%lu MB/%lu MiB), %u-bit DMA, %u-entry ring",
             kName, dev_name(dev), b.bd_disk_name, static_cast<unsigned long>(blocks), hw.block_size,
             static_cast<unsigned long>(hw.capacity / 1000000), static_cast<unsigned long>(hw.capacity >> 20),
             dev->addr_bits, vb->qsize);
  log.printk(h, LOGLEVEL_INFO, "%s %s: [%s] write cache: %s, FUA: %s", kName, dev_name(dev), b.bd_disk_name,
             (features & FEATURE_FLUSH) ? "enabled" : "disabled", (features & FEATURE_FUA) ? "yes" : "no");
  return true;
}

void VirtioBlkDriver::probe(hal::Hal& h) {
  Dma& dma = *ctx_->dma;
  for (unsigned i = 0; i < dma.nr_devices() && nr_disks_ < kMaxDisks; ++i) {
    device* dev = dma.device_at(i);
    const hal::Device& hw = ctx_->boot->devices[dev->id];
    if (hw.kind != hal::DeviceKind::block) continue;
    dev->driver = kName;
    if (dma_set_mask_and_coherent(h, dev, DMA_BIT_MASK(dev->addr_bits))) {
      ctx_->log->printk(h, LOGLEVEL_WARNING, "%s %s: No suitable DMA available", kName, dev_name(dev));
      continue;
    }
    setup(h, dev, hw);
  }
}

blk_status_t VirtioBlkDriver::queue_rq(hal::Hal& h, request* rq) {
  auto* vb = static_cast<virtio_blk*>(rq->q->queuedata);
  const unsigned tag = rq->tag;
  vblk_cmd& cmd = vb->cmds[tag];
  const dma_addr_t cmd_dma = vb->cmds_dma + tag * sizeof(vblk_cmd);
  const bool read = rq->op == req_op::read;
  const dma_data_direction dir = read ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
  cmd.hdr.type = rq->op == req_op::flush ? VIRTIO_BLK_T_FLUSH : read ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
  cmd.hdr.flags = rq->op == req_op::write && (rq->cmd_flags & REQ_FUA) && (vb->features & FEATURE_FUA)
                      ? VIRTIO_BLK_F_FUA_FLAG
                      : 0;
  cmd.hdr.sector = rq->sector;
  cmd.table[0] = vring_desc{cmd_dma + offsetof(vblk_cmd, hdr), sizeof(virtio_blk_outhdr), VRING_DESC_F_NEXT, 1};
  unsigned n = 1;
  for (bio* b = rq->bio_head; b && rq->op != req_op::flush; b = b->bi_next)
    for (unsigned i = 0; i < b->bi_vcnt; ++i) {
      const bio_vec& v = b->bi_io_vec[i];
      const dma_addr_t a = dma_map_page(h, vb->dev, v.bv_page, v.bv_offset, v.bv_len, dir);
      if (dma_mapping_error(vb->dev, a) || n > kMaxSegments) {
        vb->drv->unmap(h, vb, tag, n - 1);
        ++vb->stats.map_failures;
        // Busy while others are in flight (their completion frees bounce
        // slots); a request alone that cannot be mapped fails.
        return rq->q->nr_in_flight > 1 ? blk_status_t::BLK_STS_RESOURCE : blk_status_t::BLK_STS_IOERR;
      }
      cmd.table[n] = vring_desc{a, v.bv_len, static_cast<uint16_t>(VRING_DESC_F_NEXT | (read ? VRING_DESC_F_WRITE : 0)),
                                static_cast<uint16_t>(n + 1)};
      ++n;
    }
  cmd.status = STATUS_UNSET;
  cmd.table[n] = vring_desc{cmd_dma + offsetof(vblk_cmd, status), 1, VRING_DESC_F_WRITE, 0};
  vb->tags[tag] = vblk_tag{rq, n - 1, dir, h.now_ns() + kIoTimeoutNs};
  vb->desc[tag] = vring_desc{cmd_dma, static_cast<uint32_t>((n + 1) * sizeof(vring_desc)), VRING_DESC_F_INDIRECT, 0};
  vb->avail[2 + vb->avail_idx % vb->qsize] = static_cast<uint16_t>(tag);
  vb->avail[1] = ++vb->avail_idx;  // published after the entry (the device reads idx first)
  ++vb->stats.requests;
  vb->stats.segments += n - 1;
  h.mmio_write(vb->mmio + REG_NOTIFY, 0, 8);
  return blk_status_t::BLK_STS_OK;
}

void VirtioBlkDriver::unmap(hal::Hal& h, virtio_blk* vb, uint32_t tag, unsigned nsegs) {
  const vblk_cmd& cmd = vb->cmds[tag];
  const dma_data_direction dir = cmd.hdr.type == VIRTIO_BLK_T_IN ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
  for (unsigned i = 1; i <= nsegs; ++i) dma_unmap_page(h, vb->dev, cmd.table[i].addr, cmd.table[i].len, dir);
}

void VirtioBlkDriver::complete(hal::Hal& h, virtio_blk* vb, uint32_t tag) {
  if (tag >= vb->qsize || !vb->tags[tag].rq) return;  // not ours (a stale entry after a reset)
  vblk_tag& t = vb->tags[tag];
  request* rq = t.rq;
  t.rq = nullptr;
  unmap(h, vb, tag, t.nsegs);
  const uint8_t s = vb->cmds[tag].status;
  ++vb->stats.completed;
  blk_status_t st = blk_status_t::BLK_STS_OK;
  if (s == VIRTIO_BLK_S_MEDIUM) st = blk_status_t::BLK_STS_MEDIUM, ++vb->stats.media_errors;
  else if (s == VIRTIO_BLK_S_UNSUPP) st = blk_status_t::BLK_STS_NOTSUPP;
  else if (s != VIRTIO_BLK_S_OK) st = blk_status_t::BLK_STS_IOERR;
  if (st != blk_status_t::BLK_STS_OK) {
    ++vb->stats.errors;
    // Linux blk_print_req_error.
    static const char* const ops[] = {"READ", "WRITE", "FLUSH"};
    ctx_->log->printk(h, LOGLEVEL_ERR, "%s error, dev %s, sector %lu op 0x%x:(%s) flags 0x%x phys_seg %u prio class 0",
                      blk_error_str(st), vb->bdev.bd_disk_name, static_cast<unsigned long>(rq->sector),
                      static_cast<unsigned>(rq->op), ops[static_cast<unsigned>(rq->op)], rq->cmd_flags,
                      rq->nr_phys_segments);
  }
  blk_mq_end_request(h, rq, st);
}

bool VirtioBlkDriver::handle_irq(hal::Hal& h, uint8_t vector) {
  for (unsigned i = 0; i < nr_disks_; ++i) {
    virtio_blk* vb = disks_[i];
    if (vb->vector != vector) continue;
    ++vb->stats.irqs;
    uint64_t isr = 0;
    h.mmio_read(vb->mmio + REG_ISR, isr, 8);
    if (isr & ISR_ERROR) {
      uint64_t err = 0, at = 0;
      h.mmio_read(vb->mmio + REG_ERROR, err, 8);
      h.mmio_read(vb->mmio + REG_ERRADDR, at, 8);
      ctx_->log->printk(h, LOGLEVEL_ERR, "%s %s: device error: %s at bus address 0x%lx", kName, dev_name(vb->dev),
                        err < sizeof device_errors / sizeof device_errors[0] ? device_errors[err] : "unknown",
                        static_cast<unsigned long>(at));
    }
    // Every used entry since the last interrupt (completions may queue more).
    auto* elems = reinterpret_cast<const vring_used_elem*>(vb->used + 2);
    while (vb->last_used != *reinterpret_cast<volatile uint16_t*>(&vb->used[1])) {
      const uint32_t id = elems[vb->last_used % vb->qsize].id;
      ++vb->last_used;
      complete(h, vb, id);
    }
    return true;
  }
  return false;
}

void VirtioBlkDriver::reset(hal::Hal& h, virtio_blk* vb, blk_status_t status) {
  ++vb->stats.resets;
  h.mmio_write(vb->mmio + REG_CTRL, 0, 8);  // the device drops what it holds
  for (unsigned tag = 0; tag < vb->qsize; ++tag) {
    vblk_tag& t = vb->tags[tag];
    if (!t.rq) continue;
    request* rq = t.rq;
    t.rq = nullptr;
    unmap(h, vb, tag, t.nsegs);
    if (status == blk_status_t::BLK_STS_TIMEOUT) ++vb->stats.timeouts;
    blk_mq_end_request(h, rq, status);
  }
  start_ring(h, vb);
  blk_mq_run_hw_queue(h, &vb->q);
}

void VirtioBlkDriver::check_timeouts(hal::Hal& h) {
  const uint64_t now = h.now_ns();
  for (unsigned i = 0; i < nr_disks_; ++i) {
    virtio_blk* vb = disks_[i];
    for (unsigned tag = 0; tag < vb->qsize; ++tag) {
      if (!vb->tags[tag].rq || now < vb->tags[tag].deadline_ns) continue;
      ctx_->log->printk(h, LOGLEVEL_ERR, "%s %s: request (tag %u, sector %lu) timed out: resetting the device", kName,
                        dev_name(vb->dev), tag, static_cast<unsigned long>(vb->tags[tag].rq->sector));
      reset(h, vb, blk_status_t::BLK_STS_TIMEOUT);
      break;
    }
  }
}

void VirtioBlkDriver::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  for (unsigned i = 0; i < nr_disks_; ++i) {
    const virtio_blk* vb = disks_[i];
    const char* n = vb->bdev.bd_disk_name;
    const VirtioBlkStats& s = vb->stats;
    const BlkQueueStats& q = vb->q.stats;
    e.fmt(q.bios, "bios submitted", "count", "%s.bios", n);
    e.fmt(q.requests, "requests allocated", "count", "%s.requests", n);
    e.fmt(q.back_merges, "bios appended to a queued request", "count", "%s.back_merges", n);
    e.fmt(q.front_merges, "bios prepended to a queued request", "count", "%s.front_merges", n);
    e.fmt(q.plug_merges, "merges of bios gathered under a plug", "count", "%s.plug_merges", n);
    e.fmt(q.tag_waits, "bios that waited for a free request (queue depth reached)", "count", "%s.tag_waits", n);
    e.fmt(q.busy_requeues, "requests the driver sent back (bounce buffers full)", "count", "%s.busy_requeues", n);
    e.fmt(q.max_in_flight, "most requests issued at once", "count", "%s.max_in_flight", n);
    e.fmt(s.requests, "requests put on the ring", "count", "%s.ring_requests", n);
    e.fmt(s.segments, "data pages mapped for the device", "count", "%s.segments", n);
    e.fmt(s.irqs, "completion interrupts", "count", "%s.irqs", n);
    e.fmt(s.completed, "requests the device completed", "count", "%s.completed", n);
    e.fmt(s.errors, "requests that failed", "count", "%s.errors", n);
    e.fmt(s.media_errors, "requests failed by a bad sector", "count", "%s.media_errors", n);
    e.fmt(s.map_failures, "requests whose pages could not be mapped", "count", "%s.map_failures", n);
    e.fmt(s.timeouts, "requests ended by the I/O timeout", "count", "%s.timeouts", n);
    e.fmt(s.resets, "device resets", "count", "%s.resets", n);
  }
}

}  // namespace fw
