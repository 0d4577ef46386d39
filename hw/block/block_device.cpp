#include "hw/block/block_device.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "hw/base/debug.h"
#include "hw/base/time.h"
#include "hw/base/trace.h"
#include "hw/ext/dma.h"
#include "hw/ext/memory.h"
#include "sw/hal/hal.h"

SIM_DEBUG_FLAG(Block, "Block: the disk's requests (type, sectors, bytes), completions, errors and FLUSHes")

namespace hw {

using sc_core::sc_time;

const char* block_error_name(BlockError e) {
  switch (e) {
    case BlockError::none: return "none";
    case BlockError::beyond_width: return "address beyond the device's width";
    case BlockError::bus_error: return "bus error";
    case BlockError::poison: return "poisoned memory";
    case BlockError::bad_descriptor: return "bad descriptor chain";
    case BlockError::bad_request: return "bad request";
  }
  return "?";
}

namespace {

std::unique_ptr<sim::Device> build_disk(const sim::DeviceParams& p, const sim::DeviceEnv& env) {
  const auto& bp = static_cast<const BlockDevice::Params&>(p);
  return std::make_unique<BlockDevice>(bp.info.name.c_str(), bp, env);
}

bool power_of_two(uint64_t v) { return v && !(v & (v - 1)); }

}  // namespace

const sim::DeviceKind kBlockDeviceKind = {"block",
                                          "a disk (virtio-blk-style request ring, volatile write cache, bad sectors)",
                                          static_cast<uint32_t>(hal::DeviceKind::block),
                                          64,
                                          BlockDevice::kMmioSize,
                                          true,
                                          &BlockDevice::read_params,
                                          &build_disk};

std::unique_ptr<sim::DeviceParams> BlockDevice::read_params(sim::ConfigNode& d, const sim::DeviceInfo& info) {
  auto p = std::make_unique<Params>();
  p->info = info;
  p->size = d.require<sim::Size>("size", "Capacity in bytes (e.g. 4GiB; a whole number of sectors)").bytes;
  p->sector_size = d.get<unsigned>("sector_size", 512, "Logical sector size in bytes: 512 or 4096");
  if (p->sector_size != 512 && p->sector_size != 4096) d.fail("sector_size", "must be 512 or 4096");
  if (p->size == 0 || p->size % p->sector_size)
    d.fail("size", fmt::format("must be a non-zero multiple of the sector size ({})", p->sector_size));
  p->info.capacity = p->size;
  p->info.block_size = p->sector_size;
  p->read_latency =
      sim::from_ps(d.get<sim::Duration>("read_latency", {50000000}, "Per read request, before its data moves").ps);
  p->write_latency =
      sim::from_ps(d.get<sim::Duration>("write_latency", {50000000}, "Per write or FLUSH request").ps);
  const std::string bw = d.get<std::string>("bandwidth", "500MiB/s", "Media bandwidth, bytes per second");
  if (!sim::parse_bandwidth(bw, p->bandwidth))
    d.fail("bandwidth", fmt::format("expected a rate such as 500MiB/s, got '{}'", bw));
  p->write_cache = d.get<bool>("write_cache", true,
                               "Volatile write cache: writes complete into it; FLUSH or a FUA write puts them on the "
                               "medium");
  p->queue_depth = d.get<unsigned>("queue_depth", 64, "Request ring entries: a power of two, 1..1024");
  if (!power_of_two(p->queue_depth) || p->queue_depth > 1024) d.fail("queue_depth", "must be a power of two, 1..1024");
  const uint64_t sectors = p->size / p->sector_size;
  for (auto [first, last] :
       d.get<sim::Ranges>("bad_sectors", {}, "Sectors (of sector_size) whose reads fail with a media error: numbers "
                                             "and [first, last] ranges; a write reallocates the sector")
           .ranges) {
    if (last >= sectors) d.fail("bad_sectors", fmt::format("sector {} is beyond the disk's {} sectors", last, sectors));
    p->bad_sectors.push_back({first, last});
  }
  p->backing = d.get<std::string>("backing", "", "Host file holding the medium (created sparse); empty: host memory");
  if (!p->backing.empty()) {
    const int fd = ::open(p->backing.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0) d.fail("backing", fmt::format("cannot open '{}' for reading and writing", p->backing));
    ::close(fd);
  }
  return p;
}

BlockDevice::Stats::Stats(sim::stats::Group* parent, const std::string& name) : sim::stats::Group(parent, name) {}

BlockDevice::BlockDevice(sc_core::sc_module_name name, const Params& p, const sim::DeviceEnv& env)
    : sc_module(name), mmio("mmio"), master("master"), stats(env.stats_parent, basename()), p_(p),
      irq_sink_(env.irq) {
  mmio.register_b_transport(this, &BlockDevice::b_transport);
  bad_ = p_.bad_sectors;
  std::sort(bad_.begin(), bad_.end());
  if (!p_.backing.empty()) {
    fd_ = ::open(p_.backing.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd_ < 0) throw sim::ConfigError(fmt::format("{}: cannot open the backing file '{}'", p_.info.name, p_.backing));
    if (::ftruncate(fd_, static_cast<off_t>(p_.size)) != 0)
      throw sim::ConfigError(fmt::format("{}: cannot size the backing file '{}'", p_.info.name, p_.backing));
  }
  SC_THREAD(run);
  register_commands();
}

BlockDevice::~BlockDevice() {
  if (fd_ >= 0) ::close(fd_);
}

// ---- the store -------------------------------------------------------------------

void BlockDevice::set_content_source(std::function<void(uint64_t, uint8_t*, uint64_t)> source) {
  content_ = std::move(source);
}

void BlockDevice::source(uint64_t off, uint8_t* dst, uint64_t len) const {
  if (content_) {
    content_(off, dst, len);
  } else if (fd_ >= 0) {
    const ssize_t n = ::pread(fd_, dst, len, static_cast<off_t>(off));
    if (n < static_cast<ssize_t>(len)) std::memset(dst + std::max<ssize_t>(n, 0), 0, len - std::max<ssize_t>(n, 0));
  } else {
    std::memset(dst, 0, len);
  }
}

void BlockDevice::media_read(uint64_t off, uint8_t* dst, uint64_t len) const {
  while (len) {
    const uint64_t idx = off / kChunk, in = off % kChunk, n = std::min(len, kChunk - in);
    if (fd_ >= 0) {
      if (file_written_.count(idx)) {
        const ssize_t got = ::pread(fd_, dst, n, static_cast<off_t>(off));
        if (got < static_cast<ssize_t>(n)) std::memset(dst + std::max<ssize_t>(got, 0), 0, n - std::max<ssize_t>(got, 0));
      } else {
        source(off, dst, n);
      }
    } else if (auto it = chunks_.find(idx); it != chunks_.end()) {
      std::memcpy(dst, it->second.get() + in, n);
    } else {
      source(off, dst, n);
    }
    off += n;
    dst += n;
    len -= n;
  }
}

uint8_t* BlockDevice::chunk_for_write(uint64_t index, bool whole) {
  auto& c = chunks_[index];
  if (!c) {
    // A chunk starts as what it read as before (its content source), unless all of it is written now.
    c.reset(new uint8_t[kChunk]);
    if (!whole) source(index * kChunk, c.get(), kChunk);
    stats.store_bytes.set(stored_bytes());
  }
  return c.get();
}

void BlockDevice::media_write(uint64_t off, const uint8_t* src, uint64_t len) {
  while (len) {
    const uint64_t idx = off / kChunk, in = off % kChunk, n = std::min(len, kChunk - in);
    if (fd_ >= 0) {
      if (!file_written_.count(idx) && content_ && n != kChunk) {
        // First write of a chunk of the file: the rest of it keeps its content.
        std::vector<uint8_t> whole(kChunk);
        source(idx * kChunk, whole.data(), kChunk);
        if (::pwrite(fd_, whole.data(), kChunk, static_cast<off_t>(idx * kChunk)) != static_cast<ssize_t>(kChunk))
          throw std::runtime_error(fmt::format("{}: write to the backing file failed", p_.info.name));
      }
      file_written_[idx] = true;
      if (::pwrite(fd_, src, n, static_cast<off_t>(off)) != static_cast<ssize_t>(n))
        throw std::runtime_error(fmt::format("{}: write to the backing file failed", p_.info.name));
    } else {
      std::memcpy(chunk_for_write(idx, n == kChunk) + in, src, n);
    }
    off += n;
    src += n;
    len -= n;
  }
}

void BlockDevice::read_media(uint64_t byte_offset, void* dst, uint64_t len) const {
  if (byte_offset > p_.size || len > p_.size - byte_offset)
    throw std::out_of_range(fmt::format("{}: read_media beyond the capacity", p_.info.name));
  media_read(byte_offset, static_cast<uint8_t*>(dst), len);
}

void BlockDevice::write_media(uint64_t byte_offset, const void* src, uint64_t len) {
  if (byte_offset > p_.size || len > p_.size - byte_offset)
    throw std::out_of_range(fmt::format("{}: write_media beyond the capacity", p_.info.name));
  media_write(byte_offset, static_cast<const uint8_t*>(src), len);
  // The medium now holds it: a cached copy of those sectors is stale.
  const uint64_t ss = p_.sector_size;
  cache_.erase(cache_.lower_bound(byte_offset / ss), cache_.lower_bound((byte_offset + len + ss - 1) / ss));
}

bool BlockDevice::is_bad_sector(uint64_t sector) const {
  for (const auto& [first, last] : bad_)
    if (sector >= first && sector <= last) return true;
  return false;
}

uint64_t BlockDevice::flush_cache() {
  uint64_t bytes = 0;
  for (const auto& [sector, data] : cache_) {
    media_write(sector * p_.sector_size, data.data(), data.size());
    bytes += data.size();
  }
  cache_.clear();
  stats.bytes_flushed += bytes;
  return bytes;
}

// ---- registers -------------------------------------------------------------------

bool BlockDevice::write_register(uint64_t off, uint64_t v) {
  switch (off) {
    case kRegDesc: desc_ = v; return true;
    case kRegAvail: avail_ = v; return true;
    case kRegUsed: used_ = v; return true;
    case kRegIrq: irq_ = v; return true;
    case kRegCtrl:
      ready_ = v & 1;
      if (!ready_) {  // reset: what the device held is dropped, the ring starts over
        last_avail_ = used_idx_ = 0;
        pending_.clear();
        media_free_ = sc_core::sc_time_stamp();
      }
      return true;
    case kRegNotify:
      if (ready_) notify_.notify(sc_core::SC_ZERO_TIME);
      return true;
    default: return false;
  }
}

bool BlockDevice::read_register(uint64_t off, uint64_t& v) {
  switch (off) {
    case kRegCapacity: v = p_.size; return true;
    case kRegSector: v = p_.sector_size; return true;
    case kRegQsize: v = p_.queue_depth; return true;
    case kRegFeatures: v = p_.write_cache ? kFeatureFlush | kFeatureFua : 0; return true;
    case kRegDesc: v = desc_; return true;
    case kRegAvail: v = avail_; return true;
    case kRegUsed: v = used_; return true;
    case kRegCtrl: v = ready_; return true;
    case kRegIrq: v = irq_; return true;
    case kRegIsr: v = isr_; isr_ = 0; return true;
    case kRegError: v = static_cast<uint64_t>(error_); return true;
    case kRegErrAddr: v = err_addr_; return true;
    case kRegWidth: v = p_.info.addr_bits; return true;
    default: return false;
  }
}

void BlockDevice::b_transport(tlm::tlm_generic_payload& trans, sc_time&) {
  const uint64_t off = trans.get_address() - p_.info.mmio_base;
  if (trans.get_data_length() != 8 || (off & 7)) {
    trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  uint64_t v = 0;
  bool ok;
  if (trans.is_write()) {
    std::memcpy(&v, trans.get_data_ptr(), 8);
    ok = write_register(off, v);
  } else {
    ok = read_register(off, v);
    if (ok) std::memcpy(trans.get_data_ptr(), &v, 8);
  }
  trans.set_response_status(ok ? tlm::TLM_OK_RESPONSE : tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

// ---- requests --------------------------------------------------------------------

bool BlockDevice::fits(uint64_t addr, uint64_t len) const {
  if (p_.info.addr_bits >= 64) return addr + len >= addr;
  const uint64_t limit = 1ull << p_.info.addr_bits;
  return addr < limit && len <= limit - addr;
}

BlockError BlockDevice::access(bool read, uint64_t addr, void* buf, unsigned len, sc_time& delay) {
  if (!fits(addr, len)) {
    err_addr_ = addr;
    return BlockError::beyond_width;  // never driven: the device has no such address lines
  }
  PoisonExtension poison;
  DmaCheckExtension check;
  const tlm::tlm_response_status rsp =
      master.transport(read ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND, addr, buf, len, delay, poison, check);
  if (poison.poisoned || rsp != tlm::TLM_OK_RESPONSE) err_addr_ = addr;
  if (poison.poisoned) return BlockError::poison;
  return rsp == tlm::TLM_OK_RESPONSE ? BlockError::none : BlockError::bus_error;
}

void BlockDevice::device_error(BlockError e) {
  error_ = e;
  isr_ |= kIsrError;
  switch (e) {
    case BlockError::beyond_width: ++stats.address_errors; break;
    case BlockError::bus_error:
    case BlockError::poison: ++stats.bus_errors; break;
    default: ++stats.bad_requests; break;
  }
  DPRINTF(Block, sim::now_ps(), who_.c_str(), "error: {} at {:#x}", block_error_name(e), err_addr_);
}

sc_time BlockDevice::transfer_time(uint64_t bytes) const {
  return sim::from_ps(
      static_cast<uint64_t>(static_cast<unsigned __int128>(bytes) * 1000000000000ull / p_.bandwidth));
}

BlockError BlockDevice::read_desc(uint64_t table, uint32_t size, uint32_t idx, uint64_t& addr, uint32_t& len,
                                  uint16_t& flags, uint16_t& next, sc_time& delay) {
  if (idx >= size) return BlockError::bad_descriptor;
  uint8_t d[kDescSize];
  if (BlockError e = access(true, table + uint64_t{idx} * kDescSize, d, kDescSize, delay); e != BlockError::none)
    return e;
  std::memcpy(&addr, d, 8);
  std::memcpy(&len, d + 8, 4);
  std::memcpy(&flags, d + 12, 2);
  std::memcpy(&next, d + 14, 2);
  return BlockError::none;
}

BlockError BlockDevice::parse_chain(uint16_t head, Request& r, sc_time& delay) {
  r.head = head;
  uint64_t table = desc_;
  uint32_t size = p_.queue_depth, idx = head;
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
  if (BlockError e = read_desc(table, size, idx, addr, len, flags, next, delay); e != BlockError::none) return e;
  if (flags & kDescIndirect) {
    if (len < kDescSize || len % kDescSize) return BlockError::bad_descriptor;
    table = addr;
    size = len / kDescSize;
    idx = 0;
    if (BlockError e = read_desc(table, size, idx, addr, len, flags, next, delay); e != BlockError::none) return e;
  }
  for (unsigned n = 0; n <= size; ++n) {
    if (n > 0) {
      idx = next;
      if (BlockError e = read_desc(table, size, idx, addr, len, flags, next, delay); e != BlockError::none) return e;
    }
    if (n == 0) {  // the header
      uint8_t h[kHeaderSize];
      if (len < kHeaderSize || (flags & kDescWrite) || !(flags & kDescNext)) return BlockError::bad_descriptor;
      if (BlockError e = access(true, addr, h, kHeaderSize, delay); e != BlockError::none) return e;
      std::memcpy(&r.type, h, 4);
      std::memcpy(&r.flags, h + 4, 4);
      std::memcpy(&r.sector, h + 8, 8);
    } else if (!(flags & kDescNext)) {  // the status byte
      if (len < 1 || !(flags & kDescWrite)) return BlockError::bad_descriptor;
      r.status_addr = addr;
      return BlockError::none;
    } else {
      // A read's buffers are written by the device, a write's read.
      if (((flags & kDescWrite) != 0) != (r.type == kTypeIn)) return BlockError::bad_descriptor;
      r.bufs.push_back({addr, len});
      r.bytes += len;
    }
  }
  return BlockError::bad_descriptor;  // a loop
}

void BlockDevice::fetch_new(sc_time& delay) {
  if (!ready_) return;
  uint16_t avail_idx = 0;
  if (BlockError e = access(true, avail_ + 2, &avail_idx, 2, delay); e != BlockError::none) return device_error(e);
  while (last_avail_ != avail_idx) {
    uint16_t head = 0;
    const uint64_t at = avail_ + 4 + 2ull * (last_avail_ % p_.queue_depth);
    if (BlockError e = access(true, at, &head, 2, delay); e != BlockError::none) return device_error(e);
    ++last_avail_;
    Request r;
    const BlockError e = parse_chain(head, r, delay);
    if (e != BlockError::none) {
      device_error(e);
      r.status = kStatusIoErr;  // returned at once, so the driver sees it failed
    }
    const sc_time start = sc_core::sc_time_stamp() + delay;
    r.arrived = start;
    r.served = std::max(start, media_free_);
    if (r.status != kStatusOk) {
      r.done = std::max(start, media_free_);
    } else {
      const bool write = r.type != kTypeIn;
      const uint64_t bytes = r.type == kTypeFlush ? cached_bytes() : r.bytes;
      r.done = std::max(start + (write ? p_.write_latency : p_.read_latency), media_free_) + transfer_time(bytes);
      stats.busy_ns += sim::to_ns(transfer_time(bytes));
    }
    media_free_ = r.done;
    DPRINTF(Block, sim::now_ps(delay), who_.c_str(), "request {}: type {}{} sector {} {} bytes, done at {}", head,
            r.type, r.flags & kFlagFua ? " FUA" : "", r.sector, r.bytes, sim::format_duration(r.done.value()));
    pending_.push_back(std::move(r));
    stats.max_in_flight.set(std::max<uint64_t>(stats.max_in_flight.value(), pending_.size()));
  }
}

bool BlockDevice::move_data(const Request& r, bool from_memory, std::vector<uint8_t>& data, sc_time& delay) {
  uint64_t at = 0;
  for (const auto& [addr, len] : r.bufs) {
    if (BlockError e = access(from_memory, addr, data.data() + at, len, delay); e != BlockError::none) {
      device_error(e);
      return false;
    }
    at += len;
  }
  return true;
}

uint8_t BlockDevice::do_read(Request& r, sc_time& delay) {
  const uint64_t ss = p_.sector_size;
  const uint64_t first = r.sector * 512 / ss, count = r.bytes / ss;
  for (uint64_t s = first; s < first + count; ++s)
    if (is_bad_sector(s)) {
      ++stats.media_errors;
      DPRINTF(Block, sim::now_ps(delay), who_.c_str(), "media error: sector {}", s);
      return kStatusMedium;
    }
  std::vector<uint8_t> data(r.bytes);
  media_read(first * ss, data.data(), r.bytes);
  // What the cache holds is newer than the medium.
  for (auto it = cache_.lower_bound(first); it != cache_.end() && it->first < first + count; ++it)
    std::memcpy(data.data() + (it->first - first) * ss, it->second.data(), ss);
  if (!move_data(r, false, data, delay)) return kStatusIoErr;
  ++stats.reads;
  stats.bytes_read += r.bytes;
  return kStatusOk;
}

uint8_t BlockDevice::do_write(Request& r, sc_time& delay) {
  const uint64_t ss = p_.sector_size;
  const uint64_t first = r.sector * 512 / ss, count = r.bytes / ss;
  std::vector<uint8_t> data(r.bytes);
  if (!move_data(r, true, data, delay)) return kStatusIoErr;
  const bool fua = (r.flags & kFlagFua) != 0;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t s = first + i;
    if (is_bad_sector(s)) {
      // The drive reallocates a bad sector it is told to write (a spare takes its place).
      for (auto& range : bad_)
        if (s >= range.first && s <= range.second) {
          if (range.first == range.second) range = {1, 0};  // empty
          else if (s == range.first) ++range.first;
          else if (s == range.second) --range.second;
          else {
            const auto tail = std::make_pair(s + 1, range.second);
            range.second = s - 1;
            bad_.push_back(tail);
            break;
          }
        }
      bad_.erase(std::remove_if(bad_.begin(), bad_.end(), [](const auto& x) { return x.second < x.first; }),
                 bad_.end());
      ++stats.reallocated;
    }
    if (p_.write_cache && !fua) {
      cache_[s].assign(data.begin() + i * ss, data.begin() + (i + 1) * ss);
    } else {
      media_write(s * ss, data.data() + i * ss, ss);
      cache_.erase(s);
    }
  }
  ++stats.writes;
  if (fua) ++stats.fua_writes;
  stats.bytes_written += r.bytes;
  return kStatusOk;
}

void BlockDevice::complete(Request& r, sc_time& delay) {
  if (r.status == kStatusOk) {
    const uint64_t ss = p_.sector_size;
    const bool data_op = r.type == kTypeIn || r.type == kTypeOut;
    if (data_op && ((r.sector * 512) % ss || r.bytes % ss || r.bytes == 0 ||
                    r.sector * 512 > p_.size || r.bytes > p_.size - r.sector * 512)) {
      ++stats.bad_requests;
      r.status = kStatusIoErr;
    } else if (r.type == kTypeIn) {
      r.status = do_read(r, delay);
    } else if (r.type == kTypeOut) {
      r.status = do_write(r, delay);
    } else if (r.type == kTypeFlush) {
      flush_cache();
      ++stats.flushes;
    } else {
      r.status = kStatusUnsupp;
    }
  }
  if (r.status_addr) {
    if (BlockError e = access(false, r.status_addr, &r.status, 1, delay); e != BlockError::none) device_error(e);
  }
  // The used entry: the head and the bytes the device wrote into the chain.
  uint32_t entry[2] = {r.head, static_cast<uint32_t>((r.type == kTypeIn && r.status == kStatusOk ? r.bytes : 0) + 1)};
  const uint64_t at = used_ + 4 + 8ull * (used_idx_ % p_.queue_depth);
  if (BlockError e = access(false, at, entry, 8, delay); e != BlockError::none) device_error(e);
  ++used_idx_;
  DPRINTF(Block, sim::now_ps(delay), who_.c_str(), "request {} done: status {}", r.head, unsigned{r.status});
  if (SIM_TRACING(Block)) trace_request(r);
}

void BlockDevice::trace_request(const Request& r) {
  // The medium serves one request at a time: spans from when it starts on
  // one to its completion never overlap on the disk's track.
  sim::trace::Sink& s = *sim::debug::Block.trace;
  const char* what = r.type == kTypeIn      ? "read"
                     : r.type == kTypeOut   ? "write"
                     : r.type == kTypeFlush ? "flush"
                                            : "other";
  s.complete(s.track(p_.info.name, p_.info.name), "Block", what, sim::to_ps(r.served), sim::to_ps(r.done),
             {{"sector", r.sector}, {"bytes", r.bytes}, {"queued_ps", sim::to_ps(r.served - r.arrived)},
              {"status", r.status}});
}

void BlockDevice::run() {
  for (;;) {
    if (pending_.empty()) sc_core::wait(notify_);
    else sc_core::wait(pending_.front().done - sc_core::sc_time_stamp(), notify_);
    sc_time delay = sc_core::SC_ZERO_TIME;
    fetch_new(delay);
    bool any = false;
    while (!pending_.empty() && pending_.front().done <= sc_core::sc_time_stamp()) {
      complete(pending_.front(), delay);
      pending_.pop_front();
      any = true;
    }
    if (!any && !(isr_ & kIsrError)) continue;
    if (BlockError e = access(false, used_ + 2, &used_idx_, 2, delay); e != BlockError::none) device_error(e);
    sc_core::wait(delay);
    isr_ |= kIsrUsed;
    const uint8_t vector = static_cast<uint8_t>(irq_);
    if (vector && irq_sink_) {
      ++stats.interrupts;
      irq_sink_->raise_irq(static_cast<unsigned>(irq_ >> 32) & 0xffff, vector);
    }
  }
}

}  // namespace hw
