// The DMA API (sw/dma) on the host HAL: Linux 6.18's outcomes for masks,
// coherent allocations, streaming mappings through swiotlb, its limits,
// and dma-debug's reports. The machine has two DMA devices in its boot
// information (a 24-bit and a 32-bit one); the host HAL has no engines, so
// what is checked here is the API's side, not transfers.
#include "sw/dma/dma.h"

#include <gtest/gtest.h>

#include <cstring>

#include "sw/dma/direct.h"
#include "sw/dma/scatterlist.h"
#include "sw/mm/gup.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "tb/sw/dma/dma_rig.h"

namespace fwtest {
namespace {

using fw::device;
using fw::dma_addr_t;

TEST(DmaApi, DevicesComeFromTheBootInformationWithTheirDriversMasks) {
  DmaRig r;
  device* d0 = r.dev("dma0");
  device* d1 = r.dev("dma1");
  ASSERT_NE(d0, nullptr);
  ASSERT_NE(d1, nullptr);
  EXPECT_EQ(*d0->dma_mask, fw::DMA_BIT_MASK(24)) << "the driver set the engine's width";
  EXPECT_EQ(d1->coherent_dma_mask, fw::DMA_BIT_MASK(32));
  EXPECT_EQ(r.k->dma_driver().nr_chans(), 2u);
}

TEST(DmaApi, AMaskBelow24BitsIsRefusedWithEio) {
  DmaRig r;
  device* d = r.dev("dma0");
  EXPECT_EQ(fw::dma_set_mask_and_coherent(r.cpu(), d, fw::DMA_BIT_MASK(23)), -EIO);
  EXPECT_EQ(*d->dma_mask, fw::DMA_BIT_MASK(24)) << "a refused mask changes nothing";
  EXPECT_EQ(fw::dma_set_mask_and_coherent(r.cpu(), d, fw::DMA_BIT_MASK(24)), 0);
  EXPECT_EQ(fw::dma_set_mask_and_coherent(r.cpu(), d, fw::DMA_BIT_MASK(64)), 0);
  EXPECT_EQ(r.stat("dma.mask_rejected"), 1u);
}

TEST(DmaApi, CoherentMemoryComesFromTheZoneTheMaskDemands) {
  DmaRig r;
  struct Case {
    unsigned bits;
    uint64_t limit;
  } cases[] = {{24, 16 * MiB}, {32, 4 * GiB}, {40, 1ull << 40}};
  device* d = r.dev("dma1");
  for (const Case& c : cases) {
    ASSERT_EQ(fw::dma_set_mask_and_coherent(r.cpu(), d, fw::DMA_BIT_MASK(c.bits)), 0);
    const uint64_t retries = r.stat("dma.alloc_coherent_retries");
    dma_addr_t h = 0;
    void* cpu = fw::dma_alloc_coherent(r.cpu(), d, 64 * KiB, &h, fw::GFP_KERNEL);
    ASSERT_NE(cpu, nullptr) << c.bits;
    EXPECT_LE(h + 64 * KiB, c.limit) << c.bits << "-bit";
    // The first zone asked is the right one: a retry would hide a wrong choice.
    EXPECT_EQ(r.stat("dma.alloc_coherent_retries"), retries) << c.bits << "-bit";
    EXPECT_EQ(static_cast<uint8_t*>(cpu)[100], 0) << "zeroed";
    if (c.bits == 40) {
      EXPECT_GE(h, 4 * GiB) << "any zone: the allocator's first choice, ZONE_NORMAL";
    }
    fw::dma_free_coherent(r.cpu(), d, 64 * KiB, cpu, h);
  }
  EXPECT_EQ(r.stat("dma_debug.error_count"), 0u);
  EXPECT_GE(r.stat("vmstat.pgalloc_dma"), 16u);
  // A 33-bit mask on a 16 GiB machine: ZONE_NORMAL, the zone it calls for,
  // hands out a page above 8 GiB; out of reach, it is retried in ZONE_DMA32.
  DmaRig big(16 * GiB);
  d = big.dev("dma1");
  ASSERT_EQ(fw::dma_set_mask_and_coherent(big.cpu(), d, fw::DMA_BIT_MASK(33)), 0);
  dma_addr_t h = 0;
  void* cpu = fw::dma_alloc_coherent(big.cpu(), d, 64 * KiB, &h, fw::GFP_KERNEL);
  ASSERT_NE(cpu, nullptr);
  EXPECT_LE(h + 64 * KiB, 4 * GiB);
  EXPECT_GE(h, 16 * MiB) << "the next zone down, not ZONE_DMA";
  EXPECT_EQ(big.stat("dma.alloc_coherent_retries"), 1u);
  fw::dma_free_coherent(big.cpu(), d, 64 * KiB, cpu, h);
}

TEST(DmaApi, ADeviceReachesUpToItsMaskInclusive) {
  DmaRig r;
  device* d = r.dev("dma1");
  EXPECT_TRUE(fw::dma_capable(d, 4 * GiB - PAGE_SIZE, PAGE_SIZE)) << "the last byte is the mask itself";
  EXPECT_FALSE(fw::dma_capable(d, 4 * GiB - PAGE_SIZE + 1, PAGE_SIZE)) << "one byte past the mask";
  EXPECT_TRUE(fw::dma_capable(r.dev("dma0"), 16 * MiB - 1, 1));
  EXPECT_FALSE(fw::dma_capable(r.dev("dma0"), 16 * MiB - 1, 2));
}

TEST(DmaApi, StreamingMapsBounceWhatTheDeviceCannotReach) {
  DmaRig r;
  device* d = r.dev("dma1");
  fw::page* p = r.page_with(fw::GFP_KERNEL, 0x5a);
  const uint64_t pa = r.phys(p);
  ASSERT_GE(pa, 4 * GiB) << "an ordinary page of an 8 GiB machine lies high";
  const dma_addr_t a = fw::dma_map_page(r.cpu(), d, p, 0, PAGE_SIZE, fw::DMA_BIDIRECTIONAL);
  ASSERT_EQ(fw::dma_mapping_error(d, a), 0);
  EXPECT_TRUE(r.k->dma().swiotlb().is_swiotlb_buffer(a));
  EXPECT_LT(a + PAGE_SIZE, 4 * GiB);
  EXPECT_EQ(*r.at(a + 7), 0x5a) << "copied into the bounce buffer on map";
  std::memset(r.at(a), 0xc3, 100);  // what the device writes
  fw::dma_sync_single_for_cpu(r.cpu(), d, a, PAGE_SIZE, fw::DMA_BIDIRECTIONAL);
  EXPECT_EQ(*r.at(pa + 99), 0xc3) << "sync for the CPU copies back";
  std::memset(r.at(a), 0x11, 10);
  fw::dma_unmap_page(r.cpu(), d, a, PAGE_SIZE, fw::DMA_BIDIRECTIONAL);
  EXPECT_EQ(*r.at(pa), 0x11) << "unmap copies back";
  EXPECT_EQ(r.stat("swiotlb.io_tlb_used"), 0u);
  // A page the device reaches is its own bus address.
  fw::page* low = r.page_with(fw::GFP_DMA32, 1);
  const dma_addr_t direct = fw::dma_map_page(r.cpu(), d, low, 0, PAGE_SIZE, fw::DMA_TO_DEVICE);
  EXPECT_EQ(fw::dma_mapping_error(d, direct), 0);  // dma-debug would report an unchecked map
  EXPECT_EQ(direct, r.phys(low));
  fw::dma_unmap_page(r.cpu(), d, r.phys(low), PAGE_SIZE, fw::DMA_TO_DEVICE);
  EXPECT_EQ(r.stat("dma_debug.error_count"), 0u);
}

// Linux copies the buffer in for every direction: a device that writes
// only part of a FROM_DEVICE buffer leaves the rest as it was.
TEST(DmaApi, APartialDeviceWriteLeavesTheRestOfTheBufferAsItWas) {
  DmaRig r;
  device* d = r.dev("dma1");
  fw::page* p = r.page_with(fw::GFP_KERNEL, 0x5a);  // the unused bounce slot holds zeros
  const dma_addr_t a = fw::dma_map_page(r.cpu(), d, p, 0, PAGE_SIZE, fw::DMA_FROM_DEVICE);
  ASSERT_EQ(fw::dma_mapping_error(d, a), 0);
  ASSERT_TRUE(r.k->dma().swiotlb().is_swiotlb_buffer(a));
  std::memset(r.at(a), 0xc3, 100);  // what the device writes
  fw::dma_unmap_page(r.cpu(), d, a, PAGE_SIZE, fw::DMA_FROM_DEVICE);
  EXPECT_EQ(*r.at(r.phys(p) + 99), 0xc3);
  EXPECT_EQ(*r.at(r.phys(p) + 200), 0x5a) << "the bytes the device did not write";
  EXPECT_EQ(r.stat("dma_debug.error_count"), 0u);
}

TEST(DmaApi, SyncForTheDeviceCopiesInOnlyWhatTheDeviceReads) {
  DmaRig r;
  device* d = r.dev("dma1");
  fw::page* p = r.page_with(fw::GFP_KERNEL, 0x5a);
  fw::page* q = r.page_with(fw::GFP_KERNEL, 0x5a);
  const dma_addr_t both = fw::dma_map_page(r.cpu(), d, p, 0, PAGE_SIZE, fw::DMA_BIDIRECTIONAL);
  const dma_addr_t from = fw::dma_map_page(r.cpu(), d, q, 0, PAGE_SIZE, fw::DMA_FROM_DEVICE);
  ASSERT_EQ(fw::dma_mapping_error(d, both), 0);
  ASSERT_EQ(fw::dma_mapping_error(d, from), 0);
  std::memset(r.at(r.phys(p)), 0x77, PAGE_SIZE);  // the CPU changes the buffers
  std::memset(r.at(r.phys(q)), 0x77, PAGE_SIZE);
  fw::dma_sync_single_for_device(r.cpu(), d, both, PAGE_SIZE, fw::DMA_BIDIRECTIONAL);
  fw::dma_sync_single_for_device(r.cpu(), d, from, PAGE_SIZE, fw::DMA_FROM_DEVICE);
  EXPECT_EQ(*r.at(both + 9), 0x77) << "the device reads what the CPU wrote";
  EXPECT_EQ(*r.at(from + 9), 0x5a) << "a device that only writes gets no copy";
  fw::dma_unmap_page(r.cpu(), d, both, PAGE_SIZE, fw::DMA_BIDIRECTIONAL);
  fw::dma_unmap_page(r.cpu(), d, from, PAGE_SIZE, fw::DMA_FROM_DEVICE);
  // The same for scatter-gather lists, both ways.
  fw::scatterlist sg[2];
  fw::sg_set_page(&sg[0], p, PAGE_SIZE, 0);
  fw::sg_set_page(&sg[1], q, PAGE_SIZE, 0);
  ASSERT_EQ(fw::dma_map_sg(r.cpu(), d, sg, 2, fw::DMA_BIDIRECTIONAL), 2u);
  std::memset(r.at(r.phys(q)), 0x31, PAGE_SIZE);
  fw::dma_sync_sg_for_device(r.cpu(), d, sg, 2, fw::DMA_BIDIRECTIONAL);
  EXPECT_EQ(*r.at(sg[1].dma_address), 0x31);
  std::memset(r.at(sg[0].dma_address), 0x42, 10);  // what the device writes
  fw::dma_sync_sg_for_cpu(r.cpu(), d, sg, 2, fw::DMA_BIDIRECTIONAL);
  EXPECT_EQ(*r.at(r.phys(p)), 0x42);
  fw::dma_unmap_sg(r.cpu(), d, sg, 2, fw::DMA_BIDIRECTIONAL);
  EXPECT_EQ(r.stat("dma_debug.error_count"), 0u) << "each sync in the mapping's own direction";
}

TEST(DmaApi, MapSingleKeepsTheOffsetInThePage) {
  DmaRig r(1 * GiB);  // no swiotlb: the bus address is the buffer's own
  device* d = r.dev("dma1");
  fw::page* p = r.page_with(fw::GFP_KERNEL, 0);
  auto* buf = static_cast<uint8_t*>(r.k->nodes().page_address(p)) + 100;
  const dma_addr_t a = fw::dma_map_single(r.cpu(), d, buf, 64, fw::DMA_TO_DEVICE);
  ASSERT_EQ(fw::dma_mapping_error(d, a), 0);
  EXPECT_EQ(a, r.phys(p) + 100);
  fw::dma_unmap_single(r.cpu(), d, a, 64, fw::DMA_TO_DEVICE);
  EXPECT_EQ(r.stat("dma_debug.error_count"), 0u);
}

TEST(DmaApi, WhatNeitherTheDeviceNorSwiotlbReachesFailsToMap) {
  // The 24-bit device: the pool lies above 16 MiB.
  DmaRig r;
  fw::page* p = r.page_with(fw::GFP_KERNEL, 1);
  const dma_addr_t a = fw::dma_map_page(r.cpu(), r.dev("dma0"), p, 0, PAGE_SIZE, fw::DMA_TO_DEVICE);
  EXPECT_EQ(fw::dma_mapping_error(r.dev("dma0"), a), -ENOMEM);
  EXPECT_NE(r.console().find("swiotlb addr 0x"), std::string::npos) << r.console();
  EXPECT_EQ(r.stat("swiotlb.io_tlb_used"), 0u) << "the bounce buffer it tried went back";
  EXPECT_EQ(r.stat("dma.map_errors"), 1u);
  // Any device when swiotlb is off: dma-direct's own warning.
  DmaRig off(8 * GiB, fw::SWIOTLB_OFF);
  EXPECT_EQ(off.stat("swiotlb.io_tlb_nslabs"), 0u);
  fw::page* q = off.page_with(fw::GFP_KERNEL, 1);
  EXPECT_EQ(fw::dma_map_page(off.cpu(), off.dev("dma1"), q, 0, PAGE_SIZE, fw::DMA_TO_DEVICE), fw::DMA_MAPPING_ERROR);
  EXPECT_NE(off.console().find("DMA addr 0x"), std::string::npos) << off.console();
  EXPECT_NE(off.console().find("overflow (mask ffffffff, bus limit 0)"), std::string::npos);
  EXPECT_EQ(off.stat("dma.map_errors"), 1u);
}

TEST(DmaApi, SwiotlbIsOnlyThereWhenRamReachesAbove4GiB) {
  DmaRig small(1 * GiB);
  EXPECT_EQ(small.stat("swiotlb.io_tlb_nslabs"), 0u) << "x86's rule: no RAM above 4 GiB, no pool";
  DmaRig forced(1 * GiB, fw::SWIOTLB_FORCE);
  EXPECT_GT(forced.stat("swiotlb.io_tlb_nslabs"), 0u);
  fw::page* p = forced.page_with(fw::GFP_KERNEL, 3);
  const dma_addr_t a = fw::dma_map_page(forced.cpu(), forced.dev("dma1"), p, 0, 512, fw::DMA_TO_DEVICE);
  EXPECT_TRUE(forced.k->dma().swiotlb().is_swiotlb_buffer(a)) << "force bounces what the device could reach";
  fw::dma_unmap_page(forced.cpu(), forced.dev("dma1"), a, 512, fw::DMA_TO_DEVICE);
  DmaRig sized(8 * GiB, 8 * MiB);
  EXPECT_EQ(sized.stat("swiotlb.io_tlb_nslabs"), 8 * MiB / 2048);
}

TEST(DmaApi, AMappingTakesAtMost128SlotsAndAFullPoolSaysSo) {
  DmaRig r(8 * GiB, 1 * MiB);  // 512 slots, one area
  device* d = r.dev("dma1");
  // 256 KiB is the largest mapping; one slot more cannot be found anywhere.
  fw::page* big = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 7);  // 512 KiB
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(fw::dma_max_mapping_size(d), 256 * KiB);
  const dma_addr_t ok = fw::dma_map_page(r.cpu(), d, big, 0, 256 * KiB, fw::DMA_TO_DEVICE);
  ASSERT_NE(ok, fw::DMA_MAPPING_ERROR);
  EXPECT_EQ((ok - r.k->dma().swiotlb().start()) % (128 * 2048), 0u) << "within one 128-slot segment";
  EXPECT_EQ(fw::dma_map_page(r.cpu(), d, big, 0, 256 * KiB + 2048, fw::DMA_TO_DEVICE), fw::DMA_MAPPING_ERROR);
  EXPECT_NE(r.console().find("swiotlb buffer is full (sz: 264192 bytes), total 512 (slots), used 128 (slots)"),
            std::string::npos)
      << r.console();
  // Fill the rest, fail, give back, succeed.
  dma_addr_t more[3];
  for (dma_addr_t& m : more) m = fw::dma_map_page(r.cpu(), d, big, 0, 256 * KiB, fw::DMA_TO_DEVICE);
  for (dma_addr_t m : more) EXPECT_NE(m, fw::DMA_MAPPING_ERROR);
  EXPECT_EQ(fw::dma_map_page(r.cpu(), d, big, 0, 2048, fw::DMA_TO_DEVICE), fw::DMA_MAPPING_ERROR);
  EXPECT_EQ(r.stat("swiotlb.io_tlb_used"), 512u);
  fw::dma_unmap_page(r.cpu(), d, more[1], 256 * KiB, fw::DMA_TO_DEVICE);
  const dma_addr_t again = fw::dma_map_page(r.cpu(), d, big, 0, 2048, fw::DMA_TO_DEVICE);
  EXPECT_NE(again, fw::DMA_MAPPING_ERROR) << "the pool recovers";
  EXPECT_EQ(r.stat("swiotlb.io_tlb_used_hiwater"), 512u);
  EXPECT_EQ(r.stat("swiotlb.full"), 2u);
}

// swiotlb's slot search: a mapping stays inside one 128-slot segment, and
// the free slots before a taken run count only up to it.
TEST(DmaApi, SwiotlbPlacesMappingsWithinASegmentAndAroundTakenSlots) {
  DmaRig r(8 * GiB, 1 * MiB);  // 512 slots, one area
  device* d = r.dev("dma1");
  fw::page* big = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 7);  // 512 KiB
  ASSERT_NE(big, nullptr);
  const uint64_t start = r.k->dma().swiotlb().start();
  auto map = [&](size_t size) { return fw::dma_map_page(r.cpu(), d, big, 0, size, fw::DMA_TO_DEVICE); };
  EXPECT_EQ(map(2048), start);
  const dma_addr_t page = map(4096);
  EXPECT_EQ(page, start + 2 * 2048) << "page aligned";
  EXPECT_EQ(map(256 * KiB), start + 256 * KiB) << "slots 4..131 would cross into the next segment";
  EXPECT_EQ(map(256 * KiB), start + 2 * 256 * KiB);
  EXPECT_EQ(map(256 * KiB), start + 3 * 256 * KiB);  // the search index wraps to slot 0
  // Slot 1 is free but only one slot long: 4000 bytes go to slot 4, not
  // over the page's slots 2 and 3.
  EXPECT_EQ(map(4000), start + 4 * 2048);
  EXPECT_EQ(r.stat("swiotlb.io_tlb_used"), 1u + 2 + 3 * 128 + 2);
}

