// A small machine for the MMU tests: DRAM and the interconnect, and per CPU
// an MMU with its TLM walker; a page-table builder writing straight into
// DRAM; a "core" helper that issues user accesses (fast path first, the slow
// path through the TLM socket or, as a core does, directly) at a running
// simulated time. One per test process: a
// SystemC kernel elaborates once.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "hw/bus/interconnect.h"
#include "hw/ext/memory.h"
#include "hw/ext/mmu_access.h"
#include "hw/mem/dram.h"
#include "hw/mmu/mmu.h"
#include "hw/mmu/walker.h"

namespace hw::test {

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

constexpr uint64_t P = x86::PTE_P, RW = x86::PTE_RW, US = x86::PTE_US, A = x86::PTE_A, D = x86::PTE_D,
                   PS = x86::PTE_PS, G = x86::PTE_G, NX = x86::PTE_NX;

struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket{"socket"};
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n) {}
};

struct Machine {
  struct Cpu {
    std::unique_ptr<sim::stats::Group> stats;
    std::unique_ptr<Mmu> mmu;
    std::unique_ptr<PageWalker> walker;
    std::unique_ptr<Initiator> core;
    sc_time now = SC_ZERO_TIME;  // this core's time (absolute)
    // Accesses as Core::execute_access makes them: try_access going on to
    // the slow path in the same call (else try_access, then the TLM socket).
    bool direct = false;
  };

  sim::stats::Group root{nullptr, "system"};
  Interconnect bus;
  Dram dram;
  Initiator probe{"probe"};
  std::vector<Cpu> cpus;
  uint64_t next_table;
  unsigned levels;  // paging levels of the MMUs (map() builds tables of this depth)
  sc_time step = sc_time(1, sc_core::SC_US);  // core time between accesses (by default: walks are over)

  static constexpr uint64_t kMem = 64ull << 20;

  // `distance`: the SLIT distance from the CPUs' node to the DRAM (10 = local).
  explicit Machine(const Mmu::Params& params = Mmu::Params(), unsigned ncpus = 1,
                   sc_time dram_latency = sc_time(80, SC_NS), uint64_t mem = kMem, unsigned distance = 10)
      : bus("membus", SC_ZERO_TIME, &root),
        dram("dram", Dram::Params{0, mem, 0, dram_latency, dram_latency, {10, distance}}, &root),
        next_table(1 << 20), levels(params.levels) {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, mem, "dram");
    cpus.resize(ncpus);
    for (unsigned c = 0; c < ncpus; ++c) {
      Cpu& cpu = cpus[c];
      Mmu::Params p = params;
      p.cpu = c;
      cpu.stats = std::make_unique<sim::stats::Group>(&root, "cpu" + std::to_string(c));
      cpu.mmu = std::make_unique<Mmu>(("mmu" + std::to_string(c)).c_str(), p, cpu.stats.get());
      cpu.walker = std::make_unique<PageWalker>(("walker" + std::to_string(c)).c_str(), &cpu.mmu->stats,
                                                static_cast<int>(c));
      cpu.core = std::make_unique<Initiator>(("core" + std::to_string(c)).c_str());
      cpu.mmu->mem_socket.bind(bus.from_initiators);
      cpu.walker->mem_socket.bind(bus.from_initiators);
      cpu.mmu->walk_socket.bind(cpu.walker->walk_socket);
      cpu.core->socket.bind(cpu.mmu->cpu_socket);
    }
    probe.socket.bind(bus.from_initiators);
    // CPUs (MMU and walker) sit on node 1, whose distance to the DRAM is `distance`.
    for (unsigned i = 0; i < 2 * ncpus; ++i) bus.set_initiator_node(i, 1);
    sc_core::sc_start(SC_ZERO_TIME);  // end of elaboration: sockets usable
  }

  Mmu& mmu(unsigned c = 0) { return *cpus.at(c).mmu; }
  PageWalker& walker(unsigned c = 0) { return *cpus.at(c).walker; }

  // ---- Page tables, written straight into DRAM ----
  uint64_t alloc_table() {
    const uint64_t t = next_table;
    next_table += 4096;
    std::memset(dram.host(t), 0, 4096);
    return t;
  }
  uint64_t& word(uint64_t pa) { return *reinterpret_cast<uint64_t*>(dram.host(pa)); }
  uint64_t& pte(uint64_t table, uint64_t va, unsigned level) { return word(table + 8 * x86::pt_index(va, level)); }
  // Maps va -> pa in the tables under `root` with a leaf at leaf_level;
  // missing upper levels get P|RW|US|`upper`.
  void map(uint64_t root, uint64_t va, uint64_t pa, uint64_t flags, unsigned leaf_level = 1, uint64_t upper = 0) {
    uint64_t table = root & x86::phys_mask(46);
    for (unsigned l = levels; l > leaf_level; --l) {
      uint64_t& e = pte(table, va, l);
      if (!(e & P)) e = alloc_table() | P | RW | US | upper;
      table = e & x86::phys_mask(46);
    }
    pte(table, va, leaf_level) = pa | flags | (leaf_level > 1 ? PS : 0);
  }
  uint64_t& entry(uint64_t root, uint64_t va, unsigned level) {
    uint64_t table = root & x86::phys_mask(46);
    for (unsigned l = levels; l > level; --l) table = pte(table, va, l) & x86::phys_mask(46);
    return pte(table, va, level);
  }

  // ---- A core's user access: fast path first, the slow path otherwise ----
  struct Result {
    AccessOutcome outcome = AccessOutcome::ok;
    bool fast = false;
    MmuAccessExtension ext;
    uint64_t data = 0;
  };
  Result access(unsigned c, uint64_t va, x86::Access acc, uint64_t wdata = 0, bool user = true) {
    Cpu& cpu = cpus.at(c);
    cpu.now += step;
    Result r;
    r.data = wdata;
    sc_time delay = cpu.now - sc_core::sc_time_stamp();
    if (cpu.direct) {
      r.ext.access = acc;
      r.ext.user = user;
      r.fast = cpu.mmu->try_access(va, 8, acc, user, &r.data, delay, r.ext);
      cpu.now = sc_core::sc_time_stamp() + delay;
      if (!r.fast) r.outcome = r.ext.outcome;
      return r;
    }
    if (cpu.mmu->try_access(va, 8, acc, user, &r.data, delay)) {
      r.fast = true;
      cpu.now = sc_core::sc_time_stamp() + delay;
      return r;
    }
    tlm::tlm_generic_payload t;
    r.ext.access = acc;
    r.ext.user = user;
    t.set_extension(&r.ext);
    t.set_command(acc == x86::Access::write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    t.set_address(va);
    t.set_data_ptr(reinterpret_cast<unsigned char*>(&r.data));
    t.set_data_length(8);
    t.set_streaming_width(8);
    cpu.core->socket->b_transport(t, delay);
    t.clear_extension(&r.ext);
    cpu.now = sc_core::sc_time_stamp() + delay;
    r.outcome = r.ext.outcome;
    return r;
  }
  Result access(uint64_t va, x86::Access acc, uint64_t wdata = 0) { return access(0, va, acc, wdata); }
};

// Default MMU parameters with the paging-structure caches and STLB switched
// as asked (tests that need exact walk counts turn them off).
inline Mmu::Params params(bool stlb = true, bool pwc = true) {
  Mmu::Params p;
  if (!stlb) p.stlb.clear();
  p.pwc.enabled = pwc;
  return p;
}

}  // namespace hw::test
