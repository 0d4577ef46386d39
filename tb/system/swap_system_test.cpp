// Swap on the platform's disks, in one process: the firmware boots on a
// 64 GiB machine whose swap disks (one 32-bit, one 64-bit) carry an mkswap
// header, swaps them on from its parameters, and then, on the boot CPU,
// pages above 4 GiB go through the swap cache to each disk and back
// (swap_writepage, swapin_readahead): the data survives, the 32-bit disk's
// I/O bounces through swiotlb and the 64-bit disk's does not.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hw/platform/platform.h"
#include "sw/dma/dma.h"
#include "sw/hal/debug.h"
#include "sw/kernel/kernel.h"
#include "tb/common/boot_body_firmware.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/swap_state.h"
#include "sw/mm/mkswap.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"

namespace {


struct StringSink final : hal::TextSink {
  std::string s;
  void write(const char* t, size_t n) override { s.append(t, n); }
};

std::vector<uint8_t> mkswap_header(uint64_t bytes) {
  std::vector<uint8_t> hdr(fw::PAGE_SIZE, 0);
  fw::mkswap_header(hdr.data(), bytes);
  return hdr;
}

constexpr unsigned kPages = 8;

// Pages swapped to one area and read back from the boot CPU.
struct SwapIo {
  unsigned type;
  bool data_ok = false;
  uint64_t lowest_pa = ~0ull;
  uint64_t bounced = 0;  // swiotlb mappings the swap I/O took

