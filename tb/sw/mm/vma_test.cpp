// The VMA tree: the red-black tree against a reference model
// under random inserts and removals, find_vma in O(log n) against a linear
// search, the augmented free gaps used for placement, and mmap/munmap/
// mprotect sequences keeping tree, list and gaps consistent.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "sw/lib/errno.h"
#include "sw/lib/rbtree.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

constexpr uint64_t RW = fw::PROT_READ | fw::PROT_WRITE;
constexpr uint64_t PA = fw::MAP_PRIVATE | fw::MAP_ANONYMOUS;

// A bare augmented tree of keys with subtree maxima, checked from scratch.
struct Node {
  fw::rb_node rb;
  uint64_t key, value, max;
};
Node* node_of(fw::rb_node* n) { return n ? rb_entry(n, Node, rb) : nullptr; }
bool recompute(fw::rb_node* n) {
  Node* x = node_of(n);
  uint64_t m = x->value;
  if (n->left && node_of(n->left)->max > m) m = node_of(n->left)->max;
  if (n->right && node_of(n->right)->max > m) m = node_of(n->right)->max;
  if (m == x->max) return false;
  x->max = m;
  return true;
}
int check_subtree(fw::rb_node* n, fw::rb_node* parent, uint64_t* count) {
  if (!n) return 1;
  EXPECT_EQ(n->parent, parent);
  if (n->red) {
    EXPECT_FALSE(n->left && n->left->red) << "red-red";
    EXPECT_FALSE(n->right && n->right->red) << "red-red";
  }
  const int l = check_subtree(n->left, n, count), r = check_subtree(n->right, n, count);
  EXPECT_EQ(l, r) << "black height";
  uint64_t m = node_of(n)->value;
  if (n->left) m = std::max(m, node_of(n->left)->max);
  if (n->right) m = std::max(m, node_of(n->right)->max);
  EXPECT_EQ(node_of(n)->max, m) << "augmented value";
  ++*count;
  return l + (n->red ? 0 : 1);
}

TEST(fw_rbtree, random_inserts_and_erases_keep_order_balance_and_augmentation) {
  std::mt19937_64 rng(42);
  std::vector<Node> pool(4000);
  std::map<uint64_t, Node*> ref;
  fw::rb_root root;
  std::vector<Node*> free_nodes;
  for (auto& n : pool) free_nodes.push_back(&n);
  for (int step = 0; step < 20000; ++step) {
    const bool insert = ref.empty() || (free_nodes.size() > 0 && rng() % 3 != 0);
    if (insert) {
      Node* n = free_nodes.back();
      free_nodes.pop_back();
      do n->key = rng() % 100000;
      while (ref.count(n->key));
      n->value = rng() % 1000000;
      n->max = n->value;
      fw::rb_node** link = &root.node;
      fw::rb_node* parent = nullptr;
      while (*link) {
        parent = *link;
        link = n->key < node_of(parent)->key ? &parent->left : &parent->right;
      }
      fw::rb_link_node(&n->rb, parent, link);
      fw::rb_insert_color(&n->rb, &root, recompute);
      ref[n->key] = n;
    } else {
      auto it = ref.begin();
      std::advance(it, rng() % ref.size());
      fw::rb_erase(&it->second->rb, &root, recompute);
      free_nodes.push_back(it->second);
      ref.erase(it);
    }
    if (step % 97 == 0 || step > 19900) {
      uint64_t count = 0;
      if (root.node) {
        EXPECT_FALSE(root.node->red);
      }
      check_subtree(root.node, nullptr, &count);
      ASSERT_EQ(count, ref.size());
      // In-order walk equals the reference, both ways.
      auto it = ref.begin();
      for (fw::rb_node* n = fw::rb_first(&root); n; n = fw::rb_next(n), ++it) ASSERT_EQ(node_of(n)->key, it->first);
      auto rit = ref.rbegin();
      for (fw::rb_node* n = fw::rb_last(&root); n; n = fw::rb_prev(n), ++rit) ASSERT_EQ(node_of(n)->key, rit->first);
      if (HasFailure()) return;
    }
  }
}

