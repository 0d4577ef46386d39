#include "hw/bus/interconnect.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "hw/base/initiator.h"
#include "hw/base/time.h"

namespace hw {

Interconnect::Params Interconnect::read_params(sim::ConfigNode membus) {
  Params p;
  p.latency = sim::from_ps(membus.get<sim::Duration>("latency", {0}, "Interconnect latency per transaction").ps);
  return p;
}

Interconnect::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "membus") {}

Interconnect::Interconnect(sc_core::sc_module_name name, sc_core::sc_time latency,
                           sim::stats::Group* stats_parent)
    : sc_module(name), from_initiators("from_initiators"), to_targets("to_targets"),
      stats(stats_parent), latency_(latency) {
  from_initiators.register_b_transport(this, &Interconnect::b_transport);
  from_initiators.register_get_direct_mem_ptr(this, &Interconnect::get_direct_mem_ptr);
  from_initiators.register_transport_dbg(this, &Interconnect::transport_dbg);
  to_targets.register_invalidate_direct_mem_ptr(this, &Interconnect::invalidate_direct_mem_ptr);
  register_commands();
}

void Interconnect::add_region(unsigned target, uint64_t base, uint64_t size, std::string name) {
  if (size == 0) throw std::invalid_argument(fmt::format("region {} is empty", name));
  for (const Region& r : regions_) {
    if (base < r.base + r.size && r.base < base + size)
      throw std::invalid_argument(fmt::format("region {} [{:#x}, {:#x}) overlaps {} [{:#x}, {:#x})", name, base,
                                              base + size, r.name, r.base, r.base + r.size));
  }
  regions_.push_back({base, size, target, std::move(name)});
  std::sort(regions_.begin(), regions_.end(), [](const Region& a, const Region& b) { return a.base < b.base; });
  last_ = nullptr;
}

void Interconnect::set_initiator_node(unsigned initiator, unsigned node) {
  if (initiator_node_.size() <= initiator) initiator_node_.resize(initiator + 1, 0);
  initiator_node_[initiator] = node;
}

const Interconnect::Region* Interconnect::decode(uint64_t pa) const {
  if (last_ && pa - last_->base < last_->size) return last_;
  auto it = std::upper_bound(regions_.begin(), regions_.end(), pa,
                             [](uint64_t a, const Region& r) { return a < r.base; });
  if (it == regions_.begin()) return nullptr;
  --it;
  if (pa - it->base >= it->size) return nullptr;
  last_ = &*it;
  return last_;
}

void Interconnect::b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  ++stats.transactions;
  const Region* r = decode(trans.get_address());
  if (!r || trans.get_address() + trans.get_data_length() - r->base > r->size) {
    ++stats.decode_errors;
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  delay += latency_;
  SourceExtension src;
  src.node = static_cast<unsigned>(id) < initiator_node_.size() ? initiator_node_[id] : 0;
  SourceExtension* prior = nullptr;
  trans.get_extension(prior);
  if (!prior) trans.set_extension(&src);
  to_targets[r->target]->b_transport(trans, delay);
  if (!prior) trans.clear_extension(&src);
}

bool Interconnect::get_direct_mem_ptr(int id, tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi) {
  ++stats.dmi_requests;
  const Region* r = decode(trans.get_address());
  if (!r) return false;
  SourceExtension src;
  src.node = static_cast<unsigned>(id) < initiator_node_.size() ? initiator_node_[id] : 0;
  SourceExtension* prior = nullptr;
  trans.get_extension(prior);
  if (!prior) trans.set_extension(&src);
  const bool ok = to_targets[r->target]->get_direct_mem_ptr(trans, dmi);
  if (!prior) trans.clear_extension(&src);
  if (!ok) return false;
  // Clip to the region (a target may own several) and add the hop.
  const uint64_t lo = std::max<uint64_t>(dmi.get_start_address(), r->base);
  const uint64_t hi = std::min<uint64_t>(dmi.get_end_address(), r->base + r->size - 1);
  dmi.set_dmi_ptr(dmi.get_dmi_ptr() + (lo - dmi.get_start_address()));
  dmi.set_start_address(lo);
  dmi.set_end_address(hi);
  dmi.set_read_latency(dmi.get_read_latency() + latency_);
  dmi.set_write_latency(dmi.get_write_latency() + latency_);
  return true;
}

unsigned int Interconnect::transport_dbg(int, tlm::tlm_generic_payload& trans) {
  const Region* r = decode(trans.get_address());
  if (!r) return 0;
  return to_targets[r->target]->transport_dbg(trans);
}

void Interconnect::invalidate_direct_mem_ptr(int, sc_dt::uint64 start, sc_dt::uint64 end) {
  for (unsigned i = 0; i < from_initiators.size(); ++i) from_initiators[i]->invalidate_direct_mem_ptr(start, end);
}

unsigned Interconnect::debug_read(uint64_t pa, void* dst, unsigned len) {
  tlm::tlm_generic_payload t;
  sim::fill_payload(t, tlm::TLM_READ_COMMAND, pa, dst, len);
  return transport_dbg(0, t);
}

unsigned Interconnect::debug_write(uint64_t pa, const void* src, unsigned len) {
  tlm::tlm_generic_payload t;
  sim::fill_payload(t, tlm::TLM_WRITE_COMMAND, pa, const_cast<void*>(src), len);
  return transport_dbg(0, t);
}

}  // namespace hw
