// The workload of a scenario: its processes, each a scripted program of
// operations, spawned on the boot CPU once the firmware is up (children
// declared by fork operations start when their parent forks), and checked
// at the end: every process ended, and as expected.
#pragma once

#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "hw/base/config.h"
#include "hw/base/stats.h"
#include "hw/cpu/user_program.h"
#include "sw/hal/firmware.h"
#include "sw/hal/hal.h"
#include "tb/workload/program.h"

namespace tb {

// A device of the platform, as workload.files sees it.
struct DeviceDesc {
  std::string name;
  bool block = false;        // a disk (kind block)
  uint64_t capacity = 0;     // bytes
  uint32_t sector_size = 0;  // bytes
};

// An operation's `expect` key: 0 (ok) or the errno it must fail with.
int64_t parse_expect(sim::ConfigNode& n);

class Workload {
 public:
  // Reads `workload.*`. Trace files are found relative to `base_dir` (the
  // scenario's directory). nr_cpus bounds each process's cpu.
  // dma_devices: the names of the platform's DMA engines, in order (the
  // index a dma_copy passes to the firmware). devices: every device, which
  // workload.files may name. Long trace passes print progress lines on
  // `progress` (nullptr: none).
  Workload(sim::ConfigNode workload, uint64_t seed, unsigned nr_cpus, const std::string& base_dir,
           sim::stats::Group* stats_root, const std::vector<std::string>& dma_devices = {},
           std::ostream* progress = nullptr, const std::vector<DeviceDesc>& devices = {});
  ~Workload();

  // Spawns the top-level processes through the firmware (on the boot CPU,
  // after boot) and tells the machine each one started.
  void spawn_all(hal::Hal& hal, hal::Firmware& fw, hw::ProgramHost& machine);

  // "" when every process ended as expected; otherwise one line per problem.
  // At the end of the run, before check_outcomes(): what the programs'
  // replays had yet to check (ScriptedProgram::settle); its failure, or "".
  std::string settle();
  std::string check_outcomes() const;
  // signals.txt: every signal a handler took (`sigbus: record`), one line
  // each; has_signal_log() says whether any process records them.
  bool has_signal_log() const;
  std::string signal_log() const;
  // Signals the processes' handlers took, and loads and fetches checked
  // against the shadow, over every process (the RAS soak's summary).
  uint64_t signals_taken() const;
  uint64_t loads_checked() const;
  // One line per process: name, how it ended, what it did.
  std::vector<std::string> summary() const;
  size_t size() const { return procs_.size(); }
  // The files of workload.files and their shadows (empty without files).
  const FileSet& files() const { return files_; }
  // What the `workload.*` keys resolved to: every process and operation with
  // every field it runs with, one line each (the parameter-effect test
  // compares it between scenarios).
  std::string describe() const;

 private:
  // The regions a program has mapped, by name, with their sizes, as its
  // operations are read in order (what range_of will find at run time).
  using Regions = std::map<std::string, uint64_t>;
  struct Process {
    std::string name, where;
    int parent = -1;       // index of the parent for forked children and threads
    bool thread = false;   // shares its parent's address space
    unsigned cpu = 0;
    uint64_t seed = 0;
    int expect_signal = 0;
    bool sigbus_record = false;  // a SIGBUS handler records each signal (sigbus: record)
    std::string mce_kill = "default";
    // expect_sigbus: the signals its handler must take, in order.
    struct ExpectedSignal {
      int code = 0;
      std::string region;
      uint64_t offset = 0;
      unsigned lsb = 12;
    };
    std::vector<ExpectedSignal> expect_sigbus;
    bool check_sigbus = false;  // expect_sigbus was given
    std::vector<Op> ops;
    std::unique_ptr<ProcessStats> stats;
    std::unique_ptr<ScriptedProgram> program;
    int pid = -1;
    // Threads share region names, whichever of them maps first: the group
    // (its first process's index) this program's mmaps name regions for, and
    // the groups whose regions it may use (its own, and its forebears').
    int group = -1;
    std::vector<size_t> pools;
    Regions regions;  // while its ops are read
    std::set<std::string> pfn_names;  // pagemap saves so far
  };
  // A use of a region by a program of a thread group, checked once every
  // program of the group is read.
  struct PendingUse {
    sim::ConfigNode node;
    Op op;
    size_t self;
    bool scoped;        // the program's own regions held the name...
    uint64_t size;      // ...with this size
  };
  // Parses one process (and, recursively, the children its forks declare).
  size_t parse_process(sim::ConfigNode pn, const std::string& default_name, int parent, bool thread,
                       unsigned nr_cpus, uint64_t seed);
  // The index of the DMA engine an op's `device` names.
  uint64_t parse_dma_device(sim::ConfigNode& n) const;
  Op parse_op(sim::ConfigNode item, size_t self, unsigned nr_cpus, uint64_t seed);
  // sigbus, mce_kill and expect_sigbus: the operations that set them up
  // come first in `ops`.
  void parse_signal_keys(sim::ConfigNode& pn, Process& p, bool thread, std::vector<Op>& ops);
  void parse_expect_sigbus(sim::ConfigNode& pn, Process& p);
  // The differences between what p's handler took and expect_sigbus.
  std::string sigbus_problem(const Process& p) const;
  // workload.files, checked against the devices.
  void parse_files(sim::ConfigNode w, uint64_t seed, const std::vector<DeviceDesc>& devices);
  // The keys of the file operations (parse_op's part for them); false if `kind` is none.
  bool parse_file_op(sim::ConfigNode& n, const std::string& kind, Op& op);
  bool parse_device_op(sim::ConfigNode& n, const std::string& kind, Op& op) const;
  // pagemap's keys: one of save, same_as, differs_from (a name an earlier save of the process gave).
  void parse_pagemap(sim::ConfigNode& n, Op& op, Process& p) const;
  int parse_file(sim::ConfigNode& n) const;
  // file_read/file_write's count, pattern, stride and seed.
  void parse_file_repeat(sim::ConfigNode& n, Op& op) const;
  // The final sync when files are declared: the last program to finish its
  // operations calls sync(2) before it exits, so that the end-of-run check
  // finds every byte on the disks.
  void add_final_sync();
  std::string describe_files() const;
  // Records what a successful mmap or a whole munmap does to the names.
  void track_region(const Op& op, size_t self);
  // Checks at load what range_of would reject at run time: a region no
  // earlier mmap names, a range beyond the region.
  void use_region(sim::ConfigNode n, const Op& op, size_t self);
  void check_pending_uses();

  std::string base_dir_;
  std::vector<std::string> dma_devices_;
  std::ostream* progress_;
  std::unique_ptr<sim::stats::Group> group_;
  std::vector<std::unique_ptr<Process>> procs_;
  std::map<std::string, std::unique_ptr<Barrier>> barriers_;
  std::map<size_t, std::map<std::string, std::vector<uint64_t>>> pools_;  // group -> name -> sizes mapped
  std::vector<PendingUse> pending_;
  FileSet files_;
  Barrier final_;  // programs that finished their operations, of those created
};

}  // namespace tb
