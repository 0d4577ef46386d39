// The disk through its registers and its ring: reads and writes of 512- and
// 4096-byte sectors land where they should, requests take their latency plus
// bytes over bandwidth, the volatile write cache keeps writes off the medium
// until a FLUSH (or a FUA write), a bad sector fails a read with a media
// error and a write reallocates it, a buffer beyond the device's width fails
// the request with an address error (nothing is driven there), and a 1 TiB
// disk costs host memory only for what is written.
#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <systemc>
#include <vector>

#include "hw/base/time.h"
#include "hw/block/block_device.h"
#include "hw/bus/interconnect.h"
#include "hw/dma/dma_checker.h"
#include "hw/intc/intc.h"
#include "hw/mem/dram.h"
#include "tb/common/mmio_cpu.h"

namespace hw {
namespace {

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

using Sink = tb::IrqRecorder;
using Cpu = tb::MmioCpu;

constexpr uint64_t kBase = 0xfed00000, kCheck = 0xfed0f000, kIntc = 0xfee00000;
constexpr uint64_t kMem = 64ull << 20;
// Where the test puts the ring and the requests' parts (all below 16 MiB).
constexpr uint64_t kDesc = 0x10000, kAvail = 0x11000, kUsed = 0x12000, kCmd = 0x20000, kData = 0x100000;

BlockDevice::Params disk(uint64_t size, uint32_t sector, unsigned bits = 64) {
  BlockDevice::Params p;
  p.info.name = "disk0";
  p.info.kind = "block";
  p.info.id = 1;
  p.info.addr_bits = bits;
  p.info.mmio_base = kBase;
  p.info.mmio_size = BlockDevice::kMmioSize;
  p.info.vector = 0x41;
  p.size = size;
  p.sector_size = sector;
  p.queue_depth = 16;
  p.read_latency = sc_time(10, sc_core::SC_US);
  p.write_latency = sc_time(20, sc_core::SC_US);
  p.bandwidth = 1ull << 30;
  return p;
}

DmaChecker::Params checker_params() {
  DmaChecker::Params p;
  p.mmio_base = kCheck;
  p.id = 2;
  p.expect_violations = true;  // the test maps nothing: the checker only watches
  return p;
}

struct Bench {
  explicit Bench(const BlockDevice::Params& p)
      : checker("checker", checker_params(), &root, {p.info}), dev("disk0", p, env()) {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, kMem, "dram");
    bus.to_targets.bind(dev.mmio);
    bus.add_region(1, kBase, BlockDevice::kMmioSize, "disk0");
    bus.to_targets.bind(intc.socket);
    bus.add_region(2, kIntc, InterruptController::kMmioSize, "intc");
    bus.to_targets.bind(checker.mmio);
    bus.add_region(3, kCheck, DmaChecker::kMmioSize, "checker");
    dev.master.bind(checker.port(dev.info().id));
    checker.to_bus.bind(bus.from_initiators);
    cpu.socket.bind(bus.from_initiators);
    intc.connect(0, &sink);
  }
  sim::DeviceEnv env() {
    sim::DeviceEnv e;
    e.stats_parent = &root;
    e.irq = &intc;
    return e;
  }
  void set(uint64_t off, uint64_t v) { cpu.reg(kBase + off, v, true); }
  uint64_t reg(uint64_t off) { return cpu.reg(kBase + off, 0, false); }
  void start() {
    sc_core::sc_start(SC_ZERO_TIME);
    set(BlockDevice::kRegDesc, kDesc);
    set(BlockDevice::kRegAvail, kAvail);
    set(BlockDevice::kRegUsed, kUsed);
    set(BlockDevice::kRegIrq, 0x41);
    set(BlockDevice::kRegCtrl, 1);
  }
  void desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    uint8_t* d = dram.host(table + i * 16);
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &flags, 2);
    std::memcpy(d + 14, &next, 2);
  }
  // Puts request `slot` on the ring as an indirect table: header, one buffer per
  // entry of `bufs`, status; does not notify.
  void put(unsigned slot, uint32_t type, uint64_t sector, std::vector<std::pair<uint64_t, uint32_t>> bufs,
           uint32_t flags = 0) {
    const uint64_t cmd = kCmd + slot * 0x1000, table = cmd + 0x100, status = cmd + 0x80;
    std::memcpy(dram.host(cmd), &type, 4);
    std::memcpy(dram.host(cmd + 4), &flags, 4);
    std::memcpy(dram.host(cmd + 8), &sector, 8);
    *dram.host(status) = 0xff;
    desc(table, 0, cmd, 16, BlockDevice::kDescNext, 1);
    const uint16_t w = type == BlockDevice::kTypeIn ? BlockDevice::kDescWrite : 0;
    unsigned n = 1;
    for (auto [a, l] : bufs) {
      desc(table, n, a, l, BlockDevice::kDescNext | w, static_cast<uint16_t>(n + 1));
      ++n;
    }
    desc(table, n, status, 1, BlockDevice::kDescWrite, 0);
    desc(kDesc, slot, table, (n + 1) * 16, BlockDevice::kDescIndirect, 0);
    uint16_t idx;
    std::memcpy(&idx, dram.host(kAvail + 2), 2);
    const uint16_t s = static_cast<uint16_t>(slot);
    std::memcpy(dram.host(kAvail + 4 + 2 * (idx % 16)), &s, 2);
    ++idx;
    std::memcpy(dram.host(kAvail + 2), &idx, 2);
  }
  uint8_t status(unsigned slot) { return *dram.host(kCmd + slot * 0x1000 + 0x80); }
  uint16_t used_idx() {
    uint16_t v;
    std::memcpy(&v, dram.host(kUsed + 2), 2);
    return v;
  }
  // Notifies and runs until the device is done.
  void kick() {
    set(BlockDevice::kRegNotify, 0);
    sc_core::sc_start(sc_time(50, sc_core::SC_MS));
  }
  uint8_t one(uint32_t type, uint64_t sector, uint64_t addr, uint32_t len, uint32_t flags = 0) {
    put(0, type, sector, {{addr, len}}, flags);
    kick();
    return status(0);
  }

  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", SC_ZERO_TIME, &root};
  Dram dram{"dram", Dram::Params{0, kMem, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root};
  InterruptController intc{"intc", kIntc, SC_ZERO_TIME, &root};
  DmaChecker checker;
  BlockDevice dev;
  Cpu cpu{"cpu"};
  Sink sink;
};

