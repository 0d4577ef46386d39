#include "tb/top/storage.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "hw/base/config.h"
#include "hw/base/debug.h"
#include "hw/platform/platform.h"
#include "sw/fs/mmfs/format.h"
#include "sw/kernel/params.h"
#include "sw/mm/mkswap.h"
#include "sw/mm/swapfile.h"
#include "sw/lib/errno.h"
#include "tb/workload/file_content.h"
#include "tb/workload/files.h"

// The firmware's swap lines (fw::Params::trace_swap, set by machine.cpp).
SIM_DEBUG_FLAG(Swap, "Swap: pages written to swap and read back, swap-in readahead windows (firmware log lines)");

namespace sim {

namespace mmfs = fw::mmfs;

namespace {

// A file's extent on the disk: where its bytes [file_offset, file_offset + length) lie.
struct Segment {
  uint64_t disk_offset, length, file_offset, file_size;
  uint32_t ino;
};

// The metadata of an mmfs disk: superblock and inode table.
struct Layout {
  mmfs::super_block_disk sb{};
  std::vector<mmfs::inode_disk> inodes;
};

// Reads the layout from a buffer holding the disk's first bytes, or from the medium.
bool parse_layout(const uint8_t* image, uint64_t image_len, Layout& out) {
  if (image_len < sizeof out.sb) return false;
  std::memcpy(&out.sb, image, sizeof out.sb);
  if (std::memcmp(out.sb.magic, mmfs::kMagic, sizeof mmfs::kMagic) != 0 || out.sb.block_size == 0) return false;
  const uint64_t at = uint64_t{out.sb.inode_table_block} * out.sb.block_size;
  const uint64_t len = uint64_t{out.sb.nr_inodes} * sizeof(mmfs::inode_disk);
  if (out.sb.nr_inodes > mmfs::kMaxFiles || at + len > image_len) return false;
  out.inodes.resize(out.sb.nr_inodes);
  std::memcpy(out.inodes.data(), image + at, len);
  return true;
}

bool read_layout(const hw::BlockDevice& disk, Layout& out) {
  std::vector<uint8_t> head(sizeof(mmfs::super_block_disk));
  disk.read_media(0, head.data(), head.size());
  mmfs::super_block_disk sb;
  std::memcpy(&sb, head.data(), sizeof sb);
  if (sb.block_size == 0 || sb.block_size > (1u << 20) || sb.nr_inodes > mmfs::kMaxFiles) return false;
  head.resize(uint64_t{sb.inode_table_block} * sb.block_size + uint64_t{sb.nr_inodes} * sizeof(mmfs::inode_disk));
  if (head.size() > disk.capacity()) return false;
  disk.read_media(0, head.data(), head.size());
  return parse_layout(head.data(), head.size(), out);
}

std::vector<Segment> segments_of(const Layout& l) {
  std::vector<Segment> out;
  for (const mmfs::inode_disk& ino : l.inodes) {
    uint64_t file_offset = 0;
    for (unsigned e = 0; e < std::min<unsigned>(ino.nr_extents, mmfs::kMaxExtents); ++e) {
      const uint64_t len = ino.extents[e].nr_blocks * l.sb.block_size;
      out.push_back({ino.extents[e].start_block * l.sb.block_size, len, file_offset, ino.size, ino.ino});
      file_offset += len;
    }
  }
  std::sort(out.begin(), out.end(), [](const Segment& a, const Segment& b) { return a.disk_offset < b.disk_offset; });
  return out;
}

// What a never-written byte of the disk holds: a file's initial content
// below its initial size, zero anywhere else.
void initial_bytes(const std::vector<Segment>& segs, uint64_t seed, uint64_t at, uint8_t* dst, uint64_t len) {
  std::memset(dst, 0, len);
  auto it = std::upper_bound(segs.begin(), segs.end(), at,
                             [](uint64_t a, const Segment& s) { return a < s.disk_offset; });
  if (it != segs.begin()) --it;
  for (; it != segs.end() && it->disk_offset < at + len; ++it) {
    const uint64_t lo = std::max(at, it->disk_offset), hi = std::min(at + len, it->disk_offset + it->length);
    if (lo >= hi) continue;
    const uint64_t fo = it->file_offset + (lo - it->disk_offset);
    if (fo >= it->file_size) continue;
    tb::file_initial_content(seed, it->ino, fo, dst + (lo - at), std::min(hi - lo, it->file_size - fo));
  }
}

}  // namespace

Storage::DiskStats::DiskStats(stats::Group* parent, hw::BlockDevice& disk, hw::Platform& platform)
    : stats::Group(parent, disk.name()),
      bandwidth(this, "bandwidth", "The disk's configured media bandwidth", "Byte/s"),
      throughput(this, "throughput", "Bytes the disk read and wrote per simulated second of the run", "Byte/s",
                 [&disk, &platform] {
                   const double s = platform.sim_seconds();
                   return s > 0 ? static_cast<double>(disk.stats.bytes_read + disk.stats.bytes_written) / s : 0.0;
                 }),
      use(this, "bandwidthUse", "throughput / bandwidth", "Ratio", [this, &disk] {
        return disk.params().bandwidth ? throughput.value() / static_cast<double>(disk.params().bandwidth) : 0.0;
      }) {
  bandwidth.set(disk.params().bandwidth);
}

namespace {

// What Linux's mkswap writes: the info block at 1 KiB, the magic ending the
// first page, everything else zero (the disk reads 0 where never written).
void mkswap(hw::BlockDevice& disk, uint64_t seed, uint32_t disk_index) {
  std::vector<uint8_t> hdr(x86::PAGE_SIZE, 0);
  uint8_t uuid[16];
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + disk_index + 1;  // a UUID of the run, not of the host
  for (uint8_t& b : uuid) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    b = static_cast<uint8_t>(x >> 56);
  }
  fw::mkswap_header(hdr.data(), disk.capacity(), uuid);
  disk.write_media(0, hdr.data(), hdr.size());
}

}  // namespace

