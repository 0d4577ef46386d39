#include "tb/workload/errno_names.h"

#include <fmt/format.h>

namespace tb {

namespace {

struct ErrnoName {
  int64_t value;
  const char* name;
};

// Data table: every errno of asm-generic/errno-base.h, and those of
// asm-generic/errno.h a memory-management call can return.
constexpr ErrnoName kErrnos[] = {
    {1, "EPERM"},    {2, "ENOENT"},   {3, "ESRCH"},    {4, "EINTR"},     {5, "EIO"},       {6, "ENXIO"},
    {7, "E2BIG"},    {8, "ENOEXEC"},  {9, "EBADF"},    {10, "ECHILD"},   {11, "EAGAIN"},   {12, "ENOMEM"},
    {13, "EACCES"},  {14, "EFAULT"},  {15, "ENOTBLK"}, {16, "EBUSY"},    {17, "EEXIST"},   {18, "EXDEV"},
    {19, "ENODEV"},  {20, "ENOTDIR"}, {21, "EISDIR"},  {22, "EINVAL"},   {23, "ENFILE"},   {24, "EMFILE"},
    {25, "ENOTTY"},  {26, "ETXTBSY"}, {27, "EFBIG"},   {28, "ENOSPC"},   {29, "ESPIPE"},   {30, "EROFS"},
    {31, "EMLINK"},  {32, "EPIPE"},   {33, "EDOM"},    {34, "ERANGE"},   {35, "EDEADLK"},  {36, "ENAMETOOLONG"},
    {37, "ENOLCK"},  {38, "ENOSYS"},  {39, "ENOTEMPTY"}, {75, "EOVERFLOW"}, {95, "EOPNOTSUPP"}, {110, "ETIMEDOUT"},
    {133, "EHWPOISON"},
};

}  // namespace

const char* errno_name(int64_t e) {
  for (const ErrnoName& k : kErrnos)
    if (k.value == e) return k.name;
  return nullptr;
}

bool errno_by_name(const std::string& name, int64_t& e) {
  for (const ErrnoName& k : kErrnos)
    if (name == k.name) {
      e = k.value;
      return true;
    }
  return false;
}

std::string errno_text(int64_t e) {
  const char* n = errno_name(e);
  return n ? std::string(n) : fmt::format("errno {}", e);
}

}  // namespace tb
