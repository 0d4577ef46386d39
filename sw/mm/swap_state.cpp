#include "sw/mm/swap_state.h"

#include "sw/lib/errno.h"

namespace fw {

// Without swap areas there is no slot to give and nothing in the cache.
bool SwapCache::add_to_swap(hal::Hal&, page*) { return false; }

int SwapCache::swap_writepage(hal::Hal&, page*) { return -EINVAL; }

void SwapCache::delete_from_swap_cache(hal::Hal&, page*, uint64_t) {}

}  // namespace fw
