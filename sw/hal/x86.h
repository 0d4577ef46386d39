// x86-64 architectural definitions shared by the firmware (which builds page
// tables and issues TLB maintenance) and the hardware models (which walk and
// cache them). Only what the architecture fixes lives here; policy does not.
#pragma once

#include <stdint.h>

namespace x86 {

// ---- Page-table entry bits (all levels unless noted) ----------------------
constexpr uint64_t PTE_P = 1ull << 0;      // present
constexpr uint64_t PTE_RW = 1ull << 1;     // writable
constexpr uint64_t PTE_US = 1ull << 2;     // user accessible
constexpr uint64_t PTE_PWT = 1ull << 3;    // page write-through
constexpr uint64_t PTE_PCD = 1ull << 4;    // page cache disable
constexpr uint64_t PTE_A = 1ull << 5;      // accessed
constexpr uint64_t PTE_D = 1ull << 6;      // dirty (leaf only)
constexpr uint64_t PTE_PS = 1ull << 7;     // page size (PDPTE/PDE); PAT in a PTE
constexpr uint64_t PTE_G = 1ull << 8;      // global (leaf only)
constexpr uint64_t PTE_PAT_LARGE = 1ull << 12;  // PAT bit of a 2 MiB/1 GiB leaf
constexpr uint64_t PTE_NX = 1ull << 63;    // execute disable (needs EFER.NXE)
// Bits 9..11 and 52..62 are ignored by the hardware: software may use them.
constexpr uint64_t PTE_SW_MASK = (0x7ull << 9) | (0x7ffull << 52);

constexpr unsigned PAGE_SHIFT = 12;
constexpr uint64_t PAGE_SIZE = 1ull << PAGE_SHIFT;
constexpr unsigned PT_ENTRIES = 512;
constexpr unsigned LEVEL_BITS = 9;

// Paging levels are numbered as in the SDM: 1 = PT, 2 = PD, 3 = PDPT,
// 4 = PML4, 5 = PML5 (LA57). Keep the count a parameter, never a literal.
constexpr unsigned LEVEL_PT = 1;
constexpr unsigned LEVEL_PD = 2;
constexpr unsigned LEVEL_PDPT = 3;
constexpr unsigned LEVEL_PML4 = 4;
constexpr unsigned LEVEL_PML5 = 5;

constexpr unsigned level_shift(unsigned level) { return PAGE_SHIFT + LEVEL_BITS * (level - 1); }
constexpr uint64_t level_size(unsigned level) { return 1ull << level_shift(level); }
constexpr unsigned pt_index(uint64_t va, unsigned level) {
  return static_cast<unsigned>((va >> level_shift(level)) & (PT_ENTRIES - 1));
}

// Page sizes a leaf can map.
constexpr uint64_t SIZE_4K = 1ull << 12;
constexpr uint64_t SIZE_2M = 1ull << 21;
constexpr uint64_t SIZE_1G = 1ull << 30;

// Physical-address field of an entry for a given MAXPHYADDR.
constexpr uint64_t phys_mask(unsigned maxphyaddr) {
  return ((1ull << maxphyaddr) - 1) & ~(PAGE_SIZE - 1);
}

// A virtual address is canonical when bits 63..(va_bits-1) are all equal.
constexpr bool is_canonical(uint64_t va, unsigned va_bits) {
  const int64_t s = static_cast<int64_t>(va << (64 - va_bits)) >> (64 - va_bits);
  return static_cast<uint64_t>(s) == va;
}

// ---- Control registers -----------------------------------------------------
constexpr uint64_t CR0_WP = 1ull << 16;
constexpr uint64_t CR4_LA57 = 1ull << 12;
constexpr uint64_t CR4_PCIDE = 1ull << 17;
constexpr uint64_t EFER_NXE = 1ull << 11;

constexpr uint64_t CR3_PCID_MASK = 0xfffull;
constexpr uint64_t CR3_NOFLUSH = 1ull << 63;  // with CR4.PCIDE: keep this PCID's entries
constexpr uint64_t CR3_PWT = 1ull << 3;       // without PCIDE only
constexpr uint64_t CR3_PCD = 1ull << 4;       // without PCIDE only

// ---- Page-fault error code -------------------------------------------------
constexpr uint32_t PF_P = 1u << 0;     // 0: not present; 1: protection violation
constexpr uint32_t PF_W = 1u << 1;     // the access was a write
constexpr uint32_t PF_U = 1u << 2;     // the access was made in user mode
constexpr uint32_t PF_RSVD = 1u << 3;  // a reserved bit was set in an entry
constexpr uint32_t PF_I = 1u << 4;     // instruction fetch (with EFER.NXE)

enum class Access : uint8_t { read = 0, write = 1, fetch = 2 };

// INVPCID descriptor types.
enum class InvpcidType : uint8_t {
  individual_address = 0,     // one address in one PCID (not globals)
  single_context = 1,         // everything of one PCID except globals
  all_contexts_global = 2,    // everything, globals included
  all_contexts = 3,           // everything except globals
};

// Interrupt vectors the platform uses.
constexpr uint8_t VEC_TLB_SHOOTDOWN = 0xfd;
constexpr uint8_t VEC_RESCHEDULE = 0xfc;
constexpr uint8_t VEC_CALL_FUNCTION = 0xfb;
constexpr uint8_t VEC_TIMER = 0xec;
// Devices: the platform gives device slot N (hw/platform) vector
// VEC_DEVICE_BASE + N, one vector per device as MSI would.
constexpr uint8_t VEC_DEVICE_BASE = 0x40;

}  // namespace x86
