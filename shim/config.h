/* config.h - linger's settings, read once from LINGER_* at load. */
#ifndef LINGER_CONFIG_H
#define LINGER_CONFIG_H

#include <stdint.h>

#include "config_parse.h"

struct linger_config {
    enum linger_mode mode;     /* LINGER_MODE, default on */
    uint64_t timeout_ms;       /* LINGER_TIMEOUT: idle limit while draining, default 5s */
    uint64_t time_ms;          /* LINGER_TIME: total limit per socket, default 30s */
    uint64_t max_bytes;        /* LINGER_MAX_BYTES: drain cap per socket, 0 = none */
    uint64_t max_sockets;      /* LINGER_MAX_SOCKETS: lingering at once */
    uint64_t exit_wait_ms;     /* LINGER_EXIT_WAIT: an exiting process waits for its
                                  lingering sockets this long, then hands them over */
    enum log_level log_level;  /* LINGER_LOG, default warn */
    const char *log_file;      /* LINGER_LOG_FILE, NULL = stderr */
    const char *stats_file;    /* LINGER_STATS: path template (%p = pid), NULL = none */
};

extern struct linger_config cfg;

/* Fills cfg from the environment (ignored under AT_SECURE). Bad values are
 * reported through the log, once each, and replaced by the default. */
void config_load(void);

#endif
