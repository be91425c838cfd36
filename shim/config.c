/* config.c - reads LINGER_* into cfg (see config.h). */
#include "config.h"

#include <string.h>
#include <sys/auxv.h>

#include "config_env.h"
#include "log.h"
#include "pages.h"

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

/* The paths, copied at load: the host may reuse its environment's memory
 * (setproctitle writes over it), and linger writes its files until exit. */
static char log_path[4096] LINGER_LARGE_BUFFER, stats_path[4096] LINGER_LARGE_BUFFER;

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

void config_load(void)
{
    cfg.max_sockets = config_default_max_sockets(config_nofile_soft());

    if (getauxval(AT_SECURE))
        return; /* setuid/setgid: the environment is not the owner's to trust */

    const char *v;
    /* The log settings come first, so that later errors go where asked. */
    if ((v = config_env("LINGER_LOG_FILE")))
        cfg.log_file = kept_path("LINGER_LOG_FILE", v, log_path, sizeof log_path);
    config_env_log_level("LINGER_LOG", &cfg.log_level, "warn");
    log_set_level(cfg.log_level);
    if (cfg.log_file && log_open(cfg.log_file) != 0)
        cfg.log_file = NULL;

    config_env_mode("LINGER_MODE", &cfg.mode, "on");
    config_env_duration("LINGER_TIMEOUT", &cfg.timeout_ms, "5s");
    config_env_duration("LINGER_TIME", &cfg.time_ms, "30s");
    config_env_duration("LINGER_EXIT_WAIT", &cfg.exit_wait_ms, "100ms");
    config_env_size("LINGER_MAX_BYTES", &cfg.max_bytes, "none");
    if ((v = config_env("LINGER_STATS")))
        cfg.stats_file = kept_path("LINGER_STATS", v, stats_path, sizeof stats_path);
    config_env_count("LINGER_MAX_SOCKETS", 1u << 20, &cfg.max_sockets);
}
