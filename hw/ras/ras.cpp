#include "hw/ras/ras.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "hw/base/debug.h"
#include "hw/base/time.h"

SIM_DEBUG_FLAG(RAS, "machine-check banks, CMCI, the patrol scrubber and scheduled error injection; the firmware's corrected-error collector (its entries, ageing and soft offlines)")

namespace hw {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;
using namespace x86;

Ras::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "ras") {}

Ras::Params Ras::read_params(sim::ConfigNode ras, unsigned cpus, const std::function<bool(uint64_t)>& is_dram) {
  Params p;
  p.scrub_period = sim::from_ps(
      ras.get<sim::Duration>("scrub_period", {0},
                             "Patrol scrubber: time to scrub one 64-byte line of DRAM (0: no scrubber)")
          .ps);
  p.scrub_cmci = ras.get_enum("scrub_signal", "mce", {"mce", "cmci"},
                              "How the scrubber reports an uncorrected find: mce (SRAO, S=1, through #MC) or "
                              "cmci (UCNA, S=0, through CMCI); MCACOD 0xC0 either way") == "cmci";
  p.cmci_threshold = ras.get<unsigned>(
      "cmci_threshold", 1, "Corrected errors a bank counts before it raises CMCI (MCi_CTL2 threshold; 0: no CMCI)");
  if (p.cmci_threshold > MCI_CTL2_CMCI_THRESHOLD_MASK)
    ras.fail("cmci_threshold", fmt::format("at most {} (15 bits)", MCI_CTL2_CMCI_THRESHOLD_MASK));
  p.signal_cpu = ras.get<unsigned>("signal_cpu", 0, "CPU that takes the memory controller's #MC and CMCI");
  if (p.signal_cpu >= cpus) ras.fail("signal_cpu", fmt::format("CPU {} does not exist", p.signal_cpu));
  for (sim::ConfigNode n : ras.list("inject", "Errors injected at a time: {pa: physical address, error: uc|ce, "
                                              "at: time}")) {
    Injection i;
    i.pa = n.require<uint64_t>("pa", "Physical address (its 64-byte line gets the error)");
    if (!is_dram(i.pa)) n.fail("pa", fmt::format("{:#x} is not DRAM", i.pa));
    i.uc = n.get_enum("error", "uc", {"uc", "ce"}, "uc: uncorrected (poison); ce: correctable") == "uc";
    i.at = sim::from_ps(n.get<sim::Duration>("at", {0}, "When to inject").ps);
    p.inject.push_back(i);
  }
  return p;
}

Ras::Ras(sc_core::sc_module_name name, const Params& params, unsigned cpus, std::vector<Dram*> drams,
         sim::IrqSink* irq, sim::stats::Group* stats_parent)
    : sc_module(name),
      stats(stats_parent),
      p_(params),
      drams_(std::move(drams)),
      irq_(irq),
      core_banks_(cpus),
      mcg_status_(cpus, 0),
      sinks_(cpus, nullptr),
      pending_(cpus) {
  const uint64_t ctl2 = p_.cmci_threshold ? (MCI_CTL2_CMCI_EN | p_.cmci_threshold) : 0;
  for (auto& banks : core_banks_)
    for (McaBank& b : banks) b.ctl2 = ctl2;
  memory_bank_.ctl2 = ctl2;
  for (Dram* d : drams_) d->set_error_sink(this);
  if (p_.scrub_period != SC_ZERO_TIME) SC_THREAD(scrub_thread);
  if (!p_.inject.empty()) SC_THREAD(inject_thread);
  register_commands();
}

Ras::~Ras() {
  for (Dram* d : drams_) d->set_error_sink(nullptr);  // DRAM may outlive this model
}

void Ras::connect(unsigned cpu, MachineCheckSink* sink) { sinks_.at(cpu) = sink; }

uint64_t Ras::mcg_cap() const { return kBanks | MCG_CMCI_P | MCG_SER_P; }

McaBank& Ras::bank_ref(unsigned cpu, unsigned b) {
  return b == kBankMemory ? memory_bank_ : core_banks_.at(cpu).at(b);
}

const McaBank& Ras::bank(unsigned cpu, unsigned b) const {
  return b == kBankMemory ? memory_bank_ : core_banks_.at(cpu).at(b);
}

void Ras::keep(const McaRecord& r) {
  records_.push_back(r);
  if (records_.size() > kKeptRecords) records_.pop_front();
}

