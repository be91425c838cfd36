/* scan_values.h - the values of the headers the response scanner looks at
 * (Connection, Content-Length, Transfer-Encoding), taken at once when they
 * are simple: the fast path's way (scan_lines.h, scan_whole.h) to the state
 * the reference machine (scan_ref.c) reaches at the value's end. Internal
 * to scan_fast.c (which includes it once). Pure: no syscalls.
 */
#ifndef LINGER_SCAN_VALUES_H
#define LINGER_SCAN_VALUES_H

#include "scan_machine.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* True when [t, t + n) is the token want (lower case, letters and '-'), in
 * any case, knowing it holds no CR: OR-ing 0x20 into a byte lowers a letter
 * and keeps '-', and of the other bytes only CR becomes one of those. */
static inline int is_token(const unsigned char *t, size_t n, const char *want, size_t wn)
{
    /* wn is 5, 7 or 10 */
    const uint64_t lower = 0x2020202020202020ull;
    if (n != wn)
        return 0;
    if (n >= 8)
        return ((scan_load8(t) | lower) == scan_load8(want)) && ((scan_load8(t + n - 8) | lower) == scan_load8(want + n - 8));
    uint32_t a, b, c, d; /* 4 < n < 8: the first 4 bytes and the last 4 */
    memcpy(&a, t, 4);
    memcpy(&b, want, 4);
    memcpy(&c, t + n - 4, 4);
    memcpy(&d, want + n - 4, 4);
    return (a | 0x20202020u) == b && (c | 0x20202020u) == d;
}

/* The value [v, e) of one of our headers, whole (no CR or LF in it, and
 * *e a CR or LF), taken at once when it is simple: one token (Connection,
 * Transfer-Encoding) or the first Content-Length of the head as one number
 * of up to 17 digits, between optional whitespace. Returns 1 with its
 * effect made on *flags (the token's flags; SF_CL before a number is
 * refused) and, for a number, the number in *number; returns 0, changing
 * nothing, otherwise. */
static inline __attribute__((always_inline)) int simple_value_of(enum header_id h, const unsigned char *v,
                                                                const unsigned char *e, uint16_t *flags,
                                                                uint64_t *number)
{
    v += *v == ' '; /* the usual one space (*e is no space) */
    if (h == H_CONTENT_LENGTH) {
        while (scan_is_ows(*v))
            v++;
        const unsigned char *q = v;
        uint64_t x = 0;
        while (scan_is_digit(*q)) /* stops at e at the latest */
            x = x * 10 + (uint64_t)(*q++ - '0');
        if (q == v || q - v > 17 || (*flags & SF_CL))
            return 0;
        while (q < e && scan_is_ows(*q))
            q++;
        if (q != e)
            return 0;
        *number = x;
        return 1;
    }
    size_t n = (size_t)(e - v);
    if (h == H_CONNECTION) { /* the usual values first */
        if (is_token(v, n, "keep-alive", 10)) {
            *flags |= SF_CONN_KEEP;
            return 1;
        }
        if (is_token(v, n, "close", 5)) {
            *flags |= SF_CONN_CLOSE;
            return 1;
        }
    }
    while (v < e && scan_is_ows(*v))
        v++;
    while (e > v && scan_is_ows(e[-1]))
        e--;
    n = (size_t)(e - v);
    if (n == 0)
        return 0;
    if (h == H_CONNECTION && is_token(v, n, "keep-alive", 10)) {
        *flags |= SF_CONN_KEEP;
        return 1;
    }
    if (h == H_CONNECTION && is_token(v, n, "close", 5)) {
        *flags |= SF_CONN_CLOSE;
        return 1;
    }
    if (h == H_TRANSFER_ENCODING && is_token(v, n, "chunked", 7)) {
        *flags |= SF_TE | SF_CHUNKED;
        return 1;
    }
    for (const unsigned char *q = v; q < e; q++) /* another single token? */
        if (*q == ',' || scan_is_ows(*q))
            return 0;
    if (h == H_TRANSFER_ENCODING)
        *flags = (uint16_t)((*flags | SF_TE) & ~SF_CHUNKED);
    return 1;
}

/* The same on the state: leaves the state the reference reaches at the
 * value's LF and returns 1; returns 0, changing nothing, otherwise. */
