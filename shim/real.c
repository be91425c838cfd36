/* real.c - resolution of the real libc symbols (see real.h). */
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pages.h"

struct real_fns real;

/* 0 = not yet, 1 = resolving (calls meanwhile use raw syscalls), 2 = done. */
static _Atomic int resolve_state;

LINGER_HOT long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long ret;
#if defined(__x86_64__)
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a1;
    register long x1 __asm__("x1") = a2;
    register long x2 __asm__("x2") = a3;
    register long x3 __asm__("x3") = a4;
    register long x4 __asm__("x4") = a5;
    register long x5 __asm__("x5") = a6;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    ret = x0;
#else
#error "raw_syscall: add this architecture"
#endif
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

LINGER_HOT int raw_poll_now(struct pollfd *fds, unsigned n)
{
    struct timespec zero = { 0, 0 };
    return (int)raw_syscall(SYS_ppoll, (long)fds, (long)n, (long)&zero, 0, 0, 0);
}

#define SYS0(nr, ...) raw_syscall(nr, __VA_ARGS__)
#define A(x) ((long)(x))

void real_resolve(void)
{
    int expected = 0;
    if (atomic_load_explicit(&resolve_state, memory_order_acquire) == 2)
        return;
    if (!atomic_compare_exchange_strong(&resolve_state, &expected, 1))
        return; /* done, or another call is resolving: raw syscalls meanwhile */
    int saved = errno;
#define RESOLVE(field, symbol, ret, params) *(void **)&real.field = dlsym(RTLD_NEXT, symbol);
    LINGER_REAL_FNS(RESOLVE)
#undef RESOLVE
    errno = saved;
    atomic_store_explicit(&resolve_state, 2, memory_order_release);
}

/* True once every pointer is resolved; resolves on first use. */
static inline int resolved(void)
{
    if (atomic_load_explicit(&resolve_state, memory_order_acquire) == 2)
        return 1;
    real_resolve();
    return atomic_load_explicit(&resolve_state, memory_order_acquire) == 2;
}

/* The real function, or NULL while unresolved (the caller uses a syscall). */
#define REAL(name) (resolved() ? real.name : NULL)

LINGER_HOT int real_close(int fd)
{
    int (*f)(int) = REAL(close);
    return f ? f(fd) : (int)SYS0(SYS_close, A(fd), 0, 0, 0, 0, 0);
}

LINGER_WARM int real_shutdown(int fd, int how)
{
    int (*f)(int, int) = REAL(shutdown);
    return f ? f(fd, how) : (int)SYS0(SYS_shutdown, A(fd), A(how), 0, 0, 0, 0);
}

ssize_t real_write(int fd, const void *buf, size_t n)
{
    ssize_t (*f)(int, const void *, size_t) = REAL(write);
    return f ? f(fd, buf, n) : SYS0(SYS_write, A(fd), A(buf), A(n), 0, 0, 0);
}

ssize_t real_writev(int fd, const struct iovec *iov, int cnt)
{
    ssize_t (*f)(int, const struct iovec *, int) = REAL(writev);
    return f ? f(fd, iov, cnt) : SYS0(SYS_writev, A(fd), A(iov), A(cnt), 0, 0, 0);
}

ssize_t real_send(int fd, const void *buf, size_t n, int flags)
{
    ssize_t (*f)(int, const void *, size_t, int) = REAL(send);
    return f ? f(fd, buf, n, flags) : SYS0(SYS_sendto, A(fd), A(buf), A(n), A(flags), 0, 0);
}

ssize_t real_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t al)
{
    ssize_t (*f)(int, const void *, size_t, int, const struct sockaddr *, socklen_t) = REAL(sendto);
    return f ? f(fd, buf, n, flags, a, al) : SYS0(SYS_sendto, A(fd), A(buf), A(n), A(flags), A(a), A(al));
}

ssize_t real_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    ssize_t (*f)(int, const struct msghdr *, int) = REAL(sendmsg);
    return f ? f(fd, msg, flags) : SYS0(SYS_sendmsg, A(fd), A(msg), A(flags), 0, 0, 0);
}

ssize_t real_read(int fd, void *buf, size_t n)
{
    ssize_t (*f)(int, void *, size_t) = REAL(read);
    return f ? f(fd, buf, n) : SYS0(SYS_read, A(fd), A(buf), A(n), 0, 0, 0);
}