std::vector<uint8_t> prepare_swap_disks(ConfigNode fwc, hw::Platform& platform, const tb::FileSet& files,
                                        uint64_t seed) {
  const auto names = fwc.get<std::vector<std::string>>(
      "swapon", {},
      "block devices of platform.devices used whole as swap areas, in priority order (Linux swapon; each gets an "
      "mkswap header before boot)");
  std::vector<uint8_t> out;
  const hal::BootInfo& boot = platform.boot_info();
  constexpr size_t kMax = sizeof(fw::Params::swapon_devices);
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    auto fail = [&](const std::string& problem) {
      throw ConfigError(fmt::format("{}: {}.swapon[{}]: {}", fwc.where("swapon", i), fwc.path(), i, problem));
    };
    if (i >= kMax) fail(fmt::format("at most {} swap areas", kMax));
    unsigned idx = boot.nr_devices;
    for (unsigned d = 0; d < boot.nr_devices; ++d)
      if (boot.devices[d].kind == hal::DeviceKind::block &&
          name == std::string(boot.devices[d].name, strnlen(boot.devices[d].name, hal::kDeviceNameLen)))
        idx = d;
    if (idx == boot.nr_devices) fail(fmt::format("no block device called {}", quoted(name)));
    if (std::find(out.begin(), out.end(), idx) != out.end()) fail(fmt::format("{} is named twice", name));
    for (const auto& f : files.files)
      if (f->spec().device == name) fail(fmt::format("{} holds files of workload.files (mkswap would erase them)", name));
    mkswap(*platform.block_device(name), seed, static_cast<uint32_t>(i));
    out.push_back(static_cast<uint8_t>(idx));
  }
  return out;
}

Storage::Storage(hw::Platform& platform, const tb::FileSet& files, uint64_t seed)
    : platform_(platform), files_(files), seed_(seed) {
  if (files.files.empty()) return;
  stats_ = std::make_unique<Stats>(&platform.stats_root());
  std::set<std::string> disks;
  for (const auto& f : files.files)
    if (disks.insert(f->spec().device).second) format_disk(f->spec().device);
}

Storage::~Storage() = default;

