// Disks end to end, in one process: a machine with disks is elaborated from
// a scenario, the firmware boots on it (its driver probes the disks), and
// then, on the boot CPU, bios go through the block layer with
// submit_bio_wait: data written reaches the medium after a FLUSH (checked
// with read_media), reads return it, a bad sector fails a read with EIO
// (BLK_STS_MEDIUM) logged by name, and on a 64 GiB machine a 32-bit disk's
// pages above 4 GiB bounce through swiotlb while a 64-bit disk's do not.
// /proc/diskstats counts what was done.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hw/platform/platform.h"
#include "sw/block/bio.h"
#include "sw/dma/dma.h"
#include "sw/hal/debug.h"
#include "sw/kernel/kernel.h"
#include "tb/common/boot_body_firmware.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"

namespace {


struct StringSink final : hal::TextSink {
  std::string s;
  void write(const char* t, size_t n) override { s.append(t, n); }
};

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 9));
  return v;
}

constexpr unsigned kPages = 8;
constexpr uint64_t kBytes = kPages * 4096;

// One disk's I/O from the boot CPU: write a pattern, FLUSH, read it back.
struct DiskIo {
  const char* name;
  uint64_t sector;
  uint8_t seed;
  int write_rc = 1, flush_rc = 1, read_rc = 1;
  bool data_ok = false;
  uint64_t lowest_pa = ~0ull;  // of the pages used: above 4 GiB on a 64 GiB machine
  uint64_t bounced = 0;        // swiotlb mappings its I/O took

  void run(hal::Hal& h, fw::Kernel& k) {
    fw::block_device* bd = k.ctx().blockdevs->lookup(name);
    ASSERT_NE(bd, nullptr) << name;
    fw::page* src = k.page_alloc().alloc_pages(h, fw::GFP_KERNEL, 3);
    fw::page* dst = k.page_alloc().alloc_pages(h, fw::GFP_KERNEL, 3);
    ASSERT_TRUE(src && dst);
    const uint64_t spa = k.nodes().page_to_phys(src), dpa = k.nodes().page_to_phys(dst);
    lowest_pa = std::min(spa, dpa);
    const std::vector<uint8_t> data = pattern(kBytes, seed);
    h.phys_write(spa, data.data(), kBytes);
    const uint64_t before = k.dma().stats().bounced_maps;
    fw::bio b;
    fw::bio_init(&b, bd, fw::req_op::write, fw::REQ_SYNC, sector);
    for (unsigned i = 0; i < kPages; ++i) fw::bio_add_page(&b, k.nodes().phys_to_page(spa + i * 4096ull), 4096, 0);
    write_rc = fw::submit_bio_wait(h, &b);
    fw::bio_init(&b, bd, fw::req_op::flush, fw::REQ_SYNC, 0);
    flush_rc = fw::submit_bio_wait(h, &b);
    fw::bio_init(&b, bd, fw::req_op::read, fw::REQ_SYNC, sector);
    for (unsigned i = 0; i < kPages; ++i) fw::bio_add_page(&b, k.nodes().phys_to_page(dpa + i * 4096ull), 4096, 0);
    read_rc = fw::submit_bio_wait(h, &b);
    bounced = k.dma().stats().bounced_maps - before;
    std::vector<uint8_t> back(kBytes);
    h.phys_read(dpa, back.data(), kBytes);
    data_ok = back == data;
    k.page_alloc().free_pages(h, src, 3);
    k.page_alloc().free_pages(h, dst, 3);
  }
};

struct Rig {
  explicit Rig(const std::string& yaml)
      : cfg(sim::Config::load_string(yaml, "blockdev_test")), kernel(fw::Params{}), fw(kernel) {
    platform = std::make_unique<hw::Platform>("system", cfg.root().child("platform"), 1, fw);
    platform->complex().console = [this](unsigned, const char* t, size_t n) { console.append(t, n); };
  }
  std::string run() { return platform->run(); }
  std::string proc(const char* name) {
    StringSink s;
    kernel.proc_show(name, s);
    return s.s;
  }
  sim::Config cfg;
  fw::Kernel kernel;
  tbtest::BootBodyFirmware fw;
  std::unique_ptr<hw::Platform> platform;
  std::string console;
};

