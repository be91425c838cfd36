/* req_check.h - what every request scanner test checks (tests/unit/test_req_*.c).
 *
 * A case is every byte the app consumes from one connection, and what the
 * state must say after all of it. check_req_case() feeds the bytes whole,
 * one byte at a time, split in two at every position, and in random pieces
 * through the hot path's skip-by-count (req_skippable/req_skipped), and
 * demands the same state, field by field, each time.
 */
#ifndef REQ_CHECK_H
#define REQ_CHECK_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reqscan.h"

#define LEFT_UNKNOWN UINT64_MAX

struct req_case {
    const char *name;
    const unsigned char *bytes;
    size_t len;
    enum req_proto proto;
    int pending;        /* req_body_pending */
    uint64_t left;      /* req_body_left */
    int announced;      /* req_announced_body */
    int requests;       /* complete heads; -1: do not check */
    int stopped;        /* req_is_stopped */
};

static inline int req_same(const struct req_state *a, const struct req_state *b)
{
    return a->remaining == b->remaining && a->body == b->body && a->left == b->left &&
           a->item == b->item && a->flags == b->flags && a->proto == b->proto &&
           a->phase == b->phase && a->match == b->match && a->sub == b->sub &&
           a->aux == b->aux && a->requests == b->requests;
}

/* Feeds len bytes in pieces of random sizes, the way the shim's read hook
 * does: a piece that fits in the counted body is counted down by
 * req_skipped, the rest goes through req_feed. */
static inline void req_feed_pieces(struct req_state *s, const unsigned char *b, size_t len, unsigned seed)
{
    size_t off = 0;
    while (off < len) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 8) % 37;
        if ((seed >> 20) & 1)
            n = 1 + (seed >> 8) % 5000;
        if (n > len - off)
            n = len - off;
        if (n < req_skippable(s))
            req_skipped(s, n);
        else
            req_feed(s, b + off, n);
        off += n;
    }
}

static inline void check_req_case(const struct req_case *c)
{
    struct req_state whole, s;
    req_init(&whole);
    req_feed(&whole, c->bytes, c->len);
    cr_expect_eq(whole.proto, (uint8_t)c->proto, "%s: proto %s", c->name, req_proto_name(whole.proto));
    cr_expect_eq(req_body_pending(&whole), c->pending, "%s: pending", c->name);
    cr_expect_eq(req_body_left(&whole), c->left, "%s: left %llu", c->name,
                 (unsigned long long)req_body_left(&whole));
    cr_expect_eq(req_announced_body(&whole), c->announced, "%s: announced", c->name);
    cr_expect_eq(req_is_stopped(&whole), c->stopped, "%s: stopped (phase %u)", c->name, whole.phase);
    if (c->requests >= 0)
        cr_expect_eq(whole.requests, c->requests, "%s: requests %u", c->name, whole.requests);
    if (req_is_stopped(&whole))
        cr_expect(!req_body_pending(&whole) && !req_announced_body(&whole),
                  "%s: a stopped scanner claims a body", c->name);

    req_init(&s);
    for (size_t i = 0; i < c->len; i++)
        req_feed(&s, c->bytes + i, 1);
    cr_expect(req_same(&s, &whole), "%s: byte by byte differs", c->name);

    for (size_t cut = 0; cut <= c->len; cut++) {
        req_init(&s);
        req_feed(&s, c->bytes, cut);
        req_feed(&s, c->bytes + cut, c->len - cut);
        if (!req_same(&s, &whole)) {
            cr_expect(0, "%s: split at %zu differs", c->name, cut);
            break;
        }
    }
    for (unsigned seed = 1; seed <= 20; seed++) {
        req_init(&s);
        req_feed_pieces(&s, c->bytes, c->len, seed);
        if (!req_same(&s, &whole)) {
            cr_expect(0, "%s: random pieces (seed %u) differ", c->name, seed);
            break;
        }
    }
}

/* A case from a string literal. */
#define RCASE(name, str, proto, pending, left, announced, requests, stopped) \
    { name, (const unsigned char *)(str), sizeof(str) - 1, proto, pending, left, announced, requests, stopped }

#endif
