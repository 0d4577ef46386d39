#include "sw/mm/memblock.h"

#include "sw/lib/bitops.h"
#include "sw/lib/compiler.h"

namespace fw {

bool Memblock::insert_at(MemblockType& t, unsigned idx, uint64_t base, uint64_t size, int nid) {
  if (t.cnt >= MemblockType::kMaxRegions) return false;
  for (unsigned i = t.cnt; i > idx; --i) t.regions[i] = t.regions[i - 1];
  t.regions[idx] = MemblockRegion{base, size, nid};
  ++t.cnt;
  t.total_size += size;
  return true;
}

void Memblock::remove_at(MemblockType& t, unsigned idx) {
  t.total_size -= t.regions[idx].size;
  for (unsigned i = idx; i + 1 < t.cnt; ++i) t.regions[i] = t.regions[i + 1];
  --t.cnt;
}

// Joins neighbours that touch (and, for memory, belong to the same node).
void Memblock::merge(MemblockType& t, bool by_node) {
  unsigned i = 0;
  while (i + 1 < t.cnt) {
    MemblockRegion& a = t.regions[i];
    const MemblockRegion& b = t.regions[i + 1];
    if (a.end() == b.base && (!by_node || a.nid == b.nid)) {
      a.size += b.size;
      // remove_at would subtract b.size from the total: compensate.
      t.total_size += b.size;
      remove_at(t, i + 1);
    } else {
      ++i;
    }
  }
}

// Adds the parts of [base, base+size) no region covers yet, so overlapping
// input (e.g. e820 entries that overlap) is tolerated like Linux does.
bool Memblock::add_range(MemblockType& t, uint64_t base, uint64_t size, int nid) {
  if (size == 0) return true;
  uint64_t end = base + size;
  if (end < base) end = ~0ull;  // clamp an overflowing range
  uint64_t cur = base;
  unsigned i = 0;
  while (cur < end) {
    while (i < t.cnt && t.regions[i].end() <= cur) ++i;
    if (i < t.cnt && t.regions[i].base <= cur) {
      cur = t.regions[i].end();
      continue;
    }
    const uint64_t next = i < t.cnt ? min(end, t.regions[i].base) : end;
    if (!insert_at(t, i, cur, next - cur, nid)) return false;
    ++i;
    cur = next;
  }
  return true;
}

// Splits regions so that base and end fall on region boundaries.
bool Memblock::isolate(MemblockType& t, uint64_t base, uint64_t end) {
  for (unsigned i = 0; i < t.cnt; ++i) {
    const MemblockRegion r = t.regions[i];
    uint64_t cut;
    if (base > r.base && base < r.end()) cut = base;
    else if (end > r.base && end < r.end()) cut = end;
    else continue;
    // Split at the cut; the upper piece is examined next (it may hold `end`).
    t.regions[i].size = cut - r.base;
    t.total_size -= r.end() - cut;
    if (!insert_at(t, i + 1, cut, r.end() - cut, r.nid)) return false;
  }
  return true;
}

bool Memblock::remove_range(MemblockType& t, uint64_t base, uint64_t size) {
  const uint64_t end = base + size;
  if (!isolate(t, base, end)) return false;
  for (unsigned i = 0; i < t.cnt;) {
    if (t.regions[i].base >= base && t.regions[i].end() <= end) remove_at(t, i);
    else ++i;
  }
  return true;
}

bool Memblock::add(uint64_t base, uint64_t size, int nid) {
  if (!add_range(memory_, base, size, nid)) return false;
  merge(memory_, true);
  return true;
}

bool Memblock::reserve(uint64_t base, uint64_t size) {
  if (!add_range(reserved_, base, size, NUMA_NO_NODE)) return false;
  merge(reserved_, false);
  return true;
}

bool Memblock::free(uint64_t base, uint64_t size) { return remove_range(reserved_, base, size); }

bool Memblock::set_node(uint64_t base, uint64_t size, int nid) {
  const uint64_t end = base + size;
  if (!isolate(memory_, base, end)) return false;
  for (unsigned i = 0; i < memory_.cnt; ++i) {
    MemblockRegion& r = memory_.regions[i];
    if (r.base >= base && r.end() <= end) r.nid = nid;
  }
  merge(memory_, true);
  return true;
}

bool Memblock::is_memory(uint64_t base, uint64_t size) const {
  for (unsigned i = 0; i < memory_.cnt; ++i) {
    const MemblockRegion& r = memory_.regions[i];
    if (base >= r.base && base + size <= r.end()) return true;
  }
  return false;
}

bool Memblock::overlaps_reserved(uint64_t base, uint64_t size) const {
  for (unsigned i = 0; i < reserved_.cnt; ++i) {
    const MemblockRegion& r = reserved_.regions[i];
    if (base < r.end() && r.base < base + size) return true;
  }
  return false;
}

uint64_t Memblock::alloc_range(uint64_t size, uint64_t align, uint64_t min_addr, uint64_t max_addr,
                               int nid) {
  if (size == 0 || !is_power_of_2(align)) return 0;
  if (min_addr == 0) min_addr = align;  // 0 means failure, never hand it out
  uint64_t found = 0;
  // A free gap [lo, hi): the highest aligned fit inside the window, if any.
  auto try_gap = [&](uint64_t lo, uint64_t hi) {
    lo = max(lo, min_addr);
    hi = min(hi, max_addr);
    if (hi <= lo || hi - lo < size) return false;
    const uint64_t cand = align_down(hi - size, align);
    if (cand < lo) return false;
    found = cand;
    return true;
  };
  // Walk the free ranges from the top: memory regions high to low, and in
  // each the gaps between reservations high to low.
  for (unsigned mi = memory_.cnt; mi-- > 0;) {
    const MemblockRegion& m = memory_.regions[mi];
    if (nid != NUMA_NO_NODE && m.nid != nid) continue;
    uint64_t hi = m.end();
    bool ok = false;
    for (unsigned ri = reserved_.cnt; ri-- > 0 && !ok;) {
      const MemblockRegion& r = reserved_.regions[ri];
      if (r.base >= hi) continue;
      if (r.end() <= m.base) break;
      ok = try_gap(max(r.end(), m.base), hi);
      hi = r.base;
      if (hi <= m.base) break;
    }
    if (!ok && hi > m.base) ok = try_gap(m.base, hi);
    if (ok) return reserve(found, size) ? found : 0;
  }
  return 0;
}


// ---------------------------------------------------------------- statistics

void Memblock::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e("memory_bytes", memory_.total_size, "usable RAM in the boot memory map", "bytes");
  e("reserved_bytes", reserved_.total_size, "memory memblock kept from the allocator", "bytes");
}

}  // namespace fw
