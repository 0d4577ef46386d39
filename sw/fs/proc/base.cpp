// Per-process /proc files of Linux fs/proc/base.c: oom_score (the OOM
// killer's badness scaled to 0..2000, proc_oom_score) and oom_score_adj.
#include "sw/fs/proc/proc_fs.h"
#include "sw/kernel/task.h"
#include "sw/lib/seq_file.h"
#include "sw/mm/context.h"
#include "sw/mm/oom_kill.h"

namespace fw {

void proc_oom_score(seq_file* m, const MmContext& ctx, const task_struct& t) {
  seq_printf(m, "%lu\n", static_cast<unsigned long>(ctx.oom->oom_score(&t)));
}

void proc_oom_score_adj(seq_file* m, const MmContext&, const task_struct& t) {
  seq_printf(m, "%d\n", static_cast<int>(t.oom_score_adj));
}

}  // namespace fw
