/* scan_usual.h - what the fast path's quick way (scan_quick.h) knows of
 * the usual response head: its status line; the header lines of ours most
 * servers write, byte for byte but for case, as 32-byte templates (16-byte
 * ones for those ending in LF alone) compared at once; a short
 * Content-Length read in one word; and the end of a usual head as a table
 * of the state's words. Each gives the state the reference machine
 * (scan_ref.c) reaches on the same bytes. Internal to scan_fast.c (which
 * includes it once). Pure: no syscalls.
 */
#ifndef LINGER_SCAN_USUAL_H
#define LINGER_SCAN_USUAL_H

#include "scan_machine.h"
#include "scan_bits.h"
#include "scan_values.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* 16 bytes a line must hold, where `lower` has 0x20 the byte may be in
 * either case (a letter: OR-ing 0x20 lowers it, and only its capital
 * becomes it so), 0 where it must be exactly `want`. */
struct usual16 {
    unsigned char want[16], lower[16];
};

/* A letter of want[i] (lower case) gets 0x20 in lower. */
#define U_LOWER(s, i) (unsigned char)((s)[i] >= 'a' && (s)[i] <= 'z' ? 0x20 : 0)
#define U_MASK(s)                                                                                             \
    {                                                                                                         \
        U_LOWER(s, 0), U_LOWER(s, 1), U_LOWER(s, 2), U_LOWER(s, 3), U_LOWER(s, 4), U_LOWER(s, 5),             \
            U_LOWER(s, 6), U_LOWER(s, 7), U_LOWER(s, 8), U_LOWER(s, 9), U_LOWER(s, 10), U_LOWER(s, 11),       \
            U_LOWER(s, 12), U_LOWER(s, 13), U_LOWER(s, 14), U_LOWER(s, 15)                                    \
    }
#define USUAL16(s) { s, U_MASK(s) }

/* The usual lines ending in LF alone, in pieces of 16 bytes (those ending
 * in CR LF are the 32-byte templates below), and the start of the usual
 * Content-Length line. */
enum usual_piece {
    U_KEEP_A,               /* "Connection: keep-alive" */
    U_CLOSE_A,              /* "Connection: close" */
    U_LENGTH,               /* "Content-Length: " (then the number, CR LF) */
    U_CHUNKED_A,            /* "Transfer-Encoding: chunked" */
    U_KEEP_LF, U_CLOSE_LF, U_CHUNKED_LF, /* their ends, in LF alone (with *_A) */
};
static const struct usual16 usual[] __attribute__((aligned(16))) = {
    [U_KEEP_A] = USUAL16("connection: keep"),
    [U_CLOSE_A] = USUAL16("connection: clos"),
    [U_LENGTH] = USUAL16("content-length: "),
    [U_CHUNKED_A] = USUAL16("transfer-encodin"),
    [U_KEEP_LF] = USUAL16("ion: keep-alive\n"), [U_CLOSE_LF] = USUAL16("nnection: close\n"),
    [U_CHUNKED_LF] = USUAL16("coding: chunked\n"),
};
#undef USUAL16
#undef U_MASK
#undef U_LOWER

/* The usual lines of ours ending in CR LF, each as the 32 bytes that end
 * with its LF: `want` and `lower` as in usual16, and 0xff in both for the
 * bytes before the line (any byte matches them). */
struct usual32 {
    unsigned char want[32], lower[32];
};
#define U32_N(s) (sizeof(s) - 1)
#define U32_C(s, i) (unsigned char)(s)[(i) + U32_N(s) >= 32 ? (i) + U32_N(s) - 32 : 0]
#define U32_W(s, i) ((i) + U32_N(s) >= 32 ? U32_C(s, i) : 0xff)
#define U32_L(s, i) ((i) + U32_N(s) >= 32 ? (U32_C(s, i) >= 'a' && U32_C(s, i) <= 'z' ? 0x20 : 0) : 0xff)
#define U32_8(F, s, i) F(s, i), F(s, i + 1), F(s, i + 2), F(s, i + 3), F(s, i + 4), F(s, i + 5), F(s, i + 6), F(s, i + 7)
#define U32_ALL(F, s) { U32_8(F, s, 0), U32_8(F, s, 8), U32_8(F, s, 16), U32_8(F, s, 24) }
#define USUAL32(s) { U32_ALL(U32_W, s), U32_ALL(U32_L, s) }

