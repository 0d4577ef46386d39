// A disk: the `block` kind of `platform.devices`, a controller in the manner
// of virtio-blk (Linux drivers/block/virtio_blk.c; the virtio 1.x split
// virtqueue) with its storage. The firmware's driver
// (sw/drivers/block/virtio_blk) places one request ring in memory and tells
// the device where through MMIO; the device reads the ring's descriptors and
// request headers and moves the data buffers by DMA through its own
// initiator socket, limited by its address width (an address beyond it is
// never driven: the request fails with an address error), writes each
// request's status byte and the used ring, and raises its interrupt.
//
// Storage: sparse host memory in 64 KiB chunks (a 1 TiB disk costs what is
// written) or a host file (`backing`). A never-written byte reads from the
// content source the composition root installs (else 0). With `write_cache`
// (the default), writes land in a volatile cache that FLUSH (and a FUA
// write) puts on the medium; read_media() sees only the medium.
//
// Timing, per request: `read_latency`/`write_latency`, then its bytes at
// `bandwidth` on the one media channel: requests overlap their latencies
// (up to the ring size in flight) but not their transfers.
//
// Registers (64-bit, at offsets from the MMIO base):
//   0x00 CAPACITY  (r) bytes            0x08 SECTOR   (r) sector size, 512 or 4096
//   0x10 QSIZE     (r) ring entries     0x18 FEATURES (r) bit 0 volatile write cache (FLUSH), bit 1 FUA
//   0x20 DESC      descriptor table     0x28 AVAIL    avail ring      0x30 USED  used ring (bus addresses)
//   0x38 CTRL      write 1: the ring is ready (the device reads DESC/AVAIL/USED); 0: reset
//   0x40 NOTIFY    write: new requests on the avail ring (virtio's queue notify)
//   0x48 IRQ       bits 0..7 vector, bits 32..47 target CPU
//   0x50 ISR       (read, clears) bit 0 the used ring moved, bit 1 device error
//   0x58 ERROR     (read) the last device error (BlockError), 0x60 ERRADDR (read) its bus address
//   0x68 WIDTH     (read) address width in bits
//
// Ring (virtio 1.x split virtqueue, little-endian; N = QSIZE):
//   descriptor table: N x {addr u64, len u32, flags u16 (1 NEXT, 2 WRITE: device writes, 4 INDIRECT), next u16}
//   (INDIRECT: addr/len hold a table of len/16 descriptors where the chain is, indexed from 0, as
//   VIRTIO_RING_F_INDIRECT_DESC; a request of many pages takes one ring entry)
//   avail ring: {flags u16, idx u16, ring[N] u16}     used ring: {flags u16, idx u16, ring[N] {id u32, len u32}}
// A request is a chain: header {type u32, flags u32, sector u64} (sector: 512-byte units, as virtio),
// data buffers (device-writable for a read), then one status byte the device writes:
// 0 OK, 1 IOERR (address error, bad request), 2 UNSUPP, 3 MEDIUM (a bad sector; mmcosim's addition).
// Types: 0 IN (read), 1 OUT (write), 4 FLUSH; header flag bit 0 FUA (mmcosim's addition).
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <systemc>
#include <tlm>
#include <unordered_map>
#include <vector>

#include "hw/base/command.h"
#include "hw/base/config.h"
#include "hw/base/device.h"
#include "hw/base/initiator.h"
#include "hw/base/stats.h"

namespace hw {

enum class BlockError : uint8_t {
  none = 0,
  beyond_width = 1,    // an address of the ring or a buffer needs more bits than the device has
  bus_error = 2,       // nothing answered at an address
  poison = 3,          // a buffer the device read holds an uncorrected memory error
  bad_descriptor = 4,  // a chain without header or status, a loop, an index beyond the ring
  bad_request = 5,     // sectors beyond the capacity, or not whole sectors
};
const char* block_error_name(BlockError e);

// The `block` kind of platform.devices.
extern const sim::DeviceKind kBlockDeviceKind;

class BlockDevice : public sc_core::sc_module, public sim::Device {
 public:
  static constexpr uint64_t kRegCapacity = 0x00, kRegSector = 0x08, kRegQsize = 0x10, kRegFeatures = 0x18,
                            kRegDesc = 0x20, kRegAvail = 0x28, kRegUsed = 0x30, kRegCtrl = 0x38,
                            kRegNotify = 0x40, kRegIrq = 0x48, kRegIsr = 0x50, kRegError = 0x58,
                            kRegErrAddr = 0x60, kRegWidth = 0x68;
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr uint64_t kFeatureFlush = 1, kFeatureFua = 2;
  static constexpr uint64_t kIsrUsed = 1, kIsrError = 2;
  static constexpr uint16_t kDescNext = 1, kDescWrite = 2, kDescIndirect = 4;
  static constexpr uint32_t kTypeIn = 0, kTypeOut = 1, kTypeFlush = 4;
  static constexpr uint32_t kFlagFua = 1;
  static constexpr uint8_t kStatusOk = 0, kStatusIoErr = 1, kStatusUnsupp = 2, kStatusMedium = 3;
  static constexpr unsigned kDescSize = 16, kHeaderSize = 16;
  static constexpr uint64_t kChunk = 64 * 1024;  // sparse store granule

