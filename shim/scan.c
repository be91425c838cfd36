/* scan.c - the HTTP/1.x response scanner (see scan.h). Pure: no syscalls. */
#include "scan.h"

#include <string.h>

enum header_id { H_OTHER = 0, H_CONNECTION, H_CONTENT_LENGTH, H_TRANSFER_ENCODING };

/* Header names we care about, lower case, indexed by enum header_id. */
static const char *const header_names[] = { "", "connection", "content-length", "transfer-encoding" };
static const uint8_t header_lens[] = { 0, 10, 14, 17 };
#define ALL_HEADER_CANDIDATES 0x0eu  /* bits 1..3 */

/* Tokens we look for in Connection / Transfer-Encoding values. */
enum token_id { T_CLOSE = 0, T_KEEP_ALIVE, T_CHUNKED };
static const char *const token_names[] = { "close", "keep-alive", "chunked" };
static const uint8_t token_lens[] = { 5, 10, 7 };

#define MAX_CONTENT_LENGTH 1000000000000000000ull /* 10^18: larger is overflow */
#define MAX_CHUNK_SIZE     (1ull << 59)

void scan_init(struct scan_state *s)
{
    memset(s, 0, sizeof *s);
}

const char *scan_verdict_name(enum scan_verdict v)
{
    switch (v) {
    case SCAN_NONE: return "none";
    case SCAN_KEEPALIVE: return "keep-alive";
    case SCAN_CLOSE: return "close";
    case SCAN_UPGRADED: return "upgraded";
    case SCAN_LOST: return "lost";
    }
    return "?";
}

