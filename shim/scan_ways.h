/* scan_ways.h - the two ways the response scanner's fast path reads bytes
 * (scan_fast.c): SSE2 (or plain C where there is no SSE2), and AVX2+BMI2
 * (HAVE_AVX2_WAY where the build has it; cpu_way.h chooses). What each way
 * gives: 16-byte blocks as bits (for line_shape), 32-byte spans (for
 * scan_lines.h), 64 or 32 bytes as the masks of scan_bits.h (for
 * scan_whole.h and scan_quick.h), a & ~b, and the usual lines of
 * scan_usual.h compared. Internal to scan_fast.c (which includes it once).
 * Pure: no syscalls.
 */
#ifndef LINGER_SCAN_WAYS_H
#define LINGER_SCAN_WAYS_H

#include "scan_bits.h"
#include "scan_usual.h"

#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* A block of 16 bytes, one bit per byte (bit i: byte i). `stop`: the byte
 * cannot be inside a header name as the fast path takes it (a CTL, SP, ':',
 * DEL, or a byte >= 0x80: names holding those go the byte-at-a-time way).
 * `eol`: the byte is in 0x08..0x0f, which holds CR, LF (and HT, ...). */
/* 16 bytes as the blocks below read them: a vector, or where there is no
 * SSE2, a pointer to them. */
#ifdef __SSE2__
typedef __m128i block16;
#else
typedef const unsigned char *block16;
#endif

#ifdef __SSE2__
static inline unsigned stop_bits(__m128i v)
{
    /* c + 1 > 0x21 as signed bytes: c is 0x21..0x7e (DEL and c <= 0x20
     * fail it, and so do the bytes >= 0x80) */
    const __m128i plain = _mm_cmpgt_epi8(_mm_add_epi8(v, _mm_set1_epi8(1)), _mm_set1_epi8(0x21));
    const __m128i name = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(':')), plain);
    return (unsigned)_mm_movemask_epi8(name) ^ 0xffffu;
}

static inline unsigned eol_bits(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(7)), _mm_set1_epi8(0x0f)));
}

static inline __m128i load16(const unsigned char *q)
{
    return _mm_loadu_si128((const __m128i *)(const void *)q);
}
#else
static inline unsigned stop_bits(const unsigned char *q)
{
    unsigned m = 0;
    for (unsigned i = 0; i < 16; i++)
        m |= (unsigned)(q[i] <= 0x20 || q[i] >= 0x7f || q[i] == ':') << i;
    return m;
}

static inline unsigned eol_bits(const unsigned char *q)
{
    unsigned m = 0;
    for (unsigned i = 0; i < 16; i++)
        m |= (unsigned)((q[i] | 7) == 0x0f) << i;
    return m;
}

static inline const unsigned char *load16(const unsigned char *q) { return q; }
#endif

/* 32 bytes, one bit per byte: `lf` LF, `cr` CR, `stop` as in the blocks
 * above (where a way reads fewer bytes for it, the rest are set). */
struct span {
    unsigned stop, lf, cr;
};

/* The byte values the ways compare with, 32 of each, read from memory
 * through a pointer the compiler cannot see into (span_consts). */
static const unsigned char span_bytes[6][32] __attribute__((aligned(32))) = {
    { [0 ... 31] = 0x22 }, { [0 ... 31] = 1 }, { [0 ... 31] = ':' }, { [0 ... 31] = '\n' }, { [0 ... 31] = '\r' },
    { [0 ... 31] = 0x21 },
};
#define SPAN_C22 0
#define SPAN_ONE 1
#define SPAN_COLON 2
#define SPAN_LF 3
#define SPAN_CR 4
#define SPAN_C21 5

/* span_bytes, made again where it is used (a volatile barrier): else the
 * compiler builds each constant again in registers at every line, or loads
 * them all into registers before a loop that uses a few once. */
static inline const unsigned char (*span_consts(void))[32]
{
    const unsigned char(*k)[32] = span_bytes;
    __asm__ volatile("" : "+r"(k));
    return k;
}

