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
#include <signal.h>
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
    /* the calls that make a new fd (hooks_newfd.c) */
    int (*socket)(int, int, int);
    int (*socketpair)(int, int, int, int *);
    int (*pipe)(int *);
    int (*pipe2)(int *, int);
    int (*open)(const char *, int, ...);
    int (*lfs_open)(const char *, int, ...);        /* open64 (musl <1.2.4: a macro for open) */
    int (*openat)(int, const char *, int, ...);
    int (*lfs_openat)(int, const char *, int, ...); /* openat64 */
    int (*open_2)(const char *, int);              /* glibc's __open_2 (_FORTIFY_SOURCE) */
    int (*open64_2)(const char *, int);            /* __open64_2 */
    int (*openat_2)(int, const char *, int);       /* __openat_2 */
    int (*openat64_2)(int, const char *, int);     /* __openat64_2 */
    int (*creat)(const char *, mode_t);
    int (*lfs_creat)(const char *, mode_t);         /* creat64 */
    int (*epoll_create)(int);
    int (*epoll_create1)(int);
    int (*eventfd)(unsigned, int);
    int (*timerfd_create)(int, int);
    int (*signalfd)(int, const sigset_t *, int);
    int (*memfd_create)(const char *, unsigned);
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