/* The lines, and how far before the ':' their 32 bytes start. */
enum usual_line { U32_KEEP, U32_CLOSE, U32_CHUNKED };
#define U32_KEEP_AT 18    /* "Connection: keep-alive" CR LF: 24 bytes, 10 before the ':' */
#define U32_CLOSE_AT 23   /* "Connection: close" CR LF: 19 bytes */
#define U32_CHUNKED_AT 21 /* "Transfer-Encoding: chunked" CR LF: 28 bytes, 17 before */
static const struct usual32 usual_lines[] __attribute__((aligned(32))) = {
    [U32_KEEP] = USUAL32("connection: keep-alive\r\n"),
    [U32_CLOSE] = USUAL32("connection: close\r\n"),
    [U32_CHUNKED] = USUAL32("transfer-encoding: chunked\r\n"),
};
#undef USUAL32
#undef U32_ALL
#undef U32_8
#undef U32_L
#undef U32_W
#undef U32_C
#undef U32_N

/* Line i's template, through a pointer the compiler cannot see into (else
 * it loads every template into a register before a loop over names). */
static inline const struct usual32 *usual_line_at(enum usual_line i)
{
    const struct usual32 *u = usual_lines;
    __asm__ volatile("" : "+r"(u));
    return u + i;
}

#ifdef __SSE2__
/* 0xff in each of the 16 bytes at a that is its template's byte (want and
 * lower as in usual16), 0 in the others. */
static inline __attribute__((always_inline)) __m128i usual_same16(const unsigned char *a, const unsigned char *want,
                                                                 const unsigned char *lower)
{
    const __m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)a), _mm_load_si128((const __m128i *)(const void *)lower));
    return _mm_cmpeq_epi8(x, _mm_load_si128((const __m128i *)(const void *)want));
}
#else
/* True when each of the n bytes at a is its template's byte (want and
 * lower as in usual16). */
static inline int usual_same(const unsigned char *a, const unsigned char *want, const unsigned char *lower, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        if ((a[k] | lower[k]) != want[k])
            return 0;
    return 1;
}
#endif

/* True when the 32 bytes at a end with usual line i (SSE2 or plain C: the
 * AVX2 way has its own, in scan_ways.h). */
static inline __attribute__((always_inline)) int usual_line_sse2(const unsigned char *a, enum usual_line i)
{
#ifdef __SSE2__
    const struct usual32 *const u = usual_line_at(i);
    const __m128i same = _mm_and_si128(usual_same16(a, u->want, u->lower),
                                       usual_same16(a + 16, u->want + 16, u->lower + 16));
    return _mm_movemask_epi8(same) == 0xffff;
#else
    return usual_same(a, usual_lines[i].want, usual_lines[i].lower, 32);
#endif
}

/* The templates, through a pointer the compiler cannot see into (else it
 * loads every template into a register before a loop over names). */
static inline const struct usual16 *usual_table(void)
{
    const struct usual16 *u = usual;
    __asm__("" : "+r"(u));
    return u;
}

/* True when the 16 bytes at a are piece i of a usual line and the 16 at b
 * piece j. */
static inline __attribute__((always_inline)) int usual_pair(const unsigned char *a, enum usual_piece i,
                                                            const unsigned char *b, enum usual_piece j)
{
#ifdef __SSE2__
    const struct usual16 *const usual = usual_table();
    const __m128i same = _mm_and_si128(usual_same16(a, usual[i].want, usual[i].lower),
                                       usual_same16(b, usual[j].want, usual[j].lower));
    return _mm_movemask_epi8(same) == 0xffff;
#else
    return usual_same(a, usual[i].want, usual[i].lower, 16) && usual_same(b, usual[j].want, usual[j].lower, 16);
#endif
}

/* The same for one piece. */
static inline __attribute__((always_inline)) int usual_one(const unsigned char *a, enum usual_piece i)
{
#ifdef __SSE2__
    const struct usual16 *const usual = usual_table();
    return _mm_movemask_epi8(usual_same16(a, usual[i].want, usual[i].lower)) == 0xffff;
#else
    return usual_same(a, usual[i].want, usual[i].lower, 16);
#endif
}

