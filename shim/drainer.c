/* drainer.c - the drainer's app-facing side (see drainer.h): handing a
 * socket over, asking for sockets back, starting the thread, the fork
 * handlers. The loop the thread runs is drainer_loop.c; what the two
 * share, drainer_shared.h. */
#include "drainer.h"
#include "drainer_shared.h"

#include <errno.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "drainslots.h"
#include "fdtable.h"
#include "log.h"
#include "owner.h"
#include "ownfd.h"
#include "pages.h"
#include "real.h"
#include "stats.h"

static _Atomic int running;       /* the thread is up and takes sockets */
/* The start lock: on the page a fork child starts zeroed (owner.h), so
 * that locking it around each fork copies no page. */
static pthread_mutex_t *start_lock(void)
{
    return &fork_fresh->drainer_start;
}
static _Atomic int start_failed;  /* set once; a fork child clears it */
/* pthread_self() of the thread holding start_lock, 0 when none: a signal
 * handler that interrupts it must not wait for it */
static _Atomic unsigned long start_owner;

_Atomic int drainer_start_wanted;

LINGER_WARM int drainer_accepting(void)
{
    return atomic_load_explicit(&running, memory_order_acquire);
}

int drainer_will_take(void)
{
    return drainer_accepting()
           || (!atomic_load_explicit(&start_failed, memory_order_relaxed) && stat_get(ST_LINGERING_NOW) < cfg.max_sockets);
}

void drainer_adopt(int fd)
{
    stat_add(ST_LINGERING_NOW, 1);
    int32_t head = atomic_load_explicit(&handover_head, memory_order_relaxed);
    do {
        fdt[fd].u.handover_next = head;
    } while (!atomic_compare_exchange_weak(&handover_head, &head, fd));
    /* The drainer takes the stack before it waits (it sets `waiting` first,
     * then looks: one of the two sides sees the other). A non-empty stack
     * has its wake-up on the way already. */
    if (head == HANDOVER_END && atomic_load(&waiting)) {
        uint64_t one = 1;
        (void)!real_write(wake_fd, &one, sizeof one);
    }
}

void drainer_defer(int fd)
{
    drainer_adopt(fd);
    if (!drainer_accepting()) /* a thread that started meanwhile has it, or will at its next round */
        atomic_store_explicit(&drainer_start_wanted, 1, memory_order_relaxed);
}

/* After the thread failed to start: really closes the sockets deferred to
 * it (they are shut down for writing already), as plain closes. */
static void close_deferred(void)
{
    int32_t fd = atomic_exchange_explicit(&handover_head, HANDOVER_END, memory_order_acquire);
    while (fd != HANDOVER_END) {
        int32_t next = fdt[fd].u.handover_next;
        uint8_t expect = FK_LINGERING; /* unless the app took the number back (dup2 onto it) */
        if (atomic_compare_exchange_strong(&fdt[fd].kind, &expect, (uint8_t)FK_CLOSING)) {
            real_close(fd);
            expect = FK_CLOSING;
            atomic_compare_exchange_strong(&fdt[fd].kind, &expect, (uint8_t)FK_UNKNOWN);
        }
        stat_sub(ST_LINGERING_NOW, 1);
        fd = next;
    }
}

void drainer_start_deferred(void)
{
    atomic_store_explicit(&drainer_start_wanted, 0, memory_order_relaxed);
    int saved = errno;
    if (drainer_ensure_started() != 0)
        close_deferred();
    errno = saved;
}

/* Closes one of the drainer's own fds. */
static void close_shim_fd(_Atomic int *slot)
{
    int fd = atomic_load(slot);
    if (fd < 0)
        return;
    ownfd_release(slot);
    real_close(fd);
    atomic_store(slot, -1);
}

int drainer_release(unsigned n, unsigned need, unsigned wait_ms)
{
    if (!drainer_accepting() || stat_get(ST_LINGERING_NOW) == 0)
        return 0;
    uint64_t before = atomic_load_explicit(&released, memory_order_acquire);
    atomic_fetch_add_explicit(&release_requests, n, memory_order_relaxed);
    uint64_t one = 1;
    (void)!real_write(wake_fd, &one, sizeof one);
    /* waits for the closes themselves (the lingering gauge drops before
     * the close): the app's retry must find the numbers free */
    uint64_t deadline = clock_ms() + wait_ms;
    struct timespec nap = { 0, 50000 };
    while (atomic_load_explicit(&released, memory_order_acquire) - before < need && clock_ms() < deadline)
        nanosleep(&nap, NULL);
    return atomic_load_explicit(&released, memory_order_acquire) != before;
}

