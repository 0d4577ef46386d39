// Parameter sweeps (`mmcosim sweep SWEEP.yaml --outdir DIR [--jobs N]
// [--slurm ...]`, docs/sweeps.md): a sweep file names a base scenario, axes
// of scenario keys (lists or ranges of values, crossed or zipped, or labelled
// variants setting several keys), repetitions with derived seeds and the
// statistics to collect. Every point is its own `mmcosim run` child process
// into DIR/<point>/, which ends by writing DIR/<point>/result.json (its exit
// status, error line and host time): a point with one is finished, so a
// rerun skips it. DIR/sweep.json holds the expanded points; DIR/results.csv
// and DIR/results.json one row per run.
//
// Back ends: local child processes, N at a time (sweep_local.cpp), or one
// Slurm job array whose tasks run `mmcosim sweep --run-point DIR INDEX`
// (sweep_slurm.cpp). Both run a point the same way (run_point) and collect
// the same way (collect), so their results differ only in host times.
// Used by main.cpp.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace sim {

struct SweepOptions {
  std::string file;                  // the sweep file
  std::string outdir;
  unsigned jobs = 0;                 // local runs at a time; 0: one per core
  bool retry_failed = false;         // rerun points that finished with a failure
  bool progress = true;              // the progress bar on stderr
  // Slurm
  bool slurm = false;
  bool no_wait = false;              // submit and return; collect later with --collect
  std::string partition, time_limit;
  std::vector<std::string> sbatch_args;  // passed to sbatch as they are
  unsigned max_running = 0;          // sbatch --array=...%N (0: no limit)
  double poll_seconds = 2.0;         // how often squeue is asked
};

// One point of a sweep: one run.
struct SweepPoint {
  std::string name;                                         // its directory under DIR, "0003-64-THP"
  std::vector<std::pair<std::string, std::string>> columns;  // axis column -> value
  std::vector<std::string> sets;                            // --set assignments (the sweep's, then the axes')
  unsigned rep = 0;
  uint64_t seed = 0;
};

// Where a --set assignment came from in the sweep file, so that a bad key
// is reported at its line.
struct SweepSource {
  std::string assignment;  // "platform.mmu.stlb.sets=64"
  std::string where;       // "sweep.yaml:12: axes[0].values"
};

struct Sweep {
  std::string file;
  std::string scenario;                 // absolute path; "" = the built-in default
  std::vector<std::string> columns;     // axis columns, in order
  std::vector<std::string> stats;       // statistics to collect (names or globs)
  std::vector<std::string> stat_where;  // their places in the file
  std::vector<SweepPoint> points;
  std::vector<SweepSource> sources;
};

// Reads and expands a sweep file. Throws ConfigError (one line naming file,
// line and key) for bad input.
Sweep load_sweep(const std::string& file);

// DIR/sweep.json: the expanded sweep, which --run-point and --collect read.
void save_sweep(const Sweep& s, const std::string& outdir);
Sweep read_saved_sweep(const std::string& outdir);

// The arguments of the point's `mmcosim run` (after the program name).
std::vector<std::string> point_args(const Sweep& s, const SweepPoint& p, const std::string& outdir);

// A point's outcome, as its result.json records it.
struct PointResult {
  bool finished = false;  // result.json exists and belongs to this point
  int status = -1;        // exit status of its run (128+N: killed by signal N)
  std::string error;      // its error line ("" when it succeeded)
  double host_seconds = 0;
};
PointResult read_point_result(const Sweep& s, size_t index, const std::string& outdir);
// Whether a rerun skips the point.
bool point_done(const PointResult& r, bool retry_failed);

// What a (re)run of the sweep has left to do: the points not done (their
// stale result.json removed), and how many finished earlier and failed.
// Says on `err` how many finished earlier, when any did and progress is on.
struct Pending {
  std::vector<size_t> todo;
  size_t done = 0, failed = 0;
};
Pending pending_points(const Sweep& s, const SweepOptions& opts, std::ostream& err);

// Runs point `index` as a child process and writes its result.json last.
// Returns its result. start_point and finish_point are its two halves (the
// local back end runs several at once): start returns the child's pid,
// finish takes its wait status.
PointResult run_point(const Sweep& s, size_t index, const std::string& outdir);
int start_point(const Sweep& s, size_t index, const std::string& outdir);
PointResult finish_point(const Sweep& s, size_t index, const std::string& outdir, int wait_status, double host_seconds);

// Writes DIR/results.csv and DIR/results.json from the points' directories.
// Returns the number of points that did not finish successfully, and
// whether the sweep asked for a statistic no point has (reported on `err`,
// one line naming the sweep file's line).
struct CollectOutcome {
  size_t unsuccessful = 0;
  bool bad_input = false;
};
CollectOutcome collect(const Sweep& s, const std::string& outdir, std::ostream& err);

// The commands. Each returns the process exit status: 0 every point
// succeeded, 1 some failed, 2 bad input; errors are one line on `err`.
int sweep_command(const SweepOptions& opts, std::ostream& out, std::ostream& err);
int sweep_run_point(const std::string& outdir, const std::string& index, std::ostream& err);
int sweep_collect(const std::string& outdir, std::ostream& out, std::ostream& err);

// The local back end (sweep_local.cpp) and the Slurm one (sweep_slurm.cpp):
// run the points not yet done. Return 0, or an exit status after reporting.
int run_local(const Sweep& s, const SweepOptions& opts, std::ostream& err);
int run_slurm(const Sweep& s, const SweepOptions& opts, std::ostream& out, std::ostream& err);

// The progress bar of both back ends: "[#####-----] 6/12 done, 1 failed, 2
// running, ETA 0:23", redrawn in place on a terminal, one line per change
// otherwise.
class SweepProgress {
 public:
  SweepProgress(std::ostream& err, size_t total, size_t already_done, bool enabled);
  void update(size_t done, size_t failed, size_t running, bool force = false);
  void finish();

 private:
  std::ostream& err_;
  size_t total_, base_;
  bool enabled_, tty_;
  double start_;
  double last_draw_ = -1;
  std::string last_line_;
};

// The path of the running mmcosim binary.
std::string self_exe();

}  // namespace sim
