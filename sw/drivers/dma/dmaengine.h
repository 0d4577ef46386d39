// The driver of the platform's DMA engines (hw/dma/dma_engine.h), in the
// manner of a Linux dmaengine provider (drivers/dma/): one channel per
// engine, bound at boot to the engine's struct device with its DMA masks
// set to the engine's width (dma_set_mask_and_coherent); descriptor
// preparation for memcpy and scatter-gather into a descriptor ring in
// coherent memory (the engine reads it itself, so it lies within the
// engine's reach), submission through the registers, completion by the
// engine's interrupt, and errors from its status (an address beyond its
// width, a bus error, poison) reported by name.
//
// On top of it, the one user-space operation (Linux's dmatest, on the
// caller's own buffers): user_copy pins the user pages (pin_user_pages),
// maps them with the streaming DMA API (which bounces through swiotlb what
// the engine cannot reach), runs the copy, unmaps and unpins; user_alloc
// gives a process a coherent buffer of the engine mapped into its address
// space (VM_PFNMAP), which a later copy uses as it is.
//
// `firmware.dma_driver_bug` makes the driver misbehave on purpose, for the
// checks to catch: `unmapped` hands the engine physical addresses it never
// mapped; `stale` unmaps before the engine runs.
//
// Users: the kernel (boot: probe; interrupts; the ioctl system call).
#pragma once

#include <stdint.h>

#include "sw/dma/mapping.h"
#include "sw/dma/scatterlist.h"
#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"

namespace fw {

struct mm_struct;

struct DmaChanStats {
  uint64_t transfers = 0;        // chains submitted
  uint64_t descriptors = 0;      // descriptors prepared
  uint64_t bytes = 0;            // bytes copied by transfers that completed
  uint64_t errors = 0;           // transfers the engine failed
  uint64_t timeouts = 0;         // transfers that did not complete in time
  uint64_t checker_flagged = 0;  // transfers the bus-side checker flagged
  uint64_t busy_ns = 0;          // from submission to completion
  uint64_t user_copies = 0;      // dma_copy requests
  uint64_t user_copy_failed = 0;
  uint64_t user_allocs = 0;  // dma_alloc requests
};

struct dma_chan {
  device* dev = nullptr;
  uint64_t mmio = 0;
  uint8_t vector = 0;
  volatile bool done = false;  // set by the interrupt
  uint64_t status = 0;         // STATUS read by the interrupt handler
  void* ring = nullptr;        // descriptor ring (coherent)
  dma_addr_t ring_dma = 0;
  DmaChanStats stats;
};

class DmaEngineDriver final : public PfnmapOwner {
 public:
  static constexpr unsigned kMaxChans = hal::kMaxDevices;
  static constexpr uint64_t kRingBytes = 16384;  // 512 descriptors
  static constexpr const char* kName = "mmcosim-dma";

  void init(MmContext* ctx) { ctx_ = ctx; }
  // Boot, after the DMA subsystem: one channel per engine of the boot information.
  void probe(hal::Hal& h);
  // The driver is done with its engines (the machine is idle: the last
  // task exited; mmcosim's stand-in for unbinding): frees the descriptor
  // rings, then dma-debug reports the mappings still held for each device.
  void release(hal::Hal& h);
  // An engine's interrupt: returns false when vector is none of its engines'.
  bool handle_irq(hal::Hal& h, uint8_t vector);
  dma_chan* chan(unsigned i) { return i < nr_chans_ ? &chans_[i] : nullptr; }
  unsigned nr_chans() const { return nr_chans_; }

  // Copies len bytes between two mapped tables, chained in the ring.
  // Returns 0, -EIO (the engine failed) or -ETIMEDOUT.
  int memcpy_sg(hal::Hal& h, dma_chan* c, const sg_table* dst, const sg_table* src, uint64_t len);
  // dma_copy: the engine of channel `chan_index` copies len bytes from the
  // user buffer at src to the one at dst of mm. Returns 0 or -errno (EIO:
  // the buffers cannot be mapped for the device, or the transfer failed).
  int64_t user_copy(hal::Hal& h, mm_struct* mm, unsigned chan_index, uint64_t dst, uint64_t src, uint64_t len);

  // dma_alloc: a coherent buffer of `size` bytes for the engine, mapped
  // into mm (as a driver's mmap of its DMA buffer); a dma_copy naming it
  // uses it as it is. Returns its user address or -errno. It is freed when
  // its mapping goes (munmap of all of it, or exit).
  int64_t user_alloc(hal::Hal& h, mm_struct* mm, unsigned chan_index, uint64_t size);
  // PfnmapOwner: a dma_alloc mapping went.
  void pfnmap_close(hal::Hal& h, vm_area_struct* vma) override;

  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  static constexpr unsigned kMaxUserBufs = 64;
  // A coherent buffer mapped into a process (chan nullptr: a free slot).
  struct UserBuf {
    dma_chan* chan = nullptr;
    mm_struct* mm = nullptr;
    uint64_t va = 0, len = 0;
    void* cpu = nullptr;
    dma_addr_t dma = 0;
  };
  // One side of a dma_copy: a coherent buffer's range, or pinned and mapped user pages.
  struct UserSide {
    page** pages = nullptr;
    unsigned long n = 0;
    bool pinned = false, mapped = false;
    scatterlist one{};
    sg_table sgt{};
  };
  // The caller's coherent buffer holding [va, va+len), or nullptr.
  const UserBuf* find_buf(const dma_chan* c, const mm_struct* mm, uint64_t va, uint64_t len) const;
  // Returns 0 with s.sgt mapped for the device, or -errno (release_side undoes what was done).
  int prepare_side(hal::Hal& h, dma_chan* c, mm_struct* mm, UserSide& s, uint64_t va, uint64_t len,
                   dma_data_direction dir);
  void release_side(hal::Hal& h, dma_chan* c, UserSide& s, dma_data_direction dir);
  // The descriptor ring, allocated at first use; false when out of memory.
  bool alloc_ring(hal::Hal& h, dma_chan* c);
  // Runs the chain of n descriptors at the ring's start; waits for the interrupt.
  int run_chain(hal::Hal& h, dma_chan* c, unsigned n, uint64_t bytes);
  int map_user(hal::Hal& h, dma_chan* c, sg_table* sgt, dma_data_direction dir);
  void unmap_user(hal::Hal& h, dma_chan* c, sg_table* sgt, dma_data_direction dir);

  MmContext* ctx_ = nullptr;
  dma_chan chans_[kMaxChans];
  UserBuf bufs_[kMaxUserBufs];
  unsigned nr_chans_ = 0;
};

}  // namespace fw