McaRecord Ras::log(unsigned cpu, unsigned b, const McaError& e) {
  McaBank& bank = bank_ref(cpu, b);
  if (bank.valid()) ++stats.overflows;
  const bool cmci = bank.log(e);
  if (!e.uc) ++stats.ce_logged;
  McaRecord r;
  r.cpu = cpu;
  r.bank = b;
  r.mcg_status = mcg_status_[cpu];
  r.status = bank.status;
  r.addr = bank.addr;
  r.misc = bank.misc;
  r.time_ps = sim::now_ps();
  keep(r);
  DPRINTF(RAS, r.time_ps, who_.c_str(), "cpu{} bank {}: status {:#018x} addr {:#x}", cpu, b, r.status, r.addr);
  if (cmci) {
    ++stats.cmci;
    DPRINTF(RAS, r.time_ps, who_.c_str(), "bank {} reached its CMCI threshold: CMCI to cpu{}", b, p_.signal_cpu);
    irq_->raise_irq(p_.signal_cpu, VEC_CMCI);
  }
  return r;
}

McaRecord Ras::consume(unsigned cpu, uint64_t pa, Consumer what) {
  ++stats.uc_consumed;
  McaError e;
  e.uc = e.s = e.ar = true;  // SRAR: the access cannot complete without recovery
  e.mcacod = what == Consumer::instruction_fetch ? MCACOD_INSTR : MCACOD_DATA;
  e.addr = pa;
  e.addrv = true;
  if (mcg_status_.at(cpu) & MCG_STATUS_MCIP) ++stats.nested_mc;  // the SDM shuts such a CPU down; see docs/ras.md
  // The access is retried after recovery (RIPV), and the IP is the one that erred (EIPV).
  mcg_status_[cpu] = MCG_STATUS_MCIP | MCG_STATUS_EIPV | MCG_STATUS_RIPV;
  const unsigned b = what == Consumer::instruction_fetch ? kBankFetch : kBankData;
  return log(cpu, b, e);
}

bool Ras::take_pending(unsigned cpu, McaRecord& out) {
  if (cpu >= pending_.size() || pending_[cpu].empty()) return false;
  out = pending_[cpu].front();
  pending_[cpu].pop_front();
  return true;
}

bool Ras::rdmsr(unsigned cpu, uint32_t msr, uint64_t& value) const {
  if (cpu >= mcg_status_.size()) return false;
  if (msr == MSR_IA32_MCG_CAP) {
    value = mcg_cap();
    return true;
  }
  if (msr == MSR_IA32_MCG_STATUS) {
    value = mcg_status_[cpu];
    return true;
  }
  if (msr >= MSR_IA32_MC0_CTL2 && msr < MSR_IA32_MC0_CTL2 + kBanks) {
    value = bank(cpu, msr - MSR_IA32_MC0_CTL2).ctl2;
    return true;
  }
  if (msr < MSR_IA32_MC0_CTL || msr >= msr_mc_ctl(kBanks)) return false;
  const McaBank& b = bank(cpu, (msr - MSR_IA32_MC0_CTL) / 4);
  const uint64_t regs[] = {b.ctl, b.status, b.addr, b.misc};
  value = regs[(msr - MSR_IA32_MC0_CTL) % 4];
  return true;
}

bool Ras::wrmsr(unsigned cpu, uint32_t msr, uint64_t value) {
  if (cpu >= mcg_status_.size()) return false;
  if (msr == MSR_IA32_MCG_STATUS) {
    mcg_status_[cpu] = value & (MCG_STATUS_RIPV | MCG_STATUS_EIPV | MCG_STATUS_MCIP);
    return true;
  }
  if (msr >= MSR_IA32_MC0_CTL2 && msr < MSR_IA32_MC0_CTL2 + kBanks) {
    bank_ref(cpu, msr - MSR_IA32_MC0_CTL2).ctl2 = value & (MCI_CTL2_CMCI_EN | MCI_CTL2_CMCI_THRESHOLD_MASK);
    return true;
  }
  if (msr < MSR_IA32_MC0_CTL || msr >= msr_mc_ctl(kBanks)) return false;
  McaBank& b = bank_ref(cpu, (msr - MSR_IA32_MC0_CTL) / 4);
  switch ((msr - MSR_IA32_MC0_CTL) % 4) {
    case 0: b.ctl = value; return true;
    case 1:
      // Only clearing is architectural (a write of 1s would #GP without MCG_CAP injection support).
      if (value != 0) return false;
      b.clear();
      return true;
    case 2: b.addr = value; return true;
    default: b.misc = value; return true;
  }
}

void Ras::corrected_read(uint64_t line_pa) {
  McaError e;
  e.mcacod = MCACOD_MEM_READ;
  e.addr = line_pa;
  e.addrv = true;
  log(p_.signal_cpu, kBankMemory, e);
}

// ---- Scheduled injection ----------------------------------------------------------

void Ras::inject_thread() {
  std::vector<Injection> todo = p_.inject;
  std::stable_sort(todo.begin(), todo.end(), [](const Injection& a, const Injection& b) { return a.at < b.at; });
  for (const Injection& i : todo) {
    if (i.at > sc_core::sc_time_stamp()) sc_core::wait(i.at - sc_core::sc_time_stamp());
    inject(i.pa, i.uc, "platform.ras.inject");
    ++stats.injected;
  }
}

