/* test_config_parse.c - criterion tests of the LINGER_* value parsers
 * (shim/config_parse.h). Each parser gets a table of good inputs with their
 * values and a list of bad inputs, which must return -1 and leave *out alone.
 * cr_expect (not cr_assert) so that one run reports every failing input.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "config_parse.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SENTINEL 0xDEADBEEFCAFEF00DULL

struct u64_case {
    const char *text;
    uint64_t want;
};

/* ---------------------------------------------------------------- durations */

static const struct u64_case durations[] = {
    { "5s", 5000 },
    { "500ms", 500 },
    { "1m", 60000 },
    { "1h", 3600000 },
    { "2m30s", 150000 },
    { "1h30m", 5400000 },
    { "1s500ms", 1500 },
    { "5", 5000 },
    { "0", 0 },
    { "0s", 0 },
    { "0ms", 0 },
    { "1ms", 1 },
    { "24h", 86400000 },       /* the limit itself is allowed */
    { "1440m", 86400000 },
    { "86400", 86400000 },
    { "86400000ms", 86400000 },
    { "23h59m59s999ms", 86399999 },
};

static const char *const bad_durations[] = {
    "", "5x", "-1", "-1s", "s", "ms", "m", "h", "1.5s", "5 s", "5sx", "5mss", "1hh", "x5s",
    "25h", "24h1ms", "86401", "86400001ms", "1441m", "999999h",
    "99999999999999999999999s",     /* does not fit in 64 bits */
    "18446744073709551616",         /* 2^64 */
    "18446744073709551617ms",       /* 2^64 + 1: wraps to 1ms if unchecked */
    "18446744073709552s",           /* * 1000 wraps to 384ms if unchecked */
    "18446744073709552",            /* same, as plain seconds */
    "307445734561826m",             /* * 60000 wraps to 8384ms */
    "5124095576031h",               /* * 3600000 wraps to 2048384ms */
};

Test(config_parse, duration_good)
{
    for (size_t i = 0; i < N(durations); i++) {
        uint64_t out = SENTINEL;
        int rc = parse_duration_ms(durations[i].text, &out);
        cr_expect_eq(rc, 0, "parse_duration_ms(\"%s\") returned %d", durations[i].text, rc);
        cr_expect_eq(out, durations[i].want, "parse_duration_ms(\"%s\") = %llu, want %llu",
                     durations[i].text, (unsigned long long)out, (unsigned long long)durations[i].want);
    }
}

Test(config_parse, duration_bad)
{
    for (size_t i = 0; i < N(bad_durations); i++) {
        uint64_t out = SENTINEL;
        int rc = parse_duration_ms(bad_durations[i], &out);
        cr_expect_eq(rc, -1, "parse_duration_ms(\"%s\") returned %d (out %llu)", bad_durations[i], rc,
                     (unsigned long long)out);
        cr_expect_eq(out, SENTINEL, "parse_duration_ms(\"%s\") changed *out to %llu", bad_durations[i],
                     (unsigned long long)out);
    }
}

/* -------------------------------------------------------------------- sizes */

static const struct u64_case sizes[] = {
    { "4096", 4096 },
    { "1", 1 },
    { "64k", 65536 },
    { "64K", 65536 },
    { "1m", 1048576 },
    { "1M", 1048576 },
    { "2g", 2147483648ULL },
    { "2G", 2147483648ULL },
    { "0", 0 },
    { "none", 0 },
    { "unlimited", 0 },
    { "1024g", 1099511627776ULL },
    { "1099511627776", 1099511627776ULL },
};

static const char *const bad_sizes[] = {
    "", "k", "K", "m", "g", "-5", "-5k", "1t", "1T", "5x", "1kk", "1.5k", "k1", " ", "nonee", "non",
    "18446744073709551616",   /* 2^64 */
    "18446744073709551617",   /* 2^64 + 1: wraps to 1 if unchecked */
    "18014398509481984k",     /* 2^54 * 2^10 wraps to 0 */
    "17179869184g",           /* 2^34 * 2^30 wraps to 0 */
    "16777216t",
    "99999999999999999999999",
};

Test(config_parse, size_good)
{
    for (size_t i = 0; i < N(sizes); i++) {
        uint64_t out = SENTINEL;
        int rc = parse_size_bytes(sizes[i].text, &out);
        cr_expect_eq(rc, 0, "parse_size_bytes(\"%s\") returned %d", sizes[i].text, rc);
        cr_expect_eq(out, sizes[i].want, "parse_size_bytes(\"%s\") = %llu, want %llu", sizes[i].text,
                     (unsigned long long)out, (unsigned long long)sizes[i].want);
    }
}

Test(config_parse, size_bad)
{
    for (size_t i = 0; i < N(bad_sizes); i++) {
        uint64_t out = SENTINEL;
        int rc = parse_size_bytes(bad_sizes[i], &out);
        cr_expect_eq(rc, -1, "parse_size_bytes(\"%s\") returned %d (out %llu)", bad_sizes[i], rc,
                     (unsigned long long)out);
        cr_expect_eq(out, SENTINEL, "parse_size_bytes(\"%s\") changed *out to %llu", bad_sizes[i],
                     (unsigned long long)out);
    }
}

/* ------------------------------------------------------------------- counts */

struct count_case {
    const char *text;
    uint64_t max;
    uint64_t want;
};

