// The Kernel as the platform uses it: parameters, boot, nodes and zones,
// statistics and /proc text, scheduling with PCIDs, process exit returning
// every page, several Kernels in one process.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "sw/hal/uapi.h"
#include "sw/lib/errno.h"
#include "tb/common/proc_keys.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

TEST(fw_kernel, params_table_describes_params) {
  const fw::Params def;
  std::set<std::string> keys;
  for (const fw::ParamDesc& d : fw::kParamTable) {
    EXPECT_TRUE(keys.insert(d.key).second) << "duplicate key " << d.key;
    EXPECT_EQ(fw::param_get(def, d), d.def) << d.key << ": table default differs from Params{}";
    // A size-or-word parameter's default may be one of its words (swiotlb:
    // auto), which the size range does not bound.
    if (d.type == fw::ParamType::size_or_choice && fw::param_choice_name(d, d.def)) {
      EXPECT_LT(d.def, d.min) << d.key << ": a word's index lies below every size";
    } else {
      EXPECT_LE(d.min, d.def) << d.key;
      EXPECT_GE(d.max, d.def) << d.key;
    }
    EXPECT_GT(std::strlen(d.desc), 10u) << d.key;
    EXPECT_GT(std::strlen(d.unit), 0u) << d.key;
    EXPECT_EQ(fw::param_find(d.key), &d);
  }
  EXPECT_EQ(keys.size(), fw::kParamCount);
  EXPECT_EQ(fw::param_find("no_such_key"), nullptr);
  fw::Params p;
  const fw::ParamDesc* ts = fw::param_find("timeslice_us");
  ASSERT_NE(ts, nullptr);
  EXPECT_TRUE(fw::param_set(p, *ts, 1000));
  EXPECT_EQ(p.timeslice_us, 1000u);
  EXPECT_FALSE(fw::param_set(p, *ts, 0));  // below the range: refused, unchanged
  EXPECT_EQ(p.timeslice_us, 1000u);
  const fw::ParamDesc* pc = fw::param_find("pcid");
  EXPECT_TRUE(fw::param_set(p, *pc, 0));
  EXPECT_FALSE(p.pcid);
  EXPECT_FALSE(fw::param_set(p, *pc, 2));
  const fw::ParamDesc* ll = fw::param_find("loglevel");
  EXPECT_TRUE(fw::param_set(p, *ll, 3));
  EXPECT_EQ(p.loglevel, 3u);
  EXPECT_EQ(fw::param_get(p, *ll), 3u);
}

TEST(fw_kernel, boot_refuses_unusable_maps_with_a_message) {
  hal::BootInfo bi = hosthal::make_boot_info(spec_mb(64));
  for (unsigned i = 0; i < bi.nr_e820; ++i) bi.e820[i].type = hal::E820Type::reserved;
  {
    hosthal::HostMachine m(bi);
    fw::Kernel k;
    EXPECT_FALSE(k.boot(m.cpu(0), bi));
    EXPECT_NE(m.console().find("no usable RAM"), std::string::npos) << m.console();
    EXPECT_FALSE(k.booted());
    EXPECT_LT(k.spawn(m.cpu(0), "x", 0, nullptr), 0);
  }
  bi = hosthal::make_boot_info(spec_mb(64));
  bi.paging_levels = 3;
  {
    hosthal::HostMachine m(bi);
    fw::Kernel k;
    EXPECT_FALSE(k.boot(m.cpu(0), bi));
    EXPECT_NE(m.console().find("paging levels"), std::string::npos);
  }
  Rig r(spec_mb(64));
  EXPECT_FALSE(r.k->boot(r.cpu(), r.m->boot_info()));  // twice
  EXPECT_FALSE(r.k->set_params(fw::Params{}));           // params after boot
}

