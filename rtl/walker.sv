// walker: x86-64 page-table walker (4 KiB / 2 MiB / 1 GiB leaves, A/D update
// by locked read-modify-write). The semantics are docs/walker.md, field by
// field: the TLM walker (hw/mmu/walker) implements the same page and lockstep
// compares every result field. Ports, state machine, parameters and the
// assertion list: docs/rtl-walker.md.
//
// Three valid/ready channels:
//   req_*      the walk request (hw::WalkRequest),
//   mem_req_*  the walker's memory requests (8-byte reads, locked reads and
//   mem_rsp_*  unlocking writes) and their responses (data, error, poison),
//   rsp_*      the walk result (hw::WalkResult).
// A transfer happens on a rising clock edge where valid and ready are both 1.
// Every output is a function of registers only (no path from an input to an
// output), so a transactor may sample outputs and drive inputs anywhere
// between two rising edges.
//
// Inside, in this order: the types (the channels' payloads and the register
// groups, packed structs), the registers, the datapath's views and
// functions, the state machine as one clocked process (state_machine works
// out and assigns every register's next value at the edge, from registers
// and inputs), the outputs (from registers), and the assertions.
//
// Assertions (ASSERT_*/ASSUME_* labels below) are checked by Verilator with
// --assert in every simulation and proved to a bound by yosys-smtbmc
// (rtl/formal/). ASSUME_* are the rules the environment must keep; in
// simulation they are checked like assertions. The formal flow's bug
// injections (mutants) are patches in rtl/formal/mutants/, not part of
// this file.

`timescale 1ns / 1ps
`default_nettype none

