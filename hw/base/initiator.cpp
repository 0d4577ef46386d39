#include "hw/base/initiator.h"

namespace sim {

InitiatorSocket::InitiatorSocket(const char* name) : tlm_utils::simple_initiator_socket<InitiatorSocket>(name) {
  register_invalidate_direct_mem_ptr(this, &InitiatorSocket::invalidate_direct_mem_ptr);
}

InitiatorSocket::~InitiatorSocket() {
  // A payload frees the extensions still attached when it dies: detach the
  // callers' own.
  for (unsigned id : attached_) trans_.set_extension(id, nullptr);
}

unsigned InitiatorSocket::debug_read(uint64_t addr, void* data, unsigned len) {
  tlm::tlm_generic_payload t;
  fill_payload(t, tlm::TLM_READ_COMMAND, addr, data, len);
  return (*this)->transport_dbg(t);
}

unsigned InitiatorSocket::debug_write(uint64_t addr, const void* data, unsigned len) {
  tlm::tlm_generic_payload t;
  fill_payload(t, tlm::TLM_WRITE_COMMAND, addr, const_cast<void*>(data), len);
  return (*this)->transport_dbg(t);
}

const tlm::tlm_dmi* InitiatorSocket::request_dmi(uint64_t addr) {
  tlm::tlm_dmi region;
  fill_payload(dmi_trans_, tlm::TLM_READ_COMMAND, addr, nullptr, 0);
  if (!(*this)->get_direct_mem_ptr(dmi_trans_, region)) return nullptr;
  return &dmi_.insert(region);
}

const tlm::tlm_dmi* InitiatorSocket::request_and_check(uint64_t addr, uint64_t len, DmiCache::Access access) {
  const tlm::tlm_dmi* d = request_dmi(addr);
  return d && DmiCache::holds(*d, addr, len, access) ? d : nullptr;
}

void InitiatorSocket::invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end) {
  dmi_.invalidate(start, end);
  if (on_invalidate_) on_invalidate_(start, end);
}

}  // namespace sim