void fill(uint8_t* p, size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(seed + i * 13);
}

TEST(Block, WritesAndReadsThroughTheRing) {
  Bench b(disk(64ull << 20, 512));
  b.start();
  EXPECT_EQ(b.reg(BlockDevice::kRegCapacity), 64ull << 20);
  EXPECT_EQ(b.reg(BlockDevice::kRegSector), 512u);
  fill(b.dram.host(kData), 8192, 3);
  // Two buffers in one request: sectors 8..23.
  b.put(0, BlockDevice::kTypeOut, 8, {{kData, 4096}, {kData + 4096, 4096}});
  b.kick();
  EXPECT_EQ(b.status(0), BlockDevice::kStatusOk);
  EXPECT_EQ(b.used_idx(), 1u);
  EXPECT_EQ(b.sink.count, 1);
  EXPECT_EQ(b.one(BlockDevice::kTypeIn, 8, kData + 0x10000, 8192), BlockDevice::kStatusOk);
  EXPECT_EQ(std::memcmp(b.dram.host(kData), b.dram.host(kData + 0x10000), 8192), 0);
  EXPECT_EQ(b.dev.stats.writes.value(), 1u);
  EXPECT_EQ(b.dev.stats.reads.value(), 1u);
  EXPECT_EQ(b.dev.stats.bytes_read.value(), 8192u);
  uint32_t used_len;
  std::memcpy(&used_len, b.dram.host(kUsed + 4 + 8 + 4), 4);
  EXPECT_EQ(used_len, 8193u);  // a read's data plus its status byte
}

TEST(Block, FourKSectorsRefusePartialSectors) {
  Bench b(disk(64ull << 20, 4096));
  b.start();
  fill(b.dram.host(kData), 4096, 9);
  EXPECT_EQ(b.one(BlockDevice::kTypeOut, 1, kData, 4096), BlockDevice::kStatusIoErr);  // not on a 4 KiB boundary
  EXPECT_EQ(b.one(BlockDevice::kTypeOut, 8, kData, 2048), BlockDevice::kStatusIoErr);  // half a sector
  EXPECT_EQ(b.dev.stats.bad_requests.value(), 2u);
  EXPECT_EQ(b.one(BlockDevice::kTypeOut, 8, kData, 4096, BlockDevice::kFlagFua), BlockDevice::kStatusOk);
  std::vector<uint8_t> m(4096);
  b.dev.read_media(4096, m.data(), 4096);  // sector 8 of 512 bytes is device sector 1
  EXPECT_EQ(std::memcmp(m.data(), b.dram.host(kData), 4096), 0);
  // Beyond the capacity.
  EXPECT_EQ(b.one(BlockDevice::kTypeIn, (64ull << 20) / 512, kData, 4096), BlockDevice::kStatusIoErr);
}

