/* forkchan.c - fork children hand lingering sockets to one drainer
 * process (see forkchan.h). */
#include "forkchan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "forkmap.h"
#include "config.h"
#include "drainer.h"
#include "fdtable.h"
#include "detach.h"
#include "holders.h"
#include "log.h"
#include "ownfd.h"
#include "real.h"
#include "stats.h"
#include "pages.h"

/* One socket handed over: sent with the socket itself (SCM_RIGHTS), one
 * sendmsg each, so records never interleave on the stream. */
struct record {
    uint64_t ino;      /* the socket's inode (fd_entry.ino) */
    uint16_t flags;    /* FE_* of the child's entry */
    uint8_t origin;    /* enum fd_origin */
    uint8_t pending;   /* request bytes were unread at the close */
    uint32_t magic;
};
#define RECORD_MAGIC 0x6c6e6772u /* "lngr" */
#define RECORDS_PER_ROUND 64      /* fairness: then back to epoll (level-triggered) */

/* The channel this process made (only in the process, until it forks
 * the drainer process: mine_recv is that process's end). -1: none. */
static _Atomic int mine_recv = -1, mine_send = -1;
static _Atomic int made;        /* tried once in this process (made, or failed for good) */

/* The channel a fork child inherited, to its drainer process; up_ok while
 * it is the way this process's lingering sockets go. */
static _Atomic int up_send = -1;
static _Atomic int up_ok;

/* Closes one of the channel's fds (forgotten as the shim's first). */
static void close_chan_fd(_Atomic int *slot)
{
    if (atomic_load(slot) < 0)
        return;
    ownfd_release(slot);
    int fd = atomic_exchange(slot, -1);
    real_close(fd);
}

/* ---- the drainer process ---- */

/* The first fd of a received message's SCM_RIGHTS (others closed), or -1. */
static int received_fd(struct msghdr *m)
{
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < n; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            if (fd < 0)
                fd = got;
            else
                real_close(got);
        }
    }
    return fd;
}

/* A child's socket, received as fd: handed to the drainer, counted here. */
static void take_received(int fd, const struct record *r)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e) {
        real_close(fd);
        stat_add(ST_FALLBACK_CLOSES, 1);
        return;
    }
    fdt_adopt_socket(fd, (enum fd_origin)r->origin);
    e->flags = (uint16_t)((r->flags & (FE_UNIX | FE_APP_SHUT_RD)) | (r->pending ? 0 : FE_COUNT_FIRST_BYTES));
    e->ino = r->ino;
    fdt_set_kind(e, FK_LINGERING);
    stat_add(ST_LINGERED, 1);
    if (r->pending)
        stat_add(ST_RESETS_AVOIDED, 1);
    drainer_adopt(fd);
}

/* In the drainer process, the channel readable: takes up to a round's
 * records; at its end (no sender left), stops watching it. */
