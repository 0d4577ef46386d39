// The workload of a scenario: its processes, each a scripted program of
// operations, spawned on the boot CPU once the firmware is up, and checked
// at the end (every process ended, and as expected).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hw/cpu/core.h"
#include "hw/sim/config.h"
#include "hw/sim/stats.h"
#include "tb/workload/program.h"

namespace tb {

class Workload {
 public:
  // Reads `workload.*`. nr_cpus bounds each process's cpu.
  Workload(sim::ConfigNode workload, uint64_t seed, unsigned nr_cpus, sim::stats::Group* stats_root);
  ~Workload();

  // Spawns every process (on the boot CPU, after boot).
  void spawn_all(hal::Hal& hal, hal::Firmware& fw, hw::CoreComplex& cx);

  // "" when every process ended as expected; otherwise one line per problem.
  std::string check_outcomes() const;
  // One line per process: name, how it ended.
  std::vector<std::string> summary() const;
  size_t size() const { return procs_.size(); }

 private:
  struct Process {
    std::string name;
    std::string where;
    unsigned cpu = 0;
    uint64_t seed = 0;
    int expect_signal = 0;
    std::vector<Op> ops;
    std::unique_ptr<ProcessStats> stats;
    std::unique_ptr<ScriptedProgram> program;
    int pid = -1;
  };
  std::unique_ptr<sim::stats::Group> group_;
  std::vector<Process> procs_;
};

}  // namespace tb
