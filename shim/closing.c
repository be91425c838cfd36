/* closing.c - what linger does when the app ends a tracked socket: its
 * close (close, close_range, or a close as a side effect: dup2, fclose),
 * its shutdown, its exit with the socket open. Each gathers the facts
 * decide_close (decide.c) asks for - claiming the entry, leaving the ring
 * of numbers (fdring.c), probing the socket (probe.c) - and carries out the
 * verdict: a lingering copy for the drainer, or a plain close. */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "decide.h"
#include "drainer.h"
#include "fdring.h"
#include "forkchan.h"
#include "holders.h"
#include "ownfd.h"
#include "probe.h"
#include "owner.h"
#include "real.h"
#include "reqwatch.h"
#include "stats.h"
#include "pages.h"

#ifndef CLOSE_RANGE_CLOEXEC /* glibc's unistd.h has it, musl's does not */
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* ---- the facts ---- */

/* FACT_YES or FACT_NO. */
static enum fact fact(int yes)
{
    return yes ? FACT_YES : FACT_NO;
}

/* The facts entry e (held by this call) gives. */
static LINGER_HOT void note_entry(struct close_facts *f, const struct fd_entry *e)
{
    uint32_t wm = fdt_writer_gen(e);
    f->flags = fdt_flags(e);
    f->written_here = fdt_written_here(wm);
    f->written_since_fork = wm == fdt_writer_mark();
    f->inherited = e->origin == FO_INHERITED;
}

/* True when verdict v (a linger) came from the request side alone: the
 * same facts without an unconsumed request body would close plainly. */
static int lingers_for_request(const struct close_facts *f, enum close_verdict v)
{
    if (v != CLOSE_LINGER || !f->request_lingers)
        return 0;
    struct close_facts without = *f;
    without.request_lingers = 0;
    return decide_close(&without) == CLOSE_PLAIN;
}

/* Finds out the fact question q asks about fd (entry e) into f. */
static void find_out(enum close_verdict q, int fd, const struct fd_entry *e, struct close_facts *f)
{
    switch (q) {
    case ASK_SAME_SOCKET:
        f->same_socket = fact(forkchan_inherited() ? fdt_same_socket_raw(fd, e) : fdt_same_socket(fd, e));
        break;
    case ASK_PEER:
        f->peer = probe_peer(fd, e);
        break;
    case ASK_RESET:
        f->wants_reset = fact(probe_wants_reset(fd, e));
        break;
    case ASK_PARENT:
        f->parent_lets_go = fact(holders_parent_lets_go(e->ino));
        break;
    case ASK_CONNECTED:
        f->connected = fact(probe_connected(fd));
        break;
    case ASK_SELF_PEER:
        f->self_peer = fact(probe_self_peer(fd));
        break;
    default:
        break;
    }
}

/* Questions decide_close can ask once the entry is held (each once). */
#define MAX_QUESTIONS 8

/* decide_close's verdict for fd (entry e, held: f->hold is known), each
 * fact it asks for found out in turn. */
static LINGER_HOT enum close_verdict verdict(int fd, const struct fd_entry *e, struct close_facts *f)
{
    enum close_verdict v = decide_close(f);
    for (int i = 0; decide_asks(v) && v != ASK_HOLD && i < MAX_QUESTIONS; i++) {
        find_out(v, fd, e, f);
        v = decide_close(f);
    }
    return decide_asks(v) ? CLOSE_PLAIN : v;
}

/* ---- carrying a verdict out ---- */

/* Takes the app's epoll registrations of fd away (those linger recorded). */
static void forget_epoll_sets(int fd, const struct fd_entry *e)
{
    for (int i = 0; i < FD_EPOLL_SLOTS; i++) {
        int slot = fdt_epoll_slot(e, i);
        if (slot)
            real_epoll_ctl(slot - 1, EPOLL_CTL_DEL, fd, NULL);
    }
}

/* lingering_copy's answer when the connection is gone already (the peer
 * reset it): nothing to linger, and no reason to count a fallback. */
#define PEER_GONE (-2)
/* hand_over's answer for a socket a fork child sent over its channel: the
 * drainer process counts it (forkchan.h), the child does not. */
