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
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#pragma GCC visibility push(hidden) /* direct, not GOT, access from the hooks */

/* The real functions, filled once by real_resolve() (NULL until then, and
 * NULL means "use the raw syscall"). Hooks may call them directly whenever
 * the fd table exists: the constructor resolves them before mapping it. */
struct real_fns {
    int (*close)(int);
    int (*shutdown)(int, int);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    ssize_t (*sendmsg)(int, const struct msghdr *, int);
    ssize_t (*sendfile)(int, int, off_t *, size_t);
    ssize_t (*sendfile64)(int, int, off64_t *, size_t);
    int (*sendmmsg)(int, struct mmsghdr *, unsigned, int);
    ssize_t (*splice)(int, loff_t *, int, loff_t *, size_t, unsigned);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
    int (*epoll_ctl)(int, int, int, struct epoll_event *);
    int (*dup)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*fcntl)(int, int, ...);
    int (*close_range)(unsigned, unsigned, int);
    int (*fclose)(FILE *);
    long (*syscall)(long, ...);
    int (*clone)(int (*)(void *), void *, int, void *, ...);
    void *vfork;                  /* only jumped to (hooks_process.c) */
    int (*posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                       const posix_spawnattr_t *, char *const[], char *const[]);
    int (*posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);
    int (*execve)(const char *, char *const[], char *const[]);
    int (*execvpe)(const char *, char *const[], char *const[]);
    int (*fexecve)(int, char *const[], char *const[]);
    int (*execveat)(int, const char *, char *const[], char *const[], int);
    void (*exit_now)(int);
};
extern struct real_fns real;

/* Resolves every real symbol; safe to call many times and from any thread. */
void real_resolve(void);

/* A system call straight to the kernel: returns the result, or -1 with errno. */
long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

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