TEST(fw_vma, random_mmap_munmap_mprotect_keep_tree_list_and_gaps_consistent) {
  Rig r(spec_mb(256));
  const int pid = r.start_process();
  fw::mm_struct* mm = r.k->mm_of(pid);
  std::mt19937_64 rng(7);
  const uint64_t base = 0x10000000;  // a 1 GiB window of fixed mappings
  for (int step = 0; step < 3000; ++step) {
    const uint64_t a = base + (rng() % 4096) * PAGE_SIZE;
    const uint64_t len = (1 + rng() % 64) * PAGE_SIZE;
    switch (rng() % 5) {
      case 0:
      case 1: {
        const uint64_t prot = (rng() % 2) ? RW : fw::PROT_READ;
        ASSERT_EQ(r.mmap(0, a, len, prot, PA | fw::MAP_FIXED), static_cast<int64_t>(a));
        break;
      }
      case 2:
        ASSERT_EQ(r.munmap(0, a, len), 0);
        break;
      case 3: {
        const int64_t rc = r.mprotect(0, a, len, (rng() % 2) ? RW : fw::PROT_READ);
        ASSERT_TRUE(rc == 0 || rc == -ENOMEM) << rc;
        break;
      }
      default: {
        // Kernel-placed mappings fill the gaps from the top.
        const int64_t got = r.mmap(0, 0, len);
        ASSERT_GT(got, 0);
        break;
      }
    }
    const char* err = r.k->mmap().validate(mm);
    ASSERT_EQ(err, nullptr) << err << " after step " << step;
    // find_vma against a linear search.
    const uint64_t q = base + (rng() % 5000) * PAGE_SIZE;
    fw::vm_area_struct* want = nullptr;
    r.k->mmap().for_each_vma(mm, [&](fw::vm_area_struct* v) {
      if (v->vm_end > q) {
        want = v;
        return false;
      }
      return true;
    });
    ASSERT_EQ(r.k->mmap().find_vma(mm, q), want) << std::hex << q;
  }
  // Neighbours that are alike were merged: no two adjacent VMAs with the
  // same flags and anon_vma.
  fw::vm_area_struct* prev = nullptr;
  r.k->mmap().for_each_vma(mm, [&](fw::vm_area_struct* v) {
    if (prev && prev->vm_end == v->vm_start && prev->vm_flags == v->vm_flags && prev->anon_vma == v->anon_vma)
      ADD_FAILURE() << "unmerged neighbours at " << std::hex << v->vm_start;
    prev = v;
    return true;
  });
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_vma, placement_finds_gaps_top_down_with_alignment) {
  Rig r(spec_mb(128));
  const int pid = r.start_process();
  fw::mm_struct* mm = r.k->mm_of(pid);
  const uint64_t top = mm->mmap_base;
  // Three 1-page mappings top-down, then a hole where the middle one was.
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE));
  const uint64_t b = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE));
  const uint64_t c = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE, fw::PROT_READ));  // unlike: no merge
  EXPECT_EQ(a, top - PAGE_SIZE);
  EXPECT_EQ(b, top - 2 * PAGE_SIZE);
  EXPECT_EQ(c, top - 3 * PAGE_SIZE);
  ASSERT_EQ(r.munmap(0, b, PAGE_SIZE), 0);
  // The freed page is the highest gap a one-page mapping fits in...
  EXPECT_EQ(r.mmap(0, 0, PAGE_SIZE, fw::PROT_READ), static_cast<int64_t>(b));
  // ...but two pages go below everything.
  EXPECT_EQ(r.mmap(0, 0, 2 * PAGE_SIZE, fw::PROT_EXEC), static_cast<int64_t>(c - 2 * PAGE_SIZE));
  // A 2 MiB multiple is THP-aligned (transparent_hugepage is not never).
  const int64_t h = r.mmap(0, 0, 4 * MiB);
  EXPECT_EQ(h % (2 * MiB), 0);
  EXPECT_LT(static_cast<uint64_t>(h) + 4 * MiB, c);
  // A hint is taken when free, not when taken.
  EXPECT_EQ(r.mmap(0, 0x20000000, PAGE_SIZE), 0x20000000);
  EXPECT_NE(r.mmap(0, 0x20000000, PAGE_SIZE), 0x20000000);
  // With THP off, no alignment.
  fw::Params p = quiet_params();
  p.transparent_hugepage = fw::THP_NEVER;
  Rig r2(spec_mb(128), p);
  r2.start_process();
  EXPECT_EQ(r2.mmap(0, 0, 4 * MiB), static_cast<int64_t>(top - 4 * MiB));
  EXPECT_EQ(r.k->mmap().validate(mm), nullptr);
  (void)pid;
}

TEST(fw_vma, fixed_noreplace_populate_and_shared_anonymous_memory) {
  Rig r(spec_mb(128));
  const int pid = r.start_process();
  // MAP_FIXED_NOREPLACE: EEXIST over an existing mapping, fine elsewhere.
  ASSERT_EQ(r.mmap(0, 0x30000000, 8 * PAGE_SIZE), 0x30000000);
  EXPECT_EQ(r.mmap(0, 0x30004000, 8 * PAGE_SIZE, RW, PA | fw::MAP_FIXED_NOREPLACE), -EEXIST);
  EXPECT_EQ(r.mmap(0, 0x30008000, 8 * PAGE_SIZE, RW, PA | fw::MAP_FIXED_NOREPLACE), 0x30008000);
  // MAP_POPULATE of a private writable mapping: every page present and
  // writable (write faults), no fault left to take.
  const uint64_t faults = r.k->memory().stats().faults;
  const uint64_t p = static_cast<uint64_t>(r.mmap(0, 0x40000000, 64 * PAGE_SIZE, RW, PA | fw::MAP_POPULATE));
  for (uint64_t off = 0; off < 64 * PAGE_SIZE; off += PAGE_SIZE) {
    const Walk w = r.walk(0, p + off, x86::Access::write);
    ASSERT_EQ(w.status, Walk::ok) << off;
  }
  EXPECT_EQ(r.k->memory().stats().faults, faults) << "populate is not a user fault";
  EXPECT_EQ(r.k->memory().stats().populated, 64u);
  // Shared anonymous memory: one object; the maps line names it.
  const uint64_t s = static_cast<uint64_t>(r.mmap(0, 0, 4 * PAGE_SIZE, RW, fw::MAP_SHARED | fw::MAP_ANONYMOUS));
  const uint64_t pa = r.access(0, s);
  r.write64(pa, 0x5a5a);
  EXPECT_EQ(r.k->shmem().stats().objects, 1u);
  EXPECT_NE(r.proc((std::to_string(pid) + "/maps").c_str()).find(" rw-s 00000000 00:00 0 /dev/zero (deleted)"),
            std::string::npos);
  EXPECT_EQ(r.k->vmstat().node_total(fw::NR_SHMEM), 1);
  EXPECT_NE(r.proc("meminfo").find("Shmem:                 4 kB"), std::string::npos);
  mapping_check(*r.k, r.cpu());
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->shmem().stats().objects, 0u);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  full_check(*r.k, {});
}

}  // namespace
