/* log.c - linger's log (see log.h). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ownfd.h"
#include "real.h"

static _Atomic int log_file_fd = -1;
static enum log_level log_level = LOG_WARN;

void log_set_level(enum log_level level)
{
    log_level = level;
}

int log_open(const char *path)
{
    if (log_file_fd >= 0)
        return 0;
    int fd = real_open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_msg(LOG_ERROR, "LINGER_LOG_FILE='%s' cannot be opened for append (%s); logging to stderr",
                path, strerror(errno));
        return -1;
    }
    log_file_fd = fd;
    return 0;
}

void log_protect(void)
{
    if (log_file_fd >= 0)
        ownfd_protect(&log_file_fd);
}

int log_enabled(enum log_level level)
{
    return level <= log_level;
}

/* Makes line[0, n) printable: a control byte (a newline in a bad
 * LINGER_* value, say) becomes '?', so that every message is one line. */
static void one_line(char *line, int n)
{
    for (int i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
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
    one_line(line, n);
    line[n++] = '\n';
    int fd = log_file_fd;
    (void)!real_write(fd >= 0 ? fd : 2, line, (size_t)n);
    errno = saved;
}
