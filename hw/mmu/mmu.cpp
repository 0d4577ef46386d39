#include "hw/mmu/mmu.h"

#include <algorithm>

#include "hw/base/time.h"
#include "hw/ext/memory.h"
#include "hw/mmu/walker.h"

SIM_DEBUG_FLAG(Fault, "page faults and machine checks delivered to the firmware")
SIM_DEBUG_FLAG(MMU, "CR3 writes, INVLPG, INVPCID and paging-control changes")

namespace hw {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

namespace {

// sc_time_stamp() without the call into the SystemC library, nor the test
// for a missing context (there is one: the MMU is a module of it): the miss
// path reads the time before and after its walk.
inline const sc_time& time_stamp() { return sc_core::sc_curr_simcontext->time_stamp(); }

const char* access_name(x86::Access a) {
  return a == x86::Access::write ? "write" : a == x86::Access::fetch ? "fetch" : "read";
}

TlbArray::Geometry array(const char* name, unsigned sets, unsigned ways, std::vector<unsigned> sizes) {
  TlbArray::Geometry g;
  g.name = name;
  g.sets = sets;
  g.ways = ways;
  g.sizes = std::move(sizes);
  return g;
}

// Salts for per-structure seeds.
enum : uint64_t { kSaltItlb = 1, kSaltDtlb = 2, kSaltStlb = 3, kSaltPwc = 4 };

}  // namespace

// Golden Cove (the core of Sapphire Rapids), as its CPUID leaf 0x18 reports
// the TLBs; the paging-structure-cache sizes are not published and are
// assumptions (docs/mmu.md).
Mmu::Params::Params() {
  itlb = {array("4k", 32, 8, {0}), array("2m", 4, 8, {1})};
  dtlb = {array("4k", 16, 4, {0}), array("2m", 8, 4, {1}), array("1g", 1, 8, {2})};
  stlb = {array("4k2m", 128, 8, {0, 1}), array("1g", 128, 8, {2})};
  pwc.level[5] = {1, 4, ReplacementPolicy::lru};  // used with 5-level paging only
  pwc.level[4] = {1, 4, ReplacementPolicy::lru};
  pwc.level[3] = {1, 4, ReplacementPolicy::lru};
  pwc.level[2] = {1, 32, ReplacementPolicy::lru};
}

Mmu::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "mmu") {}

Mmu::Mmu(sc_core::sc_module_name name, const Params& params, sim::stats::Group* stats_parent)
    : sc_module(name), cpu_socket("cpu_socket"), walk_socket("walk_socket"), mem_socket("mem_socket"),
      stats(stats_parent), p_(params),
      itlb_(std::make_unique<Tlb>(&stats, "itlb", stats.path() + ".itlb", params.itlb,
                                  mix_seed(mix_seed(params.seed, params.cpu), kSaltItlb))),
      dtlb_(std::make_unique<Tlb>(&stats, "dtlb", stats.path() + ".dtlb", params.dtlb,
                                  mix_seed(mix_seed(params.seed, params.cpu), kSaltDtlb))),
      stlb_(params.stlb.empty() ? nullptr
                                : std::make_unique<Tlb>(&stats, "stlb", stats.path() + ".stlb", params.stlb,
                                                        mix_seed(mix_seed(params.seed, params.cpu), kSaltStlb))),
      pwc_(std::make_unique<Pwc>(&stats, stats.path() + ".pwc", params.levels, params.pwc,
                                 mix_seed(mix_seed(params.seed, params.cpu), kSaltPwc), stats.walks)),
      l1_{dtlb_.get(), dtlb_.get(), itlb_.get()}, window_(&stats, params.window),
      hit_cost_(params.hit_latency + params.access_latency),
      hit_cost_ps_(sim::to_ps(hit_cost_)) {
  if (p_.levels < 4 || p_.levels > kMaxLevels) throw std::invalid_argument("paging levels must be 4 or 5");
  for (Tlb* t : {itlb_.get(), dtlb_.get(), stlb_.get()}) {
    if (!t) continue;
    t->set_clock(&now_);
    t->set_epoch(&epoch_);
  }
  dtlb_->share_lru_clock(&lru_clock_[0]);
  itlb_->share_lru_clock(&lru_clock_[1]);
  window_.mark_busy_in(&epoch_);
  pwc_->set_clock(&now_);
  cpu_socket.bind(*this);
  mem_socket.on_invalidate([this](uint64_t start, uint64_t end) { revoke_host(start, end); });
  walk_socket.attach(walk_ext_);
  rebase_walks();
  register_commands();
}

