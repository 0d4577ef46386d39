// The DMA engines' driver (sw/drivers/dma/dmaengine.h).
#include "sw/drivers/dma/dmaengine.h"

#include "sw/dma/dma.h"
#include "sw/dma/scatterlist.h"
#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/lib/string.h"
#include "sw/mm/gup.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/slub.h"

namespace fw {

namespace {

// The engine's registers and descriptor (hw/dma/dma_engine.h).
constexpr uint64_t REG_CTRL = 0x18, REG_STATUS = 0x20, REG_IRQ = 0x28, REG_DESC = 0x38, REG_ERRADDR = 0x40;
constexpr uint64_t CTRL_START_CHAIN = 2;
constexpr uint64_t STATUS_DONE = 2, STATUS_CHECKER = 4;
constexpr uint32_t DESC_LAST = 1;

struct dma_desc {
  uint64_t src, dst;
  uint32_t len, flags;
  uint64_t next;
};
static_assert(sizeof(dma_desc) == 32, "the engine's descriptor layout");

const char* const engine_errors[] = {"none", "address beyond the engine's width", "bus error", "poisoned memory",
                                     "busy", "bad length", "bad descriptor"};

}  // namespace

void DmaEngineDriver::probe(hal::Hal& h) {
  Dma& dma = *ctx_->dma;
  Log& log = *ctx_->log;
  for (unsigned i = 0; i < dma.nr_devices() && nr_chans_ < kMaxChans; ++i) {
    device* dev = dma.device_at(i);
    const hal::Device& hw = ctx_->boot->devices[dev->id];
    dev->driver = kName;
    if (dma_set_mask_and_coherent(h, dev, DMA_BIT_MASK(dev->addr_bits))) {
      log.printk(h, LOGLEVEL_WARNING, "%s %s: No suitable DMA available", kName, dev_name(dev));
      continue;
    }
    dma_chan& c = chans_[nr_chans_];
    c.dev = dev;
    c.mmio = hw.mmio_base;
    c.vector = static_cast<uint8_t>(hw.irq_vector);
    ++nr_chans_;
    log.printk(h, LOGLEVEL_INFO, "%s %s: %u-bit DMA engine at 0x%lx, irq vector %u", kName, dev_name(dev),
               dev->addr_bits, static_cast<unsigned long>(c.mmio), c.vector);
  }
}

bool DmaEngineDriver::handle_irq(hal::Hal& h, uint8_t vector) {
  for (unsigned i = 0; i < nr_chans_; ++i) {
    dma_chan& c = chans_[i];
    if (c.vector != vector) continue;
    uint64_t status = 0;
    h.mmio_read(c.mmio + REG_STATUS, status, 8);
    c.status = status;
    c.done = true;
    return true;
  }
  return false;
}

int DmaEngineDriver::run_chain(hal::Hal& h, dma_chan* c, unsigned n, uint64_t bytes) {
  Dma& dma = *ctx_->dma;
  c->done = false;
  ++c->stats.transfers;
  c->stats.descriptors += n;
  const uint64_t start = h.now_ns();
  h.mmio_write(c->mmio + REG_IRQ, c->vector | (static_cast<uint64_t>(h.cpu()) << 32), 8);
  h.mmio_write(c->mmio + REG_DESC, c->ring_dma, 8);
  h.mmio_write(c->mmio + REG_CTRL, CTRL_START_CHAIN, 8);
  const uint64_t deadline = start + ctx_->params->dma_timeout_ms * 1000000ull;
  while (!c->done) {
    if (h.now_ns() >= deadline) {
      ++c->stats.timeouts;
      ctx_->log->printk(h, LOGLEVEL_ERR, "%s %s: transfer timed out", kName, dev_name(c->dev));
      return -ETIMEDOUT;
    }
    h.cpu_relax();
  }
  c->stats.busy_ns += h.now_ns() - start;
  if (c->status & STATUS_CHECKER) ++c->stats.checker_flagged;
  const unsigned err = static_cast<unsigned>((c->status >> 8) & 0xff);
  if (err || !(c->status & STATUS_DONE)) {
    uint64_t at = 0;
    h.mmio_read(c->mmio + REG_ERRADDR, at, 8);
    ++c->stats.errors;
    ctx_->log->printk(h, LOGLEVEL_ERR, "%s %s: transfer failed: %s at bus address 0x%lx", kName, dev_name(c->dev),
                      err < sizeof engine_errors / sizeof engine_errors[0] ? engine_errors[err] : "unknown error",
                      static_cast<unsigned long>(at));
    return -EIO;
  }
  c->stats.bytes += bytes;
  dma.trace(h, "dma: %s: chain of %u descriptors, %lu bytes, completed", dev_name(c->dev), n,
            static_cast<unsigned long>(bytes));
  return 0;
}

bool DmaEngineDriver::alloc_ring(hal::Hal& h, dma_chan* c) {
  if (c->ring) return true;
  // The ring the engine reads its descriptors from: coherent, so within its
  // reach. Allocated at first use, so a machine that never uses its DMA
  // engines has the memory it always had.
  c->ring = dma_alloc_coherent(h, c->dev, kRingBytes, &c->ring_dma, GFP_KERNEL);
  if (!c->ring) ctx_->log->printk(h, LOGLEVEL_WARNING, "%s %s: cannot allocate its descriptor ring", kName, dev_name(c->dev));
  return c->ring != nullptr;
}

int DmaEngineDriver::memcpy_sg(hal::Hal& h, dma_chan* c, const sg_table* dst, const sg_table* src, uint64_t len) {
  if (!alloc_ring(h, c)) return -ENOMEM;
  auto* ring = static_cast<dma_desc*>(c->ring);
  const unsigned cap = static_cast<unsigned>(kRingBytes / sizeof(dma_desc));
  unsigned si = 0, di = 0, n = 0;
  uint64_t soff = 0, doff = 0, chain_bytes = 0;
  // One descriptor per overlap of a source and a destination segment; a
  // full ring runs, then the next chain is prepared.
  while (len) {
    const scatterlist& s = src->sgl[si];
    const scatterlist& d = dst->sgl[di];
    uint64_t piece = min<uint64_t>(s.dma_length - soff, d.dma_length - doff);
    piece = min(piece, len);
    dma_desc& desc = ring[n];
    desc.src = s.dma_address + soff;
    desc.dst = d.dma_address + doff;
    desc.len = static_cast<uint32_t>(piece);
    len -= piece;
    chain_bytes += piece;
    if ((soff += piece) == s.dma_length) soff = 0, ++si;
    if ((doff += piece) == d.dma_length) doff = 0, ++di;
    const bool last = !len || n + 1 == cap;
    desc.flags = last ? DESC_LAST : 0;
    desc.next = last ? 0 : c->ring_dma + (n + 1) * sizeof(dma_desc);
    ++n;
    if (last) {
      const int rc = run_chain(h, c, n, chain_bytes);
      if (rc) return rc;
      n = 0;
      chain_bytes = 0;
    }
  }
  return 0;
}

int DmaEngineDriver::map_user(hal::Hal& h, dma_chan* c, sg_table* sgt, dma_data_direction dir) {
  if (ctx_->params->dma_driver_bug == DMA_BUG_UNMAPPED) {
    // The bug: CPU physical addresses straight to the engine.
    for (unsigned i = 0; i < sgt->orig_nents; ++i) {
      scatterlist& sg = sgt->sgl[i];
      sg.dma_address = ctx_->nodes->page_to_phys(sg.pg) + sg.offset;
      sg.dma_length = sg.length;
    }
    sgt->nents = sgt->orig_nents;
    return 0;
  }
  const int rc = dma_map_sgtable(h, c->dev, sgt, dir, 0);
  // The bug: the mapping is undone before the engine uses it.
  if (!rc && ctx_->params->dma_driver_bug == DMA_BUG_STALE) dma_unmap_sgtable(h, c->dev, sgt, dir, 0);
  return rc;
}

void DmaEngineDriver::unmap_user(hal::Hal& h, dma_chan* c, sg_table* sgt, dma_data_direction dir) {
  if (ctx_->params->dma_driver_bug == DMA_BUG_NONE) dma_unmap_sgtable(h, c->dev, sgt, dir, 0);
}

int64_t DmaEngineDriver::user_copy(hal::Hal& h, mm_struct* mm, unsigned chan_index, uint64_t dst, uint64_t src,
                                   uint64_t len) {
  dma_chan* c = chan(chan_index);
  if (!c) return -ENODEV;
  if (!len || src + len < src || dst + len < dst) return -EINVAL;
  ++c->stats.user_copies;
  Slab& slab = *ctx_->slab;
  const unsigned long ns = (PAGE_ALIGN(src + len) - (src & PAGE_MASK)) >> PAGE_SHIFT;
  const unsigned long nd = (PAGE_ALIGN(dst + len) - (dst & PAGE_MASK)) >> PAGE_SHIFT;
  auto** sp = static_cast<page**>(slab.kmalloc(h, ns * sizeof(page*), GFP_KERNEL));
  auto** dp = static_cast<page**>(slab.kmalloc(h, nd * sizeof(page*), GFP_KERNEL));
  sg_table st{}, dt{};
  int64_t rc = sp && dp ? 0 : -ENOMEM;
  long pinned_s = 0, pinned_d = 0;
  if (!rc && (pinned_s = ctx_->gup->pin_user_pages(h, mm, src & PAGE_MASK, ns, 0, sp)) < 0) rc = pinned_s;
  if (!rc && (pinned_d = ctx_->gup->pin_user_pages(h, mm, dst & PAGE_MASK, nd, FOLL_WRITE, dp)) < 0) rc = pinned_d;
  // Segments no longer than one mapping may be (swiotlb's 256 KiB when it may bounce).
  const uint64_t seg = min<uint64_t>(dma_max_mapping_size(c->dev), 1ull << 30);
  if (!rc) rc = sg_alloc_table_from_pages_segment(h, ctx_, &st, sp, ns, src & ~PAGE_MASK, len, seg, GFP_KERNEL);
  if (!rc) rc = sg_alloc_table_from_pages_segment(h, ctx_, &dt, dp, nd, dst & ~PAGE_MASK, len, seg, GFP_KERNEL);
  bool mapped_s = false, mapped_d = false;
  if (!rc) rc = map_user(h, c, &st, DMA_TO_DEVICE), mapped_s = !rc;
  if (!rc) rc = map_user(h, c, &dt, DMA_FROM_DEVICE), mapped_d = !rc;
  if (!rc) rc = memcpy_sg(h, c, &dt, &st, len);
  if (mapped_d) unmap_user(h, c, &dt, DMA_FROM_DEVICE);
  if (mapped_s) unmap_user(h, c, &st, DMA_TO_DEVICE);
  sg_free_table(h, ctx_, &dt);
  sg_free_table(h, ctx_, &st);
  if (pinned_d > 0) ctx_->gup->unpin_user_pages(h, dp, nd, true);
  if (pinned_s > 0) ctx_->gup->unpin_user_pages(h, sp, ns, false);
  slab.kfree(h, dp);
  slab.kfree(h, sp);
  if (rc) ++c->stats.user_copy_failed;
  return rc;
}

void DmaEngineDriver::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  for (unsigned i = 0; i < nr_chans_; ++i) {
    const dma_chan& c = chans_[i];
    const char* n = dev_name(c.dev);
    e.fmt(c.stats.transfers, "descriptor chains submitted", "count", "%s.transfers", n);
    e.fmt(c.stats.descriptors, "descriptors prepared", "count", "%s.descriptors", n);
    e.fmt(c.stats.bytes, "bytes copied by completed transfers", "bytes", "%s.bytes", n);
    e.fmt(c.stats.errors, "transfers the engine failed", "count", "%s.errors", n);
    e.fmt(c.stats.timeouts, "transfers that did not complete in time", "count", "%s.timeouts", n);
    e.fmt(c.stats.checker_flagged, "transfers the bus-side DMA checker flagged", "count", "%s.checker_flagged", n);
    e.fmt(c.stats.busy_ns, "time from submission to completion", "ns", "%s.busy_ns", n);
    e.fmt(c.stats.user_copies, "dma_copy requests", "count", "%s.user_copies", n);
    e.fmt(c.stats.user_copy_failed, "dma_copy requests that failed", "count", "%s.user_copy_failed", n);
  }
}

}  // namespace fw
