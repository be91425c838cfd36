/* policy.c - what linger does at each fd event (see policy.h). */
#include "policy.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "config.h"
#include "drainer.h"
#include "holders.h"
#include "hooks.h"
#include "log.h"
#include "ownfd.h"
#include "real.h"
#include "stats.h"

#ifndef CLOSE_RANGE_CLOEXEC /* glibc's unistd.h has it, musl's does not */
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MADV_WIPEONFORK /* Linux 4.14; older libc headers lack it */
#define MADV_WIPEONFORK 18
#endif

int policy_active(void)
{
    return fdt_size != 0;
}

/* The process the table belongs to; a fork child updates it (fork handler).
 * Two kinds of child must not act on the table: one that shares our memory
 * (vfork, clone with CLONE_VM: it would change its parent's table), and one
 * with a copy made without our fork handlers (_Fork, clone without CLONE_VM,
 * syscall(SYS_fork): its copy still describes the parent - writer, drainer,
 * handover stack). Both leave the table alone, as if linger were not there. */
static pid_t table_owner;

/* A page the kernel zeroes in every child that gets a copy of our memory
 * (MADV_WIPEONFORK); the fork handler below sets it again. Zero means a copy
 * made without the handlers. NULL where the kernel cannot wipe: then every
 * close asks the pid, and a copy is told apart by that. */
static volatile uint8_t *owner_mark;

/* Set before the first vfork or clone(CLONE_VM) the app makes (the hooks in
 * hooks_process.c and hooks_syscall.c see them); never cleared. Set at load
 * where vfork cannot be hooked (hooks_process.c says where it can) or no
 * page can be wiped. */
static _Atomic int memory_may_be_shared = !LINGER_HOOKS_VFORK;

void policy_memory_may_be_shared(void)
{
    atomic_store_explicit(&memory_may_be_shared, 1, memory_order_relaxed);
}

static void note_owner(void)
{
    if (drainer_detaching)
        return;
    table_owner = (pid_t)raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
    if (owner_mark)
        *owner_mark = 1;
}

/* owner_mark, or NULL (and every close asks the pid). */
static volatile uint8_t *map_owner_mark(void)
{
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return NULL;
    if (madvise(page, 4096, MADV_WIPEONFORK) != 0) {
        munmap(page, 4096);
        return NULL;
    }
    return page;
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
    owner_mark = map_owner_mark();
    if (!owner_mark)
        policy_memory_may_be_shared();
    note_owner();
    pthread_atfork(NULL, fdt_note_fork, note_owner);
}

/* True in a child that must leave the table alone (see table_owner): a copy
 * made without our fork handlers (the mark is wiped), or - once the app has
 * made a child that may share our memory - a pid that is not the owner's.
 * No system call until the app makes such a child; the send path does not
 * ask. */
static int borrowed_memory(void)
{
    if (owner_mark && !*owner_mark)
        return 1;
    if (!atomic_load_explicit(&memory_may_be_shared, memory_order_relaxed))
        return 0;
    return (pid_t)raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0) != table_owner;
}

static int wants_linger(int fd, const struct fd_entry *e, int *pending);

/* Starts the drainer when the mode may need it. */
static void want_drainer(void)
{
    if (cfg.mode == MODE_ON || cfg.mode == MODE_ALWAYS || cfg.stats_file)
        drainer_ensure_started();
}