void Storage::format_disk(const std::string& name) {
  hw::BlockDevice* disk = platform_.block_device(name);
  if (!disk) throw ConfigError(fmt::format("workload.files: no block device called '{}'", name));
  std::vector<mmfs::file_spec> specs;
  const tb::FileSpec* last = nullptr;
  for (const auto& f : files_.files) {
    if (f->spec().device != name) continue;
    specs.push_back({f->spec().ino, f->spec().name.c_str(), f->spec().size});
    last = &f->spec();
  }
  std::vector<uint8_t> image(1u << 20);  // the superblock and 256 inodes take far less
  uint64_t used = 0;
  const int rc = mmfs::mkfs(specs.data(), static_cast<unsigned>(specs.size()), disk->capacity(), disk->sector_size(),
                            image.data(), image.size(), &used);
  if (rc == -ENOSPC)
    throw ConfigError(fmt::format("{}.size: the files on {} do not fit on its {}", last->where, name,
                                  format_size(disk->capacity())));
  if (rc) throw ConfigError(fmt::format("{}: mkfs of {} failed ({})", last->where, name, rc));
  Layout layout;
  if (!parse_layout(image.data(), used, layout)) throw std::logic_error("mkfs wrote a layout it cannot read back");
  // The source first: the disk fills the rest of a chunk the metadata lands in from it.
  disk->set_content_source([segs = segments_of(layout), seed = seed_](uint64_t at, uint8_t* dst, uint64_t len) {
    initial_bytes(segs, seed, at, dst, len);
  });
  disk->write_media(0, image.data(), used);
  disk_stats_.push_back(std::make_unique<DiskStats>(stats_.get(), *disk, platform_));
}

std::string Storage::check() {
  std::string problem;
  if (!stats_) return problem;
  std::set<std::string> disks;
  for (const auto& f : files_.files)
    if (disks.insert(f->spec().device).second) check_disk(f->spec().device, problem);
  return problem;
}

void Storage::check_disk(const std::string& name, std::string& problem) {
  const hw::BlockDevice& disk = *platform_.block_device(name);
  auto note = [&](const std::string& what) {
    if (problem.empty()) problem = fmt::format("{}: {}", name, what);
  };
  Layout l;
  if (!read_layout(disk, l)) {
    ++stats_->mismatches;
    return note("the filesystem's superblock or inode table is gone from the disk");
  }
  std::vector<uint8_t> want(l.sb.block_size), got(l.sb.block_size);
  for (const auto& f : files_.files) {
    const tb::FileState& file = *f;
    if (file.spec().device != name) continue;
    const auto ino = std::find_if(l.inodes.begin(), l.inodes.end(),
                                  [&](const mmfs::inode_disk& i) { return i.ino == file.spec().ino; });
    if (ino == l.inodes.end()) {
      ++stats_->mismatches;
      note(fmt::format("file {}: no inode {} on the disk", file.spec().name, file.spec().ino));
      continue;
    }
    if (ino->size != file.size()) {
      ++stats_->mismatches;
      note(fmt::format("file {}: size on the disk {}, expected {}", file.spec().name, ino->size, file.size()));
    }
    // Block by block through the file's extents.
    const uint64_t size = std::min<uint64_t>(ino->size, file.size());
    for (uint64_t off = 0; off < size; off += l.sb.block_size) {
      const uint64_t n = std::min<uint64_t>(l.sb.block_size, size - off);
      const uint64_t at = mmfs::file_disk_offset(l.sb, *ino, off);
      if (at == ~0ull || at + n > disk.capacity()) {
        ++stats_->mismatches;
        note(fmt::format("file {}: offset {:#x} lies outside its extents", file.spec().name, off));
        break;
      }
      disk.read_media(at, got.data(), n);
      file.read(off, n, want.data());
      // A page a memory error took holds whatever the disk kept (files.h).
      const bool some_lost = file.lost_range(off, n);
      uint64_t checked = n;
      if (some_lost)
        for (uint64_t i = 0; i < n; i += tb::FileState::kPage - (off + i) % tb::FileState::kPage)
          if (file.lost((off + i) / tb::FileState::kPage))
            checked -= std::min<uint64_t>(n - i, tb::FileState::kPage - (off + i) % tb::FileState::kPage);
      stats_->bytes_verified += checked;
      if (std::memcmp(got.data(), want.data(), n) == 0) continue;
      for (uint64_t i = 0; i < n; ++i) {
        if (got[i] == want[i] || (some_lost && file.lost((off + i) / tb::FileState::kPage))) continue;
        note(fmt::format("file {}: byte {:#x} on the disk is {:#04x}, expected {:#04x} (disk offset {:#x})",
                           file.spec().name, off + i, got[i], want[i], at + i));
        ++stats_->mismatches;
      }
    }
    ++stats_->files_verified;
  }
}

}  // namespace sim
