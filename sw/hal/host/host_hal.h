// The host HAL: hal::Hal over plain host memory, for firmware unit tests and
// fast runs without SystemC. Not firmware: it uses libc and the STL.
//
// A HostMachine owns the physical memory (one MAP_NORESERVE mapping, so a
// large machine costs only the pages touched), the poison injected into it,
// a record of every TLB-maintenance operation, the console text, and one
// HostHal per CPU. Addresses backed: every range the e820 map names (any
// type); anything else answers address_error.
#pragma once

#include <stdint.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sw/hal/firmware.h"
#include "sw/hal/hal.h"

namespace hosthal {

// A PC-like machine for make_boot_info().
struct MachineSpec {
  uint64_t mem_bytes = 256ull << 20;  // RAM, holes not counted
  unsigned nodes = 1;                  // RAM split evenly, node boundaries on 4 MiB
  unsigned cpus = 1;                   // spread over the nodes in blocks
  bool pci_hole = true;                // RAM above 3 GiB is moved above 4 GiB
  unsigned paging_levels = 4;
  unsigned maxphyaddr = 46;
  bool pcid = true;
  bool nx = true;
  bool gbpages = true;
  uint64_t seed = 1;
};

// e820: [0, 0x9fc00) usable, EBDA and BIOS ROM reserved, RAM from 1 MiB
// (to 3 GiB, the rest from 4 GiB), the firmware image as a reserved range
// at 16 MiB (2 MiB large; at 2 MiB, 1 MiB large, on machines under 64 MiB).
hal::BootInfo make_boot_info(const MachineSpec& spec);

struct TlbOp {
  enum class Kind { write_cr3, invlpg, invpcid, paging_control };
  Kind kind;
  unsigned cpu;
  uint64_t value;  // write_cr3: the CR3 value
  uint64_t va;     // invlpg, invpcid
  uint16_t pcid;   // invpcid
  x86::InvpcidType type;
  hal::PagingControl ctl;
};

// An entry of the optional TLB model (HostMachine::enable_tlb_model): what
// a CPU may still translate without walking, until the firmware's TLB
// maintenance (INVLPG, INVPCID, CR3 writes) drops it.
struct TlbEntry {
  uint64_t va;    // start of the page
  uint64_t size;  // 4 KiB, 2 MiB or 1 GiB
  uint64_t pa;    // start of the frame
  uint16_t pcid;
  bool global, rw, us, nx;
};

class HostMachine;

class HostHal final : public hal::Hal {
 public:
  HostHal(HostMachine& m, unsigned cpu) : m_(m), cpu_(cpu) {}

  unsigned cpu() const override { return cpu_; }
  void* direct_map(hal::paddr_t pa, uint64_t len) override;
  hal::MemStatus phys_read(hal::paddr_t pa, void* dst, uint64_t len) override;
  hal::MemStatus phys_write(hal::paddr_t pa, const void* src, uint64_t len) override;
  hal::MemStatus phys_fill(hal::paddr_t pa, uint8_t value, uint64_t len) override;
  hal::MemStatus phys_copy(hal::paddr_t dst, hal::paddr_t src, uint64_t len) override;
  void set_paging_control(const hal::PagingControl& ctl) override;
  void write_cr3(uint64_t value) override;
  uint64_t read_cr3() const override { return cr3_; }
  void invlpg(hal::vaddr_t va) override;
  void invpcid(x86::InvpcidType type, uint16_t pcid, hal::vaddr_t va) override;
  void send_ipi(unsigned target_cpu, uint8_t vector) override;
  hal::MemStatus mmio_read(hal::paddr_t pa, uint64_t& value, unsigned size) override;
  hal::MemStatus mmio_write(hal::paddr_t pa, uint64_t value, unsigned size) override;
  // EINJ: an uncorrected error poisons the line (HostMachine::inject_poison);
  // the host machine has no correctable errors (false), nor errors outside RAM.
  bool einj_inject(hal::paddr_t pa, hal::EinjError e) override;
  uint64_t now_ns() const override { return now_ns_; }
  void charge_ns(uint64_t ns) override {
    now_ns_ += ns;
    charged_ns_ += ns;
  }
  void cpu_relax() override;
  void console(const char* text, size_t len) override;
  void task_ended(int pid, void* user, int exit_status, int signal) override;
  void signal_delivered(int pid, void* user, const hal::SigInfo& si) override;
  [[noreturn]] void halt(const char* reason) override;

  // Test helpers.
  const hal::PagingControl& paging_control() const { return ctl_; }
  uint64_t charged_ns() const { return charged_ns_; }
  void advance_ns(uint64_t ns) { now_ns_ += ns; }
  // Delivers the interrupts pending for this CPU to the attached firmware.
  void deliver_interrupts();
  size_t pending_interrupts() const { return pending_.size(); }