// ---- Cold parts of the fast path --------------------------------------------

bool Mmu::try_access_rest(uint64_t va, unsigned len, x86::Access acc, bool user, void* data, sc_time& delay,
                          MmuAccessExtension* slow) {
  bool missed = false;
  if (window_.idle() || seq_ < window_.gate() || window_.refresh(time_stamp() + delay, seq_)) {
    Tlb& t = *l1_[static_cast<unsigned>(acc)];
    Tlb::Loc loc;
    TlbEntry* e = t.find(va, pcid_, loc);
    if (e && complete_hit(t, loc, e, va, len, acc, user, data, delay)) return true;
    missed = !e;
  }
  if (slow)
    slow_path(command(acc), va, data, len, *slow, delay, missed);
  return false;
}

bool Mmu::complete_hit(Tlb& t, const Tlb::Loc& loc, TlbEntry* e, uint64_t va, unsigned len, x86::Access acc,
                       bool user, void* data, sc_time& delay) {
  if (!(e->perm & TlbEntry::perm_bit(acc, user))) return false;
  uint8_t* host = e->host_for(va, len);
  bool merged = false;
  if (!host) {
    if (!e->pending) return false;
    const uint64_t off = va & (e->bytes() - 1);
    if (!e->pending_host || off < e->host_lo || off + len - 1 > e->host_hi) return false;
    if ((time_stamp() + delay).value() >= e->ready) {
      // Its walk has completed: the entry is usable from now on.
      e->host = e->pending_host;
      e->pending_host = nullptr;
      e->pending = false;
      host = e->host + off;
    } else {
      // Its walk is in flight: the access joins it (the core does not wait;
      // the lookahead gate above bounds how far it runs ahead).
      host = e->pending_host + off;
      merged = true;
    }
  }
  t.hit(loc, *e);
  ++seq_;
  if (merged) {
    window_.count_merge();
    DPRINTF(TLB, sim::now_ps(delay), who_.c_str(), "va={:#x} joins the walk in flight for its page", va);
    // The memo's joins print nothing: with the flag on, each goes through here.
    if (!sim::debug::TLB.enabled) remember(loc, *e, va, acc, user, e->pending_host, e->ready);
  } else {
    remember(loc, *e, va, acc, user, e->host, 0);
  }
  copy(acc, host, data, len);
  delay += hit_cost_;
  return true;
}

void Mmu::remember(const Tlb::Loc& loc, const TlbEntry& e, uint64_t va, x86::Access acc, bool user, uint8_t* host,
                   uint64_t ready) {
  if (e.size != 0 || e.host_lo != 0 || e.host_hi != 0xfff || !user) return;
  // This access type is permitted (complete_hit checked): remember the page for it.
  Memo& m = memo_slot(acc, va);
  m.key = memo_key(va, pcid_);
  m.epoch = (epoch_ & ~WalkWindow::kBusyBit) | (ready ? kMemoJoins : 0);
  m.ready = ready;
  m.host = host;
  m.stamp = loc.array->replacement().stamp(loc.set, loc.way);
  m.array = loc.array;
  m.set = static_cast<uint16_t>(loc.set);
  m.way = static_cast<uint16_t>(loc.way);
}

// ---- Control (serialising: the next access waits for every walk in flight) ----

void Mmu::flush_tlbs_va(uint64_t va, uint16_t pcid, bool include_global) {
  itlb_->flush_va(va, pcid, include_global);
  dtlb_->flush_va(va, pcid, include_global);
  if (stlb_) stlb_->flush_va(va, pcid, include_global);
}

