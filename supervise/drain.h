/* drain.h - the lingering sockets: the supervisor's copies, shut for
 * writing, read and discarded until the peer's EOF or a cap, then closed.
 * One thread (the supervisor's only one) owns them, in one epoll set. */
#ifndef LINGER_SUPERVISE_DRAIN_H
#define LINGER_SUPERVISE_DRAIN_H

#include <stdint.h>

/* Sets the drain up on epoll set epfd (which the caller waits on) with
 * room for fds below limit. 0, or -1 when out of memory. */
int drain_init(int epfd, int limit);

/* Takes fd (already shut for writing; unread: bytes queued at the close)
 * into the drain set. At LINGER_MAX_SOCKETS the oldest lingering socket is
 * closed first. On failure fd is closed (a plain close, counted). */
void drain_add(int fd, int unread);

/* Keeps fd (not shut down) as a deferred close of socket ino: another
 * process of the family still held it when the program closed it. It
 * lingers once nothing else holds it (drain_promote), or closes at
 * LINGER_TIME. */
void drain_defer(int fd, uint64_t ino, int unread);

/* Closes the deferred copies of socket ino (the last holder's close is
 * deciding about it now). */
void drain_forget(uint64_t ino);

/* The deferred copies, at most max: their fds and inodes; how many. */
int drain_deferred(int *fds, uint64_t *inos, int max);

/* Deferred fd: nothing else holds it now, so shut it for writing and
 * linger it (keep = 0), or close it plainly (keep = 1: an epoll set still
 * has it). */
void drain_settle(int fd, int keep);

/* True when fd is one of the drain set's (epoll events carry the fd). */
int drain_owns(int fd);

/* Reads what fd has (an epoll event) and closes it at EOF, error or cap. */
void drain_on_ready(int fd);

/* Closes the sockets whose idle or total time is up; returns the epoll
 * timeout until the next deadline in ms (-1: none lingering). */
int drain_expire(void);

/* How many sockets are lingering now. */
int drain_count(void);

/* How many closes are deferred now. */
int drain_deferred_count(void);

#endif
