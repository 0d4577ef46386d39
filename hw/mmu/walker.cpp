#include "hw/mmu/walker.h"

#include <algorithm>

#include <fmt/format.h>

#include "hw/base/debug.h"
#include "hw/base/time.h"
#include "hw/ext/memory.h"

SIM_DEBUG_FLAG(Walker, "page walks: start, each page-table read, outcome")

namespace hw {

using sc_core::sc_time;

namespace {

constexpr unsigned kMaxRestarts = 8;

uint64_t bits(unsigned hi, unsigned lo) { return ((~0ull) >> (63 - hi)) & ~((1ull << lo) - 1); }

bool has_reserved_bits(uint64_t e, unsigned level, const WalkRequest& rq) {
  if (rq.maxphyaddr < 52 && (e & bits(51, rq.maxphyaddr))) return true;
  if ((e & x86::PTE_NX) && !rq.nxe) return true;
  if (level >= x86::LEVEL_PML4 && (e & x86::PTE_PS)) return true;
  if (level == x86::LEVEL_PDPT && (e & x86::PTE_PS) && (e & bits(29, 13))) return true;
  if (level == x86::LEVEL_PD && (e & x86::PTE_PS) && (e & bits(20, 13))) return true;
  return false;
}

uint32_t access_bits(const WalkRequest& rq) {
  uint32_t ec = 0;
  if (rq.access == x86::Access::write) ec |= x86::PF_W;
  if (rq.user) ec |= x86::PF_U;
  if (rq.access == x86::Access::fetch && rq.nxe) ec |= x86::PF_I;
  return ec;
}

}  // namespace

LatencyHistogram::LatencyHistogram(sim::stats::Group* parent, std::string name, std::string desc, std::string unit,
                                   unsigned bucket_shift, unsigned buckets)
    : Stat(parent, std::move(name), std::move(desc), std::move(unit)), shift_(bucket_shift),
      buckets_(buckets ? buckets : 1) {}

void LatencyHistogram::reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  samples_ = sum_ = overflow_ = max_seen_ = 0;
  min_seen_ = ~0ull;
}

void LatencyHistogram::emit(sim::stats::Emitter& out, const std::string& path) const {
  const std::string base = path + name();
  out.integer(base + "::samples", samples_, desc() + ": samples", "Count");
  out.real(base + "::mean", mean(), desc() + ": mean", unit());
  out.integer(base + "::min", min_value(), desc() + ": smallest sample", unit());
  out.integer(base + "::max", max_seen_, desc() + ": largest sample", unit());
  out.integer(base + "::underflows", 0, desc() + ": samples below the first bucket", "Count");
  const uint64_t width = 1ull << shift_;
  for (size_t i = 0; i < buckets_.size(); ++i)
    out.integer(fmt::format("{}::{}-{}", base, i * width, i * width + width - 1), buckets_[i], desc(), "Count");
  out.integer(base + "::overflows", overflow_, desc() + ": samples above the last bucket", "Count");
}

PageWalker::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "walker") {}

PageWalker::PageWalker(sc_core::sc_module_name name, sim::stats::Group* stats_parent, int bus_id)
    : sc_module(name), walk_socket("walk_socket"), mem_socket("mem_socket"), stats(stats_parent), bus_id_(bus_id) {
  walk_socket.bind(*this);
}

void PageWalker::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) { serve_walk(*this, trans, delay); }

tlm::tlm_sync_enum PageWalker::nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase&, sc_time&) {
  SC_REPORT_ERROR(name(), "walk requests take blocking transport only");
  trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
  return tlm::TLM_COMPLETED;
}