TEST(fw_kernel, boot_sets_up_the_mmu) {
  Rig r(spec_mb(64, 2));
  for (unsigned c = 0; c < 2; ++c) {
    EXPECT_TRUE(r.cpu(c).paging_control().wp);
    EXPECT_TRUE(r.cpu(c).paging_control().nxe);
    EXPECT_TRUE(r.cpu(c).paging_control().pcide);
    EXPECT_FALSE(r.cpu(c).paging_control().la57);
    EXPECT_EQ(r.cpu(c).read_cr3(), r.k->kernel_root());
  }
  // With 5-level paging every CPU runs with CR4.LA57 set.
  hosthal::MachineSpec l5 = spec_mb(64, 2);
  l5.paging_levels = 5;
  Rig f(l5);
  for (unsigned c = 0; c < 2; ++c) EXPECT_TRUE(f.cpu(c).paging_control().la57);
  fw::Params p = quiet_params();
  p.pcid = false;
  Rig n(spec_mb(64), p);
  EXPECT_FALSE(n.cpu().paging_control().pcide);
  hosthal::MachineSpec s = spec_mb(64);
  s.nx = false;
  Rig q(s);
  EXPECT_FALSE(q.cpu().paging_control().nxe);
  // Without NXE no entry may carry XD (it would be a reserved bit).
  const Walk w = q.walk(0, fw::PAGE_OFFSET_L4 + 0x300000, x86::Access::read, false);
  EXPECT_EQ(w.status, Walk::ok);
  EXPECT_FALSE(w.leaf & x86::PTE_NX);
}

TEST(fw_kernel, nodes_and_zones_follow_the_memory_map) {
  Rig r(spec_mb(8 * 1024, 4, 2));
  const fw::MmNodes& nodes = r.k->nodes();
  const hal::BootInfo& bi = r.m->boot_info();
  ASSERT_EQ(nodes.nr_nodes(), 2u);
  // Count usable pages per node and zone straight from e820.
  uint64_t want[2][fw::MAX_NR_ZONES] = {};
  for (unsigned i = 0; i < bi.nr_e820; ++i) {
    const hal::E820Entry& e = bi.e820[i];
    if (e.type != hal::E820Type::usable) continue;
    for (uint64_t pfn = (e.addr + PAGE_SIZE - 1) / PAGE_SIZE; pfn < (e.addr + e.size) / PAGE_SIZE; ++pfn) {
      if (pfn == 0) continue;  // never RAM (Linux's trim_bios_range)
      const unsigned node = pfn * PAGE_SIZE < bi.node_end[0] ? 0 : 1;
      const unsigned z = pfn < fw::MAX_DMA_PFN ? fw::ZONE_DMA : pfn < fw::MAX_DMA32_PFN ? fw::ZONE_DMA32 : fw::ZONE_NORMAL;
      ++want[node][z];
    }
  }
  uint64_t managed = 0;
  for (unsigned n = 0; n < 2; ++n)
    for (unsigned z = 0; z < fw::MAX_NR_ZONES; ++z) {
      const fw::zone& zn = nodes.node(n).node_zones[z];
      EXPECT_EQ(zn.present_pages, want[n][z]) << "node " << n << " zone " << zn.name;
      EXPECT_LE(zn.managed_pages, zn.present_pages);
      managed += zn.managed_pages;
      if (zn.spanned_pages) {
        const uint64_t lo = z == fw::ZONE_DMA ? 0 : z == fw::ZONE_DMA32 ? fw::MAX_DMA_PFN : fw::MAX_DMA32_PFN;
        const uint64_t hi = z == fw::ZONE_DMA ? fw::MAX_DMA_PFN : z == fw::ZONE_DMA32 ? fw::MAX_DMA32_PFN : ~0ull;
        EXPECT_GE(zn.zone_start_pfn, lo);
        EXPECT_LE(zn.zone_end_pfn(), hi);
      }
    }
  EXPECT_EQ(managed, nodes.total_managed_pages());
  // Node 1 lies above 4 GiB: Normal only. Node 0 has all three.
  EXPECT_EQ(nodes.node(1).node_zones[fw::ZONE_DMA].spanned_pages, 0u);
  EXPECT_GT(nodes.node(1).node_zones[fw::ZONE_NORMAL].present_pages, 0u);
  EXPECT_GT(nodes.node(0).node_zones[fw::ZONE_DMA].present_pages, 3000u);
  // Zonelists: local node first, its zones high to low, then the other node.
  fw::zone* const* zl = nodes.node(1).zonelist;
  EXPECT_EQ(zl[0], &nodes.node(1).node_zones[fw::ZONE_NORMAL]);
  EXPECT_EQ(zl[1]->node, 0);
  EXPECT_EQ(zl[1]->idx, static_cast<unsigned>(fw::ZONE_NORMAL));
  EXPECT_EQ(zl[3], &nodes.node(0).node_zones[fw::ZONE_DMA]);
  EXPECT_EQ(zl[4], nullptr);
  // Each node's memmap is in its own memory.
  for (unsigned n = 0; n < 2; ++n) {
    const uint64_t pa = nodes.node(n).node_mem_map_pa;
    EXPECT_GE(pa, bi.node_start[n]);
    EXPECT_LT(pa, bi.node_end[n]);
  }
  // CPUs allocate from their own node.
  fw::page* p = r.k->page_alloc().alloc_pages(r.cpu(3), fw::GFP_KERNEL, 0);
  EXPECT_EQ(fw::page_to_nid(p), 1);
  r.k->page_alloc().free_pages(r.cpu(3), p, 0);
}

