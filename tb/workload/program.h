// A scripted user program: the operations of one scenario process (mmap,
// munmap, mprotect, madvise, fork, access phases, trace replay, exit),
// executed by a core. Keeps the process's shadow memory and checks every
// load against it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hw/cpu/user_program.h"
#include "hw/base/stats.h"
#include "sw/hal/uapi.h"
#include "tb/workload/files.h"
#include "tb/workload/lackey.h"
#include "tb/workload/pattern.h"
#include "tb/workload/replay_pipeline.h"
#include "tb/workload/shadow.h"

namespace tb {

class ScriptedProgram;

// A meeting point of several programs (threads or processes): each waits
// at it until all `count` participants have arrived.
struct Barrier {
  std::string name;
  unsigned count = 0;
  unsigned arrived = 0;
  bool open() const { return arrived >= count; }
};

// One operation of a scenario process.
struct Op {
  enum class Kind { mmap, munmap, mprotect, madvise, fork, thread, barrier, access, replay, dma_copy, dma_alloc, exit,
                    file_read, file_write, fsync, fdatasync, ftruncate, sync, drop_caches, fadvise, msync,
                    mlock, munlock, oom_score_adj, sigaction, prctl, inject, pagemap };
  Kind kind = Kind::access;
  std::string name;    // the scenario's word for it ("read", "mmap"): the timeline's label
  std::string where;   // "scenario.yaml:12", for messages
  std::string region;  // the mapping's name

  // a range of a region (munmap, mprotect, madvise, access)
  uint64_t offset = 0, span = 0;  // span 0: to the end of the region

  // mmap, mprotect
  uint64_t length = 0, addr = 0;
  uint64_t prot = uapi::kProtRead | uapi::kProtWrite;
  uint64_t flags = uapi::kMapPrivate | uapi::kMapAnonymous;
  // madvise
  uint64_t advice = 0;
  int64_t expect_errno = 0;  // 0: must succeed
  uint64_t expect_above = 0, expect_below = 0;  // mmap: where the mapping must lie (0: unchecked)

  // access
  Pattern::Kind pattern = Pattern::Kind::sequential;
  x86::Access access = x86::Access::read;  // fetch phases fetch; others read/write by `writes`
  uint64_t stride = 0, count = 0;          // count 0: one sweep of the span
                                           // (munmap/mprotect/madvise: repeat count times, stride apart)
  unsigned size = 8;
  double writes = 0;                       // fraction of accesses that are stores
  bool fixed_value = false;                // stores write `value` instead of random data
  uint64_t value = 0;
  bool verify = true;
  uint64_t seed = 0;
  double theta = 0.99;

  // fork, thread
  ScriptedProgram* child = nullptr;
  uint64_t child_cpu = uapi::kForkSameCpu;

  // barrier
  Barrier* barrier = nullptr;

  // replay
  std::shared_ptr<const LackeyTrace> trace;
  unsigned threads = 2;  // host threads: 2 reads the trace and checks the shadow beside the simulation

  // exit
  int status = 0;
  // oom_score_adj: the value written to /proc/self/oom_score_adj
  int oom_score_adj = 0;
  // sigaction: install (true) or remove the SIGBUS handler; prctl: the
  // PR_MCE_KILL policy (uapi::kPrMceKill*); inject: the error's kind.
  bool handler = false;
  uint64_t mce_kill = 0;
  bool uc = true;
  bool pgtable = false;  // inject: into the page-table entry mapping the address, not the data
  // pagemap: the pfn behind region+offset is saved under `pfn_name`, or
  // checked against the one saved there (the run fails otherwise).
  enum class PfnCheck { save, same, differs };
  PfnCheck pfn_check = PfnCheck::save;
  std::string pfn_name;

  // dma_copy: the engine (index among the platform's DMA engines) copies
  // `length` bytes from region+offset to dst_region+dst_offset.
  // dma_alloc: `length` bytes of the engine's coherent memory mapped as `region`.
  uint64_t device = 0;
  std::string dst_region;
  uint64_t dst_offset = 0;