static const struct count_case counts[] = {
    { "1", 10, 1 },
    { "10", 10, 10 },
    { "7", 1000, 7 },
    { "1", 1, 1 },
    { "1000000", 1000000, 1000000 },
    { "18446744073709551615", UINT64_MAX, UINT64_MAX },
};

static const struct count_case bad_counts[] = {
    { "0", 10, 0 },
    { "11", 10, 0 },
    { "2", 1, 0 },
    { "", 10, 0 },
    { "12x", 100, 0 },
    { "x12", 100, 0 },
    { "-1", 10, 0 },
    { "1.0", 10, 0 },
    { "1k", 10000, 0 },
    { "18446744073709551616", UINT64_MAX, 0 },  /* 2^64 */
    { "18446744073709551617", 10, 0 },          /* wraps to 1 if unchecked */
    { "18446744073709551617", UINT64_MAX, 0 },  /* ditto, with no limit to stop it */
    { "99999999999999999999999", UINT64_MAX, 0 },
};

Test(config_parse, count_good)
{
    for (size_t i = 0; i < N(counts); i++) {
        uint64_t out = SENTINEL;
        int rc = parse_count(counts[i].text, counts[i].max, &out);
        cr_expect_eq(rc, 0, "parse_count(\"%s\", %llu) returned %d", counts[i].text,
                     (unsigned long long)counts[i].max, rc);
        cr_expect_eq(out, counts[i].want, "parse_count(\"%s\", %llu) = %llu", counts[i].text,
                     (unsigned long long)counts[i].max, (unsigned long long)out);
    }
}

Test(config_parse, count_bad)
{
    for (size_t i = 0; i < N(bad_counts); i++) {
        uint64_t out = SENTINEL;
        int rc = parse_count(bad_counts[i].text, bad_counts[i].max, &out);
        cr_expect_eq(rc, -1, "parse_count(\"%s\", %llu) returned %d (out %llu)", bad_counts[i].text,
                     (unsigned long long)bad_counts[i].max, rc, (unsigned long long)out);
        cr_expect_eq(out, SENTINEL, "parse_count(\"%s\", %llu) changed *out to %llu", bad_counts[i].text,
                     (unsigned long long)bad_counts[i].max, (unsigned long long)out);
    }
}

/* -------------------------------------------------------------------- modes */

static const struct {
    const char *text;
    enum linger_mode want;
} modes[] = {
    { "on", MODE_ON },         { "always", MODE_ALWAYS }, { "off", MODE_OFF },
    { "observe", MODE_OBSERVE }, { "ON", MODE_ON },       { "Always", MODE_ALWAYS },
    { "oFF", MODE_OFF },       { "OBSERVE", MODE_OBSERVE },
};

static const char *const bad_modes[] = { "yes", "", "o", "of", "onn", "offf", "alway", "observer", "1", "true" };

#define MODE_SENTINEL ((enum linger_mode)77)

Test(config_parse, mode_good)
{
    for (size_t i = 0; i < N(modes); i++) {
        enum linger_mode out = MODE_SENTINEL;
        int rc = parse_mode(modes[i].text, &out);
        cr_expect_eq(rc, 0, "parse_mode(\"%s\") returned %d", modes[i].text, rc);
        cr_expect_eq(out, modes[i].want, "parse_mode(\"%s\") = %d, want %d", modes[i].text, out,
                     modes[i].want);
    }
}

Test(config_parse, mode_bad)
{
    for (size_t i = 0; i < N(bad_modes); i++) {
        enum linger_mode out = MODE_SENTINEL;
        int rc = parse_mode(bad_modes[i], &out);
        cr_expect_eq(rc, -1, "parse_mode(\"%s\") returned %d", bad_modes[i], rc);
        cr_expect_eq(out, MODE_SENTINEL, "parse_mode(\"%s\") changed *out to %d", bad_modes[i], out);
    }
}

/* --------------------------------------------------------------- log levels */

static const struct {
    const char *text;
    enum log_level want;
} levels[] = {
    { "error", LOG_ERROR }, { "warn", LOG_WARN }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
    { "ERROR", LOG_ERROR }, { "Warn", LOG_WARN }, { "iNfO", LOG_INFO }, { "DEBUG", LOG_DEBUG },
};

static const char *const bad_levels[] = { "", "err", "errors", "inf", "debugx", "trace", "verbose", "3" };

#define LEVEL_SENTINEL ((enum log_level)77)

Test(config_parse, log_level_good)
{
    for (size_t i = 0; i < N(levels); i++) {
        enum log_level out = LEVEL_SENTINEL;
        int rc = parse_log_level(levels[i].text, &out);
        cr_expect_eq(rc, 0, "parse_log_level(\"%s\") returned %d", levels[i].text, rc);
        cr_expect_eq(out, levels[i].want, "parse_log_level(\"%s\") = %d, want %d", levels[i].text, out,
                     levels[i].want);
    }
}

Test(config_parse, log_level_bad)
{
    for (size_t i = 0; i < N(bad_levels); i++) {
        enum log_level out = LEVEL_SENTINEL;
        int rc = parse_log_level(bad_levels[i], &out);
        cr_expect_eq(rc, -1, "parse_log_level(\"%s\") returned %d", bad_levels[i], rc);
        cr_expect_eq(out, LEVEL_SENTINEL, "parse_log_level(\"%s\") changed *out to %d", bad_levels[i], out);
    }
}
