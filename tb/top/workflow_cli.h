// The command line of the architect's workflow: `mmcosim sweep` (sweep.h)
// and `mmcosim plot` (plot.cpp: runs the shipped matplotlib script). Kept
// apart from main.cpp's run/params commands; main.cpp adds them and
// dispatches to run_workflow_command.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "tb/top/sweep.h"

namespace CLI {
class App;
}

namespace sim {

struct PlotOptions {
  std::string input;             // results.csv, or stats-timeseries.csv with --timeseries
  std::string x, group, output, title, ylabel;
  std::vector<std::string> y;    // statistics (globs with --timeseries)
  bool timeseries = false, logx = false, logy = false;
};

struct WorkflowCommands {
  SweepOptions sweep;
  std::string collect_dir;
  std::vector<std::string> run_point;  // DIR INDEX
  PlotOptions plot;
  CLI::App* sweep_cmd = nullptr;
  CLI::App* plot_cmd = nullptr;
};

void add_workflow_commands(CLI::App& app, WorkflowCommands& w);
// Runs the workflow command the command line named. Returns -1 when it named
// none of them, else the exit status (errors: one line on `err`).
int run_workflow_command(const WorkflowCommands& w, std::ostream& out, std::ostream& err);

// `mmcosim plot`: runs mmcosim-plot.py (found next to the binary, or in
// ../share/mmcosim) with Python 3 and matplotlib. Returns its exit status.
int plot_command(const PlotOptions& p, std::ostream& err);

}  // namespace sim
