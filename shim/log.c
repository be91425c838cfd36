/* log.c - linger's log (see log.h). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ownfd.h"
#include "real.h"

static _Atomic int log_file_fd = -1;

void log_open(void)
{
    if (!cfg.log_file || log_file_fd >= 0)
        return;
    int fd = open(cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        cfg.log_file = NULL;
        log_msg(LOG_ERROR, "LINGER_LOG_FILE: cannot open for append (%s); logging to stderr", strerror(err));
        return;
    }
    log_file_fd = fd;
}

void log_protect(void)
{
    if (log_file_fd >= 0)
        ownfd_protect(&log_file_fd);
}

int log_enabled(enum log_level level)
{
    return level <= cfg.log_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    if (!log_enabled(level))
        return;
    int saved = errno;
    char line[512];
    int n = snprintf(line, sizeof line, "linger[%d]: %s: ", (int)getpid(), names[level]);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    int fd = log_file_fd;
    (void)!real_write(fd >= 0 ? fd : 2, line, (size_t)n);
    errno = saved;
}