TEST(fw_kernel, proc_text_is_in_linux_format) {
  Rig r(spec_mb(256));
  const std::string bi = r.proc("buddyinfo");
  std::regex line(R"(Node 0, zone +(DMA|DMA32|Normal)( +\d+){11} \n)");
  std::smatch m;
  std::string rest = bi;
  int lines = 0;
  while (std::regex_search(rest, m, line)) {
    EXPECT_EQ(m.position(0), 0);
    rest = m.suffix();
    ++lines;
  }
  EXPECT_EQ(lines, 2) << bi;  // DMA and DMA32 on a 256 MiB machine
  EXPECT_TRUE(rest.empty()) << rest;
  EXPECT_EQ(bi.substr(0, 22), "Node 0, zone      DMA ");

  const std::string mi = r.proc("meminfo");
  char want[64];
  std::snprintf(want, sizeof want, "MemTotal:       %8lu kB\n",
                static_cast<unsigned long>(r.k->nodes().total_managed_pages() * 4));
  EXPECT_EQ(mi.substr(0, std::strlen(want)), want);
  // MemFree counts the buddy lists (NR_FREE_PAGES), not the per-CPU lists.
  std::snprintf(want, sizeof want, "MemFree:        %8lu kB\n",
                static_cast<unsigned long>(r.k->nodes().total_free_pages() * 4));
  EXPECT_NE(mi.find(want), std::string::npos) << mi;
  EXPECT_NE(mi.find("DirectMap2M:"), std::string::npos);
  std::regex kb(R"([A-Za-z_0-9()]+: +\d+ kB|HugePages_[A-Za-z]+: +\d+)");
  EXPECT_NE(mi.find("HardwareCorrupted:     0 kB\n"), std::string::npos) << mi;  // Linux's own width
  std::istringstream is(mi);
  for (std::string l; std::getline(is, l);) EXPECT_TRUE(std::regex_match(l, kb)) << l;

  const std::string vm = r.proc("vmstat");
  EXPECT_EQ(vm.rfind("nr_free_pages ", 0), 0u);
  EXPECT_NE(vm.find("\npgfault 0\n"), std::string::npos);
  EXPECT_NE(r.proc("zoneinfo").find("Node 0, zone    DMA32\n  pages free"), std::string::npos);
  StringSink s;
  EXPECT_FALSE(r.k->proc_show("nonsense", s));
  EXPECT_FALSE(r.k->proc_show("99/maps", s));
  StringSink d;
  r.k->dmesg(d);
  EXPECT_NE(d.s.find("BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable"), std::string::npos) << d.s;
  EXPECT_NE(d.s.find("Memory: "), std::string::npos);
}

TEST(fw_kernel, proc_files_print_linux_6_18_keys_in_its_order) {
  // Several machines: one node, two nodes with ZONE_MOVABLE and CMA, a CPU
  // without 1 GiB pages. Every key 6.18 prints (tb/ref/linux-6.18-proc),
  // none it does not, in its order.
  namespace pk = tb::proc_keys;
  const std::string ref = std::string(MMCOSIM_SOURCE_DIR) + "/tb/ref/linux-6.18-proc/keys/";
  fw::Params numa = quiet_params();
  numa.movablecore = 512 * MiB;
  numa.cma = 32 * MiB;
  hosthal::MachineSpec no_gb = spec_mb(512);
  no_gb.gbpages = false;
  const std::pair<hal::BootInfo, fw::Params> machines[] = {
      {hosthal::make_boot_info(spec_mb(256)), quiet_params()},
      {hosthal::make_boot_info(spec_mb(4096, 4, 2)), numa},
      {hosthal::make_boot_info(no_gb), quiet_params()},
  };
  for (const auto& [bi, p] : machines) {
    Rig r(bi, p);
    for (pk::File f : {pk::File::vmstat, pk::File::zoneinfo, pk::File::meminfo}) {
      const pk::Verdict v = pk::check(f, r.proc(pk::file_name(f)), pk::read_keys(ref + pk::file_name(f) + ".keys"));
      EXPECT_EQ(v.error, "") << pk::file_name(f);
      // All of them, but DirectMap1G without 1 GiB pages.
      EXPECT_GE(v.coverage, f == pk::File::meminfo && !bi.gbpages ? 0.98 : 1.0) << pk::file_name(f);
    }
    // x86 prints DirectMap1G only when the CPU has 1 GiB pages.
    EXPECT_EQ(r.proc("meminfo").find("DirectMap1G:") != std::string::npos, bi.gbpages);
  }
}