ssize_t real_readv(int fd, const struct iovec *iov, int cnt)
{
    ssize_t (*f)(int, const struct iovec *, int) = REAL(readv);
    return f ? f(fd, iov, cnt) : SYS0(SYS_readv, A(fd), A(iov), A(cnt), 0, 0, 0);
}

LINGER_WARM ssize_t real_recv(int fd, void *buf, size_t n, int flags)
{
    ssize_t (*f)(int, void *, size_t, int) = REAL(recv);
    return f ? f(fd, buf, n, flags) : SYS0(SYS_recvfrom, A(fd), A(buf), A(n), A(flags), 0, 0);
}

ssize_t real_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al)
{
    ssize_t (*f)(int, void *, size_t, int, struct sockaddr *, socklen_t *) = REAL(recvfrom);
    return f ? f(fd, buf, n, flags, a, al) : SYS0(SYS_recvfrom, A(fd), A(buf), A(n), A(flags), A(a), A(al));
}

ssize_t real_recvmsg(int fd, struct msghdr *msg, int flags)
{
    ssize_t (*f)(int, struct msghdr *, int) = REAL(recvmsg);
    return f ? f(fd, msg, flags) : SYS0(SYS_recvmsg, A(fd), A(msg), A(flags), 0, 0, 0);
}

ssize_t real_sendfile(int out, int in, off_t *off, size_t n)
{
    ssize_t (*f)(int, int, off_t *, size_t) = REAL(sendfile);
    return f ? f(out, in, off, n) : SYS0(SYS_sendfile, A(out), A(in), A(off), A(n), 0, 0);
}

LINGER_WARM ssize_t real_sendfile64(int out, int in, off64_t *off, size_t n)
{
    ssize_t (*f)(int, int, off64_t *, size_t) = REAL(sendfile64);
    return f ? f(out, in, off, n) : SYS0(SYS_sendfile, A(out), A(in), A(off), A(n), 0, 0);
}

int real_sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
    int (*f)(int, struct mmsghdr *, unsigned, int) = REAL(sendmmsg);
    return f ? f(fd, v, n, flags) : (int)SYS0(SYS_sendmmsg, A(fd), A(v), A(n), A(flags), 0, 0);
}

ssize_t real_splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t n, unsigned flags)
{
    ssize_t (*f)(int, loff_t *, int, loff_t *, size_t, unsigned) = REAL(splice);
    return f ? f(in, off_in, out, off_out, n, flags)
             : SYS0(SYS_splice, A(in), A(off_in), A(out), A(off_out), A(n), A(flags));
}

int real_accept(int fd, struct sockaddr *a, socklen_t *al)
{
    int (*f)(int, struct sockaddr *, socklen_t *) = REAL(accept);
    return f ? f(fd, a, al) : (int)SYS0(SYS_accept4, A(fd), A(a), A(al), 0, 0, 0);
}

int real_accept4(int fd, struct sockaddr *a, socklen_t *al, int flags)
{
    int (*f)(int, struct sockaddr *, socklen_t *, int) = REAL(accept4);
    return f ? f(fd, a, al, flags) : (int)SYS0(SYS_accept4, A(fd), A(a), A(al), A(flags), 0, 0);
}

int real_connect(int fd, const struct sockaddr *a, socklen_t al)
{
    int (*f)(int, const struct sockaddr *, socklen_t) = REAL(connect);
    return f ? f(fd, a, al) : (int)SYS0(SYS_connect, A(fd), A(a), A(al), 0, 0, 0);
}

int real_setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
    int (*f)(int, int, int, const void *, socklen_t) = REAL(setsockopt);
    return f ? f(fd, level, name, v, len) : (int)SYS0(SYS_setsockopt, A(fd), A(level), A(name), A(v), A(len), 0);
}

LINGER_WARM int real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    int (*f)(int, int, int, struct epoll_event *) = REAL(epoll_ctl);
    return f ? f(epfd, op, fd, ev) : (int)SYS0(SYS_epoll_ctl, A(epfd), A(op), A(fd), A(ev), 0, 0);
}

int real_dup(int fd)
{
    int (*f)(int) = REAL(dup);
    return f ? f(fd) : (int)SYS0(SYS_dup, A(fd), 0, 0, 0, 0, 0);
}