void PageWalker::walk(const WalkRequest& rq, WalkResult& r, sc_time& delay) {
  // A bus-lock wait inside a transaction moves SystemC time and resets
  // `delay`: then the latency is taken from absolute times.
  const sc_time delay0 = delay;
  stamp0_valid_ = false;
  ++stats.walks;
  if (rq.start_level >= rq.levels) ++stats.from_root;
  DPRINTF(Walker, sim::now_ps(delay), who_.c_str(), "walk va={:#x} {} {} cr3={:#x} start=L{}", rq.va,
          rq.access == x86::Access::write ? "write" : rq.access == x86::Access::fetch ? "fetch" : "read",
          rq.user ? "user" : "supervisor", rq.cr3, rq.start_level);
  translate(rq, r, delay);

  stats.pt_reads += r.mem_reads;
  stats.ad_writes += r.mem_writes - r.restarts;  // each restart released a lock unchanged
  stats.restarts += r.restarts;
  const sc_time latency =
      stamp0_valid_ ? (sc_core::sc_time_stamp() + delay) - (stamp0_ + delay0) : delay - delay0;
  stats.latency.sample(sim::to_ns_rounded(latency));
  switch (r.status) {
    case WalkStatus::ok:
      ++stats.completed;
      (r.leaf_level == 1 ? stats.leaves_4k : r.leaf_level == 2 ? stats.leaves_2m : stats.leaves_1g) += 1;
      DPRINTF(Walker, sim::now_ps(delay), who_.c_str(), "done va={:#x} -> pa={:#x} size={:#x} rw={} us={} nx={} g={}",
              rq.va, r.pa, r.page_size, r.rw, r.us, r.nx, r.global);
      break;
    case WalkStatus::page_fault:
      if (r.error_code & x86::PF_RSVD) ++stats.faults_reserved;
      else if (r.error_code & x86::PF_P) ++stats.faults_protection;
      else ++stats.faults_not_present;
      DPRINTF(Walker, sim::now_ps(delay), who_.c_str(), "fault va={:#x} ec={:#x} level={} pte@{:#x}", rq.va,
              r.error_code, r.fault_level, r.fault_pte_addr);
      break;
    case WalkStatus::machine_check:
      ++stats.machine_checks;
      DPRINTF(Walker, sim::now_ps(delay), who_.c_str(), "machine check va={:#x} pte@{:#x} {}", rq.va, r.mc_addr,
              r.mc_poison ? "poison" : "error");
      break;
  }
}

void PageWalker::translate(const WalkRequest& rq, WalkResult& r, sc_time& delay) {
  // A copy of a fresh result compiles to plain vector stores; zero-initialising
  // in place becomes a `rep stos`, whose start-up costs a PWC-hit walk dearly.
  static const WalkResult kFresh{};
  r = kFresh;
  const uint64_t pmask = x86::phys_mask(rq.maxphyaddr);
  const bool is_write = rq.access == x86::Access::write;

  auto fault = [&](uint32_t ec, unsigned level, uint64_t addr) {
    r.status = WalkStatus::page_fault;
    r.error_code = ec | access_bits(rq);
    r.fault_level = level;
    r.fault_pte_addr = addr;
  };
  auto machine_check = [&](uint64_t addr, PtAccess what) {
    r.status = WalkStatus::machine_check;
    r.mc_addr = addr;
    r.mc_poison = what == PtAccess::poison;
  };

  for (;;) {  // one pass per (re)start
    if (r.restarts) {
      for (unsigned l = 0; l <= kMaxLevels; ++l) {
        r.pte_valid[l] = false;
        r.pte_addr[l] = r.pte_value[l] = 0;
      }
    }
    // A full walk starts at the root CR3 names (as the RTL walker does).
    uint64_t table = (rq.start_level >= rq.levels ? rq.cr3 : rq.start_table) & pmask;
    bool rw = rq.acc_rw, us = rq.acc_us, nx = rq.acc_nx;
    unsigned level = rq.start_level;

    for (;;) {
      const uint64_t addr = table + 8ull * x86::pt_index(rq.va, level);
      uint64_t entry = 0;
      const PtAccess st = read(addr, entry, delay, false);
      ++r.mem_reads;
      // Recorded before the outcome is checked (docs/walker.md step 1).
      r.pte_valid[level] = true;
      r.pte_addr[level] = addr;
      r.pte_value[level] = entry;
      if (st != PtAccess::ok) return machine_check(addr, st);
      DPRINTF(Walker, sim::now_ps(delay), who_.c_str(), "  L{} pte@{:#x} = {:#018x}", level, addr, entry);
      if (!(entry & x86::PTE_P)) return fault(0, level, addr);
      if (has_reserved_bits(entry, level, rq)) return fault(x86::PF_P | x86::PF_RSVD, level, addr);
      rw = rw && (entry & x86::PTE_RW);
      us = us && (entry & x86::PTE_US);
      nx = nx || (entry & x86::PTE_NX);
      const bool leaf = level == x86::LEVEL_PT ||
                        ((level == x86::LEVEL_PD || level == x86::LEVEL_PDPT) && (entry & x86::PTE_PS));
      if (leaf) break;
      table = entry & pmask;
      --level;
    }

    const unsigned leaf_level = level;
    const bool denied = (rq.user && !us) || (is_write && !rw && (rq.user || rq.wp)) ||
                        (rq.access == x86::Access::fetch && rq.nxe && nx);
    if (denied) return fault(x86::PF_P, leaf_level, r.pte_addr[leaf_level]);

    // Accessed/Dirty: a locked read-modify-write of each entry that needs
    // it, from the top of the walk down to the leaf.
    bool restart = false;
    bool dirty = r.pte_value[leaf_level] & x86::PTE_D;
    for (unsigned l = rq.start_level; l >= leaf_level; --l) {
      const uint64_t used = r.pte_value[l];
      const bool is_leaf = l == leaf_level;
      if ((used & x86::PTE_A) && !(is_leaf && is_write && !(used & x86::PTE_D))) continue;
      uint64_t cur = 0;
      const PtAccess st = read(r.pte_addr[l], cur, delay, true);
      ++r.mem_reads;
      if (st != PtAccess::ok) return machine_check(r.pte_addr[l], st);
      constexpr uint64_t ad = x86::PTE_A | x86::PTE_D;
      if ((cur & ~ad) != (used & ~ad)) {
        write(r.pte_addr[l], cur, delay, true);  // release the lock, unchanged
        ++r.mem_writes;
        ++r.restarts;
        // The 8th restart ends the walk (as the RTL walker's RESTART_LIMIT).
        if (r.restarts >= kMaxRestarts) return fault(0, l, r.pte_addr[l]);
        DPRINTF(Walker, sim::now_ps(delay), who_.c_str(), "  L{} entry changed under the lock: restart", l);
        restart = true;
        break;
      }
      const uint64_t updated = cur | x86::PTE_A | (is_leaf && is_write ? x86::PTE_D : 0);
      write(r.pte_addr[l], updated, delay, true);
      ++r.mem_writes;
      if (is_leaf) dirty = updated & x86::PTE_D;
    }
    if (restart) continue;

    const uint64_t leaf = r.pte_value[leaf_level];
    const uint64_t size = x86::level_size(leaf_level);
    r.status = WalkStatus::ok;
    r.page_size = size;
    r.leaf_level = leaf_level;
    r.pa = (leaf & pmask & ~(size - 1)) | (rq.va & (size - 1));
    r.rw = rw;
    r.us = us;
    r.nx = rq.nxe && nx;
    r.global = leaf & x86::PTE_G;
    r.dirty = dirty;
    const bool pat = leaf_level == x86::LEVEL_PT ? (leaf & x86::PTE_PS) : (leaf & x86::PTE_PAT_LARGE);
    r.memtype = static_cast<uint8_t>((pat ? 4 : 0) | ((leaf & x86::PTE_PCD) ? 2 : 0) |
                                     ((leaf & x86::PTE_PWT) ? 1 : 0));
    return;
  }
}

