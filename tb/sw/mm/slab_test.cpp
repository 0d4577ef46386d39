// SLUB: kmalloc's caches and large requests, per-CPU active slabs and the
// node partial lists, constructors, slab sizing as Linux calculates it, and
// slab debugging (red zones, poisoning, double free, bad pointers).
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

TEST(fw_slab, kmalloc_picks_linux_s_caches) {
  Rig r(spec_mb(128));
  fw::Slab& s = r.k->slab();
  struct Case {
    size_t size;
    const char* cache;
  } cases[] = {{1, "kmalloc-8"},     {8, "kmalloc-8"},     {9, "kmalloc-16"},   {33, "kmalloc-64"},
               {64, "kmalloc-64"},   {65, "kmalloc-96"},   {96, "kmalloc-96"},  {97, "kmalloc-128"},
               {129, "kmalloc-192"}, {193, "kmalloc-256"}, {300, "kmalloc-512"}, {1000, "kmalloc-1k"},
               {2048, "kmalloc-2k"}, {4000, "kmalloc-4k"}, {8192, "kmalloc-8k"},
               // Each boundary of 6.18's kmalloc_index, from both sides.
               {16, "kmalloc-16"},   {17, "kmalloc-32"},   {32, "kmalloc-32"},  {128, "kmalloc-128"},
               {192, "kmalloc-192"}, {256, "kmalloc-256"}, {257, "kmalloc-512"}, {512, "kmalloc-512"},
               {513, "kmalloc-1k"},  {1024, "kmalloc-1k"}, {1025, "kmalloc-2k"}, {2049, "kmalloc-4k"},
               {4096, "kmalloc-4k"}, {4097, "kmalloc-8k"}};
  for (const Case& c : cases) {
    void* p = s.kmalloc(r.cpu(), c.size, fw::GFP_KERNEL);
    ASSERT_NE(p, nullptr) << c.size;
    fw::kmem_cache* kc = s.virt_to_cache(p);
    ASSERT_NE(kc, nullptr);
    EXPECT_STREQ(kc->name, c.cache) << c.size;
    EXPECT_GE(s.ksize(p), c.size);
    // Natural alignment for power-of-two sizes.
    if ((kc->object_size & (kc->object_size - 1)) == 0) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kc->object_size, 0u) << c.cache;
    }
    std::memset(p, 0x5a, c.size);
    s.kfree(r.cpu(), p);
  }
  EXPECT_EQ(s.kmalloc(r.cpu(), 0, fw::GFP_KERNEL), ZERO_SIZE_PTR);
  s.kfree(r.cpu(), ZERO_SIZE_PTR);
  s.kfree(r.cpu(), nullptr);
  // kzalloc zeroes; variants land where they should.
  char* z = static_cast<char*>(s.kzalloc(r.cpu(), 200, fw::GFP_KERNEL));
  for (int i = 0; i < 200; ++i) ASSERT_EQ(z[i], 0);
  s.kfree(r.cpu(), z);
  void* d = s.kmalloc(r.cpu(), 100, fw::GFP_KERNEL | fw::__GFP_DMA);
  EXPECT_STREQ(s.virt_to_cache(d)->name, "dma-kmalloc-128");
  fw::page* dp = fw::compound_head(r.k->nodes().virt_to_page(d));
  EXPECT_EQ(fw::page_zonenum(dp), static_cast<unsigned>(fw::ZONE_DMA));
  void* rc = s.kmalloc(r.cpu(), 100, fw::GFP_KERNEL | fw::__GFP_RECLAIMABLE);
  EXPECT_STREQ(s.virt_to_cache(rc)->name, "kmalloc-rcl-128");
  fw::page* rp = fw::compound_head(r.k->nodes().virt_to_page(rc));
  EXPECT_EQ(r.k->nodes().page_zone(rp)->get_pfnblock_migratetype(r.k->nodes().page_to_pfn(rp)), fw::MIGRATE_RECLAIMABLE);
  EXPECT_GT(r.k->vmstat().node_total(fw::NR_SLAB_RECLAIMABLE), 0);
  s.kfree(r.cpu(), d);
  s.kfree(r.cpu(), rc);
}

