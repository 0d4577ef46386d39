// The DMA engines' driver (sw/drivers/dma/dmaengine.h).
#include "sw/drivers/dma/dmaengine.h"

#include "sw/dma/dma.h"
#include "sw/dma/scatterlist.h"
#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/lib/string.h"
#include "sw/mm/gup.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/mmap.h"
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

const char* const engine_errors[] = {
    "none",          "address beyond the engine's width", "bus error", "poisoned memory", "busy", "bad length",
    "bad descriptor"};

}  // namespace

void DmaEngineDriver::probe(hal::Hal& h) {
  Dma& dma = *ctx_->dma;
  Log& log = *ctx_->log;
  for (unsigned i = 0; i < dma.nr_devices() && nr_chans_ < kMaxChans; ++i) {
    device* dev = dma.device_at(i);
    const hal::Device& hw = ctx_->boot->devices[dev->id];
    if (hw.kind != hal::DeviceKind::dma) continue;  // a disk: sw/drivers/block
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

void DmaEngineDriver::release(hal::Hal& h) {
  for (unsigned i = 0; i < nr_chans_; ++i) {
    dma_chan& c = chans_[i];
    if (c.ring) dma_free_coherent(h, c.dev, kRingBytes, c.ring, c.ring_dma);
    c.ring = nullptr;
    ctx_->dma->debug().device_release(h, c.dev);
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
  if (!c->ring)
    ctx_->log->printk(h, LOGLEVEL_WARNING, "%s %s: cannot allocate its descriptor ring", kName, dev_name(c->dev));
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

const DmaEngineDriver::UserBuf* DmaEngineDriver::find_buf(const dma_chan* c, const mm_struct* mm, uint64_t va,
                                                          uint64_t len) const {
  for (const UserBuf& b : bufs_)
    if (b.chan == c && b.mm == mm && va >= b.va && len <= b.len && va - b.va <= b.len - len) return &b;
  return nullptr;
}

int DmaEngineDriver::prepare_side(hal::Hal& h, dma_chan* c, mm_struct* mm, UserSide& s, uint64_t va, uint64_t len,
                                  dma_data_direction dir) {
  // The device's own coherent buffer (from dma_alloc): mapped for it already.
  if (const UserBuf* b = find_buf(c, mm, va, len)) {
    s.one = scatterlist{nullptr, 0, static_cast<uint32_t>(len), b->dma + (va - b->va), static_cast<uint32_t>(len)};
    s.sgt = sg_table{&s.one, 1, 1};
    return 0;
  }
  // Ordinary user memory: pinned, then mapped with the streaming API.
  s.n = (PAGE_ALIGN(va + len) - (va & PAGE_MASK)) >> PAGE_SHIFT;
  s.pages = static_cast<page**>(ctx_->slab->kmalloc(h, s.n * sizeof(page*), GFP_KERNEL));
  if (!s.pages) return -ENOMEM;
  const long pinned =
      ctx_->gup->pin_user_pages(h, mm, va & PAGE_MASK, s.n, dir == DMA_FROM_DEVICE ? FOLL_WRITE : 0, s.pages);
  if (pinned < 0) return static_cast<int>(pinned);
  s.pinned = true;
  // Segments no longer than one mapping may be (swiotlb's 256 KiB when it may bounce).
  const uint64_t seg = min<uint64_t>(dma_max_mapping_size(c->dev), 1ull << 30);
  int rc = sg_alloc_table_from_pages_segment(h, ctx_, &s.sgt, s.pages, static_cast<unsigned>(s.n), va & ~PAGE_MASK, len,
                                             seg, GFP_KERNEL);
  if (!rc) rc = map_user(h, c, &s.sgt, dir);
  s.mapped = !rc;
  return rc;
}

void DmaEngineDriver::release_side(hal::Hal& h, dma_chan* c, UserSide& s, dma_data_direction dir) {
  if (s.mapped) unmap_user(h, c, &s.sgt, dir);
  if (s.sgt.sgl != &s.one) sg_free_table(h, ctx_, &s.sgt);
  if (s.pinned) ctx_->gup->unpin_user_pages(h, s.pages, s.n, dir == DMA_FROM_DEVICE);
  if (s.pages) ctx_->slab->kfree(h, s.pages);
}

int64_t DmaEngineDriver::user_copy(hal::Hal& h, mm_struct* mm, unsigned chan_index, uint64_t dst, uint64_t src,
                                   uint64_t len) {
  dma_chan* c = chan(chan_index);
  if (!c) return -ENODEV;
  if (!len || src + len < src || dst + len < dst) return -EINVAL;
  ++c->stats.user_copies;
  UserSide s, d;
  int rc = prepare_side(h, c, mm, s, src, len, DMA_TO_DEVICE);
  if (!rc) rc = prepare_side(h, c, mm, d, dst, len, DMA_FROM_DEVICE);
  if (!rc) rc = memcpy_sg(h, c, &d.sgt, &s.sgt, len);
  release_side(h, c, d, DMA_FROM_DEVICE);
  release_side(h, c, s, DMA_TO_DEVICE);
  if (rc) ++c->stats.user_copy_failed;
  return rc;
}

int64_t DmaEngineDriver::user_alloc(hal::Hal& h, mm_struct* mm, unsigned chan_index, uint64_t size) {
  dma_chan* c = chan(chan_index);
  if (!c) return -ENODEV;
  size = PAGE_ALIGN(size);
  if (!size) return -EINVAL;
  UserBuf* b = nullptr;
  for (UserBuf& u : bufs_)
    if (!u.chan && !b) b = &u;
  if (!b) return -ENOMEM;
  ++c->stats.user_allocs;
  dma_addr_t dma = 0;
  void* cpu = dma_alloc_coherent(h, c->dev, size, &dma, GFP_KERNEL);
  if (!cpu) return -ENOMEM;
  // Reserved while user space maps them: the mapping's teardown leaves
  // them to us (the old Linux idiom for mmap'ed DMA buffers).
  page* first = ctx_->dma->ctx()->nodes->phys_to_page(dma);
  for (uint64_t i = 0; i < size >> PAGE_SHIFT; ++i) SetPageReserved(first + i);
  *b = UserBuf{c, mm, 0, size, cpu, dma};
  const int64_t va = ctx_->mmap->mmap_pfn(h, mm, dma, size);  // dma == phys: no IOMMU
  if (va < 0) {
    for (uint64_t i = 0; i < size >> PAGE_SHIFT; ++i) ClearPageReserved(first + i);
    dma_free_coherent(h, c->dev, size, cpu, dma);
    *b = UserBuf{};
    return va;
  }
  b->va = static_cast<uint64_t>(va);
  return va;
}

void DmaEngineDriver::pfnmap_close(hal::Hal& h, vm_area_struct* vma) {
  for (UserBuf& b : bufs_) {
    if (!b.chan || b.mm != vma->vm_mm || b.va != vma->vm_start) continue;
    page* first = ctx_->nodes->phys_to_page(b.dma);
    for (uint64_t i = 0; i < b.len >> PAGE_SHIFT; ++i) ClearPageReserved(first + i);
    dma_free_coherent(h, b.chan->dev, b.len, b.cpu, b.dma);
    b = UserBuf{};
    return;
  }
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
    e.fmt(c.stats.user_allocs, "dma_alloc requests (coherent buffers mapped into a process)", "count", "%s.user_allocs",
          n);
  }
}

}  // namespace fw