/* Creates the epoll set, the wake-up eventfd and the thread (signals
 * blocked). Returns 0 or an errno value. */
static int start_thread(void)
{
    int ep = real_epoll_create1(EPOLL_CLOEXEC);
    int wk = real_eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ep < 0 || wk < 0) {
        int err = errno;
        if (ep >= 0) real_close(ep);
        if (wk >= 0) real_close(wk);
        return err;
    }
    if (!ds.slot && slots_init(&ds, (int32_t)cfg.max_sockets) != 0) {
        real_close(ep);
        real_close(wk);
        return ENOMEM;
    }
    epoll_fd = ep;
    wake_fd = wk;
    ownfd_protect(&epoll_fd);
    ownfd_protect(&wake_fd);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = WAKE_TOKEN };
    pthread_attr_t attr;
    pthread_t tid;
    sigset_t all, old;
    int rc = EINVAL;
    if (real_epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) == 0 && pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(&tid, &attr, drainer_thread_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (rc == 0)
            pthread_setname_np(tid, "linger-drainer");
    }
    if (rc != 0) {
        close_shim_fd(&epoll_fd);
        close_shim_fd(&wake_fd);
        return rc;
    }
    return 0;
}

int drainer_ensure_started(void)
{
    if (atomic_load_explicit(&running, memory_order_acquire))
        return 0;
    if (atomic_load_explicit(&start_failed, memory_order_relaxed))
        return -1;
    unsigned long self = (unsigned long)pthread_self();
    if (atomic_load(&start_owner) == self)
        return -1; /* a signal handler on the thread starting it: locking would deadlock */
    int saved = errno;
    pthread_mutex_lock(start_lock());
    atomic_store(&start_owner, self);
    if (!atomic_load_explicit(&running, memory_order_relaxed) && !start_failed) {
        int err = start_thread();
        if (err == 0) {
            atomic_store_explicit(&running, 1, memory_order_release);
            log_msg(LOG_DEBUG, "drainer thread started");
        } else {
            start_failed = 1;
            log_msg(LOG_WARN, "cannot start the drainer thread (%s); closes stay plain closes", strerror(err));
        }
    }
    atomic_store(&start_owner, 0);
    pthread_mutex_unlock(start_lock());
    errno = saved;
    return atomic_load_explicit(&running, memory_order_relaxed) ? 0 : -1;
}

/* ---- fork ---- */

/* A fork from a signal handler that interrupted this thread's start of the
 * drainer: the lock is this thread's already, and must stay so. */
static _Atomic unsigned long fork_inside_start;

void drainer_before_fork(void)
{
    unsigned long self = (unsigned long)pthread_self();
    if (atomic_load(&start_owner) == self) {
        atomic_store(&fork_inside_start, self);
        return;
    }
    pthread_mutex_lock(start_lock());
}

void drainer_after_fork_parent(void)
{
    if (atomic_load(&fork_inside_start) == (unsigned long)pthread_self()) {
        atomic_store(&fork_inside_start, 0);
        return;
    }
    pthread_mutex_unlock(start_lock());
}

LINGER_HOT void drainer_after_fork_child(void)
{
    for (int fd = fdt_next_own(-1); fd >= 0; fd = fdt_next_own(fd)) {
        enum fd_kind k = fdt_kind(&fdt[fd]);
        if (k == FK_LINGERING || k == FK_CLOSING) {
            real_close(fd);
            fdt_set_kind(&fdt[fd], FK_UNKNOWN);
        }
    }
    close_shim_fd(&epoll_fd);
    close_shim_fd(&wake_fd);
    fdt_new_generation();
    atomic_store(&handover_head, HANDOVER_END);
    atomic_store(&running, 0);
    if (atomic_load(&watch_ready)) /* stored only if it must be: a page the child writes is copied */
        atomic_store(&watch_ready, NULL);
    stats_begin_fork_child();
    slots_drop(&ds); /* rebuilt by the child's own drainer, if it ever needs one */
    start_failed = 0;
    if (atomic_load(&drainer_start_wanted)) /* the parent's deferred sockets were closed above */
        atomic_store(&drainer_start_wanted, 0);
    atomic_store(&start_owner, 0);
    if (atomic_load(&fork_inside_start))
        atomic_store(&fork_inside_start, 0);
    /* zeroed already on the wiped page (an unlocked default mutex is all
     * zeros in glibc and musl): made anew only elsewhere, or for TSAN, which
     * tracks the lock by address and must see it made anew (the parent holds
     * it). The call would be a libc page the child maps in (forkmap.h). */
#if !defined(__SANITIZE_THREAD__)
    if (!owner_fresh_wiped())
#endif
        pthread_mutex_init(start_lock(), NULL);
}
