/* scan_quick.h - the fast path's quick way for the usual case, included by
 * scan_fast.c once per way of reading 64 bytes at a time (SSE2, and AVX2
 * where the CPU has it), right after scan_whole.h and before scan_lines.h
 * (which undefines the shared names). Before including:
 *   LINES_ATTR, CONSTS(k), MASKS  as for scan_whole.h
 *   WHOLE        the name of scan_whole.h's function of the same way
 *   QUICK, QUICK_VALUE  the names this copy gives its functions
 * Not a header to include anywhere else.
 *
 * An "HTTP/1.x NNN" head the feed holds whole, blank line and all, read as
 * scan_whole.h reads it (the same masks and the same carry; see there) in
 * one pass with nothing kept but a few registers: the status line is
 * checked with two loads, each 64-byte word costs a few bit operations, and
 * a name that may be ours (by its length) is compared, and its value taken,
 * when the word that ends it is read. Any other head - a CGI-style one, one
 * whose blank line is not in the feed - goes to WHOLE; anything unusual
 * leaves the head, untouched, to the line-at-a-time way, as WHOLE would.
 */

/* The head is read in this many 64-byte words at most (as in WHOLE). */
#define QUICK_WORDS 64

/* "HTTP/1." as the first 7 bytes of a word (the 8th masked out). */
#define QUICK_HTTP1 0x002e312f50545448ull

/* The usual value of our header h, at v just past its ':' in a head the
 * feed [.., end) holds: "keep-alive", "close" or "chunked" after one
 * space, or the head's first Content-Length as up to 7 digits after one
 * space or none, each up to the line's end. Returns 1 with its effect
 * made on *flags (SF_CL for the number) or the number in *length, as
 * head_value (scan_values.h) would; 0 for any other value (WHOLE then). */
static inline LINES_ATTR __attribute__((always_inline)) int QUICK_VALUE(enum header_id h, const unsigned char *v,
                                                                       const unsigned char *end, uint16_t *flags,
                                                                       uint64_t *length)
{
    if (end - v < 12)
        return 0;
    v += *v == ' ';
    const uint64_t lower = 0x2020202020202020ull;
    if (h == H_CONTENT_LENGTH) {
        uint64_t x;
        const unsigned n = leading_digits(scan_load8(v), &x); /* up to 7, then the line's end */
        if (n - 1u >= 7u || (v[n] != '\r' && v[n] != '\n') || (*flags & SF_CL))
            return 0;
        *length = x;
        *flags |= SF_CL;
        return 1;
    }
    if (h == H_CONNECTION) {
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
    /* Transfer-Encoding */
    if ((v[7] == '\r' || v[7] == '\n') && ((scan_load8(v) | lower) & 0x00ffffffffffffffull) == (scan_load8("chunked\r") & 0x00ffffffffffffffull)) {
        *flags |= SF_TE | SF_CHUNKED;
        return 1;
    }
    return 0;
}

/* The whole head at p, when it is an "HTTP/1.x NNN" head the feed [lo, end)
 * holds whole, with only the usual values in our headers (see the top of
 * this file): the state the reference reaches at its last LF, and the byte
 * after it; otherwise what WHOLE returns (p when the head is to go the
 * line-at-a-time way). Phase SP_START, and the feed holds 64 bytes from p
 * on. */
static LINES_ATTR const unsigned char *QUICK(struct scan_state *s, const unsigned char *p, const unsigned char *lo,
                                             const unsigned char *end)
{
    const uint64_t w0 = scan_load8(p);
    if ((w0 & 0x00ffffffffffffffull) != QUICK_HTTP1)
        return WHOLE(s, p, lo, end);
    /* "HTTP/1.x NNN" then SP, CR or LF: x a digit, then in one 32-bit word
     * a SP and three bytes whose high nibble is 3 and stays 3 when 6 is
     * added (the digits) */
    uint32_t d;
    __builtin_memcpy(&d, p + 8, 4);
    const unsigned minor = (unsigned)p[7] - '0', after = p[12];
    if (minor > 9 || (d & 0xf0f0f0ffu) != 0x30303020u || ((d + 0x06060600u) & 0xf0f0f000u) != 0x30303000u
        || !(after == ' ' || after == '\r' || after == '\n'))
        return p;
    uint16_t flags = minor == 0 ? SF_HTTP10 : 0;
    uint64_t length = 0;

    CONSTS(k);
    const unsigned char *const words_end = end - p < 64 * QUICK_WORDS ? end : p + 64 * QUICK_WORDS;
    uint64_t lf_prev = 0, cr_prev = 0, carry = 0, starts = 0; /* starts: line starts of the words before */
    uint64_t b, stops;
    const unsigned char *q = p;
    for (;; q += 64) {
        struct masks64 m;
        if (q + 64 <= words_end) {
            m = MASKS(q, &k);
        } else if (q < words_end) { /* the feed ends in this word: read it from end - 64 */
            const unsigned out = (unsigned)(q + 64 - end);
            m = MASKS(end - 64, &k);
            m.lf >>= out;
            m.cr >>= out;
            m.odd >>= out;
            m.colon >>= out;
        } else { /* no blank line in the feed (or too far) */
            return WHOLE(s, p, lo, end);
        }
        const uint64_t stop = m.odd | m.colon;
        b = shift_in(m.lf, lf_prev, 1); /* line starts */
        const uint64_t first = add_carry(~stop, b, &carry) & stop; /* each line's first stop */
        uint64_t cand = first & (shift_in(m.lf, lf_prev, 11) | shift_in(m.lf, lf_prev, 15) | shift_in(m.lf, lf_prev, 18));
        stops = (first & (b | m.odd)) | (shift_in(m.cr, cr_prev, 1) & ~m.lf);
        if (__builtin_expect((stops | cand) != 0, 0)) {
            for (cand &= ~stops & (stops - 1); cand; cand &= cand - 1) { /* the names before the first stop */
                const size_t colon = (size_t)(q - p) + (size_t)__builtin_ctzll(cand);
                const enum header_id h = our_header_at(p, colon);
                if (h != H_OTHER && !QUICK_VALUE(h, p + colon + 1, end, &flags, &length))
                    return WHOLE(s, p, lo, end);
            }
            if (stops)
                break;
        }
        starts |= b;
        lf_prev = m.lf;
        cr_prev = m.cr;
    }
    const unsigned t = (unsigned)__builtin_ctzll(stops);
    const size_t blank = (size_t)(q - p) + t; /* where the blank line starts */
    if (!(b >> t & 1))
        return p; /* a line not plain before the blank line */
    size_t last = blank; /* the head's last LF */
    if (p[blank] != '\n') {
        if (p[blank] != '\r' || p + blank + 1 >= end || p[blank + 1] != '\n')
            return p; /* obs-fold, an empty name, a CTL: the line-at-a-time way */
        last++;
    }
    const uint16_t status = (uint16_t)(((d >> 8 & 0xf) * 10 + (d >> 16 & 0xf)) * 10 + (d >> 24 & 0xf));
    if (__builtin_expect((starts | (b & ((1ull << t) - 1))) != 0, 1)) /* a line before the blank line: a header line */
        end_quick_head(s, flags | SF_IN_HEADER, status, length);
    else
        end_whole_head(s, flags, status, length);
    return p + last + 1;
}

#undef QUICK_WORDS
#undef QUICK_HTTP1
#undef MASKS
#undef WHOLE
#undef QUICK
#undef QUICK_VALUE
