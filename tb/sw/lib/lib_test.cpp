// Firmware library: the formatter (checked against the host's printf), the
// intrusive list, the kernel log ring.
#include <gtest/gtest.h>

#include <cstdio>

#include "sw/lib/bitops.h"
#include "sw/lib/format.h"
#include "sw/lib/list.h"
#include "sw/lib/printk.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

template <typename... A>
void same_as_libc(const char* fmt, A... args) {
  char ours[256], theirs[256];
  const int n1 = fw::snprintf(ours, sizeof ours, fmt, args...);
  const int n2 = std::snprintf(theirs, sizeof theirs, fmt, args...);
  EXPECT_STREQ(ours, theirs) << "format \"" << fmt << "\"";
  EXPECT_EQ(n1, n2) << "format \"" << fmt << "\"";
}

TEST(fw_lib, formatter_matches_printf) {
  same_as_libc("plain text");
  same_as_libc("%d %i %u", -42, 17, 4000000000u);
  same_as_libc("%5d|%-5d|%05d|%+d|% d", 42, 42, 42, 42, 42);
  same_as_libc("%x %X %#x %#o %o", 0xbeefu, 0xbeefu, 255u, 8u, 8u);
  same_as_libc("%lx %lu %ld", 0xffffffffffffffffUL, 18446744073709551615UL, -9223372036854775807L - 1);
  same_as_libc("%llx %llu", 0x123456789abcdefULL, 123456789012345ULL);
  same_as_libc("%zu %zx", static_cast<size_t>(12345), static_cast<size_t>(0xabc));
  same_as_libc("%016lx %#018lx", 0x9fbffUL, 0x9fbffUL);
  same_as_libc("%s|%10s|%-10s|%.3s|%*s", "abc", "abc", "abc", "abcdef", 6, "xy");
  same_as_libc("%c%c%5c", 'a', 'b', 'c');
  same_as_libc("100%%");
  same_as_libc("%hhu %hd", 300, 70000);
  same_as_libc("%.5d %8.3d", 42, 7);
  same_as_libc("%6lu ", 0UL);
  same_as_libc("%-*s%8lu kB", 16, "MemTotal:", 123456UL);
  // Truncation: always terminated, returns the full length.
  char small[8];
  EXPECT_EQ(fw::snprintf(small, sizeof small, "%s", "0123456789"), 10);
  EXPECT_STREQ(small, "0123456");
  fw::StrBuf sb(small, sizeof small);
  sb.printf("ab");
  sb.printf("%d", 12345678);
  EXPECT_STREQ(sb.c_str(), "ab12345");
}

struct Item {
  int v;
  fw::list_head node;
};

TEST(fw_lib, intrusive_list) {
  fw::list_head head;
  fw::INIT_LIST_HEAD(&head);
  EXPECT_TRUE(fw::list_empty(&head));
  Item a{1, {}}, b{2, {}}, c{3, {}};
  fw::list_add_tail(&a.node, &head);
  fw::list_add_tail(&b.node, &head);
  fw::list_add(&c.node, &head);  // front
  std::vector<int> order;
  for (fw::list_head* p = head.next; p != &head; p = p->next) order.push_back(list_entry(p, Item, node)->v);
  EXPECT_EQ(order, (std::vector<int>{3, 1, 2}));
  fw::list_del(&a.node);
  EXPECT_EQ(a.node.next, nullptr);
  fw::list_move_tail(&c.node, &head);
  EXPECT_EQ(list_first_entry(&head, Item, node)->v, 2);
  EXPECT_EQ(list_last_entry(&head, Item, node)->v, 3);
  EXPECT_EQ(fw::list_count(&head), 2u);
}

TEST(fw_lib, bit_helpers) {
  EXPECT_EQ(fw::ffs64(0x8), 3u);
  EXPECT_EQ(fw::fls64(0x8), 3u);
  EXPECT_EQ(fw::ilog2(4096), 12u);
  EXPECT_EQ(fw::align_up(4097, 4096), 8192u);
  EXPECT_EQ(fw::align_down(8191, 4096), 4096u);
  uint64_t map[2] = {~0ull, 0x5};
  EXPECT_EQ(fw::find_next_zero_bit(map, 128, 0), 65u);
  fw::clear_bit(3, map);
  EXPECT_EQ(fw::find_next_zero_bit(map, 128, 0), 3u);
  map[1] = ~0ull;
  EXPECT_EQ(fw::find_next_zero_bit(map, 128, 4), 128u);
}

TEST(fw_lib, log_ring_keeps_whole_recent_lines_and_filters_the_console) {
  hosthal::HostMachine m(spec_mb(16));
  auto log = std::make_unique<fw::Log>();
  log->set_console_level(fw::LOGLEVEL_WARNING);
  log->printk(m.cpu(0), fw::LOGLEVEL_ERR, "error %d", 1);
  log->printk(m.cpu(0), fw::LOGLEVEL_INFO, "info %d", 2);
  EXPECT_NE(m.console().find("] error 1\n"), std::string::npos);
  EXPECT_EQ(m.console().find("info 2"), std::string::npos);
  EXPECT_EQ(m.console().rfind("[    0.000000] ", 0), 0u);
  // Overflow the ring: the oldest lines go, what is left starts on a line.
  for (int i = 0; i < 2000; ++i) log->printk(m.cpu(0), fw::LOGLEVEL_DEBUG, "line %04d padding padding padding", i);
  StringSink s;
  log->dump(s);
  EXPECT_LE(s.s.size(), fw::Log::kBufSize);
  EXPECT_EQ(s.s.front(), '[');
  EXPECT_EQ(s.s.back(), '\n');
  EXPECT_NE(s.s.find("line 1999 padding"), std::string::npos);
  EXPECT_EQ(s.s.find("error 1"), std::string::npos);
  EXPECT_GT(log->bytes_lost(), 0u);
  // Time stamps are the CPU's simulated time.
  m.cpu(0).advance_ns(1234567890);
  log->printk(m.cpu(0), fw::LOGLEVEL_ERR, "later");
  EXPECT_NE(m.console().find("[    1.234567] later\n"), std::string::npos) << m.console();
}

}  // namespace