  // Files (workload.files): the file an op names, by index (-1: none; an
  // mmap with a file maps it from `offset`). file_read/file_write: `length`
  // bytes at `offset`; fadvise likewise with `advice`; ftruncate: to
  // `file_size`; drop_caches: `level`; msync: the range with `flags`.
  int file = -1;
  uint64_t file_size = 0;
  unsigned level = 3;
};

struct ProcessStats : sim::stats::Group {
  ProcessStats(sim::stats::Group* parent, const std::string& name);
  sim::stats::Scalar reads{this, "reads", "Loads issued", "Count"};
  sim::stats::Scalar writes{this, "writes", "Stores issued", "Count"};
  sim::stats::Scalar fetches{this, "fetches", "Instruction fetches issued", "Count"};
  sim::stats::Scalar verified{this, "verifiedReads", "Loads and fetches checked against the shadow copy", "Count"};
  sim::stats::Scalar syscalls{this, "syscalls", "System calls made", "Count"};
  sim::stats::Scalar failed_syscalls{this, "failedSyscalls", "System calls that failed (as expected)", "Count"};
  sim::stats::Scalar mapped_bytes{this, "mappedBytes", "Bytes mapped by successful mmap calls", "Byte"};
  sim::stats::Scalar forks{this, "forks", "Children forked and threads created", "Count"};
  sim::stats::Scalar trace_records{this, "traceRecords", "Trace records replayed", "Count"};
  sim::stats::Scalar trace_splits{this, "traceSplits", "Trace accesses split because they cross a page", "Count"};
};

class ScriptedProgram : public hw::UserProgram {
 public:
  ScriptedProgram(std::string name, std::string where, const std::vector<Op>* ops, uint64_t seed,
                  ProcessStats* stats);
  ~ScriptedProgram() override;

  const std::string& name() const override { return name_; }
  bool next(hw::UserOp& op) override;
  void complete(const hw::UserOp& op, uint64_t result, const uint8_t* data) override;
  void ended(int exit_status, int signal) override;
  // A SIGBUS its handler took (`sigbus: record`): recorded, and the memory
  // error's extent becomes unknown in the shadow (Linux did not keep it).
  void signalled(const hal::SigInfo& si) override;
  // The access raised the signal: a skipped load checks nothing, a skipped
  // store changes nothing.
  void skipped(const hw::UserOp& op) override;
  hw::UserAccess* access_batch(unsigned& n) override;
  void complete_batch(unsigned n) override;
  int op_under_way(const char*& label) const override;
  // Checks what a replay had yet to check of the accesses completed so far,
  // and raises a failure found while the kernel called in (a signal, the
  // process's end); called when the run ends.
  void settle();

  struct Mapping {
    uint64_t start = 0, length = 0;
  };
  using Mappings = std::map<std::string, Mapping>;
  // For a forked child: a copy of the parent's memory as it was at the fork.
  void inherit(std::unique_ptr<Shadow> shadow, const Mappings& maps);
  // For a thread: the very same memory as its creator.
  void share(std::shared_ptr<Shadow> shadow, std::shared_ptr<Mappings> maps);

  // The workload's files, which file operations and file mappings act on.
  void set_files(FileSet* files) { files_ = files; }
  // The final sync's count: this program arrives when its operations are
  // done (or it is killed), and counts there every child it creates; the
  // last to arrive by finishing calls sync(2) before it exits.
  void set_final(Barrier* final) { final_ = final; }

  int pid() const { return pid_; }
  void set_pid(int pid) { pid_ = pid; }
  bool started() const { return started_; }
  bool finished() const { return finished_; }
  int exit_status() const { return exit_status_; }
  // The signals its handler took, in order, with the region (by name, as
  // the process mapped it then; "" when none) and offset of si_addr.
  struct Signal {
    hal::SigInfo si;
    std::string region;
    uint64_t offset;
  };
  const std::vector<Signal>& signals() const { return signals_; }
  uint64_t skipped_accesses() const { return skipped_; }
  int signal() const { return signal_; }
  const std::string& where() const { return where_; }

