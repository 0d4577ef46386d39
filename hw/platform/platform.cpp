#include "hw/platform/platform.h"

#include <fmt/format.h>

#include "hw/base/time.h"
#include "hw/mmu/mmu_config.h"

namespace hw {

using sc_core::sc_time;

// ---- Parameters ------------------------------------------------------------------

WalkerKind walker_kind_of(const std::string& name) {
  return name == "rtl" ? WalkerKind::rtl : name == "lockstep" ? WalkerKind::lockstep : WalkerKind::tlm;
}

PlatformParams read_platform_params(sim::ConfigNode p, uint64_t seed) {
  PlatformParams pp;
  pp.seed = seed;
  pp.cores = p.get<unsigned>("cores", 1, "Number of CPUs");
  if (pp.cores == 0 || pp.cores > hal::kMaxCpus)
    p.fail("cores", fmt::format("must be between 1 and {}", hal::kMaxCpus));
  pp.maxphyaddr = p.get<unsigned>("maxphyaddr", 46, "Physical address width of the MMU (bits)");
  if (pp.maxphyaddr < 36 || pp.maxphyaddr > 52) p.fail("maxphyaddr", "must be between 36 and 52");
  pp.levels = p.get<unsigned>("paging_levels", 4,
                              "Paging levels: 4 (48-bit linear addresses) or 5 (LA57: 57-bit, a PML5 table above "
                              "the PML4; the firmware boots with CR4.LA57 set)");
  if (pp.levels != 4 && pp.levels != 5) p.fail("paging_levels", fmt::format("must be 4 or 5, got {}", pp.levels));

  pp.map = build_memory_map(p.child("memory"), pp.maxphyaddr);

  // CPU to node: spread evenly, or as listed.
  // The default, CPUs spread evenly over the nodes, is listed as resolved.
  std::vector<uint64_t> spread;
  for (unsigned c = 0; c < pp.cores; ++c) spread.push_back(c * pp.map.nodes.size() / pp.cores);
  pp.cpu_nodes = p.get<std::vector<uint64_t>>("cpu_nodes", spread, "NUMA node of each CPU (default: spread evenly)");
  if (pp.cpu_nodes.size() != pp.cores) {
    p.fail("cpu_nodes", fmt::format("needs {} entries, one per CPU", pp.cores));
  }
  for (uint64_t n : pp.cpu_nodes)
    if (n >= pp.map.nodes.size()) p.fail("cpu_nodes", fmt::format("node {} does not exist", n));

  pp.membus = Interconnect::read_params(p.child("membus"));
  pp.mmu = read_mmu_params(p.child("mmu"), pp.maxphyaddr, pp.levels, seed);
  pp.rtl = RtlWalker::read_params(p.child("mmu"), walker_kind_of(pp.mmu.walker) != WalkerKind::tlm);
  pp.core = Core::read_params(p.child("core"));
  pp.core.intc_base = MemoryMap::kIntcBase;
  pp.sim = CoreComplex::read_params(p.child("sim"));
  for (auto& d : read_devices(p)) pp.devices.push_back(std::move(d));
  pp.checker = DmaChecker::read_params(p.child("dma_checker"));
  pp.checker.mmio_base = MemoryMap::kCheckerBase;
  pp.checker.id = static_cast<unsigned>(pp.devices.size()) + 1;
  pp.ras = Ras::read_params(p.child("ras"), pp.cores, [&pp](uint64_t pa) {
    for (const MemoryMap::Node& n : pp.map.nodes)
      for (const MemoryMap::Range& r : n.dram)
        if (pa >= r.base && pa - r.base < r.size) return true;
    return false;
  });
  return pp;
}

// ---- CpuNode ---------------------------------------------------------------------

CpuNode::CpuNode(sc_core::sc_module_name name, unsigned id_, const PlatformParams& p, CoreComplex& complex,
                 sim::stats::Group* stats_parent)
    : sc_module(name), stats(stats_parent, basename()), mmu("mmu", mmu_params_for_cpu(p.mmu, id_), &stats),
      core("core",
           [&] {
             Core::Params cp = p.core;
             cp.id = id_;
             cp.node = static_cast<unsigned>(p.cpu_nodes[id_]);
             return cp;
           }(),
           mmu, complex, &stats),
      id(id_), node(static_cast<unsigned>(p.cpu_nodes[id_])),
      walks_pka(&stats, "walksPerKiloAccess", "Page walks per 1000 user accesses", "Ratio",
                [this] { return per_kilo(mmu.stats.walks.value()); }),
      stlb_misses_pka(&stats, "stlbMissesPerKiloAccess", "STLB misses per 1000 user accesses", "Ratio",
                      [this] { return per_kilo(mmu.stlb() ? mmu.stlb()->stats.misses.value() : 0); }),
      l1_misses_pka(&stats, "l1TlbMissesPerKiloAccess", "L1 (I+D) TLB misses per 1000 user accesses", "Ratio",
                    [this] { return per_kilo(mmu.itlb().stats.misses.value() + mmu.dtlb().stats.misses.value()); }) {
  const WalkerKind kind = walker_kind_of(p.mmu.walker);
  if (kind != WalkerKind::rtl) walker = std::make_unique<PageWalker>("walker", &mmu.stats, static_cast<int>(id_));
  if (kind != WalkerKind::tlm) {
    RtlWalker::Params rp = p.rtl;
    rp.bus_id = static_cast<int>(id_);
    rtl_walker = std::make_unique<RtlWalker>("rtl_walker", rp, &mmu.stats,
                                             kind == WalkerKind::rtl ? "walker" : "rtlWalker");
    rtl_walker->allow_start_ahead(p.cores == 1);
  }
  switch (kind) {
    case WalkerKind::tlm:
      mmu.walk_socket.bind(walker->walk_socket);
      if (p.mmu.direct_walk) mmu.set_direct_walker(walker.get(), &complex.monitored);
      break;
    case WalkerKind::rtl:
      mmu.walk_socket.bind(rtl_walker->walk_socket);
      break;
    case WalkerKind::lockstep:
      // The RTL walker reaches memory through a recorder; the TLM walker
      // walks what the RTL walk read, replayed.
      recorder = std::make_unique<WalkRecorder>("recorder");
      replay = std::make_unique<WalkReplay>("replay");
      lockstep = std::make_unique<LockstepWalker>("lockstep", *recorder, *replay, &mmu.stats);
      mmu.walk_socket.bind(lockstep->walk_socket);
      lockstep->to_tlm.bind(walker->walk_socket);
      lockstep->to_rtl.bind(rtl_walker->walk_socket);
      walker->mem_socket.bind(replay->from_walker);
      rtl_walker->mem_socket.bind(recorder->from_walker);
      rtl_walker->read_through(recorder.get());
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
    bind(recorder->to_memory);
  } else if (walker) {
    bind(walker->mem_socket);
  } else {
    bind(rtl_walker->mem_socket);
  }
}

// ---- Platform --------------------------------------------------------------------

Platform::Platform(sc_core::sc_module_name name, sim::ConfigNode p, uint64_t seed, hal::Firmware& firmware)
    : Platform(name, read_platform_params(p, seed), firmware) {}

Platform::Platform(sc_core::sc_module_name name, const PlatformParams& params, hal::Firmware& firmware)
    : sc_module(name), p_(params), root_(nullptr, basename()), walker_(walker_kind_of(params.mmu.walker)) {
  complex_.configure(p_.sim);
  make_boot_info();
  elaborate_memory();
  elaborate_devices();
  elaborate_cpus(firmware);
  elaborate_ras();
}

Platform::~Platform() = default;

void Platform::make_boot_info() {
  const MemoryMap& map = p_.map;
  boot_ = hal::BootInfo{};
  boot_.nr_e820 = static_cast<unsigned>(map.e820.size());
  for (size_t i = 0; i < map.e820.size(); ++i) boot_.e820[i] = map.e820[i];
  boot_.nr_nodes = static_cast<unsigned>(map.nodes.size());
  for (size_t n = 0; n < map.nodes.size(); ++n) {
    boot_.node_start[n] = map.nodes[n].span_start;
    boot_.node_end[n] = map.nodes[n].span_end;
    for (size_t m = 0; m < map.nodes.size(); ++m) boot_.node_distance[n][m] = static_cast<uint8_t>(map.distance[n][m]);
  }
  boot_.nr_cpus = p_.cores;
  for (unsigned c = 0; c < p_.cores; ++c) boot_.cpu_node[c] = static_cast<uint8_t>(p_.cpu_nodes[c]);
  auto device = [&](hal::DeviceKind kind, uint32_t index, uint64_t base, uint64_t size, uint32_t vector, uint32_t bits,
                    const std::string& name, uint64_t capacity = 0, uint32_t block_size = 0) {
    hal::Device& d = boot_.devices[boot_.nr_devices++];
    d = {kind, index, base, size, vector, bits, {}, capacity, block_size};
    name.copy(d.name, hal::kDeviceNameLen - 1);
  };
  boot_.nr_devices = 0;
  device(hal::DeviceKind::intc, 0, MemoryMap::kIntcBase, InterruptController::kMmioSize, 0, 64, "intc");
  for (const auto& dp : p_.devices) {
    const sim::DeviceInfo& i = dp->info;
    device(static_cast<hal::DeviceKind>(find_device_kind(i.kind)->boot_kind), i.index, i.mmio_base, i.mmio_size,
           i.vector, i.addr_bits, i.name, i.capacity, i.block_size);
  }
  device(hal::DeviceKind::dma_checker, 0, p_.checker.mmio_base, DmaChecker::kMmioSize, 0, 64, "dma_checker");
  boot_.image_base = map.image_base;
  boot_.image_size = map.image_size;
  boot_.maxphyaddr = p_.maxphyaddr;
  boot_.va_bits = p_.levels == 5 ? 57 : 48;
  boot_.paging_levels = p_.levels;
  boot_.pcid = true;
  boot_.nx = true;
  boot_.gbpages = true;
  boot_.seed = p_.seed;
}

void Platform::elaborate_memory() {
  membus_ = std::make_unique<Interconnect>("membus", p_.membus.latency, &root_);
  mem_group_ = std::make_unique<sim::stats::Group>(&root_, "mem");
  for (size_t n = 0; n < p_.map.nodes.size(); ++n) {
    const MemoryMap::Node& node = p_.map.nodes[n];
    Dram::Params dp;
    dp.base = node.span_start;
    dp.size = node.span_end - node.span_start;
    dp.node = static_cast<unsigned>(n);
    dp.read_latency = sim::from_ps(node.read_latency_ps);
    dp.write_latency = sim::from_ps(node.write_latency_ps);
    for (size_t from = 0; from < p_.map.nodes.size(); ++from) dp.distance_from.push_back(p_.map.distance[from][n]);
    drams_.push_back(std::make_unique<Dram>(fmt::format("node{}", n).c_str(), dp, mem_group_.get()));
    // Targets are numbered in binding order: the DRAM nodes, then the devices.
    membus_->to_targets.bind(drams_.back()->socket);
    for (const MemoryMap::Range& r : node.dram) membus_->add_region(static_cast<unsigned>(n), r.base, r.size,
                                                                     fmt::format("dram.node{}", n));
  }
}

void Platform::elaborate_devices() {
  unsigned target = static_cast<unsigned>(drams_.size());
  // The interrupt controller answers at the interconnect's latency (it has no keys of its own).
  intc_ = std::make_unique<InterruptController>("intc", MemoryMap::kIntcBase, p_.membus.latency, &root_);
  membus_->to_targets.bind(intc_->socket);
  membus_->add_region(target++, MemoryMap::kIntcBase, InterruptController::kMmioSize, "intc");

  // The DMA engines' group comes first, as it always has: the checker's
  // statistics follow the engines'.
  sim::stats::Group* dma_group = kind_group("dma");
  sim::DeviceEnv env;
  env.irq = intc_.get();
  env.permissions = this;
  for (const auto& dp : p_.devices) {
    env.stats_parent = kind_group(dp->info.kind);
    devices_.push_back(find_device_kind(dp->info.kind)->build(*dp, env));
  }
  std::vector<sim::DeviceInfo> masters;
  for (auto& d : devices_)
    if (d->bus_master()) masters.push_back(d->info());
  checker_ = std::make_unique<DmaChecker>("dma_checker", p_.checker, dma_group, masters);
  membus_->to_targets.bind(checker_->mmio);
  membus_->add_region(target++, p_.checker.mmio_base, DmaChecker::kMmioSize, "dma_checker");
  for (auto& d : devices_) {
    if (tlm::tlm_target_socket<>* regs = d->registers()) {
      membus_->to_targets.bind(*regs);
      membus_->add_region(target++, d->info().mmio_base, d->info().mmio_size, d->info().name);
    }
    if (sim::InitiatorSocket* master = d->bus_master()) master->bind(checker_->port(d->info().id));
  }
}

BlockDevice* Platform::block_device(const std::string& name) {
  for (auto& d : devices_)
    if (d->info().kind == kBlockDeviceKind.name && d->info().name == name) return static_cast<BlockDevice*>(d.get());
  return nullptr;
}

sim::stats::Group* Platform::kind_group(const std::string& kind) {
  for (auto& g : kind_groups_)
    if (g->name() == kind) return g.get();
  kind_groups_.push_back(std::make_unique<sim::stats::Group>(&root_, kind));
  return kind_groups_.back().get();
}

void Platform::elaborate_cpus(hal::Firmware& firmware) {
  complex_.boot_info = &boot_;
  complex_.firmware = &firmware;
  complex_.set_cores(p_.cores);
  unsigned initiator = 0;
  for (unsigned c = 0; c < p_.cores; ++c) {
    cpus_.push_back(std::make_unique<CpuNode>(fmt::format("cpu{}", c).c_str(), c, p_, complex_, &root_));
    CpuNode& cpu = *cpus_.back();
    cpu.bind_memory(*membus_, initiator);
    intc_->connect(c, &cpu.core);
  }
  // Devices master memory through the DMA checker, after the CPUs (node 0:
  // where I/O hangs off).
  checker_->to_bus.bind(membus_->from_initiators);
  membus_->set_initiator_node(initiator++, 0);
}

void Platform::elaborate_ras() {
  std::vector<Dram*> drams;
  for (auto& d : drams_) drams.push_back(d.get());
  ras_ = std::make_unique<Ras>("ras", p_.ras, p_.cores, drams, intc_.get(), &root_);
  for (unsigned c = 0; c < p_.cores; ++c) {
    ras_->connect(c, &cpus_[c]->core);
    cpus_[c]->core.set_ras(ras_.get());
  }
}

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
