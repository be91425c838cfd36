/* log.h - linger's own messages, prefixed "linger[pid]", to stderr or
 * LINGER_LOG_FILE. config.c tells it the level and the file; it knows
 * nothing of the rest of the configuration. */
#ifndef LINGER_LOG_H
#define LINGER_LOG_H

#include "config_parse.h" /* enum log_level */

/* Writes the messages at level and above from now on (LINGER_LOG; warn
 * until set). */
void log_set_level(enum log_level level);

/* Writes to path (LINGER_LOG_FILE: append, no symlinks, 0644, close-on-exec)
 * from now on instead of stderr. 0; -1 with an error line on stderr when
 * it cannot be opened. */
int log_open(const char *path);

/* True when messages at level would be written. */
int log_enabled(enum log_level level);

/* Writes one line at level; keeps errno. Not for the close path. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Moves the log file's fd out of the app's reach (after ownfd_init). */
void log_protect(void);

#endif
