#include "sw/lib/rbtree.h"

namespace fw {

namespace {

void set_child(rb_root* root, rb_node* parent, rb_node* old_child, rb_node* new_child) {
  if (!parent) root->node = new_child;
  else if (parent->left == old_child) parent->left = new_child;
  else parent->right = new_child;
}

// x's right child y takes x's place; x becomes y's left child. The two
// nodes whose subtrees changed are recomputed, lower one first.
void rotate_left(rb_root* root, rb_node* x, rb_recompute_t rc) {
  rb_node* y = x->right;
  x->right = y->left;
  if (y->left) y->left->parent = x;
  y->parent = x->parent;
  set_child(root, x->parent, x, y);
  y->left = x;
  x->parent = y;
  if (rc) {
    rc(x);
    rc(y);
  }
}

void rotate_right(rb_root* root, rb_node* x, rb_recompute_t rc) {
  rb_node* y = x->left;
  x->left = y->right;
  if (y->right) y->right->parent = x;
  y->parent = x->parent;
  set_child(root, x->parent, x, y);
  y->right = x;
  x->parent = y;
  if (rc) {
    rc(x);
    rc(y);
  }
}

bool is_red(const rb_node* n) { return n && n->red; }

}  // namespace

void rb_propagate(rb_node* n, rb_recompute_t rc) {
  for (; n; n = n->parent)
    if (!rc(n)) break;
}

namespace {
// Every ancestor of n, whatever changes (a removal can leave a node's value
// equal while its parent's still needs the recomputation of a lower node).
void propagate_all(rb_node* n, rb_recompute_t rc) {
  for (; n; n = n->parent) rc(n);
}
}  // namespace

void rb_insert_color(rb_node* z, rb_root* root, rb_recompute_t rc) {
  // Aggregates first, so that the rotations below read correct children.
  if (rc) propagate_all(z, rc);
  while (is_red(z->parent)) {
    rb_node* p = z->parent;
    rb_node* g = p->parent;  // exists: a red node is never the root
    if (p == g->left) {
      rb_node* u = g->right;
      if (is_red(u)) {
        p->red = u->red = false;
        g->red = true;
        z = g;
        continue;
      }
      if (z == p->right) {
        rotate_left(root, p, rc);
        z = p;
        p = z->parent;
      }
      p->red = false;
      g->red = true;
      rotate_right(root, g, rc);
    } else {
      rb_node* u = g->left;
      if (is_red(u)) {
        p->red = u->red = false;
        g->red = true;
        z = g;
        continue;
      }
      if (z == p->left) {
        rotate_right(root, p, rc);
        z = p;
        p = z->parent;
      }
      p->red = false;
      g->red = true;
      rotate_left(root, g, rc);
    }
  }
  root->node->red = false;
}

void rb_erase(rb_node* z, rb_root* root, rb_recompute_t rc) {
  rb_node* x;         // the node that moves into the removed position (may be null)
  rb_node* xparent;   // its parent after the splice
  bool removed_red;
  if (!z->left || !z->right) {
    x = z->left ? z->left : z->right;
    xparent = z->parent;
    removed_red = z->red;
    if (x) x->parent = xparent;
    set_child(root, xparent, z, x);
  } else {
    // The successor y (leftmost of the right subtree) takes z's place.
    rb_node* y = z->right;
    while (y->left) y = y->left;
    removed_red = y->red;
    x = y->right;
    if (y->parent == z) {
      xparent = y;
    } else {
      xparent = y->parent;
      xparent->left = x;
      if (x) x->parent = xparent;
      y->right = z->right;
      z->right->parent = y;
    }
    y->left = z->left;
    z->left->parent = y;
    y->parent = z->parent;
    y->red = z->red;
    set_child(root, z->parent, z, y);
  }
  // Every node whose subtree lost z (or y) lies on xparent's path to the
  // root (y, when it moved, is on it too).
  if (rc) propagate_all(xparent, rc);
  if (removed_red) return;
  // A black node went: restore the black heights.
  while (x != root->node && !is_red(x)) {
    if (x == xparent->left) {
      rb_node* w = xparent->right;
      if (is_red(w)) {
        w->red = false;
        xparent->red = true;
        rotate_left(root, xparent, rc);
        w = xparent->right;
      }
      if (!is_red(w->left) && !is_red(w->right)) {
        w->red = true;
        x = xparent;
        xparent = x->parent;
      } else {
        if (!is_red(w->right)) {
          w->left->red = false;
          w->red = true;
          rotate_right(root, w, rc);
          w = xparent->right;
        }
        w->red = xparent->red;
        xparent->red = false;
        w->right->red = false;
        rotate_left(root, xparent, rc);
        x = root->node;
        break;
      }
    } else {
      rb_node* w = xparent->left;
      if (is_red(w)) {
        w->red = false;
        xparent->red = true;
        rotate_right(root, xparent, rc);
        w = xparent->left;
      }
      if (!is_red(w->left) && !is_red(w->right)) {
        w->red = true;
        x = xparent;
        xparent = x->parent;
      } else {
        if (!is_red(w->left)) {
          w->right->red = false;
          w->red = true;
          rotate_left(root, w, rc);
          w = xparent->left;
        }
        w->red = xparent->red;
        xparent->red = false;
        w->left->red = false;
        rotate_right(root, xparent, rc);
        x = root->node;
        break;
      }
    }
  }
  if (x) x->red = false;
}

rb_node* rb_first(const rb_root* root) {
  rb_node* n = root->node;
  if (!n) return nullptr;
  while (n->left) n = n->left;
  return n;
}

rb_node* rb_last(const rb_root* root) {
  rb_node* n = root->node;
  if (!n) return nullptr;
  while (n->right) n = n->right;
  return n;
}

rb_node* rb_next(const rb_node* n) {
  if (n->right) {
    rb_node* m = n->right;
    while (m->left) m = m->left;
    return m;
  }
  const rb_node* c = n;
  rb_node* p = n->parent;
  while (p && c == p->right) {
    c = p;
    p = p->parent;
  }
  return p;
}

rb_node* rb_prev(const rb_node* n) {
  if (n->left) {
    rb_node* m = n->left;
    while (m->right) m = m->right;
    return m;
  }
  const rb_node* c = n;
  rb_node* p = n->parent;
  while (p && c == p->left) {
    c = p;
    p = p->parent;
  }
  return p;
}

}  // namespace fw
