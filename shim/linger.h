/* linger.h - the process's end, as every exit and exec path reports it. */
#ifndef LINGER_LINGER_H
#define LINGER_LINGER_H

/* Hands lingering sockets over (handoff.h), writes LINGER_STATS a last
 * time, and logs the counters at info. Once per process; flush_stdio when
 * stdio buffers are still to be flushed (exit(), not _exit). */
void linger_at_exit(int flush_stdio);

/* Before the process image is replaced (execve and the rest): hands the
 * sockets still lingering over (handoff.h). */
void linger_before_exec(void);

#endif
