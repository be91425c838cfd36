/* real.h - the libc functions linger wraps, resolved once with dlsym(RTLD_NEXT).
 *
 * Every call the shim makes to a wrapped function goes through real_*() so it
 * never re-enters its own hooks. Before resolution (a call from another
 * library's constructor, or from inside dlsym itself) each falls back to the
 * raw system call, which gives the same result and errno.
 */
#ifndef LINGER_REAL_H
#define LINGER_REAL_H

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#pragma GCC visibility push(hidden) /* direct, not GOT, access from the hooks */

/* The real functions, resolved by name once by real_resolve() (NULL until
 * then, and NULL means "use the raw syscall"). Hooks may call them
 * directly whenever the fd table exists: the constructor resolves them
 * before mapping it. One list makes both the struct and its resolution,
 * so that no field can go unresolved:
 *   X(field, symbol, return type, (parameter types))
 * The symbol differs from the field where the name is a macro somewhere
 * (musl before 1.2.4 defines open64, openat64, creat64 as macros) or not a
 * C name for a function pointer field (__open_2, _exit). Adding one: see
 * HACKING.md, "Adding an interposed call". */
#define LINGER_REAL_FNS(X) \
    X(close, "close", int, (int)) \
    X(shutdown, "shutdown", int, (int, int)) \
    X(write, "write", ssize_t, (int, const void *, size_t)) \
    X(writev, "writev", ssize_t, (int, const struct iovec *, int)) \
    X(send, "send", ssize_t, (int, const void *, size_t, int)) \
    X(sendto, "sendto", ssize_t, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
    X(sendmsg, "sendmsg", ssize_t, (int, const struct msghdr *, int)) \
    X(sendfile, "sendfile", ssize_t, (int, int, off_t *, size_t)) \
    X(sendfile64, "sendfile64", ssize_t, (int, int, off64_t *, size_t)) \
    X(sendmmsg, "sendmmsg", int, (int, struct mmsghdr *, unsigned, int)) \
    X(splice, "splice", ssize_t, (int, loff_t *, int, loff_t *, size_t, unsigned)) \
    X(read, "read", ssize_t, (int, void *, size_t)) \
    X(readv, "readv", ssize_t, (int, const struct iovec *, int)) \
    X(recv, "recv", ssize_t, (int, void *, size_t, int)) \
    X(recvfrom, "recvfrom", ssize_t, (int, void *, size_t, int, struct sockaddr *, socklen_t *)) \
    X(recvmsg, "recvmsg", ssize_t, (int, struct msghdr *, int)) \
    X(accept, "accept", int, (int, struct sockaddr *, socklen_t *)) \
    X(accept4, "accept4", int, (int, struct sockaddr *, socklen_t *, int)) \
    X(connect, "connect", int, (int, const struct sockaddr *, socklen_t)) \
    X(setsockopt, "setsockopt", int, (int, int, int, const void *, socklen_t)) \
    X(epoll_ctl, "epoll_ctl", int, (int, int, int, struct epoll_event *)) \
    X(dup, "dup", int, (int)) \
    X(dup2, "dup2", int, (int, int)) \
    X(dup3, "dup3", int, (int, int, int)) \
    X(fcntl, "fcntl", int, (int, int, ...)) \
    X(close_range, "close_range", int, (unsigned, unsigned, int)) \
    X(socket, "socket", int, (int, int, int)) \
    X(socketpair, "socketpair", int, (int, int, int, int *)) \
    X(pipe, "pipe", int, (int *)) \
    X(pipe2, "pipe2", int, (int *, int)) \
    X(open, "open", int, (const char *, int, ...)) \
    X(lfs_open, "open64", int, (const char *, int, ...)) \
    X(openat, "openat", int, (int, const char *, int, ...)) \
    X(lfs_openat, "openat64", int, (int, const char *, int, ...)) \
    X(open_2, "__open_2", int, (const char *, int)) \
    X(open64_2, "__open64_2", int, (const char *, int)) \
    X(openat_2, "__openat_2", int, (int, const char *, int)) \
    X(openat64_2, "__openat64_2", int, (int, const char *, int)) \
    X(creat, "creat", int, (const char *, mode_t)) \
    X(lfs_creat, "creat64", int, (const char *, mode_t)) \
    X(epoll_create, "epoll_create", int, (int)) \
    X(epoll_create1, "epoll_create1", int, (int)) \
    X(eventfd, "eventfd", int, (unsigned, int)) \
    X(timerfd_create, "timerfd_create", int, (int, int)) \
    X(signalfd, "signalfd", int, (int, const sigset_t *, int)) \
    X(memfd_create, "memfd_create", int, (const char *, unsigned)) \
    X(fclose, "fclose", int, (FILE *)) \
    X(syscall, "syscall", long, (long, ...)) \
    X(clone, "clone", int, (int (*)(void *), void *, int, void *, ...)) \
    X(vfork, "vfork", pid_t, (void)) \
    X(fork, "fork", pid_t, (void)) \
    X(posix_spawn, "posix_spawn", int, (pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *, char *const[], char *const[])) \
    X(posix_spawnp, "posix_spawnp", int, (pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *, char *const[], char *const[])) \
    X(execve, "execve", int, (const char *, char *const[], char *const[])) \
    X(execvpe, "execvpe", int, (const char *, char *const[], char *const[])) \
    X(fexecve, "fexecve", int, (int, char *const[], char *const[])) \
    X(execveat, "execveat", int, (int, const char *, char *const[], char *const[], int)) \
    X(exit_now, "_exit", void, (int))

#define LINGER_REAL_FIELD(field, symbol, ret, params) ret(*field) params;
struct real_fns {
    LINGER_REAL_FNS(LINGER_REAL_FIELD)
};
#undef LINGER_REAL_FIELD
extern struct real_fns real;

/* Resolves every real symbol; safe to call many times and from any thread. */
void real_resolve(void);

/* A system call straight to the kernel: returns the result, or -1 with errno. */
long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* poll(fds, n, 0), straight to the kernel (ppoll with a zero timeout):
 * libc's poll lies on a page of libc's code that a fork child may
 * otherwise map in for the shim's probes alone (forkmap.h). */
int raw_poll_now(struct pollfd *fds, unsigned n);

int real_close(int fd);
int real_shutdown(int fd, int how);
ssize_t real_write(int fd, const void *buf, size_t n);
ssize_t real_writev(int fd, const struct iovec *iov, int cnt);
ssize_t real_send(int fd, const void *buf, size_t n, int flags);
ssize_t real_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t al);
ssize_t real_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t real_sendfile(int out, int in, off_t *off, size_t n);
ssize_t real_sendfile64(int out, int in, off64_t *off, size_t n);
int real_sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags);
ssize_t real_splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t n, unsigned flags);
ssize_t real_read(int fd, void *buf, size_t n);
ssize_t real_readv(int fd, const struct iovec *iov, int cnt);
ssize_t real_recv(int fd, void *buf, size_t n, int flags);
ssize_t real_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al);
ssize_t real_recvmsg(int fd, struct msghdr *msg, int flags);
int real_accept(int fd, struct sockaddr *a, socklen_t *al);
int real_accept4(int fd, struct sockaddr *a, socklen_t *al, int flags);
int real_connect(int fd, const struct sockaddr *a, socklen_t al);
int real_setsockopt(int fd, int level, int name, const void *v, socklen_t len);
int real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int real_dup(int fd);
int real_dup2(int fd, int fd2);
int real_dup3(int fd, int fd2, int flags);
int real_fcntl(int fd, int cmd, long arg);
int real_close_range(unsigned first, unsigned last, int flags);
int real_socket(int domain, int type, int proto);
int real_socketpair(int domain, int type, int proto, int sv[2]);
int real_pipe(int fds[2]);
int real_pipe2(int fds[2], int flags);
/* mode is passed on always; libc reads it only when flags ask for one */
int real_open(const char *path, int flags, mode_t mode);
int real_open64(const char *path, int flags, mode_t mode);
int real_openat(int dirfd, const char *path, int flags, mode_t mode);
int real_openat64(int dirfd, const char *path, int flags, mode_t mode);
int real_open_2(const char *path, int flags);
int real_open64_2(const char *path, int flags);
int real_openat_2(int dirfd, const char *path, int flags);
int real_openat64_2(int dirfd, const char *path, int flags);
int real_creat(const char *path, mode_t mode);
int real_creat64(const char *path, mode_t mode);
int real_epoll_create(int size);
int real_epoll_create1(int flags);
int real_eventfd(unsigned count, int flags);
int real_timerfd_create(int clock, int flags);
int real_signalfd(int fd, const sigset_t *mask, int flags);
int real_memfd_create(const char *name, unsigned flags);
int real_fclose(FILE *f);
long real_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
int real_clone(int (*fn)(void *), void *stack, int flags, void *arg, void *ptid, void *tls, void *ctid);
__attribute__((noreturn)) void real_exit_now(int status); /* _exit */

/* The exec functions (and posix_spawn, posix_spawnp): libc's, waiting a
 * while for another thread that is still resolving (at load only); NULL if
 * libc has none. */
struct real_fns *real_exec_fns(void);

#pragma GCC visibility pop

#endif
