/* fuzz_req_diff.c - libFuzzer target: the HTTP request scanner's fast path
 * against its reference (shim/req_http_fast.c's req_http_feed against
 * shim/req_http.c's req_http_feed_ref, the byte machine).
 *
 * The input is the byte stream the app consumes from one connection, taken
 * as HTTP whatever its first byte (the scanner is started in the HTTP
 * protocol, so that no input is spent on the others). It is cut into
 * pieces whose sizes come from a PRNG seeded with a hash of the input
 * (short ones, a head's lines, longer ones, the whole rest), and fed to the
 * fast path; after every piece, every field of its state must equal the
 * reference's after the same bytes fed one at a time. The reference is fed
 * the same pieces too and must agree with itself (its own answer must not
 * depend on the cuts), and the fast path is fed the whole input in one
 * piece; all of it in each of the fast path's ways (req_http_fast_way: the
 * whole-head pass of shim/req_whole.h, and line by line). Any difference aborts (a finding); ASan and UBSan catch
 * out-of-bounds reads (the fast path reads eight bytes at a time) and
 * undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "req_http.h"
#include "fuzz_req_state.h"
#include "fuzz_rng.h"

/* As fuzz_req.c: past REQ_MAX_LINE, so that an over-long line is reachable. */
#define MAX_INPUT 20480

static struct req_state ref[MAX_INPUT + 1]; /* ref[i]: the reference's state after i bytes */

/* The state before a connection's first byte, its protocol HTTP. */
static void start_http(struct req_state *s)
{
    req_init(s);
    s->proto = REQ_PROTO_HTTP;
}

/* A piece size: a few bytes, a head's lines, longer, or the whole rest. */
static size_t piece_size(uint64_t *rng, size_t left)
{
    uint64_t r = rng_next(rng);
    size_t n;
    switch (r & 3) {
    case 0: n = 1 + (size_t)((r >> 8) % 15); break;
    case 1: n = 16 + (size_t)((r >> 8) % 81); break;
    case 2: n = 1 + (size_t)((r >> 8) % 600); break;
    default: n = left; break;
    }
    return n < left ? n : left;
}

static void expect_ref(const struct req_state *got, size_t off, size_t piece, size_t size, const char *way)
{
    if (!same(got, &ref[off])) {
        fprintf(stderr, "fuzz_req_diff: %s: after a piece of %zu bytes ending at %zu of %zu, "
                        "the state differs from the reference fed byte by byte\n", way, piece, off, size);
        describe(way, got);
        describe("reference", &ref[off]);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        size = MAX_INPUT;
    start_http(&ref[0]);
    for (size_t i = 0; i < size; i++) {
        ref[i + 1] = ref[i];
        req_http_feed_ref(&ref[i + 1], data + i, 1);
    }

    /* both ways of the fast path: with the whole-head pass (where the CPU
     * has it) and line by line only */
    int ways = req_http_fast_way(1) + 1;
    for (int w = ways - 1; w >= 0; w--) {
        req_http_fast_way(w);
        struct req_state fast, slow;
        start_http(&fast);
        req_http_feed(&fast, data, size);
        expect_ref(&fast, size, size, size, w ? "fast path (whole-head pass), whole" : "fast path, whole");

        uint64_t rng = hash_input(data, size);
        start_http(&fast);
        start_http(&slow);
        for (size_t off = 0; off < size;) {
            size_t n = piece_size(&rng, size - off);
            req_http_feed(&fast, data + off, n);
            req_http_feed_ref(&slow, data + off, n);
            off += n;
            expect_ref(&fast, off, n, size, w ? "fast path (whole-head pass), in pieces" : "fast path, in pieces");
            expect_ref(&slow, off, n, size, "reference, in pieces");
        }
    }
    return 0;
}