static inline __attribute__((always_inline)) int simple_value(struct scan_state *s, enum header_id h, const unsigned char *v, const unsigned char *e)
{
    uint16_t flags = s->flags;
    uint64_t number = s->remaining;
    if (!simple_value_of(h, v, e, &flags, &number))
        return 0;
    if (h == H_CONTENT_LENGTH)
        flags |= SF_VALUE_DIGITS | SF_VALUE_END;
    s->flags = flags;
    s->remaining = number;
    return 1;
}

/* How many of the 8 bytes of w (the first in its low byte) are decimal
 * digits before the first that is not: 0 to 8; and when 1 to 8, their
 * number in *value. Without a loop: a byte below '0' wraps to >= 0xd0 when
 * '0' is taken from each (its borrow only reaches the bytes after it), a
 * byte above '9' reaches 0x80 when 0x76 is added; the digits are then
 * moved to the top bytes and summed pairwise (a digit is at most 9, so no
 * step carries between lanes). */
static inline __attribute__((always_inline)) unsigned leading_digits(uint64_t w, uint64_t *value)
{
    const uint64_t d = w - 0x3030303030303030ull;
    const uint64_t other = (d | (d + 0x7676767676767676ull)) & 0x8080808080808080ull;
    const unsigned n = other ? (unsigned)__builtin_ctzll(other) / 8 : 8;
    if (n == 0)
        return 0;
    uint64_t x = d << (64 - 8 * n);
    x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffull;
    x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffull;
    x = (x * 10000 + (x >> 32)) & 0xffffffffull;
    *value = x;
    return n;
}

/* The usual values of our headers, at v just past the ':' of a line of a
 * plain head (it ends in CR LF or LF before limit): "keep-alive" or
 * "close" after one space, or the head's first Content-Length as up to 7
 * digits after one space or none, each up to the line's end. Returns 1
 * with the effect made on *flags or the number in *number, as
 * simple_value_of would; 0 for any other value (simple_value_of then). */
static inline __attribute__((always_inline)) int quick_value(enum header_id h, const unsigned char *v, const unsigned char *limit, uint16_t *flags,
                              uint64_t *number)
{
    v += *v == ' ';
    if (h == H_CONTENT_LENGTH) {
        if (limit - v < 8 || (*flags & SF_CL))
            return 0;
        uint64_t x;
        const unsigned n = leading_digits(scan_load8(v), &x); /* up to 7 of them, then the line's end */
        if (n == 0 || n == 8 || (v[n] != '\r' && v[n] != '\n'))
            return 0;
        *number = x;
        return 1;
    }
    if (h != H_CONNECTION || limit - v < 11)
        return 0;
    const uint64_t lower = 0x2020202020202020ull;
    if ((v[10] == '\r' || v[10] == '\n') && (scan_load8(v) | lower) == scan_load8("keep-alive")
        && (scan_load8(v + 2) | lower) == scan_load8("ep-alive")) {
        *flags |= SF_CONN_KEEP;
        return 1;
    }
    uint32_t a;
    __builtin_memcpy(&a, v, 4);
    if ((v[5] == '\r' || v[5] == '\n') && (a | 0x20202020u) == 0x736f6c63u /* "clos" */ && (v[4] | 0x20) == 'e') {
        *flags |= SF_CONN_CLOSE;
        return 1;
    }
    return 0;
}

/* The value of our header h at v, just past its ':', in a plain head whose
 * blank line starts at limit, when quick_value does not take it. */
static __attribute__((noinline)) int other_value(enum header_id h, const unsigned char *v, const unsigned char *limit,
                                                 uint16_t *flags, uint64_t *length)
{
    const unsigned char *e = memchr(v, '\n', (size_t)(limit - v));
    if (e[-1] == '\r')
        e--;
    return simple_value_of(h, v, e, flags, length);
}

/* The value of our header h at v, just past its ':', in a plain head whose
 * blank line starts at limit (the whole-head pass): its effect on *flags
 * and *length, as the reference has it at the line's LF (SF_CL for a
 * Content-Length). Returns 0 when the value must be taken a byte at a time. */
static inline __attribute__((always_inline)) int head_value(enum header_id h, const unsigned char *v, const unsigned char *limit, uint16_t *flags,
                              uint64_t *length)
{
    if (!quick_value(h, v, limit, flags, length) && !other_value(h, v, limit, flags, length))
        return 0;
    if (h == H_CONTENT_LENGTH)
        *flags |= SF_CL;
    return 1;
}

#endif
