/* log_line.c - the text of one log line (see log_line.h). */
#include "log_line.h"

#include <stdio.h>

/* Makes line[0, n) printable: a control byte becomes '?', so that every
 * message is one line. */
static void one_line(char *line, int n)
{
    for (int i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
}

int log_line_format(char line[LOG_LINE_MAX], int pid, enum log_level level, const char *prefix,
                    const char *fmt, va_list ap)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    int n = snprintf(line, LOG_LINE_MAX, "linger[%d]: %s: %s", pid, names[level], prefix);
    n += vsnprintf(line + n, LOG_LINE_MAX - (size_t)n - 1, fmt, ap);
    if (n > LOG_LINE_MAX - 2)
        n = LOG_LINE_MAX - 2;
    one_line(line, n);
    line[n++] = '\n';
    return n;
}