  // The TLB model (when the machine has it on).
  uint16_t current_pcid() const { return ctl_.pcide ? static_cast<uint16_t>(cr3_ & x86::CR3_PCID_MASK) : 0; }
  // The entry translating va under the current PCID (or a global one).
  const TlbEntry* tlb_lookup(uint64_t va) const;
  void tlb_fill(const TlbEntry& e);
  void tlb_drop(uint64_t va);  // what a page fault does to the faulting translation
  const std::vector<TlbEntry>& tlb() const { return tlb_; }

 private:
  friend class HostMachine;
  HostMachine& m_;
  unsigned cpu_;
  uint64_t cr3_ = 0;
  hal::PagingControl ctl_{};
  uint64_t now_ns_ = 0;
  uint64_t charged_ns_ = 0;
  std::vector<uint8_t> pending_;
  std::vector<TlbEntry> tlb_;
};

class HostMachine {
 public:
  explicit HostMachine(const hal::BootInfo& bi);
  explicit HostMachine(const MachineSpec& spec) : HostMachine(make_boot_info(spec)) {}
  ~HostMachine();
  HostMachine(const HostMachine&) = delete;
  HostMachine& operator=(const HostMachine&) = delete;

  const hal::BootInfo& boot_info() const { return bi_; }
  unsigned nr_cpus() const { return static_cast<unsigned>(cpus_.size()); }
  HostHal& cpu(unsigned i) { return *cpus_.at(i); }

  // Interrupts sent with send_ipi go to this firmware.
  void attach(hal::Firmware* fw) { fw_ = fw; }
  hal::Firmware* firmware() const { return fw_; }

  // The host bytes of [pa, pa+len), poison or not; nullptr when unbacked.
  uint8_t* raw(hal::paddr_t pa, uint64_t len = 1);
  bool backed(hal::paddr_t pa, uint64_t len) const;

  // Poison one 64-byte line: its page loses its direct map, reads and
  // writes touching the line report MemStatus::poison (and change nothing).
  void inject_poison(hal::paddr_t pa);
  void clear_poison(hal::paddr_t pa);
  bool poisoned(hal::paddr_t pa, uint64_t len) const;       // any line in range
  bool page_poisoned(hal::paddr_t pa, uint64_t len) const;  // any page in range

  // Every Hal::task_ended report, in order.
  struct Ended {
    int pid;
    void* user;
    int exit_status;
    int signal;
    unsigned cpu;  // the CPU that reported it
  };
  const std::vector<Ended>& ended() const { return ended_; }
  // Every Hal::signal_delivered report (a handler took the signal), in order.
  struct Delivered {
    int pid;
    hal::SigInfo si;
  };
  const std::vector<Delivered>& delivered() const { return delivered_; }

  const std::vector<TlbOp>& tlb_ops() const { return tlb_ops_; }
  void clear_tlb_ops() { tlb_ops_.clear(); }
  const std::string& console() const { return console_; }
  void clear_console() { console_.clear(); }
  // Also copy the console to stderr (default: the MMCOSIM_CONSOLE environment variable is set).
  void set_echo(bool on) { echo_ = on; }

  // While a CPU spins (cpu_relax), the other CPUs run: their pending
  // interrupts are delivered too, so a CPU waiting for IPI acknowledgements
  // sees them (default on).
  void set_relax_runs_others(bool on) { relax_runs_others_ = on; }
  // Called on every cpu_relax: what another CPU does meanwhile, for a test
  // (e.g. finishing a migration some calls later). Empty: nothing.
  void set_relax_hook(std::function<void()> f) { relax_hook_ = std::move(f); }
  // Model per-CPU TLBs (off by default; 1536 entries each, oldest evicted
  // first): HostHal::tlb_* and the test rig's accesses use them; INVLPG,
  // INVPCID and CR3 writes drop entries.
  void enable_tlb_model(bool on) { tlb_model_ = on; }
  bool tlb_model() const { return tlb_model_; }

 private:
  friend class HostHal;
  hal::BootInfo bi_;
  uint8_t* mem_ = nullptr;
  uint64_t size_ = 0;
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;  // backed [start, end)
  std::set<uint64_t> poison_lines_;                     // line addresses
  std::vector<std::unique_ptr<HostHal>> cpus_;
  std::vector<TlbOp> tlb_ops_;
  std::vector<Ended> ended_;
  std::vector<Delivered> delivered_;
  std::string console_;
  bool echo_ = false;
  bool relax_runs_others_ = true;
  std::function<void()> relax_hook_;
  bool tlb_model_ = false;
  bool relaxing_ = false;
  hal::Firmware* fw_ = nullptr;
};

}  // namespace hosthal
