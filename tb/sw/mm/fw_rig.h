// Test rig for the firmware unit tests: a host machine with a booted
// Kernel, the reference page walker (tb/common/reference_walker.h, written
// from docs/walker.md, not from the firmware) over its memory, and a
// user-access model that takes page faults the way a core would.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sw/hal/host/host_hal.h"
#include "sw/hal/uapi.h"
#include "sw/kernel/kernel.h"
#include "sw/mm/mman.h"
#include "tb/common/reference_walker.h"

namespace fwtest {

constexpr uint64_t KiB = 1ull << 10;
constexpr uint64_t MiB = 1ull << 20;
constexpr uint64_t GiB = 1ull << 30;
using fw::PAGE_SIZE;

// Collects text from the firmware.
struct StringSink final : fw::TextSink {
  std::string s;
  void write(const char* t, size_t n) override { s.append(t, n); }
};

struct StatMap final : fw::StatVisitor {
  std::vector<std::pair<std::string, uint64_t>> list;
  std::map<std::string, uint64_t> map;
  void scalar(const char* name, uint64_t v, const char* desc, const char* unit) override {
    EXPECT_NE(desc, nullptr);
    EXPECT_NE(unit, nullptr);
    list.emplace_back(name, v);
    map[name] = v;
  }
  uint64_t at(const std::string& n) const {
    auto it = map.find(n);
    EXPECT_NE(it, map.end()) << "no statistic " << n;
    return it == map.end() ? ~0ull : it->second;
  }
};

// ---- The reference walker ---------------------------------------------
// tb/common/reference_walker.h over the host machine's memory: a full walk
// from CR3, Accessed/Dirty set as the hardware sets them unless `set_ad` is
// off. A read outside memory is a test failure (the tables lead nowhere).
struct Walk {
  enum Status { ok, page_fault } status = ok;
  uint64_t pa = 0;
  uint64_t page_size = 0;
  unsigned leaf_level = 0;
  uint32_t error_code = 0;
  uint64_t leaf = 0;  // the leaf entry after the walk
  bool rw = false, us = false, nx = false;
};

struct WalkCtl {
  uint64_t cr3 = 0;
  unsigned levels = 4;
  unsigned maxphyaddr = 46;
  bool wp = true, nxe = true;
  bool set_ad = true;  // update A/D as the hardware does
};

// The host machine's memory as the reference walker reads and writes it.
class HostTables final : public reference::Memory {
 public:
  explicit HostTables(hosthal::HostMachine& m) : m_(m) {}
  reference::ReadStatus read(uint64_t pa, uint64_t& value, bool) override {
    const uint8_t* p = m_.raw(pa, 8);
    if (!p) return reference::ReadStatus::error;
    std::memcpy(&value, p, 8);
    return reference::ReadStatus::ok;
  }
  void write(uint64_t pa, uint64_t value) override { std::memcpy(m_.raw(pa, 8), &value, 8); }

 private:
  hosthal::HostMachine& m_;
};

inline Walk ref_walk(hosthal::HostMachine& m, const WalkCtl& c, uint64_t va, x86::Access acc, bool user) {
  reference::Request rq;
  rq.va = va;
  rq.access = acc;
  rq.user = user;
  rq.cr3 = c.cr3;
  rq.wp = c.wp;
  rq.nxe = c.nxe;
  rq.levels = rq.start_level = c.levels;
  rq.maxphyaddr = c.maxphyaddr;
  reference::Options opt;
  if (!c.set_ad) opt.accessed_dirty = reference::Options::AccessedDirty::none;
  HostTables mem(m);
  const reference::Result r = reference::walk(rq, mem, opt);
  Walk w;
  if (r.status == reference::Status::machine_check) {
    ADD_FAILURE() << "walker read outside memory at " << std::hex << r.mc_addr;
    w.status = Walk::page_fault;
    return w;
  }
  if (r.status == reference::Status::page_fault) {
    w.status = Walk::page_fault;
    w.error_code = r.error_code;
    return w;
  }
  w.leaf_level = r.leaf_level;
  w.page_size = r.page_size;
  w.pa = r.pa;
  std::memcpy(&w.leaf, m.raw(r.pte_addr[r.leaf_level], 8), 8);
  w.rw = r.rw;
  w.us = r.us;
  w.nx = r.nx;
  return w;
}

// ---- A booted machine -----------------------------------------------------
inline fw::Params quiet_params() {
  fw::Params p;
  p.loglevel = 7;  // INFO reaches the captured console (segfault lines)
  return p;
}

class Rig {
 public:
  explicit Rig(const hosthal::MachineSpec& spec, const fw::Params& p = quiet_params())
      : m(std::make_unique<hosthal::HostMachine>(spec)), k(std::make_unique<fw::Kernel>(p)) {
    init();
  }
  explicit Rig(const hal::BootInfo& bi, const fw::Params& p = quiet_params())
      : m(std::make_unique<hosthal::HostMachine>(bi)), k(std::make_unique<fw::Kernel>(p)) {
    init();
  }

