#include "tb/workload/program.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "sw/hal/x86.h"
#include "tb/workload/errno_names.h"

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
    case hal::Sys::ioctl: return "ioctl";
    case hal::Sys::open: return "open";
    case hal::Sys::pread64: return "read (pread64)";
    case hal::Sys::pwrite64: return "write (pwrite64)";
    case hal::Sys::fsync: return "fsync";
    case hal::Sys::fdatasync: return "fdatasync";
    case hal::Sys::ftruncate: return "ftruncate";
    case hal::Sys::sync: return "sync";
    case hal::Sys::sysctl: return "sysctl (a /proc file)";
    case hal::Sys::rt_sigaction: return "rt_sigaction";
    case hal::Sys::prctl: return "prctl";
    case hal::Sys::mlock: return "mlock";
    case hal::Sys::munlock: return "munlock";
    case hal::Sys::fadvise64: return "fadvise64";
    case hal::Sys::msync: return "msync";
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
  forget_regions();
}

void ScriptedProgram::share(std::shared_ptr<Shadow> shadow, std::shared_ptr<Mappings> maps) {
  shadow_ = std::move(shadow);
  mappings_ = std::move(maps);
  forget_regions();
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

void ScriptedProgram::fill_write(uint64_t va, unsigned size, uint64_t* data) {
  if (current_ && current_->fixed_value) {
    for (unsigned w = 0; w < (size + 7u) / 8; ++w) data[w] = current_->value;
    return;
  }
  const uint64_t salt = seed_ ^ (++counter_ * 0x9e3779b97f4a7c15ull) ^ va;
  for (unsigned w = 0; w < (size + 7u) / 8; ++w) data[w] = mix64(salt + w);
}

void ScriptedProgram::issue(const IssueSum& c) {
  if (c.lanes) {
    stats_->reads += c.count(offsetof(Issue, reads));
    stats_->writes += c.count(offsetof(Issue, writes));
    stats_->fetches += c.count(offsetof(Issue, fetches));
    stats_->trace_records += c.count(offsetof(Issue, records));
    stats_->trace_splits += c.count(offsetof(Issue, splits));
  }
  if (c.verified) stats_->verified += c.verified;
}

bool ScriptedProgram::next(hw::UserOp& out) {
  started_ = true;
  raise_pending();
  if (pipe_ && batch_pos_ == batch_n_) next_slot_batch();
  if (batch_pos_ < batch_n_) {
    // An access of the batch the core did not complete in its fast loop.
    const hw::UserAccess& a = batch_[batch_pos_];
    if (pipe_) inflight_ = &batch_[batch_pos_];
    IssueSum c;
    c.add(batch_issue_[batch_pos_++]);
    issue(c);
    out.kind = hw::UserOp::Kind::access;
    out.va = a.va;
    out.size = a.size;
    out.access = a.access;
    if (a.access == x86::Access::write) std::memcpy(out.wdata, a.data, sizeof a.data);
    return true;
  }
  if (inject_next_) {
    inject_next_ = false;
    syscall(out, hal::Sys::sysctl,
            {uapi::kSysctlEinjInject, inject_pa_, current_->uc ? uapi::kEinjMemUncorrectable : uapi::kEinjMemCorrectable});
    return true;
  }
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
  if (io_left_) return next_io(out);
  if (file_op_) {
    if (step_file_op(out)) return true;
    file_op_ = false;
  }
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
  return final_ && final_sync(out);
}

int ScriptedProgram::op_under_way(const char*& label) const {
  label = current_ && !current_->name.empty() ? current_->name.c_str() : "operation";
  return current_ ? static_cast<int>(current_ - ops_->data()) : -1;
}

bool ScriptedProgram::next_access(hw::UserOp& out) {
  --remaining_;
  const Op& op = *current_;
  out.kind = hw::UserOp::Kind::access;
  out.va = carry_ ? carry_va_ : phase_base_ + pattern_->next();
  carry_ = false;
  out.size = static_cast<uint8_t>(op.size);
  // x86 allows unaligned accesses; one that crosses a 4 KiB page would be two
  // (a trace replay splits those): an access phase must not produce one.
  if ((out.va & (x86::PAGE_SIZE - 1)) + op.size > x86::PAGE_SIZE)
    fail(fmt::format("the access of {} bytes at {:#x} would cross a 4 KiB page", op.size, out.va));
  if (op.access == x86::Access::fetch) {
    out.access = x86::Access::fetch;
    ++stats_->fetches;
  } else if (op.writes >= 1.0 || (op.writes > 0 && mix_rng_.uniform() < op.writes)) {
    out.access = x86::Access::write;
    fill_write(out.va, out.size, out.wdata);
    ++stats_->writes;
  } else {
    out.access = x86::Access::read;
    ++stats_->reads;
  }
  return true;
}

unsigned ScriptedProgram::record_pieces(const LackeyRecord& rec, hw::UserAccess* out, Issue* counts) {
  unsigned n = 0;
  Issue c{};
  c.records = 1;
  auto push = [&](x86::Access acc) {
    uint64_t va = rec.addr;
    unsigned left = rec.size;
    while (left) {
      const unsigned len = static_cast<unsigned>(std::min<uint64_t>(left, x86::PAGE_SIZE - (va & (x86::PAGE_SIZE - 1))));
      hw::UserAccess& q = out[n++];
      q.va = va;
      q.size = static_cast<uint8_t>(len);
      q.access = acc;
      if (acc == x86::Access::write) {
        fill_write(va, len, q.data);
        ++c.writes;
      } else {
        ++(acc == x86::Access::fetch ? c.fetches : c.reads);
      }
      if (len != left || va != rec.addr) ++c.splits;
      va += len;
      left -= len;
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
  for (unsigned i = 0; i < n; ++i) counts[i] = i ? Issue{} : c;
  return n;
}

bool ScriptedProgram::next_replay(hw::UserOp& out) {
  if (pipe_) end_replay_pipeline();  // the worker has read the whole trace
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
  // One access per page the record touches, all counted as the first issues.
  hw::UserAccess pieces[4];
  Issue counts[4];
  queued_ = record_pieces(rec, pieces, counts);
  IssueSum c;
  c.add(counts[0]);
  issue(c);
  for (unsigned i = 0; i < queued_; ++i) {
    hw::UserOp& q = queue_[i];
    q.kind = hw::UserOp::Kind::access;
    q.va = pieces[i].va;
    q.size = pieces[i].size;
    q.access = pieces[i].access;
    if (q.access == x86::Access::write) std::memcpy(q.wdata, pieces[i].data, sizeof pieces[i].data);
  }
  queue_pos_ = 0;
  out = queue_[queue_pos_++];
  return true;
}

const Shadow::Region* ScriptedProgram::region_for(uint64_t va, unsigned size, x86::Access acc) {
  revalidate_regions();
  const Shadow::Region** const ways = region_[acc == x86::Access::fetch];
  unsigned i = 0;
  while (i < kRegionWays - 1 && ways[i] && !ways[i]->contains(va, size)) ++i;
  const Shadow::Region* r = ways[i] && ways[i]->contains(va, size) ? ways[i] : shadow_->find(va, size);
  if (!r) fail(fmt::format("access to {:#x} completed, but the process has nothing mapped there", va));
  std::copy_backward(ways, ways + i, ways + i + 1);  // to the front
  return ways[0] = r;
}

void ScriptedProgram::load_mismatch(uint64_t va, unsigned size, x86::Access acc, const uint8_t* data,
                                    const uint8_t* expected) {
  fail(fmt::format("{} of {} bytes at {:#x} returned {}, expected {} (what the process last wrote there)",
                   acc == x86::Access::fetch ? "fetch" : "load", size, va, hex_bytes(data, size),
                   hex_bytes(expected, size)));
}

template <bool kPadded>
__attribute__((always_inline)) inline bool ScriptedProgram::complete_access(Shadow& shadow, const Shadow::Region& r,
                                                                             bool verify, uint64_t va, unsigned size,
                                                                             x86::Access acc, const uint8_t* data) {
  if (acc == x86::Access::write) {
    shadow.store(r, va, size, data);
  } else if (verify) {
    if (r.fmap) file_stats().verified_bytes += size;
    uint8_t expected[hw::UserOp::kMaxSize];
    const bool same = kPadded ? shadow.check_padded(r, va, size, data, expected)
                              : shadow.check(r, va, size, data, expected);
    if (__builtin_expect(!same, 0)) load_mismatch(va, size, acc, data, expected);
    return true;
  }
  return false;
}

// ---- Batches ----

hw::UserAccess* ScriptedProgram::access_batch(unsigned& n) {
  raise_pending();
  if (batch_pos_ == batch_n_) refill_batch();
  n = batch_n_ - batch_pos_;
  return batch_ + batch_pos_;
}

__attribute__((always_inline)) inline bool ScriptedProgram::shadow_access(Shadow& shadow,
                                                                          const Shadow::Region* (&last)[2],
                                                                          bool verify, const hw::UserAccess& a) {
  const unsigned fetch = a.access == x86::Access::fetch;
  const Shadow::Region* r = last[fetch];
  if (__builtin_expect(!r || !r->contains(a.va, a.size), 0)) r = last[fetch] = region_for(a.va, a.size, a.access);
  return complete_access<true>(shadow, *r, verify, a.va, a.size, a.access, reinterpret_cast<const uint8_t*>(a.data));
}

void ScriptedProgram::complete_batch(unsigned n) {
  // The counts go to the statistics once, with exactly the accesses
  // completed so far when one fails.
  if (pipe_) return complete_slot_batch(n);
  IssueSum sum;
  unsigned i = batch_pos_;
  const unsigned end = i + n;
  // What holds for the whole batch (the shadow's set of regions: no access
  // maps or unmaps; whether loads are verified; the last region of each
  // class; where the batch is) is read once into locals: the shadow's
  // stores go through byte pointers, and after each the compiler would load
  // every member again.
  revalidate_regions();
  Shadow& shadow = *shadow_;
  const bool verify = current_->verify;
  const Shadow::Region* last[2] = {region_[0][0], region_[1][0]};  // data, fetches
  const hw::UserAccess* const accesses = batch_;
  const Issue* const counts = batch_issue_;
  try {
    for (; i < end; ++i) {
      sum.add(counts[i]);
      sum.verified += shadow_access(shadow, last, verify, accesses[i]);
    }
  } catch (...) {
    batch_pos_ = i;
    issue(sum);
    throw;
  }
  batch_pos_ = end;
  issue(sum);
}

void ScriptedProgram::complete_slot_batch(unsigned n) {
  IssueSum sum;
  const unsigned end = batch_pos_ + n;
  const bool verify = current_->verify;
  for (unsigned i = batch_pos_; i < end; ++i) {
    sum.add(batch_issue_[i]);
    sum.verified += verify && batch_[i].access != x86::Access::write;
  }
  batch_pos_ = end;
  done_ = slot_index(batch_) + end;
  issue(sum);
}

void ScriptedProgram::check_replayed(const hw::UserAccess* a, unsigned from, unsigned to) {
  revalidate_regions();  // and the rest in locals, as complete_batch() has them
  Shadow& shadow = *shadow_;
  const bool verify = current_->verify;
  const Shadow::Region* last[2] = {region_[0][0], region_[1][0]};
  for (unsigned i = from; i < to; ++i) shadow_access(shadow, last, verify, a[i]);
}

void ScriptedProgram::refill_batch() {
  if (pipe_) return next_slot_batch();
  batch_ = own_batch_;
  batch_issue_ = own_issue_;
  batch_pos_ = batch_n_ = 0;
  // Only while plain accesses are all that comes next.
  if (waiting_ || queue_pos_ < queued_ || carry_) return;
  if (remaining_) fill_access_batch();
  else if (io_left_) fill_io_batch();
  else if (replaying_ && !replay_maps_left_ && reader_) {
    if (start_replay_pipeline()) next_slot_batch();
    else batch_n_ = fill_replay_batch(batch_, batch_issue_);
  }
}

void ScriptedProgram::fill_access_batch() {
  const Op& op = *current_;
  const unsigned n = static_cast<unsigned>(std::min<uint64_t>(kBatch, remaining_));
  uint64_t off[kBatch];
  pattern_->fill(off, n);
  unsigned i = 0;
  for (; i < n; ++i) {
    hw::UserAccess& a = own_batch_[i];  // refill_batch() pointed batch_ here
    Issue& c = own_issue_[i];
    c = Issue{};
    a.va = phase_base_ + off[i];
    a.size = static_cast<uint8_t>(op.size);
    if ((a.va & (x86::PAGE_SIZE - 1)) + op.size > x86::PAGE_SIZE) {
      // next_access() reports it when its turn comes.
      carry_ = true;
      carry_va_ = a.va;
      break;
    }
    if (op.access == x86::Access::fetch) {
      a.access = x86::Access::fetch;
      c.fetches = 1;
    } else if (op.writes >= 1.0 || (op.writes > 0 && mix_rng_.uniform() < op.writes)) {
      a.access = x86::Access::write;
      fill_write(a.va, a.size, a.data);
      c.writes = 1;
    } else {
      a.access = x86::Access::read;
      c.reads = 1;
    }
  }
  remaining_ -= i;
  batch_n_ = i;
}

unsigned ScriptedProgram::fill_replay_batch(hw::UserAccess* out, Issue* counts) {
  // Whole records only (at most 4 pieces each).
  static constexpr x86::Access kAccess[] = {x86::Access::fetch, x86::Access::read, x86::Access::write};
  static constexpr Issue kCounts[] = {{0, 0, 1, 1, 0, {}}, {1, 0, 0, 1, 0, {}}, {0, 1, 0, 1, 0, {}}};
  unsigned n = 0;
  size_t avail;
  while (n + 4 <= kBatch) {
    const LackeyRecord* const recs = reader_->peek(avail);
    size_t i = 0;
    for (; i < avail && n + 4 <= kBatch; ++i) {
      const LackeyRecord& rec = recs[i];
      if (rec.kind == LackeyRecord::Kind::modify || (rec.addr & (x86::PAGE_SIZE - 1)) + rec.size > x86::PAGE_SIZE) {
        n += record_pieces(rec, out + n, counts + n);
        continue;
      }
      // Most records: one access within a page.
      const unsigned k = static_cast<unsigned>(rec.kind);
      hw::UserAccess& a = out[n];
      a.va = rec.addr;
      a.size = static_cast<uint8_t>(rec.size);
      a.access = kAccess[k];
      if (a.access == x86::Access::write) fill_write(a.va, rec.size, a.data);
      counts[n++] = kCounts[k];
    }
    if (!avail) break;
    reader_->take(i);
  }
  return n;
}

// ---- A replay on two threads ----

bool ScriptedProgram::start_replay_pipeline() {
  // Only when nobody else can touch this shadow meanwhile: no thread shares
  // it. (A replay's own regions are private and anonymous.) With one host
  // thread, or one CPU, the simulation's thread does the pipeline's work
  // itself, so a failure is raised at the same point on any host.
  if (shadow_.use_count() != 1) return false;
  const bool worker = current_->threads > 1 && std::thread::hardware_concurrency() > 1;
  const LackeyTrace& trace = *current_->trace;
  reader_->mute_progress();  // the simulation's thread prints it (below)
  replay_progress_ =
      std::make_unique<TraceProgress>(trace.progress(), "replaying", trace.path(), trace.progress_every_s());
  replay_records_ = stats_->trace_records.value();
  slots_.reset(new ReplaySlot[ReplayPipeline::kSlots]);  // not cleared: the worker fills them
  pipe_ = std::make_unique<ReplayPipeline>([this](unsigned ring) { return fill_slot(ring); },
                                           [this](unsigned ring) { check_slot(ring); }, worker);
  return true;
}

void ScriptedProgram::end_replay_pipeline() {
  drain_replay();
  release_replay_pipeline();
}

void ScriptedProgram::release_replay_pipeline() {
  pipe_.reset();
  slots_.reset();
  slot_ = nullptr;
  inflight_ = nullptr;
  replay_progress_.reset();
  batch_ = own_batch_;
  batch_issue_ = own_issue_;
  batch_pos_ = batch_n_ = 0;
}

bool ScriptedProgram::fill_slot(unsigned ring) {
  ReplaySlot& s = slots_[ring];
  s.batches = s.checked = 0;
  unsigned total = 0;
  while (s.batches < kSlotBatches) {
    const unsigned n = fill_replay_batch(s.acc + total, s.issue + total);
    if (!n) return false;
    total += n;
    s.batch_end[s.batches++] = total;
  }
  return true;
}

void ScriptedProgram::check_slot(unsigned ring) {
  const ReplaySlot& s = slots_[ring];
  check_replayed(s.acc, s.checked, s.size());
}

void ScriptedProgram::next_slot_batch() {
  batch_pos_ = batch_n_ = 0;
  while (!slot_ || slot_batch_ == slot_->batches) {
    if (slot_ && done_ != slot_->size())
      throw std::logic_error("a replay slot was handed back with accesses still to complete");
    unsigned ring;
    slot_ = nullptr;
    if (!pipe_->take(ring)) return;
    slot_ = &slots_[ring];
    slot_batch_ = 0;
    done_ = 0;
    const uint64_t records = stats_->trace_records.value() - replay_records_;
    replay_progress_->tick(records, [&] {
      return static_cast<double>(records) / static_cast<double>(std::max<uint64_t>(1, current_->trace->counts().records()));
    });
  }
  const unsigned start = slot_batch_ ? slot_->batch_end[slot_batch_ - 1] : 0;
  batch_ = slot_->acc + start;
  batch_issue_ = slot_->issue + start;
  batch_n_ = slot_->batch_end[slot_batch_++] - start;
}

void ScriptedProgram::drain_replay() {
  pipe_->drain();
  if (!slot_) return;
  check_replayed(slot_->acc, slot_->checked, done_);
  slot_->checked = done_;
}

void ScriptedProgram::settle() {
  if (pipe_) drain_replay();
  raise_pending();
}

void ScriptedProgram::drain_replay_later() {
  try {
    drain_replay();
  } catch (...) {
    if (!pending_) pending_ = std::current_exception();
  }
}

void ScriptedProgram::raise_pending() {
  if (!pending_) return;
  std::exception_ptr e = pending_;
  pending_ = nullptr;
  std::rethrow_exception(e);
}

bool ScriptedProgram::range_op(const Op& op, uint64_t index, hw::UserOp& out) {
  uint64_t start = 0, len = 0;
  range_of(op, start, len);
  start += index * op.stride;
  switch (op.kind) {
    case Op::Kind::munmap: syscall(out, hal::Sys::munmap, {start, len}); break;
    case Op::Kind::mprotect: syscall(out, hal::Sys::mprotect, {start, len, op.prot}); break;
    case Op::Kind::mlock: syscall(out, hal::Sys::mlock, {start, len}); break;
    case Op::Kind::munlock: syscall(out, hal::Sys::munlock, {start, len}); break;
    default: syscall(out, hal::Sys::madvise, {start, len, op.advice}); break;
  }
  return true;
}

void ScriptedProgram::dma_copy(const Op& op, hw::UserOp& out) {
  auto address = [&](const std::string& region, uint64_t offset) {
    const auto it = mappings_->find(region);
    if (it == mappings_->end()) fail(fmt::format("dma_copy: no region '{}' is mapped", region));
    if (offset > it->second.length || op.length > it->second.length - offset)
      fail(fmt::format("dma_copy: {} bytes from offset {} run past the end of region '{}'", op.length, offset, region));
    return it->second.start + offset;
  };
  const uint64_t src = address(op.region, op.offset), dst = address(op.dst_region, op.dst_offset);
  if (src < dst + op.length && dst < src + op.length) fail("dma_copy: source and destination overlap");
  syscall(out, hal::Sys::ioctl, {op.device, uapi::kDmaIocCopy, dst, src, op.length});
}

bool ScriptedProgram::start_op(const Op& op, hw::UserOp& out) {
  uint64_t start = 0, len = 0;
  switch (op.kind) {
    case Op::Kind::mmap:
      if (op.file >= 0) break;  // a file mapping: a file operation (below)
      syscall(out, hal::Sys::mmap, {op.addr, op.length, op.prot, op.flags, ~0ull, 0});
      return true;
    case Op::Kind::munmap:
    case Op::Kind::mprotect:
    case Op::Kind::madvise:
    case Op::Kind::mlock:
    case Op::Kind::munlock:
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
    case Op::Kind::oom_score_adj:
      syscall(out, hal::Sys::sysctl, {uapi::kSysctlOomScoreAdj, static_cast<uint64_t>(static_cast<int64_t>(op.oom_score_adj))});
      return true;
    case Op::Kind::sigaction:
      syscall(out, hal::Sys::rt_sigaction, {static_cast<uint64_t>(uapi::kSigbus), op.handler ? 1u : 0u});
      return true;
    case Op::Kind::prctl:
      syscall(out, hal::Sys::prctl, {uapi::kPrMceKill, uapi::kPrMceKillSet, op.mce_kill});
      return true;
    case Op::Kind::inject:
      // ras-tools' einj_mem_uc: the page frame from pagemap, then EINJ at
      // the physical address (complete() issues the second call).
      // With `target: page_table`, the line is the one holding the entry
      // the walk of the address reads (an mmcosim hook: kSysctlPgtableEntry).
      range_of(op, start, len);
      syscall(out, hal::Sys::sysctl, {op.pgtable ? uapi::kSysctlPgtableEntry : uapi::kSysctlPagemap, start});
      return true;
    case Op::Kind::pagemap:
      // /proc/self/pagemap's pfn (the page faulted in first when absent, as inject).
      range_of(op, start, len);
      syscall(out, hal::Sys::sysctl, {uapi::kSysctlPagemap, start});
      return true;
    case Op::Kind::dma_copy:
      dma_copy(op, out);
      return true;
    case Op::Kind::dma_alloc:
      syscall(out, hal::Sys::ioctl, {op.device, uapi::kDmaIocAlloc, op.length});
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
    default:
      break;
  }
  // File operations, in steps.
  file_op_ = true;
  begin_file_op();
  if (step_file_op(out)) return true;
  file_op_ = false;
  return false;
}

void ScriptedProgram::complete(const hw::UserOp& op, uint64_t result, const uint8_t* data) {
  if (op.kind == hw::UserOp::Kind::spin) return;
  if (op.kind == hw::UserOp::Kind::access) {
    if (inflight_) {  // checked with its slot (check_slot)
      hw::UserAccess& a = *inflight_;
      inflight_ = nullptr;
      if (a.access != x86::Access::write) {
        std::memcpy(a.data, data, op.size);
        if (current_->verify) ++stats_->verified;
      }
      done_ = slot_index(&a) + 1;
      return;
    }
    const Shadow::Region* r = region_for(op.va, op.size, op.access);
    if (complete_access<false>(*shadow_, *r, current_->verify, op.va, op.size, op.access, data)) ++stats_->verified;
    return;
  }

  if (pipe_) drain_replay();
  if (final_sync_) {
    final_sync_ = false;
    if (is_error(result)) fail(fmt::format("the final sync failed with {}", errno_text(-static_cast<int64_t>(result))));
    ++file_stats().syncs;
    ++file_stats().final_syncs;
    return;
  }
  const Op& cur = *current_;
  const hal::Sys nr = op.sys.nr;
  if (file_op_ && complete_file_setup(op, result)) return;
  const bool replay_map = cur.kind == Op::Kind::replay;
  if (is_error(result)) {
    const int64_t err = -static_cast<int64_t>(result);
    if (replay_map)
      fail(fmt::format("cannot map the trace's range [{:#x}, {:#x}): {}", op.sys.arg[0],
                       op.sys.arg[0] + op.sys.arg[1], errno_text(err)));
    if (cur.expect_errno != err)
      fail(cur.expect_errno ? fmt::format("{} failed with {}, expected {}", sys_name(nr), errno_text(err),
                                          errno_text(cur.expect_errno))
                            : fmt::format("{} failed with {}", sys_name(nr), errno_text(err)));
    ++stats_->failed_syscalls;
    if (file_op_) file_call_failed(cur, op, err);
    return;
  }
  if (cur.expect_errno && !replay_map)
    fail(fmt::format("{} succeeded, but was expected to fail with {}", sys_name(nr), errno_text(cur.expect_errno)));

  switch (nr) {
    case hal::Sys::mmap: {
      if (replay_map) {
        if (result != op.sys.arg[0]) fail("the trace's fixed mapping landed elsewhere");
        shadow_->map(result, op.sys.arg[1], false);
        forget_regions();
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
      if (result < cur.expect_above || (cur.expect_below && result + len > cur.expect_below))
        fail(fmt::format("mmap placed {} at [{:#x}, {:#x}), expected within [{:#x}, {:#x})", cur.region, result,
                         result + len, cur.expect_above, cur.expect_below ? cur.expect_below : ~0ull));
      (*mappings_)[cur.region] = {result, cur.length};
      if (cur.file >= 0) shadow_->map_file(result, len, &file(cur.file), cur.offset, cur.flags & uapi::kMapShared);
      else shadow_->map(result, len, cur.flags & uapi::kMapShared);
      forget_regions();
      stats_->mapped_bytes += cur.length;
      return;
    }
    case hal::Sys::munmap: {
      shadow_->unmap(op.sys.arg[0], (op.sys.arg[1] + x86::PAGE_SIZE - 1) & ~(x86::PAGE_SIZE - 1));
      forget_regions();
      if (cur.offset == 0 && cur.span == 0) mappings_->erase(cur.region);
      return;
    }
    case hal::Sys::madvise:
      if (op.sys.arg[2] == uapi::kMadvDontneed) shadow_->zero(op.sys.arg[0], op.sys.arg[1]);
      else if (op.sys.arg[2] == uapi::kMadvFree) shadow_->lazy_free(op.sys.arg[0], op.sys.arg[1]);
      return;
    case hal::Sys::ioctl:
      if (op.sys.arg[1] == uapi::kDmaIocAlloc) {
        // A coherent buffer: zeroed, private to this process (not inherited).
        (*mappings_)[cur.region] = {result, cur.length};
        shadow_->map(result, (cur.length + x86::PAGE_SIZE - 1) & ~(x86::PAGE_SIZE - 1), false);
      } else {
        // The device copied: dst now holds what src held.
        shadow_->copy(op.sys.arg[2], op.sys.arg[3], op.sys.arg[4]);
      }
      forget_regions();
      return;
    case hal::Sys::fork:
    case hal::Sys::clone:
      ++stats_->forks;
      if (cur.child) cur.child->set_pid(static_cast<int>(result));
      if (final_) ++final_->count;  // the final sync waits for the child too
      return;
    case hal::Sys::sysctl:
      if (cur.kind == Op::Kind::inject) {
        if (op.sys.arg[0] == uapi::kSysctlPagemap) {
          inject_pa_ = (result << x86::PAGE_SHIFT) | (op.sys.arg[1] & (x86::PAGE_SIZE - 1));
          inject_next_ = true;
        } else if (op.sys.arg[0] == uapi::kSysctlPgtableEntry) {
          inject_pa_ = result;
          inject_next_ = true;
        }
        return;
      }
      if (cur.kind == Op::Kind::pagemap) {
        complete_pagemap(cur, result);
        return;
      }
      [[fallthrough]];
    default:
      if (file_op_) complete_file_call(cur, op, result);
      return;
  }
}

void ScriptedProgram::complete_pagemap(const Op& op, uint64_t pfn) {
  if (op.pfn_check == Op::PfnCheck::save) {
    pfns_[op.pfn_name] = pfn;
    return;
  }
  const uint64_t saved = pfns_.at(op.pfn_name);  // the parser saw the save first
  if (op.pfn_check == Op::PfnCheck::same && pfn != saved)
    fail(fmt::format("{}+{:#x} is backed by pfn {:#x} now, not by pfn {:#x} ('{}') as expected", op.region, op.offset,
                     pfn, saved, op.pfn_name));
  if (op.pfn_check == Op::PfnCheck::differs && pfn == saved)
    fail(fmt::format("{}+{:#x} is still backed by pfn {:#x} ('{}'), expected another page", op.region, op.offset, pfn,
                     op.pfn_name));
}

void ScriptedProgram::signalled(const hal::SigInfo& si) {
  // forget() below changes what the checks compare with. From the kernel
  // (memory_failure): a failure is raised at the program's next call.
  if (pipe_) drain_replay_later();
  Signal s{si, "", si.addr};
  for (const auto& [name, m] : *mappings_)
    if (si.addr >= m.start && si.addr < m.start + m.length) s = Signal{si, name, si.addr - m.start};
  signals_.push_back(s);
  if (si.signo != uapi::kSigbus || (si.code != uapi::kBusMceerrAr && si.code != uapi::kBusMceerrAo)) return;
  // The poisoned extent (a page, or a huge page: si_addr_lsb) lost its data.
  const unsigned lsb = std::max(si.addr_lsb, static_cast<unsigned>(x86::PAGE_SHIFT));
  const uint64_t extent = 1ull << lsb;
  shadow_->forget(si.addr & ~(extent - 1), extent);
}

void ScriptedProgram::skipped(const hw::UserOp& op) {
  (void)op;
  if (inflight_) {  // the accesses before it are checked; it is not
    done_ = slot_index(inflight_);
    inflight_ = nullptr;
    drain_replay_later();  // from the kernel's trap handling: raised at the next call
    slot_->checked = ++done_;
  }
  ++skipped_;
}

void ScriptedProgram::ended(int exit_status, int signal) {
  if (pipe_) {  // from the kernel's exit: a failure is raised by settle()
    drain_replay_later();
    release_replay_pipeline();
  }
  // Barriers this program will never reach must not wait for it.
  if (waiting_ && !waiting_->open()) waiting_ = nullptr;
  for (size_t i = pc_; i < ops_->size(); ++i)
    if ((*ops_)[i].kind == Op::Kind::barrier) --(*ops_)[i].barrier->count;
  if (final_ && !final_arrived_) {
    final_arrived_ = true;
    ++final_->arrived;
  }
  finished_ = true;
  exit_status_ = exit_status;
  signal_ = signal;
}

}  // namespace tb
