/* stats.c - linger's counters (see stats.h). */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pages.h"
#include "real.h"

_Atomic uint64_t stats[ST_COUNT];

const char *stat_name(enum stat_id id)
{
    static const char *const names[ST_COUNT] = {
        [ST_LINGERED] = "lingered",
        [ST_LINGERING_NOW] = "lingering_now",
        [ST_CLOSED_EOF] = "closed_eof",
        [ST_CLOSED_IDLE] = "closed_idle_timeout",
        [ST_CLOSED_TIME] = "closed_time_cap",
        [ST_CLOSED_BYTES] = "closed_byte_cap",
        [ST_CLOSED_CAP] = "closed_socket_cap",
        [ST_CLOSED_ERROR] = "closed_error",
        [ST_CLOSED_FD_PRESSURE] = "closed_fd_pressure",
        [ST_BYTES_DRAINED] = "bytes_drained",
        [ST_RESETS_AVOIDED] = "resets_avoided",
        [ST_FALLBACK_CLOSES] = "fallback_closes",
        [ST_OBSERVED_LINGERS] = "observe_would_linger",
        [ST_OBSERVED_RESETS] = "observe_resets",
        [ST_REQUEST_LINGERS] = "request_lingered",
    };
    return (unsigned)id < ST_COUNT ? names[id] : "?";
}

uint64_t stats_fingerprint(void)
{
    uint64_t f = 0;
    for (int i = 0; i < ST_COUNT; i++)
        f = f * 1000003u + stat_get((enum stat_id)i);
    return f;
}

/* How each counter appears in the stats file. */
static const struct {
    const char *metric, *label, *type, *help;
} exposition[ST_COUNT] = {
    [ST_LINGERED] = { "linger_lingered_total", NULL, "counter", "Closes turned into lingering closes." },
    [ST_LINGERING_NOW] = { "linger_lingering_sockets", NULL, "gauge", "Sockets being drained now." },
    [ST_CLOSED_EOF] = { "linger_closed_total", "eof", "counter", "Lingering sockets closed, by reason." },
    [ST_CLOSED_IDLE] = { "linger_closed_total", "idle_timeout", NULL, NULL },
    [ST_CLOSED_TIME] = { "linger_closed_total", "time_cap", NULL, NULL },
    [ST_CLOSED_BYTES] = { "linger_closed_total", "byte_cap", NULL, NULL },
    [ST_CLOSED_CAP] = { "linger_closed_total", "socket_cap", NULL, NULL },
    [ST_CLOSED_ERROR] = { "linger_closed_total", "error", NULL, NULL },
    [ST_CLOSED_FD_PRESSURE] = { "linger_closed_total", "fd_pressure", NULL, NULL },
    [ST_BYTES_DRAINED] = { "linger_drained_bytes_total", NULL, "counter", "Request bytes discarded while lingering." },
    [ST_RESETS_AVOIDED] = { "linger_resets_avoided_total", NULL, "counter",
                            "Lingering closes whose client sent bytes the app never read: resets a plain close would have sent." },
    [ST_FALLBACK_CLOSES] = { "linger_fallback_closes_total", NULL, "counter",
                             "Closes that should have lingered but were plain closes (no drainer, no fd)." },
    [ST_OBSERVED_LINGERS] = { "linger_observe_would_linger_total", NULL, "counter",
                              "Observe mode: closes that mode on would have lingered." },
    [ST_OBSERVED_RESETS] = { "linger_observe_resets_total", NULL, "counter",
                             "Observe mode: of those, closes with unread bytes (a reset sent now)." },
    [ST_REQUEST_LINGERS] = { "linger_request_lingered_total", NULL, "counter",
                             "Lingering closes that only the request side asked for: a request body not fully consumed." },
};

size_t stats_format(char *buf, size_t size, int pid)
{
    size_t len = 0;
    for (int i = 0; i < ST_COUNT && len < size; i++) {
        int n;
        if (exposition[i].help)
            n = snprintf(buf + len, size - len, "# HELP %s %s\n# TYPE %s %s\n", exposition[i].metric,
                         exposition[i].help, exposition[i].metric, exposition[i].type);
        else
            n = 0;
        if (n < 0)
            break;
        len += (size_t)n;
        if (len >= size)
            break;
        if (exposition[i].label)
            n = snprintf(buf + len, size - len, "%s{pid=\"%d\",reason=\"%s\"} %llu\n", exposition[i].metric,
                         pid, exposition[i].label, (unsigned long long)stat_get((enum stat_id)i));
        else
            n = snprintf(buf + len, size - len, "%s{pid=\"%d\"} %llu\n", exposition[i].metric, pid,
                         (unsigned long long)stat_get((enum stat_id)i));
        if (n < 0)
            break;
        len += (size_t)n;
    }
    return len < size ? len : size - 1;
}

