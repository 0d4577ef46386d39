// The MMU's monitor commands (hw/base/command.h): `tlb [CPU]` lists the
// valid entries of the TLBs of that CPU's MMU, addressed by CPU index.
#include <ostream>

#include <fmt/format.h>

#include "hw/base/config.h"
#include "hw/mmu/mmu.h"

namespace hw {

namespace {

void show_tlb(std::ostream& out, const char* name, const Tlb* t) {
  if (!t) return;
  unsigned n = 0;
  out << name << ":\n";
  t->for_each_valid([&](const TlbEntry& e) {
    ++n;
    out << fmt::format("  va 0x{:012x} -> pa 0x{:012x} {:>4} pcid {:>4} {} {} {} {} {}{}\n", e.va_base(), e.pa_base,
                       sim::format_size(e.bytes(), sim::SizeStyle::compact), e.pcid, e.rw ? "RW" : "ro",
                       e.us ? "USR" : "   ", e.global ? "GLB" : "   ", e.nx ? "NX" : "x ", e.dirty ? "D" : " ",
                       e.host ? "" : "  (no host pointer)");
  });
  if (!n) out << "  (empty)\n";
}

}  // namespace

void Mmu::register_commands() {
  sim::Command c;
  c.name = "tlb";
  c.usage = "tlb [CPU]";
  c.help = "valid TLB entries of a CPU (default 0)";
  c.select = sim::Command::Select::index;
  c.index = p_.cpu;
  c.error = "tlb CPU: no such CPU";
  c.run = [this](const sim::CommandCall& call) {
    call.out << fmt::format("cpu{}: CR3 {:#x}, PCID {}\n", p_.cpu, cr3_, pcid_);
    show_tlb(call.out, "itlb", itlb_.get());
    show_tlb(call.out, "dtlb", dtlb_.get());
    show_tlb(call.out, "stlb", stlb_.get());
  };
  commands_.add(std::move(c));
}

}  // namespace hw
