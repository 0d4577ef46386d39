// DMA-API debugging (sw/dma/debug.h; Linux kernel/dma/debug.c).
#include "sw/dma/debug.h"

#include <stdarg.h>

#include "sw/dma/dma.h"
#include "sw/dma/scatterlist.h"
#include "sw/kernel/params.h"
#include "sw/lib/format.h"
#include "sw/lib/printk.h"
#include "sw/lib/seq_file.h"
#include "sw/mm/slub.h"

namespace fw {

namespace {

const char* const type2name[] = {"single", "scatter-gather", "coherent", "noncoherent", "phy"};
const char* const dir2name[] = {"DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE", "DMA_NONE"};
const char* const maperr2str[] = {"dma map error not applicable", "dma map error not checked", "dma map error checked"};

const char* dir_name(int dir) { return dir >= 0 && dir <= 3 ? dir2name[dir] : "invalid"; }

dma_debug_entry* entry_of(list_head* l) {
  return reinterpret_cast<dma_debug_entry*>(reinterpret_cast<char*>(l) - offsetof(dma_debug_entry, list));
}

}  // namespace

void DmaDebug::init(MmContext* ctx) {
  ctx_ = ctx;
  enabled_ = ctx->params->dma_debug;
  for (list_head& b : hash_) INIT_LIST_HEAD(&b);
}

void DmaDebug::err_printk(hal::Hal& h, const device* dev, const char* where, const char* fmt, ...) {
  ++stats_.error_count;
  if (shown_ >= ctx_->params->dma_debug_num_errors) return;
  ++shown_;
  va_list ap;
  va_start(ap, fmt);
  ctx_->dma->vwarn(h, dev, "debug.c", where, "DMA-API: ", fmt, ap);
  va_end(ap);
}

void DmaDebug::add_entry(hal::Hal& h, const dma_debug_entry& ref) {
  auto* e = static_cast<dma_debug_entry*>(ctx_->slab->kmalloc(h, sizeof(dma_debug_entry), GFP_ATOMIC));
  if (!e) {
    // Linux: "DMA-API: debugging out of memory - disabling".
    ctx_->log->printk(h, LOGLEVEL_ERR, "DMA-API: debugging out of memory - disabling");
    enabled_ = false;
    return;
  }
  *e = ref;
  LockGuard g(lock_, h);
  list_add_tail(&e->list, bucket(ref.dev_addr));
  ++stats_.entries;
  if (stats_.entries > stats_.max_entries) stats_.max_entries = stats_.entries;
}

void DmaDebug::remove(hal::Hal& h, dma_debug_entry* e) {
  list_del(&e->list);
  --stats_.entries;
  ctx_->slab->kfree(h, e);
}

dma_debug_entry* DmaDebug::find_exact(const dma_debug_entry& ref) {
  dma_debug_entry* best = nullptr;
  int best_score = -1;
  list_head* b = bucket(ref.dev_addr);
  for (list_head* l = b->next; l != b; l = l->next) {
    dma_debug_entry* e = entry_of(l);
    if (e->dev != ref.dev || e->dev_addr != ref.dev_addr) continue;
    // Prefer the entry that matches in more of size, type and direction
    // (bucket_find_exact's scoring: it then reports what still differs).
    const int score = (e->size == ref.size) + (e->type == ref.type) + (e->direction == ref.direction);
    if (score > best_score) best = e, best_score = score;
  }
  return best;
}

dma_debug_entry* DmaDebug::find_contain(const dma_debug_entry& ref) {
  for (list_head& b : hash_)
    for (list_head* l = b.next; l != &b; l = l->next) {
      dma_debug_entry* e = entry_of(l);
      if (e->dev == ref.dev && ref.dev_addr >= e->dev_addr && ref.dev_addr < e->dev_addr + e->size) return e;
    }
  return nullptr;
}

void DmaDebug::map_phys(hal::Hal& h, device* dev, uint64_t phys, size_t size, int dir, dma_addr_t dma_addr) {
  if (!enabled_ || dma_addr == DMA_MAPPING_ERROR) return;
  dma_debug_entry e{};
  e.dev = dev, e.dev_addr = dma_addr, e.size = size, e.type = dma_debug_phy, e.direction = dir, e.paddr = phys;
  e.map_err_type = MAP_ERR_NOT_CHECKED;
  add_entry(h, e);
}

void DmaDebug::mapping_error(device* dev, dma_addr_t addr) {
  if (!enabled_) return;
  list_head* b = bucket(addr);
  for (list_head* l = b->next; l != b; l = l->next) {
    dma_debug_entry* e = entry_of(l);
    if (e->dev == dev && e->dev_addr == addr && e->map_err_type == MAP_ERR_NOT_CHECKED) {
      e->map_err_type = MAP_ERR_CHECKED;
      return;
    }
  }
}

void DmaDebug::check_unmap(hal::Hal& h, const dma_debug_entry& ref) {
  LockGuard g(lock_, h);
  dma_debug_entry* e = find_exact(ref);
  const unsigned long addr = static_cast<unsigned long>(ref.dev_addr);
  const unsigned long size = static_cast<unsigned long>(ref.size);
  if (!e) {
    err_printk(h, ref.dev, "check_unmap",
               "device driver tries to free DMA memory it has not allocated [device address=0x%016lx] [size=%lu bytes]",
               addr, size);
    return;
  }
  if (e->size != ref.size)
    err_printk(h, ref.dev, "check_unmap",
               "device driver frees DMA memory with different size [device address=0x%016lx] [map size=%lu bytes] "
               "[unmap size=%lu bytes]",
               addr, static_cast<unsigned long>(e->size), size);
  if (e->type != ref.type)
    err_printk(h, ref.dev, "check_unmap",
               "device driver frees DMA memory with wrong function [device address=0x%016lx] [size=%lu bytes] "
               "[mapped as %s] [unmapped as %s]",
               addr, size, type2name[e->type], type2name[ref.type]);
  if (e->type == dma_debug_sg && e->sg_call_ents != ref.sg_call_ents)
    err_printk(h, ref.dev, "check_unmap",
               "device driver frees DMA sg list with different entry count [map count=%d] [unmap count=%d]",
               e->sg_call_ents, ref.sg_call_ents);
  if (e->direction != ref.direction)
    err_printk(h, ref.dev, "check_unmap",
               "device driver frees DMA memory with different direction [device address=0x%016lx] [size=%lu bytes] "
               "[mapped with %s] [unmapped with %s]",
               addr, size, dir_name(e->direction), dir_name(ref.direction));
  if (e->map_err_type == MAP_ERR_NOT_CHECKED)
    err_printk(h, ref.dev, "check_unmap",
               "device driver failed to check map error[device address=0x%016lx] [size=%lu bytes] [mapped as %s]", addr,
               size, type2name[e->type]);
  remove(h, e);
}

void DmaDebug::unmap_phys(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, int dir) {
  if (!enabled_) return;
  dma_debug_entry ref{};
  ref.dev = dev, ref.dev_addr = addr, ref.size = size, ref.type = dma_debug_phy, ref.direction = dir;
  check_unmap(h, ref);
}

void DmaDebug::map_sg(hal::Hal& h, device* dev, scatterlist* sg, int nents, int mapped_ents, int dir) {
  if (!enabled_) return;
  for (int i = 0; i < mapped_ents; ++i) {
    dma_debug_entry e{};
    e.dev = dev, e.dev_addr = sg[i].dma_address, e.size = sg[i].dma_length, e.type = dma_debug_sg;
    e.direction = dir, e.sg_call_ents = nents, e.sg_mapped_ents = mapped_ents;
    e.paddr = ctx_->nodes->page_to_phys(sg[i].pg) + sg[i].offset;
    e.map_err_type = MAP_ERR_CHECK_NOT_APPLICABLE;
    add_entry(h, e);
  }
}

void DmaDebug::unmap_sg(hal::Hal& h, device* dev, scatterlist* sg, int nents, int dir) {
  if (!enabled_) return;
  for (int i = 0; i < nents; ++i) {
    dma_debug_entry ref{};
    ref.dev = dev, ref.dev_addr = sg[i].dma_address, ref.size = sg[i].dma_length, ref.type = dma_debug_sg;
    ref.direction = dir, ref.sg_call_ents = nents;
    check_unmap(h, ref);
  }
}

void DmaDebug::alloc_coherent(hal::Hal& h, device* dev, size_t size, dma_addr_t dma_addr, uint64_t paddr) {
  if (!enabled_) return;
  dma_debug_entry e{};
  e.dev = dev, e.dev_addr = dma_addr, e.size = size, e.type = dma_debug_coherent;
  e.direction = DMA_BIDIRECTIONAL, e.paddr = paddr;
  add_entry(h, e);
}

void DmaDebug::free_coherent(hal::Hal& h, device* dev, size_t size, uint64_t paddr, dma_addr_t dma_addr) {
  (void)paddr;
  if (!enabled_) return;
  dma_debug_entry ref{};
  ref.dev = dev, ref.dev_addr = dma_addr, ref.size = size, ref.type = dma_debug_coherent;
  ref.direction = DMA_BIDIRECTIONAL;
  check_unmap(h, ref);
}

void DmaDebug::check_sync(hal::Hal& h, const dma_debug_entry& ref, bool to_cpu) {
  LockGuard g(lock_, h);
  dma_debug_entry* e = find_contain(ref);
  const unsigned long addr = static_cast<unsigned long>(ref.dev_addr);
  const unsigned long size = static_cast<unsigned long>(ref.size);
  if (!e) {
    err_printk(h, ref.dev, "check_sync",
               "device driver tries to sync DMA memory it has not allocated [device address=0x%016lx] [size=%lu bytes]",
               addr, size);
    return;
  }
  if (ref.dev_addr + ref.size > e->dev_addr + e->size)
    err_printk(h, ref.dev, "check_sync",
               "device driver syncs DMA memory outside allocated range [device address=0x%016lx] [allocation size=%lu "
               "bytes] [sync offset+size=%lu]",
               static_cast<unsigned long>(e->dev_addr), static_cast<unsigned long>(e->size),
               static_cast<unsigned long>(ref.dev_addr - e->dev_addr + ref.size));
  // As 6.18: a bidirectional mapping may be synced either way. Otherwise a
  // sync in another direction than the mapping's, and a sync for the CPU
  // (the device) of memory only the device reads (writes), are each
  // reported, both where both apply.
  if (e->direction == DMA_BIDIRECTIONAL) return;
  if (ref.direction != e->direction)
    err_printk(h, ref.dev, "check_sync",
               "device driver syncs DMA memory with different direction [device address=0x%016lx] [size=%lu bytes] "
               "[mapped with %s] [synced with %s]",
               addr, size, dir_name(e->direction), dir_name(ref.direction));
  if (to_cpu && e->direction != DMA_FROM_DEVICE && ref.direction != DMA_TO_DEVICE)
    err_printk(h, ref.dev, "check_sync",
               "device driver syncs device read-only DMA memory for cpu [device address=0x%016lx] [size=%lu bytes] "
               "[mapped with %s] [synced with %s]",
               addr, size, dir_name(e->direction), dir_name(ref.direction));
  if (!to_cpu && e->direction != DMA_TO_DEVICE && ref.direction != DMA_FROM_DEVICE)
    err_printk(h, ref.dev, "check_sync",
               "device driver syncs device write-only DMA memory to device [device address=0x%016lx] [size=%lu bytes] "
               "[mapped with %s] [synced with %s]",
               addr, size, dir_name(e->direction), dir_name(ref.direction));
}

void DmaDebug::sync_single(hal::Hal& h, device* dev, dma_addr_t addr, size_t size, int dir, bool to_cpu) {
  if (!enabled_) return;
  dma_debug_entry ref{};
  ref.dev = dev, ref.dev_addr = addr, ref.size = size, ref.direction = dir;
  check_sync(h, ref, to_cpu);
}

void DmaDebug::sync_sg(hal::Hal& h, device* dev, scatterlist* sg, int nents, int dir, bool to_cpu) {
  for (int i = 0; i < nents; ++i) sync_single(h, dev, sg[i].dma_address, sg[i].dma_length, dir, to_cpu);
}

unsigned DmaDebug::device_entries(const device* dev) const {
  unsigned n = 0;
  for (const list_head& b : hash_)
    for (const list_head* l = b.next; l != &b; l = l->next)
      if (entry_of(const_cast<list_head*>(l))->dev == dev) ++n;
  return n;
}

unsigned DmaDebug::device_release(hal::Hal& h, device* dev) {
  if (!enabled_) return 0;
  const unsigned count = device_entries(dev);
  if (!count) return 0;
  stats_.leaked += count;
  const dma_debug_entry* e = nullptr;
  for (list_head& b : hash_)
    for (list_head* l = b.next; !e && l != &b; l = l->next)
      if (entry_of(l)->dev == dev) e = entry_of(l);
  err_printk(h, dev, "dma_debug_device_change",
             "device driver has pending DMA allocations while released from device [count=%u]\nOne of leaked entries "
             "details: [device address=0x%016lx] [size=%lu bytes] [mapped with %s] [mapped as %s]",
             count, static_cast<unsigned long>(e->dev_addr), static_cast<unsigned long>(e->size),
             dir_name(e->direction), type2name[e->type]);
  return count;
}

void DmaDebug::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter s(v, prefix);
  s("error_count", stats_.error_count, "DMA-API problems found (dma-api/error_count)", "count");
  s("num_entries", stats_.entries, "mappings tracked now", "count");
  s("max_entries", stats_.max_entries, "most mappings tracked at once", "count");
  s("leaked", stats_.leaked, "mappings still held when their driver let go of the device", "count");
}

void DmaDebug::dump(seq_file* m) const {
  unsigned idx = 0;
  for (const list_head& b : hash_) {
    for (const list_head* l = b.next; l != &b; l = l->next) {
      const dma_debug_entry* e = entry_of(const_cast<list_head*>(l));
      seq_printf(m, "%s %s %s idx %u P=%lx D=%lx L=%lx %s %s\n", dev_driver_string(e->dev), dev_name(e->dev),
                 type2name[e->type], idx, static_cast<unsigned long>(e->paddr), static_cast<unsigned long>(e->dev_addr),
                 static_cast<unsigned long>(e->size), dir_name(e->direction), maperr2str[e->map_err_type]);
    }
    ++idx;
  }
}

}  // namespace fw
