#include "hw/dma/dma_checker.h"

#include <fmt/format.h>
#include <tlm_utils/simple_target_socket.h>

#include <algorithm>
#include <cstring>
#include <ostream>
#include <stdexcept>

#include "hw/base/debug.h"
#include "hw/base/time.h"
#include "hw/ext/dma.h"

SIM_DECLARE_DEBUG_FLAG(DMA)

namespace hw {

using sc_core::sc_time;

// One device's port: its socket, the ranges mapped for it, its statistics.
struct DmaChecker::Port {
  struct Stats : sim::stats::Group {
    Stats(sim::stats::Group* parent, const std::string& name) : sim::stats::Group(parent, name) {}
    sim::stats::Scalar transactions{this, "transactions", "Transactions the device initiated", "Count"};
    sim::stats::Scalar bytes{this, "bytes", "Bytes those transactions moved", "Byte"};
    sim::stats::Scalar beyond_width{this, "errorsBeyondWidth",
                                    "Transactions beyond the device's width (answered with an address error)", "Count"};
    sim::stats::Scalar violations{this, "violations", "Transactions outside every range mapped for the device",
                                  "Count"};
  };

  Port(DmaChecker* c, const sim::DeviceInfo& d, int tag, sim::stats::Group* parent)
      : dev(d), socket(fmt::format("port_{}", d.name).c_str()), stats(parent, d.name) {
    socket.register_b_transport(c, &DmaChecker::b_transport, tag);
    socket.register_transport_dbg(c, &DmaChecker::transport_dbg, tag);
  }

  // True when [addr, addr+len) lies within the union of the mapped ranges.
  bool covered(uint64_t addr, uint64_t len) const {
    auto it = cover.upper_bound(addr);
    if (it == cover.begin()) return false;
    --it;
    return addr + len <= it->second && addr + len >= addr;
  }
  void rebuild() {
    cover.clear();
    for (const auto& [start, end] : ranges) {
      if (!cover.empty()) {
        auto last = std::prev(cover.end());
        if (start <= last->second) {
          last->second = std::max(last->second, end);
          continue;
        }
      }
      cover.emplace(start, end);
    }
  }
  // The mapped range nearest to addr, described.
  std::string nearest(uint64_t addr) const {
    if (cover.empty()) return "nothing is mapped for it";
    auto above = cover.upper_bound(addr);  // the first range starting past addr
    std::string best;
    uint64_t dist = ~0ull;
    if (above != cover.end()) {
      dist = above->first - addr;
      best = fmt::format("nearest mapping [{:#x}, {:#x}), {:#x} bytes above", above->first, above->second, dist);
    }
    if (above != cover.begin()) {
      const auto below = std::prev(above);
      const uint64_t d = addr >= below->second ? addr - below->second + 1 : 0;
      if (d <= dist)
        best = d ? fmt::format("nearest mapping [{:#x}, {:#x}), {:#x} bytes below", below->first, below->second, d)
                 : fmt::format("runs past the end of the mapping [{:#x}, {:#x})", below->first, below->second);
    }
    return best;
  }

  sim::DeviceInfo dev;
  tlm_utils::simple_target_socket_tagged<DmaChecker> socket;
  std::multimap<uint64_t, uint64_t> ranges;  // start -> end, one entry per map
  std::map<uint64_t, uint64_t> cover;        // their union
  Stats stats;
};

DmaChecker::Params DmaChecker::read_params(sim::ConfigNode c) {
  Params p;
  p.expect_violations = c.get<bool>(
      "expect_violations", false,
      "The scenario provokes DMA to memory not mapped for the device: the run fails when the checker finds none "
      "(otherwise it fails when it finds any)");
  return p;
}

DmaChecker::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "checker") {}

DmaChecker::DmaChecker(sc_core::sc_module_name name, const Params& p, sim::stats::Group* stats_parent,
                       const std::vector<sim::DeviceInfo>& masters)
    : sc_module(name), mmio("mmio"), to_bus("to_bus"), stats(stats_parent), p_(p) {
  mmio.register_b_transport(this, &DmaChecker::channel);
  for (const sim::DeviceInfo& d : masters)
    ports_.push_back(std::make_unique<Port>(this, d, static_cast<int>(ports_.size()), &stats));
  register_commands();
}

DmaChecker::~DmaChecker() = default;

tlm::tlm_target_socket<>& DmaChecker::port(unsigned device_id) {
  Port* p = port_of(device_id);
  if (!p) throw std::logic_error(fmt::format("{}: no port for device {}", name(), device_id));
  return p->socket;
}

DmaChecker::Port* DmaChecker::port_of(unsigned device_id) {
  for (auto& p : ports_)
    if (p->dev.id == device_id) return p.get();
  return nullptr;
}

void DmaChecker::allow(unsigned device_id, uint64_t base, uint64_t size) {
  ++stats.map_requests;
  Port* p = port_of(device_id);
  if (!p || size == 0) return;
  p->ranges.emplace(base, base + size);
  p->rebuild();
}

void DmaChecker::revoke(unsigned device_id, uint64_t base, uint64_t size) {
  ++stats.unmap_requests;
  Port* p = port_of(device_id);
  if (!p) return;
  auto [lo, hi] = p->ranges.equal_range(base);
  for (auto it = lo; it != hi; ++it)
    if (it->second == base + size) {
      p->ranges.erase(it);
      p->rebuild();
      return;
    }
  ++stats.bad_unmaps;
  DPRINTF(DMA, sim::now_ps(), who_.c_str(), "{}: unmap of [{:#x}, {:#x}), which is not mapped for it", p->dev.name,
          base, base + size);
}

