// Monitor commands that models offer, as VCML's register_command: a model
// registers its commands in its constructor, from a file beside its code
// (hw/mmu/mmu_monitor.cpp registers `tlb`), and they go when it is
// destroyed. The monitor (tb/top/monitor.cpp) lists them in `help` and runs
// them without knowing any model, so a new device brings its own commands.
//
// Addressing. Several instances may offer one command (an MMU per CPU, a
// DRAM per NUMA node, several DMA engines); `Command::select` says how an
// invocation picks its instance from its first argument:
//   only          one instance offers the command and runs every invocation
//                 (the interconnect's `x PA [LEN]`);
//   index         the first argument is the instance's index (the MMU's CPU,
//                 the DMA engine's number); without it, instance 0
//                 (`tlb` is `tlb 0`);
//   index_or_all  as index, but without arguments every instance runs, in
//                 index order (`dma` lists every engine, `dma N SRC DST LEN`
//                 starts engine N);
//   address       the first argument is a physical address; the instance
//                 whose range [base, base + size) holds it runs (`poison PA`:
//                 the DRAM of that address's node).
// When the first argument is missing or not a number, or no instance has
// that index, the monitor prints the command's `error`; when no instance
// holds a valid address, "<address> <not_held>". Instances of one name share
// its select rule, usage and help (the first registration's); when two
// claim one index or address, the first registered runs.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

namespace sim {

// The words of an invocation, the command's name first: {"tlb", "1"}.
using CommandArgs = std::vector<std::string>;

// A wrong invocation: the monitor prints the message (one line) and goes on.
class CommandError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads a number argument the way every command does: 4096, 0x1000, 4KiB.
bool parse_argument(const std::string& word, uint64_t& value);

// What a handler is given.
struct CommandCall {
  const CommandArgs& args;
  uint64_t arg;    // the first argument as a number (index and address rules; 0 when absent)
  unsigned index;  // the index of the instance that runs (index rules)
  std::ostream& out;
};

struct Command {
  enum class Section : uint8_t { inspecting, changing };  // where `help` lists it
  enum class Select : uint8_t { only, index, index_or_all, address };
  // index: take the next one after the highest of this name's live instances
  // (construction order numbers them: dma0, dma1, ...).
  static constexpr unsigned kNextIndex = ~0u;

  std::string name;     // the word that invokes it
  std::string usage;    // its syntax, as `help` shows it: "tlb [CPU]"
  std::string help;     // what it does, for `help`; '\n' continues it on another line
  Section section = Section::inspecting;
  Select select = Select::only;
  unsigned index = 0;            // index rules: this instance's index (or kNextIndex)
  uint64_t base = 0, size = 0;   // address rule: the physical range this instance holds
  std::string error;             // printed for a missing, non-numeric or unknown first argument
  std::string not_held;          // address rule: printed after an address no instance holds
  // Runs the command; throws CommandError for bad arguments.
  std::function<void(const CommandCall& call)> run;
};

// The commands one model registered: a member of the model, filled in its
// constructor; destroying it unregisters them.
class Commands {
 public:
  Commands() = default;
  ~Commands();
  Commands(const Commands&) = delete;
  Commands& operator=(const Commands&) = delete;

  // Registers a command of this model.
  void add(Command c);

 private:
  std::vector<uint64_t> ids_;
};

// The monitor's view of every live model's commands.
namespace commands {

// One registration per command name (the first instance's), in the order
// the names were first registered. Valid until a model is created or
// destroyed.
std::vector<const Command*> list();

// Runs an invocation (args[0] is the name) on the instance its select rule
// picks. Returns false when no live model offers args[0]; throws
// CommandError for a wrong invocation.
bool run(const CommandArgs& args, std::ostream& out);

}  // namespace commands
}  // namespace sim
