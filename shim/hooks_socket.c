/* hooks_socket.c - where sockets come from (socket, socketpair, accept,
 * accept4, connect) and how the app asks for an abortive close (setsockopt
 * SO_LINGER). */
#include <errno.h>
#include <sys/socket.h>

#include "hooks.h"
#include "policy.h"
#include "real.h"

/* When accept fails for want of an fd and linger holds some, linger gives
 * the oldest lingering sockets up and the accept is tried once more: the
 * shim must never be why the app cannot accept (so for the other calls
 * that make an fd, hooks_open.c). */

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

int hook_accept4(int fd, struct sockaddr *a, socklen_t *al, int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_accept4(fd, a, al, flags));
    if (r >= 0)
        policy_accepted(r, fd);
    return r;
}

EXPORT int accept(int fd, struct sockaddr *a, socklen_t *al)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 1, real_accept(fd, a, al));
    if (r >= 0)
        policy_accepted(r, fd);
    return r;
}

EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *al, int flags)
{
    return hook_accept4(fd, a, al, flags);
}

EXPORT int connect(int fd, const struct sockaddr *a, socklen_t al)
{
    int r = real_connect(fd, a, al);
    if (r == 0 || errno == EINPROGRESS || errno == EINTR || errno == EALREADY || errno == EISCONN) {
        int saved = errno;
        policy_connected(fd);
        errno = saved;
    }
    return r;
}

int hook_setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
    policy_setting_option(level, name); /* first: a close in another thread may follow at once */
    return real_setsockopt(fd, level, name, v, len);
}

EXPORT int setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
    return hook_setsockopt(fd, level, name, v, len);
}
