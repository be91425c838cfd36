/* fdring.h - the numbers of one socket: dup, dup2, dup3 and F_DUPFD give a
 * tracked socket more numbers, and linger must not linger it while another
 * number is open. */
#ifndef LINGER_FDRING_H
#define LINGER_FDRING_H

#include "fdtable.h"

#pragma GCC visibility push(hidden)

/* Duplicates of a tracked socket form a ring of numbers. The TRACKED member
 * (the leader) holds the scanner state; the others are FK_ALIAS. Members
 * closed behind linger's back are dropped when the ring is next walked.
 * Threads and signal handlers may change one ring at once: each change
 * takes the ring's try-lock, and never waits for it long (fdtable.c). */

/* newfd becomes another number for oldfd's tracked socket. When the ring
 * is busy, both are marked so that no number of the socket lingers. */
void fdt_ring_join(int oldfd, int newfd);

/* The leader entry of fd's socket (fd's own entry when it leads), or NULL
 * (the ring is busy or its members cannot be known: leave the scanner be). */
struct fd_entry *fdt_ring_leader(int fd);

/* Takes fd out of its ring; held is the kind of fd's entry that the caller
 * owns: FK_ALIAS, or FK_DECIDING for a leader it claimed. Returns 1 when
 * other numbers still hold the socket, or may (the ring's members cannot be
 * known): a plain close; 0 when fd was the last, and its entry now carries
 * the socket's full state as FK_TRACKED; FDT_RING_BUSY when the ring is
 * busy: a plain close, and the caller leaves the entry be (it is cleared
 * already but for its link, which the ring still needs). When fd leaves
 * others behind and its number is in an epoll set, every remaining member
 * is marked FE_EPOLL_LOST: the registration stays in the set while the
 * socket is open, and no number is left to remove it by. */
#define FDT_RING_BUSY 2
int fdt_ring_leave(int fd, enum fd_kind held);

/* In a fork child: the threads that held ring locks are not there; every
 * lock is free again. */
void fdt_ring_locks_reset(void);

#pragma GCC visibility pop

#endif
