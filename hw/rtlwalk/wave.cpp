#include "hw/rtlwalk/wave.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

// verilated.h, seeing SystemC, expects sc_time_stamp() at global scope (as
// <systemc.h> would provide it).
#include <systemc>
using sc_core::sc_time_stamp;

#include "gtkwave/fstapi.h"
#include "hw/rtlwalk/rtl_walker.h"
#include "verilated_fst_sc.h"

namespace hw {

struct WaveFile::Impl {
  VerilatedFstSc fst;
  bool opened = false;
};

WaveFile::WaveFile(std::string path) : path_(std::move(path)) {
  const std::string ext = std::filesystem::path(path_).extension().string();
  if (ext != ".fst" && ext != ".vcd")
    throw std::invalid_argument(fmt::format("--wave {}: the file must end in .fst or .vcd", path_));
  vcd_ = ext == ".vcd";
  fst_path_ = vcd_ ? path_ + ".fst.tmp" : path_;
  impl_ = std::make_unique<Impl>();
}

WaveFile::~WaveFile() {
  try {
    close();
  } catch (...) {
  }
}

void WaveFile::attach(RtlWalker& walker) { walker.trace(&impl_->fst, 99); }

void WaveFile::open() {
  impl_->fst.open(fst_path_.c_str());
  if (!impl_->fst.isOpen()) throw std::runtime_error(fmt::format("{}: cannot write the waveform", path_));
  impl_->opened = true;
}

void WaveFile::close() {
  if (!impl_ || !impl_->opened) return;
  impl_->opened = false;
  impl_->fst.close();
  if (vcd_) {
    fst_to_vcd(fst_path_, path_);
    std::remove(fst_path_.c_str());
  }
}

namespace {

// VCD identifiers: printable characters from '!' to '~', base 94.
std::string vcd_id(fstHandle h) {
  std::string id;
  do {
    id += static_cast<char>('!' + (h % 94));
    h /= 94;
  } while (h);
  return id;
}

struct Converter {
  FILE* out;
  std::vector<std::string> ids;       // by handle
  std::vector<uint32_t> widths;       // by handle
  uint64_t last_time = ~0ull;

  static void on_change(void* user, uint64_t time, fstHandle h, const unsigned char* value) {
    auto* c = static_cast<Converter*>(user);
    if (time != c->last_time) {
      std::fprintf(c->out, "#%llu\n", static_cast<unsigned long long>(time));
      c->last_time = time;
    }
    if (h >= c->widths.size()) return;
    if (c->widths[h] == 1) std::fprintf(c->out, "%c%s\n", value[0], c->ids[h].c_str());
    else std::fprintf(c->out, "b%.*s %s\n", static_cast<int>(c->widths[h]), value, c->ids[h].c_str());
  }
};

const char* timescale_unit(int exponent, int& mult) {
  static const struct {
    int exp;
    const char* unit;
  } units[] = {{0, "s"}, {-3, "ms"}, {-6, "us"}, {-9, "ns"}, {-12, "ps"}, {-15, "fs"}};
  for (const auto& u : units) {
    if (exponent >= u.exp && exponent < u.exp + 3) {
      mult = exponent == u.exp ? 1 : exponent == u.exp + 1 ? 10 : 100;
      return u.unit;
    }
  }
  mult = 1;
  return "ps";
}

}  // namespace

void fst_to_vcd(const std::string& fst_path, const std::string& vcd_path) {
  void* ctx = fstReaderOpen(fst_path.c_str());
  if (!ctx) throw std::runtime_error(fmt::format("{}: not a readable FST file", fst_path));
  FILE* out = std::fopen(vcd_path.c_str(), "w");
  if (!out) {
    fstReaderClose(ctx);
    throw std::runtime_error(fmt::format("{}: cannot write", vcd_path));
  }
  Converter c{out, {}, {}};
  int mult = 1;
  const char* unit = timescale_unit(fstReaderGetTimescale(ctx), mult);
  std::fprintf(out, "$version mmcosim (converted from FST) $end\n$timescale %d%s $end\n", mult, unit);
  while (fstHier* h = fstReaderIterateHier(ctx)) {
    switch (h->htyp) {
      case FST_HT_SCOPE:
        std::fprintf(out, "$scope module %s $end\n", h->u.scope.name);
        break;
      case FST_HT_UPSCOPE:
        std::fprintf(out, "$upscope $end\n");
        break;
      case FST_HT_VAR: {
        const fstHandle handle = h->u.var.handle;
        if (c.widths.size() <= handle) {
          c.widths.resize(handle + 1, 0);
          c.ids.resize(handle + 1);
        }
        c.widths[handle] = h->u.var.length;
        c.ids[handle] = vcd_id(handle);
        std::fprintf(out, "$var wire %u %s %s $end\n", h->u.var.length, c.ids[handle].c_str(), h->u.var.name);
        break;
      }
      default:
        break;
    }
  }
  std::fprintf(out, "$enddefinitions $end\n");
  fstReaderSetFacProcessMaskAll(ctx);
  fstReaderIterBlocks(ctx, &Converter::on_change, &c, nullptr);
  fstReaderClose(ctx);
  if (std::fclose(out) != 0) throw std::runtime_error(fmt::format("{}: write error", vcd_path));
}

}  // namespace hw
