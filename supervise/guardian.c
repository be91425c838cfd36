/* guardian.c - the supervisor's stand-in (see guardian.h). */
#include "guardian.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct inflight *guardian_shared(void)
{
    void *p = mmap(NULL, sizeof(struct inflight), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Lets notification id go on as made. */
static void let_go(int listener, uint64_t id, void *resp, size_t size)
{
    memset(resp, 0, size);
    struct seccomp_notif_resp *r = resp;
    r->id = id;
    r->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, r);
}

/* The guardian: fd 0 the listener, fd 1 the supervisor's pidfd. Waits for
 * the supervisor's death, then answers CONTINUE until the program is gone. */
static void __attribute__((noreturn)) guard(struct inflight *in)
{
    struct seccomp_notif_sizes sizes;
    if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
        _exit(1);
    size_t rq = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
    size_t rs = sizes.seccomp_notif_resp > sizeof(struct seccomp_notif_resp) ? sizes.seccomp_notif_resp
                                                                            : sizeof(struct seccomp_notif_resp);
    struct seccomp_notif *req = calloc(1, rq);
    void *resp = calloc(1, rs);
    if (!req || !resp)
        _exit(1);
    struct pollfd sup = { .fd = 1, .events = POLLIN };
    while (poll(&sup, 1, -1) < 0 && errno == EINTR)
        ;
    /* the supervisor is gone: the call it was answering goes on first */
    if (in->busy)
        let_go(0, in->id, resp, rs);
    for (;;) {
        struct pollfd l = { .fd = 0, .events = POLLIN };
        if (poll(&l, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (l.revents & POLLIN) {
            memset(req, 0, rq);
            if (ioctl(0, SECCOMP_IOCTL_NOTIF_RECV, req) == 0)
                let_go(0, req->id, resp, rs);
        } else if (l.revents & (POLLHUP | POLLERR | POLLNVAL)) {
            _exit(0); /* the program and all its processes have exited */
        }
    }
}

int guardian_start(int listener, struct inflight *in)
{
    int self = (int)syscall(__NR_pidfd_open, getpid(), 0);
    if (self < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* hold nothing but the listener and the supervisor's pidfd: no
         * lingering socket, no log, no pipe of the program's */
        if (dup2(listener, 0) < 0 || dup2(self, 1) < 0)
            _exit(1);
        syscall(__NR_close_range, 2, ~0U, 0);
        guard(in);
    }
    close(self);
    if (pid < 0)
        return -1;
    int pidfd = (int)syscall(__NR_pidfd_open, pid, 0);
    return pidfd;
}

void guardian_reap(int pidfd)
{
    siginfo_t si;
    waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
    close(pidfd);
}
