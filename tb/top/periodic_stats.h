// Statistics over time (`mmcosim run --stats-period T`): every T of
// simulated time, every statistic is dumped as one more gem5 block in
// stats.txt (the way gem5's periodic dumps repeat `Begin/End Simulation
// Statistics`) and as `time,name,value` rows in stats-timeseries.csv; the
// end of the run adds the last block and rows. Values are cumulative (no
// reset between dumps), as in gem5 without --stats-reset.
//
// A SystemC thread that wakes on simulated time only, so it never changes
// what is simulated (the final block is byte-identical to a run without the
// option). Cores run ahead of SystemC time by up to a quantum, so a dump at
// time t holds the counters as they stood when SystemC time reached t:
// within one quantum of t. The firmware's counters are read through
// hal::FirmwareDebug::visit_stats, which only reads them; a dump that finds
// a core inside the firmware (waiting in cpu_relax for another CPU) sees a
// snapshot of counters mid-operation. Used by run.cpp.
#pragma once

#include <filesystem>
#include <fstream>

#include <systemc>

namespace hw {
class Platform;
}

namespace sim {

class PeriodicStats : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(PeriodicStats);
  static constexpr const char* kTextFile = "stats.txt";
  static constexpr const char* kSeriesFile = "stats-timeseries.csv";
  // Opens DIR/stats.txt and DIR/stats-timeseries.csv; throws
  // std::runtime_error when it cannot.
  PeriodicStats(sc_core::sc_module_name name, hw::Platform& platform, const std::filesystem::path& outdir,
                sc_core::sc_time period);
  // The end-of-run dump: the last block of stats.txt and the last rows.
  // Throws std::runtime_error when a file cannot be written.
  void final_dump(double sim_seconds);

 private:
  void run();
  void dump(double sim_seconds);

  hw::Platform& platform_;
  sc_core::sc_time period_;
  std::filesystem::path text_path_, series_path_;
  std::ofstream text_, series_;
};

}  // namespace sim
