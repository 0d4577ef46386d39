// The DMA engine's monitor commands (hw/base/command.h): `dma` lists every
// engine with its last transfer's outcome; `dma N SRC DST LEN` starts a copy
// on engine N as a driver's register writes would. Engines are addressed by
// their number, in the order the platform builds them (dma0, dma1, ...).
#include <ostream>

#include <fmt/format.h>

#include "hw/dma/dma_engine.h"

namespace hw {

void DmaEngine::register_commands() {
  sim::Command c;
  c.name = "dma";
  c.usage = "dma [N SRC DST LEN]";
  c.help = "the DMA engines and their last transfer; with N SRC DST LEN, start a copy\n"
           "on engine N (bus addresses), as a driver would";
  c.section = sim::Command::Section::changing;
  c.select = sim::Command::Select::index_or_all;
  c.index = sim::Command::kNextIndex;
  c.error = "dma N SRC DST LEN (N an engine, SRC/DST bus addresses, LEN bytes)";
  c.run = [this, usage = c.error](const sim::CommandCall& call) {
    if (call.args.size() == 1) {
      call.out << fmt::format("dma{}: {}-bit, {}, last error: {}\n", call.index, p_.addr_bits, busy_ ? "busy" : "idle",
                              dma_error_name(error_));
      return;
    }
    uint64_t src, dst, len;
    if (call.args.size() != 5 || !sim::parse_argument(call.args[2], src) || !sim::parse_argument(call.args[3], dst) ||
        !sim::parse_argument(call.args[4], len))
      throw sim::CommandError(usage);
    if (!start(src, dst, len)) throw sim::CommandError("dma: the engine is busy");
    call.out << fmt::format("dma{}: started {:#x} -> {:#x}, {} bytes (it runs when the simulation does)\n", call.index,
                            src, dst, len);
  };
  commands_.add(std::move(c));
}

}  // namespace hw
