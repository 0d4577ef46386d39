// /proc/diskstats (Linux block/genhd.c diskstats_show, 6.18's 20 fields):
// one line per registered disk that counts its I/O, in registration order.
// Departures: the major number is virtio-blk's usual dynamic one (253) and
// minors step by 16 per disk as virtio-blk's do; the name is the platform
// device's ("disk0", where Linux says vda); disks have no partitions;
// discards are never issued, so their fields are 0.
#include "sw/block/blk_mq.h"
#include "sw/fs/proc/proc_fs.h"
#include "sw/lib/seq_file.h"
#include "sw/mm/context.h"

namespace fw {

namespace {

constexpr unsigned kDiskMajor = 253;
constexpr unsigned kMinorsPerDisk = 16;

unsigned long ms(uint64_t ns) { return static_cast<unsigned long>(ns / 1000000); }

}  // namespace

bool diskstats_present(const MmContext& ctx) {
  if (!ctx.blockdevs) return false;
  for (list_head* p = ctx.blockdevs->list.next; p != &ctx.blockdevs->list; p = p->next)
    if (list_entry(p, block_device, bd_list)->stats) return true;
  return false;
}

void diskstats_show(seq_file* m, const MmContext& ctx) {
  if (!ctx.blockdevs) return;
  unsigned index = 0;
  for (list_head* p = ctx.blockdevs->list.next; p != &ctx.blockdevs->list; p = p->next, ++index) {
    const block_device* b = list_entry(p, block_device, bd_list);
    if (!b->stats) continue;
    const disk_stats& s = *b->stats;
    // The ms fields are unsigned int in Linux (div_u64 cast): they wrap the same way.
    auto ms32 = [](uint64_t ns) { return static_cast<unsigned long>(static_cast<unsigned>(ns / 1000000)); };
    seq_printf(m, "%4u %7u %s %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu\n", kDiskMajor,
               index * kMinorsPerDisk, b->bd_disk_name, static_cast<unsigned long>(s.ios[STAT_READ]),
               static_cast<unsigned long>(s.merges[STAT_READ]), static_cast<unsigned long>(s.sectors[STAT_READ]),
               ms32(s.nsecs[STAT_READ]), static_cast<unsigned long>(s.ios[STAT_WRITE]),
               static_cast<unsigned long>(s.merges[STAT_WRITE]), static_cast<unsigned long>(s.sectors[STAT_WRITE]),
               ms32(s.nsecs[STAT_WRITE]), static_cast<unsigned long>(s.in_flight), ms(s.io_ticks_ns),
               ms32(s.nsecs[STAT_READ] + s.nsecs[STAT_WRITE] + s.nsecs[STAT_DISCARD] + s.nsecs[STAT_FLUSH]),
               static_cast<unsigned long>(s.ios[STAT_DISCARD]), static_cast<unsigned long>(s.merges[STAT_DISCARD]),
               static_cast<unsigned long>(s.sectors[STAT_DISCARD]), ms32(s.nsecs[STAT_DISCARD]),
               static_cast<unsigned long>(s.ios[STAT_FLUSH]), ms32(s.nsecs[STAT_FLUSH]));
  }
}

}  // namespace fw
