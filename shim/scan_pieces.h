/* scan_pieces.h - the response scanner's fast path inside a line: for a
 * line split between writes, and for pieces too short for the whole-line
 * way (scan_fast.c). Each step takes what the piece holds of one part of a
 * line at once - the bytes of a value or reason phrase that need only
 * counting, a header name, a one-token Connection value, a Content-Length
 * number, whole lines with memchr - and leaves the state the reference
 * machine (scan_ref.c) reaches at the same byte; where none applies the
 * caller feeds one byte to that machine. Pure: no syscalls. Included by
 * scan_fast.c alone (so that its steps inline into scan_feed).
 */
#ifndef LINGER_SCAN_PIECES_H
#define LINGER_SCAN_PIECES_H

#include "scan_machine.h"

#include <string.h>

/* True when the next bytes up to a CR or LF only need counting: the value
 * of a header we do not look at, the reason phrase, a trailer line, a chunk
 * extension. */
static inline int plain_run(const struct scan_state *s)
{
    if (s->flags & SF_CR)
        return 0;
    switch ((enum scan_phase)s->phase) {
    case SP_HEADER_VALUE: return s->header == H_OTHER;
    case SP_STATUS:       return s->line_len >= 13 - ((s->flags & SF_CGI) != 0);
    case SP_TRAILER_LINE:
    case SP_CHUNK_EXT:    return 1;
    default:              return 0;
    }
}

/* Counts the bytes before the next CR or LF as part of the current line
 * (memchr, not a byte at a time); returns where it stopped: there, or at
 * the byte that would make the line too long (line_byte loses on it). */
static const unsigned char *skip_plain(struct scan_state *s, const unsigned char *p, const unsigned char *end)
{
    const unsigned char *stop = memchr(p, '\n', (size_t)(end - p));
    if (!stop)
        stop = end;
    const unsigned char *cr = memchr(p, '\r', (size_t)(stop - p));
    if (cr)
        stop = cr;
    size_t n = (size_t)(stop - p);
    if (s->line_len + n > SCAN_MAX_LINE) /* the byte past the limit loses, through line_byte */
        n = SCAN_MAX_LINE - s->line_len;
    s->line_len = (uint16_t)(s->line_len + n);
    return p + n;
}

/* Bytes a header name may hold that need no judging: all but CTLs, SP, ':'
 * and DEL (those go through header_name_byte). GNU range designators. */
