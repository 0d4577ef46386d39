// What Linux's mkswap writes (util-linux, the v1 header the kernel's
// read_swap_header checks): the first page of a swap area. Shared by the
// tools that prepare swap disks before boot (tb/top) and by the tests and
// benchmarks that make RAM disks swap areas, as sw/fs/mmfs/format's mkfs is.
#pragma once

#include <stdint.h>

#include "sw/lib/string.h"
#include "sw/mm/page.h"
#include "sw/mm/swapfile.h"

namespace fw {

// Fills page (PAGE_SIZE bytes, zeroed by the caller) with the header of an
// area of `bytes` bytes: version 1, the last usable page (at most 2^32 - 1),
// no bad pages, and uuid (16 bytes) when given.
inline void mkswap_header(uint8_t* page, uint64_t bytes, const uint8_t* uuid = nullptr) {
  swap_header_info info{};
  info.version = 1;
  const uint64_t last = bytes / PAGE_SIZE - 1;
  info.last_page = static_cast<uint32_t>(last > UINT32_MAX ? UINT32_MAX : last);
  if (uuid) mem_copy(info.sws_uuid, uuid, sizeof info.sws_uuid);
  mem_copy(page + SWAP_INFO_OFFSET, &info, sizeof info);
  mem_copy(page + SWAP_MAGIC_OFFSET, SWAP_MAGIC, SWAP_MAGIC_LEN);
}

}  // namespace fw