static inline unsigned char to_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static inline int is_ows(unsigned char c) { return c == ' ' || c == '\t'; }
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int hex_value(unsigned char c)
{
    if (is_digit(c)) return c - '0';
    c = to_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decimal digit count of v (1 for 0). */
static unsigned decimal_digits(uint64_t v)
{
    unsigned n = 1;
    while (v >= 10) { v /= 10; n++; }
    return n;
}

/* The idx-th decimal digit of v, most significant first. */
static unsigned decimal_digit_at(uint64_t v, unsigned idx)
{
    unsigned skip = decimal_digits(v) - 1 - idx;
    while (skip--) v /= 10;
    return (unsigned)(v % 10);
}

/* Stops scanning for good: the stream is not HTTP/1.x we understand. */
static void lose(struct scan_state *s)
{
    s->verdict = SCAN_LOST;
    s->phase = SP_DONE;
}

/* Begins a new line in phase p. */
static void start_line(struct scan_state *s, enum scan_phase p)
{
    s->phase = p;
    s->line_len = 0;
}

/* Prepares the value parser for a header whose name just ended. */
static void start_value(struct scan_state *s)
{
    s->flags &= (uint16_t)~(SF_VALUE_DIGITS | SF_VALUE_END | SF_TOKEN_DIRTY);
    s->match = 0;
    s->token = 0;
    s->phase = SP_HEADER_VALUE;
}

/* Ends one token of a Connection or Transfer-Encoding value. */
static void end_token(struct scan_state *s)
{
    if (s->match == 0)
        return;
    int dirty = (s->flags & SF_TOKEN_DIRTY) != 0;
    if (s->header == H_CONNECTION) {
        if (!dirty && (s->token & (1u << T_CLOSE)) && s->match == token_lens[T_CLOSE])
            s->flags |= SF_CONN_CLOSE;
        if (!dirty && (s->token & (1u << T_KEEP_ALIVE)) && s->match == token_lens[T_KEEP_ALIVE])
            s->flags |= SF_CONN_KEEP;
    } else { /* transfer-encoding: the last coding decides chunked */
        s->flags |= SF_TE;
        if (!dirty && (s->token & (1u << T_CHUNKED)) && s->match == token_lens[T_CHUNKED])
            s->flags |= SF_CHUNKED;
        else
            s->flags &= (uint16_t)~SF_CHUNKED;
    }
    s->match = 0;
    s->token = 0;
    s->flags &= (uint16_t)~SF_TOKEN_DIRTY;
}

/* One byte of a token list value (Connection, Transfer-Encoding). */
static void token_byte(struct scan_state *s, unsigned char c)
{
    if (c == ',' || is_ows(c)) {
        end_token(s);
        return;
    }
    if (s->match == 0)
        s->token = (s->header == H_CONNECTION)
            ? (uint8_t)((1u << T_CLOSE) | (1u << T_KEEP_ALIVE)) : (uint8_t)(1u << T_CHUNKED);
    c = to_lower(c);
    for (unsigned t = 0; t < 3; t++) {
        if ((s->token & (1u << t)) && (s->match >= token_lens[t] || token_names[t][s->match] != c))
            s->token &= (uint8_t)~(1u << t);
    }
    if (!s->token)
        s->flags |= SF_TOKEN_DIRTY;
    if (s->match < 255)
        s->match++;
}

/* Ends one element of a Content-Length value; all elements must be equal. */
static void end_length_element(struct scan_state *s)
{
    if (!(s->flags & SF_VALUE_DIGITS)) {
        lose(s);
        return;
    }
    if ((s->flags & SF_CL) && s->match != decimal_digits(s->remaining)) {
        lose(s);
        return;
    }
    s->flags |= SF_CL;
    s->flags &= (uint16_t)~(SF_VALUE_DIGITS | SF_VALUE_END);
    s->match = 0;
}

/* One byte of a Content-Length value. The first element accumulates into
 * remaining; later ones are compared digit by digit against it. */
static void length_byte(struct scan_state *s, unsigned char c)
{
    if (is_ows(c)) {
        if (s->flags & SF_VALUE_DIGITS)
            s->flags |= SF_VALUE_END;
        return;
    }
    if (c == ',') {
        end_length_element(s);
        return;
    }
    if (!is_digit(c) || (s->flags & SF_VALUE_END)) {
        lose(s);
        return;
    }
    unsigned d = (unsigned)(c - '0');
    if (s->flags & SF_CL) {
        if (s->match >= decimal_digits(s->remaining) || decimal_digit_at(s->remaining, s->match) != d) {
            lose(s);
            return;
        }
        s->match++;
    } else {
        if (s->remaining >= MAX_CONTENT_LENGTH / 10) {
            lose(s);
            return;
        }
        s->remaining = s->remaining * 10 + d;
    }
    s->flags |= SF_VALUE_DIGITS;
}

/* Called at the end of every header line: line end delimits tokens. */
static void header_line_end(struct scan_state *s)
{
    if (s->header == H_CONNECTION || s->header == H_TRANSFER_ENCODING)
        end_token(s);
    else if (s->header == H_CONTENT_LENGTH && (s->flags & SF_VALUE_DIGITS))
        s->flags |= SF_VALUE_END;
}

/* Called when a header is complete (the next line is not a continuation). */
static void header_done(struct scan_state *s)
{
    if (s->header == H_CONTENT_LENGTH && s->phase != SP_DONE)
        end_length_element(s);
    s->header = H_OTHER;
}

/* Resets the per-response state before a status line. */
static void start_response(struct scan_state *s)
{
    s->flags = 0;
    s->status = 0;
    s->remaining = 0;
    s->header = H_OTHER;
    start_line(s, SP_STATUS);
}

static void header_name_byte(struct scan_state *s, unsigned char c);

/* The blank line after the headers: decide framing and the verdict. */
static void end_of_head(struct scan_state *s)
{
    header_done(s);
    if (s->phase == SP_DONE)
        return;
    if (s->status < 100) {
        lose(s);
        return;
    }
    if (s->status == 101) {
        s->verdict = SCAN_UPGRADED;
        s->phase = SP_DONE;
        return;
    }
    if (s->status < 200) {  /* interim response: the exchange goes on */
        start_line(s, SP_START);
        return;
    }
    if (s->responses < 255)
        s->responses++;
    int close = (s->flags & SF_CONN_CLOSE) || ((s->flags & SF_HTTP10) && !(s->flags & SF_CONN_KEEP));
    enum scan_phase next = SP_START;
    if (s->status == 204 || s->status == 304) {
        next = SP_START;
    } else if (s->flags & SF_TE) {
        if (s->flags & SF_CHUNKED) {
            next = SP_CHUNK_SIZE;
            s->remaining = 0;
        } else {
            next = SP_BODY_UNTIL_CLOSE;
            close = 1;
        }
    } else if (s->flags & SF_CL) {
        next = s->remaining ? SP_BODY_LENGTH : SP_START;
    } else {
        next = SP_BODY_UNTIL_CLOSE;
        close = 1;
    }
    s->verdict = close ? SCAN_CLOSE : SCAN_KEEPALIVE;
    s->flags &= (uint16_t)~(SF_VALUE_DIGITS | SF_VALUE_END | SF_CR);
    start_line(s, next);
}

/* One byte of the status line "HTTP/1.x NNN reason". */
static void status_byte(struct scan_state *s, unsigned char c)
{
    static const char prefix[] = "HTTP/1.";
    unsigned i = s->line_len - 1u; /* line_len was already incremented */
    if (i < 7) {
        if (c != (unsigned char)prefix[i]) lose(s);
    } else if (i == 7) {
        if (!is_digit(c)) lose(s);
        else if (c == '0') s->flags |= SF_HTTP10;
    } else if (i == 8) {
        if (c != ' ') lose(s);
    } else if (i <= 11) {
        if (!is_digit(c)) lose(s);
        else s->status = (uint16_t)(s->status * 10 + (c - '0'));
    } else if (i == 12 && c != ' ' && c != '\n') {
        lose(s);
    } else if (c == '\n') {
        start_line(s, SP_HEADER_START);
    }
}

/* First byte of a header line: blank line, continuation, or a new name. */
static void header_start_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n') {
        end_of_head(s);
        return;
    }
    if (is_ows(c)) {            /* obs-fold: the previous value goes on */
        if (!(s->flags & SF_IN_HEADER)) lose(s);
        else s->phase = SP_HEADER_VALUE;
        return;
    }
    header_done(s);
    if (s->phase == SP_DONE)
        return;
    s->flags |= SF_IN_HEADER;
    s->phase = SP_HEADER_NAME;
    if (c == ':' || c < 0x21 || c == 0x7f) { /* an empty name, or a CTL/SP in it */
        lose(s);
        return;
    }
    /* header_name_byte's work for a first byte: the names starting with it */
    c = to_lower(c);
    s->token = 0;
    for (unsigned h = 1; h <= 3; h++)
        if ((unsigned char)header_names[h][0] == c)
            s->token |= (uint8_t)(1u << h);
    s->match = 1;
}

