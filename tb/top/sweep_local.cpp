// The local back end of sweeps (sweep.h): the points not yet done, N child
// processes at a time, with the progress bar. SIGINT and SIGTERM stop the
// runs in flight (they leave no result.json, so a rerun redoes them).
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <map>
#include <ostream>
#include <thread>

#include <fmt/format.h>

#include "tb/top/sweep.h"

namespace sim {

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_stop(int sig) { g_stop = sig; }

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Running {
  size_t index;
  double start;
};

// Kills the runs in flight and waits for them.
void stop_all(std::map<pid_t, Running>& running) {
  for (const auto& [pid, r] : running) kill(pid, SIGTERM);
  for (const auto& [pid, r] : running) {
    int st;
    waitpid(pid, &st, 0);
  }
  running.clear();
}

}  // namespace

int run_local(const Sweep& s, const SweepOptions& opts, std::ostream& err) {
  const Pending pending = pending_points(s, opts, err);
  const std::vector<size_t>& todo = pending.todo;
  size_t done = pending.done, failed = pending.failed;
  unsigned jobs = opts.jobs ? opts.jobs : std::max(1u, std::thread::hardware_concurrency());
  SweepProgress progress(err, s.points.size(), done, opts.progress);
  std::map<pid_t, Running> running;
  g_stop = 0;
  auto old_int = std::signal(SIGINT, on_stop);
  auto old_term = std::signal(SIGTERM, on_stop);
  size_t next = 0;
  while ((next < todo.size() || !running.empty()) && !g_stop) {
    while (next < todo.size() && running.size() < jobs) {
      const size_t i = todo[next++];
      running[start_point(s, i, opts.outdir)] = Running{i, now_seconds()};
    }
    int st = 0;
    const pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid > 0 && running.count(pid)) {
      const Running r = running[pid];
      running.erase(pid);
      const PointResult res = finish_point(s, r.index, opts.outdir, st, now_seconds() - r.start);
      ++done;
      failed += res.status != 0;
      progress.update(done, failed, running.size(), true);
      continue;
    }
    progress.update(done, failed, running.size());
    usleep(50000);
  }
  const int sig = g_stop;
  if (sig) stop_all(running);
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  progress.finish();
  if (sig) {
    err << fmt::format("mmcosim: sweep: stopped by signal {}; {} of {} points finished (a rerun runs the others)\n",
                       static_cast<int>(sig), done, s.points.size());
    return 128 + sig;
  }
  return 0;
}

}  // namespace sim
