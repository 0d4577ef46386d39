// workload.files and the file operations of workload.processes[].ops:
// their keys, checked as they are read (one-line errors naming file, line
// and key), and the final sync a scenario with files ends with.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "sw/hal/x86.h"
#include "tb/workload/errno_names.h"
#include "tb/workload/workload.h"

namespace tb {

namespace {

// mmfs's limits (sw/fs/mmfs/format.h): names of at most 31 bytes, 256 files a disk.
constexpr size_t kMaxName = 31;
constexpr size_t kMaxFilesPerDisk = 256;
// A read or write moves at most this much (the process's I/O buffer is as large as its largest one).
constexpr uint64_t kMaxIo = 1ull << 30;

uint64_t parse_fadvice(sim::ConfigNode& n) {
  static const struct {
    const char* name;
    uint64_t value;
  } advice[] = {{"normal", uapi::kFadvNormal},     {"random", uapi::kFadvRandom},       {"sequential", uapi::kFadvSequential},
                {"willneed", uapi::kFadvWillneed}, {"dontneed", uapi::kFadvDontneed}, {"noreuse", uapi::kFadvNoreuse}};
  const std::string a = n.require<std::string>("advice", "posix_fadvise advice: normal, random, sequential, willneed, dontneed, noreuse");
  for (const auto& k : advice)
    if (a == k.name) return k.value;
  n.fail("advice", fmt::format("unknown advice '{}' (normal, random, sequential, willneed, dontneed, noreuse)", a));
}

uint64_t parse_msync_flags(sim::ConfigNode& n) {
  const auto words = n.get<std::vector<std::string>>("flags", {"sync"}, "msync flags: sync or async, and invalidate");
  uint64_t flags = 0;
  for (const std::string& w : words) {
    if (w == "sync") flags |= uapi::kMsSync;
    else if (w == "async") flags |= uapi::kMsAsync;
    else if (w == "invalidate") flags |= uapi::kMsInvalidate;
    else n.fail("flags", fmt::format("unknown flag '{}' (sync, async, invalidate)", w));
  }
  if ((flags & uapi::kMsSync) && (flags & uapi::kMsAsync)) n.fail("flags", "sync and async exclude each other");
  return flags;
}

}  // namespace

void Workload::parse_files(sim::ConfigNode w, uint64_t seed, const std::vector<DeviceDesc>& devices) {
  auto list = w.list("files", "Files of the firmware's filesystem (mmfs) on block devices: name, device, size");
  std::map<std::string, size_t> per_disk;
  for (size_t i = 0; i < list.size(); ++i) {
    sim::ConfigNode& n = list[i];
    FileSpec f;
    f.where = fmt::format("{}: {}", n.where(), n.path());
    f.ino = static_cast<uint32_t>(i + 1);
    f.name = n.require<std::string>("name", "The file's name (letters, digits, _, . and -), which file operations use");
    if (f.name.empty() || f.name.size() > kMaxName ||
        !std::all_of(f.name.begin(), f.name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; }))
      n.fail("name", fmt::format("use 1 to {} letters, digits, _, . or -, not {}", kMaxName, sim::quoted(f.name)));
    if (files_.find(f.name) >= 0) n.fail("name", fmt::format("another file is already called '{}'", f.name));
    f.device = n.require<std::string>("device", "The block device (a block device of platform.devices) the file lives on");
    const auto dev = std::find_if(devices.begin(), devices.end(), [&](const DeviceDesc& d) { return d.name == f.device; });
    if (dev == devices.end()) n.fail("device", fmt::format("no device called '{}' in platform.devices", f.device));
    if (!dev->block) n.fail("device", fmt::format("'{}' is not a block device (kind: block)", f.device));
    if (++per_disk[f.device] > kMaxFilesPerDisk)
      n.fail("name", fmt::format("more than {} files on {}", kMaxFilesPerDisk, f.device));
    f.size = n.require<sim::Size>("size", "The file's size: its initial size (content derived from the seed) and the most it can grow to").bytes;
    if (f.size > dev->capacity)
      n.fail("size", fmt::format("{} does not fit on {} ({})", sim::format_size(f.size), f.device,
                                 sim::format_size(dev->capacity)));
    files_.files.push_back(std::make_unique<FileState>(seed, f));
  }
  if (!files_.files.empty()) files_.stats = std::make_unique<FileStats>(group_.get());
}

