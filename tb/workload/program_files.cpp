// The file operations of a scripted program (file_read, file_write, fsync,
// fdatasync, ftruncate, sync, drop_caches, fadvise, msync, mmap of a file):
// each is a short sequence of steps -- open the file the first time this
// process uses it, map the process's I/O buffer, fill the buffer with
// stores, the call itself, load the buffer back -- and every byte read is
// checked against the shadow's copy of the file (files.h).
#include <algorithm>
#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "hw/base/config.h"
#include "sw/hal/x86.h"
#include "tb/workload/errno_names.h"
#include "tb/workload/program.h"

namespace tb {

namespace {

bool is_error(uint64_t ret) {
  const int64_t r = static_cast<int64_t>(ret);
  return r < 0 && r >= -4095;
}

bool needs_fd(const Op& op) {
  switch (op.kind) {
    case Op::Kind::file_read:
    case Op::Kind::file_write:
    case Op::Kind::fsync:
    case Op::Kind::fdatasync:
    case Op::Kind::ftruncate:
    case Op::Kind::fadvise: return true;
    case Op::Kind::mmap: return op.file >= 0;
    default: return false;
  }
}

bool moves_data(const Op& op) { return op.kind == Op::Kind::file_read || op.kind == Op::Kind::file_write; }

uint64_t page_up(uint64_t n) { return (n + x86::PAGE_SIZE - 1) & ~(x86::PAGE_SIZE - 1); }

constexpr unsigned kIoAccess = hw::UserOp::kMaxSize;  // bytes per access to the I/O buffer

}  // namespace

bool ScriptedProgram::step_file_op(hw::UserOp& out) {
  const Op& op = *current_;
  if (needs_fd(op)) {
    if (fds_.size() < files_->files.size()) fds_.resize(files_->files.size(), -1);
    if (fds_[static_cast<size_t>(op.file)] < 0) {
      syscall(out, hal::Sys::open, {static_cast<uint64_t>(op.file), uapi::kORdwr});
      return true;
    }
  }
  if (moves_data(op) && io_buf_len_ < op.length) {
    // One buffer for all of this process's reads and writes: the largest length any of them moves.
    uint64_t len = 0;
    for (const Op& o : *ops_)
      if (moves_data(o)) len = std::max(len, o.length);
    syscall(out, hal::Sys::mmap, {0, page_up(len), uapi::kProtRead | uapi::kProtWrite,
                                  uapi::kMapPrivate | uapi::kMapAnonymous, ~0ull, 0});
    return true;
  }
  if (op.kind == Op::Kind::file_write && !io_filled_) {
    io_filled_ = true;
    start_io(true, op.length);
    return next_io(out);
  }
  if (!call_issued_) {
    call_issued_ = true;
    file_call(op, out);
    return true;
  }
  if (op.kind == Op::Kind::file_read && read_ok_ && !io_checked_) {
    io_checked_ = true;
    start_io(false, op.length);
    return next_io(out);
  }
  if (io_calls_left_) {
    // The next call of a repeated read or write.
    --io_calls_left_;
    ++io_index_;
    next_io_offset();
    io_filled_ = call_issued_ = read_ok_ = io_checked_ = false;
    return step_file_op(out);
  }
  return false;
}

bool ScriptedProgram::final_sync(hw::UserOp& out) {
  if (final_arrived_) return false;
  final_arrived_ = true;
  // Programs run as SystemC threads one at a time: exactly one sees itself last.
  if (++final_->arrived < final_->count) return false;
  final_sync_ = true;
  syscall(out, hal::Sys::sync, {});
  return true;
}

void ScriptedProgram::begin_file_op() {
  const Op& op = *current_;
  io_filled_ = call_issued_ = read_ok_ = io_checked_ = false;
  io_index_ = 0;
  io_calls_left_ = moves_data(op) && op.count > 1 ? op.count - 1 : 0;
  if (op.pattern == Pattern::Kind::random) io_rng_.reseed(mix64(seed_ ^ (pc_ * 0x51ed2701ull) ^ op.seed));
  next_io_offset();
}

void ScriptedProgram::next_io_offset() {
  const Op& op = *current_;
  if (!moves_data(op)) return;
  if (op.pattern == Pattern::Kind::random) {
    const uint64_t slots = file(op.file).spec().size / op.length;
    io_offset_ = io_rng_.below(slots) * op.length;
  } else {
    io_offset_ = op.offset + io_index_ * op.stride;
  }
}

void ScriptedProgram::file_call(const Op& op, hw::UserOp& out) {
  const uint64_t fd = op.file >= 0 && static_cast<size_t>(op.file) < fds_.size() ? fds_[op.file] : ~0ull;
  switch (op.kind) {
    case Op::Kind::file_read: syscall(out, hal::Sys::pread64, {fd, io_buf_, op.length, io_offset_}); break;
    case Op::Kind::file_write: syscall(out, hal::Sys::pwrite64, {fd, io_buf_, op.length, io_offset_}); break;
    case Op::Kind::fsync: syscall(out, hal::Sys::fsync, {fd}); break;
    case Op::Kind::fdatasync: syscall(out, hal::Sys::fdatasync, {fd}); break;
    case Op::Kind::ftruncate: syscall(out, hal::Sys::ftruncate, {fd, op.file_size}); break;
    case Op::Kind::sync: syscall(out, hal::Sys::sync, {}); break;
    case Op::Kind::drop_caches: syscall(out, hal::Sys::sysctl, {uapi::kSysctlDropCaches, op.level}); break;
    case Op::Kind::fadvise: syscall(out, hal::Sys::fadvise64, {fd, op.offset, op.span, op.advice}); break;
    case Op::Kind::msync: {
      uint64_t start = 0, len = 0;
      range_of(op, start, len);
      syscall(out, hal::Sys::msync, {start, len, op.flags});
      break;
    }
    case Op::Kind::mmap: syscall(out, hal::Sys::mmap, {op.addr, op.length, op.prot, op.flags, fd, op.offset}); break;
    default: fail("not a file operation");
  }
}

void ScriptedProgram::start_io(bool stores, uint64_t len) {
  io_stores_ = stores;
  io_va_ = io_buf_;
  io_left_ = len;
}

void ScriptedProgram::io_access(hw::UserAccess& a) {
  a.va = io_va_;
  a.size = static_cast<uint8_t>(std::min<uint64_t>({io_left_, kIoAccess, x86::PAGE_SIZE - io_va_ % x86::PAGE_SIZE}));
  a.access = io_stores_ ? x86::Access::write : x86::Access::read;
  if (io_stores_) fill_write(a.va, a.size, a.data);
  io_va_ += a.size;
  io_left_ -= a.size;
}

bool ScriptedProgram::next_io(hw::UserOp& out) {
  if (!io_left_) return step_file_op(out);
  hw::UserAccess a;
  io_access(a);
  out.kind = hw::UserOp::Kind::access;
  out.va = a.va;
  out.size = a.size;
  out.access = a.access;
  if (io_stores_) {
    std::copy(std::begin(a.data), std::end(a.data), out.wdata);
    ++stats_->writes;
  } else {
    ++stats_->reads;
  }
  return true;
}

void ScriptedProgram::fill_io_batch() {
  unsigned n = 0;
  for (; n < kBatch && io_left_; ++n) {
    io_access(own_batch_[n]);  // refill_batch() pointed batch_ here
    own_issue_[n] = Issue{};
    (io_stores_ ? own_issue_[n].writes : own_issue_[n].reads) = 1;
  }
  batch_n_ = n;
}

bool ScriptedProgram::complete_file_setup(const hw::UserOp& op, uint64_t result) {
  const Op& cur = *current_;
  if (op.sys.nr == hal::Sys::open) {
    const FileState& f = file(static_cast<int>(op.sys.arg[0]));
    if (is_error(result))
      fail(fmt::format("open of file {} failed with {}", f.spec().name, errno_text(-static_cast<int64_t>(result))));
    fds_[op.sys.arg[0]] = static_cast<int64_t>(result);
    return true;
  }
  if (op.sys.nr == hal::Sys::mmap && cur.kind != Op::Kind::mmap) {
    if (is_error(result))
      fail(fmt::format("cannot map the I/O buffer of {}: {}", sim::format_size(op.sys.arg[1]),
                       errno_text(-static_cast<int64_t>(result))));
    io_buf_ = result;
    io_buf_len_ = op.sys.arg[1];
    shadow_->map(result, io_buf_len_, false);
    forget_regions();
    return true;
  }
  return false;
}

void ScriptedProgram::complete_file_call(const Op& cur, const hw::UserOp& op, uint64_t result) {
  FileStats& st = file_stats();
  switch (op.sys.nr) {
    case hal::Sys::pread64: {
      FileState& f = file(cur.file);
      const uint64_t want = f.readable(io_offset_, cur.length);
      if (result != want)
        fail(fmt::format("read of {} bytes at offset {:#x} of file {} returned {}, expected {} (the file has {} bytes)",
                         cur.length, io_offset_, f.spec().name, result, want, f.size()));
      // The kernel copied the file's bytes into the buffer: the loads that follow must find them.
      std::vector<uint8_t> bytes(want);
      f.read(io_offset_, want, bytes.data());
      shadow_->store_range(io_buf_, want, bytes.data());
      // Bytes of pages the file lost are whatever the disk kept: the
      // buffer's pages holding them are not checked until a read refills them.
      shadow_->remember(io_buf_, want);
      for (uint64_t at = 0; at < want;) {
        const uint64_t n = std::min(want - at, FileState::kPage - (io_offset_ + at) % FileState::kPage);
        if (f.lost((io_offset_ + at) / FileState::kPage)) shadow_->forget(io_buf_ + at, n);
        at += n;
      }
      ++st.reads;
      st.bytes_read += want;
      if (want < cur.length) ++st.short_reads;
      st.verified_bytes += want;
      read_ok_ = true;
      return;
    }
    case hal::Sys::pwrite64: {
      FileState& f = file(cur.file);
      if (result != cur.length)
        fail(fmt::format("write of {} bytes at offset {:#x} of file {} returned {}", cur.length, io_offset_,
                         f.spec().name, result));
      // The file now holds what the buffer held.
      std::vector<uint8_t> bytes(cur.length);
      shadow_->load_range(io_buf_, cur.length, bytes.data());
      f.write(io_offset_, cur.length, bytes.data());
      ++st.writes;
      st.bytes_written += cur.length;
      return;
    }
    case hal::Sys::ftruncate:
      file(cur.file).truncate(cur.file_size);
      ++st.truncates;
      return;
    case hal::Sys::fsync:
    case hal::Sys::fdatasync:
      file(cur.file).synced(true);
      ++st.syncs;
      return;
    case hal::Sys::sync:
    case hal::Sys::msync:
      ++st.syncs;
      return;
    default:
      return;
  }
}

void ScriptedProgram::file_call_failed(const Op& cur, const hw::UserOp& op, int64_t err) {
  if (err != EIO) return;
  if (op.sys.nr == hal::Sys::fsync || op.sys.nr == hal::Sys::fdatasync) file(cur.file).synced(false);
  else if (op.sys.nr == hal::Sys::msync) shadow_->sync_failed(op.sys.arg[0], op.sys.arg[1]);
}

}  // namespace tb