/* True when the 17 bytes at p are the usual status line, "HTTP/1.1 200 OK"
 * CR LF. */
static inline __attribute__((always_inline)) int usual_status_line(const unsigned char *p)
{
#ifdef __SSE2__
    static const unsigned char want[16] __attribute__((aligned(16))) = "HTTP/1.1 200 OK\r";
    const unsigned same = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
        _mm_loadu_si128((const __m128i *)(const void *)p), _mm_load_si128((const __m128i *)(const void *)want)));
#else
    unsigned same = 0;
    for (unsigned i = 0; i < 16; i++)
        same |= (unsigned)(p[i] == (unsigned char)"HTTP/1.1 200 OK\r"[i]) << i;
#endif
    return same == 0xffffu && p[16] == '\n';
}

/* The number at u when 1 to 7 decimal digits, then a CR or LF, start the 8
 * bytes there: their count, with the number in *value; 0 otherwise. As
 * leading_digits (scan_values.h), with one multiplication a step. */
static inline __attribute__((always_inline)) unsigned usual_number(const unsigned char *u, uint64_t *value)
{
    const uint64_t d = scan_load8(u) - 0x3030303030303030ull;
    /* the first byte that is no digit; bit 63 set so that there is one
     * (a digit there then fails the CR test) */
    const uint64_t other = ((d | (d + 0x7676767676767676ull)) & 0x8080808080808080ull) | 1ull << 63;
    const unsigned n = (unsigned)__builtin_ctzll(other) >> 3;
    if (n == 0 || (u[n] != '\r' && u[n] != '\n'))
        return 0;
    if (n <= 4) { /* the same in 32 bits: two steps */
        uint32_t y = (uint32_t)d << (32 - 8 * n);
        y = (y * 2561) >> 8;
        *value = ((y & 0x00ff00ffu) * 6553601u) >> 16;
        return n;
    }
    uint64_t x = d << (64 - 8 * n); /* the digits in the top bytes, the first lowest */
    x = (x * 2561) >> 8;                   /* pairs: 10 a + b */
    x = ((x & 0x00ff00ff00ff00ffull) * 6553601) >> 16;        /* fours */
    x = ((x & 0x0000ffff0000ffffull) * 42949672960001ull) >> 32; /* all eight */
    *value = x;
    return n;
}

/* After the quick way (scan_quick.h) found the line whose name ends at the
 * ':' x (a line starts 10, 14 or 17 bytes before it, in a head at p the
 * feed [.., end) holds) none of the usual lines ending in CR LF: 1 when the
 * name is none of ours (Set-Cookie, Keep-Alive, ...), or when the line is a
 * usual Connection or Transfer-Encoding line ending in LF alone, its effect
 * made on *flags; 0 for another line of ours. */
static inline __attribute__((always_inline)) int usual_name_lf(const unsigned char *p, const unsigned char *x,
                                                               const unsigned char *end, uint16_t *flags)
{
    switch (our_header_at(p, (size_t)(x - p))) {
    case H_OTHER:
        return 1;
    case H_CONNECTION:
        if (end - x >= 13 && usual_pair(x - 10, U_KEEP_A, x - 3, U_KEEP_LF)) {
            *flags |= SF_CONN_KEEP;
            return 1;
        }
        if (end - x >= 7 && usual_pair(x - 10, U_CLOSE_A, x - 9, U_CLOSE_LF)) {
            *flags |= SF_CONN_CLOSE;
            return 1;
        }
        return 0;
    case H_TRANSFER_ENCODING:
        if (end - x >= 10 && usual_pair(x - 17, U_CHUNKED_A, x - 6, U_CHUNKED_LF)) {
            *flags |= SF_TE | SF_CHUNKED;
            return 1;
        }
        return 0;
    default:
        return 0;
    }
}

/* The bytes 8 to 15 of the state (status, line_len, flags, phase,
 * verdict, as one little-endian word) the reference leaves at the end of a
 * final head with header lines, of status 200 or more, not 204 nor 304, of
 * an HTTP/1.x response (not CGI-style), but for the status: indexed by its
 * flags' low six bits (SF_HTTP10 ... SF_CL) and, as bit 6, a Content-Length
 * other than 0; the way scan_end_of_head decides. */
