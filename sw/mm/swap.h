// Swap entries (Linux include/linux/swap.h, swapops.h and the x86 encoding
// of arch/x86/include/asm/pgtable_64.h): which slot of which swap area holds
// an evicted anonymous page, and how a non-present PTE carries it. Used by
// reclaim (sw/mm/vmscan: try_to_unmap writes them), the swap code
// (sw/mm/swapfile, swap_state, page_io), the fault path (do_swap_page), and
// every page-table walker that meets non-present entries (zap, fork,
// mprotect, mremap, smaps).
#pragma once

#include <stdint.h>

#include "sw/hal/x86.h"
#include "sw/mm/pgtable.h"

namespace fw {

// Reclaim's batch (Linux SWAP_CLUSTER_MAX) and the priority its scans start
// from (DEF_PRIORITY: scan 1/4096 of a list, then twice as much each round).
constexpr uint64_t SWAP_CLUSTER_MAX = 32;
constexpr int DEF_PRIORITY = 12;

// Type (the swap area's index) and offset (its slot) of an entry; 0 is no
// entry (slot 0 of an area holds its header and is never handed out).
struct swp_entry_t {
  uint64_t val;
};

constexpr unsigned SWP_TYPE_BITS = 5;
constexpr unsigned SWP_TYPE_SHIFT = 64 - SWP_TYPE_BITS;  // type in bits 59..63, as on x86
constexpr unsigned SWP_OFFSET_SHIFT = 14;                // offset in bits 14..58
constexpr uint64_t SWP_OFFSET_MASK = (1ull << (SWP_TYPE_SHIFT - SWP_OFFSET_SHIFT)) - 1;
// Swap areas 0..MAX_SWAPFILES-1; the last type is kept for hwpoison entries
// (Linux SWP_HWPOISON: a PTE that maps a page retired by memory_failure()).
constexpr unsigned MAX_SWAPFILES = (1u << SWP_TYPE_BITS) - 1;
constexpr unsigned SWP_HWPOISON = MAX_SWAPFILES;

inline swp_entry_t swp_entry(unsigned type, uint64_t offset) {
  return swp_entry_t{(static_cast<uint64_t>(type) << SWP_TYPE_SHIFT) | ((offset & SWP_OFFSET_MASK) << SWP_OFFSET_SHIFT)};
}
inline unsigned swp_type(swp_entry_t e) { return static_cast<unsigned>(e.val >> SWP_TYPE_SHIFT); }
inline uint64_t swp_offset(swp_entry_t e) { return (e.val >> SWP_OFFSET_SHIFT) & SWP_OFFSET_MASK; }

// The PTE form is the entry itself: not present, and with the PROT_NONE
// (bit 8) and migration (bits 9, 10) marks clear. Linux stores the offset
// inverted (an L1TF mitigation that a simulator needs not) and starts it at
// bit 9, where this firmware keeps its migration marker.
inline uint64_t swp_entry_to_pte(swp_entry_t e) { return e.val; }
inline swp_entry_t pte_to_swp_entry(uint64_t pte) { return swp_entry_t{pte}; }
// Returns true for a non-present PTE that holds a swap (or hwpoison) entry.
inline bool is_swap_pte(uint64_t pte) {
  return pte && !pte_present(pte) && !(pte & (_PAGE_PROTNONE | SWP_MIGRATION_MARK | SWP_MIGRATION_PRESENT));
}
inline bool is_hwpoison_entry(swp_entry_t e) { return e.val && swp_type(e) == SWP_HWPOISON; }
// Returns the hwpoison entry of a poisoned page (Linux make_hwpoison_entry):
// its offset is the pfn.
inline swp_entry_t make_hwpoison_entry(uint64_t pfn) { return swp_entry(SWP_HWPOISON, pfn); }
// Returns true for an entry naming a slot of a swap area.
inline bool is_swap_entry(swp_entry_t e) { return e.val && swp_type(e) < MAX_SWAPFILES; }

}  // namespace fw
