/* forkchan.h - fork children hand their lingering sockets over an
 * inherited channel to one drainer process, and need no drainer of their
 * own.
 *
 * The first time a process forks while it holds a socket linger tracks (in
 * mode on or always), it makes a channel - an AF_UNIX stream socketpair,
 * close-on-exec, guarded from the app like the shim's other fds, its
 * sending end at 63 rather than the top of the shim's range, so that each
 * fork copies a small fd table (ownfd_protect_inherited) - and starts a
 * drainer process for its children (detached, as
 * the exit's drainer process is: named linger-drain, its own session, only
 * the channel's receiving end open). The forking process itself stays as
 * it was (single-threaded if it was). Every child forked with the fork
 * handlers inherits the sending end. A child's lingering close is then
 * shutdown(SHUT_WR) + sendmsg(SCM_RIGHTS, MSG_DONTWAIT) + its own close; it
 * starts no drainer thread, and its exit has nothing to wait for (at exit,
 * sockets it never closed - inetd style - go the same way). A grandchild
 * keeps the same channel. A child that accepts a socket itself is a server
 * of its own: it stops using the channel (its own drainer, and a channel
 * of its own if it forks while holding a socket).
 *
 * The drainer process counts a child's socket in full (lingered, resets
 * avoided, how it closed, bytes), under its own LINGER_MAX_SOCKETS, and
 * writes its own LINGER_STATS file (with %p, its pid); the child counts
 * nothing for it. It exits once no process holds the sending end (the
 * parent and its children have exited or exec'd) and nothing lingers.
 *
 * A send that fails never blocks the child's close: the channel full
 * (EAGAIN), or the drainer process gone (EPIPE), it falls back to today's
 * path - its own drainer thread if one runs, else the shut-down copy stays
 * in its table for its exit's drainer process (handoff.h). Such a socket
 * is the child's: it counts it, in its own stats file, and its exit's
 * drainer process writes none. So each socket is counted once, and
 * linger_lingered_total summed over the stats files is the number of
 * sockets that lingered. A child whose
 * channel is gone (POLLHUP) by its first write starts its own drainer
 * thread then, as without a channel.
 */
#ifndef LINGER_FORKCHAN_H
#define LINGER_FORKCHAN_H

#include <stdint.h>

/* Before a fork (the fork hook, before libc's fork): the first time this
 * process forks while it holds a tracked socket, makes the channel and
 * starts its drainer process. */
void forkchan_before_fork(void);

/* After this process accepted a tracked socket: a child that accepts
 * stops handing its sockets up. */
void forkchan_on_accept(void);

/* True in a fork child that hands its lingering sockets over the channel
 * (inherited, and no send on it has failed for good). Async-signal-safe,
 * no system call. */
int forkchan_inherited(void);

/* forkchan_inherited, checked against the kernel (one poll): the drainer
 * process still holds the other end. For the first write, before a
 * drainer thread would start. */
int forkchan_parent_draining(void);

/* True when this process's drainer thread starts at a tracked socket's
 * first read or write, whatever it carries: in mode always (every answered
 * socket lingers) or with a stats file (the thread rewrites it). Otherwise
 * it starts only once a socket may linger: a request body still to come or
 * a stream that is not plain HTTP requests (reqwatch.c), a first write
 * before any request was read, a response with close semantics (policy.c);
 * or at the app's next accept or tracked write after a close deferred a
 * socket to it (drainer_defer). A process that only answers bodiless
 * keep-alive requests stays single-threaded. */
int forkchan_drainer_starts_early(void);

/* Starts this process's drainer thread when the mode may need it (on,
 * always, or a stats file to keep) - unless it is a fork child that hands
 * its sockets over the channel (forkchan_inherited: no system call; its
 * close finds out whether the drainer process still takes them). */
void forkchan_want_drainer(void);

/* The same for a tracked socket's first write, which asks the kernel
 * (forkchan_parent_draining: one poll in a fork child): with the drainer
 * process gone, the child starts its own drainer thread then. */
void forkchan_want_drainer_to_write(void);

/* Sends socket fd (shut down for writing, out of the app's epoll sets) to
 * the drainer process with what it needs to know: flags (FE_*), origin,
 * inode, pending (request bytes unread at the close). 0 when sent (the
 * caller closes its copy); -1 when the caller must fall back. Never
 * blocks. Async-signal-safe; keeps errno. */
int forkchan_send(int fd, unsigned flags, unsigned origin, uint64_t ino, int pending);

/* In a fork child (process.c's handler): the channel its parent made
 * becomes its way up; a child of a child keeps the way up it inherited. */
void forkchan_after_fork_child(void);

#endif
