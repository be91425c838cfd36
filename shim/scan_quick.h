/* scan_quick.h - the fast path's quick way for the usual head, included by
 * scan_fast.c once per way of reading 64 bytes at a time (SSE2, and AVX2
 * where the CPU has it), right after scan_whole.h and before scan_lines.h
 * (which undefines the shared names). Before including:
 *   LINES_ATTR, MASKS  as for scan_whole.h
 *   MASKS32      struct masks64 MASKS32(q, k): the 32 bytes at q as masks
 *   USUAL_LINE   int USUAL_LINE(a, enum usual_line i): usual_line_sse2
 *                (scan_usual.h) or the way's own
 *   AND_NOT      uint64_t AND_NOT(a, b): a & ~b
 *   WHOLE        the name of scan_whole.h's function of the same way
 *   QUICK, QUICK_LINES, QUICK_OTHER, QUICK_NAME  the names this copy
 *                gives its functions
 *   WAY_WARM     as for scan_whole.h
 * Not a header to include anywhere else.
 *
 * An "HTTP/1.x NNN" head the feed holds whole, blank line and all, read as
 * scan_whole.h reads it (the same masks and the same carry; see there) in
 * one pass that keeps nothing but a few registers. The usual status line,
 * "HTTP/1.1 200 OK" CR LF, is one compare, and the pass starts after it;
 * any other goes to a copy of the pass out of line. Each 64-byte word costs
 * a few bit operations (a last piece of 32 bytes or fewer is read as 32); a
 * name that may be ours (by its length) is noted, and once the blank line
 * is found, compared with the usual lines (scan_usual.h) and its value
 * taken. Any other head - a CGI-style one, one whose blank line is not in
 * the feed, one with another line of ours - goes to WHOLE; anything WHOLE
 * would leave to the line-at-a-time way, this leaves there too, with the
 * state untouched.
 */

/* The head is read in this many 64-byte words at most (as in WHOLE). */
#define QUICK_WORDS 64

/* "HTTP/1." as the first 7 bytes of a word (the 8th masked out). */
#define QUICK_HTTP1 0x002e312f50545448ull

/* Names that may be ours (by their length) a head may hold for this way;
 * a head with more goes to WHOLE. */
#define QUICK_NAMES 8

/* The name ending at the ':' x in a head at p the feed [.., end) holds,
 * where a line starts 10, 14 or 17 bytes before it: when its line is one of
 * the usual lines of ours (scan_usual.h), the value's effect on *flags
 * (SF_CL for a Content-Length) and *length, as the reference has it at the
 * line's LF, and 1; when the name is none of ours, 1 and no effect. Returns
 * 0 for another line of ours. (Whether the line comes before the blank
 * line the caller knows.) */
static inline LINES_ATTR __attribute__((always_inline)) int QUICK_NAME(const unsigned char *p, const unsigned char *x,
                                                                      const unsigned char *end, uint16_t *flags,
                                                                      uint64_t *length)
{
    if (x[-11] == '\n') {
        if (end - x >= 14 && USUAL_LINE(x - U32_KEEP_AT, U32_KEEP)) {
            *flags |= SF_CONN_KEEP;
            return 1;
        }
        if (end - x >= 9 && USUAL_LINE(x - U32_CLOSE_AT, U32_CLOSE)) {
            *flags |= SF_CONN_CLOSE;
            return 1;
        }
    } else if (x[-15] == '\n') {
        uint64_t n;
        if (end - x >= 10 && !(*flags & SF_CL) && usual_one(x - 14, U_LENGTH) && usual_number(x + 2, &n)) {
            *length = n;
            *flags |= SF_CL;
            return 1;
        }
    } else if (end - x >= 11 && USUAL_LINE(x - U32_CHUNKED_AT, U32_CHUNKED)) {
        *flags |= SF_TE | SF_CHUNKED;
        return 1;
    }
    return usual_name_lf(p, x, end, flags);
}

/* QUICK (below) once the status line is read: its status, and its flags
 * (SF_HTTP10 or none); the pass starts `skip` bytes on (0, or the length of
 * the status line when it was read whole). */