static void on_channel_ready(void)
{
    int r = atomic_load(&mine_recv);
    for (int i = 0; i < RECORDS_PER_ROUND; i++) {
        struct record rec;
        union {
            char buf[CMSG_SPACE(4 * sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = { .iov_base = &rec, .iov_len = sizeof rec };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
        ssize_t n = real_recvmsg(r, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        int fd = n > 0 ? received_fd(&m) : -1;
        if (n == (ssize_t)sizeof rec && rec.magic == RECORD_MAGIC && fd >= 0) {
            take_received(fd, &rec);
        } else if (n > 0) {
            /* no fd came with it (MSG_CTRUNC: no number was free, and the
             * kernel closed the socket): it could not linger */
            if (fd >= 0)
                real_close(fd);
            stat_add(ST_FALLBACK_CLOSES, 1);
        } else {
            drainer_unwatch(r); /* EOF: every sending end is closed */
            return;
        }
    }
}

static void close_unless_channel(int fd, void *unused)
{
    (void)unused;
    if (fd != atomic_load(&mine_recv))
        raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
}

/* The drainer process's whole life: only the channel's receiving end open,
 * a table and counters of its own, drain until no sender is left and
 * nothing lingers, exit without running the app's exit code. */
__attribute__((noreturn)) static void become_channel_drainer(void)
{
    unsigned r = (unsigned)atomic_load(&mine_recv);
    if ((r > 0 && raw_syscall(SYS_close_range, 0, r - 1, 0, 0, 0, 0) != 0)
        || raw_syscall(SYS_close_range, r + 1, ~0u, 0, 0, 0, 0) != 0)
        holders_each_fd_from(0, close_unless_channel, NULL); /* no close_range (before Linux 5.9) */
    for (int fd = fdt_next(-1); fd >= 0; fd = fdt_next(fd)) /* the parent's: closed here */
        if (fd != (int)r)
            fdt_forget(fd);
    stats_begin_fork_child();
    drainer_run_watching((int)r, on_channel_ready);
    if (cfg.stats_file)
        stats_write_final_file(cfg.stats_file, (int)raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0));
    raw_syscall(SYS_exit_group, 0, 0, 0, 0, 0, 0);
    for (;;)
        ;
}

/* ---- the forking process ---- */

/* True when this process holds a socket linger tracks. */
static int holds_tracked_socket(void)
{
    unsigned high = atomic_load_explicit(&fdt_high, memory_order_relaxed);
    for (unsigned fd = 0; fd < high; fd++) {
        enum fd_kind k = fdt_kind(&fdt[fd]);
        if (k == FK_TRACKED || k == FK_ALIAS)
            return 1;
    }
    return 0;
}

/* Makes the channel and starts its drainer process; keeps the sending
 * end. 0, or -1 (nothing is left of either). */
static int make_channel(void)
{
    int sv[2];
    if (raw_syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, (long)sv, 0, 0) != 0)
        return -1;
    /* the default send buffer holds about 270 records in flight (a burst
     * beyond that while the drainer process is not scheduled falls back) */
    atomic_store(&mine_recv, sv[0]);
    atomic_store(&mine_send, sv[1]);
    ownfd_protect(&mine_recv);
    ownfd_protect_inherited(&mine_send); /* low: every fork copies the fd table up to it */
    int started = detach_spawn();
    if (started == 0)
        become_channel_drainer();
    close_chan_fd(&mine_recv); /* the drainer process's, not ours */
    if (started < 0) {
        close_chan_fd(&mine_send);
        return -1;
    }
    /* a fork-per-connection server: its children start with the shim's
     * read-only pages from now on */
    int mapped = forkmap_init();
    log_msg(LOG_DEBUG, "fork children start with %d of the shim's read-only segments mapped", mapped);
    return 0;
}

void forkchan_before_fork(void)
{
#if defined(__SANITIZE_THREAD__)
    /* The fork hook runs inside TSAN's fork interceptor (TSAN comes first
     * in LD_PRELOAD), which holds its own locks across the call: the
     * libc fork that starts a drainer process under TSAN (detach.c) would
     * enter that interceptor again and deadlock. Children linger on their
     * own in a TSAN build. */
    return;
#endif
    if (!fdt || atomic_load_explicit(&made, memory_order_relaxed) || forkchan_inherited() || detach_forking
        || (cfg.mode != MODE_ON && cfg.mode != MODE_ALWAYS) || !holds_tracked_socket()
        || atomic_exchange(&made, 1))
        return;
    int saved = errno;
    if (make_channel() != 0)
        log_msg(LOG_WARN, "cannot start a drainer process for fork children (%s); each child lingers on its own",
                strerror(errno));
    else
        log_msg(LOG_DEBUG, "fork children hand their lingering sockets to a drainer process");
    restore_errno(saved);
}

void forkchan_on_accept(void)
{
    if (atomic_load_explicit(&up_ok, memory_order_relaxed))
        atomic_store(&up_ok, 0); /* the fd stays open: another thread may be sending on it */
}

/* ---- the child's side ---- */

LINGER_HOT int forkchan_inherited(void)
{
    return atomic_load_explicit(&up_ok, memory_order_relaxed);
}

LINGER_WARM int forkchan_parent_draining(void)
{
    if (!forkchan_inherited())
        return 0;
    int saved = errno;
    struct pollfd p = { .fd = atomic_load(&up_send), .events = POLLOUT };
    int r, tries = 0;
    while ((r = raw_poll_now(&p, 1)) < 0 && errno == EINTR && ++tries < 64)
        ;
    restore_errno(saved);
    if (r < 0 || (p.revents & (POLLHUP | POLLERR | POLLNVAL))) {
        atomic_store(&up_ok, 0); /* the drainer process is gone: on our own from here */
        return 0;
    }
    return 1;
}

/* True for a send's errno that says the channel is full for now, not gone. */
static int transient(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == ENOMEM || err == ETOOMANYREFS;
}

LINGER_HOT int forkchan_send(int fd, unsigned flags, unsigned origin, uint64_t ino, int pending)
{
    int s = atomic_load(&up_send);
    if (s < 0 || !forkchan_inherited())
        return -1;
    int saved = errno;
    struct record rec = { .ino = ino, .flags = (uint16_t)flags, .origin = (uint8_t)origin,
                          .pending = pending != 0, .magic = RECORD_MAGIC };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = { .iov_base = &rec, .iov_len = sizeof rec };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t n;
    int tries = 0;
    /* a raw system call: libc's sendmsg lies on a page of libc's code the
     * child would map in for it alone (forkmap.h) */
    while ((n = raw_syscall(SYS_sendmsg, s, (long)&m, MSG_DONTWAIT | MSG_NOSIGNAL, 0, 0, 0)) < 0 && errno == EINTR
           && ++tries < 64)
        ;
    int sent = n == (ssize_t)sizeof rec;
    if (!sent && !(n < 0 && transient(errno)))
        atomic_store(&up_ok, 0); /* EPIPE: the drainer process is gone */
    restore_errno(saved);
    return sent ? 0 : -1;
}

/* ---- fork ---- */

LINGER_HOT void forkchan_after_fork_child(void)
{
    close_chan_fd(&mine_recv); /* only while another thread was making it */
    if (atomic_load(&mine_send) >= 0) {
        close_chan_fd(&up_send); /* an older way up, given up when this process accepted */
        ownfd_rename(&mine_send, &up_send);
        atomic_store(&up_ok, 1);
    }
    atomic_store(&made, 0);
}

LINGER_HOT int forkchan_drainer_starts_early(void)
{
    return cfg.mode == MODE_ALWAYS || cfg.stats_file;
}

/* Starts this process's drainer thread when the mode may need it. */
static void start_drainer(void)
{
    if (cfg.mode == MODE_ON || cfg.mode == MODE_ALWAYS || cfg.stats_file)
        drainer_ensure_started();
}

LINGER_HOT void forkchan_want_drainer(void)
{
    if (!forkchan_inherited())
        start_drainer();
}

LINGER_WARM void forkchan_want_drainer_to_write(void)
{
    if (!forkchan_parent_draining())
        start_drainer();
}
