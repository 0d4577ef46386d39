// mmfs: mounting (Linux fill_super and iget of a disk filesystem), block
// mapping (bmap) and inode write-back (write_inode), all through the block
// layer. See mmfs.h.
#include "sw/fs/mmfs/mmfs.h"

#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/lib/string.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/slub.h"

namespace fw {

namespace {

constexpr uint32_t kBlock = 4096;  // mmfs blocks are 4 KiB (format.h: max(sector, 4096))

mmfs_inode* MMFS_I(inode* ino) { return reinterpret_cast<mmfs_inode*>(ino); }
const mmfs_inode* MMFS_I(const inode* ino) { return reinterpret_cast<const mmfs_inode*>(ino); }

uint64_t mmfs_bmap(const inode* ino, uint64_t index) {
  const mmfs_inode* mi = MMFS_I(ino);
  const uint64_t off = mmfs::file_disk_offset(mi->sb->disk, mi->disk, index << PAGE_SHIFT);
  return off == ~0ull ? ~0ull : off >> SECTOR_SHIFT;
}

int mmfs_write_inode(hal::Hal& h, inode* ino, bool sync) {
  mmfs_inode* mi = MMFS_I(ino);
  return mi->sb->fs->write_inode(h, mi, sync);
}

constexpr inode_operations mmfs_iops = {mmfs_bmap, mmfs_write_inode};

// An asynchronous metadata write is done: its bounce page and bio go.
void meta_end_io(hal::Hal& h, bio* b) {
  MmContext* ctx = static_cast<MmContext*>(b->bi_private);
  ctx->page_alloc->put_page(h, b->bi_io_vec[0].bv_page);
  ctx->filemap->bio_put(h, b);
}

}  // namespace

void Mmfs::init(MmContext* ctx) {
  ctx_ = ctx;
  INIT_LIST_HEAD(&supers_);
}

int Mmfs::meta_io(hal::Hal& h, block_device* bdev, req_op op, uint64_t off, void* buf, uint32_t nbytes, bool sync) {
  page* p = ctx_->page_alloc->alloc_pages(h, GFP_NOIO, 0);
  if (!p) return -ENOMEM;
  const uint64_t pa = ctx_->nodes->page_to_phys(p);
  if (op == req_op::write) h.phys_write(pa, buf, nbytes);
  const uint32_t opf = REQ_META | (sync ? REQ_SYNC : 0);
  if (!sync) {
    bio* b = ctx_->filemap->bio_alloc(h, bdev, op, opf, off >> SECTOR_SHIFT);
    if (!b) {
      ctx_->page_alloc->put_page(h, p);
      return -ENOMEM;
    }
    bio_add_page(b, p, nbytes, 0);
    b->bi_end_io = meta_end_io;
    b->bi_private = ctx_;
    ctx_->filemap->submit(h, b);
    return 0;
  }
  bio b;
  bio_init(&b, bdev, op, opf, off >> SECTOR_SHIFT);
  bio_add_page(&b, p, nbytes, 0);
  int rc = ctx_->filemap->submit_wait(h, &b);
  if (!rc && op == req_op::read && h.phys_read(pa, buf, nbytes) != hal::MemStatus::ok) rc = -EIO;
  ctx_->page_alloc->put_page(h, p);
  return rc;
}

bool Mmfs::is_mounted(const block_device* bdev) const {
  for (list_head* l = supers_.next; l != &supers_; l = l->next)
    if (list_entry(l, mmfs_sb, s_list)->bdev == bdev) return true;
  return false;
}

unsigned Mmfs::mount_all(hal::Hal& h) {
  unsigned n = 0;
  BlockDevices& devs = *ctx_->blockdevs;
  for (list_head* l = devs.list.next; l != &devs.list; l = l->next) {
    block_device* bdev = list_entry(l, block_device, bd_list);
    if (!is_mounted(bdev) && mount_one(h, bdev) == 0) ++n;
  }
  return n;
}

int Mmfs::read_inodes(hal::Hal& h, mmfs_sb* sb) {
  const uint32_t n = sb->disk.nr_inodes;
  for (uint32_t i = 0; i < n; ++i) {
    sb->inodes[i] = static_cast<mmfs_inode*>(ctx_->slab->kzalloc(h, sizeof(mmfs_inode), GFP_KERNEL));
    if (!sb->inodes[i]) return -ENOMEM;
  }
  // The table block by block; an inode may straddle two blocks.
  uint8_t* buf = static_cast<uint8_t*>(ctx_->slab->kmalloc(h, kBlock, GFP_KERNEL));
  if (!buf) return -ENOMEM;
  const uint64_t table = static_cast<uint64_t>(sb->disk.inode_table_block) * kBlock;
  const uint64_t bytes = static_cast<uint64_t>(n) * sizeof(mmfs::inode_disk);
  int rc = 0;
  for (uint64_t b = 0; b * kBlock < bytes && !rc; ++b) {
    if ((rc = meta_io(h, sb->bdev, req_op::read, table + b * kBlock, buf, kBlock, true))) break;
    ++stats_.meta_reads;
    for (uint32_t i = 0; i < n; ++i) {
      const uint64_t lo = i * sizeof(mmfs::inode_disk), hi = lo + sizeof(mmfs::inode_disk);
      const uint64_t s = max(lo, b * kBlock), e = min(hi, (b + 1) * kBlock);
      if (s < e) mem_copy(reinterpret_cast<uint8_t*>(&sb->inodes[i]->disk) + (s - lo), buf + (s - b * kBlock), e - s);
    }
  }
  ctx_->slab->kfree(h, buf);
  for (uint32_t i = 0; i < n && !rc; ++i) {
    mmfs_inode* mi = sb->inodes[i];
    mi->sb = sb;
    mi->slot = i;
    inode& ino = mi->vfs;
    ino.i_ino = mi->disk.ino;
    ino.i_size = mi->disk.size;
    ino.i_allocated = mi->disk.allocated;
    ino.i_mtime_ns = mi->disk.mtime_ns;
    ino.i_bdev = sb->bdev;
    ino.i_dev = sb->dev;
    ino.i_op = &mmfs_iops;
    str_copy(ino.i_name, mi->disk.name, sizeof ino.i_name);
    if (!ctx_->filemap->inode_init(h, &ino, mi->disk.allocated >> PAGE_SHIFT)) rc = -ENOMEM;
    else ++stats_.inodes;
  }
  return rc;
}

int Mmfs::mount_one(hal::Hal& h, block_device* bdev) {
  mmfs::super_block_disk sbd;
  uint8_t* buf = static_cast<uint8_t*>(ctx_->slab->kmalloc(h, kBlock, GFP_KERNEL));
  if (!buf) return -ENOMEM;
  int rc = meta_io(h, bdev, req_op::read, 0, buf, kBlock, true);
  mem_copy(&sbd, buf, sizeof sbd);
  ctx_->slab->kfree(h, buf);
  if (rc) return rc;
  if (mem_cmp(sbd.magic, mmfs::kMagic, sizeof sbd.magic) != 0) return -EINVAL;  // not ours: left alone
  ++stats_.meta_reads;
  if (sbd.version != mmfs::kVersion || sbd.block_size != kBlock || sbd.nr_inodes > mmfs::kMaxFiles) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "mmfs (%s): unsupported filesystem (version %u, block size %u)",
                      bdev->bd_disk_name, sbd.version, sbd.block_size);
    return -EINVAL;
  }
  mmfs_sb* sb = static_cast<mmfs_sb*>(ctx_->slab->kzalloc(h, sizeof(mmfs_sb), GFP_KERNEL));
  if (!sb) return -ENOMEM;
  sb->fs = this;
  sb->bdev = bdev;
  // Its device number as virtio-blk disks get them: major 253, 16 minors
  // per disk in the order the drivers registered them.
  unsigned order = 0;
  for (list_head* l = ctx_->blockdevs->list.next; l != &bdev->bd_list; l = l->next) ++order;
  sb->dev = (253u << 8) | ((order * 16) & 0xff);
  sb->disk = sbd;
  sb->inodes = static_cast<mmfs_inode**>(ctx_->slab->kzalloc(h, (sbd.nr_inodes + 1) * sizeof(void*), GFP_KERNEL));
  list_add_tail(&sb->s_list, &supers_);  // even half set up: never mounted twice
  if (!sb->inodes || (rc = read_inodes(h, sb))) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "mmfs (%s): cannot read the inode table (%d)", bdev->bd_disk_name, rc);
    return rc ? rc : -ENOMEM;
  }
  ++stats_.mounts;
  ctx_->log->printk(h, LOGLEVEL_INFO, "mmfs (%s): mounted, %u files, %lu blocks of %u bytes", bdev->bd_disk_name,
                    sbd.nr_inodes, static_cast<unsigned long>(sbd.nr_blocks), sbd.block_size);
  return 0;
}

