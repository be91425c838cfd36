/* notify.c - answers the program's trapped calls (see notify.h). */
#include "notify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conf.h"
#include "drain.h"
#include "fdspace.h"
#include "guardian.h"
#include "log.h"
#include "procscan.h"
#include "sockcheck.h"
#include "stats.h"

#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#define MAX_AT_ONCE 4096 /* sockets one close_range or exit can linger; the rest close plainly */

static struct seccomp_notif *req;
static struct seccomp_notif_resp *resp;
static size_t resp_size;

int notify_init(void)
{
    struct seccomp_notif_sizes sizes;
    if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
        return -1;
    size_t rq = sizes.seccomp_notif > sizeof *req ? sizes.seccomp_notif : sizeof *req;
    resp_size = sizes.seccomp_notif_resp > sizeof *resp ? sizes.seccomp_notif_resp : sizeof *resp;
    req = calloc(1, rq);
    resp = calloc(1, resp_size);
    return req && resp ? 0 : -1;
}

/* Answers notification id: the call goes on as made (CONTINUE). */
static void reply_continue(int listener, uint64_t id)
{
    memset(resp, 0, resp_size);
    resp->id = id;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp); /* ENOENT: the caller is gone (killed) */
}

/* Answers notification id: the call returns val without running. */
static void reply_value(int listener, uint64_t id, long val)
{
    memset(resp, 0, resp_size);
    resp->id = id;
    resp->val = val;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

/* True while notification id still waits for its answer: its thread is
 * still in the call, so its fds are those the call found. */
static int still_waiting(int listener, uint64_t id)
{
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* A pidfd for thread tid (any thread, Linux 6.9+; else only a process's
 * main thread), or -1. */
static int pidfd_of(pid_t tid)
{
    int p = (int)syscall(__NR_pidfd_open, tid, PIDFD_THREAD);
    if (p < 0 && errno == EINVAL)
        p = (int)syscall(__NR_pidfd_open, tid, 0);
    return p;
}

/* The supervisor's copy of fd in pidfd's process (close-on-exec), or -1. */
static int copy_of(int pidfd, int fd)
{
    return (int)syscall(__NR_pidfd_getfd, pidfd, fd, 0);
}

/* A socket the call would close and the supervisor may linger. */
struct candidate {
    int copy;
    struct sock_facts facts;
};

/* True when socket ino is among out[0..k). */
static int picked(const struct candidate *out, int k, uint64_t ino)
{
    for (int i = 0; i < k; i++)
        if (out[i].facts.ino == ino)
            return 1;
    return 0;
}

/* Copies each fd of fds[0..n) and keeps those whose close should linger,
 * one copy per socket (an exit closes a socket's dups together). */
static int pick(int pidfd, const int *fds, int n, struct candidate *out)
{
    int k = 0;
    for (int i = 0; i < n && k < MAX_AT_ONCE; i++) {
        int copy = copy_of(pidfd, fds[i]);
        if (copy < 0)
            continue;
        if (sock_should_linger(copy, &out[k].facts) && !picked(out, k, out[k].facts.ino))
            out[k++].copy = fdspace_high(copy); /* off the program's numbers (deregister) */
        else
            close(copy);
    }
    return k;
}

/* 1 when fds a (of this process) and b (of this process) are one open
 * file; 0 when not or when the kernel cannot say (no kcmp). */
static int same_file(int a, int b)
{
    pid_t self = getpid();
    return syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) == 0;
}

/* Takes socket copy out of the epoll set of registration r, as the
 * program's close (the last reference to the socket) would: the
 * supervisor's copy would otherwise keep it registered under a number the
 * program no longer has. The DEL names the file by an fd of the caller
 * and the number it was registered under, so a copy of the socket is
 * placed at that number here for the call. *ep_out gets the supervisor's
 * copy of the epoll fd (the caller closes it). 0, or -1 when it could
 * not be done (the number is the supervisor's own, the set is gone). */
static int deregister(const struct epoll_reg *r, int copy, int *ep_out)
{
    *ep_out = -1;
    int pidfd = (int)syscall(__NR_pidfd_open, r->pid, 0);
    int ep = pidfd >= 0 ? copy_of(pidfd, r->epfd) : -1;
    if (pidfd >= 0)
        close(pidfd);
    ep = fdspace_high(ep); /* off the program's numbers: r->tfd must be free */
    if (ep < 0 || ep == r->tfd)
        return ep < 0 ? -1 : (*ep_out = ep, -1);
    *ep_out = ep;
    int at = r->tfd, placed = 0;
    if (at != copy) {
        if (fcntl(at, F_GETFD) != -1 || dup2(copy, at) != at)
            return -1; /* the number is in use here */
        placed = 1;
    }
    int r_del = epoll_ctl(ep, EPOLL_CTL_DEL, at, NULL);
    if (placed)
        close(at);
    return r_del == 0 ? 0 : -1;
}

/* Takes the socket out of every epoll set of x's registrations (the same
 * set and number seen through two processes once). 0 when all are out;
 * -1 when one could not be (then the close is plain, and the program's
 * close, the last reference, ends the rest as it would have). */
static int deregister_all(const struct scan_target *x, int copy)
{
    int eps[MAX_REGS], result = 0;
    for (int i = 0; i < x->nregs; i++)
        eps[i] = -1;
    for (int i = 0; i < x->nregs && result == 0; i++) {
        if (deregister(&x->regs[i], copy, &eps[i]) == 0)
            continue;
        /* ENOENT for a set already done through another process */
        int seen = 0;
        for (int j = 0; j < i; j++)
            if (eps[i] >= 0 && eps[j] >= 0 && x->regs[j].tfd == x->regs[i].tfd && same_file(eps[i], eps[j]))
                seen = 1;
        if (!seen)
            result = -1;
    }
    for (int i = 0; i < x->nregs; i++)
        if (eps[i] >= 0)
            close(eps[i]);
    return result;
}

/* The call of notification req closes fds[0..n) of thread tid, all within
 * [first, last]. Each socket whose close should linger: lingers (shut for
 * writing, CONTINUE, drained) when nothing else keeps it, or when only
 * epoll sets do and its registrations could be taken out as the close
 * would have; is deferred when another process still holds it (it
 * lingers once that one lets go: a fork server's parent and child may
 * close in either order); closes plainly when both, or anything is in
 * doubt. */
static void on_closing(int listener, pid_t root, const int *fds, int n, int first, int last)
{
    static struct candidate cand[MAX_AT_ONCE];
    static struct scan_target t[MAX_AT_ONCE];
    int pidfd = pidfd_of((pid_t)req->pid);
    if (pidfd < 0) {
        reply_continue(listener, req->id);
        return;
    }
    int k = pick(pidfd, fds, n, cand);
    close(pidfd);
    if (!k) {
        reply_continue(listener, req->id);
        return;
    }
    struct closing c = { (pid_t)req->pid, first, last };
    for (int i = 0; i < k; i++)
        t[i] = (struct scan_target){ .ino = cand[i].facts.ino };
    int in_doubt = procscan_mark_kept(root, &c, t, k) != 0;
    /* the copies were taken while the call waited: if it no longer does
     * (its thread was killed), the numbers may mean other files now */
    if (!still_waiting(listener, req->id)) {
        for (int i = 0; i < k; i++)
            close(cand[i].copy);
        return;
    }
    int lingering = 0;
    for (int i = 0; i < k; i++) {
        struct candidate *x = &cand[i];
        int kept = in_doubt ? KEPT_DOUBT : t[i].kept;
        if (sv_cfg.mode == MODE_OBSERVE) {
            if (!kept || kept == KEPT_EPOLL) {
                stat_add(ST_OBSERVED_LINGERS, 1);
                if (x->facts.unread > 0)
                    stat_add(ST_OBSERVED_RESETS, 1);
            }
            close(x->copy);
        } else if ((kept & KEPT_DOUBT) || kept == (KEPT_HELD | KEPT_EPOLL)
                   || (kept == KEPT_EPOLL && deregister_all(&t[i], x->copy) != 0)) {
            log_msg(LOG_DEBUG, "a close does not linger: an epoll set still has the socket");
            drain_forget(x->facts.ino);
            close(x->copy);
        } else if (kept & KEPT_HELD) {
            log_msg(LOG_DEBUG, "a close is deferred: another process still holds the socket");
            drain_defer(x->copy, x->facts.ino, x->facts.unread);
        } else {
            drain_forget(x->facts.ino);
            shutdown(x->copy, SHUT_WR);
            cand[lingering++] = *x;
        }
    }
    reply_continue(listener, req->id);
    for (int i = 0; i < lingering; i++)
        drain_add(cand[i].copy, cand[i].facts.unread);
}

static void answer(int listener, pid_t root);

/* The open fds of thread tid within [first, last], at most max, into fds;
 * how many. */
static int open_fds(pid_t tid, unsigned first, unsigned last, int *fds, int max)
{
    char path[48];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)tid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while (n < max && (e = readdir(d))) {
        char *end;
        unsigned long fd = strtoul(e->d_name, &end, 10);
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && !*end && fd >= first && fd <= last)
            fds[n++] = (int)fd;
    }
    closedir(d);
    return n;
}

