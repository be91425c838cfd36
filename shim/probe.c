/* probe.c - the questions the close decision asks a socket (see probe.h). */
#include "probe.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pages.h"
#include "real.h"

/* Set once the app sets SO_LINGER on any socket: from then on each close
 * asks its socket whether the app wants it reset. */
static _Atomic int app_sets_linger;

/* Set once the app sets SO_RCVLOWAT on any socket: from then on each close
 * counts the unread bytes even when poll shows none (see peek_peer). */
static _Atomic int app_sets_rcvlowat;

void probe_note_option(int level, int name)
{
    if (level == SOL_SOCKET && name == SO_LINGER)
        atomic_store_explicit(&app_sets_linger, 1, memory_order_relaxed);
    if (level == SOL_SOCKET && name == SO_RCVLOWAT)
        atomic_store_explicit(&app_sets_rcvlowat, 1, memory_order_relaxed);
}

/* One byte peeked at: 1 when there is one. For a socket SIOCINQ cannot
 * count, asked only when poll showed no pending error (a recv returns that
 * error, and clears it). */
static int peek_byte(int fd)
{
    char c;
    return real_recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
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
    while ((r = raw_poll_now(&p, 1)) < 0 && errno == EINTR)
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

LINGER_HOT enum peer_state probe_peer(int fd, const struct fd_entry *e)
{
    return peek_peer(fd, may_have_rcvlowat(e));
}

LINGER_HOT int probe_wants_reset(int fd, const struct fd_entry *e)
{
    return app_wants_reset(fd, e);
}

LINGER_WARM int probe_connected(int fd)
{
    /* getpeername fails once the connection has ended (TCP_CLOSE), and
     * changes nothing */
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    return getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
}

LINGER_WARM int probe_self_peer(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    /* the peer's credentials are those of the process that made its end:
     * for a socketpair, this one (if it has not forked since); for an
     * accepted AF_UNIX socket, the process that connected */
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred
        && cred.pid == getpid();
}
