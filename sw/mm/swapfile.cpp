#include "sw/mm/swapfile.h"

#include "sw/lib/errno.h"

namespace fw {

// Without swap areas no entry names a slot in use.
int Swapfile::swap_duplicate(hal::Hal&, swp_entry_t) { return -ENOENT; }

void Swapfile::swap_free(hal::Hal&, swp_entry_t) {}

}  // namespace fw
