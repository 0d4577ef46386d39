#include "tb/top/monitor.h"

#include <cstring>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <systemc>

#include "hw/base/command.h"
#include "hw/base/config.h"
#include "hw/base/stats.h"
#include "hw/base/time.h"
#include "hw/platform/platform.h"

namespace sim {

// One of the monitor's own commands.
struct Monitor::Builtin {
  const char* names;  // the name, then its short forms, space-separated
  const char* usage;  // as `help` shows it; nullptr: not listed
  const char* help;
  bool running;       // listed under "running" (else "inspecting")
  void (Monitor::*run)(const Words& w);
};

const Monitor::Builtin Monitor::kBuiltins[] = {
    {"help ?", nullptr, nullptr, false, &Monitor::cmd_help},
    {"step s", "step [N]", "run N more user operations (default 1), on any CPU", true, &Monitor::cmd_step},
    {"until", "until fault|mce|syscall|exit|time T",
     "run until the next page fault, machine check, system call,\n"
     "process end, or simulated time T (e.g. 2ms)",
     true, &Monitor::cmd_until},
    {"continue c", "continue", "run to the end", true, &Monitor::cmd_continue},
    {"quit q exit", "quit", "run to the end without stopping, write the outputs, leave", true, &Monitor::cmd_quit},
    {"ps", "ps", "processes and how far they got", false, &Monitor::cmd_ps},
    {"ptdump", "ptdump [PID]", "page tables of a process (0: the kernel's), from simulated DRAM", false,
     &Monitor::cmd_ptdump},
    {"translate", "translate PID VA [LEN]", "the firmware's translation of VA in PID (and LEN bytes there)", false,
     &Monitor::cmd_translate},
    {"meminfo zoneinfo buddyinfo pagetypeinfo vmstat swiotlb",
     "meminfo | zoneinfo | buddyinfo | pagetypeinfo | vmstat | swiotlb", "the firmware's /proc files", false,
     &Monitor::cmd_proc},
    {"maps", "maps PID", "/proc/PID/maps", false, &Monitor::cmd_maps},
    {"fincore", "fincore FILE", "a file's pages in the page cache (cached, dirty, under writeback), like fincore(1)",
     false, &Monitor::cmd_fincore},
    {"page", "page PFN", "a page's state: flags, counts, its file and index", false, &Monitor::cmd_page},
    {"dmesg", "dmesg", "the firmware's log", false, &Monitor::cmd_dmesg},
    {"hwpoison", "hwpoison [unpoison PFN]",
     "memory failure: poisoned pages, per-node outcomes, the corrected-error collector;\n"
     "unpoison PFN gives a software-poisoned page back (Linux's hwpoison/unpoison-pfn)",
     false, &Monitor::cmd_hwpoison},
    {"stats", "stats [PREFIX]", "statistics, e.g. stats system.cpu0.mmu", false, &Monitor::cmd_stats},
    {"time", "time", "simulated time", false, &Monitor::cmd_time},
    {"echo", "echo TEXT", "print TEXT (to mark places in a script's output)", false, &Monitor::cmd_echo},
};

namespace {

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

Monitor::Words split(const std::string& line) {
  std::istringstream ss(line);
  Monitor::Words out;
  std::string w;
  while (ss >> w) out.push_back(w);
  return out;
}

bool has_name(const char* names, const std::string& word) {
  std::istringstream ss(names);
  std::string n;
  while (ss >> n)
    if (n == word) return true;
  return false;
}

// One line of `help`: the usage, then what it does at column 27 (on the next
// line when the usage is longer), continuation lines aligned with it.
void help_line(std::ostream& out, const std::string& usage, const std::string& help) {
  const std::string indent(27, ' ');
  out << "  " << usage;
  if (usage.size() > 24) out << '\n' << indent;
  else out << std::string(25 - usage.size(), ' ');
  for (char c : help) {
    out << c;
    if (c == '\n') out << indent;
  }
  out << '\n';
}

}  // namespace

Monitor::Monitor(hw::Platform& platform, hal::FirmwareDebug& firmware, tb::Workload& workload, std::istream& in,
                 std::ostream& out, bool echo)
    : pf_(platform), fw_(firmware), workload_(workload), in_(in), out_(out), echo_(echo) {}

std::string Monitor::run() {
  hw::CoreComplex& cx = pf_.complex();
  cx.monitored = true;
  out_ << "mmcosim monitor: the machine stops after boot; `help` lists the commands.\n";
  pf_.start();
  if (sc_core::sc_get_status() == sc_core::SC_PAUSED && !cx.pause_reason().empty()) out_ << cx.pause_reason() << '\n';
  else resume();
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
    resume();
  }
  return error_;
}

