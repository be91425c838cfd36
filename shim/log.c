/* log.c - linger's log (see log.h). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "log_line.h"
#include "ownfd.h"
#include "pages.h"
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

LINGER_HOT int log_enabled(enum log_level level)
{
    return level <= log_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    int saved = errno;
    char line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = log_line_format(line, (int)getpid(), level, "", fmt, ap);
    va_end(ap);
    int fd = log_file_fd;
    (void)!real_write(fd >= 0 ? fd : 2, line, (size_t)n);
    errno = saved;
}
