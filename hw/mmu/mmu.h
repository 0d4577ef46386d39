// The MMU in front of one core's user accesses (docs/mmu.md): an L1 ITLB
// (fetches) and L1 DTLB (reads, writes), a unified STLB behind both, the
// paging-structure caches, and a window of walks in flight. A TLB hit whose
// entry carries a host pointer completes in try_access() with no TLM call,
// costing only its annotated latency. Everything else goes through the TLM
// target socket: lookup, walk (through the walk socket, to the TLM or RTL
// walker), fill, and the access itself; faults come back in the
// MmuAccessExtension.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "hw/ext/mmu_access.h"
#include "hw/ext/walk.h"
#include "hw/mmu/pwc.h"
#include "hw/mmu/tlb.h"
#include "hw/mmu/walk_window.h"
#include "hw/sim/stats.h"

namespace hw {

class Mmu : public sc_core::sc_module {
 public:
  // Defaults: the Golden Cove core of Sapphire Rapids (docs/mmu.md says where
  // each number comes from).
  struct Params {
    Params();
    std::vector<TlbArray::Geometry> itlb, dtlb;
    std::vector<TlbArray::Geometry> stlb;  // empty: no STLB
    Pwc::Params pwc;
    WalkWindow::Params window;
    unsigned maxphyaddr = 46;
    unsigned levels = 4;
    sc_core::sc_time hit_latency = sc_core::SC_ZERO_TIME;   // an L1 TLB hit
    sc_core::sc_time miss_latency = sc_core::SC_ZERO_TIME;  // detecting an L1 miss
    sc_core::sc_time stlb_latency = sc_core::sc_time(2, sc_core::SC_NS);  // an STLB lookup
    sc_core::sc_time access_latency = sc_core::sc_time(1, sc_core::SC_NS);  // the data access itself
    uint64_t seed = 1;  // the run's seed; random replacement derives per-core, per-array seeds
    unsigned cpu = 0;   // which core (seed derivation only)
  };

  tlm_utils::simple_target_socket<Mmu> cpu_socket;      // user accesses (slow path)
  tlm_utils::simple_initiator_socket<Mmu> walk_socket;  // walk requests
  tlm_utils::simple_initiator_socket<Mmu> mem_socket;   // data accesses

  Mmu(sc_core::sc_module_name name, const Params& params, sim::stats::Group* stats_parent);
  // A payload frees the extensions still attached when it dies: detach ours.
  ~Mmu() override { walk_trans_.clear_extension(&walk_ext_); }

  // The fast path: completes the access and returns true when the L1 TLB
  // holds a translation that permits it and carries a host pointer (and no
  // walk in flight needs the core to wait); otherwise returns false and
  // changes nothing (the caller then uses cpu_socket).
  bool try_access(uint64_t va, unsigned len, x86::Access acc, bool user, void* data, sc_core::sc_time& delay) {
    if (__builtin_expect(seq_ >= window_.gate(), 0) && !reopen(delay)) return false;
    Tlb& t = acc == x86::Access::fetch ? *itlb_ : *dtlb_;
    Tlb::Loc loc;
    TlbEntry* e = t.find(va, pcid_, loc);
    if (!e || !(e->perm & TlbEntry::perm_bit(acc, user))) return false;
    uint8_t* host = e->host_for(va, len);
    if (__builtin_expect(!host, 0)) {
      if (!e->pending || !settle(*e, delay) || !(host = e->host_for(va, len))) return false;
    }
    t.hit(loc, *e);
    ++seq_;
    if (len == 8) {  // the common case without a call to memcpy
      uint64_t v;
      if (acc == x86::Access::write) {
        std::memcpy(&v, data, 8);
        std::memcpy(host, &v, 8);
      } else {
        std::memcpy(&v, host, 8);
        std::memcpy(data, &v, 8);
      }
    } else if (acc == x86::Access::write) {
      std::memcpy(host, data, len);
    } else {
      std::memcpy(data, host, len);
    }
    delay += hit_cost_;
    return true;
  }

  // ---- Control state, reached through the core's HAL ----
  void set_control(bool wp, bool nxe, bool pcide);
  void write_cr3(uint64_t value);
  uint64_t cr3() const { return cr3_; }
  uint16_t pcid() const { return pcid_; }
  void invlpg(uint64_t va);
  void invpcid(x86::InvpcidType type, uint16_t pcid, uint64_t va);

