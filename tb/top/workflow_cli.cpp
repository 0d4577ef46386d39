#include "tb/top/workflow_cli.h"

#include <ostream>

#include <CLI/CLI.hpp>

namespace sim {

namespace {

void add_sweep(CLI::App& app, WorkflowCommands& w) {
  SweepOptions& o = w.sweep;
  CLI::App* c = app.add_subcommand(
      "sweep", "Run a grid of scenario variants, locally in parallel or as a Slurm job array (docs/sweeps.md)");
  w.sweep_cmd = c;
  c->add_option("sweep", o.file, "Sweep file (YAML)")->type_name("SWEEP.yaml");
  c->add_option("--outdir", o.outdir, "Output directory: one folder per point, results.csv, results.json")
      ->type_name("DIR");
  c->add_option("-j,--jobs", o.jobs, "Runs at a time on this machine (default: one per core)")->type_name("N");
  c->add_flag("--retry-failed", o.retry_failed, "Run again the points that failed (finished points are skipped)");
  c->add_flag("!--no-progress", o.progress, "No progress bar on stderr");
  c->add_flag("--slurm", o.slurm, "Submit the points as one Slurm job array and wait for it");
  c->add_option("--partition", o.partition, "Slurm partition (sbatch --partition)")->type_name("NAME");
  c->add_option("--time", o.time_limit, "Time limit of each array task (sbatch --time)")->type_name("TIME");
  c->add_option("--sbatch-arg", o.sbatch_args, "An extra sbatch option, passed as it is (repeatable)")
      ->type_name("ARG")
      ->allow_extra_args(false);
  c->add_option("--max-running", o.max_running, "At most N array tasks at once (sbatch --array=...%N)")->type_name("N");
  c->add_flag("--no-wait", o.no_wait, "Submit and return; collect later with --collect DIR");
  c->add_option("--poll", o.poll_seconds, "Seconds between squeue polls while waiting")->type_name("S");
  c->add_option("--collect", w.collect_dir, "Write DIR/results.csv and results.json from the points run so far")
      ->type_name("DIR");
  c->add_option("--run-point", w.run_point, "Run one point of DIR/sweep.json (what each Slurm array task does)")
      ->type_name("DIR INDEX")
      ->expected(2);
}

void add_plot(CLI::App& app, WorkflowCommands& w) {
  PlotOptions& p = w.plot;
  CLI::App* c = app.add_subcommand("plot", "Plot a sweep's results.csv, or a run's stats-timeseries.csv (matplotlib)");
  w.plot_cmd = c;
  c->add_option("input", p.input, "results.csv of a sweep, or stats-timeseries.csv with --timeseries")
      ->required()
      ->type_name("FILE.csv");
  c->add_option("--x", p.x, "Column on the x axis (an axis of the sweep)")->type_name("KEY");
  c->add_option("--y", p.y,
                "Statistic(s) on the y axis, or a formula of columns in braces ({a} / ({a} + {b})); with "
                "--timeseries, names or globs")
      ->type_name("STAT");
  c->add_option("--group", p.group, "One line per value of this column")->type_name("KEY");
  c->add_option("-o,--output", p.output, "Output image (.png, .svg or .pdf; default: beside the input)")
      ->type_name("FILE");
  c->add_option("--title", p.title, "Title of the plot");
  c->add_option("--ylabel", p.ylabel, "Label of the y axis (default: the statistic)");
  c->add_flag("--timeseries", p.timeseries, "The input is stats-timeseries.csv: the statistics over simulated time");
  c->add_flag("--logx", p.logx, "Logarithmic x axis");
  c->add_flag("--logy", p.logy, "Logarithmic y axis");
}

}  // namespace

void add_workflow_commands(CLI::App& app, WorkflowCommands& w) {
  add_sweep(app, w);
  add_plot(app, w);
}

int run_workflow_command(const WorkflowCommands& w, std::ostream& out, std::ostream& err) {
  if (w.plot_cmd && w.plot_cmd->parsed()) return plot_command(w.plot, err);
  if (!w.sweep_cmd || !w.sweep_cmd->parsed()) return -1;
  const SweepOptions& o = w.sweep;
  const int modes = int(!o.file.empty()) + int(!w.collect_dir.empty()) + int(!w.run_point.empty());
  if (modes != 1) {
    err << "mmcosim: sweep: give one of SWEEP.yaml (with --outdir DIR), --collect DIR or --run-point DIR INDEX\n";
    return 2;
  }
  if (!w.collect_dir.empty()) return sweep_collect(w.collect_dir, out, err);
  if (!w.run_point.empty()) return sweep_run_point(w.run_point[0], w.run_point[1], err);
  if (o.outdir.empty()) {
    err << "mmcosim: sweep: --outdir DIR is required (every point writes DIR/<point>/)\n";
    return 2;
  }
  if (!o.slurm && (o.no_wait || !o.partition.empty() || !o.time_limit.empty() || !o.sbatch_args.empty() ||
                   o.max_running)) {
    err << "mmcosim: sweep: --partition, --time, --sbatch-arg, --max-running and --no-wait need --slurm\n";
    return 2;
  }
  if (o.poll_seconds <= 0) {
    err << "mmcosim: sweep: --poll: must be positive\n";
    return 2;
  }
  return sweep_command(o, out, err);
}

}  // namespace sim
