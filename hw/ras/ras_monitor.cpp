// The RAS model's monitor command (hw/base/command.h): `mce` shows MCG_CAP,
// each CPU's MCG_STATUS and valid banks, the shared memory-controller bank
// and the last records logged, oldest first.
#include <ostream>

#include <fmt/format.h>

#include "hw/ras/ras.h"

namespace hw {

namespace {

const char* bank_name(unsigned b) {
  return b == Ras::kBankData ? "data" : b == Ras::kBankFetch ? "fetch" : "memory controller";
}

std::string bank_line(unsigned b, const McaBank& k) {
  return fmt::format("  bank {} ({}): STATUS {:016x} ADDR {:x} MISC {:x} CTL2 {:x} (corrected count {})\n", b,
                     bank_name(b), k.status, k.addr, k.misc, k.ctl2, k.corrected_count());
}

}  // namespace

void Ras::register_commands() {
  sim::Command c;
  c.name = "mce";
  c.usage = "mce";
  c.help = "machine-check banks (MCG_STATUS, MCi_STATUS/ADDR/MISC of valid banks) and the last records";
  c.run = [this](const sim::CommandCall& call) {
    call.out << fmt::format("MCG_CAP {:x}: {} banks, CMCI, software error recovery\n", mcg_cap(), kBanks);
    for (unsigned cpu = 0; cpu < mcg_status_.size(); ++cpu) {
      call.out << fmt::format("cpu{}: MCG_STATUS {:x}\n", cpu, mcg_status_[cpu]);
      for (unsigned b = 0; b < kBankMemory; ++b)
        if (bank(cpu, b).valid()) call.out << bank_line(b, bank(cpu, b));
    }
    call.out << "shared:\n" << bank_line(kBankMemory, memory_bank_);
    call.out << fmt::format("last {} record(s):\n", records_.size());
    for (const McaRecord& r : records_)
      call.out << fmt::format("  {} ps cpu{} bank {}: MCG_STATUS {:x} STATUS {:016x} ADDR {:x} MISC {:x}\n",
                              r.time_ps, r.cpu, r.bank, r.mcg_status, r.status, r.addr, r.misc);
  };
  commands_.add(c);
}

}  // namespace hw
