// Waveforms of a run (--wave FILE.fst or FILE.vcd): the RTL walkers and their
// MMU-level probe signals, one scope per CPU. Verilator writes FST; a .vcd is
// converted from it when the file is closed. Usage, as Verilator requires:
// construct the walkers, sc_start(SC_ZERO_TIME), attach() each, open(), run,
// close().
#pragma once

#include <memory>
#include <string>

namespace hw {

class RtlWalker;

class WaveFile {
 public:
  // Throws std::invalid_argument unless `path` ends in .fst or .vcd.
  explicit WaveFile(std::string path);
  ~WaveFile();
  WaveFile(const WaveFile&) = delete;
  WaveFile& operator=(const WaveFile&) = delete;

  void attach(RtlWalker& walker);
  void open();
  void close();  // idempotent; writes the .vcd when one was asked for
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::string path_;
  std::string fst_path_;  // what Verilator writes (path_, or a temporary for .vcd)
  bool vcd_ = false;
  std::unique_ptr<Impl> impl_;
};

// Converts an FST file to VCD. Throws std::runtime_error on failure.
void fst_to_vcd(const std::string& fst_path, const std::string& vcd_path);

}  // namespace hw
