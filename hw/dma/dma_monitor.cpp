// The DMA engine's monitor commands (hw/base/command.h): `dma` lists every
// engine (width, window, vector, bandwidth) with its transfer in flight or
// its last one's outcome; `dma N SRC DST LEN` starts a copy on engine N as a
// driver would (its ranges are declared to the DMA checker as the driver's
// mapping would be). Engines are addressed by their number among the `dma`
// devices, in the order of platform.devices (dma0, dma1, ...). The ranges
// the firmware has mapped for each device are the DMA checker's
// (`dmacheck`), swiotlb's usage the firmware's (`swiotlb`, /proc/swiotlb).
#include <fmt/format.h>

#include <ostream>

#include "hw/base/time.h"
#include "hw/dma/dma_engine.h"

namespace hw {

void DmaEngine::register_commands() {
  sim::Command c;
  c.name = "dma";
  c.usage = "dma [N SRC DST LEN]";
  c.help =
      "the DMA engines and their transfers; with N SRC DST LEN, start a copy\n"
      "on engine N (bus addresses), as a driver would";
  c.section = sim::Command::Section::changing;
  c.select = sim::Command::Select::index_or_all;
  c.index = p_.info.index;
  c.error = "dma N SRC DST LEN (N an engine, SRC/DST bus addresses, LEN bytes)";
  c.run = [this, usage = c.error](const sim::CommandCall& call) {
    if (call.args.size() == 1) {
      call.out << fmt::format("{}: dma, {}-bit, registers {:#x}, vector {:#x}, {}/s, setup {}\n", p_.info.name,
                              p_.info.addr_bits, p_.info.mmio_base, p_.info.vector,
                              sim::format_size(p_.bandwidth, sim::SizeStyle::rounded),
                              sim::format_duration(sim::to_ps(p_.setup)));
      const std::string what =
          chain_ ? fmt::format("chain at {:#x}", desc_) : fmt::format("{:#x} -> {:#x}, {} bytes", src_, dst_, len_);
      if (busy_)
        call.out << fmt::format("  busy: {}; {} bytes and {} descriptors done\n", what, count_, ndesc_);
      else if (done_)
        call.out << fmt::format("  idle; last: {}: {}{}{}\n", what, dma_error_name(error_),
                                error_ == DmaError::none ? "" : fmt::format(" at {:#x}", err_addr_),
                                flagged_ ? " (the DMA checker flagged an access)" : "");
      else
        call.out << "  idle; no transfer yet\n";
      return;
    }
    uint64_t src, dst, len;
    if (call.args.size() != 5 || !sim::parse_argument(call.args[2], src) || !sim::parse_argument(call.args[3], dst) ||
        !sim::parse_argument(call.args[4], len))
      throw sim::CommandError(usage);
    if (!start(src, dst, len)) throw sim::CommandError(fmt::format("dma: {} is busy", p_.info.name));
    call.out << fmt::format("{}: started {:#x} -> {:#x}, {} bytes (it runs when the simulation does)\n", p_.info.name,
                            src, dst, len);
  };
  commands_.add(std::move(c));
}

}  // namespace hw
