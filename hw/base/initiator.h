// The initiator socket every model that masters a TLM target uses (the
// cores, the MMU, the page walkers, the RTL walker's transactor, lockstep,
// the DMA engines): transactions by address with the extensions they need,
// debug transport, and DMI through one cache (sim::DmiCache) that the
// socket keeps up to date with the targets' invalidations. Models never fill
// a generic payload by hand; the socket reuses one payload for all its
// blocking transactions. As VCML's tlm_initiator_socket
// (include/vcml/protocols/tlm_sockets.h).
//
//   sim::InitiatorSocket mem{"mem_socket"};
//   PoisonExtension poison;
//   if (mem.read(pa, &value, 8, delay, poison) != tlm::TLM_OK_RESPONSE) ...
//   if (unsigned char* p = mem.dmi().host(pa, 8, tlm::tlm_dmi::DMI_ACCESS_READ)) ...
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "hw/base/dmi_cache.h"

namespace sim {

// Fills `trans` for a transaction of `len` bytes at `addr`: no byte enables,
// streaming width = length, DMI hint cleared, response incomplete.
// Extensions are left as they are.
inline void fill_payload(tlm::tlm_generic_payload& trans, tlm::tlm_command cmd, uint64_t addr, void* data,
                         unsigned len) {
  trans.set_command(cmd);
  trans.set_address(addr);
  trans.set_data_ptr(static_cast<unsigned char*>(data));
  trans.set_data_length(len);
  trans.set_streaming_width(len);
  trans.set_byte_enable_ptr(nullptr);
  trans.set_byte_enable_length(0);
  trans.set_dmi_allowed(false);
  trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
}

class InitiatorSocket : public tlm_utils::simple_initiator_socket<InitiatorSocket> {
 public:
  explicit InitiatorSocket(const char* name);
  ~InitiatorSocket() override;

  // ---- Blocking transport ----
  // One transaction; `ext` are attached for the call only (extensions the
  // caller owns: the target fills them in). `delay` is the caller's
  // annotated time, as for b_transport. Returns the response status.
  template <typename... Ext>
  tlm::tlm_response_status transport(tlm::tlm_command cmd, uint64_t addr, void* data, unsigned len,
                                     sc_core::sc_time& delay, Ext&... ext) {
    fill_payload(trans_, cmd, addr, data, len);
    (trans_.set_extension(&ext), ...);
    (*this)->b_transport(trans_, delay);
    (trans_.clear_extension(&ext), ...);
    return trans_.get_response_status();
  }
  template <typename... Ext>
  tlm::tlm_response_status read(uint64_t addr, void* data, unsigned len, sc_core::sc_time& delay, Ext&... ext) {
    return transport(tlm::TLM_READ_COMMAND, addr, data, len, delay, ext...);
  }
  template <typename... Ext>
  tlm::tlm_response_status write(uint64_t addr, const void* data, unsigned len, sc_core::sc_time& delay, Ext&... ext) {
    return transport(tlm::TLM_WRITE_COMMAND, addr, const_cast<void*>(data), len, delay, ext...);
  }
  // Attaches `ext` to every transaction of this socket from now on (a
  // request/response extension used on every call, such as a walk request);
  // it stays the caller's and is detached when the socket dies.
  template <typename T>
  void attach(T& ext) {
    trans_.set_extension(&ext);
    attached_.push_back(T::ID);
  }
  // The payload of the last transaction (its DMI hint, response details).
  const tlm::tlm_generic_payload& last() const { return trans_; }

  // ---- Debug transport: no time passes, no side effect but the data ----
  // Returns the bytes the target moved.
  unsigned debug_read(uint64_t addr, void* data, unsigned len);
  unsigned debug_write(uint64_t addr, const void* data, unsigned len);

  // ---- DMI ----
  DmiCache& dmi() { return dmi_; }
  // `len` bytes at `addr` through a cached region, adding its read (write)
  // latency to `delay`: what a transaction would have done, with no
  // payload, interconnect or target call. false, and nothing done, when no
  // cached region holds them.
  bool dmi_read(uint64_t addr, void* data, unsigned len, sc_core::sc_time& delay) {
    const tlm::tlm_dmi* d = dmi_.find(addr, len, tlm::tlm_dmi::DMI_ACCESS_READ);
    if (!d) return false;
    std::memcpy(data, d->get_dmi_ptr() + (addr - d->get_start_address()), len);
    delay += d->get_read_latency();
    return true;
  }
  bool dmi_write(uint64_t addr, const void* data, unsigned len, sc_core::sc_time& delay) {
    const tlm::tlm_dmi* d = dmi_.find(addr, len, tlm::tlm_dmi::DMI_ACCESS_WRITE);
    if (!d) return false;
    std::memcpy(d->get_dmi_ptr() + (addr - d->get_start_address()), data, len);
    delay += d->get_write_latency();
    return true;
  }
  // After a transaction `trans` (this socket's or one forwarded through it)
  // that succeeded with the target's DMI hint set: asks once for the region
  // holding `trans`'s address, so that the next access there can use it.
  void request_dmi_if_allowed(const tlm::tlm_generic_payload& trans) {
    if (trans.is_response_ok() && trans.is_dmi_allowed()) request_dmi(trans.get_address());
  }
  // Asks the target for a region holding `addr` and caches a granted one.
  // Returns it, or nullptr when the target grants none.
  const tlm::tlm_dmi* request_dmi(uint64_t addr);
  // The region holding [addr, addr + len) with `access`: from the cache, or
  // requested when the cache has none. nullptr when no grant holds it all.
  const tlm::tlm_dmi* get_dmi(uint64_t addr, uint64_t len, DmiCache::Access access) {
    if (const tlm::tlm_dmi* d = dmi_.find(addr, len, access)) return d;
    return request_and_check(addr, len, access);
  }
  // Called after the cache has dropped the regions an invalidation covers,
  // for an owner that keeps host pointers of its own (the MMU's TLBs).
  void on_invalidate(std::function<void(uint64_t start, uint64_t end)> fn) { on_invalidate_ = std::move(fn); }

 private:
  void invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end);
  const tlm::tlm_dmi* request_and_check(uint64_t addr, uint64_t len, DmiCache::Access access);

  tlm::tlm_generic_payload trans_;      // blocking transactions
  tlm::tlm_generic_payload dmi_trans_;  // DMI requests (which may come while trans_ is in flight)
  std::vector<unsigned> attached_;      // extension IDs attached for good
  DmiCache dmi_;
  std::function<void(uint64_t, uint64_t)> on_invalidate_;
};

}  // namespace sim