TEST(BlockSystem, DisksOf512And4096ByteSectorsOn64GiB32BitBouncesAnd64BitDoesNot) {
  Rig r(R"(
platform:
  memory: {size: 64GiB}
  devices:
    - {name: disk32, kind: block, addr_bits: 32, size: 1GiB}
    - {name: disk64, kind: block, addr_bits: 64, size: 64GiB, sector_size: 4096, bad_sectors: [[1000, 1001]]}
)");
  DiskIo d64{"disk64", 4096, 7}, d32{"disk32", 2000, 9};
  int bad_rc = 0;
  fw::blk_status_t bad_status{};
  r.fw.body = [&](hal::Hal& h) {
    d64.run(h, r.kernel);
    d32.run(h, r.kernel);
    // A read over device sector 1000 (4 KiB sectors): a media error.
    fw::page* p = r.kernel.page_alloc().alloc_pages(h, fw::GFP_KERNEL, 0);
    fw::bio b;
    fw::bio_init(&b, r.kernel.ctx().blockdevs->lookup("disk64"), fw::req_op::read, 0, 1000 * 8);
    fw::bio_add_page(&b, p, 4096, 0);
    bad_rc = fw::submit_bio_wait(h, &b);
    bad_status = b.bi_status;
    r.kernel.page_alloc().free_pages(h, p, 0);
  };
  ASSERT_EQ(r.run(), "");
  for (const DiskIo* d : {&d64, &d32}) {
    SCOPED_TRACE(d->name);
    EXPECT_EQ(d->write_rc, 0);
    EXPECT_EQ(d->flush_rc, 0);
    EXPECT_EQ(d->read_rc, 0);
    EXPECT_TRUE(d->data_ok);
    EXPECT_GE(d->lowest_pa, 4ull << 30) << "the test's pages lie above 4 GiB";
    // The medium holds what was written (the FLUSH put it there).
    hw::BlockDevice* dev = r.platform->block_device(d->name);
    ASSERT_NE(dev, nullptr);
    std::vector<uint8_t> media(kBytes);
    dev->read_media(d->sector * 512, media.data(), kBytes);
    EXPECT_EQ(media, pattern(kBytes, d->seed));
    EXPECT_EQ(dev->cached_bytes(), 0u);
  }
  EXPECT_EQ(d64.bounced, 0u) << "a 64-bit disk reaches every page";
  EXPECT_EQ(d32.bounced, 2u * kPages) << "every page of the 32-bit disk bounced";
  EXPECT_EQ(r.platform->block_device("disk64")->sector_size(), 4096u);
  EXPECT_EQ(r.platform->block_device("disk32")->stats.address_errors.value(), 0u);
  // Every access of the disks was to memory mapped for them (the ring, the commands, the pages or their bounce slots).
  EXPECT_EQ(r.platform->dma_checker().violations(), 0u);
  EXPECT_EQ(r.platform->dma_checker().end_of_run_problem(), "");
  EXPECT_EQ(r.kernel.dma().stats().map_page, r.kernel.dma().stats().unmap_page);
  EXPECT_EQ(r.platform->block_device("disk32")->stats.writes.value(), 1u);
  EXPECT_EQ(r.platform->block_device("disk32")->stats.flushes.value(), 1u);
  EXPECT_EQ(r.platform->block_device("disk64")->stats.media_errors.value(), 1u);
  EXPECT_EQ(bad_rc, -5);
  EXPECT_EQ(bad_status, fw::blk_status_t::BLK_STS_MEDIUM);
  EXPECT_NE(r.console.find("critical medium error, dev disk64, sector 8000 op 0x0:(READ)"), std::string::npos)
      << r.console;
  // diskstats: each disk's first read is mmfs's look for its superblock at
  // boot (one 4 KiB block). Then disk32 (minor 0): 1 read of 64 sectors, 1
  // write of 64, 1 flush; disk64: 2 reads (one failed).
  const std::string ds = r.proc("diskstats");
  EXPECT_NE(ds.find(" 253       0 disk32 2 0 72 "), std::string::npos) << ds;
  EXPECT_NE(ds.find(" 253      16 disk64 3 0 80 "), std::string::npos) << ds;
}

}  // namespace
