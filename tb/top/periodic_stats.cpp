#include "tb/top/periodic_stats.h"

#include <stdexcept>

#include <fmt/format.h>

#include "hw/base/stats.h"
#include "hw/platform/platform.h"

namespace sim {

PeriodicStats::PeriodicStats(sc_core::sc_module_name name, hw::Platform& platform, const std::filesystem::path& outdir,
                             sc_core::sc_time period)
    : sc_module(name),
      platform_(platform),
      period_(period),
      text_path_(outdir / kTextFile),
      series_path_(outdir / kSeriesFile),
      text_(text_path_),
      series_(series_path_) {
  if (!text_) throw std::runtime_error(fmt::format("{}: cannot write", text_path_.string()));
  if (!series_) throw std::runtime_error(fmt::format("{}: cannot write", series_path_.string()));
  series_ << "time,name,value\n";
  SC_THREAD(run);
}

void PeriodicStats::run() {
  for (;;) {
    sc_core::wait(period_);
    dump(sc_core::sc_time_stamp().to_seconds());
  }
}

void PeriodicStats::dump(double sim_seconds) {
  stats::write_text_block(platform_.stats_root(), text_, sim_seconds);
  stats::write_series_rows(platform_.stats_root(), series_, sim_seconds);
}

void PeriodicStats::final_dump(double sim_seconds) {
  dump(sim_seconds);
  text_.flush();
  series_.flush();
  if (!text_) throw std::runtime_error(fmt::format("{}: cannot write", text_path_.string()));
  if (!series_) throw std::runtime_error(fmt::format("{}: cannot write", series_path_.string()));
}

}  // namespace sim