/* One byte of a header name, matched case-insensitively as it arrives. */
static void header_name_byte(struct scan_state *s, unsigned char c)
{
    if (c == ':') {
        if (s->match == 0) {    /* a field name is at least one tchar */
            lose(s);
            return;
        }
        s->header = H_OTHER;
        for (unsigned h = 1; h <= 3; h++)
            if ((s->token & (1u << h)) && s->match == header_lens[h])
                s->header = (uint8_t)h;
        start_value(s);
        return;
    }
    if (c < 0x21 || c == 0x7f) { /* CTL, SP or line end inside a name */
        lose(s);
        return;
    }
    c = to_lower(c);
    for (unsigned h = 1; h <= 3; h++)
        if ((s->token & (1u << h)) && (s->match >= header_lens[h] || header_names[h][s->match] != c))
            s->token &= (uint8_t)~(1u << h);
    if (s->match < 255)
        s->match++;
}

/* One byte of a header value. */
static void header_value_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n') {
        header_line_end(s);
        if (s->phase != SP_DONE)
            start_line(s, SP_HEADER_START);
        return;
    }
    if (s->header == H_CONNECTION || s->header == H_TRANSFER_ENCODING)
        token_byte(s, c);
    else if (s->header == H_CONTENT_LENGTH)
        length_byte(s, c);
}

