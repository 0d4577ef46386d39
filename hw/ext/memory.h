// Extensions on memory transactions: poison reported by DRAM, and the bus
// lock of a locked read-modify-write (page walker A/D updates); and the
// interface through which DRAM tells the RAS model (hw/ras) about errors.
#pragma once

#include <cstdint>
#include <tlm>

namespace hw {

// Poison reporting. An initiator that must tell poison from other errors
// attaches its own PoisonExtension (poisoned = false) to the request; when the
// access touches poisoned memory, DRAM answers TLM_GENERIC_ERROR_RESPONSE and
// sets `poisoned`, `pa` and `action_required` in that extension. Targets never
// allocate extensions; the data of a poisoned read is not valid.
class PoisonExtension : public tlm::tlm_extension<PoisonExtension> {
 public:
  bool poisoned = false;
  uint64_t pa = 0;               // first poisoned byte the access touched
  bool action_required = true;   // consumed by the access (SRAR); false: found by a scrub (SRAO)

  void clear() { poisoned = false; pa = 0; action_required = true; }
  tlm::tlm_extension_base* clone() const override { return new PoisonExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const PoisonExtension&>(other);
  }
};

// Who hears about memory errors that complete without an error response:
// DRAM calls it when a read corrected an injected correctable error (the
// memory controller logs a CE) and when an error is injected or cleared (a
// patrol scrubber re-plans its walk). The RAS model implements it.
class MemoryErrorSink {
 public:
  virtual void corrected_read(uint64_t line_pa) = 0;
  virtual void errors_changed() = 0;

 protected:
  ~MemoryErrorSink() = default;
};

// A locked read takes the bus lock on its address; the write that follows
// (from the same initiator, same address) releases it. While locked, other
// accesses to that line wait and DMI to its page is withheld.
class LockExtension : public tlm::tlm_extension<LockExtension> {
 public:
  enum class Op : uint8_t { lock_read, unlock_write };
  Op op = Op::lock_read;
  int initiator = -1;  // who holds the lock (any stable id)

  tlm::tlm_extension_base* clone() const override { return new LockExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const LockExtension&>(other);
  }
};

// Set by the interconnect on the way to a target: the NUMA node of the
// initiator, so memory can charge the distance-scaled latency (for
// transactions and for the DMI grants that initiator caches).
class SourceExtension : public tlm::tlm_extension<SourceExtension> {
 public:
  unsigned node = 0;

  tlm::tlm_extension_base* clone() const override { return new SourceExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const SourceExtension&>(other);
  }
};

}  // namespace hw
