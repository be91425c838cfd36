/* scan_lines.h - the fast path's head loop, included by scan_fast.c once
 * per way of reading 32 bytes at a time (SSE2, and AVX2 where the CPU has
 * it), so each copy is compiled for its instructions. Before including:
 *   LINES_ATTR   attributes of every function here (a target, or nothing)
 *   SPAN         struct span SPAN(const unsigned char *p, const CONSTS_T *k):
 *                the 32 bytes at p
 *   CONSTS(k)    declares k, a CONSTS_T: the byte values SPAN compares with
 *   CRS_BEFORE(m, n)  the bits of m below bit n (n < 64)
 *   SHAPE, HEAD  the names this copy gives its functions
 *   WAY_WARM     as for scan_whole.h
 * Not a header to include anywhere else.
 */

/* The shape of the whole line at p (see line_shape), from one span of 32
 * bytes when the line ends inside it (read from end - 32 near the feed's
 * end, lo being the feed's start), or two; any other line goes to
 * line_shape. */
static inline LINES_ATTR __attribute__((always_inline)) int SHAPE(const unsigned char *p, const unsigned char *lo,
                                                                  const unsigned char *end, struct shape *sh,
                                                                  const CONSTS_T *k)
{
    struct shape slow;
    struct span m;
    size_t avail = (size_t)(end - p);
    if (avail >= 32) {
        m = SPAN(p, k);
    } else if (end - lo >= 32 && avail > 0) {
        unsigned out = 32 - (unsigned)avail;
        m = SPAN(end - 32, k);
        m.lf >>= out;
        m.cr >>= out;
        m.stop = (m.stop >> out) | (~0u << avail);
    } else if (avail > 0) {
        goto any;
    } else {
        return 0;
    }
    uint64_t lfs = m.lf, crs = m.cr;
    if (!lfs) {
        if (avail < 64)
            goto any;
        struct span m2 = SPAN(p + 32, k);
        lfs = (uint64_t)m2.lf << 32;
        crs |= (uint64_t)m2.cr << 32;
        if (!lfs)
            goto any;
    }
    unsigned lf = (unsigned)__builtin_ctzll(lfs);
    if (CRS_BEFORE(crs << 1, lf)) /* a CR not just before the LF: the reference loses */
        return 0;
    sh->lf = lf;
    /* the first stop in the span; bit 31 set, in case the name runs on
     * (p[31] is then no ':', and the line goes the byte-at-a-time way) */
    sh->name = (unsigned)__builtin_ctz(m.stop | 0x80000000u);
    return 1;
any: /* the slow way writes to memory: keep sh out of it */
    if (!line_shape(p, end, &slow))
        return 0;
    *sh = slow;
    return 1;
}

/* A whole status line at p ("HTTP/1.x NNN reason" or "Status: NNN reason"),
 * at once when the feed holds it and it is plain: the state the reference
 * reaches at its LF. Returns where it stopped (p when it did not go on). */
static inline LINES_ATTR __attribute__((always_inline)) const unsigned char *
STATUS(struct scan_state *s, const unsigned char *p, const unsigned char *lo, const unsigned char *end,
       const CONSTS_T *k)
{
    struct shape sh;
    if (!SHAPE(p, lo, end, &sh, k) || counted(p, &sh) > SCAN_MAX_LINE)
        return p;
    const unsigned char *d; /* the three digits */
    uint16_t flags;
    if (p[0] == 'H') {
        if (sh.lf < 12 || (load8(p) & 0x00ffffffffffffffull) != (load8("HTTP/1.x") & 0x00ffffffffffffffull)
            || !scan_is_digit(p[7]) || p[8] != ' ')
            return p;
        flags = p[7] == '0' ? SF_HTTP10 : 0;
        d = p + 9;
    } else {
        if (sh.lf < 11 || (load8(p) | 0x0000202020202020ull) != load8("status: "))
            return p;
        flags = SF_CGI;
        d = p + 8;
    }
    if (!scan_is_digit(d[0]) || !scan_is_digit(d[1]) || !scan_is_digit(d[2])
        || (d[3] != ' ' && d[3] != '\r' && d[3] != '\n'))
        return p;
    scan_start_response(s);
    s->flags = flags;
    s->status = (uint16_t)((d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0'));
    scan_start_line(s, SP_HEADER_START);
    return p + sh.lf + 1;
}

/* Header lines at once from the start of one (SP_HEADER_START, no CR
 * pending), each while the feed holds it whole and it is plain: a name of
 * plain bytes, a ':', no CR but the one before the LF, not too long. A
 * header we do not look at is jumped over; one of ours has its value taken
 * at once when simple, else this stops after its ':' with the value parser
 * ready. The blank line ends the head. From SP_START, a status line first.
 * Returns where it stopped, with the state the reference has there. */
static WAY_WARM LINES_ATTR const unsigned char *HEAD(struct scan_state *s, const unsigned char *p, const unsigned char *lo,
                                            const unsigned char *end)
{
    CONSTS(k);
    if (s->phase == SP_START) {
        const unsigned char *q = STATUS(s, p, lo, end, &k);
        if (q == p || q == end)
            return q;
        p = q;
    }
    struct shape sh;
    unsigned header = s->header;
    int passed = 0; /* other lines passed over since the state was written */
    while (SHAPE(p, lo, end, &sh, &k)) {
        if (sh.name == 0) {
            if (sh.lf == 0 || (sh.lf == 1 && p[0] == '\r')) { /* the blank line */
                if (passed)
                    after_other_lines(s);
                s->line_len = 1;
                scan_end_of_head(s);
                return p + sh.lf + 1;
            }
            break;              /* obs-fold, or no name: the byte-at-a-time way */
        }
        if (p[sh.name] != ':')
            break;
        if (header == H_CONTENT_LENGTH) { /* the line's first byte ends the previous header */
            scan_header_done(s);
            if (s->phase == SP_DONE) {
                s->line_len = 1;
                return p + 1;
            }
        }
        header = H_OTHER;
        enum header_id h = ((OUR_NAME_LENGTHS >> sh.name) & 1) ? header_named(p, sh.name) : H_OTHER;
        if (h == H_OTHER) {
            passed = 1;
            p += sh.lf + 1;
            continue;
        }
        after_other_lines(s);
        passed = 0;
        s->header = (uint8_t)h;
        header = h;
        const unsigned char *v = p + sh.name + 1, *e = p + sh.lf;
        if (e[-1] == '\r')
            e--;
        if (!simple_value(s, h, v, e)) {
            s->phase = SP_HEADER_VALUE;
            s->line_len = (uint16_t)(sh.name + 1);
            return v;
        }
        p += sh.lf + 1;
    }
    if (passed)
        after_other_lines(s);
    return p;
}

#undef LINES_ATTR
#undef WAY_WARM
#undef CONSTS
#undef CONSTS_T
#undef CRS_BEFORE
#undef SPAN
#undef SHAPE
#undef STATUS
#undef HEAD