void Mmu::flush_tlbs_pcid(uint16_t pcid, bool include_global) {
  itlb_->flush_pcid(pcid, include_global);
  dtlb_->flush_pcid(pcid, include_global);
  if (stlb_) stlb_->flush_pcid(pcid, include_global);
}

void Mmu::flush_tlbs_all(bool include_global) {
  itlb_->flush_all(include_global);
  dtlb_->flush_all(include_global);
  if (stlb_) stlb_->flush_all(include_global);
}

void Mmu::set_control(bool wp, bool nxe, bool pcide) {
  now_ = sc_core::sc_time_stamp();
  window_.serialize();
  const bool rights = wp != wp_ || nxe != nxe_;
  wp_ = wp;
  nxe_ = nxe;
  perm_control_ = TlbEntry::perm_control(wp_, nxe_);
  if (pcide_ != pcide) {
    // Changing CR4.PCIDE: the SDM requires a full flush when it goes 1 -> 0;
    // flushing on 0 -> 1 too is allowed and keeps the model simple.
    flush_tlbs_all(true);
    pwc_->flush_all();
  }
  pcide_ = pcide;
  pcid_ = pcide_ ? static_cast<uint16_t>(cr3_ & x86::CR3_PCID_MASK) : 0;
  rebase_walks();
  if (rights) {
    // Entries keep raw rights; only the fast path's precomputed bits change.
    itlb_->recompute_perm(wp_, nxe_);
    dtlb_->recompute_perm(wp_, nxe_);
    if (stlb_) stlb_->recompute_perm(wp_, nxe_);
  }
  DPRINTF(MMU, sim::now_ps(), who_.c_str(), "control wp={} nxe={} pcide={}", wp, nxe, pcide);
}

void Mmu::write_cr3(uint64_t value) {
  now_ = sc_core::sc_time_stamp();
  window_.serialize();
  ++stats.cr3_writes;
  const bool noflush = pcide_ && (value & x86::CR3_NOFLUSH);
  cr3_ = value & ~x86::CR3_NOFLUSH;
  pcid_ = pcide_ ? static_cast<uint16_t>(cr3_ & x86::CR3_PCID_MASK) : 0;
  rebase_walks();
  if (noflush) {
    ++stats.cr3_noflush;  // SDM: not required to invalidate anything
  } else if (pcide_) {
    // The new PCID's non-global TLB entries and its PWC entries; other PCIDs keep theirs.
    flush_tlbs_pcid(pcid_, false);
    pwc_->flush_pcid(pcid_);
  } else {
    // PCID 000H is the only one: every non-global entry and the whole PWC.
    flush_tlbs_all(false);
    pwc_->flush_all();
  }
  DPRINTF(MMU, sim::now_ps(), who_.c_str(), "cr3 <- {:#x} pcid={} {}", cr3_, pcid_,
          noflush ? "noflush" : "flush");
}

void Mmu::invlpg(uint64_t va) {
  now_ = sc_core::sc_time_stamp();
  window_.serialize();
  ++stats.invlpg;
  const unsigned va_bits = x86::level_shift(p_.levels + 1);
  if (!x86::is_canonical(va, va_bits)) return;  // a NOP, as on hardware
  // TLB entries for the page: the current PCID's and global ones (of any PCID).
  flush_tlbs_va(va, pcid_, true);
  // Every PWC entry of the current PCID, whatever its address.
  if (pwc_->params().invlpg_all_pcids) pwc_->flush_all();
  else pwc_->flush_pcid(pcid_);
  DPRINTF(MMU, sim::now_ps(), who_.c_str(), "invlpg va={:#x} pcid={}", va, pcid_);
}