TEST(DmaApi, ScatterGatherListsAreNotMergedWithoutAnIommu) {
  DmaRig r;
  device* d = r.dev("dma1");
  fw::page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_DMA32, 2);  // 4 contiguous pages
  fw::scatterlist sg[4];
  for (unsigned i = 0; i < 4; ++i) fw::sg_set_page(&sg[i], p + i, PAGE_SIZE, 0);
  EXPECT_EQ(fw::dma_map_sg(r.cpu(), d, sg, 4, fw::DMA_TO_DEVICE), 4u) << "contiguous, yet four entries";
  EXPECT_EQ(sg[1].dma_address, sg[0].dma_address + PAGE_SIZE);
  fw::dma_unmap_sg(r.cpu(), d, sg, 4, fw::DMA_TO_DEVICE);
  EXPECT_EQ(r.stat("dma_debug.error_count"), 0u);
}

TEST(DmaApi, DmaDebugReportsMisuseByName) {
  DmaRig r;
  device* d = r.dev("dma1");
  fw::page* p = r.page_with(fw::GFP_DMA32, 1);
  const uint64_t pa = r.phys(p);
  fw::dma_unmap_page(r.cpu(), d, pa, PAGE_SIZE, fw::DMA_TO_DEVICE);
  EXPECT_NE(r.console().find("DMA-API: mmcosim-dma dma1: device driver tries to free DMA memory it has not allocated "
                             "[device address=0x"),
            std::string::npos)
      << r.console();
  dma_addr_t a = fw::dma_map_page(r.cpu(), d, p, 0, PAGE_SIZE, fw::DMA_TO_DEVICE);
  fw::dma_mapping_error(d, a);
  fw::dma_unmap_page(r.cpu(), d, a, 2048, fw::DMA_FROM_DEVICE);
  EXPECT_NE(r.console().find("device driver frees DMA memory with different size"), std::string::npos);
  EXPECT_NE(r.console().find("device driver frees DMA memory with different direction [device address="),
            std::string::npos);
  EXPECT_NE(r.console().find("[mapped with DMA_TO_DEVICE] [unmapped with DMA_FROM_DEVICE]"), std::string::npos);
  fw::dma_unmap_page(r.cpu(), d, a, PAGE_SIZE, fw::DMA_TO_DEVICE);  // a double unmap
  const std::string& log = r.console();
  EXPECT_NE(log.find("it has not allocated", log.find("it has not allocated") + 1), std::string::npos)
      << "the double unmap is the second unmap of something not mapped";
  a = fw::dma_map_page(r.cpu(), d, p, 0, PAGE_SIZE, fw::DMA_TO_DEVICE);  // never checked
  fw::dma_unmap_page(r.cpu(), d, a, PAGE_SIZE, fw::DMA_TO_DEVICE);
  EXPECT_NE(r.console().find("device driver failed to check map error"), std::string::npos);
  a = fw::dma_map_page(r.cpu(), d, p, 0, PAGE_SIZE, fw::DMA_TO_DEVICE);
  fw::dma_mapping_error(d, a);
  EXPECT_EQ(r.k->dma().debug().device_release(r.cpu(), d), 1u);
  EXPECT_NE(r.console().find("device driver has pending DMA allocations while released from device [count=1]"),
            std::string::npos);
  EXPECT_EQ(r.stat("dma_debug.error_count"), 6u);
  EXPECT_EQ(r.stat("dma_debug.leaked"), 1u);
}

