/* ownfd.h - the shim's own fds: kept high, close-on-exec, and out of the app's reach.
 *
 * Lingering duplicates and the shim's fds (drainer epoll, wake-up eventfd,
 * log file) live at or above a base just under RLIMIT_NOFILE, so the app's
 * lowest-free numbering never notices them. The close hooks answer EBADF for
 * them, as if they were not open, and close_range steps around them.
 */
#ifndef LINGER_OWNFD_H
#define LINGER_OWNFD_H

#include <stdatomic.h>

#include <stdint.h>

/* Computes the base from RLIMIT_NOFILE and the socket cap (max_sockets,
 * LINGER_MAX_SOCKETS): room for that many lingering copies and a few more. */
void ownfd_init(uint64_t max_sockets);

/* Lowest fd number the shim uses for its own fds. */
int ownfd_base(void);

/* Moves the fd in *slot to the high range (close-on-exec), marks it FK_SHIM,
 * and remembers slot so the fd can be moved again if the app names its
 * number in dup2/dup3. Returns the new number. */
int ownfd_protect(_Atomic int *slot);

/* The same for an fd every fork child of this process inherits (the fork
 * channel's sending end): at the lowest free number at or above
 * OWNFD_INHERITED (or the base, if lower), not in the high range. Fork
 * copies the process's fd table up to its highest open number: one fd at
 * the top of the range (the soft limit less the socket cap, 15888 under a
 * limit of 20000, about a million in a container) made every fork copy a
 * table that large - and the child free it at its exit. Number 63 is the
 * last of the table the kernel keeps inside the process (64 numbers), so
 * an app with fewer fds open forks as cheaply as without the shim, and its
 * lowest-free numbering meets the fd only at its 64th; and a select() app
 * (numbers under 1024) keeps its numbers but one, at most. */
#define OWNFD_INHERITED 63
int ownfd_protect_inherited(_Atomic int *slot);

/* Called before the app's dup2/dup3 onto fd, a shim fd: moves it away. */
void ownfd_relocate(int fd);

/* The shim fd in *from is kept in *to from now on (same number, still
 * guarded); *from becomes -1. */
void ownfd_rename(_Atomic int *from, _Atomic int *to);

/* Forgets a shim fd that is being closed (the caller closes it). */
void ownfd_release(_Atomic int *slot);

#endif
