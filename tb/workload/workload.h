// The workload of a scenario: its processes, each a scripted program of
// operations, spawned on the boot CPU once the firmware is up (children
// declared by fork operations start when their parent forks), and checked
// at the end: every process ended, and as expected.
#pragma once

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "hw/base/config.h"
#include "hw/base/stats.h"
#include "hw/cpu/user_program.h"
#include "sw/hal/firmware.h"
#include "sw/hal/hal.h"
#include "tb/workload/program.h"

namespace tb {

class Workload {
 public:
  // Reads `workload.*`. Trace files are found relative to `base_dir` (the
  // scenario's directory). nr_cpus bounds each process's cpu. Long trace
  // passes print progress lines on `progress` (nullptr: none).
  Workload(sim::ConfigNode workload, uint64_t seed, unsigned nr_cpus, const std::string& base_dir,
           sim::stats::Group* stats_root, std::ostream* progress = nullptr);
  ~Workload();

  // Spawns the top-level processes through the firmware (on the boot CPU,
  // after boot) and tells the machine each one started.
  void spawn_all(hal::Hal& hal, hal::Firmware& fw, hw::ProgramHost& machine);

  // "" when every process ended as expected; otherwise one line per problem.
  std::string check_outcomes() const;
  // One line per process: name, how it ended, what it did.
  std::vector<std::string> summary() const;
  size_t size() const { return procs_.size(); }

 private:
  struct Process {
    std::string name, where;
    int parent = -1;       // index of the parent for forked children and threads
    bool thread = false;   // shares its parent's address space
    unsigned cpu = 0;
    uint64_t seed = 0;
    int expect_signal = 0;
    std::vector<Op> ops;
    std::unique_ptr<ProcessStats> stats;
    std::unique_ptr<ScriptedProgram> program;
    int pid = -1;
  };
  // Parses one process (and, recursively, the children its forks declare).
  size_t parse_process(sim::ConfigNode pn, const std::string& default_name, int parent, bool thread,
                       unsigned nr_cpus, uint64_t seed);
  Op parse_op(sim::ConfigNode item, size_t self, unsigned nr_cpus, uint64_t seed);

  std::string base_dir_;
  std::ostream* progress_;
  std::unique_ptr<sim::stats::Group> group_;
  std::vector<std::unique_ptr<Process>> procs_;
  std::map<std::string, std::unique_ptr<Barrier>> barriers_;
};

}  // namespace tb
