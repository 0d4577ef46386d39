#include "hw/dma/dma_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "hw/base/debug.h"
#include "hw/base/time.h"
#include "hw/base/trace.h"
#include "hw/ext/dma.h"
#include "hw/ext/memory.h"
#include "sw/hal/hal.h"

SIM_DEBUG_FLAG(DMA,
               "DMA: engine transfers, descriptors, errors and checker findings; the firmware's map, unmap, "
               "bounce and completion lines (in its log)")

namespace hw {

using sc_core::sc_time;

const char* dma_error_name(DmaError e) {
  switch (e) {
    case DmaError::none: return "none";
    case DmaError::beyond_width: return "address beyond the engine's width";
    case DmaError::bus_error: return "bus error";
    case DmaError::poison: return "poisoned memory";
    case DmaError::busy: return "started while busy";
    case DmaError::bad_length: return "zero length";
    case DmaError::bad_descriptor:
      return "descriptor chain too long";
  }
  return "?";
}

namespace {

std::unique_ptr<sim::Device> build_engine(const sim::DeviceParams& p, const sim::DeviceEnv& env) {
  const auto& dp = static_cast<const DmaEngine::Params&>(p);
  return std::make_unique<DmaEngine>(dp.info.name.c_str(), dp, env);
}

}  // namespace

const sim::DeviceKind kDmaEngineKind = {"dma",
                                        "a memory-to-memory DMA engine (copies, scatter-gather descriptors)",
                                        static_cast<uint32_t>(hal::DeviceKind::dma),
                                        32,
                                        DmaEngine::kMmioSize,
                                        true,
                                        &DmaEngine::read_params,
                                        &build_engine};

std::unique_ptr<sim::DeviceParams> DmaEngine::read_params(sim::ConfigNode& d, const sim::DeviceInfo& info) {
  auto p = std::make_unique<Params>();
  p->info = info;
  p->burst = d.get<sim::Size>("burst", {64}, "Bytes per bus transaction").bytes;
  if (p->burst == 0 || p->burst > 4096) d.fail("burst", "must be between 1 and 4096");
  const std::string bw = d.get<std::string>("bandwidth", "1GiB/s", "Copy bandwidth, bytes per second (e.g. 800MiB/s)");
  if (!sim::parse_bandwidth(bw, p->bandwidth))
    d.fail("bandwidth", fmt::format("expected a rate such as 1GiB/s, got '{}'", bw));
  p->setup = sim::from_ps(d.get<sim::Duration>("setup", {200000}, "From a start to the first bus access").ps);
  return p;
}

DmaEngine::Stats::Stats(sim::stats::Group* parent, const std::string& name) : sim::stats::Group(parent, name) {}

DmaEngine::DmaEngine(sc_core::sc_module_name name, const Params& p, const sim::DeviceEnv& env)
    : sc_module(name),
      mmio("mmio"),
      master("master"),
      stats(env.stats_parent, basename()),
      p_(p),
      irq_sink_(env.irq),
      permissions_(env.permissions) {
  mmio.register_b_transport(this, &DmaEngine::b_transport);
  SC_THREAD(run);
  register_commands();
}

bool DmaEngine::start(uint64_t src, uint64_t dst, uint64_t len) {
  if (busy_) return false;
  src_ = src;
  dst_ = dst;
  len_ = len;
  if (permissions_) {
    permissions_->allow(p_.info.id, src, len);
    permissions_->allow(p_.info.id, dst, len);
  }
  by_hand_ = true;
  begin(false, sc_core::SC_ZERO_TIME);
  return true;
}

bool DmaEngine::fits(uint64_t addr, uint64_t len) const {
  if (p_.info.addr_bits >= 64) return addr + len >= addr;
  const uint64_t limit = 1ull << p_.info.addr_bits;
  return addr < limit && len <= limit - addr;
}

void DmaEngine::begin(bool chain, const sc_time& delay) {
  ++stats.transfers;
  if (busy_) {
    ++stats.busy_starts;
    error_ = DmaError::busy;  // the running transfer goes on
    return;
  }
  busy_ = true;
  done_ = false;
  flagged_ = false;
  chain_ = chain;
  error_ = DmaError::none;
  err_addr_ = count_ = ndesc_ = 0;
  start_.notify(delay);
}

bool DmaEngine::write_register(uint64_t off, uint64_t v, const sc_time& delay) {
  switch (off) {
    case kRegSrc:
      src_ = v;
      return true;
    case kRegDst:
      dst_ = v;
      return true;
    case kRegLen:
      len_ = v;
      return true;
    case kRegIrq:
      irq_ = v;
      return true;
    case kRegDesc:
      desc_ = v;
      return true;
    case kRegCtrl:
      if (v & (kCtrlStart | kCtrlStartChain)) begin((v & kCtrlStartChain) != 0, delay);
      return true;
    default:
      return false;
  }
}

bool DmaEngine::read_register(uint64_t off, uint64_t& v) const {
  switch (off) {
    case kRegSrc:
      v = src_;
      return true;
    case kRegDst:
      v = dst_;
      return true;
    case kRegLen:
      v = len_;
      return true;
    case kRegIrq:
      v = irq_;
      return true;
    case kRegDesc:
      v = desc_;
      return true;
    case kRegWidth:
      v = p_.info.addr_bits;
      return true;
    case kRegErrAddr:
      v = err_addr_;
      return true;
    case kRegCount:
      v = count_;
      return true;
    case kRegNdesc:
      v = ndesc_;
      return true;
    case kRegStatus:
      v = (busy_ ? kStatusBusy : 0) | (done_ ? kStatusDone : 0) | (flagged_ ? kStatusChecker : 0) |
          (static_cast<uint64_t>(error_) << 8);
      return true;
    default:
      return false;
  }
}

void DmaEngine::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  const uint64_t off = trans.get_address() - p_.info.mmio_base;
  if (trans.get_data_length() != 8 || (off & 7)) {
    trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  uint64_t v = 0;
  bool ok;
  if (trans.is_write()) {
    std::memcpy(&v, trans.get_data_ptr(), 8);
    ok = write_register(off, v, delay);
  } else {
    ok = read_register(off, v);
    if (ok) std::memcpy(trans.get_data_ptr(), &v, 8);
  }
  trans.set_response_status(ok ? tlm::TLM_OK_RESPONSE : tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

DmaError DmaEngine::access(bool read, uint64_t addr, void* buf, unsigned len, sc_time& delay) {
  if (!fits(addr, len)) {
    err_addr_ = addr;
    return DmaError::beyond_width;
  }
  PoisonExtension poison;
  DmaCheckExtension check;
  const tlm::tlm_response_status rsp =
      master.transport(read ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND, addr, buf, len, delay, poison, check);
  if (check.violation) flagged_ = true;
  if (poison.poisoned || rsp != tlm::TLM_OK_RESPONSE) err_addr_ = addr;
  if (poison.poisoned) return DmaError::poison;
  return rsp == tlm::TLM_OK_RESPONSE ? DmaError::none : DmaError::bus_error;
}

DmaError DmaEngine::fetch(uint64_t at, Segment& s, bool* last, uint64_t* next, sc_time& delay) {
  uint8_t d[kDescSize];
  const DmaError e = access(true, at, d, kDescSize, delay);
  if (e != DmaError::none) return e;
  uint32_t len32, flags;
  std::memcpy(&s.src, d, 8);
  std::memcpy(&s.dst, d + 8, 8);
  std::memcpy(&len32, d + 16, 4);
  std::memcpy(&flags, d + 20, 4);
  std::memcpy(next, d + 24, 8);
  s.len = len32;
  *last = flags & kDescLast;
  ++stats.descriptors;
  DPRINTF(DMA, sim::now_ps(delay), who_.c_str(), "descriptor at {:#x}: {:#x} -> {:#x}, {} bytes{}", at, s.src, s.dst,
          s.len, *last ? " (last)" : "");
  return DmaError::none;
}

DmaError DmaEngine::copy(const Segment& s, sc_time& delay) {
  if (s.len == 0) return DmaError::bad_length;
  // The time the segment's first `bytes` take at the engine's bandwidth,
  // exact to the tick however it is cut into bursts.
  auto at_bandwidth = [this](uint64_t bytes) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(bytes) * 1000000000000ull / p_.bandwidth);
  };
  for (uint64_t done = 0; done < s.len;) {
    const unsigned n = static_cast<unsigned>(std::min(p_.burst, s.len - done));
    buf_.resize(n);
    // The first burst waits for memory; later ones overlap with it.
    sc_time overlapped = sc_core::SC_ZERO_TIME;
    sc_time& d = done == 0 ? delay : overlapped;
    DmaError e = access(true, s.src + done, buf_.data(), n, d);
    if (e == DmaError::none) e = access(false, s.dst + done, buf_.data(), n, d);
    if (e != DmaError::none) return e;
    delay += sim::from_ps(at_bandwidth(done + n) - at_bandwidth(done));
    done += n;
    count_ += n;
    stats.bytes += n;
    if (delay > sc_time(1, sc_core::SC_US)) {  // keep in step with the cores
      sc_core::wait(delay);
      delay = sc_core::SC_ZERO_TIME;
    }
  }
  return DmaError::none;
}

DmaError DmaEngine::transfer(sc_time& delay) {
  if (!chain_) return copy(Segment{src_, dst_, len_}, delay);
  uint64_t at = desc_;
  for (uint64_t n = 0; n < kMaxChain; ++n) {
    Segment s{};
    bool last = false;
    uint64_t next = 0;
    DmaError e = fetch(at, s, &last, &next, delay);
    if (e == DmaError::none) e = copy(s, delay);
    if (e != DmaError::none) return e;
    ++ndesc_;
    if (last) return DmaError::none;
    at = next;
  }
  return DmaError::bad_descriptor;
}

void DmaEngine::finish(DmaError e) {
  busy_ = false;
  done_ = true;
  error_ = e;
  switch (e) {
    case DmaError::none: ++stats.completed; break;
    case DmaError::beyond_width: ++stats.beyond_width; break;
    case DmaError::bus_error: ++stats.bus_errors; break;
    case DmaError::poison: ++stats.poison; break;
    default: break;
  }
  if (flagged_) ++stats.checker_flags;
  stats.busy_ns += sim::to_ns(sc_core::sc_time_stamp() - started_);
  if (by_hand_ && permissions_) {
    permissions_->revoke(p_.info.id, src_, len_);
    permissions_->revoke(p_.info.id, dst_, len_);
  }
  by_hand_ = false;
  DPRINTF(DMA, sim::now_ps(), who_.c_str(), "{} done: {} bytes, {} descriptors, {}{}", chain_ ? "chain" : "copy",
          count_, ndesc_, e == DmaError::none ? "ok" : dma_error_name(e),
          e == DmaError::none ? "" : fmt::format(" at {:#x}", err_addr_));
  if (SIM_TRACING(DMA)) {
    // One span per copy or chain, on the engine's own track.
    sim::trace::Sink& s = *sim::debug::DMA.trace;
    s.complete(s.track(p_.info.name, p_.info.name), "DMA", chain_ ? "DMA chain" : "DMA copy", sim::to_ps(started_),
               sim::now_ps(),
               {{"bytes", count_},
                {"descriptors", ndesc_},
                {"status", e == DmaError::none ? "ok" : dma_error_name(e)}});
  }
  const uint8_t vector = static_cast<uint8_t>(irq_);
  if (vector && irq_sink_) irq_sink_->raise_irq(static_cast<unsigned>(irq_ >> 32) & 0xffff, vector);
}

void DmaEngine::run() {
  for (;;) {
    sc_core::wait(start_);
    started_ = sc_core::sc_time_stamp();
    DPRINTF(DMA, sim::now_ps(), who_.c_str(), "start {}",
            chain_ ? fmt::format("chain at {:#x}", desc_) : fmt::format("{:#x} -> {:#x}, {} bytes", src_, dst_, len_));
    sc_core::wait(p_.setup);
    sc_time delay = sc_core::SC_ZERO_TIME;
    const DmaError e = transfer(delay);
    sc_core::wait(delay);
    finish(e);
  }
}

}  // namespace hw
