/* fuzz_rng.h - the fuzz targets' reproducible randomness: piece sizes and
 * choices drawn from a generator seeded by the input itself, so that a
 * saved input replays the same run. */
#ifndef LINGER_FUZZ_RNG_H
#define LINGER_FUZZ_RNG_H

#include <stddef.h>
#include <stdint.h>

/* xorshift64*: the next number of the sequence in *x (never 0). */
static inline uint64_t rng_next(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545f4914f6cdd1dull;
}

/* The seed for input p of n bytes: FNV-1a, made odd so it is never 0. */
static inline uint64_t hash_input(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h | 1;
}

#endif