// Linux 6.18's check_sync: a sync in the mapping's own direction is fine;
// one the other way is reported as a different direction and also as
// read-only memory synced for the CPU (write-only memory for the device).
TEST(DmaApi, DmaDebugReportsASyncAgainstTheMappingsDirection) {
  DmaRig r;
  device* d = r.dev("dma1");
  fw::page* p = r.page_with(fw::GFP_DMA32, 1);
  const dma_addr_t to = fw::dma_map_page(r.cpu(), d, p, 0, PAGE_SIZE, fw::DMA_TO_DEVICE);
  ASSERT_EQ(fw::dma_mapping_error(d, to), 0);
  fw::dma_sync_single_for_cpu(r.cpu(), d, to, PAGE_SIZE, fw::DMA_TO_DEVICE);
  EXPECT_EQ(r.stat("dma_debug.error_count"), 0u) << r.console();
  fw::dma_sync_single_for_cpu(r.cpu(), d, to, PAGE_SIZE, fw::DMA_FROM_DEVICE);
  EXPECT_EQ(r.stat("dma_debug.error_count"), 2u);
  EXPECT_NE(r.console().find("syncs DMA memory with different direction"), std::string::npos) << r.console();
  EXPECT_NE(r.console().find("syncs device read-only DMA memory for cpu [device address=0x"), std::string::npos);
  fw::dma_unmap_page(r.cpu(), d, to, PAGE_SIZE, fw::DMA_TO_DEVICE);
  const dma_addr_t from = fw::dma_map_page(r.cpu(), d, p, 0, PAGE_SIZE, fw::DMA_FROM_DEVICE);
  ASSERT_EQ(fw::dma_mapping_error(d, from), 0);
  fw::dma_sync_single_for_device(r.cpu(), d, from, PAGE_SIZE, fw::DMA_FROM_DEVICE);
  EXPECT_EQ(r.stat("dma_debug.error_count"), 2u) << "handing the buffer back to the device is no misuse";
  fw::dma_sync_single_for_device(r.cpu(), d, from, PAGE_SIZE, fw::DMA_TO_DEVICE);
  EXPECT_EQ(r.stat("dma_debug.error_count"), 4u);
  EXPECT_NE(r.console().find("syncs device write-only DMA memory to device [device address=0x"), std::string::npos);
  fw::dma_unmap_page(r.cpu(), d, from, PAGE_SIZE, fw::DMA_FROM_DEVICE);
}