LINGER_WARM int real_dup2(int fd, int fd2)
{
    int (*f)(int, int) = REAL(dup2);
#ifdef SYS_dup2
    return f ? f(fd, fd2) : (int)SYS0(SYS_dup2, A(fd), A(fd2), 0, 0, 0, 0);
#else
    if (f) return f(fd, fd2);
    if (fd == fd2) return (int)SYS0(SYS_fcntl, A(fd), F_GETFD, 0, 0, 0, 0) < 0 ? -1 : fd;
    return (int)SYS0(SYS_dup3, A(fd), A(fd2), 0, 0, 0, 0);
#endif
}

int real_dup3(int fd, int fd2, int flags)
{
    int (*f)(int, int, int) = REAL(dup3);
    return f ? f(fd, fd2, flags) : (int)SYS0(SYS_dup3, A(fd), A(fd2), A(flags), 0, 0, 0);
}

LINGER_WARM int real_fcntl(int fd, int cmd, long arg)
{
    int (*f)(int, int, ...) = REAL(fcntl);
    return f ? f(fd, cmd, arg) : (int)SYS0(SYS_fcntl, A(fd), A(cmd), arg, 0, 0, 0);
}

int real_close_range(unsigned first, unsigned last, int flags)
{
    int (*f)(unsigned, unsigned, int) = REAL(close_range);
    return f ? f(first, last, flags) : (int)SYS0(SYS_close_range, A(first), A(last), A(flags), 0, 0, 0);
}

/* The calls that make a new fd. The raw fallbacks serve before resolution,
 * and a libc without the symbol (musl has no __open_2; glibc before 2.27
 * no memfd_create). */

int real_socket(int domain, int type, int proto)
{
    int (*f)(int, int, int) = REAL(socket);
    return f ? f(domain, type, proto) : (int)SYS0(SYS_socket, A(domain), A(type), A(proto), 0, 0, 0);
}

int real_socketpair(int domain, int type, int proto, int sv[2])
{
    int (*f)(int, int, int, int *) = REAL(socketpair);
    return f ? f(domain, type, proto, sv) : (int)SYS0(SYS_socketpair, A(domain), A(type), A(proto), A(sv), 0, 0);
}

int real_pipe(int fds[2])
{
    int (*f)(int *) = REAL(pipe);
    return f ? f(fds) : (int)SYS0(SYS_pipe2, A(fds), 0, 0, 0, 0, 0);
}

int real_pipe2(int fds[2], int flags)
{
    int (*f)(int *, int) = REAL(pipe2);
    return f ? f(fds, flags) : (int)SYS0(SYS_pipe2, A(fds), A(flags), 0, 0, 0, 0);
}

LINGER_WARM int real_open(const char *path, int flags, mode_t mode)
{
    int (*f)(const char *, int, ...) = REAL(open);
    return f ? f(path, flags, mode) : (int)SYS0(SYS_openat, AT_FDCWD, A(path), A(flags), A(mode), 0, 0);
}

LINGER_WARM int real_open64(const char *path, int flags, mode_t mode)
{
    int (*f)(const char *, int, ...) = REAL(lfs_open);
    return f ? f(path, flags, mode) : (int)SYS0(SYS_openat, AT_FDCWD, A(path), A(flags), A(mode), 0, 0);
}

LINGER_WARM int real_openat(int dirfd, const char *path, int flags, mode_t mode)
{
    int (*f)(int, const char *, int, ...) = REAL(openat);
    return f ? f(dirfd, path, flags, mode) : (int)SYS0(SYS_openat, A(dirfd), A(path), A(flags), A(mode), 0, 0);
}

LINGER_WARM int real_openat64(int dirfd, const char *path, int flags, mode_t mode)
{
    int (*f)(int, const char *, int, ...) = REAL(lfs_openat);
    return f ? f(dirfd, path, flags, mode) : (int)SYS0(SYS_openat, A(dirfd), A(path), A(flags), A(mode), 0, 0);
}

int real_open_2(const char *path, int flags)
{
    int (*f)(const char *, int) = REAL(open_2);
    return f ? f(path, flags) : (int)SYS0(SYS_openat, AT_FDCWD, A(path), A(flags), 0, 0, 0);
}

int real_open64_2(const char *path, int flags)
{
    int (*f)(const char *, int) = REAL(open64_2);
    return f ? f(path, flags) : (int)SYS0(SYS_openat, AT_FDCWD, A(path), A(flags), 0, 0, 0);
}

