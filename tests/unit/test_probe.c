/* test_probe.c - criterion tests of the questions the close decision asks
 * a socket (shim/probe.c), on real sockets: the peer's state read without
 * taking anything from the socket (nor its pending error), SO_LINGER, and
 * whether the connection has ended. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"
#include "real.h"

/* An entry that asks everything: an inherited socket (its SO_LINGER and
 * SO_RCVLOWAT may be anything). */
static struct fd_entry inherited = { .origin = FO_INHERITED };

/* A connected TCP pair over loopback: *a accepted, *b the client. */
static void tcp_pair(int *a, int *b)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sin;
    cr_assert_eq(bind(l, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(l, 1), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&sin, &len), 0);
    *b = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(*b, (struct sockaddr *)&sin, sizeof sin), 0);
    *a = accept(l, NULL, NULL);
    cr_assert_geq(*a, 0);
    close(l);
}

/* Waits (bounded) until fd's peer state is want; returns the last seen. */
static enum peer_state await_peer(int fd, enum peer_state want)
{
    enum peer_state p = PEER_UNKNOWN;
    for (int i = 0; i < 200 && (p = probe_peer(fd, &inherited)) != want; i++)
        usleep(5000);
    return p;
}

Test(probe, open_then_pending_then_done_unix)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_expect_eq(probe_peer(sv[0], &inherited), PEER_OPEN, "nothing sent: open");
    cr_assert_eq(write(sv[1], "abc", 3), 3);
    cr_expect_eq(probe_peer(sv[0], &inherited), PEER_PENDING, "bytes queued: pending");
    char buf[8];
    cr_expect_eq(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), 3, "the probe took nothing");
    close(sv[1]);
    cr_expect_eq(probe_peer(sv[0], &inherited), PEER_DONE, "the peer closed, nothing unread: done");
    close(sv[0]);
}

Test(probe, bytes_then_eof_is_pending)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(write(sv[1], "abc", 3), 3);
    close(sv[1]);
    cr_expect_eq(probe_peer(sv[0], &inherited), PEER_PENDING, "the peer closed with bytes unread: pending");
    close(sv[0]);
}

Test(probe, tcp_states)
{
    int a, b;
    tcp_pair(&a, &b);
    cr_expect_eq(probe_peer(a, &inherited), PEER_OPEN);
    cr_assert_eq(write(b, "x", 1), 1);
    cr_expect_eq(await_peer(a, PEER_PENDING), PEER_PENDING);
    char c;
    cr_assert_eq(read(a, &c, 1), 1);
    shutdown(b, SHUT_WR);
    cr_expect_eq(await_peer(a, PEER_DONE), PEER_DONE, "the peer's FIN, nothing unread");
    cr_expect(probe_connected(a), "a half-closed connection has not ended");
    close(a);
    close(b);
}

/* After a reset the probe reports the end without taking the pending error
 * from the app: its next recv still gets ECONNRESET. */
Test(probe, reset_keeps_the_error)
{
    int a, b;
    tcp_pair(&a, &b);
    cr_assert_eq(write(a, "x", 1), 1); /* unread by b: its close resets */
    struct linger l = { 1, 0 };
    cr_assert_eq(setsockopt(b, SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    close(b);
    cr_expect_eq(await_peer(a, PEER_BROKEN), PEER_BROKEN, "reset: broken");
    cr_expect(!probe_connected(a), "a reset connection has ended");
    char c;
    errno = 0;
    cr_expect_eq(recv(a, &c, 1, MSG_DONTWAIT), -1);
    cr_expect_eq(errno, ECONNRESET, "the app still gets the reset: errno %d (%s)", errno, strerror(errno));
    close(a);
}

Test(probe, so_linger_zero_wants_reset)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_expect(!probe_wants_reset(sv[0], &inherited), "no SO_LINGER: no reset");
    struct linger l = { 1, 5 };
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    cr_expect(!probe_wants_reset(sv[0], &inherited), "SO_LINGER 5 s: no reset");
    l.l_linger = 0;
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    cr_expect(probe_wants_reset(sv[0], &inherited), "SO_LINGER 0 s: a reset");
    close(sv[0]);
    close(sv[1]);
}

/* An accepted socket whose listener had no SO_LINGER is not asked until
 * the app sets SO_LINGER on something; then it is. */
Test(probe, accepted_socket_asked_once_the_app_sets_so_linger)
{
    struct fd_entry accepted = { .origin = FO_ACCEPTED, .listener = LI_KNOWN | LI_TRACKABLE };
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct linger l = { 1, 0 };
    cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &l, sizeof l), 0);
    cr_expect(!probe_wants_reset(sv[0], &accepted), "not asked before the app sets SO_LINGER anywhere");
    probe_note_option(SOL_SOCKET, SO_LINGER);
    cr_expect(probe_wants_reset(sv[0], &accepted), "asked once it has");
    close(sv[0]);
    close(sv[1]);
}

/* Under SO_RCVLOWAT poll hides bytes below the mark: a socket that may
 * have it set is counted with SIOCINQ. */
Test(probe, rcvlowat_hides_nothing)
{
    int a, b;
    tcp_pair(&a, &b);
    int lowat = 65536;
    cr_assert_eq(setsockopt(a, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat), 0);
    cr_assert_eq(write(b, "0123456789", 10), 10);
    cr_expect_eq(await_peer(a, PEER_PENDING), PEER_PENDING, "10 bytes under a 64 KiB mark still count");
    close(a);
    close(b);
}

Test(probe, not_a_socket_is_broken)
{
    int fd = dup(0);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_expect_eq(probe_peer(fd, &inherited), PEER_BROKEN, "a closed number");
}

/* A socketpair this process made has itself as the peer; a TCP socket, an
 * accepted one, and a socketpair seen from a forked child do not. */
Test(probe, self_peer)
{
    int sv[2], a, b;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_expect(probe_self_peer(sv[0]), "a socketpair's peer is this process");
    tcp_pair(&a, &b);
    cr_expect(!probe_self_peer(a), "TCP has no peer credentials");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(probe_self_peer(sv[1]) ? 1 : 0); /* the pair is the parent's */
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a child holding the parent's pair: not itself");
    close(sv[0]);
    close(sv[1]);
    close(a);
    close(b);
}