TEST(Block, LatencyPlusBytesOverBandwidth) {
  Bench b(disk(64ull << 20, 512));
  b.start();
  const sc_time t0 = sc_core::sc_time_stamp();
  EXPECT_EQ(b.one(BlockDevice::kTypeIn, 0, kData, 1 << 20), BlockDevice::kStatusOk);
  // 10 us + 1 MiB at 1 GiB/s (976.5625 us), plus the bus time of its accesses (under 1 us).
  const double us = (b.sink.last_at - t0).to_seconds() * 1e6;
  EXPECT_GE(us, 986.5);
  EXPECT_LT(us, 988.0);
  // Two requests at once: their latencies overlap, their transfers do not.
  const sc_time t1 = sc_core::sc_time_stamp();
  b.put(0, BlockDevice::kTypeIn, 0, {{kData, 1 << 20}});
  b.put(1, BlockDevice::kTypeIn, 4096, {{kData + (1 << 20), 1 << 20}});
  b.kick();
  const double both = (b.sink.last_at - t1).to_seconds() * 1e6;
  EXPECT_GE(both, 10 + 2 * 976.5);
  EXPECT_LT(both, 10 + 2 * 976.5 + 5);
  EXPECT_EQ(b.dev.stats.max_in_flight.value(), 2u);
}

TEST(Block, WriteCacheKeepsWritesOffTheMediumUntilFlush) {
  Bench b(disk(64ull << 20, 512));
  b.dev.set_content_source([](uint64_t off, uint8_t* dst, uint64_t len) {
    for (uint64_t i = 0; i < len; ++i) dst[i] = static_cast<uint8_t>((off + i) >> 9);
  });
  b.start();
  fill(b.dram.host(kData), 4096, 77);
  EXPECT_EQ(b.one(BlockDevice::kTypeOut, 16, kData, 4096), BlockDevice::kStatusOk);
  std::vector<uint8_t> m(4096);
  b.dev.read_media(16 * 512, m.data(), 4096);
  EXPECT_EQ(m[0], 16) << "the medium still holds the content source's bytes";
  EXPECT_EQ(b.dev.cached_bytes(), 4096u);
  // The device itself reads the cache.
  EXPECT_EQ(b.one(BlockDevice::kTypeIn, 16, kData + 0x10000, 4096), BlockDevice::kStatusOk);
  EXPECT_EQ(std::memcmp(b.dram.host(kData), b.dram.host(kData + 0x10000), 4096), 0);
  b.put(0, BlockDevice::kTypeFlush, 0, {});
  b.kick();
  EXPECT_EQ(b.status(0), BlockDevice::kStatusOk);
  b.dev.read_media(16 * 512, m.data(), 4096);
  EXPECT_EQ(std::memcmp(m.data(), b.dram.host(kData), 4096), 0);
  EXPECT_EQ(b.dev.cached_bytes(), 0u);
  EXPECT_EQ(b.dev.stats.flushes.value(), 1u);
  EXPECT_EQ(b.dev.stats.bytes_flushed.value(), 4096u);
}

TEST(Block, NoWriteCacheWritesTheMediumAtOnce) {
  BlockDevice::Params p = disk(64ull << 20, 512);
  p.write_cache = false;
  Bench b(p);
  b.start();
  EXPECT_EQ(b.reg(BlockDevice::kRegFeatures), 0u);
  fill(b.dram.host(kData), 512, 5);
  EXPECT_EQ(b.one(BlockDevice::kTypeOut, 3, kData, 512), BlockDevice::kStatusOk);
  std::vector<uint8_t> m(512);
  b.dev.read_media(3 * 512, m.data(), 512);
  EXPECT_EQ(std::memcmp(m.data(), b.dram.host(kData), 512), 0);
}

TEST(Block, BadSectorFailsAReadAndAWriteReallocatesIt) {
  BlockDevice::Params p = disk(64ull << 20, 512);
  p.bad_sectors = {{100, 103}};
  Bench b(p);
  b.start();
  std::memset(b.dram.host(kData), 0xee, 4096);
  EXPECT_EQ(b.one(BlockDevice::kTypeIn, 96, kData, 4096), BlockDevice::kStatusMedium);
  EXPECT_EQ(b.dram.host(kData)[0], 0xee) << "nothing is transferred from a failed read";
  EXPECT_EQ(b.dev.stats.media_errors.value(), 1u);
  EXPECT_EQ(b.one(BlockDevice::kTypeIn, 104, kData, 4096), BlockDevice::kStatusOk);  // next to them: fine
  EXPECT_EQ(b.one(BlockDevice::kTypeOut, 101, kData, 512), BlockDevice::kStatusOk);
  EXPECT_EQ(b.dev.stats.reallocated.value(), 1u);
  EXPECT_FALSE(b.dev.is_bad_sector(101));
  EXPECT_TRUE(b.dev.is_bad_sector(100));
  EXPECT_TRUE(b.dev.is_bad_sector(102));
  EXPECT_EQ(b.one(BlockDevice::kTypeIn, 101, kData, 512), BlockDevice::kStatusOk);
}

