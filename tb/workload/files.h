// The files of a scenario (workload.files) as the shadow knows them: each
// file's size and content, which is its initial content (file_content.h)
// overlaid with every write that reached it -- by write(2), or by a store
// through a shared mapping -- and cut by ftruncate. Every read a process
// makes is checked against it, and so, at the end of the run, is every
// byte the disk holds (tb/top/storage.cpp).
// Users: tb/workload (parsing, programs, the shadow's file-backed regions), tb/top.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hw/base/stats.h"

namespace tb {

// One entry of workload.files.
struct FileSpec {
  std::string name, device, where;  // where: "scenario.yaml:5" for messages
  uint32_t ino = 0;                 // index in workload.files + 1 (mmfs's inode number)
  uint64_t size = 0;                // declared size: the initial size and the most it can grow to
};

// The shadow of one file.
class FileState {
 public:
  static constexpr uint64_t kPage = 4096;

  FileState(uint64_t seed, const FileSpec& spec);

  const FileSpec& spec() const { return spec_; }
  uint64_t size() const { return size_; }
  // Bytes [offset, offset + len) as the file holds them now (zero beyond
  // its size, as a hole reads).
  void read(uint64_t offset, uint64_t len, uint8_t* dst) const;
  // Stores len bytes at offset, extending the size if they end beyond it.
  void write(uint64_t offset, uint64_t len, const uint8_t* src);
  // ftruncate: the new size; bytes beyond it read as zero if the file grows again.
  void truncate(uint64_t size);
  // How many bytes a read of len at offset returns (short at end of file).
  uint64_t readable(uint64_t offset, uint64_t len) const {
    return offset >= size_ ? 0 : (len < size_ - offset ? len : size_ - offset);
  }

 private:
  using Page = std::array<uint8_t, kPage>;
  // The page's bytes before any overlay: initial content below zero_from_, zero from there.
  void base(uint64_t page, uint8_t* dst) const;
  Page& page_for_write(uint64_t page);

  uint64_t seed_;
  FileSpec spec_;
  uint64_t size_;
  uint64_t zero_from_;  // bytes from here on were cut off by a truncation (or lay beyond the initial size)
  std::map<uint64_t, std::unique_ptr<Page>> pages_;  // pages written since the start, by page number
};

// What the workload did to files, for stats.txt (system.workload.files),
// present only when the scenario declares files.
struct FileStats : sim::stats::Group {
  explicit FileStats(sim::stats::Group* parent) : sim::stats::Group(parent, "files") {}
  sim::stats::Scalar reads{this, "reads", "read(2) calls on files (pread64)", "Count"};
  sim::stats::Scalar writes{this, "writes", "write(2) calls on files (pwrite64)", "Count"};
  sim::stats::Scalar bytes_read{this, "bytesRead", "Bytes the read calls returned", "Byte"};
  sim::stats::Scalar bytes_written{this, "bytesWritten", "Bytes the write calls wrote", "Byte"};
  sim::stats::Scalar short_reads{this, "shortReads", "Reads that returned fewer bytes than asked (end of file)", "Count"};
  sim::stats::Scalar verified_bytes{this, "verifiedBytes", "Bytes read from files (by read or through mappings) checked against the shadow", "Byte"};
  sim::stats::Scalar syncs{this, "syncs", "fsync, fdatasync, sync and msync calls", "Count"};
  sim::stats::Scalar truncates{this, "truncates", "ftruncate calls", "Count"};
  sim::stats::Scalar final_syncs{this, "finalSyncs", "sync calls made by the last process to finish, before the end-of-run check", "Count"};
};

// Every file of the workload, indexed like workload.files.
struct FileSet {
  std::vector<std::unique_ptr<FileState>> files;
  std::unique_ptr<FileStats> stats;  // null without files
  int find(const std::string& name) const {
    for (size_t i = 0; i < files.size(); ++i)
      if (files[i]->spec().name == name) return static_cast<int>(i);
    return -1;
  }
};

}  // namespace tb
