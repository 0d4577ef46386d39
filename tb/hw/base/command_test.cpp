// The monitor-command registry (hw/base/command.h): registration and
// unregistration with a model's lifetime, and the addressing rules that
// pick among several instances of one command.
#include "hw/base/command.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>

namespace sim {
namespace {

// A model with one command; prints which instance ran.
struct Model {
  Commands commands;
  Model(const std::string& name, Command::Select select, unsigned index, uint64_t base = 0, uint64_t size = 0) {
    Command c;
    c.name = name;
    c.usage = name + " ARG";
    c.help = "test";
    c.select = select;
    c.index = index;
    c.base = base;
    c.size = size;
    c.error = name + ": bad";
    c.not_held = "is nobody's";
    c.run = [](const CommandCall& call) { call.out << "ran " << call.index << " arg " << call.arg << '\n'; };
    commands.add(c);
  }
};

std::string run(const std::string& line) {
  std::istringstream ss(line);
  CommandArgs args;
  for (std::string w; ss >> w;) args.push_back(w);
  std::ostringstream out;
  try {
    if (!commands::run(args, out)) return "unknown";
  } catch (const CommandError& e) {
    return std::string("error: ") + e.what();
  }
  return out.str();
}

TEST(Commands, UnregisteredWithTheirModel) {
  {
    Model m("only", Command::Select::only, 0);
    EXPECT_EQ(run("only 5"), "ran 0 arg 0\n");
    ASSERT_EQ(commands::list().size(), 1u);
    EXPECT_EQ(commands::list()[0]->usage, "only ARG");
  }
  EXPECT_EQ(run("only 5"), "unknown");
  EXPECT_TRUE(commands::list().empty());
}

TEST(Commands, IndexPicksTheInstanceAndDefaultsToZero) {
  Model a("idx", Command::Select::index, 1), b("idx", Command::Select::index, 0);
  EXPECT_EQ(run("idx"), "ran 0 arg 0\n");
  EXPECT_EQ(run("idx 1"), "ran 1 arg 1\n");
  EXPECT_EQ(run("idx 0x1 extra"), "ran 1 arg 1\n");
  EXPECT_EQ(run("idx 2"), "error: idx: bad");
  EXPECT_EQ(run("idx x"), "error: idx: bad");
  EXPECT_EQ(commands::list().size(), 1u);  // one name, listed once
}

TEST(Commands, IndexOrAllRunsEveryInstanceInIndexOrder) {
  Model a("all", Command::Select::index_or_all, Command::kNextIndex);
  Model b("all", Command::Select::index_or_all, Command::kNextIndex);
  EXPECT_EQ(run("all"), "ran 0 arg 0\nran 1 arg 0\n");
  EXPECT_EQ(run("all 1 2 3"), "ran 1 arg 1\n");
  EXPECT_EQ(run("all 2"), "error: all: bad");
}

TEST(Commands, AddressPicksTheInstanceHoldingIt) {
  Model lo("poke", Command::Select::address, 0, 0x0, 0x1000);
  Model hi("poke", Command::Select::address, 1, 0x4000, 0x1000);
  EXPECT_EQ(run("poke 0x4fff"), "ran 1 arg 20479\n");
  EXPECT_EQ(run("poke 0"), "ran 0 arg 0\n");
  EXPECT_EQ(run("poke 4KiB"), "error: 0x1000 is nobody's");
  EXPECT_EQ(run("poke"), "error: poke: bad");
}

}  // namespace
}  // namespace sim
