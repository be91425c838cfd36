/* test_log_line.c - criterion tests of log_line_format (shim/log_line.c):
 * the prefix, one line whatever the message holds, cut to fit. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <string.h>

#include "log_line.h"

static int format(char line[LOG_LINE_MAX], enum log_level level, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = log_line_format(line, 42, level, prefix, fmt, ap);
    va_end(ap);
    return n;
}

Test(log_line, prefix_and_newline)
{
    char line[LOG_LINE_MAX];
    int n = format(line, LOG_WARN, "", "x=%d", 7);
    cr_expect_eq(n, (int)strlen("linger[42]: warn: x=7\n"));
    cr_expect_eq(memcmp(line, "linger[42]: warn: x=7\n", (size_t)n), 0);
    n = format(line, LOG_DEBUG, "supervise: ", "%s", "closed");
    cr_expect_eq(memcmp(line, "linger[42]: debug: supervise: closed\n", (size_t)n), 0);
}

Test(log_line, control_bytes_become_question_marks)
{
    char line[LOG_LINE_MAX];
    int n = format(line, LOG_ERROR, "", "v='%s'", "on\nlinger[1]: info: forged\r\x7f");
    const char *want = "linger[42]: error: v='on?linger[1]: info: forged?" "?'\n";
    cr_expect_eq(n, (int)strlen(want));
    cr_expect_eq(memcmp(line, want, (size_t)n), 0);
}

Test(log_line, long_message_cut_to_one_line)
{
    char line[LOG_LINE_MAX], big[2 * LOG_LINE_MAX];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    int n = format(line, LOG_INFO, "", "%s", big);
    cr_expect_eq(n, LOG_LINE_MAX - 1);
    cr_expect_eq(line[n - 1], '\n');
    cr_expect_eq(memchr(line, '\n', (size_t)n - 1), NULL);
}
