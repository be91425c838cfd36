/* drainer_loop.c - the drain loop: what the drainer thread and the drainer
 * processes run (see drainer.h). It owns the lingering sockets: it takes
 * the handovers, drains, closes, expires, rewrites the stats file and
 * waits. The app-facing side is drainer.c; what the two share,
 * drainer_shared.h. */
#include "drainer.h"
#include "drainer_shared.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "drainslots.h"
#include "fdtable.h"
#include "log.h"
#include "pages.h"
#include "real.h"
#include "stats.h"

#define EVENTS_PER_WAIT 256
#define RECV_CHUNK (1u << 20)      /* bytes discarded per recv at most */
#define RECVS_PER_EVENT 8          /* fairness: then back to epoll */

/* Shared with drainer.c (drainer_shared.h says what each is). */
_Atomic int32_t handover_head = HANDOVER_END;
_Atomic int waiting;
_Atomic unsigned release_requests;
_Atomic uint64_t released;
_Atomic int epoll_fd = -1, wake_fd = -1;
struct drain_slots ds = DRAIN_SLOTS_EMPTY;
void (*_Atomic watch_ready)(void);

/* Owned by the drainer thread only. */
static char scratch[64 * 1024] LINGER_LARGE_BUFFER; /* AF_UNIX has no MSG_TRUNC discard */
static uint64_t round_bytes;              /* drained since the last epoll_wait */

#define WATCH_TOKEN (UINT32_MAX - 1)

enum close_reason { CR_EOF, CR_IDLE, CR_TIME, CR_BYTES, CR_CAP, CR_ERROR, CR_FD_PRESSURE };
static const enum stat_id reason_stat[] = {
    [CR_EOF] = ST_CLOSED_EOF, [CR_IDLE] = ST_CLOSED_IDLE, [CR_TIME] = ST_CLOSED_TIME,
    [CR_BYTES] = ST_CLOSED_BYTES, [CR_CAP] = ST_CLOSED_CAP, [CR_ERROR] = ST_CLOSED_ERROR,
    [CR_FD_PRESSURE] = ST_CLOSED_FD_PRESSURE,
};

/* ---- closing ---- */

/* True while slot i's fd number still holds the socket the drainer owns
 * (the app can take a number back only through dup2/dup3 onto it). */
static int still_ours(const struct drain_slot *s)
{
    return fdt_kind(&fdt[s->fd]) == FK_LINGERING && fdt[s->fd].ino == s->ino;
}

/* Really closes a lingering socket and frees its slot. */
static void finish(int32_t i, enum close_reason why)
{
    struct drain_slot *s = &ds.slot[i];
    struct fd_entry *e = &fdt[s->fd];
    stat_add(reason_stat[why], 1);
    stat_sub(ST_LINGERING_NOW, 1);
    if (log_enabled(LOG_DEBUG))
        log_msg(LOG_DEBUG, "fd %d closed after lingering: %s, %llu bytes drained", s->fd,
                stat_name(reason_stat[why]), (unsigned long long)s->drained);
    uint8_t expect = FK_LINGERING;
    if (s->ino == e->ino && atomic_compare_exchange_strong(&e->kind, &expect, (uint8_t)FK_CLOSING)) {
        /* closing our number leaves the registration if another process
         * holds the socket too: it would fire for a reused slot */
        if (s->registered)
            real_epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
        real_close(s->fd);
        /* The number is free now. If a close path has already taken it for
         * a new lingering socket, that one reset the entry: leave it be. */
        expect = FK_CLOSING;
        atomic_compare_exchange_strong(&e->kind, &expect, (uint8_t)FK_UNKNOWN);
    }
    slots_put(&ds, i);
}

/* ---- draining ---- */

