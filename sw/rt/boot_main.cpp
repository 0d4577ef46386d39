// fw_freestanding_boot: the firmware on bare metal (well, on a raw Linux
// process with no libc). Boots on a 32 MiB machine, spawns a process, maps
// memory, takes page faults the way the MMU would deliver them, checks the
// page tables, unmaps, exits, and checks that every page came back.
#include <type_traits>

#include "sw/hal/firmware.h"
#include "sw/kernel/kernel.h"
#include "sw/lib/errno.h"
#include "sw/lib/format.h"
#include "sw/lib/string.h"
#include "sw/mm/mman.h"
#include "sw/rt/bare_hal.h"
#include "sw/rt/rt.h"

namespace {

// Static storage proves the constructors ran from .init_array (the Kernel
// has a non-trivial constructor); trivial destructors need no atexit.
static_assert(std::is_trivially_destructible<fw::Kernel>::value, "no static destructors in the freestanding build");
rt::BareHal g_hal;
fw::Kernel g_kernel;

[[noreturn]] void fail(const char* what, uint64_t a = 0, uint64_t b = 0) {
  char buf[200];
  fw::snprintf(buf, sizeof buf, "fw_freestanding_boot: FAIL: %s (%#lx, %#lx)\n", what, static_cast<unsigned long>(a),
               static_cast<unsigned long>(b));
  rt::puts(buf);
  rt::exit(1);
}

void check(bool ok, const char* what, uint64_t a = 0, uint64_t b = 0) {
  if (!ok) fail(what, a, b);
}

// What the MMU's walker would find for a user access (docs/walker.md, 4
// levels, no A/D updates): the physical address, or ~0 with the error code
// of the page fault it would raise.
uint64_t walk(uint64_t va, bool write, uint32_t* error_code) {
  uint64_t table = g_hal.read_cr3() & x86::phys_mask(46);
  bool rw = true, us = true;
  for (unsigned level = 4; level >= 1; --level) {
    uint64_t e;
    fw::mem_copy(&e, g_hal.mem(table + 8 * x86::pt_index(va, level)), 8);
    if (!(e & x86::PTE_P)) {
      *error_code = x86::PF_U | (write ? x86::PF_W : 0);
      return ~0ull;
    }
    rw = rw && (e & x86::PTE_RW);
    us = us && (e & x86::PTE_US);
    if (level == 1) {
      if (!us || (write && !rw)) {
        *error_code = x86::PF_P | x86::PF_U | (write ? x86::PF_W : 0);
        return ~0ull;
      }
      return (e & x86::phys_mask(46)) | (va & 0xfff);
    }
    check(!(e & x86::PTE_PS), "user mapping with a large page");
    table = e & x86::phys_mask(46);
  }
  return ~0ull;
}

// A user access as a core performs it: walk, fault, retry.
uint64_t user_access(uint64_t va, bool write) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    uint32_t ec = 0;
    const uint64_t pa = walk(va, write, &ec);
    if (pa != ~0ull) return pa;
    if (g_kernel.page_fault(g_hal, va, ec) != hal::TrapOutcome::retry) return ~0ull;
  }
  fail("fault not resolved", va);
}

int64_t sys(hal::Sys nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
            uint64_t a5 = 0) {
  return g_kernel.syscall(g_hal, hal::make_syscall(nr, a0, a1, a2, a3, a4, a5));
}

hal::BootInfo small_machine() {
  hal::BootInfo bi{};
  auto add = [&](uint64_t a, uint64_t s, hal::E820Type t) { bi.e820[bi.nr_e820++] = hal::E820Entry{a, s, t}; };
  add(0, 0x9fc00, hal::E820Type::usable);
  add(0x9fc00, 0x400, hal::E820Type::reserved);
  add(0xf0000, 0x10000, hal::E820Type::reserved);
  add(0x100000, 0x100000, hal::E820Type::reserved);  // the firmware image
  add(0x200000, rt::BareHal::kMemBytes - 0x200000, hal::E820Type::usable);
  bi.nr_nodes = 1;
  bi.node_start[0] = 0;
  bi.node_end[0] = rt::BareHal::kMemBytes;
  bi.node_distance[0][0] = 10;
  bi.nr_cpus = 1;
  bi.image_base = 0x100000;
  bi.image_size = 0x100000;
  bi.maxphyaddr = 46;
  bi.va_bits = 48;
  bi.paging_levels = 4;
  bi.pcid = true;
  bi.nx = true;
  bi.gbpages = false;
  bi.seed = 1;
  return bi;
}

}  // namespace

