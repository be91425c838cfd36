/* fuzz_scan.c - libFuzzer target for the response scanner (shim/scan.c).
 *
 *   make fuzz FUZZ_SECONDS=60
 *
 * The input is the byte stream one connection sends. It is fed to the
 * scanner in several ways, and every way must agree:
 *
 *   1. byte by byte, keeping the state after every byte (the reference);
 *   2. all at once;
 *   3. split in two at a position derived from the input;
 *   4. in pieces whose sizes come from a PRNG seeded with a hash of the
 *      input, through scan_skip_body first, scan_feed only when it
 *      declines; a piece that falls inside a body or chunk is, at the PRNG's
 *      choice, consumed by count with scan_skip_unseen instead (as for
 *      sendfile); at the end, scan_skip_unseen runs past the body;
 *   5. in pieces again, as the shim's hot path does it: bytes that fit in
 *      the current body are counted down outside the state (from
 *      scan_skippable), and the scanner is told at its next look
 *      (scan_skipped).
 *
 * Checked after every piece: the state equals the reference state at that
 * offset, field by field (so the verdict, too); every field is within its
 * documented range; a stopped scanner (scan_is_done) never changes again.
 * scan_skip_unseen of n bytes inside a body must leave the same state as
 * feeding any n bytes there; past the body it must stop the scanner with the
 * verdict it had. Any difference, or an out-of-range field, aborts (a
 * finding); ASan and UBSan catch out-of-bounds accesses and undefined
 * behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"
#include "fuzz_rng.h"
#include "fuzz_scan_state.h"

/* scan.h documents the state as 24 bytes per socket. */
_Static_assert(sizeof(struct scan_state) == 24, "struct scan_state is documented as 24 bytes");

/* libFuzzer's -max_len for `make fuzz` (tests/fuzz/run): just past
 * SCAN_MAX_LINE, so that an over-long line is reachable; longer inputs reach
 * no other state (bodies are skipped by count). Longer ones are cut here. */
#define MAX_INPUT 20480
_Static_assert(MAX_INPUT > SCAN_MAX_LINE + 64, "inputs must be able to hold an over-long line");

/* Flag bits scan.h defines; internal values must stay within them. */
#define SF_ALL 0x0fffu

static struct scan_state ref[MAX_INPUT + 1]; /* ref[i]: state after i bytes */

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "fuzz_scan: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
            abort();                                                              \
        }                                                                         \
    } while (0)

static void expect_same(const struct scan_state *got, size_t off, const char *way)
{
    if (!same_state(got, &ref[off])) {
        fprintf(stderr, "fuzz_scan: fed %s, the state after %zu bytes differs from byte by byte\n", way, off);
        describe("got", got);
        describe("byte by byte", &ref[off]);
        abort();
    }
}

/* The documented ranges of every field. `unseen`: scan_skip_unseen ran past
 * a body, which stops the scanner with whatever verdict it had. */
