#include "tb/workload/program.h"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "sw/hal/x86.h"

namespace tb {

namespace {

bool is_error(uint64_t ret) {
  const int64_t r = static_cast<int64_t>(ret);
  return r < 0 && r >= -4095;
}

const char* sys_name(hal::Sys nr) {
  switch (nr) {
    case hal::Sys::mmap: return "mmap";
    case hal::Sys::munmap: return "munmap";
    case hal::Sys::mprotect: return "mprotect";
    case hal::Sys::madvise: return "madvise";
    case hal::Sys::fork: return "fork";
    case hal::Sys::clone: return "clone";
    case hal::Sys::exit: return "exit";
    default: return "syscall";
  }
}

std::string hex_bytes(const uint8_t* p, unsigned len) {
  if (len <= 8) {
    uint64_t v = 0;
    std::memcpy(&v, p, len);
    return fmt::format("{:#x}", v);
  }
  std::string s;
  for (unsigned i = 0; i < len; ++i) s += fmt::format("{:02x}", p[i]);
  return s;
}

}  // namespace

ProcessStats::ProcessStats(sim::stats::Group* parent, const std::string& name) : sim::stats::Group(parent, name) {}

ScriptedProgram::ScriptedProgram(std::string name, std::string where, const std::vector<Op>* ops, uint64_t seed,
                                 ProcessStats* stats)
    : name_(std::move(name)), where_(std::move(where)), ops_(ops), seed_(seed), stats_(stats),
      shadow_(std::make_shared<Shadow>()), mappings_(std::make_shared<Mappings>()) {}

ScriptedProgram::~ScriptedProgram() = default;

void ScriptedProgram::fail(const std::string& what) const {
  throw std::runtime_error(fmt::format("{}: process {}: {}", current_ ? current_->where : where_, name_, what));
}

void ScriptedProgram::inherit(std::unique_ptr<Shadow> shadow, const Mappings& maps) {
  shadow_ = std::move(shadow);
  mappings_ = std::make_shared<Mappings>(maps);
  region_ = nullptr;
}

void ScriptedProgram::share(std::shared_ptr<Shadow> shadow, std::shared_ptr<Mappings> maps) {
  shadow_ = std::move(shadow);
  mappings_ = std::move(maps);
  region_ = nullptr;
}

void ScriptedProgram::syscall(hw::UserOp& out, hal::Sys nr, std::initializer_list<uint64_t> args) {
  out.kind = hw::UserOp::Kind::syscall;
  out.sys = hal::SyscallArgs{};
  out.sys.nr = nr;
  size_t i = 0;
  for (uint64_t a : args) out.sys.arg[i++] = a;
  ++stats_->syscalls;
}

void ScriptedProgram::range_of(const Op& op, uint64_t& start, uint64_t& len) const {
  auto it = mappings_->find(op.region);
  if (it == mappings_->end()) fail(fmt::format("no region called '{}' is mapped", op.region));
  const Mapping& m = it->second;
  if (op.offset > m.length) fail(fmt::format("offset {:#x} is beyond the end of region '{}'", op.offset, op.region));
  start = m.start + op.offset;
  len = op.span ? op.span : m.length - op.offset;
  if (op.offset + len > m.length) fail(fmt::format("the range runs past the end of region '{}'", op.region));
}

void ScriptedProgram::fill_write(hw::UserOp& out) {
  out.access = x86::Access::write;
  if (current_ && current_->fixed_value) {
    for (unsigned w = 0; w < (out.size + 7u) / 8; ++w) out.wdata[w] = current_->value;
    return;
  }
  const uint64_t salt = seed_ ^ (++counter_ * 0x9e3779b97f4a7c15ull) ^ out.va;
  for (unsigned w = 0; w < (out.size + 7u) / 8; ++w) out.wdata[w] = mix64(salt + w);
}

bool ScriptedProgram::next(hw::UserOp& out) {
  started_ = true;
  if (waiting_) {
    if (!waiting_->open()) {
      out.kind = hw::UserOp::Kind::spin;
      return true;
    }
    waiting_ = nullptr;
  }
  if (queue_pos_ < queued_) {
    out = queue_[queue_pos_++];
    return true;
  }
  if (remaining_) return next_access(out);
  if (repeats_left_) {
    --repeats_left_;
    return range_op(*current_, ++repeat_index_, out);
  }
  if (replaying_) {
    if (next_replay(out)) return true;
    replaying_ = false;
  }
  while (pc_ < ops_->size()) {
    const Op& op = (*ops_)[pc_++];
    current_ = &op;
    if (start_op(op, out)) return true;
  }
  return false;
}

uint64_t ScriptedProgram::step(const char** label) const {
  if (label) *label = current_ ? current_->label.c_str() : "";
  return pc_;
}

bool ScriptedProgram::next_access(hw::UserOp& out) {
  --remaining_;
  const Op& op = *current_;
  out.kind = hw::UserOp::Kind::access;
  out.va = phase_base_ + pattern_->next();
  out.size = static_cast<uint8_t>(op.size);
  // x86 allows unaligned accesses; one that crosses a 4 KiB page would be two
  // (a trace replay splits those): an access phase must not produce one.
  if ((out.va & (x86::PAGE_SIZE - 1)) + op.size > x86::PAGE_SIZE)
    fail(fmt::format("the access of {} bytes at {:#x} would cross a 4 KiB page", op.size, out.va));
  if (op.access == x86::Access::fetch) {
    out.access = x86::Access::fetch;
    ++stats_->fetches;
  } else if (op.writes >= 1.0 || (op.writes > 0 && mix_rng_.uniform() < op.writes)) {
    fill_write(out);
    ++stats_->writes;
  } else {
    out.access = x86::Access::read;
    ++stats_->reads;
  }
  return true;
}

bool ScriptedProgram::next_replay(hw::UserOp& out) {
  const LackeyTrace& trace = *current_->trace;
  if (replay_maps_left_) {
    --replay_maps_left_;
    const LackeyTrace::Range& r = trace.ranges()[replay_map_index_++];
    syscall(out, hal::Sys::mmap,
            {r.start, r.length, uapi::kProtRead | uapi::kProtWrite | uapi::kProtExec,
             // Populated up front: the replay itself then takes no first-touch
             // faults, so its TLB lookups are exactly the trace's accesses.
             uapi::kMapPrivate | uapi::kMapAnonymous | uapi::kMapFixedNoreplace | uapi::kMapPopulate, ~0ull, 0});
    return true;
  }
  if (!reader_) reader_ = std::make_unique<LackeyTrace::Reader>(trace);
  LackeyRecord rec;
  if (!reader_->next(rec)) {
    reader_.reset();
    return false;
  }
  ++stats_->trace_records;
  queued_ = queue_pos_ = 0;
  // One access per page the record touches; a modify is a load, then a store.
  auto push = [&](x86::Access acc) {
    uint64_t va = rec.addr;
    unsigned left = rec.size;
    while (left) {
      const unsigned n = static_cast<unsigned>(std::min<uint64_t>(left, x86::PAGE_SIZE - (va & (x86::PAGE_SIZE - 1))));
      hw::UserOp& q = queue_[queued_++];
      q.kind = hw::UserOp::Kind::access;
      q.va = va;
      q.size = static_cast<uint8_t>(n);
      q.access = acc;
      if (acc == x86::Access::write) {
        fill_write(q);
        ++stats_->writes;
      } else {
        (acc == x86::Access::fetch ? stats_->fetches : stats_->reads) += 1;
      }
      if (n != left || va != rec.addr) ++stats_->trace_splits;
      va += n;
      left -= n;
    }
  };
  switch (rec.kind) {
    case LackeyRecord::Kind::fetch: push(x86::Access::fetch); break;
    case LackeyRecord::Kind::load: push(x86::Access::read); break;
    case LackeyRecord::Kind::store: push(x86::Access::write); break;
    case LackeyRecord::Kind::modify:
      push(x86::Access::read);
      push(x86::Access::write);
      break;
  }
  out = queue_[queue_pos_++];
  return true;
}

bool ScriptedProgram::range_op(const Op& op, uint64_t index, hw::UserOp& out) {
  uint64_t start = 0, len = 0;
  range_of(op, start, len);
  start += index * op.stride;
  switch (op.kind) {
    case Op::Kind::munmap: syscall(out, hal::Sys::munmap, {start, len}); break;
    case Op::Kind::mprotect: syscall(out, hal::Sys::mprotect, {start, len, op.prot}); break;
    default: syscall(out, hal::Sys::madvise, {start, len, op.advice}); break;
  }
  return true;
}

bool ScriptedProgram::start_op(const Op& op, hw::UserOp& out) {
  uint64_t start = 0, len = 0;
  switch (op.kind) {
    case Op::Kind::mmap:
      syscall(out, hal::Sys::mmap, {op.addr, op.length, op.prot, op.flags, ~0ull, 0});
      return true;
    case Op::Kind::munmap:
    case Op::Kind::mprotect:
    case Op::Kind::madvise:
      repeats_left_ = op.count > 1 ? op.count - 1 : 0;
      repeat_index_ = 0;
      return range_op(op, 0, out);
    case Op::Kind::fork:
      // The child starts from this process's memory as it is now.
      op.child->inherit(shadow_->fork(), *mappings_);
      syscall(out, hal::Sys::fork, {op.child_cpu});
      out.sys.child_user = op.child;
      return true;
    case Op::Kind::thread:
      op.child->share(shadow_, mappings_);
      syscall(out, hal::Sys::clone, {uapi::kCloneThreadFlags, op.child_cpu});
      out.sys.child_user = op.child;
      return true;
    case Op::Kind::barrier:
      ++op.barrier->arrived;
      waiting_ = op.barrier;
      return next(out);
    case Op::Kind::exit:
      syscall(out, hal::Sys::exit, {static_cast<uint64_t>(op.status)});
      return true;
    case Op::Kind::replay:
      replaying_ = true;
      replay_maps_left_ = op.trace->ranges().size();
      replay_map_index_ = 0;
      reader_.reset();
      return next_replay(out);
    case Op::Kind::access: {
      range_of(op, start, len);
      if (len < op.size) fail("the range is smaller than one access");
      phase_base_ = start;
      const uint64_t stride = op.stride ? op.stride : op.size;
      pattern_ = std::make_unique<Pattern>(op.pattern, len, op.size, stride,
                                           mix64(seed_ ^ (pc_ * 0x51ed2701ull) ^ op.seed), op.theta);
      mix_rng_.reseed(mix64(seed_ + pc_) ^ op.seed);
      remaining_ = op.count ? op.count : (op.pattern == Pattern::Kind::strided ? len / stride : len / op.size);
      if (remaining_ == 0) return false;
      return next_access(out);
    }
  }
  return false;
}

void ScriptedProgram::complete(const hw::UserOp& op, uint64_t result, const uint8_t* data) {
  if (op.kind == hw::UserOp::Kind::spin) return;
  if (op.kind == hw::UserOp::Kind::access) {
    const Shadow::Region* r = region_ && region_gen_ == shadow_->generation() && region_->contains(op.va, op.size)
                                  ? region_
                                  : shadow_->find(op.va, op.size);
    if (!r) fail(fmt::format("access to {:#x} completed, but the process has nothing mapped there", op.va));
    region_ = r;
    region_gen_ = shadow_->generation();
    if (op.access == x86::Access::write) {
      shadow_->store(*r, op.va, op.size, data);
    } else if (current_->verify) {
      uint8_t expected[hw::UserOp::kMaxSize];
      if (!shadow_->check(*r, op.va, op.size, data, expected))
        fail(fmt::format("{} of {} bytes at {:#x} returned {}, expected {} (what the process last wrote there)",
                         op.access == x86::Access::fetch ? "fetch" : "load", static_cast<unsigned>(op.size), op.va,
                         hex_bytes(data, op.size), hex_bytes(expected, op.size)));
      ++stats_->verified;
    }
    return;
  }

  const Op& cur = *current_;
  const hal::Sys nr = op.sys.nr;
  const bool replay_map = cur.kind == Op::Kind::replay;
  if (is_error(result)) {
    const int64_t err = -static_cast<int64_t>(result);
    if (replay_map)
      fail(fmt::format("cannot map the trace's range [{:#x}, {:#x}): errno {}", op.sys.arg[0],
                       op.sys.arg[0] + op.sys.arg[1], err));
    if (cur.expect_errno != err)
      fail(cur.expect_errno ? fmt::format("{} failed with errno {}, expected errno {}", sys_name(nr), err,
                                          cur.expect_errno)
                            : fmt::format("{} failed with errno {}", sys_name(nr), err));
    ++stats_->failed_syscalls;
    return;
  }
  if (cur.expect_errno && !replay_map)
    fail(fmt::format("{} succeeded, but was expected to fail with errno {}", sys_name(nr), cur.expect_errno));

  switch (nr) {
    case hal::Sys::mmap: {
      if (replay_map) {
        if (result != op.sys.arg[0]) fail("the trace's fixed mapping landed elsewhere");
        shadow_->map(result, op.sys.arg[1], false);
        region_ = nullptr;
        return;
      }
      uint64_t len = (cur.length + x86::PAGE_SIZE - 1) & ~(x86::PAGE_SIZE - 1);
      if (cur.flags & uapi::kMapHugetlb) {
        // Linux rounds a hugetlb mapping up to whole huge pages.
        unsigned shift = (cur.flags >> uapi::kMapHugeShift) & 0x3f;
        if (shift == 0) shift = 21;  // the default huge page size
        const uint64_t huge = 1ull << shift;
        len = (cur.length + huge - 1) & ~(huge - 1);
      }
      (*mappings_)[cur.region] = {result, cur.length};
      shadow_->map(result, len, cur.flags & uapi::kMapShared);
      region_ = nullptr;
      stats_->mapped_bytes += cur.length;
      return;
    }
    case hal::Sys::munmap: {
      shadow_->unmap(op.sys.arg[0], (op.sys.arg[1] + x86::PAGE_SIZE - 1) & ~(x86::PAGE_SIZE - 1));
      region_ = nullptr;
      if (cur.offset == 0 && cur.span == 0) mappings_->erase(cur.region);
      return;
    }
    case hal::Sys::madvise:
      if (op.sys.arg[2] == uapi::kMadvDontneed) shadow_->zero(op.sys.arg[0], op.sys.arg[1]);
      else if (op.sys.arg[2] == uapi::kMadvFree) shadow_->lazy_free(op.sys.arg[0], op.sys.arg[1]);
      return;
    case hal::Sys::fork:
    case hal::Sys::clone:
      ++stats_->forks;
      if (cur.child) cur.child->set_pid(static_cast<int>(result));
      return;
    default:
      return;
  }
}

void ScriptedProgram::ended(int exit_status, int signal) {
  // Barriers this program will never reach must not wait for it.
  if (waiting_ && !waiting_->open()) waiting_ = nullptr;
  for (size_t i = pc_; i < ops_->size(); ++i)
    if ((*ops_)[i].kind == Op::Kind::barrier) --(*ops_)[i].barrier->count;
  finished_ = true;
  exit_status_ = exit_status;
  signal_ = signal;
}

}  // namespace tb
