#include "hw/base/dmi_cache.h"

#include <algorithm>

namespace sim {

const tlm::tlm_dmi* DmiCache::find_other(uint64_t addr, uint64_t len, Access access) {
  for (size_t i = regions_.size(); i-- > 0;) {
    if (holds(regions_[i], addr, len, access)) {
      last_ = i;
      return &regions_[i];
    }
  }
  return nullptr;
}

const tlm::tlm_dmi& DmiCache::insert(const tlm::tlm_dmi& region) {
  const uint64_t lo = region.get_start_address(), hi = region.get_end_address();
  regions_.erase(
      std::remove_if(regions_.begin(), regions_.end(),
                     [&](const tlm::tlm_dmi& d) { return d.get_start_address() >= lo && d.get_end_address() <= hi; }),
      regions_.end());
  regions_.push_back(region);
  last_ = regions_.size() - 1;
  return regions_.back();
}

void DmiCache::invalidate(uint64_t start, uint64_t end) {
  regions_.erase(std::remove_if(regions_.begin(), regions_.end(),
                                [&](const tlm::tlm_dmi& d) {
                                  return d.get_start_address() <= end && d.get_end_address() >= start;
                                }),
                 regions_.end());
  last_ = 0;
}

}  // namespace sim