#define HANDED_TO_PARENT 1

/* A shim-owned duplicate of fd's socket, shut down for writing and marked
 * FK_LINGERING, after taking fd out of the app's epoll sets; or -1 (the
 * socket is untouched) or PEER_GONE. recheck: fd may be closed and its
 * number reused by another thread meanwhile, so the copy is checked to be
 * the same socket. */
static LINGER_WARM int lingering_copy(int fd, const struct fd_entry *e, int recheck)
{
    unsigned flags = fdt_flags(e);
    if (flags & FE_EPOLL_LOST)
        return -1; /* registered in epoll sets linger cannot name */
    int own = real_fcntl(fd, F_DUPFD_CLOEXEC, ownfd_base());
    if (own < 0)
        return -1;
    struct fd_entry *oe = fdt_get(own);
    if (!oe || (recheck && !fdt_same_socket(own, e))) {
        real_close(own);
        return -1;
    }
    /* the number must still hold the socket when its epoll registrations go */
    if (!recheck || fdt_same_socket(fd, e))
        forget_epoll_sets(fd, e);
    if (!(flags & FE_APP_SHUT_WR) && real_shutdown(own, SHUT_WR) != 0) {
        int gone = errno == ENOTCONN;
        real_close(own);
        return gone ? PEER_GONE : -1;
    }
    fdt_adopt_socket(own, (enum fd_origin)e->origin);
    oe->flags = (uint16_t)(flags & (FE_UNIX | FE_APP_SHUT_RD));
    oe->ino = e->ino;
    fdt_set_kind(oe, FK_LINGERING);
    stat_add(ST_LINGERED, 1);
    return own;
}

/* Counts lingering copy own as a reset avoided now when bytes were unread
 * at its close (pending > 0), else when the drainer discards its first
 * bytes (they arrived after the close). */
static void count_reset_avoided(int own, int pending)
{
    if (pending > 0)
        stat_add(ST_RESETS_AVOIDED, 1);
    else
        fdt_update_flags(&fdt[own], FE_COUNT_FIRST_BYTES, 0);
}

/* forkchan: a fork child sends fd's socket itself, shut down for writing,
 * to the drainer process of its parent's children (forkchan.h), and
 * forgets fd (closes it too when close_app). HANDED_TO_PARENT when sent; PEER_GONE; -1
 * when the send failed (the socket may be shut down and out of the app's
 * epoll sets by then, and its entry says so). */
static int hand_to_parent(int fd, struct fd_entry *e, int pending, int close_app)
{
    unsigned flags = fdt_flags(e);
    if (flags & FE_EPOLL_LOST)
        return -1;
    forget_epoll_sets(fd, e);
    if (!(flags & FE_APP_SHUT_WR)) {
        /* by a raw system call, as the send below: libc's wrappers of both
         * lie on a page of libc's code the child would map in for them
         * alone (forkmap.h) */
        if (raw_syscall(SYS_shutdown, fd, SHUT_WR, 0, 0, 0, 0) != 0)
            return errno == ENOTCONN ? PEER_GONE : -1;
        fdt_update_flags(e, FE_APP_SHUT_WR, 0); /* a fallback does not shut it again */
    }
    if (forkchan_send(fd, flags, e->origin, e->ino, pending) != 0)
        return -1;
    fdt_forget(fd);
    if (close_app)
        real_close(fd);
    return HANDED_TO_PARENT;
}

/* Hands fd's socket to the drainer and forgets fd; closes it too when
 * close_app. pending: bytes were unread at its close. 0 on success
 * (HANDED_TO_PARENT when a fork child sent it over its channel); -1 to fall
 * back to a plain close (nothing changed for the app), PEER_GONE for a
 * plain close of a connection that has ended already. A process whose
 * drainer thread does not run yet defers the copy to it (drainer_defer). A
 * fork child hands it over its channel (forkchan.h); when that fails and it
 * has no drainer of its own, the shut-down copy stays in its table for its
 * exit's drainer process (handoff.h). */
