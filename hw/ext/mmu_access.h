// A core's user access to the MMU: the virtual address, access type and
// privilege on the way in; the outcome (page fault or machine check with
// their details) on the way back. The payload's address is the virtual address.
#pragma once

#include <cstdint>
#include <tlm>

#include "sw/hal/x86.h"

namespace hw {

enum class FaultReason : uint8_t {
  none = 0,
  not_present,      // P = 0 at some level
  protection,       // rights (U/S, R/W with WP, NX)
  reserved_bit,     // reserved bit or misaligned huge-page frame
  non_canonical,    // #GP, not a page fault
};

enum class AccessOutcome : uint8_t { ok = 0, page_fault, machine_check, general_protection };

class MmuAccessExtension : public tlm::tlm_extension<MmuAccessExtension> {
 public:
  // request
  x86::Access access = x86::Access::read;
  bool user = true;

  // response
  AccessOutcome outcome = AccessOutcome::ok;
  uint64_t fault_addr = 0;     // CR2
  uint32_t error_code = 0;
  FaultReason reason = FaultReason::none;
  unsigned fault_level = 0;
  uint64_t mc_pa = 0;          // machine check: physical address
  bool mc_in_walk = false;     // raised by a page-table read
  bool mc_action_required = true;

  tlm::tlm_extension_base* clone() const override { return new MmuAccessExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const MmuAccessExtension&>(other);
  }
};

}  // namespace hw
