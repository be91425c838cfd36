/* hooks_open.c - open, openat, creat and their 64-bit and _FORTIFY_SOURCE
 * names. Lingering sockets hold fds: when one of the calls that make an fd
 * fails with EMFILE or ENFILE while sockets linger, linger gives the oldest
 * up and the call is made once more (RETRY_UNDER_FD_PRESSURE, policy.h), so
 * that the app gets an fd whenever it would have without the shim. So do
 * the other hooks that make an fd: socket, socketpair and accept
 * (hooks_socket.c), pipe (hooks_pipe.c), epoll_create (hooks_epoll.c),
 * eventfd, timerfd, signalfd and memfd (hooks_anonfd.c), dup and
 * fcntl(F_DUPFD*) (hooks_dup.c). Otherwise each is the real call.
 *
 * Only calls through the PLT are seen: libc's own opens (fopen, opendir,
 * tmpfile, popen, posix_spawn's file actions...) are not, nor are fds made
 * with syscall(2) or received with SCM_RIGHTS. */
#undef _FORTIFY_SOURCE /* its inline open() and friends would clash below */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hooks.h"
#include "pages.h"
#include "policy.h"
#include "real.h"

/* musl before 1.2.4: macros for the plain names, which would clash below */
#undef open64
#undef openat64
#undef creat64

EXPORT int open64(const char *path, int flags, ...);
EXPORT int openat64(int dirfd, const char *path, int flags, ...);
EXPORT int creat64(const char *path, mode_t mode);
EXPORT int __open_2(const char *path, int flags);
EXPORT int __open64_2(const char *path, int flags);
EXPORT int __openat_2(int dirfd, const char *path, int flags);
EXPORT int __openat64_2(int dirfd, const char *path, int flags);

/* open's third argument exists only when flags ask for a mode; libc reads
 * it only then, and so does linger. */
#define NEEDS_MODE(flags) (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE)
#define MODE_ARG(flags, mode)                  \
    do {                                       \
        if (NEEDS_MODE(flags)) {               \
            va_list ap;                        \
            va_start(ap, flags);               \
            (mode) = (mode_t)va_arg(ap, int);  \
            va_end(ap);                        \
        }                                      \
    } while (0)

EXPORT LINGER_WARM int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    RETURN_MADE_FDS(1, real_open(path, flags, mode));
}

EXPORT LINGER_WARM int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    RETURN_MADE_FDS(1, real_open64(path, flags, mode));
}

EXPORT LINGER_WARM int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    RETURN_MADE_FDS(1, real_openat(dirfd, path, flags, mode));
}

EXPORT LINGER_WARM int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    RETURN_MADE_FDS(1, real_openat64(dirfd, path, flags, mode));
}

/* glibc's _FORTIFY_SOURCE versions, for an open whose flags the compiler
 * could not see (they check that no mode was wanted, then open) */
EXPORT int __open_2(const char *path, int flags)
{
    RETURN_MADE_FDS(1, real_open_2(path, flags));
}

EXPORT int __open64_2(const char *path, int flags)
{
    RETURN_MADE_FDS(1, real_open64_2(path, flags));
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    RETURN_MADE_FDS(1, real_openat_2(dirfd, path, flags));
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    RETURN_MADE_FDS(1, real_openat64_2(dirfd, path, flags));
}

EXPORT int creat(const char *path, mode_t mode)
{
    RETURN_MADE_FDS(1, real_creat(path, mode));
}

EXPORT int creat64(const char *path, mode_t mode)
{
    RETURN_MADE_FDS(1, real_creat64(path, mode));
}