static int hand_over(int fd, struct fd_entry *e, int pending, int close_app)
{
    if (forkchan_inherited()) {
        int r = hand_to_parent(fd, e, pending, close_app);
        if (r != -1)
            return r;
    } else if (!drainer_will_take()) {
        return -1;
    }
    int own = lingering_copy(fd, e, 0);
    if (own < 0)
        return own;
    count_reset_avoided(own, pending);
    fdt_forget(fd);
    /* first: close() is a cancellation point */
    if (drainer_accepting())
        drainer_adopt(own);
    else if (!forkchan_inherited())
        drainer_defer(own); /* the thread starts at the app's next accept or write */
    if (close_app)
        real_close(fd);
    return 0;
}

/* In a fork child (forkchan.h): sends lingering copy own over the channel;
 * the drainer process counts it from then on (the child's count is taken
 * back). 1 when sent: own is closed and forgotten. */
static int copy_to_parent(int own, int pending)
{
    struct fd_entry *oe = &fdt[own];
    if (!forkchan_inherited() || forkchan_send(own, fdt_flags(oe), oe->origin, oe->ino, pending) != 0)
        return 0;
    fdt_forget(own);
    real_close(own);
    stat_sub(ST_LINGERED, 1);
    if (pending)
        stat_sub(ST_RESETS_AVOIDED, 1);
    return 1;
}

/* Claims tracked entry e for the app's close. */
static int claim_for_close(struct fd_entry *e)
{
    return fdt_claim(e, FK_TRACKED, FK_DECIDING);
}

/* The app's close of fd: claims its entry, then takes fd out of its ring
 * of numbers. The claim comes before the ring is left, so that the exit
 * path cannot take a leader whose scanner is passing to another number. */
static enum close_hold hold_for_close(int fd, struct fd_entry *e)
{
    enum fd_kind held = fdt_settle(e);
    if (held == FK_TRACKED && !claim_for_close(e))
        return fdt_kind(e) == FK_DECIDING ? HOLD_BUSY : HOLD_OTHERS;
    if (held != FK_TRACKED && held != FK_ALIAS)
        return held == FK_DECIDING ? HOLD_BUSY : HOLD_OTHERS;
    int left = fdt_ring_leave(fd, held == FK_TRACKED ? FK_DECIDING : FK_ALIAS);
    if (left == FDT_RING_BUSY)
        return HOLD_BUSY;
    if (left)
        return HOLD_OTHERS; /* other numbers still hold the socket, or may */
    if (fdt_kind(e) == FK_TRACKED && !claim_for_close(e)) /* an alias that was the last */
        return fdt_kind(e) == FK_DECIDING ? HOLD_BUSY : HOLD_OTHERS;
    return HOLD_LAST;
}

/* decide()'s answers besides "handed over" (1). */
enum { DECIDE_PLAIN = 0, DECIDE_BUSY = -1 };

/* The close decision for a tracked socket or alias fd about to be closed,
 * carried out. Returns 1 when it was handed to the drainer; DECIDE_PLAIN
 * for a plain close (the caller forgets fd); DECIDE_BUSY when another
 * thread is deciding this socket (the exit path) or holds its ring (the
 * caller closes and leaves the entry). */
static LINGER_HOT int decide(int fd, struct fd_entry *e, int close_app)
{
    struct close_facts f = { .event = CE_CLOSE, .mode = cfg.mode };
    if (decide_close(&f) != ASK_HOLD)
        return DECIDE_PLAIN;
    f.hold = hold_for_close(fd, e);
    if (f.hold == HOLD_LAST) {
        note_entry(&f, e);
        f.request_lingers = reqw_wants_linger(fd, e);
    }
    enum close_verdict v = verdict(fd, e, &f);
    int pending = f.peer == PEER_PENDING;
    switch (v) {
    case CLOSE_BUSY:
        return DECIDE_BUSY;
    case CLOSE_OBSERVE:
        stat_add(ST_OBSERVED_LINGERS, 1);
        if (pending)
            stat_add(ST_OBSERVED_RESETS, 1);
        return DECIDE_PLAIN;
    case CLOSE_LINGER: {
        int for_request = lingers_for_request(&f, v);
        int handed = hand_over(fd, e, pending, close_app);
        if (handed == 0 || handed == HANDED_TO_PARENT) {
            if (for_request && handed == 0) /* counted where the socket is */
                stat_add(ST_REQUEST_LINGERS, 1);
            return 1;
        }
        if (handed != PEER_GONE) /* a reset connection needs no lingering: no fallback */
            stat_add(ST_FALLBACK_CLOSES, 1);
        return DECIDE_PLAIN;
    }
    default:
        return DECIDE_PLAIN;
    }
}

