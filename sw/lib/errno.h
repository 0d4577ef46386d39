// Error numbers, as Linux numbers them on x86-64 (system calls return
// -errno). Macros, as in Linux: a host build may already have them from
// <errno.h>, with the same values on Linux, which the asserts check.
#pragma once

#ifndef EPERM
#define EPERM 1
#endif
#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef ESRCH
#define ESRCH 3
#endif
#ifndef EIO
#define EIO 5
#endif
#ifndef EBADF
#define EBADF 9
#endif
#ifndef EAGAIN
#define EAGAIN 11
#endif
#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef EACCES
#define EACCES 13
#endif
#ifndef EFAULT
#define EFAULT 14
#endif
#ifndef EBUSY
#define EBUSY 16
#endif
#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef EINVAL
#define EINVAL 22
#endif
#ifndef EINTR
#define EINTR 4
#endif
#ifndef ENOSYS
#define ENOSYS 38
#endif
#ifndef EOVERFLOW
#define EOVERFLOW 75
#endif
#ifndef ENODEV
#define ENODEV 19
#endif
#ifndef ENOTTY
#define ENOTTY 25
#endif
#ifndef ETIMEDOUT
#define ETIMEDOUT 110
#endif
#ifndef ENOSPC
#define ENOSPC 28
#endif
#ifndef EFBIG
#define EFBIG 27
#endif
#ifndef EOPNOTSUPP
#define EOPNOTSUPP 95
#endif
#ifndef ENXIO
#define ENXIO 6
#endif
#ifndef EMFILE
#define EMFILE 24
#endif
#ifndef ESPIPE
#define ESPIPE 29
#endif
#ifndef EHWPOISON
#define EHWPOISON 133
#endif

static_assert(EPERM == 1 && ENOENT == 2 && ESRCH == 3 && EIO == 5 && EBADF == 9 && EAGAIN == 11 && ENOMEM == 12 &&
                  EACCES == 13 && EFAULT == 14 && EBUSY == 16 && EEXIST == 17 && EINVAL == 22 && ENODEV == 19 &&
                  ENOTTY == 25 && ETIMEDOUT == 110 && ENOSYS == 38 && EOVERFLOW == 75 && EHWPOISON == 133,
              "errno values differ from Linux x86-64");