static const uint8_t plain_name_byte[256] = {
    [0x21 ... 0x39] = 1, [0x3b ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};

/* The rest of a header name that matches none of ours: valid name bytes
 * are only counted, up to the ':' or anything the per-byte path judges (a
 * byte that would make the line too long, too). */
static const unsigned char *skip_name(struct scan_state *s, const unsigned char *p, const unsigned char *end)
{
    const unsigned char *q = p;
    while (q < end && plain_name_byte[*q])
        q++;
    size_t n = (size_t)(q - p);
    if (s->line_len + n > SCAN_MAX_LINE) /* the byte past the limit loses, through line_byte */
        n = SCAN_MAX_LINE - s->line_len;
    s->line_len = (uint16_t)(s->line_len + n);
    s->match = (uint8_t)(s->match + n > 255 ? 255 : s->match + n);
    return p + n;
}

/* A status line "HTTP/1.x NNN " whose first 13 bytes are all in the buffer,
 * taken at once: the state the byte-by-byte path would reach after them.
 * Returns where it stopped, or p when the line needs the byte-by-byte path. */
static const unsigned char *fast_status(struct scan_state *s, const unsigned char *p, const unsigned char *end)
{
    if (end - p < 13 || memcmp(p, "HTTP/1.", 7) != 0 || !scan_is_digit(p[7]) || p[8] != ' '
        || !scan_is_digit(p[9]) || !scan_is_digit(p[10]) || !scan_is_digit(p[11]) || p[12] != ' ')
        return p;
    scan_start_response(s);
    if (p[7] == '0')
        s->flags |= SF_HTTP10;
    s->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
    s->line_len = 13;
    return p + 13;
}

/* The rest of a header name that may still be one of ours, decided at once
 * when the buffer holds enough of it: on a full match p moves to the ':'
 * with only that candidate left; when no candidate can match, the token set
 * empties and p stays (skip_name counts the rest). Either way the state is
 * what the byte-by-byte path reaches. Returns NULL when the buffer ends
 * before the name is decided, or where a byte no name holds decides it (the
 * byte-by-byte path loses there, with its candidates as they are). */
static const unsigned char *match_name(struct scan_state *s, const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    for (unsigned h = 1; h <= 3; h++) {
        if (!(s->token & (1u << h)))
            continue;
        size_t rest = scan_header_lens[h] - s->match, i = 0;
        const char *want = scan_header_names[h] + s->match;
        while (i < rest && i < avail && scan_lower(p[i]) == (unsigned char)want[i])
            i++;
        if (i < rest) {
            /* the buffer ends, or a byte no name holds: the reference
             * loses there with its candidates as they are */
            if (i == avail || (!plain_name_byte[p[i]] && p[i] != ':'))
                return NULL;
            continue;           /* differs: this candidate is out */
        }
        if (rest >= avail || (!plain_name_byte[p[rest]] && p[rest] != ':'))
            return NULL;
        if (p[rest] != ':')
            continue;           /* a longer name */
        if (s->line_len + rest > SCAN_MAX_LINE)
            return NULL;
        s->token = (uint8_t)(1u << h);
        s->match = (uint8_t)(s->match + rest);
        s->line_len = (uint16_t)(s->line_len + rest);
        return p + rest;
    }
    s->token = 0;
    return p;
}

/* The rest of a header line we do not look at, from its ':' to its LF, in
 * one step when the buffer holds it all: the state the byte-by-byte path
 * reaches at the start of the next line. Returns where it stopped, or p
 * when the line needs the byte-by-byte path (an empty name, a CR not
 * before the LF, a line too long, or no LF yet). */
static const unsigned char *finish_other_line(struct scan_state *s, const unsigned char *p, const unsigned char *end)
{
    if (s->match == 0)
        return p;
    const unsigned char *lf = memchr(p + 1, '\n', (size_t)(end - p - 1));
    if (!lf)
        return p;
    const unsigned char *cr = memchr(p + 1, '\r', (size_t)(lf - p - 1));
    if (cr && cr != lf - 1)
        return p;
    size_t counted = (size_t)(lf - p) + 1 - (cr ? 1 : 0); /* a CR is not counted */
    if (s->line_len + counted > SCAN_MAX_LINE)
        return p;
    s->header = H_OTHER;
    scan_start_value(s);
    scan_start_line(s, SP_HEADER_START); /* the line's end does nothing more for another header */
    return lf + 1;
}

/* Header lines at once, from the start of one (SP_HEADER_START, no CR
 * pending), while the buffer holds each whole line up to its LF and the
 * line is plain: a name of valid bytes, a ':', a value with no CR but the
 * one before the LF, not too long. A line for a header we do not look at is
 * passed over whole; at one of ours this stops after the ':' with its value
 * parser ready. The state is what the byte-by-byte path reaches at the
 * same point. Returns where it stopped. */
static const unsigned char *piece_header_lines(struct scan_state *s, const unsigned char *p, const unsigned char *end)
{
    while (p < end && plain_name_byte[*p]) {
        const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf)
            break;
        const unsigned char *cr = memchr(p, '\r', (size_t)(lf - p));
        if (cr && cr != lf - 1)
            break;
        size_t counted = (size_t)(lf - p) + 1 - (cr ? 1 : 0); /* a CR is not counted */
        const unsigned char *colon = p + 1;
        while (plain_name_byte[*colon]) /* stops at the LF at the latest */
            colon++;
        if (*colon != ':' || counted > SCAN_MAX_LINE)
            break;
        s->line_len = 1;  /* the first byte's header_start_byte, as the bytes would */
        scan_header_done(s);
        if (s->phase == SP_DONE)
            return p + 1;
        s->flags |= SF_IN_HEADER;
        s->header = (uint8_t)scan_header_named(p, (size_t)(colon - p));
        scan_start_value(s);
        if (s->header != H_OTHER) {
            s->line_len = (uint16_t)(colon - p + 1);
            return colon + 1;
        }
        scan_start_line(s, SP_HEADER_START);
        p = lf + 1;
    }
    return p;
}

/* The value from p to its LF, when the buffer holds the LF: *first is its
 * first byte past optional whitespace, *stop where it ends (at a CR just
 * before the LF, or at the LF). Returns the LF, or NULL. */
static inline const unsigned char *whole_value(const unsigned char *p, const unsigned char *end,
                                        const unsigned char **first, const unsigned char **stop)
{
    const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
    if (!lf)
        return NULL;
    const unsigned char *e = lf;
    if (e > p && e[-1] == '\r')
        e--;
    while (p < e && scan_is_ows(*p))
        p++;
    *first = p;
    *stop = e;
    return lf;
}

