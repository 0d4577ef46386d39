#include "tb/top/outputs.h"

#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "hw/base/stats.h"
#include "hw/platform/platform.h"
#include "tb/top/periodic_stats.h"
#include "tb/top/stream_sink.h"

namespace sim {

namespace fs = std::filesystem;

std::string make_output_dir(const fs::path& outdir) {
  std::error_code ec;
  fs::create_directories(outdir / "proc", ec);
  if (ec) return fmt::format("{}: cannot create the output directory: {}", outdir.string(), ec.message());
  return "";
}

void write_config(const fs::path& outdir, const Config& cfg) {
  const fs::path p = outdir / "config.json";
  std::ofstream os(p);
  if (!os) throw std::runtime_error(fmt::format("{}: cannot write", p.string()));
  os << cfg.resolved().dump(2) << '\n';
}

void write_text_file(const fs::path& p, const std::string& text) {
  std::ofstream os(p);
  if (!(os << text)) throw std::runtime_error(fmt::format("{}: cannot write", p.string()));
}

void write_results(const fs::path& outdir, hw::Platform& platform, const hal::FirmwareDebug& fw,
                   PeriodicStats* periodic) {
  if (periodic) periodic->final_dump(platform.sim_seconds());
  else stats::write_text(platform.stats_root(), (outdir / "stats.txt").string(), platform.sim_seconds());
  stats::write_json(platform.stats_root(), (outdir / "stats.json").string(), platform.sim_seconds());
  for (unsigned i = 0; const char* name = fw.proc_file(i); ++i) {
    const fs::path p = outdir / "proc" / name;
    if (p.parent_path() != outdir / "proc") {
      // A file in a directory (node<N>/memory_failure/...): the directory
      // only when the file is there.
      struct Discard final : hal::TextSink {
        void write(const char*, size_t) override {}
      } discard;
      if (!fw.proc_show(name, discard)) continue;
      fs::create_directories(p.parent_path());
    }
    std::ofstream os(p);
    StreamSink sink(os);
    if (!fw.proc_show(name, sink)) {
      // Listed but not shown: leave no empty file behind.
      os.close();
      std::error_code ec;
      fs::remove(p, ec);
    }
  }
}

}  // namespace sim