/* Expands template into out: each %p becomes pid, %% a single %; -1 if it
 * does not fit. */
static int expand_path(const char *template, int pid, char *out, size_t size)
{
    size_t len = 0;
    for (const char *t = template; *t; t++) {
        int n;
        if (t[0] == '%' && t[1] == 'p')
            n = snprintf(out + len, size - len, "%d", pid), t++;
        else if (t[0] == '%' && t[1] == '%')
            n = snprintf(out + len, size - len, "%%"), t++;
        else
            n = snprintf(out + len, size - len, "%c", *t);
        if (n < 0 || (size_t)n >= size - len)
            return -1;
        len += (size_t)n;
    }
    return 0;
}

/* Creates path as a new file (mode 0644 before the umask): never follows a
 * symlink, never truncates or writes into a file that is already there. A
 * leftover temporary file of an earlier process with this pid is removed
 * first (unlink removes a symlink itself, not its target). */
static int create_fresh(const char *path)
{
    int fd = real_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST && unlink(path) == 0)
        fd = real_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    return fd;
}

int stats_write_file(const char *template, int pid)
{
    char path[4096], tmp[4200], text[4096];
    if (expand_path(template, pid, path, sizeof path) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, pid);
    size_t len = stats_format(text, sizeof text, pid);
    int fd = create_fresh(tmp);
    if (fd < 0)
        return -1;
    int ok = real_write(fd, text, len) == (ssize_t)len;
    int err = errno;
    /* the real close, as for the open: a sanitizer's fd tracking (TSAN's)
     * sees neither, so this number's brief use is not taken for a race
     * with the app's last use of it (TSAN, seeing only the close, reported
     * one) */
    real_close(fd);
    if (!ok || rename(tmp, path) != 0) {
        err = ok ? errno : err;
        unlink(tmp);
        errno = err;
        return -1;
    }
    return 0;
}

/* The stats file has one writer at a time in a process (the drainer's
 * rewrite and the exit write would otherwise race over the temporary
 * name), and none after the exit write, so that the last word is the
 * exit's. */
static _Atomic int file_busy, file_sealed;

/* stats_write_file, with one warning the first time it fails in this
 * process (a path that cannot be written is one line, not one a second). */
static void write_or_warn(const char *template, int pid)
{
    static _Atomic int warned;
    if (stats_write_file(template, pid) != 0 && !atomic_exchange(&warned, 1))
        log_msg(LOG_WARN, "LINGER_STATS: cannot write %s (%s)", template, strerror(errno));
}

void stats_update_file(const char *template, int pid)
{
    if (atomic_load(&file_sealed) || atomic_exchange(&file_busy, 1))
        return;
    if (!atomic_load(&file_sealed))
        write_or_warn(template, pid);
    atomic_store(&file_busy, 0);
}

/* Set in a fork child: its file is written only if it counted something. */
static _Atomic int fork_child;

/* True when every counter is 0. */
static int nothing_counted(void)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (stat_get((enum stat_id)i))
            return 0;
    return 1;
}

void stats_write_final_file(const char *template, int pid)
{
    if (atomic_load(&fork_child) && nothing_counted())
        return; /* a child that never lingered: no file of its own */
    atomic_store(&file_sealed, 1);
    /* an update in flight finishes in well under a millisecond; the bound
     * only matters if its writer can never finish (this thread, in a
     * signal handler) */
    for (int i = 0; i < 200 && atomic_exchange(&file_busy, 1); i++) {
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
    write_or_warn(template, pid);
    atomic_store(&file_busy, 0);
}

void stats_reset(void)
{
    for (int i = 0; i < ST_COUNT; i++)
        atomic_store_explicit(&stats[i], 0, memory_order_relaxed);
    atomic_store(&file_busy, 0); /* a fork child: the parent's writer is not here */
    atomic_store(&file_sealed, 0);
}

LINGER_HOT void stats_begin_fork_child(void)
{
    stats_reset();
    atomic_store(&fork_child, 1);
}