#ifdef __SSE2__
struct consts_sse2 {
    __m128i c22, one, colon, lf, cr;
};
#define CONSTS_SSE2(k)                                                                              \
    const unsigned char(*k##_b)[32] = span_consts();                                                \
    struct consts_sse2 k = { load16(k##_b[SPAN_C22]), load16(k##_b[SPAN_ONE]), load16(k##_b[SPAN_COLON]), \
                             load16(k##_b[SPAN_LF]), load16(k##_b[SPAN_CR]) }

static inline struct span span_sse2(const unsigned char *p, const struct consts_sse2 *k)
{
    const __m128i a = load16(p), b = load16(p + 16);
    /* 0x22 > c + 1 as signed bytes: c <= 0x20, DEL, or c >= 0x80 */
    const __m128i odd = _mm_cmpgt_epi8(k->c22, _mm_add_epi8(a, k->one));
    struct span m;
    m.stop = (unsigned)_mm_movemask_epi8(_mm_or_si128(odd, _mm_cmpeq_epi8(a, k->colon))) | 0xffff0000u;
    m.lf = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, k->lf))
           | (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, k->lf)) << 16;
    m.cr = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, k->cr))
           | (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, k->cr)) << 16;
    return m;
}
#else
struct consts_sse2 {
    int none;
};
#define CONSTS_SSE2(k) struct consts_sse2 k = { 0 }

static inline struct span span_sse2(const unsigned char *p, const struct consts_sse2 *k)
{
    struct span m = { 0, 0, 0 };
    (void)k;
    for (unsigned i = 0; i < 32; i++) {
        m.lf |= (unsigned)(p[i] == '\n') << i;
        m.cr |= (unsigned)(p[i] == '\r') << i;
    }
    m.stop = stop_bits(p) | 0xffff0000u;
    return m;
}
#endif

/* The n bytes at q (32 or 64) as bit masks (scan_bits.h), the byte values
 * read from the table k where the instructions use them. */
static inline struct masks64 masks_n_sse2(const unsigned char *q, const unsigned char (*k)[32], unsigned n)
{
    struct masks64 m = { 0, 0, 0 };
#ifdef __SSE2__
    for (unsigned i = 0; i < n; i += 16) {
        const __m128i a = load16(q + i);
        /* c + 1 > 0x21 as signed bytes: c is 0x21..0x7e */
        const __m128i plain = _mm_cmpgt_epi8(_mm_add_epi8(a, load16(k[SPAN_ONE])), load16(k[SPAN_C21]));
        const __m128i lfc = _mm_or_si128(_mm_cmpeq_epi8(a, load16(k[SPAN_LF])), _mm_cmpeq_epi8(a, load16(k[SPAN_COLON])));
        m.lfc |= (uint64_t)(unsigned)_mm_movemask_epi8(lfc) << i;
        m.plain |= (uint64_t)(unsigned)_mm_movemask_epi8(plain) << i;
        m.cr |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, load16(k[SPAN_CR]))) << i;
    }
#else
    (void)k;
    for (unsigned i = 0; i < n; i++) {
        m.lfc |= (uint64_t)(q[i] == '\n' || q[i] == ':') << i;
        m.plain |= (uint64_t)(q[i] > 0x20 && q[i] < 0x7f) << i;
        m.cr |= (uint64_t)(q[i] == '\r') << i;
    }
#endif
    return m;
}

/* The 64 bytes at q as masks. */
static inline struct masks64 masks_sse2(const unsigned char *q, const unsigned char (*k)[32])
{
    return masks_n_sse2(q, k, 64);
}

/* The 32 bytes at q as masks (bits 32 to 63 clear). */
static inline struct masks64 masks32_sse2(const unsigned char *q, const unsigned char (*k)[32])
{
    return masks_n_sse2(q, k, 32);
}

/* a & ~b (the AVX2 way has an instruction for it). */
static inline uint64_t and_not_sse2(uint64_t a, uint64_t b)
{
    return a & ~b;
}

#if defined(__x86_64__) && defined(__GNUC__) && defined(__SSE2__)
#include <immintrin.h>
#define HAVE_AVX2_WAY 1
#define AVX2 __attribute__((target("avx2,bmi,bmi2")))