  struct Params : sim::DeviceParams {
    uint64_t size = 0;
    uint32_t sector_size = 512;
    sc_core::sc_time read_latency = sc_core::sc_time(50, sc_core::SC_US);
    sc_core::sc_time write_latency = sc_core::sc_time(50, sc_core::SC_US);
    uint64_t bandwidth = 500ull << 20;  // bytes per second
    bool write_cache = true;
    unsigned queue_depth = 64;                               // ring entries (a power of two)
    std::vector<std::pair<uint64_t, uint64_t>> bad_sectors;  // inclusive ranges, in device sectors
    std::string backing;                                     // host file, or "" for sparse memory
  };
  // Reads the `block` keys of one platform.devices entry.
  static std::unique_ptr<sim::DeviceParams> read_params(sim::ConfigNode& d, const sim::DeviceInfo& info);

  tlm_utils::simple_target_socket<BlockDevice> mmio;
  sim::InitiatorSocket master;

  SC_HAS_PROCESS(BlockDevice);
  BlockDevice(sc_core::sc_module_name name, const Params& p, const sim::DeviceEnv& env);
  ~BlockDevice() override;

  // ---- sim::Device ----
  const sim::DeviceInfo& info() const override { return p_.info; }
  tlm::tlm_target_socket<>* registers() override { return &mmio; }
  sim::InitiatorSocket* bus_master() override { return &master; }

  // ---- host side (the composition root: mkfs, end-of-run checks) ----
  // What a never-written byte reads as (else 0).
  void set_content_source(std::function<void(uint64_t byte_offset, uint8_t* dst, uint64_t len)> source);
  // The stable medium: what survives power loss (not what is only in the write cache).
  void read_media(uint64_t byte_offset, void* dst, uint64_t len) const;
  // Writes the medium directly (host-side: mkfs before boot).
  void write_media(uint64_t byte_offset, const void* src, uint64_t len);
  uint64_t capacity() const { return p_.size; }
  uint32_t sector_size() const { return p_.sector_size; }
  const std::string& name() const { return p_.info.name; }
  const Params& params() const { return p_; }
  // Bytes of host memory the sparse store holds (the cost of what was written).
  uint64_t stored_bytes() const { return chunks_.size() * kChunk; }
  // Bytes written but not yet on the medium (the volatile cache).
  uint64_t cached_bytes() const { return cache_.size() * uint64_t{p_.sector_size}; }
  bool is_bad_sector(uint64_t sector) const;

  struct Stats : sim::stats::Group {
    Stats(sim::stats::Group* parent, const std::string& name);
    sim::stats::Scalar reads{this, "reads", "Read requests completed", "Count"};
    sim::stats::Scalar writes{this, "writes", "Write requests completed", "Count"};
    sim::stats::Scalar flushes{this, "flushes", "FLUSH requests completed", "Count"};
    sim::stats::Scalar fua_writes{this, "fuaWrites", "Writes with FUA (on the medium when they complete)", "Count"};
    sim::stats::Scalar bytes_read{this, "bytesRead", "Bytes read by completed requests", "Byte"};
    sim::stats::Scalar bytes_written{this, "bytesWritten", "Bytes written by completed requests", "Byte"};
    sim::stats::Scalar bytes_flushed{this, "bytesFlushed", "Bytes the write cache put on the medium", "Byte"};
    sim::stats::Scalar media_errors{this, "errorsMedia", "Reads that touched a bad sector", "Count"};
    sim::stats::Scalar reallocated{this, "reallocatedSectors", "Bad sectors a write reallocated", "Count"};
    sim::stats::Scalar address_errors{this, "errorsBeyondWidth", "Requests failed: an address beyond the width",
                                      "Count"};
    sim::stats::Scalar bus_errors{this, "errorsBus", "Requests failed on a bus error or poison", "Count"};
    sim::stats::Scalar bad_requests{this, "errorsRequest", "Malformed requests or chains", "Count"};
    sim::stats::Scalar interrupts{this, "interrupts", "Completion interrupts raised", "Count"};
    sim::stats::Scalar busy_ns{this, "busyTime", "Time the medium was transferring", "ns"};
    sim::stats::Scalar max_in_flight{this, "maxInFlight", "Most requests in the device at once", "Count"};
    sim::stats::Scalar store_bytes{this, "storeBytes", "Host memory of the sparse store at the end", "Byte"};
  } stats;

