/* drain.c - the lingering sockets (see drain.h). */
#include "drain.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "fdspace.h"
#include "log.h"
#include "stats.h"

#define READ_PER_EVENT (256 * 1024) /* bytes drained per event, so one peer cannot starve the rest */

enum slot_state { FREE, LINGERING, DEFERRED };

struct lingerer {
    int on;             /* an enum slot_state */
    uint64_t ino;       /* DEFERRED: the socket */
    int unread;         /* DEFERRED: bytes unread at the close */
    uint64_t start_ms;  /* when the close lingered (or was deferred) */
    uint64_t last_ms;   /* when bytes last came */
    uint64_t bytes;     /* bytes drained */
    int reset_counted;  /* counted in resets_avoided */
};

/* Slot i is fd slot_base + i: the drain's fds live in the supervisor's
 * high range (fdspace.h), allocated lowest first, so high_water (every
 * slot in use is below it) stays near the number in use. */
static struct lingerer *slots;
static int slot_base, slot_count, epoll_fd, lingering, deferred, high_water;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* fd's slot, or NULL when fd is outside the drain's range. */
static struct lingerer *slot_of(int fd)
{
    int i = fd - slot_base;
    return i >= 0 && i < slot_count ? &slots[i] : NULL;
}

/* Takes slot s (of fd) into use. */
static void take(int fd, struct lingerer value)
{
    int i = fd - slot_base;
    if (i + 1 > high_water)
        high_water = i + 1;
    slots[i] = value;
}

int drain_init(int epfd, int limit)
{
    slot_base = fdspace_base();
    slot_count = limit - slot_base;
    slots = calloc((size_t)slot_count, sizeof *slots);
    if (!slots)
        return -1;
    epoll_fd = epfd;
    return 0;
}

int drain_owns(int fd)
{
    struct lingerer *l = slot_of(fd);
    return l && l->on == LINGERING;
}

int drain_count(void)
{
    return lingering;
}

int drain_deferred_count(void)
{
    return deferred;
}

/* Ends fd's lingering: closes it, counted under why. */
static void finish(int fd, enum stat_id why)
{
    struct lingerer *l = slot_of(fd);
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    l->on = FREE;
    lingering--;
    stat_sub(ST_LINGERING_NOW, 1);
    stat_add(why, 1);
    log_msg(LOG_DEBUG, "lingering socket closed (%s) after %llu bytes", stat_name(why),
            (unsigned long long)l->bytes);
}

/* The fd of the lingering socket that started first, or -1. */
static int oldest(void)
{
    int best = -1;
    for (int i = 0; i < high_water; i++)
        if (slots[i].on == LINGERING && (best < 0 || slots[i].start_ms < slots[best].start_ms))
            best = i;
    return best < 0 ? -1 : best + slot_base;
}

void drain_add(int fd, int unread)
{
    fd = fdspace_high(fd);
    if (!slot_of(fd)) {
        close(fd);
        stat_add(ST_FALLBACK_CLOSES, 1);
        return;
    }
    while ((uint64_t)lingering >= sv_cfg.max_sockets) {
        int old = oldest();
        if (old < 0)
            break;
        finish(old, ST_CLOSED_CAP);
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        stat_add(ST_FALLBACK_CLOSES, 1);
        return;
    }
    uint64_t now = now_ms();
    take(fd, (struct lingerer){ .on = LINGERING, .start_ms = now, .last_ms = now, .reset_counted = unread > 0 });
    lingering++;
    stat_add(ST_LINGERED, 1);
    stat_add(ST_LINGERING_NOW, 1);
    if (unread > 0)
        stat_add(ST_RESETS_AVOIDED, 1);
    log_msg(LOG_DEBUG, "lingering a socket (%d bytes unread at the close)", unread);
}

void drain_on_ready(int fd)
{
    if (!drain_owns(fd))
        return;
    struct lingerer *l = slot_of(fd);
    size_t got = 0;
    while (got < READ_PER_EVENT) {
        ssize_t n = recv(fd, NULL, 65536, MSG_TRUNC | MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            l->bytes += (uint64_t)n;
            stat_add(ST_BYTES_DRAINED, (uint64_t)n);
            if (!l->reset_counted) {
                l->reset_counted = 1;
                stat_add(ST_RESETS_AVOIDED, 1);
            }
            if (sv_cfg.max_bytes && l->bytes >= sv_cfg.max_bytes) {
                finish(fd, ST_CLOSED_BYTES);
                return;
            }
            continue;
        }
        if (n == 0) {
            finish(fd, ST_CLOSED_EOF);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            finish(fd, ST_CLOSED_ERROR);
            return;
        }
        break;
    }
    if (got)
        l->last_ms = now_ms();
}

int drain_expire(void)
{
    if (!lingering && !deferred)
        return -1;
    uint64_t now = now_ms(), next = UINT64_MAX;
    for (int i = 0; i < high_water; i++) {
        struct lingerer *l = &slots[i];
        int fd = i + slot_base;
        if (l->on == DEFERRED && now >= l->start_ms + sv_cfg.time_ms) {
            close(fd); /* still held elsewhere at LINGER_TIME: a plain close */
            l->on = FREE;
            deferred--;
            continue;
        }
        if (l->on != LINGERING)
            continue;
        uint64_t idle_end = l->last_ms + sv_cfg.timeout_ms;
        uint64_t time_end = l->start_ms + sv_cfg.time_ms;
        if (now >= time_end) {
            finish(fd, ST_CLOSED_TIME);
            continue;
        }
        if (now >= idle_end) {
            finish(fd, ST_CLOSED_IDLE);
            continue;
        }
        uint64_t end = idle_end < time_end ? idle_end : time_end;
        if (end < next)
            next = end;
    }
    if (next == UINT64_MAX)
        return -1;
    return next - now > 60000 ? 60000 : (int)(next - now);
}

void drain_defer(int fd, uint64_t ino, int unread)
{
    fd = fdspace_high(fd);
    if (!slot_of(fd)) {
        close(fd);
        return;
    }
    take(fd, (struct lingerer){ .on = DEFERRED, .ino = ino, .unread = unread, .start_ms = now_ms() });
    deferred++;
}

void drain_forget(uint64_t ino)
{
    for (int i = 0; i < high_water; i++)
        if (slots[i].on == DEFERRED && slots[i].ino == ino) {
            close(i + slot_base);
            slots[i].on = FREE;
            deferred--;
        }
}

int drain_deferred(int *fds, uint64_t *inos, int max)
{
    int n = 0;
    for (int i = 0; i < high_water && n < max; i++)
        if (slots[i].on == DEFERRED) {
            fds[n] = i + slot_base;
            inos[n++] = slots[i].ino;
        }
    return n;
}

void drain_settle(int fd, int keep)
{
    struct lingerer *l = slot_of(fd);
    if (!l || l->on != DEFERRED)
        return;
    l->on = FREE;
    deferred--;
    if (keep || shutdown(fd, SHUT_WR) != 0) {
        close(fd);
        return;
    }
    drain_add(fd, l->unread);
}
