/* supervisor.c - the supervising process (see supervisor.h). */
#include "supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "drain.h"
#include "fdspace.h"
#include "guardian.h"
#include "log.h"
#include "notify.h"
#include "sockcheck.h"
#include "stats.h"

#define RECHECK_MS 20 /* how often deferred closes are looked at again */

int supervisor_hand_over(int sock, int listener)
{
    char byte = 'L', cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = { &byte, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &listener, sizeof(int));
    if (sendmsg(sock, &m, MSG_NOSIGNAL) != 1)
        return -1;
    ssize_t n;
    while ((n = read(sock, &byte, 1)) < 0 && errno == EINTR)
        ;
    return n == 1 ? 0 : -1;
}

/* The listener fd sent over sock, or -1. */
static int receive_listener(int sock)
{
    char byte, cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { &byte, 1 };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
    ssize_t n;
    while ((n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    struct cmsghdr *c = n == 1 ? CMSG_FIRSTHDR(&m) : NULL;
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
        return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

/* Holds none of the program's files: every fd but keep1, keep2 and the
 * log's closed, stdin and stdout on /dev/null (a pipe the program writes
 * must see its EOF when the program ends, not when the supervisor does). */
static void drop_inherited_fds(int keep1, int keep2)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
    }
    DIR *d = opendir("/proc/self/fd");
    int own = d ? dirfd(d) : -1;
    int logfd = conf_open_log();
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd > 2 && fd != own && fd != keep1 && fd != keep2
            && fd != logfd && fd != null)
            close(fd);
    }
    if (d)
        closedir(d);
    if (null > 2)
        close(null);
}

/* Makes the supervisor hard to stop by accident: no terminal, signals that
 * would end it ignored, the OOM killer told to pick anything else first
 * (allowed to root only). SIGKILL still ends it: see docs/static.md. */
static void harden(void)
{
    setsid();
    if (chdir("/") != 0)
        log_msg(LOG_DEBUG, "cannot chdir to /");
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS && sig != SIGFPE
            && sig != SIGILL && sig != SIGABRT)
            signal(sig, SIG_IGN);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, "-1000", 5);
        close(fd);
    }
    prctl(PR_SET_NAME, "linger-supervis", 0, 0, 0);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Rewrites LINGER_STATS at most once a second, and only after a change. */
static void maybe_write_stats(pid_t root, int final)
{
    static uint64_t last_ms, last_print = 1;
    if (!sv_cfg.stats_file)
        return;
    uint64_t print = stats_fingerprint(), now = mono_ms();
    if (final) {
        stats_write_final_file(sv_cfg.stats_file, (int)root);
    } else if (print != last_print && now - last_ms >= 1000) {
        stats_update_file(sv_cfg.stats_file, (int)root);
        last_ms = now;
        last_print = print;
    }
}

void supervisor_run(int sock, pid_t root)
{
    harden();
    drop_inherited_fds(sock, 2);
    int listener = receive_listener(sock);
    if (listener < 0)
        _exit(1); /* the launcher failed before the hand-over, and said so */
    struct rlimit rl = { 1024, 1024 };
    getrlimit(RLIMIT_NOFILE, &rl);
    int limit = rl.rlim_cur > (1u << 21) ? (1 << 21) : (int)rl.rlim_cur;
    fdspace_init(limit);
    listener = fdspace_high(listener);
    int ep = fdspace_high(epoll_create1(EPOLL_CLOEXEC));
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = listener };
    if (ep < 0 || notify_init() != 0 || drain_init(ep, limit) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) != 0) {
        log_msg(LOG_ERROR, "cannot start (%s)", strerror(errno));
        _exit(1); /* no acknowledgement: the launcher refuses to run the program */
    }
    struct inflight *in = guardian_shared();
    int guardian = in ? fdspace_high(guardian_start(listener, in)) : -1;
    if (guardian < 0)
        log_msg(LOG_WARN, "no guardian process (%s): if the supervisor dies, the program's closes fail", strerror(errno));
    else {
        struct epoll_event g = { .events = EPOLLIN, .data.fd = guardian };
        epoll_ctl(ep, EPOLL_CTL_ADD, guardian, &g);
    }
    if (sockcheck_init() < 0)
        log_msg(LOG_WARN, "no sock_diag netlink socket (%s): no close will linger", strerror(errno));
    (void)!write(sock, "k", 1);
    close(sock);
    log_msg(LOG_INFO, "supervising pid %d", (int)root);
    int trapping = 1;
    uint64_t last_recheck = 0;
    while (trapping || drain_count() > 0 || drain_deferred_count() > 0) {
        int timeout = drain_expire();
        if (sv_cfg.stats_file && (timeout < 0 || timeout > 1000))
            timeout = 1000;
        if (drain_deferred_count() && (timeout < 0 || timeout > RECHECK_MS))
            timeout = RECHECK_MS;
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, timeout);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == guardian) {
                /* the guardian died (killed): start another */
                epoll_ctl(ep, EPOLL_CTL_DEL, guardian, NULL);
                guardian_reap(guardian);
                guardian = trapping ? fdspace_high(guardian_start(listener, in)) : -1;
                struct epoll_event g = { .events = EPOLLIN, .data.fd = guardian };
                if (guardian >= 0)
                    epoll_ctl(ep, EPOLL_CTL_ADD, guardian, &g);
                log_msg(LOG_WARN, "the guardian process died; %s", guardian >= 0 ? "started another" : "none now");
            } else if (trapping && fd == listener) {
                if (evs[i].events & EPOLLIN)
                    notify_handle_one(listener, root, in);
                else if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
                    /* every process of the program has exited */
                    trapping = 0;
                    epoll_ctl(ep, EPOLL_CTL_DEL, listener, NULL);
                    close(listener);
                    log_msg(LOG_INFO, "the program has exited; %d sockets still lingering", drain_count());
                    conf_detach_stderr();
                }
            } else {
                drain_on_ready(fd);
            }
        }
        uint64_t now = mono_ms();
        if (drain_deferred_count() && now - last_recheck >= RECHECK_MS) {
            notify_recheck_deferred(root);
            last_recheck = now;
        }
        maybe_write_stats(root, 0);
    }
    maybe_write_stats(root, 1);
    _exit(0);
}
