// The DMA subsystem's state (sw/dma/dma.h): devices from the boot
// information, warnings, tracing, statistics and the /proc files.
#include "sw/dma/dma.h"

#include <stdarg.h>

#include "sw/kernel/params.h"
#include "sw/lib/format.h"
#include "sw/lib/printk.h"
#include "sw/lib/seq_file.h"
#include "sw/lib/string.h"
#include "sw/mm/memblock.h"

namespace fw {

void Dma::init(MmContext* ctx) {
  ctx_ = ctx;
  swiotlb_.init(ctx);
  debug_.init(ctx);
}

void Dma::boot(hal::Hal& h) {
  const hal::BootInfo& bi = *ctx_->boot;
  checker_.init(bi);
  for (unsigned i = 0; i < bi.nr_devices && nr_devices_ < kMaxDevices; ++i) {
    const hal::Device& d = bi.devices[i];
    if (d.kind != hal::DeviceKind::dma && d.kind != hal::DeviceKind::block) continue;  // the bus masters
    device& dev = devices_[nr_devices_++];
    dev = device{};
    mem_copy(dev.name, d.name, sizeof dev.name);
    dev.name[sizeof dev.name - 1] = 0;
    dev.driver = "";
    dev.id = i;
    dev.addr_bits = d.addr_bits;
    // Linux's default for a device whose driver has not set its masks.
    dev.dma_mask_storage = DMA_BIT_MASK(32);
    dev.dma_mask = &dev.dma_mask_storage;
    dev.coherent_dma_mask = DMA_BIT_MASK(32);
    dev.numa_node = NUMA_NO_NODE;
    dev.dma = this;
  }
  swiotlb_.print_info(h);
}

device* Dma::find_device(const char* name) {
  for (unsigned i = 0; i < nr_devices_; ++i)
    if (str_eq(devices_[i].name, name)) return &devices_[i];
  return nullptr;
}

bool Dma::warn_once(DmaWarnSite site) {
  if (warned_[site]) return false;
  warned_[site] = true;
  return true;
}

void Dma::vwarn(hal::Hal& h, const device* dev, const char* file, const char* func, const char* prefix, const char* fmt,
                va_list ap) {
  char msg[320];
  fw::vsnprintf(msg, sizeof msg, fmt, ap);
  Log& log = *ctx_->log;
  log.printk(h, LOGLEVEL_WARNING, "WARNING: CPU: %u at kernel/dma/%s: %s", h.cpu(), file, func);
  log.printk(h, LOGLEVEL_WARNING, "%s%s %s: %s", prefix, dev_driver_string(dev), dev_name(dev), msg);
}

void Dma::dev_warn(hal::Hal& h, const device* dev, const char* file, const char* func, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwarn(h, dev, file, func, "", fmt, ap);
  va_end(ap);
}

bool Dma::tracing() const { return ctx_ && ctx_->params->trace_dma; }

void Dma::trace(hal::Hal& h, const char* fmt, ...) {
  if (!tracing()) return;
  va_list ap;
  va_start(ap, fmt);
  ctx_->log->vprintk(h, LOGLEVEL_INFO, fmt, ap);
  va_end(ap);
}

namespace {

const StatDesc<DmaStats> dma_stat_table[] = {
    {"map_page", &DmaStats::map_page, "single buffers and pages mapped", "count"},
    {"unmap_page", &DmaStats::unmap_page, "single buffers and pages unmapped", "count"},
    {"map_sg", &DmaStats::map_sg, "scatter-gather lists mapped", "count"},
    {"map_sg_entries", &DmaStats::map_sg_entries, "entries of the scatter-gather lists mapped", "count"},
    {"unmap_sg", &DmaStats::unmap_sg, "scatter-gather lists unmapped", "count"},
    {"map_errors", &DmaStats::map_errors, "streaming mappings that failed (DMA_MAPPING_ERROR)", "count"},
    {"overflow", &DmaStats::overflow, "mappings failed: the device reaches neither the buffer nor a bounce buffer",
     "count"},
    {"bounced_maps", &DmaStats::bounced_maps, "streaming mappings served by swiotlb", "count"},
    {"sync_for_cpu", &DmaStats::sync_for_cpu, "dma_sync_*_for_cpu calls", "count"},
    {"sync_for_device", &DmaStats::sync_for_device, "dma_sync_*_for_device calls", "count"},
    {"alloc_coherent", &DmaStats::alloc_coherent, "coherent buffers allocated", "count"},
    {"alloc_coherent_failed", &DmaStats::alloc_coherent_failed, "coherent allocations that failed", "count"},
    {"alloc_coherent_retries", &DmaStats::alloc_coherent_retries,
     "coherent allocations retried in a lower zone: the page was out of reach", "count"},
    {"free_coherent", &DmaStats::free_coherent, "coherent buffers freed", "count"},
    {"mask_rejected", &DmaStats::mask_rejected, "DMA masks refused with -EIO", "count"},
};
static_assert(stat_table_size(dma_stat_table) == sizeof(DmaStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Dma::visit_stats(StatVisitor& v) const {
  StatEmitter(v, "dma").table(stats_, dma_stat_table);
  swiotlb_.visit_stats(v, "swiotlb");
  debug_.visit_stats(v, "dma_debug");
}

void swiotlb_proc_show(seq_file* m, const MmContext& ctx) { ctx.dma->swiotlb().show(m); }

}  // namespace fw