void Monitor::resume() {
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
}

bool Monitor::execute(const std::string& line) {
  const Words w = split(line);
  if (w.empty()) return true;
  line_ = line;
  try {
    for (const Builtin& b : kBuiltins) {
      if (!has_name(b.names, w[0])) continue;
      (this->*b.run)(w);
      return !quit_;
    }
    if (!commands::run(resolve_pid_va(w), out_)) out_ << "unknown command '" << w[0] << "' (help lists them)\n";
    if (w.size() == 1 && w[0] == "dma") dma_overview();
  } catch (const std::exception& e) {
    out_ << e.what() << '\n';
  }
  return true;
}

void Monitor::help() {
  out_ << "running:\n";
  for (const Builtin& b : kBuiltins)
    if (b.usage && b.running) help_line(out_, b.usage, b.help);
  out_ << "inspecting:\n";
  for (const Builtin& b : kBuiltins)
    if (b.usage && !b.running) help_line(out_, b.usage, b.help);
  const std::vector<const Command*> models = commands::list();
  for (const Command* c : models)
    if (c->section == Command::Section::inspecting) help_line(out_, c->usage, c->help);
  out_ << "changing:\n";
  for (const Command* c : models)
    if (c->section == Command::Section::changing) help_line(out_, c->usage, c->help);
}

void Monitor::cmd_help(const Words&) { help(); }

void Monitor::cmd_quit(const Words&) { quit_ = true; }

void Monitor::cmd_echo(const Words&) {
  out_ << (line_.size() > 5 ? line_.substr(line_.find("echo") + 5) : std::string()) << '\n';
}

void Monitor::cmd_step(const Words& w) {
  uint64_t n = 1;
  if (w.size() > 1 && (!parse_argument(w[1], n) || n == 0)) throw CommandError("step: N must be a positive number");
  hw::CoreComplex& cx = pf_.complex();
  cx.breaks = {};
  cx.breaks.ops = n;
  resume();
}

void Monitor::cmd_until(const Words& w) {
  static const char* const kUsage = "until: fault, mce, syscall, exit or time T";
  if (w.size() < 2) throw CommandError(kUsage);
  hw::CoreComplex::Breaks& b = pf_.complex().breaks;
  b = {};
  if (w[1] == "fault") {
    b.page_fault = true;
  } else if (w[1] == "mce") {
    b.machine_check = true;
  } else if (w[1] == "syscall") {
    b.syscall = true;
  } else if (w[1] == "exit") {
    b.task_end = true;
  } else if (w[1] == "time") {
    uint64_t ps;
    if (w.size() < 3 || !parse_duration(w[2], ps)) throw CommandError("until time T: T is a time such as 2ms");
    // A time already reached would stop only after the next operation.
    if (ps <= now_ps()) throw CommandError(fmt::format("until time {}: the simulation is at {} ps", w[2], now_ps()));
    b.at = sc_core::sc_time(static_cast<double>(ps), sc_core::SC_PS);
  } else {
    throw CommandError(kUsage);
  }
  resume();
}

void Monitor::cmd_continue(const Words&) {
  pf_.complex().breaks = {};
  resume();
}

void Monitor::cmd_time(const Words&) {
  out_ << fmt::format("{:.9f} s ({} ps)\n", sc_core::sc_time_stamp().to_seconds(), now_ps());
}

void Monitor::cmd_stats(const Words& w) {
  PrefixEmitter e(out_, w.size() > 1 ? w[1] : "");
  pf_.stats_root().emit(e);
}

}  // namespace sim
