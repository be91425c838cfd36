/* hooks_recv.c - the read family: the real call, then the bytes the app
 * consumed go to the request scanner of an accepted socket (reqwatch.h).
 * The bytes, return values and errno are the real call's; a MSG_PEEK read
 * consumes nothing and is not looked at. */
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hooks.h"
#include "pages.h"
#include "real.h"
#include "reqwatch.h"

/* In a slow path: the real function straight from the table once the fd
 * table exists (it is mapped only after resolution), else the safe call. */
#define REAL_CALL(name, ...) (fdt ? real.name(__VA_ARGS__) : real_##name(__VA_ARGS__))

/* What a recv call with these flags consumed, told to the scanner: nothing
 * for MSG_PEEK; bytes not copied (MSG_TRUNC discards on TCP) by count. */
static ssize_t received(struct fd_entry *e, const void *buf, ssize_t r, int flags)
{
    if (flags & MSG_PEEK)
        return r;
    if (flags & MSG_TRUNC) {
        if (r > 0)
            reqw_read_unseen((int)(e - fdt), (size_t)r);
        return r;
    }
    return reqw_read_entry(e, buf, r);
}

/* The hooks for an fd inside the table that linger may watch (its entry e;
 * fdt exists): the real call, then the scanner's hot path, ending in a
 * tail call. */
static LINGER_HOT SLOW_PATH ssize_t read_in_table(int fd, void *buf, size_t n, struct fd_entry *e)
{
    return reqw_read_entry(e, buf, real.read(fd, buf, n));
}

static LINGER_WARM SLOW_PATH ssize_t recv_in_table(int fd, void *buf, size_t n, int flags, struct fd_entry *e)
{
    return received(e, buf, real.recv(fd, buf, n, flags), flags);
}

LINGER_HOT ssize_t hook_read(int fd, void *buf, size_t n)
{
    if ((unsigned)fd < fdt_size)
        return read_in_table(fd, buf, n, &fdt[fd]);
    return REAL_CALL(read, fd, buf, n);
}

LINGER_WARM ssize_t hook_readv(int fd, const struct iovec *iov, int cnt)
{
    ssize_t r = REAL_CALL(readv, fd, iov, cnt);
    if (r > 0 && fdt_get(fd))
        reqw_read_iov(fd, iov, (size_t)cnt, (size_t)r);
    return r;
}

LINGER_WARM ssize_t hook_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al)
{
    ssize_t r = REAL_CALL(recvfrom, fd, buf, n, flags, a, al);
    struct fd_entry *e = fdt_get(fd);
    return e ? received(e, buf, r, flags) : r;
}

LINGER_WARM ssize_t hook_recvmsg(int fd, struct msghdr *msg, int flags)
{
    ssize_t r = REAL_CALL(recvmsg, fd, msg, flags);
    if (r <= 0 || !fdt_get(fd) || (flags & MSG_PEEK))
        return r;
    if (flags & MSG_TRUNC)
        reqw_read_unseen(fd, (size_t)r);
    else
        reqw_read_iov(fd, msg->msg_iov, msg->msg_iovlen, (size_t)r);
    return r;
}

/* Each hook first asks fdt_passes(): for files, pipes, ttys and outbound
 * sockets it is a tail call to the real function and nothing more. */

EXPORT LINGER_HOT ssize_t read(int fd, void *buf, size_t n)
{
    if (__builtin_expect(fdt_passes(fd), 1))
        return real.read(fd, buf, n);
    return hook_read(fd, buf, n);
}

EXPORT LINGER_WARM ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    if (fdt_passes(fd))
        return real.readv(fd, iov, cnt);
    return hook_readv(fd, iov, cnt);
}

EXPORT LINGER_WARM ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    if ((unsigned)fd < fdt_size) {
        struct fd_entry *e = &fdt[fd];
        if (fdt_kind_relaxed(e) == FK_IGNORED)
            return real.recv(fd, buf, n, flags);
        return recv_in_table(fd, buf, n, flags, e);
    }
    return REAL_CALL(recv, fd, buf, n, flags);
}

EXPORT LINGER_WARM ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al)
{
    if (fdt_passes(fd))
        return real.recvfrom(fd, buf, n, flags, a, al);
    return hook_recvfrom(fd, buf, n, flags, a, al);
}

EXPORT LINGER_WARM ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (fdt_passes(fd))
        return real.recvmsg(fd, msg, flags);
    return hook_recvmsg(fd, msg, flags);
}