/* Discards what the peer sent; closes on EOF, error or byte cap. */
static void drain(int32_t i, uint32_t now)
{
    struct drain_slot *s = &ds.slot[i];
    uint64_t got = 0;
    enum close_reason why = CR_EOF;
    int done = 0;
    for (int round = 0; round < RECVS_PER_EVENT && !done; round++) {
        size_t want = RECV_CHUNK;
        if (cfg.max_bytes && cfg.max_bytes - s->drained < want)
            want = (size_t)(cfg.max_bytes - s->drained);
        ssize_t n = (s->flags & FE_UNIX)
            ? real_recv(s->fd, scratch, want < sizeof scratch ? want : sizeof scratch, MSG_DONTWAIT)
            : real_recv(s->fd, NULL, want, MSG_TRUNC | MSG_DONTWAIT);
        if (n > 0) {
            s->drained += (uint64_t)n;
            got += (uint64_t)n;
            if (cfg.max_bytes && s->drained >= cfg.max_bytes)
                done = 1, why = CR_BYTES;
        } else if (n == 0) {
            done = 1, why = CR_EOF;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else if (errno != EINTR) {
            done = 1, why = CR_ERROR;
        }
    }
    stat_add(ST_BYTES_DRAINED, got);
    if (got && s->drained == got && (s->flags & FE_COUNT_FIRST_BYTES))
        stat_add(ST_RESETS_AVOIDED, 1); /* unread at the close, or sent after it: a plain close resets */
    round_bytes += got;
    if (done) {
        finish(i, why);
    } else if (got) {
        slots_active(&ds, i, now);
    }
}

/* A free slot, evicting the oldest lingering socket when none is left. */
static int32_t take_slot(void)
{
    if (slots_full(&ds) && ds.oldest != SLOT_NIL)
        finish(ds.oldest, CR_CAP);
    return slots_take(&ds);
}

/* Starts draining one handed-over fd. */
static void take_one(int32_t fd, uint32_t now)
{
    struct fd_entry *e = &fdt[fd];
    if (fdt_kind(e) != FK_LINGERING)
        return; /* the app took the number back (dup2) before we got here */
    int32_t i = take_slot();
    if (i == SLOT_NIL) { /* cannot happen: capacity >= 1 */
        real_close(fd);
        stat_sub(ST_LINGERING_NOW, 1);
        stat_add(ST_CLOSED_CAP, 1);
        return;
    }
    struct drain_slot *s = &ds.slot[i];
    s->fd = fd;
    s->ino = e->ino;
    s->flags = e->flags & (FE_UNIX | FE_COUNT_FIRST_BYTES);
    s->drained = 0;
    s->registered = 0;
    slots_start(&ds, i, now);
    /* the peer has often closed by now: then the socket is done without
     * ever joining the epoll set */
    drain(i, now);
    if (s->fd != fd)
        return;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i };
    if (real_epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        finish(i, CR_ERROR);
        return;
    }
    s->registered = 1;
}

/* Takes every socket the close path handed over since the last call, in
 * the order they were handed over; how many there were. */
static unsigned take_handovers(uint32_t now)
{
    int32_t fd = atomic_exchange_explicit(&handover_head, HANDOVER_END, memory_order_acquire);
    unsigned taken = 0;
    int32_t fifo = HANDOVER_END;
    while (fd != HANDOVER_END) { /* the stack is newest first: reverse it */
        int32_t next = fdt[fd].u.handover_next;
        fdt[fd].u.handover_next = fifo;
        fifo = fd;
        fd = next;
    }
    while (fifo != HANDOVER_END) {
        fd = fifo;
        fifo = fdt[fd].u.handover_next;
        take_one(fd, now);
        taken++;
    }
    return taken;
}

/* Closes the oldest lingering sockets the app asked to have back; the
 * number closed. Each is counted in `released` once its number is free. */
static unsigned release_oldest(void)
{
    unsigned n = atomic_exchange_explicit(&release_requests, 0, memory_order_relaxed), done = 0;
    for (; n > 0 && ds.oldest != SLOT_NIL; n--, done++) {
        finish(ds.oldest, CR_FD_PRESSURE);
        atomic_fetch_add_explicit(&released, 1, memory_order_release);
    }
    return done;
}

/* Closes every socket past its idle or total deadline. */
static void expire(uint32_t now)
{
    while (ds.oldest != SLOT_NIL && now - ds.slot[ds.oldest].start_ms >= cfg.time_ms)
        finish(ds.oldest, CR_TIME);
    while (ds.idlest != SLOT_NIL && now - ds.slot[ds.idlest].last_ms >= cfg.timeout_ms)
        finish(ds.idlest, CR_IDLE);
}

/* Whether this drainer rewrites LINGER_STATS: 0 in the exit's drainer
 * process, whose counters are a copy of the exiting process's, which that
 * process writes to its own file (drainer_run_detached). */
