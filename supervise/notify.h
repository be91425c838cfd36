/* notify.h - answers the program's trapped calls (the close family,
 * shutdown, exit_group), one notification at a time. */
#ifndef LINGER_SUPERVISE_NOTIFY_H
#define LINGER_SUPERVISE_NOTIFY_H

#include <sys/types.h>

#include "guardian.h"

/* Sizes the notification buffers for this kernel. 0, or -1. */
int notify_init(void);

/* Receives one notification from listener and answers it: every call
 * goes on as the program made it (CONTINUE), except that sockets whose
 * close should linger are first copied (pidfd_getfd), shut for writing
 * and handed to the drain, and that shutdown(SHUT_RD/SHUT_RDWR) of such a
 * socket keeps its read side open. root: the program's PID; in: where the
 * guardian sees which notification is being answered (may be NULL).
 * Returns 0, or -1 when nothing could be received (the caller polls again). */
int notify_handle_one(int listener, pid_t root, struct inflight *in);

/* Looks again at the deferred closes: those nothing holds any more linger,
 * those an epoll set has close plainly, the rest wait. */
void notify_recheck_deferred(pid_t root);

#endif
