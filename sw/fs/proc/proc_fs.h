// /proc (Linux fs/proc and include/linux/proc_fs.h, reduced): the table of
// /proc files, each a name and one show function that lives in the file of
// the subsystem owning the data (mm/vmstat.cpp: buddyinfo, pagetypeinfo,
// zoneinfo, vmstat; mm/slub.cpp: slabinfo; fs/proc/meminfo.cpp: meminfo;
// fs/proc/task_mmu.cpp: <pid>/maps; fs/proc/diskstats.cpp: diskstats). fw::Kernel's proc_file and proc_show
// (hal::FirmwareDebug) read them through this table.
#pragma once

#include <stdint.h>

#include "sw/lib/observe.h"

namespace fw {

struct MmContext;
struct mm_struct;
struct seq_file;
struct task_struct;

// A system-wide file, /proc/<name> (Linux proc_create_single).
struct proc_entry {
  const char* name;
  void (*show)(seq_file* m, const MmContext& ctx);
  // nullptr: always there; else whether the file exists on this machine.
  bool (*present)(const MmContext& ctx);
};

// A file of each process, /proc/<pid>/<name> (Linux's tgid_base_stuff):
// shown from its address space (show) or from its task (show_task).
struct pid_entry {
  const char* name;
  void (*show)(seq_file* m, const mm_struct& mm);
  void (*show_task)(seq_file* m, const MmContext& ctx, const task_struct& t);
};

// Returns the index-th system-wide file, in the order the simulator writes
// them to proc/, or nullptr past the last one.
const proc_entry* proc_root_entry(unsigned index);
// Returns the system-wide file called name, or nullptr.
const proc_entry* proc_root_lookup(const char* name);
// Returns the per-process file called name, or nullptr.
const pid_entry* proc_pid_lookup(const char* name);

// mm/memory_failure.cpp: node<nid>/memory_failure/<field> (Linux's
// /sys/devices/system/node/nodeN/memory_failure/{total,ignored,failed,
// delayed,recovered}; field in that order): the count and a newline. The
// files exist once a memory failure happened, on the machine's nodes.
void memory_failure_stat_show(seq_file* m, const MmContext& ctx, unsigned nid, unsigned field);
bool memory_failure_stat_present(const MmContext& ctx, unsigned nid);

// fs/proc/meminfo.cpp: /proc/meminfo, and its lines as statistics
// (<prefix>.<label>, "Active(anon)" as "Active_anon").
void meminfo_proc_show(seq_file* m, const MmContext& ctx);
void meminfo_visit_stats(const MmContext& ctx, StatVisitor& v, const char* prefix);

// fs/proc/diskstats.cpp: /proc/diskstats (every registered disk's I/O counters).
void diskstats_show(seq_file* m, const MmContext& ctx);
// Whether any disk counts its I/O (a machine without disks writes no proc/diskstats).
bool diskstats_present(const MmContext& ctx);

// fs/proc/task_mmu.cpp: /proc/<pid>/maps.
void show_map(seq_file* m, const mm_struct& mm);

// fs/proc/base.cpp: /proc/<pid>/oom_score and /proc/<pid>/oom_score_adj.
void proc_oom_score(seq_file* m, const MmContext& ctx, const task_struct& t);
void proc_oom_score_adj(seq_file* m, const MmContext& ctx, const task_struct& t);

}  // namespace fw
