// Intrusive red-black trees with Linux's vocabulary (include/linux/rbtree.h,
// rbtree_augmented.h): the caller embeds an rb_node, finds the insertion
// point itself (rb_link_node), then rebalances (rb_insert_color). Augmented
// trees keep a per-node value computed from the node and its children (the
// VMA tree's largest free gap below a node): `recompute` is called for the
// nodes whose subtrees a rotation or a removal changed.
//
// Written from the algorithm (CLRS with parent pointers), not from Linux's
// code. Freestanding: no allocation, no recursion.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/lib/compiler.h"

namespace fw {

struct rb_node {
  rb_node* parent;
  rb_node* left;
  rb_node* right;
  bool red;
};

struct rb_root {
  rb_node* node = nullptr;
};

// Recomputes a node's augmented value from itself and its children; true
// when the value changed (propagation stops at the first unchanged node).
using rb_recompute_t = bool (*)(rb_node* n);

inline void rb_link_node(rb_node* n, rb_node* parent, rb_node** link) {
  n->parent = parent;
  n->left = n->right = nullptr;
  n->red = true;
  *link = n;
}

// Rebalances after rb_link_node. With `recompute`, the new node and its
// ancestors are recomputed first.
void rb_insert_color(rb_node* n, rb_root* root, rb_recompute_t recompute = nullptr);
// Unlinks n (its fields are garbage afterwards).
void rb_erase(rb_node* n, rb_root* root, rb_recompute_t recompute = nullptr);
// Recomputes n and its ancestors until a value stays the same.
void rb_propagate(rb_node* n, rb_recompute_t recompute);

rb_node* rb_first(const rb_root* root);
rb_node* rb_last(const rb_root* root);
rb_node* rb_next(const rb_node* n);
rb_node* rb_prev(const rb_node* n);

}  // namespace fw

#define rb_entry(ptr, type, member) fw_container_of(ptr, type, member)
