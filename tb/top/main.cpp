// mmcosim: the command line. `mmcosim run [SCENARIO.yaml] ...` runs a
// scenario (the built-in default without one); `mmcosim params` lists every
// parameter a scenario can set; `mmcosim debug-flags` lists the debug flags.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <systemc>

#include "hw/base/config.h"
#include "hw/base/debug.h"
#include "tb/top/run.h"
#include "tb/top/workflow_cli.h"

// SystemC prints its banner when the kernel starts unless this is set; the
// variable must exist before sc_main runs, hence a static initialiser.
static const int kQuietBanner = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);

namespace {

// The one line that says what is wrong with the command line.
std::string command_line_problem(const CLI::App& app, const CLI::ParseError& e, int argc, char* argv[]) {
  const std::string first = argc > 1 ? argv[1] : "";
  bool known = false;
  for (const CLI::App* sub : app.get_subcommands({})) known = known || sub->get_name() == first;
  if (!first.empty() && first[0] != '-' && !known)
    return fmt::format("unknown command {} (run, params, debug-flags, sweep or plot)", sim::quoted(first));
  if (!known && std::string(e.what()) == "A subcommand is required")
    return first.empty() ? "a command is required: run, params, debug-flags, sweep or plot (mmcosim --help)"
                         : fmt::format("unknown option {}: a command comes first: run, params, debug-flags, sweep "
                                       "or plot (mmcosim --help)", sim::quoted(first));
  return fmt::format("{} (mmcosim {}--help)", e.what(), known ? first + " " : "");
}

// SystemC's reports: a warning or an error becomes one line on stderr (they
// are the models' to avoid; this keeps a stray one from breaking the
// one-line contract), and errors still throw, as SystemC's default does.
void report_one_line(const sc_core::sc_report& r, const sc_core::sc_actions& actions) {
  const sc_core::sc_actions shown = sc_core::SC_DISPLAY | sc_core::SC_LOG;
  // A thrown error is reported once, by whoever catches it.
  if ((actions & shown) && !(actions & sc_core::SC_THROW))
    std::cerr << "mmcosim: SystemC: " << sim::one_line(r.get_msg_type()) << ": " << sim::one_line(r.get_msg()) << '\n';
  sc_core::sc_report_handler::default_handler(r, actions & ~shown);
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  // One picosecond resolution, before any sc_time or clock exists.
  sc_core::sc_set_time_resolution(1, sc_core::SC_PS);
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  sc_core::sc_report_handler::set_handler(report_one_line);

  CLI::App app{"mmcosim: co-simulation of a machine's memory-management path (x86-64 MMU models and a\n"
               "Linux-style memory manager). See README.md and docs/."};
  app.set_version_flag("--version", "mmcosim 0.1");
  app.require_subcommand(1);

  sim::RunOptions opts;
  auto add_scenario_options = [&opts](CLI::App* cmd) {
    // Scenario and script files are checked when read, so their errors
    // name the file the way every other input error does.
    cmd->add_option("scenario", opts.scenario, "Scenario file (YAML); without one, the built-in default");
    cmd->add_option("--set", opts.sets, "Override a scenario key: --set platform.cores=4 (repeatable)")
        ->type_name("KEY=VALUE");
  };

  CLI::App* run = app.add_subcommand("run", "Run a scenario and write its outputs");
  add_scenario_options(run);
  run->add_option("--outdir", opts.outdir, "Output directory (created if needed)")->capture_default_str();
  run->add_option("--debug-flags", opts.debug_flags, "Comma-separated debug flags (see `mmcosim debug-flags`)");
  run->add_option("--seed", [&opts](const CLI::results_t& r) {
        uint64_t seed;
        if (!sim::parse_uint(r[0], seed))
          throw CLI::ValidationError("--seed", "expected a non-negative integer, got " + sim::quoted(r[0]));
        opts.sets.push_back("seed=" + r[0]);
        return true;
      }, "Seed of the run (same as --set seed=N)")->type_name("N");
  run->add_option("--walker", [&opts](const CLI::results_t& r) {
        opts.sets.push_back("platform.mmu.walker=" + r[0]);
        return true;
      }, "Page walker: tlm, rtl or lockstep (same as --set platform.mmu.walker=...)")
      ->type_name("WALKER")  // the check appends the choices
      ->check(CLI::IsMember({"tlm", "rtl", "lockstep"}));
  run->add_option("--wave", opts.wave,
                  "Record the RTL walker's signals to FILE.fst or FILE.vcd (with --walker=rtl or lockstep)")
      ->type_name("FILE");
  run->add_flag("-q,--quiet", opts.quiet, "No summary on stdout");
  auto* interactive = run->add_flag("-i,--interactive", opts.interactive,
                                    "The monitor: step, run until an event, inspect page tables, TLBs, /proc files");
  run->add_option("--script", opts.script, "Monitor commands from a file (as --interactive, without a terminal)")
      ->excludes(interactive);
  run->add_flag_callback("--no-progress", [&opts] { opts.progress = false; }, "No progress lines on stderr");
  run->add_option("--stats-period", opts.stats_period,
                  "Dump every statistic every T of simulated time (stats.txt blocks, stats-timeseries.csv)")
      ->type_name("T");
  auto* trace_events = run->add_option("--trace-events", opts.trace_events,
                  "Write a timeline of the run to FILE.json (Chrome/Perfetto trace events; open it in "
                  "ui.perfetto.dev; docs/tracing.md)")
      ->type_name("FILE.json");
  run->add_option("--trace-flags", opts.trace_flags,
                  "The debug flags whose events the timeline records: Core, Syscall, Fault, Walker, MMU, Intc, "
                  "Kthread, DMA, Block, or All")
      ->type_name("FLAGS")
      ->capture_default_str()
      ->needs(trace_events);
  run->add_option("--trace-limit", opts.trace_limit,
                  "The timeline keeps the last N events (the file says how many were dropped)")
      ->type_name("N")
      ->capture_default_str()
      ->needs(trace_events);

  CLI::App* params = app.add_subcommand("params", "List every scenario parameter with its value and meaning");
  add_scenario_options(params);

  app.add_subcommand("debug-flags", "List the debug flags");

  // sweep and plot (tb/top/workflow_cli.h).
  sim::WorkflowCommands workflow;
  sim::add_workflow_commands(app, workflow);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "mmcosim: " << sim::one_line(command_line_problem(app, e, argc, argv)) << '\n';
    return 2;
  }

  try {
    if (app.got_subcommand("debug-flags")) {
      for (const sim::debug::Flag* f : sim::debug::all_flags())
        std::cout << fmt::format("{:<10} {}\n", f->name(), f->desc());
      return 0;
    }
    if (app.got_subcommand("params")) return sim::list_params(opts, std::cout, std::cerr);
    if (const int status = sim::run_workflow_command(workflow, std::cout, std::cerr); status >= 0) return status;
    return sim::run_scenario(opts, std::cout, std::cerr);
  } catch (const std::exception& e) {
    // The runs report their own errors; this is the last resort.
    std::cerr << "mmcosim: error: " << sim::one_line(e.what()) << '\n';
    return 1;
  }
}
