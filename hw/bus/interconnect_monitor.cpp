// The interconnect's monitor command (hw/base/command.h): `x PA [LEN]`
// dumps physical memory through the address map, read without timing
// (whatever target decodes PA: DRAM, a device's registers).
#include <ostream>
#include <vector>

#include <fmt/format.h>

#include "hw/bus/interconnect.h"

namespace hw {

void Interconnect::register_commands() {
  sim::Command c;
  c.name = "x";
  c.usage = "x PA [LEN]";
  c.help = "physical memory at PA, LEN bytes (default 64), read without timing";
  c.run = [this](const sim::CommandCall& call) {
    const sim::CommandArgs& w = call.args;
    uint64_t pa, len = 64;
    if (w.size() < 2 || !sim::parse_argument(w[1], pa) || (w.size() > 2 && !sim::parse_argument(w[2], len)) ||
        len == 0 || len > 4096)
      throw sim::CommandError("x PA [LEN]: a physical address and up to 4096 bytes");
    std::vector<uint8_t> buf(len);
    const unsigned got = debug_read(pa, buf.data(), static_cast<unsigned>(len));
    if (got == 0) throw sim::CommandError(fmt::format("x: nothing decodes {:#x}", pa));
    for (unsigned i = 0; i < got; i += 16) {
      std::string hex, text;
      for (unsigned j = i; j < i + 16 && j < got; ++j) {
        hex += fmt::format("{:02x} ", buf[j]);
        text += buf[j] >= 32 && buf[j] < 127 ? static_cast<char>(buf[j]) : '.';
      }
      call.out << fmt::format("{:#012x}: {:<48} {}\n", pa + i, hex, text);
    }
  };
  commands_.add(std::move(c));
}

}  // namespace hw