static inline LINES_ATTR __attribute__((always_inline)) const unsigned char *
QUICK_LINES(struct scan_state *s, const unsigned char *p, const unsigned char *lo, const unsigned char *end,
            uint16_t flags, unsigned status, unsigned skip)
{
    const unsigned char(*const k)[32] = span_consts();
    const unsigned char *const words_end = end - p < 64 * QUICK_WORDS ? end : p + 64 * QUICK_WORDS;
    const unsigned char *const last_word = words_end - 64; /* the last whole word's start */
    const unsigned char *names[QUICK_NAMES]; /* the ':' of each name that may be ours */
    unsigned n_names = 0;
    uint64_t lf_prev = skip ? 1ull << 63 : 0, carry = 0, starts = 0; /* starts: line starts of the words before */
    uint64_t b, stops;
    const unsigned char *q = p + skip;
    for (;; q += 64) {
        struct masks64 m;
        if (q <= last_word) {
            m = MASKS(q, k);
        } else if (q < words_end) { /* the word ends past the feed (or too far): read it from its end */
            const unsigned out = (unsigned)(q + 64 - words_end);
            m = out >= 32 ? masks32_down(MASKS32(words_end - 32, span_consts()), out - 32)
                          : masks_down(MASKS(words_end - 64, span_consts()), out);
        } else { /* no blank line in the feed (or too far) */
            return WHOLE(s, p, lo, end);
        }
        const uint64_t lf = AND_NOT(m.lfc, m.plain), name = AND_NOT(m.plain, m.lfc); /* name: bytes a name holds */
        b = shift_in(lf, lf_prev, 1); /* line starts */
        const uint64_t first = AND_NOT(add_carry(name, b, &carry), name); /* each line's first stop */
        uint64_t cand = first & (shift_in(lf, lf_prev, 11) | shift_in(lf, lf_prev, 15) | shift_in(lf, lf_prev, 18));
        /* a stop at a line start, or odd; a CR not just before an LF stops
         * too (one at the word's last byte looks so, and is looked at again
         * below) */
        stops = AND_NOT(first, AND_NOT(m.plain, b)) | AND_NOT(m.cr, lf >> 1);
        if (__builtin_expect((stops | cand) != 0, 0)) {
            for (cand &= ~stops & (stops - 1); cand; cand &= cand - 1) { /* the names before the first stop */
                if (n_names == QUICK_NAMES)
                    return WHOLE(s, p, lo, end);
                names[n_names++] = q + __builtin_ctzll(cand);
            }
            /* the stop is a CR inside a line, at the word's last byte, and
             * an LF follows it: no stop */
            if (stops && !(stops == 1ull << 63 && !(first >> 63) && q < last_word && q[64] == '\n'))
                break;
        }
        starts |= b;
        lf_prev = lf;
    }
    const unsigned t = (unsigned)__builtin_ctzll(stops);
    const unsigned char *blank = q + t; /* where the blank line starts */
    if (!(b >> t & 1))
        return p; /* a line not plain before the blank line */
    const unsigned char *last; /* the head's last LF */
    if (blank + 1 < end && scan_load16(blank) == scan_load16("\r\n"))
        last = blank + 1;
    else if (*blank == '\n')
        last = blank;
    else
        return p; /* obs-fold, an empty name, a CTL: the line-at-a-time way */
    /* a line starts before the blank line: after a status line read whole,
     * the blank line is not the first line the pass read */
    const int lines = skip ? blank != p + skip : (starts | (b & ((1ull << t) - 1))) != 0;
    uint64_t length = 0;
    for (unsigned i = 0; i < n_names; i++)
        if (!QUICK_NAME(p, names[i], end, &flags, &length))
            return WHOLE(s, p, lo, end); /* not a usual line of ours: all the other way */
    if (__builtin_expect(status == 200 && lines, 1)) /* the usual: 200, header lines */
        end_quick_head(s, flags, 200, length);
    else
        end_head_any(s, flags, (uint16_t)status, length, lines);
    return last + 1;
}

/* QUICK (below) for any status line but the usual one (the pass reads it
 * too). */
static WAY_WARM LINES_ATTR __attribute__((noinline)) const unsigned char *
QUICK_OTHER(struct scan_state *s, const unsigned char *p, const unsigned char *lo, const unsigned char *end)
{
    /* "HTTP/1.x NNN" then SP, CR or LF: x a digit, then in one 32-bit word a
     * SP and three bytes whose high nibble is 3 and stays 3 when 6 is added
     * (the digits) */
    const uint64_t w0 = scan_load8(p);
    if ((w0 & 0x00ffffffffffffffull) != QUICK_HTTP1)
        return WHOLE(s, p, lo, end);
    const unsigned minor = (unsigned)p[7] - '0';
    if (minor > 9)
        return p;
    uint32_t d;
    __builtin_memcpy(&d, p + 8, 4);
    const unsigned after = p[12];
    if ((d & 0xf0f0f0ffu) != 0x30303020u || ((d + 0x06060600u) & 0xf0f0f000u) != 0x30303000u
        || !(after == ' ' || after == '\r' || after == '\n'))
        return p;
    return QUICK_LINES(s, p, lo, end, minor == 0 ? SF_HTTP10 : 0,
                       ((d >> 8 & 0xf) * 10 + (d >> 16 & 0xf)) * 10 + (d >> 24 & 0xf), 0);
}

/* The whole head at p, when it is an "HTTP/1.x NNN" head the feed [lo, end)
 * holds whole (see the top of this file): the state the reference reaches
 * at its last LF, and the byte after it; otherwise what WHOLE returns (p
 * when the head is to go the line-at-a-time way). Phase SP_START, and the
 * feed holds 64 bytes from p on. */
static inline LINES_ATTR __attribute__((always_inline)) const unsigned char *
QUICK(struct scan_state *s, const unsigned char *p, const unsigned char *lo, const unsigned char *end)
{
    if (__builtin_expect(usual_status_line(p), 1))
        return QUICK_LINES(s, p, lo, end, 0, 200, 17);
    return QUICK_OTHER(s, p, lo, end);
}

#undef QUICK_WORDS
#undef QUICK_HTTP1
#undef QUICK_NAMES
#undef QUICK_LINES
#undef QUICK_OTHER
#undef USUAL_LINE
#undef AND_NOT
#undef MASKS
#undef MASKS32
#undef WHOLE
#undef QUICK
#undef QUICK_NAME