TEST(fw_kernel, the_direct_map_is_built_as_linux_builds_it) {
  // x86 init_mem_mapping on a machine with RAM at 0-640 KiB, 1 MiB-3 GiB
  // (less the image at 16-18 MiB) and 4-9 GiB: the ISA range with 4 KiB
  // pages, holes included (1024 kB); then top down: the top 2 MiB of RAM,
  // [8.5 GiB, 9 GiB - 2 MiB) (512 MiB step), and everything below in one
  // step (128 GiB). 4 KiB: the ISA range and 1-2 MiB; 2 MiB: 2-16 MiB,
  // 18 MiB-1 GiB and 8-9 GiB (the top GiB, cut by the first steps); 1 GiB:
  // 1-3 GiB and 4-8 GiB.
  Rig r(spec_mb(8 * 1024));
  const fw::PgTableStats& ps = r.k->pgtable().stats();
  EXPECT_EQ(ps.direct_map_bytes[1], 2 * MiB);
  EXPECT_EQ(ps.direct_map_bytes[2], (14 + (1024 - 18) + 1024) * MiB);
  EXPECT_EQ(ps.direct_map_bytes[3], 6 * GiB);
  const std::string mi = r.proc("meminfo");
  EXPECT_NE(mi.find("DirectMap4k:        2048 kB\nDirectMap2M:     2093056 kB\nDirectMap1G:     6291456 kB\n"),
            std::string::npos)
      << mi;
  // Every byte of RAM is reachable through it.
  const fw::MemblockType& mem = r.k->memblock().memory();
  for (unsigned i = 0; i < mem.cnt; ++i)
    for (uint64_t pa : {mem.regions[i].base, mem.regions[i].end() - PAGE_SIZE}) {
      fw::PteLookup l;
      EXPECT_TRUE(r.k->pgtable().lookup(r.cpu(), r.k->kernel_root(), r.k->pgtable().page_offset() + pa, &l)) << pa;
    }
}

// Runs a fixed workload; returns its statistics as text.
std::string scripted_run() {
  Rig r(spec_mb(128, 2));
  for (unsigned c = 0; c < 2; ++c) {
    r.start_process(c);
    const uint64_t a = static_cast<uint64_t>(r.mmap(c, 0, 4 * MiB));
    for (uint64_t off = 0; off < 4 * MiB; off += 3 * PAGE_SIZE) r.access(c, a + off);
    r.munmap(c, a + MiB, MiB);
  }
  r.sys(1, hal::Sys::exit, 0);
  std::string out;
  for (auto& [n, v] : r.stats().list) out += n + " " + std::to_string(v) + "\n";
  return out;
}

TEST(fw_kernel, statistics_are_complete_unique_and_deterministic) {
  const std::string a = scripted_run(), b = scripted_run();
  EXPECT_EQ(a, b);
  Rig r(spec_mb(64));
  const StatMap s = r.stats();
  EXPECT_EQ(s.list.size(), s.map.size()) << "duplicate statistic names";
  for (const char* n : {"vmstat.pgfault", "buddy.free_pages", "buddy.boot_free_pages", "buddy.min_free_pages",
                        "buddy.order0.free_blocks", "buddy.order10.free_blocks", "pgtable.pages", "task.spawned",
                        "task.exited", "task.sigsegv", "syscall.mmap", "tlb.cr3_writes", "zone.node0.DMA.managed_pages",
                        "time.charged_ns"})
    EXPECT_TRUE(s.map.count(n)) << n;
  for (auto& [n, v] : s.list) EXPECT_TRUE(std::regex_match(n, std::regex(R"([a-z0-9_]+(\.[A-Za-z0-9_]+)+)"))) << n;
  EXPECT_EQ(s.at("buddy.free_pages"), r.k->nr_free_pages());
  uint64_t blocks = 0;
  for (unsigned o = 0; o <= 10; ++o) blocks += s.at("buddy.order" + std::to_string(o) + ".free_blocks") << o;
  EXPECT_EQ(blocks + s.at("buddy.pcp_pages"), r.k->nr_free_pages());
}

