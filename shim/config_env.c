/* config_env.c - LINGER_* from the environment, one at a time (see config_env.h). */
#include "config_env.h"

#include <stdlib.h>
#include <sys/resource.h>

#include "log.h"

uint64_t config_default_max_sockets(uint64_t nofile_soft)
{
    uint64_t n = nofile_soft / 4;
    if (n > 4096) n = 4096;
    if (n < 1) n = 1;
    return n;
}

uint64_t config_nofile_soft(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return rl.rlim_cur;
    return 1024;
}

const char *config_env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

void config_env_duration(const char *name, uint64_t *out, const char *default_text)
{
    const char *v = config_env(name);
    if (v && parse_duration_ms(v, out) != 0)
        log_msg(LOG_ERROR, "%s='%s' is not a duration (like 30s, 500ms, 1m); using %s", name, v, default_text);
}

void config_env_size(const char *name, uint64_t *out, const char *default_text)
{
    const char *v = config_env(name);
    if (v && parse_size_bytes(v, out) != 0)
        log_msg(LOG_ERROR, "%s='%s' is not a size (like 1m, 64k, 0 for none); using %s", name, v, default_text);
}

void config_env_count(const char *name, uint64_t max, uint64_t *out)
{
    const char *v = config_env(name);
    if (v && parse_count(v, max, out) != 0)
        log_msg(LOG_ERROR, "%s='%s' is not a count from 1 to %llu; using %llu", name, v, (unsigned long long)max,
                (unsigned long long)*out);
}

void config_env_mode(const char *name, enum linger_mode *out, const char *default_text)
{
    const char *v = config_env(name);
    if (v && parse_mode(v, out) != 0)
        log_msg(LOG_ERROR, "%s='%s' is not one of on, always, off, observe; using %s", name, v, default_text);
}

void config_env_log_level(const char *name, enum log_level *out, const char *default_text)
{
    const char *v = config_env(name);
    if (v && parse_log_level(v, out) != 0)
        log_msg(LOG_ERROR, "%s='%s' is not one of error, warn, info, debug; using %s", name, v, default_text);
}