int real_openat_2(int dirfd, const char *path, int flags)
{
    int (*f)(int, const char *, int) = REAL(openat_2);
    return f ? f(dirfd, path, flags) : (int)SYS0(SYS_openat, A(dirfd), A(path), A(flags), 0, 0, 0);
}

int real_openat64_2(int dirfd, const char *path, int flags)
{
    int (*f)(int, const char *, int) = REAL(openat64_2);
    return f ? f(dirfd, path, flags) : (int)SYS0(SYS_openat, A(dirfd), A(path), A(flags), 0, 0, 0);
}

int real_creat(const char *path, mode_t mode)
{
    int (*f)(const char *, mode_t) = REAL(creat);
    return f ? f(path, mode)
             : (int)SYS0(SYS_openat, AT_FDCWD, A(path), O_CREAT | O_WRONLY | O_TRUNC, A(mode), 0, 0);
}

int real_creat64(const char *path, mode_t mode)
{
    int (*f)(const char *, mode_t) = REAL(lfs_creat);
    return f ? f(path, mode)
             : (int)SYS0(SYS_openat, AT_FDCWD, A(path), O_CREAT | O_WRONLY | O_TRUNC, A(mode), 0, 0);
}

int real_epoll_create(int size)
{
    int (*f)(int) = REAL(epoll_create);
    if (f)
        return f(size);
    if (size <= 0) { /* the kernel's epoll_create says so; epoll_create1 has no size */
        errno = EINVAL;
        return -1;
    }
    return (int)SYS0(SYS_epoll_create1, 0, 0, 0, 0, 0, 0);
}

int real_epoll_create1(int flags)
{
    int (*f)(int) = REAL(epoll_create1);
    return f ? f(flags) : (int)SYS0(SYS_epoll_create1, A(flags), 0, 0, 0, 0, 0);
}

int real_eventfd(unsigned count, int flags)
{
    int (*f)(unsigned, int) = REAL(eventfd);
    return f ? f(count, flags) : (int)SYS0(SYS_eventfd2, A(count), A(flags), 0, 0, 0, 0);
}

int real_timerfd_create(int clock, int flags)
{
    int (*f)(int, int) = REAL(timerfd_create);
    return f ? f(clock, flags) : (int)SYS0(SYS_timerfd_create, A(clock), A(flags), 0, 0, 0, 0);
}

int real_signalfd(int fd, const sigset_t *mask, int flags)
{
    int (*f)(int, const sigset_t *, int) = REAL(signalfd);
    return f ? f(fd, mask, flags) : (int)SYS0(SYS_signalfd4, A(fd), A(mask), _NSIG / 8, A(flags), 0, 0);
}

int real_memfd_create(const char *name, unsigned flags)
{
    int (*f)(const char *, unsigned) = REAL(memfd_create);
    return f ? f(name, flags) : (int)SYS0(SYS_memfd_create, A(name), A(flags), 0, 0, 0, 0);
}

int real_fclose(FILE *f)
{
    int (*fn)(FILE *) = REAL(fclose);
    if (!fn) { /* only reachable from inside dlsym: cannot happen in practice */
        errno = EBADF;
        return EOF;
    }
    return fn(f);
}

long real_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long (*f)(long, ...) = REAL(syscall);
    return f ? f(nr, a1, a2, a3, a4, a5, a6) : raw_syscall(nr, a1, a2, a3, a4, a5, a6);
}

LINGER_HOT void real_exit_now(int status)
{
    void (*f)(int) = REAL(exit_now);
    if (f)
        f(status);
    for (;;)
        raw_syscall(SYS_exit_group, status, 0, 0, 0, 0, 0);
}

int real_clone(int (*fn)(void *), void *stack, int flags, void *arg, void *ptid, void *tls, void *ctid)
{
    int (*f)(int (*)(void *), void *, int, void *, ...) = REAL(clone);
    if (!f) { /* a libc without clone: as if the kernel had none */
        errno = ENOSYS;
        return -1;
    }
    return f(fn, stack, flags, arg, ptid, tls, ctid);
}

struct real_fns *real_exec_fns(void)
{
    for (int tries = 0; !resolved() && tries < 1000; tries++)
        sched_yield();
    return &real;
}