TEST(Block, BufferBeyondItsWidthFailsWithAnAddressError) {
  Bench b(disk(64ull << 20, 512, 24));
  b.start();
  std::memset(b.dram.host(0x1000000), 0x5a, 4096);  // 16 MiB: one past a 24-bit bus
  EXPECT_EQ(b.one(BlockDevice::kTypeOut, 0, 0x1000000, 4096), BlockDevice::kStatusIoErr);
  EXPECT_EQ(b.dev.stats.address_errors.value(), 1u);
  EXPECT_EQ(b.reg(BlockDevice::kRegError), static_cast<uint64_t>(BlockError::beyond_width));
  EXPECT_EQ(b.reg(BlockDevice::kRegErrAddr), 0x1000000u);
  EXPECT_EQ(b.reg(BlockDevice::kRegIsr) & BlockDevice::kIsrError, BlockDevice::kIsrError);
  EXPECT_EQ(b.dev.stats.writes.value(), 0u);
  EXPECT_EQ(b.dev.stored_bytes(), 0u) << "nothing was written";
}

TEST(Block, ATerabyteDiskCostsWhatIsWritten) {
  Bench b(disk(1ull << 40, 512));
  b.start();
  fill(b.dram.host(kData), 4096, 1);
  EXPECT_EQ(b.one(BlockDevice::kTypeOut, (512ull << 30) / 512, kData, 4096, BlockDevice::kFlagFua),
            BlockDevice::kStatusOk);
  EXPECT_EQ(b.dev.stored_bytes(), BlockDevice::kChunk);
  std::vector<uint8_t> m(4096);
  b.dev.read_media(512ull << 30, m.data(), 4096);
  EXPECT_EQ(std::memcmp(m.data(), b.dram.host(kData), 4096), 0);
  b.dev.read_media((1ull << 40) - 4096, m.data(), 4096);
  EXPECT_EQ(m[100], 0);  // never written, no content source
}

TEST(Block, BackingFileHoldsTheMedium) {
  BlockDevice::Params p = disk(16ull << 20, 512);
  char path[] = "/tmp/mmcosim-block-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  p.backing = path;
  {
    Bench b(p);
    b.start();
    fill(b.dram.host(kData), 4096, 42);
    EXPECT_EQ(b.one(BlockDevice::kTypeOut, 2048, kData, 4096, BlockDevice::kFlagFua), BlockDevice::kStatusOk);
    EXPECT_EQ(b.dev.stored_bytes(), 0u);
    std::vector<uint8_t> f(4096);
    const int rfd = open(path, O_RDONLY);
    ASSERT_EQ(pread(rfd, f.data(), 4096, 2048 * 512), 4096);
    close(rfd);
    EXPECT_EQ(std::memcmp(f.data(), b.dram.host(kData), 4096), 0);
  }
  unlink(path);
}

TEST(Block, WriteOfAPoisonedBufferFailsWithAPoisonError) {
  // The disk reads the buffer of a write from memory: poison there is
  // reported to the driver (error register: poison, its address), and
  // nothing reaches the medium.
  Bench b(disk(64ull << 20, 512));
  b.start();
  fill(b.dram.host(kData), 4096, 4);
  b.dram.inject_poison(kData + 0x840);
  EXPECT_EQ(b.one(BlockDevice::kTypeOut, 0, kData, 4096), BlockDevice::kStatusIoErr);
  EXPECT_EQ(b.reg(BlockDevice::kRegError), static_cast<uint64_t>(BlockError::poison));
  EXPECT_EQ(b.dev.stats.bus_errors.value(), 1u);
  EXPECT_EQ(b.dev.stored_bytes(), 0u) << "nothing was written";
  EXPECT_EQ(b.dram.stats.poison_consumed.value(), 1u);
  // Cleared, the same write goes through.
  EXPECT_TRUE(b.dram.clear_poison(kData + 0x840));
  EXPECT_EQ(b.one(BlockDevice::kTypeOut, 0, kData, 4096), BlockDevice::kStatusOk);
}

}  // namespace
}  // namespace hw