/* One byte of a chunk-size line: hex digits, optional BWS, ';' extension. */
static void chunk_size_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n') {
        if (!(s->flags & SF_VALUE_DIGITS)) {
            lose(s);
            return;
        }
        s->flags &= (uint16_t)~(SF_VALUE_DIGITS | SF_VALUE_END);
        start_line(s, s->remaining ? SP_CHUNK_DATA : SP_TRAILER_START);
        return;
    }
    if (is_ows(c)) {
        if (s->flags & SF_VALUE_DIGITS) s->flags |= SF_VALUE_END;
        return;
    }
    if (c == ';') {
        if (!(s->flags & SF_VALUE_DIGITS)) lose(s);
        else s->phase = SP_CHUNK_EXT;
        return;
    }
    int v = hex_value(c);
    if (v < 0 || (s->flags & SF_VALUE_END) || s->remaining >= MAX_CHUNK_SIZE) {
        lose(s);
        return;
    }
    s->remaining = (s->remaining << 4) | (uint64_t)v;
    s->flags |= SF_VALUE_DIGITS;
}

/* One byte of a chunk extension: everything up to the line end. */
static void chunk_ext_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n') {
        s->flags &= (uint16_t)~(SF_VALUE_DIGITS | SF_VALUE_END);
        start_line(s, s->remaining ? SP_CHUNK_DATA : SP_TRAILER_START);
    }
}

/* The CRLF that must follow chunk data. */
static void chunk_data_end_byte(struct scan_state *s, unsigned char c)
{
    if (c != '\n') {
        lose(s);
        return;
    }
    s->remaining = 0;
    start_line(s, SP_CHUNK_SIZE);
}

/* First byte of a trailer line: a blank line ends the message. */
static void trailer_start_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n') {
        start_line(s, SP_START);
        return;
    }
    s->phase = SP_TRAILER_LINE;
}

static void trailer_line_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n')
        start_line(s, SP_TRAILER_START);
}

/* Feeds one byte to a line-oriented phase. */
static void line_byte(struct scan_state *s, unsigned char c)
{
    if (s->phase == SP_START) {
        if (c == '\r' || c == '\n')
            return;
        start_response(s);
    }
    if (s->flags & SF_CR) {
        if (c != '\n') {
            lose(s);
            return;
        }
        s->flags &= (uint16_t)~SF_CR;
    } else if (c == '\r') {
        s->flags |= SF_CR;
        return;
    }
    if (++s->line_len > SCAN_MAX_LINE) {
        lose(s);
        return;
    }
    switch ((enum scan_phase)s->phase) {
    case SP_STATUS:        status_byte(s, c); break;
    case SP_HEADER_START:  header_start_byte(s, c); break;
    case SP_HEADER_NAME:   header_name_byte(s, c); break;
    case SP_HEADER_VALUE:  header_value_byte(s, c); break;
    case SP_CHUNK_SIZE:    chunk_size_byte(s, c); break;
    case SP_CHUNK_EXT:     chunk_ext_byte(s, c); break;
    case SP_CHUNK_DATA_END: chunk_data_end_byte(s, c); break;
    case SP_TRAILER_START: trailer_start_byte(s, c); break;
    case SP_TRAILER_LINE:  trailer_line_byte(s, c); break;
    default:               break;
    }
}

/* True when the next bytes up to a CR or LF only need counting: the value
 * of a header we do not look at, the reason phrase, a trailer line, a chunk
 * extension. */
