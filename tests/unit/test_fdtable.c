/* test_fdtable.c - criterion tests of the per-fd table (shim/fdtable.c) on
 * real fds: what is tracked and what is ignored, what a listener gives its
 * accepted sockets, a number reused by another file, the bounded scans,
 * the writer generations. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdtable.h"

static void setup(void)
{
    if (!fdt)
        cr_assert_eq(fdt_init(), 0, "fdt_init");
}

TestSuite(fdtable, .init = setup);

/* fd classified as the hooks do for a socket that came by origin. */
static enum fd_kind classify(int fd, enum fd_origin origin)
{
    fdt_adopt_socket(fd, origin);
    return fdt_classify(fd, &fdt[fd]);
}

static int tcp_listener(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(bind(l, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(l, 4), 0);
    return l;
}

Test(fdtable, what_is_tracked)
{
    int sv[2], p[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_expect_eq(classify(sv[0], FO_ACCEPTED), FK_TRACKED, "an accepted stream socket");
    cr_expect(fdt_flags(&fdt[sv[0]]) & FE_UNIX, "AF_UNIX is flagged");
    cr_expect_eq(classify(sv[1], FO_CONNECTED), FK_IGNORED, "one this process connected out");
    cr_assert_eq(pipe(p), 0);
    cr_expect_eq(classify(p[0], FO_UNSEEN), FK_IGNORED, "a pipe");
    int dg[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, dg), 0);
    cr_expect_eq(classify(dg[0], FO_UNSEEN), FK_IGNORED, "a datagram socket");
    int l = tcp_listener();
    cr_expect_eq(classify(l, FO_UNSEEN), FK_IGNORED, "a listener");
    int f = open("/dev/null", O_WRONLY);
    cr_expect_eq(classify(f, FO_UNSEEN), FK_IGNORED, "a file");
    cr_expect(fdt_passes(f), "an ignored fd passes the hot path");
    cr_expect(!fdt_passes(sv[0]), "a tracked one does not");
    int fds[] = { sv[0], sv[1], p[0], p[1], dg[0], dg[1], l, f };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        fdt_forget(fds[i]);
        close(fds[i]);
    }
}

Test(fdtable, listener_info)
{
    int l = tcp_listener();
    unsigned li = fdt_listener_info(l);
    cr_expect_eq(li, LI_KNOWN | LI_TRACKABLE, "a plain TCP listener: %#x", li);
    fdt_forget(l);
    struct linger z = { 1, 0 };
    cr_assert_eq(setsockopt(l, SOL_SOCKET, SO_LINGER, &z, sizeof z), 0);
    cr_expect(fdt_listener_info(l) & LI_RESETS, "SO_LINGER 0 s is inherited by its accepts");
    fdt_forget(l);
    int lowat = 1024;
    cr_assert_eq(setsockopt(l, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat), 0);
    cr_expect(fdt_listener_info(l) & LI_LOWAT, "so is SO_RCVLOWAT");
    z.l_onoff = 0;
    cr_assert_eq(setsockopt(l, SOL_SOCKET, SO_LINGER, &z, sizeof z), 0);
    cr_expect(fdt_listener_info(l) & LI_RESETS, "the answer is cached until the listener is forgotten");
    fdt_forget(l);
    close(l);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    cr_expect_eq(fdt_listener_info(p[0]), LI_KNOWN, "not a socket: nothing trackable");
    fdt_forget(p[0]);
    close(p[0]);
    close(p[1]);
}