 private:
  bool start_op(const Op& op, hw::UserOp& out);
  bool next_access(hw::UserOp& out);
  bool next_replay(hw::UserOp& out);
  void syscall(hw::UserOp& out, hal::Sys nr, std::initializer_list<uint64_t> args);
  // dma_copy: the ioctl asking the firmware for the copy.
  void dma_copy(const Op& op, hw::UserOp& out);
  // The address range [start, start+len) an op names in its region.
  void range_of(const Op& op, uint64_t& start, uint64_t& len) const;
  // The data of a store at va: `value` repeated, or drawn from the seed.
  void fill_write(uint64_t va, unsigned size, uint64_t* data);
  // Checks a completed access in region r against the shadow (when
  // `verify`), or records a store in it (inline: every access of a batch
  // ends here); true when it verified a load. kPadded: `data` has 16
  // readable bytes whatever the size (a batch's access buffer).
  template <bool kPadded>
  inline bool complete_access(Shadow& shadow, const Shadow::Region& r, bool verify, uint64_t va, unsigned size,
                              x86::Access acc, const uint8_t* data);
  // The region holding [va, va+size): one of the last few that fetches or
  // data (each class apart: a trace interleaves them) found, or the
  // shadow's; fails when none.
  const Shadow::Region* region_for(uint64_t va, unsigned size, x86::Access acc);
  // A completed access of a batch against the shadow (complete_access), in
  // the region among `last` (data, fetches) or found and put there; true
  // when it verified a load or fetch.
  inline bool shadow_access(Shadow& shadow, const Shadow::Region* (&last)[2], bool verify, const hw::UserAccess& a);
  // Those of a[from, to), completed earlier (a replay's slot: the
  // simulation counted them; check_slot, drain_replay).
  void check_replayed(const hw::UserAccess* a, unsigned from, unsigned to);
  void forget_regions() { std::fill(&region_[0][0], &region_[0][0] + 2 * kRegionWays, nullptr); }
  // Forgets the last regions found when the shadow's set of regions has
  // changed since (a map or an unmap) and they may be gone.
  void revalidate_regions() {
    if (region_gen_ == shadow_->generation()) return;
    forget_regions();
    region_gen_ = shadow_->generation();
  }
  [[noreturn, gnu::cold]] void load_mismatch(uint64_t va, unsigned size, x86::Access acc, const uint8_t* data,
                                             const uint8_t* expected);
  // The batch: accesses generated ahead, with what each adds to the
  // process's counts when it issues (a trace record's counts ride on its
  // first access, as when its pieces were queued).
  // One byte a count, in one word (the rest zero), so that a batch's are
  // summed with one add an access rather than five.
  struct Issue {
    uint8_t reads, writes, fetches, records, splits, zero[3];
  };
  static_assert(sizeof(Issue) == 8, "an Issue is summed as one word");
  // Sums of Issue counts, and of loads verified (a batch adds its completed
  // accesses' at once). The counts are summed bytewise in `lanes`: no byte
  // carries into the next while what is added is at most one batch, as each
  // count is at most the batch's accesses (a record's counts, on its first
  // access, count one for each of its pieces) and kBatch < 256.
  struct IssueSum {
    uint64_t lanes = 0, verified = 0;
    void add(const Issue& c) {
      uint64_t w;
      std::memcpy(&w, &c, sizeof w);
      lanes += w;
    }
    uint64_t count(size_t field) const { return lanes >> (8 * field) & 0xff; }
  };
  void issue(const IssueSum& c);
  void refill_batch();
  void fill_access_batch();
  // Whole records into out (at most kBatch accesses); 0 at the trace's end.
  unsigned fill_replay_batch(hw::UserAccess* out, Issue* counts);
  // The pieces of a trace record (one per page it touches; a modify is a
  // load then a store) appended at out; returns how many, with the
  // record's counts on the first.
  unsigned record_pieces(const LackeyRecord& rec, hw::UserAccess* out, Issue* counts);
  [[noreturn]] void fail(const std::string& what) const;