static inline int plain_run(const struct scan_state *s)
{
    if (s->flags & SF_CR)
        return 0;
    switch ((enum scan_phase)s->phase) {
    case SP_HEADER_VALUE: return s->header == H_OTHER;
    case SP_STATUS:       return s->line_len >= 13;
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
    if (end - p < 13 || memcmp(p, "HTTP/1.", 7) != 0 || !is_digit(p[7]) || p[8] != ' '
        || !is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11]) || p[12] != ' ')
        return p;
    start_response(s);
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
 * before the name is decided. */
static const unsigned char *match_name(struct scan_state *s, const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    for (unsigned h = 1; h <= 3; h++) {
        if (!(s->token & (1u << h)))
            continue;
        size_t rest = header_lens[h] - s->match, i = 0;
        const char *want = header_names[h] + s->match;
        while (i < rest && i < avail && to_lower(p[i]) == (unsigned char)want[i])
            i++;
        if (i < rest) {
            if (i == avail)
                return NULL;
            continue;           /* differs: this candidate is out */
        }
        if (rest >= avail)
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
    start_value(s);
    header_line_end(s);
    start_line(s, SP_HEADER_START);
    return lf + 1;
}

/* The 8 bytes at p, as one word (any alignment). */
static inline uint64_t load8(const void *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* True when the n bytes at p (8 <= n <= 16) are the lower-case name want,
 * in any case. Our names hold only letters and '-': OR-ing 0x20 into each
 * byte lowers a letter and keeps '-', and of the bytes a name may hold no
 * other becomes a letter or '-' that way. */
static inline int same_name(const unsigned char *p, const char *want, size_t n)
{
    const uint64_t lower = 0x2020202020202020ull;
    return ((load8(p) | lower) == load8(want)) && ((load8(p + n - 8) | lower) == load8(want + n - 8));
}

/* Which of our headers the name [p, p + n) is, case-insensitively (its
 * bytes are all plain_name_byte). */
static enum header_id header_named(const unsigned char *p, size_t n)
{
    if (n == 10 && same_name(p, "connection", 10))
        return H_CONNECTION;
    if (n == 14 && same_name(p, "content-length", 14))
        return H_CONTENT_LENGTH;
    if (n == 17 && same_name(p, "transfer-encoding", 16) && (p[16] | 0x20) == 'g')
        return H_TRANSFER_ENCODING;
    return H_OTHER;
}

/* Header lines at once, from the start of one (SP_HEADER_START, no CR
 * pending), while the buffer holds each whole line up to its LF and the
 * line is plain: a name of valid bytes, a ':', a value with no CR but the
 * one before the LF, not too long. A line for a header we do not look at is
 * passed over whole; at one of ours this stops after the ':' with its value
 * parser ready. The state is what the byte-by-byte path reaches at the
 * same point. Returns where it stopped. */
static const unsigned char *header_lines(struct scan_state *s, const unsigned char *p, const unsigned char *end)
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
        header_done(s);
        if (s->phase == SP_DONE)
            return p + 1;
        s->flags |= SF_IN_HEADER;
        s->header = (uint8_t)header_named(p, (size_t)(colon - p));
        start_value(s);
        if (s->header != H_OTHER) {
            s->line_len = (uint16_t)(colon - p + 1);
            return colon + 1;
        }
        start_line(s, SP_HEADER_START);
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
    while (p < e && is_ows(*p))
        p++;
    *first = p;
    *stop = e;
    return lf;
}

/* Past the whitespace from q on, up to stop at most. */
static inline const unsigned char *skip_ows(const unsigned char *q, const unsigned char *stop)
{
    while (q < stop && is_ows(*q))
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
    while (q < stop && !is_ows(*q) && *q != ',' && *q != '\r')
        q++;
    size_t tlen = (size_t)(q - t);
    q = skip_ows(q, stop);
    size_t counted = (size_t)(stop - p) + 1; /* the value and the LF, not the CR */
    if (q != stop || tlen > 64 || s->line_len + counted > SCAN_MAX_LINE)
        return p;
    for (unsigned k = T_CLOSE; k <= T_KEEP_ALIVE; k++) {
        if (tlen != token_lens[k])
            continue;
        size_t i = 0;
        while (i < tlen && to_lower(t[i]) == (unsigned char)token_names[k][i])
            i++;
        if (i == tlen)
            s->flags |= k == T_CLOSE ? SF_CONN_CLOSE : SF_CONN_KEEP;
    }
    s->match = 0;
    s->token = 0;
    s->flags &= (uint16_t)~SF_TOKEN_DIRTY;
    start_line(s, SP_HEADER_START);
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
    while (q < stop && is_digit(*q) && q - digits < 17)
        v = v * 10 + (uint64_t)(*q++ - '0');
    size_t ndigits = (size_t)(q - digits);
    q = skip_ows(q, stop);
    size_t counted = (size_t)(stop - p) + 1; /* the value and the LF, not the CR */
    if (q != stop || ndigits == 0 || s->line_len + counted > SCAN_MAX_LINE) /* an 18th digit: q != stop */
        return p;
    s->remaining = v;
    s->flags |= SF_VALUE_DIGITS | SF_VALUE_END;
    start_line(s, SP_HEADER_START);
    return lf + 1;
}

enum scan_verdict scan_feed(struct scan_state *s, const void *buf, size_t len)
{
    const unsigned char *p = buf, *end = p + len;
    while (p < end) {
        switch ((enum scan_phase)s->phase) {
        case SP_BODY_LENGTH:
        case SP_CHUNK_DATA: {
            size_t n = (size_t)(end - p);
            if (n > s->remaining)
                n = (size_t)s->remaining;
            p += n;
            s->remaining -= n;
            if (s->remaining == 0)
                start_line(s, s->phase == SP_BODY_LENGTH ? SP_START : SP_CHUNK_DATA_END);
            break;
        }
        case SP_BODY_UNTIL_CLOSE:
        case SP_DONE:
            return (enum scan_verdict)s->verdict;
        default: {
            const unsigned char *from = p;
            if (plain_run(s)) {
                p = skip_plain(s, p, end);
            } else if (s->phase == SP_HEADER_NAME && !(s->flags & SF_CR)) {
                const unsigned char *q = s->token ? match_name(s, p, end) : p;
                if (q)
                    p = s->token ? q : skip_name(s, q, end);
                if (q && !s->token && p < end && *p == ':' && s->phase == SP_HEADER_NAME)
                    p = finish_other_line(s, p, end);
            } else if (s->phase == SP_HEADER_VALUE && s->header == H_CONNECTION && s->match == 0
                       && !(s->flags & SF_CR)) {
                p = fast_connection_value(s, p, end);
            } else if (s->phase == SP_HEADER_VALUE && s->header == H_CONTENT_LENGTH && !(s->flags & SF_CR)) {
                p = fast_length_value(s, p, end);
            } else if (s->phase == SP_HEADER_START && !(s->flags & SF_CR)) {
                p = header_lines(s, p, end);
            } else if (s->phase == SP_START && *p == 'H') {
                p = fast_status(s, p, end);
            }
            /* a byte at a time where no fast path went on */
            if (p == from && s->phase != SP_DONE)
                line_byte(s, *p++);
            break;
        }
        }
    }
    return (enum scan_verdict)s->verdict;
}

int scan_skip_unseen(struct scan_state *s, uint64_t n)
{
    if (s->phase >= SP_BODY_UNTIL_CLOSE)
        return 1;
    if ((s->phase == SP_BODY_LENGTH || s->phase == SP_CHUNK_DATA) && n <= s->remaining) {
        s->remaining -= n;
        if (s->remaining == 0)
            start_line(s, s->phase == SP_BODY_LENGTH ? SP_START : SP_CHUNK_DATA_END);
        return 1;
    }
    s->phase = SP_DONE;
    return 0;
}
