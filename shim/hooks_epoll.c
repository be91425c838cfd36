/* hooks_epoll.c - epoll_create, epoll_create1 (made once more when they
 * fail for want of fds while sockets linger, see hooks_open.c) and
 * epoll_ctl: linger records which sets the app adds a socket to, so that a
 * lingering close can take it out of them (closing.c). */
#include <errno.h>
#include <sys/epoll.h>

#include "hooks.h"
#include "policy.h"
#include "real.h"

EXPORT int epoll_create(int size)
{
    RETURN_MADE_FDS(1, real_epoll_create(size));
}

EXPORT int epoll_create1(int flags)
{
    RETURN_MADE_FDS(1, real_epoll_create1(flags));
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    int r = real_epoll_ctl(epfd, op, fd, ev);
    if (r == 0)
        policy_epoll_ctl(epfd, op, fd);
    return r;
}
