// Random page tables and walk requests for the randomized RTL walker tests:
// a pool of tables whose entries point at each other at random (any table
// can serve at any level), with random rights and Accessed/Dirty states,
// huge leaves (aligned or not), reserved bits, frames outside the pool,
// and requests of every access kind, privilege, WP/NXE, MAXPHYADDR, 4- and
// 5-level paging and starts below the root. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <random>

#include "hw/ext/walk.h"
#include "sw/hal/x86.h"

namespace rtltest {

class RandomTables {
 public:
  static constexpr uint64_t kPool = 0x100000;  // default: tables from 1 MiB
  static constexpr unsigned kTables = 48;
  static constexpr unsigned kWidths[4] = {36, 39, 46, 52};

  // `pool`: where the tables are (4 KiB aligned, below 2^36 so that every
  // MAXPHYADDR can reach them).
  explicit RandomTables(uint64_t seed, uint64_t pool = kPool) : pool_(pool), rng_(seed) {}

  uint64_t pool() const { return pool_; }

  uint64_t bits() { return rng_(); }
  bool chance(unsigned percent) { return rng_() % 100 < percent; }
  uint64_t below(uint64_t n) { return rng_() % n; }
  uint64_t table() { return pool_ + 4096 * below(kTables); }
  uint64_t pool_word() { return table() + 8 * below(512); }

  uint64_t entry() {
    uint64_t e = 0;
    if (!chance(6)) e |= x86::PTE_P;
    if (chance(85)) e |= x86::PTE_RW;
    if (chance(85)) e |= x86::PTE_US;
    if (chance(15)) e |= x86::PTE_NX;
    if (chance(55)) e |= x86::PTE_A;
    if (chance(50)) e |= x86::PTE_D;
    if (chance(20)) e |= x86::PTE_G;
    if (chance(20)) e |= x86::PTE_PWT;
    if (chance(20)) e |= x86::PTE_PCD;
    e |= bits() & x86::PTE_SW_MASK;  // ignored bits
    if (chance(25)) {
      e |= x86::PTE_PS;
      uint64_t frame = bits() & x86::phys_mask(chance(75) ? 36 : 46);
      const unsigned r = static_cast<unsigned>(below(100));
      if (r < 45) frame &= ~((1ull << 30) - 1);
      else if (r < 92) frame &= ~((1ull << 21) - 1);
      e |= frame | (chance(50) ? x86::PTE_PAT_LARGE : 0);
    } else if (chance(88)) {
      e |= table();
    } else {
      e |= bits() & x86::phys_mask(46);  // a table nowhere (reads as zeros: not present)
    }
    if (chance(3)) e |= 1ull << (36 + below(16));  // maybe above MAXPHYADDR
    return e;
  }

  hw::WalkRequest request() {
    hw::WalkRequest rq;
    rq.levels = chance(12) ? 5 : 4;
    rq.va = bits() & ((1ull << 57) - 1);
    const unsigned a = static_cast<unsigned>(below(3));
    rq.access = a == 0 ? x86::Access::read : a == 1 ? x86::Access::write : x86::Access::fetch;
    rq.user = chance(65);
    rq.wp = chance(80);
    rq.nxe = chance(80);
    rq.pcide = chance(30);
    rq.maxphyaddr = kWidths[below(4)];
    rq.cr3 = table() | (bits() & 0xfff) | (chance(10) ? 1ull << 63 : 0);
    rq.start_level = rq.levels;
    rq.start_table = rq.cr3 & x86::phys_mask(rq.maxphyaddr);
    if (chance(20)) {
      rq.start_level = 1 + static_cast<unsigned>(below(rq.levels - 1));
      rq.start_table = table();
      rq.acc_rw = chance(80);
      rq.acc_us = chance(80);
      rq.acc_nx = chance(20);
    }
    return rq;
  }

 private:
  uint64_t pool_;
  std::mt19937_64 rng_;
};

// What happens to an entry at the moment a walker's locked read reaches it,
// decided from (seed, the locked read's ordinal in this walk) so that two
// memories given the same accesses change the same way. `M` has `words`
// (std::map), `error_words` and `poison_lines` (std::set); `pool` is where
// the tables are.
template <typename M>
void meddle(M& m, uint64_t addr, uint64_t walk_seed, unsigned ordinal, bool livelock,
            uint64_t pool = RandomTables::kPool) {
  std::mt19937_64 rng(walk_seed * 0x9e3779b97f4a7c15ull + ordinal);
  const unsigned r = static_cast<unsigned>(rng() % 1000);
  uint64_t& w = m.words[addr];
  if (livelock || r < 60) {
    w ^= 1ull << 9;                       // changed (an ignored bit): restart
  } else if (r < 90) {
    w ^= x86::PTE_RW;                     // changed rights: restart
  } else if (r < 110) {
    w = (w & ~x86::phys_mask(52)) | (pool + 4096 * (rng() % RandomTables::kTables));  // remapped: restart
  } else if (r < 140) {
    w |= x86::PTE_D | x86::PTE_A;         // only A/D changed: no restart
  } else if (r < 146) {
    m.poison_lines.insert(addr & ~63ull);  // poisoned meanwhile: machine check
  } else if (r < 150) {
    m.error_words.insert(addr);           // unreachable meanwhile: machine check
  }
}

}  // namespace rtltest
