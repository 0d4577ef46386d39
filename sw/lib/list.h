// Intrusive circular doubly-linked lists with Linux's vocabulary. Nodes live
// inside the objects they link (struct page, tasks, VMAs), so linking never
// allocates.
#pragma once

#include "sw/lib/compiler.h"

namespace fw {

struct list_head {
  list_head* next;
  list_head* prev;
};

inline void INIT_LIST_HEAD(list_head* h) {
  h->next = h;
  h->prev = h;
}

inline void __list_add(list_head* n, list_head* prev, list_head* next) {
  next->prev = n;
  n->next = next;
  n->prev = prev;
  prev->next = n;
}

// Inserts n right after head (stack order).
inline void list_add(list_head* n, list_head* head) { __list_add(n, head, head->next); }
// Inserts n right before head (queue order).
inline void list_add_tail(list_head* n, list_head* head) { __list_add(n, head->prev, head); }

inline void list_del(list_head* e) {
  e->next->prev = e->prev;
  e->prev->next = e->next;
  // Poison the links so a stale use faults instead of corrupting a list.
  e->next = nullptr;
  e->prev = nullptr;
}

inline bool list_empty(const list_head* h) { return h->next == h; }

inline void list_move(list_head* e, list_head* head) {
  list_del(e);
  list_add(e, head);
}

inline void list_move_tail(list_head* e, list_head* head) {
  e->next->prev = e->prev;
  e->prev->next = e->next;
  list_add_tail(e, head);
}

inline size_t list_count(const list_head* h) {
  size_t n = 0;
  for (const list_head* p = h->next; p != h; p = p->next) ++n;
  return n;
}

}  // namespace fw

#define list_entry(ptr, type, member) fw_container_of(ptr, type, member)
#define list_first_entry(head, type, member) list_entry((head)->next, type, member)
#define list_last_entry(head, type, member) list_entry((head)->prev, type, member)