void Mmu::invpcid(x86::InvpcidType type, uint16_t pcid, uint64_t va) {
  now_ = sc_core::sc_time_stamp();
  window_.serialize();
  ++stats.invpcid;
  switch (type) {
    case x86::InvpcidType::individual_address:
      // Non-global mappings of (pcid, va): its TLB entries and the PWC
      // entries that would be used to translate va.
      flush_tlbs_va(va, pcid, false);
      pwc_->flush_va(va, pcid);
      break;
    case x86::InvpcidType::single_context:
      flush_tlbs_pcid(pcid, false);
      pwc_->flush_pcid(pcid);
      break;
    case x86::InvpcidType::all_contexts_global:
      flush_tlbs_all(true);
      pwc_->flush_all();
      break;
    case x86::InvpcidType::all_contexts:
      flush_tlbs_all(false);
      pwc_->flush_all();
      break;
  }
  DPRINTF(MMU, sim::now_ps(), who_.c_str(), "invpcid type={} pcid={} va={:#x}", static_cast<int>(type),
          pcid, va);
}

// ---- Slow path -------------------------------------------------------------

void Mmu::rebase_walks() {
  WalkRequest& b = walk_base_;
  b = WalkRequest{};
  b.cr3 = cr3_;
  b.wp = wp_;
  b.nxe = nxe_;
  b.pcide = pcide_;
  b.levels = p_.levels;
  b.maxphyaddr = p_.maxphyaddr;
  b.start_level = p_.levels;
  b.start_table = cr3_ & x86::phys_mask(p_.maxphyaddr);
}

__attribute__((always_inline)) inline bool Mmu::walk(uint64_t va, x86::Access acc, bool user, sc_time start, sc_time& base, sc_time& done) {
  // A full walk under the current control state (walk_base_), then what
  // the paging-structure caches skip.
  WalkRequest& rq = walk_ext_.req;
  rq = walk_base_;
  rq.va = va;
  rq.access = acc;
  rq.user = user;
  now_ = start;
  const sc_time requested = start;
  pwc_->lookup(va, pcid_, rq);
  ++stats.walks;
  if (pwc_->enabled()) start += pwc_->params().latency;
  sc_time d = start > base ? start - base : SC_ZERO_TIME;
  tlm::tlm_response_status rsp = tlm::TLM_OK_RESPONSE;
  if (direct_walker_ && !*monitored_) direct_walker_->walk(rq, walk_ext_.res, d);  // as its b_transport would
  else rsp = walk_socket.transport(tlm::TLM_IGNORE_COMMAND, va, nullptr, 0, d);
  // A walker may advance SystemC time (a bus lock held by another core; the
  // RTL walker's clock): completion is relative to the time after the call.
  base = time_stamp();
  done = base + d;
  if (SIM_TRACING(Walker)) trace_walk(va, requested, done);
  return rsp == tlm::TLM_OK_RESPONSE;
}

__attribute__((always_inline)) inline void Mmu::page_entry(TlbEntry& e, uint64_t va, const WalkResult& r, sc_time start,
                                                         sc_time done) {
  // Every field from the walk's result and the MMU's state, none read back
  // from the entry being built (the fills copy it right after).
  const unsigned size = r.leaf_level - 1;
  const uint64_t bytes = size_bytes(size);
  const uint64_t pa_base = r.pa & ~(bytes - 1);
  e.size = e.page_size = static_cast<uint8_t>(size);
  e.vpn = va >> size_shift(size);
  e.pa_base = pa_base;
  e.pcid = pcid_;
  e.global = r.global;
  e.rw = r.rw;
  e.us = r.us;
  e.nx = r.nx;
  e.dirty = r.dirty;
  e.perm = TlbEntry::perm_of(r.rw, r.us, r.nx, r.dirty, perm_control_);
  // In flight after the access: the entry withholds its host pointer until
  // `done`, so that accesses to the page take the slow path and join the walk.
  const bool pending = done > start;
  e.pending = pending;
  e.ready = pending ? done.value() : 0;
  e.host = e.pending_host = nullptr;
  e.host_lo = e.host_hi = 0;
  // Host pointer through DMI, possibly covering only part of a huge page.
  if (__builtin_expect(r.pa < dmi_.start || r.pa > dmi_.end, 0) && !find_dmi(r.pa)) return;
  const uint64_t lo = std::max<uint64_t>(dmi_.start, pa_base);
  const uint64_t hi = std::min<uint64_t>(dmi_.end, pa_base + bytes - 1);
  (pending ? e.pending_host : e.host) = dmi_.host + (pa_base - dmi_.start);
  e.host_lo = static_cast<uint32_t>(lo - pa_base);
  e.host_hi = static_cast<uint32_t>(hi - pa_base);
}