/* Folds the scanner's verdict and position into the entry's flags. */
static void note_verdict(struct fd_entry *e)
{
    unsigned set = 0, clear = 0;
    switch (scan_verdict(&e->u.scan)) {
    case SCAN_CLOSE:
        set = FE_SAW_RESPONSE | FE_SAW_CLOSE;
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
}

/* The entry holding the scanner of fd's socket, classifying fd if needed;
 * marks this process as its writer. NULL when fd is not a tracked socket. */
static struct fd_entry *tracked_writer(int fd, struct fd_entry *e)
{
    enum fd_kind k = fdt_kind(e);
    if (k == FK_DECIDING) /* another thread decides its close: see how that ends */
        k = fdt_settle(e);
    if (k == FK_UNKNOWN)
        k = fdt_classify(fd, e);
    if (k == FK_ALIAS) {
        if (!(e = fdt_ring_leader(fd)))
            return NULL; /* its ring is busy or lost: these bytes go unscanned */
        k = FK_TRACKED;
    }
    if (k != FK_TRACKED)
        return NULL;
    uint32_t mark = fdt_writer_mark();
    if (fdt_writer_gen(e) != mark) {
        fdt_set_writer_gen(e, mark);
        want_drainer();
    }
    return e;
}

/* After the scanner looked: what the hot path may skip from here on. */
static void note_skippable(struct fd_entry *e)
{
    e->skip = scan_skippable(&e->u.scan);
}

ssize_t policy_sent_slow_r(int fd, struct fd_entry *e, const void *buf, ssize_t r)
{
    policy_sent_slow(fd, e, buf, (size_t)r);
    return r;
}

void policy_sent_slow(int fd, struct fd_entry *e, const void *buf, size_t n)
{
    int saved = errno;
    if ((e = tracked_writer(fd, e)) && !(fdt_flags(e) & FE_BLIND)) {
        fdt_scanner_catch_up(e);
        scan_feed(&e->u.scan, buf, n);
        note_skippable(e);
        note_verdict(e);
    }
    errno = saved;
}

void policy_sent_iov(int fd, const struct iovec *iov, size_t cnt, size_t n)
{
    for (size_t i = 0; i < cnt && n > 0; i++) {
        size_t part = iov[i].iov_len < n ? iov[i].iov_len : n;
        if (part)
            policy_sent(fd, iov[i].iov_base, part);
        n -= part;
    }
}

void policy_sent_unseen(int fd, size_t n)
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
    if ((err != EMFILE && err != ENFILE) || !policy_active() || borrowed_memory())
        return 0;
    int saved = errno;
    /* a burst of accepts frees a few at a time; each retry needs one (a
     * pipe or socketpair two) */
    unsigned n = need + (unsigned)(stat_get(ST_LINGERING_NOW) / 16);
    int freed = drainer_release(n, need, 50);
    errno = saved;
    return freed;
}

void policy_accepted(int fd, int listener)
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
    /* No drainer yet: it starts on the first write (tracked_writer). A
     * second thread would make every fork of a fork-per-connection parent,
     * which accepts but never writes, pay for TLB shootdowns. */
}

/* Set once the app sets SO_LINGER on any socket: from then on each close
 * asks its socket whether the app wants it reset. */
static _Atomic int app_sets_linger;

/* Set once the app sets SO_RCVLOWAT on any socket: from then on each close
 * counts the unread bytes even when poll shows none (see peek_peer). */
static _Atomic int app_sets_rcvlowat;

void policy_setting_option(int level, int name)
{
    if (level == SOL_SOCKET && name == SO_LINGER)
        atomic_store_explicit(&app_sets_linger, 1, memory_order_relaxed);
    if (level == SOL_SOCKET && name == SO_RCVLOWAT)
        atomic_store_explicit(&app_sets_rcvlowat, 1, memory_order_relaxed);
}

void policy_connected(int fd)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    fdt_adopt_socket(fd, FO_CONNECTED);
    fdt_set_kind(e, FK_IGNORED);
}

