/* fuzz_req.c - libFuzzer target for the request scanners (shim/req_*.c).
 *
 *   make fuzz   (runs it after fuzz_scan, for FUZZ_REQ_SECONDS)
 *
 * The input is the byte stream the app consumes from one connection. It is
 * fed to the scanner in several ways, and every way must agree:
 *
 *   1. byte by byte, keeping the state after every byte (the reference);
 *   2. all at once;
 *   3. split in two at a position derived from the input;
 *   4. in pieces whose sizes come from a PRNG seeded with a hash of the
 *      input, through the read hook's skip-by-count (req_skippable,
 *      req_skipped) first, req_feed only when it declines.
 *
 * Checked after every byte of the reference: every field within its range;
 * a stopped scanner never changes again and claims no body; the protocol,
 * once learnt, never changes; req_body_left is 0 exactly when no body is
 * pending. Checked after every piece: the state equals the reference at that
 * offset, field by field. Any difference aborts (a finding); ASan and UBSan
 * catch out-of-bounds accesses and undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reqscan.h"
#include "fuzz_req_state.h"

_Static_assert(sizeof(struct req_state) == 32, "struct req_state is documented as 32 bytes");

/* libFuzzer's -max_len (tests/fuzz/run): past REQ_MAX_LINE, so that an
 * over-long line is reachable. */
#define MAX_INPUT 20480
_Static_assert(MAX_INPUT > REQ_MAX_LINE + 64, "inputs must be able to hold an over-long line");

static struct req_state ref[MAX_INPUT + 1]; /* ref[i]: state after i bytes */

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fuzz_req: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
            abort();                                                             \
        }                                                                        \
    } while (0)

static void expect_ref(const struct req_state *got, size_t off, const char *way)
{
    if (!same(got, &ref[off])) {
        describe("reference", &ref[off]);
        describe(way, got);
        CHECK(0, "%s differs from byte-by-byte after %zu bytes", way, off);
    }
}

/* Invariants of one state, and of the step from prev to s. */
static void check_state(const struct req_state *prev, const struct req_state *s, size_t off)
{
    CHECK((s->flags & ~RQ_ALL_FLAGS) == 0, "unknown flags %#x at %zu", s->flags, off);
    CHECK(s->proto <= REQ_PROTO_FCGI, "proto %u at %zu", s->proto, off);
    CHECK(s->left <= (1u << 20), "left %u at %zu", s->left, off);
    CHECK(s->remaining <= REQ_MAX_LENGTH, "remaining %llu at %zu", (unsigned long long)s->remaining, off);
    CHECK((req_body_left(s) != 0) == req_body_pending(s), "left/pending disagree at %zu", off);
    if (req_is_stopped(s))
        CHECK(!req_body_pending(s) && !req_announced_body(s), "stopped scanner claims a body at %zu", off);
    if (s->phase == REQ_P_BODY)
        CHECK(s->remaining > 0, "an empty counted body at %zu", off);
    if (prev) {
        if (req_is_stopped(prev))
            CHECK(same(prev, s), "a stopped scanner changed at %zu", off);
        if (prev->proto != REQ_PROTO_NONE)
            CHECK(prev->proto == s->proto, "protocol changed at %zu", off);
        CHECK(s->requests >= prev->requests, "request count fell at %zu", off);
    }
}

static uint32_t hash(const uint8_t *d, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ d[i]) * 16777619u;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        size = MAX_INPUT;
    req_init(&ref[0]);
    check_state(NULL, &ref[0], 0);
    for (size_t i = 0; i < size; i++) {
        ref[i + 1] = ref[i];
        req_feed(&ref[i + 1], data + i, 1);
        check_state(&ref[i], &ref[i + 1], i + 1);
    }

    struct req_state s;
    req_init(&s);
    req_feed(&s, data, size);
    expect_ref(&s, size, "whole");

    uint32_t h = hash(data, size);
    size_t cut = size ? h % (size + 1) : 0;
    req_init(&s);
    req_feed(&s, data, cut);
    expect_ref(&s, cut, "first part");
    req_feed(&s, data + cut, size - cut);
    expect_ref(&s, size, "split in two");

    uint32_t r = h | 1;
    req_init(&s);
    size_t off = 0;
    while (off < size) {
        r ^= r << 13;
        r ^= r >> 17;
        r ^= r << 5;
        size_t n = 1 + (r % 4 == 0 ? r % 4096 : r % 17);
        if (n > size - off)
            n = size - off;
        if (n < req_skippable(&s))
            req_skipped(&s, n);
        else
            req_feed(&s, data + off, n);
        off += n;
        expect_ref(&s, off, "random pieces");
    }
    return 0;
}
