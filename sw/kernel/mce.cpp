// Machine-check grading and logging (Linux arch/x86/kernel/cpu/mce/severity.c
// and core.c); see mce.h.
#include "sw/kernel/mce.h"

#include "sw/drivers/ras/cec.h"
#include "sw/hal/x86_mce.h"
#include "sw/mm/memory_failure.h"

namespace fw {

using namespace x86;

namespace {

constexpr uint64_t MCI_UC_S = MCI_STATUS_UC | MCI_STATUS_S;
constexpr uint64_t MCI_UC_SAR = MCI_STATUS_UC | MCI_STATUS_S | MCI_STATUS_AR;
constexpr uint64_t MCI_ADDR = MCI_STATUS_ADDRV | MCI_STATUS_MISCV;
constexpr uint64_t MCI_AR_MASK = MCI_STATUS_OVER | MCI_UC_SAR | MCI_ADDR | MCACOD;

enum : uint8_t { ANY = 0, SER = 1, NOSER = 2 };          // MCG_CAP.SER_P required / forbidden
enum : uint8_t { CTX_ANY = 0, KERNEL = 1, USER = 2, KERNEL_RECOV = 3 };
enum : uint8_t { EXCP_ANY = 0, EXCP = 1 };              // only in the #MC handler

struct Rule {
  uint64_t mask, result;
  uint64_t mcgmask, mcgres;
  MceSeverity sev;
  uint8_t ser, ctx, excp;
  const char* msg;
};

// Linux 6.18's severities[] for the Intel rows this platform can produce, in
// its order (first match wins); the Skylake patrol-scrub quirk and the SEAM
// rows are left out (no such CPU model or mode here). A data table mirrored
// from Linux.
const Rule kRules[] = {
    {MCI_STATUS_VAL, 0, 0, 0, MceSeverity::none, ANY, CTX_ANY, EXCP_ANY, "Invalid"},
    {MCI_STATUS_EN, 0, 0, 0, MceSeverity::none, ANY, CTX_ANY, EXCP, "Not enabled"},
    {MCI_STATUS_PCC, MCI_STATUS_PCC, 0, 0, MceSeverity::panic, ANY, CTX_ANY, EXCP_ANY, "Processor context corrupt"},
    {0, 0, MCG_STATUS_MCIP, 0, MceSeverity::panic, ANY, CTX_ANY, EXCP, "MCIP not set in MCA handler"},
    {0, 0, MCG_STATUS_RIPV | MCG_STATUS_EIPV, 0, MceSeverity::panic, ANY, CTX_ANY, EXCP,
     "Neither restart nor error IP"},
    {0, 0, MCG_STATUS_RIPV, 0, MceSeverity::panic, ANY, KERNEL, EXCP, "In kernel and no restart IP"},
    {0, 0, MCG_STATUS_RIPV, 0, MceSeverity::panic, ANY, KERNEL_RECOV, EXCP, "In kernel and no restart IP"},
    {MCI_STATUS_UC, 0, 0, 0, MceSeverity::keep, NOSER, CTX_ANY, EXCP_ANY, "Corrected error"},
    {MCI_STATUS_UC | MCI_STATUS_AR | MCACOD_SCRUBMSK, MCI_STATUS_UC | MCACOD_SCRUB, 0, 0, MceSeverity::ao, SER,
     CTX_ANY, EXCP_ANY, "Action optional: memory scrubbing error"},
    {MCI_STATUS_UC | MCI_STATUS_AR | MCACOD, MCI_STATUS_UC | 0x017a, 0, 0, MceSeverity::ao, SER, CTX_ANY, EXCP_ANY,
     "Action optional: last level cache writeback error"},
    {MCI_UC_SAR, MCI_STATUS_UC, 0, 0, MceSeverity::ucna, SER, CTX_ANY, EXCP_ANY, "Uncorrected no action required"},
    {MCI_STATUS_OVER | MCI_UC_SAR, MCI_STATUS_UC | MCI_STATUS_AR, 0, 0, MceSeverity::panic, SER, CTX_ANY, EXCP_ANY,
     "Illegal combination (UCNA with AR=1)"},
    {MCI_STATUS_S, 0, 0, 0, MceSeverity::keep, SER, CTX_ANY, EXCP_ANY, "Non signaled machine check"},
    {MCI_STATUS_OVER | MCI_UC_SAR, MCI_STATUS_OVER | MCI_UC_SAR, 0, 0, MceSeverity::panic, SER, CTX_ANY, EXCP_ANY,
     "Action required with lost events"},
    {MCI_STATUS_OVER | MCI_UC_SAR | MCI_ADDR, MCI_UC_SAR | MCI_ADDR, MCG_STATUS_RIPV | MCG_STATUS_EIPV,
     MCG_STATUS_RIPV, MceSeverity::keep, SER, CTX_ANY, EXCP_ANY,
     "Action required but unaffected thread is continuable"},
    {MCI_AR_MASK, MCI_UC_SAR | MCI_ADDR | MCACOD_DATA, 0, 0, MceSeverity::ar, SER, KERNEL_RECOV, EXCP_ANY,
     "Action required: data load in error recoverable area of kernel"},
    {MCI_AR_MASK, MCI_UC_SAR | MCI_ADDR | MCACOD_DATA, 0, 0, MceSeverity::ar, SER, USER, EXCP_ANY,
     "Action required: data load error in a user process"},
    {MCI_AR_MASK, MCI_UC_SAR | MCI_ADDR | MCACOD_INSTR, 0, 0, MceSeverity::ar, SER, USER, EXCP_ANY,
     "Action required: instruction fetch error in a user process"},
    {MCI_AR_MASK, MCI_UC_SAR | MCI_ADDR | MCACOD_DATA, 0, 0, MceSeverity::panic, SER, KERNEL, EXCP_ANY,
     "Data load in unrecoverable area of kernel"},
    {MCI_AR_MASK, MCI_UC_SAR | MCI_ADDR | MCACOD_INSTR, 0, 0, MceSeverity::panic, SER, KERNEL, EXCP_ANY,
     "Instruction fetch error in kernel"},
    {MCI_STATUS_OVER | MCI_UC_SAR, MCI_UC_SAR, 0, 0, MceSeverity::panic, SER, CTX_ANY, EXCP_ANY,
     "Action required: unknown MCACOD"},
    {MCI_STATUS_OVER | MCI_UC_SAR, MCI_UC_S, 0, 0, MceSeverity::some, SER, CTX_ANY, EXCP_ANY,
     "Action optional: unknown MCACOD"},
    {MCI_STATUS_OVER | MCI_UC_SAR, MCI_STATUS_OVER | MCI_UC_S, 0, 0, MceSeverity::some, SER, CTX_ANY, EXCP_ANY,
     "Action optional with lost events"},
    {MCI_STATUS_OVER | MCI_STATUS_UC, MCI_STATUS_OVER | MCI_STATUS_UC, 0, 0, MceSeverity::panic, ANY, CTX_ANY,
     EXCP_ANY, "Overflowed uncorrected"},
    {MCI_STATUS_UC, MCI_STATUS_UC, 0, 0, MceSeverity::panic, ANY, KERNEL, EXCP_ANY, "Uncorrected in kernel"},
    {MCI_STATUS_UC, MCI_STATUS_UC, 0, 0, MceSeverity::uc, ANY, CTX_ANY, EXCP_ANY, "Uncorrected"},
    {0, 0, 0, 0, MceSeverity::some, ANY, CTX_ANY, EXCP_ANY, "No match"},  // always matches: keep last
};

// Returns true for a memory error by its compound MCACOD (Linux
// mce_is_memory_error, Intel: memory controller, cache hierarchy or
// generic cache errors).
bool mce_is_memory_error(uint64_t status) {
  return (status & 0xef80) == 0x80 || (status & 0xef00) == 0x100 || (status & 0xeffc) == 0xc;
}

// Returns true when the record's address names a page (Linux
// intel_mce_usable_address): MISC valid, LSB at most 12, physical mode.
bool mce_usable_address(const hal::MachineCheck& rec) {
  if (!(rec.status & MCI_STATUS_MISCV)) return false;
  if ((rec.misc & MCI_MISC_ADDR_LSB_MASK) > PAGE_SHIFT) return false;
  return ((rec.misc >> MCI_MISC_ADDR_MODE_SHIFT) & 7) == MCI_MISC_ADDR_PHYS;
}

uint8_t context_code(MceContext ctx) {
  return ctx == MceContext::user ? USER : ctx == MceContext::kernel ? KERNEL : KERNEL_RECOV;
}

}  // namespace

MceGrade mce_severity(uint64_t mcg_status, uint64_t status, MceContext ctx, bool ser, bool exception) {
  const uint8_t c = context_code(ctx);
  for (const Rule& r : kRules) {
    if ((status & r.mask) != r.result) continue;
    if ((mcg_status & r.mcgmask) != r.mcgres) continue;
    if (r.ser == SER && !ser) continue;
    if (r.ser == NOSER && ser) continue;
    if (r.ctx != CTX_ANY && r.ctx != c) continue;
    if (r.excp == EXCP && !exception) continue;
    return {r.sev, r.msg};
  }
  return {MceSeverity::some, "No match"};  // (unreachable: the last rule matches)
}

hal::MachineCheck Mce::record_of(const hal::MachineCheck& mc) {
  hal::MachineCheck r = mc;
  if (r.status & MCI_STATUS_VAL) return r;
  // The platform's record for this error (hw/ras): a consumed error is SRAR
  // in the data bank, a scrub find SRAO in the memory controller's bank.
  r.addr = mc.pa;
  r.misc = 6 | (MCI_MISC_ADDR_PHYS << MCI_MISC_ADDR_MODE_SHIFT);
  r.status = MCI_STATUS_VAL | MCI_STATUS_UC | MCI_STATUS_EN | MCI_STATUS_MISCV | MCI_STATUS_ADDRV | MCI_STATUS_S;
  if (mc.action_required) {
    r.bank = 0;
    r.status |= MCI_STATUS_AR | MCACOD_DATA;
    r.mcg_status = MCG_STATUS_MCIP | MCG_STATUS_EIPV | MCG_STATUS_RIPV;
  } else {
    r.bank = 2;
    r.status |= MCACOD_SCRUB;
    r.mcg_status = MCG_STATUS_MCIP | MCG_STATUS_RIPV;
  }
  return r;
}

void Mce::print_record(hal::Hal& h, const hal::MachineCheck& rec, bool exception) {
  // print_mce()'s lines. No IP is known (the RIP line is left out, as Linux
  // does for ip 0); TSC counts nanoseconds here; TIME is seconds since boot;
  // PROCESSOR is vendor 0 (Intel) and no CPUID signature.
  const unsigned long long mcg = rec.mcg_status, status = rec.status;
  log_.printk(h, LOGLEVEL_EMERG, "mce: [Hardware Error]: CPU %u: Machine Check%s: %llx Bank %u: %016llx", h.cpu(),
              (mcg & MCG_STATUS_MCIP) && exception ? " Exception" : "", mcg, rec.bank, status);
  char tail[96];
  size_t n = 0;
  if (rec.addr) n += fw::snprintf(tail + n, sizeof tail - n, "ADDR %llx ", static_cast<unsigned long long>(rec.addr));
  if (rec.misc) n += fw::snprintf(tail + n, sizeof tail - n, "MISC %llx ", static_cast<unsigned long long>(rec.misc));
  tail[n] = '\0';
  log_.printk(h, LOGLEVEL_EMERG, "mce: [Hardware Error]: TSC %llx %s", static_cast<unsigned long long>(h.now_ns()),
              tail);
  log_.printk(h, LOGLEVEL_EMERG, "mce: [Hardware Error]: PROCESSOR 0:0 TIME %llu SOCKET 0 APIC %x microcode 0",
              static_cast<unsigned long long>(h.now_ns() / 1000000000ull), h.cpu());
  log_.printk(h, LOGLEVEL_EMERG, "mce: [Hardware Error]: Run the above through 'mcelog --ascii'");
  ++stats_.records;
}

MceGrade Mce::handle_exception(hal::Hal& h, const hal::MachineCheck& rec) {
  uint64_t cap = 0;
  if (!h.rdmsr(MSR_IA32_MCG_CAP, cap)) cap = MCG_SER_P;  // a HAL without banks stands for this platform
  const MceContext ctx = rec.kernel_mode ? MceContext::kernel : MceContext::user;
  const MceGrade g = mce_severity(rec.mcg_status, rec.status, ctx, cap & MCG_SER_P, true);
  print_record(h, rec, true);
  if (g.sev == MceSeverity::panic) {
    ++stats_.panics;
    // mce_panic(): the final record is printed, then why, then panic().
    log_.printk(h, LOGLEVEL_EMERG, "mce: [Hardware Error]: Machine check: %s", g.msg);
    log_.panic(h, "Fatal machine check");
  }
  return g;
}

void Mce::clear_exception(hal::Hal& h, const hal::MachineCheck& rec) {
  h.wrmsr(msr_mc_status(rec.bank), 0);
  h.wrmsr(MSR_IA32_MCG_STATUS, 0);
}

void Mce::cmci(hal::Hal& h) {
  ++stats_.cmci;
  uint64_t cap = 0, mcg = 0;
  if (!h.rdmsr(MSR_IA32_MCG_CAP, cap)) return;
  h.rdmsr(MSR_IA32_MCG_STATUS, mcg);
  bool logged = false;
  for (unsigned b = 0; b < (cap & MCG_BANKCNT_MASK); ++b) {
    hal::MachineCheck rec{};
    if (!h.rdmsr(msr_mc_status(b), rec.status) || !(rec.status & MCI_STATUS_VAL)) continue;
    // machine_check_poll(): corrected and UCNA records; a signalled UC one
    // belongs to the #MC handler.
    if ((rec.status & MCI_STATUS_UC) && (rec.status & MCI_STATUS_S)) continue;
    rec.bank = b;
    rec.mcg_status = mcg;
    if (rec.status & MCI_STATUS_ADDRV) h.rdmsr(msr_mc_addr(b), rec.addr);
    if (rec.status & MCI_STATUS_MISCV) h.rdmsr(msr_mc_misc(b), rec.misc);
    rec.pa = rec.addr;
    if (rec.status & MCI_STATUS_UC) {
      ++stats_.ucna;
      // uc_decode_notifier takes AO (and AMD's deferred) memory errors; the
      // poll grades with no register context (error_context: in kernel).
      const MceGrade g = mce_severity(mcg, rec.status, MceContext::kernel, cap & MCG_SER_P, false);
      if (g.sev == MceSeverity::ao && mf_ && mce_usable_address(rec) && pool_add(h, rec)) {
        h.wrmsr(msr_mc_status(b), 0);
        logged = true;
        continue;
      }
    } else {
      ++stats_.corrected;
      // cec_notifier: a corrected memory error the collector took is not
      // printed (6.18's default notifier skips MCE_HANDLED_CEC records).
      if (cec_ && mce_is_memory_error(rec.status) && mce_usable_address(rec) &&
          cec_->add(h, rec.addr >> PAGE_SHIFT) == 0) {
        h.wrmsr(msr_mc_status(b), 0);
        logged = true;
        continue;
      }
    }
    print_record(h, rec, false);
    h.wrmsr(msr_mc_status(b), 0);
    logged = true;
  }
  if (!logged) return;
  // mce_notify_irq(): "not more than two messages every minute".
  const uint64_t now = h.now_ns();
  if (notify_count_ == 0 || now - notify_window_ns_ >= 60ull * 1000000000ull) {
    notify_window_ns_ = now;
    notify_count_ = 0;
  }
  if (notify_count_ < 2) {
    ++notify_count_;
    log_.printk(h, LOGLEVEL_INFO, "mce: [Hardware Error]: Machine check events logged");
  }
}

bool Mce::pool_add(hal::Hal& h, const hal::MachineCheck& rec) {
  if (pool_n_ == kPoolSize) {
    log_.printk(h, LOGLEVEL_WARNING, "MCE records pool full!");
    return false;
  }
  pool_[pool_n_++] = rec;
  return true;
}

void Mce::process_records(hal::Hal& h) {
  // Oldest first; a record memory_failure() did not recover is printed.
  for (unsigned i = 0; i < pool_n_; ++i) {
    const hal::MachineCheck& rec = pool_[i];
    if (mf_->memory_failure(h, rec.addr >> PAGE_SHIFT, 0) != 0) print_record(h, rec, false);
  }
  pool_n_ = 0;
}

namespace {

const StatDesc<MceStats> mce_stat_table[] = {
    {"total", &MceStats::total, "machine checks", "count"},
    {"action_required", &MceStats::action_required, "machine checks consumed by an access (SRAR)", "count"},
    {"action_optional", &MceStats::action_optional, "machine checks found by a scrub (SRAO)", "count"},
    {"in_page_walk", &MceStats::in_page_walk, "machine checks in a page-table read", "count"},
    {"records", &MceStats::records, "machine-check records logged (exceptions and CMCI polls)", "count"},
    {"corrected", &MceStats::corrected, "corrected-error records logged by the CMCI poll", "count"},
    {"ucna", &MceStats::ucna, "uncorrected no-action-required records logged by the CMCI poll", "count"},
    {"cmci", &MceStats::cmci, "corrected machine-check interrupts taken", "count"},
    {"panics", &MceStats::panics, "machine checks graded fatal (the machine panicked)", "count"},
};
static_assert(stat_table_size(mce_stat_table) == sizeof(MceStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void MceStats::visit(StatVisitor& v, const char* prefix) const { StatEmitter(v, prefix).table(*this, mce_stat_table); }

}  // namespace fw
