#include "hw/dma/dma_engine.h"

#include <cstring>
#include <vector>

#include "hw/ext/memory.h"
#include "hw/base/debug.h"

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

DmaEngine::Stats::Stats(sim::stats::Group* parent, const std::string& name) : sim::stats::Group(parent, name) {}

DmaEngine::DmaEngine(sc_core::sc_module_name name, const Params& p, InterruptController* intc,
                     sim::stats::Group* stats_parent)
    : sc_module(name), mmio("mmio"), master("master"), stats(stats_parent, basename()), p_(p), intc_(intc) {
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
  DPRINTF(DMA, static_cast<uint64_t>(sc_core::sc_time_stamp() / sc_time(1, sc_core::SC_PS)), name(),
          "transfer {:#x} -> {:#x} ({} bytes) {}", src_, dst_, len_, e == DmaError::none ? "done" : dma_error_name(e));
  const uint8_t vector = static_cast<uint8_t>(irq_);
  if (vector && intc_) intc_->device_interrupt(static_cast<unsigned>(irq_ >> 32) & 0xffff, vector);
}

void DmaEngine::run() {
  std::vector<uint8_t> buf;
  tlm::tlm_generic_payload t;
  PoisonExtension poison;
  for (;;) {
    sc_core::wait(start_);
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
        t.set_command(read ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND);
        t.set_address((read ? src_ : dst_) + done);
        t.set_data_ptr(buf.data());
        t.set_data_length(static_cast<unsigned>(n));
        t.set_streaming_width(static_cast<unsigned>(n));
        t.set_byte_enable_ptr(nullptr);
        t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        poison.clear();
        t.set_extension(&poison);
        master->b_transport(t, delay);
        t.clear_extension(&poison);
        if (poison.poisoned) result = DmaError::poison;
        else if (!t.is_response_ok()) result = DmaError::bus_error;
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
