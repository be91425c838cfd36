/* test_config.c - criterion tests of config_load (shim/config.c): each
 * LINGER_* into cfg, bad values replaced by the default, the paths copied
 * (the host may write over its environment), and what the log is told.
 * config.c tells the log its level and file through log_set_level and
 * log_open; this file stands in for both (log_msg: test_stats.c's). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "config_env.h"
#include "log.h"

static enum log_level told_level = (enum log_level)-1;
static const char *told_file;
static int open_fails;

void log_set_level(enum log_level level)
{
    told_level = level;
}

int log_open(const char *path)
{
    told_file = path;
    return open_fails ? -1 : 0;
}

static void clear_env(void)
{
    const char *vars[] = { "LINGER_MODE", "LINGER_TIMEOUT", "LINGER_TIME", "LINGER_EXIT_WAIT", "LINGER_MAX_BYTES",
                           "LINGER_STATS", "LINGER_MAX_SOCKETS", "LINGER_LOG", "LINGER_LOG_FILE" };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

TestSuite(config, .init = clear_env);

Test(config, defaults)
{
    config_load();
    cr_expect_eq(cfg.mode, MODE_ON);
    cr_expect_eq(cfg.timeout_ms, 5000);
    cr_expect_eq(cfg.time_ms, 30000);
    cr_expect_eq(cfg.max_bytes, 0);
    cr_expect_eq(cfg.exit_wait_ms, 100);
    cr_expect_null(cfg.stats_file);
    cr_expect_null(cfg.log_file);
    cr_expect_eq(told_level, LOG_WARN, "the log is told its level");
    cr_expect_null(told_file, "no file: the log is not opened");
}

Test(config, every_variable)
{
    setenv("LINGER_MODE", "always", 1);
    setenv("LINGER_TIMEOUT", "2s", 1);
    setenv("LINGER_TIME", "1m", 1);
    setenv("LINGER_EXIT_WAIT", "0", 1);
    setenv("LINGER_MAX_BYTES", "64k", 1);
    setenv("LINGER_MAX_SOCKETS", "7", 1);
    setenv("LINGER_LOG", "debug", 1);
    setenv("LINGER_LOG_FILE", "/tmp/x.log", 1);
    setenv("LINGER_STATS", "/tmp/s-%p.prom", 1);
    config_load();
    cr_expect_eq(cfg.mode, MODE_ALWAYS);
    cr_expect_eq(cfg.timeout_ms, 2000);
    cr_expect_eq(cfg.time_ms, 60000);
    cr_expect_eq(cfg.exit_wait_ms, 0);
    cr_expect_eq(cfg.max_bytes, 65536);
    cr_expect_eq(cfg.max_sockets, 7);
    cr_expect_eq(told_level, LOG_DEBUG);
    cr_expect_str_eq(told_file, "/tmp/x.log");
    cr_expect_str_eq(cfg.stats_file, "/tmp/s-%p.prom");
}

Test(config, bad_values_keep_the_defaults)
{
    setenv("LINGER_MODE", "sometimes", 1);
    setenv("LINGER_TIMEOUT", "5 seconds", 1);
    setenv("LINGER_MAX_BYTES", "12q", 1);
    setenv("LINGER_MAX_SOCKETS", "0", 1);
    setenv("LINGER_LOG", "loud", 1);
    config_load();
    cr_expect_eq(cfg.mode, MODE_ON);
    cr_expect_eq(cfg.timeout_ms, 5000);
    cr_expect_eq(cfg.max_bytes, 0);
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    uint64_t soft = rl.rlim_cur == RLIM_INFINITY ? 1024 : rl.rlim_cur;
    cr_expect_eq(cfg.max_sockets, config_default_max_sockets(soft), "LINGER_MAX_SOCKETS=0: the default");
    cr_expect_eq(told_level, LOG_WARN);
}

/* The paths are copied at load: a host that writes over its environment
 * (setproctitle) changes nothing. */
Test(config, paths_copied)
{
    char stats[] = "LINGER_STATS=/tmp/stats.prom";
    putenv(stats);
    config_load();
    memcpy(stats + strlen("LINGER_STATS="), "XXXXXXXXXXXXXXX", 15);
    cr_expect_str_eq(cfg.stats_file, "/tmp/stats.prom");
}

Test(config, log_file_that_cannot_open)
{
    setenv("LINGER_LOG_FILE", "/nonexistent/x.log", 1);
    open_fails = 1;
    config_load();
    cr_expect_null(cfg.log_file, "a log file that cannot be opened is dropped (stderr)");
}

Test(config, default_max_sockets)
{
    cr_expect_eq(config_default_max_sockets(1024), 256);
    cr_expect_eq(config_default_max_sockets(1u << 20), 4096);
    cr_expect_eq(config_default_max_sockets(2), 1);
}