/* close_range(first, last, flags) without CLOSE_RANGE_CLOEXEC (the filter
 * lets that through), and exit_group (every fd). */
static void on_closing_many(int listener, pid_t root, unsigned first, unsigned last)
{
    static int fds[MAX_AT_ONCE];
    int n = open_fds((pid_t)req->pid, first, last, fds, MAX_AT_ONCE);
    on_closing(listener, root, fds, n, (int)(first > INT_MAX ? INT_MAX : first),
               (int)(last > INT_MAX ? INT_MAX : last));
}

/* dup2/dup3(old, new, flags): closes new only when the call will succeed
 * and new differs from old. */
static void on_dup(int listener, pid_t root, int old, int new, int is_dup3, unsigned flags)
{
    if (old == new || new < 0 || (is_dup3 && (flags & ~(unsigned)O_CLOEXEC))) {
        reply_continue(listener, req->id);
        return;
    }
    int pidfd = pidfd_of((pid_t)req->pid);
    int copy = pidfd >= 0 ? copy_of(pidfd, old) : -1;
    if (pidfd >= 0)
        close(pidfd);
    if (copy < 0) { /* old is not open: the call fails with EBADF, new stays */
        reply_continue(listener, req->id);
        return;
    }
    close(copy);
    on_closing(listener, root, &new, 1, new, new);
}