static int rewrites_stats = 1;
#define KEEPS_STATS (cfg.stats_file != NULL && rewrites_stats)

/* Rewrites LINGER_STATS at most once a second, and only after a change. */
static void maybe_write_stats(uint32_t now)
{
    static uint32_t last_ms;
    static uint64_t last_print;
    if (!KEEPS_STATS || now - last_ms < 1000)
        return;
    uint64_t print = stats_fingerprint();
    if (print == last_print)
        return;
    last_ms = now;
    last_print = print;
    /* not getpid(): a drainer process is made by a bare clone (detach.c),
     * which an old glibc's cached pid does not see */
    stats_update_file(cfg.stats_file, (int)raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0));
}

/* Between rounds the drainer either blocks (idle: a handover must wake it
 * with an eventfd write) or polls (busy: it pauses, then looks, and nobody
 * wakes it). A wake-up is the costly part of a handover for the closing
 * thread: the eventfd write that wakes a blocked thread took 5.8 us at the
 * median and 36 us at p99 here, against 1.2 and 3.9 us when no thread
 * waits - and each is paid inside the app's close(). So after any round
 * with events or handovers the drainer polls: it pauses, then takes what
 * came meanwhile in one round (a busy server's closes then cost the drainer
 * one wake-up a pause, not one each, and its app none). The pause is
 * TICK_FIRST_MS after a full round (ROUND_FULL events and handovers or
 * more); a round with less doubles it, up to TICK_TRICKLE_MS: a trickle of
 * closes (a fork-per-connection server's children, a few hundred a second)
 * then costs the drainer a wake-up every few closes, not one each - a
 * wake-up cost it 30-40 us of CPU on this VM - while a busy server's
 * sockets (rounds of ROUND_FULL or more) wait a millisecond, a few dozen at
 * a time. Each round that finds nothing doubles the pause, up to
 * TICK_LAST_MS; after that one the drainer blocks again. A socket waits at
 * most a pause to be taken - its bytes wait in its receive queue meanwhile,
 * and it is shut down already - and drainer_release's 50 ms cover the
 * longest pause. */
#define TICK_FIRST_MS 1
#define TICK_TRICKLE_MS 8
#define TICK_LAST_MS 32
#define ROUND_FULL 8
static unsigned tick_ms; /* the next pause; 0: idle, block */

/* After a round of `work` events and handovers: the first pause after a
 * full round or a wake from idle, a longer one after a trickle, a longer
 * one still after nothing, or idle. */
static void after_round(unsigned work)
{
    if (work && (work >= ROUND_FULL || tick_ms == 0))
        tick_ms = TICK_FIRST_MS;
    else if (work)
        tick_ms = tick_ms * 2 < TICK_TRICKLE_MS ? tick_ms * 2 : TICK_TRICKLE_MS;
    else if (tick_ms)
        tick_ms = tick_ms >= TICK_LAST_MS ? 0 : tick_ms * 2;
}

/* epoll_wait, blocking (idle): the close path wakes us, a handover made
 * while we do not block is taken before the next wait. */
static int wait_blocking(struct epoll_event *events, int timeout)
{
    atomic_store(&waiting, 1);
    if (atomic_load(&handover_head) != HANDOVER_END)
        timeout = 0;
    int n = epoll_wait(epoll_fd, events, EVENTS_PER_WAIT, timeout);
    atomic_store(&waiting, 0);
    return n;
}

/* The wait before the next round; timeout: the next deadline (ms, -1 none).
 * Busy after a round that drained bytes: a peer still sending would stall
 * on its window during a pause, so its bytes wake us (handovers do not). */
static int wait_round(struct epoll_event *events, int timeout)
{
    if (tick_ms == 0)
        return wait_blocking(events, timeout);
    unsigned ms = timeout >= 0 && (unsigned)timeout < tick_ms ? (unsigned)timeout : tick_ms;
    if (round_bytes > 0)
        return epoll_wait(epoll_fd, events, EVENTS_PER_WAIT, (int)ms);
    struct timespec pause = { 0, (long)ms * 1000000L };
    nanosleep(&pause, NULL);
    return epoll_wait(epoll_fd, events, EVENTS_PER_WAIT, 0);
}

