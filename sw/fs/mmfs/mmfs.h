// mmfs in the firmware (the on-disk format is format.h): mounting every
// disk that holds one (super.cpp: superblock and inode table read through
// the block layer at boot, one inode with its page cache per file, the
// inode's metadata written back by fsync, sync and the flusher), and the
// file system calls on open files (file.cpp: the per-process table of open
// files, read/pread64, write/pwrite64, fsync, fdatasync, ftruncate, close,
// fadvise64, sync, drop_caches), all through the page cache (sw/mm/filemap).
//
// Files are named by inode number: open(i) opens workload.files[i], inode
// i + 1, on whichever disk holds it.
//
// Open files: each process has a files_struct (fd -> struct file). fork
// copies the table (Linux dup_fd: the child's fds name the same open files,
// sharing their offset); threads (CLONE_FILES) share the table itself. The
// last reference of a table closes its files (exit).
//
// Users: sw/kernel (system calls, boot, fork, exit), sw/mm/mmap (file
// mappings take their file from an fd).
#pragma once

#include <stdint.h>

#include "sw/block/bio.h"
#include "sw/fs/mmfs/format.h"
#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/filemap.h"

namespace fw {

struct mm_struct;
struct mmfs_sb;
class Mmfs;

// A file of a mounted mmfs (the VFS inode embedded first).
struct mmfs_inode {
  inode vfs;
  mmfs::inode_disk disk;  // the inode as last read or written, updated on write_inode
  mmfs_sb* sb;
  uint32_t slot;          // its index in the inode table
};

// A mounted mmfs (Linux's super_block with its private info).
class Mmfs;

struct mmfs_sb {
  Mmfs* fs;
  block_device* bdev;
  mmfs::super_block_disk disk;
  uint32_t dev;         // major << 8 | minor, for /proc/PID/maps
  mmfs_inode** inodes;  // nr_inodes of them
  list_head s_list;
};

constexpr unsigned kMaxOpenFiles = 64;  // fds per process

struct files_struct {
  int count;  // tasks sharing the table (CLONE_FILES)
  file* fd[kMaxOpenFiles];
};

struct MmfsStats {
  uint64_t mounts = 0;          // filesystems mounted
  uint64_t inodes = 0;          // files on them
  uint64_t meta_reads = 0;      // metadata blocks read at mount
  uint64_t meta_writes = 0;     // metadata blocks written (inode write-back, superblock)
  uint64_t opens = 0;
  uint64_t open_failed = 0;
  uint64_t closes = 0;
  uint64_t truncates = 0;
  uint64_t fadvises = 0;
  uint64_t drop_caches = 0;     // sysctl drop_caches writes
};

class Mmfs {
 public:
  void init(MmContext* ctx);
  // Mounts every registered block device not mounted yet whose block 0
  // holds mmfs's magic (boot, after the block drivers probed; tests after
  // registering a RAM disk). Returns how many were mounted.
  unsigned mount_all(hal::Hal& h);
  bool mounted() const { return stats_.mounts != 0; }

  // Open-file tables: a process's new table, fork's copy, a reference
  // dropped (the last closes every file).
  files_struct* dup_files(hal::Hal& h, const files_struct* old);
  void put_files(hal::Hal& h, files_struct* fs);

  // The system calls; each returns its result or -errno as Linux does.
  // *fsp is created on the first open.
  int64_t open(hal::Hal& h, files_struct** fsp, uint64_t index, uint64_t flags);
  int64_t close(hal::Hal& h, files_struct* fs, uint64_t fd);
  // pos < 0: at and advancing the file offset (read/write).
  int64_t read(hal::Hal& h, mm_struct* mm, files_struct* fs, uint64_t fd, uint64_t buf, uint64_t count, int64_t pos);
  int64_t write(hal::Hal& h, mm_struct* mm, files_struct* fs, uint64_t fd, uint64_t buf, uint64_t count, int64_t pos);
  int64_t fsync(hal::Hal& h, files_struct* fs, uint64_t fd, bool datasync);
  int64_t ftruncate(hal::Hal& h, files_struct* fs, uint64_t fd, uint64_t length);
  int64_t fadvise(hal::Hal& h, files_struct* fs, uint64_t fd, uint64_t offset, uint64_t len, uint64_t advice);
  int64_t drop_caches(hal::Hal& h, uint64_t what);
  // The open file of fd, nullptr when none (mmap of a file).
  file* fget(files_struct* fs, uint64_t fd) const;

  // Writes the inode's metadata block(s) and the superblock (write_inode).
  int write_inode(hal::Hal& h, mmfs_inode* mi, bool sync);

  const MmfsStats& stats() const { return stats_; }
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Reads or writes nbytes (whole blocks) at byte offset `off` of the disk
  // through a bounce page; write without sync completes asynchronously.
  int meta_io(hal::Hal& h, block_device* bdev, req_op op, uint64_t off, void* buf, uint32_t nbytes, bool sync);
  int mount_one(hal::Hal& h, block_device* bdev);
  // Reads the inode table of sb and creates its inodes. 0 or -errno.
  int read_inodes(hal::Hal& h, mmfs_sb* sb);
  bool is_mounted(const block_device* bdev) const;

  MmContext* ctx_ = nullptr;
  list_head supers_;
  MmfsStats stats_;
};

}  // namespace fw