void Workload::parse_file_repeat(sim::ConfigNode& n, Op& op) const {
  const FileSpec& f = files_.files[op.file]->spec();
  op.count = n.get<uint64_t>("count", 1, "Repeat the call this many times (sequential: each at the next offset; random: at random offsets)");
  if (op.count == 0 || op.count > (1u << 24)) n.fail("count", "must be between 1 and 2^24");
  const std::string pattern = n.get_enum("pattern", "sequential", {"sequential", "random"},
                                         "Offsets of repeated calls: sequential (stride apart) or random (multiples of length within the file)");
  op.pattern = pattern == "random" ? Pattern::Kind::random : Pattern::Kind::sequential;
  if (op.pattern == Pattern::Kind::random) {
    op.seed = n.get<uint64_t>("seed", 0, "Extra seed of the random offsets");
    if (n.has("offset")) n.fail("offset", "random offsets take no offset");
    if (n.has("stride")) n.fail("stride", "random offsets take no stride");
    if (op.length > f.size) n.fail("length", fmt::format("longer than file {} ({})", f.name, sim::format_size(f.size)));
  } else {
    op.offset = n.get<sim::Size>("offset", {0}, "Where in the file the (first) read or write starts").bytes;
    if (n.has("seed")) n.fail("seed", "sequential offsets make no random choice");
    if (op.count > 1)
      op.stride = n.get<sim::Size>("stride", {op.length}, "Distance between the offsets of repeated calls (default: length)").bytes;
    else if (n.has("stride"))
      n.fail("stride", "a single call (count 1) has no stride");
  }
  // The furthest byte a write reaches: files never grow beyond their declared size.
  const uint64_t last = op.pattern == Pattern::Kind::random ? f.size : op.offset + (op.count - 1) * op.stride + op.length;
  if (op.kind == Op::Kind::file_write && (op.offset > f.size || last > f.size))
    n.fail("length", fmt::format("the writes reach {:#x}, past file {}'s {} (files do not grow beyond their declared size)",
                                 last, f.name, sim::format_size(f.size)));
}

int Workload::parse_file(sim::ConfigNode& n) const {
  const std::string name = n.require<std::string>("file", "The file (a name of workload.files)");
  const int i = files_.find(name);
  if (i < 0) n.fail("file", fmt::format("no file called '{}' in workload.files", name));
  return i;
}

bool Workload::parse_file_op(sim::ConfigNode& n, const std::string& kind, Op& op) {
  if (kind == "file_read" || kind == "file_write") {
    op.kind = kind == "file_read" ? Op::Kind::file_read : Op::Kind::file_write;
    op.file = parse_file(n);
    op.length = n.require<sim::Size>("length", "Bytes to read or write (through the process's I/O buffer)").bytes;
    if (!op.length) n.fail("length", "must be at least 1 byte");
    if (op.length > kMaxIo) n.fail("length", fmt::format("at most {} a call", sim::format_size(kMaxIo)));
    parse_file_repeat(n, op);
  } else if (kind == "fsync" || kind == "fdatasync") {
    op.kind = kind == "fsync" ? Op::Kind::fsync : Op::Kind::fdatasync;
    op.file = parse_file(n);
  } else if (kind == "ftruncate") {
    op.kind = Op::Kind::ftruncate;
    op.file = parse_file(n);
    op.file_size = n.require<sim::Size>("size", "The file's new size (at most its declared size)").bytes;
    const FileSpec& f = files_.files[op.file]->spec();
    if (op.file_size > f.size)
      n.fail("size", fmt::format("file {} cannot grow beyond its declared {}", f.name, sim::format_size(f.size)));
  } else if (kind == "sync") {
    op.kind = Op::Kind::sync;
  } else if (kind == "drop_caches") {
    op.kind = Op::Kind::drop_caches;
    op.level = n.get<unsigned>("level", 3, "What to drop: 1 the page cache, 2 slab objects, 3 both (echo N > /proc/sys/vm/drop_caches)");
    if (op.level < 1 || op.level > 3) n.fail("level", "must be 1, 2 or 3");
  } else if (kind == "fadvise") {
    op.kind = Op::Kind::fadvise;
    op.file = parse_file(n);
    op.offset = n.get<sim::Size>("offset", {0}, "Start of the advised range").bytes;
    op.span = n.get<sim::Size>("length", {0}, "Bytes of the advised range (0: to the end of the file)").bytes;
    op.advice = parse_fadvice(n);
  } else if (kind == "msync") {
    op.kind = Op::Kind::msync;
    op.region = n.require<std::string>("region", "Name of the mapped region (given by its mmap)");
    op.offset = n.get<sim::Size>("offset", {0}, "Start within the region").bytes;
    op.span = n.get<sim::Size>("length", {0}, "Bytes of the region covered (0: to its end)").bytes;
    op.flags = parse_msync_flags(n);
  } else {
    return false;
  }
  op.expect_errno = parse_expect(n);
  return true;
}

void Workload::add_final_sync() {
  // Every top-level program counts; children are counted as they are created.
  final_.name = "the final sync";
  for (const auto& p : procs_) {
    p->program->set_final(&final_);
    if (p->parent < 0) ++final_.count;
  }
}

}  // namespace tb
