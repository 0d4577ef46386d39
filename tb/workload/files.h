// The files of a scenario (workload.files) as the shadow knows them: each
// file's size and content, which is its initial content (file_content.h)
// overlaid with every write that reached it -- by write(2), or by a store
// through a shared mapping -- and cut by ftruncate. Every read a process
// makes is checked against it, and so, at the end of the run, is every
// byte the disk holds (tb/top/storage.cpp).
//
// Data a memory error took (as the memory shadow forgets a failed page):
// a page of the file is lost when a process got a memory-error SIGBUS on
// it through a mapping of the file (Linux dropped a dirty page-cache
// page), and every page written since the file's last successful fsync is
// lost when an fsync or fdatasync returns EIO (writeback failed: Linux
// keeps no record of which pages; the disk may hold their older data). A
// lost page is not checked -- by reads, loads through mappings, or the
// end-of-run disk check -- until a write covers it whole; every other byte
// still is, so no silently wrong value passes.
// Users: tb/workload (parsing, programs, the shadow's file-backed regions), tb/top.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
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
  // Page `page` (by number) lost its data to a memory error (see above).
  bool lost(uint64_t page) const { return !lost_.empty() && lost_.count(page); }
  // Any page of [offset, offset + len) lost.
  bool lost_range(uint64_t offset, uint64_t len) const;
  // The pages of [offset, offset + len) lost their data.
  void lose(uint64_t offset, uint64_t len);
  // fsync/fdatasync: 0 -- what was written is on the disk; -EIO -- every
  // page written since the last success may not be.
  void synced(bool ok);
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
  std::set<uint64_t> unsynced_;  // pages written since the last successful fsync
  uint64_t last_unsynced_ = ~0ull;  // the page last added there (stores come in runs)
  std::set<uint64_t> lost_;      // pages whose data a memory error took
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
