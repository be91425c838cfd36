/* scan_whole.h - the fast path's whole-head pass, included by scan_fast.c
 * once per way of reading 64 bytes at a time (SSE2, and AVX2 where the CPU
 * has it), before scan_lines.h (which undefines the shared names). Before
 * including:
 *   LINES_ATTR   attributes of every function here (a target, or nothing)
 *   MASKS        struct masks64 MASKS(const unsigned char *q, const unsigned char (*k)[32]):
 *                the 64 bytes at q as bit masks (scan_bits.h), k the byte
 *                values it compares with (span_consts())
 *   WHOLE        the name this copy gives its function
 *   WAY_WARM     LINGER_WARM (pages.h) where this way is the one the CPU
 *                takes, else nothing (scan_lines.h undefines it)
 * Not a header to include anywhere else. scan_quick.h comes next, and
 * undefines MASKS and WHOLE.
 *
 * When the feed holds a whole plain head, its bytes are classified 64 at a
 * time into bit masks (LF or ':', the bytes that are not odd, CR), and its
 * lines are checked all at once with bit arithmetic: each line's first
 * byte that ends a name is found by one addition (a carry from the line's
 * start runs through the name bytes after it and stops there); each must
 * be a ':'; every CR must be followed by an LF; the first line whose first
 * byte ends a name must be the blank line. Lines of other headers need
 * nothing more: the state the reference leaves after them does not depend
 * on them one by one. Only names of a length one of ours has (10, 14, 17)
 * are compared, and those headers' values taken (scan_values.h). A head
 * whose blank line is not in the feed yet has its whole lines taken so
 * (whole_lines in scan_bits.h); anything unusual leaves the head to the
 * line-at-a-time way (HEAD in scan_lines.h), with the state untouched.
 */

/* A head is taken whole up to this many 64-byte words (4 KiB, far below
 * SCAN_MAX_LINE, so no line of it is too long). */
#define WHOLE_WORDS 64

/* Names that may be ours (by their length) a head may hold for this pass;
 * a head with more goes the line-at-a-time way. */
#define WHOLE_CANDS 8

/* The whole head at p (phase SP_START, the feed [lo, end) holding 64 bytes
 * or more), at once when it is all in the feed and plain (see the top of
 * this file): the state the reference reaches at the head's last LF, and
 * the byte after it; when the feed ends before the blank line, the state
 * at the start of the last line it holds whole, and that line's start; or
 * p, changing nothing. */
static WAY_WARM LINES_ATTR const unsigned char *WHOLE(struct scan_state *s, const unsigned char *p, const unsigned char *lo,
                                             const unsigned char *end)
{
    const size_t avail = (size_t)(end - p);
    if (end - lo < 64 || avail < 16 || !whole_status_line(p))
        return p;
    const unsigned char(*const k)[32] = span_consts();
    uint16_t cands[WHOLE_CANDS]; /* where names that may be ours end */
    unsigned n_cands = 0;
    struct whole_run r = { 0, 0, 0, 0, 0 };
    const size_t words_end = avail < 64 * WHOLE_WORDS ? avail : 64 * WHOLE_WORDS;
    const size_t full_end = words_end & ~(size_t)63; /* the whole words */
    size_t off = 0;
    uint64_t stops, cand;
    for (;; off += 64) {
        if (off < full_end) {
            stops = whole_word(&r, MASKS(p + off, k), &cand);
        } else if (off < words_end) { /* the feed ends in this word: read it from end - 64 */
            const unsigned out = 64 - (unsigned)(avail - off);
            stops = whole_word(&r, masks_down(MASKS(end - 64, k), out), &cand);
        } else { /* no blank line in the feed (or too far): its whole lines at least */
            const unsigned char *lf = memrchr(p, '\n', words_end);
            return lf ? whole_lines(s, p, (size_t)(lf - p) + 1, cands, n_cands) : p;
        }
        if (__builtin_expect((stops | cand) != 0, 0)) {
            for (; cand; cand &= cand - 1) {
                if (n_cands == WHOLE_CANDS)
                    return p;
                cands[n_cands++] = (uint16_t)(off + (size_t)__builtin_ctzll(cand));
            }
            if (stops)
                break;
        }
    }
    const unsigned t = (unsigned)__builtin_ctzll(stops);
    if (!(r.b >> t & 1))
        return p; /* a line not plain before the blank line */
    const size_t blank = off + t; /* where the blank line starts */
    size_t last = blank; /* the head's last LF */
    if (p[blank] != '\n') {
        if (p[blank] != '\r' || blank + 1 >= avail || p[blank + 1] != '\n')
            return p; /* obs-fold, an empty name, a CTL: the line-at-a-time way */
        last++;
    }
    uint16_t flags = p[0] == 'H' ? (p[7] == '0' ? SF_HTTP10 : 0) : SF_CGI;
    uint64_t length = 0;
    if (r.b_before | (r.b & ((1ull << t) - 1))) { /* a line starts before the blank line: a header line */
        flags |= SF_IN_HEADER;
        for (unsigned i = 0; i < n_cands && cands[i] < blank; i++) {
            const enum header_id h = our_header_at(p, cands[i]);
            if (h != H_OTHER && !head_value(h, p + cands[i] + 1, p + blank, &flags, &length))
                return p; /* a value to take a byte at a time: the line-at-a-time way */
        }
        s->match = 0;
        s->token = 0;
    }
    end_whole_head(s, flags, whole_status(p), length);
    return p + last + 1;
}

#undef WHOLE_WORDS
#undef WHOLE_CANDS
