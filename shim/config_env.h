/* config_env.h - LINGER_* read from the environment, one variable at a time,
 * in the library's words. The library (config.c) and linger-supervise
 * (supervise/conf.c) both read their settings through these, so that they
 * take, refuse and report the same values alike. */
#ifndef LINGER_CONFIG_ENV_H
#define LINGER_CONFIG_ENV_H

#include <stdint.h>

#include "config_parse.h"

/* Default for LINGER_MAX_SOCKETS: a quarter of the fd limit, 1 to 4096. */
uint64_t config_default_max_sockets(uint64_t nofile_soft);

/* The soft RLIMIT_NOFILE, or 1024 when unknown or unlimited. */
uint64_t config_nofile_soft(void);

/* The value of name, or NULL when unset or empty. */
const char *config_env(const char *name);

/* Each reads name into *out when it is set and not empty. A bad value
 * leaves *out alone and gets one error line naming the variable, its value,
 * what was expected, and the default kept (default_text; for a count, *out). */
void config_env_duration(const char *name, uint64_t *out, const char *default_text);
void config_env_size(const char *name, uint64_t *out, const char *default_text);
void config_env_count(const char *name, uint64_t max, uint64_t *out);
void config_env_mode(const char *name, enum linger_mode *out, const char *default_text);
void config_env_log_level(const char *name, enum log_level *out, const char *default_text);

#endif