static void check_ranges(const struct scan_state *s, int unseen)
{
    CHECK(s->phase <= SP_DONE, "phase %u", s->phase);
    CHECK(s->verdict <= SCAN_LOST, "verdict %u", s->verdict);
    CHECK(scan_verdict(s) == (enum scan_verdict)s->verdict, "scan_verdict()");
    /* A line is lost as soon as it passes SCAN_MAX_LINE: a live scanner never
     * holds a longer one; the stopped one may show the byte that stopped it. */
    CHECK(s->line_len <= SCAN_MAX_LINE + (s->phase == SP_DONE), "line_len %u in phase %u", s->line_len, s->phase);
    CHECK((s->flags & ~SF_ALL) == 0, "flags %#x", s->flags);
    CHECK(s->header <= 3, "header %u", s->header);
    CHECK(s->token <= 0x0f, "token %#x", s->token);
    CHECK(s->status <= 999, "status %u", s->status);
    if (s->phase == SP_BODY_LENGTH || s->phase == SP_CHUNK_DATA)
        CHECK(s->remaining > 0, "phase %u with nothing remaining", s->phase);
    if (s->phase == SP_BODY_LENGTH)
        CHECK(s->remaining < 1000000000000000000ull, "content length %llu", (unsigned long long)s->remaining);
    if (s->phase == SP_CHUNK_SIZE || s->phase == SP_CHUNK_DATA)
        CHECK(s->remaining < (1ull << 63), "chunk size %llu", (unsigned long long)s->remaining);
    if (s->phase >= SP_BODY_LENGTH && s->phase <= SP_BODY_UNTIL_CLOSE)
        CHECK(s->verdict == SCAN_KEEPALIVE || s->verdict == SCAN_CLOSE,
              "phase %u (a body) with verdict %u", s->phase, s->verdict);
    if (s->phase == SP_BODY_UNTIL_CLOSE)
        CHECK(s->verdict == SCAN_CLOSE, "body until close with verdict %u", s->verdict);
    if (!unseen) {
        CHECK((s->phase == SP_DONE) == (s->verdict == SCAN_UPGRADED || s->verdict == SCAN_LOST),
              "phase %u with verdict %u", s->phase, s->verdict);
        if (s->verdict == SCAN_KEEPALIVE || s->verdict == SCAN_CLOSE)
            CHECK(s->responses > 0, "verdict %u without a response", s->verdict);
    }
    CHECK(scan_is_done(s) == (s->phase >= SP_BODY_UNTIL_CLOSE), "scan_is_done()");
}

/* A piece size: mostly small (headers arrive in small writes), sometimes
 * large (a whole response in one write), up to left. */
static size_t piece_size(uint64_t *rng, size_t left)
{
    uint64_t r = rng_next(rng);
    size_t n;
    switch (r & 3) {
    case 0: n = 1 + (size_t)((r >> 8) % 4); break;
    case 1: n = 1 + (size_t)((r >> 8) % 32); break;
    case 2: n = 1 + (size_t)((r >> 8) % 512); break;
    default: n = 1 + (size_t)((r >> 8) % (left ? left : 1)); break;
    }
    return n < left ? n : left;
}

/* The shim's hot path: skip by count when the bytes fit in the current body
 * or chunk (or the scanner is done), else feed them. */