bool Mmu::find_dmi(uint64_t pa) {
  const tlm::tlm_dmi* d = mem_socket.get_dmi(pa, 1, tlm::tlm_dmi::DMI_ACCESS_READ_WRITE);
  if (!d) return false;
  dmi_ = {d->get_start_address(), d->get_end_address(), d->get_dmi_ptr()};
  return true;
}

__attribute__((always_inline)) inline TlbEntry* Mmu::install(Tlb& t, const TlbEntry& page, uint64_t va, bool count_miss) {
  const unsigned size = t.fit(page.size);
  if (count_miss) t.attribute_miss(size);
  // The whole page (its permission bits were computed by page_entry()), or
  // the piece of it holding va (a fractured entry).
  TlbEntry* const in = __builtin_expect(size == page.size, 1) ? t.insert(page) : t.insert(piece(page, size, va));
  if (__builtin_expect(sim::debug::TLB.enabled, 0)) trace_fill(t, *in);
  return in;
}

TlbEntry Mmu::piece(TlbEntry page, unsigned size, uint64_t va) {
  TlbEntry e = page;
  e.size = static_cast<uint8_t>(size);
  e.vpn = va >> size_shift(size);
  const uint64_t off = e.va_base() - page.va_base();
  const uint64_t last = off + e.bytes() - 1;
  e.pa_base = page.pa_base + off;
  uint8_t* const whole = page.host ? page.host : page.pending_host;
  e.host = e.pending_host = nullptr;
  e.host_lo = e.host_hi = 0;
  if (whole && page.host_lo <= last && page.host_hi >= off) {
    uint8_t* const part = whole + off;
    (page.host ? e.host : e.pending_host) = part;
    e.host_lo = static_cast<uint32_t>(std::max<uint64_t>(page.host_lo, off) - off);
    e.host_hi = static_cast<uint32_t>(std::min<uint64_t>(page.host_hi, last) - off);
  }
  return e;
}

void Mmu::trace_fill(const Tlb& t, const TlbEntry& in) const {
  DPRINTF(TLB, sim::to_ps(now_), who_.c_str(), "fill {} va={:#x} pa={:#x} size={} pcid={}{}{}{}", t.name(), in.va_base(),
          in.pa_base, size_name(in.size), in.pcid, in.global ? " global" : "",
          in.host || in.pending_host ? "" : " no-dmi", in.pending ? " pending" : "");
}

void Mmu::raise_fault(MmuAccessExtension& ext, uint64_t va, uint32_t ec, unsigned level, sc_time when) {
  now_ = when;
  ext.outcome = AccessOutcome::page_fault;
  ext.fault_addr = va;
  ext.error_code = ec;
  ext.fault_level = level;
  ext.reason = (ec & x86::PF_RSVD) ? FaultReason::reserved_bit
               : (ec & x86::PF_P)  ? FaultReason::protection
                                   : FaultReason::not_present;
  ++stats.page_faults;
  (ext.reason == FaultReason::reserved_bit ? stats.faults_reserved
   : ext.reason == FaultReason::protection ? stats.faults_protection
                                           : stats.faults_not_present) += 1;
  // A page fault invalidates the TLB and PWC entries that would translate
  // the faulting address for the current PCID (SDM 4.10.4.2).
  flush_tlbs_va(va, pcid_, true);
  pwc_->flush_va(va, pcid_);
  DPRINTF(Fault, sim::to_ps(when), who_.c_str(), "page fault va={:#x} ec={:#x} level={} ({})", va, ec, level,
          ext.reason == FaultReason::reserved_bit ? "reserved bit"
          : ext.reason == FaultReason::protection ? "protection"
                                                  : "not present");
}

