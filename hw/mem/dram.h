// DRAM of one NUMA node: a TLM-2.0 target over sparse host backing (an
// anonymous MAP_NORESERVE mapping, so a 64 GiB machine costs host memory only
// for the pages touched, in host huge pages where the host has them). Grants
// DMI for ordinary memory; pages holding an injected error (uncorrected or
// correctable) and lines under a bus lock are carved out of every DMI grant,
// so accesses to them go through b_transport and see the error or wait for
// the lock. A read of a correctable line returns good data and reports the
// correction to the RAS model (hw/ras).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "hw/base/command.h"
#include "hw/base/stats.h"
#include "hw/ext/memory.h"

namespace hw {

class Dram : public sc_core::sc_module {
 public:
  struct Params {
    uint64_t base = 0;   // first physical address of this node's range
    uint64_t size = 0;   // bytes of the range (holes in it are simply never decoded here)
    unsigned node = 0;
    sc_core::sc_time read_latency = sc_core::sc_time(80, sc_core::SC_NS);
    sc_core::sc_time write_latency = sc_core::sc_time(80, sc_core::SC_NS);
    // SLIT distance from each node to this one (10 = local); latency scales by distance/10.
    std::vector<unsigned> distance_from;
  };

  tlm_utils::simple_target_socket<Dram> socket;

  Dram(sc_core::sc_module_name name, const Params& params, sim::stats::Group* stats_parent);
  ~Dram() override;

  uint64_t base() const { return p_.base; }
  uint64_t size() const { return p_.size; }
  unsigned node() const { return p_.node; }
  bool contains(uint64_t pa, uint64_t len = 1) const {
    return pa >= p_.base && len <= p_.size && pa - p_.base <= p_.size - len;
  }
  // Latency of one access from an initiator on `from_node`.
  sc_core::sc_time read_latency(unsigned from_node) const;
  sc_core::sc_time write_latency(unsigned from_node) const;

  // ---- Error injection, at cache-line (64-byte) granularity ----
  static constexpr uint64_t kLine = 64;
  // An uncorrected error (poison): reads of the line fail with it.
  void inject_poison(uint64_t pa);
  // A correctable error: reads return good data and log a CE.
  void inject_corrected(uint64_t pa);
  // Clears either kind of error at the line; false when it held none.
  bool clear_poison(uint64_t pa);
  bool is_poisoned(uint64_t pa, uint64_t len) const;
  bool is_corrected(uint64_t pa, uint64_t len) const;
  const std::set<uint64_t>& poisoned_lines() const { return poison_; }
  const std::set<uint64_t>& corrected_lines() const { return corrected_; }
  // Where corrected reads and changes of the error sets are reported (the RAS model).
  void set_error_sink(MemoryErrorSink* sink) { errors_ = sink; }

  // Raw host view for debuggers and monitors (no latency, no poison check).
  uint8_t* host(uint64_t pa) { return mem_ + (pa - p_.base); }

  struct Stats : sim::stats::Group {
    Stats(sim::stats::Group* parent, const std::string& name);
    sim::stats::Scalar reads{this, "reads", "Read transactions (DMI accesses are not seen)", "Count"};
    sim::stats::Scalar writes{this, "writes", "Write transactions (DMI accesses are not seen)", "Count"};
    sim::stats::Scalar bytes_read{this, "bytesRead", "Bytes read by transactions", "Byte"};
    sim::stats::Scalar bytes_written{this, "bytesWritten", "Bytes written by transactions", "Byte"};
    sim::stats::Scalar dmi_grants{this, "dmiGrants", "DMI regions granted", "Count"};
    sim::stats::Scalar dmi_invalidations{this, "dmiInvalidations", "DMI invalidations sent", "Count"};
    sim::stats::Scalar poison_injected{this, "poisonInjected", "Cache lines poisoned", "Count"};
    sim::stats::Scalar poison_consumed{this, "poisonConsumed", "Reads that touched poison", "Count"};
    sim::stats::Scalar ce_injected{this, "correctableInjected", "Cache lines given a correctable error", "Count"};
    sim::stats::Scalar ce_reads{this, "correctedReads", "Reads that corrected a correctable error", "Count"};
    sim::stats::Scalar locked_rmw{this, "lockedRmw", "Bus-locked read-modify-writes", "Count"};
    sim::stats::Scalar lock_waits{this, "lockWaits", "Accesses that waited for another initiator's bus lock", "Count"};
  } stats;

 private:
  // The model's name in debug lines: as stats.txt names it (system.mem.node0),
  // not its SystemC name (system.node0).
  const std::string who_ = stats.path();
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi);
  unsigned int transport_dbg(tlm::tlm_generic_payload& trans);

  unsigned source_node(tlm::tlm_generic_payload& trans) const;
  bool line_locked(uint64_t pa, uint64_t len) const;
  void block_page(uint64_t page);    // carve a page out of DMI
  void unblock_page(uint64_t page);  // if nothing keeps it blocked
  bool page_needs_block(uint64_t page) const;

  Params p_;
  uint8_t* mem_ = nullptr;
  std::set<uint64_t> poison_;           // poisoned line addresses
  std::set<uint64_t> corrected_;        // lines with a correctable error
  MemoryErrorSink* errors_ = nullptr;
  std::map<uint64_t, int> locks_;       // locked line address -> initiator
  std::set<uint64_t> blocked_pages_;    // page numbers withheld from DMI
  sc_core::sc_event unlocked_;
  // Adds `line` to `lines` and withholds its page from DMI; false when it was there.
  bool add_error_line(std::set<uint64_t>& lines, uint64_t pa);
  void register_commands();  // the monitor's `poison`, `unpoison`: hw/mem/dram_monitor.cpp
  sim::Commands commands_;
};

}  // namespace hw
