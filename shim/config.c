/* config.c - reads LINGER_* into cfg (see config.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>

#include "log.h"

struct linger_config cfg = {
    .mode = MODE_ON,
    .timeout_ms = 5000,
    .time_ms = 30000,
    .max_bytes = 0,
    .max_sockets = 1024,
    .exit_wait_ms = 100,
    .log_level = LOG_WARN,
    .log_file = NULL,
    .stats_file = NULL,
};

uint64_t config_default_max_sockets(uint64_t nofile_soft)
{
    uint64_t n = nofile_soft / 4;
    if (n > 4096) n = 4096;
    if (n < 1) n = 1;
    return n;
}

/* The paths, copied at load: the host may reuse its environment's memory
 * (setproctitle writes over it), and linger writes its files until exit. */
static char log_path[4096], stats_path[4096];

/* value copied into buf (size bytes), or NULL with an error line naming
 * name when it does not fit. */
static const char *kept_path(const char *name, const char *value, char *buf, size_t size)
{
    size_t n = strlen(value);
    if (n >= size) {
        log_msg(LOG_ERROR, "%s is %zu bytes long, more than a path can be (%zu); not used", name, n,
                size - 1);
        return NULL;
    }
    memcpy(buf, value, n + 1);
    return buf;
}

/* The value of name, or NULL when unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

static void load_duration(const char *name, uint64_t *out, const char *def_text)
{
    const char *v = env(name);
    if (v && parse_duration_ms(v, out) != 0)
        log_msg(LOG_ERROR, "%s='%s' is not a duration (like 30s, 500ms, 1m); using %s", name, v, def_text);
}

void config_load(void)
{
    struct rlimit rl;
    uint64_t soft = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        soft = rl.rlim_cur;
    cfg.max_sockets = config_default_max_sockets(soft);

    if (getauxval(AT_SECURE))
        return; /* setuid/setgid: the environment is not the owner's to trust */

    const char *v;
    /* The log settings come first, so that later errors go where asked. */
    if ((v = env("LINGER_LOG_FILE")))
        cfg.log_file = kept_path("LINGER_LOG_FILE", v, log_path, sizeof log_path);
    if ((v = env("LINGER_LOG")) && parse_log_level(v, &cfg.log_level) != 0)
        log_msg(LOG_ERROR, "LINGER_LOG='%s' is not one of error, warn, info, debug; using warn", v);
    log_set_level(cfg.log_level);
    if (cfg.log_file && log_open(cfg.log_file) != 0)
        cfg.log_file = NULL;

    if ((v = env("LINGER_MODE")) && parse_mode(v, &cfg.mode) != 0)
        log_msg(LOG_ERROR, "LINGER_MODE='%s' is not one of on, always, off, observe; using on", v);
    load_duration("LINGER_TIMEOUT", &cfg.timeout_ms, "5s");
    load_duration("LINGER_TIME", &cfg.time_ms, "30s");
    load_duration("LINGER_EXIT_WAIT", &cfg.exit_wait_ms, "100ms");
    if ((v = env("LINGER_MAX_BYTES")) && parse_size_bytes(v, &cfg.max_bytes) != 0)
        log_msg(LOG_ERROR, "LINGER_MAX_BYTES='%s' is not a size (like 1m, 64k, 0 for none); using none", v);
    if ((v = env("LINGER_STATS")))
        cfg.stats_file = kept_path("LINGER_STATS", v, stats_path, sizeof stats_path);
    uint64_t def = cfg.max_sockets;
    if ((v = env("LINGER_MAX_SOCKETS")) && parse_count(v, 1u << 20, &cfg.max_sockets) != 0)
        log_msg(LOG_ERROR, "LINGER_MAX_SOCKETS='%s' is not a count from 1 to 1048576; using %llu",
                v, (unsigned long long)def);
}
