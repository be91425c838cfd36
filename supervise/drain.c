/* drain.c - the lingering sockets (see drain.h). */
#include "drain.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "stats.h"

#define READ_PER_EVENT (256 * 1024) /* bytes drained per event, so one peer cannot starve the rest */

enum slot_state { FREE, LINGERING, DEFERRED };

struct lingerer {
    int on;             /* an enum slot_state */
    uint64_t ino;       /* DEFERRED: the socket */
    int unread;         /* DEFERRED: bytes unread at the close */
    uint64_t start_ms;  /* when the close lingered */
    uint64_t last_ms;   /* when bytes last came */
    uint64_t bytes;     /* bytes drained */
    int reset_counted;  /* counted in resets_avoided */
};

static struct lingerer *slots; /* indexed by the supervisor's fd */
static int slot_limit, epoll_fd, lingering, deferred;
static int high_water; /* every lingering fd is below it (fds are reused lowest first) */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int drain_init(int epfd, int limit)
{
    slots = calloc((size_t)limit, sizeof *slots);
    if (!slots)
        return -1;
    slot_limit = limit;
    epoll_fd = epfd;
    return 0;
}

int drain_owns(int fd)
{
    return fd >= 0 && fd < slot_limit && slots[fd].on == LINGERING;
}

int drain_count(void)
{
    return lingering;
}

/* Ends fd's lingering: closes it, counted under why. */
static void finish(int fd, enum stat_id why)
{
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    slots[fd].on = 0;
    lingering--;
    stat_sub(ST_LINGERING_NOW, 1);
    stat_add(why, 1);
    log_msg(LOG_DEBUG, "lingering socket closed (%s) after %llu bytes", stat_name(why),
            (unsigned long long)slots[fd].bytes);
}

/* The lingering socket that started first, or -1. */
static int oldest(void)
{
    int best = -1;
    for (int fd = 0; fd < high_water; fd++)
        if (slots[fd].on == LINGERING && (best < 0 || slots[fd].start_ms < slots[best].start_ms))
            best = fd;
    return best;
}

void drain_add(int fd, int unread)
{
    if (fd >= slot_limit) {
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
    if (fd >= high_water)
        high_water = fd + 1;
    uint64_t now = now_ms();
    slots[fd] = (struct lingerer){ .on = LINGERING, .start_ms = now, .last_ms = now, .reset_counted = unread > 0 };
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
    struct lingerer *l = &slots[fd];
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
    for (int fd = 0; fd < high_water; fd++) {
        if (slots[fd].on == DEFERRED && now >= slots[fd].start_ms + sv_cfg.time_ms) {
            close(fd); /* still held elsewhere at LINGER_TIME: a plain close */
            slots[fd].on = FREE;
            deferred--;
            continue;
        }
        if (slots[fd].on != LINGERING)
            continue;
        uint64_t idle_end = slots[fd].last_ms + sv_cfg.timeout_ms;
        uint64_t time_end = slots[fd].start_ms + sv_cfg.time_ms;
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
    if (fd >= slot_limit) {
        close(fd);
        return;
    }
    if (fd >= high_water)
        high_water = fd + 1;
    slots[fd] = (struct lingerer){ .on = DEFERRED, .ino = ino, .unread = unread, .start_ms = now_ms() };
    deferred++;
}

void drain_forget(uint64_t ino)
{
    for (int fd = 0; fd < high_water; fd++)
        if (slots[fd].on == DEFERRED && slots[fd].ino == ino) {
            close(fd);
            slots[fd].on = FREE;
            deferred--;
        }
}

int drain_deferred(int *fds, uint64_t *inos, int max)
{
    int n = 0;
    for (int fd = 0; fd < high_water && n < max; fd++)
        if (slots[fd].on == DEFERRED) {
            fds[n] = fd;
            inos[n++] = slots[fd].ino;
        }
    return n;
}

void drain_settle(int fd, int keep)
{
    if (fd < 0 || fd >= slot_limit || slots[fd].on != DEFERRED)
        return;
    slots[fd].on = FREE;
    deferred--;
    if (keep || shutdown(fd, SHUT_WR) != 0) {
        close(fd);
        return;
    }
    drain_add(fd, slots[fd].unread);
}

int drain_deferred_count(void)
{
    return deferred;
}
