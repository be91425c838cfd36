/* config_parse.c - pure parsers for LINGER_* values (see config_parse.h). */
#include "config_parse.h"

#include <stddef.h>
#include <strings.h>

#define MAX_DURATION_MS (24ull * 3600 * 1000)
#define MAX_SIZE_BYTES  (1ull << 50)

/* Reads a run of decimal digits at *p into *value; returns the digit count,
 * or -1 on overflow past limit. */
static int read_digits(const char **p, uint64_t limit, uint64_t *value)
{
    int n = 0;
    uint64_t v = 0;
    while (**p >= '0' && **p <= '9') {
        uint64_t d = (uint64_t)(**p - '0');
        if (d > limit || v > (limit - d) / 10) /* v * 10 + d > limit, without wrapping */
            return -1;
        v = v * 10 + d;
        (*p)++;
        n++;
    }
    *value = v;
    return n;
}

/* Milliseconds in one unit named at *p ("ms", "s", "m", "h"); advances *p.
 * A missing unit means seconds. Returns 0 for an unknown unit. */
static uint64_t duration_unit_ms(const char **p)
{
    const char *u = *p;
    if (u[0] == 'm' && u[1] == 's') { *p += 2; return 1; }
    if (u[0] == 's') { *p += 1; return 1000; }
    if (u[0] == 'm') { *p += 1; return 60000; }
    if (u[0] == 'h') { *p += 1; return 3600000; }
    if (u[0] == '\0') return 1000;
    return 0;
}

int parse_duration_ms(const char *text, uint64_t *out)
{
    if (!text || !*text)
        return -1;
    const char *p = text;
    uint64_t total = 0;
    while (*p) {
        uint64_t amount;
        if (read_digits(&p, MAX_DURATION_MS, &amount) <= 0)
            return -1;
        uint64_t unit = duration_unit_ms(&p);
        if (unit == 0 || amount > MAX_DURATION_MS / unit)
            return -1;
        total += amount * unit;
        if (total > MAX_DURATION_MS)
            return -1;
    }
    *out = total;
    return 0;
}

int parse_size_bytes(const char *text, uint64_t *out)
{
    if (!text || !*text)
        return -1;
    if (!strcasecmp(text, "none") || !strcasecmp(text, "unlimited")) {
        *out = 0;
        return 0;
    }
    const char *p = text;
    uint64_t amount, shift = 0;
    if (read_digits(&p, MAX_SIZE_BYTES, &amount) <= 0)
        return -1;
    switch (*p) {
    case '\0': break;
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    default: return -1;
    }
    if (*p != '\0' || amount > (MAX_SIZE_BYTES >> shift))
        return -1;
    *out = amount << shift;
    return 0;
}

int parse_count(const char *text, uint64_t max, uint64_t *out)
{
    if (!text || !*text)
        return -1;
    const char *p = text;
    uint64_t v;
    if (read_digits(&p, max, &v) <= 0 || *p != '\0' || v == 0)
        return -1;
    *out = v;
    return 0;
}

/* Index of text in names (case-insensitive), or -1. */
static int lookup_name(const char *text, const char *const *names, int count)
{
    if (!text)
        return -1;
    for (int i = 0; i < count; i++)
        if (!strcasecmp(text, names[i]))
            return i;
    return -1;
}

int parse_mode(const char *text, enum linger_mode *out)
{
    static const char *const names[] = { "on", "always", "off", "observe" };
    int i = lookup_name(text, names, 4);
    if (i < 0)
        return -1;
    *out = (enum linger_mode)i;
    return 0;
}

int parse_log_level(const char *text, enum log_level *out)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    int i = lookup_name(text, names, 4);
    if (i < 0)
        return -1;
    *out = (enum log_level)i;
    return 0;
}