bool Ras::inject(uint64_t pa, bool uc, const char* by) {
  for (Dram* d : drams_) {
    if (!d->contains(pa)) continue;
    uc ? d->inject_poison(pa) : d->inject_corrected(pa);
    DPRINTF(RAS, sim::now_ps(), who_.c_str(), "{}: injected a{} error at {:#x}", by, uc ? "n uncorrected" : " correctable",
            pa);
    return true;
  }
  return false;
}

// ---- The patrol scrubber ----------------------------------------------------------

uint64_t Ras::total_lines() const {
  uint64_t n = 0;
  for (Dram* d : drams_) n += d->size() / Dram::kLine;
  return n;
}

uint64_t Ras::line_pa(uint64_t index) const {
  for (Dram* d : drams_) {
    const uint64_t n = d->size() / Dram::kLine;
    if (index < n) return d->base() + index * Dram::kLine;
    index -= n;
  }
  return 0;
}

bool Ras::next_error_line(uint64_t from, uint64_t& index) const {
  // The nearest error line at or after `from` in walk order, wrapping once.
  bool found = false;
  uint64_t best = 0, first = 0;  // distance from `from`; node's first index
  const uint64_t total = total_lines();
  for (Dram* d : drams_) {
    for (const auto* lines : {&d->poisoned_lines(), &d->corrected_lines()}) {
      if (lines->empty()) continue;
      const uint64_t start_pa = from >= first ? d->base() + (from - first) * Dram::kLine : d->base();
      auto it = lines->lower_bound(start_pa);
      if (it == lines->end()) it = lines->begin();  // wraps
      const uint64_t idx = first + (*it - d->base()) / Dram::kLine;
      const uint64_t dist = (idx + total - from) % total;
      if (!found || dist < best) best = dist, found = true;
    }
    first += d->size() / Dram::kLine;
  }
  if (found) index = (from + best) % total;
  return found;
}

void Ras::scrub_line(uint64_t pa) {
  Dram* d = nullptr;
  for (Dram* x : drams_)
    if (x->contains(pa)) d = x;
  McaError e;
  e.mcacod = MCACOD_SCRUB;
  e.addr = pa;
  e.addrv = true;
  if (d->is_poisoned(pa, Dram::kLine)) {
    // Found, not consumed: SRAO through #MC, or UCNA through CMCI.
    ++stats.scrub_uc;
    e.uc = true;
    e.s = !p_.scrub_cmci;
    const unsigned cpu = p_.signal_cpu;
    if (e.s) mcg_status_[cpu] = MCG_STATUS_MCIP | MCG_STATUS_RIPV;  // not tied to any instruction: EIPV clear
    const McaRecord r = log(cpu, kBankMemory, e);
    DPRINTF(RAS, sim::now_ps(), who_.c_str(), "scrubber found an uncorrected error at {:#x}", pa);
    if (e.s) {
      ++stats.async_mc;
      pending_[cpu].push_back(r);
      if (sinks_[cpu]) sinks_[cpu]->raise_machine_check();
    } else {
      ++stats.cmci;
      irq_->raise_irq(cpu, VEC_CMCI);
    }
    return;
  }
  // A correctable error: the scrubber writes the corrected line back.
  ++stats.scrub_ce;
  d->clear_poison(pa);
  DPRINTF(RAS, sim::now_ps(), who_.c_str(), "scrubber corrected the line at {:#x}", pa);
  log(p_.signal_cpu, kBankMemory, e);
}

void Ras::scrub_thread() {
  // The scrubber reads one line every scrub_period, in address order, and
  // wraps. Reading a clean line changes nothing, so the thread sleeps until
  // the next line holding an error and accounts the lines passed on the way.
  const uint64_t total = total_lines();
  const sc_time period = p_.scrub_period;
  uint64_t cursor = 0;     // the next line to read
  sc_time at = SC_ZERO_TIME;  // when it is read
  auto advance = [&](uint64_t lines) {
    stats.scrub_lines += lines;
    stats.scrub_passes += (cursor + lines) / total;
    cursor = (cursor + lines) % total;
    at += sim::from_ps(sim::to_ps(period) * lines);
  };
  for (;;) {
    uint64_t target = 0;
    if (!next_error_line(cursor, target)) {
      sc_core::wait(replan_);
    } else {
      const uint64_t dist = (target + total - cursor) % total;
      const sc_time due = at + sim::from_ps(sim::to_ps(period) * dist);
      if (due > sc_core::sc_time_stamp()) sc_core::wait(due - sc_core::sc_time_stamp(), replan_);
      if (sc_core::sc_time_stamp() >= due) {
        advance(dist + 1);
        scrub_line(line_pa(target));
        continue;
      }
    }
    // Woken early by an injection or a clear: catch up to now, then re-plan.
    const sc_time now = sc_core::sc_time_stamp();
    if (now > at) advance(sim::to_ps(now - at) / sim::to_ps(period));
  }
}

}  // namespace hw