int policy_shutdown_how(int fd, int how)
{
    struct fd_entry *e = fdt_get(fd);
    /* only SHUT_RD and SHUT_RDWR are rewritten; any other value (SHUT_WR, or
     * one the kernel refuses with EINVAL) goes to the kernel as it is */
    if (!e || (how != SHUT_RD && how != SHUT_RDWR) || cfg.mode == MODE_OFF || cfg.mode == MODE_OBSERVE)
        return how;
    enum fd_kind k = fdt_kind(e);
    if (k == FK_ALIAS)
        e = fdt_ring_leader(fd);
    else if (k != FK_TRACKED)
        return how;
    if (!e)
        return how;
    /* only a recognised HTTP response (or mode always) changes the app's
     * shutdown: an app that shuts a connection it cannot be known to have
     * answered (its own protocol) expects its reads to end at once */
    if ((fdt_flags(e) & FE_UNIX) || (cfg.mode != MODE_ALWAYS && !(fdt_flags(e) & FE_SAW_RESPONSE)))
        return how;
    /* the questions below set errno (the socket's probe leaves EAGAIN): a
     * shutdown that succeeds must leave the app's errno as it was */
    int saved = errno, pending = 0;
    int linger = wants_linger(fd, e, &pending);
    if (linger && how == SHUT_RD) {
        /* the skip answers 0 where the kernel answers ENOTCONN once the
         * connection has ended (TCP_CLOSE: reset, with bytes still unread,
         * which count as lingering); getpeername fails just then, and
         * changes nothing */
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        linger = getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
    }
    errno = saved;
    if (!linger)
        return how;
    /* Linux resets a TCP connection whose read side is shut as soon as data
     * arrives after its FIN: keep the read side open so the close lingers. */
    return how == SHUT_RDWR ? SHUT_WR : POLICY_SHUTDOWN_SKIP;
}

void policy_shutdown(int fd, int how)
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

void policy_epoll_ctl(int epfd, int op, int fd)
{
    if (op == EPOLL_CTL_ADD)
        fdt_epoll_added(fd, epfd);
    else if (op == EPOLL_CTL_DEL)
        fdt_epoll_removed(fd, epfd);
}

/* ---- the close decision ---- */

/* What the socket's receive side looks like right now. */
enum peer_state { PEER_OPEN, PEER_PENDING, PEER_DONE, PEER_BROKEN };

/* One byte peeked at: 1 when there is one. For a socket SIOCINQ cannot
 * count, asked only when poll showed no pending error (a recv returns that
 * error, and clears it). */
static int peek_byte(int fd)
{
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Looks without taking anything from the socket: unread bytes queued, the
 * peer's EOF (or the app's SHUT_RD) with nothing queued, an open peer with
 * nothing queued, or a connection that ended with an error.
 *
 * Not with recv(MSG_PEEK): after a reset it returns the socket's pending
 * error and clears it, so the app's next recv would read a plain EOF and
 * SO_ERROR 0. poll with no wait reports without clearing: POLLIN (bytes
 * queued, or EOF), POLLRDHUP (the peer's FIN, or SHUT_RD), POLLHUP (both
 * directions shut, or the connection ended: TCP_CLOSE), POLLERR (an error
 * pending - or, without POLLHUP, only a note on the error queue, such as
 * MSG_ZEROCOPY's or a timestamp, or a soft error under IP_RECVERR, on a
 * connection that runs: not an end). Once the peer has closed, POLLIN no
 * longer tells bytes from EOF: SIOCINQ (FIONREAD) counts the unread bytes,
 * the FIN aside. So one call, two when the peer has closed; count asks
 * SIOCINQ whenever poll shows nothing to read, since poll hides fewer
 * bytes than SO_RCVLOWAT. */