  // ---- Files ----
  // The next step of a file operation (open the file, map the I/O buffer,
  // fill it, the call, check what it read); false when it is done.
  bool step_file_op(hw::UserOp& out);
  void begin_file_op();
  // The operation's own system call.
  void file_call(const Op& op, hw::UserOp& out);
  // The I/O buffer's stores (before a write) or loads (after a read): one access per 64 bytes.
  void start_io(bool stores, uint64_t len);
  void io_access(hw::UserAccess& a);
  bool next_io(hw::UserOp& out);
  void fill_io_batch();
  // Completions of the calls file operations make.
  bool complete_file_setup(const hw::UserOp& op, uint64_t result);
  void complete_file_call(const Op& cur, const hw::UserOp& op, uint64_t result);
  // A file call failed as expected: an fsync, fdatasync or msync's EIO
  // loses what the files had not synced (files.h).
  void file_call_failed(const Op& cur, const hw::UserOp& op, int64_t err);
  FileState& file(int index) const { return *files_->files.at(static_cast<size_t>(index)); }
  FileStats& file_stats() const { return *files_->stats; }
  FileSet* files_ = nullptr;
  Barrier* final_ = nullptr;
  bool final_arrived_ = false, final_sync_ = false;
  // At the end of the operations: true with the final sync's call when this program is the last.
  bool final_sync(hw::UserOp& out);
  std::vector<int64_t> fds_;         // per file: the descriptor, -1 until opened
  uint64_t io_buf_ = 0, io_buf_len_ = 0;
  bool file_op_ = false;             // a file operation is under way
  bool io_filled_ = false, call_issued_ = false, read_ok_ = false, io_checked_ = false;
  uint64_t io_offset_ = 0;           // the file offset of this call of a repeated read or write
  uint64_t io_calls_left_ = 0, io_index_ = 0;
  Rng io_rng_;                       // random offsets
  // Sets io_offset_ for call io_index_ of the current read or write.
  void next_io_offset();
  uint64_t io_va_ = 0, io_left_ = 0;  // the I/O buffer's access phase
  bool io_stores_ = false;

  std::string name_, where_;
  const std::vector<Op>* ops_;
  uint64_t seed_;
  ProcessStats* stats_;
  std::shared_ptr<Shadow> shadow_;       // shared with this process's threads
  std::shared_ptr<Mappings> mappings_;   // the region names, shared likewise
  size_t pc_ = 0;             // next op to start
  const Op* current_ = nullptr;
  // The last regions data [0] and fetches [1] touched, most recent first
  // (a program's code, its libraries', its stack and heap)...
  static constexpr unsigned kRegionWays = 4;
  const Shadow::Region* region_[2][kRegionWays] = {};
  uint64_t region_gen_ = 0;  // ...valid while the shadow's generation is this
  Barrier* waiting_ = nullptr;              // the barrier this program waits at
  uint64_t counter_ = 0;      // stores so far: varies the data written

  // access phase
  std::unique_ptr<Pattern> pattern_;
  Rng mix_rng_;
  uint64_t phase_base_ = 0, remaining_ = 0;

  // replay: first the mappings, then the records (a modify or a
  // page-crossing record queues more than one access)
  // munmap/mprotect/madvise repeated `count` times, `stride` apart
  uint64_t repeats_left_ = 0, repeat_index_ = 0;
  bool range_op(const Op& op, uint64_t index, hw::UserOp& out);

  bool replaying_ = false;
  std::unique_ptr<LackeyTrace::Reader> reader_;
  size_t replay_maps_left_ = 0, replay_map_index_ = 0;
  hw::UserOp queue_[4];
  unsigned queued_ = 0, queue_pos_ = 0;

