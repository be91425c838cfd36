/* conf.c - the supervisor's settings and log (see conf.h). */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "real.h"

struct sv_config sv_cfg = {
    .mode = MODE_ON,
    .timeout_ms = 5000,
    .time_ms = 30000,
    .max_bytes = 0,
    .max_sockets = 1024,
    .log_level = LOG_WARN,
};

static int log_fd = 2;

/* The value of name, or NULL when unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

static void load_duration(const char *name, uint64_t *out, const char *def_text)
{
    const char *v = env(name);
    if (v && parse_duration_ms(v, out) != 0)
        log_msg(LOG_ERROR, "%s='%s' is not a duration (like 30s, 500ms, 1m); using %s", name, v, def_text);
}

void conf_load(void)
{
    struct rlimit rl;
    uint64_t soft = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        soft = rl.rlim_cur;
    /* the library's default: a quarter of the fd limit, 1 to 4096 */
    sv_cfg.max_sockets = soft / 4 > 4096 ? 4096 : soft / 4 < 1 ? 1 : soft / 4;
    const char *v;
    sv_cfg.log_file = env("LINGER_LOG_FILE");
    if ((v = env("LINGER_LOG")) && parse_log_level(v, &sv_cfg.log_level) != 0)
        log_msg(LOG_ERROR, "LINGER_LOG='%s' is not one of error, warn, info, debug; using warn", v);
    conf_open_log();
    if ((v = env("LINGER_MODE")) && parse_mode(v, &sv_cfg.mode) != 0)
        log_msg(LOG_ERROR, "LINGER_MODE='%s' is not one of on, always, off, observe; using on", v);
    load_duration("LINGER_TIMEOUT", &sv_cfg.timeout_ms, "5s");
    load_duration("LINGER_TIME", &sv_cfg.time_ms, "30s");
    if ((v = env("LINGER_MAX_BYTES")) && parse_size_bytes(v, &sv_cfg.max_bytes) != 0)
        log_msg(LOG_ERROR, "LINGER_MAX_BYTES='%s' is not a size (like 1m, 64k, 0 for none); using none", v);
    sv_cfg.stats_file = env("LINGER_STATS");
    uint64_t def = sv_cfg.max_sockets;
    if ((v = env("LINGER_MAX_SOCKETS")) && parse_count(v, 1u << 20, &sv_cfg.max_sockets) != 0)
        log_msg(LOG_ERROR, "LINGER_MAX_SOCKETS='%s' is not a count from 1 to 1048576; using %llu", v,
                (unsigned long long)def);
}

int conf_open_log(void)
{
    if (sv_cfg.log_file && log_fd == 2) {
        int fd = open(sv_cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
            const char *path = sv_cfg.log_file;
            sv_cfg.log_file = NULL;
            log_msg(LOG_ERROR, "LINGER_LOG_FILE='%s' cannot be opened for append (%s); logging to stderr",
                    path, strerror(errno));
        } else {
            log_fd = fd;
        }
    }
    return log_fd;
}

void conf_detach_stderr(void)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 2);
        close(null);
    }
    if (log_fd == 2)
        log_fd = -1;
}

int log_enabled(enum log_level level)
{
    return level <= sv_cfg.log_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    if (!log_enabled(level) || log_fd < 0)
        return;
    int saved = errno;
    char line[512];
    int n = snprintf(line, sizeof line, "linger[%d]: %s: supervise: ", (int)getpid(), names[level]);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    for (int i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[n++] = '\n';
    (void)!write(log_fd, line, (size_t)n);
    errno = saved;
}

/* shim/stats.c writes its file through these. */
int real_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

ssize_t real_write(int fd, const void *buf, size_t n)
{
    return write(fd, buf, n);
}

int real_close(int fd)
{
    return close(fd);
}
