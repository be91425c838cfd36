/* policy.c - what linger does at each fd event but the ends of a socket
 * (see policy.h): the bytes the app sends go to the scanner, new sockets
 * are classified, duplicates join their socket's ring. The ends - close,
 * shutdown, exit - are closing.c's. */
#include "policy.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "drainer.h"
#include "forkchan.h"
#include "fdring.h"
#include "holders.h"
#include "pages.h"
#include "probe.h"
#include "owner.h"
#include "reqwatch.h"
#include "stats.h"

LINGER_HOT int policy_active(void)
{
    return fdt_size != 0;
}

/* An fd open at load came with the exec: inherited (see holders.h). */
static void note_inherited(int fd)
{
    struct fd_entry *e = fdt_get(fd);
    if (e && fdt_kind(e) == FK_UNKNOWN) {
        e->origin = FO_INHERITED;
        fdt_touch(fd);
    }
}

void policy_init(void)
{
    holders_each_open_fd(note_inherited);
}

/* True for a socket that can never linger, so that its first write need
 * not start the drainer: an AF_UNIX socket linger did not see accepted (a
 * socketpair) whose peer is this process (R22). php-fpm's master writes to
 * its own socketpair from its signal handlers, where no thread may start.
 * One getsockopt, at the first write of such a socket only. */
static int never_lingers(int fd, const struct fd_entry *e)
{
    return (fdt_flags(e) & FE_UNIX) && e->origin == FO_UNSEEN && probe_self_peer(fd);
}


/* Calls start (one of forkchan.h's ways to start the drainer thread) for
 * fd's socket unless it can never linger. Keeps errno. */
static LINGER_HOT void want_drainer(int fd, const struct fd_entry *e, void (*start)(void))
{
    int saved = errno;
    if (!never_lingers(fd, e))
        start();
    errno = saved;
}

/* Folds the scanner's verdict and position into the entry's flags; 1 when
 * it saw the socket's first response with close semantics. */
static LINGER_HOT int note_verdict(struct fd_entry *e)
{
    unsigned set = 0, clear = 0;
    int first_close = 0;
    switch (scan_verdict(&e->u.scan)) {
    case SCAN_CLOSE:
        set = FE_SAW_RESPONSE | FE_SAW_CLOSE;
        first_close = !(fdt_flags(e) & FE_SAW_CLOSE);
        break;
    case SCAN_KEEPALIVE:
    case SCAN_UPGRADED:
        set = FE_SAW_RESPONSE;
        clear = FE_SAW_CLOSE;
        break;
    default:
        break;
    }
    if (scan_between_responses(&e->u.scan))
        clear |= FE_MID_RESPONSE | FE_MID_FRAMED;
    else if (scan_in_framed_response(&e->u.scan))
        set |= FE_MID_RESPONSE | FE_MID_FRAMED;
    else {
        set |= FE_MID_RESPONSE;
        clear |= FE_MID_FRAMED;
    }
    fdt_update_flags(e, set, clear);
    return first_close;
}

/* The entry holding the scanner of fd's socket when fd is not FK_TRACKED
 * itself (kind k): waits for another thread's close decision, classifies a
 * new fd, finds an alias's ring leader; NULL when fd is not a tracked
 * socket. Makes syscalls, but keeps errno. */
static struct fd_entry *settle_writer(int fd, struct fd_entry *e, enum fd_kind k)
{
    int saved = errno;
    if (k == FK_DECIDING) /* another thread decides its close: see how that ends */
        k = fdt_settle(e);
    if (k == FK_UNKNOWN)
        k = fdt_classify(fd, e);
    if (k == FK_ALIAS) {
        e = fdt_ring_leader(fd); /* NULL: its ring is busy or lost, these bytes go unscanned */
        k = FK_TRACKED;
    }
    errno = saved;
    return k == FK_TRACKED ? e : NULL;
}

/* The entry holding the scanner of fd's socket, classifying fd if needed;
 * marks this process as its writer. NULL when fd is not a tracked socket.
 * Keeps errno: only the rare branches make calls that may set it, and
 * they restore it. */
