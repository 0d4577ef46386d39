#include "hw/dma/dma_engine.h"

#include <cstring>
#include <vector>

#include "hw/base/debug.h"
#include "hw/base/time.h"
#include "hw/base/trace.h"
#include "hw/ext/memory.h"

SIM_DEBUG_FLAG(DMA, "DMA engine transfers and errors")

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
  }
  return "?";
}

std::vector<DmaEngine::Params> DmaEngine::read_params(sim::ConfigNode platform) {
  // By default an ISA-style 24-bit engine and a 32-bit one, the devices
  // ZONE_DMA and ZONE_DMA32 exist for.
  std::vector<Params> out;
  const bool given = platform.has("dma");
  auto list = platform.list("dma", "DMA engines: addr_bits (24, 32 or 64), burst (bytes per bus transaction)");
  if (!given) {
    for (unsigned bits : {24u, 32u}) {
      Params p;
      p.addr_bits = bits;
      p.burst = 64;
      out.push_back(p);
    }
    platform.note_default(
        "dma", nlohmann::ordered_json::parse(R"([{"addr_bits": 24, "burst": 64}, {"addr_bits": 32, "burst": 64}])"),
        "DMA engines (default: a 24-bit and a 32-bit one)");
  }
  for (sim::ConfigNode& d : list) {
    Params p;
    p.addr_bits = d.get<unsigned>("addr_bits", 32, "Widest bus address the engine can drive (24, 32 or 64)");
    if (p.addr_bits != 24 && p.addr_bits != 32 && p.addr_bits != 64) d.fail("addr_bits", "must be 24, 32 or 64");
    p.burst = d.get<sim::Size>("burst", {64}, "Bytes per bus transaction").bytes;
    if (p.burst == 0 || p.burst > 4096) d.fail("burst", "must be between 1 and 4096");
    out.push_back(p);
  }
  if (out.size() > 16) platform.fail("dma", "at most 16 engines");
  return out;
}

DmaEngine::Stats::Stats(sim::stats::Group* parent, const std::string& name) : sim::stats::Group(parent, name) {}

DmaEngine::DmaEngine(sc_core::sc_module_name name, const Params& p, InterruptController* intc,
                     sim::stats::Group* stats_parent)
    : sc_module(name), mmio("mmio"), master("master"), stats(stats_parent, basename()), p_(p), intc_(intc),
      track_(sim::trace::track(basename(), sim::trace::Group::devices)) {
  mmio.register_b_transport(this, &DmaEngine::b_transport);
  SC_THREAD(run);
  register_commands();
}

bool DmaEngine::start(uint64_t src, uint64_t dst, uint64_t len) {
  if (busy_) return false;
  src_ = src;
  dst_ = dst;
  len_ = len;
  ++stats.transfers;
  busy_ = true;
  done_ = false;
  error_ = DmaError::none;
  start_.notify(sc_core::SC_ZERO_TIME);
  return true;
}

bool DmaEngine::fits(uint64_t addr, uint64_t len) const {
  if (p_.addr_bits >= 64) return addr + len >= addr;
  const uint64_t limit = 1ull << p_.addr_bits;
  return addr < limit && len <= limit - addr;
}

void DmaEngine::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  const uint64_t off = trans.get_address() - p_.mmio_base;
  const unsigned len = trans.get_data_length();
  if (len != 8 || (off & 7)) {
    trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  uint64_t v = 0;
  if (trans.is_write()) {
    std::memcpy(&v, trans.get_data_ptr(), 8);
    switch (off) {
      case kRegSrc: src_ = v; break;
      case kRegDst: dst_ = v; break;
      case kRegLen: len_ = v; break;
      case kRegIrq: irq_ = v; break;
      case kRegCtrl:
        if (v & 1) {
          ++stats.transfers;
          if (busy_) {
            ++stats.busy_starts;
            error_ = DmaError::busy;  // the running transfer goes on
          } else {
            busy_ = true;
            done_ = false;
            error_ = DmaError::none;
            start_.notify(delay);
          }
        }
        break;
      default:
        trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
  } else {
    switch (off) {
      case kRegSrc: v = src_; break;
      case kRegDst: v = dst_; break;
      case kRegLen: v = len_; break;
      case kRegIrq: v = irq_; break;
      case kRegStatus: v = (busy_ ? kStatusBusy : 0) | (done_ ? kStatusDone : 0) | (static_cast<uint64_t>(error_) << 8); break;
      case kRegWidth: v = p_.addr_bits; break;
      default:
        trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    std::memcpy(trans.get_data_ptr(), &v, 8);
  }
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
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
  DPRINTF(DMA, sim::now_ps(), name(),
          "transfer {:#x} -> {:#x} ({} bytes) {}", src_, dst_, len_, e == DmaError::none ? "done" : dma_error_name(e));
  if (TRACE_ON(DMA))
    sim::trace::complete(track_, "dma", e == DmaError::none ? "transfer" : dma_error_name(e), transfer_start_ps_,
                         sim::now_ps(), {{"src", src_, true}, {"dst", dst_, true}, {"bytes", len_}});
  const uint8_t vector = static_cast<uint8_t>(irq_);
  if (vector && intc_) intc_->device_interrupt(static_cast<unsigned>(irq_ >> 32) & 0xffff, vector);
}

void DmaEngine::run() {
  std::vector<uint8_t> buf;
  PoisonExtension poison;
  for (;;) {
    sc_core::wait(start_);
    transfer_start_ps_ = sim::now_ps();
    sc_core::wait(p_.setup);
    if (len_ == 0) {
      finish(DmaError::bad_length);
      continue;
    }
    // The whole transfer must be reachable before any byte moves.
    if (!fits(src_, len_) || !fits(dst_, len_)) {
      finish(DmaError::beyond_width);
      continue;
    }
    DmaError result = DmaError::none;
    sc_time delay = sc_core::SC_ZERO_TIME;
    for (uint64_t done = 0; done < len_ && result == DmaError::none;) {
      const uint64_t n = std::min(p_.burst, len_ - done);
      buf.resize(n);
      for (int phase = 0; phase < 2 && result == DmaError::none; ++phase) {
        const bool read = phase == 0;
        poison.clear();
        const tlm::tlm_response_status rsp =
            master.transport(read ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND, (read ? src_ : dst_) + done,
                             buf.data(), static_cast<unsigned>(n), delay, poison);
        if (poison.poisoned) result = DmaError::poison;
        else if (rsp != tlm::TLM_OK_RESPONSE) result = DmaError::bus_error;
      }
      if (result == DmaError::none) {
        done += n;
        stats.bytes += n;
      }
      if (delay > sc_time(1, sc_core::SC_US)) {  // keep in step with the cores
        sc_core::wait(delay);
        delay = sc_core::SC_ZERO_TIME;
      }
    }
    sc_core::wait(delay);
    finish(result);
  }
}

}  // namespace hw
