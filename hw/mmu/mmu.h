// The MMU in front of one core's user accesses (docs/mmu.md): an L1 ITLB
// (fetches) and L1 DTLB (reads, writes), a unified STLB behind both, the
// paging-structure caches, and a window of walks in flight. A TLB hit whose
// entry carries a host pointer completes in try_access() with no TLM call,
// costing only its annotated latency. Everything else takes the slow path,
// access(), which a core calls directly and other initiators reach through
// the TLM target socket: lookup, walk (through the walk socket, to the TLM or
// RTL walker), fill, and the access itself; faults come back in the
// MmuAccessExtension.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>

#include "hw/base/command.h"
#include "hw/base/debug.h"
#include "hw/base/initiator.h"
#include "hw/base/stats.h"
#include "hw/base/trace.h"
#include "hw/ext/mmu_access.h"
#include "hw/ext/walk.h"
#include "hw/mmu/pwc.h"
#include "hw/mmu/tlb.h"
#include "hw/mmu/walk_window.h"

// Printed by the MMU and by the core that delivers its faults and programs it.
SIM_DECLARE_DEBUG_FLAG(Fault)
SIM_DECLARE_DEBUG_FLAG(MMU)

namespace hw {

class PageWalker;

// Copies len bytes, sizeof(W) <= len <= 2 * sizeof(W), as two words of
// type W that overlap unless len is 2 * sizeof(W).
template <class W>
inline void copy_two_words(uint8_t* dst, const uint8_t* src, unsigned len) {
  W lo, hi;
  std::memcpy(&lo, src, sizeof(W));
  std::memcpy(&hi, src + len - sizeof(W), sizeof(W));
  std::memcpy(dst, &lo, sizeof(W));
  std::memcpy(dst + len - sizeof(W), &hi, sizeof(W));
}

// Copies an access's len bytes from src to dst (which do not overlap).
// Accesses of 1-16 bytes (every instruction fetch, every scalar load and
// store) are copied inline, without a call to memcpy; longer ones by memcpy.
inline void copy_access_bytes(uint8_t* dst, const uint8_t* src, unsigned len) {
  if (len >= 8 && len <= 16) {
    copy_two_words<uint64_t>(dst, src, len);
  } else if (len >= 4 && len < 8) {
    copy_two_words<uint32_t>(dst, src, len);
  } else if (len >= 1 && len < 4) {
    const uint8_t first = src[0], middle = src[len / 2], last = src[len - 1];
    dst[0] = first;
    dst[len / 2] = middle;
    dst[len - 1] = last;
  } else {
    std::memcpy(dst, src, len);
  }
}

// The MMU is its CPU socket's forward interface: the slow path reaches
// b_transport() in one virtual call, without a convenience socket's hop.
class Mmu : public sc_core::sc_module, private tlm::tlm_fw_transport_if<> {
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
    std::string walker = "tlm";  // which walker the platform binds to walk_socket: tlm, rtl, lockstep
    bool direct_walk = true;     // with the TLM walker: call it directly (set_direct_walker)
    uint64_t seed = 1;  // the run's seed; random replacement derives per-core, per-array seeds
    unsigned cpu = 0;   // which core (seed derivation only)
  };

  tlm::tlm_target_socket<> cpu_socket;  // user accesses (slow path; blocking transport)
  sim::InitiatorSocket walk_socket;     // walk requests (WalkExtension)
  sim::InitiatorSocket mem_socket;      // data accesses, DMI for the TLBs' host pointers

  Mmu(sc_core::sc_module_name name, const Params& params, sim::stats::Group* stats_parent);

  // The fast path: completes the access and returns true when the L1 TLB
  // holds a translation that permits it and carries a host pointer (and no
  // walk in flight needs the core to wait); otherwise returns false and
  // changes nothing (the caller then uses access()). As for a core's user
  // access (hw/cpu/user_program.h), [va, va + len) lies within one page.
  __attribute__((always_inline)) bool try_access(uint64_t va, unsigned len, x86::Access acc, bool user, void* data,
                                                sc_core::sc_time& delay) {
    return try_access_impl(va, len, acc, user, data, delay, nullptr);
  }
  // try_access(), and when it fails, the slow path (access()) for the same
  // access straight away, with the L1 TLB's miss already known (a core's
  // access: no second probe, no second call). Returns true on the fast
  // path; false when the slow path ran, with its outcome in ext (ext.access
  // and ext.user must be acc and user; a write is a TLM write, anything
  // else a read).
  __attribute__((always_inline)) bool try_access(uint64_t va, unsigned len, x86::Access acc, bool user, void* data,
                                                sc_core::sc_time& delay, MmuAccessExtension& ext) {
    return try_access_impl(va, len, acc, user, data, delay, &ext);
  }

