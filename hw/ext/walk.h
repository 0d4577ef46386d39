// The walk request/result carried between the MMU and a page walker. Both
// walkers (the TLM model and the Verilated RTL behind its transactor) are TLM
// targets receiving a generic payload with this extension; lockstep compares
// the WalkResult fields of both. Semantics: docs/walker.md.
#pragma once

#include <cstdint>
#include <tlm>

#include "sw/hal/x86.h"

namespace hw {

constexpr unsigned kMaxLevels = 5;

struct WalkRequest {
  uint64_t va = 0;
  x86::Access access = x86::Access::read;
  bool user = false;
  uint64_t cr3 = 0;      // raw CR3; the table base is bits maxphyaddr-1..12
  bool wp = true;        // CR0.WP
  bool nxe = true;       // EFER.NXE
  bool pcide = false;    // CR4.PCIDE (only changes how CR3's low bits read)
  unsigned levels = 4;   // 4, or 5 with LA57
  unsigned maxphyaddr = 46;

  // Paging-structure-cache skip: start at start_level with the table at
  // start_table; acc_* are the rights accumulated over the skipped levels.
  // start_level == levels means a full walk from CR3 (start_table ignored).
  unsigned start_level = 4;
  uint64_t start_table = 0;
  bool acc_rw = true;
  bool acc_us = true;
  bool acc_nx = false;
};

enum class WalkStatus : uint8_t { ok = 0, page_fault = 1, machine_check = 2 };

struct WalkResult {
  WalkStatus status = WalkStatus::ok;

  // ok: the translation.
  uint64_t pa = 0;          // physical address of req.va
  uint64_t page_size = 0;   // 4 KiB, 2 MiB or 1 GiB
  unsigned leaf_level = 0;  // 1 (PT), 2 (PD) or 3 (PDPT)
  bool rw = false;          // effective rights over all levels used
  bool us = false;
  bool nx = false;          // effective execute-disable (only with NXE)
  bool global = false;      // leaf G bit
  bool dirty = false;       // leaf D bit after the walk's update
  uint8_t memtype = 0;      // leaf PAT:PCD:PWT (bit 2:1:0)

  // page_fault: x86 error code, the level it was found at, the entry's address.
  uint32_t error_code = 0;
  unsigned fault_level = 0;
  uint64_t fault_pte_addr = 0;

  // machine_check: the physical address of the failed page-table read.
  uint64_t mc_addr = 0;
  bool mc_poison = false;   // poison (true) or a plain error response (false)

  // The entries the walk used, indexed by level (1..kMaxLevels): address and
  // value as read by the final pass, before its own A/D update.
  bool pte_valid[kMaxLevels + 1] = {};
  uint64_t pte_addr[kMaxLevels + 1] = {};
  uint64_t pte_value[kMaxLevels + 1] = {};

  unsigned mem_reads = 0;   // page-table reads, locked reads included
  unsigned mem_writes = 0;  // A/D writes
  unsigned restarts = 0;    // walks restarted because an entry changed under a locked RMW
};

class WalkExtension : public tlm::tlm_extension<WalkExtension> {
 public:
  WalkRequest req;
  WalkResult res;

  tlm::tlm_extension_base* clone() const override { return new WalkExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const WalkExtension&>(other);
  }
};

// A walker's b_transport: the request and the result travel in the
// payload's WalkExtension; a payload without one is an error.
template <typename Walker>
void serve_walk(Walker& walker, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  WalkExtension* ext = nullptr;
  trans.get_extension(ext);
  if (!ext) {
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  walker.walk(ext->req, ext->res, delay);
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace hw
