/* holders.h - whether another process still holds a socket.
 *
 * Lingering shuts a socket down for every process that holds it, so a
 * process may linger a socket only when its close is the last one. A socket
 * it accepted is shared only with its own fork children (policy.c tells
 * those apart by writer generation); one it inherited (inetd style, or a
 * command a shell script runs with the connection as its stdout) may still
 * be held by the parent that passed it on.
 */
#ifndef LINGER_HOLDERS_H
#define LINGER_HOLDERS_H

#include <stdint.h>

/* True when this process's parent holds the socket with inode ino on one of
 * its fds (read from /proc/PPID/fd; false when that cannot be read, or the
 * parent is init). Raw system calls only; uses one fd for the duration of
 * the call; keeps errno. */
int holders_parent_has_socket(uint64_t ino);

#endif
