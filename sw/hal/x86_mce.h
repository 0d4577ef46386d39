// x86 machine-check architecture as the Intel SDM (vol. 3B ch. 16-17) fixes
// it: MSR numbers, MCG_CAP/MCG_STATUS and MCi_STATUS/MISC/CTL2 bits, and the
// architectural error codes this platform reports. Shared by the hardware's
// banks (hw/ras/mca.h) and the firmware that reads them (sw/kernel/mce.cpp),
// as x86.h is for page tables. Bit positions as Linux 6.18's
// arch/x86/include/asm/mce.h and msr-index.h name them.
#pragma once

#include <stdint.h>

namespace x86 {

// ---- MSRs ----
constexpr uint32_t MSR_IA32_MCG_CAP = 0x179;
constexpr uint32_t MSR_IA32_MCG_STATUS = 0x17a;
constexpr uint32_t MSR_IA32_MC0_CTL = 0x400;   // MCi_CTL = 0x400 + 4i, then STATUS, ADDR, MISC
constexpr uint32_t MSR_IA32_MC0_CTL2 = 0x280;  // MCi_CTL2 = 0x280 + i
constexpr uint32_t msr_mc_ctl(unsigned bank) { return MSR_IA32_MC0_CTL + 4 * bank; }
constexpr uint32_t msr_mc_status(unsigned bank) { return MSR_IA32_MC0_CTL + 4 * bank + 1; }
constexpr uint32_t msr_mc_addr(unsigned bank) { return MSR_IA32_MC0_CTL + 4 * bank + 2; }
constexpr uint32_t msr_mc_misc(unsigned bank) { return MSR_IA32_MC0_CTL + 4 * bank + 3; }
constexpr uint32_t msr_mc_ctl2(unsigned bank) { return MSR_IA32_MC0_CTL2 + bank; }

// ---- IA32_MCG_CAP ----
constexpr uint64_t MCG_BANKCNT_MASK = 0xff;
constexpr uint64_t MCG_CTL_P = 1ull << 8;
constexpr uint64_t MCG_CMCI_P = 1ull << 10;  // CMCI and MCi_CTL2
constexpr uint64_t MCG_TES_P = 1ull << 11;   // threshold-based error status (MCi_STATUS[56:53])
constexpr uint64_t MCG_SER_P = 1ull << 24;   // software error recovery: S, AR, UCNA/SRAO/SRAR

// ---- IA32_MCG_STATUS ----
constexpr uint64_t MCG_STATUS_RIPV = 1ull << 0;  // restart IP valid
constexpr uint64_t MCG_STATUS_EIPV = 1ull << 1;  // error IP valid: the IP is the one that erred
constexpr uint64_t MCG_STATUS_MCIP = 1ull << 2;  // machine check in progress

// ---- IA32_MCi_STATUS ----
constexpr uint64_t MCI_STATUS_VAL = 1ull << 63;
constexpr uint64_t MCI_STATUS_OVER = 1ull << 62;
constexpr uint64_t MCI_STATUS_UC = 1ull << 61;
constexpr uint64_t MCI_STATUS_EN = 1ull << 60;
constexpr uint64_t MCI_STATUS_MISCV = 1ull << 59;
constexpr uint64_t MCI_STATUS_ADDRV = 1ull << 58;
constexpr uint64_t MCI_STATUS_PCC = 1ull << 57;
constexpr uint64_t MCI_STATUS_S = 1ull << 56;
constexpr uint64_t MCI_STATUS_AR = 1ull << 55;
constexpr unsigned MCI_STATUS_CEC_SHIFT = 38;               // corrected error count, bits 52:38
constexpr uint64_t MCI_STATUS_CEC_MASK = 0x7fffull << 38;
constexpr unsigned MCI_STATUS_MSCOD_SHIFT = 16;             // model-specific code, bits 31:16
constexpr uint64_t MCI_STATUS_MCACOD_MASK = 0xffff;         // architectural code, bits 15:0

// Architectural error codes (SDM "Compound Error Codes"); bit 12 is the
// corrected-filtering F bit, which the masks skip as Linux's do.
constexpr uint16_t MCACOD = 0xefff;
constexpr uint16_t MCACOD_SCRUB = 0x00c0;     // 0xC0-0xCF memory scrubbing
constexpr uint16_t MCACOD_SCRUBMSK = 0xeff0;
constexpr uint16_t MCACOD_DATA = 0x0134;      // data load (DRD, L0)
constexpr uint16_t MCACOD_INSTR = 0x0150;     // instruction fetch (IRD, L0)
// A memory-controller read error: "1MMM CCCC" with MMM = 001 (read), CCCC =
// 1111 (channel not specified), the code a memory controller bank logs for a
// corrected read.
constexpr uint16_t MCACOD_MEM_READ = 0x009f;

// ---- IA32_MCi_MISC ----
constexpr uint64_t MCI_MISC_ADDR_LSB_MASK = 0x3f;  // bits 5:0
constexpr unsigned MCI_MISC_ADDR_MODE_SHIFT = 6;   // bits 8:6
constexpr uint64_t MCI_MISC_ADDR_PHYS = 2;

// ---- IA32_MCi_CTL2 ----
constexpr uint64_t MCI_CTL2_CMCI_EN = 1ull << 30;
constexpr uint64_t MCI_CTL2_CMCI_THRESHOLD_MASK = 0x7fff;

// The vectors of #MC (an exception) and of the CMCI local-APIC entry (Linux:
// THRESHOLD_APIC_VECTOR).
constexpr uint8_t VEC_MACHINE_CHECK = 18;
constexpr uint8_t VEC_CMCI = 0xf9;

}  // namespace x86