TEST(DmaApi, MappingsLeftWhenTheDriverLetsGoAreReportedByName) {
  DmaRig r;
  device* d = r.dev("dma1");
  fw::page* p = r.page_with(fw::GFP_DMA32, 1);
  const dma_addr_t a = fw::dma_map_page(r.cpu(), d, p, 0, 512, fw::DMA_FROM_DEVICE);
  ASSERT_EQ(fw::dma_mapping_error(d, a), 0);
  r.k->dma_driver().release(r.cpu());
  EXPECT_NE(r.console().find("DMA-API: mmcosim-dma dma1: device driver has pending DMA allocations while released "
                             "from device [count=1]"),
            std::string::npos)
      << r.console();
  EXPECT_NE(r.console().find("[size=512 bytes] [mapped with DMA_FROM_DEVICE] [mapped as phy]"), std::string::npos);
  EXPECT_EQ(r.stat("dma_debug.leaked"), 1u);
}

TEST(DmaApi, PinnedPagesStayWhereTheDeviceReachesThem) {
  DmaRig r(1 * GiB);
  const int pid = r.start_process();
  const int64_t va = r.mmap(0, 0, 16 * PAGE_SIZE);
  ASSERT_GT(va, 0);
  fw::mm_struct* mm = r.k->mm_of(pid);
  fw::page* pages[16];
  ASSERT_EQ(r.k->gup().pin_user_pages(r.cpu(), mm, static_cast<uint64_t>(va), 16, fw::FOLL_WRITE, pages), 16);
  for (fw::page* p : pages) EXPECT_TRUE(fw::page_maybe_dma_pinned(p));
  EXPECT_EQ(fw::page_ref_count(pages[0]), fw::GUP_PIN_COUNTING_BIAS + 1) << "the pin on top of the mapping's reference";
  r.k->gup().unpin_user_pages(r.cpu(), pages, 16, true);
  for (fw::page* p : pages) EXPECT_FALSE(fw::page_maybe_dma_pinned(p));
  EXPECT_EQ(r.stat("gup.nr_foll_pin_acquired"), 16u);
  EXPECT_EQ(r.stat("gup.nr_foll_pin_released"), 16u);
  // Not mapped: EFAULT, nothing stays pinned.
  EXPECT_EQ(r.k->gup().pin_user_pages(r.cpu(), mm, static_cast<uint64_t>(va) + 64 * PAGE_SIZE, 1, 0, pages), -EFAULT);
}