static void hot_feed(struct scan_state *s, const uint8_t *p, size_t n)
{
    struct scan_state before = *s;
    if (scan_skip_body(s, n)) {
        /* it must have done exactly what scan_feed does with these bytes */
        scan_feed(&before, p, n);
        CHECK(same_state(&before, s), "scan_skip_body and scan_feed disagree on %zu bytes", n);
        return;
    }
    CHECK(same_state(&before, s), "scan_skip_body declined but changed the state");
    scan_feed(s, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        size = MAX_INPUT;
    uint64_t h = hash_input(data, size);

    /* 1. byte by byte: the reference */
    scan_init(&ref[0]);
    check_ranges(&ref[0], 0);
    CHECK(ref[0].verdict == SCAN_NONE && ref[0].phase == SP_START, "scan_init");
    for (size_t i = 0; i < size; i++) {
        ref[i + 1] = ref[i];
        enum scan_verdict v = scan_feed(&ref[i + 1], data + i, 1);
        CHECK(v == scan_verdict(&ref[i + 1]), "scan_feed returned %d, state says %d", v, ref[i + 1].verdict);
        check_ranges(&ref[i + 1], 0);
        if (scan_is_done(&ref[i]))
            CHECK(same_state(&ref[i], &ref[i + 1]), "a stopped scanner changed at byte %zu", i);
        CHECK(ref[i + 1].responses >= ref[i].responses, "responses went down at byte %zu", i);
        if (ref[i].verdict == SCAN_UPGRADED || ref[i].verdict == SCAN_LOST)
            CHECK(ref[i + 1].verdict == ref[i].verdict, "a final verdict changed at byte %zu", i);
    }
    CHECK(strcmp(scan_verdict_name(scan_verdict(&ref[size])), "?") != 0, "verdict %u has no name",
          ref[size].verdict);
    struct scan_state z = ref[size]; /* a zero-length feed changes nothing */
    scan_feed(&z, data, 0);
    CHECK(same_state(&z, &ref[size]), "an empty feed changed the state");

    /* 2. all at once */
    struct scan_state s;
    scan_init(&s);
    enum scan_verdict v = scan_feed(&s, data, size);
    CHECK(v == scan_verdict(&s), "scan_feed's return value");
    expect_same(&s, size, "all at once");

    /* 3. two pieces */
    if (size > 1) {
        size_t cut = 1 + (size_t)(h >> 7) % (size - 1);
        scan_init(&s);
        scan_feed(&s, data, cut);
        expect_same(&s, cut, "in two pieces");
        scan_feed(&s, data + cut, size - cut);
        expect_same(&s, size, "in two pieces");
    }

    /* 4. PRNG pieces through the hot path, bodies sometimes skipped unseen */
    uint64_t rng = h;
    scan_init(&s);
    for (size_t off = 0; off < size;) {
        size_t n = piece_size(&rng, size - off);
        uint64_t r = rng_next(&rng);
        int in_body = s.phase == SP_BODY_LENGTH || s.phase == SP_CHUNK_DATA;
        if (in_body && n <= s.remaining && (r & 1)) {
            CHECK(scan_skip_unseen(&s, n) == 1, "scan_skip_unseen of %zu <= remaining refused", n);
        } else if (scan_is_done(&s) && (r & 2)) {
            struct scan_state before = s;
            CHECK(scan_skip_unseen(&s, n) == 1, "scan_skip_unseen on a stopped scanner refused");
            CHECK(same_state(&before, &s), "scan_skip_unseen changed a stopped scanner");
        } else {
            hot_feed(&s, data + off, n);
        }
        off += n;
        expect_same(&s, off, "in pieces through scan_skip_body and scan_skip_unseen");
    }
    /* running past the body (or sending unseen bytes outside one) stops the
     * scanner with the verdict it had */
    if (!scan_is_done(&s)) {
        struct scan_state before = s;
        uint64_t n = (s.phase == SP_BODY_LENGTH || s.phase == SP_CHUNK_DATA) ? s.remaining + 1 + (h & 0xff)
                                                                            : 1 + (h & 0xff);
        CHECK(scan_skip_unseen(&s, n) == 0, "scan_skip_unseen past the body accepted");
        CHECK(s.phase == SP_DONE && s.verdict == before.verdict && s.responses == before.responses,
              "scan_skip_unseen past the body: phase %u verdict %u (had %u)", s.phase, s.verdict, before.verdict);
        check_ranges(&s, 1);
        struct scan_state stopped = s;
        scan_feed(&s, data, size);
        CHECK(same_state(&stopped, &s), "a scanner stopped by scan_skip_unseen took more bytes");
    }

    /* 5. the shim's deferred count: pieces inside a body are counted down
     * outside the state (skip) and the scanner catches up at its next look */
    rng = h ^ 0x9e3779b97f4a7c15ull;
    scan_init(&s);
    uint64_t skip = 0;
    for (size_t off = 0; off < size;) {
        size_t n = piece_size(&rng, size - off);
        if (n < skip) {
            skip -= n;
        } else {
            if (skip)
                scan_skipped(&s, scan_skippable(&s) - skip);
            scan_feed(&s, data + off, n);
            skip = scan_skippable(&s);
        }
        off += n;
        struct scan_state caught_up = s;
        if (skip)
            scan_skipped(&caught_up, scan_skippable(&caught_up) - skip);
        expect_same(&caught_up, off, "in pieces counted down outside the state");
    }
    return 0;
}