static enum peer_state peek_peer(int fd, int count)
{
    struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
    /* even with no wait, poll fails with EINTR when nothing is ready and a
     * signal is pending: that says nothing of the peer, so ask again (a
     * storm of signals that never lets it answer: take the peer as open) */
    int r, tries = 0;
    while ((r = poll(&p, 1, 0)) < 0 && errno == EINTR)
        if (++tries == 64)
            return PEER_OPEN;
    if (r < 0 || (p.revents & POLLNVAL))
        return PEER_BROKEN;
    int ended = (p.revents & (POLLRDHUP | POLLHUP)) != 0, error = (p.revents & POLLERR) != 0;
    if (!ended && (p.revents & POLLIN))
        return PEER_PENDING; /* bytes (or urgent data) to read, the peer open */
    if (!ended && !count)
        return PEER_OPEN;
    int unread = 0;
    if (ioctl(fd, FIONREAD, &unread) != 0) /* a stream protocol without SIOCINQ */
        unread = ended && !error && peek_byte(fd);
    if (unread > 0)
        return PEER_PENDING;
    return !ended ? PEER_OPEN : error ? PEER_BROKEN : PEER_DONE;
}

/* True when a close of e must count its unread bytes (peek_peer's count):
 * the app may have set SO_RCVLOWAT on it. A socket accepted here has only
 * what its listener had (learnt at the first accept) until the app sets
 * SO_RCVLOWAT on something; an inherited one may have anything. */
static int may_have_rcvlowat(const struct fd_entry *e)
{
    return e->origin != FO_ACCEPTED || (e->listener & (LI_KNOWN | LI_LOWAT)) != LI_KNOWN
           || atomic_load_explicit(&app_sets_rcvlowat, memory_order_relaxed);
}

/* True when the app asked for an abortive close (SO_LINGER with 0 s). A
 * socket accepted here has only what its listener had (learnt at the first
 * accept) until the app sets SO_LINGER on something: no need to ask it. */
static int app_wants_reset(int fd, const struct fd_entry *e)
{
    if (e->origin == FO_ACCEPTED && (e->listener & (LI_KNOWN | LI_RESETS)) == LI_KNOWN
        && !atomic_load_explicit(&app_sets_linger, memory_order_relaxed))
        return 0;
    struct linger l;
    socklen_t len = sizeof l;
    return getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) == 0 && l.l_onoff && l.l_linger == 0;
}

/* Would this close linger? It does when this process wrote here and
 * either its last response had close semantics (or the mode is always) or
 * request bytes are unread (after a keep-alive response, or after bytes
 * the scanner could not read as a response: a reset would lose them just
 * the same); what is not an HTTP response counts only if written since the
 * process last forked. Never when the peer has closed already with nothing
 * unread: that socket is closed at once, in every mode. Sets *pending to 1
 * when bytes are unread, else 0. */
static int wants_linger(int fd, const struct fd_entry *e, int *pending)
{
    unsigned flags = fdt_flags(e);
    uint32_t wm = fdt_writer_gen(e);
    if (!fdt_written_here(wm))
        return 0;  /* this process never wrote here (a forking parent's copy) */
    if (!fdt_same_socket(fd, e))
        return 0;  /* the number was closed unseen and reused */
    if ((flags & (FE_APP_SHUT_RD | FE_UNIX)) == FE_APP_SHUT_RD)
        return 0;  /* TCP resets data arriving after a real SHUT_RD: no use */
    /* what this process wrote is known to be its answer: an HTTP response,
     * or anything it wrote since its last fork - else a child it forked may
     * be the one serving the socket now (a greeting, then a fork) */
    int own_answer = (flags & FE_SAW_RESPONSE) || wm == fdt_writer_mark();
    int decided = (flags & FE_SAW_CLOSE) || (cfg.mode == MODE_ALWAYS && own_answer);
    enum peer_state p = peek_peer(fd, may_have_rcvlowat(e));
    *pending = p == PEER_PENDING;
    int linger = p != PEER_DONE && p != PEER_BROKEN && !app_wants_reset(fd, e)
                 && (decided || (*pending && own_answer));
    /* last, being the dearest check (it reads /proc): an inherited socket
     * the parent may still have - this close may end nothing */
    return linger && (e->origin != FO_INHERITED || holders_parent_lets_go(e->ino));
}

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

