// The RAS soak: random injections and the memory_failure() oracle. See
// ras_soak.h and docs/ras.md ("A long random run").
#include "tb/top/ras_soak.h"

#include <fmt/format.h>

#include "hw/base/time.h"
#include "hw/platform/platform.h"

namespace sim {

namespace {

// The states a scenario that names no weights injects into: every state
// this firmware handles end to end. hugetlb (its memory_failure() rows are
// being built), dirty page-cache pages (their loss on disk is not excepted
// by the end-of-run file check yet), shared memory and other kernel pages
// are left out until chosen by `weights`.
constexpr SoakState kDefaultStates[] = {
    SoakState::anon,      SoakState::anon_shared, SoakState::anon_mlocked, SoakState::anon_thp,
    SoakState::file_clean, SoakState::file_mapped, SoakState::swapcache,  SoakState::free,
    SoakState::slab,      SoakState::pgtable,     SoakState::reserved,
};

std::string stat_word(const char* s) {
  std::string out;
  for (; *s; ++s) out += (*s == ' ' || *s == ':') ? '_' : *s;
  return out;
}

}  // namespace

bool RasSoak::wanted(ConfigNode root) {
  ConfigNode platform = root.child("platform");
  return platform.has("ras") && platform.child("ras").has("random");
}

RasSoak::Params RasSoak::read_params(ConfigNode n) {
  Params p;
  p.count = n.get<uint64_t>("count", p.count, "Errors the soak injects");
  if (p.count == 0) n.fail("count", "must be at least 1");
  const uint64_t period = n.get<Duration>("period", {10'000'000}, "Time between two injections").ps;
  if (period == 0) n.fail("period", "must be a positive time such as 10us");
  p.period = from_ps(period);
  p.start = from_ps(n.get<Duration>("start", {100'000'000}, "Time of the first injection").ps);
  p.ce_percent = n.get<unsigned>("ce_percent", p.ce_percent, "Percentage of the injections that are correctable");
  if (p.ce_percent > 100) n.fail("ce_percent", "must be between 0 and 100");
  p.samples = n.get<unsigned>("samples", p.samples, "Random page frames classified per injection");
  if (p.samples == 0 || p.samples > 4096) n.fail("samples", "must be between 1 and 4096");
  for (SoakState s : kDefaultStates) p.weights[static_cast<unsigned>(s)] = 1;
  if (n.has("weights")) {
    ConfigNode w = n.child("weights");
    std::string names;
    for (unsigned i = 0; i + 1 < kSoakStates; ++i)  // every state but poisoned
      names += fmt::format("{}{}", i ? ", " : "", soak_state_name(static_cast<SoakState>(i)));
    for (const std::string& k : w.keys()) {
      bool known = false;
      for (unsigned i = 0; i + 1 < kSoakStates; ++i) known = known || k == soak_state_name(static_cast<SoakState>(i));
      if (!known) w.fail(k, fmt::format("unknown page state (one of {})", names));
    }
    bool any = false;
    for (unsigned i = 0; i < kSoakStates; ++i) {
      const SoakState s = static_cast<SoakState>(i);
      if (s == SoakState::poisoned) continue;
      p.weights[i] = w.has(soak_state_name(s))
                         ? w.get<unsigned>(soak_state_name(s), 0, "Relative weight of the page state")
                         : 0;
      any = any || p.weights[i];
    }
    if (!any) n.fail("weights", "give at least one page state a positive weight");
  }
  return p;
}

RasSoak::RasSoak(sc_core::sc_module_name name, const Params& p, uint64_t seed, hw::Platform& pf,
                 hal::FirmwareDebug& fw, stats::Group* stats_parent)
    : sc_core::sc_module(name), p_(p), rng_(seed * 0x9e3779b97f4a7c15ull + 0x5ca1ab1e), pf_(pf), fw_(fw) {
  const hal::BootInfo& b = pf.boot_info();
  for (unsigned n = 0; n < b.nr_nodes; ++n) {
    ranges_.push_back({b.node_start[n] >> 12, b.node_end[n] >> 12});
    frames_ += (b.node_end[n] - b.node_start[n]) >> 12;
  }
  pending_.resize(pf.nr_cpus());
  group_ = std::make_unique<stats::Group>(stats_parent, "soak");
  stats_ = std::make_unique<stats::Dynamic>(group_.get(), "counters",
                                            [this](stats::Emitter& out, const std::string& path) {
                                              emit_stats(out, path);
                                            });
  fw_.set_memory_failure_observer(this);
  SC_THREAD(inject_thread);
}

RasSoak::~RasSoak() { fw_.set_memory_failure_observer(nullptr); }

uint64_t RasSoak::next_random() {
  // splitmix64: the soak's own stream, so the workload's draws stay as they were.
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool RasSoak::pick(uint64_t& pfn, SoakState& state) {
  // Classify random frames, then choose a state among those seen by its
  // weight, then one of its frames: the mix follows the scenario's weights
  // wherever the states are found, not how many pages each has.
  std::array<std::vector<uint64_t>, kSoakStates> seen;
  for (unsigned i = 0; i < p_.samples && frames_; ++i) {
    uint64_t k = next_random() % frames_;
    uint64_t f = 0;
    for (const auto& r : ranges_) {
      if (k < r.second - r.first) {
        f = r.first + k;
        break;
      }
      k -= r.second - r.first;
    }
    hal::PageInfo pi;
    if (!fw_.page_info(f, pi)) continue;
    seen[static_cast<unsigned>(classify_page(pi))].push_back(f);
  }
  uint64_t total = 0;
  for (unsigned s = 0; s < kSoakStates; ++s)
    if (!seen[s].empty()) total += p_.weights[s];
  if (total == 0) return false;
  uint64_t x = next_random() % total;
  for (unsigned s = 0; s < kSoakStates; ++s) {
    if (seen[s].empty() || !p_.weights[s]) continue;
    if (x < p_.weights[s]) {
      state = static_cast<SoakState>(s);
      pfn = seen[s][next_random() % seen[s].size()];
      return true;
    }
    x -= p_.weights[s];
  }
  return false;
}

void RasSoak::inject_thread() {
  wait(p_.start);
  // Bounded: a machine where no chosen state is ever found stops trying.
  for (uint64_t attempts = 0; injected_ < p_.count && attempts < 4 * p_.count; ++attempts) {
    if (attempts) wait(p_.period);
    uint64_t pfn = 0;
    SoakState s = SoakState::count;
    if (!pick(pfn, s)) {
      ++no_target_;
      continue;
    }
    const bool ce = next_random() % 100 < p_.ce_percent;
    const uint64_t line = next_random() % 64;
    if (!ce && soak_state_kernel(s)) {
      if (!fw_.corrupt_pfn(pf_.cpu(0).core, pfn)) {
        ++queue_full_;
        continue;
      }
      ++software_;
    } else if (!pf_.ras().inject((pfn << 12) + line * 64, !ce, "platform.ras.random")) {
      continue;
    }
    ++(ce ? ce_ : uc_)[static_cast<unsigned>(s)];
    ++injected_;
  }
}

void RasSoak::memory_failure_entry(hal::Hal& cpu, uint64_t pfn, int flags) {
  hal::PageInfo pi;
  Pending pe;
  pe.valid = fw_.page_info(pfn, pi);
  if (pe.valid) {
    // The Dirty bits of the entries mapping it: what the unmap will find.
    const bool pte_dirty = pi.has(hal::PageInfo::kLru) && !pi.has(hal::PageInfo::kHwpoison) &&
                           pi.has(hal::PageInfo::kMmap) && fw_.page_pte_dirty(cpu, pfn);
    // The walk may have let other CPUs run (a memory_failure() of the same
    // page among them): the flags as memory_failure() goes on with them.
    fw_.page_info(pfn, pi);
    pe.pfn = pfn;
    pe.pi = pi;
    pe.state = classify_page(pi);
    pe.expect = predict_memory_failure(pi, pte_dirty, flags);
  }
  pending_.at(cpu.cpu()).push_back(pe);
}

void RasSoak::memory_failure_result(hal::Hal& cpu, uint64_t pfn, const char* type, const char* result) {
  std::vector<Pending>& stack = pending_.at(cpu.cpu());
  ++calls_;
  ++results_[result];
  if (stack.empty() || !stack.back().valid || stack.back().pfn != pfn) {
    if (!stack.empty()) stack.pop_back();
    ++unpredicted_;
    return;
  }
  const Pending pe = stack.back();
  stack.pop_back();
  ++calls_by_state_[static_cast<unsigned>(pe.state)];
  std::string expected = fmt::format("{}: {}", pe.expect.type, pe.expect.result);
  const std::string got = fmt::format("{}: {}", type, result);
  const bool alt = pe.expect.alt_type && got == fmt::format("{}: {}", pe.expect.alt_type, pe.expect.alt_result);
  if (expected == got || alt) {
    ++matches_;
    ++rows_[got + (alt ? " after a failed write" : "")];
    return;
  }
  if (pe.expect.alt_type) expected += fmt::format("\" or \"{}: {}", pe.expect.alt_type, pe.expect.alt_result);
  if (++mismatches_ > kMaxReported) return;
  problem_ += fmt::format(
      "{}ras soak oracle: memory_failure({:#x}) at {}: page state {} (kpageflags {:#x}, count {}, mapcount {}): "
      "expected \"{}\", got \"{}\"",
      problem_.empty() ? "" : "\n", pfn, sc_core::sc_time_stamp().to_string(), soak_state_name(pe.state),
      pe.pi.kpageflags, pe.pi.refcount, pe.pi.mapcount, expected, got);
}

void RasSoak::emit_stats(stats::Emitter& out, const std::string& path) const {
  const auto e = [&](const std::string& name, uint64_t v, const char* desc) {
    out.integer(path + name, v, desc, "Count");
  };
  e("injected", injected_, "Errors the soak injected");
  uint64_t uc = 0, ce = 0;
  for (unsigned s = 0; s < kSoakStates; ++s) uc += uc_[s], ce += ce_[s];
  e("injectedUc", uc, "... uncorrected");
  e("injectedCe", ce, "... correctable");
  e("softwareInjected", software_, "Uncorrected errors injected in software (kernel pages: corrupt-pfn)");
  e("noTarget", no_target_, "Injections skipped: no sampled page had a state with a weight");
  e("queueFull", queue_full_, "Software injections skipped: the memory-failure queue was full");
  for (unsigned s = 0; s < kSoakStates; ++s) {
    if (!p_.weights[s] && !uc_[s] && !ce_[s]) continue;
    const std::string n = soak_state_name(static_cast<SoakState>(s));
    e("uc." + n, uc_[s], "Uncorrected errors injected into pages of this state");
    e("ce." + n, ce_[s], "Correctable errors injected into pages of this state");
  }
  e("oracle.calls", calls_, "memory_failure() outcomes the oracle saw");
  e("oracle.matches", matches_, "... equal to its prediction");
  e("oracle.mismatches", mismatches_, "... different from its prediction (the run fails)");
  e("oracle.unpredicted", unpredicted_, "... without a prediction (no entry seen on that CPU)");
  for (unsigned s = 0; s < kSoakStates; ++s)
    if (calls_by_state_[s])
      e(std::string("oracle.state.") + soak_state_name(static_cast<SoakState>(s)), calls_by_state_[s],
        "memory_failure() calls on pages in this state at entry");
  for (const auto& [row, n] : rows_) e("oracle.row." + stat_word(row.c_str()), n, "Matches of this row");
  for (const auto& [r, n] : results_) e("outcome." + r, n, "memory_failure() outcomes with this result");
}

std::string RasSoak::summary(uint64_t signals, uint64_t loads_checked, bool clean) const {
  std::string uc, ce, out;
  for (unsigned s = 0; s < kSoakStates; ++s) {
    const char* n = soak_state_name(static_cast<SoakState>(s));
    if (uc_[s]) uc += fmt::format(" {}={}", n, uc_[s]);
    if (ce_[s]) ce += fmt::format(" {}={}", n, ce_[s]);
  }
  for (const auto& [r, n] : results_) out += fmt::format(" {}={}", r, n);
  uint64_t nuc = 0, nce = 0;
  for (unsigned s = 0; s < kSoakStates; ++s) nuc += uc_[s], nce += ce_[s];
  return fmt::format(
      "ras soak: {} injections (uc {}:{}; ce {}:{}); memory_failure outcomes {}:{}; oracle {} matched, {} "
      "mismatched; {} SIGBUS taken; {} loads checked, {}",
      injected_, nuc, uc, nce, ce, calls_, out, matches_, mismatches_, signals, loads_checked,
      clean ? "0 wrong values" : "the run failed (above)");
}

}  // namespace sim
