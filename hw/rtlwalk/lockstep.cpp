#include "hw/rtlwalk/lockstep.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "hw/base/debug.h"
#include "hw/base/time.h"
#include "hw/ext/memory.h"

SIM_DEBUG_FLAG(Lockstep, "walks compared between the TLM and RTL walkers")

namespace hw {

using sc_core::sc_time;

namespace {

// The access `trans` makes (its value: the data, read or written).
WalkAccess access_of(const tlm::tlm_generic_payload& trans) {
  WalkAccess a;
  a.addr = trans.get_address();
  a.write = trans.is_write();
  LockExtension* lock = nullptr;
  trans.get_extension(lock);
  a.lock = lock != nullptr;
  std::memcpy(&a.value, trans.get_data_ptr(), std::min<unsigned>(8, trans.get_data_length()));
  return a;
}

}  // namespace

// ---- WalkRecorder ---------------------------------------------------------------

WalkRecorder::WalkRecorder(sc_core::sc_module_name name)
    : sc_module(name), from_walker("from_walker"), to_memory("to_memory") {
  from_walker.register_b_transport(this, &WalkRecorder::b_transport);
  from_walker.register_get_direct_mem_ptr(this, &WalkRecorder::get_direct_mem_ptr);
}

void WalkRecorder::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  const sc_time before = delay;
  forward(trans, delay);
  trans.set_dmi_allowed(false);
  WalkAccess a = access_of(trans);
  PoisonExtension* poison = nullptr;
  trans.get_extension(poison);
  if (poison && poison->poisoned) a.outcome = WalkAccess::Outcome::poison;
  else if (!trans.is_response_ok()) a.outcome = WalkAccess::Outcome::error;
  if (!a.write && a.outcome != WalkAccess::Outcome::ok) a.value = 0;  // the data of a failed read is not valid
  // A wait for another initiator's lock restarts the annotation.
  a.latency = delay >= before ? delay - before : delay;
  accesses.push_back(a);
}

bool WalkRecorder::read(uint64_t addr, uint64_t* data, sc_time& t) {
  const sc_time before = t;
  if (!to_memory.dmi_read(addr, data, 8, t)) return false;
  WalkAccess a;
  a.addr = addr;
  a.value = *data;
  a.latency = t - before;
  accesses.push_back(a);
  return true;
}

void WalkRecorder::forward(tlm::tlm_generic_payload& trans, sc_time& delay) {
  // A plain read (no bus lock) through DMI where memory granted it, as the
  // walker does when it faces memory itself: the value and latency of the
  // transaction, and no poison (memory withholds DMI from poisoned pages
  // and locked lines, whose reads stay transactions).
  LockExtension* lock = nullptr;
  trans.get_extension(lock);
  const bool plain_read = trans.is_read() && !lock;
  if (plain_read && to_memory.dmi_read(trans.get_address(), trans.get_data_ptr(), trans.get_data_length(), delay)) {
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
    return;
  }
  to_memory->b_transport(trans, delay);
  if (plain_read) to_memory.request_dmi_if_allowed(trans);
}

// ---- WalkReplay -----------------------------------------------------------------

WalkReplay::WalkReplay(sc_core::sc_module_name name) : sc_module(name), from_walker("from_walker") {
  from_walker.register_b_transport(this, &WalkReplay::b_transport);
  from_walker.register_get_direct_mem_ptr(this, &WalkReplay::get_direct_mem_ptr);
}

void WalkReplay::start(const std::vector<WalkAccess>& record) {
  record_ = &record;
  accesses.clear();
}

void WalkReplay::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  trans.set_dmi_allowed(false);
  WalkAccess a = access_of(trans);
  const size_t n = accesses.size();
  const WalkAccess* rec = record_ && n < record_->size() ? &(*record_)[n] : nullptr;
  if (rec && (rec->addr != a.addr || rec->write != a.write || rec->lock != a.lock)) rec = nullptr;
  if (!rec) {
    a.outcome = WalkAccess::Outcome::error;
    if (!a.write) a.value = 0;
  } else {
    delay += rec->latency;
    a.latency = rec->latency;
    if (!a.write) {
      a.outcome = rec->outcome;
      a.value = rec->value;
      if (trans.get_data_length() == 8) std::memcpy(trans.get_data_ptr(), &a.value, 8);
      PoisonExtension* poison = nullptr;
      trans.get_extension(poison);
      if (poison && a.outcome == WalkAccess::Outcome::poison) {
        poison->poisoned = true;
        poison->pa = a.addr;
        poison->action_required = true;
      }
    }
  }
  trans.set_response_status(a.outcome == WalkAccess::Outcome::ok ? tlm::TLM_OK_RESPONSE
                                                                  : tlm::TLM_GENERIC_ERROR_RESPONSE);
  accesses.push_back(a);
}

// ---- LockstepWalker -----------------------------------------------------------

LockstepWalker::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "lockstep") {}

LockstepWalker::LockstepWalker(sc_core::sc_module_name name, WalkRecorder& recorder, WalkReplay& replay,
                               sim::stats::Group* stats_parent)
    : sc_module(name), walk_socket("walk_socket"), to_tlm("to_tlm"), to_rtl("to_rtl"), stats(stats_parent),
      recorder_(recorder), replay_(replay) {
  walk_socket.register_b_transport(this, &LockstepWalker::b_transport);
  to_tlm.attach(tlm_ext_);
}

