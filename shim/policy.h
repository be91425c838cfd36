/* policy.h - decides what linger does with each fd event the hooks report.
 *
 * The hooks translate libc calls into these questions and then call the real
 * function. Everything here keeps errno as it found it. policy.c answers
 * the events of a socket's life, closing.c those of its end (policy_close,
 * policy_close_range, policy_before_implicit_close, policy_shutdown_how,
 * policy_linger_at_exit).
 */
#ifndef LINGER_POLICY_H
#define LINGER_POLICY_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fdtable.h"
#include "stats.h"

/* Slow path of policy_sent: classifies and scans. */
void policy_sent_slow(int fd, struct fd_entry *e, const void *buf, size_t n);

/* The hot path's test for fd's entry e after the app sent n bytes: 1 when
 * nothing more is to be done (not a tracked socket, or bytes inside a body,
 * counted down here and told to the scanner at its next look). */
static inline int policy_sent_done(struct fd_entry *e, size_t n)
{
    uint8_t k = atomic_load_explicit(&e->kind, memory_order_relaxed);
    if (k == FK_TRACKED) {
        if (n < e->skip) {
            e->skip -= n;
            return 1;
        }
        return 0;
    }
    return k != FK_UNKNOWN && k != FK_ALIAS && k != FK_DECIDING;
}

/* The app sent n bytes (already sent, per the call's return) on fd. Costs a
 * table lookup for fds that are not tracked sockets. */
static inline void policy_sent(int fd, const void *buf, size_t n)
{
    struct fd_entry *e = fdt_get(fd);
    if (e && !policy_sent_done(e, n))
        policy_sent_slow(fd, e, buf, n);
}

/* policy_sent_slow returning r, for a tail call. */
ssize_t policy_sent_slow_r(int fd, struct fd_entry *e, const void *buf, ssize_t r);

/* policy_sent for the table entry e of the fd a call that returned r
 * (bytes sent, or -1) wrote to; returns r, so that a hook can end in it. */
static inline ssize_t policy_sent_entry(struct fd_entry *e, const void *buf, ssize_t r)
{
    if (r <= 0 || policy_sent_done(e, (size_t)r))
        return r;
    return policy_sent_slow_r((int)(e - fdt), e, buf, r);
}

/* The app sent the first n bytes of an iovec array on fd. */
void policy_sent_iov(int fd, const struct iovec *iov, size_t cnt, size_t n);

/* The app sent n bytes linger cannot see (sendfile) on fd. */
void policy_sent_unseen(int fd, size_t n);

/* A call that needs `need` new fds failed with err: if it was EMFILE or
 * ENFILE and linger holds lingering sockets, closes some (the oldest, at
 * least `need` if it has them) and returns 1 to retry once. Keeps errno.
 * Never in a child that borrows our memory. */
int policy_relieve_fd_pressure(int err, unsigned need);

/* True when this process holds lingering sockets (deferred ones too):
 * only then can policy_relieve_fd_pressure give any up. One load. */
static inline int policy_holds_lingering(void)
{
    return stat_get(ST_LINGERING_NOW) != 0;
}

/* r = call (which makes `need` fds), made once more when it failed for want
 * of an fd and linger gave lingering sockets up. A retry that succeeds
 * leaves errno as the app had it before the call (as the call alone would);
 * one that fails sets it as the call does. For the hooks of every call that
 * makes an fd. While nothing lingers (the usual case) it is the call alone:
 * a socket that starts lingering in another thread meanwhile counts as one
 * that lingers just after the call. */
#define RETRY_UNDER_FD_PRESSURE(r, need, call)                      \
    do {                                                            \
        if (__builtin_expect(!policy_holds_lingering(), 1)) {       \
            (r) = (call); /* nothing to give up: the call alone */  \
            break;                                                  \
        }                                                           \
        int errno_before_ = errno;                                  \
        (r) = (call);                                               \
        if ((r) < 0 && policy_relieve_fd_pressure(errno, (need))) { \
            (r) = (call);                                           \
            if ((r) >= 0)                                           \
                errno = errno_before_;                              \
        }                                                           \
    } while (0)

