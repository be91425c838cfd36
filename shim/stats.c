/* stats.c - linger's counters (see stats.h). */
#include "stats.h"

_Atomic uint64_t stats[ST_COUNT];

const char *stat_name(enum stat_id id)
{
    static const char *const names[ST_COUNT] = {
        [ST_LINGERED] = "lingered",
        [ST_LINGERING_NOW] = "lingering_now",
        [ST_CLOSED_EOF] = "closed_eof",
        [ST_CLOSED_IDLE] = "closed_idle_timeout",
        [ST_CLOSED_TIME] = "closed_time_cap",
        [ST_CLOSED_BYTES] = "closed_byte_cap",
        [ST_CLOSED_CAP] = "closed_socket_cap",
        [ST_CLOSED_ERROR] = "closed_error",
        [ST_BYTES_DRAINED] = "bytes_drained",
        [ST_RESETS_AVOIDED] = "resets_avoided",
        [ST_FALLBACK_CLOSES] = "fallback_closes",
        [ST_OBSERVED_LINGERS] = "observe_would_linger",
        [ST_OBSERVED_RESETS] = "observe_resets",
    };
    return (unsigned)id < ST_COUNT ? names[id] : "?";
}
