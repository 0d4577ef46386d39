// The DMI regions one initiator socket was granted (sim::InitiatorSocket
// owns one; the MMU, the cores, the page walkers and the DMA engines reach
// memory through theirs). A lookup first tries the region that answered
// last (most accesses hit it again), then the others, newest first. A new
// grant replaces the cached regions it covers; an invalidation drops every
// region it overlaps. As VCML's tlm_dmi_cache, in front of
// tlm_initiator_socket's read/write.
#pragma once

#include <cstdint>
#include <vector>

#include <tlm>

namespace sim {

class DmiCache {
 public:
  using Access = tlm::tlm_dmi::dmi_access_e;  // DMI_ACCESS_READ, _WRITE, _READ_WRITE

  // The cached region that holds [addr, addr + len) and grants `access`, or
  // nullptr. Inline for the region that answered last.
  const tlm::tlm_dmi* find(uint64_t addr, uint64_t len = 1, Access access = tlm::tlm_dmi::DMI_ACCESS_READ) {
    if (last_ < regions_.size() && holds(regions_[last_], addr, len, access)) return &regions_[last_];
    return find_other(addr, len, access);
  }
  // The host address of `addr` through such a region, or nullptr.
  unsigned char* host(uint64_t addr, uint64_t len, Access access) {
    const tlm::tlm_dmi* d = find(addr, len, access);
    return d ? d->get_dmi_ptr() + (addr - d->get_start_address()) : nullptr;
  }

  // Caches a granted region (it becomes the one that answered last) and
  // drops the cached regions it covers. The reference stays valid until the
  // next insert() or invalidate().
  const tlm::tlm_dmi& insert(const tlm::tlm_dmi& region);
  // Drops every region that overlaps [start, end] (an invalidation).
  void invalidate(uint64_t start, uint64_t end);
  void clear() { regions_.clear(); }

  const std::vector<tlm::tlm_dmi>& regions() const { return regions_; }

  static bool holds(const tlm::tlm_dmi& d, uint64_t addr, uint64_t len, Access access) {
    return addr >= d.get_start_address() && addr + (len - 1) <= d.get_end_address() &&
           (d.get_granted_access() & access) == access;
  }

 private:
  const tlm::tlm_dmi* find_other(uint64_t addr, uint64_t len, Access access);

  std::vector<tlm::tlm_dmi> regions_;  // oldest first
  size_t last_ = 0;                    // the region that answered last
};

}  // namespace sim