`ifdef FORMAL
`define WALKER_ASSERT(label, cond, msg) label: assert (cond);
`define WALKER_ASSUME(label, cond, msg) label: assume (cond);
`else
`define WALKER_ASSERT(label, cond, msg) label: assert (cond) else $error("walker: %s", msg);
`define WALKER_ASSUME(label, cond, msg) label: assume (cond) else $error("walker environment: %s", msg);
`endif

module walker #(
  // Deepest paging structure the walker supports: 4, or 5 for LA57.
  parameter int MAX_LEVELS = 5,
  // Width of the linear address port: 12 offset bits and 9 per level.
  parameter int VA_BITS = 12 + 9 * MAX_LEVELS,
  // Width of every physical address port (at most 52, the address bits an
  // entry carries); req_maxphyaddr must not exceed it.
  parameter int PA_BITS = 52,
  // Restarts after which a walk ends as a not-present fault (livelock guard).
  parameter int RESTART_LIMIT = 8,
  // Width of the read/write counters of the response.
  parameter int COUNT_BITS = 8,
  parameter int RESTART_BITS = $clog2(RESTART_LIMIT + 1)
) (
  input  wire logic                   clk,
  input  wire logic                   rst_n,   // synchronous, active low

  // ---- walk request (hw::WalkRequest) -----------------------------------
  input  wire logic                   req_valid,
  output      logic                   req_ready,
  input  wire logic [VA_BITS-1:0]     req_va,
  input  wire logic [1:0]             req_access,      // access_e
  input  wire logic                   req_user,
  input  wire logic [63:0]            req_cr3,         // raw CR3
  input  wire logic                   req_wp,
  input  wire logic                   req_nxe,
  input  wire logic [2:0]             req_levels,      // 4 or 5 (<= MAX_LEVELS)
  input  wire logic [5:0]             req_maxphyaddr,  // 36..PA_BITS
  input  wire logic [2:0]             req_start_level, // 1..req_levels
  input  wire logic [PA_BITS-1:0]     req_start_table, // used when start_level < levels
  input  wire logic                   req_acc_rw,
  input  wire logic                   req_acc_us,
  input  wire logic                   req_acc_nx,

  // ---- memory port ----------------------------------------------------------
  output      logic                   mem_req_valid,
  input  wire logic                   mem_req_ready,
  output      logic [PA_BITS-1:0]     mem_req_addr,    // 8-byte aligned entry
  output      logic                   mem_req_write,
  output      logic [63:0]            mem_req_wdata,
  output      logic                   mem_req_lock,    // read: take the lock; write: release it
  input  wire logic                   mem_rsp_valid,
  output      logic                   mem_rsp_ready,
  input  wire logic [63:0]            mem_rsp_data,
  input  wire logic                   mem_rsp_error,
  input  wire logic                   mem_rsp_poison,

  // ---- walk result (hw::WalkResult) ------------------------------------------
  output      logic                   rsp_valid,
  input  wire logic                   rsp_ready,
  output      logic [1:0]             rsp_status,      // status_e
  output      logic [PA_BITS-1:0]     rsp_pa,
  output      logic [2:0]             rsp_leaf_level,  // page size 4K/2M/1G = 1/2/3
  output      logic                   rsp_rw,
  output      logic                   rsp_us,
  output      logic                   rsp_nx,
  output      logic                   rsp_global,
  output      logic                   rsp_dirty,
  output      logic [2:0]             rsp_memtype,     // PAT:PCD:PWT
  output      logic [4:0]             rsp_error_code,
  output      logic [2:0]             rsp_fault_level,
  output      logic [PA_BITS-1:0]     rsp_fault_pte_addr,
  output      logic [PA_BITS-1:0]     rsp_mc_addr,
  output      logic                   rsp_mc_poison,
  output      logic [MAX_LEVELS:1]               rsp_pte_valid,
  // Level l (1..MAX_LEVELS) at [(l-1)*PA_BITS +: PA_BITS] / [(l-1)*64 +: 64].
  output      logic [MAX_LEVELS*PA_BITS-1:0]     rsp_pte_addr,
  output      logic [MAX_LEVELS*64-1:0]          rsp_pte_value,
  output      logic [COUNT_BITS-1:0]  rsp_mem_reads,
  output      logic [COUNT_BITS-1:0]  rsp_mem_writes,
  output      logic [RESTART_BITS-1:0] rsp_restarts
);

  // Types of walker_pkg (named with the package prefix: yosys reads no import).
  typedef walker_pkg::state_e state_e;

  // ==========================================================================
  // Types
  // ==========================================================================
  // Module-level because their widths follow the parameters. For yosys
  // 0.23 (formal): fields holding a walker_pkg enum are plain logic (it
  // mis-sizes enum-typed members), every field is 0-based (it misplaces
  // part-selects of other bases: level l is at index l-1, as on the ports),
  // and recorded entries are words (it has no arrays of structs). Fields of
  // 64 bits or more come last (lowest), so that they start on a 32-bit word
  // of the Verilated model and it moves them as whole words.

  // Rights accumulated over the levels walked (walker.md step 4).
  typedef struct packed {
    logic rw;
    logic us;
    logic nx;
  } rights_t;

  // ---- payloads of the three channels (the ports, packed) ----
  // The walk request (hw::WalkRequest): ports req_*.
  typedef struct packed {
    logic [VA_BITS-1:0] va;
    logic [1:0]         access;       // walker_pkg::access_e
    logic               user;
    logic               wp;
    logic               nxe;
    logic [2:0]         levels;       // 4 or 5 (<= MAX_LEVELS)
    logic [5:0]         maxphyaddr;   // 36..PA_BITS
    logic [2:0]         start_level;  // 1..levels
    logic [PA_BITS-1:0] start_table;  // used when start_level < levels
    rights_t            acc;          // rights over the skipped levels
    logic [63:0]        cr3;          // raw CR3
  } walk_req_t;

  // A memory request: ports mem_req_*.
  typedef struct packed {
    logic [PA_BITS-1:0] addr;   // 8-byte aligned entry
    logic               write;
    logic               lock;   // read: take the lock; write: release it
    logic [63:0]        wdata;
  } mem_req_t;

  // A memory response: ports mem_rsp_*.
  typedef struct packed {
    logic        error;
    logic        poison;
    logic [63:0] data;
  } mem_rsp_t;

  // The walk result (hw::WalkResult): ports rsp_*. Fields outside the
  // status are 0.
  typedef struct packed {
    logic [1:0]                     status;       // walker_pkg::status_e
    logic [PA_BITS-1:0]             pa;
    logic [2:0]                     leaf_level;   // page size 4K/2M/1G = 1/2/3
    rights_t                        rights;
    logic                           global_page;
    logic                           dirty;
    logic [2:0]                     memtype;      // PAT:PCD:PWT
    logic [4:0]                     error_code;
    logic [2:0]                     fault_level;
    logic [PA_BITS-1:0]             fault_pte_addr;
    logic [PA_BITS-1:0]             mc_addr;
    logic                           mc_poison;
    logic [MAX_LEVELS-1:0]          pte_valid;    // level l at index l-1
    logic [COUNT_BITS-1:0]          mem_reads;
    logic [COUNT_BITS-1:0]          mem_writes;
    logic [RESTART_BITS-1:0]        restarts;
    logic [MAX_LEVELS-1:0][PA_BITS-1:0] pte_addr;
    logic [MAX_LEVELS-1:0][63:0]    pte_value;
  } walk_rsp_t;

  // ---- registers ----
  // The request, as latched when accepted.
  typedef struct packed {
    logic [1:0]         access;            // walker_pkg::access_e
    logic               user;
    logic               wp;
    logic               nxe;
    logic [walker_pkg::ENTRY_ADDR_BITS-1:0] above_maxphyaddr;  // entry address bits 51..maxphyaddr
    logic [2:0]         start_level;
    logic [PA_BITS-1:0] start_table;       // root, or the PWC table
    rights_t            start_rights;
    logic [VA_BITS-1:0] va;
  } ctx_t;

  // The translation a pass found at its leaf.
  typedef struct packed {
    logic [2:0]         level;
    logic [PA_BITS-1:0] pa;
    logic               global_page;
    logic               dirty;             // after this walk's update
    logic [2:0]         memtype;
  } leaf_t;

  // One pass over the levels (a restart begins a new one). The entries it
  // read are recorded in the result's registers rsp_pte_valid,
  // rsp_pte_addr and rsp_pte_value (as read, before any A/D update).
  typedef struct packed {
    logic [2:0]            level;       // of the entry being read
    logic [PA_BITS-1:0]    table_addr;  // table holding that entry
    rights_t               rights;      // accumulated so far
    leaf_t                 leaf;
    logic [MAX_LEVELS-1:0] ad_pending;  // entries still needing an A/D update
    logic [2:0]            ad_level;    // the entry being updated
  } pass_t;

  // The locked read-modify-write in progress.
  typedef struct packed {
    logic [1:0]  after;   // walker_pkg::after_unlock_e: what follows that write
    logic [63:0] wdata;   // data of the unlocking write
  } lock_t;

  // How the walk ends, and its counts.
  typedef struct packed {
    logic [1:0]              status;   // walker_pkg::status_e
    logic [4:0]              error_code;
    logic [2:0]              fault_level;
    logic [PA_BITS-1:0]      fault_pte_addr;
    logic [PA_BITS-1:0]      mc_addr;
    logic                    mc_poison;
    logic [COUNT_BITS-1:0]   mem_reads;
    logic [COUNT_BITS-1:0]   mem_writes;
    logic [RESTART_BITS-1:0] restarts;
  } result_t;

  // ==========================================================================
  // Ports
  // ==========================================================================
  // The logic reads the input ports as they are: a packed copy of the
  // request or of the memory response would be rebuilt by the Verilated
  // model at every evaluation, whatever the state. (The arriving entry is
  // viewed as a pte_t below; the checker's copies of what a channel offered
  // are structs.)
  // (The memory request and the result drive their ports field by field:
  // blocks memory_request and result.)

  // ==========================================================================
  // State: the registers
  // ==========================================================================
  state_e  state_q;
  ctx_t    ctx_q;
  /* verilator lint_off UNUSEDSIGNAL */
  pass_t   pass_q;   // (table_addr is for waveforms: the datapath uses entry_addr_q)
  /* verilator lint_on UNUSEDSIGNAL */
  lock_t   lock_q;
  result_t res_q;
  // The two addresses the memory port offers, kept in registers (set where
  // the state they follow from changes) so that the port is a register's
  // copy: the entry of the current level, table + 8 * index(va, level)
  // (S_READ_*), and the entry whose A/D update is in progress (S_LOCK_*,
  // S_UNLOCK_*; 0 while none is).
  logic [PA_BITS-1:0] entry_addr_q;
  logic [PA_BITS-1:0] ad_addr_q;

  // ==========================================================================
  // Datapath: views and functions the state machine uses
  // ==========================================================================
  // The physical-address field of an entry or of CR3 is bits maxphyaddr-1..12.
  localparam logic [PA_BITS-1:0] FRAME_MASK = {{(PA_BITS-12){1'b1}}, 12'h000};

  // The entry arriving on the memory response, as fields (checked in
  // S_READ_RSP).
  walker_pkg::pte_t entry;
  assign entry = mem_rsp_data;

  logic is_write;
  logic is_fetch;
  assign is_write = (ctx_q.access == walker_pkg::ACCESS_WRITE);
  assign is_fetch = (ctx_q.access == walker_pkg::ACCESS_FETCH);

  // Returns the address of the entry for `va` at `level` in the table at
  // `table_addr`: table + 8 * index(va, level).
  function automatic logic [PA_BITS-1:0] entry_address_of(input logic [PA_BITS-1:0] table_addr,
                                                          input logic [VA_BITS-1:0] va,
                                                          input logic [2:0]         level);
    logic [8:0] index;
    index = 9'd0;
    for (int l = 1; l <= MAX_LEVELS; l++) begin
      if (level == 3'(l)) index = va[12 + 9 * (l - 1) +: 9];
    end
    entry_address_of = table_addr + PA_BITS'({index, 3'b000});
  endfunction

  // Returns the error-code bits the access contributes to a page fault (P
  // and RSVD are added per fault).
  function automatic logic [4:0] access_error_code();
    logic [4:0] code;
    code                   = 5'd0;
    code[walker_pkg::PF_W] = is_write;
    code[walker_pkg::PF_U] = ctx_q.user;
    code[walker_pkg::PF_I] = is_fetch & ctx_q.nxe;
    access_error_code = code;
  endfunction

  // ==========================================================================
  // State machine
  // ==========================================================================
  // docs/walker.md, "The walk", the steps the comments below refer to:
  //   1. Read the entry at table + 8 * index(va, L) and record it; an error or
  //      poison ends the walk with a machine check.
  //   2. Present: P = 0 is a not-present page fault at level L.
  //   3. Reserved bits (above MAXPHYADDR, XD without NXE, PS at L >= 4, a
  //      misaligned 1 GiB / 2 MiB frame) are a page fault with RSVD.
  //   4. Accumulate the rights: rw &= RW, us &= US, nx |= XD.
  //   5. Leaf? L = 1, or L = 2 or 3 with PS. If not: the table the entry names,
  //      L - 1, go to 1.
  //   6. Rights at the leaf (user, write with user or WP, fetch with NXE):
  //      a page fault with P.
  //   7. A/D: from start_level down to the leaf, each entry without A (and the
  //      leaf of a write without D) gets a locked read-modify-write. A failed
  //      locked read is a machine check (no lock taken, nothing written); an
  //      entry changed under the lock is released unchanged and the walk
  //      restarts, the change that brings restarts to RESTART_LIMIT ending it
  //      as a not-present fault instead.
  //   8. The result: the leaf's frame and the page offset, the accumulated
  //      rights, leaf G, D after the update, PAT:PCD:PWT.
  //
  // One clocked process: each register holds unless the current state
  // changes it, and everything the next values need (entry address, entry
  // checks, the leaf's translation, the A/D order) is worked out here, from
  // registers and the inputs at the edge, in the state and branch that uses
  // it. So the Verilated model computes it once per cycle, at the edge,
  // rather than as combinational logic again whenever an input or a
  // register changes. Synchronous reset: every register resets to 0
  // (S_IDLE, STATUS_OK, AFTER_UPDATE, nothing recorded).
  always_ff @(posedge clk) begin : state_machine
    // Values worked out for this edge (blocking; read only in the branch
    // that assigns them).
    logic [walker_pkg::ENTRY_ADDR_BITS-1:0] above_maxphyaddr;  // entry bits 51..maxphyaddr
    logic [PA_BITS-1:0]  phys_mask;        // bits maxphyaddr-1..12
    logic [walker_pkg::ENTRY_ADDR_BITS-1:0] entry_address;     // {entry.addr, 12'h000}
    logic [PA_BITS-1:0]  entry_frame;      // the same, within PA_BITS
    logic                entry_rsvd;       // reserved bit or misaligned huge frame
    logic                entry_leaf;
    logic                rights_rw;        // rights after accumulating this entry
    logic                rights_us;
    logic                rights_nx;
    logic                rights_fault;
    logic [PA_BITS-1:0]  leaf_offset_mask;
    logic [MAX_LEVELS:1] ad_need;          // entries needing an A/D update
    logic [2:0]          ad_first;         // highest level of ad_need
    logic [MAX_LEVELS:1] ad_remaining;     // ad_pending without the current one
    logic [2:0]          ad_next;          // highest level of ad_remaining
    logic [PA_BITS-1:0]  ad_addr;          // address of the entry at ad_first / ad_next
    logic [63:0]         recorded;         // loop variable: an entry this pass recorded
    logic [63:0]         ad_entry;         // the value this pass used for ad_level
    logic                ad_is_leaf;
    logic [63:0]         ad_update;        // the value read, with A (and D) set
    logic                new_pass;         // a pass starts (values below)
    logic [2:0]          pass_level;
    logic [PA_BITS-1:0]  pass_table;
    logic [VA_BITS-1:0]  pass_va;
    logic [2:0]          pass_rights;      // rights_t: rw, us, nx

    new_pass = 1'b0;

    if (!rst_n) begin
      state_q      <= walker_pkg::S_IDLE;
      ctx_q        <= '0;
      pass_q       <= '0;
      lock_q       <= '0;
      res_q        <= '0;
      entry_addr_q  <= '0;
      ad_addr_q     <= '0;
      rsp_pte_valid <= '0;
      rsp_pte_addr  <= '0;
      rsp_pte_value <= '0;
    end else begin
      unique case (state_q)
        // ---- accept a request; start the first pass ----------------------
        walker_pkg::S_IDLE: begin
          if (req_valid) begin
            // MAXPHYADDR as masks, once per request (one shifter). A full
            // walk starts at the root (CR3), one that a paging-structure-
            // cache hit shortened at the table it names.
            above_maxphyaddr = {walker_pkg::ENTRY_ADDR_BITS{1'b1}} << req_maxphyaddr;
            phys_mask        = ~above_maxphyaddr[PA_BITS-1:0] & FRAME_MASK;
            pass_table       = (req_start_level == req_levels)
                             ? (req_cr3[PA_BITS-1:0] & phys_mask)
                             : (req_start_table & phys_mask);
            pass_level       = req_start_level;
            pass_va          = req_va;
            pass_rights      = {req_acc_rw, req_acc_us, req_acc_nx};
            ctx_q.va               <= req_va;
            ctx_q.access           <= req_access;
            ctx_q.user             <= req_user;
            ctx_q.wp               <= req_wp;
            ctx_q.nxe              <= req_nxe;
            ctx_q.above_maxphyaddr <= above_maxphyaddr;
            ctx_q.start_level      <= req_start_level;
            ctx_q.start_table      <= pass_table;
            ctx_q.start_rights     <= pass_rights;
            res_q                  <= '0;
            new_pass               = 1'b1;
            state_q                <= walker_pkg::S_READ_REQ;
          end
        end

        // ---- read the entry of the current level ----------------------------
        walker_pkg::S_READ_REQ: begin
          if (mem_req_ready) state_q <= walker_pkg::S_READ_RSP;
        end

        walker_pkg::S_READ_RSP: begin
          if (mem_rsp_valid) begin
            res_q.mem_reads <= res_q.mem_reads + 1'b1;
            for (int l = 1; l <= MAX_LEVELS; l++) begin
              if (pass_q.level == 3'(l)) begin
                rsp_pte_valid[l]                       <= 1'b1;
                rsp_pte_addr[(l-1)*PA_BITS +: PA_BITS] <= entry_addr_q;
                rsp_pte_value[(l-1)*64 +: 64]          <= entry;
              end
            end
            entry_address = {entry.addr, 12'h000};
            entry_frame   = entry_address[PA_BITS-1:0];
            entry_rsvd    = ((entry_address & ctx_q.above_maxphyaddr) != '0)
                          | (entry.nx & ~ctx_q.nxe)
                          | ((pass_q.level >= walker_pkg::LEVEL_PML4) & entry.ps)
                          | ((pass_q.level == walker_pkg::LEVEL_PDPT) & entry.ps & (entry_address[29:13] != '0))
                          | ((pass_q.level == walker_pkg::LEVEL_PD)   & entry.ps & (entry_address[20:13] != '0));
            if (mem_rsp_error | mem_rsp_poison) begin
              // 1. machine check on the page-table read
              res_q.status    <= walker_pkg::STATUS_MACHINE_CHECK;
              res_q.mc_addr   <= entry_addr_q;
              res_q.mc_poison <= mem_rsp_poison;
              state_q         <= walker_pkg::S_DONE;
            end else if (!entry.p) begin
              // 2. not present
              res_q.status         <= walker_pkg::STATUS_PAGE_FAULT;
              res_q.error_code     <= access_error_code();
              res_q.fault_level    <= pass_q.level;
              res_q.fault_pte_addr <= entry_addr_q;
              state_q              <= walker_pkg::S_DONE;
            end else if (entry_rsvd) begin
              // 3. reserved bit
              res_q.status         <= walker_pkg::STATUS_PAGE_FAULT;
              res_q.error_code     <= access_error_code() | 5'(1 << walker_pkg::PF_P)
                                    | 5'(1 << walker_pkg::PF_RSVD);
              res_q.fault_level    <= pass_q.level;
              res_q.fault_pte_addr <= entry_addr_q;
              state_q              <= walker_pkg::S_DONE;
            end else begin
              // 4. accumulate the rights
              rights_rw = pass_q.rights.rw & entry.rw;
              rights_us = pass_q.rights.us & entry.us;
              rights_nx = pass_q.rights.nx | entry.nx;
              pass_q.rights.rw <= rights_rw;
              pass_q.rights.us <= rights_us;
              pass_q.rights.nx <= rights_nx;
              phys_mask  = ~ctx_q.above_maxphyaddr[PA_BITS-1:0] & FRAME_MASK;
              entry_leaf = (pass_q.level == walker_pkg::LEVEL_PT)
                         | (((pass_q.level == walker_pkg::LEVEL_PD) | (pass_q.level == walker_pkg::LEVEL_PDPT))
                            & entry.ps);
              rights_fault = (ctx_q.user & ~rights_us)
                           | (is_write & ctx_q.user & ~rights_rw)
                           | (is_write & ~ctx_q.user & ctx_q.wp & ~rights_rw)
                           | (is_fetch & ctx_q.nxe & rights_nx);
              if (!entry_leaf) begin
                // 5. next level
                pass_q.table_addr <= entry_frame & phys_mask;
                pass_q.level      <= pass_q.level - 3'd1;
                entry_addr_q      <= entry_address_of(entry_frame & phys_mask, ctx_q.va, pass_q.level - 3'd1);
                state_q           <= walker_pkg::S_READ_REQ;
              end else if (rights_fault) begin
                // 6. rights fault at the leaf
                res_q.status         <= walker_pkg::STATUS_PAGE_FAULT;
                res_q.error_code     <= access_error_code() | 5'(1 << walker_pkg::PF_P);
                res_q.fault_level    <= pass_q.level;
                res_q.fault_pte_addr <= entry_addr_q;
                state_q              <= walker_pkg::S_DONE;
              end else begin
                // 8. the translation (7. A/D updates first, if any)
                case (pass_q.level)
                  walker_pkg::LEVEL_PD:   leaf_offset_mask = PA_BITS'(64'h1f_ffff);
                  walker_pkg::LEVEL_PDPT: leaf_offset_mask = PA_BITS'(64'h3fff_ffff);
                  default:                leaf_offset_mask = PA_BITS'(64'hfff);
                endcase
                pass_q.leaf.level       <= pass_q.level;
                pass_q.leaf.pa          <= (entry_frame & phys_mask & ~leaf_offset_mask)
                                         | (PA_BITS'(ctx_q.va[29:0]) & leaf_offset_mask);
                pass_q.leaf.global_page <= entry.g;
                pass_q.leaf.dirty       <= entry.d;
                pass_q.leaf.memtype     <= {(pass_q.level == walker_pkg::LEVEL_PT) ? entry.ps
                                                                                   : entry_address[walker_pkg::PTE_PAT_LARGE],
                                            entry.pcd, entry.pwt};
                // Entries needing an A/D update: every level used
                // (start_level down to the leaf) with A = 0, and the leaf of
                // a write with D = 0; the updates go from the top down.
                ad_need  = '0;
                ad_first = 3'd0;
                ad_addr  = '0;
                for (int l = 1; l <= MAX_LEVELS; l++) begin
                  recorded = rsp_pte_value[(l-1)*64 +: 64];
                  if (pass_q.level == 3'(l))
                    ad_need[l] = ~entry.a | (is_write & ~entry.d);
                  else if ((3'(l) > pass_q.level) && (3'(l) <= ctx_q.start_level))
                    ad_need[l] = ~recorded[walker_pkg::PTE_A];
                  if (ad_need[l]) begin
                    ad_first = 3'(l);
                    ad_addr  = (pass_q.level == 3'(l)) ? entry_addr_q : rsp_pte_addr[(l-1)*PA_BITS +: PA_BITS];
                  end
                end
                if (ad_need == '0) begin
                  res_q.status <= walker_pkg::STATUS_OK;
                  state_q      <= walker_pkg::S_DONE;
                end else begin
                  pass_q.ad_pending <= ad_need;
                  pass_q.ad_level   <= ad_first;
                  ad_addr_q         <= ad_addr;
                  state_q           <= walker_pkg::S_LOCK_REQ;
                end
              end
            end
          end
        end

        // ---- 7. locked read-modify-write of one entry --------------------------
        walker_pkg::S_LOCK_REQ: begin
          if (mem_req_ready) state_q <= walker_pkg::S_LOCK_RSP;
        end

        walker_pkg::S_LOCK_RSP: begin
          if (mem_rsp_valid) begin
            res_q.mem_reads <= res_q.mem_reads + 1'b1;
            state_q         <= walker_pkg::S_UNLOCK_REQ;
            ad_entry = 64'd0;
            for (int l = 1; l <= MAX_LEVELS; l++) begin
              if (pass_q.ad_level == 3'(l)) ad_entry = rsp_pte_value[(l-1)*64 +: 64];
            end
            ad_is_leaf = (pass_q.ad_level == pass_q.leaf.level);
            if (mem_rsp_error | mem_rsp_poison) begin
              // Machine check. A failed locked read took no lock (memory
              // answers the error before locking) and its data is not
              // valid: nothing to release, nothing is written.
              res_q.status    <= walker_pkg::STATUS_MACHINE_CHECK;
              res_q.mc_addr   <= ad_addr_q;
              res_q.mc_poison <= mem_rsp_poison;
              state_q         <= walker_pkg::S_DONE;
            end else if (((mem_rsp_data ^ ad_entry) & ~walker_pkg::PTE_AD_MASK) != 64'd0) begin
              // changed under the walker: release unchanged, walk again
              lock_q.wdata   <= mem_rsp_data;
              res_q.restarts <= res_q.restarts + 1'b1;
              lock_q.after   <= ((res_q.restarts + 1'b1) == RESTART_BITS'(RESTART_LIMIT))
                              ? walker_pkg::AFTER_LIVELOCK : walker_pkg::AFTER_RESTART;
            end else begin
              ad_update                     = mem_rsp_data;
              ad_update[walker_pkg::PTE_A]  = 1'b1;
              ad_update[walker_pkg::PTE_D]  = entry.d | (ad_is_leaf & is_write);
              lock_q.wdata <= ad_update;
              lock_q.after <= walker_pkg::AFTER_UPDATE;
              if (ad_is_leaf) pass_q.leaf.dirty <= ad_update[walker_pkg::PTE_D];
            end
          end
        end

        walker_pkg::S_UNLOCK_REQ: begin
          if (mem_req_ready) state_q <= walker_pkg::S_UNLOCK_RSP;
        end

        walker_pkg::S_UNLOCK_RSP: begin
          if (mem_rsp_valid) begin
            // A write's error or poison is not the walk's concern.
            res_q.mem_writes <= res_q.mem_writes + 1'b1;
            // What follows the write. (An if chain: a case on the logic field
            // would need a default that never runs; no value but these three
            // is ever written.)
            if (lock_q.after == walker_pkg::AFTER_UPDATE) begin
              ad_next = 3'd0;
              ad_addr = '0;
              for (int l = 1; l <= MAX_LEVELS; l++) begin
                ad_remaining[l] = pass_q.ad_pending[l-1] & (pass_q.ad_level != 3'(l));
                if (ad_remaining[l]) begin
                  ad_next = 3'(l);
                  ad_addr = rsp_pte_addr[(l-1)*PA_BITS +: PA_BITS];
                end
              end
              pass_q.ad_pending <= ad_remaining;
              if (ad_remaining == '0) begin
                res_q.status <= walker_pkg::STATUS_OK;
                state_q      <= walker_pkg::S_DONE;
              end else begin
                pass_q.ad_level <= ad_next;
                ad_addr_q       <= ad_addr;
                state_q         <= walker_pkg::S_LOCK_REQ;
              end
            end else if (lock_q.after == walker_pkg::AFTER_RESTART) begin
              new_pass    = 1'b1;
              pass_level  = ctx_q.start_level;
              pass_table  = ctx_q.start_table;
              pass_va     = ctx_q.va;
              pass_rights = ctx_q.start_rights;
              state_q     <= walker_pkg::S_READ_REQ;
            end else begin  // AFTER_LIVELOCK
              res_q.status         <= walker_pkg::STATUS_PAGE_FAULT;
              res_q.error_code     <= access_error_code();
              res_q.fault_level    <= pass_q.ad_level;
              res_q.fault_pte_addr <= ad_addr_q;
              state_q              <= walker_pkg::S_DONE;
            end
          end
        end

        // ---- offer the result -------------------------------------------------------
        walker_pkg::S_DONE: begin
          if (rsp_ready) state_q <= walker_pkg::S_IDLE;
        end
      endcase

      // A new pass (the first, or after a restart) starts at the request's
      // start with nothing recorded: no entries, no leaf, no A/D pending.
      if (new_pass) begin
        pass_q              <= '0;
        pass_q.level        <= pass_level;
        pass_q.table_addr   <= pass_table;
        pass_q.rights       <= pass_rights;
        entry_addr_q        <= entry_address_of(pass_table, pass_va, pass_level);
        ad_addr_q           <= '0;
        rsp_pte_valid       <= '0;
        rsp_pte_addr        <= '0;
        rsp_pte_value       <= '0;
      end
    end
  end

  // ==========================================================================
  // Outputs (functions of registers only)
  // ==========================================================================
  assign req_ready     = (state_q == walker_pkg::S_IDLE);

  assign mem_req_valid = (state_q == walker_pkg::S_READ_REQ) | (state_q == walker_pkg::S_LOCK_REQ)
                       | (state_q == walker_pkg::S_UNLOCK_REQ);
  assign mem_rsp_ready = (state_q == walker_pkg::S_READ_RSP) | (state_q == walker_pkg::S_LOCK_RSP)
                       | (state_q == walker_pkg::S_UNLOCK_RSP);
  always_comb begin : memory_request
    mem_req_addr  = (state_q == walker_pkg::S_READ_REQ) ? entry_addr_q : ad_addr_q;
    mem_req_write = (state_q == walker_pkg::S_UNLOCK_REQ);
    mem_req_wdata = lock_q.wdata;
    mem_req_lock  = (state_q == walker_pkg::S_LOCK_REQ) | (state_q == walker_pkg::S_UNLOCK_REQ);
  end

  assign rsp_valid = (state_q == walker_pkg::S_DONE);
  always_comb begin : result
    // The rsp_* ports, each assigned once (no packed copy of the whole
    // result to unpack). Fields that do not belong to the status are 0.
    logic ok;
    logic fault;
    logic mcheck;
    ok     = (res_q.status == walker_pkg::STATUS_OK);
    fault  = (res_q.status == walker_pkg::STATUS_PAGE_FAULT);
    mcheck = ~ok & ~fault;  // STATUS_MACHINE_CHECK (no other value is ever written)
    rsp_status         = res_q.status;
    rsp_pa             = ok ? pass_q.leaf.pa : '0;
    rsp_leaf_level     = ok ? pass_q.leaf.level : 3'd0;
    rsp_rw             = ok & pass_q.rights.rw;
    rsp_us             = ok & pass_q.rights.us;
    rsp_nx             = ok & pass_q.rights.nx & ctx_q.nxe;
    rsp_global         = ok & pass_q.leaf.global_page;
    rsp_dirty          = ok & pass_q.leaf.dirty;
    rsp_memtype        = ok ? pass_q.leaf.memtype : 3'd0;
    rsp_error_code     = fault ? res_q.error_code : 5'd0;
    rsp_fault_level    = fault ? res_q.fault_level : 3'd0;
    rsp_fault_pte_addr = fault ? res_q.fault_pte_addr : '0;
    rsp_mc_addr        = mcheck ? res_q.mc_addr : '0;
    rsp_mc_poison      = mcheck & res_q.mc_poison;
    rsp_mem_reads      = res_q.mem_reads;
    rsp_mem_writes     = res_q.mem_writes;
    rsp_restarts       = res_q.restarts;
  end

  // Per-level views of the recorded entries, for waveforms:
  // level[l].pte_valid / .pte_addr / .pte_value.
  for (genvar l = 1; l <= MAX_LEVELS; l++) begin : level
    /* verilator lint_off UNUSED */
    logic               pte_valid;
    logic [PA_BITS-1:0] pte_addr;
    logic [63:0]        pte_value;
    /* verilator lint_on UNUSED */
    assign pte_valid = rsp_pte_valid[l];
    assign pte_addr  = rsp_pte_addr[(l-1)*PA_BITS +: PA_BITS];
    assign pte_value = rsp_pte_value[(l-1)*64 +: 64];
  end

  // ==========================================================================
  // Assertions
  // ==========================================================================
  // The checker keeps its own view of the protocol (chk_* registers), built
  // from the ports only, and checks the walker against it. In simulation the
  // labels appear in the failure message; in formal they name the property.

  // Most memory operations one walk can make: RESTART_LIMIT passes (the last
  // one ends the walk), each reading every level once and updating each
  // with a locked read and a write.
  localparam int MAX_MEM_OPS = RESTART_LIMIT * 3 * MAX_LEVELS;
  localparam int OPS_BITS = $clog2(MAX_MEM_OPS + 2);

  logic                past_valid_q;
  logic                chk_busy_q;          // a request accepted, no response yet
  logic                chk_mem_pending_q;   // a memory request accepted, no response yet
  logic                chk_lock_held_q;     // a locked read accepted, no release yet
  logic [PA_BITS-1:0]  chk_lock_addr_q;
  logic [63:0]         chk_lock_data_q;     // data of the last locked read
  logic [COUNT_BITS-1:0] chk_reads_q;       // reads / writes seen on the memory port
  logic [COUNT_BITS-1:0] chk_writes_q;
  logic [OPS_BITS-1:0] chk_ops_q;           // memory operations of this walk
  logic                chk_mem_pending_write_q;

  wire req_fire     = req_valid & req_ready;
  wire mem_req_fire = mem_req_valid & mem_req_ready;
  wire mem_rsp_fire = mem_rsp_valid & mem_rsp_ready;
  wire rsp_fire     = rsp_valid & rsp_ready;

  initial past_valid_q = 1'b0;
  always_ff @(posedge clk) past_valid_q <= 1'b1;

  always_ff @(posedge clk) begin : chk_protocol
    if (!rst_n) begin
      chk_busy_q              <= 1'b0;
      chk_mem_pending_q       <= 1'b0;
      chk_mem_pending_write_q <= 1'b0;
      chk_lock_held_q         <= 1'b0;
      chk_lock_addr_q         <= '0;
      chk_lock_data_q         <= 64'd0;
      chk_reads_q             <= '0;
      chk_writes_q            <= '0;
      chk_ops_q               <= '0;
    end else begin
      if (req_fire) begin
        chk_busy_q   <= 1'b1;
        chk_reads_q  <= '0;
        chk_writes_q <= '0;
        chk_ops_q    <= '0;
      end else if (rsp_fire) begin
        chk_busy_q <= 1'b0;
      end
      if (mem_req_fire) begin
        chk_mem_pending_q       <= 1'b1;
        chk_mem_pending_write_q <= mem_req_write;
        chk_ops_q               <= chk_ops_q + 1'b1;
        if (mem_req_lock & ~mem_req_write) begin
          chk_lock_held_q <= 1'b1;
          chk_lock_addr_q <= mem_req_addr;
        end
        if (mem_req_write) chk_lock_held_q <= 1'b0;
      end else if (mem_rsp_fire) begin
        chk_mem_pending_q <= 1'b0;
        if (chk_mem_pending_write_q) chk_writes_q <= chk_writes_q + 1'b1;
        else                         chk_reads_q  <= chk_reads_q + 1'b1;
        if (chk_lock_held_q) chk_lock_data_q <= mem_rsp_data;
        // A locked read answered with an error or poison takes no lock.
        if (chk_lock_held_q && !chk_mem_pending_write_q && (mem_rsp_error || mem_rsp_poison))
          chk_lock_held_q <= 1'b0;
      end
    end
  end

  // The entries recorded by this pass, checked again independently of the
  // datapath above: all present, no reserved bit, the rights allow the
  // access. A/D writes (any locked access) require this.
  logic             chk_pass_ok;
  /* verilator lint_off UNUSEDSIGNAL */
  walker_pkg::pte_t chk_entry;   // loop variable: the entry recorded at level l
  /* verilator lint_on UNUSEDSIGNAL */
  always_comb begin : chk_pass
    logic rw;
    logic us;
    logic nx;
    logic ok;
    logic [walker_pkg::ENTRY_ADDR_BITS-1:0] chk_address;
    // Worked out only where ASSERT_AD_AFTER_CHECKS looks (a locked access
    // offered), so that the Verilated model skips it elsewhere; 1 there.
    rw          = 1'b0;
    us          = 1'b0;
    nx          = 1'b0;
    ok          = 1'b0;
    chk_entry   = '0;
    chk_address = '0;
    chk_pass_ok = 1'b1;
    if (mem_req_valid && mem_req_lock) begin
      rw = ctx_q.start_rights.rw;
      us = ctx_q.start_rights.us;
      nx = ctx_q.start_rights.nx;
      ok = (pass_q.leaf.level != 3'd0);
      for (int l = MAX_LEVELS; l >= 1; l--) begin
        chk_entry   = rsp_pte_value[(l-1)*64 +: 64];
        chk_address = {chk_entry.addr, 12'h000};
        if (rsp_pte_valid[l]) begin
          ok = ok & chk_entry.p
                  & ((chk_address & ctx_q.above_maxphyaddr) == '0)
                  & ~(chk_entry.nx & ~ctx_q.nxe)
                  & ~((3'(l) >= walker_pkg::LEVEL_PML4) & chk_entry.ps)
                  & ~((3'(l) == walker_pkg::LEVEL_PDPT) & chk_entry.ps & (chk_address[29:13] != '0))
                  & ~((3'(l) == walker_pkg::LEVEL_PD) & chk_entry.ps & (chk_address[20:13] != '0));
          rw = rw & chk_entry.rw;
          us = us & chk_entry.us;
          nx = nx | chk_entry.nx;
        end
      end
      ok = ok & ~(ctx_q.user & ~us)
              & ~(is_write & (ctx_q.user | ctx_q.wp) & ~rw)
              & ~(is_fetch & ctx_q.nxe & nx);
      chk_pass_ok = ok;
    end
  end

  // The leaf / the faulting entry is among the entries the response reports.
  logic chk_leaf_recorded;
  logic chk_fault_recorded;
  // (Worked out only while the result is offered, where the assertions
  // look; 0 elsewhere.)
  always_comb begin : chk_recorded
    chk_leaf_recorded  = 1'b0;
    chk_fault_recorded = 1'b0;
    if (rsp_valid) begin
      for (int l = 1; l <= MAX_LEVELS; l++) begin
        if (rsp_leaf_level == 3'(l)) chk_leaf_recorded = rsp_pte_valid[l];
        if (rsp_fault_level == 3'(l))
          chk_fault_recorded = rsp_pte_valid[l] && (rsp_fault_pte_addr == rsp_pte_addr[(l-1)*PA_BITS +: PA_BITS]);
      end
    end
  end

`ifdef FORMAL
  // Formal starts in reset.
  always_comb if (!past_valid_q) assume (!rst_n);
