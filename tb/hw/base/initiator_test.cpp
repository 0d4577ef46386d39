// The base layer's TLM helpers: the DMI cache (lookups, the last-hit memo,
// grants replacing what they cover, invalidation), the initiator socket
// (transactions with per-call and attached extensions, debug transport,
// DMI requests and invalidations) against a stub target, and the time
// conversions every model uses.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <systemc>
#include <tlm_utils/simple_target_socket.h>

#include "hw/base/dmi_cache.h"
#include "hw/base/initiator.h"
#include "hw/base/time.h"

namespace {

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_PS;
using sc_core::SC_ZERO_TIME;

unsigned char g_backing[0x4000];

tlm::tlm_dmi region(uint64_t start, uint64_t end,
                    tlm::tlm_dmi::dmi_access_e access = tlm::tlm_dmi::DMI_ACCESS_READ_WRITE) {
  tlm::tlm_dmi d;
  d.set_start_address(start);
  d.set_end_address(end);
  d.set_dmi_ptr(g_backing + start);
  d.set_granted_access(access);
  d.set_read_latency(sc_time(static_cast<double>(start), SC_PS));
  return d;
}

// ---- DmiCache ----------------------------------------------------------------------

TEST(DmiCache, FindsTheRegionHoldingTheWholeRangeWithTheAccess) {
  sim::DmiCache c;
  EXPECT_EQ(c.find(0x100), nullptr);
  c.insert(region(0x1000, 0x1fff));
  c.insert(region(0x3000, 0x3fff, tlm::tlm_dmi::DMI_ACCESS_READ));
  ASSERT_NE(c.find(0x1000, 8), nullptr);
  EXPECT_EQ(c.find(0x1000, 8)->get_start_address(), 0x1000u);
  EXPECT_EQ(c.find(0x1ff8, 8)->get_start_address(), 0x1000u);
  EXPECT_EQ(c.find(0x1ff9, 8), nullptr) << "the range runs past the region";
  EXPECT_EQ(c.find(0x2000), nullptr);
  EXPECT_NE(c.find(0x3000, 8, tlm::tlm_dmi::DMI_ACCESS_READ), nullptr);
  EXPECT_EQ(c.find(0x3000, 8, tlm::tlm_dmi::DMI_ACCESS_WRITE), nullptr) << "a read-only grant";
  EXPECT_EQ(c.host(0x1010, 8, tlm::tlm_dmi::DMI_ACCESS_WRITE), g_backing + 0x1010);
  EXPECT_EQ(c.host(0x3010, 8, tlm::tlm_dmi::DMI_ACCESS_WRITE), nullptr);
}

TEST(DmiCache, TheLastHitIsTriedFirstAndOthersStillAnswer) {
  sim::DmiCache c;
  c.insert(region(0x0000, 0x0fff));
  c.insert(region(0x1000, 0x1fff));
  c.insert(region(0x2000, 0x2fff));
  for (uint64_t a : {0x0010u, 0x2010u, 0x2018u, 0x1000u, 0x0ff8u, 0x1ff8u})
    EXPECT_EQ(c.find(a, 8)->get_start_address(), a & ~0xfffull) << std::hex << a;
}

TEST(DmiCache, AGrantReplacesTheRegionsItCoversOnly) {
  sim::DmiCache c;
  c.insert(region(0x1000, 0x1fff));
  c.insert(region(0x3000, 0x3fff));
  c.insert(region(0x2800, 0x37ff));  // overlaps the second in part: both stay
  ASSERT_EQ(c.regions().size(), 3u);
  const tlm::tlm_dmi& big = c.insert(region(0x0000, 0x2fff));  // covers the first
  EXPECT_EQ(big.get_start_address(), 0u);
  ASSERT_EQ(c.regions().size(), 3u);
  EXPECT_EQ(c.find(0x1800)->get_start_address(), 0u) << "the newer, larger grant answers";
  EXPECT_EQ(c.find(0x3900)->get_start_address(), 0x3000u);
}

TEST(DmiCache, InvalidationDropsEveryOverlappingRegion) {
  sim::DmiCache c;
  c.insert(region(0x0000, 0x0fff));
  c.insert(region(0x1000, 0x1fff));
  c.insert(region(0x2000, 0x2fff));
  EXPECT_NE(c.find(0x1008), nullptr);  // the memo points into what goes
  c.invalidate(0x0ff0, 0x1007);
  EXPECT_EQ(c.find(0x0008), nullptr);
  EXPECT_EQ(c.find(0x1008), nullptr);
  ASSERT_NE(c.find(0x2008), nullptr);
  EXPECT_EQ(c.regions().size(), 1u);
  c.clear();
  EXPECT_EQ(c.find(0x2008), nullptr);
}

// ---- InitiatorSocket ---------------------------------------------------------------

struct Tag : tlm::tlm_extension<Tag> {
  int value = 0;
  int seen = 0;  // set by the target
  tlm::tlm_extension_base* clone() const override { return new Tag(*this); }
  void copy_from(const tlm::tlm_extension_base& o) override { *this = static_cast<const Tag&>(o); }
};
struct Mark : tlm::tlm_extension<Mark> {
  int calls = 0;
  tlm::tlm_extension_base* clone() const override { return new Mark(*this); }
  void copy_from(const tlm::tlm_extension_base& o) override { *this = static_cast<const Mark&>(o); }
};

// 4 KiB of memory at 0x1000 with a 10 ns latency; DMI for [0x1000, 0x17ff]
// only; a read of 0x1ff0 answers an error.
struct Target : sc_core::sc_module {
  tlm_utils::simple_target_socket<Target> socket{"socket"};
  unsigned char mem[0x1000] = {};
  unsigned dmi_requests = 0;
  unsigned transactions = 0;
  struct Seen {
    tlm::tlm_command command = tlm::TLM_IGNORE_COMMAND;
    uint64_t address = 0;
    unsigned streaming_width = 0;
    const unsigned char* byte_enable = nullptr;
  } seen;  // the last transaction's attributes
  explicit Target(sc_core::sc_module_name n) : sc_module(n) {
    socket.register_b_transport(this, &Target::b_transport);
    socket.register_get_direct_mem_ptr(this, &Target::get_direct_mem_ptr);
    socket.register_transport_dbg(this, &Target::transport_dbg);
  }
  void b_transport(tlm::tlm_generic_payload& t, sc_time& delay) {
    ++transactions;
    seen = {t.get_command(), t.get_address(), t.get_streaming_width(), t.get_byte_enable_ptr()};
    Tag* tag = t.get_extension<Tag>();
    if (tag) tag->seen = tag->value;
    if (Mark* m = t.get_extension<Mark>()) ++m->calls;
    const uint64_t a = t.get_address();
    if (a == 0x1ff0 || a < 0x1000 || a + t.get_data_length() > 0x2000) {
      t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return;
    }
    if (t.is_read())
      std::memcpy(t.get_data_ptr(), mem + (a - 0x1000), t.get_data_length());
    else
      std::memcpy(mem + (a - 0x1000), t.get_data_ptr(), t.get_data_length());
    delay += sc_time(10, SC_NS);
    t.set_dmi_allowed(a < 0x1800);
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& t, tlm::tlm_dmi& d) {
    ++dmi_requests;
    if (t.get_address() < 0x1000 || t.get_address() >= 0x1800) return false;
    d.set_start_address(0x1000);
    d.set_end_address(0x17ff);
    d.set_dmi_ptr(mem);
    d.set_granted_access(tlm::tlm_dmi::DMI_ACCESS_READ_WRITE);
    d.set_read_latency(sc_time(5, SC_NS));
    return true;
  }
  unsigned transport_dbg(tlm::tlm_generic_payload& t) {
    const uint64_t a = t.get_address();
    if (a < 0x1000 || a + t.get_data_length() > 0x2000) return 0;
    if (t.is_read())
      std::memcpy(t.get_data_ptr(), mem + (a - 0x1000), t.get_data_length());
    else
      std::memcpy(mem + (a - 0x1000), t.get_data_ptr(), t.get_data_length());
    return t.get_data_length();
  }
};

struct Master : sc_core::sc_module {
  sim::InitiatorSocket socket{"socket"};
  explicit Master(sc_core::sc_module_name n) : sc_module(n) {}
};

// One SystemC kernel per process: every test below shares this bench.
struct Bench {
  Target target{"target"};
  Master master{"master"};
  Mark mark;
  std::vector<std::pair<uint64_t, uint64_t>> revoked;
  Bench() {
    master.socket.bind(target.socket);
    master.socket.attach(mark);
    master.socket.on_invalidate([this](uint64_t s, uint64_t e) { revoked.emplace_back(s, e); });
    sc_core::sc_start(SC_ZERO_TIME);
  }
};
Bench& bench() {
  static Bench b;
  return b;
}

TEST(InitiatorSocket, ReadsAndWritesWithTheirExtensionsForTheCallOnly) {
  Bench& b = bench();
  sim::InitiatorSocket& s = b.master.socket;
  const int calls0 = b.mark.calls;
  const uint64_t v = 0x1122334455667788ull;
  sc_time delay = sc_time(1, SC_NS);
  Tag tag;
  tag.value = 7;
  EXPECT_EQ(s.write(0x1100, &v, 8, delay, tag), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(tag.seen, 7) << "the target saw the extension";
  EXPECT_EQ(s.last().get_extension<Tag>(), nullptr) << "detached after the call";
  EXPECT_EQ(delay, sc_time(11, SC_NS));
  EXPECT_EQ(b.target.seen.command, tlm::TLM_WRITE_COMMAND);
  EXPECT_EQ(b.target.seen.streaming_width, 8u);
  EXPECT_EQ(b.target.seen.byte_enable, nullptr);
  uint64_t r = 0;
  EXPECT_EQ(s.read(0x1100, &r, 8, delay), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(r, v);
  EXPECT_TRUE(s.last().is_dmi_allowed());
  EXPECT_EQ(s.read(0x1ff0, &r, 8, delay), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_FALSE(s.last().is_dmi_allowed()) << "the hint is cleared before every call";
  EXPECT_EQ(b.mark.calls, calls0 + 3) << "the attached extension goes with every transaction";
  EXPECT_EQ(s.last().get_extension<Mark>(), &b.mark);
}

TEST(InitiatorSocket, TransportCarriesAnyCommand) {
  Bench& b = bench();
  sc_time delay = SC_ZERO_TIME;
  b.master.socket.transport(tlm::TLM_IGNORE_COMMAND, 0x1200, nullptr, 0, delay);
  EXPECT_EQ(b.target.seen.command, tlm::TLM_IGNORE_COMMAND);
  EXPECT_EQ(b.target.seen.address, 0x1200u);
}

TEST(InitiatorSocket, DebugTransportMovesDataWithoutTime) {
  Bench& b = bench();
  const unsigned before = b.target.transactions;
  const char text[] = "debug";
  EXPECT_EQ(b.master.socket.debug_write(0x1400, text, sizeof text), sizeof text);
  char back[sizeof text] = {};
  EXPECT_EQ(b.master.socket.debug_read(0x1400, back, sizeof back), sizeof back);
  EXPECT_STREQ(back, "debug");
  EXPECT_EQ(b.master.socket.debug_read(0x3000, back, 4), 0u);
  EXPECT_EQ(b.target.transactions, before);
}

TEST(InitiatorSocket, DmiIsRequestedOnceCachedAndDroppedOnInvalidation) {
  Bench& b = bench();
  sim::InitiatorSocket& s = b.master.socket;
  const unsigned before = b.target.dmi_requests;
  const tlm::tlm_dmi* d = s.get_dmi(0x1100, 8, tlm::tlm_dmi::DMI_ACCESS_READ_WRITE);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->get_dmi_ptr(), b.target.mem);
  EXPECT_EQ(s.get_dmi(0x1700, 8, tlm::tlm_dmi::DMI_ACCESS_READ), d) << "from the cache";
  EXPECT_EQ(b.target.dmi_requests, before + 1);
  EXPECT_EQ(s.get_dmi(0x17fc, 8, tlm::tlm_dmi::DMI_ACCESS_READ), nullptr) << "runs past the grant";
  EXPECT_EQ(s.get_dmi(0x1900, 8, tlm::tlm_dmi::DMI_ACCESS_READ), nullptr) << "refused";
  EXPECT_EQ(b.target.dmi_requests, before + 3);
  EXPECT_EQ(s.dmi().regions().size(), 1u);

  b.target.socket->invalidate_direct_mem_ptr(0x1100, 0x1107);
  EXPECT_EQ(s.dmi().find(0x1200), nullptr);
  ASSERT_EQ(b.revoked.size(), 1u);
  EXPECT_EQ(b.revoked[0], std::make_pair(uint64_t{0x1100}, uint64_t{0x1107}));
  EXPECT_NE(s.request_dmi(0x1200), nullptr);
  EXPECT_NE(s.dmi().find(0x1200), nullptr);
}

// ---- Time ------------------------------------------------------------------------

TEST(Time, TicksArePicosecondsAsSystemCComputesThem) {
  for (uint64_t ps : {0ull, 1ull, 999ull, 1000ull, 1500ull, 123456789ull, 1ull << 40}) {
    const sc_time t = sim::from_ps(ps);
    EXPECT_EQ(t, sc_time(static_cast<double>(ps), SC_PS)) << ps;
    EXPECT_EQ(sim::to_ps(t), static_cast<uint64_t>(t / sc_time(1, SC_PS))) << ps;
    EXPECT_EQ(sim::to_ns(t), static_cast<uint64_t>(t / sc_time(1, SC_NS))) << ps;
    // As the walker rounded its latency samples before.
    const double ns_per_unit = 1.0 / sc_time(1, SC_NS).value();
    EXPECT_EQ(sim::to_ns_rounded(t), static_cast<uint64_t>(static_cast<double>(t.value()) * ns_per_unit + 0.5)) << ps;
  }
  EXPECT_EQ(sim::to_ns_rounded(sim::from_ps(1499)), 1u);
  EXPECT_EQ(sim::to_ns_rounded(sim::from_ps(1500)), 2u);
  EXPECT_EQ(sim::from_ns(2.5), sc_time(2500, SC_PS));
  EXPECT_EQ(sim::from_ns(64.0 / 16.0), sc_time(4, SC_NS));
  EXPECT_EQ(sim::period_of(1000000000), sc_time(1, SC_NS));
  EXPECT_EQ(sim::period_of(3000000000), sc_time(333, SC_PS)) << "rounded to the nearest tick";
  EXPECT_EQ(sim::now_ps(sc_time(7, SC_NS)), sim::to_ps(sc_core::sc_time_stamp()) + 7000);
}

}  // namespace