/* The whole body of a hook whose call makes `need` fds and asks nothing
 * else of linger: the call's result, retried as RETRY_UNDER_FD_PRESSURE
 * says; while nothing lingers, a tail call. */
#define RETURN_MADE_FDS(need, call)                            \
    do {                                                       \
        if (__builtin_expect(!policy_holds_lingering(), 1))    \
            return (call);                                     \
        int made_;                                             \
        RETRY_UNDER_FD_PRESSURE(made_, (need), (call));        \
        return made_;                                          \
    } while (0)

/* A socket this process accepted (from listener) / connected out. */
void policy_accepted(int fd, int listener);
void policy_connected(int fd);

/* The app is about to set socket option (level, name) on some socket. */
void policy_setting_option(int level, int name);

/* The how to pass to the kernel for the app's shutdown(fd, how): SHUT_WR
 * instead of SHUT_RDWR, and POLICY_SHUTDOWN_SKIP (skip the call) instead of
 * SHUT_RD, for a TCP socket that will linger; else how itself (whatever the
 * app passed, -1 too: the kernel answers EINVAL). */
int policy_shutdown_how(int fd, int how);
#define POLICY_SHUTDOWN_SKIP (-1) /* only ever for how == SHUT_RD */

/* The app shut down fd (how = SHUT_*) successfully. */
void policy_shutdown(int fd, int how);

/* The app's epoll_ctl(epfd, op, fd) succeeded. */
void policy_epoll_ctl(int epfd, int op, int fd);

/* Before the app's close of fd: returns 1 when linger handled it (*rc is the
 * result to return: 0 for a lingering close, -1/EBADF for a number the app
 * does not own), or 0 when the caller must really close fd. */
int policy_close(int fd, int *rc);

/* What the app wrote to an fd through a stdio stream (stdio_out.h asks). */
enum stdio_output {
    STDIO_NOTHING = 0, /* nothing, as far as libc tells */
    STDIO_EARLIER,     /* bytes, all flushed already, at a time no hook saw */
    STDIO_PENDING,     /* bytes still buffered: the flush about to run writes them */
};

/* Before a call that closes fd as a side effect (dup2/dup3 onto it, fclose
 * of its stream): lingers its socket if it should, without closing fd, and
 * forgets fd. stdio: what the app wrote to it through the FILE being closed
 * (STDIO_NOTHING for dup2/dup3), flushed by the time of this call. */
void policy_before_implicit_close(int fd, enum stdio_output stdio);

/* After a successful dup of oldfd to newfd (dup, dup2, dup3, F_DUPFD*). */
void policy_duplicated(int oldfd, int newfd);

/* close_range(first, last, flags) for the app: closes (or lingers) the
 * app's fds in the range and steps around linger's own. */
int policy_close_range(unsigned first, unsigned last, int flags);

/* At exit: if tracked socket fd should linger, makes a shim-owned copy, shut
 * down, for the drainer (the thread, or with none running the exit's drainer
 * process) and returns 1. fd itself stays open for the exit to close.
 * alone: no other thread of the app runs (none can be writing to fd). */
int policy_linger_at_exit(int fd, int alone);

/* The app wrote to fd through stdio (invisible to the hooks) as out says,
 * and is about to close it: counts that as a response with close semantics
 * - unless nothing was written, or all of it went out earlier
 * (STDIO_EARLIER) and the process has forked since its start (or its own
 * fork): then it may have been written before the fork, and a child may be
 * serving the socket now. */
void policy_sent_via_stdio(int fd, enum stdio_output out);

/* Marks the fds open at load as inherited (at load, once). */
void policy_init(void);

/* Whether linger is active in this process (a valid table and mode != off). */
int policy_active(void);

#endif
