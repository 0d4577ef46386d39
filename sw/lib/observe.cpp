#include "sw/lib/observe.h"

namespace fw {

size_t StatEmitter::start_name(char* name) const {
  if (!*prefix_) {
    name[0] = '\0';
    return 0;
  }
  const int n = fw::snprintf(name, kNameMax, "%s.", prefix_);
  return n < static_cast<int>(kNameMax) ? static_cast<size_t>(n) : kNameMax - 1;
}

void StatEmitter::operator()(const char* name, uint64_t value, const char* desc, const char* unit) const {
  if (!*prefix_) {
    v_.scalar(name, value, desc, unit);
    return;
  }
  char full[kNameMax];
  const size_t n = start_name(full);
  fw::snprintf(full + n, sizeof full - n, "%s", name);
  v_.scalar(full, value, desc, unit);
}

}  // namespace fw
