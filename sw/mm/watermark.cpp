#include "sw/mm/watermark.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/mm/internal.h"

namespace fw {

uint64_t int_sqrt(uint64_t x) {
  // Bit by bit, as Linux's lib/math/int_sqrt.c: floor(sqrt(x)).
  if (x <= 1) return x;
  uint64_t m = 1ull << (fls64(x) & ~1u);
  uint64_t y = 0;
  while (m) {
    const uint64_t b = y + m;
    y >>= 1;
    if (x >= b) {
      x -= b;
      y += m;
    }
    m >>= 2;
  }
  return y;
}

namespace {
// Linux mult_frac(x, n, d) without overflow in x * n.
uint64_t mult_frac(uint64_t x, uint64_t n, uint64_t d) { return (x / d) * n + ((x % d) * n) / d; }
}  // namespace

uint64_t Watermark::nr_free_buffer_pages() const {
  // Every zone up to ZONE_NORMAL (gfp_zone(GFP_USER)) of every node: the
  // zonelist of any node holds them all.
  const MmNodes& nodes = *ctx_->nodes;
  uint64_t sum = 0;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned z = 0; z <= ZONE_NORMAL; ++z) {
      const zone& zn = nodes.node(static_cast<int>(n)).node_zones[z];
      const uint64_t high = high_wmark_pages(&zn);
      if (zn.managed_pages > high) sum += zn.managed_pages - high;
    }
  return sum;
}

void Watermark::setup_per_zone_wmarks() {
  MmNodes& nodes = *ctx_->nodes;
  const uint64_t pages_min = min_free_kbytes_ >> (PAGE_SHIFT - 10);
  const uint64_t scale = ctx_->params->watermark_scale_factor;
  uint64_t lowmem_pages = 0;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned z = 0; z < ZONE_MOVABLE; ++z) lowmem_pages += nodes.node(static_cast<int>(n)).node_zones[z].managed_pages;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
      zone& z = nodes.node(static_cast<int>(n)).node_zones[zi];
      // This zone's share of min_free_kbytes.
      uint64_t tmp = lowmem_pages ? pages_min * z.managed_pages / lowmem_pages : 0;
      if (zi == ZONE_MOVABLE) {
        // Nothing below depends on ZONE_MOVABLE's reserve: keep it small.
        uint64_t min_pages = z.managed_pages / 1024;
        min_pages = min_pages < 32 ? 32 : min_pages > 128 ? 128 : min_pages;  // SWAP_CLUSTER_MAX..128
        z._watermark[WMARK_MIN] = min_pages;  // also in an empty zone, as Linux shows it
      } else {
        z._watermark[WMARK_MIN] = tmp;
      }
      // The gaps: a quarter of the min share, or watermark_scale_factor of
      // the zone, whichever is larger.
      tmp = max(tmp >> 2, mult_frac(z.managed_pages, scale, 10000));
      z.watermark_boost = 0;
      z._watermark[WMARK_LOW] = z._watermark[WMARK_MIN] + tmp;
      z._watermark[WMARK_HIGH] = z._watermark[WMARK_LOW] + tmp;
      z._watermark[WMARK_PROMO] = z._watermark[WMARK_HIGH] + tmp;
    }
  calculate_totalreserve_pages();
}

void Watermark::setup_per_zone_lowmem_reserve() {
  MmNodes& nodes = *ctx_->nodes;
  const Params& p = *ctx_->params;
  const uint64_t ratio[MAX_NR_ZONES] = {p.lowmem_reserve_ratio_dma, p.lowmem_reserve_ratio_dma32,
                                        p.lowmem_reserve_ratio_normal, 0};
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n) {
    pglist_data& pg = nodes.node(static_cast<int>(n));
    for (unsigned i = 0; i < MAX_NR_ZONES; ++i) {
      zone& z = pg.node_zones[i];
      z.lowmem_reserve[i] = 0;
      const bool clear = !ratio[i] || !z.managed_pages;
      uint64_t managed = 0;
      for (unsigned j = i + 1; j < MAX_NR_ZONES; ++j) {
        managed += pg.node_zones[j].managed_pages;
        z.lowmem_reserve[j] = clear ? 0 : static_cast<int64_t>(managed / ratio[i]);
      }
    }
  }
  calculate_totalreserve_pages();
}

void Watermark::calculate_totalreserve_pages() {
  MmNodes& nodes = *ctx_->nodes;
  uint64_t reserve = 0;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n) {
    pglist_data& pg = nodes.node(static_cast<int>(n));
    pg.totalreserve_pages = 0;
    for (unsigned i = 0; i < MAX_NR_ZONES; ++i) {
      const zone& z = pg.node_zones[i];
      int64_t mx = 0;
      for (unsigned j = i; j < MAX_NR_ZONES; ++j) mx = max(mx, z.lowmem_reserve[j]);
      // The high watermark counts as reserved too.
      uint64_t m = static_cast<uint64_t>(mx) + high_wmark_pages(&z);
      if (m > z.managed_pages) m = z.managed_pages;
      pg.totalreserve_pages += m;
      reserve += m;
    }
  }
  totalreserve_pages_ = reserve;
}