TEST(fw_kernel, round_robin_preemption_and_pcid_switches) {
  fw::Params p = quiet_params();
  p.timeslice_us = 1000;
  Rig r(spec_mb(64), p);
  hosthal::HostHal& h = r.cpu();
  const int a = r.k->spawn(h, "a", 0, reinterpret_cast<void*>(0xa));
  const int b = r.k->spawn(h, "b", 0, reinterpret_cast<void*>(0xb));
  r.m->clear_tlb_ops();
  hal::RunTask t = r.k->schedule(h);
  EXPECT_EQ(t.pid, a);
  EXPECT_EQ(t.user, reinterpret_cast<void*>(0xa));
  const uint16_t pa = r.k->mm_of(a)->pcid, pb = r.k->mm_of(b)->pcid;
  EXPECT_NE(pa, pb);
  // First load of a PCID on this CPU: flushes (no NOFLUSH).
  ASSERT_EQ(r.m->tlb_ops().size(), 1u);
  EXPECT_EQ(r.m->tlb_ops()[0].value, r.k->mm_of(a)->pgd | pa);
  // Within the slice nothing changes.
  h.advance_ns(500000);
  r.k->timer_tick(h);
  EXPECT_EQ(r.k->schedule(h).pid, a);
  // Slice over: b runs.
  h.advance_ns(600000);
  r.k->timer_tick(h);
  EXPECT_EQ(r.k->schedule(h).pid, b);
  EXPECT_EQ(r.m->tlb_ops().back().value, r.k->mm_of(b)->pgd | pb);
  // And back to a: its PCID's entries are still good, NOFLUSH.
  h.advance_ns(1000000);
  r.k->timer_tick(h);
  EXPECT_EQ(r.k->schedule(h).pid, a);
  EXPECT_EQ(r.m->tlb_ops().back().value, r.k->mm_of(a)->pgd | pa | x86::CR3_NOFLUSH);
  // a's translations change while b runs: a's next load must flush.
  h.advance_ns(1000000);
  r.k->timer_tick(h);
  EXPECT_EQ(r.k->schedule(h).pid, b);
  EXPECT_EQ(r.m->tlb_ops().back().value, r.k->mm_of(b)->pgd | pb | x86::CR3_NOFLUSH);
  r.k->tlb().flush_range(h, r.k->mm_of(a), 0x10000, 0x11000, false);
  h.advance_ns(1000000);
  r.k->timer_tick(h);
  EXPECT_EQ(r.k->schedule(h).pid, a);
  EXPECT_EQ(r.m->tlb_ops().back().value, r.k->mm_of(a)->pgd | pa);
  const StatMap s = r.stats();
  EXPECT_EQ(s.at("sched.preemptions"), 4u);
  EXPECT_EQ(s.at("tlb.cr3_noflush"), 2u);
  // A lone task is never preempted.
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->schedule(h).pid, b);
  h.advance_ns(5000000);
  r.k->timer_tick(h);
  EXPECT_EQ(r.k->schedule(h).pid, b);
  EXPECT_EQ(r.stats().at("sched.preemptions"), 4u);
}

TEST(fw_kernel, without_pcid_every_switch_flushes) {
  fw::Params p = quiet_params();
  p.pcid = false;
  p.timeslice_us = 1;
  Rig r(spec_mb(64), p);
  hosthal::HostHal& h = r.cpu();
  r.k->spawn(h, "a", 0, nullptr);
  r.k->spawn(h, "b", 0, nullptr);
  for (int i = 0; i < 6; ++i) {
    r.k->schedule(h);
    h.advance_ns(2000);
    r.k->timer_tick(h);
  }
  for (const auto& op : r.m->tlb_ops()) {
    if (op.kind != hosthal::TlbOp::Kind::write_cr3) continue;
    {
      EXPECT_EQ(op.value & x86::CR3_NOFLUSH, 0u);
      EXPECT_EQ(op.value & x86::CR3_PCID_MASK, 0u);
    }
  }
  EXPECT_EQ(r.stats().at("tlb.cr3_noflush"), 0u);
}