  static std::vector<uint8_t> pattern(unsigned i) {
    std::vector<uint8_t> v(fw::PAGE_SIZE);
    for (size_t b = 0; b < v.size(); ++b) v[b] = static_cast<uint8_t>(i * 37 + b * 13 + (b >> 8));
    return v;
  }
  void run(hal::Hal& h, fw::Kernel& k) {
    fw::SwapCache& sc = k.swap_cache();
    fw::Swapfile& sf = k.swapfile();
    const uint64_t before = k.dma().stats().bounced_maps;
    std::vector<fw::swp_entry_t> entries;
    for (unsigned i = 0; i < kPages; ++i) {
      fw::page* p = k.page_alloc().alloc_pages(h, fw::GFP_HIGHUSER_MOVABLE, 0);
      ASSERT_NE(p, nullptr);
      lowest_pa = std::min(lowest_pa, k.nodes().page_to_phys(p));
      h.phys_write(k.nodes().page_to_phys(p), pattern(i).data(), fw::PAGE_SIZE);
      ASSERT_TRUE(sc.add_to_swap(h, p));
      const fw::swp_entry_t e{p->private_};
      EXPECT_EQ(fw::swp_type(e), type);
      entries.push_back(e);
      EXPECT_EQ(sf.swap_duplicate(h, e), 0);  // what the PTE would hold
      ASSERT_EQ(sc.swap_writepage(h, p), 0);
      while (fw::PageFlag(p, fw::PG_writeback)) h.cpu_relax();  // the disk's interrupt ends it
      EXPECT_FALSE(fw::PageFlag(p, fw::PG_dirty)) << "the write failed";
      sc.delete_from_swap_cache(h, p, 0);
      k.page_alloc().put_page(h, p);  // the cache's reference
      k.page_alloc().put_page(h, p);  // the allocation's: free
    }
    data_ok = true;
    for (unsigned i = 0; i < kPages; ++i) {
      fw::page* p = sc.swapin_readahead(h, entries[i]);
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(sc.wait_on_read(h, p), 0);
      lowest_pa = std::min(lowest_pa, k.nodes().page_to_phys(p));
      std::vector<uint8_t> back(fw::PAGE_SIZE);
      h.phys_read(k.nodes().page_to_phys(p), back.data(), back.size());
      data_ok = data_ok && back == pattern(i);
      sf.swap_free(h, entries[i]);
      EXPECT_TRUE(sc.folio_free_swap(h, p));
      k.page_alloc().put_page(h, p);
    }
    bounced = k.dma().stats().bounced_maps - before;
  }
};

TEST(SwapSystem, SwapIoOfA32BitDiskBouncesThroughSwiotlbOnA64GiBMachine) {
  sim::Config cfg = sim::Config::load_string(R"(
platform:
  memory: {size: 64GiB}
  devices:
    - {name: swap32, kind: block, addr_bits: 32, size: 64MiB}
    - {name: swap64, kind: block, addr_bits: 64, size: 64MiB}
)",
                                             "swap_system_test");
  fw::Kernel kernel(fw::Params{});
  tbtest::BootBodyFirmware fwr(kernel);
  std::string console;
  hw::Platform platform("system", cfg.root().child("platform"), 1, fwr);
  platform.complex().console = [&](unsigned, const char* t, size_t n) { console.append(t, n); };
  // What `firmware.swapon: [swap32, swap64]` makes of the scenario.
  fw::Params p;
  const hal::BootInfo& bi = platform.boot_info();
  for (unsigned d = 0; d < bi.nr_devices; ++d) {
    const std::string name(bi.devices[d].name, strnlen(bi.devices[d].name, hal::kDeviceNameLen));
    if (name == "swap32") p.swapon_devices[0] = static_cast<uint8_t>(d);
    if (name == "swap64") p.swapon_devices[1] = static_cast<uint8_t>(d);
  }
  p.nr_swapon = 2;
  ASSERT_TRUE(kernel.set_params(p));
  for (const char* d : {"swap32", "swap64"}) {
    const std::vector<uint8_t> hdr = mkswap_header(64ull << 20);
    platform.block_device(d)->write_media(0, hdr.data(), hdr.size());
  }
  SwapIo s32{0}, s64{1};
  fwr.body = [&](hal::Hal& h) {
    // Fill the first area so the second gets pages too (priority order).
    s32.run(h, kernel);
    ASSERT_EQ(kernel.swapfile().nr_areas(), 2u);
    // Take every slot of the first area, so the next pages go to the second.
    std::vector<fw::swp_entry_t> held;
    while (true) {
      const fw::swp_entry_t e = kernel.swapfile().get_swap_page(h);
      if (!e.val || fw::swp_type(e) != 0) {
        if (e.val) kernel.swapfile().put_swap_cache(h, e);
        break;
      }
      held.push_back(e);
    }
    s64.run(h, kernel);
    for (const fw::swp_entry_t& e : held) kernel.swapfile().put_swap_cache(h, e);
  };
  ASSERT_EQ(platform.run(), "");
  EXPECT_NE(console.find("Adding 65532k swap on /dev/swap32.  Priority:-2 extents:1 across:65532k"), std::string::npos)
      << console;
  EXPECT_NE(console.find("Adding 65532k swap on /dev/swap64.  Priority:-3 extents:1 across:65532k"), std::string::npos);
  for (const SwapIo* s : {&s32, &s64}) {
    SCOPED_TRACE(s->type);
    EXPECT_TRUE(s->data_ok);
    EXPECT_GE(s->lowest_pa, 4ull << 30) << "the pages lie above 4 GiB";
  }
  EXPECT_EQ(s32.bounced, 2u * kPages) << "each page written and read bounced";
  EXPECT_EQ(s64.bounced, 0u) << "a 64-bit disk reaches every page";
  EXPECT_EQ(kernel.swapfile().nr_swap_pages(), kernel.swapfile().total_swap_pages());
  EXPECT_EQ(platform.dma_checker().violations(), 0u);
  EXPECT_EQ(platform.block_device("swap32")->stats.address_errors.value(), 0u);
  EXPECT_EQ(kernel.vmstat().event[fw::PSWPOUT], 2u * kPages);
  EXPECT_EQ(kernel.vmstat().event[fw::PSWPIN], 2u * kPages);
  StringSink swaps;
  kernel.proc_show("swaps", swaps);
  EXPECT_EQ(swaps.s,
            "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
            "/dev/swap32                             partition\t65532\t\t0\t\t-2\n"
            "/dev/swap64                             partition\t65532\t\t0\t\t-3\n");
}

}  // namespace
