/* log_line.h - the text of one log line (pure). The library's log (log.c)
 * and linger-supervise's (supervise/conf.c) both format through it; only
 * the prefix and the fd they write to differ. */
#ifndef LINGER_LOG_LINE_H
#define LINGER_LOG_LINE_H

#include <stdarg.h>

#include "config_parse.h" /* enum log_level */

#define LOG_LINE_MAX 512

/* Writes "linger[pid]: LEVEL: " prefix, then fmt's text, into line as one
 * line: cut to fit, each control byte (a newline in a bad LINGER_* value,
 * say) made '?', ending in '\n'. Returns its length, at most LOG_LINE_MAX - 1. */
int log_line_format(char line[LOG_LINE_MAX], int pid, enum log_level level, const char *prefix,
                    const char *fmt, va_list ap);

#endif
