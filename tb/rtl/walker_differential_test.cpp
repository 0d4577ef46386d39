// RTL against TLM: the RTL walker (rtl/walker.sv behind hw::RtlWalker) and
// the TLM walker (hw::PageWalker) walk the same random page tables, each in
// its own DRAM (hw::Dram) holding identical contents, and must agree on
// every WalkResult field and on every word either of them wrote. The tables
// have huge pages, every fault kind, reserved bits, frames outside memory
// (address errors) and poisoned lines; between a walker and its DRAM sits a
// "meddler" that changes, poisons or fails an entry at the moment a locked
// read reaches it, identically on both sides, so restarts, the livelock
// guard and machine checks in the A/D phase are compared too.
// Deterministic (fixed seed); 500,000 walks (a few seconds).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "hw/mem/dram.h"
#include "hw/mmu/walker.h"
#include "hw/rtlwalk/rtl_walker.h"
#include "tb/common/reference_walker.h"
#include "tb/rtl/random_tables.h"

namespace rtltest {
namespace {

using hw::WalkRequest;
using hw::WalkResult;
using hw::WalkStatus;
using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

constexpr unsigned kWalks = 500'000;
constexpr unsigned kRegenerateEvery = 10'000;
constexpr uint64_t kMem = 64ull << 20;

// Between a walker and its DRAM: no DMI (every access is seen), words in
// `error_words` answer an address error, and locked reads go through
// meddle() first.
class Meddler : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<Meddler> in{"in"};
  tlm_utils::simple_initiator_socket<Meddler> out{"out"};

  hw::Dram& dram;
  std::set<uint64_t> error_words;
  std::vector<uint64_t> written;
  uint64_t walk_seed = 0;
  unsigned ordinal = 0;
  bool livelock = false;

  // The views meddle() works through.
  struct Words {
    hw::Dram& d;
    uint64_t& operator[](uint64_t a) { return *reinterpret_cast<uint64_t*>(d.host(a)); }
  } words{dram};
  struct Poison {
    hw::Dram& d;
    void insert(uint64_t line) { d.inject_poison(line); }
  } poison_lines{dram};

  Meddler(sc_core::sc_module_name n, hw::Dram& d) : sc_module(n), dram(d) {
    in.register_b_transport(this, &Meddler::b_transport);
  }

