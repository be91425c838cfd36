/* drainer.h - the one thread that owns lingering sockets.
 *
 * The close path hands it a duplicate of the app's socket, already shut down
 * for writing. The drainer discards whatever the peer still sends and really
 * closes the socket at the first of: peer EOF, an error, LINGER_TIMEOUT
 * without data, LINGER_TIME since the handoff, LINGER_MAX_BYTES drained, or
 * eviction when more than LINGER_MAX_SOCKETS linger at once.
 */
#ifndef LINGER_DRAINER_H
#define LINGER_DRAINER_H

#include <stdatomic.h>

/* Starts the drainer thread if it is not running; 0 when it runs. Not from
 * a constructor or a signal handler. */
int drainer_ensure_started(void);

/* True when the drainer runs and can take sockets. Async-signal-safe. */
int drainer_accepting(void);

/* True when a socket handed over now will be drained: the thread runs, or
 * it may still start (it never failed to) and fewer than
 * LINGER_MAX_SOCKETS wait for it. Async-signal-safe. */
int drainer_will_take(void);

/* Hands fd (a shim-owned duplicate, entry already FK_LINGERING) to the
 * drainer. Async-signal-safe: a lock-free push and an eventfd write. */
void drainer_adopt(int fd);

/* The same when the thread may not run yet (drainer_will_take): a close
 * may not start it (it may run in a signal handler), so fd waits on the
 * handover stack and the app's next accept or tracked write starts the
 * thread (drainer_start_if_wanted). Async-signal-safe. */
void drainer_defer(int fd);

/* Set by drainer_defer while the thread does not run. */
extern _Atomic int drainer_start_wanted;

/* Starts the thread when a close has deferred a socket to it; from the
 * hooks that may start it (an accept, a tracked write). Keeps errno. */
void drainer_start_deferred(void);
static inline void drainer_start_if_wanted(void)
{
    if (__builtin_expect(atomic_load_explicit(&drainer_start_wanted, memory_order_relaxed), 0))
        drainer_start_deferred();
}

/* In a process that exists only to drain (forkchan.h): watches fd,
 * calling ready() while it is readable (level-triggered; the sockets it
 * hands over with drainer_adopt are taken in the same round), and drains,
 * until fd is no longer watched and nothing is held; then returns. */
void drainer_run_watching(int fd, void (*ready)(void));

/* From ready(): stops watching fd. */
void drainer_unwatch(int fd);

/* In a process that exists only to drain (see handoff.h): drains every
 * FK_LINGERING fd in the table until none is left, then returns.
 * writes_stats: it rewrites LINGER_STATS under its own pid as it drains
 * (0: it writes no stats file, its counters being another process's). */
void drainer_run_detached(int writes_stats);

/* The fork handlers (process.c runs them): before a fork, the start lock
 * is taken, and the parent gives it back. The child has no drainer thread:
 * it drops its copies of the parent's lingering sockets and shim fds (the
 * parent still drains them), forgets what the parent wrote (a new writer
 * generation), and may start a drainer of its own later. */
void drainer_before_fork(void);
void drainer_after_fork_parent(void);
void drainer_after_fork_child(void);

/* Asks the drainer to close its n oldest sockets now and waits up to
 * wait_ms for `need` of them to be closed; 1 if at least one was (an fd
 * number is free). */
int drainer_release(unsigned n, unsigned need, unsigned wait_ms);

#endif
