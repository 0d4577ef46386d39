#include "tb/top/monitor.h"

#include <fmt/format.h>

#include <iostream>
#include <sstream>
#include <systemc>
#include <vector>

#include "hw/platform/platform.h"
#include "hw/base/config.h"
#include "hw/base/stats.h"
#include "sw/kernel/kernel.h"
#include "tb/workload/workload.h"

namespace sim {

namespace {

class StreamSink final : public fw::TextSink {
 public:
  explicit StreamSink(std::ostream& os) : os_(os) {}
  void write(const char* text, size_t len) override { os_.write(text, static_cast<std::streamsize>(len)); }

 private:
  std::ostream& os_;
};

// Prints every statistic whose name starts with a prefix.
class PrefixEmitter final : public stats::Emitter {
 public:
  PrefixEmitter(std::ostream& os, std::string prefix) : os_(os), prefix_(std::move(prefix)) {}
  void integer(const std::string& name, uint64_t v, const std::string&, const std::string&) override {
    if (name.rfind(prefix_, 0) == 0) os_ << fmt::format("{:<60} {}\n", name, v);
  }
  void real(const std::string& name, double v, const std::string&, const std::string&) override {
    if (name.rfind(prefix_, 0) != 0) return;
    if (v == static_cast<double>(static_cast<int64_t>(v)))
      os_ << fmt::format("{:<60} {}\n", name, static_cast<int64_t>(v));
    else
      os_ << fmt::format("{:<60} {:.6f}\n", name, v);
  }