/* A shim-owned duplicate of fd's socket, shut down for writing and marked
 * FK_LINGERING, after taking fd out of the app's epoll sets; or -1 (the
 * socket is untouched) or PEER_GONE. recheck: fd may be closed and its
 * number reused by another thread meanwhile, so the copy is checked to be
 * the same socket. */
static int lingering_copy(int fd, const struct fd_entry *e, int recheck)
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

/* Hands fd's socket to the drainer and forgets fd; closes it too when
 * close_app. pending: as wants_linger set it. 0 on success; -1 to fall
 * back to a plain close (nothing changed for the app), PEER_GONE for a
 * plain close of a connection that has ended already. */
static int hand_over(int fd, struct fd_entry *e, int pending, int close_app)
{
    if (!drainer_accepting())
        return -1;
    int own = lingering_copy(fd, e, 0);
    if (own < 0)
        return own;
    count_reset_avoided(own, pending);
    fdt_forget(fd);
    drainer_adopt(own); /* first: close() is a cancellation point */
    if (close_app)
        real_close(fd);
    return 0;
}

/* Claims tracked entry e for the app's close. */
static int claim_for_close(struct fd_entry *e)
{
    return fdt_claim(e, FK_TRACKED, FK_DECIDING);
}

/* True when the app closes a socket whose response is partly written and
 * its own bytes mark its end (a head, a Content-Length or chunked body),
 * and the app has not shut the write side down itself. Another thread may
 * be in a write of the rest right now (the scanner sees a write's bytes
 * when it returns): without linger that write completes, since it holds
 * the file, and the client gets the whole response; the shutdown of a
 * lingering copy would cut it short. Such a close is plain, in every mode.
 * A body that only the close ends (no length, not chunked) is not cut
 * short by the close: it ends there, and lingers. */
static int response_in_flight(const struct fd_entry *e)
{
    return (fdt_flags(e) & (FE_MID_FRAMED | FE_APP_SHUT_WR)) == FE_MID_FRAMED;
}

/* decide()'s answers besides "handed over" (1). */
enum { DECIDE_PLAIN = 0, DECIDE_BUSY = -1 };

/* The close decision for a tracked socket or alias fd about to be closed.
 * Returns 1 when it was handed to the drainer; DECIDE_PLAIN for a plain
 * close (the caller forgets fd); DECIDE_BUSY when another thread is
 * deciding this socket (the exit path) or holds its ring (the caller
 * closes and leaves the entry). */
static int decide(int fd, struct fd_entry *e, int close_app)
{
    if (cfg.mode == MODE_OFF)
        return DECIDE_PLAIN;
    /* claimed before the ring is left, so that the exit path cannot take a
     * leader whose scanner is passing to another number */
    enum fd_kind held = fdt_settle(e);
    if (held == FK_TRACKED && !claim_for_close(e))
        return fdt_kind(e) == FK_DECIDING ? DECIDE_BUSY : DECIDE_PLAIN;
    if (held != FK_TRACKED && held != FK_ALIAS)
        return held == FK_DECIDING ? DECIDE_BUSY : DECIDE_PLAIN;
    int left = fdt_ring_leave(fd, held == FK_TRACKED ? FK_DECIDING : FK_ALIAS);
    if (left == FDT_RING_BUSY)
        return DECIDE_BUSY;
    if (left)
        return DECIDE_PLAIN; /* other numbers still hold the socket, or may */
    if (fdt_kind(e) == FK_TRACKED && !claim_for_close(e)) /* an alias that was the last */
        return fdt_kind(e) == FK_DECIDING ? DECIDE_BUSY : DECIDE_PLAIN;
    if (response_in_flight(e))
        return DECIDE_PLAIN;
    int pending = 0;
    if (!wants_linger(fd, e, &pending))
        return DECIDE_PLAIN;
    if (cfg.mode == MODE_OBSERVE) {
        stat_add(ST_OBSERVED_LINGERS, 1);
        if (pending)
            stat_add(ST_OBSERVED_RESETS, 1);
        return DECIDE_PLAIN;
    }
    int handed = hand_over(fd, e, pending, close_app);
    if (handed == 0)
        return 1;
    if (handed != PEER_GONE) /* a reset connection needs no lingering: no fallback */
        stat_add(ST_FALLBACK_CLOSES, 1);
    return DECIDE_PLAIN;
}

