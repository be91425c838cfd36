/* scan_bits.h - the bit arithmetic of the fast path's whole-head pass
 * (scan_whole.h): what one 64-byte word of a head says, given its bytes as
 * bit masks, and the state a whole plain head leaves. Internal to
 * scan_fast.c (which includes it once). Pure: no syscalls.
 */
#ifndef LINGER_SCAN_BITS_H
#define LINGER_SCAN_BITS_H

#include "scan_machine.h"
#include "scan_values.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __x86_64__
#include <x86intrin.h>
#endif

/* hi shifted left by n (0 < n < 64), its low bits filled from the top of lo. */
static inline __attribute__((always_inline)) uint64_t shift_in(uint64_t hi, uint64_t lo, unsigned n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_constant_p(n)) { /* one shld: gcc makes three instructions of it, or spills an __int128 */
        __asm__("shldq %2, %1, %0" : "+r"(hi) : "r"(lo), "J"(n) : "cc");
        return hi;
    }
#endif
    return hi << n | lo >> (64 - n);
}

/* 64 bytes as bit masks (bit i: byte i), for the whole-head passes
 * (scan_whole.h, scan_quick.h): `lfc`, LF or ':'; `plain`, the bytes 0x21
 * to 0x7e (those not odd: odd are the CTLs, SP, DEL and the bytes >= 0x80,
 * which no name holds); and CR. LF is odd and ':' is not: three masks say
 * what four would. */
struct masks64 {
    uint64_t lfc, plain, cr;
};

/* m as the word read from `out` bytes (1 to 63) before its start, the feed
 * ending in it: its bits moved down to where they belong, and the bytes
 * past the feed's end as name bytes (plain, not LF, ':' nor CR). */
static inline struct masks64 masks_down(struct masks64 m, unsigned out)
{
    m.lfc >>= out;
    m.plain = m.plain >> out | ~(~0ull >> out);
    m.cr >>= out;
    return m;
}

/* The same for 32 bytes read `out` bytes (0 to 31) before the start of a
 * word of which they are the last (the feed ending in them). */
static inline struct masks64 masks32_down(struct masks64 m, unsigned out)
{
    m.lfc >>= out;
    m.plain = (uint64_t)((int64_t)(m.plain | ~0ull << 32) >> out); /* the sign fills the top */
    m.cr >>= out;
    return m;
}

/* Candidate ':' positions: where a name of 10, 14 or 17 bytes ends, given
 * the line starts `b` of this word and `prev` of the word before. */
static inline uint64_t our_name_ends(uint64_t b, uint64_t prev)
{
    return shift_in(b, prev, 10) | shift_in(b, prev, 14) | shift_in(b, prev, 17);
}

/* True when p starts a status line the fast path takes: "HTTP/1.x NNN"
 * or "Status: NNN" (any case), then SP, CR or LF (as STATUS in scan_lines.h;
 * no LF comes before: the whole-head pass finds the line's end itself). */
static inline int whole_status_line(const unsigned char *p)
{
    const unsigned char *d; /* the three digits */
    if (p[0] == 'H') {
        if ((scan_load8(p) & 0x00ffffffffffffffull) != (scan_load8("HTTP/1.x") & 0x00ffffffffffffffull)
            || !scan_is_digit(p[7]) || p[8] != ' ')
            return 0;
        d = p + 9;
    } else {
        if ((scan_load8(p) | 0x0000202020202020ull) != scan_load8("status: "))
            return 0;
        d = p + 8;
    }
    return scan_is_digit(d[0]) && scan_is_digit(d[1]) && scan_is_digit(d[2])
           && (d[3] == ' ' || d[3] == '\r' || d[3] == '\n');
}

