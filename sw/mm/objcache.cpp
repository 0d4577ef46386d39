#include "sw/mm/objcache.h"

#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/lib/string.h"
#include "sw/mm/buddy.h"
#include "sw/mm/page.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {
constexpr size_t kHeader = sizeof(page*);
constexpr size_t kAlign = 16;
}  // namespace

void ObjCache::init(MmContext* ctx, const char* name, size_t obj_size) {
  ctx_ = ctx;
  name_ = name;
  obj_size_ = obj_size;
  stride_ = align_up(kHeader + obj_size, kAlign);
  per_slab_ = static_cast<uint32_t>(PAGE_SIZE / stride_);
  INIT_LIST_HEAD(&partial_);
  INIT_LIST_HEAD(&full_);
}

void* ObjCache::alloc(hal::Hal& h) {
  if (per_slab_ == 0) return nullptr;  // objects larger than a page: not supported yet
  LockGuard g(lock_, h);
  if (list_empty(&partial_)) {
    page* sp = nullptr;
    char* base = nullptr;
    // A fresh zeroed page (zeroing through the HAL skips poisoned pages);
    // it must be directly mappable since objects are used through pointers.
    for (int tries = 0; tries < 4 && !base; ++tries) {
      sp = ctx_->buddy->alloc_pages(h, GFP_KERNEL | __GFP_ZERO, 0);
      if (!sp) return nullptr;
      base = static_cast<char*>(h.direct_map(ctx_->nodes->page_to_phys(sp), PAGE_SIZE));
      if (!base) {
        SetPageHWPoison(sp);  // not mappable now: keep it out of use
        ++ctx_->vmstat->gauge[NR_HWPOISON];
      }
    }
    if (!base) return nullptr;
    SetPageFlag(sp, PG_slab);
    sp->slab_cache = this;
    sp->inuse = 0;
    sp->objects = per_slab_;
    // Thread the free list through the objects, lowest address first.
    void* next = nullptr;
    for (uint32_t i = per_slab_; i-- > 0;) {
      char* slot = base + i * stride_;
      *reinterpret_cast<page**>(slot) = sp;
      void* obj = slot + kHeader;
      *reinterpret_cast<void**>(obj) = next;
      next = obj;
    }
    sp->freelist = next;
    list_add(&sp->slab_list, &partial_);
    ++slabs_;
    ++ctx_->vmstat->gauge[NR_SLAB_UNRECLAIMABLE];
  }
  page* sp = list_first_entry(&partial_, page, slab_list);
  void* obj = sp->freelist;
  sp->freelist = *reinterpret_cast<void**>(obj);
  if (++sp->inuse == sp->objects) list_move_tail(&sp->slab_list, &full_);
  ++active_;
  mem_set(obj, 0, obj_size_);
  return obj;
}

void ObjCache::free(hal::Hal& h, void* obj) {
  if (!obj) return;
  page* sp = *reinterpret_cast<page**>(static_cast<char*>(obj) - kHeader);
  FW_BUG_ON(*ctx_->log, h, !PageSlab(sp) || sp->slab_cache != this || sp->inuse == 0);
  LockGuard g(lock_, h);
  const bool was_full = sp->inuse == sp->objects;
  *reinterpret_cast<void**>(obj) = sp->freelist;
  sp->freelist = obj;
  --sp->inuse;
  --active_;
  if (sp->inuse == 0) {
    list_del(&sp->slab_list);
    ClearPageFlag(sp, PG_slab);
    sp->slab_cache = nullptr;
    sp->freelist = nullptr;
    sp->objects = 0;
    sp->lru.next = sp->lru.prev = nullptr;
    --slabs_;
    --ctx_->vmstat->gauge[NR_SLAB_UNRECLAIMABLE];
    ctx_->buddy->free_pages(h, sp, 0);
  } else if (was_full) {
    list_move_tail(&sp->slab_list, &partial_);
  }
}

}  // namespace fw
