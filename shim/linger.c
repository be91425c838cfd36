/* linger.c - load and unload: sets everything up once, in order, and says
 * at info level that the shim is active. The drainer thread is not started
 * here: it starts on the first socket that may need it. */
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "drainer.h"
#include "fdtable.h"
#include "handoff.h"
#include "linger.h"
#include "log.h"
#include "ownfd.h"
#include "pages.h"
#include "policy.h"
#include "process.h"
#include "real.h"
#include "req_http.h"
#include "reqwatch.h"
#include "stats.h"

static const char *const mode_names[] = { "on", "always", "off", "observe" };

__attribute__((constructor)) static void linger_load(void)
{
    real_resolve();
    config_load();
    if (cfg.mode == MODE_OFF) {
        log_msg(LOG_INFO, "active, mode off: every call passes straight through");
        return;
    }
    if (!real.write || !real.writev || !real.send || !real.sendto || !real.sendmsg
        || !real.sendmmsg || !real.read || !real.readv || !real.recv || !real.recvfrom || !real.recvmsg) {
        log_msg(LOG_ERROR, "cannot find the real send or receive functions; linger stays inactive in this process");
        return;
    }
    if (fdt_init() != 0) {
        log_msg(LOG_ERROR, "cannot map the fd table; linger stays inactive in this process");
        return;
    }
    if (reqw_init() != 0) /* without it, closes judge from the response alone */
        log_msg(LOG_WARN, "cannot map the request table; requests go unwatched in this process");
    ownfd_init(cfg.max_sockets);
    log_protect(); /* after ownfd_init: the high range is known */
    process_init();
    policy_init();
    /* the scanners' ways now, not at the first read or write: a
     * fork-per-connection server reads no request itself, and each child
     * would look up the CPU's features anew, on pages of its own */
    scan_fast_way(-1);
    req_http_fast_way(-1);
    if (cfg.stats_file) /* the file exists, with zeros, from the start */
        stats_update_file(cfg.stats_file, getpid());
    log_msg(LOG_INFO, "active: mode=%s timeout=%llums time=%llums max_bytes=%llu max_sockets=%llu",
            mode_names[cfg.mode], (unsigned long long)cfg.timeout_ms, (unsigned long long)cfg.time_ms,
            (unsigned long long)cfg.max_bytes, (unsigned long long)cfg.max_sockets);
}

LINGER_HOT void linger_at_exit(int flush_stdio)
{
    if (cfg.mode == MODE_OFF || !fdt || !handoff_claim_exit())
        return;
    handoff_at_exit(flush_stdio);
    if (cfg.stats_file)
        stats_write_final_file(cfg.stats_file, getpid());
    if (!log_enabled(LOG_INFO))
        return;
    log_msg(LOG_INFO, "exit: lingered=%llu resets_avoided=%llu closed_eof=%llu closed_idle=%llu "
            "closed_time=%llu still_lingering=%llu observe_would_linger=%llu observe_resets=%llu",
            (unsigned long long)stat_get(ST_LINGERED), (unsigned long long)stat_get(ST_RESETS_AVOIDED),
            (unsigned long long)stat_get(ST_CLOSED_EOF), (unsigned long long)stat_get(ST_CLOSED_IDLE),
            (unsigned long long)stat_get(ST_CLOSED_TIME), (unsigned long long)stat_get(ST_LINGERING_NOW),
            (unsigned long long)stat_get(ST_OBSERVED_LINGERS), (unsigned long long)stat_get(ST_OBSERVED_RESETS));
}

void linger_before_exec(void)
{
    if (cfg.mode == MODE_OFF || !fdt)
        return;
    handoff_before_exec();
}

__attribute__((destructor)) static LINGER_HOT void linger_unload(void)
{
    linger_at_exit(1);
}
