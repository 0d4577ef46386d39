// A scripted user program: the operations of one scenario process (mmap,
// munmap, access phases, exit), executed by a core. Keeps the process's
// shadow memory and checks every read against it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hw/cpu/user_program.h"
#include "hw/sim/stats.h"
#include "tb/workload/pattern.h"
#include "tb/workload/shadow.h"

namespace tb {

// Linux's user ABI for the calls the programs make.
namespace uapi {
constexpr uint64_t kProtNone = 0, kProtRead = 1, kProtWrite = 2, kProtExec = 4;
constexpr uint64_t kMapShared = 0x01, kMapPrivate = 0x02, kMapFixed = 0x10, kMapAnonymous = 0x20;
constexpr uint64_t kMapPopulate = 0x8000, kMapHugetlb = 0x40000;
constexpr int64_t kEnomem = 12, kEfault = 14, kEinval = 22;
}  // namespace uapi

// One operation of a scenario process.
struct Op {
  enum class Kind { mmap, munmap, access, exit };
  Kind kind = Kind::access;
  std::string where;   // "scenario.yaml:12" for messages
  std::string region;  // region name

  // mmap
  uint64_t length = 0, addr = 0, prot = uapi::kProtRead | uapi::kProtWrite;
  uint64_t flags = uapi::kMapPrivate | uapi::kMapAnonymous;
  int64_t expect_errno = 0;  // 0: must succeed

  // access (and munmap's sub-range)
  uint64_t offset = 0, span = 0;  // span 0: to the end of the region
  Pattern::Kind pattern = Pattern::Kind::sequential;
  uint64_t stride = 0, count = 0;  // count 0: one sweep of the span
  unsigned size = 8;
  double writes = 0;               // fraction of accesses that are stores
  bool verify = true;
  uint64_t seed = 0;
  double theta = 0.99;

  // exit
  int status = 0;
};

struct ProcessStats : sim::stats::Group {
  ProcessStats(sim::stats::Group* parent, const std::string& name);
  sim::stats::Scalar reads{this, "reads", "Loads issued", "Count"};
  sim::stats::Scalar writes{this, "writes", "Stores issued", "Count"};
  sim::stats::Scalar verified{this, "verifiedReads", "Loads checked against the shadow copy", "Count"};
  sim::stats::Scalar syscalls{this, "syscalls", "System calls made", "Count"};
  sim::stats::Scalar mapped_bytes{this, "mappedBytes", "Bytes mapped by successful mmap calls", "Byte"};
};

class ScriptedProgram : public hw::UserProgram {
 public:
  ScriptedProgram(std::string name, const std::vector<Op>* ops, uint64_t seed, ProcessStats* stats);
  const std::string& name() const override { return name_; }
  bool next(hw::UserOp& op) override;
  void complete(const hw::UserOp& op, uint64_t value) override;
  void ended(int exit_status, int signal) override;

  bool finished() const { return finished_; }
  int exit_status() const { return exit_status_; }
  int signal() const { return signal_; }

 private:
  struct Mapping {
    uint64_t start = 0, length = 0;
  };
  bool start_op(const Op& op, hw::UserOp& out);
  [[noreturn]] void fail(const Op& op, const std::string& what) const;

  std::string name_;
  const std::vector<Op>* ops_;
  uint64_t seed_;
  ProcessStats* stats_;
  Shadow shadow_;
  std::map<std::string, Mapping> mappings_;
  size_t pc_ = 0;            // next op to start
  const Op* current_ = nullptr;
  // access phase state
  std::unique_ptr<Pattern> pattern_;
  Rng mix_rng_;
  uint64_t phase_base_ = 0, remaining_ = 0, counter_ = 0;
  const Shadow::Region* region_ = nullptr;
  bool finished_ = false;
  int exit_status_ = 0, signal_ = 0;
};

}  // namespace tb
