// mmfs: open files and their system calls (Linux fs/open.c, fs/read_write.c,
// fs/sync.c, mm/fadvise.c, fs/drop_caches.c over generic_file_read_iter /
// generic_perform_write). See mmfs.h.
#include "sw/fs/mmfs/mmfs.h"

#include "sw/hal/uapi.h"
#include "sw/lib/errno.h"
#include "sw/mm/page-writeback.h"
#include "sw/mm/shrinker.h"
#include "sw/mm/slub.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {

constexpr uint64_t kAccMode = 3;  // O_ACCMODE

bool can_read(const file* f) { return (f->f_flags & kAccMode) != uapi::kOWronly; }
bool can_write(const file* f) { return (f->f_flags & kAccMode) != uapi::kORdonly; }

}  // namespace

// ---------------------------------------------------------------- open-file tables

files_struct* Mmfs::dup_files(hal::Hal& h, const files_struct* old) {
  files_struct* fs = static_cast<files_struct*>(ctx_->slab->kzalloc(h, sizeof(files_struct), GFP_KERNEL));
  if (!fs) return nullptr;
  fs->count = 1;
  if (old)
    for (unsigned i = 0; i < kMaxOpenFiles; ++i)
      if ((fs->fd[i] = old->fd[i])) ++fs->fd[i]->f_count;
  return fs;
}

void Mmfs::put_files(hal::Hal& h, files_struct* fs) {
  if (!fs || --fs->count > 0) return;
  for (unsigned i = 0; i < kMaxOpenFiles; ++i)
    if (fs->fd[i]) close(h, fs, i);
  ctx_->slab->kfree(h, fs);
}

file* Mmfs::fget(files_struct* fs, uint64_t fd) const {
  return (fs && fd < kMaxOpenFiles) ? fs->fd[fd] : nullptr;
}

int64_t Mmfs::open(hal::Hal& h, files_struct** fsp, uint64_t index, uint64_t flags) {
  inode* ino = index < (1ull << 31) ? ctx_->filemap->find_inode(static_cast<uint32_t>(index + 1)) : nullptr;
  if (!ino || (flags & kAccMode) == kAccMode) {
    ++stats_.open_failed;
    return ino ? -EINVAL : -ENOENT;
  }
  if (!*fsp && !(*fsp = dup_files(h, nullptr))) return -ENOMEM;
  files_struct* fs = *fsp;
  unsigned fd = 0;
  while (fd < kMaxOpenFiles && fs->fd[fd]) ++fd;  // the lowest free fd, as POSIX asks
  if (fd == kMaxOpenFiles) {
    ++stats_.open_failed;
    return -EMFILE;
  }
  file* f = static_cast<file*>(ctx_->slab->kzalloc(h, sizeof(file), GFP_KERNEL));
  if (!f) return -ENOMEM;
  f->f_count = 1;
  f->f_flags = static_cast<uint32_t>(flags);
  f->f_inode = ino;
  ctx_->readahead->file_ra_state_init(&f->f_ra);
  fs->fd[fd] = f;
  ++stats_.opens;
  return fd;
}

int64_t Mmfs::close(hal::Hal& h, files_struct* fs, uint64_t fd) {
  file* f = fget(fs, fd);
  if (!f) return -EBADF;
  fs->fd[fd] = nullptr;
  ++stats_.closes;
  // Closing writes nothing back (Linux: dirty pages stay for the flusher).
  if (--f->f_count == 0) ctx_->slab->kfree(h, f);
  return 0;
}

// ---------------------------------------------------------------- data

int64_t Mmfs::read(hal::Hal& h, mm_struct* mm, files_struct* fs, uint64_t fd, uint64_t buf, uint64_t count,
                   int64_t pos) {
  file* f = fget(fs, fd);
  if (!f || !can_read(f)) return -EBADF;
  const uint64_t at = pos < 0 ? f->f_pos : static_cast<uint64_t>(pos);
  const int64_t n = ctx_->filemap->filemap_read(h, mm, f, at, count, buf);
  if (pos < 0 && n > 0) f->f_pos += static_cast<uint64_t>(n);
  return n;
}

