/* log.h - linger's own messages, prefixed "linger[pid]", to stderr or LINGER_LOG_FILE. */
#ifndef LINGER_LOG_H
#define LINGER_LOG_H

#include "config_parse.h"

/* Opens LINGER_LOG_FILE if set (append, no symlinks, 0644, close-on-exec). */
void log_open(void);

/* True when messages at level would be written. */
int log_enabled(enum log_level level);

/* Writes one line at level; keeps errno. Not for the close path. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Moves the log file's fd out of the app's reach (after ownfd_init). */
void log_protect(void);

#endif