/* Past the whitespace from q on, up to stop at most. */
static inline const unsigned char *skip_ows(const unsigned char *q, const unsigned char *stop)
{
    while (q < stop && scan_is_ows(*q))
        q++;
    return q;
}

/* A Connection value that is one token ("close", "keep-alive" or another)
 * between optional whitespace, up to its LF, in one step when the buffer
 * holds it all: the state the byte-by-byte path reaches at the start of the
 * next line. Returns where it stopped, or p for the byte-by-byte path (a
 * list, a CR not before the LF, a long token or line, or no LF yet). */
static const unsigned char *fast_connection_value(struct scan_state *s, const unsigned char *p, const unsigned char *end)
{
    const unsigned char *t, *stop, *lf = whole_value(p, end, &t, &stop);
    if (!lf)
        return p;
    const unsigned char *q = t;
    while (q < stop && !scan_is_ows(*q) && *q != ',' && *q != '\r')
        q++;
    size_t tlen = (size_t)(q - t);
    q = skip_ows(q, stop);
    size_t counted = (size_t)(stop - p) + 1; /* the value and the LF, not the CR */
    if (q != stop || tlen > 64 || s->line_len + counted > SCAN_MAX_LINE)
        return p;
    for (unsigned k = T_CLOSE; k <= T_KEEP_ALIVE; k++) {
        if (tlen != scan_token_lens[k])
            continue;
        size_t i = 0;
        while (i < tlen && scan_lower(t[i]) == (unsigned char)scan_token_names[k][i])
            i++;
        if (i == tlen)
            s->flags |= k == T_CLOSE ? SF_CONN_CLOSE : SF_CONN_KEEP;
    }
    s->match = 0;
    s->token = 0;
    s->flags &= (uint16_t)~SF_TOKEN_DIRTY;
    scan_start_line(s, SP_HEADER_START);
    return lf + 1;
}

/* The first Content-Length value of a response when it is one number
 * between optional whitespace, up to its LF, in one step when the buffer
 * holds it all: the state the byte-by-byte path reaches at the start of the
 * next line. Returns where it stopped, or p for the byte-by-byte path (a
 * list, a second Content-Length, a CR not before the LF, a number of 18
 * digits or more, a long line, or no LF yet). Up to 17 digits, the byte
 * path cannot overflow either. */
static const unsigned char *fast_length_value(struct scan_state *s, const unsigned char *p, const unsigned char *end)
{
    if (s->flags & (SF_CL | SF_VALUE_DIGITS))
        return p;
    const unsigned char *digits, *stop, *lf = whole_value(p, end, &digits, &stop);
    if (!lf)
        return p;
    const unsigned char *q = digits;
    uint64_t v = 0;
    while (q < stop && scan_is_digit(*q) && q - digits < 17)
        v = v * 10 + (uint64_t)(*q++ - '0');
    size_t ndigits = (size_t)(q - digits);
    q = skip_ows(q, stop);
    size_t counted = (size_t)(stop - p) + 1; /* the value and the LF, not the CR */
    if (q != stop || ndigits == 0 || s->line_len + counted > SCAN_MAX_LINE) /* an 18th digit: q != stop */
        return p;
    s->remaining = v;
    s->flags |= SF_VALUE_DIGITS | SF_VALUE_END;
    scan_start_line(s, SP_HEADER_START);
    return lf + 1;
}

/* One step of the fast path at p (see the top of this file); returns where
 * it stopped: p when no step applies. */
static inline const unsigned char *scan_piece_step(struct scan_state *s, const unsigned char *p,
                                                   const unsigned char *end)
{
    if (s->flags & SF_CR)
        return p;
    if (plain_run(s))
        return skip_plain(s, p, end);
    switch ((enum scan_phase)s->phase) {
    case SP_HEADER_NAME: {
        const unsigned char *q = s->token ? match_name(s, p, end) : p;
        if (!q)
            return p;
        const unsigned char *r = s->token ? q : skip_name(s, q, end);
        if (!s->token && r < end && *r == ':' && s->phase == SP_HEADER_NAME)
            r = finish_other_line(s, r, end);
        return r;
    }
    case SP_HEADER_VALUE:
        if (s->header == H_CONNECTION && s->match == 0)
            return fast_connection_value(s, p, end);
        if (s->header == H_CONTENT_LENGTH)
            return fast_length_value(s, p, end);
        return p;
    case SP_HEADER_START:
        return piece_header_lines(s, p, end);
    case SP_START:
        return *p == 'H' ? fast_status(s, p, end) : p;
    default:
        return p;
    }
}

#endif
