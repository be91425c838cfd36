/* fd_pressure.c - how many fds of one kind a process makes, at its
 * RLIMIT_NOFILE (run it under prlimit), after closing LINGERING sockets
 * whose request bodies it never read (with the shim, they linger and hold
 * fds). The test of fault_fd_limit_every_call_relieved.
 *
 *   fd_pressure KIND DIR [LINGERING [PAUSE_MS]]
 *
 * KIND names the call (open, openat, socket, pipe, dup, eventfd, ... see
 * `kinds` below); DIR is a writable directory for the calls that create
 * files. PAUSE_MS (0) is a pause after the closes (a LINGER_STATS file is
 * rewritten at most once a second: after one, its next rewrite would come
 * while the call is being retried). The call is made until it fails; one
 * line then says
 *
 *   kind=K calls=N fds=F err=NAME held_before=H held_after=A errno_changed=E mode_bad=M
 *   slowest_us=S last_us=L
 *
 * fds: the fds those calls made; err: errno of the failing call; held_before
 * and held_after: open fds this program did not make itself (the shim's),
 * before the first call and after the failing one; errno_changed: successful
 * calls after which errno was not what it was before the call; mode_bad: files
 * created without the mode asked for (0640, umask 0); slowest_us: the longest
 * call that succeeded (one the shim retried waits for the drainer); last_us:
 * the failing call. Exit status 0. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>

#include "kit.h"

/* glibc's _FORTIFY_SOURCE entry points, called by name here */
extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dirfd, const char *path, int flags);
extern int __openat64_2(int dirfd, const char *path, int flags);

#define MODE 0640
#define SENTINEL EDOM /* errno before each call: no call here sets it */

static const char *dir;
static unsigned serial;

/* A fresh file name in dir, for the calls that create one. */
static const char *fresh(void)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/f%u", dir, serial++);
    return path;
}

/* Makes one batch of fds of this kind into fds[]; returns how many (1 or 2),
 * or -1 with errno. */
static int make(const char *kind, int fds[2])
{
    int r = -1;
    sigset_t mask;
#define IS(name) (strcmp(kind, name) == 0)
    if (IS("open")) r = fds[0] = open("/dev/null", O_RDONLY);
    else if (IS("open_creat")) r = fds[0] = open(fresh(), O_WRONLY | O_CREAT | O_EXCL, MODE);
    else if (IS("open_tmpfile")) r = fds[0] = open(dir, O_TMPFILE | O_WRONLY, MODE);
    else if (IS("open64")) r = fds[0] = open64("/dev/null", O_RDONLY);
    else if (IS("openat")) r = fds[0] = openat(AT_FDCWD, "/dev/null", O_RDONLY);
    else if (IS("openat64")) r = fds[0] = openat64(AT_FDCWD, "/dev/null", O_RDONLY);
    else if (IS("openat_creat")) r = fds[0] = openat(AT_FDCWD, fresh(), O_WRONLY | O_CREAT | O_EXCL, MODE);
    else if (IS("__open_2")) r = fds[0] = __open_2("/dev/null", O_RDONLY);
    else if (IS("__open64_2")) r = fds[0] = __open64_2("/dev/null", O_RDONLY);
    else if (IS("__openat_2")) r = fds[0] = __openat_2(AT_FDCWD, "/dev/null", O_RDONLY);
    else if (IS("__openat64_2")) r = fds[0] = __openat64_2(AT_FDCWD, "/dev/null", O_RDONLY);
    else if (IS("creat")) r = fds[0] = creat(fresh(), MODE);
    else if (IS("creat64")) r = fds[0] = creat64(fresh(), MODE);
    else if (IS("socket")) r = fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    else if (IS("socketpair")) r = socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0 ? 2 : -1;
    else if (IS("pipe")) r = pipe(fds) == 0 ? 2 : -1;
    else if (IS("pipe2")) r = pipe2(fds, O_CLOEXEC) == 0 ? 2 : -1;
    else if (IS("dup")) r = fds[0] = dup(0);
    else if (IS("fcntl_dupfd")) r = fds[0] = fcntl(0, F_DUPFD, 0);
    else if (IS("fcntl_dupfd_cloexec")) r = fds[0] = fcntl(0, F_DUPFD_CLOEXEC, 0);
    else if (IS("epoll_create")) r = fds[0] = epoll_create(1);
    else if (IS("epoll_create1")) r = fds[0] = epoll_create1(EPOLL_CLOEXEC);
    else if (IS("eventfd")) r = fds[0] = eventfd(0, 0);
    else if (IS("timerfd_create")) r = fds[0] = timerfd_create(CLOCK_MONOTONIC, 0);
    else if (IS("signalfd")) {
        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        r = fds[0] = signalfd(-1, &mask, 0);
    } else if (IS("memfd_create")) r = fds[0] = memfd_create("fd_pressure", 0);
    else {
        fprintf(stderr, "fd_pressure: unknown kind %s\n", kind);
        exit(2);
    }
#undef IS
    return r < 0 ? -1 : (r == 2 ? 2 : 1);
}