  // The per-access state of the fast path: the L1 TLBs' LRU clocks, which
  // also count memo hits. A caller running many accesses (a core's loop, a
  // benchmark) holds it in a local between fast_begin() and fast_end(), with
  // its time in picoseconds beside it, so that no access waits on the
  // previous one's store to a counter in memory. Nothing else may use the
  // MMU in between: end before any other call, begin again after it.
  struct FastState {
    uint64_t clock[2];
    // Accesses so far (the walk window's clock) and how far they may go
    // past the oldest walk in flight (its lookahead gate; all the way with
    // no walk in flight).
    uint64_t seq;
    uint64_t gate;
    // Constant between begin and end, held here so that no access reloads
    // them from the MMU (the stamp store might alias them).
    uint64_t epoch;
    uint64_t pcid;
    uint64_t hit_cost_ps;
  };
  FastState fast_begin() const {
    return {{lru_clock_[0], lru_clock_[1]}, seq_, window_.gate(), epoch_ & ~WalkWindow::kBusyBit, pcid_, hit_cost_ps_};
  }
  void fast_end(const FastState& fs) {
    lru_clock_[0] = fs.clock[0];
    lru_clock_[1] = fs.clock[1];
    seq_ = fs.seq;
  }
  // A memo hit: completes the access, adds its latency to `local_ps` and
  // returns true; otherwise false with nothing changed (then end the fast
  // state and call try_access()).
  __attribute__((always_inline)) bool try_memo(uint64_t va, unsigned len, x86::Access acc, bool user, void* data,
                                              FastState& fs, uint64_t& local_ps) {
    // One memo per access type, filled only by accesses the entry permits
    // (for user mode, which is all a core sends here): no rights test here.
    const Memo& m = memo_slot(acc, va);
    if (__builtin_expect(user && m.key == memo_key(va, fs.pcid) && m.epoch == fs.epoch, 1)) {
      // Counted for the lookahead bound: at the gate, the walk window must
      // first retire the walks done by now (try_access_rest).
      if (__builtin_expect(fs.seq >= fs.gate, 0)) return false;
      memo_hit(m, va, len, acc, data, fs, local_ps);
      return true;
    }
    return false;
  }
  // After try_memo() failed, for a core that knows its time: an access to a
  // page whose own walk is in flight (see Memo) joins the walk (counted)
  // and completes as a hit, until the walk's end. now_ps: the core's time
  // from which local_ps counts. Out of line: the common hit stays lean.
  __attribute__((noinline)) bool try_memo_join(uint64_t va, unsigned len, x86::Access acc, bool user, void* data,
                                               FastState& fs, uint64_t& local_ps, uint64_t now_ps) {
    const Memo& m = memo_slot(acc, va);
    if (!user || m.key != memo_key(va, fs.pcid) || m.epoch != (fs.epoch | kMemoJoins)) return false;
    if (fs.seq >= fs.gate || now_ps + local_ps >= m.ready) return false;
    window_.count_merge();
    memo_hit(m, va, len, acc, data, fs, local_ps);
    return true;
  }

  // The TLM command of a core's access of this type.
  static tlm::tlm_command command(x86::Access acc) {
    return acc == x86::Access::write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND;
  }
  // The slow path: the access b_transport() does for a payload of (cmd, va,
  // data, len) carrying `ext`, without the payload (a core holds the MMU and
  // calls it straight after try_access() fails). The request is ext.access
  // and ext.user; the outcome comes back in ext. Returns false when the
  // walker gave no answer (b_transport's error response).
  bool access(tlm::tlm_command cmd, uint64_t va, void* data, unsigned len, MmuAccessExtension& ext,
              sc_core::sc_time& delay) {
    return slow_access(cmd, va, data, len, ext, delay, false);
  }