 private:
  // The model's name in debug lines: as stats.txt names it (system.block.disk0),
  // not its SystemC name (system.disk0).
  const std::string who_ = stats.path();
  struct Request {
    uint16_t head = 0;
    uint32_t type = 0, flags = 0;
    uint64_t sector = 0;                            // in 512-byte units
    std::vector<std::pair<uint64_t, uint32_t>> bufs;  // data buffers: bus address, length
    uint64_t status_addr = 0;
    uint64_t bytes = 0;
    uint8_t status = kStatusOk;
    sc_core::sc_time done;  // when it completes
    sc_core::sc_time arrived, served;  // taken from the queue; the medium starts on it (the timeline)
  };
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool write_register(uint64_t off, uint64_t v);
  bool read_register(uint64_t off, uint64_t& v);
  void run();
  // Takes every new avail entry into pending_ (with its completion time).
  void fetch_new(sc_core::sc_time& delay);
  // Reads the chain at `head` into r; returns how it went.
  BlockError parse_chain(uint16_t head, Request& r, sc_core::sc_time& delay);
  // Reads descriptor idx of the table at `table` (of `size` entries).
  BlockError read_desc(uint64_t table, uint32_t size, uint32_t idx, uint64_t& addr, uint32_t& len, uint16_t& flags,
                       uint16_t& next, sc_core::sc_time& delay);
  // Does r's data transfer and writes its status and used entry.
  void complete(Request& r, sc_core::sc_time& delay);
  // The request as a span of the disk's track (Block flag).
  void trace_request(const Request& r);
  // DMA between r's buffers and data (from_memory: a write's data comes in); false on an error.
  bool move_data(const Request& r, bool from_memory, std::vector<uint8_t>& data, sc_core::sc_time& delay);
  uint8_t do_read(Request& r, sc_core::sc_time& delay);
  uint8_t do_write(Request& r, sc_core::sc_time& delay);
  uint64_t flush_cache();
  BlockError access(bool read, uint64_t addr, void* buf, unsigned len, sc_core::sc_time& delay);
  void device_error(BlockError e);
  bool fits(uint64_t addr, uint64_t len) const;
  sc_core::sc_time transfer_time(uint64_t bytes) const;
  // The store beneath the cache: the medium.
  void media_read(uint64_t off, uint8_t* dst, uint64_t len) const;
  void media_write(uint64_t off, const uint8_t* src, uint64_t len);
  uint8_t* chunk_for_write(uint64_t index, bool whole);
  void source(uint64_t off, uint8_t* dst, uint64_t len) const;

  Params p_;
  sim::IrqSink* irq_sink_;
  std::function<void(uint64_t, uint8_t*, uint64_t)> content_;
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> chunks_;  // sparse store
  std::unordered_map<uint64_t, bool> file_written_;                  // backing file: chunks written
  int fd_ = -1;
  std::map<uint64_t, std::vector<uint8_t>> cache_;  // volatile cache, by device sector
  std::vector<std::pair<uint64_t, uint64_t>> bad_;  // still bad (sorted, inclusive)
  uint64_t desc_ = 0, avail_ = 0, used_ = 0, irq_ = 0, isr_ = 0, err_addr_ = 0;
  bool ready_ = false;
  BlockError error_ = BlockError::none;
  uint16_t last_avail_ = 0, used_idx_ = 0;
  std::deque<Request> pending_;  // fetched, in completion order
  sc_core::sc_time media_free_;  // when the media channel finishes its last transfer
  sc_core::sc_event notify_;
  void register_commands();  // the monitor's `block`: hw/block/block_monitor.cpp
  sim::Commands commands_;
};

}  // namespace hw
