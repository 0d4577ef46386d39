// The platform's reliability (RAS) model: the machine-check banks of every CPU
// (bank 0 data unit: loads and page-walk reads, bank 1 instruction-fetch
// unit) and the memory controller's bank shared by all CPUs (bank 2:
// corrected reads, patrol-scrub finds), laid out as the Intel SDM says
// (hw/ras/mca.h); the patrol scrubber that walks DRAM line by line at
// `platform.ras.scrub_period` per line; CMCI through the interrupt controller
// when a bank's corrected-error count reaches its CMCI threshold; and the
// scheduled injections of `platform.ras.inject`.
//
// Who calls it: a core consuming an uncorrected error asks consume() for the
// record it delivers as #MC (hw/cpu/core.cpp); a core takes the #MC the
// scrubber signals with take_pending(); the firmware reads and clears the
// banks through the core's rdmsr/wrmsr; DRAM reports corrected reads and
// injections (hw::MemoryErrorSink). The platform wires it (hw/platform).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include <systemc>

#include "hw/base/command.h"
#include "hw/base/config.h"
#include "hw/base/device.h"
#include "hw/base/stats.h"
#include "hw/ext/memory.h"
#include "hw/mem/dram.h"
#include "hw/ras/mca.h"

namespace hw {

// A CPU that can take an asynchronous machine check (the scrubber's SRAO).
class MachineCheckSink {
 public:
  virtual void raise_machine_check() = 0;

 protected:
  ~MachineCheckSink() = default;
};

// What consumed an uncorrected error.
enum class Consumer : uint8_t { data_load, instruction_fetch, page_walk };

// One machine-check record: the registers software reads for one error.
struct McaRecord {
  unsigned cpu = 0;
  unsigned bank = 0;
  uint64_t mcg_status = 0, status = 0, addr = 0, misc = 0;
  uint64_t time_ps = 0;
};

class Ras : public sc_core::sc_module, public MemoryErrorSink {
 public:
  static constexpr unsigned kBankData = 0;     // per CPU: data loads, page-walk reads
  static constexpr unsigned kBankFetch = 1;    // per CPU: instruction fetches
  static constexpr unsigned kBankMemory = 2;   // shared: the memory controller
  static constexpr unsigned kBanks = 3;
  static constexpr size_t kKeptRecords = 16;   // the monitor's `mce` shows the last ones

  struct Injection {
    uint64_t pa = 0;
    bool uc = true;
    sc_core::sc_time at = sc_core::SC_ZERO_TIME;
  };
  struct Params {
    sc_core::sc_time scrub_period = sc_core::SC_ZERO_TIME;  // per 64-byte line; zero: no scrubber
    bool scrub_cmci = false;          // report scrub finds as UCNA through CMCI instead of SRAO through #MC
    unsigned cmci_threshold = 1;      // MCi_CTL2 threshold of every bank at reset
    unsigned signal_cpu = 0;          // the CPU that takes the memory controller's #MC and CMCI
    std::vector<Injection> inject;    // scheduled injections
  };
  // Reads `platform.ras`: the CPU count bounds signal_cpu, `is_dram` says
  // which physical addresses an injection may name.
  static Params read_params(sim::ConfigNode ras, unsigned cpus, const std::function<bool(uint64_t)>& is_dram);

  SC_HAS_PROCESS(Ras);
  Ras(sc_core::sc_module_name name, const Params& params, unsigned cpus, std::vector<Dram*> drams,
      sim::IrqSink* irq, sim::stats::Group* stats_parent);
  ~Ras() override;

  void connect(unsigned cpu, MachineCheckSink* sink);

  // An uncorrected error consumed by `cpu`: logs it in that CPU's bank and
  // returns the record the #MC delivers (MCG_STATUS: MCIP, EIPV, and RIPV
  // when the access can be restarted after recovery).
  McaRecord consume(unsigned cpu, uint64_t pa, Consumer what);
  // Injects an uncorrected (`uc`) or correctable error in the line of `pa`
  // now (a scheduled injection's time, or ACPI EINJ from the firmware
  // through a core): the DRAM holding it revokes the page's DMI. Returns
  // false when `pa` is not DRAM.
  bool inject(uint64_t pa, bool uc, const char* by);
  // The asynchronous #MC pending for `cpu` (a scrub find), if any.
  bool take_pending(unsigned cpu, McaRecord& out);

