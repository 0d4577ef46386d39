#include "tb/workload/program.h"

#include <stdexcept>

#include <fmt/format.h>

namespace tb {

ProcessStats::ProcessStats(sim::stats::Group* parent, const std::string& name) : sim::stats::Group(parent, name) {}

ScriptedProgram::ScriptedProgram(std::string name, const std::vector<Op>* ops, uint64_t seed, ProcessStats* stats)
    : name_(std::move(name)), ops_(ops), seed_(seed), stats_(stats) {}

void ScriptedProgram::fail(const Op& op, const std::string& what) const {
  throw std::runtime_error(fmt::format("{}: process {}: {}", op.where, name_, what));
}

bool ScriptedProgram::next(hw::UserOp& out) {
  // Inside an access phase: the next access.
  if (remaining_) {
    --remaining_;
    const Op& op = *current_;
    const uint64_t va = phase_base_ + pattern_->next();
    out.kind = hw::UserOp::Kind::access;
    out.va = va;
    out.size = static_cast<uint8_t>(op.size);
    const bool write = op.writes >= 1.0 || (op.writes > 0 && mix_rng_.uniform() < op.writes);
    if (write) {
      out.access = x86::Access::write;
      out.wdata = mix64(seed_ ^ (++counter_ * 0x9e3779b97f4a7c15ull) ^ va);
      if (op.size < 8) out.wdata &= (1ull << (8 * op.size)) - 1;
      ++stats_->writes;
    } else {
      out.access = x86::Access::read;
      ++stats_->reads;
    }
    return true;
  }
  while (pc_ < ops_->size()) {
    const Op& op = (*ops_)[pc_++];
    current_ = &op;
    if (start_op(op, out)) return true;
  }
  return false;
}

bool ScriptedProgram::start_op(const Op& op, hw::UserOp& out) {
  switch (op.kind) {
    case Op::Kind::mmap:
      out = hw::UserOp{};
      out.kind = hw::UserOp::Kind::syscall;
      out.sys.nr = hal::Sys::mmap;
      out.sys.arg[0] = op.addr;
      out.sys.arg[1] = op.length;
      out.sys.arg[2] = op.prot;
      out.sys.arg[3] = op.flags;
      out.sys.arg[4] = static_cast<uint64_t>(-1);  // fd
      out.sys.arg[5] = 0;
      ++stats_->syscalls;
      return true;
    case Op::Kind::munmap: {
      auto it = mappings_.find(op.region);
      if (it == mappings_.end()) fail(op, fmt::format("munmap of unknown region '{}'", op.region));
      const uint64_t start = it->second.start + op.offset;
      const uint64_t len = op.span ? op.span : it->second.length - op.offset;
      out = hw::UserOp{};
      out.kind = hw::UserOp::Kind::syscall;
      out.sys.nr = hal::Sys::munmap;
      out.sys.arg[0] = start;
      out.sys.arg[1] = len;
      ++stats_->syscalls;
      return true;
    }
    case Op::Kind::exit:
      out = hw::UserOp{};
      out.kind = hw::UserOp::Kind::syscall;
      out.sys.nr = hal::Sys::exit;
      out.sys.arg[0] = static_cast<uint64_t>(op.status);
      ++stats_->syscalls;
      return true;
    case Op::Kind::access: {
      auto it = mappings_.find(op.region);
      if (it == mappings_.end()) fail(op, fmt::format("access to unknown region '{}'", op.region));
      const Mapping& m = it->second;
      if (op.offset >= m.length) fail(op, "offset is beyond the end of the region");
      const uint64_t span = op.span ? op.span : m.length - op.offset;
      if (op.offset + span > m.length) fail(op, "offset + length is beyond the end of the region");
      if (span < op.size) fail(op, "the range is smaller than one access");
      phase_base_ = m.start + op.offset;
      const uint64_t stride = op.stride ? op.stride : op.size;
      pattern_ = std::make_unique<Pattern>(op.pattern, span, op.size, stride,
                                           mix64(seed_ ^ (pc_ * 0x51ed2701ull) ^ op.seed), op.theta);
      mix_rng_.reseed(mix64(seed_ + pc_) ^ op.seed);
      remaining_ = op.count ? op.count
                            : (op.pattern == Pattern::Kind::strided ? (span / stride) : span / op.size);
      if (remaining_ == 0) return false;
      return next(out);
    }
  }
  return false;
}

void ScriptedProgram::complete(const hw::UserOp& op, uint64_t value) {
  if (op.kind == hw::UserOp::Kind::access) {
    const Shadow::Region* r = region_ && region_->contains(op.va, op.size) ? region_ : shadow_.find(op.va, op.size);
    if (!r) fail(*current_, fmt::format("access to {:#x}, which the shadow does not map", op.va));
    region_ = r;
    if (op.access == x86::Access::write) {
      Shadow::store(*r, op.va, op.size, op.wdata);
    } else if (current_->verify) {
      const uint64_t expected = Shadow::load(*r, op.va, op.size);
      const uint64_t mask = op.size == 8 ? ~0ull : (1ull << (8 * op.size)) - 1;
      if ((value & mask) != expected)
        fail(*current_, fmt::format("read of {} bytes at {:#x} returned {:#x}, expected {:#x} (what it last wrote)",
                                    static_cast<unsigned>(op.size), op.va, value & mask, expected));
      ++stats_->verified;
    }
    return;
  }
  const Op& cur = *current_;
  const int64_t ret = static_cast<int64_t>(value);
  const bool error = ret < 0 && ret >= -4095;
  if (cur.expect_errno) {
    if (!error || -ret != cur.expect_errno)
      fail(cur, fmt::format("expected the call to fail with errno {}, it returned {}", cur.expect_errno, ret));
    return;
  }
  if (error) fail(cur, fmt::format("{} failed with errno {}", op.sys.nr == hal::Sys::mmap ? "mmap" : "munmap", -ret));
  if (op.sys.nr == hal::Sys::mmap) {
    const uint64_t start = value;
    mappings_[cur.region] = {start, cur.length};
    shadow_.map(start, (cur.length + 4095) & ~4095ull);
    region_ = nullptr;
    stats_->mapped_bytes += cur.length;
  } else if (op.sys.nr == hal::Sys::munmap) {
    shadow_.unmap(op.sys.arg[0], op.sys.arg[1]);
    region_ = nullptr;
    auto it = mappings_.find(cur.region);
    if (it != mappings_.end() && cur.offset == 0 && !cur.span) mappings_.erase(it);
  }
}

void ScriptedProgram::ended(int exit_status, int signal) {
  finished_ = true;
  exit_status_ = exit_status;
  signal_ = signal;
}

}  // namespace tb
