// The summary a run prints on stdout (unless --quiet): the machine, each
// process's outcome, TLB and walk rates, the walkers' host speeds in
// lockstep, the simulation's host speed, where the outputs are. Host
// timings appear here only, never in stats.txt, so statistics stay
// identical between runs of the same seed, scenario and binary. Used by
// run.cpp.
#pragma once

#include <filesystem>
#include <iosfwd>

#include "tb/top/run.h"

namespace sim {

class Machine;

void print_summary(std::ostream& out, const RunOptions& opts, Machine& m, const std::filesystem::path& outdir,
                   double host_seconds);

}  // namespace sim
