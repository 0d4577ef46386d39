#include "tb/top/summary.h"

#include <ostream>

#include <fmt/format.h>

#include "hw/base/config.h"
#include "hw/platform/platform.h"
#include "tb/top/machine.h"
#include "tb/workload/workload.h"

namespace sim {

namespace {

// Both walkers ran every walk: how many on each core, and their host speeds
// side by side.
void print_lockstep(std::ostream& out, hw::Platform& pf) {
  uint64_t compared = 0, mismatches = 0;
  double tlm_s = 0, rtl_s = 0;
  std::string per_core;
  for (unsigned c = 0; c < pf.nr_cpus(); ++c) {
    const hw::LockstepWalker& l = *pf.cpu(c).lockstep;
    compared += l.stats.compared.value();
    mismatches += l.stats.mismatches.value();
    tlm_s += l.tlm_host_seconds();
    rtl_s += l.rtl_host_seconds();
    per_core += fmt::format("{}cpu{} {}", c ? ", " : "", c, l.stats.compared.value());
  }
  out << fmt::format("  lockstep: {} walks compared ({}), {} mismatches; TLM walker {:.0f} walks/s, RTL walker "
                     "{:.0f} walks/s (host)\n",
                     compared, per_core, mismatches, tlm_s > 0 ? compared / tlm_s : 0.0,
                     rtl_s > 0 ? compared / rtl_s : 0.0);
}

}  // namespace

void print_summary(std::ostream& out, const RunOptions& opts, Machine& m, const std::filesystem::path& outdir,
                   double host_seconds) {
  hw::Platform& pf = m.platform();
  const hw::MemoryMap& map = pf.memory_map();
  out << fmt::format("mmcosim: {}\n", opts.scenario.empty() ? "default scenario (built in)" : opts.scenario);
  out << fmt::format("  machine: {} CPU{}, {} of DRAM in {} node{}, seed {}\n", pf.nr_cpus(), pf.nr_cpus() > 1 ? "s" : "",
                     format_size(map.total_dram(), SizeStyle::rounded), map.nodes.size(), map.nodes.size() > 1 ? "s" : "",
                     m.seed());
  for (const std::string& line : m.workload().summary()) out << "  " << line << '\n';
  uint64_t accesses = 0, walks = 0, faults = 0, misses = 0, stlb_misses = 0;
  for (unsigned c = 0; c < pf.nr_cpus(); ++c) {
    hw::CpuNode& cpu = pf.cpu(c);
    accesses += cpu.user_accesses();
    walks += cpu.mmu.stats.walks.value();
    faults += cpu.core.stats.page_faults.value();
    misses += cpu.mmu.itlb().stats.misses.value() + cpu.mmu.dtlb().stats.misses.value();
    stlb_misses += cpu.mmu.stlb() ? cpu.mmu.stlb()->stats.misses.value() : 0;
  }
  const double k = accesses ? 1000.0 / static_cast<double>(accesses) : 0.0;
  out << fmt::format("  {} user accesses, {} L1 TLB misses, {} walks, {} page faults\n", accesses, misses, walks, faults);
  out << fmt::format("  per 1000 accesses: {:.3f} L1 TLB misses, {:.3f} STLB misses, {:.3f} walks\n", misses * k,
                     stlb_misses * k, walks * k);
  if (pf.walker_kind() == hw::WalkerKind::lockstep) print_lockstep(out, pf);
  if (const std::string dma = pf.dma_checker().summary(); !dma.empty()) out << "  " << dma << '\n';
  out << fmt::format("  simulated {:.6f} s in {:.2f} s of host time ({:.2f} M accesses/s, {:.0f} walks/s)\n",
                     pf.sim_seconds(), host_seconds, host_seconds > 0 ? accesses / host_seconds / 1e6 : 0.0,
                     host_seconds > 0 ? walks / host_seconds : 0.0);
  // Reclaim's rate per host second: a host timing, so here and not in stats.txt.
  if (const uint64_t reclaimed = m.pages_reclaimed())
    out << fmt::format("  reclaim: {} pages freed, {:.0f} per simulated second, {:.0f} per host second\n", reclaimed,
                       pf.sim_seconds() > 0 ? reclaimed / pf.sim_seconds() : 0.0,
                       host_seconds > 0 ? reclaimed / host_seconds : 0.0);
  out << fmt::format("  outputs: {}/{{stats.txt, stats.json, config.json, console.log, proc/}}\n", outdir.string());
  if (!opts.wave.empty()) out << fmt::format("  waveform: {}\n", opts.wave);
}

}  // namespace sim
