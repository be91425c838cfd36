/* conf.c - the supervisor's settings and log (see conf.h). */
#include "conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "config_env.h"
#include "log.h"
#include "log_line.h"
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

/* As the library's config_load (shim/config.c), in its order and words, but
 * for what the supervisor has no use for: LINGER_EXIT_WAIT, the AT_SECURE
 * check, copies of the paths (nothing writes over its environment). */
void conf_load(void)
{
    sv_cfg.max_sockets = config_default_max_sockets(config_nofile_soft());
    sv_cfg.log_file = config_env("LINGER_LOG_FILE");
    config_env_log_level("LINGER_LOG", &sv_cfg.log_level, "warn");
    conf_open_log();
    config_env_mode("LINGER_MODE", &sv_cfg.mode, "on");
    config_env_duration("LINGER_TIMEOUT", &sv_cfg.timeout_ms, "5s");
    config_env_duration("LINGER_TIME", &sv_cfg.time_ms, "30s");
    config_env_size("LINGER_MAX_BYTES", &sv_cfg.max_bytes, "none");
    sv_cfg.stats_file = config_env("LINGER_STATS");
    config_env_count("LINGER_MAX_SOCKETS", 1u << 20, &sv_cfg.max_sockets);
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
    if (!log_enabled(level) || log_fd < 0)
        return;
    int saved = errno;
    char line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = log_line_format(line, (int)getpid(), level, "supervise: ", fmt, ap);
    va_end(ap);
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
