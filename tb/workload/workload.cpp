#include "tb/workload/workload.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sw/hal/x86.h"
#include "tb/workload/errno_names.h"

namespace tb {

namespace {

int signal_number(const std::string& s) {
  if (s == "none" || s.empty()) return 0;
  if (s == "SIGSEGV") return uapi::kSigsegv;
  if (s == "SIGBUS") return uapi::kSigbus;
  if (s == "SIGKILL") return uapi::kSigkill;
  return -1;
}

// SIGBUS si_code names (Linux's BUS_*).
int bus_code(const std::string& s) {
  if (s == "BUS_MCEERR_AR") return uapi::kBusMceerrAr;
  if (s == "BUS_MCEERR_AO") return uapi::kBusMceerrAo;
  if (s == "BUS_ADRERR") return uapi::kBusAdrerr;
  return -1;
}

std::string bus_code_name(int code) {
  switch (code) {
    case uapi::kBusMceerrAr: return "BUS_MCEERR_AR";
    case uapi::kBusMceerrAo: return "BUS_MCEERR_AO";
    case uapi::kBusAdrerr: return "BUS_ADRERR";
  }
  return fmt::format("code {}", code);
}

std::string signal_name_or_none(int sig) {
  switch (sig) {
    case 0: return "none";
    case uapi::kSigbus: return "SIGBUS";
    case uapi::kSigkill: return "SIGKILL";
    case uapi::kSigsegv: return "SIGSEGV";
  }
  return "none";
}

const char* signal_name(int sig) {
  switch (sig) {
    case uapi::kSigbus: return "SIGBUS";
    case uapi::kSigkill: return "SIGKILL";
    case uapi::kSigsegv: return "SIGSEGV";
    default: return "a signal";
  }
}

}  // namespace

int64_t parse_expect(sim::ConfigNode& n) {
  const std::string e = n.get<std::string>("expect", "ok", "Expected result: ok, or the errno it must fail with (ENOMEM, EINVAL, ...)");
  int64_t value = 0;
  if (e != "ok" && !errno_by_name(e, value))
    n.fail("expect", fmt::format("expected ok or an errno name such as ENOMEM or EINVAL, got {}", sim::quoted(e)));
  return value;
}

namespace {

uint64_t parse_prot(sim::ConfigNode& n, const char* def) {
  const std::string p = n.get<std::string>("prot", def, "Protection: letters r, w, x (e.g. rw), or none");
  if (p == "none") return uapi::kProtNone;
  uint64_t prot = 0;
  for (char c : p) {
    if (c == 'r') prot |= uapi::kProtRead;
    else if (c == 'w') prot |= uapi::kProtWrite;
    else if (c == 'x') prot |= uapi::kProtExec;
    else n.fail("prot", fmt::format("expected letters r, w, x or the word none, got '{}'", p));
  }
  return prot;
}

uint64_t parse_mmap_flags(sim::ConfigNode& n) {
  const auto words = n.get<std::vector<std::string>>(
      "flags", {"private"}, "mmap flags: private or shared, and any of fixed, fixed_noreplace, populate, noreserve, hugetlb");
  uint64_t flags = uapi::kMapAnonymous;
  for (const std::string& w : words) {
    if (w == "private") flags |= uapi::kMapPrivate;
    else if (w == "shared") flags |= uapi::kMapShared;
    else if (w == "fixed") flags |= uapi::kMapFixed;
    else if (w == "fixed_noreplace") flags |= uapi::kMapFixedNoreplace;
    else if (w == "populate") flags |= uapi::kMapPopulate;
    else if (w == "noreserve") flags |= uapi::kMapNoreserve;
    else if (w == "hugetlb") flags |= uapi::kMapHugetlb;
    else n.fail("flags", fmt::format("unknown flag '{}' (private, shared, fixed, fixed_noreplace, populate, noreserve, hugetlb)", w));
  }
  if ((flags & uapi::kMapPrivate) && (flags & uapi::kMapShared)) n.fail("flags", "private and shared exclude each other");
  if (!(flags & (uapi::kMapPrivate | uapi::kMapShared))) flags |= uapi::kMapPrivate;
  const uint64_t huge = n.get<sim::Size>("huge", {0}, "Huge page size of a hugetlb mapping: 2MiB or 1GiB (MAP_HUGE_2MB/1GB)").bytes;
  if (huge) {
    if (huge == (2ull << 20)) flags |= uapi::kMapHuge2MB;
    else if (huge == (1ull << 30)) flags |= uapi::kMapHuge1GB;
    else n.fail("huge", "must be 2MiB or 1GiB");
    flags |= uapi::kMapHugetlb;
  }
  return flags;
}

uint64_t parse_advice(sim::ConfigNode& n) {
  static const struct {
    const char* name;
    uint64_t value;
  } advice[] = {{"normal", uapi::kMadvNormal},          {"random", uapi::kMadvRandom},
                {"sequential", uapi::kMadvSequential},  {"willneed", uapi::kMadvWillneed},
                {"dontneed", uapi::kMadvDontneed},      {"free", uapi::kMadvFree},
                {"hugepage", uapi::kMadvHugepage},      {"nohugepage", uapi::kMadvNohugepage},
                {"populate_read", uapi::kMadvPopulateRead}, {"populate_write", uapi::kMadvPopulateWrite},
                {"collapse", uapi::kMadvCollapse},      {"cold", uapi::kMadvCold},
                {"pageout", uapi::kMadvPageout},        {"hwpoison", uapi::kMadvHwpoison},
                {"soft_offline", uapi::kMadvSoftOffline}};
  const std::string a = n.require<std::string>("advice", "The advice: dontneed, free, hugepage, nohugepage, populate_read, populate_write, collapse, cold, pageout, hwpoison, soft_offline, ...");
  for (const auto& k : advice)
    if (a == k.name) return k.value;
  n.fail("advice", fmt::format("unknown advice '{}'", a));
}

// An oom_score_adj value: -1000 (never killed) .. 1000 (killed first).
int parse_oom_score_adj(sim::ConfigNode& n, const char* key, int def) {
  const int v = n.get<int>(key, def, "oom_score_adj of the process: -1000 (never OOM-killed) .. 1000 (killed first)");
  if (v < -1000 || v > 1000) n.fail(key, fmt::format("{} is outside -1000..1000", v));
  return v;
}

// Bounds that keep a mistyped count from running for ever (the simulator
// makes a few million accesses, or a few hundred thousand system calls, per
// host second): 2^40 accesses take days, 2^24 calls minutes.
constexpr uint64_t kMaxAccesses = 1ull << 40;
constexpr uint64_t kMaxRepeats = 1ull << 24;
// No user address reaches this far (57 bits with 5-level paging).
constexpr uint64_t kAddressSpace = 1ull << 57;
// The zipf pattern weighs every page of its range once, before its first access.
constexpr uint64_t kMaxZipfRange = 1ull << 40;

void parse_range(sim::ConfigNode& n, Op& op) {
  op.region = n.require<std::string>("region", "Name of the region (given by its mmap)");
  op.offset = n.get<sim::Size>("offset", {0}, "Start within the region").bytes;
  op.span = n.get<sim::Size>("length", {0}, "Bytes of the region covered (0: to its end)").bytes;
  if (op.offset >= kAddressSpace) n.fail("offset", "lies beyond any address space");
  if (op.span >= kAddressSpace) n.fail("length", "exceeds any address space");
}

// munmap, mprotect and madvise may repeat over ranges `stride` apart.
void parse_repeat(sim::ConfigNode& n, Op& op) {
  op.count = n.get<uint64_t>("count", 1, "Repeat the call this many times, `stride` bytes apart");
  if (op.count == 0) n.fail("count", "must be at least 1");
  if (op.count > kMaxRepeats) n.fail("count", fmt::format("at most {} calls", kMaxRepeats));
  if (op.count == 1) {
    if (n.has("stride")) n.fail("stride", "a single call (count 1) has no stride");
    return;
  }
  op.stride = n.get<sim::Size>("stride", {0}, "Distance between the ranges of repeated calls").bytes;
  if (op.stride == 0) n.fail("stride", "repeated calls need a stride");
  if (op.stride > (kAddressSpace - op.offset) / (op.count - 1))
    n.fail("stride", fmt::format("{} calls {} apart run beyond the address space", op.count, sim::format_size(op.stride)));
}

// The keys of read, write, access and fetch phases. A key is read only
// where it can change what the phase does.
void parse_access(sim::ConfigNode& n, const std::string& kind, Op& op) {
  op.kind = Op::Kind::access;
  parse_range(n, op);
  const std::string pattern = n.get_enum("pattern", "sequential", {"sequential", "strided", "random", "zipf"}, "Address pattern");
  Pattern::parse_kind(pattern, op.pattern);
  const bool walks = op.pattern == Pattern::Kind::sequential || op.pattern == Pattern::Kind::strided;
  op.size = n.get<unsigned>("size", 8, "Bytes per access: 1, 2, 4, 8, 16, 32 or 64");
  if (op.size == 0 || op.size > 64 || (op.size & (op.size - 1))) n.fail("size", "must be 1, 2, 4, 8, 16, 32 or 64");
  if (walks) {
    op.stride = n.get<sim::Size>("stride", {0}, "Step of sequential and strided patterns (default: the access size)").bytes;
    if (op.pattern == Pattern::Kind::strided && op.stride == 0) n.fail("stride", "a strided pattern needs a stride");
    if (op.stride % op.size) n.fail("stride", "must be a multiple of the access size");
  } else if (n.has("stride")) {
    n.fail("stride", fmt::format("a {} pattern has no stride", pattern));
  }
  op.count = n.get<uint64_t>("count", 0, "Accesses (0: one sweep of the range)");
  if (op.count > kMaxAccesses) n.fail("count", fmt::format("at most {} accesses", kMaxAccesses));
  if (kind == "access") {
    op.writes = n.get<double>("writes", 0.0, "Fraction of accesses that are stores (0..1)");
    if (op.writes < 0 || op.writes > 1) n.fail("writes", "must be between 0 and 1");
  } else {
    op.writes = kind == "write" ? 1.0 : 0.0;
  }
  if (kind == "fetch") op.access = x86::Access::fetch;
  const bool stores = kind != "fetch" && op.writes > 0, loads = kind == "fetch" || op.writes < 1;
  if (stores && n.has("value")) {
    op.fixed_value = true;
    op.value = n.get<uint64_t>("value", 0, "Stores write this value (repeated over wider accesses) instead of random data");
  } else if (n.has("value")) {
    n.fail("value", "a phase without stores writes no value");
  }
  if (loads) op.verify = n.get<bool>("verify", true, "Check every load against what the process last wrote");
  else if (n.has("verify")) n.fail("verify", "a phase of stores only has no load to verify");
  // Random choices: the addresses of random and zipf patterns, and which
  // accesses of a mixed phase store.
  if (!walks || (op.writes > 0 && op.writes < 1))
    op.seed = n.get<uint64_t>("seed", 0, "Extra seed of this phase's random choices");
  else if (n.has("seed"))
    n.fail("seed", "this phase makes no random choice (its pattern is not random and it does not mix loads and stores)");
  if (op.pattern == Pattern::Kind::zipf) {
    op.theta = n.get<double>("theta", 0.99, "Skew of the zipf pattern, in (0, 1)");
    if (op.theta <= 0 || op.theta >= 1) n.fail("theta", "must be in (0, 1)");
  } else if (n.has("theta")) {
    n.fail("theta", "only the zipf pattern has a skew");
  }
}

// Returns why `op`'s range cannot be taken from a region of `size` bytes
// (the key at fault in `key`), or "" when it can.
std::string range_problem(const Op& op, uint64_t size, const char*& key) {
  key = "offset";
  if (op.offset > size || ((op.kind == Op::Kind::inject || op.kind == Op::Kind::pagemap) && op.offset == size))
    return fmt::format("{:#x} is beyond the end of region '{}' ({})", op.offset, op.region, sim::format_size(size));
  key = "length";
  if (op.span > size - op.offset)
    return fmt::format("the range [{:#x}, {:#x}) runs past the end of region '{}' ({})", op.offset,
                       op.offset + op.span, op.region, sim::format_size(size));
  if (op.kind != Op::Kind::access) return "";
  const uint64_t len = op.span ? op.span : size - op.offset;
  if (len < op.size) return fmt::format("the range of {} bytes holds no access of {} bytes", len, op.size);
  const bool walks = op.pattern == Pattern::Kind::sequential || op.pattern == Pattern::Kind::strided;
  key = "offset";
  if (walks && op.offset % x86::PAGE_SIZE + op.size > x86::PAGE_SIZE)
    return fmt::format("the first access, {} bytes at offset {:#x}, would cross a 4 KiB page", op.size, op.offset);
  key = "count";
  const uint64_t sweep = op.pattern == Pattern::Kind::strided ? len / op.stride : len / op.size;
  if (op.count == 0 && sweep > kMaxAccesses)
    return fmt::format("one sweep of {} is {} accesses; give a count of at most {}", sim::format_size(len), sweep,
                       kMaxAccesses);
  key = "length";
  if (op.pattern == Pattern::Kind::zipf && len > kMaxZipfRange)
    return fmt::format("a zipf pattern covers at most {}", sim::format_size(kMaxZipfRange));
  return "";
}

// mlock, munlock (a range of a region) and oom_score_adj; false if `kind` is none of them.
bool parse_pressure_op(sim::ConfigNode& n, const std::string& kind, Op& op) {
  if (kind == "mlock" || kind == "munlock") {
    op.kind = kind == "mlock" ? Op::Kind::mlock : Op::Kind::munlock;
    parse_range(n, op);
    parse_repeat(n, op);
    op.expect_errno = parse_expect(n);
    return true;
  }
  if (kind == "oom_score_adj") {
    op.kind = Op::Kind::oom_score_adj;
    op.oom_score_adj = parse_oom_score_adj(n, "value", 0);
    return true;
  }
  return false;
}
bool valid_name(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

Workload::Workload(sim::ConfigNode w, uint64_t seed, unsigned nr_cpus, const std::string& base_dir,
                   sim::stats::Group* stats_root, const std::vector<std::string>& dma_devices,
                   std::ostream* progress, const std::vector<DeviceDesc>& devices)
    : base_dir_(base_dir),
      dma_devices_(dma_devices),
      progress_(progress),
      group_(std::make_unique<sim::stats::Group>(stats_root, "workload")) {
  parse_files(w, seed, devices);
  auto processes = w.list("processes", "The processes to run: name, cpu, seed, expect_signal, ops");
  for (size_t i = 0; i < processes.size(); ++i)
    parse_process(processes[i], fmt::format("p{}", i), -1, false, nr_cpus, seed);
  check_pending_uses();
  // A barrier waits for every program that names it.
  for (const auto& p : procs_) {
    std::set<const Barrier*> seen;
    for (const Op& op : p->ops) {
      if (op.kind != Op::Kind::barrier) continue;
      if (!seen.insert(op.barrier).second)
        throw sim::ConfigError(fmt::format("{}: process {} waits at barrier '{}' twice; give each meeting its own name",
                                           op.where, p->name, op.barrier->name));
      ++op.barrier->count;
    }
  }
  if (!files_.files.empty()) add_final_sync();
}

Workload::~Workload() = default;

namespace {

// True when one of `ops` creates a thread (the program then shares its
// region names with its threads).
bool creates_threads(std::vector<sim::ConfigNode>& ops) {
  for (const sim::ConfigNode& item : ops) {
    const auto keys = item.keys();
    if (keys.size() == 1 && keys[0] == "thread") return true;
  }
  return false;
}

}  // namespace

size_t Workload::parse_process(sim::ConfigNode pn, const std::string& default_name, int parent, bool thread,
                               unsigned nr_cpus, uint64_t seed) {
  const size_t self = procs_.size();
  procs_.push_back(std::make_unique<Process>());
  Process& p = *procs_.back();
  p.where = pn.where();
  p.parent = parent;
  p.thread = thread;
  p.name = pn.get<std::string>("name", default_name, "Process name (letters, digits, _)");
  if (!valid_name(p.name)) pn.fail("name", fmt::format("use letters, digits and _ only, not {}", sim::quoted(p.name)));
  for (size_t i = 0; i < self; ++i)
    if (procs_[i]->name == p.name) pn.fail("name", fmt::format("another process is already called '{}'", p.name));
  const unsigned top_level = static_cast<unsigned>(std::count_if(procs_.begin(), procs_.end(), [](const auto& q) { return q->parent < 0; }));
  if (parent < 0) {
    p.cpu = pn.get<unsigned>("cpu", (top_level - 1) % nr_cpus, "CPU the process runs on");
  } else {
    const unsigned cpu = pn.get<unsigned>("cpu", procs_[parent]->cpu, "CPU the child runs on (default: its parent's)");
    p.cpu = cpu;
  }
  if (p.cpu >= nr_cpus) pn.fail("cpu", fmt::format("the machine has {} CPU{}", nr_cpus, nr_cpus > 1 ? "s" : ""));
  p.seed = pn.get<uint64_t>("seed", mix64(seed * 0x9e3779b97f4a7c15ull + self), "Seed of this process's data and random patterns");
  // A signal kills every thread of a process: threads expect their creator's.
  const std::string inherited = thread ? signal_name_or_none(procs_[parent]->expect_signal) : "none";
  const std::string sig = pn.get<std::string>("expect_signal", inherited, "Signal the process is expected to die of (none, SIGSEGV, SIGBUS, SIGKILL)");
  p.expect_signal = signal_number(sig);
  if (p.expect_signal < 0) pn.fail("expect_signal", fmt::format("unknown signal {}", sim::quoted(sig)));

  // oom_score_adj: written to /proc/self/oom_score_adj before the first
  // operation (a child inherits its parent's, as on Linux).
  const int adj = thread ? 0 : parse_oom_score_adj(pn, "oom_score_adj", 0);

  std::vector<sim::ConfigNode> items = pn.list("ops", "Operations, in order");
  // What the program starts with: a forked child its parent's regions, a
  // thread its creator's, and the region names of its thread group.
  if (parent >= 0) {
    p.regions = procs_[parent]->regions;
    p.pools = procs_[parent]->pools;
  }
  p.group = thread ? procs_[parent]->group : creates_threads(items) ? static_cast<int>(self) : -1;
  if (p.group == static_cast<int>(self)) p.pools.push_back(self);

  std::vector<Op> ops;
  if (adj) {
    Op set;
    set.kind = Op::Kind::oom_score_adj;
    set.where = fmt::format("{}: {}", pn.where(), pn.path());
    set.oom_score_adj = adj;
    ops.push_back(set);
  }
  parse_signal_keys(pn, p, thread, ops);
  for (sim::ConfigNode& item : items) ops.push_back(parse_op(item, self, nr_cpus, seed));
  Process& me = *procs_[self];  // procs_ may have grown (children)
  parse_expect_sigbus(pn, me);
  me.ops = std::move(ops);
  me.stats = std::make_unique<ProcessStats>(group_.get(), me.name);
  me.program = std::make_unique<ScriptedProgram>(me.name, me.where, &me.ops, me.seed, me.stats.get());
  me.program->set_files(&files_);
  return self;
}

void Workload::parse_signal_keys(sim::ConfigNode& pn, Process& p, bool thread, std::vector<Op>& ops) {
  const Process* parent = p.parent >= 0 ? procs_[static_cast<size_t>(p.parent)].get() : nullptr;
  const std::string where = fmt::format("{}: {}", pn.where(), pn.path());
  // A thread shares its process's handlers; a forked child starts with its
  // parent's (Linux copies them at fork).
  const bool inherited = parent && parent->sigbus_record;
  if (thread) {
    if (pn.has("sigbus")) pn.fail("sigbus", "a thread shares its process's signal handlers: set sigbus on the process");
    p.sigbus_record = inherited;
  } else {
    p.sigbus_record = pn.get_enum("sigbus", inherited ? "record" : "default", {"default", "record"},
                                  "SIGBUS: default (the process dies of it) or record (a handler records each "
                                  "SIGBUS in signals.txt, the access that raised it is skipped)") == "record";
  }
  if (p.sigbus_record != inherited) {
    Op op;
    op.kind = Op::Kind::sigaction;
    op.name = "sigbus";
    op.where = where;
    op.handler = p.sigbus_record;
    ops.push_back(op);
  }
  // PR_MCE_KILL is per thread in Linux, inherited by fork and clone.
  p.mce_kill = pn.get_enum("mce_kill", parent ? parent->mce_kill : "default", {"default", "early", "late"},
                           "Memory-error kill policy (prctl PR_MCE_KILL): default (vm.memory_failure_early_kill), "
                           "early (signalled when a page it maps goes bad), late (when it touches the page)");
  if (p.mce_kill != (parent ? parent->mce_kill : "default")) {
    Op op;
    op.kind = Op::Kind::prctl;
    op.name = "mce_kill";
    op.where = where;
    op.mce_kill = p.mce_kill == "early"  ? uapi::kPrMceKillEarly
                  : p.mce_kill == "late" ? uapi::kPrMceKillLate
                                         : uapi::kPrMceKillDefault;
    ops.push_back(op);
  }
}

void Workload::parse_expect_sigbus(sim::ConfigNode& pn, Process& p) {
  if (!pn.has("expect_sigbus")) return;
  if (!p.sigbus_record) pn.fail("expect_sigbus", "only a process with sigbus: record survives its signals to count them");
  p.check_sigbus = true;
  for (sim::ConfigNode n : pn.list("expect_sigbus", "The SIGBUS its handler must take, in order: code, region, offset, lsb")) {
    Process::ExpectedSignal e;
    const std::string code = n.require<std::string>("code", "si_code: BUS_MCEERR_AR, BUS_MCEERR_AO or BUS_ADRERR");
    e.code = bus_code(code);
    if (e.code < 0) n.fail("code", fmt::format("unknown code {} (BUS_MCEERR_AR, BUS_MCEERR_AO, BUS_ADRERR)", sim::quoted(code)));
    e.region = n.require<std::string>("region", "The region si_addr lies in");
    e.offset = n.get<sim::Size>("offset", {0}, "si_addr's offset in the region").bytes;
    e.lsb = n.get<unsigned>("lsb", 12, "si_addr_lsb: 12 (a page), 21 or 30 (a huge page)");
    if (!p.regions.count(e.region) && !std::any_of(p.pools.begin(), p.pools.end(), [&](size_t g) {
          return pools_[g].count(e.region) > 0;
        }))
      n.fail("region", fmt::format("no mmap of process {} names a region '{}'", p.name, e.region));
    p.expect_sigbus.push_back(e);
  }
}

void Workload::track_region(const Op& op, size_t self) {
  Process& p = *procs_[self];
  if (op.expect_errno) return;  // a call expected to fail maps and unmaps nothing
  if (op.kind == Op::Kind::mmap || op.kind == Op::Kind::dma_alloc) {
    p.regions[op.region] = op.length;
    if (p.group >= 0) pools_[static_cast<size_t>(p.group)][op.region].push_back(op.length);
  } else if (op.kind == Op::Kind::munmap && op.offset == 0 && op.span == 0) {
    p.regions.erase(op.region);
  }
}

void Workload::use_region(sim::ConfigNode n, const Op& op, size_t self) {
  const Process& p = *procs_[self];
  const auto it = p.regions.find(op.region);
  if (!p.pools.empty()) {
    // Another thread of the group may map it, later in the file: decide
    // once every program is read.
    pending_.push_back({n, op, self, it != p.regions.end(), it != p.regions.end() ? it->second : 0});
    return;
  }
  if (it == p.regions.end())
    n.fail("region", fmt::format("no earlier mmap of process {} names a region '{}'", p.name, op.region));
  const char* key = nullptr;
  const std::string problem = range_problem(op, it->second, key);
  if (!problem.empty()) n.fail(key, problem);
}

void Workload::check_pending_uses() {
  for (PendingUse& u : pending_) {
    const Process& p = *procs_[u.self];
    // The largest size the region may have is the most lenient.
    bool known = u.scoped;
    uint64_t size = u.size;
    for (size_t g : p.pools) {
      const auto& names = pools_[g];
      const auto it = names.find(u.op.region);
      if (it == names.end()) continue;
      known = true;
      for (uint64_t s : it->second) size = std::max(size, s);
    }
    if (!known)
      u.node.fail("region", fmt::format("no mmap of process {} or of its threads names a region '{}'", p.name,
                                        u.op.region));
    const char* key = nullptr;
    const std::string problem = range_problem(u.op, size, key);
    if (!problem.empty()) u.node.fail(key, problem);
  }
  pending_.clear();
}

uint64_t Workload::parse_dma_device(sim::ConfigNode& n) const {
  const std::string dev = n.require<std::string>("device", "The DMA engine (a dma device of platform.devices)");
  const auto it = std::find(dma_devices_.begin(), dma_devices_.end(), dev);
  if (it == dma_devices_.end()) n.fail("device", fmt::format("no DMA engine called '{}' in platform.devices", dev));
  return static_cast<uint64_t>(it - dma_devices_.begin());
}

// The operations that reach a device: dma_copy, dma_alloc (the DMA engines)
// and inject (the platform's error injector); false if `kind` is none of them.
bool Workload::parse_device_op(sim::ConfigNode& n, const std::string& kind, Op& op) const {
  if (kind == "dma_copy") {
    op.kind = Op::Kind::dma_copy;
    op.device = parse_dma_device(n);
    op.region = n.require<std::string>("src", "Region the device reads from");
    op.offset = n.get<sim::Size>("src_offset", {0}, "Where in src the copy starts").bytes;
    op.dst_region = n.require<std::string>("dst", "Region the device writes to");
    op.dst_offset = n.get<sim::Size>("dst_offset", {0}, "Where in dst the copy lands").bytes;
    op.length = n.require<sim::Size>("length", "Bytes to copy").bytes;
    if (!op.length) n.fail("length", "must be at least 1 byte");
    op.expect_errno = parse_expect(n);
  } else if (kind == "dma_alloc") {
    op.kind = Op::Kind::dma_alloc;
    op.device = parse_dma_device(n);
    op.region = n.require<std::string>("region", "Name the buffer is known by in later operations");
    op.length = n.require<sim::Size>("size", "Bytes of coherent memory").bytes;
    if (!op.length) n.fail("size", "must be at least 1 byte");
    op.expect_errno = parse_expect(n);
  } else if (kind == "inject") {
    // EINJ from the process, as ras-tools' einj_mem_uc does it: the line
    // behind region+offset at this moment.
    op.kind = Op::Kind::inject;
    op.region = n.require<std::string>("region", "The region whose memory gets the error");
    op.offset = n.get<sim::Size>("offset", {0}, "Where in the region (the 64-byte line holding it)").bytes;
    op.span = 1;
    op.uc = n.get_enum("error", "uc", {"uc", "ce"}, "uc: uncorrected (poison); ce: correctable") == "uc";
    op.pgtable = n.get_enum("target", "data", {"data", "page_table"},
                            "data: the line of the page behind the address; page_table: the line holding the "
                            "page-table entry a walk of the address reads (the table must exist)") == "page_table";
    op.expect_errno = parse_expect(n);
  } else {
    return false;
  }
  return true;
}

void Workload::parse_pagemap(sim::ConfigNode& n, Op& op, Process& p) const {
  op.kind = Op::Kind::pagemap;
  op.region = n.require<std::string>("region", "The region whose page is looked up");
  op.offset = n.get<sim::Size>("offset", {0}, "Where in the region (its page)").bytes;
  op.span = 1;
  static const char* const kKeys[] = {"save", "same_as", "differs_from"};
  const char* given = nullptr;
  for (const char* k : kKeys)
    if (n.has(k)) {
      if (given) n.fail(k, fmt::format("give one of save, same_as and differs_from, not both {} and {}", given, k));
      given = k;
    }
  if (!given) n.fail("", "pagemap needs save (a name for the pfn), same_as or differs_from (a saved name)");
  const std::string key = given;
  op.pfn_name = n.require<std::string>(key, key == "save" ? "Name the pfn is saved under"
                                                          : "The name an earlier pagemap of this process saved");
  if (!valid_name(op.pfn_name)) n.fail(key, "a name is letters, digits and underscores");
  if (key == "save") {
    op.pfn_check = Op::PfnCheck::save;
    p.pfn_names.insert(op.pfn_name);
    return;
  }
  op.pfn_check = key == "same_as" ? Op::PfnCheck::same : Op::PfnCheck::differs;
  if (!p.pfn_names.count(op.pfn_name))
    n.fail(key, fmt::format("no earlier pagemap of process {} saved a pfn as '{}'", p.name, op.pfn_name));
}

Op Workload::parse_op(sim::ConfigNode item, size_t self, unsigned nr_cpus, uint64_t seed) {
  // The operations, in the order error messages list them.
  static const char* const kKinds[] = {"mmap", "munmap", "mprotect", "madvise", "fork", "thread", "barrier",
                                       "read", "write", "access", "fetch", "replay", "dma_copy", "dma_alloc",
                                       "file_read", "file_write", "fsync", "fdatasync", "ftruncate", "sync",
                                       "drop_caches", "fadvise", "msync", "mlock", "munlock", "oom_score_adj",
                                       "inject", "pagemap", "exit"};
  const std::string all_but_last = fmt::format("{}", fmt::join(std::begin(kKinds), std::end(kKinds) - 1, ", "));
  const char* const last = *(std::end(kKinds) - 1);
  const auto keys = item.keys();
  if (keys.size() != 1) item.fail("", fmt::format("an operation is a mapping with one key: {} or {}", all_but_last, last));
  const std::string kind = keys[0];
  if (std::none_of(std::begin(kKinds), std::end(kKinds), [&](const char* k) { return kind == k; }))
    item.fail(kind, fmt::format("unknown operation {} ({}, {})", sim::quoted(kind), all_but_last, last));
  sim::ConfigNode n = item.child(kind);
  Op op;
  op.name = kind;
  op.where = fmt::format("{}: {}", n.where(), n.path());
  if (kind == "mmap") {
    op.kind = Op::Kind::mmap;
    op.region = n.require<std::string>("region", "Name this mapping is known by in later operations");
    op.length = n.require<sim::Size>("size", "Bytes to map").bytes;
    op.addr = n.get<sim::Size>("addr", {0},
                               "Address hint (with the fixed flags: the address); with 5-level paging a hint "
                               "above 128TiB (2^47) lets the mapping go above it").bytes;
    op.prot = parse_prot(n, "rw");
    op.flags = parse_mmap_flags(n);
    op.expect_errno = parse_expect(n);
    op.expect_above = n.get<sim::Size>("expect_above", {0}, "The mapping must start at or above this address").bytes;
    op.expect_below = n.get<sim::Size>("expect_below", {0},
                                       "The mapping must end at or below this address (0: no check)").bytes;
    if (n.has("file")) {
      // A file mapping: MAP_SHARED or MAP_PRIVATE of the file from `offset`.
      op.file = parse_file(n);
      op.flags &= ~uapi::kMapAnonymous;
      if (op.flags & uapi::kMapHugetlb) n.fail("flags", "a file mapping cannot be hugetlb");
      op.offset = n.get<sim::Size>("offset", {0}, "File mappings: where in the file the mapping starts (a multiple of 4KiB)").bytes;
      if (op.offset % x86::PAGE_SIZE) n.fail("offset", "must be a multiple of 4KiB");
    }
  } else if (kind == "munmap") {
    op.kind = Op::Kind::munmap;
    parse_range(n, op);
    parse_repeat(n, op);
    op.expect_errno = parse_expect(n);
  } else if (kind == "mprotect") {
    op.kind = Op::Kind::mprotect;
    parse_range(n, op);
    parse_repeat(n, op);
    op.prot = parse_prot(n, "r");
    op.expect_errno = parse_expect(n);
  } else if (kind == "madvise") {
    op.kind = Op::Kind::madvise;
    parse_range(n, op);
    parse_repeat(n, op);
    op.advice = parse_advice(n);
    op.expect_errno = parse_expect(n);
  } else if (kind == "fork" || kind == "thread") {
    op.kind = kind == "fork" ? Op::Kind::fork : Op::Kind::thread;
    const size_t child = parse_process(n, fmt::format("{}_{}{}", procs_[self]->name, kind, procs_.size()),
                                       static_cast<int>(self), kind == "thread", nr_cpus, seed);
    op.child = procs_[child]->program.get();
    op.child_cpu = procs_[child]->cpu;
  } else if (kind == "barrier") {
    op.kind = Op::Kind::barrier;
    const std::string name = n.require<std::string>("name", "The barrier: every program naming it waits until all have arrived");
    auto& b = barriers_[name];
    if (!b) {
      b = std::make_unique<Barrier>();
      b->name = name;
    }
    op.barrier = b.get();
  } else if (kind == "read" || kind == "write" || kind == "access" || kind == "fetch") {
    parse_access(n, kind, op);
  } else if (kind == "replay") {
    op.kind = Op::Kind::replay;
    std::string file = n.require<std::string>(
        "file", "A valgrind lackey trace (--tool=lackey --trace-mem=yes), relative to the scenario; plain, or "
                "compressed with xz, gzip or zstd (recognised by content)");
    const uint64_t limit = n.get<uint64_t>("limit", 0, "Replay at most this many trace records (0: all)");
    if (!std::filesystem::path(file).is_absolute() && !base_dir_.empty()) file = (std::filesystem::path(base_dir_) / file).string();
    if (const std::string problem = sim::input_file_problem(file); !problem.empty()) n.fail("file", problem);
    op.verify = n.get<bool>("verify", true, "Check every load and fetch against what the process last wrote");
    op.threads = n.get<unsigned>("threads", 2,
                                 "Host threads: 2 reads the trace and checks the shadow on a second thread, beside "
                                 "the simulation; 1 does it all on the simulation's (the results are the same)");
    if (op.threads < 1 || op.threads > 2) n.fail("threads", "must be 1 or 2");
    try {  // last: the keys above are checked before the trace is read
      op.trace = std::make_shared<const LackeyTrace>(file, limit, progress_);
    } catch (const std::exception& e) {
      n.fail("file", e.what());
    }
  } else if (kind == "exit") {
    op.kind = Op::Kind::exit;
    op.status = n.get<int>("status", 0, "Exit status");
  } else if (kind == "pagemap") {
    parse_pagemap(n, op, *procs_[self]);
  } else if (parse_device_op(n, kind, op) || parse_file_op(n, kind, op) || parse_pressure_op(n, kind, op)) {
  } else {
    item.fail(kind, "an operation kKinds lists has no parser");
  }
  if (op.kind == Op::Kind::munmap || op.kind == Op::Kind::mprotect || op.kind == Op::Kind::madvise ||
      op.kind == Op::Kind::access || op.kind == Op::Kind::msync || op.kind == Op::Kind::mlock ||
      op.kind == Op::Kind::munlock || op.kind == Op::Kind::inject || op.kind == Op::Kind::pagemap)
    use_region(n, op, self);
  track_region(op, self);
  return op;
}

void Workload::spawn_all(hal::Hal& hal, hal::Firmware& fw, hw::ProgramHost& machine) {
  for (auto& pp : procs_) {
    Process& p = *pp;
    if (p.parent >= 0) continue;  // started by its parent's fork
    p.pid = fw.spawn(hal, p.name.c_str(), p.cpu, p.program.get());
    p.program->set_pid(p.pid);
    if (p.pid < 0) throw std::runtime_error(fmt::format("{}: the firmware could not create process {} ({})", p.where, p.name, p.pid));
    machine.program_started();
  }
}

std::string Workload::settle() {
  try {
    for (const auto& p : procs_) p->program->settle();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string Workload::check_outcomes() const {
  std::string out;
  for (const auto& pp : procs_) {
    const Process& p = *pp;
    const ScriptedProgram& prog = *p.program;
    std::string problem;
    if (!prog.started()) {
      // A child its parent never created is fine only if the parent died as expected.
      const bool parent_died = p.parent >= 0 && procs_[p.parent]->program->signal() != 0;
      if (!parent_died) problem = p.parent >= 0 ? "was never created by its parent" : "never ran";
    } else if (!prog.finished()) {
      problem = "did not finish";
    } else if (prog.signal() != p.expect_signal) {
      if (prog.signal()) problem = fmt::format("was killed by {}", signal_name(prog.signal()));
      else problem = fmt::format("exited normally, but was expected to die of {}", signal_name(p.expect_signal));
    } else if (p.check_sigbus) {
      problem = sigbus_problem(p);
    }
    if (!problem.empty()) out += fmt::format("{}{}: process {} {}", out.empty() ? "" : "\n", p.where, p.name, problem);
  }
  if (out.empty() && files_.stats && files_.stats->final_syncs.value() == 0)
    out = "no process made the final sync (the last one to end was killed): the disks cannot be checked";
  return out;
}

std::string Workload::sigbus_problem(const Process& p) const {
  const auto& got = p.program->signals();
  auto text = [](int code, const std::string& region, uint64_t offset, unsigned lsb) {
    return fmt::format("{} at {}+{:#x} lsb {}", bus_code_name(code), region.empty() ? "(no region)" : region, offset, lsb);
  };
  for (size_t i = 0; i < std::max(got.size(), p.expect_sigbus.size()); ++i) {
    const std::string g = i < got.size() ? text(got[i].si.code, got[i].region, got[i].offset, got[i].si.addr_lsb) : "";
    const std::string e = i < p.expect_sigbus.size() ? text(p.expect_sigbus[i].code, p.expect_sigbus[i].region,
                                                            p.expect_sigbus[i].offset, p.expect_sigbus[i].lsb)
                                                     : "";
    if (g == e) continue;
    if (g.empty()) return fmt::format("took {} SIGBUS, expected {}: the next was {}", got.size(), p.expect_sigbus.size(), e);
    if (e.empty()) return fmt::format("took {} SIGBUS, expected {}: one more was {}", got.size(), p.expect_sigbus.size(), g);
    return fmt::format("took SIGBUS {} as {}, expected {}", i + 1, g, e);
  }
  return "";
}

bool Workload::has_signal_log() const {
  return std::any_of(procs_.begin(), procs_.end(), [](const auto& p) { return p->sigbus_record; });
}

std::string Workload::signal_log() const {
  std::string out = "# process pid signal code addr lsb region offset\n";
  for (const auto& pp : procs_) {
    for (const ScriptedProgram::Signal& s : pp->program->signals())
      out += fmt::format("{} {} {} {} {:#x} {} {} {:#x}\n", pp->name, pp->program->pid(), signal_name(s.si.signo),
                         bus_code_name(s.si.code), s.si.addr, s.si.addr_lsb, s.region.empty() ? "-" : s.region,
                         s.offset);
  }
  return out;
}

uint64_t Workload::signals_taken() const {
  uint64_t n = 0;
  for (const auto& pp : procs_) n += pp->program->signals().size();
  return n;
}

uint64_t Workload::loads_checked() const {
  uint64_t n = 0;
  for (const auto& pp : procs_) n += pp->stats->verified.value();
  return n;
}

std::string Workload::describe() const {
  std::string out = describe_files();
  for (const auto& pp : procs_) {
    const Process& p = *pp;
    out += fmt::format("{} cpu={} seed={} signal={} parent={} thread={} sigbus={} mce_kill={} expect_sigbus={}\n",
                       p.name, p.cpu, p.seed, p.expect_signal, p.parent, p.thread, p.sigbus_record, p.mce_kill,
                       p.expect_sigbus.size());
    for (const Op& op : p.ops) {
      out += fmt::format("  {} {} off={} span={} len={} addr={} prot={} flags={} advice={} errno={} in=[{},{})",
                         static_cast<int>(op.kind), op.region, op.offset, op.span, op.length, op.addr, op.prot,
                         op.flags, op.advice, op.expect_errno, op.expect_above, op.expect_below);
      out += fmt::format(" pattern={} access={} stride={} count={} size={} writes={} value={}:{} verify={} seed={}",
                         static_cast<int>(op.pattern), static_cast<int>(op.access), op.stride, op.count, op.size,
                         op.writes, op.fixed_value, op.value, op.verify, op.seed);
      out += fmt::format(" theta={} child_cpu={} barrier={} trace={}:{} status={}", op.theta, op.child_cpu,
                         op.barrier ? op.barrier->name : "", op.trace ? op.trace->path() : "",
                         op.trace ? op.trace->limit() : 0, op.status);
      out += fmt::format(" file={} file_size={} level={} oom_score_adj={} handler={} mce_kill={} uc={}", op.file,
                         op.file_size, op.level, op.oom_score_adj, op.handler, op.mce_kill, op.uc);
      out += fmt::format(" pgtable={} pfn={}:{}\n", op.pgtable, static_cast<int>(op.pfn_check), op.pfn_name);
    }
  }
  return out;
}

std::string Workload::describe_files() const {
  std::string out;
  for (const auto& f : files_.files)
    out += fmt::format("file {} ino={} device={} size={}\n", f->spec().name, f->spec().ino, f->spec().device,
                       f->spec().size);
  return out;
}

std::vector<std::string> Workload::summary() const {
  std::vector<std::string> lines;
  for (const auto& pp : procs_) {
    const Process& p = *pp;
    const ScriptedProgram& prog = *p.program;
    const std::string how = !prog.started() ? "never ran"
                            : !prog.finished() ? "still running"
                            : prog.signal() ? fmt::format("killed by {}", signal_name(prog.signal()))
                                            : fmt::format("exited with status {}", prog.exit_status());
    std::string line = fmt::format("{} (pid {}, cpu{}{}): {}; {} loads, {} stores", p.name, prog.pid(), p.cpu,
                                   p.parent >= 0 ? fmt::format(", child of {}", procs_[p.parent]->name) : "", how,
                                   p.stats->reads.value(), p.stats->writes.value());
    if (p.stats->fetches.value()) line += fmt::format(", {} fetches", p.stats->fetches.value());
    line += fmt::format("; {} checked against the shadow", p.stats->verified.value());
    if (!prog.signals().empty())
      line += fmt::format("; {} SIGBUS taken by its handler, {} accesses skipped", prog.signals().size(),
                          prog.skipped_accesses());
    lines.push_back(line);
  }
  return lines;
}

}  // namespace tb
