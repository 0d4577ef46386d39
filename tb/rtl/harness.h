// Test bench for the RTL walker: the transactor (hw::RtlWalker) between a
// driver that sends walk requests through a TLM socket (as the MMU does) and
// a TestMemory holding the page tables. One per test process.
#pragma once

#include <cstdint>
#include <functional>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "hw/ext/walk.h"
#include "hw/rtlwalk/rtl_walker.h"
#include "sw/hal/x86.h"
#include "tb/rtl/test_memory.h"

namespace rtltest {

using hw::WalkRequest;
using hw::WalkResult;
using hw::WalkStatus;
using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

constexpr uint64_t P = x86::PTE_P, RW = x86::PTE_RW, US = x86::PTE_US, A = x86::PTE_A, D = x86::PTE_D,
                   PS = x86::PTE_PS, G = x86::PTE_G, NX = x86::PTE_NX, PWT = x86::PTE_PWT, PCD = x86::PTE_PCD;

class Harness : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Harness);

  tlm_utils::simple_initiator_socket<Harness> walk_out{"walk_out"};
  hw::RtlWalker walker;
  TestMemory mem;

  explicit Harness(const hw::RtlWalker::Params& params = hw::RtlWalker::Params(),
                   sc_core::sc_module_name name = "tb")
      : sc_module(name), walker("walker", params), mem("mem") {
    walk_out.bind(walker.walk_socket);
    walker.mem_socket.bind(mem.socket);
    SC_THREAD(driver);
  }

  // Sends `rq` through the walk socket with `delay` and runs the simulation
  // until the walker answers.
  WalkResult walk(const WalkRequest& rq, sc_time delay = SC_ZERO_TIME) {
    WalkResult res;
    job_ = [&, rq, delay] {
      tlm::tlm_generic_payload t;
      hw::WalkExtension ext;
      ext.req = rq;
      t.set_extension(&ext);
      t.set_command(tlm::TLM_IGNORE_COMMAND);
      sc_time d = delay;
      started_ = sc_core::sc_time_stamp();
      walk_out->b_transport(t, d);
      finished_ = sc_core::sc_time_stamp() + d;
      status_ = t.get_response_status();
      res = ext.res;
      t.clear_extension(&ext);
    };
    // The driver must be waiting before it is notified: finish elaboration first.
    if (sc_core::sc_get_status() == sc_core::SC_ELABORATION) sc_core::sc_start(SC_ZERO_TIME);
    go_.notify(SC_ZERO_TIME);
    sc_core::sc_start();
    job_ = nullptr;
    return res;
  }

  sc_time started() const { return started_; }
  sc_time finished() const { return finished_; }
  tlm::tlm_response_status status() const { return status_; }

  // ---- Page tables in `mem` ----
  uint64_t next_table = 0x100000;
  uint64_t alloc_table() {
    const uint64_t t = next_table;
    next_table += 0x1000;
    return t;
  }
  uint64_t& pte(uint64_t table, uint64_t va, unsigned level) {
    return mem.word(table + 8 * x86::pt_index(va, level));
  }
  // Maps va under `root` (levels from `top` down) to a leaf at `leaf_level`
  // with `flags` (PS added for huge leaves); missing tables get `upper`.
  void map(uint64_t root, uint64_t va, uint64_t frame, uint64_t flags, unsigned leaf_level = 1,
           uint64_t upper = P | RW | US | A, unsigned top = 4) {
    uint64_t table = root;
    for (unsigned l = top; l > leaf_level; --l) {
      uint64_t& e = pte(table, va, l);
      if (!(e & P)) e = alloc_table() | upper;
      table = e & x86::phys_mask(52);
    }
    pte(table, va, leaf_level) = frame | flags | (leaf_level > 1 ? PS : 0);
  }
  // The address of the entry for va at `level` (the tables must exist).
  uint64_t entry_addr(uint64_t root, uint64_t va, unsigned level, unsigned top = 4) {
    uint64_t table = root;
    for (unsigned l = top; l > level; --l) table = pte(table, va, l) & x86::phys_mask(52);
    return table + 8 * x86::pt_index(va, level);
  }
  uint64_t& entry(uint64_t root, uint64_t va, unsigned level, unsigned top = 4) {
    return mem.word(entry_addr(root, va, level, top));
  }

  static WalkRequest request(uint64_t cr3, uint64_t va, x86::Access access = x86::Access::read,
                             bool user = false) {
    WalkRequest rq;
    rq.va = va;
    rq.access = access;
    rq.user = user;
    rq.cr3 = cr3;
    rq.start_table = cr3 & x86::phys_mask(rq.maxphyaddr);
    return rq;
  }

 private:
  void driver() {
    for (;;) {
      sc_core::wait(go_);
      if (job_) job_();
    }
  }

  sc_core::sc_event go_;
  std::function<void()> job_;
  sc_time started_, finished_;
  tlm::tlm_response_status status_ = tlm::TLM_INCOMPLETE_RESPONSE;
};

}  // namespace rtltest