`endif

  // What each channel offered at the last edge without a transfer (the
  // stability rules compare against it), and whether a result was taken
  // there: registers of their own rather than $past/$stable (whose
  // operands a Verilated model samples at every evaluation): these copy a
  // payload only while it waits.
  logic      chk_rst_n_q;          // rst_n at the last edge
  logic      chk_rsp_fire_q;       // a result was taken at the last edge
  logic      chk_req_waiting_q;    // valid and not ready at the last edge
  logic      chk_mem_req_waiting_q;
  logic      chk_mem_rsp_waiting_q;
  logic      chk_rsp_waiting_q;
  walk_req_t chk_req_offered_q;    // what was offered then
  mem_req_t  chk_mem_req_offered_q;
  mem_rsp_t  chk_mem_rsp_offered_q;
  /* verilator lint_off UNUSEDSIGNAL */
  walk_rsp_t chk_rsp_offered_q;    // (ASSERT_RSP_STABLE compares the fields it names)
  /* verilator lint_on UNUSEDSIGNAL */

  always_ff @(posedge clk) begin : chk_history
    chk_rst_n_q           <= rst_n;
    chk_rsp_fire_q        <= rsp_fire;
    chk_req_waiting_q     <= req_valid & ~req_ready;
    chk_mem_req_waiting_q <= mem_req_valid & ~mem_req_ready;
    chk_mem_rsp_waiting_q <= mem_rsp_valid & ~mem_rsp_ready;
    chk_rsp_waiting_q     <= rsp_valid & ~rsp_ready;
    if (req_valid & ~req_ready) begin
      chk_req_offered_q.va          <= req_va;
      chk_req_offered_q.access      <= req_access;
      chk_req_offered_q.user        <= req_user;
      chk_req_offered_q.wp          <= req_wp;
      chk_req_offered_q.nxe         <= req_nxe;
      chk_req_offered_q.levels      <= req_levels;
      chk_req_offered_q.maxphyaddr  <= req_maxphyaddr;
      chk_req_offered_q.start_level <= req_start_level;
      chk_req_offered_q.start_table <= req_start_table;
      chk_req_offered_q.acc.rw      <= req_acc_rw;
      chk_req_offered_q.acc.us      <= req_acc_us;
      chk_req_offered_q.acc.nx      <= req_acc_nx;
      chk_req_offered_q.cr3         <= req_cr3;
    end
    if (mem_req_valid & ~mem_req_ready) begin
      chk_mem_req_offered_q.addr  <= mem_req_addr;
      chk_mem_req_offered_q.write <= mem_req_write;
      chk_mem_req_offered_q.lock  <= mem_req_lock;
      chk_mem_req_offered_q.wdata <= mem_req_wdata;
    end
    if (mem_rsp_valid & ~mem_rsp_ready) begin
      chk_mem_rsp_offered_q.data   <= mem_rsp_data;
      chk_mem_rsp_offered_q.error  <= mem_rsp_error;
      chk_mem_rsp_offered_q.poison <= mem_rsp_poison;
    end
    if (rsp_valid & ~rsp_ready) begin
      chk_rsp_offered_q.status         <= rsp_status;
      chk_rsp_offered_q.pa             <= rsp_pa;
      chk_rsp_offered_q.leaf_level     <= rsp_leaf_level;
      chk_rsp_offered_q.rights.rw      <= rsp_rw;
      chk_rsp_offered_q.rights.us      <= rsp_us;
      chk_rsp_offered_q.rights.nx      <= rsp_nx;
      chk_rsp_offered_q.global_page    <= rsp_global;
      chk_rsp_offered_q.dirty          <= rsp_dirty;
      chk_rsp_offered_q.memtype        <= rsp_memtype;
      chk_rsp_offered_q.error_code     <= rsp_error_code;
      chk_rsp_offered_q.fault_level    <= rsp_fault_level;
      chk_rsp_offered_q.fault_pte_addr <= rsp_fault_pte_addr;
      chk_rsp_offered_q.mc_addr        <= rsp_mc_addr;
      chk_rsp_offered_q.mc_poison      <= rsp_mc_poison;
      chk_rsp_offered_q.pte_valid      <= rsp_pte_valid;
      chk_rsp_offered_q.mem_reads      <= rsp_mem_reads;
      chk_rsp_offered_q.mem_writes     <= rsp_mem_writes;
      chk_rsp_offered_q.restarts       <= rsp_restarts;
      chk_rsp_offered_q.pte_addr       <= rsp_pte_addr;
      chk_rsp_offered_q.pte_value      <= rsp_pte_value;
    end
  end

  // Each rule is checked where its premise holds (if (premise) assert
  // (conclusion), the same property as assert (!premise || conclusion)),
  // so that the Verilated model evaluates a conclusion only when it matters.
  always_ff @(posedge clk) begin : properties
    if (rst_n) begin
      // ---- environment rules (assumed by formal, checked in simulation) ----
      if (req_valid)
        `WALKER_ASSUME(ASSUME_REQ_LEGAL,
                       (req_levels >= 3'd4) && (32'(req_levels) <= MAX_LEVELS)
                         && (req_start_level >= 3'd1) && (req_start_level <= req_levels)
                         && (req_maxphyaddr >= 6'd36) && (32'(req_maxphyaddr) <= PA_BITS)
                         && (req_access != 2'd3),
                       "illegal walk request (levels, start_level, maxphyaddr or access)")
      if (mem_rsp_valid)
        `WALKER_ASSUME(ASSUME_MEM_RSP_ONLY_WHEN_PENDING, chk_mem_pending_q,
                       "memory response without a memory request")

      // ---- the walker's own rules ----
      if (mem_req_valid) begin
        `WALKER_ASSERT(ASSERT_NO_MEM_REQ_WHILE_IDLE, chk_busy_q,
                       "memory request while no walk is in progress")
        `WALKER_ASSERT(ASSERT_ONE_MEM_REQ_AT_A_TIME, !chk_mem_pending_q,
                       "memory request while one is outstanding")
        `WALKER_ASSERT(ASSERT_MEM_ADDR_ALIGNED, mem_req_addr[2:0] == 3'd0,
                       "memory request not 8-byte aligned")
        if (mem_req_write) begin
          `WALKER_ASSERT(ASSERT_WRITE_LOCKED,
                         mem_req_lock && chk_lock_held_q && (mem_req_addr == chk_lock_addr_q),
                         "write without the lock on its address")
          `WALKER_ASSERT(ASSERT_WRITE_ONLY_SETS_AD,
                         (((mem_req_wdata ^ chk_lock_data_q) & ~walker_pkg::PTE_AD_MASK) == 64'd0)
                           && ((chk_lock_data_q & ~mem_req_wdata) == 64'd0),
                         "write changes more than A/D of the value read under the lock")
        end
        if (mem_req_lock && !mem_req_write)
          `WALKER_ASSERT(ASSERT_NO_NESTED_LOCK, !chk_lock_held_q,
                         "locked read while holding the lock")
        if (mem_req_lock)
          `WALKER_ASSERT(ASSERT_AD_AFTER_CHECKS, chk_pass_ok,
                         "A/D update before the walk passed its permission checks")
      end
      if (chk_mem_pending_q)
        `WALKER_ASSERT(ASSERT_MEM_RSP_ACCEPTED, mem_rsp_ready,
                       "memory response not accepted while one is outstanding")
      if (req_ready)
        `WALKER_ASSERT(ASSERT_NO_REQ_WHILE_BUSY, !chk_busy_q,
                       "ready for a new request before responding to the last one")
      if (chk_busy_q)
        `WALKER_ASSERT(ASSERT_NO_STALL, mem_req_valid || chk_mem_pending_q || rsp_valid,
                       "walk in progress but nothing offered and nothing awaited")
      `WALKER_ASSERT(ASSERT_MEM_OPS_BOUNDED, 32'(chk_ops_q) <= MAX_MEM_OPS,
                     "walk exceeded its bound of memory operations")
      if (rsp_valid) begin
        `WALKER_ASSERT(ASSERT_RSP_ONLY_WHEN_BUSY, chk_busy_q,
                       "response without a request")
        `WALKER_ASSERT(ASSERT_LOCK_RELEASED, !chk_lock_held_q,
                       "walk ended holding the lock")
        `WALKER_ASSERT(ASSERT_STATUS_LEGAL, rsp_status != 2'd3,
                       "illegal status")
        if (rsp_status == walker_pkg::STATUS_OK)
          `WALKER_ASSERT(ASSERT_OK_EXCLUSIVE,
                         (rsp_error_code == 5'd0) && (rsp_fault_level == 3'd0)
                           && (rsp_fault_pte_addr == '0) && (rsp_mc_addr == '0) && !rsp_mc_poison
                           && (rsp_leaf_level >= 3'd1) && (rsp_leaf_level <= 3'd3)
                           && chk_leaf_recorded,
                         "success carries fault or machine-check fields")
        if (rsp_status == walker_pkg::STATUS_PAGE_FAULT)
          `WALKER_ASSERT(ASSERT_FAULT_EXCLUSIVE,
                         (rsp_pa == '0) && (rsp_leaf_level == 3'd0) && !rsp_rw && !rsp_us
                           && !rsp_nx && !rsp_global && !rsp_dirty && (rsp_memtype == 3'd0)
                           && (rsp_mc_addr == '0) && !rsp_mc_poison
                           && (rsp_fault_level != 3'd0) && chk_fault_recorded,
                         "page fault carries translation or machine-check fields")
        if (rsp_status == walker_pkg::STATUS_MACHINE_CHECK)
          `WALKER_ASSERT(ASSERT_MCHECK_EXCLUSIVE,
                         (rsp_pa == '0) && (rsp_leaf_level == 3'd0) && !rsp_rw && !rsp_us
                           && !rsp_nx && !rsp_global && !rsp_dirty && (rsp_memtype == 3'd0)
                           && (rsp_error_code == 5'd0) && (rsp_fault_level == 3'd0)
                           && (rsp_fault_pte_addr == '0),
                         "machine check carries translation or fault fields")
        `WALKER_ASSERT(ASSERT_COUNTS_MATCH_PORT,
                       (rsp_mem_reads == chk_reads_q) && (rsp_mem_writes == chk_writes_q),
                       "reported read/write counts differ from the memory port's traffic")
      end
      `WALKER_ASSERT(ASSERT_RESTARTS_BOUNDED, 32'(rsp_restarts) <= RESTART_LIMIT,
                     "more restarts than the limit")
    end

    if (past_valid_q && rst_n && chk_rst_n_q) begin
      // ---- handshake stability: still offered, unchanged ----
      if (chk_req_waiting_q)
        `WALKER_ASSUME(ASSUME_REQ_STABLE,
                       req_valid && (req_va == chk_req_offered_q.va)
                         && (req_access == chk_req_offered_q.access)
                         && (req_user == chk_req_offered_q.user)
                         && (req_wp == chk_req_offered_q.wp)
                         && (req_nxe == chk_req_offered_q.nxe)
                         && (req_levels == chk_req_offered_q.levels)
                         && (req_maxphyaddr == chk_req_offered_q.maxphyaddr)
                         && (req_start_level == chk_req_offered_q.start_level)
                         && (req_start_table == chk_req_offered_q.start_table)
                         && (req_acc_rw == chk_req_offered_q.acc.rw)
                         && (req_acc_us == chk_req_offered_q.acc.us)
                         && (req_acc_nx == chk_req_offered_q.acc.nx)
                         && (req_cr3 == chk_req_offered_q.cr3),
                       "request withdrawn or changed before it was accepted")
      if (chk_mem_rsp_waiting_q)
        `WALKER_ASSUME(ASSUME_MEM_RSP_STABLE,
                       mem_rsp_valid && (mem_rsp_data == chk_mem_rsp_offered_q.data)
                         && (mem_rsp_error == chk_mem_rsp_offered_q.error)
                         && (mem_rsp_poison == chk_mem_rsp_offered_q.poison),
                       "memory response withdrawn or changed before it was accepted")
      if (chk_mem_req_waiting_q)
        `WALKER_ASSERT(ASSERT_MEM_REQ_STABLE,
                       mem_req_valid && (mem_req_addr == chk_mem_req_offered_q.addr)
                         && (mem_req_write == chk_mem_req_offered_q.write)
                         && (mem_req_lock == chk_mem_req_offered_q.lock)
                         && (mem_req_wdata == chk_mem_req_offered_q.wdata),
                       "memory request withdrawn or changed before it was accepted")
      if (chk_rsp_waiting_q)
        `WALKER_ASSERT(ASSERT_RSP_STABLE,
                       rsp_valid && (rsp_status == chk_rsp_offered_q.status)
                         && (rsp_pa == chk_rsp_offered_q.pa)
                         && (rsp_leaf_level == chk_rsp_offered_q.leaf_level)
                         && (rsp_error_code == chk_rsp_offered_q.error_code)
                         && (rsp_fault_level == chk_rsp_offered_q.fault_level)
                         && (rsp_fault_pte_addr == chk_rsp_offered_q.fault_pte_addr)
                         && (rsp_mc_addr == chk_rsp_offered_q.mc_addr)
                         && (rsp_pte_valid == chk_rsp_offered_q.pte_valid)
                         && (rsp_pte_addr == chk_rsp_offered_q.pte_addr)
                         && (rsp_pte_value == chk_rsp_offered_q.pte_value)
                         && (rsp_mem_reads == chk_rsp_offered_q.mem_reads)
                         && (rsp_mem_writes == chk_rsp_offered_q.mem_writes),
                       "response withdrawn or changed before it was accepted")
      if (chk_rsp_fire_q)
        `WALKER_ASSERT(ASSERT_ONE_RSP_PER_REQ, !rsp_valid,
                       "second response for one request")
    end
  end

endmodule

`default_nettype wire
