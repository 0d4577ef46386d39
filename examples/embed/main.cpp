// A virtual platform of its own that borrows mmcosim's memory-management
// models (docs/embedding.md): a traffic initiator standing for the host
// platform's CPU sends user loads and stores to mmcosim's MMU; the MMU walks
// page tables with mmcosim's TLM page walker and reaches DRAM through
// mmcosim's interconnect. The initiator also plays the operating system: it
// builds the page tables in DRAM and, when the MMU reports a page fault in
// its extension, maps the page and retries. At the end it prints the
// statistics of the models, as mmcosim's stats.txt would.
#include <cstdint>
#include <cstring>
#include <iostream>
#include <random>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "hw/base/stats.h"
#include "hw/bus/interconnect.h"
#include "hw/ext/mmu_access.h"
#include "hw/mem/dram.h"
#include "hw/mmu/mmu.h"
#include "hw/mmu/walker.h"

namespace {

constexpr uint64_t kMemory = 256ull << 20;  // DRAM at physical 0
constexpr uint64_t kRegion = 0x40000000;    // the virtual range the traffic touches
constexpr uint64_t kRegionSize = 16ull << 20;
constexpr unsigned kAccesses = 200000;

// The host platform's CPU: random 8-byte loads and stores over kRegion.
struct TrafficInitiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<TrafficInitiator> socket{"socket"};
  hw::Mmu& mmu;
  hw::Dram& dram;
  uint64_t root = 0, next_frame = 1 << 20;  // page tables and frames from 1 MiB up
  unsigned faults = 0, errors = 0;

  SC_HAS_PROCESS(TrafficInitiator);
  TrafficInitiator(sc_core::sc_module_name name, hw::Mmu& m, hw::Dram& d) : sc_module(name), mmu(m), dram(d) {
    SC_THREAD(run);
  }

  uint64_t alloc_frame() {
    const uint64_t pa = next_frame;
    next_frame += x86::PAGE_SIZE;
    std::memset(dram.host(pa), 0, x86::PAGE_SIZE);
    return pa;
  }
  uint64_t& entry(uint64_t table, uint64_t va, unsigned level) {
    return *reinterpret_cast<uint64_t*>(dram.host(table + 8 * x86::pt_index(va, level)));
  }
  // The operating system's page-fault handler: a present, writable user
  // page for va (4-level tables).
  void map_page(uint64_t va) {
    uint64_t table = root;
    for (unsigned level = 4; level > 1; --level) {
      uint64_t& e = entry(table, va, level);
      if (!(e & x86::PTE_P)) e = alloc_frame() | x86::PTE_P | x86::PTE_RW | x86::PTE_US;
      table = e & x86::phys_mask(46);
    }
    entry(table, va, 1) = alloc_frame() | x86::PTE_P | x86::PTE_RW | x86::PTE_US;
  }

  void run() {
    tlm_utils::tlm_quantumkeeper qk;
    qk.reset();
    root = alloc_frame();
    mmu.write_cr3(root);
    std::mt19937_64 rng(1);
    hw::MmuAccessExtension ext;
    tlm::tlm_generic_payload t;
    t.set_extension(&ext);
    uint64_t data = 0;
    for (unsigned i = 0; i < kAccesses; ++i) {
      const uint64_t va = kRegion + (rng() % (kRegionSize / 8)) * 8;
      const bool write = rng() % 4 == 0;
      for (;;) {
        ext.access = write ? x86::Access::write : x86::Access::read;
        ext.user = true;
        t.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
        t.set_address(va);
        t.set_data_ptr(reinterpret_cast<unsigned char*>(&data));
        t.set_data_length(8);
        t.set_streaming_width(8);
        t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        sc_core::sc_time delay = qk.get_local_time();
        socket->b_transport(t, delay);
        qk.set(delay);
        if (ext.outcome != hw::AccessOutcome::page_fault) break;
        ++faults;  // the MMU's extension says where and why: handle it, retry
        map_page(ext.fault_addr);
        qk.inc(sc_core::sc_time(500, sc_core::SC_NS));
      }
      if (ext.outcome != hw::AccessOutcome::ok) ++errors;
      if (qk.need_sync()) qk.sync();
    }
    t.clear_extension(&ext);
    qk.sync();
    sc_core::sc_stop();
  }
};

}  // namespace

int sc_main(int, char*[]) {
  sc_core::sc_set_time_resolution(1, sc_core::SC_PS);
  tlm_utils::tlm_quantumkeeper::set_global_quantum(sc_core::sc_time(1, sc_core::SC_US));

  sim::stats::Group root(nullptr, "system");
  hw::Interconnect bus("membus", sc_core::SC_ZERO_TIME, &root);
  hw::Dram dram("dram", hw::Dram::Params{0, kMemory, 0, sc_core::sc_time(80, sc_core::SC_NS),
                                         sc_core::sc_time(80, sc_core::SC_NS), {10}},
                &root);
  sim::stats::Group cpu(&root, "cpu0");
  hw::Mmu::Params mp;  // mmcosim's defaults: 64-entry DTLB, 1536-entry STLB, PWCs
  hw::Mmu mmu("mmu", mp, &cpu);
  hw::PageWalker walker("walker", &mmu.stats, 0);
  TrafficInitiator traffic("traffic", mmu, dram);

  // The bindings a host platform makes (docs/embedding.md).
  bus.to_targets.bind(dram.socket);
  bus.add_region(0, 0, kMemory, "dram");
  mmu.mem_socket.bind(bus.from_initiators);     // data accesses, DMI for the TLBs
  walker.mem_socket.bind(bus.from_initiators);  // page-table reads, A/D updates
  mmu.walk_socket.bind(walker.walk_socket);
  traffic.socket.bind(mmu.cpu_socket);

  sc_core::sc_start();
  std::cout << "embed_platform: " << kAccesses << " accesses, " << traffic.faults << " page faults handled, "
            << traffic.errors << " errors, " << sc_core::sc_time_stamp().to_seconds() * 1e3 << " ms simulated\n";
  sim::stats::write_text_block(root, std::cout, sc_core::sc_time_stamp().to_seconds());
  return traffic.errors == 0 && traffic.faults == kRegionSize / x86::PAGE_SIZE ? 0 : 1;
}
