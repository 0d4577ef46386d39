// The monitor: `mmcosim run --interactive` (commands from the terminal) or
// `--script FILE` (commands from a file, echoed). Between commands the
// simulation is paused; `step`, `until` and `continue` run it until a break
// condition (checked by the cores at operation boundaries and before they
// deliver a trap) or the end. The monitor's own commands control the run
// and inspect the firmware, through hal::FirmwareDebug only (ps, ptdump,
// translate, /proc files, maps, dmesg) and the statistics; the hardware's
// commands (tlb, x, poison, dma, ...) are the ones its models register
// (hw/base/command.h). `help` lists both.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "sw/hal/debug.h"

namespace hw {
class Platform;
}
namespace tb {
class Workload;
}

namespace sim {

class Monitor {
 public:
  Monitor(hw::Platform& platform, hal::FirmwareDebug& firmware, tb::Workload& workload, std::istream& in,
          std::ostream& out, bool echo_commands);
  // Runs the simulation under the monitor's commands. Returns the run's
  // error, or "" (also when the user quit early).
  std::string run();

  using Words = std::vector<std::string>;

 private:
  struct Builtin;
  static const Builtin kBuiltins[];

  bool execute(const std::string& line);  // false: quit
  void resume();
  void help();

  // Run control and the run itself (monitor.cpp).
  // `poison`/`unpoison PID:VA`: the words with PID:VA replaced by the
  // physical address the firmware maps it to (other words unchanged).
  Words resolve_pid_va(const Words& w);
  // The firmware's translation of VA in PID (`l`) and the physical address; false when unmapped.
  bool va_to_pa(int pid, uint64_t va, hal::Translation& l, uint64_t& pa);
  void cmd_step(const Words& w);
  void cmd_until(const Words& w);
  void cmd_continue(const Words& w);
  void cmd_quit(const Words& w);
  void cmd_time(const Words& w);
  void cmd_echo(const Words& w);
  void cmd_stats(const Words& w);
  void cmd_help(const Words& w);
  // The firmware, through hal::FirmwareDebug (monitor_firmware.cpp).
  void cmd_ps(const Words& w);
  void cmd_ptdump(const Words& w);
  void cmd_translate(const Words& w);
  void cmd_proc(const Words& w);
  void cmd_maps(const Words& w);
  void cmd_fincore(const Words& w);
  void cmd_page(const Words& w);
  void cmd_dmesg(const Words& w);
  void cmd_hwpoison(const Words& w);
  // After the engines' own `dma` lines: the mappings the bus side knows of
  // (`dmacheck`) and swiotlb's usage (/proc/swiotlb), so that one command
  // shows every DMA device, transfer, mapping and bounce slot.
  void dma_overview();
  void ptdump(int pid);
  void translate(int pid, uint64_t va, unsigned len);

  hw::Platform& pf_;
  hal::FirmwareDebug& fw_;
  tb::Workload& workload_;
  std::istream& in_;
  std::ostream& out_;
  bool echo_;
  std::string line_;  // the command being executed, as typed
  bool quit_ = false;
  bool finished_ = false;
  std::string error_;
};

}  // namespace sim