bool Mmu::data_access(const Slow& s, uint64_t pa, sc_time& delay) {
  PoisonExtension poison;
  if (mem_socket.transport(s.cmd, pa, s.data, s.len, delay, poison) == tlm::TLM_OK_RESPONSE) return true;
  MmuAccessExtension& ext = *s.ext;
  ext.outcome = AccessOutcome::machine_check;
  ext.mc_pa = poison.poisoned ? poison.pa : pa;
  ext.mc_in_walk = false;
  ext.mc_action_required = true;
  ++stats.machine_checks;
  DPRINTF(Fault, sim::now_ps(delay), who_.c_str(), "machine check on data {} pa={:#x} ({})",
          s.cmd == tlm::TLM_READ_COMMAND ? "read" : "write", pa, poison.poisoned ? "poison" : "bus error");
  return false;
}

void Mmu::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  MmuAccessExtension* ext = nullptr;
  trans.get_extension(ext);
  if (!ext) {
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  const bool answered = access(trans.get_command(), trans.get_address(), trans.get_data_ptr(),
                               trans.get_data_length(), *ext, delay);
  trans.set_response_status(answered ? tlm::TLM_OK_RESPONSE : tlm::TLM_GENERIC_ERROR_RESPONSE);
}

bool Mmu::slow_access(tlm::tlm_command cmd, uint64_t va, void* data, unsigned len, MmuAccessExtension& ext,
                      sc_time& delay, bool l1_probed) {
  return slow_path(cmd, va, data, len, ext, delay, l1_probed);
}

__attribute__((always_inline)) inline bool Mmu::slow_path(tlm::tlm_command cmd, uint64_t va, void* data, unsigned len,
                                                         MmuAccessExtension& ext, sc_time& delay, bool l1_probed) {
  ++stats.slow_accesses;
  ++seq_;
  Slow s;
  s.ext = &ext;
  s.va = va;
  s.len = len;
  s.cmd = cmd;
  s.data = static_cast<uint8_t*>(data);
  s.acc = ext.access;
  s.user = ext.user;
  s.l1 = s.acc == x86::Access::fetch ? itlb_.get() : dtlb_.get();
  s.l1_probed = l1_probed;
  ext.outcome = AccessOutcome::ok;
  s.base = time_stamp();
  s.now = s.base + delay;
  // Returns the core's time as a delay relative to SystemC time.
  auto finish = [&](sc_time now) {
    delay = now > s.base ? now - s.base : SC_ZERO_TIME;
    return s.answered;
  };

  const unsigned va_bits = x86::level_shift(p_.levels + 1);
  if (!x86::is_canonical(s.va, va_bits) || !x86::is_canonical(s.va + s.len - 1, va_bits))
    return finish(general_protection(s));
  s.now = window_.admit(s.now, seq_);
  now_ = s.now;

  TlbEntry* e = lookup(s);
  bool clean_write = false;
  if (e) {
    if (!e->allows(s.acc, s.user, wp_, nxe_)) return finish(tlb_rights_fault(s, *e));
    if (s.acc == x86::Access::write && !e->dirty) {
      ++stats.dirty_updates;  // a write through a clean entry walks to set D
      clean_write = true;
      e = nullptr;
    }
  }
  e = e ? use_entry(s, e) : join_or_walk(s, clean_write);
  if (!e) return finish(s.now);
  if (s.merged) {
    window_.count_merge();
    DPRINTF(TLB, sim::to_ps(s.now), who_.c_str(), "va={:#x} joins the walk in flight for its page", s.va);
  }
  return finish(access_data(s, *e));
}

sc_time Mmu::general_protection(Slow& s) {
  const sc_time now = window_.drain(s.now);
  s.ext->outcome = AccessOutcome::general_protection;
  s.ext->fault_addr = s.va;
  s.ext->reason = FaultReason::non_canonical;
  ++stats.gp_faults;
  DPRINTF(Fault, sim::to_ps(now), who_.c_str(), "#GP non-canonical va={:#x}", s.va);
  return now;
}

