// mmfs, the firmware's small filesystem: its on-disk format. A disk made
// with mmfs holds, from block 0: the superblock, then the inode table (one
// mmfs_inode per file, packed), then the files' data as extents of whole
// blocks. Every file's extents are allocated when the disk is made (a file
// can shrink with ftruncate and grow back up to its allocation; never
// beyond), so data writes never change the layout and only the inode's size
// and times change after mkfs.
//
// The image is made on the host before the machine boots (as a disk image
// is prepared before a real machine starts): mmfs_mkfs() lays out the
// files and writes the metadata blocks into a buffer, which the composition
// root (tb/top) stores on the disk model. The firmware mounts every disk
// whose block 0 holds the magic, reading the metadata through the block
// layer; the end-of-run check (tb/top) parses the same structures from the
// disk's media to find each file's blocks.
//
// Users: sw/fs/mmfs (mount, fsync of metadata), tb/top (mkfs, end-of-run check).
// Freestanding, little-endian, fixed-size fields only.
#pragma once

#include <stdint.h>

namespace fw::mmfs {

constexpr char kMagic[8] = {'M', 'M', 'C', 'O', 'F', 'S', '0', '1'};
constexpr uint32_t kVersion = 1;
constexpr unsigned kNameLen = 32;    // a file's name, NUL-padded (workload.files names are shorter)
constexpr unsigned kMaxExtents = 8;  // extents per inode
constexpr unsigned kMaxFiles = 256;  // inodes per disk

struct super_block_disk {
  char magic[8];
  uint32_t version;
  uint32_t block_size;        // bytes per filesystem block: the disk's sector size or 4096, whichever is larger
  uint64_t nr_blocks;         // the disk's size in filesystem blocks
  uint32_t nr_inodes;         // files on this disk
  uint32_t inode_table_block; // first block of the inode table
  uint64_t data_start_block;  // first block after the metadata
  uint64_t generation;        // incremented by each metadata write-back (fsync of an inode)
  uint8_t pad[16];
};
static_assert(sizeof(super_block_disk) == 64, "mmfs superblock is 64 bytes");

struct extent_disk {
  uint64_t start_block;  // filesystem block number on the disk
  uint64_t nr_blocks;
};

struct inode_disk {
  uint32_t ino;    // the file's index in workload.files + 1 (0: unused slot); what open() names, minus one
  uint32_t flags;  // none yet
  char name[kNameLen];
  uint64_t size;       // bytes (i_size)
  uint64_t allocated;  // bytes of the extents (the most the file can grow to)
  uint64_t mtime_ns;   // simulated time of the last data change written back
  uint32_t nr_extents;
  uint32_t pad[3];  // keeps the inode at 208 bytes
  extent_disk extents[kMaxExtents];
};
static_assert(sizeof(inode_disk) == 208, "mmfs inode is 208 bytes");

// One file to create: what workload.files declares for this disk.
struct file_spec {
  uint32_t ino;  // workload.files index + 1
  const char* name;
  uint64_t size;
};

// Lays out `n` files on a disk of disk_bytes with sectors of sector_size and
// writes the metadata (superblock and inode table, whole blocks) into
// image[0 .. *image_used); every file's content area is left to the caller
// (its initial content is generated, not stored in the image). Returns 0,
// -ENOSPC (the files do not fit), -EINVAL (too many files, a name too long,
// a bad sector size) or -EOVERFLOW (image_bytes too small for the metadata).
int mkfs(const file_spec* files, unsigned n, uint64_t disk_bytes, uint32_t sector_size, void* image,
         uint64_t image_bytes, uint64_t* image_used);

// Byte offset on the disk of byte `offset` of a file, or ~0ull when the
// file's extents do not cover it.
uint64_t file_disk_offset(const super_block_disk& sb, const inode_disk& ino, uint64_t offset);

}  // namespace fw::mmfs
