// The hardware abstraction layer: everything the firmware does to the machine
// goes through a Hal. The core model implements it with TLM transactions
// (hw::Core in hw/cpu/core.h), the host HAL with plain memory (sw/hal/host),
// so the memory manager can be unit-tested without SystemC.
//
// One Hal object stands for one CPU: calls act on the calling CPU (its MMU,
// its local time). Freestanding: no exceptions, no RTTI, no heap.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/x86.h"

namespace hal {

using paddr_t = uint64_t;
using vaddr_t = uint64_t;

constexpr unsigned kMaxNodes = 8;
constexpr unsigned kMaxCpus = 64;
constexpr unsigned kMaxE820 = 128;
constexpr unsigned kMaxDevices = 16;

// Result of a physical access made on the firmware's behalf.
enum class MemStatus : uint8_t {
  ok = 0,
  address_error,  // nothing decodes the address, or it is beyond a device's reach
  poison,         // the access touched memory holding an uncorrected error
};

// ---- Boot information (what firmware tables tell a real kernel) ------------

// e820 types, numbered as the BIOS interface numbers them.
enum class E820Type : uint32_t {
  usable = 1,
  reserved = 2,
  acpi = 3,
  nvs = 4,
  unusable = 5,
  pmem = 7,
};

struct E820Entry {
  paddr_t addr;
  uint64_t size;
  E820Type type;
};

// What a device is. dma_checker is the bus-side DMA checker's debug channel:
// the DMA API reports the ranges it maps for each device there.
enum class DeviceKind : uint32_t { intc = 1, dma = 2, timer = 3, dma_checker = 4, block = 5 };

constexpr unsigned kDeviceNameLen = 16;

struct Device {
  DeviceKind kind;
  uint32_t index;      // instance number of that kind
  paddr_t mmio_base;
  uint64_t mmio_size;
  uint32_t irq_vector;        // the vector its interrupts arrive with (0: it raises none)
  uint32_t addr_bits;         // bus masters: the widest bus address they can drive
  char name[kDeviceNameLen];  // "dma0": its name on the platform, NUL-terminated
  uint64_t capacity;          // block devices: bytes of storage (0 for other kinds)
  uint32_t block_size;        // block devices: bytes per sector, 512 or 4096 (0 for other kinds)
};

struct BootInfo {
  E820Entry e820[kMaxE820];
  unsigned nr_e820;

  // NUMA: each node owns one physical range [start, end) (SRAT memory affinity);
  // the e820 map says which parts of it are usable.
  unsigned nr_nodes;
  paddr_t node_start[kMaxNodes];
  paddr_t node_end[kMaxNodes];
  uint8_t node_distance[kMaxNodes][kMaxNodes];  // SLIT: 10 = local

  unsigned nr_cpus;
  uint8_t cpu_node[kMaxCpus];

  Device devices[kMaxDevices];
  unsigned nr_devices;

  // Where the firmware's (host-resident) image is said to live: an e820
  // reserved region that memblock must keep out of the allocator.
  paddr_t image_base;
  uint64_t image_size;

  unsigned maxphyaddr;  // physical address width of the MMU (bits)
  unsigned va_bits;     // 48 for 4-level paging, 57 for 5-level
  unsigned paging_levels;
  bool pcid;            // CR4.PCIDE supported
  bool nx;              // EFER.NXE supported
  bool gbpages;         // 1 GiB pages supported
  uint64_t seed;        // the run's seed, for firmware-side randomness
};

// MMU control bits of the calling CPU.
struct PagingControl {
  bool wp;     // CR0.WP
  bool nxe;    // EFER.NXE
  bool pcide;  // CR4.PCIDE
  // CR4.LA57: 5-level paging. Set before long mode is entered and fixed
  // there, so it must say what the machine walks (BootInfo::paging_levels);
  // a core refuses a change (on hardware, #GP).
  bool la57 = false;
};

// The timeline (`mmcosim run --trace-events`): the firmware marks where its
// work on a CPU starts and ends; the core stamps each mark with its
// simulated time and records the span on that CPU's track.
enum class TraceKind : uint8_t { syscall, page_fault, machine_check, kswapd, kcompactd, khugepaged };

struct TraceMark {
  TraceKind kind;
  bool begin;         // true: the work starts; false: the innermost open one of `kind` ends
  const char* name;   // begin: what runs (a system call's name), a string that lives on; null: the kind's name
  uint64_t arg[2];    // begin: system call number and first argument; cr2 and error code; pa and va; node.
                      // end: arg[0] is the result (the call's return value; 0 retry, 1 task killed)
  bool idle;          // end: the work found nothing to do (the span is not kept)
};

// A signal delivered to a handler the process installed (rt_sigaction):
// Linux's siginfo_t fields a SIGBUS handler of a memory error reads.
struct SigInfo {
  int signo;          // uapi::kSigbus
  int code;           // si_code: uapi::kBusMceerrAr, kBusMceerrAo, kBusAdrerr
  vaddr_t addr;       // si_addr: the page's address (early kill) or the exact one (late kill)
  unsigned addr_lsb;  // si_addr_lsb: log2 of the poisoned extent (12, 21, 30)
};

// What ACPI EINJ lets an OS inject (error types 0x10 and 0x08).
enum class EinjError : uint8_t { uc, ce };

class Hal {
 public:
  // ---- Identity ----
  virtual unsigned cpu() const = 0;