  // Each batch costs the core a fast-loop check-in (its budget, the MMU's
  // state) and the program a sum of counts, which a trace replay (an
  // access a record) pays half as often as with 64; 128 accesses (10 KiB)
  // still sit in L1.
  static constexpr unsigned kBatch = 128;
  static_assert(kBatch < 256, "a batch's counts are summed a byte each (IssueSum)");
  hw::UserAccess own_batch_[kBatch];
  Issue own_issue_[kBatch];
  hw::UserAccess* batch_ = own_batch_;  // own_batch_, or a batch of a replay's slot
  Issue* batch_issue_ = own_issue_;
  unsigned batch_pos_ = 0, batch_n_ = 0;

  // A replay on two threads (replay_pipeline.h; the op's `threads`): slots
  // of kSlotBatches batches are filled from the trace ahead of the
  // simulation, as fill_replay_batch() fills one, and the accesses of those
  // it finished checked against the shadow behind it (check_slot), by the
  // worker or by the simulation's thread while it waits; the shadow is the
  // pipeline's alone meanwhile, and the simulation only counts. Whatever
  // else touches the shadow first drains the pipeline (drain_replay).
  static constexpr unsigned kSlotBatches = 8;
  struct ReplaySlot {
    hw::UserAccess acc[kSlotBatches * kBatch];
    Issue issue[kSlotBatches * kBatch];
    unsigned batch_end[kSlotBatches];
    unsigned batches = 0;
    unsigned checked = 0;  // entries before it are checked or were skipped (fill_slot, drain_replay, skipped)
    unsigned size() const { return batches ? batch_end[batches - 1] : 0; }  // its accesses
  };
  bool start_replay_pipeline();
  void end_replay_pipeline();  // drains it, then releases it
  void release_replay_pipeline();
  bool fill_slot(unsigned ring);   // on either thread, one at a time
  void check_slot(unsigned ring);  // likewise
  void next_slot_batch();
  void drain_replay();
  // drain_replay() for a caller inside the kernel (a signal, a skipped
  // access, the process's end), which must not see an exception: a failure
  // waits in pending_ for the program's next call (raise_pending), which
  // comes at a fixed point too.
  void drain_replay_later();
  void raise_pending();
  std::exception_ptr pending_;
  // complete_batch() of a slot's batch: the counts; the checks come with the slot (check_slot).
  [[gnu::noinline]] void complete_slot_batch(unsigned n);
  unsigned slot_index(const hw::UserAccess* a) const { return static_cast<unsigned>(a - slot_->acc); }
  std::unique_ptr<ReplaySlot[]> slots_;
  std::unique_ptr<ReplayPipeline> pipe_;
  ReplaySlot* slot_ = nullptr;  // the slot the simulation holds
  unsigned slot_batch_ = 0;     // its next batch
  unsigned done_ = 0;           // its entries before this are completed (or skipped)
  hw::UserAccess* inflight_ = nullptr;  // the entry next() handed out alone, until it completes
  std::unique_ptr<TraceProgress> replay_progress_;
  uint64_t replay_records_ = 0;  // trace_records when the pipeline started
  // An access phase's next address, drawn by a batch that stopped short of
  // it (it would cross a page: next_access() fails on it, in order).
  bool carry_ = false;
  uint64_t carry_va_ = 0;

  // inject: the EINJ call follows the pagemap call that found the address.
  bool inject_next_ = false;
  uint64_t inject_pa_ = 0;
  // pagemap: the pfns saved by name.
  std::map<std::string, uint64_t> pfns_;
  void complete_pagemap(const Op& op, uint64_t pfn);
  std::vector<Signal> signals_;
  uint64_t skipped_ = 0;

  int pid_ = -1;
  bool started_ = false, finished_ = false;
  int exit_status_ = 0, signal_ = 0;
};

}  // namespace tb
