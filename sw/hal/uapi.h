// The user/kernel ABI of the firmware's system calls, numbered as on Linux
// x86-64: what user programs (tb/workload) and the firmware agree on, as
// Linux's include/uapi does. Constants only; freestanding.
#pragma once

#include <stdint.h>

namespace uapi {

// mmap/mprotect protections.
constexpr uint64_t kProtNone = 0x0;
constexpr uint64_t kProtRead = 0x1;
constexpr uint64_t kProtWrite = 0x2;
constexpr uint64_t kProtExec = 0x4;

// mmap flags.
constexpr uint64_t kMapShared = 0x01;
constexpr uint64_t kMapPrivate = 0x02;
constexpr uint64_t kMapFixed = 0x10;
constexpr uint64_t kMapAnonymous = 0x20;
constexpr uint64_t kMapNoreserve = 0x4000;
constexpr uint64_t kMapPopulate = 0x8000;
constexpr uint64_t kMapHugetlb = 0x40000;
constexpr uint64_t kMapFixedNoreplace = 0x100000;
constexpr unsigned kMapHugeShift = 26;  // log2 of the huge page size, in bits 26..31
constexpr uint64_t kMapHuge2MB = 21ull << kMapHugeShift;
constexpr uint64_t kMapHuge1GB = 30ull << kMapHugeShift;

// madvise advice.
constexpr uint64_t kMadvNormal = 0;
constexpr uint64_t kMadvRandom = 1;
constexpr uint64_t kMadvSequential = 2;
constexpr uint64_t kMadvWillneed = 3;
constexpr uint64_t kMadvDontneed = 4;
constexpr uint64_t kMadvFree = 8;
constexpr uint64_t kMadvHugepage = 14;
constexpr uint64_t kMadvNohugepage = 15;
constexpr uint64_t kMadvCold = 20;     // deactivate: reclaim these pages first
constexpr uint64_t kMadvPageout = 21;  // reclaim these pages now (swap out, drop clean file pages)
constexpr uint64_t kMadvPopulateRead = 22;
constexpr uint64_t kMadvPopulateWrite = 23;
constexpr uint64_t kMadvCollapse = 25;
constexpr uint64_t kMadvHwpoison = 100;     // poison the pages (software-simulated memory failure)
constexpr uint64_t kMadvSoftOffline = 101;  // migrate the pages' contents and retire the old pages

// open flags.
constexpr uint64_t kORdonly = 0;
constexpr uint64_t kOWronly = 1;
constexpr uint64_t kORdwr = 2;
constexpr uint64_t kOSync = 0x101000;
constexpr uint64_t kODirect = 0x4000;

// msync flags.
constexpr uint64_t kMsAsync = 1;
constexpr uint64_t kMsInvalidate = 2;
constexpr uint64_t kMsSync = 4;

// posix_fadvise advice (fadvise64).
constexpr uint64_t kFadvNormal = 0;
constexpr uint64_t kFadvRandom = 1;
constexpr uint64_t kFadvSequential = 2;
constexpr uint64_t kFadvWillneed = 3;
constexpr uint64_t kFadvDontneed = 4;
constexpr uint64_t kFadvNoreuse = 5;

// sysctl(id, value): the /proc file written.
constexpr uint64_t kSysctlDropCaches = 1;  // vm.drop_caches: 1 page cache, 2 slab, 3 both
constexpr uint64_t kSysctlOomScoreAdj = 2; // /proc/self/oom_score_adj: -1000..1000 (as int64_t), for the caller's process
// The two halves of Intel ras-tools' einj_mem_uc: reading the page frame of
// an address from /proc/self/pagemap, then writing the physical address to
// ACPI EINJ's debugfs files (param1, error_type, error_inject).
constexpr uint64_t kSysctlPagemap = 3;     // sysctl(3, va): the pfn mapping the caller's va (faulted in if absent), or -errno
constexpr uint64_t kSysctlEinjInject = 4;  // sysctl(4, pa, type): inject error `type` (kEinj*) at pa; 0 or -errno
// An mmcosim test hook with no /proc file behind it (Linux's testers find a
// page-table page with page-types or crash): the physical address of the
// last-level entry a walk of the caller's va reads (the PTE, or the PMD/PUD
// entry of a huge mapping), without faulting anything in; -EFAULT when the
// walk stops above that level (no page table there yet) or va is not mapped.
constexpr uint64_t kSysctlPgtableEntry = 5;  // sysctl(5, va): the entry's physical address, or -errno
constexpr uint64_t kEinjMemCorrectable = 0x08;    // ACPI EINJ error type: memory, correctable
constexpr uint64_t kEinjMemUncorrectable = 0x10;  // memory, uncorrectable non-fatal

// fork(cpu) and clone(flags, cpu): a CPU for the child (an mmcosim
// extension of the calls; Linux places the child itself).
constexpr uint64_t kForkSameCpu = ~0ull;

// clone flags; a thread is created with kCloneThreadFlags (as pthreads does).
constexpr uint64_t kCloneVm = 0x100;
constexpr uint64_t kCloneFs = 0x200;
constexpr uint64_t kCloneFiles = 0x400;
constexpr uint64_t kCloneSighand = 0x800;
constexpr uint64_t kCloneThread = 0x10000;
constexpr uint64_t kCloneSysvsem = 0x40000;
constexpr uint64_t kCloneThreadFlags =
    kCloneVm | kCloneFs | kCloneFiles | kCloneSighand | kCloneThread | kCloneSysvsem;

// ioctl requests of the DMA engines (mmcosim's own, as a driver's
// /dev node would define them): ioctl(engine, request, ...) where engine is
// the engine's index among the `dma` devices of platform.devices.
constexpr uint64_t kDmaIocCopy = 0x4401;   // (dst, src, length): the engine copies between the caller's buffers
constexpr uint64_t kDmaIocAlloc = 0x4402;  // (size): a coherent buffer of the engine mapped in; returns its address

// Error numbers (system calls return -errno).
constexpr int64_t kEperm = 1;
constexpr int64_t kEnoent = 2;
constexpr int64_t kEagain = 11;
constexpr int64_t kEnomem = 12;
constexpr int64_t kEacces = 13;
constexpr int64_t kEio = 5;
constexpr int64_t kEfault = 14;
constexpr int64_t kEbusy = 16;
constexpr int64_t kEexist = 17;
constexpr int64_t kEinval = 22;
constexpr int64_t kEnosys = 38;
constexpr int64_t kEoverflow = 75;

// Signals.
constexpr int kSigkill = 9;
constexpr int kSigbus = 7;
constexpr int kSigsegv = 11;

// SIGBUS si_code values.
constexpr int kBusAdrerr = 2;     // nonexistent physical address (beyond a file's end)
constexpr int kBusMceerrAr = 4;   // hardware memory error consumed: action required
constexpr int kBusMceerrAo = 5;   // hardware memory error found, not consumed: action optional
constexpr int kSiKernel = 0x80;   // sent by the kernel without a fault code (force_sig: kill_me_now)

// prctl options: PR_MCE_KILL sets the process's memory-error kill policy.
constexpr uint64_t kPrMceKill = 33;        // prctl(33, kPrMceKillClear | kPrMceKillSet, policy)
constexpr uint64_t kPrMceKillGet = 34;     // returns the policy
constexpr uint64_t kPrMceKillClear = 0;    // back to the system default (vm.memory_failure_early_kill)
constexpr uint64_t kPrMceKillSet = 1;
constexpr uint64_t kPrMceKillLate = 0;     // policy: signal only when the poison is consumed
constexpr uint64_t kPrMceKillEarly = 1;    // policy: signal as soon as the page is found bad
constexpr uint64_t kPrMceKillDefault = 2;  // policy: what the system says

}  // namespace uapi
