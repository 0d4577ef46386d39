// What a core runs in user mode: a stream of operations (memory accesses and
// system calls) produced by a workload generator or a trace (tb/workload).
// The core executes each one through the MMU or the firmware and reports the
// result back. The program is the "user space" of a simulated process.
// ProgramHost is all a workload sees of the machine beyond that.
#pragma once

#include <cstdint>
#include <string>

#include "sw/hal/firmware.h"
#include "sw/hal/x86.h"

namespace hw {

struct UserOp {
  static constexpr unsigned kMaxSize = 64;  // one cache line: an AVX-512 load at most
  // spin: the program waits for something another program does (a barrier):
  // the core lets a little simulated time pass and asks again.
  enum class Kind : uint8_t { access, syscall, spin };
  Kind kind = Kind::access;
  // access: 1..kMaxSize bytes within one page (the program splits accesses
  // that cross a page: each piece is one TLB lookup, as on hardware)
  uint64_t va = 0;
  uint8_t size = 8;
  x86::Access access = x86::Access::read;
  uint64_t wdata[kMaxSize / 8] = {};  // write data, little-endian, `size` bytes
  // syscall
  hal::SyscallArgs sys{};
};

// One access of a batch (UserProgram::access_batch): generated ahead by the
// program, executed by the core's fast loop in program order.
struct UserAccess {
  uint64_t va;
  uint8_t size;          // 1..UserOp::kMaxSize, within one page
  x86::Access access;
  uint64_t data[UserOp::kMaxSize / 8];  // the bytes stored (writes) or loaded (reads, fetches)
};

class UserProgram {
 public:
  virtual ~UserProgram() = default;
  virtual const std::string& name() const = 0;
  // The next operation; false when the program is finished (the core then
  // makes the process exit with status 0).
  virtual bool next(UserOp& op) = 0;
  // The operation just executed completed. Accesses: `data` holds the
  // `op.size` bytes read (reads, fetches) or written. System calls:
  // `result` is the return value (negative errno on failure), `data` null.
  virtual void complete(const UserOp& op, uint64_t result, const uint8_t* data) = 0;
  // The process ended: by exit (signal 0) or killed by a signal.
  virtual void ended(int exit_status, int signal) = 0;
  // A signal went to the handler the program installed (rt_sigaction); it
  // arrives before skipped() when the current access raised it. Programs
  // that install no handler never see one.
  virtual void signalled(const hal::SigInfo& si) { (void)si; }
  // The current operation, an access, was skipped: it raised a signal its
  // handler took (hal::TrapOutcome::skip), so it neither read nor wrote.
  virtual void skipped(const UserOp& op) { (void)op; }

  // Accesses generated ahead (a run of plain accesses, as an access phase
  // or a trace replay makes), so that the core's fast loop needs no call
  // per access: sets n and returns them, or sets n = 0 when the next
  // operation is anything else (then the core uses next()). The core
  // executes them in order and reports the first n that completed with
  // complete_batch(n); those it did not complete stay pending, and the next
  // access_batch() or next() returns them first. Programs that do not
  // batch keep the default.
  virtual UserAccess* access_batch(unsigned& n) {
    n = 0;
    return nullptr;
  }
  // The first n accesses of the current batch completed (as complete() for
  // each, in order; loads find their bytes in `data`).
  virtual void complete_batch(unsigned n) { (void)n; }

  // For the timeline (mmcosim run --trace-events): the operation of the
  // program's own list under way (the index of the scenario's op), -1 when
  // none; `label` names it ("access", "mmap") and lives as long as the
  // program.
  virtual int op_under_way(const char*& label) const {
    label = "";
    return -1;
  }
};

// The machine as a workload starting processes sees it: the run lasts until
// every program started has ended. The cores' CoreComplex implements it.
class ProgramHost {
 public:
  // A program was handed to the firmware (hal::Firmware::spawn).
  virtual void program_started() = 0;

 protected:
  ~ProgramHost() = default;
};

}  // namespace hw
