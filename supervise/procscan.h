/* procscan.h - who else holds a socket, and which epoll sets still watch
 * it, read from /proc for the program's family of processes.
 *
 * Lingering shuts a socket down for every process that holds it, and the
 * supervisor's copy keeps the socket registered in every epoll set that
 * has it: so a close lingers only when no other fd of the family holds the
 * socket and no epoll set of the family has it registered. */
#ifndef LINGER_SUPERVISE_PROCSCAN_H
#define LINGER_SUPERVISE_PROCSCAN_H

#include <stdint.h>
#include <sys/types.h>

/* One socket a close would linger, and whether something keeps it. */
enum {
    KEPT_HELD = 1,  /* another fd of the family holds it */
    KEPT_EPOLL = 2, /* epoll sets have it, each registration in regs */
    KEPT_DOUBT = 4, /* an epoll set may have it in a way regs cannot say, or the scan failed */
};

#define MAX_REGS 4 /* registrations of one socket that can be undone */

/* A registration of a socket in an epoll set: process pid has the set at
 * fd epfd, and the socket is registered in it under the number tfd. */
struct epoll_reg {
    pid_t pid;
    int epfd, tfd;
};

struct scan_target {
    uint64_t ino; /* the socket's inode */
    int kept;     /* KEPT_* bits */
    int nregs;    /* with KEPT_EPOLL: the registrations in regs */
    struct epoll_reg regs[MAX_REGS];
};

/* The fds of the closing process that this close (or exit) ends: they do
 * not count as holders. */
struct closing {
    pid_t tid;        /* the thread making the call; 0: none (a re-check) */
    int first, last;  /* its fd numbers that close, inclusive */
};

/* Marks each target KEPT_HELD when any process of the family holds it
 * under an fd other than the closing ones, KEPT_EPOLL when one has it
 * registered in an epoll set (each registration noted in regs), and
 * KEPT_DOUBT when a registration cannot be noted.
 * The family: the program (root) and its descendants, the closing process
 * and its descendants, and root's parent (which may have passed it a
 * socket). Returns 0, or -1 when /proc could not be read in full; callers
 * then count every target as KEPT_DOUBT (a plain close). */
int procscan_mark_kept(pid_t root, const struct closing *c, struct scan_target *t, int n);

/* The thread group (process) of thread tid, or -1. */
pid_t procscan_tgid(pid_t tid);

#endif