int64_t Mmfs::write(hal::Hal& h, mm_struct* mm, files_struct* fs, uint64_t fd, uint64_t buf, uint64_t count,
                    int64_t pos) {
  file* f = fget(fs, fd);
  if (!f || !can_write(f)) return -EBADF;
  const uint64_t at = pos < 0 ? f->f_pos : static_cast<uint64_t>(pos);
  const int64_t n = ctx_->filemap->filemap_write(h, mm, f, at, count, buf);
  if (pos < 0 && n > 0) f->f_pos += static_cast<uint64_t>(n);
  // O_SYNC: generic_write_sync (the data and the metadata, as fsync).
  if (n > 0 && (f->f_flags & uapi::kOSync) == uapi::kOSync) {
    const int err = ctx_->writeback->vfs_fsync(h, f->f_inode, false);
    if (err) return err;
  }
  return n;
}

int64_t Mmfs::fsync(hal::Hal& h, files_struct* fs, uint64_t fd, bool datasync) {
  file* f = fget(fs, fd);
  if (!f) return -EBADF;
  return ctx_->writeback->vfs_fsync(h, f->f_inode, datasync);
}

int64_t Mmfs::ftruncate(hal::Hal& h, files_struct* fs, uint64_t fd, uint64_t length) {
  file* f = fget(fs, fd);
  if (!f) return -EBADF;
  if (!can_write(f)) return -EINVAL;
  inode* ino = f->f_inode;
  if (length > ino->i_allocated) return -EFBIG;  // mmfs files never grow past their blocks
  const uint64_t old = ino->i_size;
  if (length == old) return 0;
  if (length < old) {
    ino->i_size = length;
    ctx_->filemap->truncate_pagecache(h, ino, length);
  } else {
    // The blocks keep old data: the new part is written as zeros.
    const int err = ctx_->filemap->zero_range(h, ino, old, length);
    if (err) return err;
    ino->i_size = length;
  }
  ++stats_.truncates;
  ino->i_mtime_ns = h.now_ns();
  ctx_->writeback->mark_inode_dirty(h, ino, I_DIRTY_SYNC | I_DIRTY_DATASYNC);
  return 0;
}

int64_t Mmfs::fadvise(hal::Hal& h, files_struct* fs, uint64_t fd, uint64_t offset, uint64_t len, uint64_t advice) {
  file* f = fget(fs, fd);
  if (!f) return -EBADF;
  ++stats_.fadvises;
  inode* ino = f->f_inode;
  const uint64_t end = (len == 0 || offset + len < offset) ? ~0ull : offset + len;  // 0: to the end
  switch (advice) {
    case uapi::kFadvNormal:
    case uapi::kFadvRandom:
    case uapi::kFadvSequential:
      ctx_->readahead->advise(&f->f_ra, advice);
      return 0;
    case uapi::kFadvWillneed: {
      const uint64_t last = min(end, ino->i_size);
      if (offset < last)
        ctx_->readahead->force_page_cache_ra(h, ino->i_mapping, offset >> PAGE_SHIFT,
                                             PFN_UP(last) - (offset >> PAGE_SHIFT));
      return 0;
    }
    case uapi::kFadvDontneed: {
      // Start writeback of the range without waiting, then drop the whole
      // pages that are clean (mm/fadvise.c).
      const uint64_t first = PFN_UP(offset);
      const uint64_t last = end == ~0ull ? ~0ull : end >> PAGE_SHIFT;
      ctx_->writeback->writepages(h, ino, offset >> PAGE_SHIFT, end == ~0ull ? ~0ull : PFN_UP(end), WbSync::none);
      if (first < last) ctx_->filemap->invalidate_mapping_pages(h, ino->i_mapping, first, last);
      return 0;
    }
    case uapi::kFadvNoreuse:
      return 0;
    default:
      return -EINVAL;
  }
}

int64_t Mmfs::drop_caches(hal::Hal& h, uint64_t what) {
  if (what < 1 || what > 3) return -EINVAL;
  ++stats_.drop_caches;
  if (what & 1) ctx_->filemap->drop_pagecache(h);
  if (what & 2) {
    ctx_->shrinkers->drop_slab(h);  // the shrinkers' objects, then the slabs they leave empty
    ctx_->slab->shrink_all(h);
    ctx_->vmstat->count(DROP_SLAB);
  }
  return 0;
}

}  // namespace fw