TEST(fw_slab, large_kmalloc_goes_to_the_page_allocator) {
  Rig r(spec_mb(128));
  fw::Slab& s = r.k->slab();
  const uint64_t free0 = r.k->nr_free_pages();
  void* p = s.kmalloc(r.cpu(), 8193, fw::GFP_KERNEL);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(s.virt_to_cache(p), nullptr);
  EXPECT_EQ(s.ksize(p), 4 * PAGE_SIZE);  // order 2, compound
  fw::page* head = r.k->nodes().virt_to_page(p);
  EXPECT_TRUE(fw::PageHead(head));
  EXPECT_EQ(r.k->vmstat().node_total(fw::NR_SLAB_UNRECLAIMABLE), 4);
  std::memset(p, 1, 8193);
  s.kfree(r.cpu(), p);
  EXPECT_EQ(r.k->vmstat().node_total(fw::NR_SLAB_UNRECLAIMABLE), 0);
  EXPECT_EQ(r.k->nr_free_pages(), free0);
  // A pointer kmalloc did not return is refused, with a report.
  void* q = s.kmalloc(r.cpu(), 20000, fw::GFP_KERNEL);
  s.kfree(r.cpu(), static_cast<char*>(q) + 4096);
  EXPECT_NE(r.console().find("kmalloc did not return"), std::string::npos);
  s.kfree(r.cpu(), q);
}

struct Obj {
  uint64_t magic;
  uint64_t data[5];
};
void obj_ctor(void* p) { static_cast<Obj*>(p)->magic = 0xc0ffee; }

TEST(fw_slab, constructors_run_once_per_object_and_freed_objects_keep_their_state) {
  Rig r(spec_mb(64));
  fw::Slab& s = r.k->slab();
  fw::kmem_cache* c = s.kmem_cache_create("test_obj", sizeof(Obj), 0, 0, obj_ctor);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->offset, c->object_size) << "with a constructor the free pointer lives after the object";
  std::vector<Obj*> objs;
  for (int i = 0; i < 100; ++i) {
    Obj* o = static_cast<Obj*>(s.kmem_cache_alloc(r.cpu(), c, fw::GFP_KERNEL));
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->magic, 0xc0ffeeu);
    o->data[0] = static_cast<uint64_t>(i);
    objs.push_back(o);
  }
  s.kmem_cache_free(r.cpu(), c, objs.back());
  Obj* again = static_cast<Obj*>(s.kmem_cache_alloc(r.cpu(), c, fw::GFP_KERNEL));
  EXPECT_EQ(again, objs.back()) << "LIFO per-CPU freelist";
  EXPECT_EQ(again->magic, 0xc0ffeeu);
  EXPECT_EQ(again->data[0], 99u) << "the object kept its state";
  for (Obj* o : objs) s.kmem_cache_free(r.cpu(), c, o);
  EXPECT_EQ(c->active_objs, 0u);
  s.kmem_cache_destroy(r.cpu(), c);
  EXPECT_EQ(s.find_cache("test_obj"), nullptr);
}