TEST(fw_kernel, spawn_on_another_cpu_wakes_it) {
  Rig r(spec_mb(64, 2));
  EXPECT_EQ(r.k->spawn(r.cpu(0), "x", 7, nullptr), -EINVAL);  // no CPU 7
  const int pid = r.k->spawn(r.cpu(0), "remote", 1, nullptr);
  EXPECT_EQ(r.cpu(1).pending_interrupts(), 1u);
  r.cpu(1).deliver_interrupts();
  EXPECT_EQ(r.k->irq_stats().resched, 1u);
  EXPECT_EQ(r.k->schedule(r.cpu(0)).pid, -1);  // CPU 0 has nothing
  EXPECT_EQ(r.k->schedule(r.cpu(1)).pid, pid);
  EXPECT_EQ(r.sys(1, hal::Sys::getpid), pid);
  EXPECT_EQ(r.sys(0, hal::Sys::getpid), -ESRCH);  // nothing runs on CPU 0
  EXPECT_EQ(r.sys(1, hal::Sys::brk), -ENOSYS);
  EXPECT_EQ(r.stats().at("syscall.enosys"), 1u);
}

TEST(fw_kernel, sigaction_catches_sigbus_only_and_prctl_sets_the_mce_kill_policy) {
  Rig r(spec_mb(64));
  ASSERT_GT(r.k->spawn(r.cpu(0), "app", 0, nullptr), 0);
  ASSERT_GT(r.k->schedule(r.cpu(0)).pid, 0);
  EXPECT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 1), 0);
  EXPECT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigbus, 0), 0) << "back to SIG_DFL";
  EXPECT_EQ(r.sys(0, hal::Sys::rt_sigaction, uapi::kSigsegv, 1), -ENOSYS);
  EXPECT_EQ(r.sys(0, hal::Sys::rt_sigaction, 0, 1), -EINVAL);
  // PR_MCE_KILL: the system default until set; early, late, then cleared.
  EXPECT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKillGet), static_cast<int64_t>(uapi::kPrMceKillDefault));
  EXPECT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKill, uapi::kPrMceKillSet, uapi::kPrMceKillEarly), 0);
  EXPECT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKillGet), static_cast<int64_t>(uapi::kPrMceKillEarly));
  EXPECT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKill, uapi::kPrMceKillSet, uapi::kPrMceKillLate), 0);
  EXPECT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKillGet), static_cast<int64_t>(uapi::kPrMceKillLate));
  EXPECT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKill, uapi::kPrMceKillClear), 0);
  EXPECT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKillGet), static_cast<int64_t>(uapi::kPrMceKillDefault));
  EXPECT_EQ(r.sys(0, hal::Sys::prctl, uapi::kPrMceKill, uapi::kPrMceKillSet, 7), -EINVAL);
  EXPECT_EQ(r.sys(0, hal::Sys::prctl, 99), -EINVAL);
}