std::string LockstepWalker::describe(const WalkRequest& r) {
  return fmt::format("va={:#x} {} {} cr3={:#x} wp={} nxe={} levels={} maxphyaddr={} start=L{} table={:#x} "
                     "acc(rw={} us={} nx={})",
                     r.va, r.access == x86::Access::write ? "write" : r.access == x86::Access::fetch ? "fetch" : "read",
                     r.user ? "user" : "supervisor", r.cr3, r.wp, r.nxe, r.levels, r.maxphyaddr, r.start_level,
                     r.start_table, r.acc_rw, r.acc_us, r.acc_nx);
}

std::string LockstepWalker::differences(const WalkResult& t, const WalkResult& r,
                                        const std::vector<WalkAccess>& ta, const std::vector<WalkAccess>& ra) {
  std::string out;
  // Runs on every walk: a per-level name ("pte_addr[3]") is formatted only
  // for a field that differs.
  auto field = [&](const char* name, uint64_t a, uint64_t b, int level = -1) {
    if (a == b) return;
    const std::string label = level < 0 ? std::string(name) : fmt::format("{}[{}]", name, level);
    out += fmt::format("  {:<16} tlm {:#x}  rtl {:#x}\n", label, a, b);
  };
  field("status", static_cast<uint64_t>(t.status), static_cast<uint64_t>(r.status));
  field("pa", t.pa, r.pa);
  field("page_size", t.page_size, r.page_size);
  field("leaf_level", t.leaf_level, r.leaf_level);
  field("rw", t.rw, r.rw);
  field("us", t.us, r.us);
  field("nx", t.nx, r.nx);
  field("global", t.global, r.global);
  field("dirty", t.dirty, r.dirty);
  field("memtype", t.memtype, r.memtype);
  field("error_code", t.error_code, r.error_code);
  field("fault_level", t.fault_level, r.fault_level);
  field("fault_pte_addr", t.fault_pte_addr, r.fault_pte_addr);
  field("mc_addr", t.mc_addr, r.mc_addr);
  field("mc_poison", t.mc_poison, r.mc_poison);
  for (unsigned l = 1; l <= kMaxLevels; ++l) {
    field("pte_valid", t.pte_valid[l], r.pte_valid[l], static_cast<int>(l));
    field("pte_addr", t.pte_addr[l], r.pte_addr[l], static_cast<int>(l));
    field("pte_value", t.pte_value[l], r.pte_value[l], static_cast<int>(l));
  }
  field("mem_reads", t.mem_reads, r.mem_reads);
  field("mem_writes", t.mem_writes, r.mem_writes);
  field("restarts", t.restarts, r.restarts);
  if (ta != ra) out += "  the page-table accesses differ (listed below)\n";
  return out;
}

void LockstepWalker::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  WalkExtension* ext = nullptr;
  trans.get_extension(ext);
  if (!ext) {
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  // The RTL walker first, for real: its accesses are recorded, its timing is
  // the walk's. Then the TLM walker on the recorded page-table contents.
  recorder_.accesses.clear();
  const auto t0 = std::chrono::steady_clock::now();
  to_rtl->b_transport(trans, delay);
  const auto t1 = std::chrono::steady_clock::now();
  tlm_ext_.req = ext->req;
  replay_.start(recorder_.accesses);
  sc_time tlm_delay = sc_core::SC_ZERO_TIME;
  to_tlm.transport(tlm::TLM_IGNORE_COMMAND, trans.get_address(), nullptr, 0, tlm_delay);
  rtl_host_ += t1 - t0;
  tlm_host_ += std::chrono::steady_clock::now() - t1;
  ++stats.compared;

  const std::string diff = differences(tlm_ext_.res, ext->res, replay_.accesses, recorder_.accesses);
  DPRINTF(Lockstep, sim::now_ps(), who_.c_str(), "walk {} va={:#x}: {}", stats.compared.value(), ext->req.va,
          diff.empty() ? "same" : "DIFFERENT");
  if (diff.empty()) return;
  ++stats.mismatches;
  report(ext->req, ext->res, diff);
}

void LockstepWalker::report(const WalkRequest& req, const WalkResult& rtl, const std::string& diff) {
  // The whole story, then stop the run.
  std::string msg = fmt::format("{}: the TLM and RTL walkers disagree on walk {}\n  request: {}\n", name(),
                                stats.compared.value(), describe(req));
  msg += diff;
  auto dump = [&](const char* who, const WalkResult& r, const std::vector<WalkAccess>& accesses) {
    msg += fmt::format("  {}: status {} pa {:#x} size {:#x} rw {} us {} nx {} g {} d {} ec {:#x} level {}\n", who,
                       static_cast<int>(r.status), r.pa, r.page_size, r.rw, r.us, r.nx, r.global, r.dirty,
                       r.error_code, r.fault_level);
    for (unsigned l = kMaxLevels; l >= 1; --l)
      if (r.pte_valid[l]) msg += fmt::format("    L{} entry at {:#x} = {:#018x}\n", l, r.pte_addr[l], r.pte_value[l]);
    for (const WalkAccess& a : accesses) {
      static const char* const outcome[] = {"", " error", " poison"};
      msg += fmt::format("    {} {:#018x} at {:#x}{}{}\n", a.write ? "wrote" : "read ", a.value, a.addr,
                         a.lock ? (a.write ? " (unlock)" : " (lock)") : "", outcome[static_cast<int>(a.outcome)]);
    }
  };
  dump("tlm", tlm_ext_.res, replay_.accesses);
  dump("rtl", rtl, recorder_.accesses);
  if (!msg.empty() && msg.back() == '\n') msg.pop_back();
  throw std::runtime_error(msg);
}

}  // namespace hw
