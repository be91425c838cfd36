/* test_fdring.c - criterion tests of the rings of numbers of one socket
 * (shim/fdring.c), on real socketpairs: who leads, who is last, numbers
 * closed behind linger's back, and epoll registrations that outlive their
 * number. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdring.h"
#include "real.h"

static void setup(void)
{
    if (!fdt)
        cr_assert_eq(fdt_init(), 0, "fdt_init");
}

TestSuite(fdring, .init = setup);

/* A tracked stream socket (one end of a socketpair), as if accepted here;
 * *peer gets the other end. */
static int tracked_socket(int *peer)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fdt_adopt_socket(sv[0], FO_ACCEPTED);
    cr_assert_eq(fdt_classify(sv[0], &fdt[sv[0]]), FK_TRACKED, "a connected stream socket is tracked");
    *peer = sv[1];
    return sv[0];
}

/* dup(fd), joined to fd's ring as the dup hook does. */
static int dup_joined(int fd)
{
    int d = dup(fd);
    cr_assert_geq(d, 0);
    fdt_ring_join(fd, d);
    return d;
}

/* The close path's part for fd: claims a leader, leaves the ring. Returns
 * what fdt_ring_leave returned; forgets and closes fd when it was not the
 * last (a plain close). */
static int close_number(int fd)
{
    enum fd_kind k = fdt_kind(&fdt[fd]);
    if (k == FK_TRACKED)
        cr_assert(fdt_claim(&fdt[fd], FK_TRACKED, FK_DECIDING), "claim fd %d", fd);
    int others = fdt_ring_leave(fd, k == FK_TRACKED ? FK_DECIDING : FK_ALIAS);
    if (others) {
        fdt_forget(fd);
        close(fd);
    }
    return others;
}

/* Closes the last number after close_number said it was the last. */
static void close_last(int fd)
{
    fdt_forget(fd);
    close(fd);
}

Test(fdring, alone_is_last)
{
    int peer, fd = tracked_socket(&peer);
    cr_expect_eq(fdt_ring_leader(fd), &fdt[fd], "a socket alone leads itself");
    cr_expect_eq(close_number(fd), 0, "its only number is the last");
    close_last(fd);
    close(peer);
}

Test(fdring, dup_joins_as_alias)
{
    int peer, fd = tracked_socket(&peer);
    int d = dup_joined(fd);
    cr_expect_eq(fdt_kind(&fdt[d]), FK_ALIAS);
    cr_expect_eq(fdt[d].ino, fdt[fd].ino, "the alias records the same socket");
    cr_expect_eq(fdt_ring_leader(d), &fdt[fd], "the original leads");
    cr_expect_eq(close_number(d), 1, "closing the dup first: the original still holds the socket");
    cr_expect_eq(close_number(fd), 0, "then the original is the last");
    close_last(fd);
    close(peer);
}

Test(fdring, leader_closed_first_hands_the_scanner_on)
{
    int peer, fd = tracked_socket(&peer);
    fdt_update_flags(&fdt[fd], FE_SAW_RESPONSE | FE_SAW_CLOSE, 0);
    int d = dup_joined(fd);
    cr_expect_eq(close_number(fd), 1, "the original closed first: the dup still holds the socket");
    cr_expect_eq(fdt_kind(&fdt[d]), FK_TRACKED, "the dup leads now");
    cr_expect_eq(fdt_flags(&fdt[d]) & (FE_SAW_RESPONSE | FE_SAW_CLOSE), FE_SAW_RESPONSE | FE_SAW_CLOSE,
                 "with the leader's scanner state");
    cr_expect_eq(close_number(d), 0, "the dup is the last");
    close_last(d);
    close(peer);
}

Test(fdring, three_numbers)
{
    int peer, fd = tracked_socket(&peer);
    int d1 = dup_joined(fd), d2 = dup_joined(d1);
    cr_expect_eq(fdt_ring_leader(d2), &fdt[fd]);
    cr_expect_eq(close_number(d1), 1);
    cr_expect_eq(close_number(fd), 1);
    cr_expect_eq(fdt_ring_leader(d2), &fdt[d2], "the last number left leads");
    cr_expect_eq(close_number(d2), 0);
    close_last(d2);
    close(peer);
}

/* A number closed behind linger's back (a raw close) is dropped from the
 * ring at the next walk: the other number is the last. */
Test(fdring, number_closed_unseen)
{
    int peer, fd = tracked_socket(&peer);
    int d = dup_joined(fd);
    close(d); /* unseen: its entry still says FK_ALIAS */
    cr_expect_eq(close_number(fd), 0, "the unseen close is noticed: the original is the last");
    close_last(fd);
    close(peer);
}

/* ... and one whose number now holds another socket is no member either. */
Test(fdring, number_closed_unseen_and_reused)
{
    int peer, fd = tracked_socket(&peer);
    int d = dup_joined(fd);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(dup2(sv[0], d), d); /* unseen: d now holds another socket */
    cr_expect_eq(close_number(fd), 0, "the reused number is not counted");
    close_last(fd);
    close(d);
    close(sv[0]);
    close(sv[1]);
    close(peer);
}

/* A number in an epoll set closed while another still holds the socket:
 * the kernel keeps the registration, which no number can remove now, so
 * the remaining member is marked FE_EPOLL_LOST (its close will be plain). */
Test(fdring, epoll_registration_outlives_its_number)
{
    int peer, fd = tracked_socket(&peer);
    int d = dup_joined(fd);
    fdt_epoll_added(d, 100);
    cr_expect_eq(close_number(d), 1);
    cr_expect(fdt_flags(&fdt[fd]) & FE_EPOLL_LOST, "the original is marked: a registration is orphaned");
    cr_expect_eq(close_number(fd), 0);
    close_last(fd);
    close(peer);
}

/* The number removed from its epoll set first leaves nothing behind. */
Test(fdring, epoll_registration_removed_first)
{
    int peer, fd = tracked_socket(&peer);
    int d = dup_joined(fd);
    fdt_epoll_added(d, 100);
    fdt_epoll_removed(d, 100);
    cr_expect_eq(close_number(d), 1);
    cr_expect(!(fdt_flags(&fdt[fd]) & FE_EPOLL_LOST), "nothing orphaned");
    close_last(fd);
    close(peer);
}

/* A fork child's ring locks are free even if the parent's threads held
 * them: fdt_ring_locks_reset, and rings work as before. */
Test(fdring, locks_reset)
{
    fdt_ring_locks_reset();
    int peer, fd = tracked_socket(&peer);
    int d = dup_joined(fd);
    cr_expect_eq(close_number(d), 1);
    cr_expect_eq(close_number(fd), 0);
    close_last(fd);
    close(peer);
}

/* A number in an epoll set closed behind linger's back: its registration
 * lives on with the socket, so the last number, though last, is marked. */
Test(fdring, number_in_epoll_set_closed_unseen)
{
    int peer, fd = tracked_socket(&peer);
    int d = dup_joined(fd);
    fdt_epoll_added(d, 100);
    close(d); /* unseen */
    cr_expect_eq(close_number(fd), 0, "the original is the last");
    cr_expect(fdt_flags(&fdt[fd]) & FE_EPOLL_LOST, "and marked: the unseen number's registration is orphaned");
    close_last(fd);
    close(peer);
}