 private:
  std::ostream& os_;
  std::string prefix_;
};

std::vector<std::string> split(const std::string& line) {
  std::istringstream ss(line);
  std::vector<std::string> out;
  std::string w;
  while (ss >> w) out.push_back(w);
  return out;
}

bool parse_number(const std::string& s, uint64_t& v) { return parse_size(s, v); }

std::string human(uint64_t bytes) {
  static const char* units[] = {"", "K", "M", "G", "T", "P"};
  int u = 0;
  while (bytes >= 1024 && bytes % 1024 == 0 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{}{}", bytes, units[u]);
}

}  // namespace

Monitor::Monitor(hw::Platform& platform, fw::Kernel& kernel, tb::Workload& workload, std::istream& in,
                 std::ostream& out, bool echo)
    : pf_(platform), kernel_(kernel), workload_(workload), in_(in), out_(out), echo_(echo) {}

std::string Monitor::run() {
  hw::CoreComplex& cx = pf_.complex();
  cx.monitored = true;
  out_ << "mmcosim monitor: the machine stops after boot; `help` lists the commands.\n";
  pf_.start();
  if (sc_core::sc_get_status() == sc_core::SC_PAUSED && !cx.pause_reason().empty()) out_ << cx.pause_reason() << '\n';
  else resume("boot");
  std::string line;
  for (;;) {
    out_ << "(mmcosim) " << std::flush;
    if (!std::getline(in_, line)) break;
    if (echo_) out_ << line << '\n';
    if (!execute(line)) break;
  }
  if (!finished_) {
    // Leaving before the end: let the machine run out without breaks, so the
    // outputs describe a complete run.
    out_ << "running to the end\n";
    cx.breaks = {};
    cx.monitored = false;
    resume("the rest");
  }
  return error_;
}

void Monitor::resume(const std::string& what) {
  if (finished_) {
    out_ << "the simulation has finished\n";
    return;
  }
  hw::CoreComplex& cx = pf_.complex();
  cx.resume();
  sc_core::sc_start();
  if (sc_core::sc_get_status() == sc_core::SC_PAUSED && !cx.pause_reason().empty()) {
    out_ << cx.pause_reason() << '\n';
    return;
  }
  finished_ = true;
  error_ = cx.error();
  out_ << fmt::format("simulation finished at {:.6f} s{}\n", sc_core::sc_time_stamp().to_seconds(),
                      error_.empty() ? "" : ": " + error_);
  (void)what;
}

void Monitor::help() {
  out_ << "running:\n"
          "  step [N]                 run N more user operations (default 1), on any CPU\n"
          "  until fault|mce|syscall|exit|time T\n"
          "                           run until the next page fault, machine check, system call,\n"
          "                           process end, or simulated time T (e.g. 2ms)\n"
          "  continue                 run to the end\n"
          "  quit                     run to the end without stopping, write the outputs, leave\n"
          "inspecting:\n"
          "  ps                       processes and how far they got\n"
          "  ptdump [PID]             page tables of a process (0: the kernel's), from simulated DRAM\n"
          "  translate PID VA [LEN]   the firmware's translation of VA in PID (and LEN bytes there)\n"
          "  tlb [CPU]                valid TLB entries of a CPU (default 0)\n"
          "  x PA [LEN]               physical memory at PA, LEN bytes (default 64), read without timing\n"
          "  meminfo | zoneinfo | buddyinfo | pagetypeinfo | vmstat\n"
          "                           the firmware's /proc files\n"
          "  maps PID                 /proc/PID/maps\n"
          "  dmesg                    the firmware's log\n"
          "  stats [PREFIX]           statistics, e.g. stats system.cpu0.mmu\n"
          "  time                     simulated time\n"
          "  echo TEXT                print TEXT (to mark places in a script's output)\n"
          "  dma                      the DMA engines and their last transfer\n"
          "changing:\n"
          "  poison PA | unpoison PA  inject or clear an uncorrected error at a physical address\n"
          "  dma N SRC DST LEN        start a copy on DMA engine N (bus addresses), as a driver would\n";
}

bool Monitor::execute(const std::string& line) {
  const auto w = split(line);
  if (w.empty()) return true;
  const std::string& cmd = w[0];
  hw::CoreComplex& cx = pf_.complex();
  uint64_t n = 0;
  try {
    if (cmd == "help" || cmd == "?") {
      help();
    } else if (cmd == "echo") {
      out_ << (line.size() > 5 ? line.substr(line.find("echo") + 5) : std::string()) << '\n';
    } else if (cmd == "quit" || cmd == "q" || cmd == "exit") {
      return false;
    } else if (cmd == "step" || cmd == "s") {
      n = 1;
      if (w.size() > 1 && (!parse_number(w[1], n) || n == 0)) throw ConfigError("step: N must be a positive number");
      cx.breaks = {};
      cx.breaks.ops = n;
      resume("step");
    } else if (cmd == "until") {
      if (w.size() < 2) throw ConfigError("until: fault, mce, syscall, exit or time T");
      cx.breaks = {};
      if (w[1] == "fault")
        cx.breaks.page_fault = true;
      else if (w[1] == "mce")
        cx.breaks.machine_check = true;
      else if (w[1] == "syscall")
        cx.breaks.syscall = true;
      else if (w[1] == "exit")
        cx.breaks.task_end = true;
      else if (w[1] == "time") {
        uint64_t ps;
        if (w.size() < 3 || !parse_duration(w[2], ps)) throw ConfigError("until time T: T is a time such as 2ms");
        cx.breaks.at = sc_core::sc_time(static_cast<double>(ps), sc_core::SC_PS);
      } else {
        throw ConfigError("until: fault, mce, syscall, exit or time T");
      }
      resume("until");
    } else if (cmd == "continue" || cmd == "c") {
      cx.breaks = {};
      resume("continue");
    } else if (cmd == "time") {
      out_ << fmt::format("{:.9f} s ({} ps)\n", sc_core::sc_time_stamp().to_seconds(),
                          static_cast<uint64_t>(sc_core::sc_time_stamp() / sc_core::sc_time(1, sc_core::SC_PS)));
    } else if (cmd == "ps") {
      for (const std::string& l : workload_.summary()) out_ << l << '\n';
    } else if (cmd == "ptdump") {
      uint64_t pid = 0;
      if (w.size() > 1 && !parse_number(w[1], pid)) throw ConfigError("ptdump PID: PID is a number");
      ptdump(static_cast<int>(pid));
    } else if (cmd == "translate") {
      uint64_t pid, va, len = 0;
      if (w.size() < 3 || !parse_number(w[1], pid) || !parse_number(w[2], va) ||
          (w.size() > 3 && (!parse_number(w[3], len) || len > 256)))
        throw ConfigError("translate PID VA [LEN] (VA in hex: 0x7fff...; LEN: bytes to show, up to 256)");
      translate(static_cast<int>(pid), va, static_cast<unsigned>(len));
    } else if (cmd == "tlb") {
      uint64_t cpu = 0;
      if (w.size() > 1 && (!parse_number(w[1], cpu) || cpu >= pf_.nr_cpus())) throw ConfigError("tlb CPU: no such CPU");
      tlb(static_cast<unsigned>(cpu));
    } else if (cmd == "meminfo" || cmd == "zoneinfo" || cmd == "buddyinfo" || cmd == "pagetypeinfo" ||
               cmd == "vmstat") {
      StreamSink sink(out_);
      if (!kernel_.proc_show(cmd.c_str(), sink)) out_ << "the firmware has no " << cmd << '\n';
    } else if (cmd == "maps") {
      if (w.size() < 2) throw ConfigError("maps PID");
      StreamSink sink(out_);
      if (!kernel_.proc_show((w[1] + "/maps").c_str(), sink)) out_ << "no process " << w[1] << '\n';
    } else if (cmd == "dmesg") {
      StreamSink sink(out_);
      kernel_.dmesg(sink);
    } else if (cmd == "stats") {
      stats(w.size() > 1 ? w[1] : "");
    } else if (cmd == "poison" || cmd == "unpoison") {
      uint64_t pa;
      if (w.size() < 2 || !parse_number(w[1], pa)) throw ConfigError(cmd + " PA (a physical address)");
      hw::Dram* d = pf_.dram_at(pa);
      if (!d) throw ConfigError(fmt::format("{:#x} is not DRAM", pa));
      if (cmd == "poison") {
        d->inject_poison(pa);
        out_ << fmt::format("poisoned the line at {:#x}\n", pa & ~(hw::Dram::kLine - 1));
      } else {
        out_ << (d->clear_poison(pa) ? "cleared\n" : "that line was not poisoned\n");
      }
    } else if (cmd == "x") {
      uint64_t pa, len = 64;
      if (w.size() < 2 || !parse_number(w[1], pa) || (w.size() > 2 && !parse_number(w[2], len)) || len == 0 ||
          len > 4096)
        throw ConfigError("x PA [LEN]: a physical address and up to 4096 bytes");
      std::vector<uint8_t> buf(len);
      const unsigned got = pf_.membus().debug_read(pa, buf.data(), static_cast<unsigned>(len));
      if (got == 0) throw ConfigError(fmt::format("x: nothing decodes {:#x}", pa));
      for (unsigned i = 0; i < got; i += 16) {
        std::string hex, text;
        for (unsigned j = i; j < i + 16 && j < got; ++j) {
          hex += fmt::format("{:02x} ", buf[j]);
          text += buf[j] >= 32 && buf[j] < 127 ? static_cast<char>(buf[j]) : '.';
        }
        out_ << fmt::format("{:#012x}: {:<48} {}\n", pa + i, hex, text);
      }
    } else if (cmd == "dma") {
      if (w.size() == 1) {
        for (unsigned i = 0; i < pf_.nr_dma(); ++i) {
          const hw::DmaEngine& d = pf_.dma(i);
          out_ << fmt::format("dma{}: {}-bit, {}, last error: {}\n", i, d.params().addr_bits,
                              d.busy() ? "busy" : "idle", hw::dma_error_name(d.last_error()));
        }
      } else {
        uint64_t idx, src, dst, len;
        if (w.size() != 5 || !parse_number(w[1], idx) || !parse_number(w[2], src) || !parse_number(w[3], dst) ||
            !parse_number(w[4], len) || idx >= pf_.nr_dma())
          throw ConfigError("dma N SRC DST LEN (N an engine, SRC/DST bus addresses, LEN bytes)");
        if (!pf_.dma(static_cast<unsigned>(idx)).start(src, dst, len)) throw ConfigError("dma: the engine is busy");
        out_ << fmt::format("dma{}: started {:#x} -> {:#x}, {} bytes (it runs when the simulation does)\n", idx, src,
                            dst, len);
      }
    } else {
      out_ << "unknown command '" << cmd << "' (help lists them)\n";
    }
  } catch (const std::exception& e) {
    out_ << e.what() << '\n';
  }
  return true;
}

void Monitor::ptdump(int pid) {
  uint64_t root = kernel_.kernel_root();
  if (pid != 0) {
    const fw::mm_struct* mm = kernel_.mm_of(pid);
    if (!mm) {
      out_ << "no process " << pid << " (ps lists them)\n";
      return;
    }
    root = mm->pgd;
  }
  const unsigned levels = pf_.boot_info().paging_levels;
  const unsigned maxphy = pf_.boot_info().maxphyaddr;
  static const char* level_names[] = {"", "pte", "pmd", "pud", "p4d", "pgd"};
  struct Run {
    uint64_t start = 0, end = 0;
    std::string attrs;
    bool open = false;
  } run;
  auto flush = [&] {
    if (!run.open) return;
    out_ << fmt::format("0x{:016x}-0x{:016x} {:>9}  {}\n", run.start, run.end, human(run.end - run.start), run.attrs);
    run.open = false;
  };
  bool kernel_half_shown = false;
  // Depth-first over the tables, printing runs of leaves with equal attributes.
  std::function<void(uint64_t, unsigned, uint64_t)> walk = [&](uint64_t table, unsigned level, uint64_t va_base) {
    uint64_t entries[512];
    if (pf_.membus().debug_read(table, entries, sizeof entries) != sizeof entries) {
      flush();
      out_ << fmt::format("  (table at {:#x} is not readable)\n", table);
      return;
    }
    for (unsigned i = 0; i < 512; ++i) {
      uint64_t va = va_base + (static_cast<uint64_t>(i) << x86::level_shift(level));
      if (level == levels && i == 256) {
        flush();
        out_ << "---[ Kernel Space ]---\n";
        kernel_half_shown = true;
      }
      if (level == levels && i >= 256) va |= ~0ull << (levels == 5 ? 57 : 48);  // sign-extend
      const uint64_t e = entries[i];
      if (!(e & x86::PTE_P)) {
        flush();
        continue;
      }
      const bool leaf = level == 1 || ((level == 2 || level == 3) && (e & x86::PTE_PS));
      if (!leaf) {
        walk(e & x86::phys_mask(maxphy), level - 1, va);
        continue;
      }
      const std::string attrs =
          fmt::format("{} {} {} {} {} {} {}", (e & x86::PTE_RW) ? "RW" : "ro", (e & x86::PTE_US) ? "USR" : "   ",
                      (e & x86::PTE_G) ? "GLB" : "   ", (e & x86::PTE_NX) ? "NX" : "x ", (e & x86::PTE_A) ? "A" : " ",
                      (e & x86::PTE_D) ? "D" : " ", level_names[level]);
      if (run.open && run.end == va && run.attrs == attrs) {
        run.end = va + x86::level_size(level);
      } else {
        flush();
        run = {va, va + x86::level_size(level), attrs, true};
      }
    }
  };
  out_ << fmt::format("---[ User Space ]---   (root table at {:#x})\n", root);
  walk(root & x86::phys_mask(maxphy), levels, 0);
  flush();
  if (!kernel_half_shown) out_ << "---[ Kernel Space ]---\n";
}

void Monitor::translate(int pid, uint64_t va, unsigned len) {
  fw::PteLookup l;
  if (!kernel_.translate(pf_.cpu(0).core, pid, va, &l)) {
    out_ << fmt::format("{:#x} is not mapped in pid {} (the walk stopped at level {}: entry {:#x} at {:#x})\n", va, pid,
                        l.level, l.entry, l.entry_pa);
    return;
  }
  const uint64_t size = x86::level_size(l.level);
  const uint64_t pa = (l.entry & x86::phys_mask(pf_.boot_info().maxphyaddr) & ~(size - 1)) | (va & (size - 1));
  out_ << fmt::format("{:#x} -> {:#x} ({} page, entry {:#018x} at {:#x})\n", va, pa, human(size), l.entry, l.entry_pa);
  if (len) {
    // What is there, read from the physical side.
    std::vector<uint8_t> buf(len);
    const unsigned got = pf_.membus().debug_read(pa, buf.data(), len);
    std::string hex;
    for (unsigned i = 0; i < got; ++i) hex += fmt::format("{}{:02x}", i ? " " : "", buf[i]);
    out_ << fmt::format("  {} bytes at {:#x}: {}\n", got, pa, hex);
  }
}

void Monitor::tlb(unsigned cpu) {
  hw::Mmu& mmu = pf_.cpu(cpu).mmu;
  out_ << fmt::format("cpu{}: CR3 {:#x}, PCID {}\n", cpu, mmu.cr3(), mmu.pcid());
  auto dump = [&](const char* name, hw::Tlb* t) {
    if (!t) return;
    unsigned n = 0;
    out_ << name << ":\n";
    t->for_each_valid([&](const hw::TlbEntry& e) {
      ++n;
      out_ << fmt::format("  va 0x{:012x} -> pa 0x{:012x} {:>4} pcid {:>4} {} {} {} {} {}{}\n", e.va_base(), e.pa_base,
                          human(e.bytes()), e.pcid, e.rw ? "RW" : "ro", e.us ? "USR" : "   ", e.global ? "GLB" : "   ",
                          e.nx ? "NX" : "x ", e.dirty ? "D" : " ", e.host ? "" : "  (no host pointer)");
    });
    if (!n) out_ << "  (empty)\n";
  };
  dump("itlb", &mmu.itlb());
  dump("dtlb", &mmu.dtlb());
  dump("stlb", mmu.stlb());
}

void Monitor::stats(const std::string& prefix) {
  PrefixEmitter e(out_, prefix);
  pf_.stats_root().emit(e);
}

}  // namespace sim
