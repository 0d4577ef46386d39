// The disk's monitor command (hw/base/command.h): `block` lists every disk
// (capacity, sector size, width, timing, write cache) with its ring, its
// requests in flight, the bytes only in its volatile cache, its bad sectors
// and what its sparse store costs. Disks are addressed by their number
// among the `block` devices, in the order of platform.devices.
#include <fmt/format.h>

#include <ostream>

#include "hw/base/time.h"
#include "hw/block/block_device.h"

namespace hw {

void BlockDevice::register_commands() {
  sim::Command c;
  c.name = "block";
  c.usage = "block [N]";
  c.help = "the disks: geometry, timing, ring, requests in flight, write cache, bad sectors, store";
  c.section = sim::Command::Section::inspecting;
  c.select = sim::Command::Select::index_or_all;
  c.index = p_.info.index;
  c.error = "block [N] (N a disk)";
  c.run = [this, usage = c.error](const sim::CommandCall& call) {
    if (call.args.size() > 2) throw sim::CommandError(usage);
    call.out << fmt::format("{}: block, {} ({} sectors of {} bytes), {}-bit, registers {:#x}, vector {:#x}\n",
                            p_.info.name, sim::format_size(p_.size, sim::SizeStyle::rounded),
                            p_.size / p_.sector_size, p_.sector_size, p_.info.addr_bits, p_.info.mmio_base,
                            p_.info.vector);
    call.out << fmt::format("  read {}, write {}, {}/s, write cache {}, ring of {}{}\n",
                            sim::format_duration(sim::to_ps(p_.read_latency)),
                            sim::format_duration(sim::to_ps(p_.write_latency)),
                            sim::format_size(p_.bandwidth, sim::SizeStyle::rounded), p_.write_cache ? "on" : "off",
                            p_.queue_depth, ready_ ? fmt::format(" at {:#x}", desc_) : " (not set up)");
    call.out << fmt::format("  {} requests in flight, {} bytes only in the write cache, store {}{}\n", pending_.size(),
                            cached_bytes(), sim::format_size(stored_bytes(), sim::SizeStyle::rounded),
                            p_.backing.empty() ? " (host memory)" : fmt::format(" (file {})", p_.backing));
    std::string bad;
    for (const auto& [first, last] : bad_)
      bad += first == last ? fmt::format(" {}", first) : fmt::format(" {}-{}", first, last);
    call.out << fmt::format("  bad sectors:{}\n", bad.empty() ? " none" : bad);
    if (error_ != BlockError::none)
      call.out << fmt::format("  last error: {} at {:#x}\n", block_error_name(error_), err_addr_);
  };
  commands_.add(std::move(c));
}

}  // namespace hw
