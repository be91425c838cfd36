/* stats.h - linger's counters: relaxed atomics, no locks, cheap to bump. */
#ifndef LINGER_STATS_H
#define LINGER_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum stat_id {
    ST_LINGERED,          /* closes turned into a lingering close */
    ST_LINGERING_NOW,     /* sockets being drained now (a gauge) */
    ST_CLOSED_EOF,        /* drained to the peer's EOF */
    ST_CLOSED_IDLE,       /* closed after LINGER_TIMEOUT without data */
    ST_CLOSED_TIME,       /* closed at LINGER_TIME */
    ST_CLOSED_BYTES,      /* closed at LINGER_MAX_BYTES */
    ST_CLOSED_CAP,        /* closed early because LINGER_MAX_SOCKETS were lingering */
    ST_CLOSED_ERROR,      /* closed on a socket error (e.g. the peer's RST) */
    ST_CLOSED_FD_PRESSURE,/* closed early to free an fd for the app's accept (EMFILE) */
    ST_BYTES_DRAINED,     /* request bytes discarded */
    ST_RESETS_AVOIDED,    /* lingered, and the client sent bytes the app never read (queued at the
                             close, or later): a reset a plain close would have sent */
    ST_FALLBACK_CLOSES,   /* wanted to linger but could not (no drainer, no fd): plain close */
    ST_OBSERVED_LINGERS,  /* observe mode: closes that would have lingered */
    ST_OBSERVED_RESETS,   /* observe mode: of those, closes with unread bytes (a reset now) */
    ST_REQUEST_LINGERS,   /* lingering closes that only the request side asked for: a request
                             body not fully consumed (the response did not say close) */
    ST_COUNT
};

extern _Atomic uint64_t stats[ST_COUNT];

static inline void stat_add(enum stat_id id, uint64_t n)
{
    atomic_fetch_add_explicit(&stats[id], n, memory_order_relaxed);
}

static inline void stat_sub(enum stat_id id, uint64_t n)
{
    atomic_fetch_sub_explicit(&stats[id], n, memory_order_relaxed);
}

static inline uint64_t stat_get(enum stat_id id)
{
    return atomic_load_explicit(&stats[id], memory_order_relaxed);
}

/* The counter's name as it appears in logs. */
const char *stat_name(enum stat_id id);

/* A number that changes whenever any counter does (to skip idle rewrites). */
uint64_t stats_fingerprint(void);

/* Formats every counter in the Prometheus text format into buf; returns
 * the length (truncated to size - 1). Pure apart from reading counters. */
size_t stats_format(char *buf, size_t size, int pid);

/* Writes the stats file: template with each %p replaced by pid, written to
 * a temporary name beside it and renamed over it (readers never see half a
 * file), mode 0644, never through a symlink. 0, or -1 with errno. */
int stats_write_file(const char *template, int pid);

/* Rewrites the stats file (stats_write_file) unless another thread of
 * this process is writing it or the final write has begun; warns once per
 * process when it cannot (one line, not one a second). */
void stats_update_file(const char *template, int pid);

/* The process's last write of the stats file: no update starts after it,
 * and it waits (at most 200 ms) for one in flight, so that its counters
 * are the ones left in the file. Warns as stats_update_file does. Skipped
 * in a fork child that counted nothing (stats_begin_fork_child). */
void stats_write_final_file(const char *template, int pid);

/* Zeroes every counter, and lets the stats file be written again. */
void stats_reset(void);

/* In a fork child: its own account, from zero; at exit it writes its file
 * only if it counted something (a child that never lingered leaves no
 * file of its own, and none over its parent's). */
void stats_begin_fork_child(void);

#endif
