/* holders.c - whether another process still holds a socket (see holders.h). */
#include "holders.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

#define MAX_PARENT_FDS 4096 /* a parent with more is not read: held, as far as we know */

/* Writes v in decimal at p; returns the end. */
static char *put_decimal(char *p, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    return p;
}

/* The linux_dirent64 records getdents64 fills in. */
struct dirent64_raw {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* What an entry visitor says. */
enum visit { GO_ON, STOP };

/* Calls visit(dir, name, arg) for each entry of directory path but "." and
 * "..", at most max of them. Returns STOP when a visit did, GO_ON when all
 * were visited, -1 when the directory cannot be read or has more than max. */
static int each_entry(const char *path, int max, enum visit (*visit)(long dir, const char *name, void *arg),
                      void *arg)
{
    long dir = raw_syscall(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
    if (dir < 0)
        return -1;
    char buf[2048] __attribute__((aligned(8)));
    int seen = 0, result = GO_ON;
    long n;
    while (result == GO_ON && (n = raw_syscall(SYS_getdents64, dir, (long)buf, sizeof buf, 0, 0, 0)) > 0) {
        for (long off = 0; off < n && result == GO_ON; ) {
            const struct dirent64_raw *d = (const struct dirent64_raw *)(buf + off);
            off += d->reclen;
            if (d->name[0] == '.')
                continue;
            if (++seen > max)
                result = -1;
            else if (visit(dir, d->name, arg) == STOP)
                result = STOP;
        }
    }
    if (n < 0)
        result = -1;
    raw_syscall(SYS_close, dir, 0, 0, 0, 0, 0);
    return result;
}

/* The decimal number name spells, or -1. */
static long number_of(const char *name)
{
    long v = 0;
    if (!*name)
        return -1;
    for (; *name; name++) {
        if (*name < '0' || *name > '9' || v > 100000000)
            return -1;
        v = v * 10 + (*name - '0');
    }
    return v;
}

static enum visit mark_one(long dir, const char *name, void *arg)
{
    long fd = number_of(name);
    if (fd >= 0 && fd != dir)
        ((void (*)(int))arg)((int)fd);
    return GO_ON;
}

void holders_each_open_fd(void (*mark)(int fd))
{
    int saved = errno;
    if (each_entry("/proc/self/fd", 1 << 20, mark_one, (void *)mark) < 0)
        for (int fd = 0; fd < 256; fd++) /* no /proc: inetd's numbers are low */
            if (raw_syscall(SYS_fcntl, fd, F_GETFD, 0, 0, 0, 0) >= 0)
                mark(fd);
    errno = saved;
}

/* holders_each_fd_from's walk: the first number and the visitor. */
struct fd_walk {
    long first;
    void (*visit)(int fd, void *arg);
    void *arg;
};

static enum visit visit_from(long dir, const char *name, void *arg)
{
    const struct fd_walk *w = arg;
    long fd = number_of(name);
    if (fd >= w->first && fd != dir)
        w->visit((int)fd, w->arg);
    return GO_ON;
}

void holders_each_fd_from(int first, void (*visit)(int fd, void *arg), void *arg)
{
    int saved = errno;
    struct fd_walk w = { first, visit, arg };
    /* /proc/self/fd lists by number (its position is the next number to
     * look at): an fd closed meanwhile moves nothing, none is missed */
    if (each_entry("/proc/self/fd", 1 << 20, visit_from, &w) < 0) {
        struct { uint64_t cur, max; } lim = { 1024, 1024 };
        raw_syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&lim, 0, 0);
        long end = lim.cur < INT_MAX ? (long)lim.cur : INT_MAX;
        for (long fd = first; fd < end; fd++)
            visit((int)fd, arg);
    }
    errno = saved;
}

/* Stops at an entry that links to the socket spelled in want. */
static enum visit is_the_socket(long dir, const char *name, void *arg)
{
    const char *want = arg;
    size_t want_len = strlen(want);
    char target[64];
    long n = raw_syscall(SYS_readlinkat, dir, (long)name, (long)target, sizeof target, 0, 0);
    return n == (long)want_len && memcmp(target, want, want_len) == 0 ? STOP : GO_ON;
}

/* True when /proc/self names this process: /proc is this PID namespace's. */
static int proc_is_ours(void)
{
    char link[24], want[24];
    long n = raw_syscall(SYS_readlinkat, AT_FDCWD, (long)"/proc/self", (long)link, sizeof link, 0, 0);
    char *end = put_decimal(want, (uint64_t)raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0));
    return n == end - want && memcmp(link, want, (size_t)n) == 0;
}

int holders_parent_lets_go(uint64_t ino)
{
    int saved = errno;
    long ppid = raw_syscall(SYS_getppid, 0, 0, 0, 0, 0, 0);
    int lets_go = 0;
    if (ppid > 0 && proc_is_ours()) {
        char path[40] = "/proc/", want[40] = "socket:[";
        memcpy(put_decimal(path + 6, (uint64_t)ppid), "/fd", 4);
        char *w = put_decimal(want + 8, ino);
        w[0] = ']';
        w[1] = '\0';
        lets_go = each_entry(path, MAX_PARENT_FDS, is_the_socket, want) == GO_ON;
    }
    errno = saved;
    return lets_go;
}