__attribute__((always_inline)) inline TlbEntry* Mmu::lookup(Slow& s) {
  Tlb& l1 = *s.l1;
  s.cost = p_.hit_latency;
  // The fast path may just have probed this L1 for this access and missed
  // (admit() since changes no TLB entry): then only the miss is counted.
  TlbEntry* e = s.l1_probed ? l1.count_miss() : l1.lookup(s.va, pcid_);
  if (e) {
    s.found_in = &l1;
    return e;
  }
  s.l1_missed = true;
  s.cost = p_.miss_latency;
  DPRINTF(TLB, sim::to_ps(s.now), who_.c_str(), "{} miss va={:#x} {} pcid={}", l1.name(), s.va, access_name(s.acc), pcid_);
  if (!stlb_) return nullptr;
  s.cost += p_.stlb_latency;
  e = stlb_->lookup(s.va, pcid_);
  if (e) {
    s.found_in = stlb_.get();
  } else {
    s.stlb_missed = true;
    DPRINTF(TLB, sim::to_ps(s.now + s.cost), who_.c_str(), "stlb miss va={:#x} pcid={}", s.va, pcid_);
  }
  return e;
}

sc_time Mmu::tlb_rights_fault(Slow& s, const TlbEntry& e) {
  // A rights fault decided from the cached translation (x86 may do so);
  // precise: the core waits for the walks in flight.
  ++stats.faults_from_tlb;
  const sc_time now = window_.drain(s.now + s.cost);
  const uint32_t ec = x86::PF_P | (s.acc == x86::Access::write ? x86::PF_W : 0) | (s.user ? x86::PF_U : 0) |
                      (s.acc == x86::Access::fetch && nxe_ ? x86::PF_I : 0);
  raise_fault(*s.ext, s.va, ec, e.page_size + 1u, now);
  return now;
}

__attribute__((always_inline)) inline TlbEntry* Mmu::use_entry(Slow& s, TlbEntry* e) {
  if (e->pending) {
    s.joined = window_.covering(s.va, pcid_);
    s.merged = s.joined != nullptr;
    if (!s.joined) {  // its walk has completed: the entry is usable from now on
      e->host = e->pending_host;
      e->pending_host = nullptr;
      e->pending = false;
    }
  }
  if (s.found_in != s.l1) e = install(*s.l1, *e, s.va, s.l1_missed);
  return e;
}

__attribute__((always_inline)) inline TlbEntry* Mmu::join_or_walk(Slow& s, bool clean_write) {
  // Maybe the page's walk is in flight (its entries were evicted, or it was
  // walked for the other L1): join it rather than walk again.
  const WalkWindow::Walk* joined = clean_write ? nullptr : window_.covering(s.va, pcid_);
  if (joined && !(joined->page.allows(s.acc, s.user, wp_, nxe_) && (s.acc != x86::Access::write || joined->page.dirty)))
    joined = nullptr;
  if (joined) {
    s.joined = joined;
    s.merged = true;
    if (stlb_) install(*stlb_, joined->page, s.va, s.stlb_missed);
    return install(*s.l1, joined->page, s.va, s.l1_missed);
  }
  // Walk. The core waits only when no walker is free.
  const sc_time start = window_.acquire(s.now + s.cost);
  s.now = start - s.cost;
  sc_time done;
  const bool answered = walk(s.va, s.acc, s.user, start, s.base, done);
  const WalkResult& r = walk_ext_.res;
  if (!answered || r.status != WalkStatus::ok) {
    s.now = walk_failed(s, answered, std::max(start, done));
    return nullptr;
  }
  now_ = done;
  pwc_->fill(walk_ext_.req, r, pcid_);
  // The page's entry is built once: in the window while its walk is in
  // flight after the access (it occupies a walker until `done`), else here;
  // the fills copy it field by field (see assign_entry).
  union Unset {  // left unset: page_entry() writes every field
    Unset() {}
    TlbEntry e;
  } local;
  TlbEntry* page = &local.e;
  if (done > start) {
    WalkWindow::Walk& w = window_.add(start, done, seq_);
    s.joined = &w;
    page = &w.page;
  }
  page_entry(*page, s.va, r, start, done);
  if (stlb_) install(*stlb_, *page, s.va, s.stlb_missed);
  return install(*s.l1, *page, s.va, s.l1_missed);
}

