// Machine-check handling (Linux arch/x86/kernel/cpu/mce/{core,severity}.c):
// severity grading of a bank's record as mce_severity_intel() grades it, the
// "mce: [Hardware Error]: ..." record lines of print_mce(), the panic of
// mce_panic(), and the CMCI poll of the banks (machine_check_poll()) that
// logs corrected and UCNA records, and the decoder chain's uc_decode_notifier
// that hands an uncorrected memory error the poll found (a patrol-scrub find
// signalled by CMCI) to memory_failure(). Used by Kernel::machine_check
// (sw/kernel/traps.cpp), the CMCI vector (sw/kernel/irq.cpp) and the
// kernel's deferred work; what the #MC handler does after grading (SIGBUS,
// memory_failure()) stays with it.
#pragma once

#include <stdint.h>

#include "sw/hal/firmware.h"
#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/lib/printk.h"

namespace fw {

class Cec;
class MemoryFailure;

// Linux's MCE_*_SEVERITY, least to most severe (UCNA shares DEFERRED's rank).
enum class MceSeverity : uint8_t { none, ucna, keep, some, ao, uc, ar, panic };

// Where the error hit (Linux's error_context()).
enum class MceContext : uint8_t { user, kernel, kernel_recov };

struct MceGrade {
  MceSeverity sev;
  const char* msg;  // the matching rule's message, as Linux's severities[] names it
};

// Returns the grade of a record: the first rule of Linux 6.18's
// severities[] table that matches (Intel rows this platform can produce;
// no CPU-model quirks). `ser`: MCG_CAP.SER_P; `exception`: graded by the
// #MC handler (rules marked EXCP apply only there), not by a poll.
MceGrade mce_severity(uint64_t mcg_status, uint64_t status, MceContext ctx, bool ser, bool exception);

struct MceStats {
  uint64_t total = 0;
  uint64_t action_required = 0;   // SRAR: consumed by an access
  uint64_t action_optional = 0;   // SRAO: found by a scrub
  uint64_t in_page_walk = 0;      // raised by a page-table read
  uint64_t records = 0;           // records logged (exceptions and polls)
  uint64_t corrected = 0;         // corrected records (CMCI poll)
  uint64_t ucna = 0;              // uncorrected, no action required (CMCI poll)
  uint64_t cmci = 0;              // CMCI interrupts taken
  uint64_t panics = 0;            // records graded PANIC

  // Every counter under "<prefix>.", always in the same order.
  void visit(StatVisitor& v, const char* prefix) const;
};

// The machine-check side of the kernel: logging, grading, the CMCI poll.
class Mce {
 public:
  explicit Mce(Log& log) : log_(log) {}
  // The corrected-error collector the CMCI poll feeds (nullptr: none).
  void set_cec(Cec* cec) { cec_ = cec; }
  // Where uncorrected memory errors found by the poll go (nullptr: nowhere).
  void set_memory_failure(MemoryFailure* mf) { mf_ = mf; }

  // The record `mc` carries, completed for a HAL without banks (status zero:
  // the record the platform logs for a consumed error or a scrub find).
  static hal::MachineCheck record_of(const hal::MachineCheck& mc);

  // Grades an exception's record, prints it as print_mce() does, and
  // counts it; PANIC ends here in mce_panic()'s way. Returns the grade.
  MceGrade handle_exception(hal::Hal& h, const hal::MachineCheck& rec);
  // The end of the #MC handler: the bank and MCG_STATUS cleared through the MSRs.
  void clear_exception(hal::Hal& h, const hal::MachineCheck& rec);

  // The CMCI vector: polls every bank for corrected and UCNA records, logs
  // them and clears them (machine_check_poll, mce_notify_irq). A corrected
  // memory error with a usable address goes to the collector first, which
  // handles it (not printed, as 6.18's default notifier skips
  // MCE_HANDLED_CEC) unless the page just reached its threshold. An
  // uncorrected record graded AO (a patrol-scrub find signalled by CMCI,
  // S=0: 6.18's scrub row ignores S) with a usable address is kept for
  // process_records() (mce_log's record pool) instead of being printed now.
  void cmci(hal::Hal& h);
  // The decoder chain over the pooled records (mce_gen_pool_process, run
  // from the kernel's deferred work): uc_decode_notifier's
  // memory_failure(pfn, 0), then the default notifier prints the records
  // memory_failure() did not handle (6.18 skips MCE_HANDLED_UC ones).
  void process_records(hal::Hal& h);

  const MceStats& stats() const { return stats_; }
  MceStats& stats() { return stats_; }

 private:
  void print_record(hal::Hal& h, const hal::MachineCheck& rec, bool exception);

  // mce_gen_pool_add(): false (and "MCE records pool full!") when full.
  bool pool_add(hal::Hal& h, const hal::MachineCheck& rec);

  // The record pool (6.18 sizes it in pages; this one holds what one
  // CMCI poll of this platform's banks can log many times over).
  static constexpr unsigned kPoolSize = 16;

  Log& log_;
  Cec* cec_ = nullptr;
  MemoryFailure* mf_ = nullptr;
  hal::MachineCheck pool_[kPoolSize] = {};
  unsigned pool_n_ = 0;
  MceStats stats_;
  uint64_t notify_window_ns_ = 0;  // mce_notify_irq's ratelimit: 2 messages per minute
  unsigned notify_count_ = 0;
};

}  // namespace fw
