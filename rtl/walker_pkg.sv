// walker_pkg: constants and types of the x86-64 page walker (rtl/walker.sv).
// Semantics: docs/walker.md. Port and state-machine reference: docs/rtl-walker.md.
//
// Everything here mirrors sw/hal/x86.h and hw/ext/walk.h so that a waveform
// reads in the same vocabulary as the C++ models.

`timescale 1ns / 1ps

package walker_pkg;

  // ---- Request: access type (x86::Access) ---------------------------------
  typedef enum logic [1:0] {
    ACCESS_READ  = 2'd0,
    ACCESS_WRITE = 2'd1,
    ACCESS_FETCH = 2'd2
  } access_e;

  // ---- Response: walk status (hw::WalkStatus) ----------------------------
  typedef enum logic [1:0] {
    STATUS_OK            = 2'd0,
    STATUS_PAGE_FAULT    = 2'd1,
    STATUS_MACHINE_CHECK = 2'd2
  } status_e;

  // ---- Walker state machine -------------------------------------------------
  // Every state either offers something to the environment (a memory request,
  // the response) or waits for a memory response: there is no internal-only
  // cycle, so the walk's length is bounded by its memory traffic.
  typedef enum logic [2:0] {
    S_IDLE       = 3'd0,  // ready for a request (req_ready = 1)
    S_READ_REQ   = 3'd1,  // mem request: read the entry of the current level
    S_READ_RSP   = 3'd2,  // wait for that read's data; check the entry
    S_LOCK_REQ   = 3'd3,  // mem request: locked read of an entry needing A/D
    S_LOCK_RSP   = 3'd4,  // wait for the locked read's data; compare
    S_UNLOCK_REQ = 3'd5,  // mem request: the unlocking write (A/D or release)
    S_UNLOCK_RSP = 3'd6,  // wait for the write's completion
    S_DONE       = 3'd7   // the result is offered (rsp_valid = 1)
  } state_e;

  // What follows the unlocking write.
  typedef enum logic [1:0] {
    AFTER_UPDATE   = 2'd0,  // A/D set: next entry needing an update, or done
    AFTER_RESTART  = 2'd1,  // entry changed under the lock: walk again
    AFTER_LIVELOCK = 2'd2   // entry changed once too often: not-present fault
  } after_unlock_e;

  // ---- Page-table entry (x86::PTE_*) ---------------------------------------
  // One 8-byte entry of any level, viewed as fields: `pte_t entry;
  // assign entry = word;` (the pte_t'(word) of other designs: yosys 0.23, the
  // formal front end, parses no casts to user types). Every field is
  // 0-based: yosys 0.23 misplaces part-selects of a member declared with
  // another base.
  typedef struct packed {
    logic        nx;       // 63: execute disable (XD)
    logic [10:0] ignored;  // 62..52: protection key and software bits, ignored
    logic [39:0] addr;     // 51..12: physical address of the next table or frame
                           //   (bit 12 is the PAT bit of a 2 MiB / 1 GiB leaf)
    logic [2:0]  avail;    // 11..9: software bits, ignored
    logic        g;        // 8: global (leaf)
    logic        ps;       // 7: page size (PDPTE/PDE); the PAT bit of a PTE
    logic        d;        // 6: dirty (leaf)
    logic        a;        // 5: accessed
    logic        pcd;      // 4: cache disable
    logic        pwt;      // 3: write-through
    logic        us;       // 2: user
    logic        rw;       // 1: writable
    logic        p;        // 0: present
  } pte_t;

  // The A and D fields of pte_t in the entry's word: an entry "changed" when
  // it differs outside this mask.
  localparam logic [63:0] PTE_AD_MASK = 64'h0000_0000_0000_0060;
  // Their bit positions, for an entry held as a word.
  localparam int PTE_A = 5;
  localparam int PTE_D = 6;

  // The address an entry carries, {addr, 12'h000}: bits 51..12 (52..62 are
  // ignored). Bit 12 is the PAT bit of a 2 MiB / 1 GiB leaf.
  localparam int ENTRY_ADDR_BITS = 52;
  localparam int PTE_PAT_LARGE   = 12;

  // ---- Page-fault error code bits (x86::PF_*) ------------------------------
  localparam int PF_P    = 0;
  localparam int PF_W    = 1;
  localparam int PF_U    = 2;
  localparam int PF_RSVD = 3;
  localparam int PF_I    = 4;

  // ---- Levels (SDM numbering) ---------------------------------------------
  localparam logic [2:0] LEVEL_PT   = 3'd1;
  localparam logic [2:0] LEVEL_PD   = 3'd2;
  localparam logic [2:0] LEVEL_PDPT = 3'd3;
  localparam logic [2:0] LEVEL_PML4 = 3'd4;

endpackage