#define QE_CLOSE(i) (((i) & SF_CONN_CLOSE) || (((i) & SF_HTTP10) && !((i) & SF_CONN_KEEP)) \
                     || (((i) & SF_TE) ? !((i) & SF_CHUNKED) : !((i) & SF_CL)))
#define QE_PHASE(i) (((i) & SF_TE) ? (((i) & SF_CHUNKED) ? SP_CHUNK_SIZE : SP_BODY_UNTIL_CLOSE) \
                     : ((i) & SF_CL) ? (((i) & 64) ? SP_BODY_LENGTH : SP_START) : SP_BODY_UNTIL_CLOSE)
#define QE(i) ((uint64_t)(((i) & 0x3f) | SF_IN_HEADER) << 32 | (uint64_t)QE_PHASE(i) << 48 \
               | (uint64_t)(QE_CLOSE(i) ? SCAN_CLOSE : SCAN_KEEPALIVE) << 56)
#define QE4(i) QE(i), QE((i) + 1), QE((i) + 2), QE((i) + 3)
#define QE16(i) QE4(i), QE4((i) + 4), QE4((i) + 8), QE4((i) + 12)
static const uint64_t quick_end[128] = {
    QE16(0), QE16(16), QE16(32), QE16(48), QE16(64), QE16(80), QE16(96), QE16(112),
};
#undef QE16
#undef QE4
#undef QE
#undef QE_PHASE
#undef QE_CLOSE

_Static_assert(offsetof(struct scan_state, status) == 8 && offsetof(struct scan_state, line_len) == 10
                   && offsetof(struct scan_state, flags) == 12 && offsetof(struct scan_state, phase) == 14
                   && offsetof(struct scan_state, verdict) == 15 && offsetof(struct scan_state, header) == 16
                   && offsetof(struct scan_state, match) == 17 && offsetof(struct scan_state, token) == 18
                   && offsetof(struct scan_state, responses) == 19,
               "end_quick_head writes struct scan_state as words");

/* The state the reference leaves at the last LF of a plain HTTP/1.x head
 * with header lines, as end_whole_head, for a final response of status 200
 * or more, not 204 nor 304, whose flags (without SF_IN_HEADER) are among
 * SF_HTTP10 ... SF_CL: a table and three stores. */
static inline __attribute__((always_inline)) void end_quick_head(struct scan_state *s, uint16_t flags, uint16_t status,
                                                                 uint64_t length)
{
    const uint64_t mid = quick_end[(uint64_t)flags | (uint64_t)(length != 0) << 6] | status;
    s->remaining = flags & SF_CHUNKED ? 0 : length;
    uint8_t r; /* responses + 1, saturating: one more unless that wraps */
    const int wrapped = __builtin_add_overflow(s->responses, (uint8_t)1, &r);
    r = (uint8_t)(r - wrapped);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    unsigned char *const bytes = (unsigned char *)s; /* the words span fields: address them from the struct */
    __builtin_memcpy(bytes + offsetof(struct scan_state, status), &mid, 8);
    const uint32_t last = (uint32_t)r << 24; /* header H_OTHER, match 0, token 0 */
    __builtin_memcpy(bytes + offsetof(struct scan_state, header), &last, 4);
#else
    s->status = (uint16_t)mid;
    s->line_len = 0;
    s->flags = (uint16_t)(mid >> 32);
    s->phase = (uint8_t)(mid >> 48);
    s->verdict = (uint8_t)(mid >> 56);
    s->header = H_OTHER;
    s->match = 0;
    s->token = 0;
    s->responses = r;
#endif
}

/* The same for any status, with or without header lines (`lines`):
 * end_quick_head where it applies, else end_whole_head. */
static LINGER_WARM __attribute__((noinline)) void end_head_any(struct scan_state *s, uint16_t flags, uint16_t status, uint64_t length,
                                                   int lines)
{
    if (!lines) {
        end_whole_head(s, flags, status, length);
    } else if (status < 200 || status == 204 || status == 304) {
        s->match = 0;
        s->token = 0;
        end_whole_head(s, flags | SF_IN_HEADER, status, length);
    } else {
        end_quick_head(s, flags, status, length);
    }
}

#endif
