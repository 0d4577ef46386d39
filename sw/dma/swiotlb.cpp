#include "sw/dma/swiotlb.h"

#include "sw/dma/dma.h"
#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/lib/seq_file.h"
#include "sw/mm/memblock.h"
#include "sw/mm/page.h"

namespace fw {

namespace {

constexpr uint64_t MAX_DMA32_PFN = 1ull << (32 - PAGE_SHIFT);
constexpr uint64_t ARCH_LOW_ADDRESS_LIMIT = 1ull << 32;    // memblock_alloc_low's ceiling on x86 (exclusive)
constexpr uint64_t RATELIMIT_INTERVAL_NS = 5000000000ull;  // DEFAULT_RATELIMIT_INTERVAL: 5 s
constexpr unsigned RATELIMIT_BURST = 10;

constexpr uint64_t io_tlb_offset(uint64_t val) { return val & (IO_TLB_SEGSIZE - 1); }
constexpr uint64_t nr_slots(uint64_t val) { return div_round_up(val, IO_TLB_SIZE); }
constexpr uint64_t roundup_pow_of_two(uint64_t x) { return x <= 1 ? 1 : 1ull << (fls64(x - 1) + 1); }

}  // namespace

// ---------------------------------------------------------------- boot

bool Swiotlb::boot(hal::Hal& h, Memblock& mb) {
  Log& log = *ctx_->log;
  const uint64_t mode = ctx_->params->swiotlb;
  // x86's pci_swiotlb_detect: bounce buffers are needed when RAM reaches
  // beyond what a 32-bit device can address.
  const bool addressing_limit = PFN_UP(mb.end_of_dram()) > MAX_DMA32_PFN;
  if (mode == SWIOTLB_OFF) return true;  // swiotlb=noforce
  force_bounce_ = mode == SWIOTLB_FORCE;
  if (!addressing_limit && !force_bounce_) return true;

  // swiotlb=<slabs> aligns to whole segments; areas: one per CPU, a power
  // of two, each at least a segment (swiotlb_adjust_nareas).
  uint64_t nslabs =
      mode >= kSwiotlbSizeMin ? align_up(mode >> IO_TLB_SHIFT, IO_TLB_SEGSIZE) : IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT;
  nareas_ = static_cast<unsigned>(roundup_pow_of_two(ctx_->boot->nr_cpus));
  log.printk(h, LOGLEVEL_INFO, "software IO TLB: area num %u.", nareas_);
  // round_up_default_nslabs: every area gets a segment, the pool a power of two.
  if (nslabs < IO_TLB_SEGSIZE * nareas_ || !is_power_of_2(nslabs)) {
    nslabs = roundup_pow_of_two(max<uint64_t>(nslabs, IO_TLB_SEGSIZE * nareas_));
    log.printk(h, LOGLEVEL_INFO, "software IO TLB: SWIOTLB bounce buffer size roundup to %luMB",
               static_cast<unsigned long>((nslabs << IO_TLB_SHIFT) >> 20));
  }
  const uint64_t wanted = nslabs;
  uint64_t tlb = 0;
  while (!(tlb = mb.alloc_range(align_up(nslabs << IO_TLB_SHIFT, PAGE_SIZE), PAGE_SIZE, 0, ARCH_LOW_ADDRESS_LIMIT,
                                NUMA_NO_NODE))) {
    if (nslabs <= IO_TLB_MIN_SLABS) {
      log.printk(h, LOGLEVEL_WARNING,
                 "software IO TLB: swiotlb_memblock_alloc: Failed to allocate %lu bytes tlb structure",
                 static_cast<unsigned long>(nslabs << IO_TLB_SHIFT));
      return true;
    }
    nslabs = align_up(nslabs >> 1, IO_TLB_SEGSIZE);
  }
  if (nslabs != wanted)
    log.printk(h, LOGLEVEL_INFO, "software IO TLB: SWIOTLB bounce buffer size adjusted %lu -> %lu slabs",
               static_cast<unsigned long>(wanted), static_cast<unsigned long>(nslabs));
  while (nareas_ > 1 && nslabs < static_cast<uint64_t>(nareas_) * IO_TLB_SEGSIZE) nareas_ >>= 1;  // limit_nareas

  const uint64_t slot_bytes = align_up(nslabs * sizeof(io_tlb_slot), PAGE_SIZE);
  const uint64_t slots_pa = mb.alloc_range(slot_bytes, PAGE_SIZE, 0, ~0ull, NUMA_NO_NODE);
  const uint64_t areas_pa = mb.alloc_range(nareas_ * sizeof(io_tlb_area), 64, 0, ~0ull, NUMA_NO_NODE);
  slots_ = slots_pa ? static_cast<io_tlb_slot*>(h.direct_map(slots_pa, slot_bytes)) : nullptr;
  areas_ = areas_pa ? static_cast<io_tlb_area*>(h.direct_map(areas_pa, nareas_ * sizeof(io_tlb_area))) : nullptr;
  if (!slots_ || !areas_) {
    log.printk(h, LOGLEVEL_WARNING, "software IO TLB: swiotlb_init_remap: Failed to allocate %lu bytes align=0x%lx",
               static_cast<unsigned long>(slot_bytes), static_cast<unsigned long>(PAGE_SIZE));
    return true;
  }
  // The pool itself is not cleared: DRAM reads zero at power-on and nothing
  // used it yet (Linux memsets it).
  start_ = tlb;
  end_ = tlb + (nslabs << IO_TLB_SHIFT);
  nslabs_ = nslabs;
  area_nslabs_ = nslabs / nareas_;
  for (unsigned a = 0; a < nareas_; ++a) areas_[a] = io_tlb_area{};
  for (uint64_t i = 0; i < nslabs; ++i)
    slots_[i] = io_tlb_slot{INVALID_PHYS_ADDR, 0,
                            static_cast<uint16_t>(min<uint64_t>(IO_TLB_SEGSIZE - io_tlb_offset(i), nslabs - i)), 0, 0};
  return true;
}

void Swiotlb::print_info(hal::Hal& h) {
  if (!active()) return;
  Log& log = *ctx_->log;
  log.printk(h, LOGLEVEL_INFO, "PCI-DMA: Using software bounce buffering for IO (SWIOTLB)");
  log.printk(h, LOGLEVEL_INFO, "software IO TLB: mapped [mem 0x%016lx-0x%016lx] (%luMB)",
             static_cast<unsigned long>(start_), static_cast<unsigned long>(end_),
             static_cast<unsigned long>((nslabs_ << IO_TLB_SHIFT) >> 20));
}

// ---------------------------------------------------------------- slots

int Swiotlb::search_area(unsigned area_index, uint64_t orig, size_t alloc_size, uint64_t alloc_align_mask) {
  (void)orig;  // no min_align_mask: the original's low bits need not be kept
  io_tlb_area& area = areas_[area_index];
  // The segment boundary is ULONG_MAX (dma_get_seg_boundary without
  // dma_parms): no mapping is refused for crossing one.
  const uint64_t nslots = nr_slots(alloc_size);
  // Streaming mappings of a page or more stay page aligned, as Linux keeps them.
  if (!alloc_align_mask && alloc_size >= PAGE_SIZE) alloc_align_mask = PAGE_SIZE - 1;
  alloc_align_mask |= IO_TLB_SIZE - 1;
  const uint64_t stride = (alloc_align_mask >> IO_TLB_SHIFT) + 1;
  auto wrap = [this](uint64_t index) { return index >= area_nslabs_ ? 0 : index; };
  if (nslots > area_nslabs_ - area.used) return -1;
  const uint64_t slot_base = area_index * area_nslabs_;
  uint64_t index = area.index, slot_index = 0;
  bool found = false;
  for (uint64_t checked = 0; checked < area_nslabs_;) {
    slot_index = slot_base + index;
    if (slot_addr(slot_index) & alloc_align_mask) {
      index = wrap(index + 1);
      ++checked;
      continue;
    }
    if (slots_[slot_index].list >= nslots) {
      found = true;
      break;
    }
    index = wrap(index + stride);
    checked += stride;
  }
  if (!found) return -1;
  // Take the slots; the free slots before them in their segment now end here.
  for (uint64_t i = slot_index; i < slot_index + nslots; ++i) {
    slots_[i].list = 0;
    slots_[i].alloc_size = alloc_size - ((i - slot_index) << IO_TLB_SHIFT);
  }
  uint16_t count = 0;
  for (uint64_t i = slot_index - 1; io_tlb_offset(i) != IO_TLB_SEGSIZE - 1 && slots_[i].list; --i)
    slots_[i].list = ++count;
  area.index = static_cast<unsigned>(wrap(index + nslots));
  area.used += nslots;
  total_used_ += nslots;
  used_hiwater_ = max(used_hiwater_, total_used_);
  return static_cast<int>(slot_index);
}

int Swiotlb::find_slots(hal::Hal& h, uint64_t orig, size_t alloc_size, uint64_t alloc_align_mask) {
  const unsigned start = h.cpu() & (nareas_ - 1);
  unsigned i = start;
  do {
    int index;
    {
      LockGuard g(areas_[i].lock, h);
      index = search_area(i, orig, alloc_size, alloc_align_mask);
    }
    if (index >= 0) return index;
    if (++i >= nareas_) i = 0;
  } while (i != start);
  return -1;
}

void Swiotlb::release_slots(hal::Hal& h, uint64_t tlb_addr) {
  uint64_t index = (tlb_addr - start_) >> IO_TLB_SHIFT;
  index -= slots_[index].pad_slots;
  const uint64_t nslots = nr_slots(slots_[index].alloc_size);
  io_tlb_area& area = areas_[index / area_nslabs_];
  LockGuard g(area.lock, h);
  // Give the slots back, merging with the free ones after them and then
  // before them within the segment.
  uint16_t count = index + nslots < align_up(index + 1, IO_TLB_SEGSIZE) ? slots_[index + nslots].list : 0;
  for (uint64_t i = index + nslots; i-- > index;) {
    slots_[i].list = ++count;
    slots_[i].orig_addr = INVALID_PHYS_ADDR;
    slots_[i].alloc_size = 0;
    slots_[i].pad_slots = 0;
  }
  for (uint64_t i = index - 1; io_tlb_offset(i) != IO_TLB_SEGSIZE - 1 && slots_[i].list; --i) slots_[i].list = ++count;
  area.used -= nslots;
  total_used_ -= nslots;
}

void Swiotlb::bounce(hal::Hal& h, uint64_t tlb_addr, size_t size, dma_data_direction dir) {
  const uint64_t index = (tlb_addr - start_) >> IO_TLB_SHIFT;
  uint64_t orig = slots_[index].orig_addr;
  uint64_t alloc_size = slots_[index].alloc_size;
  if (orig == INVALID_PHYS_ADDR) return;
  const uint64_t tlb_offset = tlb_addr & (IO_TLB_SIZE - 1);
  orig += tlb_offset;
  alloc_size -= tlb_offset;
  if (size > alloc_size) {
    ctx_->log->printk(h, LOGLEVEL_WARNING,
                      "software IO TLB: Buffer overflow detected. Allocation size: %lu. Mapping size: %zu.",
                      static_cast<unsigned long>(alloc_size), size);
    size = alloc_size;
  }
  // Poison in the source fails the copy part-way, as a machine check would
  // end Linux's memcpy; the device then sees what was copied.
  if (dir == DMA_TO_DEVICE) {
    h.phys_copy(tlb_addr, orig, size);
    stats_.bounced_to_device += size;
  } else {
    h.phys_copy(orig, tlb_addr, size);
    stats_.bounced_from_device += size;
  }
  ctx_->dma->trace(h, "dma: bounce %zu bytes %s swiotlb %#lx %s %#lx", size, dir == DMA_TO_DEVICE ? "into" : "out of",
                   static_cast<unsigned long>(tlb_addr), dir == DMA_TO_DEVICE ? "from" : "to",
                   static_cast<unsigned long>(orig));
}

// ---------------------------------------------------------------- map, unmap, sync

uint64_t Swiotlb::tbl_map_single(hal::Hal& h, device* dev, uint64_t orig, size_t size, dma_data_direction dir,
                                 unsigned long attrs) {
  (void)dir;
  Log& log = *ctx_->log;
  if (!active()) {
    log.printk(h, LOGLEVEL_WARNING,
               "%s %s: Can not allocate SWIOTLB buffer earlier and can't now provide you with the "
               "DMA bounce buffer",
               dev_driver_string(dev), dev_name(dev));
    return DMA_MAPPING_ERROR;
  }
  const int index = find_slots(h, orig, size, 0);
  if (index < 0) {
    ++stats_.full;
    if (!(attrs & DMA_ATTR_NO_WARN)) {
      // dev_warn_ratelimited: 10 reports per 5 s, then a count of the rest.
      const uint64_t now = h.now_ns();
      if (now - full_window_ns_ >= RATELIMIT_INTERVAL_NS || full_window_ns_ == 0) {
        if (full_reports_ > RATELIMIT_BURST)
          log.printk(h, LOGLEVEL_WARNING, "swiotlb_tbl_map_single: %u callbacks suppressed",
                     full_reports_ - RATELIMIT_BURST);
        full_window_ns_ = now ? now : 1;
        full_reports_ = 0;
      }
      if (++full_reports_ <= RATELIMIT_BURST)
        log.printk(h, LOGLEVEL_WARNING,
                   "%s %s: swiotlb buffer is full (sz: %zu bytes), total %lu (slots), used %lu (slots)",
                   dev_driver_string(dev), dev_name(dev), size, static_cast<unsigned long>(nslabs_),
                   static_cast<unsigned long>(total_used_));
    }
    return DMA_MAPPING_ERROR;
  }
  ++stats_.mappings;
  dev->dma_uses_io_tlb = true;
  for (uint64_t i = 0; i < nr_slots(size); ++i) slots_[index + i].orig_addr = orig + (i << IO_TLB_SHIFT);
  const uint64_t tlb_addr = slot_addr(static_cast<uint64_t>(index));
  // Copied in whatever the direction: a device that writes only part of
  // the buffer must leave the rest as it was.
  bounce(h, tlb_addr, size, DMA_TO_DEVICE);
  return tlb_addr;
}

void Swiotlb::tbl_unmap_single(hal::Hal& h, device* dev, uint64_t tlb_addr, size_t size, dma_data_direction dir,
                               unsigned long attrs) {
  (void)dev;
  if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) && (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL))
    bounce(h, tlb_addr, size, DMA_FROM_DEVICE);
  release_slots(h, tlb_addr);
}

