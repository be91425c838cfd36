/* detach.h - processes that are no children of ours: the drainer processes
 * (the exit's and exec's, handoff.c; the fork children's, forkchan.c).
 */
#ifndef LINGER_DETACH_H
#define LINGER_DETACH_H

/* Starts a process that is no child of ours: a middle process clones it
 * and exits at once, and is reaped here, past the app's own waitpid(-1),
 * so the new process goes to init or the nearest subreaper - not to the
 * app, nor to the image an exec brings in. Every signal stays blocked from
 * before the first clone until the new process has reset their handlers:
 * the app's handlers never run in it. Returns 0 in the new process - its
 * own session, named linger-drain, default signals, none blocked, every fd
 * still open - which must end with exit_group and never return to the
 * app; in the caller 1 when it started, -1 when not. Async-signal-safe
 * (but in a TSAN build). */
int detach_spawn(void);

/* Set while detach_spawn forks through libc's fork (a TSAN build does, so
 * TSAN sees the child start): the child keeps every lingering fd and the
 * exit's state, so the fork handlers (process.c) stand aside. */
extern volatile int detach_forking;

#endif
