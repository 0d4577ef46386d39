#include "hw/base/debug.h"

#include <cstdio>

namespace sim::debug {

namespace {
std::vector<Flag*>& registry() {
  static std::vector<Flag*> flags;
  return flags;
}
}  // namespace

Flag::Flag(const char* name, const char* desc) : name_(name), desc_(desc) {
  registry().push_back(this);
}

const std::vector<Flag*>& all_flags() { return registry(); }

std::string enable(const std::string& list) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string name = list.substr(start, comma - start);
    if (!name.empty()) {
      bool found = false;
      for (Flag* f : registry()) {
        if (name == "All" || name == f->name()) {
          f->enabled = true;
          found = true;
        }
      }
      if (!found) return name;
    }
    start = comma + 1;
  }
  return "";
}

void disable_all() {
  for (Flag* f : registry()) f->enabled = false;
}

void vprint(uint64_t tick_ps, const char* who, fmt::string_view format, fmt::format_args args) {
  fmt::memory_buffer buf;
  fmt::format_to(std::back_inserter(buf), "{:>12}: {}: ", tick_ps, who);
  fmt::vformat_to(std::back_inserter(buf), format, args);
  buf.push_back('\n');
  std::fwrite(buf.data(), 1, buf.size(), stdout);
}

Flag TLB("TLB", "TLB lookups that miss, fills, evictions and invalidations");
Flag Walker("Walker", "page walks: start, each page-table read, outcome");
Flag PWC("PWC", "paging-structure cache hits, fills and invalidations");
Flag Fault("Fault", "page faults and machine checks delivered to the firmware");
Flag MMU("MMU", "CR3 writes, INVLPG, INVPCID and paging-control changes");
Flag DRAM("DRAM", "DRAM poison injection, DMI grants and revocations, locks");
Flag Core("Core", "core: scheduling, system calls, interrupts");
Flag Firmware("Firmware", "the firmware's console output");
Flag Intc("Intc", "interrupt controller: IPIs and device interrupts");
Flag DMA("DMA", "DMA engine transfers and errors");
Flag Lockstep("Lockstep", "walks compared between the TLM and RTL walkers");
Flag Syscall("Syscall", "system calls and their results");

}  // namespace sim::debug
