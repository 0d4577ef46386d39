// The monitor's firmware commands: they read the firmware only through
// hal::FirmwareDebug (its /proc files, log, page-table roots, translation)
// and page tables through the interconnect's debug read, as a debugger
// attached to the machine would.
#include <cstring>
#include <functional>
#include <ostream>
#include <vector>

#include <fmt/format.h>

#include "hw/base/command.h"
#include "hw/base/config.h"
#include "hw/platform/platform.h"
#include "sw/hal/x86.h"
#include "tb/top/monitor.h"
#include "tb/top/stream_sink.h"
#include "tb/workload/workload.h"

namespace sim {

namespace {

// Page tables in the layout of Linux's ptdump (arch/x86/mm/dump_pagetables.c):
// runs of leaves with equal attributes, the user half then the kernel half.
class PtDump {
 public:
  PtDump(std::ostream& out, hw::Interconnect& bus, unsigned levels, unsigned maxphyaddr)
      : out_(out), bus_(bus), levels_(levels), maxphy_(maxphyaddr) {}

  void dump(uint64_t root) {
    out_ << fmt::format("---[ User Space ]---   (root table at {:#x})\n", root);
    walk(root & x86::phys_mask(maxphy_), levels_, 0);
    flush();
    if (!kernel_half_shown_) out_ << "---[ Kernel Space ]---\n";
  }

 private:
  // Depth-first over the tables.
  void walk(uint64_t table, unsigned level, uint64_t va_base) {
    uint64_t entries[x86::PT_ENTRIES];
    if (bus_.debug_read(table, entries, sizeof entries) != sizeof entries) {
      flush();
      out_ << fmt::format("  (table at {:#x} is not readable)\n", table);
      return;
    }
    for (unsigned i = 0; i < x86::PT_ENTRIES; ++i) {
      uint64_t va = va_base + (static_cast<uint64_t>(i) << x86::level_shift(level));
      if (level == levels_ && i == x86::PT_ENTRIES / 2) {
        flush();
        out_ << "---[ Kernel Space ]---\n";
        kernel_half_shown_ = true;
      }
      if (level == levels_ && i >= x86::PT_ENTRIES / 2) va |= ~0ull << (levels_ == 5 ? 57 : 48);  // sign-extend
      const uint64_t e = entries[i];
      if (!(e & x86::PTE_P)) {
        flush();
        continue;
      }
      const bool leaf = level == 1 || ((level == 2 || level == 3) && (e & x86::PTE_PS));
      if (leaf) add_leaf(va, e, level);
      else walk(e & x86::phys_mask(maxphy_), level - 1, va);
    }
  }

  void add_leaf(uint64_t va, uint64_t e, unsigned level) {
    static const char* const level_names[] = {"", "pte", "pmd", "pud", "p4d", "pgd"};
    const std::string attrs =
        fmt::format("{} {} {} {} {} {} {}", (e & x86::PTE_RW) ? "RW" : "ro", (e & x86::PTE_US) ? "USR" : "   ",
                    (e & x86::PTE_G) ? "GLB" : "   ", (e & x86::PTE_NX) ? "NX" : "x ", (e & x86::PTE_A) ? "A" : " ",
                    (e & x86::PTE_D) ? "D" : " ", level_names[level]);
    if (open_ && end_ == va && attrs_ == attrs) {
      end_ = va + x86::level_size(level);
      return;
    }
    flush();
    start_ = va;
    end_ = va + x86::level_size(level);
    attrs_ = attrs;
    open_ = true;
  }

  void flush() {
    if (!open_) return;
    out_ << fmt::format("0x{:016x}-0x{:016x} {:>9}  {}\n", start_, end_,
                        format_size(end_ - start_, SizeStyle::compact), attrs_);
    open_ = false;
  }

