// DRAM's monitor commands (hw/base/command.h): `poison PA [uc|ce]` injects an
// uncorrected (default) or correctable error in the line at PA, `unpoison PA`
// clears either; the DRAM of the node holding PA runs them (addressed by
// physical address; the monitor turns `PID:VA` into the PA behind it).
#include <ostream>
#include <string>

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
  c.usage = "poison PA|PID:VA [uc|ce]";
  c.help = "inject an uncorrected (uc, the default) or correctable (ce) error in the line at an address";
  c.error = "poison PA|PID:VA [uc|ce] (a physical address, or a process's virtual address)";
  c.run = [this](const sim::CommandCall& call) {
    const std::string kind = call.args.size() > 2 ? call.args[2] : "uc";
    if (call.args.size() > 3 || (kind != "uc" && kind != "ce"))
      throw sim::CommandError("poison PA|PID:VA [uc|ce]: the error is uc (uncorrected) or ce (correctable)");
    if (kind == "ce" && is_poisoned(call.arg, 1)) {
      call.out << fmt::format("the line at {:#x} already holds an uncorrected error\n", call.arg & ~(kLine - 1));
      return;
    }
    if (kind == "uc") inject_poison(call.arg);
    else inject_corrected(call.arg);
    call.out << fmt::format("{} the line at {:#x}\n", kind == "uc" ? "poisoned" : "gave a correctable error to",
                            call.arg & ~(kLine - 1));
  };
  commands_.add(c);

  c.name = "unpoison";
  c.usage = "unpoison PA|PID:VA";
  c.help = "clear an injected error (either kind) at an address; its page gets DMI again";
  c.error = "unpoison PA|PID:VA (a physical address, or a process's virtual address)";
  c.run = [this](const sim::CommandCall& call) {
    call.out << (clear_poison(call.arg) ? "cleared\n" : "that line was not poisoned\n");
  };
  commands_.add(c);
}

}  // namespace hw