int Mmfs::write_inode(hal::Hal& h, mmfs_inode* mi, bool sync) {
  mmfs_sb* sb = mi->sb;
  mi->disk.size = mi->vfs.i_size;
  mi->disk.mtime_ns = mi->vfs.i_mtime_ns;
  ++sb->disk.generation;
  uint8_t* buf = static_cast<uint8_t*>(ctx_->slab->kmalloc(h, kBlock, GFP_NOIO));
  if (!buf) return -ENOMEM;
  // The table block(s) holding the inode, rebuilt from every inode they hold.
  const uint64_t table = static_cast<uint64_t>(sb->disk.inode_table_block) * kBlock;
  const uint64_t lo = mi->slot * sizeof(mmfs::inode_disk), hi = lo + sizeof(mmfs::inode_disk);
  int rc = 0;
  for (uint64_t b = lo / kBlock; b * kBlock < hi && !rc; ++b) {
    mem_set(buf, 0, kBlock);
    for (uint32_t i = 0; i < sb->disk.nr_inodes; ++i) {
      const uint64_t ilo = i * sizeof(mmfs::inode_disk), ihi = ilo + sizeof(mmfs::inode_disk);
      const uint64_t s = max(ilo, b * kBlock), e = min(ihi, (b + 1) * kBlock);
      if (s < e) mem_copy(buf + (s - b * kBlock), reinterpret_cast<uint8_t*>(&sb->inodes[i]->disk) + (s - ilo), e - s);
    }
    rc = meta_io(h, sb->bdev, req_op::write, table + b * kBlock, buf, kBlock, sync);
    ++stats_.meta_writes;
  }
  // The superblock, for its generation.
  if (!rc) {
    mem_set(buf, 0, kBlock);
    mem_copy(buf, &sb->disk, sizeof sb->disk);
    rc = meta_io(h, sb->bdev, req_op::write, 0, buf, kBlock, sync);
    ++stats_.meta_writes;
  }
  ctx_->slab->kfree(h, buf);
  return rc;
}

void Mmfs::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e("mounts", stats_.mounts, "mmfs filesystems mounted", "count");
  e("inodes", stats_.inodes, "files on mounted filesystems", "count");
  e("meta_reads", stats_.meta_reads, "metadata blocks read (superblocks, inode tables)", "count");
  e("meta_writes", stats_.meta_writes, "metadata blocks written (inode write-back, superblocks)", "count");
  e("opens", stats_.opens, "files opened", "count");
  e("open_failed", stats_.open_failed, "opens that failed", "count");
  e("closes", stats_.closes, "fds closed (close and exit)", "count");
  e("truncates", stats_.truncates, "ftruncate calls that changed a size", "count");
  e("fadvises", stats_.fadvises, "fadvise64 calls", "count");
  e("drop_caches", stats_.drop_caches, "writes of vm.drop_caches", "count");
}

}  // namespace fw
