#include "sw/mm/workingset.h"

namespace fw {

// No reclaim evicts pages yet: no shadow is ever stored or read.
uint64_t Workingset::eviction(hal::Hal&, page*) { return 1; }

void Workingset::refault(hal::Hal&, page*, uint64_t) {}

}  // namespace fw