static LINGER_HOT struct fd_entry *tracked_writer(int fd, struct fd_entry *e)
{
    enum fd_kind k = fdt_kind(e);
    if (k != FK_TRACKED && !(e = settle_writer(fd, e, k)))
        return NULL;
    uint32_t mark = fdt_writer_mark();
    if (fdt_writer_gen(e) != mark) {
        fdt_set_writer_gen(e, mark);
        /* the thread starts now unless this socket's requests, read here,
         * are bodiless HTTP so far (forkchan_drainer_starts_early) */
        if (forkchan_drainer_starts_early() || !reqw_bodiless_so_far(fd, e))
            want_drainer(fd, e, forkchan_want_drainer_to_write);
    }
    return e;
}

/* After the scanner looked: what the hot path may skip from here on. */
static void note_skippable(struct fd_entry *e)
{
    e->skip = scan_skippable(&e->u.scan);
}

/* After the scanner looked at fd's bytes: the skip, the flags, and the
 * drainer started when the first response with close semantics went out
 * (its close will linger: the thread must be up by then). */
static LINGER_HOT void after_scan(int fd, struct fd_entry *e)
{
    note_skippable(e);
    if (__builtin_expect(note_verdict(e), 0))
        want_drainer(fd, e, forkchan_want_drainer);
}

LINGER_HOT ssize_t policy_sent_slow_r(int fd, struct fd_entry *e, const void *buf, ssize_t r)
{
    policy_sent_slow(fd, e, buf, (size_t)r);
    return r;
}

/* tracked_writer keeps errno; the scanner and the flags make no calls. */
LINGER_HOT void policy_sent_slow(int fd, struct fd_entry *e, const void *buf, size_t n)
{
    if ((e = tracked_writer(fd, e)) && !(fdt_flags(e) & FE_BLIND)) {
        fdt_scanner_catch_up(e);
        scan_feed(&e->u.scan, buf, n);
        after_scan(fd, e);
    }
    drainer_start_if_wanted();
}

/* The slow path for the first n bytes of iov[0..cnt): one look at the
 * entry for the whole call, then each part counted down inside a body or
 * fed to the scanner; the flags follow the state after the last part (what
 * they would be after a look at each part: each look sets or clears every
 * flag it touches from the state alone). */
static void sent_iov_slow(int fd, struct fd_entry *e, const struct iovec *iov, size_t cnt, size_t n)
{
    if ((e = tracked_writer(fd, e)) && !(fdt_flags(e) & FE_BLIND)) {
        fdt_scanner_catch_up(e);
        for (size_t i = 0; i < cnt && n > 0; i++) {
            size_t part = iov[i].iov_len < n ? iov[i].iov_len : n;
            if (part && !scan_skip_body(&e->u.scan, part))
                scan_feed(&e->u.scan, iov[i].iov_base, part);
            n -= part;
        }
        after_scan(fd, e);
    }
    drainer_start_if_wanted();
}

LINGER_WARM void policy_sent_iov(int fd, const struct iovec *iov, size_t cnt, size_t n)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    size_t i = 0;
    for (; i < cnt && n > 0; i++) { /* the hot path while the parts need no look */
        size_t part = iov[i].iov_len < n ? iov[i].iov_len : n;
        if (part && !policy_sent_done(e, part))
            break;
        n -= part;
    }
    if (i < cnt && n > 0)
        sent_iov_slow(fd, e, iov + i, cnt - i, n);
}

LINGER_WARM void policy_sent_unseen(int fd, size_t n)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    int saved = errno;
    if ((e = tracked_writer(fd, e)) && !(fdt_flags(e) & FE_BLIND)) {
        fdt_scanner_catch_up(e);
        if (!scan_skip_unseen(&e->u.scan, n))
            fdt_update_flags(e, FE_BLIND, 0);
        note_skippable(e);
        note_verdict(e);
    }
    errno = saved;
}

int policy_relieve_fd_pressure(int err, unsigned need)
{
    /* a vfork child's (or an unhandled fork copy's) fds are not the ones
     * our drainer would close: it must not give the parent's sockets up */
    if ((err != EMFILE && err != ENFILE) || !policy_active() || owner_borrowed_memory())
        return 0;
    int saved = errno;
    drainer_start_if_wanted(); /* sockets deferred to it can be given back then */
    /* a burst of accepts frees a few at a time; each retry needs one (a
     * pipe or socketpair two) */
    unsigned n = need + (unsigned)(stat_get(ST_LINGERING_NOW) / 16);
    int freed = drainer_release(n, need, 50);
    errno = saved;
    return freed;
}

