/* hooks_send.c - the send family: the real call, then the bytes it sent go
 * to the scanner. Return values and errno are the real call's. */
#include <errno.h>
#include <sys/sendfile.h>
#undef sendfile64 /* musl before 1.2.4: a macro for sendfile, which would clash below */
#include <sys/socket.h>
#include <unistd.h>

#include "hooks.h"
#include "pages.h"
#include "policy.h"
#include "real.h"
#include "reqwatch.h"

/* In a slow path: the real function straight from the table once the fd
 * table exists (it is mapped only after resolution), else the safe call. */
#define REAL_CALL(name, ...) (fdt ? real.name(__VA_ARGS__) : real_##name(__VA_ARGS__))

/* Outside the table (or before it exists) linger tracks nothing: the real
 * call alone, through the safe path while resolution may still be going on. */
static LINGER_WARM SLOW_PATH ssize_t send_outside(int fd, const void *buf, size_t n, int flags)
{
    return REAL_CALL(send, fd, buf, n, flags);
}

/* The hooks for an fd inside the table that linger may track (its entry e;
 * fdt exists): the real call, then the scanner's hot path, ending in a tail
 * call. */
static LINGER_WARM SLOW_PATH ssize_t send_in_table(int fd, const void *buf, size_t n, int flags, struct fd_entry *e)
{
    return policy_sent_entry(e, buf, real.send(fd, buf, n, flags));
}

static LINGER_HOT SLOW_PATH ssize_t write_in_table(int fd, const void *buf, size_t n, struct fd_entry *e)
{
    return policy_sent_entry(e, buf, real.write(fd, buf, n));
}

LINGER_HOT ssize_t hook_write(int fd, const void *buf, size_t n)
{
    if ((unsigned)fd < fdt_size)
        return write_in_table(fd, buf, n, &fdt[fd]);
    return REAL_CALL(write, fd, buf, n);
}

LINGER_WARM ssize_t hook_writev(int fd, const struct iovec *iov, int cnt)
{
    ssize_t r = REAL_CALL(writev, fd, iov, cnt);
    if (r > 0 && fdt_get(fd))
        policy_sent_iov(fd, iov, (size_t)cnt, (size_t)r);
    return r;
}

LINGER_WARM ssize_t hook_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t al)
{
    ssize_t r = REAL_CALL(sendto, fd, buf, n, flags, a, al);
    if (r > 0)
        policy_sent(fd, buf, (size_t)r);
    return r;
}

LINGER_WARM ssize_t hook_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    ssize_t r = REAL_CALL(sendmsg, fd, msg, flags);
    if (r > 0 && fdt_get(fd))
        policy_sent_iov(fd, msg->msg_iov, msg->msg_iovlen, (size_t)r);
    return r;
}

/* Each hook first asks fdt_passes(): for files, pipes, ttys and outbound
 * sockets it is a tail call to the real function and nothing more. */

EXPORT LINGER_HOT ssize_t write(int fd, const void *buf, size_t n)
{
    if (__builtin_expect(fdt_passes(fd), 1))
        return real.write(fd, buf, n);
    return hook_write(fd, buf, n);
}

EXPORT LINGER_WARM ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (fdt_passes(fd))
        return real.writev(fd, iov, cnt);
    return hook_writev(fd, iov, cnt);
}

EXPORT LINGER_WARM ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    if ((unsigned)fd < fdt_size) {
        struct fd_entry *e = &fdt[fd];
        if (fdt_kind_relaxed(e) == FK_IGNORED)
            return real.send(fd, buf, n, flags);
        return send_in_table(fd, buf, n, flags, e);
    }
    return send_outside(fd, buf, n, flags);
}

EXPORT LINGER_WARM ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t al)
{
    if (fdt_passes(fd))
        return real.sendto(fd, buf, n, flags, a, al);
    return hook_sendto(fd, buf, n, flags, a, al);
}

EXPORT LINGER_WARM ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (fdt_passes(fd))
        return real.sendmsg(fd, msg, flags);
    return hook_sendmsg(fd, msg, flags);
}

EXPORT LINGER_WARM ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    ssize_t r = real_sendfile(out, in, off, n);
    if (r > 0)
        policy_sent_unseen(out, (size_t)r);
    return r;
}

EXPORT LINGER_WARM ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
    ssize_t r = real_sendfile64(out, in, off, n);
    if (r > 0)
        policy_sent_unseen(out, (size_t)r);
    return r;
}

/* sendmmsg: each message's msg_len says how much of it went out. (glibc
 * declares its flags int, musl unsigned.) */
#ifdef __GLIBC__
EXPORT LINGER_WARM int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
#else
EXPORT LINGER_WARM int sendmmsg(int fd, struct mmsghdr *v, unsigned n, unsigned flags)
#endif
{
    if (fdt_passes(fd))
        return real.sendmmsg(fd, v, n, (int)flags);
    int r = real_sendmmsg(fd, v, n, (int)flags);
    for (int i = 0; i < r && fdt_get(fd); i++)
        policy_sent_iov(fd, v[i].msg_hdr.msg_iov, v[i].msg_hdr.msg_iovlen, v[i].msg_len);
    return r;
}

/* splice from a pipe into a socket: bytes linger cannot see, like
 * sendfile; from a socket into a pipe: bytes consumed unseen. */
EXPORT LINGER_WARM ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t n, unsigned flags)
{
    ssize_t r = real_splice(in, off_in, out, off_out, n, flags);
    if (r > 0) {
        policy_sent_unseen(out, (size_t)r);
        reqw_read_unseen(in, (size_t)r);
    }
    return r;
}
