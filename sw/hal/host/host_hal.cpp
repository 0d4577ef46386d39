#include "sw/hal/host/host_hal.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "sw/hal/x86.h"

namespace hosthal {

namespace {
constexpr uint64_t kLine = 64;
constexpr uint64_t MiB = 1ull << 20;
constexpr uint64_t GiB = 1ull << 30;
}  // namespace

hal::BootInfo make_boot_info(const MachineSpec& spec) {
  hal::BootInfo bi{};
  auto add = [&](uint64_t a, uint64_t s, hal::E820Type t) {
    if (s == 0) return;
    bi.e820[bi.nr_e820++] = hal::E820Entry{a, s, t};
  };
  const uint64_t mem = std::max<uint64_t>(spec.mem_bytes, 4 * MiB);
  const uint64_t image_base = mem >= 64 * MiB ? 16 * MiB : 2 * MiB;
  const uint64_t image_size = mem >= 64 * MiB ? 2 * MiB : 1 * MiB;
  // RAM: 640 KiB at 0 (less the EBDA), then from 1 MiB; above 3 GiB it moves
  // above 4 GiB (the PCI hole).
  const uint64_t low_ram_end = spec.pci_hole ? std::min<uint64_t>(mem, 3 * GiB) : mem;
  add(0, 0x9fc00, hal::E820Type::usable);
  add(0x9fc00, 0x400, hal::E820Type::reserved);
  add(0xf0000, 0x10000, hal::E820Type::reserved);
  add(1 * MiB, image_base - 1 * MiB, hal::E820Type::usable);
  add(image_base, image_size, hal::E820Type::reserved);
  add(image_base + image_size, low_ram_end - (image_base + image_size), hal::E820Type::usable);
  uint64_t top = low_ram_end;
  if (spec.pci_hole && mem > 3 * GiB) {
    add(4 * GiB, mem - 3 * GiB, hal::E820Type::usable);
    top = 4 * GiB + (mem - 3 * GiB);
  }

  // Nodes: equal shares of RAM, boundaries on 4 MiB, contiguous ranges.
  bi.nr_nodes = std::max(1u, std::min(spec.nodes, hal::kMaxNodes));
  uint64_t prev = 0;
  for (unsigned n = 0; n < bi.nr_nodes; ++n) {
    uint64_t end = top;
    if (n + 1 < bi.nr_nodes) {
      // The address where the RAM below it reaches (n+1)/nodes of the total.
      const uint64_t want = mem / bi.nr_nodes * (n + 1);
      uint64_t seen = 0;
      for (unsigned i = 0; i < bi.nr_e820; ++i) {
        const hal::E820Entry& e = bi.e820[i];
        if (e.type != hal::E820Type::usable) continue;
        if (seen + e.size >= want) {
          end = (e.addr + (want - seen)) & ~(4 * MiB - 1);
          break;
        }
        seen += e.size;
      }
      end = std::max(end, prev);
    }
    bi.node_start[n] = prev;
    bi.node_end[n] = end;
    prev = end;
  }
  for (unsigned a = 0; a < bi.nr_nodes; ++a)
    for (unsigned b = 0; b < bi.nr_nodes; ++b) bi.node_distance[a][b] = a == b ? 10 : 20;

  bi.nr_cpus = std::max(1u, std::min(spec.cpus, hal::kMaxCpus));
  for (unsigned c = 0; c < bi.nr_cpus; ++c) bi.cpu_node[c] = static_cast<uint8_t>(c * bi.nr_nodes / bi.nr_cpus);
  bi.image_base = image_base;
  bi.image_size = image_size;
  bi.maxphyaddr = spec.maxphyaddr;
  bi.paging_levels = spec.paging_levels;
  bi.va_bits = spec.paging_levels == 5 ? 57 : 48;
  bi.pcid = spec.pcid;
  bi.nx = spec.nx;
  bi.gbpages = spec.gbpages;
  bi.seed = spec.seed;
  return bi;
}

// ------------------------------------------------------------ HostMachine

HostMachine::HostMachine(const hal::BootInfo& bi) : bi_(bi) {
  for (unsigned i = 0; i < bi.nr_e820 && i < hal::kMaxE820; ++i) {
    const hal::E820Entry& e = bi.e820[i];
    if (!e.size) continue;
    ranges_.emplace_back(e.addr, e.addr + e.size);
    size_ = std::max(size_, e.addr + e.size);
  }
  size_ = (size_ + x86::PAGE_SIZE - 1) & ~(x86::PAGE_SIZE - 1);
  if (size_) {
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("host HAL: cannot reserve simulated memory");
    mem_ = static_cast<uint8_t*>(p);
  }
  const unsigned n = std::max(1u, std::min(bi.nr_cpus, hal::kMaxCpus));
  for (unsigned c = 0; c < n; ++c) cpus_.push_back(std::make_unique<HostHal>(*this, c));
  echo_ = std::getenv("MMCOSIM_CONSOLE") != nullptr;
}

HostMachine::~HostMachine() {
  if (mem_) ::munmap(mem_, size_);
}

bool HostMachine::backed(hal::paddr_t pa, uint64_t len) const {
  if (len == 0 || pa + len < pa) return false;
  for (const auto& r : ranges_)
    if (pa >= r.first && pa + len <= r.second) return true;
  return false;
}

uint8_t* HostMachine::raw(hal::paddr_t pa, uint64_t len) { return backed(pa, len) ? mem_ + pa : nullptr; }

void HostMachine::inject_poison(hal::paddr_t pa) { poison_lines_.insert(pa & ~(kLine - 1)); }
void HostMachine::clear_poison(hal::paddr_t pa) { poison_lines_.erase(pa & ~(kLine - 1)); }

bool HostMachine::poisoned(hal::paddr_t pa, uint64_t len) const {
  if (poison_lines_.empty() || len == 0) return false;
  auto it = poison_lines_.lower_bound(pa & ~(kLine - 1));
  return it != poison_lines_.end() && *it < pa + len;
}

bool HostMachine::page_poisoned(hal::paddr_t pa, uint64_t len) const {
  if (poison_lines_.empty() || len == 0) return false;
  const uint64_t start = pa & ~(x86::PAGE_SIZE - 1);
  const uint64_t end = (pa + len + x86::PAGE_SIZE - 1) & ~(x86::PAGE_SIZE - 1);
  auto it = poison_lines_.lower_bound(start);
  return it != poison_lines_.end() && *it < end;
}

// ------------------------------------------------------------ HostHal

void* HostHal::direct_map(hal::paddr_t pa, uint64_t len) {
  if (!m_.backed(pa, len) || m_.page_poisoned(pa, len)) return nullptr;
  return m_.mem_ + pa;
}

hal::MemStatus HostHal::phys_read(hal::paddr_t pa, void* dst, uint64_t len) {
  if (!m_.backed(pa, len)) return hal::MemStatus::address_error;
  if (m_.poisoned(pa, len)) return hal::MemStatus::poison;
  std::memcpy(dst, m_.mem_ + pa, len);
  return hal::MemStatus::ok;
}

hal::MemStatus HostHal::phys_write(hal::paddr_t pa, const void* src, uint64_t len) {
  if (!m_.backed(pa, len)) return hal::MemStatus::address_error;
  if (m_.poisoned(pa, len)) return hal::MemStatus::poison;
  std::memcpy(m_.mem_ + pa, src, len);
  return hal::MemStatus::ok;
}

hal::MemStatus HostHal::phys_fill(hal::paddr_t pa, uint8_t value, uint64_t len) {
  if (!m_.backed(pa, len)) return hal::MemStatus::address_error;
  if (m_.poisoned(pa, len)) return hal::MemStatus::poison;
  std::memset(m_.mem_ + pa, value, len);
  return hal::MemStatus::ok;
}

hal::MemStatus HostHal::phys_copy(hal::paddr_t dst, hal::paddr_t src, uint64_t len) {
  if (!m_.backed(dst, len) || !m_.backed(src, len)) return hal::MemStatus::address_error;
  if (m_.poisoned(src, len) || m_.poisoned(dst, len)) return hal::MemStatus::poison;
  std::memmove(m_.mem_ + dst, m_.mem_ + src, len);
  return hal::MemStatus::ok;
}

void HostHal::set_paging_control(const hal::PagingControl& ctl) {
  ctl_ = ctl;
  TlbOp op{};
  op.kind = TlbOp::Kind::paging_control;
  op.cpu = cpu_;
  op.ctl = ctl;
  m_.tlb_ops_.push_back(op);
}

void HostHal::write_cr3(uint64_t value) {
  cr3_ = value & ~x86::CR3_NOFLUSH;  // NOFLUSH is not stored in CR3
  if (m_.tlb_model_ && !(ctl_.pcide && (value & x86::CR3_NOFLUSH))) {
    // Without NOFLUSH the new PCID's (or, without PCIDs, every) non-global entry goes.
    const uint16_t pcid = current_pcid();
    tlb_.erase(std::remove_if(tlb_.begin(), tlb_.end(),
                              [&](const TlbEntry& e) { return !e.global && (!ctl_.pcide || e.pcid == pcid); }),
               tlb_.end());
  }
  TlbOp op{};
  op.kind = TlbOp::Kind::write_cr3;
  op.cpu = cpu_;
  op.value = value;
  m_.tlb_ops_.push_back(op);
}

void HostHal::invlpg(hal::vaddr_t va) {
  if (m_.tlb_model_) {
    const uint16_t pcid = current_pcid();
    tlb_.erase(std::remove_if(tlb_.begin(), tlb_.end(),
                              [&](const TlbEntry& e) {
                                return va - e.va < e.size && (e.global || e.pcid == pcid);
                              }),
               tlb_.end());
  }
  TlbOp op{};
  op.kind = TlbOp::Kind::invlpg;
  op.cpu = cpu_;
  op.va = va;
  op.pcid = static_cast<uint16_t>(cr3_ & x86::CR3_PCID_MASK);
  m_.tlb_ops_.push_back(op);
}

void HostHal::invpcid(x86::InvpcidType type, uint16_t pcid, hal::vaddr_t va) {
  if (m_.tlb_model_) {
    tlb_.erase(std::remove_if(tlb_.begin(), tlb_.end(),
                              [&](const TlbEntry& e) {
                                switch (type) {
                                  case x86::InvpcidType::individual_address:
                                    return !e.global && e.pcid == pcid && va - e.va < e.size;
                                  case x86::InvpcidType::single_context:
                                    return !e.global && e.pcid == pcid;
                                  case x86::InvpcidType::all_contexts_global:
                                    return true;
                                  case x86::InvpcidType::all_contexts:
                                    return !e.global;
                                }
                                return false;
                              }),
               tlb_.end());
  }
  TlbOp op{};
  op.kind = TlbOp::Kind::invpcid;
  op.cpu = cpu_;
  op.type = type;
  op.pcid = pcid;
  op.va = va;
  m_.tlb_ops_.push_back(op);
}

void HostHal::send_ipi(unsigned target_cpu, uint8_t vector) {
  if (target_cpu < m_.cpus_.size()) m_.cpus_[target_cpu]->pending_.push_back(vector);
}

hal::MemStatus HostHal::mmio_read(hal::paddr_t, uint64_t& value, unsigned) {
  value = ~0ull;
  return hal::MemStatus::address_error;
}

hal::MemStatus HostHal::mmio_write(hal::paddr_t, uint64_t, unsigned) { return hal::MemStatus::address_error; }

bool HostHal::einj_inject(hal::paddr_t pa, hal::EinjError e) {
  if (e != hal::EinjError::uc || !m_.backed(pa, 1)) return false;
  m_.inject_poison(pa);
  return true;
}

void HostHal::deliver_interrupts() {
  while (!pending_.empty()) {
    const uint8_t v = pending_.front();
    pending_.erase(pending_.begin());
    if (m_.fw_) m_.fw_->interrupt(*this, v);
  }
}

void HostHal::cpu_relax() {
  now_ns_ += 10;
  deliver_interrupts();
  if (m_.relax_hook_) m_.relax_hook_();
  // Meanwhile the other CPUs run and take their interrupts (not nested:
  // a handler that spins does not run a third CPU's).
  if (m_.relax_runs_others_ && !m_.relaxing_) {
    m_.relaxing_ = true;
    for (auto& c : m_.cpus_)
      if (c.get() != this) c->deliver_interrupts();
    m_.relaxing_ = false;
  }
}

const TlbEntry* HostHal::tlb_lookup(uint64_t va) const {
  const uint16_t pcid = current_pcid();
  for (const TlbEntry& e : tlb_)
    if (va - e.va < e.size && (e.global || e.pcid == pcid)) return &e;
  return nullptr;
}

void HostHal::tlb_fill(const TlbEntry& e) {
  tlb_drop(e.va);
  // A second-level TLB's capacity, oldest out first.
  constexpr size_t kCapacity = 1536;
  if (tlb_.size() >= kCapacity) tlb_.erase(tlb_.begin());
  tlb_.push_back(e);
}

void HostHal::tlb_drop(uint64_t va) {
  const uint16_t pcid = current_pcid();
  tlb_.erase(std::remove_if(tlb_.begin(), tlb_.end(),
                            [&](const TlbEntry& e) { return va - e.va < e.size && (e.global || e.pcid == pcid); }),
             tlb_.end());
}

void HostHal::console(const char* text, size_t len) {
  m_.console_.append(text, len);
  if (m_.echo_) std::fwrite(text, 1, len, stderr);
}

void HostHal::task_ended(int pid, void* user, int exit_status, int signal) {
  m_.ended_.push_back({pid, user, exit_status, signal, cpu_});
}

void HostHal::signal_delivered(int pid, void*, const hal::SigInfo& si) { m_.delivered_.push_back({pid, si}); }

void HostHal::halt(const char* reason) {
  std::fprintf(stderr, "host HAL: CPU%u halted: %s\n", cpu_, reason ? reason : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace hosthal