void Swiotlb::sync_single_for_device(hal::Hal& h, uint64_t tlb_addr, size_t size, dma_data_direction dir) {
  if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL) bounce(h, tlb_addr, size, DMA_TO_DEVICE);
}

void Swiotlb::sync_single_for_cpu(hal::Hal& h, uint64_t tlb_addr, size_t size, dma_data_direction dir) {
  if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL) bounce(h, tlb_addr, size, DMA_FROM_DEVICE);
}

// ---------------------------------------------------------------- observation

namespace {

const StatDesc<SwiotlbStats> swiotlb_stat_table[] = {
    {"mappings", &SwiotlbStats::mappings, "bounce buffers handed out", "count"},
    {"full", &SwiotlbStats::full, "mappings refused: the pool was full", "count"},
    {"bounced_bytes_to_device", &SwiotlbStats::bounced_to_device, "bytes copied into bounce buffers", "bytes"},
    {"bounced_bytes_from_device", &SwiotlbStats::bounced_from_device, "bytes copied back out of bounce buffers",
     "bytes"},
};
static_assert(stat_table_size(swiotlb_stat_table) == sizeof(SwiotlbStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Swiotlb::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e("io_tlb_nslabs", nslabs_, "2 KiB slots of the bounce pool", "slots");
  e("io_tlb_used", total_used_, "slots in use", "slots");
  e("io_tlb_used_hiwater", used_hiwater_, "most slots ever in use at once", "slots");
  e("io_tlb_nareas", nareas_, "areas the pool is split into (one per CPU, a power of two)", "count");
  e.table(stats_, swiotlb_stat_table);
}

void Swiotlb::show(seq_file* m) const {
  seq_printf(m, "io_tlb_nslabs: %lu\n", static_cast<unsigned long>(nslabs_));
  seq_printf(m, "io_tlb_used: %lu\n", static_cast<unsigned long>(total_used_));
  seq_printf(m, "io_tlb_used_hiwater: %lu\n", static_cast<unsigned long>(used_hiwater_));
  seq_printf(m, "io_tlb_nareas: %u\n", nareas_);
  if (active())
    seq_printf(m, "mem: [mem 0x%016lx-0x%016lx] (%luMB)%s\n", static_cast<unsigned long>(start_),
               static_cast<unsigned long>(end_ - 1), static_cast<unsigned long>((nslabs_ << IO_TLB_SHIFT) >> 20),
               force_bounce_ ? " force" : "");
  else
    seq_puts(m, "mem: none\n");
  seq_printf(m, "mappings: %lu\n", static_cast<unsigned long>(stats_.mappings));
  seq_printf(m, "full: %lu\n", static_cast<unsigned long>(stats_.full));
  seq_printf(m, "bounced_bytes_to_device: %lu\n", static_cast<unsigned long>(stats_.bounced_to_device));
  seq_printf(m, "bounced_bytes_from_device: %lu\n", static_cast<unsigned long>(stats_.bounced_from_device));
}

}  // namespace fw