  std::ostream& out_;
  hw::Interconnect& bus_;
  unsigned levels_, maxphy_;
  bool kernel_half_shown_ = false;
  // The run of leaves being gathered.
  bool open_ = false;
  uint64_t start_ = 0, end_ = 0;
  std::string attrs_;
};

}  // namespace

void Monitor::cmd_ps(const Words&) {
  for (const std::string& l : workload_.summary()) out_ << l << '\n';
}

void Monitor::cmd_ptdump(const Words& w) {
  uint64_t pid = 0;
  if (w.size() > 1 && !parse_argument(w[1], pid)) throw CommandError("ptdump PID: PID is a number");
  ptdump(static_cast<int>(pid));
}

void Monitor::cmd_translate(const Words& w) {
  uint64_t pid, va, len = 0;
  if (w.size() < 3 || !parse_argument(w[1], pid) || !parse_argument(w[2], va) ||
      (w.size() > 3 && (!parse_argument(w[3], len) || len > 256)))
    throw CommandError("translate PID VA [LEN] (VA in hex: 0x7fff...; LEN: bytes to show, up to 256)");
  translate(static_cast<int>(pid), va, static_cast<unsigned>(len));
}

void Monitor::cmd_proc(const Words& w) {
  StreamSink sink(out_);
  if (!fw_.proc_show(w[0].c_str(), sink)) out_ << "the firmware has no " << w[0] << '\n';
}

void Monitor::dma_overview() {
  out_ << "mappings (the DMA checker's view):\n";
  commands::run({"dmacheck"}, out_);
  out_ << "swiotlb:\n";
  StreamSink sink(out_);
  if (!fw_.proc_show("swiotlb", sink)) out_ << "  none (the firmware has no swiotlb)\n";
}

void Monitor::cmd_fincore(const Words& w) {
  if (w.size() < 2) throw CommandError("fincore FILE (a workload.files name)");
  StreamSink sink(out_);
  if (!fw_.fincore(w[1].c_str(), sink)) out_ << "no file " << w[1] << '\n';
}

void Monitor::cmd_page(const Words& w) {
  uint64_t pfn;
  if (w.size() < 2 || !parse_argument(w[1], pfn)) throw CommandError("page PFN (a number, 0x... for hex)");
  StreamSink sink(out_);
  if (!fw_.page_state(pfn, sink)) out_ << "no page at pfn " << w[1] << '\n';
}

void Monitor::cmd_maps(const Words& w) {
  if (w.size() < 2) throw CommandError("maps PID");
  StreamSink sink(out_);
  if (!fw_.proc_show((w[1] + "/maps").c_str(), sink)) out_ << "no process " << w[1] << '\n';
}

void Monitor::cmd_dmesg(const Words&) {
  StreamSink sink(out_);
  fw_.dmesg(sink);
}

void Monitor::cmd_hwpoison(const Words& w) {
  if (w.size() == 1) {
    StreamSink sink(out_);
    fw_.hwpoison_show(sink);
    return;
  }
  uint64_t pfn;
  if (w.size() != 3 || w[1] != "unpoison" || !parse_argument(w[2], pfn))
    throw CommandError("hwpoison [unpoison PFN] (a number, 0x... for hex)");
  const int r = fw_.unpoison_pfn(pf_.cpu(0).core, pfn);
  if (r == 0) out_ << fmt::format("pfn {:#x} unpoisoned\n", pfn);
  else out_ << fmt::format("pfn {:#x} not unpoisoned: {} (dmesg says why)\n", pfn, std::strerror(-r));
}

void Monitor::ptdump(int pid) {
  hal::paddr_t root = 0;
  // pid 0 (the kernel's tables) is shown even before boot has built them.
  if (!fw_.page_table_root(pid, root) && pid != 0) {
    out_ << "no process " << pid << " (ps lists them)\n";
    return;
  }
  PtDump(out_, pf_.membus(), pf_.boot_info().paging_levels, pf_.boot_info().maxphyaddr).dump(root);
}

Monitor::Words Monitor::resolve_pid_va(const Words& w) {
  if (w.size() < 2 || (w[0] != "poison" && w[0] != "unpoison")) return w;
  const size_t colon = w[1].find(':');
  if (colon == std::string::npos) return w;
  uint64_t pid = 0, va = 0;
  if (!parse_argument(w[1].substr(0, colon), pid) || !parse_argument(w[1].substr(colon + 1), va))
    throw CommandError(fmt::format("{}: PID:VA takes a process id and a virtual address, got '{}'", w[0], w[1]));
  hal::Translation l{};
  uint64_t pa = 0;
  if (!va_to_pa(static_cast<int>(pid), va, l, pa)) throw CommandError(fmt::format("{:#x} is not mapped in pid {}", va, pid));
  Words out = w;
  out[1] = fmt::format("{:#x}", pa);
  return out;
}

bool Monitor::va_to_pa(int pid, uint64_t va, hal::Translation& l, uint64_t& pa) {
  if (!fw_.translate(pf_.cpu(0).core, pid, va, l)) return false;
  const uint64_t size = x86::level_size(l.level);
  pa = (l.entry & x86::phys_mask(pf_.boot_info().maxphyaddr) & ~(size - 1)) | (va & (size - 1));
  return true;
}

void Monitor::translate(int pid, uint64_t va, unsigned len) {
  hal::Translation l{};
  uint64_t pa = 0;
  if (!va_to_pa(pid, va, l, pa)) {
    out_ << fmt::format("{:#x} is not mapped in pid {} (the walk stopped at level {}: entry {:#x} at {:#x})\n", va, pid,
                        l.level, l.entry, l.entry_pa);
    return;
  }
  const uint64_t size = x86::level_size(l.level);
  out_ << fmt::format("{:#x} -> {:#x} ({} page, entry {:#018x} at {:#x})\n", va, pa,
                      format_size(size, SizeStyle::compact), l.entry, l.entry_pa);
  if (len) {
    // What is there, read from the physical side.
    std::vector<uint8_t> buf(len);
    const unsigned got = pf_.membus().debug_read(pa, buf.data(), len);
    std::string hex;
    for (unsigned i = 0; i < got; ++i) hex += fmt::format("{}{:02x}", i ? " " : "", buf[i]);
    out_ << fmt::format("  {} bytes at {:#x}: {}\n", got, pa, hex);
  }
}

}  // namespace sim