/* True for the shim's own fds (the number really holds linger's file). */
static int is_own(int fd, struct fd_entry *e, enum fd_kind k)
{
    return (k == FK_LINGERING || k == FK_CLOSING || k == FK_SHIM) && fdt_same_file(fd, e);
}

LINGER_HOT int policy_close(int fd, int *rc)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return 0;
    /* first: a vfork child's close must not touch its parent's entries,
     * even to forget one (the parent's number stays open) */
    if (owner_borrowed_memory())
        return 0;
    enum fd_kind k0 = fdt_kind(e);
    if (k0 == FK_UNKNOWN || k0 == FK_IGNORED) {
        fdt_forget(fd);
        return 0;
    }
    int saved = errno;
    int handled = 0, decision = DECIDE_PLAIN;
    enum fd_kind k = fdt_kind(e);
    if (k == FK_DECIDING)
        k = fdt_settle(e);
    if (k == FK_DECIDING) {
        /* the exit path still decides it: a plain close, the entry is its */
    } else if (is_own(fd, e, k)) { /* not the app's: as if it were not open */
        *rc = -1;
        saved = EBADF;
        handled = 1;
    } else if ((k == FK_TRACKED || k == FK_ALIAS) && (decision = decide(fd, e, 1)) == 1) {
        *rc = 0;
        handled = 1;
    } else if (decision != DECIDE_BUSY) {
        fdt_forget(fd);
    }
    restore_errno(saved);
    return handled;
}

LINGER_WARM void policy_before_implicit_close(int fd, enum stdio_output stdio)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || owner_borrowed_memory())
        return;
    int saved = errno;
    enum fd_kind k = fdt_kind(e);
    if (is_own(fd, e, k)) {
        /* The app names a number linger holds (dup2/dup3). The app wins: a
         * shim fd moves away; a lingering socket is given up, and the
         * drainer notices the number is no longer its own. */
        if (k == FK_SHIM)
            ownfd_relocate(fd);
        else
            stat_add(ST_FALLBACK_CLOSES, 1);
    } else {
        if (stdio != STDIO_NOTHING) {
            policy_sent_via_stdio(fd, stdio);
            k = fdt_kind(e);
        }
        if (k == FK_DECIDING)
            k = fdt_settle(e);
        if (k == FK_DECIDING || ((k == FK_TRACKED || k == FK_ALIAS) && decide(fd, e, 0) == DECIDE_BUSY)) {
            errno = saved;
            return; /* the exit path decides it and owns the entry */
        }
    }
    fdt_forget(fd);
    errno = saved;
}

LINGER_WARM int policy_close_range(unsigned first, unsigned last, int flags)
{
    if ((flags & CLOSE_RANGE_CLOEXEC) /* linger's fds are close-on-exec already */
        || owner_borrowed_memory())
        return real_close_range(first, last, flags);
    /* Nothing lingers, nor is forgotten, unless the kernel will close the
     * range: ask it first with a range that holds no fd. It fails as the
     * app's call would - ENOSYS before Linux 5.9 (the app falls back to
     * its own closes, which the close hook sees), EINVAL for flags it does
     * not know - with nothing changed. */
    if (real_close_range(~0u, ~0u, flags) != 0)
        return -1;
    unsigned from = first;
    /* fdt_next reads the high-water marks each time: a lingering close below
     * adds a shim fd */
    for (unsigned fd = (unsigned)fdt_next((int)first - 1); fd != ~0u && fd <= last; fd = (unsigned)fdt_next((int)fd)) {
        struct fd_entry *e = &fdt[fd];
        enum fd_kind k = fdt_kind(e);
        int rc;
        if (is_own((int)fd, e, k)) {
            if (fd > from && real_close_range(from, fd - 1, flags) != 0)
                return -1;
            from = fd + 1;
        } else if (k == FK_TRACKED || k == FK_ALIAS || k == FK_DECIDING) {
            policy_close((int)fd, &rc); /* lingers, or forgets it for the range close */
        } else {
            fdt_forget((int)fd);
        }
    }
    if (from > last)
        return 0;
    return real_close_range(from, last, flags);
}

