#include "tb/workload/workload.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace tb {

namespace {

int signal_number(const std::string& s) {
  if (s == "none" || s.empty()) return 0;
  if (s == "SIGSEGV") return 11;
  if (s == "SIGBUS") return 7;
  if (s == "SIGKILL") return 9;
  return -1;
}

const char* signal_name(int sig) {
  switch (sig) {
    case 7: return "SIGBUS";
    case 9: return "SIGKILL";
    case 11: return "SIGSEGV";
    default: return "signal";
  }
}

int64_t errno_number(const std::string& s) {
  if (s == "ok") return 0;
  if (s == "ENOMEM") return uapi::kEnomem;
  if (s == "EINVAL") return uapi::kEinval;
  if (s == "EFAULT") return uapi::kEfault;
  return -1;
}

uint64_t parse_prot(sim::ConfigNode& n) {
  const std::string p = n.get<std::string>("prot", "rw", "Protection: any of r, w, x (e.g. rw), or none");
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

uint64_t parse_flags(sim::ConfigNode& n) {
  const auto words = n.get<std::vector<std::string>>("flags", {"private"}, "mmap flags: private|shared, fixed, populate");
  uint64_t flags = uapi::kMapAnonymous;
  for (const std::string& w : words) {
    if (w == "private") flags |= uapi::kMapPrivate;
    else if (w == "shared") flags |= uapi::kMapShared;
    else if (w == "fixed") flags |= uapi::kMapFixed;
    else if (w == "populate") flags |= uapi::kMapPopulate;
    else n.fail("flags", fmt::format("unknown flag '{}' (private, shared, fixed, populate)", w));
  }
  if (!(flags & (uapi::kMapPrivate | uapi::kMapShared))) flags |= uapi::kMapPrivate;
  return flags;
}

int64_t parse_expect(sim::ConfigNode& n) {
  const std::string e = n.get<std::string>("expect", "ok", "Expected result: ok, or an errno name (ENOMEM, EINVAL, EFAULT)");
  const int64_t v = errno_number(e);
  if (v < 0) n.fail("expect", fmt::format("unknown result '{}' (ok, kEnomem, kEinval, kEfault)", e));
  return v;
}

void parse_range(sim::ConfigNode& n, Op& op) {
  op.region = n.require<std::string>("region", "Name of the region (given by its mmap)");
  op.offset = n.get<sim::Size>("offset", {0}, "Start within the region").bytes;
  op.span = n.get<sim::Size>("length", {0}, "Bytes of the region covered (0: to its end)").bytes;
}

Op parse_op(sim::ConfigNode item, unsigned nr) {
  const auto keys = item.keys();
  if (keys.size() != 1)
    item.fail("", "an operation is a mapping with exactly one key: mmap, munmap, read, write, access or exit");
  const std::string kind = keys[0];
  sim::ConfigNode n = item.child(kind);
  Op op;
  op.where = n.where();
  if (kind == "mmap") {
    op.kind = Op::Kind::mmap;
    op.region = n.require<std::string>("region", "Name this mapping is known by in later operations");
    op.length = n.require<sim::Size>("size", "Bytes to map").bytes;
    op.addr = n.get<sim::Size>("addr", {0}, "Address hint (with the fixed flag: the address)").bytes;
    op.prot = parse_prot(n);
    op.flags = parse_flags(n);
    op.expect_errno = parse_expect(n);
  } else if (kind == "munmap") {
    op.kind = Op::Kind::munmap;
    parse_range(n, op);
    op.expect_errno = parse_expect(n);
  } else if (kind == "read" || kind == "write" || kind == "access") {
    op.kind = Op::Kind::access;
    parse_range(n, op);
    const std::string pattern = n.get_enum("pattern", "sequential", {"sequential", "strided", "random", "zipf"},
                                           "Address pattern");
    Pattern::parse_kind(pattern, op.pattern);
    op.size = n.get<unsigned>("size", 8, "Bytes per access: 1, 2, 4 or 8");
    if (op.size != 1 && op.size != 2 && op.size != 4 && op.size != 8) n.fail("size", "must be 1, 2, 4 or 8");
    op.stride = n.get<sim::Size>("stride", {0}, "Step of sequential/strided patterns (default: the access size)").bytes;
    if (op.pattern == Pattern::Kind::strided && op.stride == 0) n.fail("stride", "a strided pattern needs a stride");
    if (op.stride % op.size) n.fail("stride", "must be a multiple of the access size");
    op.count = n.get<uint64_t>("count", 0, "Accesses (0: one sweep of the range)");
    if (kind == "access") {
      op.writes = n.get<double>("writes", 0.0, "Fraction of accesses that are stores (0..1)");
      if (op.writes < 0 || op.writes > 1) n.fail("writes", "must be between 0 and 1");
    } else {
      op.writes = kind == "write" ? 1.0 : 0.0;
    }
    op.verify = n.get<bool>("verify", true, "Check every load against what the process last wrote");
    op.seed = n.get<uint64_t>("seed", 0, "Extra seed of this phase's random choices");
    op.theta = n.get<double>("theta", 0.99, "Skew of the zipf pattern");
    if (op.pattern == Pattern::Kind::zipf && (op.theta <= 0 || op.theta >= 1)) n.fail("theta", "must be in (0, 1)");
  } else if (kind == "exit") {
    op.kind = Op::Kind::exit;
    op.status = n.get<int>("status", 0, "Exit status");
  } else {
    item.fail(kind, fmt::format("unknown operation '{}' (mmap, munmap, read, write, access, exit)", kind));
  }
  (void)nr;
  return op;
}

bool valid_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

Workload::Workload(sim::ConfigNode w, uint64_t seed, unsigned nr_cpus, sim::stats::Group* stats_root)
    : group_(std::make_unique<sim::stats::Group>(stats_root, "workload")) {
  auto processes = w.list("processes", "The processes to run: name, cpu, seed, ops");
  unsigned index = 0;
  for (sim::ConfigNode& pn : processes) {
    Process p;
    p.where = pn.where();
    p.name = pn.get<std::string>("name", fmt::format("p{}", index), "Process name (letters, digits, _)");
    if (!valid_name(p.name)) pn.fail("name", "use letters, digits and _ only");
    for (const Process& q : procs_)
      if (q.name == p.name) pn.fail("name", fmt::format("another process is already called '{}'", p.name));
    p.cpu = pn.get<unsigned>("cpu", index % nr_cpus, "CPU the process runs on");
    if (p.cpu >= nr_cpus) pn.fail("cpu", fmt::format("the machine has {} CPUs", nr_cpus));
    p.seed = pn.get<uint64_t>("seed", mix64(seed * 0x9e3779b97f4a7c15ull + index), "Seed of this process's data and random patterns");
    const std::string sig = pn.get<std::string>("expect_signal", "none", "Signal the process is expected to die of (none, SIGSEGV, SIGBUS)");
    p.expect_signal = signal_number(sig);
    if (p.expect_signal < 0) pn.fail("expect_signal", fmt::format("unknown signal '{}'", sig));
    unsigned nr = 0;
    for (sim::ConfigNode& item : pn.list("ops", "Operations, in order")) p.ops.push_back(parse_op(item, nr++));
    procs_.push_back(std::move(p));
    ++index;
  }
  for (Process& p : procs_) {
    p.stats = std::make_unique<ProcessStats>(group_.get(), p.name);
    p.program = std::make_unique<ScriptedProgram>(p.name, &p.ops, p.seed, p.stats.get());
  }
}

Workload::~Workload() = default;

void Workload::spawn_all(hal::Hal& hal, hal::Firmware& fw, hw::CoreComplex& cx) {
  for (Process& p : procs_) {
    p.pid = fw.spawn(hal, p.name.c_str(), p.cpu, p.program.get());
    if (p.pid < 0) throw std::runtime_error(fmt::format("{}: the firmware could not create process {} ({})", p.where, p.name, p.pid));
    cx.program_started();
  }
}

std::string Workload::check_outcomes() const {
  std::string out;
  for (const Process& p : procs_) {
    const ScriptedProgram& prog = *p.program;
    std::string problem;
    if (!prog.finished()) problem = "did not finish";
    else if (prog.signal() != p.expect_signal) {
      if (prog.signal()) problem = fmt::format("was killed by {}", signal_name(prog.signal()));
      else problem = fmt::format("exited normally, but was expected to die of {}", signal_name(p.expect_signal));
    }
    if (!problem.empty()) out += fmt::format("{}{}: process {} {}", out.empty() ? "" : "\n", p.where, p.name, problem);
  }
  return out;
}

std::vector<std::string> Workload::summary() const {
  std::vector<std::string> lines;
  for (const Process& p : procs_) {
    const ScriptedProgram& prog = *p.program;
    std::string how = !prog.finished() ? "still running"
                      : prog.signal() ? fmt::format("killed by {}", signal_name(prog.signal()))
                                      : fmt::format("exited with status {}", prog.exit_status());
    lines.push_back(fmt::format("{} (pid {}, cpu{}): {}; {} loads ({} verified), {} stores", p.name, p.pid, p.cpu, how,
                                p.stats->reads.value(), p.stats->verified.value(), p.stats->writes.value()));
  }
  return lines;
}

}  // namespace tb
