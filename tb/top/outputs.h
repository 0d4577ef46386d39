// The files of a run's output directory (docs/user-guide.md, "Outputs"):
// config.json before the run; stats.txt, stats.json, proc/* and (when a
// process records its signals) signals.txt after it,
// also after a failed run, to show how far it got. console.log is written
// as the firmware prints. Used by run.cpp; the firmware is read through
// hal::FirmwareDebug only.
#pragma once

#include <filesystem>

#include "hw/base/config.h"
#include "sw/hal/debug.h"

namespace hw {
class Platform;
}

namespace sim {

class PeriodicStats;

// Creates the output directory and its proc/. Returns an error message, or
// "" on success.
std::string make_output_dir(const std::filesystem::path& outdir);

// config.json: every resolved parameter. Throws std::runtime_error when the
// file cannot be written.
void write_config(const std::filesystem::path& outdir, const Config& cfg);

// A text output such as signals.txt (the workload's signal log). Throws
// std::runtime_error when it cannot be written.
void write_text_file(const std::filesystem::path& p, const std::string& text);

// stats.txt and stats.json (the platform's statistics tree, the firmware's
// under system.fw) and proc/<file> for every /proc file the firmware
// provides. With periodic dumps, stats.txt's last block (and the time
// series' last rows) come from `periodic`. Throws std::runtime_error when a
// file cannot be written.
void write_results(const std::filesystem::path& outdir, hw::Platform& platform, const hal::FirmwareDebug& fw,
                   PeriodicStats* periodic = nullptr);

}  // namespace sim
