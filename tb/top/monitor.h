// The monitor: `mmcosim run --interactive` (commands from the terminal) or
// `--script FILE` (commands from a file). Between commands the simulation
// is paused; `step`, `until` and `continue` run it until a break condition
// (checked by the cores at operation boundaries and before they deliver a
// trap) or the end. The rest inspect the machine: page tables (ptdump), TLB
// contents, the firmware's /proc files and log, statistics; `poison`
// injects memory errors. `help` lists the commands.
#pragma once

#include <iosfwd>
#include <string>

namespace fw {
class Kernel;
}
namespace hw {
class Platform;
}
namespace tb {
class Workload;
}

namespace sim {

class Monitor {
 public:
  Monitor(hw::Platform& platform, fw::Kernel& kernel, tb::Workload& workload, std::istream& in, std::ostream& out,
          bool echo_commands);
  // Runs the simulation under the monitor's commands. Returns the run's
  // error, or "" (also when the user quit early).
  std::string run();

 private:
  bool execute(const std::string& line);  // false: quit
  void resume(const std::string& what);
  void ptdump(int pid);
  void translate(int pid, uint64_t va, unsigned len);
  void tlb(unsigned cpu);
  void stats(const std::string& prefix);
  void help();

  hw::Platform& pf_;
  fw::Kernel& kernel_;
  tb::Workload& workload_;
  std::istream& in_;
  std::ostream& out_;
  bool echo_;
  bool finished_ = false;
  std::string error_;
};

}  // namespace sim