void DmaChecker::command(uint64_t cmd) {
  const unsigned dev = static_cast<unsigned>(reg_device_);
  switch (cmd) {
    case kCmdMap:
      allow(dev, reg_addr_, reg_size_);
      break;
    case kCmdUnmap:
      revoke(dev, reg_addr_, reg_size_);
      break;
    case kCmdUnmapAll:
      if (Port* p = port_of(dev)) {
        p->ranges.clear();
        p->cover.clear();
      }
      break;
    default:
      break;
  }
}

void DmaChecker::channel(tlm::tlm_generic_payload& trans, sc_time&) {
  const uint64_t off = trans.get_address() - p_.mmio_base;
  if (trans.get_data_length() != 8 || (off & 7)) {
    trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  uint64_t v = 0;
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
  if (trans.is_write()) {
    std::memcpy(&v, trans.get_data_ptr(), 8);
    switch (off) {
      case kRegDevice:
        reg_device_ = v;
        return;
      case kRegAddr:
        reg_addr_ = v;
        return;
      case kRegSize:
        reg_size_ = v;
        return;
      case kRegCmd:
        command(v);
        return;
      default:
        break;
    }
  } else if (off == kRegViolations || off == kRegRanges) {
    const Port* p = port_of(static_cast<unsigned>(reg_device_));
    v = off == kRegViolations ? violations() : p ? p->ranges.size() : 0;
    std::memcpy(trans.get_data_ptr(), &v, 8);
    return;
  }
  trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

void DmaChecker::violation(Port& p, bool write, uint64_t addr, unsigned len, const sc_time& delay) {
  ++p.stats.violations;
  const std::string what = fmt::format("{} {} of {} bytes at {:#x}, not mapped for it ({})", p.dev.name,
                                       write ? "write" : "read", len, addr, p.nearest(addr));
  if (kept_.size() < kKeptViolations) kept_.push_back(what);
  DPRINTF(DMA, sim::now_ps(delay), who_.c_str(), "violation: {}", what);
}

void DmaChecker::b_transport(int id, tlm::tlm_generic_payload& trans, sc_time& delay) {
  Port& p = *ports_[static_cast<size_t>(id)];
  const uint64_t addr = trans.get_address();
  const unsigned len = trans.get_data_length();
  ++p.stats.transactions;
  const bool fits = p.dev.addr_bits >= 64 ? addr + len >= addr
                                          : addr < (1ull << p.dev.addr_bits) && len <= (1ull << p.dev.addr_bits) - addr;
  if (!fits) {
    ++p.stats.beyond_width;
    DPRINTF(DMA, sim::now_ps(delay), who_.c_str(), "{}: access at {:#x} beyond its {}-bit width", p.dev.name, addr,
            p.dev.addr_bits);
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  if (!p.covered(addr, len)) {
    violation(p, trans.is_write(), addr, len, delay);
    DmaCheckExtension* ext = nullptr;
    trans.get_extension(ext);
    if (ext) ext->violation = true;
  }
  to_bus->b_transport(trans, delay);
  if (trans.is_response_ok()) p.stats.bytes += len;
}

unsigned DmaChecker::transport_dbg(int, tlm::tlm_generic_payload& trans) { return to_bus->transport_dbg(trans); }

uint64_t DmaChecker::violations() const {
  uint64_t n = 0;
  for (const auto& p : ports_) n += p->stats.violations.value();
  return n;
}

std::string DmaChecker::end_of_run_problem() const {
  const uint64_t n = violations();
  if (p_.expect_violations)
    return n ? "" : "the DMA checker found no violation, but the scenario expects some (platform.dma_checker)";
  if (!n) return "";
  // One line, as every error is: the first violation; --debug-flags=DMA
  // and the monitor's `dmacheck` show the others.
  return fmt::format("the DMA checker found {} DMA violation(s); first: {} (all: --debug-flags=DMA)", n,
                     kept_.empty() ? "not kept" : kept_.front());
}

std::string DmaChecker::summary() const {
  const uint64_t n = violations();
  if (!n && !p_.expect_violations) return "";
  std::string out = fmt::format("DMA checker: {} violation(s){}", n, p_.expect_violations ? " (expected)" : "");
  if (!kept_.empty()) out += "; first: " + kept_.front();
  return out;
}

void DmaChecker::register_commands() {
  sim::Command c;
  c.name = "dmacheck";
  c.usage = "dmacheck";
  c.help =
      "the bus-side DMA checker: per device its width, transactions,\n"
      "violations and the ranges the firmware has mapped for it";
  c.run = [this](const sim::CommandCall& call) {
    for (const auto& p : ports_) {
      call.out << fmt::format("{}: {}-bit, {} transactions, {} beyond its width, {} violations, {} mapped range(s)\n",
                              p->dev.name, p->dev.addr_bits, p->stats.transactions.value(),
                              p->stats.beyond_width.value(), p->stats.violations.value(), p->ranges.size());
      size_t shown = 0;
      for (const auto& [start, end] : p->ranges) {
        if (++shown > 32) {
          call.out << fmt::format("  ... {} more\n", p->ranges.size() - 32);
          break;
        }
        call.out << fmt::format("  [{:#x}, {:#x}) {} bytes\n", start, end, end - start);
      }
    }
    for (const std::string& k : kept_) call.out << "violation: " << k << '\n';
  };
  commands_.add(std::move(c));
}

}  // namespace hw
