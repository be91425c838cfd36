/* conf.h - the supervisor's settings (LINGER_* from its environment), its
 * log, and what shim/stats.c needs from it (real_open/real_write/real_close,
 * log_msg). Values are read by shim/config_env.c, as the library reads them,
 * and its lines formatted by shim/log_line.c, the library's format. */
#ifndef LINGER_SUPERVISE_CONF_H
#define LINGER_SUPERVISE_CONF_H

#include <stdint.h>

#include "config_parse.h"

struct sv_config {
    enum linger_mode mode;   /* on and always both mean always here */
    uint64_t timeout_ms;     /* LINGER_TIMEOUT: idle limit while draining */
    uint64_t time_ms;        /* LINGER_TIME: total limit per socket */
    uint64_t max_bytes;      /* LINGER_MAX_BYTES: 0 = none */
    uint64_t max_sockets;    /* LINGER_MAX_SOCKETS */
    enum log_level log_level;
    const char *log_file;    /* LINGER_LOG_FILE or NULL */
    const char *stats_file;  /* LINGER_STATS or NULL */
};

extern struct sv_config sv_cfg;

/* Reads LINGER_* from the environment into sv_cfg; a bad value gets one
 * error line and its default, as in the library. */
void conf_load(void);

/* Points the log at LINGER_LOG_FILE (opened for append) or at fd 2.
 * Returns the fd the log writes to. */
int conf_open_log(void);

/* From now on the log goes nowhere unless it is a file (the program is
 * gone: the supervisor stops holding its stderr). */
void conf_detach_stderr(void);

#endif