  hosthal::HostHal& cpu(unsigned i = 0) { return m->cpu(i); }

  int64_t sys(unsigned c, hal::Sys nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
              uint64_t a4 = 0, uint64_t a5 = 0) {
    return k->syscall(cpu(c), hal::make_syscall(nr, a0, a1, a2, a3, a4, a5));
  }
  int64_t mmap(unsigned c, uint64_t addr, uint64_t len, uint64_t prot = fw::PROT_READ | fw::PROT_WRITE,
               uint64_t flags = fw::MAP_PRIVATE | fw::MAP_ANONYMOUS) {
    return sys(c, hal::Sys::mmap, addr, len, prot, flags, static_cast<uint64_t>(-1), 0);
  }
  int64_t munmap(unsigned c, uint64_t addr, uint64_t len) { return sys(c, hal::Sys::munmap, addr, len); }
  int64_t mprotect(unsigned c, uint64_t addr, uint64_t len, uint64_t prot) {
    return sys(c, hal::Sys::mprotect, addr, len, prot);
  }
  int64_t madvise(unsigned c, uint64_t addr, uint64_t len, uint64_t advice) {
    return sys(c, hal::Sys::madvise, addr, len, advice);
  }
  // fork(cpu) of CPU c's current task (the child's user context: `user`).
  int64_t fork(unsigned c, uint64_t child_cpu = uapi::kForkSameCpu, void* user = nullptr) {
    hal::SyscallArgs a = hal::make_syscall(hal::Sys::fork, child_cpu);
    a.child_user = user;
    return k->syscall(cpu(c), a);
  }
  // A thread of CPU c's current task on CPU child_cpu.
  int64_t clone_thread(unsigned c, uint64_t child_cpu, void* user = nullptr) {
    hal::SyscallArgs a = hal::make_syscall(hal::Sys::clone, uapi::kCloneThreadFlags, child_cpu);
    a.child_user = user;
    return k->syscall(cpu(c), a);
  }

  // Spawns a process on CPU c and makes it current there.
  int start_process(unsigned c = 0, const char* name = "proc") {
    const int pid = k->spawn(cpu(c), name, c, nullptr);
    EXPECT_GT(pid, 0);
    const hal::RunTask rt = k->schedule(cpu(c));
    EXPECT_EQ(rt.pid, pid);
    return pid;
  }

  WalkCtl ctl(unsigned c = 0) {
    WalkCtl w;
    w.cr3 = cpu(c).read_cr3();
    // What the CPU walks is what the firmware set in CR4.LA57.
    w.levels = cpu(c).paging_control().la57 ? 5 : 4;
    w.maxphyaddr = m->boot_info().maxphyaddr;
    w.wp = cpu(c).paging_control().wp;
    w.nxe = cpu(c).paging_control().nxe;
    return w;
  }
  Walk walk(unsigned c, uint64_t va, x86::Access a = x86::Access::read, bool user = true) {
    return ref_walk(*m, ctl(c), va, a, user);
  }

  // A user access as a core makes it: walk (or, with the machine's TLB
  // model, use the CPU's TLB first); on a fault enter the firmware and
  // retry. Returns the physical address, or ~0 when the task was killed.
  uint64_t access(unsigned c, uint64_t va, x86::Access a = x86::Access::write) {
    for (int i = 0; i < 4; ++i) {
      if (m->tlb_model()) {
        if (const hosthal::TlbEntry* e = cpu(c).tlb_lookup(va)) {
          const bool ok = e->us && (a != x86::Access::write || e->rw) && (a != x86::Access::fetch || !e->nx);
          if (ok) return e->pa + (va - e->va);
          // A protection fault from the TLB: the entry goes, the firmware decides.
          cpu(c).tlb_drop(va);
          const uint32_t ec = x86::PF_P | x86::PF_U | (a == x86::Access::write ? x86::PF_W : 0) |
                              (a == x86::Access::fetch ? x86::PF_I : 0);
          if (k->page_fault(cpu(c), va, ec) == hal::TrapOutcome::task_killed) return ~0ull;
          continue;
        }
      }
      const Walk w = walk(c, va, a, true);
      if (w.status == Walk::ok) {
        if (m->tlb_model()) {
          hosthal::TlbEntry e{};
          e.va = va & ~(w.page_size - 1);
          e.size = w.page_size;
          e.pa = w.pa & ~(w.page_size - 1);
          e.pcid = cpu(c).current_pcid();
          e.global = (w.leaf & x86::PTE_G) != 0;
          e.rw = w.rw;
          e.us = w.us;
          e.nx = w.nx;
          cpu(c).tlb_fill(e);
        }
        return w.pa;
      }
      if (k->page_fault(cpu(c), va, w.error_code) == hal::TrapOutcome::task_killed) return ~0ull;
    }
    ADD_FAILURE() << "fault at " << std::hex << va << " not resolved";
    return ~0ull;
  }
  uint64_t read64(uint64_t pa) {
    uint64_t v;
    std::memcpy(&v, m->raw(pa, 8), 8);
    return v;
  }
  void write64(uint64_t pa, uint64_t v) { std::memcpy(m->raw(pa, 8), &v, 8); }

