// The disks of a run as the testbench prepares and checks them: before boot,
// mmfs is made on every disk that holds files of workload.files (the
// metadata written to the medium, each file's data given its initial
// content by a content source, so nothing is stored for it); after the
// workload has ended and the final sync has run, every file's bytes are read
// back from the medium and compared with the shadow's copy of the file. Any
// difference fails the run ("no data lost" is checked, not assumed).
// Statistics: system.storage (only when the scenario declares files), with
// each disk's simulated throughput against its configured bandwidth.
// Used by machine.cpp (format) and run.cpp (check).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hw/base/stats.h"

namespace hw {
class BlockDevice;
class Platform;
}
namespace tb {
struct FileSet;
}

namespace sim {

class ConfigNode;

// firmware.swapon: the block devices used whole as swap areas, in priority
// order. Each gets a Linux mkswap v1 header (SWAPSPACE2, version 1,
// last_page, a UUID from the seed) on its medium before boot, as mkswap
// writes it; returns their indices in the boot information's devices, for
// fw::Params::swapon_devices. Throws ConfigError (file, line, key) for a
// name that is no block device, a disk named twice or holding files, or
// more than the firmware takes.
std::vector<uint8_t> prepare_swap_disks(ConfigNode fwc, hw::Platform& platform, const tb::FileSet& files,
                                        uint64_t seed);

class Storage {
 public:
  // Makes mmfs on every disk the files name and installs the content
  // sources. Throws ConfigError (naming the file's size key) when the files
  // of a disk do not fit on it.
  Storage(hw::Platform& platform, const tb::FileSet& files, uint64_t seed);
  ~Storage();

  // Compares every file on the media with the shadow. Returns "" or one line
  // naming the first difference (file, offset, expected and found bytes).
  std::string check();

 private:
  struct Stats : stats::Group {
    explicit Stats(stats::Group* parent) : stats::Group(parent, "storage") {}
    stats::Scalar files_verified{this, "filesVerified", "Files whose bytes on the disk were compared with the shadow at the end of the run", "Count"};
    stats::Scalar bytes_verified{this, "bytesVerified", "Bytes of files compared with the shadow at the end of the run", "Byte"};
    stats::Scalar mismatches{this, "mismatches", "Bytes (or sizes) on the disks that differ from the shadow at the end of the run", "Count"};
  };
  // A disk's throughput over the run against its configured bandwidth.
  struct DiskStats : stats::Group {
    DiskStats(stats::Group* parent, hw::BlockDevice& disk, hw::Platform& platform);
    stats::Scalar bandwidth;
    stats::Formula throughput, use;
  };
  void format_disk(const std::string& disk);
  // Compares one disk's files; appends the first problem to `problem`.
  void check_disk(const std::string& disk, std::string& problem);

  hw::Platform& platform_;
  const tb::FileSet& files_;
  uint64_t seed_;
  std::unique_ptr<Stats> stats_;
  std::vector<std::unique_ptr<DiskStats>> disk_stats_;
};

}  // namespace sim