/* Waits for events and deadlines; returns when nothing is held and no fd
 * is watched, if until_empty (a drainer process), else never (the thread).
 *
 * The drainer runs as SCHED_BATCH (its nice value stays the app's): its
 * wake-ups - a handover's eventfd write, a child's socket on the channel,
 * a peer's bytes - then never preempt the thread that woke it. The app's
 * close() returns before the drainer takes the socket, and the drainer
 * runs on a free CPU or at the next tick. As SCHED_OTHER it preempted the
 * closing thread on a busy CPU, and the close's tail was the drainer's
 * round (make bench, figure 5). */
static void drain_loop(int until_empty)
{
    /* this thread: 0, not pthread_self(), whose tid is stale in a process
     * made by a bare clone (detach.c) - it names the thread that cloned */
    struct sched_param none = { 0 };
    (void)raw_syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, (long)&none, 0, 0, 0);
    struct epoll_event events[EVENTS_PER_WAIT];
    while (!until_empty || ds.oldest != SLOT_NIL || atomic_load(&watch_ready)) {
        int n = wait_round(events, slots_next_timeout(&ds, (uint32_t)clock_ms(), cfg.time_ms, cfg.timeout_ms,
                                                      KEEPS_STATS));
        uint32_t now = (uint32_t)clock_ms();
        round_bytes = 0;
        for (int k = 0; k < n; k++) {
            uint32_t token = events[k].data.u32;
            if (token == WAKE_TOKEN) {
                uint64_t v;
                (void)!real_read(wake_fd, &v, sizeof v);
            } else if (token == WATCH_TOKEN) {
                void (*ready)(void) = atomic_load(&watch_ready);
                if (ready)
                    ready(); /* its sockets join the handover stack, taken below */
            } else if (ds.slot[token].fd != SLOT_NIL) {
                if (still_ours(&ds.slot[token])) drain((int32_t)token, now);
                else finish((int32_t)token, CR_ERROR);
            }
        }
        unsigned took = take_handovers(now); /* after the events: their sockets free slots */
        /* after the handovers: a socket still on the stack counts as
         * lingering, and the app waits for one to go */
        unsigned gave_back = release_oldest();
        expire(now);
        /* the numbers just given back are the app's: the stats file's
         * fd would take one before the app's retry (a later round writes) */
        if (!gave_back)
            maybe_write_stats(now);
        after_round((unsigned)(n > 0 ? n : 0) + took);
    }
}

/* The drainer thread's body (drainer_shared.h). */
void *drainer_thread_main(void *arg)
{
    (void)arg;
    drain_loop(0);
    return NULL;
}

void drainer_run_detached(int writes_stats)
{
    rewrites_stats = writes_stats;
    int ep = real_epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || slots_init(&ds, (int32_t)cfg.max_sockets) != 0)
        return;
    epoll_fd = ep;
    wake_fd = -1;
    /* the loop below takes every lingering fd, those the drainer thread had
     * not taken from the handover stack yet included: taken from the stack
     * again, one would fail its EPOLL_CTL_ADD (EEXIST) and be closed */
    atomic_store(&handover_head, HANDOVER_END);
    /* the gauge counts what this process drains (a fork child's copies,
     * kept when its channel failed, were never in the one it inherited) */
    atomic_store_explicit(&stats[ST_LINGERING_NOW], 0, memory_order_relaxed);
    uint32_t now = (uint32_t)clock_ms();
    for (int fd = fdt_next(-1); fd >= 0; fd = fdt_next(fd)) {
        if (fdt_kind(&fdt[fd]) == FK_LINGERING) {
            stat_add(ST_LINGERING_NOW, 1);
            take_one((int32_t)fd, now);
        }
    }
    drain_loop(1);
}

void drainer_run_watching(int fd, void (*ready)(void))
{
    int ep = real_epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || slots_init(&ds, (int32_t)cfg.max_sockets) != 0)
        return;
    epoll_fd = ep;
    wake_fd = -1;
    atomic_store(&handover_head, HANDOVER_END);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = WATCH_TOKEN };
    if (real_epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return;
    atomic_store(&watch_ready, ready);
    drain_loop(1);
}

void drainer_unwatch(int fd)
{
    real_epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    atomic_store(&watch_ready, NULL);
}
