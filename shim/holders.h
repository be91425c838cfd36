/* holders.h - whether another process still holds a socket.
 *
 * Lingering shuts a socket down for every process that holds it, so a
 * process may linger a socket only when its close is the last one. A socket
 * it accepted is shared only with its own fork children (decide.c tells
 * those apart by writer generation); one it inherited at exec (inetd style,
 * or a command a shell script runs with the connection as its stdout) may
 * still be held by the parent that passed it on.
 */
#ifndef LINGER_HOLDERS_H
#define LINGER_HOLDERS_H

#include <stdint.h>

/* Calls mark(fd) for every fd open in this process now; for the load, to
 * tell inherited fds from later ones. Reads /proc/self/fd; without it,
 * tries the numbers below 256 one by one. */
void holders_each_open_fd(void (*mark)(int fd));

/* Calls visit(fd, arg) for every fd from first up open in this process
 * (the one it reads the list with aside); visit may close fd. Reads
 * /proc/self/fd with raw system calls, no allocation, no lock: async-signal-
 * safe. Without it (no /proc, no fd free to read it, more than 2^20 fds),
 * calls visit for every number from first below the soft RLIMIT_NOFILE,
 * open or not. Keeps errno. */
void holders_each_fd_from(int first, void (*visit)(int fd, void *arg), void *arg);

/* True only when it is known that this process's parent does not hold the
 * socket with inode ino: /proc is this PID namespace's, /proc/PPID/fd can
 * be read in full (at most 4096 entries), and none of them is the socket.
 * Anything it cannot tell counts as held. Raw system calls; uses one fd for
 * the duration of the call; keeps errno. */
int holders_parent_lets_go(uint64_t ino);

#endif
