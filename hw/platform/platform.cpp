#include "hw/platform/platform.h"

#include <fmt/format.h>

#include "hw/mmu/mmu_config.h"
#include "hw/base/debug.h"

namespace hw {

using sc_core::sc_time;
using sc_core::SC_PS;

namespace {
sc_time ps(uint64_t v) { return sc_time(static_cast<double>(v), SC_PS); }
}  // namespace

RtlWalkerStats::RtlWalkerStats(sim::stats::Group* parent, const std::string& name, const RtlWalker& w)
    : sim::stats::Group(parent, name),
      walks(this, "walks", "Walks performed by the RTL walker", "Count", [&w] { return w.stats.walks; }),
      completed(this, "completed", "Walks that produced a translation", "Count", [&w] { return w.stats.translations; }),
      page_faults(this, "pageFaults", "Walks ending in a page fault", "Count", [&w] { return w.stats.page_faults; }),
      machine_checks(this, "machineChecks", "Walks ending in a machine check", "Count",
                     [&w] { return w.stats.machine_checks; }),
      pt_reads(this, "ptReads", "Page-table reads, locked reads included", "Count", [&w] { return w.stats.mem_reads; }),
      mem_writes(this, "memWrites", "A/D writes and lock releases", "Count", [&w] { return w.stats.mem_writes; }),
      locked_reads(this, "lockedReads", "Locked reads (A/D updates)", "Count", [&w] { return w.stats.locked_reads; }),
      restarts(this, "restarts", "Walks restarted: an entry changed under a locked update", "Count",
               [&w] { return w.stats.restarts; }),
      cycles(this, "cycles", "Clock cycles the RTL ran (its clock runs only during walks)", "Cycle",
             [&w] { return w.stats.cycles; }),
      busy_ns(this, "busyTime", "Simulated time spent in walks", "ns",
              [&w] { return static_cast<uint64_t>(w.stats.busy_time / sc_time(1, sc_core::SC_NS)); }) {}

CpuNode::CpuNode(sc_core::sc_module_name name, unsigned id_, unsigned node_, const Core::Params& core_params,
                 const Mmu::Params& mmu_params, WalkerKind kind, const RtlWalker::Params& rtl_params,
                 CoreComplex& complex, sim::stats::Group* stats_parent)
    : sc_module(name), stats(stats_parent, basename()), mmu("mmu", mmu_params, &stats),
      core("core", core_params, mmu, complex, &stats), id(id_), node(node_),
      walks_pka(&stats, "walksPerKiloAccess", "Page walks per 1000 user accesses", "Ratio",
                [this] { return per_kilo(mmu.stats.walks.value()); }),
      stlb_misses_pka(&stats, "stlbMissesPerKiloAccess", "STLB misses per 1000 user accesses", "Ratio",
                      [this] { return per_kilo(mmu.stlb() ? mmu.stlb()->stats.misses.value() : 0); }),
      l1_misses_pka(&stats, "l1TlbMissesPerKiloAccess", "L1 (I+D) TLB misses per 1000 user accesses", "Ratio",
                    [this] { return per_kilo(mmu.itlb().stats.misses.value() + mmu.dtlb().stats.misses.value()); }) {
  if (kind != WalkerKind::rtl) walker = std::make_unique<PageWalker>("walker", &mmu.stats, static_cast<int>(id_));
  if (kind != WalkerKind::tlm) {
    RtlWalker::Params rp = rtl_params;
    rp.bus_id = static_cast<int>(id_);
    rtl_walker = std::make_unique<RtlWalker>("rtl_walker", rp);
    rtl_stats = std::make_unique<RtlWalkerStats>(&mmu.stats, kind == WalkerKind::rtl ? "walker" : "rtlWalker",
                                                 *rtl_walker);
  }
  switch (kind) {
    case WalkerKind::tlm:
      mmu.walk_socket.bind(walker->walk_socket);
      break;
    case WalkerKind::rtl:
      mmu.walk_socket.bind(rtl_walker->walk_socket);
      break;
    case WalkerKind::lockstep:
      // The TLM walker sees memory through a dry port, the RTL through a recording one.
      tlm_port = std::make_unique<WritePort>("tlm_port", true);
      rtl_port = std::make_unique<WritePort>("rtl_port", false);
      lockstep = std::make_unique<LockstepWalker>("lockstep", *tlm_port, *rtl_port, &mmu.stats);
      mmu.walk_socket.bind(lockstep->walk_socket);
      lockstep->to_tlm.bind(walker->walk_socket);
      lockstep->to_rtl.bind(rtl_walker->walk_socket);
      walker->mem_socket.bind(tlm_port->from_walker);
      rtl_walker->mem_socket.bind(rtl_port->from_walker);
      break;
  }
  core.mmu_socket.bind(mmu.cpu_socket);
}

uint64_t CpuNode::user_accesses() const {
  return core.stats.reads.value() + core.stats.writes.value() + core.stats.fetches.value();
}

double CpuNode::per_kilo(uint64_t events) const {
  const uint64_t a = user_accesses();
  return a ? 1000.0 * static_cast<double>(events) / static_cast<double>(a) : 0.0;
}

void CpuNode::bind_memory(Interconnect& bus, unsigned& next) {
  // Initiators are numbered in binding order: core, MMU, then the walker(s).
  auto bind = [&](auto& socket) {
    socket.bind(bus.from_initiators);
    bus.set_initiator_node(next++, node);
  };
  bind(core.mem_socket);
  bind(mmu.mem_socket);
  if (lockstep) {
    bind(tlm_port->to_memory);
    bind(rtl_port->to_memory);
  } else if (walker) {
    bind(walker->mem_socket);
  } else {
    bind(rtl_walker->mem_socket);
  }
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
  sim::ConfigNode walker_cfg = p.child("mmu");
  const std::string walker = walker_cfg.get_enum(
      "walker", "tlm", {"tlm", "rtl", "lockstep"},
      "Page walker: tlm (the TLM model), rtl (the Verilated RTL), lockstep (both, compared on every walk)");
  walker_ = walker == "rtl" ? WalkerKind::rtl : walker == "lockstep" ? WalkerKind::lockstep : WalkerKind::tlm;
  RtlWalker::Params rtl_params;
  const sim::Frequency rtl_clock =
      walker_cfg.get<sim::Frequency>("rtl_clock", {1000000000}, "Clock of the RTL walker (it runs only during walks)");
  rtl_params.clock_period = sc_time(1.0 / static_cast<double>(rtl_clock.hz), sc_core::SC_SEC);

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
    const bool given = p.has("dma");
    auto list = p.list("dma", "DMA engines: addr_bits (24, 32 or 64), burst (bytes per bus transaction)");
    if (!given) {
      dma_cfg = {{24, 64}, {32, 64}};
      p.note_default("dma", nlohmann::ordered_json::parse(R"([{"addr_bits": 24, "burst": 64}, {"addr_bits": 32, "burst": 64}])"),
                     "DMA engines (default: a 24-bit and a 32-bit one)");
    }
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
                                              mmu_params_for_cpu(mp, c), walker_, rtl_params, complex_, &root_));
    CpuNode& cpu = *cpus_.back();
    cpu.bind_memory(*membus_, initiator);
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

void Platform::set_wave(const std::string& path) {
  if (walker_ == WalkerKind::tlm)
    throw sim::ConfigError("--wave records the RTL walker: run with --walker=rtl or --walker=lockstep");
  wave_ = std::make_unique<WaveFile>(path);
}

void Platform::start() {
  if (started_) return;
  started_ = true;
  sc_core::sc_start(sc_core::SC_ZERO_TIME);  // elaboration: traces attach after it
  if (wave_) {
    for (auto& cpu : cpus_) wave_->attach(*cpu->rtl_walker);
    wave_->open();
  }
}

std::string Platform::run() {
  start();
  if (complex_.max_time != sc_core::SC_ZERO_TIME) sc_core::sc_start(complex_.max_time + sc_time(1, sc_core::SC_US));
  else sc_core::sc_start();
  finish();
  return complex_.error();
}

void Platform::finish() {
  if (wave_) wave_->close();
}

double Platform::sim_seconds() const { return sc_core::sc_time_stamp().to_seconds(); }

}  // namespace hw
