/* hooks_newfd.c - the calls with which a server commonly makes a new fd,
 * besides accept (hooks_socket.c), dup and fcntl(F_DUPFD*) (hooks_close.c).
 * Lingering sockets hold fds: when one of these fails with EMFILE or ENFILE
 * while sockets linger, linger gives the oldest up and the call is made
 * once more (RETRY_UNDER_FD_PRESSURE), so that the app gets an fd whenever
 * it would have without the shim. Otherwise each is the real call.
 *
 * Only calls through the PLT are seen: libc's own opens (fopen, opendir,
 * tmpfile, popen, posix_spawn's file actions...) are not, nor are fds made
 * with syscall(2) or received with SCM_RIGHTS. */
#undef _FORTIFY_SOURCE /* its inline open() and friends would clash below */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "hooks.h"
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

EXPORT int socket(int domain, int type, int proto)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_socket(domain, type, proto));
    return r;
}

EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 2, real_socketpair(domain, type, proto, sv));
    return r;
}

EXPORT int pipe(int fds[2])
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 2, real_pipe(fds));
    return r;
}

EXPORT int pipe2(int fds[2], int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 2, real_pipe2(fds, flags));
    return r;
}

EXPORT int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_open(path, flags, mode));
    return r;
}

EXPORT int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_open64(path, flags, mode));
    return r;
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_openat(dirfd, path, flags, mode));
    return r;
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_openat64(dirfd, path, flags, mode));
    return r;
}

/* glibc's _FORTIFY_SOURCE versions, for an open whose flags the compiler
 * could not see (they check that no mode was wanted, then open) */
EXPORT int __open_2(const char *path, int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_open_2(path, flags));
    return r;
}

EXPORT int __open64_2(const char *path, int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_open64_2(path, flags));
    return r;
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_openat_2(dirfd, path, flags));
    return r;
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_openat64_2(dirfd, path, flags));
    return r;
}

EXPORT int creat(const char *path, mode_t mode)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_creat(path, mode));
    return r;
}

EXPORT int creat64(const char *path, mode_t mode)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_creat64(path, mode));
    return r;
}

EXPORT int epoll_create(int size)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_epoll_create(size));
    return r;
}

EXPORT int epoll_create1(int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_epoll_create1(flags));
    return r;
}

EXPORT int eventfd(unsigned count, int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_eventfd(count, flags));
    return r;
}

EXPORT int timerfd_create(int clock, int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_timerfd_create(clock, flags));
    return r;
}

/* signalfd on an existing fd makes none; its EMFILE can only come from a
 * new one */
EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_signalfd(fd, mask, flags));
    return r;
}

EXPORT int memfd_create(const char *name, unsigned flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_memfd_create(name, flags));
    return r;
}