  // For monitors and tests.
  Tlb& itlb() { return *itlb_; }
  Tlb& dtlb() { return *dtlb_; }
  Tlb* stlb() { return stlb_.get(); }  // nullptr when disabled
  Pwc& pwc() { return *pwc_; }
  WalkWindow& window() { return window_; }
  const Params& params() const { return p_; }

  struct Stats : sim::stats::Group {
    explicit Stats(sim::stats::Group* parent);
    sim::stats::Scalar slow_accesses{this, "slowAccesses", "Accesses that took the TLM path", "Count"};
    sim::stats::Scalar walks{this, "walks", "Walks requested from the walker", "Count"};
    sim::stats::Scalar dirty_updates{this, "dirtyUpdates", "Writes through a clean TLB entry (walked to set D)", "Count"};
    sim::stats::Scalar page_faults{this, "pageFaults", "Page faults raised", "Count"};
    sim::stats::Scalar faults_not_present{this, "faultsNotPresent", "Page faults: not present", "Count"};
    sim::stats::Scalar faults_protection{this, "faultsProtection", "Page faults: rights", "Count"};
    sim::stats::Scalar faults_reserved{this, "faultsReserved", "Page faults: reserved bit", "Count"};
    sim::stats::Scalar faults_from_tlb{this, "faultsFromTlb", "Rights faults decided from a TLB entry, without a walk", "Count"};
    sim::stats::Scalar gp_faults{this, "gpFaults", "General-protection faults (non-canonical address)", "Count"};
    sim::stats::Scalar machine_checks{this, "machineChecks", "Machine checks raised (walk or data)", "Count"};
    sim::stats::Scalar machine_checks_walk{this, "machineChecksInWalk", "Machine checks raised by a page-table read", "Count"};
    sim::stats::Scalar cr3_writes{this, "cr3Writes", "CR3 writes", "Count"};
    sim::stats::Scalar cr3_noflush{this, "cr3NoFlush", "CR3 writes with the no-flush bit", "Count"};
    sim::stats::Scalar invlpg{this, "invlpg", "INVLPG executed", "Count"};
    sim::stats::Scalar invpcid{this, "invpcid", "INVPCID executed", "Count"};
  } stats;

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  // Cold parts of the fast path. reopen(): walks or a barrier closed the
  // fast path; reopens it if they are over by the core's time. settle(): a
  // pending entry becomes usable once its walk has completed.
  __attribute__((noinline)) bool reopen(const sc_core::sc_time& delay);
  __attribute__((noinline)) bool settle(TlbEntry& e, const sc_core::sc_time& delay);
  void invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end);
  // Walks va; the walk starts at `start` (absolute); `done` gets its completion.
  bool walk(uint64_t va, x86::Access acc, bool user, sc_core::sc_time start, WalkRequest& rq, WalkResult& res,
            sc_core::sc_time& done);
  // The whole-page entry of a walk's translation (host pointer from DMI).
  TlbEntry page_entry(uint64_t va, const WalkResult& r);
  // Installs `page` (or the piece of it holding va) in t.
  TlbEntry* install(Tlb& t, const TlbEntry& page, uint64_t va, bool count_miss);
  void raise_fault(MmuAccessExtension& ext, uint64_t va, uint32_t ec, unsigned level, sc_core::sc_time when);
  bool data_access(tlm::tlm_generic_payload& trans, uint64_t pa, MmuAccessExtension& ext, sc_core::sc_time& delay);
  void flush_tlbs_va(uint64_t va, uint16_t pcid, bool include_global);
  void flush_tlbs_pcid(uint16_t pcid, bool include_global);
  void flush_tlbs_all(bool include_global);
  uint64_t tick(const sc_core::sc_time& abs) const;

  Params p_;
  std::unique_ptr<Tlb> itlb_, dtlb_, stlb_;
  std::unique_ptr<Pwc> pwc_;
  WalkWindow window_;
  sc_core::sc_time hit_cost_;
  uint64_t seq_ = 0;  // accesses issued (fast and slow path): the window's clock
  uint64_t cr3_ = 0;
  uint16_t pcid_ = 0;
  bool wp_ = true, nxe_ = true, pcide_ = false;
  std::vector<tlm::tlm_dmi> dmi_;
  tlm::tlm_generic_payload walk_trans_;
  WalkExtension walk_ext_;
  tlm::tlm_generic_payload mem_trans_;
};

}  // namespace hw