int fw_main() {
  check(g_kernel.params().timeslice_us == fw::Params{}.timeslice_us, "static constructors did not run");
  fw::Params p = g_kernel.params();
  p.loglevel = 5;  // notices and worse on the console
  g_kernel.set_params(p);

  check(g_kernel.boot(g_hal, small_machine()), "boot");
  check(g_hal.paging_control().pcide && g_hal.paging_control().nxe && g_hal.paging_control().wp, "paging control");
  check(g_hal.read_cr3() == g_kernel.kernel_root(), "kernel CR3", g_hal.read_cr3());
  const uint64_t boot_free = g_kernel.nr_free_pages();
  check(boot_free > 7000, "free pages after boot", boot_free);

  // The kernel's direct map covers RAM (2 MiB pages above 2 MiB here).
  fw::PteLookup l;
  check(g_kernel.translate(g_hal, 0, fw::PAGE_OFFSET_L4 + 0x400000, &l) && l.level == 2 &&
            (l.entry & x86::phys_mask(46)) == 0x400000 && (l.entry & x86::PTE_G) && !(l.entry & x86::PTE_US),
        "direct map", l.entry);

  const int pid = g_kernel.spawn(g_hal, "init", 0, nullptr);
  check(pid == 1, "spawn", static_cast<uint64_t>(pid));
  const hal::RunTask run = g_kernel.schedule(g_hal);
  check(run.pid == pid, "schedule", static_cast<uint64_t>(run.pid));
  check(sys(hal::Sys::getpid) == pid, "getpid");

  const uint64_t pages = 16;
  const int64_t addr = sys(hal::Sys::mmap, 0, pages * fw::PAGE_SIZE, fw::PROT_READ | fw::PROT_WRITE,
                           fw::MAP_PRIVATE | fw::MAP_ANONYMOUS, static_cast<uint64_t>(-1), 0);
  check(addr == static_cast<int64_t>(0x7ffff7fff000ull - pages * fw::PAGE_SIZE), "mmap address", static_cast<uint64_t>(addr));

  // Write a pattern through the translations, read it back.
  for (uint64_t i = 0; i < pages; ++i) {
    const uint64_t va = static_cast<uint64_t>(addr) + i * fw::PAGE_SIZE + 8;
    const uint64_t pa = user_access(va, true);
    check(pa != ~0ull, "write access", va);
    const uint64_t v = 0x5a5a000000000000ull | i;
    fw::mem_copy(g_hal.mem(pa), &v, 8);
  }
  for (uint64_t i = 0; i < pages; ++i) {
    const uint64_t va = static_cast<uint64_t>(addr) + i * fw::PAGE_SIZE + 8;
    const uint64_t pa = user_access(va, false);
    uint64_t v;
    fw::mem_copy(&v, g_hal.mem(pa), 8);
    check(v == (0x5a5a000000000000ull | i), "read back", va, v);
  }
  check(g_kernel.vmstat().event[fw::PGFAULT] == pages, "one fault per page", g_kernel.vmstat().event[fw::PGFAULT]);
  check(boot_free - g_kernel.nr_free_pages() >= pages, "pages allocated");

  check(sys(hal::Sys::munmap, static_cast<uint64_t>(addr), pages * fw::PAGE_SIZE) == 0, "munmap");
  uint32_t ec = 0;
  check(walk(static_cast<uint64_t>(addr), false, &ec) == ~0ull, "unmapped page still translates");
  check(sys(hal::Sys::brk) == -ENOSYS, "brk is ENOSYS");
  check(sys(hal::Sys::exit, 0) == 0, "exit");
  check(g_kernel.nr_tasks() == 0, "task gone");
  check(g_kernel.nr_free_pages() == boot_free, "every page back after exit", g_kernel.nr_free_pages(), boot_free);

  // A wild access kills the process with SIGSEGV; everything comes back.
  const int pid2 = g_kernel.spawn(g_hal, "wild", 0, nullptr);
  check(g_kernel.schedule(g_hal).pid == pid2, "schedule second");
  check(g_kernel.page_fault(g_hal, 0x1000, x86::PF_U | x86::PF_W) == hal::TrapOutcome::task_killed, "SIGSEGV");
  check(g_kernel.task_stats().sigsegv == 1, "sigsegv counted");
  check(g_kernel.schedule(g_hal).pid < 0, "idle after the kill");
  check(g_kernel.nr_free_pages() == boot_free, "every page back after the kill", g_kernel.nr_free_pages(), boot_free);

  rt::puts("fw_freestanding_boot: OK\n");
  return 0;
}
