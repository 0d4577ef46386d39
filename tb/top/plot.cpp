// `mmcosim plot` (workflow_cli.h): the plotting itself is the shipped
// Python script mmcosim-plot.py (matplotlib, Agg backend); this finds it and
// a Python 3 with matplotlib, and runs it.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <ostream>

#include "tb/top/workflow_cli.h"

namespace sim {

namespace fs = std::filesystem;

namespace {

// Beside the binary (the build tree), or in ../share/mmcosim (installed).
std::string find_script() {
  const fs::path bin = fs::path(self_exe()).parent_path();
  for (const fs::path& p : {bin / "mmcosim-plot.py", bin.parent_path() / "share" / "mmcosim" / "mmcosim-plot.py"}) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

// $MMCOSIM_PYTHON, else Debian's python3 (where python3-matplotlib
// installs), else python3 on the PATH.
std::string find_python() {
  if (const char* p = std::getenv("MMCOSIM_PYTHON"); p && *p) return p;
  std::error_code ec;
  if (fs::exists("/usr/bin/python3", ec)) return "/usr/bin/python3";
  return "python3";
}

}  // namespace

int plot_command(const PlotOptions& p, std::ostream& err) {
  const std::string script = find_script();
  if (script.empty()) {
    err << "mmcosim: plot: mmcosim-plot.py is not beside the binary nor in ../share/mmcosim (reinstall mmcosim)\n";
    return 2;
  }
  std::vector<std::string> args{find_python(), script, p.input};
  if (p.timeseries) args.push_back("--timeseries");
  if (!p.x.empty()) args.insert(args.end(), {"--x", p.x});
  for (const std::string& y : p.y) args.insert(args.end(), {"--y", y});
  if (!p.group.empty()) args.insert(args.end(), {"--group", p.group});
  if (!p.output.empty()) args.insert(args.end(), {"-o", p.output});
  if (!p.title.empty()) args.insert(args.end(), {"--title", p.title});
  if (!p.ylabel.empty()) args.insert(args.end(), {"--ylabel", p.ylabel});
  if (p.logx) args.push_back("--logx");
  if (p.logy) args.push_back("--logy");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  err.flush();
  const pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) < 0) {
    err << "mmcosim: plot: cannot start " << args[0] << '\n';
    return 2;
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
    err << "mmcosim: plot: cannot run " << args[0] << " (install python3 and python3-matplotlib)\n";
    return 2;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

}  // namespace sim
