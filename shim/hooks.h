/* hooks.h - the bodies of the interposed calls, shared by the libc-named
 * hooks and by the syscall() hook (libuv closes with syscall(SYS_close)). */
#ifndef LINGER_HOOKS_H
#define LINGER_HOOKS_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#define EXPORT __attribute__((visibility("default")))


/* The slow paths stay out of line, so each exported hook's fast path is a
 * bounds check, a byte load and a tail call, with no stack frame. */
#define SLOW_PATH __attribute__((noinline))

SLOW_PATH int hook_close(int fd);
SLOW_PATH int hook_close_range(unsigned first, unsigned last, int flags);
SLOW_PATH int hook_dup2(int oldfd, int newfd);
SLOW_PATH int hook_dup3(int oldfd, int newfd, int flags);
SLOW_PATH int hook_shutdown(int fd, int how);
SLOW_PATH ssize_t hook_write(int fd, const void *buf, size_t n);
SLOW_PATH ssize_t hook_writev(int fd, const struct iovec *iov, int cnt);
SLOW_PATH ssize_t hook_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t al);
SLOW_PATH ssize_t hook_sendmsg(int fd, const struct msghdr *msg, int flags);
SLOW_PATH ssize_t hook_read(int fd, void *buf, size_t n);
SLOW_PATH ssize_t hook_readv(int fd, const struct iovec *iov, int cnt);
SLOW_PATH ssize_t hook_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al);
SLOW_PATH ssize_t hook_recvmsg(int fd, struct msghdr *msg, int flags);
SLOW_PATH int hook_setsockopt(int fd, int level, int name, const void *v, socklen_t len);
SLOW_PATH int hook_accept4(int fd, struct sockaddr *a, socklen_t *al, int flags);

#endif
