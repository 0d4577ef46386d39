// DRAM's monitor commands (hw/base/command.h): `poison PA` injects an
// uncorrected error in the line at PA, `unpoison PA` clears it; the DRAM of
// the node holding PA runs them (addressed by physical address).
#include <ostream>

#include <fmt/format.h>

#include "hw/mem/dram.h"

namespace hw {

void Dram::register_commands() {
  sim::Command c;
  c.section = sim::Command::Section::changing;
  c.select = sim::Command::Select::address;
  c.base = p_.base;
  c.size = p_.size;
  c.not_held = "is not DRAM";

  c.name = "poison";
  c.usage = "poison PA";
  c.help = "inject an uncorrected error in the line at a physical address";
  c.error = "poison PA (a physical address)";
  c.run = [this](const sim::CommandCall& call) {
    inject_poison(call.arg);
    call.out << fmt::format("poisoned the line at {:#x}\n", call.arg & ~(kLine - 1));
  };
  commands_.add(c);

  c.name = "unpoison";
  c.usage = "unpoison PA";
  c.help = "clear an injected error at a physical address";
  c.error = "unpoison PA (a physical address)";
  c.run = [this](const sim::CommandCall& call) {
    call.out << (clear_poison(call.arg) ? "cleared\n" : "that line was not poisoned\n");
  };
  commands_.add(c);
}

}  // namespace hw