TEST(fw_slab, per_cpu_slabs_and_partial_lists) {
  Rig r(spec_mb(256, 2));
  fw::Slab& s = r.k->slab();
  fw::kmem_cache* c = s.kmem_cache_create("pcpu_test", 256, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  const unsigned per_slab = c->objects;
  EXPECT_EQ(per_slab, (fw::PAGE_SIZE << c->order) / c->size);
  // Fill 10 slabs from CPU 0: one active slab at a time, the rest full.
  std::vector<void*> objs;
  for (unsigned i = 0; i < 10 * per_slab; ++i) objs.push_back(s.kmem_cache_alloc(r.cpu(0), c, fw::GFP_KERNEL));
  EXPECT_EQ(s.nr_slabs(c), 10u);
  EXPECT_EQ(c->stats.alloc_slab, 10u);
  EXPECT_GT(c->stats.alloc_fastpath, 9u * per_slab);
  // Free from CPU 1: none of these is CPU 1's active slab, so every free
  // takes the slow path and full slabs become partial.
  for (unsigned i = 0; i < 10 * per_slab; i += 2) s.kmem_cache_free(r.cpu(1), c, objs[i]);
  EXPECT_EQ(c->stats.free_slowpath, 5u * per_slab);
  EXPECT_EQ(c->node[0].nr_partial, 9u);  // the 10th is CPU 0's active slab
  // CPU 1 allocates from the partial list now.
  void* o = s.kmem_cache_alloc(r.cpu(1), c, fw::GFP_KERNEL);
  EXPECT_EQ(c->node[0].nr_partial, 8u);
  s.kmem_cache_free(r.cpu(1), c, o);
  // Empty slabs are freed once min_partial are kept.
  for (unsigned i = 1; i < 10 * per_slab; i += 2) s.kmem_cache_free(r.cpu(1), c, objs[i]);
  EXPECT_EQ(c->active_objs, 0u);
  EXPECT_LE(c->node[0].nr_partial, c->min_partial + 1);
  EXPECT_GT(c->stats.free_slab, 0u);
  const uint64_t freed = s.kmem_cache_shrink(r.cpu(0), c);
  EXPECT_GT(freed, 0u);
  EXPECT_EQ(s.nr_slabs(c), 0u);
  r.k->quiesce(r.cpu(0));
  full_check(*r.k, {});
}

// Linux's calculate_order, written again here from its description.
unsigned linux_order(unsigned size, unsigned cpus) {
  const unsigned max_order = 3;
  auto objs = [](unsigned order, unsigned sz) { return (4096u << order) / sz; };
  unsigned fls = 0;
  while ((1u << fls) <= cpus) ++fls;
  unsigned min_objects = 4 * (fls + 1);
  min_objects = std::min(min_objects, std::max(objs(max_order, size), 1u));
  unsigned min_order = 0;
  while ((4096ull << min_order) < static_cast<uint64_t>(min_objects) * size) ++min_order;
  for (unsigned fraction = 16; fraction > 1; fraction /= 2)
    for (unsigned o = min_order; o <= max_order; ++o) {
      const unsigned slab = 4096u << o;
      if (slab % size <= slab / fraction) return o;
    }
  unsigned o = 0;
  while ((4096u << o) < size) ++o;
  return o;
}

TEST(fw_slab, slab_sizes_follow_linux) {
  for (unsigned cpus : {1u, 4u}) {
    Rig r(spec_mb(64, cpus));
    r.k->slab().for_each_cache([&](const fw::kmem_cache& c) {
      EXPECT_EQ(c.order, linux_order(c.size, cpus)) << c.name << " size " << c.size << " cpus " << cpus;
      EXPECT_EQ(c.objects, (4096u << c.order) / c.size) << c.name;
      EXPECT_GE(c.min_partial, 5u);
      EXPECT_LE(c.min_partial, 10u);
    });
    const fw::kmem_cache* k8 = r.k->slab().find_cache("kmalloc-8k");
    EXPECT_EQ(k8->order, 3u);
    EXPECT_EQ(k8->objects, 4u);
  }
  Rig r(spec_mb(64));
  const std::string si = r.proc("slabinfo");
  EXPECT_EQ(si.rfind("slabinfo - version: 2.1\n", 0), 0u);
  EXPECT_NE(si.find("kmalloc-64 "), std::string::npos);
}

// ---------------------------------------------------------------- debugging

struct fw_slab_debug : ::testing::Test {
  fw_slab_debug() {
    fw::Params p = quiet_params();
    p.slub_debug = fw::SLUB_DEBUG_F | fw::SLUB_DEBUG_Z | fw::SLUB_DEBUG_P | fw::SLUB_DEBUG_U;
    p.loglevel = 8;
    r = std::make_unique<Rig>(spec_mb(64), p);
  }
  std::unique_ptr<Rig> r;
  fw::Slab& s() { return r->k->slab(); }
  std::string log_since(size_t from) const { return r->console().substr(from); }
};

TEST_F(fw_slab_debug, out_of_bounds_write_is_reported_with_cache_and_object) {
  char* p = static_cast<char*>(s().kmalloc(r->cpu(), 64, fw::GFP_KERNEL));
  ASSERT_NE(p, nullptr);
  fw::kmem_cache* c = s().virt_to_cache(p);
  EXPECT_TRUE(c->flags & fw::SLAB_RED_ZONE);
  // Fresh objects are poisoned (no __GFP_ZERO).
  EXPECT_EQ(static_cast<uint8_t>(p[0]), fw::POISON_FREE);
  p[64] = 'X';  // one byte past the end: into the right red zone
  const size_t at = r->console().size();
  s().kfree(r->cpu(), p);
  const std::string log = log_since(at);
  EXPECT_NE(log.find("BUG kmalloc-64 (Not tainted): Right Redzone overwritten"), std::string::npos) << log;
  EXPECT_NE(log.find("First byte 0x58 instead of 0xcc"), std::string::npos) << log;
  // The object, by its kernel (direct-map) address.
  char obj[64];
  std::snprintf(obj, sizeof obj, "Object 0x%lx", static_cast<unsigned long>(
                                                     fw::PAGE_OFFSET_L4 + r->k->nodes().page_to_phys(r->k->nodes().virt_to_page(p)) +
                                                     (reinterpret_cast<uintptr_t>(p) & (PAGE_SIZE - 1))));
  EXPECT_NE(log.find(obj), std::string::npos) << obj << "\n" << log;
  EXPECT_NE(log.find("FIX kmalloc-64: Restoring Right Redzone"), std::string::npos);
  EXPECT_NE(log.find("INFO: Allocated on CPU0"), std::string::npos);
  EXPECT_EQ(c->stats.errors, 1u);
  EXPECT_EQ(r->stats().at("slab.kmalloc_64.errors"), 1u);
}

TEST_F(fw_slab_debug, underflow_and_double_free_and_bad_pointers) {
  char* p = static_cast<char*>(s().kmalloc(r->cpu(), 100, fw::GFP_KERNEL));
  p[-1] = 0;
  size_t at = r->console().size();
  s().kfree(r->cpu(), p);
  EXPECT_NE(log_since(at).find("BUG kmalloc-128 (Not tainted): Left Redzone overwritten"), std::string::npos);
  // The same object again.
  at = r->console().size();
  s().kfree(r->cpu(), p);
  EXPECT_NE(log_since(at).find("BUG kmalloc-128 (Not tainted): Object already free"), std::string::npos) << log_since(at);
  // A pointer into the middle of an object.
  char* q = static_cast<char*>(s().kmalloc(r->cpu(), 100, fw::GFP_KERNEL));
  at = r->console().size();
  s().kfree(r->cpu(), q + 8);
  EXPECT_NE(log_since(at).find("BUG kmalloc-128 (Not tainted): Invalid object pointer"), std::string::npos);
  s().kfree(r->cpu(), q);
  EXPECT_EQ(s().stats().errors, 3u);
  // The cache still works, and no object was handed out twice.
  std::set<void*> seen;
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(seen.insert(s().kmalloc(r->cpu(), 100, fw::GFP_KERNEL)).second);
}

TEST_F(fw_slab_debug, write_after_free_shows_in_the_poison) {
  fw::kmem_cache* c = s().kmem_cache_create("uaf", 48, 0, 0, nullptr);
  ASSERT_TRUE(c->flags & fw::SLAB_POISON);
  char* p = static_cast<char*>(s().kmem_cache_alloc(r->cpu(), c, fw::GFP_KERNEL));
  s().kmem_cache_free(r->cpu(), c, p);
  EXPECT_EQ(static_cast<uint8_t>(p[0]), fw::POISON_FREE);
  EXPECT_EQ(static_cast<uint8_t>(p[47]), fw::POISON_END);
  p[10] = 0x42;  // use after free
  // validate() finds it without an allocation...
  const size_t at = r->console().size();
  EXPECT_EQ(s().validate(r->cpu(), c), 1u);
  EXPECT_NE(log_since(at).find("BUG uaf (Not tainted): Poison overwritten"), std::string::npos) << log_since(at);
  // ... and so does the allocation that hands the object out again.
  p[11] = 0x43;
  const size_t at2 = r->console().size();
  bool found = false;
  std::vector<void*> objs;
  for (int i = 0; i < 200 && !found; ++i) {
    void* o = s().kmem_cache_alloc(r->cpu(), c, fw::GFP_KERNEL);
    objs.push_back(o);
    found = o == p;
  }
  EXPECT_TRUE(found);
  EXPECT_NE(log_since(at2).find("Poison overwritten"), std::string::npos);
  for (void* o : objs) s().kmem_cache_free(r->cpu(), c, o);
  EXPECT_EQ(s().validate(r->cpu(), c), 0u);
}

TEST(fw_slab, debugging_off_by_default) {
  Rig r(spec_mb(64));
  r.k->slab().for_each_cache([](const fw::kmem_cache& c) { EXPECT_EQ(c.flags & fw::SLAB_DEBUG_FLAGS, 0u) << c.name; });
  // The free pointer sits in the middle of the object (Linux >= 5.7).
  const fw::kmem_cache* c = r.k->slab().find_cache("kmalloc-64");
  EXPECT_EQ(c->offset, 32u);
  EXPECT_EQ(c->size, 64u);
}

}  // namespace
