#include "hw/rtlwalk/lockstep.h"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "hw/base/debug.h"
#include "hw/base/time.h"
#include "hw/ext/memory.h"

SIM_DEBUG_FLAG(Lockstep, "walks compared between the TLM and RTL walkers")

namespace hw {

using sc_core::sc_time;

// ---- WritePort ----------------------------------------------------------------

WritePort::WritePort(sc_core::sc_module_name name, bool dry)
    : sc_module(name), from_walker("from_walker"), to_memory("to_memory"), dry_(dry) {
  from_walker.register_b_transport(this, &WritePort::b_transport);
  from_walker.register_get_direct_mem_ptr(this, &WritePort::get_direct_mem_ptr);
}

void WritePort::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  LockExtension* lock = nullptr;
  trans.get_extension(lock);
  const uint64_t addr = trans.get_address();
  if (trans.is_write()) {
    Write w;
    w.addr = addr;
    std::memcpy(&w.value, trans.get_data_ptr(), std::min<unsigned>(8, trans.get_data_length()));
    w.unlock = lock && lock->op == LockExtension::Op::unlock_write;
    writes.push_back(w);
    if (dry_) {
      trans.set_response_status(tlm::TLM_OK_RESPONSE);
      trans.set_dmi_allowed(false);
      return;
    }
  }
  // A dry walk takes no lock: the real walk that follows does.
  if (dry_ && lock) trans.clear_extension(lock);
  to_memory->b_transport(trans, delay);
  if (dry_ && lock) trans.set_extension(lock);
  trans.set_dmi_allowed(false);
  if (dry_ && trans.is_read() && trans.is_response_ok() && trans.get_data_length() == 8) {
    // Reads see this walk's own (unapplied) writes, latest first.
    for (auto it = writes.rbegin(); it != writes.rend(); ++it) {
      if (it->addr == addr) {
        std::memcpy(trans.get_data_ptr(), &it->value, 8);
        break;
      }
    }
  }
}

// ---- LockstepWalker -----------------------------------------------------------

LockstepWalker::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "lockstep") {}

LockstepWalker::LockstepWalker(sc_core::sc_module_name name, WritePort& tlm_port, WritePort& rtl_port,
                               sim::stats::Group* stats_parent)
    : sc_module(name), walk_socket("walk_socket"), to_tlm("to_tlm"), to_rtl("to_rtl"), stats(stats_parent),
      tlm_port_(tlm_port), rtl_port_(rtl_port) {
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
                                        const std::vector<WritePort::Write>& tw,
                                        const std::vector<WritePort::Write>& rw) {
  std::string out;
  auto field = [&](const char* name, uint64_t a, uint64_t b) {
    if (a != b) out += fmt::format("  {:<16} tlm {:#x}  rtl {:#x}\n", name, a, b);
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
    field(fmt::format("pte_valid[{}]", l).c_str(), t.pte_valid[l], r.pte_valid[l]);
    field(fmt::format("pte_addr[{}]", l).c_str(), t.pte_addr[l], r.pte_addr[l]);
    field(fmt::format("pte_value[{}]", l).c_str(), t.pte_value[l], r.pte_value[l]);
  }
  field("mem_reads", t.mem_reads, r.mem_reads);
  field("mem_writes", t.mem_writes, r.mem_writes);
  field("restarts", t.restarts, r.restarts);
  if (tw != rw) out += "  the A/D writes differ (listed below)\n";
  return out;
}

void LockstepWalker::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  WalkExtension* ext = nullptr;
  trans.get_extension(ext);
  if (!ext) {
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  // The TLM walker first, on the dry view; its latency is not the walk's.
  tlm_ext_.req = ext->req;
  tlm_port_.writes.clear();
  rtl_port_.writes.clear();
  sc_time tlm_delay = sc_core::SC_ZERO_TIME;
  const auto t0 = std::chrono::steady_clock::now();
  to_tlm.transport(tlm::TLM_IGNORE_COMMAND, trans.get_address(), nullptr, 0, tlm_delay);
  const auto t1 = std::chrono::steady_clock::now();
  to_rtl->b_transport(trans, delay);
  tlm_host_ += t1 - t0;
  rtl_host_ += std::chrono::steady_clock::now() - t1;
  ++stats.compared;

  const std::string diff = differences(tlm_ext_.res, ext->res, tlm_port_.writes, rtl_port_.writes);
  DPRINTF(Lockstep, sim::now_ps(), name(),
          "walk {} va={:#x}: {}", stats.compared.value(), ext->req.va, diff.empty() ? "same" : "DIFFERENT");
  if (diff.empty()) return;
  ++stats.mismatches;
  // The whole story, then stop the run.
  std::string msg = fmt::format("{}: the TLM and RTL walkers disagree on walk {}\n  request: {}\n", name(),
                                stats.compared.value(), describe(ext->req));
  msg += diff;
  auto dump = [&](const char* who, const WalkResult& r, const std::vector<WritePort::Write>& w) {
    msg += fmt::format("  {}: status {} pa {:#x} size {:#x} rw {} us {} nx {} g {} d {} ec {:#x} level {}\n", who,
                       static_cast<int>(r.status), r.pa, r.page_size, r.rw, r.us, r.nx, r.global, r.dirty,
                       r.error_code, r.fault_level);
    for (unsigned l = kMaxLevels; l >= 1; --l)
      if (r.pte_valid[l]) msg += fmt::format("    L{} entry at {:#x} = {:#018x}\n", l, r.pte_addr[l], r.pte_value[l]);
    for (const WritePort::Write& x : w)
      msg += fmt::format("    wrote {:#018x} at {:#x}{}\n", x.value, x.addr, x.unlock ? " (unlock)" : "");
  };
  dump("tlm", tlm_ext_.res, tlm_port_.writes);
  dump("rtl", ext->res, rtl_port_.writes);
  if (!msg.empty() && msg.back() == '\n') msg.pop_back();
  throw std::runtime_error(msg);
}

}  // namespace hw
