#include "sw/kernel/params.h"

#include "sw/lib/string.h"

namespace fw {

const ParamDesc* param_find(const char* key) {
  for (const ParamDesc& d : kParamTable)
    if (str_eq(d.key, key)) return &d;
  return nullptr;
}

uint64_t param_get(const Params& p, const ParamDesc& d) {
  const char* base = reinterpret_cast<const char*>(&p) + d.offset;
  switch (d.type) {
    case ParamType::u32:
    case ParamType::choice: {
      uint32_t v;
      mem_copy(&v, base, sizeof v);
      return v;
    }
    case ParamType::u64:
    case ParamType::bytes:
    case ParamType::size_or_choice: {
      uint64_t v;
      mem_copy(&v, base, sizeof v);
      return v;
    }
    case ParamType::boolean: {
      bool v;
      mem_copy(&v, base, sizeof v);
      return v ? 1 : 0;
    }
  }
  return 0;
}

bool param_set(Params& p, const ParamDesc& d, uint64_t v) {
  const bool a_choice = d.type == ParamType::size_or_choice && param_choice_name(d, v);
  if (!a_choice && (v < d.min || v > d.max)) return false;
  char* base = reinterpret_cast<char*>(&p) + d.offset;
  switch (d.type) {
    case ParamType::u32:
    case ParamType::choice: {
      const uint32_t x = static_cast<uint32_t>(v);
      mem_copy(base, &x, sizeof x);
      return true;
    }
    case ParamType::u64:
    case ParamType::bytes:
    case ParamType::size_or_choice:
      mem_copy(base, &v, sizeof v);
      return true;
    case ParamType::boolean: {
      const bool x = v != 0;
      mem_copy(base, &x, sizeof x);
      return true;
    }
  }
  return false;
}

const char* param_choice_name(const ParamDesc& d, uint64_t v) {
  if ((d.type != ParamType::choice && d.type != ParamType::size_or_choice) || !d.choices) return nullptr;
  for (uint64_t i = 0; d.choices[i]; ++i)
    if (i == v) return d.choices[i];
  return nullptr;
}

int param_choice_index(const ParamDesc& d, const char* word) {
  if ((d.type != ParamType::choice && d.type != ParamType::size_or_choice) || !d.choices || !word) return -1;
  for (int i = 0; d.choices[i]; ++i)
    if (str_eq(d.choices[i], word)) return i;
  return -1;
}

}  // namespace fw