struct consts_avx2 {
    __m256i c22, one, colon, lf, cr;
};
#define LOAD32(q) _mm256_load_si256((const __m256i *)(const void *)(q))
#define CONSTS_AVX2(k)                                                                                      \
    const unsigned char(*k##_b)[32] = span_consts();                                                        \
    struct consts_avx2 k = { LOAD32(k##_b[SPAN_C22]), LOAD32(k##_b[SPAN_ONE]), LOAD32(k##_b[SPAN_COLON]), \
                             LOAD32(k##_b[SPAN_LF]), LOAD32(k##_b[SPAN_CR]) }

static inline AVX2 struct span span_avx2(const unsigned char *p, const struct consts_avx2 *k)
{
    const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    const __m256i odd = _mm256_cmpgt_epi8(k->c22, _mm256_add_epi8(v, k->one));
    struct span m;
    m.stop = (unsigned)_mm256_movemask_epi8(_mm256_or_si256(odd, _mm256_cmpeq_epi8(v, k->colon)));
    m.lf = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, k->lf));
    m.cr = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, k->cr));
    return m;
}

/* masks_sse2, 32 bytes at a time. */
static inline AVX2 struct masks64 masks_avx2(const unsigned char *q, const unsigned char (*k)[32])
{
    const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)q);
    const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32));
    const __m256i plain_a = _mm256_cmpgt_epi8(_mm256_add_epi8(a, LOAD32(k[SPAN_ONE])), LOAD32(k[SPAN_C21]));
    const __m256i plain_b = _mm256_cmpgt_epi8(_mm256_add_epi8(b, LOAD32(k[SPAN_ONE])), LOAD32(k[SPAN_C21]));
#define MASK64(x, y) ((uint64_t)(uint32_t)_mm256_movemask_epi8(x) | (uint64_t)(uint32_t)_mm256_movemask_epi8(y) << 32)
    struct masks64 m;
    m.lfc = MASK64(_mm256_or_si256(_mm256_cmpeq_epi8(a, LOAD32(k[SPAN_LF])), _mm256_cmpeq_epi8(a, LOAD32(k[SPAN_COLON]))),
                   _mm256_or_si256(_mm256_cmpeq_epi8(b, LOAD32(k[SPAN_LF])), _mm256_cmpeq_epi8(b, LOAD32(k[SPAN_COLON]))));
    m.plain = MASK64(plain_a, plain_b);
    m.cr = MASK64(_mm256_cmpeq_epi8(a, LOAD32(k[SPAN_CR])), _mm256_cmpeq_epi8(b, LOAD32(k[SPAN_CR])));
#undef MASK64
    return m;
}

/* masks32_sse2, at once. */
static inline AVX2 struct masks64 masks32_avx2(const unsigned char *q, const unsigned char (*k)[32])
{
    const __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)q);
    struct masks64 m;
    m.lfc = (uint32_t)_mm256_movemask_epi8(
        _mm256_or_si256(_mm256_cmpeq_epi8(a, LOAD32(k[SPAN_LF])), _mm256_cmpeq_epi8(a, LOAD32(k[SPAN_COLON]))));
    m.plain = (uint32_t)_mm256_movemask_epi8(
        _mm256_cmpgt_epi8(_mm256_add_epi8(a, LOAD32(k[SPAN_ONE])), LOAD32(k[SPAN_C21])));
    m.cr = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, LOAD32(k[SPAN_CR])));
    return m;
}

/* a & ~b, as one instruction the compiler keeps (else it makes a NOT it
 * shares, and a move and an AND of each use). */
static inline AVX2 uint64_t and_not_avx2(uint64_t a, uint64_t b)
{
    uint64_t r;
    __asm__("andnq %2, %1, %0" : "=r"(r) : "r"(b), "rm"(a));
    return r;
}

/* usual_line_sse2 (scan_usual.h), the 32 bytes compared at once. */
static inline AVX2 __attribute__((always_inline)) int usual_line_avx2(const unsigned char *a, enum usual_line i)
{
    const struct usual32 *const u = usual_line_at(i);
    const __m256i x = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(const void *)a), LOAD32(u->lower));
    return _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, LOAD32(u->want))) == -1;
}
#endif

#endif