  // The MCA MSRs of `cpu` (the memory bank is the same for every CPU).
  // False for an MSR this platform does not implement (on hardware, #GP).
  bool rdmsr(unsigned cpu, uint32_t msr, uint64_t& value) const;
  bool wrmsr(unsigned cpu, uint32_t msr, uint64_t value);

  const McaBank& bank(unsigned cpu, unsigned b) const;
  const std::deque<McaRecord>& records() const { return records_; }
  uint64_t mcg_cap() const;

  // ---- MemoryErrorSink (DRAM) ----
  void corrected_read(uint64_t line_pa) override;
  void errors_changed() override { replan_.notify(sc_core::SC_ZERO_TIME); }

  struct Stats : sim::stats::Group {
    explicit Stats(sim::stats::Group* parent);
    sim::stats::Scalar uc_consumed{this, "ucConsumed", "Uncorrected errors consumed (logged, #MC raised)", "Count"};
    sim::stats::Scalar ce_logged{this, "ceLogged", "Corrected errors logged in a bank", "Count"};
    sim::stats::Scalar overflows{this, "overflows", "Errors logged in a bank that held one (OVER set)", "Count"};
    sim::stats::Scalar cmci{this, "cmci", "Corrected machine-check interrupts raised", "Count"};
    sim::stats::Scalar async_mc{this, "asyncMachineChecks", "Machine checks signalled by the scrubber (SRAO)", "Count"};
    sim::stats::Scalar nested_mc{this, "nestedMachineChecks", "Machine checks raised while MCIP was set", "Count"};
    sim::stats::Scalar scrub_lines{this, "scrubLines", "Lines the patrol scrubber read", "Count"};
    sim::stats::Scalar scrub_passes{this, "scrubPasses", "Complete passes of the patrol scrubber over DRAM", "Count"};
    sim::stats::Scalar scrub_uc{this, "scrubUncorrected", "Uncorrected errors the scrubber found", "Count"};
    sim::stats::Scalar scrub_ce{this, "scrubCorrected", "Correctable errors the scrubber found and corrected", "Count"};
    sim::stats::Scalar injected{this, "injected", "Errors injected by platform.ras.inject", "Count"};
  } stats;
  const std::string who_ = stats.path();  // debug lines name the model by its statistics' path

 private:
  void scrub_thread();
  void inject_thread();
  // Logs `e` in bank `b` of `cpu`, counts, raises CMCI when its threshold is
  // reached. Returns the bank's registers after logging.
  McaRecord log(unsigned cpu, unsigned b, const McaError& e);
  void keep(const McaRecord& r);
  McaBank& bank_ref(unsigned cpu, unsigned b);
  // The scrubber: total lines, the line at a linear index, the first error
  // line at or after `from` (wrapping), if any.
  uint64_t total_lines() const;
  uint64_t line_pa(uint64_t index) const;
  bool next_error_line(uint64_t from, uint64_t& index) const;
  void scrub_line(uint64_t pa);
  void register_commands();  // the monitor's `mce`: hw/ras/ras_monitor.cpp

  Params p_;
  std::vector<Dram*> drams_;
  sim::IrqSink* irq_;
  std::vector<std::array<McaBank, 2>> core_banks_;   // per CPU: data, fetch
  McaBank memory_bank_;
  std::vector<uint64_t> mcg_status_;                 // per CPU
  std::vector<MachineCheckSink*> sinks_;
  std::vector<std::deque<McaRecord>> pending_;       // per CPU: asynchronous #MCs
  std::deque<McaRecord> records_;                    // the last kKeptRecords, oldest first
  sc_core::sc_event replan_;
  sim::Commands commands_;
};

}  // namespace hw
