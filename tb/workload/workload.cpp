#include "tb/workload/workload.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include <fmt/format.h>

namespace tb {

namespace {

int signal_number(const std::string& s) {
  if (s == "none" || s.empty()) return 0;
  if (s == "SIGSEGV") return uapi::kSigsegv;
  if (s == "SIGBUS") return uapi::kSigbus;
  if (s == "SIGKILL") return uapi::kSigkill;
  return -1;
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

const struct {
  const char* name;
  int64_t value;
} kErrnos[] = {{"ok", 0},          {"EPERM", uapi::kEperm},   {"EAGAIN", uapi::kEagain},
               {"ENOMEM", uapi::kEnomem}, {"EACCES", uapi::kEacces}, {"EFAULT", uapi::kEfault},
               {"EBUSY", uapi::kEbusy},   {"EEXIST", uapi::kEexist}, {"EINVAL", uapi::kEinval},
               {"ENOSYS", uapi::kEnosys}, {"EOVERFLOW", uapi::kEoverflow}};

int64_t parse_expect(sim::ConfigNode& n) {
  const std::string e = n.get<std::string>("expect", "ok", "Expected result: ok, or the errno it must fail with (ENOMEM, EINVAL, ...)");
  for (const auto& k : kErrnos)
    if (e == k.name) return k.value;
  n.fail("expect", fmt::format("unknown result '{}' (ok, EPERM, EAGAIN, ENOMEM, EACCES, EFAULT, EBUSY, EEXIST, EINVAL, ENOSYS, EOVERFLOW)", e));
}

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
                {"collapse", uapi::kMadvCollapse}};
  const std::string a = n.require<std::string>("advice", "The advice: dontneed, free, hugepage, nohugepage, populate_read, populate_write, collapse, ...");
  for (const auto& k : advice)
    if (a == k.name) return k.value;
  n.fail("advice", fmt::format("unknown advice '{}'", a));
}

void parse_range(sim::ConfigNode& n, Op& op) {
  op.region = n.require<std::string>("region", "Name of the region (given by its mmap)");
  op.offset = n.get<sim::Size>("offset", {0}, "Start within the region").bytes;
  op.span = n.get<sim::Size>("length", {0}, "Bytes of the region covered (0: to its end)").bytes;
}

// munmap, mprotect and madvise may repeat over ranges `stride` apart.
void parse_repeat(sim::ConfigNode& n, Op& op) {
  op.count = n.get<uint64_t>("count", 1, "Repeat the call this many times, `stride` bytes apart");
  op.stride = n.get<sim::Size>("stride", {0}, "Distance between the ranges of repeated calls").bytes;
  if (op.count == 0) n.fail("count", "must be at least 1");
  if (op.count > 1 && op.stride == 0) n.fail("stride", "repeated calls need a stride");
}

bool valid_name(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

Workload::Workload(sim::ConfigNode w, uint64_t seed, unsigned nr_cpus, const std::string& base_dir,
                   sim::stats::Group* stats_root)
    : base_dir_(base_dir), group_(std::make_unique<sim::stats::Group>(stats_root, "workload")) {
  auto processes = w.list("processes", "The processes to run: name, cpu, seed, expect_signal, ops");
  for (size_t i = 0; i < processes.size(); ++i)
    parse_process(processes[i], fmt::format("p{}", i), -1, false, nr_cpus, seed);
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
}

Workload::~Workload() = default;

size_t Workload::parse_process(sim::ConfigNode pn, const std::string& default_name, int parent, bool thread,
                               unsigned nr_cpus, uint64_t seed) {
  const size_t self = procs_.size();
  procs_.push_back(std::make_unique<Process>());
  Process& p = *procs_.back();
  p.where = pn.where();
  p.parent = parent;
  p.thread = thread;
  p.name = pn.get<std::string>("name", default_name, "Process name (letters, digits, _)");
  if (!valid_name(p.name)) pn.fail("name", "use letters, digits and _ only");
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
  if (p.expect_signal < 0) pn.fail("expect_signal", fmt::format("unknown signal '{}'", sig));

  std::vector<Op> ops;
  for (sim::ConfigNode& item : pn.list("ops", "Operations, in order")) ops.push_back(parse_op(item, self, nr_cpus, seed));
  Process& me = *procs_[self];  // procs_ may have grown (children)
  me.ops = std::move(ops);
  me.stats = std::make_unique<ProcessStats>(group_.get(), me.name);
  me.program = std::make_unique<ScriptedProgram>(me.name, me.where, &me.ops, me.seed, me.stats.get());
  return self;
}

Op Workload::parse_op(sim::ConfigNode item, size_t self, unsigned nr_cpus, uint64_t seed) {
  const auto keys = item.keys();
  if (keys.size() != 1)
    item.fail("", "an operation is a mapping with one key: mmap, munmap, mprotect, madvise, fork, thread, barrier, "
                  "read, write, access, fetch, replay or exit");
  const std::string kind = keys[0];
  sim::ConfigNode n = item.child(kind);
  Op op;
  op.where = n.where();
  if (kind == "mmap") {
    op.kind = Op::Kind::mmap;
    op.region = n.require<std::string>("region", "Name this mapping is known by in later operations");
    op.length = n.require<sim::Size>("size", "Bytes to map").bytes;
    op.addr = n.get<sim::Size>("addr", {0}, "Address hint (with the fixed flags: the address)").bytes;
    op.prot = parse_prot(n, "rw");
    op.flags = parse_mmap_flags(n);
    op.expect_errno = parse_expect(n);
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
    op.kind = Op::Kind::access;
    parse_range(n, op);
    const std::string pattern = n.get_enum("pattern", "sequential", {"sequential", "strided", "random", "zipf"}, "Address pattern");
    Pattern::parse_kind(pattern, op.pattern);
    op.size = n.get<unsigned>("size", 8, "Bytes per access: 1, 2, 4, 8, 16, 32 or 64");
    if (op.size == 0 || op.size > 64 || (op.size & (op.size - 1))) n.fail("size", "must be 1, 2, 4, 8, 16, 32 or 64");
    op.stride = n.get<sim::Size>("stride", {0}, "Step of sequential and strided patterns (default: the access size)").bytes;
    if (op.pattern == Pattern::Kind::strided && op.stride == 0) n.fail("stride", "a strided pattern needs a stride");
    if (op.stride % op.size) n.fail("stride", "must be a multiple of the access size");
    op.count = n.get<uint64_t>("count", 0, "Accesses (0: one sweep of the range)");
    if (kind == "access") {
      op.writes = n.get<double>("writes", 0.0, "Fraction of accesses that are stores (0..1)");
      if (op.writes < 0 || op.writes > 1) n.fail("writes", "must be between 0 and 1");
    } else {
      op.writes = kind == "write" ? 1.0 : 0.0;
    }
    if (kind == "fetch") op.access = x86::Access::fetch;
    if (kind != "read" && kind != "fetch" && n.has("value")) {
      op.fixed_value = true;
      op.value = n.get<uint64_t>("value", 0, "Stores write this value (repeated over wider accesses) instead of random data");
    }
    op.verify = n.get<bool>("verify", true, "Check every load against what the process last wrote");
    op.seed = n.get<uint64_t>("seed", 0, "Extra seed of this phase's random choices");
    op.theta = n.get<double>("theta", 0.99, "Skew of the zipf pattern, in (0, 1)");
    if (op.pattern == Pattern::Kind::zipf && (op.theta <= 0 || op.theta >= 1)) n.fail("theta", "must be in (0, 1)");
  } else if (kind == "replay") {
    op.kind = Op::Kind::replay;
    std::string file = n.require<std::string>("file", "A valgrind lackey trace (--tool=lackey --trace-mem=yes), relative to the scenario");
    const uint64_t limit = n.get<uint64_t>("limit", 0, "Replay at most this many trace records (0: all)");
    if (!std::filesystem::path(file).is_absolute() && !base_dir_.empty()) file = (std::filesystem::path(base_dir_) / file).string();
    try {
      op.trace = std::make_shared<const LackeyTrace>(file, limit);
    } catch (const std::exception& e) {
      n.fail("file", e.what());
    }
    op.verify = n.get<bool>("verify", true, "Check every load and fetch against what the process last wrote");
  } else if (kind == "exit") {
    op.kind = Op::Kind::exit;
    op.status = n.get<int>("status", 0, "Exit status");
  } else {
    item.fail(kind, fmt::format("unknown operation '{}' (mmap, munmap, mprotect, madvise, fork, thread, barrier, read, "
                                "write, access, fetch, replay, exit)", kind));
  }
  op.label = op.region.empty() ? kind : kind + " " + op.region;
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
    }
    if (!problem.empty()) out += fmt::format("{}{}: process {} {}", out.empty() ? "" : "\n", p.where, p.name, problem);
  }
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
    lines.push_back(line);
  }
  return lines;
}

}  // namespace tb
