// mmfs's on-disk format: making a filesystem (the host's mkfs before boot)
// and finding a file's bytes on the disk (the firmware's bmap and the
// end-of-run check). See format.h for the layout.
#include "sw/fs/mmfs/format.h"

#include "sw/lib/errno.h"
#include "sw/lib/string.h"

namespace fw::mmfs {

namespace {

uint64_t div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

int mkfs(const file_spec* files, unsigned n, uint64_t disk_bytes, uint32_t sector_size, void* image,
         uint64_t image_bytes, uint64_t* image_used) {
  if ((sector_size != 512 && sector_size != 4096) || n > kMaxFiles) return -EINVAL;
  const uint32_t bs = sector_size > 4096 ? sector_size : 4096;
  const uint64_t nr_blocks = disk_bytes / bs;
  const uint64_t table_blocks = div_up(static_cast<uint64_t>(n) * sizeof(inode_disk), bs);
  const uint64_t meta_blocks = 1 + (table_blocks ? table_blocks : 1);
  const uint64_t meta_bytes = meta_blocks * bs;
  for (unsigned i = 0; i < n; ++i)
    if (!files[i].name || str_len(files[i].name) >= kNameLen || files[i].ino == 0) return -EINVAL;
  if (meta_blocks > nr_blocks) return -ENOSPC;
  if (image_bytes < meta_bytes) return -EOVERFLOW;
  mem_set(image, 0, meta_bytes);
  auto* sb = static_cast<super_block_disk*>(image);
  mem_copy(sb->magic, kMagic, sizeof kMagic);
  sb->version = kVersion;
  sb->block_size = bs;
  sb->nr_blocks = nr_blocks;
  sb->nr_inodes = n;
  sb->inode_table_block = 1;
  sb->data_start_block = meta_blocks;
  auto* table = reinterpret_cast<inode_disk*>(static_cast<uint8_t*>(image) + bs);
  // One extent per file, laid out in declaration order: files never grow
  // past their allocation, so there is nothing to fragment.
  uint64_t next = meta_blocks;
  for (unsigned i = 0; i < n; ++i) {
    const uint64_t blocks = div_up(files[i].size, bs);
    if (blocks > nr_blocks - next) return -ENOSPC;
    inode_disk& d = table[i];
    d.ino = files[i].ino;
    str_copy(d.name, files[i].name, kNameLen);
    d.size = files[i].size;
    d.allocated = blocks * bs;
    d.nr_extents = blocks ? 1 : 0;
    d.extents[0] = extent_disk{blocks ? next : 0, blocks};
    next += blocks;
  }
  *image_used = meta_bytes;
  return 0;
}

uint64_t file_disk_offset(const super_block_disk& sb, const inode_disk& ino, uint64_t offset) {
  uint64_t block = offset / sb.block_size;
  const unsigned n = ino.nr_extents < kMaxExtents ? ino.nr_extents : kMaxExtents;
  for (unsigned i = 0; i < n; ++i) {
    const extent_disk& e = ino.extents[i];
    if (block < e.nr_blocks) return (e.start_block + block) * sb.block_size + offset % sb.block_size;
    block -= e.nr_blocks;
  }
  return ~0ull;
}

}  // namespace fw::mmfs
