#include "hw/ras/mca.h"

namespace hw {

using namespace x86;

uint64_t mci_status_of(const McaError& e) {
  uint64_t s = MCI_STATUS_VAL | MCI_STATUS_EN | MCI_STATUS_MISCV;
  if (e.uc) s |= MCI_STATUS_UC;
  if (e.pcc) s |= MCI_STATUS_PCC;
  if (e.s) s |= MCI_STATUS_S;
  if (e.ar) s |= MCI_STATUS_AR;
  if (e.addrv) s |= MCI_STATUS_ADDRV;
  s |= static_cast<uint64_t>(e.mscod) << MCI_STATUS_MSCOD_SHIFT;
  s |= e.mcacod;
  return s;
}

uint64_t mci_misc_of(const McaError& e) {
  return (e.addr_lsb & MCI_MISC_ADDR_LSB_MASK) | (MCI_MISC_ADDR_PHYS << MCI_MISC_ADDR_MODE_SHIFT);
}

namespace {

// What a logged error is, for the overwrite rules.
enum class Class { corrected, recoverable, fatal };  // CE; UCR (UC, PCC=0); UC with PCC=1

Class class_of(uint64_t status) {
  if (!(status & MCI_STATUS_UC)) return Class::corrected;
  return (status & MCI_STATUS_PCC) ? Class::fatal : Class::recoverable;
}

}  // namespace

bool McaBank::log(const McaError& e) {
  const uint64_t count = corrected_count();
  const uint64_t next_count = e.uc ? count : (count < 0x7fff ? count + 1 : count);  // saturates
  // MCi_CTL bit 0 enables the reporting of every error type here (EN).
  const uint64_t fresh = mci_status_of(e) & ~((ctl & 1) ? 0 : MCI_STATUS_EN);
  if (!valid()) {
    status = fresh;
    addr = e.addrv ? e.addr : 0;
    misc = mci_misc_of(e);
  } else {
    const Class old_c = class_of(status), new_c = class_of(fresh);
    // SDM: UC over CE; PCC=1 over UCR; never UCR over UCR; CE never over UC;
    // a second CE replaces the first (green over green).
    const bool overwrite = (old_c == Class::corrected) ||
                           (old_c == Class::recoverable && new_c == Class::fatal);
    const uint64_t sticky = status & (MCI_STATUS_S | MCI_STATUS_AR);
    if (overwrite) {
      status = fresh;
      addr = e.addrv ? e.addr : 0;
      misc = mci_misc_of(e);
    }
    // S and AR are sticky once an uncorrected error set them.
    if (class_of(status) != Class::corrected) status |= sticky | (fresh & (MCI_STATUS_S | MCI_STATUS_AR));
    status |= MCI_STATUS_OVER;
  }
  status = (status & ~MCI_STATUS_CEC_MASK) | (next_count << MCI_STATUS_CEC_SHIFT);
  return !e.uc && cmci_enabled() && cmci_threshold() > 0 && next_count == cmci_threshold() && next_count != count;
}

}  // namespace hw
