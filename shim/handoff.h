/* handoff.h - lingering past the process's end.
 *
 * When a process exits, the kernel closes its sockets, and any with unread
 * bytes reset. At exit (exit(), return from main, _exit, _Exit), linger
 * shuts down and hands every socket that should linger - the drainer's, and
 * tracked sockets the app never closed (inetd style) - to a detached child
 * process that drains them under the same caps and then exits. The exiting
 * process does not wait for it. An exec closes linger's own fds (they are
 * close-on-exec): the sockets still lingering go to such a process first.
 */
#ifndef LINGER_HANDOFF_H
#define LINGER_HANDOFF_H

/* True the first time the process that owns the table reaches an exit
 * path; false in a vfork child (which shares our memory) and afterwards. */
int handoff_claim_exit(void);

/* Hands the sockets over; call once, after handoff_claim_exit. flush_stdio:
 * stdio buffers are still to be flushed (exit(), not _exit). */
void handoff_at_exit(int flush_stdio);

/* Before an exec: hands the sockets still lingering to a detached drainer
 * process (at once, without waiting), so that the exec's close of linger's
 * copies resets nothing - unless none has lingered since the last exec
 * that did (a failed exec, then another). After a failed exec both the
 * drainer thread and that process drain the same sockets, each until the
 * client closes or its own limits. */
void handoff_before_exec(void);

/* In a fork child (process.c runs it): the child's own exit state, and what
 * its stdout and stderr had flushed before the fork. */
void handoff_after_fork_child(void);

#endif