  StatMap stats() {
    StatMap s;
    k->visit_stats(s);
    return s;
  }
  std::string proc(const char* name) {
    StringSink s;
    EXPECT_TRUE(k->proc_show(name, s)) << name;
    return s.s;
  }
  const std::string& console() const { return m->console(); }

  std::unique_ptr<hosthal::HostMachine> m;
  std::unique_ptr<fw::Kernel> k;

 private:
  void init() {
    m->attach(k.get());
    ASSERT_TRUE(k->boot(m->cpu(0), m->boot_info())) << m->console();
    for (unsigned c = 1; c < m->nr_cpus(); ++c) k->start_secondary(m->cpu(c));
  }
};

// Order-0 pages taken straight off a zone's free lists, with their pfns:
// to put its free count exactly where a test wants it.
using HeldPages = std::vector<std::pair<fw::page*, uint64_t>>;

// Takes order-0 pages of migrate type `mt` off z's free lists (under its
// lock; no watermark, no per-CPU lists) until z has `free` free pages;
// false when the lists run out first.
inline bool take_free_pages_until(Rig& r, fw::zone* z, uint64_t free, HeldPages& held, int mt = fw::MIGRATE_MOVABLE) {
  fw::LockGuard g(z->lock, r.cpu());
  while (z->free_pages() > free) {
    fw::page* p = r.k->buddy().rmqueue_smallest(z, 0, mt);
    if (!p) return false;
    held.emplace_back(p, r.k->nodes().page_to_pfn(p));
  }
  return true;
}

// Gives pages taken so back to z's buddy lists.
inline void give_back(Rig& r, fw::zone* z, const HeldPages& held) {
  fw::LockGuard g(z->lock, r.cpu());
  for (auto& [p, pfn] : held) r.k->buddy().free_one_page(z, p, pfn, 0, z->get_pfnblock_migratetype(pfn));
}

// A machine from an explicit memory map: e820 entries, node ranges, CPUs
// (spread over the nodes in blocks). The firmware image goes where the
// first reserved entry named "image" is (or nowhere).
struct E820 {
  uint64_t start, size;
  hal::E820Type type = hal::E820Type::usable;
};
inline hal::BootInfo custom_boot(const std::vector<E820>& map, const std::vector<std::pair<uint64_t, uint64_t>>& nodes,
                                 unsigned cpus = 1) {
  hal::BootInfo bi{};
  for (const E820& e : map) bi.e820[bi.nr_e820++] = hal::E820Entry{e.start, e.size, e.type};
  bi.nr_nodes = static_cast<unsigned>(nodes.size());
  for (unsigned n = 0; n < bi.nr_nodes; ++n) {
    bi.node_start[n] = nodes[n].first;
    bi.node_end[n] = nodes[n].second;
    for (unsigned m = 0; m < bi.nr_nodes; ++m) bi.node_distance[n][m] = n == m ? 10 : 20;
  }
  bi.nr_cpus = cpus;
  for (unsigned c = 0; c < cpus; ++c) bi.cpu_node[c] = static_cast<uint8_t>(c * bi.nr_nodes / cpus);
  bi.maxphyaddr = 46;
  bi.paging_levels = 4;
  bi.va_bits = 48;
  bi.pcid = bi.nx = bi.gbpages = true;
  bi.seed = 1;
  return bi;
}

inline hosthal::MachineSpec spec_mb(uint64_t mib, unsigned cpus = 1, unsigned nodes = 1) {
  hosthal::MachineSpec s;
  s.mem_bytes = mib * MiB;
  s.cpus = cpus;
  s.nodes = nodes;
  return s;
}

}  // namespace fwtest
