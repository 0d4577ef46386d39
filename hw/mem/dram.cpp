#include "hw/mem/dram.h"

#include <sys/mman.h>

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "hw/base/debug.h"
#include "hw/base/time.h"
#include "hw/ext/memory.h"
#include "sw/hal/x86.h"

SIM_DEBUG_FLAG(DRAM, "DRAM error injection (uncorrected and correctable), DMI grants and revocations, locks")

namespace hw {

using sc_core::sc_time;

using x86::PAGE_SIZE;  // DMI is granted and withheld by whole pages

Dram::Stats::Stats(sim::stats::Group* parent, const std::string& name) : sim::stats::Group(parent, name) {}

Dram::Dram(sc_core::sc_module_name name, const Params& params, sim::stats::Group* stats_parent)
    : sc_module(name), socket("socket"), stats(stats_parent, basename()), p_(params) {
  if (p_.size == 0 || (p_.base % PAGE_SIZE) || (p_.size % PAGE_SIZE))
    throw std::invalid_argument(fmt::format("{}: memory range must be page-aligned and non-empty", basename()));
  void* m = mmap(nullptr, p_.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED)
    throw std::runtime_error(fmt::format("{}: cannot reserve {} bytes of host address space", basename(), p_.size));
  mem_ = static_cast<uint8_t*>(m);
  // Host transparent huge pages where the host allows them (a hint; an
  // error only means 4 KiB pages): a first touch then costs one host fault
  // per 2 MiB, not per 4 KiB, which is most of a short run's host time where
  // faults are dear (a VM). Host memory still grows only with what is
  // touched, in 2 MiB steps.
  madvise(m, p_.size, MADV_HUGEPAGE);
  socket.register_b_transport(this, &Dram::b_transport);
  socket.register_get_direct_mem_ptr(this, &Dram::get_direct_mem_ptr);
  socket.register_transport_dbg(this, &Dram::transport_dbg);
  register_commands();
}

Dram::~Dram() {
  if (mem_) munmap(mem_, p_.size);
}

sc_time Dram::read_latency(unsigned from) const {
  const unsigned d = from < p_.distance_from.size() ? p_.distance_from[from] : 10;
  return p_.read_latency * (d / 10.0);
}

sc_time Dram::write_latency(unsigned from) const {
  const unsigned d = from < p_.distance_from.size() ? p_.distance_from[from] : 10;
  return p_.write_latency * (d / 10.0);
}

unsigned Dram::source_node(tlm::tlm_generic_payload& trans) const {
  SourceExtension* src = nullptr;
  trans.get_extension(src);
  return src ? src->node : p_.node;
}

bool Dram::is_poisoned(uint64_t pa, uint64_t len) const {
  if (poison_.empty() || len == 0) return false;
  auto it = poison_.lower_bound(pa & ~(kLine - 1));
  return it != poison_.end() && *it < pa + len;
}

bool Dram::is_corrected(uint64_t pa, uint64_t len) const {
  if (corrected_.empty() || len == 0) return false;
  auto it = corrected_.lower_bound(pa & ~(kLine - 1));
  return it != corrected_.end() && *it < pa + len;
}

bool Dram::line_locked(uint64_t pa, uint64_t len) const {
  if (locks_.empty()) return false;
  auto it = locks_.lower_bound(pa & ~(kLine - 1));
  return it != locks_.end() && it->first < pa + len;
}

bool Dram::page_needs_block(uint64_t page) const {
  const uint64_t start = page * PAGE_SIZE;
  if (is_poisoned(start, PAGE_SIZE) || is_corrected(start, PAGE_SIZE)) return true;
  auto it = locks_.lower_bound(start);
  return it != locks_.end() && it->first < start + PAGE_SIZE;
}

void Dram::block_page(uint64_t page) {
  if (!blocked_pages_.insert(page).second) return;
  // Every initiator drops DMI regions covering this page; their next DMI
  // request gets a region that stops short of it.
  ++stats.dmi_invalidations;
  socket->invalidate_direct_mem_ptr(page * PAGE_SIZE, page * PAGE_SIZE + PAGE_SIZE - 1);
}

void Dram::unblock_page(uint64_t page) {
  if (!page_needs_block(page)) blocked_pages_.erase(page);
}

bool Dram::add_error_line(std::set<uint64_t>& lines, uint64_t pa) {
  if (!contains(pa)) throw std::out_of_range(fmt::format("{}: {:#x} is not in this memory", name(), pa));
  if (!lines.insert(pa & ~(kLine - 1)).second) return false;
  block_page(pa / PAGE_SIZE);
  if (errors_) errors_->errors_changed();
  return true;
}

void Dram::inject_poison(uint64_t pa) {
  // An uncorrected error takes the place of a correctable one in that line.
  corrected_.erase(pa & ~(kLine - 1));
  if (!add_error_line(poison_, pa)) return;
  ++stats.poison_injected;
  DPRINTF(DRAM, sim::now_ps(), who_.c_str(), "poison line {:#x}", pa & ~(kLine - 1));
}

void Dram::inject_corrected(uint64_t pa) {
  if (is_poisoned(pa, 1)) return;  // the line is already beyond correction
  if (!add_error_line(corrected_, pa)) return;
  ++stats.ce_injected;
  DPRINTF(DRAM, sim::now_ps(), who_.c_str(), "correctable error in line {:#x}", pa & ~(kLine - 1));
}

bool Dram::clear_poison(uint64_t pa) {
  const uint64_t line = pa & ~(kLine - 1);
  const bool had = (poison_.erase(line) + corrected_.erase(line)) > 0;
  if (had) {
    unblock_page(pa / PAGE_SIZE);
    DPRINTF(DRAM, sim::now_ps(), who_.c_str(), "cleared the error in line {:#x}", line);
    if (errors_) errors_->errors_changed();
  }
  return had;
}

void Dram::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) {
  const uint64_t pa = trans.get_address();
  const unsigned len = trans.get_data_length();
  const bool is_read = trans.get_command() == tlm::TLM_READ_COMMAND;
  if (trans.get_byte_enable_ptr() || trans.get_streaming_width() < len) {
    trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    return;
  }
  if (!contains(pa, len)) {
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  if (trans.get_command() == tlm::TLM_IGNORE_COMMAND) {
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
    return;
  }
  LockExtension* lock = nullptr;
  trans.get_extension(lock);
  const bool unlocking = lock && lock->op == LockExtension::Op::unlock_write;

  // Another initiator's bus lock holds everyone else off that line.
  if (!unlocking && line_locked(pa, len)) {
    ++stats.lock_waits;
    sc_core::wait(delay);  // synchronise before blocking on the lock
    delay = sc_core::SC_ZERO_TIME;
    while (line_locked(pa, len)) sc_core::wait(unlocked_);
  }

  const unsigned from = source_node(trans);
  delay += is_read ? read_latency(from) : write_latency(from);

  if (is_read && is_poisoned(pa, len)) {
    ++stats.poison_consumed;
    PoisonExtension* poison = nullptr;
    trans.get_extension(poison);
    if (poison) {
      poison->poisoned = true;
      poison->pa = std::max(pa, *poison_.lower_bound(pa & ~(kLine - 1)));
      poison->action_required = true;
    }
    DPRINTF(DRAM, sim::now_ps(delay), who_.c_str(), "read of poisoned memory at {:#x}", pa);
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }

  if (is_read && is_corrected(pa, len)) {
    // ECC corrected the data on its way out; the memory controller logs it.
    ++stats.ce_reads;
    const uint64_t line = *corrected_.lower_bound(pa & ~(kLine - 1));
    DPRINTF(DRAM, sim::now_ps(delay), who_.c_str(), "corrected read at {:#x}", line);
    if (errors_) errors_->corrected_read(line);
  }

  uint8_t* host = mem_ + (pa - p_.base);
  if (is_read) {
    std::memcpy(trans.get_data_ptr(), host, len);
    ++stats.reads;
    stats.bytes_read += len;
  } else {
    std::memcpy(host, trans.get_data_ptr(), len);
    ++stats.writes;
    stats.bytes_written += len;
  }

  if (lock) {
    const uint64_t line = pa & ~(kLine - 1);
    if (lock->op == LockExtension::Op::lock_read && is_read) {
      locks_[line] = lock->initiator;
      ++stats.locked_rmw;
      block_page(pa / PAGE_SIZE);
    } else if (unlocking && !is_read) {
      locks_.erase(line);
      unblock_page(pa / PAGE_SIZE);
      unlocked_.notify(sc_core::SC_ZERO_TIME);
    }
  }
  trans.set_dmi_allowed(!blocked_pages_.count(pa / PAGE_SIZE));
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

bool Dram::get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi) {
  const uint64_t pa = trans.get_address();
  if (!contains(pa)) return false;
  const uint64_t page = pa / PAGE_SIZE;
  const uint64_t first = p_.base / PAGE_SIZE, last = (p_.base + p_.size) / PAGE_SIZE - 1;
  uint64_t lo = first, hi = last;
  if (!blocked_pages_.empty()) {
    auto next = blocked_pages_.lower_bound(page);
    if (next != blocked_pages_.end() && *next == page) {
      // This page is withheld: tell the initiator not to ask again for it.
      dmi.set_start_address(page * PAGE_SIZE);
      dmi.set_end_address(page * PAGE_SIZE + PAGE_SIZE - 1);
      dmi.set_granted_access(tlm::tlm_dmi::DMI_ACCESS_NONE);
      return false;
    }
    if (next != blocked_pages_.end()) hi = *next - 1;
    if (next != blocked_pages_.begin()) lo = *std::prev(next) + 1;
  }
  const unsigned from = source_node(trans);
  dmi.set_dmi_ptr(mem_ + (lo * PAGE_SIZE - p_.base));
  dmi.set_start_address(lo * PAGE_SIZE);
  dmi.set_end_address(hi * PAGE_SIZE + PAGE_SIZE - 1);
  dmi.set_granted_access(tlm::tlm_dmi::DMI_ACCESS_READ_WRITE);
  dmi.set_read_latency(read_latency(from));
  dmi.set_write_latency(write_latency(from));
  ++stats.dmi_grants;
  return true;
}

unsigned int Dram::transport_dbg(tlm::tlm_generic_payload& trans) {
  const uint64_t pa = trans.get_address();
  uint64_t len = trans.get_data_length();
  if (!contains(pa)) return 0;
  len = std::min<uint64_t>(len, p_.base + p_.size - pa);
  uint8_t* host = mem_ + (pa - p_.base);
  if (trans.get_command() == tlm::TLM_READ_COMMAND) std::memcpy(trans.get_data_ptr(), host, len);
  else if (trans.get_command() == tlm::TLM_WRITE_COMMAND) std::memcpy(host, trans.get_data_ptr(), len);
  return static_cast<unsigned int>(len);
}

}  // namespace hw