TEST(fw_kernel, sysctl_pagemap_faults_the_page_in_and_einj_poisons_its_line) {
  Rig r(spec_mb(64));
  r.start_process();
  const int64_t va = r.mmap(0, 0, 2 * 4096);
  ASSERT_GT(va, 0);
  const uint64_t base = static_cast<uint64_t>(va);
  EXPECT_EQ(r.walk(0, base, x86::Access::read).status, Walk::page_fault) << "nothing touched yet";
  const int64_t pfn = r.sys(0, hal::Sys::sysctl, uapi::kSysctlPagemap, base + 0x123);
  ASSERT_GT(pfn, 0);
  // Faulted in for writing (the process's own page, not a shared zero page).
  const Walk w = r.walk(0, base, x86::Access::write);
  ASSERT_EQ(w.status, Walk::ok);
  EXPECT_EQ(w.pa >> 12, static_cast<uint64_t>(pfn));
  EXPECT_TRUE(w.rw);
  EXPECT_EQ(r.sys(0, hal::Sys::sysctl, uapi::kSysctlPagemap, base), pfn) << "the same page again";
  const int64_t pfn2 = r.sys(0, hal::Sys::sysctl, uapi::kSysctlPagemap, base + 4096);
  ASSERT_GT(pfn2, 0);
  EXPECT_NE(pfn2, pfn);
  EXPECT_EQ(r.sys(0, hal::Sys::sysctl, uapi::kSysctlPagemap, base + 2 * 4096), -EFAULT) << "not mapped";

  // EINJ: an uncorrected error at the line of a physical address.
  const uint64_t pa = (static_cast<uint64_t>(pfn) << 12) + 0x40;
  EXPECT_EQ(r.sys(0, hal::Sys::sysctl, uapi::kSysctlEinjInject, pa, uapi::kEinjMemUncorrectable), 0);
  EXPECT_TRUE(r.m->poisoned(pa, 1));
  EXPECT_FALSE(r.m->poisoned(pa - 0x40, 0x40)) << "one 64-byte line";
  EXPECT_EQ(r.sys(0, hal::Sys::sysctl, uapi::kSysctlEinjInject, pa, 0x2), -EINVAL) << "not a memory error type";
  EXPECT_EQ(r.sys(0, hal::Sys::sysctl, uapi::kSysctlEinjInject, pa + 0x40, uapi::kEinjMemCorrectable), -EINVAL)
      << "the host HAL has no correctable errors";
  EXPECT_FALSE(r.m->poisoned(pa + 0x40, 1));
  EXPECT_EQ(r.sys(0, hal::Sys::sysctl, uapi::kSysctlEinjInject, 1ull << 45, uapi::kEinjMemUncorrectable), -EINVAL)
      << "not RAM";
}

TEST(fw_kernel, sysctl_pgtable_entry_names_the_entry_a_walk_reads_without_faulting) {
  Rig r(spec_mb(64));
  r.start_process();
  const int64_t va = r.mmap(0, 0, 2 * 4096);
  ASSERT_GT(va, 0);
  const uint64_t base = static_cast<uint64_t>(va);
  // No page table below the mapping yet: the walk stops above the PTE level.
  EXPECT_EQ(r.sys(0, hal::Sys::sysctl, uapi::kSysctlPgtableEntry, base), -EFAULT);
  r.access(0, base);  // the first page: its page table now exists
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), 1, base, &l));
  EXPECT_EQ(r.sys(0, hal::Sys::sysctl, uapi::kSysctlPgtableEntry, base + 0x123), static_cast<int64_t>(l.entry_pa));
  // The second page's entry, next to it, still empty: nothing is faulted in.
  EXPECT_EQ(r.sys(0, hal::Sys::sysctl, uapi::kSysctlPgtableEntry, base + 4096), static_cast<int64_t>(l.entry_pa + 8));
  EXPECT_EQ(r.walk(0, base + 4096, x86::Access::read).status, Walk::page_fault);
  EXPECT_EQ(r.sys(0, hal::Sys::sysctl, uapi::kSysctlPgtableEntry, base + 2 * 4096), -EFAULT) << "not mapped";
}

