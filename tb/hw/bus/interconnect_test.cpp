// The interconnect (hw/bus/interconnect) alone, between stub initiators and
// stub targets: address decoding, address errors, DMI forwarding clipped to
// the decoded region, DMI invalidation broadcast, NUMA node tagging, latency
// annotation, debug transport.
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "hw/bus/interconnect.h"
#include "hw/ext/memory.h"

namespace hw {
namespace {

using sc_core::SC_NS;
using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

// A target of `size` bytes from `base` (addresses reach it unchanged) that
// records what reaches it and grants DMI over all of itself.
struct StubTarget : sc_core::sc_module {
  tlm_utils::simple_target_socket<StubTarget> socket{"socket"};
  uint64_t base;
  std::vector<uint8_t> mem;
  sc_time latency = sc_time(20, SC_NS);
  unsigned calls = 0, dbg_calls = 0;
  uint64_t last_addr = 0;
  int last_node = -1;  // from the SourceExtension, -1 when none came

  StubTarget(sc_core::sc_module_name n, uint64_t b, uint64_t size) : sc_module(n), base(b), mem(size) {
    socket.register_b_transport(this, &StubTarget::b_transport);
    socket.register_get_direct_mem_ptr(this, &StubTarget::get_dmi);
    socket.register_transport_dbg(this, &StubTarget::dbg);
  }
  static int node_of(tlm::tlm_generic_payload& t) {
    SourceExtension* s = nullptr;
    t.get_extension(s);
    return s ? static_cast<int>(s->node) : -1;
  }
  void b_transport(tlm::tlm_generic_payload& t, sc_time& d) {
    ++calls;
    last_addr = t.get_address();
    last_node = node_of(t);
    uint8_t* p = &mem[t.get_address() - base];
    if (t.is_write())
      std::memcpy(p, t.get_data_ptr(), t.get_data_length());
    else
      std::memcpy(t.get_data_ptr(), p, t.get_data_length());
    d += latency;
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  bool get_dmi(tlm::tlm_generic_payload& t, tlm::tlm_dmi& dmi) {
    last_node = node_of(t);
    dmi.set_dmi_ptr(mem.data());
    dmi.set_start_address(base);
    dmi.set_end_address(base + mem.size() - 1);
    dmi.allow_read_write();
    dmi.set_read_latency(latency);
    dmi.set_write_latency(latency);
    return true;
  }
  unsigned dbg(tlm::tlm_generic_payload& t) {
    ++dbg_calls;
    uint8_t* p = &mem[t.get_address() - base];
    if (t.is_write())
      std::memcpy(p, t.get_data_ptr(), t.get_data_length());
    else
      std::memcpy(t.get_data_ptr(), p, t.get_data_length());
    return t.get_data_length();
  }
};

// An initiator that issues 8-byte accesses and records DMI invalidations.
struct StubInitiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<StubInitiator> socket{"socket"};
  std::vector<std::pair<uint64_t, uint64_t>> invalidations;
  explicit StubInitiator(sc_core::sc_module_name n) : sc_module(n) {
    socket.register_invalidate_direct_mem_ptr(this, &StubInitiator::invalidate);
  }
  void invalidate(sc_dt::uint64 start, sc_dt::uint64 end) { invalidations.emplace_back(start, end); }
  tlm::tlm_response_status access(uint64_t addr, uint64_t& data, bool write, sc_time& delay, unsigned len = 8) {
    tlm::tlm_generic_payload t;
    t.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    t.set_address(addr);
    t.set_data_ptr(reinterpret_cast<unsigned char*>(&data));
    t.set_data_length(len);
    t.set_streaming_width(len);
    t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    socket->b_transport(t, delay);
    return t.get_response_status();
  }
  bool dmi(uint64_t addr, tlm::tlm_dmi& out) {
    tlm::tlm_generic_payload t;
    t.set_command(tlm::TLM_READ_COMMAND);
    t.set_address(addr);
    return socket->get_direct_mem_ptr(t, out);
  }
};

// Two initiators; two targets: `low` [0, 1 MiB) owning a second region at
// [2 MiB, 3 MiB) too, and `high` [256 MiB, +64 KiB). The bus adds 5 ns.
constexpr uint64_t kMiB = 1ull << 20, kHigh = 256 * kMiB;

struct Bench {
  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", sc_time(5, SC_NS), &root};
  StubTarget low{"low", 0, 3 * kMiB}, high{"high", kHigh, 64 << 10};
  StubInitiator a{"a"}, b{"b"};
  Bench() {
    bus.to_targets.bind(low.socket);
    bus.to_targets.bind(high.socket);
    bus.add_region(0, 0, kMiB, "low");
    bus.add_region(1, kHigh, 64 << 10, "high");
    bus.add_region(0, 2 * kMiB, kMiB, "low2");
    a.socket.bind(bus.from_initiators);
    b.socket.bind(bus.from_initiators);
    sc_core::sc_start(SC_ZERO_TIME);
  }
};

TEST(Interconnect, DecodesEachAddressToItsTarget) {
  Bench t;
  sc_time d = SC_ZERO_TIME;
  uint64_t v = 0x1111;
  EXPECT_EQ(t.a.access(kHigh + 0x40, v, true, d), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(t.high.calls, 1u);
  EXPECT_EQ(t.high.last_addr, kHigh + 0x40) << "addresses pass through unchanged";
  EXPECT_EQ(t.low.calls, 0u);
  v = 0x2222;
  EXPECT_EQ(t.a.access(2 * kMiB + 8, v, true, d), tlm::TLM_OK_RESPONSE);  // low's second region
  EXPECT_EQ(t.low.calls, 1u);
  EXPECT_EQ(t.low.last_addr, 2 * kMiB + 8);
  uint64_t r = 0;
  EXPECT_EQ(t.b.access(kHigh + 0x40, r, false, d), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(r, 0x1111u);
  EXPECT_EQ(t.bus.decode(kMiB + 5), nullptr);
  ASSERT_NE(t.bus.decode(2 * kMiB), nullptr);
  EXPECT_EQ(t.bus.decode(2 * kMiB)->name, "low2");
  EXPECT_EQ(t.bus.stats.transactions.value(), 3u);
}

TEST(Interconnect, UnmappedOrStraddlingAccessIsAnAddressError) {
  Bench t;
  sc_time d = SC_ZERO_TIME;
  uint64_t v = 0;
  EXPECT_EQ(t.a.access(kMiB + 0x100, v, false, d), tlm::TLM_ADDRESS_ERROR_RESPONSE);       // the hole
  EXPECT_EQ(t.a.access(kHigh + (64 << 10), v, true, d), tlm::TLM_ADDRESS_ERROR_RESPONSE);  // just past high
  EXPECT_EQ(t.a.access(kMiB - 4, v, false, d), tlm::TLM_ADDRESS_ERROR_RESPONSE);           // runs off low's end
  EXPECT_EQ(t.low.calls + t.high.calls, 0u) << "no target sees an access it does not decode";
  EXPECT_EQ(d, SC_ZERO_TIME) << "a decode error costs no bus latency";
  EXPECT_EQ(t.bus.stats.decode_errors.value(), 3u);
  EXPECT_THROW(t.bus.add_region(1, kMiB - 4096, 8192, "overlap"), std::invalid_argument);
  EXPECT_THROW(t.bus.add_region(1, 8 * kMiB, 0, "empty"), std::invalid_argument);
}

TEST(Interconnect, DmiIsForwardedClippedToTheDecodedRegion) {
  Bench t;
  tlm::tlm_dmi dmi;
  // low grants all of its 3 MiB; the bus clips the grant to the region asked about.
  ASSERT_TRUE(t.a.dmi(2 * kMiB + 0x1234, dmi));
  EXPECT_EQ(dmi.get_start_address(), 2 * kMiB);
  EXPECT_EQ(dmi.get_end_address(), 3 * kMiB - 1);
  EXPECT_EQ(dmi.get_dmi_ptr(), t.low.mem.data() + 2 * kMiB) << "the pointer follows the clipped start";
  EXPECT_EQ(dmi.get_read_latency(), sc_time(25, SC_NS)) << "the target's latency plus the hop";
  EXPECT_EQ(dmi.get_write_latency(), sc_time(25, SC_NS));
  ASSERT_TRUE(t.a.dmi(0x10, dmi));
  EXPECT_EQ(dmi.get_start_address(), 0u);
  EXPECT_EQ(dmi.get_end_address(), kMiB - 1);
  EXPECT_FALSE(t.a.dmi(kMiB + 0x10, dmi)) << "nothing decodes the hole";
  EXPECT_EQ(t.bus.stats.dmi_requests.value(), 3u);
}

TEST(Interconnect, DmiInvalidationIsBroadcastToEveryInitiator) {
  Bench t;
  t.high.socket->invalidate_direct_mem_ptr(kHigh + 0x1000, kHigh + 0x1fff);
  const std::vector<std::pair<uint64_t, uint64_t>> want = {{kHigh + 0x1000, kHigh + 0x1fff}};
  EXPECT_EQ(t.a.invalidations, want);
  EXPECT_EQ(t.b.invalidations, want);
  t.low.socket->invalidate_direct_mem_ptr(0, ~0ull);
  const std::vector<std::pair<uint64_t, uint64_t>> both = {want[0], {0, ~0ull}};
  EXPECT_EQ(t.a.invalidations, both);
  EXPECT_EQ(t.b.invalidations, both);
}

TEST(Interconnect, TransactionsCarryTheirInitiatorsNode) {
  Bench t;
  t.bus.set_initiator_node(1, 3);  // b, the second initiator bound
  sc_time d = SC_ZERO_TIME;
  uint64_t v = 0;
  t.a.access(0x100, v, false, d);
  EXPECT_EQ(t.low.last_node, 0) << "an initiator without a node is on node 0";
  t.b.access(0x100, v, false, d);
  EXPECT_EQ(t.low.last_node, 3);
  tlm::tlm_dmi dmi;
  t.b.dmi(kHigh, dmi);
  EXPECT_EQ(t.high.last_node, 3) << "DMI requests are tagged too (memory scales their latency)";
  // A transaction that already carries a node (forwarded by another bus) keeps it.
  tlm::tlm_generic_payload p;
  SourceExtension src;
  src.node = 6;
  p.set_extension(&src);
  p.set_command(tlm::TLM_READ_COMMAND);
  p.set_address(0x100);
  p.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
  p.set_data_length(8);
  p.set_streaming_width(8);
  t.b.socket->b_transport(p, d);
  p.clear_extension(&src);
  EXPECT_EQ(t.low.last_node, 6);
}

TEST(Interconnect, AnnotatesItsLatencyOnTopOfTheTargets) {
  Bench t;
  sc_time d = sc_time(100, SC_NS);
  uint64_t v = 0;
  t.a.access(kHigh, v, false, d);
  EXPECT_EQ(d, sc_time(125, SC_NS)) << "the initiator's offset, the hop, the target";
  EXPECT_EQ(sc_core::sc_time_stamp(), SC_ZERO_TIME) << "loosely timed: annotated, not waited";
}

TEST(Interconnect, DebugTransportGoesThroughTheMapWithoutTiming) {
  Bench t;
  const uint64_t w = 0x0123456789abcdefull;
  EXPECT_EQ(t.bus.debug_write(kHigh + 0x80, &w, 8), 8u);
  uint64_t r = 0;
  EXPECT_EQ(t.bus.debug_read(kHigh + 0x80, &r, 8), 8u);
  EXPECT_EQ(r, w);
  EXPECT_EQ(t.high.dbg_calls, 2u);
  EXPECT_EQ(t.bus.debug_read(kMiB + 0x80, &r, 8), 0u) << "nothing decodes the hole";
  EXPECT_EQ(t.high.calls, 0u) << "debug accesses are not transactions";
  EXPECT_EQ(t.bus.stats.transactions.value(), 0u);
}

}  // namespace
}  // namespace hw
