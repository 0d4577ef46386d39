#include "hw/platform/platform.h"

#include <fmt/format.h>

#include "hw/mmu/mmu_config.h"
#include "hw/sim/debug.h"

namespace hw {

using sc_core::sc_time;
using sc_core::SC_PS;

namespace {
sc_time ps(uint64_t v) { return sc_time(static_cast<double>(v), SC_PS); }
}  // namespace

CpuNode::CpuNode(sc_core::sc_module_name name, unsigned id_, unsigned node_, const Core::Params& core_params,
                 const Mmu::Params& mmu_params, CoreComplex& complex, sim::stats::Group* stats_parent)
    : sc_module(name), stats(stats_parent, basename()), mmu("mmu", mmu_params, &stats),
      walker("walker", &mmu.stats, static_cast<int>(id_)), core("core", core_params, mmu, complex, &stats),
      id(id_), node(node_) {
  mmu.walk_socket.bind(walker.walk_socket);
  core.mmu_socket.bind(mmu.cpu_socket);
}

Platform::Platform(sc_core::sc_module_name name, sim::ConfigNode p, uint64_t seed, hal::Firmware& firmware)
    : sc_module(name), root_(nullptr, basename()) {
  const unsigned cores = p.get<unsigned>("cores", 1, "Number of CPUs");
  if (cores == 0 || cores > hal::kMaxCpus) p.fail("cores", fmt::format("must be between 1 and {}", hal::kMaxCpus));
  const unsigned maxphyaddr = p.get<unsigned>("maxphyaddr", 46, "Physical address width of the MMU (bits)");
  if (maxphyaddr < 36 || maxphyaddr > 52) p.fail("maxphyaddr", "must be between 36 and 52");
  const unsigned levels = p.get<unsigned>("paging_levels", 4, "Paging levels (4; 5-level paging is not modelled yet)");
  if (levels != 4) p.fail("paging_levels", "only 4-level paging is modelled");

  map_ = build_memory_map(p.child("memory"), maxphyaddr);

  // CPU to node: spread evenly, or as listed.
  std::vector<uint64_t> cpu_nodes = p.get<std::vector<uint64_t>>("cpu_nodes", {}, "NUMA node of each CPU (default: spread evenly)");
  if (cpu_nodes.empty()) {
    for (unsigned c = 0; c < cores; ++c) cpu_nodes.push_back(c * map_.nodes.size() / cores);
  } else if (cpu_nodes.size() != cores) {
    p.fail("cpu_nodes", fmt::format("needs {} entries, one per CPU", cores));
  }
  for (uint64_t n : cpu_nodes)
    if (n >= map_.nodes.size()) p.fail("cpu_nodes", fmt::format("node {} does not exist", n));

  sim::ConfigNode bus = p.child("membus");
  const sim::Duration bus_latency = bus.get<sim::Duration>("latency", {0}, "Interconnect latency per transaction");

  const Mmu::Params mp = read_mmu_params(p.child("mmu"), maxphyaddr, levels, seed);

  sim::ConfigNode core_cfg = p.child("core");
  Core::Params cp;
  cp.timer_period = ps(core_cfg.get<sim::Duration>("timer_period", {1000000000}, "Period of each CPU's timer interrupt").ps);
  cp.trap_latency = ps(core_cfg.get<sim::Duration>("trap_latency", {100000}, "Cost of entering and leaving the firmware (fault, system call, interrupt)").ps);
  cp.copy_bytes_per_ns = core_cfg.get<double>("copy_bandwidth", 16.0, "Bytes per ns of the firmware's bulk copies and fills");
  if (cp.copy_bytes_per_ns <= 0) core_cfg.fail("copy_bandwidth", "must be positive");
  if (cp.timer_period == sc_core::SC_ZERO_TIME) core_cfg.fail("timer_period", "must not be zero");
  cp.intc_base = MemoryMap::kIntcBase;

  sim::ConfigNode simc = p.child("sim");
  const sim::Duration quantum = simc.get<sim::Duration>("quantum", {1000000}, "Global quantum of temporal decoupling");
  const sim::Duration max_time = simc.get<sim::Duration>("max_time", {0}, "Stop after this much simulated time (0: run to the end of the workload)");
  tlm_utils::tlm_quantumkeeper::set_global_quantum(ps(quantum.ps));
  complex_.max_time = ps(max_time.ps);

  // DMA engines: by default an ISA-style 24-bit one and a 32-bit one, the
  // devices ZONE_DMA and ZONE_DMA32 exist for.
  struct DmaCfg {
    unsigned bits;
    uint64_t burst;
  };
  std::vector<DmaCfg> dma_cfg;
  {
    auto list = p.list("dma", "DMA engines: addr_bits (24, 32 or 64), burst (bytes per bus transaction)");
    if (list.empty() && !p.has("dma")) dma_cfg = {{24, 64}, {32, 64}};
    for (sim::ConfigNode& d : list) {
      DmaCfg c;
      c.bits = d.get<unsigned>("addr_bits", 32, "Widest bus address the engine can drive (24, 32 or 64)");
      if (c.bits != 24 && c.bits != 32 && c.bits != 64) d.fail("addr_bits", "must be 24, 32 or 64");
      c.burst = d.get<sim::Size>("burst", {64}, "Bytes per bus transaction").bytes;
      if (c.burst == 0 || c.burst > 4096) d.fail("burst", "must be between 1 and 4096");
      dma_cfg.push_back(c);
    }
    if (dma_cfg.size() > 16) p.fail("dma", "at most 16 engines");
  }

  // ---- Boot information ----
  boot_ = hal::BootInfo{};
  boot_.nr_e820 = static_cast<unsigned>(map_.e820.size());
  for (size_t i = 0; i < map_.e820.size(); ++i) boot_.e820[i] = map_.e820[i];
  boot_.nr_nodes = static_cast<unsigned>(map_.nodes.size());
  for (size_t n = 0; n < map_.nodes.size(); ++n) {
    boot_.node_start[n] = map_.nodes[n].span_start;
    boot_.node_end[n] = map_.nodes[n].span_end;
    for (size_t m = 0; m < map_.nodes.size(); ++m) boot_.node_distance[n][m] = static_cast<uint8_t>(map_.distance[n][m]);
  }
  boot_.nr_cpus = cores;
  for (unsigned c = 0; c < cores; ++c) boot_.cpu_node[c] = static_cast<uint8_t>(cpu_nodes[c]);
  boot_.devices[0] = {hal::DeviceKind::intc, 0, MemoryMap::kIntcBase, InterruptController::kMmioSize, 0, 64};
  boot_.nr_devices = 1;
  for (size_t i = 0; i < dma_cfg.size() && boot_.nr_devices < hal::kMaxDevices; ++i)
    boot_.devices[boot_.nr_devices++] = {hal::DeviceKind::dma, static_cast<uint32_t>(i),
                                         MemoryMap::kDmaBase + i * DmaEngine::kMmioSize, DmaEngine::kMmioSize,
                                         x86::VEC_DMA, dma_cfg[i].bits};
  boot_.image_base = map_.image_base;
  boot_.image_size = map_.image_size;
  boot_.maxphyaddr = maxphyaddr;
  boot_.va_bits = levels == 5 ? 57 : 48;
  boot_.paging_levels = levels;
  boot_.pcid = true;
  boot_.nx = true;
  boot_.gbpages = true;
  boot_.seed = seed;

  // ---- Elaboration ----
  membus_ = std::make_unique<Interconnect>("membus", ps(bus_latency.ps), &root_);
  mem_group_ = std::make_unique<sim::stats::Group>(&root_, "mem");
  unsigned target = 0;
  for (size_t n = 0; n < map_.nodes.size(); ++n) {
    const MemoryMap::Node& node = map_.nodes[n];
    Dram::Params dp;
    dp.base = node.span_start;
    dp.size = node.span_end - node.span_start;
    dp.node = static_cast<unsigned>(n);
    dp.read_latency = ps(node.read_latency_ps);
    dp.write_latency = ps(node.write_latency_ps);
    for (size_t from = 0; from < map_.nodes.size(); ++from) dp.distance_from.push_back(map_.distance[from][n]);
    drams_.push_back(std::make_unique<Dram>(fmt::format("node{}", n).c_str(), dp, mem_group_.get()));
    membus_->to_targets.bind(drams_.back()->socket);
    for (const MemoryMap::Range& r : node.dram) membus_->add_region(target, r.base, r.size, fmt::format("dram.node{}", n));
    ++target;
  }
  intc_ = std::make_unique<InterruptController>("intc", MemoryMap::kIntcBase, ps(bus_latency.ps), &root_);
  membus_->to_targets.bind(intc_->socket);
  membus_->add_region(target++, MemoryMap::kIntcBase, InterruptController::kMmioSize, "intc");

  dma_group_ = std::make_unique<sim::stats::Group>(&root_, "dma");
  for (size_t i = 0; i < dma_cfg.size(); ++i) {
    DmaEngine::Params dp;
    dp.mmio_base = MemoryMap::kDmaBase + i * DmaEngine::kMmioSize;
    dp.addr_bits = dma_cfg[i].bits;
    dp.burst = dma_cfg[i].burst;
    dmas_.push_back(std::make_unique<DmaEngine>(fmt::format("dma{}", i).c_str(), dp, intc_.get(), dma_group_.get()));
    membus_->to_targets.bind(dmas_.back()->mmio);
    membus_->add_region(target++, dp.mmio_base, DmaEngine::kMmioSize, fmt::format("dma{}", i));
  }

  complex_.boot_info = &boot_;
  complex_.firmware = &firmware;
  complex_.set_cores(cores);
  unsigned initiator = 0;
  for (unsigned c = 0; c < cores; ++c) {
    Core::Params cpc = cp;
    cpc.id = c;
    cpc.node = static_cast<unsigned>(cpu_nodes[c]);
    cpus_.push_back(std::make_unique<CpuNode>(fmt::format("cpu{}", c).c_str(), c, cpc.node, cpc,
                                              mmu_params_for_cpu(mp, c), complex_, &root_));
    CpuNode& cpu = *cpus_.back();
    // Initiators are numbered in binding order: core, MMU, walker.
    cpu.core.mem_socket.bind(membus_->from_initiators);
    cpu.mmu.mem_socket.bind(membus_->from_initiators);
    cpu.walker.mem_socket.bind(membus_->from_initiators);
    for (int k = 0; k < 3; ++k) membus_->set_initiator_node(initiator++, cpu.node);
    intc_->connect(c, &cpu.core);
  }
  // DMA engines master memory after the CPUs (node 0: where I/O hangs off).
  for (auto& d : dmas_) {
    d->master.bind(membus_->from_initiators);
    membus_->set_initiator_node(initiator++, 0);
  }
}

Platform::~Platform() = default;

Dram* Platform::dram_at(uint64_t pa) {
  for (auto& d : drams_)
    if (d->contains(pa)) return d.get();
  return nullptr;
}

std::string Platform::run() {
  if (complex_.max_time != sc_core::SC_ZERO_TIME) sc_core::sc_start(complex_.max_time + sc_time(1, sc_core::SC_US));
  else sc_core::sc_start();
  return complex_.error();
}

double Platform::sim_seconds() const { return sc_core::sc_time_stamp().to_seconds(); }

}  // namespace hw