TEST(fw_kernel, exit_returns_every_page) {
  Rig r(spec_mb(256, 2));
  const uint64_t boot_free = r.k->nr_free_pages();
  const uint64_t boot_pt = r.k->pgtable().stats().pages;
  std::vector<int> pids;
  for (int i = 0; i < 6; ++i) pids.push_back(r.k->spawn(r.cpu(i % 2), "worker", i % 2, nullptr));
  // Run each process in turn on its CPU: map, touch, unmap some, exit.
  for (int round = 0; round < 6; ++round) {
    const unsigned c = round % 2;
    const int pid = r.k->schedule(r.cpu(c)).pid;
    ASSERT_GT(pid, 0);
    const uint64_t sizes[] = {PAGE_SIZE, 3 * MiB, 17 * PAGE_SIZE, MiB};
    std::vector<uint64_t> maps;
    for (uint64_t sz : sizes) {
      const int64_t a = r.mmap(c, 0, sz);
      ASSERT_GT(a, 0);
      maps.push_back(static_cast<uint64_t>(a));
      for (uint64_t off = 0; off < sz; off += 2 * PAGE_SIZE) ASSERT_NE(r.access(c, static_cast<uint64_t>(a) + off), ~0ull);
    }
    ASSERT_EQ(r.munmap(c, maps[1] + MiB, MiB), 0);
    // A fixed mapping far away (new upper-level tables).
    ASSERT_GT(r.mmap(c, 0x500000000000ull, PAGE_SIZE, fw::PROT_READ | fw::PROT_WRITE,
                     fw::MAP_PRIVATE | fw::MAP_ANONYMOUS | fw::MAP_FIXED),
              0);
    ASSERT_NE(r.access(c, 0x500000000000ull), ~0ull);
    EXPECT_LT(r.k->nr_free_pages(), boot_free);
    EXPECT_EQ(r.sys(c, hal::Sys::exit, 0), 0);
  }
  EXPECT_EQ(r.k->nr_tasks(), 0u);
  const StatMap s = r.stats();
  EXPECT_EQ(s.at("task.spawned"), 6u);
  EXPECT_EQ(s.at("task.exited"), 6u);
  EXPECT_EQ(s.at("buddy.free_pages"), boot_free);
  EXPECT_EQ(s.at("pgtable.pages"), boot_pt);
  EXPECT_EQ(s.at("vmstat.nr_anon_pages"), 0u);
  EXPECT_EQ(s.at("vmstat.nr_page_table_pages"), 0u);
  EXPECT_EQ(s.at("vmstat.nr_slab_unreclaimable"), 0u);
  EXPECT_EQ(s.at("slab.vm_area_struct.active_objs"), 0u);
  EXPECT_EQ(s.at("mmap.mm_destroyed"), 6u);
  EXPECT_LT(s.at("buddy.min_free_pages"), boot_free);
  // Both CPUs are back on the kernel's tables.
  for (unsigned c = 0; c < 2; ++c) EXPECT_EQ(r.cpu(c).read_cr3(), r.k->kernel_root());
}

TEST(fw_kernel, several_kernels_in_one_process) {
  Rig a(spec_mb(64)), b(spec_mb(128, 2));
  EXPECT_NE(a.k->nr_free_pages(), b.k->nr_free_pages());
  a.start_process(0, "in_a");
  b.start_process(1, "in_b");
  const uint64_t xa = static_cast<uint64_t>(a.mmap(0, 0, MiB));
  const uint64_t xb = static_cast<uint64_t>(b.mmap(1, 0, 2 * MiB));
  EXPECT_EQ(xa, 0x7ffff7fff000ull - MiB);  // both place as if alone
  EXPECT_EQ(xb, (0x7ffff7fff000ull - 2 * MiB) & ~(2 * MiB - 1));  // 2 MiB multiples: THP-aligned
  for (uint64_t off = 0; off < 2 * MiB; off += PAGE_SIZE) {
    if (off < MiB) {
      ASSERT_NE(a.access(0, xa + off), ~0ull);
    }
    ASSERT_NE(b.access(1, xb + off), ~0ull);
  }
  EXPECT_EQ(a.k->vmstat().event[fw::PGFAULT], 256u);
  EXPECT_EQ(b.k->vmstat().event[fw::PGFAULT], 512u);
  EXPECT_EQ(a.stats().at("task.spawned"), 1u);
  a.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(a.k->nr_free_pages(), a.k->boot_free_pages());
  EXPECT_EQ(b.k->nr_tasks(), 1u);
  EXPECT_LT(b.k->nr_free_pages(), b.k->boot_free_pages());
  b.sys(1, hal::Sys::exit, 0);
  EXPECT_EQ(b.k->nr_free_pages(), b.k->boot_free_pages());
}

TEST(fw_kernel, firmware_work_is_charged) {
  Rig r(spec_mb(64));
  r.start_process();
  const uint64_t t0 = r.cpu().charged_ns();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, PAGE_SIZE));
  r.access(0, a);
  const fw::Params p;
  // At least the syscall, fault entry/exit, a zeroed page, an allocation and a PTE write.
  EXPECT_GE(r.cpu().charged_ns() - t0, p.cost_syscall_ns + p.cost_fault_entry_ns + p.cost_fault_exit_ns +
                                           p.cost_page_zero_ns + p.cost_page_alloc_ns + p.cost_pte_update_ns);
  EXPECT_EQ(r.stats().at("time.charged_ns"), r.cpu().charged_ns());
}

TEST(fw_kernel, panic_halts_the_machine) {
  Rig r(spec_mb(64));
  EXPECT_DEATH(r.k->log().panic(r.cpu(), "test panic %d", 42), "halted: test panic 42");
}

}  // namespace
