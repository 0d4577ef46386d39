// A small TLM memory for the RTL walker tests: sparse 8-byte words, error
// and poison injection, the bus lock (checked: a write must be the release
// of the lock taken by the locked read before it), a hook that lets a test
// change an entry at the moment the walker's locked read reaches it, and a
// log of every access.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "hw/ext/memory.h"

namespace rtltest {

class TestMemory : public sc_core::sc_module {
 public:
  struct Access {
    uint64_t addr;
    bool write;
    bool lock;        // lock_read or unlock_write
    uint64_t data;    // read: returned; write: written
    bool failed;      // error or poison response
  };

  tlm_utils::simple_target_socket<TestMemory> socket{"socket"};

  // Contents: unwritten words read as 0.
  std::map<uint64_t, uint64_t> words;
  // Word addresses answering TLM_ADDRESS_ERROR_RESPONSE.
  std::set<uint64_t> error_words;
  // 64-byte lines answering TLM_GENERIC_ERROR_RESPONSE with the poison
  // extension set (reads only; as DRAM, writes go through).
  std::set<uint64_t> poison_lines;
  // Called when a locked read arrives, before it is served: may change memory.
  std::function<void(TestMemory&, uint64_t addr)> on_locked_read;
  // Latency added to every access's delay.
  sc_core::sc_time latency = sc_core::SC_ZERO_TIME;

  std::vector<Access> log;
  std::vector<std::string> protocol_errors;  // lock misuse seen
  bool locked = false;
  uint64_t lock_addr = 0;
  int lock_owner = -1;

  explicit TestMemory(sc_core::sc_module_name name) : sc_module(name) {
    socket.register_b_transport(this, &TestMemory::b_transport);
  }

  uint64_t& word(uint64_t addr) { return words[addr]; }
  uint64_t peek(uint64_t addr) const {
    auto it = words.find(addr);
    return it == words.end() ? 0 : it->second;
  }
  void poison(uint64_t addr) { poison_lines.insert(addr & ~63ull); }
  bool poisoned(uint64_t addr) const { return poison_lines.count(addr & ~63ull) != 0; }

  unsigned count(bool write, bool lock) const {
    unsigned n = 0;
    for (const Access& a : log) n += (a.write == write && a.lock == lock);
    return n;
  }

 private:
  void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    const uint64_t addr = t.get_address();
    const bool write = t.is_write();
    delay += latency;
    hw::LockExtension* lock = nullptr;
    t.get_extension(lock);
    hw::PoisonExtension* pext = nullptr;
    t.get_extension(pext);
    if (t.get_data_length() != 8 || (addr & 7) || t.get_byte_enable_ptr() || t.get_streaming_width() != 8) {
      protocol_errors.push_back(fmt::format("bad access shape at {:#x}", addr));
      t.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
      return;
    }
    const bool lock_read = lock && lock->op == hw::LockExtension::Op::lock_read;
    const bool unlock_write = lock && lock->op == hw::LockExtension::Op::unlock_write;
    if (lock_read && write) protocol_errors.push_back(fmt::format("lock_read on a write at {:#x}", addr));
    if (unlock_write && !write) protocol_errors.push_back(fmt::format("unlock_write on a read at {:#x}", addr));
    if (write && !unlock_write) protocol_errors.push_back(fmt::format("write without the lock at {:#x}", addr));
    if (!write && locked) protocol_errors.push_back(fmt::format("read at {:#x} while holding the lock", addr));
    if (unlock_write && (!locked || lock_addr != addr || lock_owner != lock->initiator))
      protocol_errors.push_back(fmt::format("unlock_write at {:#x} without the lock on it", addr));

    uint64_t* data = reinterpret_cast<uint64_t*>(t.get_data_ptr());
    if (lock_read && on_locked_read) on_locked_read(*this, addr);
    if (error_words.count(addr)) {
      t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      log.push_back({addr, write, lock != nullptr, write ? *data : 0, true});
      if (unlock_write) locked = false;
      return;
    }
    if (!write && poisoned(addr)) {
      if (pext) {
        pext->poisoned = true;
        pext->pa = addr;
        pext->action_required = true;
      }
      t.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
      log.push_back({addr, false, lock != nullptr, 0, true});
      return;
    }
    if (write) {
      words[addr] = *data;
    } else {
      *data = peek(addr);
    }
    log.push_back({addr, write, lock != nullptr, *data, false});
    if (lock_read) {
      if (locked) protocol_errors.push_back(fmt::format("nested lock at {:#x}", addr));
      locked = true;
      lock_addr = addr;
      lock_owner = lock->initiator;
    }
    if (unlock_write) locked = false;
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

}  // namespace rtltest