/* The tracked entry holding fd's socket's state (its ring's leader for an
 * alias), or NULL. */
static struct fd_entry *tracked_entry(int fd, struct fd_entry *e)
{
    enum fd_kind k = fdt_kind(e);
    if (k == FK_ALIAS)
        return fdt_ring_leader(fd);
    return k == FK_TRACKED ? e : NULL;
}

LINGER_WARM int policy_shutdown_how(int fd, int how)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return how;
    struct close_facts f = { .event = CE_SHUTDOWN, .mode = cfg.mode, .how = how };
    /* only SHUT_RD and SHUT_RDWR are rewritten; any other value (SHUT_WR, or
     * one the kernel refuses with EINVAL) goes to the kernel as it is */
    if (decide_close(&f) != ASK_HOLD || !(e = tracked_entry(fd, e)))
        return how;
    f.hold = HOLD_LAST;
    note_entry(&f, e);
    f.request_lingers = reqw_wants_linger((int)(e - fdt), e);
    /* the questions set errno (the socket's probe leaves EAGAIN): a
     * shutdown that succeeds must leave the app's errno as it was */
    int saved = errno;
    enum close_verdict v = verdict(fd, e, &f);
    errno = saved;
    if (v != CLOSE_SHUTDOWN_ONLY)
        return how;
    /* Linux resets a TCP connection whose read side is shut as soon as data
     * arrives after its FIN: keep the read side open so the close lingers. */
    return how == SHUT_RDWR ? SHUT_WR : POLICY_SHUTDOWN_SKIP;
}

/* ---- the exit ---- */


/* What the exit path decides on, copied once it holds the claim: another
 * thread may still close the number (after fdt_settle gives up) and a new
 * socket reuse the entry. */
static void snapshot(const struct fd_entry *e, struct fd_entry *snap)
{
    snap->origin = e->origin;
    snap->listener = e->listener;
    snap->flags = (uint16_t)fdt_flags(e);
    snap->writer_gen = fdt_writer_gen(e);
    snap->ino = e->ino;
    for (int i = 0; i < FD_EPOLL_SLOTS; i++)
        snap->epfds[i] = fdt_epoll_slot(e, i);
}


LINGER_WARM int policy_linger_at_exit(int fd, int alone)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return 0;
    struct close_facts f = { .event = CE_EXIT, .mode = cfg.mode, .alone = alone };
    if (decide_close(&f) != ASK_HOLD || !fdt_claim(e, FK_TRACKED, FK_DECIDING))
        return 0; /* not a tracked socket, or its own thread is closing it */
    f.hold = HOLD_LAST;
    struct fd_entry snap = { 0 };
    snapshot(e, &snap);
    note_entry(&f, &snap);
    /* the claim stills the send side's scanner, not the read side's: with
     * other threads of the app running, one may be inside a read of this
     * socket, feeding its request scanner - so the request side is asked
     * only of an exit alone (R14 keeps to what is known then) */
    f.request_lingers = alone ? reqw_wants_linger(fd, e) : 0;
    int own = -1;
    enum close_verdict v = verdict(fd, &snap, &f);
    if (v == CLOSE_LINGER && (own = lingering_copy(fd, &snap, 1)) >= 0) {
        count_reset_avoided(own, f.peer == PEER_PENDING);
        if (copy_to_parent(own, f.peer == PEER_PENDING))
            ; /* a fork child's: the drainer process of its parent's children has it */
        else {
            if (lingers_for_request(&f, v))
                stat_add(ST_REQUEST_LINGERS, 1);
            if (drainer_accepting())
                drainer_adopt(own); /* else the exit's drainer process takes it */
        }
    }
    /* the app's number is a plain socket from now on; its thread may still
     * close it (the copy keeps the connection). Unless the entry went to a
     * new socket meanwhile. */
    fdt_claim(e, FK_DECIDING, own >= 0 ? FK_IGNORED : FK_TRACKED);
    return own >= 0;
}
