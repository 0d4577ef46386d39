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
// Assertions (ASSERT_*/ASSUME_* labels below) are checked by Verilator with
// --assert in every simulation and proved to a bound by yosys-smtbmc
// (rtl/formal/). ASSUME_* are the rules the environment must keep; in
// simulation they are checked like assertions.

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
  // Width of every physical address port; req_maxphyaddr must not exceed it.
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
  typedef walker_pkg::state_e        state_e;
  typedef walker_pkg::status_e       status_e;
  typedef walker_pkg::after_unlock_e after_unlock_e;

  // ==========================================================================
  // State
  // ==========================================================================
  state_e                      state_q;

  // The request, latched when accepted.
  logic [VA_BITS-1:0]          va_q;
  logic [1:0]                  access_q;        // walker_pkg::access_e
  logic                        user_q;
  logic                        wp_q;
  logic                        nxe_q;
  logic [walker_pkg::ENTRY_ADDR_BITS-1:0] above_maxphyaddr_q;  // entry bits 51..maxphyaddr
  logic [2:0]                  start_level_q;
  logic [PA_BITS-1:0]          start_table_q;   // root, or the PWC table
  logic                        start_rw_q;
  logic                        start_us_q;
  logic                        start_nx_q;

  // The current pass.
  logic [2:0]                  level_q;         // level of the entry being read
  logic [PA_BITS-1:0]          table_q;         // table holding that entry
  logic                        acc_rw_q;        // rights accumulated so far
  logic                        acc_us_q;
  logic                        acc_nx_q;
  logic [MAX_LEVELS:1]              pte_valid_q;
  logic [MAX_LEVELS*PA_BITS-1:0]    pte_addr_q;    // level l at [(l-1)*PA_BITS +: PA_BITS]
  logic [MAX_LEVELS*64-1:0]         pte_value_q;   // level l at [(l-1)*64 +: 64]
  logic [2:0]                  leaf_level_q;

  // Accessed/Dirty phase.
  logic [MAX_LEVELS:1]         ad_pending_q;    // entries still needing an update
  logic [2:0]                  ad_level_q;      // the entry being updated
  logic [63:0]                 wdata_q;         // data of the unlocking write
  after_unlock_e               after_q;

  // Result.
  status_e                     status_q;
  logic [PA_BITS-1:0]          pa_q;
  logic                        global_q;
  logic                        dirty_q;
  logic [2:0]                  memtype_q;
  logic [4:0]                  error_code_q;
  logic [2:0]                  fault_level_q;
  logic [PA_BITS-1:0]          fault_pte_addr_q;
  logic [PA_BITS-1:0]          mc_addr_q;
  logic                        mc_poison_q;
  logic [COUNT_BITS-1:0]       mem_reads_q;
  logic [COUNT_BITS-1:0]       mem_writes_q;
  logic [RESTART_BITS-1:0]     restarts_q;

  // ==========================================================================
  // Combinational datapath
  // ==========================================================================

  // MAXPHYADDR as masks, computed once per request (one shifter): the entry
  // bits 51..maxphyaddr (reserved), and the physical-address field of an
  // entry or of CR3, bits maxphyaddr-1..12.
  localparam logic [PA_BITS-1:0] FRAME_MASK = {{(PA_BITS-12){1'b1}}, 12'h000};
  logic [walker_pkg::ENTRY_ADDR_BITS-1:0] req_above_maxphyaddr;
  logic [PA_BITS-1:0] req_phys_mask;
  logic [PA_BITS-1:0] phys_mask;
  assign req_above_maxphyaddr = {walker_pkg::ENTRY_ADDR_BITS{1'b1}} << req_maxphyaddr;
  assign req_phys_mask = ~req_above_maxphyaddr[PA_BITS-1:0] & FRAME_MASK;
  assign phys_mask     = ~above_maxphyaddr_q[PA_BITS-1:0] & FRAME_MASK;

  // Where a pass starts: a full walk starts at the root (CR3), a walk that a
  // paging-structure-cache hit shortened at the table it names.
  logic [PA_BITS-1:0] req_first_table;
  assign req_first_table = (req_start_level == req_levels)
                         ? (req_cr3[PA_BITS-1:0] & req_phys_mask)
                         : (req_start_table & req_phys_mask);

  // The entry of the current level: table + 8 * index(va, level).
  logic [8:0]         entry_index;
  logic [PA_BITS-1:0] entry_addr;
  always_comb begin
    entry_index = 9'd0;
    for (int l = 1; l <= MAX_LEVELS; l++) begin
      if (level_q == 3'(l)) entry_index = va_q[12 + 9 * (l - 1) +: 9];
    end
  end
  assign entry_addr = table_q + PA_BITS'({entry_index, 3'b000});

  // Checks of the entry arriving on the memory response (valid in walker_pkg::S_READ_RSP).
  logic [63:0] entry;
  logic        entry_failed;     // error or poison: machine check
  logic        entry_present;
  logic        entry_rsvd;       // reserved bit or misaligned huge frame
  logic        entry_leaf;
  logic        entry_rw;         // rights after accumulating this entry
  logic        entry_us;
  logic        entry_nx;
  logic        rights_fault;
  logic        is_write;
  logic        is_fetch;
  assign entry         = mem_rsp_data;
  assign entry_failed  = mem_rsp_error | mem_rsp_poison;
  assign entry_present = entry[walker_pkg::PTE_P];
  assign is_write      = (access_q == walker_pkg::ACCESS_WRITE);
  assign is_fetch      = (access_q == walker_pkg::ACCESS_FETCH);

  always_comb begin
    entry_rsvd = ((entry[walker_pkg::ENTRY_ADDR_BITS-1:0] & above_maxphyaddr_q) != '0)
               | (entry[walker_pkg::PTE_XD] & ~nxe_q)
               | ((level_q >= walker_pkg::LEVEL_PML4) & entry[walker_pkg::PTE_PS])
               | ((level_q == walker_pkg::LEVEL_PDPT) & entry[walker_pkg::PTE_PS] & (entry[29:13] != '0))
               | ((level_q == walker_pkg::LEVEL_PD)   & entry[walker_pkg::PTE_PS] & (entry[20:13] != '0));
  end

  assign entry_leaf = (level_q == walker_pkg::LEVEL_PT)
                    | (((level_q == walker_pkg::LEVEL_PD) | (level_q == walker_pkg::LEVEL_PDPT)) & entry[walker_pkg::PTE_PS]);
  assign entry_rw   = acc_rw_q & entry[walker_pkg::PTE_RW];
  assign entry_us   = acc_us_q & entry[walker_pkg::PTE_US];
  assign entry_nx   = acc_nx_q | entry[walker_pkg::PTE_XD];

`ifdef INJECT_BUG_AD_BEFORE_CHECKS
  // Deliberate bug for the formal self-test: a write by a supervisor with
  // CR0.WP to a read-only page is let through (and its A/D bits written).
  assign rights_fault = (user_q & ~entry_us)
                      | (is_write & user_q & ~entry_rw)
                      | (is_fetch & nxe_q & entry_nx);
`else
  assign rights_fault = (user_q & ~entry_us)
                      | (is_write & user_q & ~entry_rw)
                      | (is_write & ~user_q & wp_q & ~entry_rw)
                      | (is_fetch & nxe_q & entry_nx);
`endif

  // Error-code bits the access contributes (P and RSVD are added per fault).
  logic [4:0] access_error_code;
  always_comb begin
    access_error_code        = 5'd0;
    access_error_code[walker_pkg::PF_W]  = is_write;
    access_error_code[walker_pkg::PF_U]  = user_q;
    access_error_code[walker_pkg::PF_I]  = is_fetch & nxe_q;
  end

  // The translation when the arriving entry is the leaf.
  logic [PA_BITS-1:0] leaf_offset_mask;
  logic [PA_BITS-1:0] leaf_pa;
  logic [2:0]         leaf_memtype;
  always_comb begin
    case (level_q)
      walker_pkg::LEVEL_PD:   leaf_offset_mask = PA_BITS'(64'h1f_ffff);
      walker_pkg::LEVEL_PDPT: leaf_offset_mask = PA_BITS'(64'h3fff_ffff);
      default:    leaf_offset_mask = PA_BITS'(64'hfff);
    endcase
  end
  assign leaf_pa = (entry[PA_BITS-1:0] & phys_mask & ~leaf_offset_mask)
                 | (PA_BITS'(va_q[29:0]) & leaf_offset_mask);
  assign leaf_memtype = {(level_q == walker_pkg::LEVEL_PT) ? entry[walker_pkg::PTE_PS] : entry[walker_pkg::PTE_PAT_LARGE],
                         entry[walker_pkg::PTE_PCD], entry[walker_pkg::PTE_PWT]};

  // Entries needing an A/D update once the arriving entry proved to be the
  // leaf: every level used (start_level down to the leaf) with A = 0, and
  // the leaf of a write with D = 0.
  logic [MAX_LEVELS:1] ad_need;
  always_comb begin
    for (int l = 1; l <= MAX_LEVELS; l++) begin
      if (level_q == 3'(l))
        ad_need[l] = ~entry[walker_pkg::PTE_A] | (is_write & ~entry[walker_pkg::PTE_D]);
      else if ((3'(l) > level_q) && (3'(l) <= start_level_q))
        ad_need[l] = ~pte_value_q[(l-1)*64 + walker_pkg::PTE_A];
      else
        ad_need[l] = 1'b0;
    end
  end

  // Highest level of a mask (the A/D updates go from the top down).
  logic [2:0]          ad_first;       // of ad_need
  logic [MAX_LEVELS:1] ad_remaining;   // ad_pending_q without the current one
  logic [2:0]          ad_next;        // of ad_remaining
  always_comb begin
    ad_first = 3'd0;
    ad_next  = 3'd0;
    for (int l = 1; l <= MAX_LEVELS; l++) begin
      ad_remaining[l] = ad_pending_q[l] & (ad_level_q != 3'(l));
      if (ad_need[l])      ad_first = 3'(l);
      if (ad_remaining[l]) ad_next  = 3'(l);
    end
  end

  // The locked read: did the entry change (bits other than A and D)?
  localparam logic [63:0] AD_BITS = (64'd1 << walker_pkg::PTE_A) | (64'd1 << walker_pkg::PTE_D);
  logic [63:0] ad_entry;        // the value this pass used for ad_level_q
  logic [PA_BITS-1:0] ad_addr;
  logic        ad_changed;
  logic        ad_is_leaf;
  logic [63:0] ad_update;       // the value read, with A (and D) set
  always_comb begin
    ad_entry = 64'd0;
    ad_addr  = '0;
    for (int l = 1; l <= MAX_LEVELS; l++) begin
      if (ad_level_q == 3'(l)) begin
        ad_entry = pte_value_q[(l-1)*64 +: 64];
        ad_addr  = pte_addr_q[(l-1)*PA_BITS +: PA_BITS];
      end
    end
  end
  assign ad_changed = ((mem_rsp_data ^ ad_entry) & ~AD_BITS) != 64'd0;
  assign ad_is_leaf = (ad_level_q == leaf_level_q);
  assign ad_update  = mem_rsp_data | (64'd1 << walker_pkg::PTE_A)
                    | ((ad_is_leaf & is_write) ? (64'd1 << walker_pkg::PTE_D) : 64'd0);

  logic restart_limit_hit;
  assign restart_limit_hit = (restarts_q + 1'b1) == RESTART_BITS'(RESTART_LIMIT);

  // ==========================================================================
  // State machine
  // ==========================================================================
  always_ff @(posedge clk) begin
    if (!rst_n) begin
      state_q          <= walker_pkg::S_IDLE;
      va_q             <= '0;
      access_q         <= walker_pkg::ACCESS_READ;
      user_q           <= 1'b0;
      wp_q             <= 1'b0;
      nxe_q            <= 1'b0;
      above_maxphyaddr_q <= '0;
      start_level_q    <= 3'd0;
      start_table_q    <= '0;
      start_rw_q       <= 1'b0;
      start_us_q       <= 1'b0;
      start_nx_q       <= 1'b0;
      level_q          <= 3'd0;
      table_q          <= '0;
      acc_rw_q         <= 1'b0;
      acc_us_q         <= 1'b0;
      acc_nx_q         <= 1'b0;
      pte_valid_q      <= '0;
      pte_addr_q       <= '0;
      pte_value_q      <= '0;
      leaf_level_q     <= 3'd0;
      ad_pending_q     <= '0;
      ad_level_q       <= 3'd0;
      wdata_q          <= 64'd0;
      after_q          <= walker_pkg::AFTER_UPDATE;
      status_q         <= walker_pkg::STATUS_OK;
      pa_q             <= '0;
      global_q         <= 1'b0;
      dirty_q          <= 1'b0;
      memtype_q        <= 3'd0;
      error_code_q     <= 5'd0;
      fault_level_q    <= 3'd0;
      fault_pte_addr_q <= '0;
      mc_addr_q        <= '0;
      mc_poison_q      <= 1'b0;
      mem_reads_q      <= '0;
      mem_writes_q     <= '0;
      restarts_q       <= '0;
    end else begin
      unique case (state_q)
        // ---- accept a request; start the first pass ------------------------
        walker_pkg::S_IDLE: begin
          if (req_valid) begin
            va_q             <= req_va;
            access_q         <= req_access;
            user_q           <= req_user;
            wp_q             <= req_wp;
            nxe_q            <= req_nxe;
            above_maxphyaddr_q <= req_above_maxphyaddr;
            start_level_q    <= req_start_level;
            start_table_q    <= req_first_table;
            start_rw_q       <= req_acc_rw;
            start_us_q       <= req_acc_us;
            start_nx_q       <= req_acc_nx;
            level_q          <= req_start_level;
            table_q          <= req_first_table;
            acc_rw_q         <= req_acc_rw;
            acc_us_q         <= req_acc_us;
            acc_nx_q         <= req_acc_nx;
            pte_valid_q      <= '0;
            pte_addr_q       <= '0;
            pte_value_q      <= '0;
            leaf_level_q     <= 3'd0;
            ad_pending_q     <= '0;
            ad_level_q       <= 3'd0;
            status_q         <= walker_pkg::STATUS_OK;
            pa_q             <= '0;
            global_q         <= 1'b0;
            dirty_q          <= 1'b0;
            memtype_q        <= 3'd0;
            error_code_q     <= 5'd0;
            fault_level_q    <= 3'd0;
            fault_pte_addr_q <= '0;
            mc_addr_q        <= '0;
            mc_poison_q      <= 1'b0;
            mem_reads_q      <= '0;
            mem_writes_q     <= '0;
            restarts_q       <= '0;
            state_q          <= walker_pkg::S_READ_REQ;
          end
        end

        // ---- read the entry of the current level ------------------------------
        walker_pkg::S_READ_REQ: begin
          if (mem_req_ready) state_q <= walker_pkg::S_READ_RSP;
        end

        walker_pkg::S_READ_RSP: begin
          if (mem_rsp_valid) begin
            mem_reads_q             <= mem_reads_q + 1'b1;
            for (int l = 1; l <= MAX_LEVELS; l++) begin
              if (level_q == 3'(l)) begin
                pte_valid_q[l] <= 1'b1;
                pte_addr_q[(l-1)*PA_BITS +: PA_BITS]  <= entry_addr;
                pte_value_q[(l-1)*64 +: 64] <= entry;
              end
            end
            if (entry_failed) begin
              // 1. machine check on the page-table read
              status_q    <= walker_pkg::STATUS_MACHINE_CHECK;
              mc_addr_q   <= entry_addr;
              mc_poison_q <= mem_rsp_poison;
              state_q     <= walker_pkg::S_DONE;
            end else if (!entry_present) begin
              // 2. not present
              status_q         <= walker_pkg::STATUS_PAGE_FAULT;
              error_code_q     <= access_error_code;
              fault_level_q    <= level_q;
              fault_pte_addr_q <= entry_addr;
              state_q          <= walker_pkg::S_DONE;
            end else if (entry_rsvd) begin
              // 3. reserved bit
              status_q         <= walker_pkg::STATUS_PAGE_FAULT;
              error_code_q     <= access_error_code | 5'(1 << walker_pkg::PF_P) | 5'(1 << walker_pkg::PF_RSVD);
              fault_level_q    <= level_q;
              fault_pte_addr_q <= entry_addr;
              state_q          <= walker_pkg::S_DONE;
            end else begin
              // 4. accumulate the rights
              acc_rw_q <= entry_rw;
              acc_us_q <= entry_us;
              acc_nx_q <= entry_nx;
              if (!entry_leaf) begin
                // 5. next level
                table_q <= entry[PA_BITS-1:0] & phys_mask;
                level_q <= level_q - 3'd1;
                state_q <= walker_pkg::S_READ_REQ;
              end else if (rights_fault) begin
                // 6. rights fault at the leaf
                status_q         <= walker_pkg::STATUS_PAGE_FAULT;
                error_code_q     <= access_error_code | 5'(1 << walker_pkg::PF_P);
                fault_level_q    <= level_q;
                fault_pte_addr_q <= entry_addr;
                state_q          <= walker_pkg::S_DONE;
              end else begin
                // 8. the translation (7. A/D updates first, if any)
                leaf_level_q <= level_q;
                pa_q         <= leaf_pa;
                global_q     <= entry[walker_pkg::PTE_G];
                dirty_q      <= entry[walker_pkg::PTE_D];
                memtype_q    <= leaf_memtype;
                if (ad_need == '0) begin
                  status_q <= walker_pkg::STATUS_OK;
                  state_q  <= walker_pkg::S_DONE;
                end else begin
                  ad_pending_q <= ad_need;
                  ad_level_q   <= ad_first;
                  state_q      <= walker_pkg::S_LOCK_REQ;
                end
              end
            end
          end
        end

        // ---- 7. locked read-modify-write of one entry ----------------------------
        walker_pkg::S_LOCK_REQ: begin
          if (mem_req_ready) state_q <= walker_pkg::S_LOCK_RSP;
        end

        walker_pkg::S_LOCK_RSP: begin
          if (mem_rsp_valid) begin
            mem_reads_q <= mem_reads_q + 1'b1;
            state_q     <= walker_pkg::S_UNLOCK_REQ;
            if (entry_failed) begin
              // Machine check. A failed locked read took no lock (memory
              // answers the error before locking) and its data is not
              // valid: nothing to release, nothing is written.
              status_q    <= walker_pkg::STATUS_MACHINE_CHECK;
              mc_addr_q   <= ad_addr;
              mc_poison_q <= mem_rsp_poison;
              state_q     <= walker_pkg::S_DONE;
            end else if (ad_changed) begin
              // changed under the walker: release unchanged, walk again
              wdata_q    <= mem_rsp_data;
              restarts_q <= restarts_q + 1'b1;
              after_q    <= restart_limit_hit ? walker_pkg::AFTER_LIVELOCK : walker_pkg::AFTER_RESTART;
            end else begin
              wdata_q <= ad_update;
              after_q <= walker_pkg::AFTER_UPDATE;
              if (ad_is_leaf) dirty_q <= ad_update[walker_pkg::PTE_D];
            end
          end
        end

        walker_pkg::S_UNLOCK_REQ: begin
          if (mem_req_ready) state_q <= walker_pkg::S_UNLOCK_RSP;
        end

        walker_pkg::S_UNLOCK_RSP: begin
          if (mem_rsp_valid) begin
            // A write's error or poison is not the walk's concern.
            mem_writes_q <= mem_writes_q + 1'b1;
            unique case (after_q)
              walker_pkg::AFTER_UPDATE: begin
                ad_pending_q <= ad_remaining;
                if (ad_remaining == '0) begin
                  status_q <= walker_pkg::STATUS_OK;
                  state_q  <= walker_pkg::S_DONE;
                end else begin
                  ad_level_q <= ad_next;
                  state_q    <= walker_pkg::S_LOCK_REQ;
                end
              end
              walker_pkg::AFTER_RESTART: begin
                level_q      <= start_level_q;
                table_q      <= start_table_q;
                acc_rw_q     <= start_rw_q;
                acc_us_q     <= start_us_q;
                acc_nx_q     <= start_nx_q;
                pte_valid_q  <= '0;
                pte_addr_q   <= '0;
                pte_value_q  <= '0;
                leaf_level_q <= 3'd0;
                ad_pending_q <= '0;
                ad_level_q   <= 3'd0;
                pa_q         <= '0;
                global_q     <= 1'b0;
                dirty_q      <= 1'b0;
                memtype_q    <= 3'd0;
                state_q      <= walker_pkg::S_READ_REQ;
              end
              walker_pkg::AFTER_LIVELOCK: begin
                status_q         <= walker_pkg::STATUS_PAGE_FAULT;
                error_code_q     <= access_error_code;
                fault_level_q    <= ad_level_q;
                fault_pte_addr_q <= ad_addr;
                state_q          <= walker_pkg::S_DONE;
              end
            endcase
          end
        end

        // ---- offer the result ---------------------------------------------------------
        walker_pkg::S_DONE: begin
          if (rsp_ready) state_q <= walker_pkg::S_IDLE;
        end
      endcase
    end
  end

  // ==========================================================================
  // Outputs (functions of registers only)
  // ==========================================================================
  logic is_ok;
  logic is_fault;
  logic is_mcheck;
  assign is_ok     = (status_q == walker_pkg::STATUS_OK);
  assign is_fault  = (status_q == walker_pkg::STATUS_PAGE_FAULT);
  assign is_mcheck = (status_q == walker_pkg::STATUS_MACHINE_CHECK);

  assign req_ready     = (state_q == walker_pkg::S_IDLE);

  assign mem_req_valid = (state_q == walker_pkg::S_READ_REQ) | (state_q == walker_pkg::S_LOCK_REQ)
                       | (state_q == walker_pkg::S_UNLOCK_REQ);
  assign mem_req_addr  = (state_q == walker_pkg::S_READ_REQ) ? entry_addr : ad_addr;
  assign mem_req_write = (state_q == walker_pkg::S_UNLOCK_REQ);
  assign mem_req_wdata = wdata_q;
`ifdef INJECT_BUG_UNLOCKED_WRITE
  // Deliberate bug for the formal self-test: the releasing write forgets the lock.
  assign mem_req_lock  = (state_q == walker_pkg::S_LOCK_REQ);
`else
  assign mem_req_lock  = (state_q == walker_pkg::S_LOCK_REQ) | (state_q == walker_pkg::S_UNLOCK_REQ);
`endif
  assign mem_rsp_ready = (state_q == walker_pkg::S_READ_RSP) | (state_q == walker_pkg::S_LOCK_RSP)
                       | (state_q == walker_pkg::S_UNLOCK_RSP);

  assign rsp_valid          = (state_q == walker_pkg::S_DONE);
  assign rsp_status         = status_q;
  assign rsp_pa             = is_ok ? pa_q : '0;
  assign rsp_leaf_level     = is_ok ? leaf_level_q : 3'd0;
  assign rsp_rw             = is_ok & acc_rw_q;
  assign rsp_us             = is_ok & acc_us_q;
  assign rsp_nx             = is_ok & acc_nx_q & nxe_q;
  assign rsp_global         = is_ok & global_q;
  assign rsp_dirty          = is_ok & dirty_q;
  assign rsp_memtype        = is_ok ? memtype_q : 3'd0;
  assign rsp_error_code     = is_fault ? error_code_q : 5'd0;
  assign rsp_fault_level    = is_fault ? fault_level_q : 3'd0;
  assign rsp_fault_pte_addr = is_fault ? fault_pte_addr_q : '0;
  assign rsp_mc_addr        = is_mcheck ? mc_addr_q : '0;
  assign rsp_mc_poison      = is_mcheck & mc_poison_q;
  assign rsp_pte_valid      = pte_valid_q;
  assign rsp_pte_addr       = pte_addr_q;
  assign rsp_pte_value      = pte_value_q;
  assign rsp_mem_reads      = mem_reads_q;
  assign rsp_mem_writes     = mem_writes_q;
  assign rsp_restarts       = restarts_q;

  // Per-level views of the recorded entries, for waveforms:
  // level[l].pte_valid / .pte_addr / .pte_value.
  for (genvar l = 1; l <= MAX_LEVELS; l++) begin : level
    /* verilator lint_off UNUSED */
    logic               pte_valid;
    logic [PA_BITS-1:0] pte_addr;
    logic [63:0]        pte_value;
    /* verilator lint_on UNUSED */
    assign pte_valid = pte_valid_q[l];
    assign pte_addr  = pte_addr_q[(l-1)*PA_BITS +: PA_BITS];
    assign pte_value = pte_value_q[(l-1)*64 +: 64];
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
  logic                chk_req_levels_ok;
  logic                chk_mem_pending_write_q;

  wire req_fire     = req_valid & req_ready;
  wire mem_req_fire = mem_req_valid & mem_req_ready;
  wire mem_rsp_fire = mem_rsp_valid & mem_rsp_ready;
  wire rsp_fire     = rsp_valid & rsp_ready;

  initial past_valid_q = 1'b0;
  always_ff @(posedge clk) past_valid_q <= 1'b1;

  always_ff @(posedge clk) begin
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
  logic chk_pass_ok;
  always_comb begin
    logic rw;
    logic us;
    logic nx;
    logic ok;
    logic [63:0] e;
    rw = start_rw_q;
    us = start_us_q;
    nx = start_nx_q;
    e = 64'd0;
    ok = (leaf_level_q != 3'd0);
    for (int l = MAX_LEVELS; l >= 1; l--) begin
      if (pte_valid_q[l]) begin
        e = pte_value_q[(l-1)*64 +: 64];
        ok = ok & e[walker_pkg::PTE_P]
                & ((e[walker_pkg::ENTRY_ADDR_BITS-1:0] & above_maxphyaddr_q) == '0)
                & ~(e[walker_pkg::PTE_XD] & ~nxe_q)
                & ~((3'(l) >= walker_pkg::LEVEL_PML4) & e[walker_pkg::PTE_PS])
                & ~((3'(l) == walker_pkg::LEVEL_PDPT) & e[walker_pkg::PTE_PS] & (e[29:13] != '0))
                & ~((3'(l) == walker_pkg::LEVEL_PD) & e[walker_pkg::PTE_PS] & (e[20:13] != '0));
        rw = rw & e[walker_pkg::PTE_RW];
        us = us & e[walker_pkg::PTE_US];
        nx = nx | e[walker_pkg::PTE_XD];
      end
    end
    ok = ok & ~(user_q & ~us)
            & ~(is_write & (user_q | wp_q) & ~rw)
            & ~(is_fetch & nxe_q & nx);
    chk_pass_ok = ok;
  end

  always_comb begin
    chk_req_levels_ok = (req_levels >= 3'd4) && (32'(req_levels) <= MAX_LEVELS)
                      && (req_start_level >= 3'd1) && (req_start_level <= req_levels)
                      && (req_maxphyaddr >= 6'd36) && (32'(req_maxphyaddr) <= PA_BITS)
                      && (req_access != 2'd3);
  end

  // The leaf / the faulting entry is among the entries the response reports.
  logic chk_leaf_recorded;
  logic chk_fault_recorded;
  always_comb begin
    chk_leaf_recorded  = 1'b0;
    chk_fault_recorded = 1'b0;
    for (int l = 1; l <= MAX_LEVELS; l++) begin
      if (rsp_leaf_level == 3'(l)) chk_leaf_recorded = rsp_pte_valid[l];
      if (rsp_fault_level == 3'(l))
        chk_fault_recorded = rsp_pte_valid[l] && (rsp_fault_pte_addr == rsp_pte_addr[(l-1)*PA_BITS +: PA_BITS]);
    end
  end

`ifdef FORMAL
  // Formal starts in reset.
  always_comb if (!past_valid_q) assume (!rst_n);
`endif

  always_ff @(posedge clk) begin
    if (rst_n) begin
      // ---- environment rules (assumed by formal, checked in simulation) ----
      `WALKER_ASSUME(ASSUME_REQ_LEGAL, !req_valid || chk_req_levels_ok,
                     "illegal walk request (levels, start_level, maxphyaddr or access)")
      `WALKER_ASSUME(ASSUME_MEM_RSP_ONLY_WHEN_PENDING, !mem_rsp_valid || chk_mem_pending_q,
                     "memory response without a memory request")

      // ---- the walker's own rules ----
      `WALKER_ASSERT(ASSERT_NO_MEM_REQ_WHILE_IDLE, !mem_req_valid || chk_busy_q,
                     "memory request while no walk is in progress")
      `WALKER_ASSERT(ASSERT_ONE_MEM_REQ_AT_A_TIME, !mem_req_valid || !chk_mem_pending_q,
                     "memory request while one is outstanding")
      `WALKER_ASSERT(ASSERT_MEM_RSP_ACCEPTED, !chk_mem_pending_q || mem_rsp_ready,
                     "memory response not accepted while one is outstanding")
      `WALKER_ASSERT(ASSERT_NO_REQ_WHILE_BUSY, !req_ready || !chk_busy_q,
                     "ready for a new request before responding to the last one")
      `WALKER_ASSERT(ASSERT_RSP_ONLY_WHEN_BUSY, !rsp_valid || chk_busy_q,
                     "response without a request")
      `WALKER_ASSERT(ASSERT_NO_STALL,
                     !chk_busy_q || mem_req_valid || chk_mem_pending_q || rsp_valid,
                     "walk in progress but nothing offered and nothing awaited")
      `WALKER_ASSERT(ASSERT_MEM_OPS_BOUNDED, 32'(chk_ops_q) <= MAX_MEM_OPS,
                     "walk exceeded its bound of memory operations")
      `WALKER_ASSERT(ASSERT_MEM_ADDR_ALIGNED, !mem_req_valid || (mem_req_addr[2:0] == 3'd0),
                     "memory request not 8-byte aligned")
      `WALKER_ASSERT(ASSERT_WRITE_LOCKED,
                     !(mem_req_valid && mem_req_write)
                       || (mem_req_lock && chk_lock_held_q && (mem_req_addr == chk_lock_addr_q)),
                     "write without the lock on its address")
      `WALKER_ASSERT(ASSERT_NO_NESTED_LOCK,
                     !(mem_req_valid && mem_req_lock && !mem_req_write) || !chk_lock_held_q,
                     "locked read while holding the lock")
      `WALKER_ASSERT(ASSERT_LOCK_RELEASED, !rsp_valid || !chk_lock_held_q,
                     "walk ended holding the lock")
      `WALKER_ASSERT(ASSERT_AD_AFTER_CHECKS, !(mem_req_valid && mem_req_lock) || chk_pass_ok,
                     "A/D update before the walk passed its permission checks")
      `WALKER_ASSERT(ASSERT_WRITE_ONLY_SETS_AD,
                     !(mem_req_valid && mem_req_write)
                       || ((((mem_req_wdata ^ chk_lock_data_q) & ~AD_BITS) == 64'd0)
                           && ((chk_lock_data_q & ~mem_req_wdata) == 64'd0)),
                     "write changes more than A/D of the value read under the lock")
      `WALKER_ASSERT(ASSERT_STATUS_LEGAL, !rsp_valid || (rsp_status != 2'd3),
                     "illegal status")
      `WALKER_ASSERT(ASSERT_OK_EXCLUSIVE,
                     !(rsp_valid && rsp_status == walker_pkg::STATUS_OK)
                       || ((rsp_error_code == 5'd0) && (rsp_fault_level == 3'd0)
                           && (rsp_fault_pte_addr == '0) && (rsp_mc_addr == '0) && !rsp_mc_poison
                           && (rsp_leaf_level >= 3'd1) && (rsp_leaf_level <= 3'd3)
                           && chk_leaf_recorded),
                     "success carries fault or machine-check fields")
      `WALKER_ASSERT(ASSERT_FAULT_EXCLUSIVE,
                     !(rsp_valid && rsp_status == walker_pkg::STATUS_PAGE_FAULT)
                       || ((rsp_pa == '0) && (rsp_leaf_level == 3'd0) && !rsp_rw && !rsp_us
                           && !rsp_nx && !rsp_global && !rsp_dirty && (rsp_memtype == 3'd0)
                           && (rsp_mc_addr == '0) && !rsp_mc_poison
                           && (rsp_fault_level != 3'd0) && chk_fault_recorded),
                     "page fault carries translation or machine-check fields")
      `WALKER_ASSERT(ASSERT_MCHECK_EXCLUSIVE,
                     !(rsp_valid && rsp_status == walker_pkg::STATUS_MACHINE_CHECK)
                       || ((rsp_pa == '0) && (rsp_leaf_level == 3'd0) && !rsp_rw && !rsp_us
                           && !rsp_nx && !rsp_global && !rsp_dirty && (rsp_memtype == 3'd0)
                           && (rsp_error_code == 5'd0) && (rsp_fault_level == 3'd0)
                           && (rsp_fault_pte_addr == '0)),
                     "machine check carries translation or fault fields")
      `WALKER_ASSERT(ASSERT_COUNTS_MATCH_PORT,
                     !rsp_valid || ((rsp_mem_reads == chk_reads_q) && (rsp_mem_writes == chk_writes_q)),
                     "reported read/write counts differ from the memory port's traffic")
      `WALKER_ASSERT(ASSERT_RESTARTS_BOUNDED, 32'(rsp_restarts) <= RESTART_LIMIT,
                     "more restarts than the limit")
    end

    if (past_valid_q && rst_n && $past(rst_n)) begin
      // ---- handshake stability ----
      `WALKER_ASSUME(ASSUME_REQ_STABLE,
                     !$past(req_valid && !req_ready)
                       || (req_valid && $stable(req_va) && $stable(req_access) && $stable(req_user)
                           && $stable(req_cr3) && $stable(req_wp) && $stable(req_nxe)
                           && $stable(req_levels) && $stable(req_maxphyaddr)
                           && $stable(req_start_level) && $stable(req_start_table)
                           && $stable(req_acc_rw) && $stable(req_acc_us) && $stable(req_acc_nx)),
                     "request withdrawn or changed before it was accepted")
      `WALKER_ASSUME(ASSUME_MEM_RSP_STABLE,
                     !$past(mem_rsp_valid && !mem_rsp_ready)
                       || (mem_rsp_valid && $stable(mem_rsp_data) && $stable(mem_rsp_error)
                           && $stable(mem_rsp_poison)),
                     "memory response withdrawn or changed before it was accepted")
      `WALKER_ASSERT(ASSERT_MEM_REQ_STABLE,
                     !$past(mem_req_valid && !mem_req_ready)
                       || (mem_req_valid && $stable(mem_req_addr) && $stable(mem_req_write)
                           && $stable(mem_req_wdata) && $stable(mem_req_lock)),
                     "memory request withdrawn or changed before it was accepted")
      `WALKER_ASSERT(ASSERT_RSP_STABLE,
                     !$past(rsp_valid && !rsp_ready)
                       || (rsp_valid && $stable(rsp_status) && $stable(rsp_pa)
                           && $stable(rsp_leaf_level) && $stable(rsp_error_code)
                           && $stable(rsp_fault_level) && $stable(rsp_fault_pte_addr)
                           && $stable(rsp_mc_addr) && $stable(rsp_pte_valid)
                           && $stable(rsp_pte_addr) && $stable(rsp_pte_value)
                           && $stable(rsp_mem_reads) && $stable(rsp_mem_writes)),
                     "response withdrawn or changed before it was accepted")
      `WALKER_ASSERT(ASSERT_ONE_RSP_PER_REQ, !$past(rsp_fire) || !rsp_valid,
                     "second response for one request")
    end
  end

endmodule

`default_nettype wire