 private:
  void b_transport(tlm::tlm_generic_payload& t, sc_time& delay) {
    const uint64_t a = t.get_address();
    hw::LockExtension* lock = nullptr;
    t.get_extension(lock);
    if (lock && lock->op == hw::LockExtension::Op::lock_read && dram.contains(a, 8))
      meddle(*this, a, walk_seed, ordinal++, livelock);
    if (t.is_write()) written.push_back(a);
    if (error_words.count(a)) {
      t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return;
    }
    out->b_transport(t, delay);
    t.set_dmi_allowed(false);
  }
};

class Bench : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Bench);

  // Walk requests go through the walkers' sockets, as the MMU sends them.
  tlm_utils::simple_initiator_socket<Bench> to_tlm{"to_tlm"};
  tlm_utils::simple_initiator_socket<Bench> to_rtl{"to_rtl"};
  sim::stats::Group root{nullptr, "system"};
  hw::Dram dram_tlm, dram_rtl;
  Meddler med_tlm, med_rtl;
  hw::PageWalker tlm;
  hw::RtlWalker rtl;
  RandomTables gen{0xd1ff'2026};

  unsigned failures = 0;
  unsigned walks = 0;
  unsigned outcomes[3] = {}, leaves[4] = {}, restarts = 0, livelocks = 0, writes = 0;
  unsigned faults_np = 0, faults_rsvd = 0, faults_rights = 0, mc_poison = 0, mc_error = 0, from_pwc = 0;
  double host_seconds = 0;

  explicit Bench(sc_core::sc_module_name n = "bench")
      : sc_module(n),
        dram_tlm("dram_tlm", hw::Dram::Params{0, kMem, 0, SC_ZERO_TIME, SC_ZERO_TIME, {10}}, &root),
        dram_rtl("dram_rtl", hw::Dram::Params{0, kMem, 0, SC_ZERO_TIME, SC_ZERO_TIME, {10}}, &root),
        med_tlm("med_tlm", dram_tlm),
        med_rtl("med_rtl", dram_rtl),
        tlm("tlm_walker", &root, 1),
        rtl("rtl_walker", hw::RtlWalker::Params{sc_time(1, sc_core::SC_NS), 1}) {
    to_tlm.bind(tlm.walk_socket);
    to_rtl.bind(rtl.walk_socket);
    tlm.mem_socket.bind(med_tlm.in);
    med_tlm.out.bind(dram_tlm.socket);
    rtl.mem_socket.bind(med_rtl.in);
    med_rtl.out.bind(dram_rtl.socket);
    SC_THREAD(run);
  }

 private:
  std::vector<uint64_t> poisoned_;

  static WalkResult send(tlm_utils::simple_initiator_socket<Bench>& socket, const WalkRequest& rq) {
    tlm::tlm_generic_payload t;
    hw::WalkExtension ext;
    ext.req = rq;
    t.set_extension(&ext);
    sc_time d = SC_ZERO_TIME;
    socket->b_transport(t, d);
    EXPECT_EQ(t.get_response_status(), tlm::TLM_OK_RESPONSE);
    t.clear_extension(&ext);
    return ext.res;
  }

  uint64_t& word(hw::Dram& d, uint64_t a) { return *reinterpret_cast<uint64_t*>(d.host(a)); }

  void regenerate() {
    for (hw::Dram* d : {&dram_tlm, &dram_rtl}) {
      for (uint64_t line : poisoned_) d->clear_poison(line);
      std::memset(d->host(0), 0, RandomTables::kPool + 4096 * RandomTables::kTables);
    }
    // Poison injected by meddle() in the last round is cleared too.
    for (hw::Dram* d : {&dram_tlm, &dram_rtl}) {
      const std::set<uint64_t> left = d->poisoned_lines();
      for (uint64_t line : left) d->clear_poison(line);
    }
    poisoned_.clear();
    med_tlm.error_words.clear();
    med_rtl.error_words.clear();
    for (unsigned t = 0; t < RandomTables::kTables; ++t)
      for (unsigned i = 0; i < 512; ++i) {
        const uint64_t a = RandomTables::kPool + 4096 * t + 8 * i;
        word(dram_tlm, a) = word(dram_rtl, a) = gen.entry();
      }
    for (int k = 0; k < 3; ++k) {
      const uint64_t line = gen.pool_word() & ~63ull;
      dram_tlm.inject_poison(line);
      dram_rtl.inject_poison(line);
      poisoned_.push_back(line);
    }
    for (int k = 0; k < 3; ++k) {
      const uint64_t w = gen.pool_word();
      med_tlm.error_words.insert(w);
      med_rtl.error_words.insert(w);
    }
  }

  void run() {
    const auto host_start = std::chrono::steady_clock::now();
    for (unsigned n = 0; n < kWalks; ++n) {
      if (n % kRegenerateEvery == 0) regenerate();
      const WalkRequest rq = gen.request();
      const uint64_t seed = gen.bits();
      const bool livelock = gen.chance(1);
      for (Meddler* m : {&med_tlm, &med_rtl}) {
        m->walk_seed = seed;
        m->livelock = livelock;
        m->ordinal = 0;
        m->written.clear();
      }
      const WalkResult from_tlm = send(to_tlm, rq);
      const WalkResult from_rtl = send(to_rtl, rq);
      ++walks;

      std::string diff = reference::diff(from_rtl, from_tlm, "rtl", "tlm");
      for (const std::vector<uint64_t>* list : {&med_tlm.written, &med_rtl.written})
        for (uint64_t a : *list)
          if (dram_tlm.contains(a, 8) && word(dram_tlm, a) != word(dram_rtl, a))
            diff += fmt::format(" memory@{:#x}: rtl {:#x}, tlm {:#x};", a, word(dram_rtl, a), word(dram_tlm, a));
      if (!diff.empty() && ++failures <= 10) {
        std::string entries;
        for (unsigned l = hw::kMaxLevels; l >= 1; --l)
          if (from_tlm.pte_valid[l])
            entries += fmt::format(" L{}@{:#x}={:#x}", l, from_tlm.pte_addr[l], from_tlm.pte_value[l]);
        ADD_FAILURE() << "walk " << n << ": " << reference::describe(rq) << ":" << diff << " (tlm read:" << entries << ")";
      }

      const WalkResult& r = from_tlm;
      ++outcomes[static_cast<int>(r.status)];
      if (rq.start_level < rq.levels) ++from_pwc;
      if (r.status == WalkStatus::ok) ++leaves[r.leaf_level];
      if (r.status == WalkStatus::page_fault) {
        if (r.restarts == 8) ++livelocks;
        else if (r.error_code & x86::PF_RSVD) ++faults_rsvd;
        else if (r.error_code & x86::PF_P) ++faults_rights;
        else ++faults_np;
      }
      if (r.status == WalkStatus::machine_check) ++(r.mc_poison ? mc_poison : mc_error);
      restarts += r.restarts;
      writes += r.mem_writes;
    }
    host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - host_start).count();
  }
};

TEST(RtlWalkerDifferential, HalfAMillionWalksMatchTheTlmWalker) {
  Bench b;
  sc_core::sc_start();
  ASSERT_EQ(b.walks, kWalks);
  EXPECT_EQ(b.failures, 0u);
  std::printf(
      "%u walks, RTL and TLM, in %.1f s host time (RTL %.1f cycles/walk): 4K %u, 2M %u, 1G %u; "
      "page faults: not present %u, reserved %u, rights %u, livelock %u; machine checks: poison %u, error %u; "
      "restarts %u; writes %u; walks starting below the root %u; mismatches %u\n",
      b.walks, b.host_seconds, double(b.rtl.stats.cycles) / b.walks, b.leaves[1], b.leaves[2], b.leaves[3],
      b.faults_np, b.faults_rsvd, b.faults_rights, b.livelocks, b.mc_poison, b.mc_error, b.restarts, b.writes,
      b.from_pwc, b.failures);
  for (unsigned l = 1; l <= 3; ++l) EXPECT_GT(b.leaves[l], 2000u) << "translations to level " << l;
  EXPECT_GT(b.faults_np, 2000u);
  EXPECT_GT(b.faults_rsvd, 2000u);
  EXPECT_GT(b.faults_rights, 2000u);
  EXPECT_GT(b.livelocks, 20u);
  EXPECT_GT(b.mc_poison, 200u);
  EXPECT_GT(b.mc_error, 200u);
  EXPECT_GT(b.restarts, 2000u);
}

}  // namespace
}  // namespace rtltest
