#include "hw/base/command.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "hw/base/config.h"

namespace sim {

namespace {

struct Entry {
  uint64_t id;
  Command cmd;
};

// Every live registration, in registration order. The simulation is one
// thread, so no lock; never destroyed, so a model destroyed late (a static
// one) still finds it.
std::vector<Entry>& registry() {
  static auto* entries = new std::vector<Entry>;
  return *entries;
}

uint64_t next_id() {
  static uint64_t id = 0;
  return ++id;
}

// The live instances of `name`, in registration order.
std::vector<const Command*> instances(const std::string& name) {
  std::vector<const Command*> out;
  for (const Entry& e : registry())
    if (e.cmd.name == name) out.push_back(&e.cmd);
  return out;
}

void call(const Command& c, const CommandArgs& args, uint64_t arg, std::ostream& out) {
  c.run(CommandCall{args, arg, c.index, out});
}

// The index rules: run the instance the first argument names (every one, in
// index order, for index_or_all without arguments).
void run_indexed(const std::vector<const Command*>& inst, const CommandArgs& args, std::ostream& out) {
  const Command& first = *inst.front();
  uint64_t idx = 0;
  if (args.size() < 2 && first.select == Command::Select::index_or_all) {
    std::vector<const Command*> sorted = inst;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Command* a, const Command* b) { return a->index < b->index; });
    for (const Command* c : sorted) call(*c, args, 0, out);
    return;
  }
  if (args.size() >= 2 && !parse_argument(args[1], idx)) throw CommandError(first.error);
  for (const Command* c : inst)
    if (c->index == idx) return call(*c, args, idx, out);
  throw CommandError(first.error);
}

void run_addressed(const std::vector<const Command*>& inst, const CommandArgs& args, std::ostream& out) {
  const Command& first = *inst.front();
  uint64_t pa = 0;
  if (args.size() < 2 || !parse_argument(args[1], pa)) throw CommandError(first.error);
  for (const Command* c : inst)
    if (pa >= c->base && pa - c->base < c->size) return call(*c, args, pa, out);
  throw CommandError(fmt::format("{:#x} {}", pa, first.not_held));
}

}  // namespace

bool parse_argument(const std::string& word, uint64_t& value) { return parse_size(word, value); }

Commands::~Commands() {
  auto& r = registry();
  r.erase(std::remove_if(r.begin(), r.end(),
                         [this](const Entry& e) { return std::find(ids_.begin(), ids_.end(), e.id) != ids_.end(); }),
          r.end());
}

void Commands::add(Command c) {
  if (c.index == Command::kNextIndex) {
    unsigned next = 0;
    for (const Command* other : instances(c.name)) next = std::max(next, other->index + 1);
    c.index = next;
  }
  const uint64_t id = next_id();
  registry().push_back(Entry{id, std::move(c)});
  ids_.push_back(id);
}

namespace commands {

std::vector<const Command*> list() {
  std::vector<const Command*> out;
  for (const Entry& e : registry()) {
    const bool seen = std::any_of(out.begin(), out.end(), [&](const Command* c) { return c->name == e.cmd.name; });
    if (!seen) out.push_back(&e.cmd);
  }
  return out;
}

bool run(const CommandArgs& args, std::ostream& out) {
  if (args.empty()) return false;
  const std::vector<const Command*> inst = instances(args[0]);
  if (inst.empty()) return false;
  switch (inst.front()->select) {
    case Command::Select::only:
      call(*inst.front(), args, 0, out);
      break;
    case Command::Select::index:
    case Command::Select::index_or_all:
      run_indexed(inst, args, out);
      break;
    case Command::Select::address:
      run_addressed(inst, args, out);
      break;
  }
  return true;
}

}  // namespace commands
}  // namespace sim