Test(fdtable, same_socket_after_reuse)
{
    int a[2], b[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    classify(a[0], FO_ACCEPTED);
    cr_expect(fdt_same_socket(a[0], &fdt[a[0]]));
    cr_assert_eq(dup2(b[0], a[0]), a[0]); /* behind the table's back */
    cr_expect(!fdt_same_socket(a[0], &fdt[a[0]]), "the number holds another socket now");
    fdt_forget(a[0]);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

Test(fdtable, forget_clears)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    classify(sv[0], FO_ACCEPTED);
    fdt_update_flags(&fdt[sv[0]], FE_SAW_RESPONSE | FE_SAW_CLOSE, 0);
    fdt_epoll_added(sv[0], 7);
    fdt_forget(sv[0]);
    struct fd_entry *e = &fdt[sv[0]];
    cr_expect_eq(fdt_kind(e), FK_UNKNOWN);
    cr_expect_eq(fdt_flags(e), 0);
    cr_expect_eq(fdt_epoll_slot(e, 0), 0);
    cr_expect_eq(e->ino, 0);
    close(sv[0]);
    close(sv[1]);
}

Test(fdtable, epoll_slots)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    classify(sv[0], FO_ACCEPTED);
    fdt_epoll_added(sv[0], 7);
    fdt_epoll_added(sv[0], 7);
    fdt_epoll_added(sv[0], 8);
    cr_expect(!(fdt_flags(&fdt[sv[0]]) & FE_EPOLL_LOST), "two sets fit");
    fdt_epoll_added(sv[0], 9);
    cr_expect(fdt_flags(&fdt[sv[0]]) & FE_EPOLL_LOST, "a third cannot be recorded");
    fdt_epoll_removed(sv[0], 7);
    cr_expect(fdt_epoll_slot(&fdt[sv[0]], 0) == 0 || fdt_epoll_slot(&fdt[sv[0]], 1) == 0);
    fdt_forget(sv[0]);
    close(sv[0]);
    close(sv[1]);
}

Test(fdtable, bounded_scan_visits_touched)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    classify(sv[0], FO_ACCEPTED);
    int seen = 0;
    for (int fd = fdt_next(-1); fd >= 0; fd = fdt_next(fd))
        seen += fd == sv[0];
    cr_expect_eq(seen, 1, "fdt_next visits a touched entry once");
    cr_expect(fdt_touched(sv[0]));
    fdt_forget(sv[0]);
    close(sv[0]);
    close(sv[1]);
}

Test(fdtable, writer_generations)
{
    uint32_t before = fdt_writer_mark();
    cr_expect(fdt_written_here(before), "a mark of this generation");
    cr_expect(!fdt_written_here(0), "0: never written");
    fdt_note_fork();
    cr_expect_neq(fdt_writer_mark(), before, "a fork changes the mark");
    cr_expect(fdt_written_here(before), "but it is still this process's");
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    classify(sv[0], FO_ACCEPTED);
    cr_assert(fdt_claim(&fdt[sv[0]], FK_TRACKED, FK_DECIDING));
    fdt_new_generation(); /* as in a fork child */
    cr_expect(!fdt_written_here(before), "a child's generation is not its parent's");
    cr_expect_eq(fdt_kind(&fdt[sv[0]]), FK_TRACKED, "a parent thread's claim is undone in the child");
    fdt_forget(sv[0]);
    close(sv[0]);
    close(sv[1]);
}

/* A blank entry is one a close has nothing to forget for: what
 * fdt_reset_entry leaves, and nothing else (hooks_close.c closes it
 * without asking the policy). */
Test(fdtable, blank_entries)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct fd_entry *e = &fdt[sv[0]];
    fdt_reset_entry(e);
    cr_expect(fdt_entry_blank(e), "a reset entry is blank");
    cr_expect_eq(classify(sv[0], FO_ACCEPTED), FK_TRACKED);
    cr_expect(!fdt_entry_blank(e), "a tracked socket is not");
    fdt_reset_entry(e);
    e->origin = FO_ACCEPTED; /* FK_UNKNOWN, but accepted: its close must forget that */
    cr_expect(!fdt_entry_blank(e), "an accepted socket not classified yet is not");
    fdt_reset_entry(e);
    e->skip = 1;
    cr_expect(!fdt_entry_blank(e), "nor one with anything in its last word");
    fdt_reset_entry(e);
    fdt_set_kind(e, FK_IGNORED);
    cr_expect(!fdt_entry_blank(e), "nor an ignored one (its next number must be classified again)");
    fdt_forget(sv[0]);
    cr_expect(fdt_entry_blank(e), "a forgotten one is");
    close(sv[0]);
    close(sv[1]);
}
