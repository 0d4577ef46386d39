// Machine-check banks as the Intel SDM lays them out (vol. 3B ch. 16 "Machine-
// Check Architecture": IA32_MCG_CAP/STATUS, IA32_MCi_CTL/STATUS/ADDR/MISC/CTL2),
// with the overwrite rules of a bank that already holds an error (SDM table
// "Overwrite Rules for UC, CE, and UCR Errors") and the corrected-error count
// that drives CMCI. Plain C++: the RAS model (hw/ras/ras.h) owns the banks,
// the tests in tb/hw/ras check the layout. The register numbers and bit
// names are the SDM's, shared with the firmware in sw/hal/x86_mce.h.
#pragma once

#include <cstdint>

#include "sw/hal/x86_mce.h"

namespace hw {

// One error as a unit detects it, before a bank logs it.
struct McaError {
  bool uc = false;         // uncorrected
  bool pcc = false;        // processor context corrupt
  bool s = false;          // signalled as #MC (SRAO, SRAR); clear for UCNA and CEs
  bool ar = false;         // action required (SRAR)
  uint16_t mcacod = 0;     // architectural error code (0x134 data load, 0x150 fetch, 0xC0 scrub)
  uint16_t mscod = 0;      // model-specific code
  uint64_t addr = 0;       // physical address (ADDRV)
  bool addrv = false;
  unsigned addr_lsb = 6;   // MCi_MISC[5:0]: lowest valid address bit (6: a 64-byte line)
};

// The encoding of `e` in MCi_STATUS (VAL and EN set; no OVER, no count).
uint64_t mci_status_of(const McaError& e);
// MCi_MISC for `e`: the recoverable-address LSB and the physical address mode.
uint64_t mci_misc_of(const McaError& e);

// One bank: the four registers software reads, CTL2 for CMCI.
struct McaBank {
  uint64_t ctl = ~0ull;     // IA32_MCi_CTL: every error enabled
  uint64_t status = 0;      // IA32_MCi_STATUS
  uint64_t addr = 0;        // IA32_MCi_ADDR
  uint64_t misc = 0;        // IA32_MCi_MISC
  uint64_t ctl2 = 0;        // IA32_MCi_CTL2: CMCI_EN (bit 30) and the threshold (bits 14:0)

  // Logs `e` as the SDM says a bank does: an empty bank takes it; a full one
  // sets OVER and keeps or overwrites by the overwrite rules (UC over CE,
  // PCC=1 over UCR, never UCR over UCR; S and AR sticky). A corrected error
  // counts in MCi_STATUS[52:38] (saturating) whatever is kept. Returns true
  // when the count of corrected errors just reached the CMCI threshold.
  bool log(const McaError& e);

  bool valid() const { return status & x86::MCI_STATUS_VAL; }
  uint64_t corrected_count() const { return (status & x86::MCI_STATUS_CEC_MASK) >> x86::MCI_STATUS_CEC_SHIFT; }
  unsigned cmci_threshold() const { return static_cast<unsigned>(ctl2 & x86::MCI_CTL2_CMCI_THRESHOLD_MASK); }
  bool cmci_enabled() const { return ctl2 & x86::MCI_CTL2_CMCI_EN; }
  // Software's write of 0 to MCi_STATUS: the bank is free (count included).
  void clear() { status = addr = misc = 0; }
};

}  // namespace hw
