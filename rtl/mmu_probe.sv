// Observation points of the MMU around the page walker, for waveforms only:
// the transactor drives them so that a waveform shows, next to the walker's
// own signals, the TLB miss that started each walk and how it ended. The
// walker's clock runs only during walks, so these are levels, not pulses:
// tlb_miss rises when the walk starts and falls when it ends, and then
// exactly one of walk_ok, page_fault and machine_check is high until the
// next walk starts. No logic.
module mmu_probe (
  /* verilator lint_off UNUSEDSIGNAL */
  input wire logic        tlb_miss,       // a TLB miss is being resolved by a walk
  input wire logic [63:0] miss_va,        // the virtual address that missed
  input wire logic [1:0]  miss_access,    // 0 read, 1 write, 2 fetch
  input wire logic        walk_ok,        // the last walk produced a translation
  input wire logic [63:0] walk_pa,        // ...to this physical address
  input wire logic        page_fault,     // the last walk ended in a page fault
  input wire logic [4:0]  fault_code,     // ...with this x86 error code
  input wire logic        machine_check,  // the last walk ended in a machine check
  input wire logic [31:0] walk_count      // walks so far on this walker
  /* verilator lint_on UNUSEDSIGNAL */
);
endmodule
