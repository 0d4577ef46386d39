#include "hw/platform/memory_map.h"

#include <algorithm>

#include <fmt/format.h>

namespace hw {

namespace {
constexpr uint64_t KiB = 1ull << 10, MiB = 1ull << 20, GiB = 1ull << 30;
constexpr uint64_t kMaxDram = 16ull << 40;

bool parse_e820_type(const std::string& s, hal::E820Type& t) {
  static const struct { const char* name; hal::E820Type type; } names[] = {
      {"usable", hal::E820Type::usable}, {"reserved", hal::E820Type::reserved},
      {"acpi", hal::E820Type::acpi},     {"nvs", hal::E820Type::nvs},
      {"unusable", hal::E820Type::unusable}, {"pmem", hal::E820Type::pmem},
  };
  for (const auto& n : names)
    if (s == n.name) return t = n.type, true;
  return false;
}
}  // namespace

const char* e820_type_name(hal::E820Type t) {
  switch (t) {
    case hal::E820Type::usable: return "usable";
    case hal::E820Type::reserved: return "reserved";
    case hal::E820Type::acpi: return "ACPI data";
    case hal::E820Type::nvs: return "ACPI NVS";
    case hal::E820Type::unusable: return "unusable";
    case hal::E820Type::pmem: return "persistent (type 7)";
  }
  return "unknown";
}

uint64_t MemoryMap::total_dram() const {
  uint64_t t = 0;
  for (const Node& n : nodes) t += n.dram_bytes;
  return t;
}

int MemoryMap::node_of(uint64_t pa) const {
  for (size_t i = 0; i < nodes.size(); ++i)
    if (pa >= nodes[i].span_start && pa < nodes[i].span_end) return static_cast<int>(i);
  return -1;
}

bool MemoryMap::is_dram(uint64_t pa, uint64_t len) const {
  for (const Node& n : nodes)
    for (const Range& r : n.dram)
      if (pa >= r.base && pa + len <= r.end()) return true;
  return false;
}

namespace {

// The keys of `platform.memory` that shape the DRAM, checked.
struct MemoryKeys {
  uint64_t size = 0;
  unsigned nr_nodes = 1;
  bool hole = true;
  uint64_t latency_ps = 0, write_latency_ps = 0;
  std::vector<uint64_t> node_latency_ps;        // empty: `latency` everywhere
  std::vector<uint64_t> node_write_latency_ps;  // empty: `write_latency` everywhere
};

// Reads the distance table (SLIT) into m.distance.
void read_distance(sim::ConfigNode mem, unsigned nr_nodes, MemoryMap& m) {
  // 10 local, 20 remote by default.
  std::vector<std::vector<uint64_t>> def(nr_nodes, std::vector<uint64_t>(nr_nodes, 20));
  for (unsigned i = 0; i < nr_nodes; ++i) def[i][i] = 10;
  const auto dist = mem.get<std::vector<std::vector<uint64_t>>>("distance", def, "NUMA distance table (SLIT): 10 = local");
  if (dist.size() != nr_nodes) mem.fail("distance", fmt::format("must have {} rows, one per node", nr_nodes));
  for (unsigned i = 0; i < nr_nodes; ++i) {
    if (dist[i].size() != nr_nodes) mem.fail("distance", fmt::format("row {} must have {} entries", i, nr_nodes));
    if (dist[i][i] != 10) mem.fail("distance", fmt::format("distance from node {} to itself must be 10", i));
    for (unsigned j = 0; j < nr_nodes; ++j)
      if (dist[i][j] < 10 || dist[i][j] > 254) mem.fail("distance", "entries must be between 10 and 254");
  }
  m.distance.assign(nr_nodes, std::vector<unsigned>(nr_nodes));
  for (unsigned i = 0; i < nr_nodes; ++i)
    for (unsigned j = 0; j < nr_nodes; ++j) m.distance[i][j] = static_cast<unsigned>(dist[i][j]);
}

// A per-node list of times (one per node); empty when absent.
std::vector<uint64_t> read_node_times(sim::ConfigNode mem, const char* key, unsigned nr_nodes,
                                      const std::vector<std::string>& def, const std::string& desc,
                                      std::vector<std::string>* words_read = nullptr) {
  const std::vector<std::string> words = mem.get<std::vector<std::string>>(key, def, desc);
  if (words_read) *words_read = words;
  if (!words.empty() && words.size() != nr_nodes)
    mem.fail(key, fmt::format("needs {} entries, one per node", nr_nodes));
  std::vector<uint64_t> ps(words.size());
  for (size_t i = 0; i < words.size(); ++i)
    if (!sim::parse_duration(words[i], ps[i]))
      mem.fail(key, fmt::format("expected a time such as 80ns, got {}", sim::quoted(words[i])));
  return ps;
}

// The DRAM latencies: one for every node (`latency`, `write_latency`), or
// one per node (`node_latency`, `node_write_latency`). A key the per-node
// list replaces would have no effect, so giving both is an error; what a
// run resolved is recorded so that its config.json builds the same machine.
void read_latencies(sim::ConfigNode mem, MemoryKeys& k) {
  std::vector<std::string> reads_given;
  k.node_latency_ps = read_node_times(mem, "node_latency", k.nr_nodes, {},
                                      "Per-node local DRAM read latency, one per node, instead of `latency`; writes "
                                      "take it too unless write_latency or node_write_latency is given",
                                      &reads_given);
  if (!reads_given.empty() && mem.has("latency"))
    mem.fail("latency", "node_latency gives every node's latency: give one of latency and node_latency");
  if (reads_given.empty())
    k.latency_ps = mem.get<sim::Duration>("latency", {80000}, "DRAM read latency seen from the local node").ps;
  // Writes default to the reads: per node when the reads are per node.
  const bool uniform_write = mem.has("write_latency");
  const std::vector<std::string> writes_def = uniform_write ? std::vector<std::string>{} : reads_given;
  k.node_write_latency_ps = read_node_times(
      mem, "node_write_latency", k.nr_nodes, writes_def,
      "Per-node local DRAM write latency, one per node, instead of `write_latency` (default: node_latency)");
  if (!k.node_write_latency_ps.empty() && uniform_write)
    mem.fail("write_latency", "node_write_latency gives every node's write latency: give one of write_latency and "
                              "node_write_latency");
  if (k.node_write_latency_ps.empty())
    k.write_latency_ps = mem.get<sim::Duration>("write_latency", {k.latency_ps},
                                                "DRAM write latency seen from the local node (default: latency)").ps;
}

// Reads every key but the e820 list (in the order config.json lists them),
// with the firmware image region into m.
MemoryKeys read_memory_keys(sim::ConfigNode mem, MemoryMap& m) {
  MemoryKeys k;
  k.size = mem.get<sim::Size>("size", {8 * GiB}, "Total DRAM of the machine (64MiB to 16TiB)").bytes;
  k.nr_nodes = mem.get<unsigned>("nodes", 1, "NUMA nodes; DRAM is split evenly between them");
  k.hole = mem.get<bool>("mmio_hole", true,
                         "Leave [3 GiB, 4 GiB) to MMIO as a PC does (DRAM above it is remapped above 4 GiB)");
  m.image_base =
      mem.get<sim::Size>("image_base", {16 * MiB}, "Where the firmware image is said to live (an e820 reserved region)")
          .bytes;
  m.image_size = mem.get<sim::Size>("image_size", {32 * MiB}, "Size of the firmware image region").bytes;

  if (k.nr_nodes == 0 || k.nr_nodes > hal::kMaxNodes)
    mem.fail("nodes", fmt::format("must be between 1 and {}", hal::kMaxNodes));
  if (k.size < 64 * MiB) mem.fail("size", "must be at least 64MiB");
  // The firmware's struct pages live in simulated DRAM, which the host
  // backs as they are written; the firmware writes them as memory is used,
  // but boot still walks every max-order block (about 0.1 s per 4 TiB) and
  // the DRAM is one host mapping. Beyond this a mistyped size is an error.
  if (k.size > kMaxDram) mem.fail("size", fmt::format("at most {}", sim::format_size(kMaxDram)));
  if (k.size % (k.nr_nodes * 2 * MiB))
    mem.fail("size", fmt::format("must split into {} nodes of whole 2 MiB blocks", k.nr_nodes));
  if (m.image_base % x86::PAGE_SIZE) mem.fail("image_base", "the firmware image region must be page-aligned");
  if (m.image_size % x86::PAGE_SIZE) mem.fail("image_size", "the firmware image region must be page-aligned");

  read_distance(mem, k.nr_nodes, m);
  read_latencies(mem, k);
  return k;
}

// Lays the nodes' DRAM out in physical address order, skipping the hole.
void lay_out_nodes(sim::ConfigNode mem, const MemoryKeys& k, unsigned maxphyaddr, MemoryMap& m) {
  m.hole_start = k.hole ? 3 * GiB : 0;
  m.hole_end = k.hole ? 4 * GiB : 0;
  uint64_t next = 0;
  const uint64_t per_node = k.size / k.nr_nodes;
  for (unsigned n = 0; n < k.nr_nodes; ++n) {
    MemoryMap::Node node;
    node.span_start = next;
    uint64_t left = per_node;
    while (left) {
      if (k.hole && next >= m.hole_start && next < m.hole_end) next = m.hole_end;
      uint64_t chunk = left;
      if (k.hole && next < m.hole_start) chunk = std::min(chunk, m.hole_start - next);
      node.dram.push_back({next, chunk});
      next += chunk;
      left -= chunk;
    }
    node.span_end = next;
    node.dram_bytes = per_node;
    node.read_latency_ps = k.node_latency_ps.empty() ? k.latency_ps : k.node_latency_ps[n];
    node.write_latency_ps = k.node_write_latency_ps.empty() ? k.write_latency_ps : k.node_write_latency_ps[n];
    m.nodes.push_back(node);
  }
  if (next > (1ull << maxphyaddr)) mem.fail("size", fmt::format("does not fit in {} physical address bits", maxphyaddr));
  if (!k.hole && next > MemoryMap::kDeviceBase)
    mem.fail("mmio_hole",
             fmt::format("without the hole, DRAM up to {:#x} covers the devices at {:#x}..{:#x}; keep the "
                         "hole or use at most {} MiB",
                         next, MemoryMap::kDeviceBase, MemoryMap::kIntcBase + 0x1000, MemoryMap::kDeviceBase >> 20));
}

// The boot memory map a PC's firmware would report for this layout.
void generate_e820(sim::ConfigNode mem, bool hole, MemoryMap& m) {
  auto add = [&](uint64_t base, uint64_t end, hal::E820Type t) {
    if (end > base) m.e820.push_back({base, end - base, t});
  };
  const MemoryMap::Range& low = m.nodes[0].dram[0];
  const uint64_t low_end = low.end();
  if (m.image_base < MiB || m.image_base >= low_end)
    mem.fail("image_base", "the firmware image must lie in DRAM between 1 MiB and the end of low memory");
  if (m.image_size > low_end - m.image_base)
    mem.fail("image_size", fmt::format("the firmware image runs past the end of low memory ({:#x})", low_end));
  add(0, 636 * KiB, hal::E820Type::usable);
  add(636 * KiB, MiB, hal::E820Type::reserved);  // EBDA, legacy VGA and BIOS area
  add(MiB, m.image_base, hal::E820Type::usable);
  add(m.image_base, m.image_base + m.image_size, hal::E820Type::reserved);
  add(m.image_base + m.image_size, low_end, hal::E820Type::usable);
  for (const MemoryMap::Node& node : m.nodes)
    for (const MemoryMap::Range& r : node.dram)
      if (r.base >= low_end) add(r.base, r.end(), hal::E820Type::usable);
      else if (r.end() > low_end) add(low_end, r.end(), hal::E820Type::usable);
  if (hole) {
    add(MemoryMap::kDeviceBase, MemoryMap::kDeviceBase + MemoryMap::kDeviceSlots * MemoryMap::kDeviceSlotSize,
        hal::E820Type::reserved);
    add(MemoryMap::kIntcBase, MemoryMap::kIntcBase + 0x1000, hal::E820Type::reserved);
  }
  // Merge adjacent usable ranges that span a node boundary.
  std::vector<hal::E820Entry> merged;
  for (const hal::E820Entry& e : m.e820) {
    if (!merged.empty() && merged.back().type == e.type && merged.back().addr + merged.back().size == e.addr)
      merged.back().size += e.size;
    else
      merged.push_back(e);
  }
  std::sort(merged.begin(), merged.end(), [](const auto& a, const auto& b) { return a.addr < b.addr; });
  m.e820 = merged;
}

// The boot memory map the scenario lists, checked against the DRAM and itself.
void read_e820(sim::ConfigNode mem, std::vector<sim::ConfigNode>& configured, MemoryMap& m) {
  struct Item {
    hal::E820Entry e;
    sim::ConfigNode node;
  };
  std::vector<Item> items;
  for (sim::ConfigNode& c : configured) {
    hal::E820Entry e{};
    e.addr = c.require<sim::Size>("start", "First byte of the range").bytes;
    e.size = c.require<sim::Size>("size", "Bytes in the range").bytes;
    const std::string type = c.get_enum("type", "usable", {"usable", "reserved", "acpi", "nvs", "unusable", "pmem"},
                                        "What the range holds");
    parse_e820_type(type, e.type);
    if (e.size == 0) c.fail("size", "must not be zero");
    if (e.addr + e.size < e.addr) c.fail("size", "range wraps around the address space");
    if (e.type == hal::E820Type::usable && !m.is_dram(e.addr, e.size))
      c.fail("start", fmt::format("usable range [{:#x}, {:#x}) is not backed by DRAM", e.addr, e.addr + e.size));
    items.push_back({e, c});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.e.addr < b.e.addr; });
  for (size_t i = 1; i < items.size(); ++i) {
    const hal::E820Entry& a = items[i - 1].e;
    const hal::E820Entry& b = items[i].e;
    if (b.addr < a.addr + a.size)
      items[i].node.fail("start", fmt::format("range [{:#x}, {:#x}) overlaps [{:#x}, {:#x})", b.addr, b.addr + b.size,
                                              a.addr, a.addr + a.size));
  }
  if (items.size() > hal::kMaxE820) mem.fail("e820", fmt::format("at most {} entries", hal::kMaxE820));
  for (const Item& it : items) m.e820.push_back(it.e);
}

}  // namespace

MemoryMap build_memory_map(sim::ConfigNode mem, unsigned maxphyaddr) {
  MemoryMap m;
  const MemoryKeys keys = read_memory_keys(mem, m);
  lay_out_nodes(mem, keys, maxphyaddr, m);
  auto configured = mem.list("e820", "Boot memory map (start, size, type); generated PC-style when absent");
  if (configured.empty()) generate_e820(mem, keys.hole, m);
  else read_e820(mem, configured, m);
  if (m.e820.size() > hal::kMaxE820) mem.fail("e820", "too many entries");
  return m;
}

}  // namespace hw