  // ---- Physical memory ----
  // The direct map: a host pointer to [pa, pa+len) where the memory grants
  // DMI, nullptr otherwise (MMIO, poisoned pages, unbacked addresses).
  virtual void* direct_map(paddr_t pa, uint64_t len) = 0;
  // Accesses that always succeed or report an error; they use DMI when they
  // can and a transaction otherwise, so poisoned memory is seen.
  virtual MemStatus phys_read(paddr_t pa, void* dst, uint64_t len) = 0;
  virtual MemStatus phys_write(paddr_t pa, const void* src, uint64_t len) = 0;
  virtual MemStatus phys_fill(paddr_t pa, uint8_t value, uint64_t len) = 0;
  virtual MemStatus phys_copy(paddr_t dst, paddr_t src, uint64_t len) = 0;

  // ---- MMU of the calling CPU ----
  virtual void set_paging_control(const PagingControl& ctl) = 0;
  // CR3: table base | PCID (bits 11:0, with PCIDE) | NOFLUSH (bit 63).
  virtual void write_cr3(uint64_t value) = 0;
  virtual uint64_t read_cr3() const = 0;
  virtual void invlpg(vaddr_t va) = 0;
  virtual void invpcid(x86::InvpcidType type, uint16_t pcid, vaddr_t va) = 0;

  // ---- Other CPUs and devices ----
  // Sends an interrupt to another CPU through the interrupt controller.
  virtual void send_ipi(unsigned target_cpu, uint8_t vector) = 0;
  virtual MemStatus mmio_read(paddr_t pa, uint64_t& value, unsigned size) = 0;
  virtual MemStatus mmio_write(paddr_t pa, uint64_t value, unsigned size) = 0;

  // ---- Time ----
  virtual uint64_t now_ns() const = 0;
  // Accounts firmware work (nanoseconds of simulated time on this CPU).
  virtual void charge_ns(uint64_t ns) = 0;
  // Spin-wait hint: lets simulated time pass and other CPUs run; interrupts
  // pending for this CPU are delivered (to Firmware::interrupt) before it returns.
  virtual void cpu_relax() = 0;

  // ---- Model-specific registers of the calling CPU ----
  // RDMSR/WRMSR of the machine-check MSRs (sw/hal/x86_mce.h): the firmware
  // reads and clears the banks as a kernel does. False for an MSR the
  // machine does not implement (on hardware, #GP); a HAL without
  // machine-check banks (the host HAL) implements none.
  virtual bool rdmsr(uint32_t msr, uint64_t& value) {
    (void)msr;
    value = 0;
    return false;
  }
  virtual bool wrmsr(uint32_t msr, uint64_t value) {
    (void)msr, (void)value;
    return false;
  }

  // ---- Console ----
  virtual void console(const char* text, size_t len) = 0;

  // ---- Tasks ----
  // A task ended: by exit (signal 0, exit_status its status) or killed by
  // `signal`. `user` is the context given at spawn or fork. Called for every
  // task that ends, running or not, so the platform can account for the
  // user side of the process.
  virtual void task_ended(int pid, void* user, int exit_status, int signal) {
    (void)pid, (void)user, (void)exit_status, (void)signal;
  }
  // A signal went to the handler task `pid` installed; the task goes on.
  // `user` is its context. The default drops it (no user side).
  virtual void signal_delivered(int pid, void* user, const SigInfo& si) { (void)pid, (void)user, (void)si; }

  // ---- Error injection ----
  // The platform's error injection as ACPI EINJ offers it to an OS: an
  // uncorrected (poison) or corrected error at the 64-byte line of `pa`.
  // Returns false when there is no injector or `pa` is not DRAM.
  virtual bool einj_inject(paddr_t pa, EinjError e) {
    (void)pa, (void)e;
    return false;
  }

  // ---- Timeline ----
  // Marks the start or the end of firmware work (TraceMark). The default
  // records nothing (the host HAL; the core when not tracing).
  virtual void trace(const TraceMark& mark) { (void)mark; }

  // ---- Failure ----
  // The firmware cannot go on (a kernel panic; the reason is already on the
  // console): stop the machine. Never returns. The default traps, so a HAL
  // that does not override it still stops; platforms override it to end the
  // simulation with a message and a non-zero exit.
  //
  // The one exception that crosses this interface: in the simulator,
  // hw::Core::halt throws hw::FirmwarePanic, which unwinds through the
  // firmware's frames back to the core's thread (Core::run), which ends the
  // run. Acceptable although the firmware is exception-free: the firmware
  // never throws nor catches, and is not resumed after a panic, so it needs
  // no cleanups (none run in its frames: it is built without exceptions);
  // the host build keeps the unwind tables the unwinder walks through. The
  // freestanding build (sw/rt, no unwind tables) halts the CPU instead.
  [[noreturn]] virtual void halt(const char* reason) {
    (void)reason;
    __builtin_trap();
  }

 protected:
  // Not deletable through the interface: no deleting destructor, so the
  // freestanding build needs no operator delete.
  ~Hal() = default;
};

}  // namespace hal
