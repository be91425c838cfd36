/* sockcheck.h - whether a socket (the supervisor's copy of a program's fd)
 * is one whose close should linger. */
#ifndef LINGER_SUPERVISE_SOCKCHECK_H
#define LINGER_SUPERVISE_SOCKCHECK_H

#include <stdint.h>

/* What the supervisor learns about a socket it may linger. */
struct sock_facts {
    uint64_t ino;   /* the socket's inode: how /proc names it */
    int unread;     /* bytes in its receive queue now (a reset if closed now) */
};

/* Opens the sock_diag netlink socket the accepted-socket test uses; -1 if
 * it cannot (then no socket counts as accepted: every close is plain). */
int sockcheck_init(void);

/* 1 when fd is an accepted TCP socket that a plain close could reset and
 * that has carried a response: TCP over IPv4/IPv6; a listener exists on its
 * local address and port; the peer has not ended its side (ESTABLISHED,
 * FIN_WAIT1, FIN_WAIT2) or bytes are still unread; it has sent bytes. Fills
 * *f then. 0 for anything else or anything it cannot tell. */
int sock_should_linger(int fd, struct sock_facts *f);

#endif