LINGER_WARM void policy_accepted(int fd, int listener)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    fdt_adopt_socket(fd, FO_ACCEPTED);
    /* what the listener gives is known: one fstat instead of classifying
     * at the first write (fstat and three getsockopt calls) */
    unsigned li = fdt_listener_info(listener);
    e->listener = (uint8_t)li;
    fdt_classify_accepted(fd, e, li);
    reqw_adopt(fd); /* its reads go to a fresh request scanner */
    /* No drainer yet: it starts when a response with close semantics is
     * written (policy_sent_slow), or here after a close deferred a socket
     * to it. A second thread would make every fork of a fork-per-connection
     * parent, which accepts but never writes, pay for TLB shootdowns, and
     * glibc and the kernel take their multi-threaded paths in every call
     * of a keep-alive server that never lingers. */
    drainer_start_if_wanted();
    forkchan_on_accept(); /* a fork child that accepts lingers on its own */
}

void policy_setting_option(int level, int name)
{
    probe_note_option(level, name);
}

LINGER_WARM void policy_connected(int fd)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    fdt_adopt_socket(fd, FO_CONNECTED);
    fdt_set_kind(e, FK_IGNORED);
}

LINGER_WARM void policy_shutdown(int fd, int how)
{
    struct fd_entry *e = fdt_get(fd);
    if (e && fdt_kind(e) == FK_ALIAS)
        e = fdt_ring_leader(fd);
    if (!e || fdt_kind(e) != FK_TRACKED)
        return;
    unsigned set = 0;
    if (how == SHUT_WR || how == SHUT_RDWR)
        set |= FE_APP_SHUT_WR;
    if (how == SHUT_RD || how == SHUT_RDWR)
        set |= FE_APP_SHUT_RD;
    fdt_update_flags(e, set, 0);
}

LINGER_WARM void policy_epoll_ctl(int epfd, int op, int fd)
{
    if (op == EPOLL_CTL_ADD)
        fdt_epoll_added(fd, epfd);
    else if (op == EPOLL_CTL_DEL)
        fdt_epoll_removed(fd, epfd);
}

LINGER_WARM void policy_duplicated(int oldfd, int newfd)
{
    struct fd_entry *src = fdt_get(oldfd), *dst = fdt_get(newfd);
    if (!dst || oldfd == newfd || owner_borrowed_memory())
        return;
    int saved = errno;
    enum fd_kind k = src ? fdt_kind(src) : FK_UNKNOWN;
    if (k == FK_UNKNOWN && src)
        k = fdt_classify(oldfd, src);
    if (k == FK_TRACKED || k == FK_ALIAS) {
        fdt_ring_join(oldfd, newfd); /* neither number lingers while the other is open */
    } else if (k == FK_IGNORED) {
        fdt_adopt_socket(newfd, (enum fd_origin)src->origin);
        dst->ino = src->ino;
        fdt_set_kind(dst, k);
    } else {
        fdt_forget(newfd);
    }
    errno = saved;
}

LINGER_WARM void policy_sent_via_stdio(int fd, enum stdio_output out)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || out == STDIO_NOTHING)
        return;
    /* Bytes flushed earlier went out when no hook looked: perhaps before
     * the process's last fork, and what a process wrote before it forked
     * does not make it the one answering (wants_linger). Pending bytes are
     * written now, after any fork. */
    if (out == STDIO_EARLIER && fdt_fork_count() != 0)
        return;
    /* stdio's writes bypass the hooks, so the scanner never saw them. The
     * app is closing a socket it wrote a response to: treat that response
     * as one with close semantics (a client still sending is then drained,
     * whether or not its bytes have arrived yet). */
    if ((e = tracked_writer(fd, e)))
        fdt_update_flags(e, FE_SAW_RESPONSE | FE_SAW_CLOSE, FE_MID_RESPONSE | FE_MID_FRAMED);
}