/* The status code of a line whole_status_line takes. */
static inline uint16_t whole_status(const unsigned char *p)
{
    const unsigned char *d = p + (p[0] == 'H' ? 9 : 8);
    return (uint16_t)((d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0'));
}

/* a + b + the carry in bit 0 of *carry; sets *carry to 0 or ~0 as the
 * addition carries out (bit 0: the carry). */
static inline uint64_t add_carry(uint64_t a, uint64_t b, uint64_t *carry)
{
#if defined(__x86_64__) && defined(__GNUC__)
    uint64_t c = *carry;
    __asm__("btq $0, %[c]\n\tadcq %[b], %[a]\n\tsbbq %[c], %[c]" : [a] "+r"(a), [c] "+r"(c) : [b] "r"(b) : "cc");
    *carry = c;
    return a;
#else
    uint64_t sum;
    uint64_t out = __builtin_add_overflow(a, b, &sum);
    out |= __builtin_add_overflow(sum, *carry & 1, &sum);
    *carry = -out;
    return sum;
#endif
}

/* What the whole-head pass (scan_whole.h) carries from one 64-byte word to
 * the next: the previous word's LF and CR masks and line starts (b, of the
 * last word after it), the carry of the first-stop addition, and the line
 * starts of the words before the last (b_before). */
struct whole_run {
    uint64_t lf_prev, cr_prev, b, carry, b_before;
};

/* One 64-byte word of a head, as masks m (see scan_whole.h): sets *cand to
 * where the names of lines that may be ours end, and returns where the pass
 * stops in it: the starts of lines whose first byte ends a name (the first
 * of them must be the blank line), CRs without their LF, names ending
 * otherwise than at ':'. */
static inline __attribute__((always_inline)) uint64_t whole_word(struct whole_run *r, struct masks64 m, uint64_t *cand)
{
    const uint64_t lf = m.lfc & ~m.plain, name = m.plain & ~m.lfc; /* name: the bytes a name holds */
    const uint64_t b = lf << 1 | r->lf_prev >> 63; /* line starts */
    const uint64_t first = add_carry(name, b, &r->carry) & ~name; /* each line's first stop */
    *cand = first & our_name_ends(b, r->b);
    r->b_before |= r->b;
    r->b = b;
    const uint64_t stops = (first & ~(m.plain & ~b)) | ((m.cr << 1 | r->cr_prev >> 63) & ~lf);
    r->lf_prev = lf;
    r->cr_prev = m.cr;
    return stops;
}

/* The header of ours whose name ends at the ':' at p[colon], when a line
 * starts there (a name of 10, 14 or 17 bytes that is one of ours); H_OTHER
 * when none does. An LF between would not match (LF | 0x20 is no letter
 * nor '-'), so only the line it starts counts. colon >= 14: after a status
 * line of 12 bytes or more. */
static inline enum header_id our_header_at(const unsigned char *p, size_t colon)
{
    if (p[colon - 11] == '\n' && scan_same_name(p + colon - 10, "connection", 10))
        return H_CONNECTION;
    if (colon >= 15 && p[colon - 15] == '\n' && scan_same_name(p + colon - 14, "content-length", 14))
        return H_CONTENT_LENGTH;
    if (colon >= 18 && p[colon - 18] == '\n' && scan_same_name(p + colon - 17, "transfer-encoding", 16)
        && (p[colon - 1] | 0x20) == 'g')
        return H_TRANSFER_ENCODING;
    return H_OTHER;
}

/* The state the reference leaves at the last LF of a plain head: s as it
 * was before the head (responses; match and token, set by the caller when
 * the head has header lines), with the response's flags (no SF_VALUE_*,
 * SF_TOKEN_DIRTY or SF_CR), status and Content-Length. */
static inline __attribute__((always_inline)) void end_whole_head(struct scan_state *s, uint16_t flags, uint16_t status, uint64_t length)
{
    s->header = H_OTHER;
    s->status = status;
    s->flags = flags;
    s->remaining = length;
    if (__builtin_expect(status < 200, 0)) { /* interim, 101, or no status: the reference's own way */
        s->phase = SP_HEADER_START;
        s->line_len = 1;
        scan_end_of_head(s);
        return;
    }
    if (s->responses < 255)
        s->responses++;
    int close = (flags & (SF_CONN_CLOSE | SF_CGI)) || ((flags & SF_HTTP10) && !(flags & SF_CONN_KEEP));
    enum scan_phase next;
    if (status == 204 || status == 304) {
        next = SP_START;
    } else if (flags & SF_TE) {
        if (flags & SF_CHUNKED) {
            next = SP_CHUNK_SIZE;
            s->remaining = 0;
        } else {
            next = SP_BODY_UNTIL_CLOSE;
            close = 1;
        }
    } else if (flags & SF_CL) {
        next = length ? SP_BODY_LENGTH : SP_START;
    } else {
        next = SP_BODY_UNTIL_CLOSE;
        close = 1;
    }
    s->verdict = close ? SCAN_CLOSE : SCAN_KEEPALIVE;
    s->phase = (uint8_t)next;
    s->line_len = 0;
}

/* The lines of a plain head whose blank line is not in the feed (the
 * whole-head pass, scan_whole.h), up to the line that starts at p[upto],
 * after the status line's LF at least: the state the reference has there,
 * and p + upto; or p, changing nothing, when a value of ours must be taken
 * a byte at a time. cands: where names that may be ours end, in order. */
static __attribute__((noinline)) const unsigned char *whole_lines(struct scan_state *s, const unsigned char *p,
                                                                 size_t upto, const uint16_t *cands, unsigned n_cands)
{
    uint16_t flags = p[0] == 'H' ? (p[7] == '0' ? SF_HTTP10 : 0) : SF_CGI;
    uint64_t length = 0;
    enum header_id last = H_OTHER; /* the last line's header, when one of ours */
    const int lines = memchr(p + 11, '\n', upto - 11) != p + upto - 1; /* any header line */
    if (lines) {
        flags |= SF_IN_HEADER;
        for (unsigned i = 0; i < n_cands && cands[i] < upto; i++) {
            const enum header_id h = our_header_at(p, cands[i]);
            if (h == H_OTHER)
                continue;
            const unsigned char *v = p + cands[i] + 1, *lf = memchr(v, '\n', (size_t)(p + upto - v)), *e = lf;
            if (e[-1] == '\r')
                e--;
            if (!simple_value_of(h, v, e, &flags, &length))
                return p;
            if (lf == p + upto - 1)
                last = h; /* its end (SF_CL) comes with the next line's first byte */
            else if (h == H_CONTENT_LENGTH)
                flags |= SF_CL;
        }
    }
    const uint8_t match = lines ? 0 : s->match, token = lines ? 0 : s->token;
    scan_start_response(s);
    s->flags = (uint16_t)(flags | (last == H_CONTENT_LENGTH ? SF_VALUE_DIGITS | SF_VALUE_END : 0));
    s->status = whole_status(p);
    s->remaining = length;
    s->header = (uint8_t)last;
    s->match = match;
    s->token = token;
    scan_start_line(s, SP_HEADER_START);
    return p + upto;
}

#endif
