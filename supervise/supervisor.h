/* supervisor.h - the supervising process: receives the filter's listener,
 * answers notifications and drains lingering sockets in one thread, until
 * the program and everything it forked have exited and the last lingering
 * socket is closed. */
#ifndef LINGER_SUPERVISE_SUPERVISOR_H
#define LINGER_SUPERVISE_SUPERVISOR_H

#include <sys/types.h>

/* Runs the supervisor in this (double-forked) process: sock is its end of
 * the socketpair the listener arrives on, root the program's PID. Never
 * returns. */
void supervisor_run(int sock, pid_t root) __attribute__((noreturn));

/* Sends listener over sock (SCM_RIGHTS) and waits for the supervisor's
 * one-byte acknowledgement. 0, or -1 when the supervisor is not there. */
int supervisor_hand_over(int sock, int listener);

#endif