/* shutdown(fd, SHUT_RD or SHUT_RDWR or a bad value): Linux resets a
 * connection whose read side is shut as soon as data arrives, so for a
 * socket whose close would linger the read side stays open, as the
 * library does: SHUT_RDWR becomes SHUT_WR, SHUT_RD does nothing; both
 * answer 0 as the kernel would. */
static void on_shutdown(int listener, int fd, int how)
{
    if ((how != SHUT_RD && how != SHUT_RDWR) || sv_cfg.mode == MODE_OBSERVE) {
        reply_continue(listener, req->id);
        return;
    }
    int pidfd = pidfd_of((pid_t)req->pid);
    int copy = pidfd >= 0 ? copy_of(pidfd, fd) : -1;
    if (pidfd >= 0)
        close(pidfd);
    struct sock_facts f;
    if (copy < 0 || !sock_should_linger(copy, &f) || !still_waiting(listener, req->id)) {
        if (copy >= 0)
            close(copy);
        reply_continue(listener, req->id);
        return;
    }
    int r = how == SHUT_RDWR ? shutdown(copy, SHUT_WR) : 0;
    close(copy);
    if (r == 0)
        reply_value(listener, req->id, 0);
    else
        reply_continue(listener, req->id);
}

void notify_recheck_deferred(pid_t root)
{
    static int fds[MAX_AT_ONCE];
    static uint64_t inos[MAX_AT_ONCE];
    static struct scan_target t[MAX_AT_ONCE];
    int n = drain_deferred(fds, inos, MAX_AT_ONCE);
    if (!n)
        return;
    for (int i = 0; i < n; i++)
        t[i] = (struct scan_target){ .ino = inos[i] };
    struct closing none = { 0, 1, 0 };
    if (procscan_mark_kept(root, &none, t, n) != 0)
        return; /* in doubt: ask again later; LINGER_TIME ends it */
    for (int i = 0; i < n; i++)
        if (t[i].kept != KEPT_HELD)
            drain_settle(fds[i], t[i].kept != 0);
}

int notify_handle_one(int listener, pid_t root, struct inflight *in)
{
    memset(req, 0, sizeof *req);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0)
        return -1; /* ENOENT: the caller died before we got it; EINTR */
    if (in) { /* the guardian answers it if the supervisor dies before it does */
        in->id = req->id;
        in->busy = 1;
    }
    answer(listener, root);
    if (in)
        in->busy = 0;
    return 0;
}

/* Answers the notification in req. */
static void answer(int listener, pid_t root)
{
    const unsigned long long *a = req->data.args;
    switch (req->data.nr) {
    case __NR_close:
        on_closing(listener, root, (const int[]){ (int)a[0] }, 1, (int)a[0], (int)a[0]);
        break;
#ifdef __NR_dup2
    case __NR_dup2:
        on_dup(listener, root, (int)a[0], (int)a[1], 0, 0);
        break;
#endif
    case __NR_dup3:
        on_dup(listener, root, (int)a[0], (int)a[1], 1, (unsigned)a[2]);
        break;
    case __NR_close_range:
        if ((unsigned)a[0] > (unsigned)a[1])
            reply_continue(listener, req->id); /* EINVAL */
        else
            on_closing_many(listener, root, (unsigned)a[0], (unsigned)a[1]);
        break;
    case __NR_exit_group:
        on_closing_many(listener, root, 0, UINT_MAX);
        break;
    case __NR_shutdown:
        on_shutdown(listener, (int)a[0], (int)a[1]);
        break;
    default:
        reply_continue(listener, req->id);
    }
}