// A transfer's pages are pinned while compaction runs: they stay where the
// device was told they are, while compaction moves the pages around them.
TEST(DmaApi, CompactionLeavesPinnedPagesWhereTheyAre) {
  DmaRig r(256 * MiB);
  const int pid = r.start_process();
  const uint64_t len = (r.k->nr_free_pages() * PAGE_SIZE / 2) & ~(2 * MiB - 1);
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, len));
  ASSERT_EQ(r.madvise(0, a, len, uapi::kMadvNohugepage), 0);
  ASSERT_EQ(r.madvise(0, a, len, uapi::kMadvPopulateWrite), 0);
  for (uint64_t off = 0; off < len; off += 2 * PAGE_SIZE)
    ASSERT_EQ(r.madvise(0, a + off, PAGE_SIZE, uapi::kMadvDontneed), 0);
  auto pfn_at = [&](uint64_t va) {
    fw::PteLookup l;
    EXPECT_TRUE(r.k->translate(r.cpu(), pid, va, &l));
    return (l.entry & r.k->pgtable().phys_mask()) >> fw::PAGE_SHIFT;
  };
  // Every 64th remaining page is pinned, as a transfer's buffer would be.
  std::vector<fw::page*> pinned;
  std::vector<std::pair<uint64_t, uint64_t>> where;  // va, pfn
  fw::mm_struct* mm = r.k->mm_of(pid);
  for (uint64_t off = PAGE_SIZE; off < len; off += 128 * PAGE_SIZE) {
    fw::page* p = nullptr;
    ASSERT_EQ(r.k->gup().pin_user_pages(r.cpu(), mm, a + off, 1, 0, &p), 1);
    pinned.push_back(p);
    where.emplace_back(a + off, pfn_at(a + off));
  }
  const uint64_t migrated = r.k->vmstat().event[fw::PGMIGRATE_SUCCESS];
  r.k->compaction().compact_nodes(r.cpu());
  EXPECT_GT(r.k->vmstat().event[fw::PGMIGRATE_SUCCESS], migrated + 100) << "compaction moved the others";
  for (const auto& [va, pfn] : where) EXPECT_EQ(pfn_at(va), pfn) << "a pinned page moved";
  r.k->gup().unpin_user_pages(r.cpu(), pinned.data(), pinned.size(), false);
}

}  // namespace
}  // namespace fwtest
