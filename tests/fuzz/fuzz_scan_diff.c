/* fuzz_scan_diff.c - libFuzzer target: the scanner's fast path against its
 * reference (shim/scan_fast.c against shim/scan_ref.c).
 *
 * The input is the byte stream one connection sends. It is cut into pieces
 * whose sizes come from a PRNG seeded with a hash of the input (mostly
 * pieces long enough for the fast path, some short, some the whole rest),
 * and fed to scan_feed (the fast path). After every piece, every field of
 * its state must equal the state scan_feed_ref (the byte-by-byte machine)
 * has after the same bytes (computed once, a byte at a time: the reference
 * reaches the same state however its bytes are cut). This is done once for each way the fast
 * path reads heads (SSE2, and AVX2 where the CPU has it), each with its own
 * cuts, and once more with the whole input in one piece. Any difference
 * aborts (a finding); ASan and UBSan catch out-of-bounds reads (the fast
 * path reads 16 and 32 bytes at a time) and undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan_machine.h"
#include "fuzz_rng.h"
#include "fuzz_scan_state.h"

/* As fuzz_scan.c: just past SCAN_MAX_LINE; longer inputs are cut here. */
#define MAX_INPUT 20480

/* A piece size: short (under the fast path's 16 bytes), a head's lines
 * (16 to 96), longer, or the whole rest. */
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

static struct scan_state ref[MAX_INPUT + 1]; /* ref[i]: the reference's state after i bytes */

/* Feeds data in the pieces rng chooses (or whole when rng is NULL) to the
 * fast path, comparing with the reference after every piece. */
static void compare(const uint8_t *data, size_t size, uint64_t *rng, const char *way)
{
    struct scan_state fast;
    scan_init(&fast);
    for (size_t off = 0; off < size;) {
        size_t n = rng ? piece_size(rng, size - off) : size;
        enum scan_verdict v = scan_feed(&fast, data + off, n);
        off += n;
        if (v != scan_verdict(&fast) || !same_state(&fast, &ref[off])) {
            fprintf(stderr, "fuzz_scan_diff: %s: after a piece of %zu bytes ending at %zu of %zu, "
                            "the fast path and the reference differ\n", way, n, off, size);
            describe("fast path", &fast);
            describe("reference", &ref[off]);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        size = MAX_INPUT;
    scan_init(&ref[0]);
    for (size_t i = 0; i < size; i++) {
        ref[i + 1] = ref[i];
        scan_feed_ref(&ref[i + 1], data + i, 1);
    }
    uint64_t rng = hash_input(data, size);
    int ways = scan_fast_way(1) + 1; /* 2 when the CPU has AVX2 */
    for (int w = 0; w < ways; w++) {
        scan_fast_way(w);
        compare(data, size, &rng, w ? "AVX2 way, in pieces" : "SSE2 way, in pieces");
    }
    compare(data, size, NULL, ways > 1 ? "AVX2 way, whole" : "SSE2 way, whole");
    return 0;
}
