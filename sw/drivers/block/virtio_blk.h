// The disks' driver (Linux drivers/block/virtio_blk.c over a virtio 1.x
// split virtqueue; the device is hw/block/block_device.h). At boot, one disk
// per `block` device of the boot information: its struct device gets DMA
// masks of its width (dma_set_mask_and_coherent), the ring and each tag's
// command (an indirect descriptor table, the request header and the status
// byte) live in coherent DMA memory (so within the device's reach), and a
// request-based block_device with its queue (sw/block/blk_mq.h) is
// registered in ctx->blockdevs.
//
// A request: each bio_vec's page is mapped with the streaming DMA API
// (dma_map_page: a 32-bit disk's buffers above 4 GiB bounce through
// swiotlb), listed in the tag's indirect table, the table put on the avail
// ring and the device notified. Its interrupt walks the used ring: the
// pages are unmapped and the request ends with the status byte's meaning
// (a bad sector: BLK_STS_MEDIUM, logged by name as Linux's
// blk_print_req_error does). A request the device has not completed after
// the I/O timeout (Linux's 30 s default) resets the device and ends every
// request in flight with BLK_STS_TIMEOUT.
//
// Users: the kernel (boot: probe; interrupts; the timer tick's timeout
// check; statistics).
#pragma once

#include <stdint.h>

#include "sw/block/blk_mq.h"
#include "sw/dma/device.h"
#include "sw/dma/mapping.h"
#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"

namespace fw {

struct VirtioBlkStats {
  uint64_t requests = 0;    // requests put on the ring
  uint64_t segments = 0;    // data pages mapped for them
  uint64_t irqs = 0;        // completion interrupts
  uint64_t completed = 0;   // requests the device completed
  uint64_t errors = 0;      // of those, failed (media, I/O, unsupported)
  uint64_t media_errors = 0;
  uint64_t map_failures = 0;  // requests whose pages could not be mapped (swiotlb full)
  uint64_t timeouts = 0;      // requests ended by the timeout
  uint64_t resets = 0;        // device resets
};

struct virtio_blk;

class VirtioBlkDriver {
 public:
  static constexpr const char* kName = "virtio_blk";
  static constexpr unsigned kMaxDisks = hal::kMaxDevices;
  static constexpr unsigned kMaxSegments = 256;  // a request's pages: BIO_MAX_VECS
  static constexpr uint64_t kIoTimeoutNs = 30ull * 1000000000;

  void init(MmContext* ctx) { ctx_ = ctx; }
  // Boot, after the DMA subsystem: one disk per `block` device.
  void probe(hal::Hal& h);
  // A disk's interrupt: returns false when vector is none of its disks'.
  bool handle_irq(hal::Hal& h, uint8_t vector);
  // The timer tick: requests past their deadline reset their device.
  void check_timeouts(hal::Hal& h);
  unsigned nr_disks() const { return nr_disks_; }
  virtio_blk* disk(unsigned i) { return i < nr_disks_ ? disks_[i] : nullptr; }
  block_device* bdev(unsigned i);
  const VirtioBlkStats* stats(unsigned i) const;

  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  static blk_status_t queue_rq(hal::Hal& h, request* rq);
  bool setup(hal::Hal& h, device* dev, const hal::Device& hw);
  void complete(hal::Hal& h, virtio_blk* vb, uint32_t tag);
  void unmap(hal::Hal& h, virtio_blk* vb, uint32_t tag, unsigned nsegs);
  void reset(hal::Hal& h, virtio_blk* vb, blk_status_t status);
  void start_ring(hal::Hal& h, virtio_blk* vb);

  MmContext* ctx_ = nullptr;
  virtio_blk* disks_[kMaxDisks] = {};
  unsigned nr_disks_ = 0;
};

}  // namespace fw