sc_time Mmu::walk_failed(Slow& s, bool answered, sc_time end) {
  const WalkResult& r = walk_ext_.res;
  if (!answered) {
    s.answered = false;
    return end;
  }
  const sc_time now = window_.drain(end);
  if (r.status == WalkStatus::page_fault) {
    raise_fault(*s.ext, s.va, r.error_code, r.fault_level, now);
    return now;
  }
  s.ext->outcome = AccessOutcome::machine_check;
  s.ext->mc_pa = r.mc_addr;
  s.ext->mc_in_walk = true;
  s.ext->mc_action_required = true;
  ++stats.machine_checks;
  ++stats.machine_checks_walk;
  DPRINTF(Fault, sim::to_ps(now), who_.c_str(), "machine check in walk va={:#x} pte@{:#x} ({})", s.va, r.mc_addr,
          r.mc_poison ? "poison" : "bus error");
  return now;
}

__attribute__((always_inline)) inline sc_time Mmu::access_data(Slow& s, const TlbEntry& e) {
  // The core goes on after its own costs; the access itself completes with
  // the walk it waits for (timing only: its effect is now, in program order).
  sc_time now = s.now + s.cost;
  const uint64_t off = s.va & (e.bytes() - 1);
  uint8_t* const whole = e.pending ? e.pending_host : e.host;
  uint8_t* const host = (whole && off >= e.host_lo && off + s.len - 1 <= e.host_hi) ? whole + off : nullptr;
  if (host) {
    copy(s.cmd == tlm::TLM_WRITE_COMMAND ? x86::Access::write : x86::Access::read, host, s.data, s.len);
    return now + p_.access_latency;
  }
  // No DMI (poisoned page, a lock): a blocking transaction after the walk.
  if (s.joined) now = std::max(now, s.joined->done);
  sc_time d = now > s.base ? now - s.base : SC_ZERO_TIME;
  d += p_.access_latency;
  const bool ok = data_access(s, e.pa_base + off, d);
  s.base = time_stamp();
  return ok ? s.base + d : window_.drain(s.base + d);
}

tlm::tlm_sync_enum Mmu::nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase&, sc_time&) {
  SC_REPORT_ERROR(name(), "user accesses take blocking transport only");
  trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
  return tlm::TLM_COMPLETED;
}

void Mmu::revoke_host(uint64_t start, uint64_t end) {
  dmi_ = DmiRegion{};
  itlb_->revoke_host(start, end);
  dtlb_->revoke_host(start, end);
  if (stlb_) stlb_->revoke_host(start, end);
  window_.revoke_host(start, end);
}

// ---- The timeline -----------------------------------------------------------

void Mmu::trace_walk(uint64_t va, sc_time start, sc_time done) {
  sim::trace::Sink& s = *sim::debug::Walker.trace;
  const WalkResult& r = walk_ext_.res;
  const char* outcome = r.status == WalkStatus::page_fault      ? "page fault"
                        : r.status == WalkStatus::machine_check ? "machine check"
                        : r.page_size == (1ull << 30)           ? "1G"
                        : r.page_size == (2ull << 20)           ? "2M"
                                                                : "4K";
  const uint64_t from = sim::to_ps(start), to = sim::to_ps(done);
  const unsigned start_level = walk_ext_.req.start_level;
  const unsigned last = r.status == WalkStatus::ok ? r.leaf_level : r.fault_level;
  s.complete(s.lane(trace_process_, "walker", from, to), "Walker", "walk", from, to,
             {{"va", va, sim::trace::Arg::hex},
              {"levels", last && last <= start_level ? start_level - last + 1 : 0},
              {"reads", r.mem_reads},
              {"pwc_levels_skipped", p_.levels - start_level},
              {"outcome", outcome}});
}

}  // namespace hw