/* True for the shim's own fds (the number really holds linger's file). */
static int is_own(int fd, struct fd_entry *e, enum fd_kind k)
{
    return (k == FK_LINGERING || k == FK_CLOSING || k == FK_SHIM) && fdt_same_file(fd, e);
}

int policy_close(int fd, int *rc)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return 0;
    /* first: a vfork child's close must not touch its parent's entries,
     * even to forget one (the parent's number stays open) */
    if (borrowed_memory())
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
    errno = saved;
    return handled;
}

void policy_before_implicit_close(int fd, enum stdio_output stdio)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || borrowed_memory())
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

void policy_duplicated(int oldfd, int newfd)
{
    struct fd_entry *src = fdt_get(oldfd), *dst = fdt_get(newfd);
    if (!dst || oldfd == newfd || borrowed_memory())
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

int policy_close_range(unsigned first, unsigned last, int flags)
{
    if ((flags & CLOSE_RANGE_CLOEXEC) /* linger's fds are close-on-exec already */
        || borrowed_memory())
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

void policy_sent_via_stdio(int fd, enum stdio_output out)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || out == STDIO_NOTHING)
        return;
    /* Bytes flushed earlier went out when no hook looked: perhaps before
     * the process's last fork, and what a process wrote before it forked
     * does not make it the one answering (wants_linger). Pending bytes are
     * written now, after any fork. */
    if (out == STDIO_EARLIER && atomic_load_explicit(&fdt_forks, memory_order_relaxed) != 0)
        return;
    /* stdio's writes bypass the hooks, so the scanner never saw them. The
     * app is closing a socket it wrote a response to: treat that response
     * as one with close semantics (a client still sending is then drained,
     * whether or not its bytes have arrived yet). */
    if ((e = tracked_writer(fd, e)))
        fdt_update_flags(e, FE_SAW_RESPONSE | FE_SAW_CLOSE, FE_MID_RESPONSE | FE_MID_FRAMED);
}

/* At exit, other threads may still be writing. When some run, only a
 * socket whose last response had close semantics (or mode always) and is
 * known to be written in full lingers, so that no thread's write meets a
 * socket shut down under it; alone, the exit's thread wrote last. */
static int exit_may_linger(int fd, const struct fd_entry *e, int alone, int *pending)
{
    unsigned flags = fdt_flags(e);
    return (alone || !(flags & FE_MID_RESPONSE)) && (cfg.mode == MODE_ALWAYS || (flags & FE_SAW_CLOSE))
        && wants_linger(fd, e, pending);
}

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

int policy_linger_at_exit(int fd, int alone)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || cfg.mode == MODE_OFF || cfg.mode == MODE_OBSERVE || !fdt_claim(e, FK_TRACKED, FK_DECIDING))
        return 0; /* not a tracked socket, or its own thread is closing it */
    struct fd_entry snap = { 0 };
    snapshot(e, &snap);
    int pending = 0, own = -1;
    if (exit_may_linger(fd, &snap, alone, &pending) && (own = lingering_copy(fd, &snap, 1)) >= 0) {
        count_reset_avoided(own, pending);
        if (drainer_accepting())
            drainer_adopt(own); /* else the exit's drainer process takes it */
    }
    /* the app's number is a plain socket from now on; its thread may still
     * close it (the copy keeps the connection). Unless the entry went to a
     * new socket meanwhile. */
    fdt_claim(e, FK_DECIDING, own >= 0 ? FK_IGNORED : FK_TRACKED);
    return own >= 0;
}
