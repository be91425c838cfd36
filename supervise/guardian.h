/* guardian.h - the supervisor's stand-in: a small child process holding a
 * copy of the filter's listener. While the supervisor lives it does
 * nothing; when the supervisor dies (even by SIGKILL) it answers every
 * notification with CONTINUE, so that the program's closes stay plain
 * closes instead of failing with ENOSYS (what the kernel answers once no
 * process holds the listener). */
#ifndef LINGER_SUPERVISE_GUARDIAN_H
#define LINGER_SUPERVISE_GUARDIAN_H

#include <stdint.h>

/* The notification the supervisor is answering, in memory it shares with
 * the guardian: the guardian answers it if the supervisor dies first. */
struct inflight {
    volatile uint64_t id;
    volatile int busy;
};

/* Maps the shared struct inflight (before the first guardian_start). */
struct inflight *guardian_shared(void);

/* Forks a guardian for listener; returns a pidfd for it (to notice and
 * replace a guardian that died), or -1. */
int guardian_start(int listener, struct inflight *in);

/* Reaps the guardian whose pidfd is pidfd (it has exited) and closes pidfd. */
void guardian_reap(int pidfd);

#endif
