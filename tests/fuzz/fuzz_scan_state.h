/* fuzz_scan_state.h - what the response scanner's fuzz targets compare: two
 * scanner states field by field, and one state printed on a finding. */
#ifndef LINGER_FUZZ_SCAN_STATE_H
#define LINGER_FUZZ_SCAN_STATE_H

#include <stdio.h>

#include "scan.h"

/* True when a and b agree in every field. */
static inline int same_state(const struct scan_state *a, const struct scan_state *b)
{
    return a->remaining == b->remaining && a->status == b->status && a->line_len == b->line_len &&
           a->flags == b->flags && a->phase == b->phase && a->verdict == b->verdict &&
           a->header == b->header && a->match == b->match && a->token == b->token &&
           a->responses == b->responses;
}

/* Prints s on stderr, labelled what. */
static inline void describe(const char *what, const struct scan_state *s)
{
    fprintf(stderr, "  %s: phase=%u verdict=%u remaining=%llu status=%u line_len=%u flags=%#x "
                    "header=%u match=%u token=%#x responses=%u\n",
            what, s->phase, s->verdict, (unsigned long long)s->remaining, s->status, s->line_len,
            s->flags, s->header, s->match, s->token, s->responses);
}

#endif