/* Files this kind creates, whose mode is checked. */
static int creates(const char *kind)
{
    return strcmp(kind, "open_creat") == 0 || strcmp(kind, "openat_creat") == 0
        || strcmp(kind, "open_tmpfile") == 0 || strcmp(kind, "creat") == 0 || strcmp(kind, "creat64") == 0;
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Open fds not marked in mine[] (the shim's). */
static int held(const unsigned char *mine, int limit)
{
    int n = 0;
    for (int fd = 0; fd < limit; fd++)
        if (!mine[fd] && fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fd_pressure KIND DIR [LINGERING [PAUSE_MS]]\n");
        return 2;
    }
    const char *kind = argv[1];
    dir = argv[2];
    int lingering = argc > 3 ? atoi(argv[3]) : 10;
    int pause_ms = argc > 4 ? atoi(argv[4]) : 0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 4096) {
        fprintf(stderr, "fd_pressure: run me under a low RLIMIT_NOFILE (prlimit --nofile=64:64)\n");
        return 2;
    }
    int limit = (int)rl.rlim_cur;
    unsigned char *mine = calloc((size_t)limit, 1);
    int *made = calloc((size_t)limit, sizeof *made);
    if (!mine || !made)
        return 2;
    umask(0);
    for (int fd = 0; fd < 3; fd++)
        mine[fd] = 1;

    /* LINGERING sockets: each gets an upload head and a few body bytes, an
     * early 413, and a close with the body unread */
    static const char upload[] = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\nxxxx";
    static const char resp[] = "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    struct sockaddr_in addr;
    int l = kit_listen_loopback(&addr, 64);
    mine[l] = 1;
    for (int i = 0; i < lingering; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) != 0
            || send(c, upload, sizeof upload - 1, 0) != (ssize_t)(sizeof upload - 1)) {
            perror("fd_pressure: client");
            return 2;
        }
        mine[c] = 1; /* the client end stays open: the peer of a lingering socket */
        int s = kit_accept(l);
        if (s < 0 || write(s, resp, sizeof resp - 1) != (ssize_t)(sizeof resp - 1)) {
            perror("fd_pressure: server");
            return 2;
        }
        close(s);
    }
    if (pause_ms > 0) {
        struct timespec ts = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    int held_before = held(mine, limit);

    int calls = 0, nfds = 0, errno_changed = 0, mode_bad = 0, err = 0;
    long long slowest = 0, last = 0;
    for (;;) {
        int fds[2];
        long long t0 = now_us();
        errno = SENTINEL;
        int k = make(kind, fds);
        int e = errno;
        last = now_us() - t0;
        errno = e;
        if (k < 0) {
            err = errno;
            break;
        }
        if (last > slowest)
            slowest = last;
        if (errno != SENTINEL)
            errno_changed++;
        calls++;
        for (int j = 0; j < k; j++) {
            if (fds[j] < 0 || fds[j] >= limit || mine[fds[j]]) {
                fprintf(stderr, "fd_pressure: %s made fd %d, not a fresh number\n", kind, fds[j]);
                return 2;
            }
            mine[fds[j]] = 1;
            made[nfds++] = fds[j];
            struct stat st;
            if (creates(kind) && (fstat(fds[j], &st) != 0 || (st.st_mode & 07777) != MODE))
                mode_bad++;
        }
    }
    int held_after = held(mine, limit);
    printf("kind=%s calls=%d fds=%d err=%s held_before=%d held_after=%d errno_changed=%d mode_bad=%d "
           "slowest_us=%lld last_us=%lld\n", kind, calls, nfds, strerrorname_np(err) ? strerrorname_np(err) : "?",
           held_before, held_after, errno_changed, mode_bad, slowest, last);
    fflush(stdout);
    for (int i = 0; i < nfds; i++)
        close(made[i]);
    return 0;
}