void Watermark::init_per_zone_wmark_min() {
  const Params& p = *ctx_->params;
  if (p.min_free_kbytes) {
    min_free_kbytes_ = p.min_free_kbytes;  // the user's value, as sysctl would set it
  } else {
    const uint64_t lowmem_kbytes = nr_free_buffer_pages() * (PAGE_SIZE >> 10);
    uint64_t v = int_sqrt(lowmem_kbytes * 16);
    min_free_kbytes_ = v < 128 ? 128 : v > 262144 ? 262144 : v;
  }
  setup_per_zone_wmarks();
  setup_per_zone_lowmem_reserve();
  // khugepaged starts later in Linux's boot (hugepage_init) and raises the
  // value; a value set by sysctl comes after that and stays.
  if (!p.min_free_kbytes) set_recommended_min_free_kbytes();
}

uint64_t Watermark::recommended_min_free_kbytes() const {
  const MmNodes& nodes = *ctx_->nodes;
  // The zones fragmentation avoidance matters in: every populated zone up
  // to gfp_zone(GFP_USER), ZONE_MOVABLE holding only movable pages anyway.
  uint64_t nr_zones = 0;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned z = 0; z <= ZONE_NORMAL; ++z)
      if (nodes.node(static_cast<int>(n)).node_zones[z].populated()) ++nr_zones;
  // Two free pageblocks per zone, and per zone a pageblock for each pair of
  // the MIGRATE_PCPTYPES types (one to fall back to, one to avoid the next
  // fallback), at most 5% of lowmem.
  uint64_t pages = pageblock_nr_pages * nr_zones * 2;
  pages += pageblock_nr_pages * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES;
  pages = min(pages, nr_free_buffer_pages() / 20);
  return pages << (PAGE_SHIFT - 10);
}

void Watermark::set_recommended_min_free_kbytes() {
  // Linux's khugepaged does this whenever PMD-sized THP are enabled
  // (always or madvise); with "never" it keeps calculate_min_free_kbytes.
  if (ctx_->params->transparent_hugepage == THP_NEVER) return;
  const uint64_t recommended = recommended_min_free_kbytes();
  if (recommended <= min_free_kbytes_) return;
  min_free_kbytes_ = recommended;
  setup_per_zone_wmarks();
}

int64_t Watermark::unusable_free(const zone* z, unsigned order, unsigned alloc_flags) const {
  int64_t unusable = static_cast<int64_t>((1ull << order) - 1);
  // Without rights to the reserves, the free high-atomic pages are not ours.
  if (!(alloc_flags & ALLOC_RESERVES)) unusable += static_cast<int64_t>(z->nr_free_highatomic);
  // Requests that cannot use CMA do not count its free pages.
  if (!(alloc_flags & ALLOC_CMA)) unusable += z->vm_stat[NR_FREE_CMA_PAGES];
  return unusable;
}

bool Watermark::zone_watermark_ok(const zone* z, unsigned order, uint64_t mark, unsigned highest_zoneidx,
                                  unsigned alloc_flags, int64_t free_pages) const {
  int64_t min = static_cast<int64_t>(mark);
  free_pages -= unusable_free(z, order, alloc_flags);
  if (alloc_flags & ALLOC_RESERVES) {
    // __GFP_HIGH may use half of the min reserve, non-blocking requests a
    // quarter more, OOM victims half of what is left.
    if (alloc_flags & ALLOC_MIN_RESERVE) {
      min -= min / 2;
      if (alloc_flags & ALLOC_NON_BLOCK) min -= min / 4;
    }
    if (alloc_flags & ALLOC_OOM) min -= min / 2;
  }
  // The order-0 check first: without it a high-order request cannot go ahead.
  if (free_pages <= min + z->lowmem_reserve[highest_zoneidx]) return false;
  if (!order) return true;
  // A high-order request needs a free block of at least its order in a
  // list it may use.
  for (unsigned o = order; o < NR_PAGE_ORDERS; ++o) {
    const free_area& a = z->free_area[o];
    if (!a.nr_free) continue;
    for (unsigned mt = 0; mt < MIGRATE_PCPTYPES; ++mt)
      if (a.nr_free_mt[mt]) return true;
    if ((alloc_flags & ALLOC_CMA) && a.nr_free_mt[MIGRATE_CMA]) return true;
    if ((alloc_flags & (ALLOC_HIGHATOMIC | ALLOC_OOM)) && a.nr_free_mt[MIGRATE_HIGHATOMIC]) return true;
  }
  return false;
}

bool Watermark::zone_watermark_fast(const zone* z, unsigned order, uint64_t mark, unsigned highest_zoneidx,
                                    unsigned alloc_flags, gfp_t gfp) const {
  (void)gfp;
  const int64_t free_pages = z->vm_stat[NR_FREE_PAGES];
  // The common order-0 case without the reserve arithmetic.
  if (!order) {
    int64_t usable = free_pages;
    const int64_t reserved = unusable_free(z, 0, alloc_flags);
    usable -= min(usable, reserved);
    if (usable > static_cast<int64_t>(mark) + z->lowmem_reserve[highest_zoneidx]) return true;
  }
  if (zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags, free_pages)) return true;
  // __GFP_HIGH order-0 requests ignore the boost at the min watermark, so
  // boosting never pushes them into the direct path.
  if (!order && (alloc_flags & ALLOC_MIN_RESERVE) && z->watermark_boost &&
      (alloc_flags & ALLOC_WMARK_MASK) == WMARK_MIN)
    return zone_watermark_ok(z, order, z->_watermark[WMARK_MIN], highest_zoneidx, alloc_flags, free_pages);
  return false;
}


// ---------------------------------------------------------------- statistics

void Watermark::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e("min_free_kbytes", min_free_kbytes(), "vm.min_free_kbytes in effect", "KiB");
  e("totalreserve_pages", totalreserve_pages(), "high watermarks plus the largest lowmem reserves", "pages");
}

}  // namespace fw