PtAccess PageWalker::read(uint64_t pa, uint64_t& value, sc_time& delay, bool lock) {
  // A locked read may use DMI: no other process runs between it and the
  // unlocking write (the walker does not wait in between), so the pair is
  // atomic. DRAM withholds DMI from a line another initiator has locked.
  if (mem_socket.dmi_read(pa, &value, 8, delay)) return PtAccess::ok;
  const PtAccess st = transact(pa, &value, delay, false, lock);
  // Memory says DMI would do for this line: ask for the region once.
  if (st == PtAccess::ok) mem_socket.request_dmi_if_allowed(mem_socket.last());
  return st;
}

PtAccess PageWalker::write(uint64_t pa, uint64_t value, sc_time& delay, bool unlock) {
  if (mem_socket.dmi_write(pa, &value, 8, delay)) return PtAccess::ok;
  return transact(pa, &value, delay, true, unlock);
}

PtAccess PageWalker::transact(uint64_t pa, uint64_t* value, sc_time& delay, bool is_write, bool locked) {
  if (!stamp0_valid_) {
    stamp0_ = sc_core::sc_time_stamp();
    stamp0_valid_ = true;
  }
  const tlm::tlm_command cmd = is_write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND;
  PoisonExtension poison;
  tlm::tlm_response_status rsp;
  if (locked) {
    // A locked read takes the bus lock; the write that follows releases it.
    LockExtension lock_ext;
    lock_ext.op = is_write ? LockExtension::Op::unlock_write : LockExtension::Op::lock_read;
    lock_ext.initiator = bus_id_;
    rsp = mem_socket.transport(cmd, pa, value, 8, delay, lock_ext, poison);
  } else {
    rsp = mem_socket.transport(cmd, pa, value, 8, delay, poison);
  }
  if (poison.poisoned) return PtAccess::poison;
  return rsp == tlm::TLM_OK_RESPONSE ? PtAccess::ok : PtAccess::error;
}

}  // namespace hw
