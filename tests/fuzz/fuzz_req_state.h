/* fuzz_req_state.h - the request fuzz targets' comparison of two request
 * scanner states, field by field, and their printout on a finding. */
#ifndef LINGER_FUZZ_REQ_STATE_H
#define LINGER_FUZZ_REQ_STATE_H

#include <stdio.h>

#include "reqscan.h"

/* True when a and b agree in every field. */
static inline int same(const struct req_state *a, const struct req_state *b)
{
    return a->remaining == b->remaining && a->body == b->body && a->left == b->left &&
           a->item == b->item && a->flags == b->flags && a->proto == b->proto &&
           a->phase == b->phase && a->match == b->match && a->sub == b->sub &&
           a->aux == b->aux && a->requests == b->requests;
}

/* Prints s on stderr, labelled what. */
static inline void describe(const char *what, const struct req_state *s)
{
    fprintf(stderr, "  %s: proto=%u phase=%u flags=%#x remaining=%llu body=%llu left=%u item=%u "
                    "match=%u sub=%u aux=%u requests=%u\n",
            what, s->proto, s->phase, s->flags, (unsigned long long)s->remaining,
            (unsigned long long)s->body, s->left, s->item, s->match, s->sub, s->aux, s->requests);
}

#endif
