/* hooks_close.c - every way the app ends an fd: close, shutdown,
 * close_range, closefrom, fclose. (dup2 and dup3 end one too, as a side
 * effect: hooks_dup.c.) */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "holders.h"
#include "hooks.h"
#include "pages.h"
#include "policy.h"
#include "real.h"
#include "stdio_out.h"

LINGER_HOT int hook_close(int fd)
{
    /* an fd linger recorded nothing for (a file it never looked at): the
     * real close alone */
    struct fd_entry *e = fdt_get(fd);
    int rc;
    if ((!e || !fdt_nothing_to_forget(fd, e)) && policy_close(fd, &rc))
        return rc;
    return real_close(fd);
}

LINGER_WARM int hook_shutdown(int fd, int how)
{
    int kernel_how = policy_shutdown_how(fd, how);
    /* an invalid how (-1 among them) comes back as it was, for the kernel */
    int skip = how == SHUT_RD && kernel_how == POLICY_SHUTDOWN_SKIP;
    int r = skip ? 0 : real_shutdown(fd, kernel_how);
    if (r == 0)
        policy_shutdown(fd, skip ? how : kernel_how);
    return r;
}

LINGER_WARM int hook_close_range(unsigned first, unsigned last, int flags)
{
    if (!policy_active() || first > last)
        return real_close_range(first, last, flags);
    return policy_close_range(first, last, flags);
}

EXPORT LINGER_HOT int close(int fd)
{
    return hook_close(fd);
}

EXPORT LINGER_WARM int shutdown(int fd, int how)
{
    return hook_shutdown(fd, how);
}

EXPORT LINGER_WARM int close_range(unsigned first, unsigned last, int flags)
{
    return hook_close_range(first, last, flags);
}

static LINGER_WARM void close_one(int fd, void *unused)
{
    (void)unused;
    hook_close(fd);
}

EXPORT LINGER_WARM void closefrom(int lowfd)
{
    if (lowfd < 0)
        lowfd = 0;
    int saved = errno;
    /* Without close_range (Linux before 5.9, or a seccomp filter that
     * answers ENOSYS), glibc closes each fd it finds in /proc/self/fd: so
     * does linger, each through the close hook (a tracked socket lingers,
     * linger's own fds stay) */
    if (hook_close_range((unsigned)lowfd, ~0u, 0) != 0)
        holders_each_fd_from(lowfd, close_one, NULL);
    errno = saved;
}

/* stdio flushes and closes through libc-internal calls no hook sees: flush
 * first, so lingering shuts the socket down after the last byte, then let
 * the real fclose close the fd. A stream that never wrote (a write-only one
 * included) is a plain close of the fd, as far as its writes go. */
EXPORT LINGER_WARM int fclose(FILE *f)
{
    if (f && policy_active()) {
        int fd = fileno(f);
        if (fd >= 0 && fdt_get(fd)) {
            enum stdio_output out = stdio_output(f);
            int saved = errno;
            int flushed = out != STDIO_PENDING || fflush(f) == 0;
            errno = saved;
            if (flushed) /* else the real fclose reports the failure; no linger */
                policy_before_implicit_close(fd, out);
        }
    }
    return real_fclose(f);
}