  // The walker behind walk_socket, to be called directly on a miss while
  // *monitored is false (one virtual call and a payload fewer per walk; the
  // same walk, the same statistics). Only for the TLM walker with nothing
  // between it and the MMU (not lockstep): the platform's to decide.
  void set_direct_walker(PageWalker* w, const bool* monitored) {
    direct_walker_ = w;
    monitored_ = monitored;
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
  // The timeline's process of this MMU's events: its CPU ("cpu0").
  void set_trace_process(std::string process) { trace_process_ = std::move(process); }

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
  const std::string who_ = stats.path();  // debug lines name the model by its statistics' path

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) override;
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay) override;
  bool get_direct_mem_ptr(tlm::tlm_generic_payload&, tlm::tlm_dmi&) override { return false; }
  unsigned int transport_dbg(tlm::tlm_generic_payload&) override { return 0; }
  // Both forms of try_access(); `slow`: the form that goes on to the slow path.
  __attribute__((always_inline)) bool try_access_impl(uint64_t va, unsigned len, x86::Access acc, bool user,
                                                     void* data, sc_core::sc_time& delay, MmuAccessExtension* slow) {
    // Inline: with no walk in flight, a hit in the memo of recent 4 KiB hits
    // (see Memo). Everything else that can complete without a TLM call is in
    // try_access_rest(), which also fills the memo.
    FastState fs = fast_begin();
    uint64_t spent_ps = 0;
    if (__builtin_expect(try_memo(va, len, acc, user, data, fs, spent_ps), 1)) {
      fast_end(fs);
      delay += hit_cost_;
      return true;
    }
    return try_access_rest(va, len, acc, user, data, delay, slow);
  }
  static void copy(x86::Access acc, uint8_t* host, void* data, unsigned len) {
    uint8_t* buf = static_cast<uint8_t*>(data);
    if (acc == x86::Access::write) copy_access_bytes(host, buf, len);
    else copy_access_bytes(buf, host, len);
  }
  // The rest of the fast path: other page sizes and arrays; accesses while
  // walks are in flight (counted for the lookahead bound, and reopening the
  // memo once they are over by the core's time); pending entries, which
  // become usable when their walk completes or are joined while it is in
  // flight. When that fails too, with `slow`: the slow path.
  __attribute__((noinline)) bool try_access_rest(uint64_t va, unsigned len, x86::Access acc, bool user, void* data,
                                                 sc_core::sc_time& delay, MmuAccessExtension* slow);
  // try_access_rest() once the L1 holds an entry e for va (at loc in t):
  // apart, so that a miss (the slow path follows) costs only the probe.
  __attribute__((noinline)) bool complete_hit(Tlb& t, const Tlb::Loc& loc, TlbEntry* e, uint64_t va, unsigned len,
                                              x86::Access acc, bool user, void* data, sc_core::sc_time& delay);
  // complete_hit(): remembers a 4 KiB page wholly under DMI in the memo for
  // this access type (host: where its bytes are; ready: see Memo).
  void remember(const Tlb::Loc& loc, const TlbEntry& e, uint64_t va, x86::Access acc, bool user, uint8_t* host,
                uint64_t ready);
  // Drops the TLBs' and the walk window's host pointers into [start, end]
  // (memory revoked DMI there).
  void revoke_host(uint64_t start, uint64_t end);

  // ---- The slow path (access()), by stage ----
  // access(); `l1_probed`: the L1 TLB was just probed for this access and
  // missed (by try_access_rest(): nothing since has changed the TLBs).
  bool slow_access(tlm::tlm_command cmd, uint64_t va, void* data, unsigned len, MmuAccessExtension& ext,
                   sc_core::sc_time& delay, bool l1_probed);
  // slow_access()'s body, inlined into it and into try_access_rest(): a
  // core's miss makes one call, not two (a frame, the arguments passed on).
  __attribute__((always_inline)) bool slow_path(tlm::tlm_command cmd, uint64_t va, void* data, unsigned len,
                                               MmuAccessExtension& ext, sc_core::sc_time& delay, bool l1_probed);
  // One access on its way through the slow path.
  struct Slow {
    MmuAccessExtension* ext;
    uint64_t va;
    unsigned len;
    tlm::tlm_command cmd;  // of the data access
    uint8_t* data;
    bool answered = true;  // false: the walker gave no answer
    x86::Access acc;
    bool user;
    sc_core::sc_time base;  // SystemC time, re-read after calls that may advance it (walk, data access)
    sc_core::sc_time now;   // the core's time
    sc_core::sc_time cost;  // the lookups' latency
    Tlb* l1;
    bool l1_probed;           // known to miss in l1 (see slow_access)
    Tlb* found_in = nullptr;  // where the lookup found the entry
    bool l1_missed = false, stlb_missed = false;
    const WalkWindow::Walk* joined = nullptr;  // the walk in flight the access completes with
    bool merged = false;                       // ... and it is not the access's own walk
  };
  // The L1 lookup (or the fast path's miss), then the STLB on a miss.
  TlbEntry* lookup(Slow& s);
  // An entry found by lookup(): completes a pending one whose walk is over,
  // or joins its walk; copies an STLB entry into the L1.
  TlbEntry* use_entry(Slow& s, TlbEntry* e);
  // No usable entry: joins the page's walk in flight, or walks. Returns the
  // L1 entry, or nullptr when the access ends here (fault, machine check,
  // no walker answer: the outcome is set, s.now is the end).
  TlbEntry* join_or_walk(Slow& s, bool clean_write);
  // A walk that failed: sets the outcome; returns the core's time after it.
  sc_core::sc_time walk_failed(Slow& s, bool answered, sc_core::sc_time end);
  // The data access through entry e; returns the core's time after it.
  sc_core::sc_time access_data(Slow& s, const TlbEntry& e);
  // A rights fault decided from a cached entry; returns the core's time.
  sc_core::sc_time tlb_rights_fault(Slow& s, const TlbEntry& e);
  // #GP for a non-canonical address; returns the core's time.
  sc_core::sc_time general_protection(Slow& s);

  // Walks va from `start` (absolute): the request and result are in
  // walk_ext_; `done` gets the completion; `base` the SystemC time after it.
  // The walk just done as a span of the timeline (Walker flag): reads,
  // levels the paging-structure caches skipped, outcome.
  void trace_walk(uint64_t va, sc_core::sc_time start, sc_core::sc_time done);
  std::string trace_process_ = "cpu0";
  bool walk(uint64_t va, x86::Access acc, bool user, sc_core::sc_time start, sc_core::sc_time& base,
            sc_core::sc_time& done);
  // Makes e (every field: it may hold a former walk's) the whole-page entry of a walk's
  // translation (host pointer from DMI) for a walk from `start` to `done`:
  // pending while the walk is in flight. In place: a copy of the entry
  // just built would wait for its stores (see assign_entry).
  void page_entry(TlbEntry& e, uint64_t va, const WalkResult& r, sc_core::sc_time start, sc_core::sc_time done);
  // Installs `page` (or the piece of it holding va) in t.
  TlbEntry* install(Tlb& t, const TlbEntry& page, uint64_t va, bool count_miss);
  // The piece of `page` of this (smaller) size that holds va.
  // (By value: a fill's page stays out of memory on the common path.)
  static TlbEntry piece(TlbEntry page, unsigned size, uint64_t va);
  void trace_fill(const Tlb& t, const TlbEntry& in) const;
  // The DMI region page_entry() used last (read-write; empty: start > end),
  // so that a fill asks the socket only for another region. Dropped with
  // the TLBs' host pointers when memory revokes DMI.
  struct DmiRegion {
    uint64_t start = 1, end = 0;
    uint8_t* host = nullptr;
  } dmi_;
  // Caches the read-write DMI region holding pa; false when there is none.
  bool find_dmi(uint64_t pa);
  void raise_fault(MmuAccessExtension& ext, uint64_t va, uint32_t ec, unsigned level, sc_core::sc_time when);
  bool data_access(const Slow& s, uint64_t pa, sc_core::sc_time& delay);
  void flush_tlbs_va(uint64_t va, uint16_t pcid, bool include_global);
  void flush_tlbs_pcid(uint16_t pcid, bool include_global);
  void flush_tlbs_all(bool include_global);

  Params p_;
  std::unique_ptr<Tlb> itlb_, dtlb_, stlb_;
  std::unique_ptr<Pwc> pwc_;
  Tlb* l1_[3];  // by x86::Access: read, write -> DTLB; fetch -> ITLB
  // A host-side memo in front of each L1 TLB (as QEMU's softmmu TLB):
  // direct-mapped by page, it remembers where a recent 4 KiB hit was found,
  // so a repeat hit needs no set search. It is not a hardware structure: a
  // memo hit is exactly a hit of that TLB entry (its replacement state and
  // statistics are updated as by any hit), and any change to the TLBs
  // (fill, invalidation, DMI revocation, rights) bumps epoch_, which
  // invalidates every memo entry. Its entries stay usable while walks are
  // in flight, each hit counted for the lookahead bound. An entry whose own
  // walk is in flight (pending) is remembered with kMemoJoins in its epoch
  // (so the common hit's one compare fails) and the walk's end: until then
  // its hits join the walk, as in complete_hit(); the first hit after it
  // goes through complete_hit(), which makes the entry usable.
  static constexpr uint64_t kMemoJoins = WalkWindow::kBusyBit;  // never set in FastState::epoch
  struct alignas(64) Memo {
    uint64_t key = ~0ull;        // (vpn << 16) | PCID of the lookup
    uint64_t epoch = 0;
    uint8_t* host = nullptr;     // the page's host pointer (DMI covers the whole page)
    uint64_t* stamp = nullptr;   // the entry's LRU stamp; null for other policies
    TlbArray* array = nullptr;
    uint16_t set = 0, way = 0;
    uint64_t ready = 0;  // a pending entry's walk end, ps
  };
  static constexpr unsigned kMemo = 64;
  Memo memo_[3][kMemo];     // by x86::Access: read, write (DTLB), fetch (ITLB)
  // The memo entry for va's page and this access type, and the key it
  // holds for the page in address space pcid.
  Memo& memo_slot(x86::Access acc, uint64_t va) { return memo_[static_cast<unsigned>(acc)][(va >> 12) & (kMemo - 1)]; }
  static uint64_t memo_key(uint64_t va, uint64_t pcid) { return (va >> 12) << 16 | pcid; }
  // A memo hit's work: counted for the lookahead bound and as a hit of the
  // entry (the TLB's LRU clock counts these hits), the data, the latency.
  __attribute__((always_inline)) void memo_hit(const Memo& m, uint64_t va, unsigned len, x86::Access acc, void* data,
                                              FastState& fs, uint64_t& local_ps) {
    ++fs.seq;
    const uint64_t tick = ++fs.clock[acc == x86::Access::fetch];
    if (m.stamp) *m.stamp = tick;
    else m.array->touch(m.set, m.way);
    copy(acc, m.host + (va & 0xfff), data, len);
    local_ps += fs.hit_cost_ps;
  }
  uint64_t lru_clock_[2] = {};  // the DTLB's and ITLB's LRU clocks (see Tlb::lru_clock)

  // Bumped by every change to the TLBs; bit 63 set while walks are in
  // flight (the window's busy bit), which memo entries leave out.
  uint64_t epoch_ = 1;

  WalkWindow window_;
  sc_core::sc_time hit_cost_;
  uint64_t hit_cost_ps_ = 0;
  sc_core::sc_time now_;  // the core's time in the slow path (debug lines of TLBs and PWC)
  // Accesses counted while walks are in flight (and by the slow path): the
  // window's clock for the lookahead bound; only differences matter.
  uint64_t seq_ = 0;
  uint64_t cr3_ = 0;
  uint16_t pcid_ = 0;
  bool wp_ = true, nxe_ = true, pcide_ = false;
  unsigned perm_control_ = TlbEntry::perm_control(true, true);  // of wp_ and nxe_, for fills
  WalkExtension walk_ext_;  // attached to every walk request
  // A full walk's request under the current CR3, CR0.WP, EFER.NXE and
  // CR4.PCIDE (set by rebase_walks() when they change): each walk starts
  // from a copy.
  WalkRequest walk_base_;
  void rebase_walks();
  PageWalker* direct_walker_ = nullptr;
  const bool* monitored_ = nullptr;
  void register_commands();  // the monitor's `tlb`: hw/mmu/mmu_monitor.cpp
  sim::Commands commands_;
};

}  // namespace hw
