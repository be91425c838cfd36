/* hooks_dup.c - the calls that give an fd another number: dup, dup2, dup3,
 * fcntl(F_DUPFD, F_DUPFD_CLOEXEC). The numbers of one tracked socket form a
 * ring (fdring.c): none lingers while another is open. dup2 and dup3 onto
 * an open number close it first, which linger treats as a close of that
 * number. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

#include "hooks.h"
#include "pages.h"
#include "policy.h"
#include "real.h"

/* True when fd is open (so a dup onto another number will succeed). */
static int is_open(int fd)
{
    int saved = errno;
    int open = real_fcntl(fd, F_GETFD, 0) >= 0;
    errno = saved;
    return open;
}

LINGER_WARM int hook_dup2(int oldfd, int newfd)
{
    if (oldfd != newfd && fdt_get(newfd) && is_open(oldfd))
        policy_before_implicit_close(newfd, STDIO_NOTHING);
    int r = real_dup2(oldfd, newfd);
    if (r >= 0)
        policy_duplicated(oldfd, r);
    return r;
}

int hook_dup3(int oldfd, int newfd, int flags)
{
    /* only a call the kernel will carry out closes newfd: not one it
     * refuses for its flags (EINVAL), equal numbers or a closed source */
    if (!(flags & ~O_CLOEXEC) && oldfd != newfd && fdt_get(newfd) && is_open(oldfd))
        policy_before_implicit_close(newfd, STDIO_NOTHING);
    int r = real_dup3(oldfd, newfd, flags);
    if (r >= 0)
        policy_duplicated(oldfd, r);
    return r;
}

/* dup and fcntl(F_DUPFD*) make a new fd: under fd pressure, lingering
 * sockets are given up and the call is made once more (hooks_open.c). */
EXPORT int dup(int fd)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_dup(fd));
    if (r >= 0)
        policy_duplicated(fd, r);
    return r;
}

EXPORT LINGER_WARM int dup2(int oldfd, int newfd)
{
    return hook_dup2(oldfd, newfd);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
    return hook_dup3(oldfd, newfd, flags);
}

/* fcntl with its argument already read; new numbers from F_DUPFD* join the
 * socket's ring. */
static int fcntl_with_arg(int fd, int cmd, long arg)
{
    if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
        return real_fcntl(fd, cmd, arg);
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_fcntl(fd, cmd, arg));
    if (r >= 0)
        policy_duplicated(fd, r);
    return r;
}

/* fcntl's third argument is an int, a pointer, or absent; a long carries
 * each on the ABIs linger supports. */
EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return fcntl_with_arg(fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return fcntl_with_arg(fd, cmd, arg);
}
