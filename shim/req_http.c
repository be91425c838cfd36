/* req_http.c - the HTTP/1.x request scanner (see reqscan.h): request line,
 * headers (Content-Length, Transfer-Encoding, Expect, Upgrade), a body of
 * Content-Length bytes or chunked with trailers, pipelined requests. Bytes
 * that break the framing stop it in REQ_P_LOST (a server would answer 400
 * and close). Pure: no syscalls.
 *
 * Fields: `left` is the length of the current line; `remaining` a number
 * being parsed, then the body or chunk bytes still to come; `sub` the header
 * whose value is being read (H_*), or in REQ_P_BODY what follows (B_*);
 * `match` the progress matching a name, a method or a token; `aux` the
 * progress through "HTTP/1.x".
 */
#include "req_http.h"

#include <string.h>

#include "pages.h"


const char *const req_http_names[] = { "", "content-length", "transfer-encoding", "expect", "upgrade" };
const uint8_t req_http_name_lens[] = { 0, 14, 17, 6, 7 };

/* What follows the bytes counted in REQ_P_BODY. */
enum { B_WHOLE_BODY = 0, B_CHUNK };

static const char version_prefix[] = REQ_HTTP_VERSION; /* then one digit */
#define VERSION_PREFIX_LEN REQ_HTTP_VERSION_LEN
#define MAX_CHUNK_SIZE (1ull << 59)

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static inline int is_ows(unsigned char c) { return c == ' ' || c == '\t'; }
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* RFC 9110 tchar, by byte. */
#define T1(c) [c] = 1
const uint8_t req_http_tchar[256] = {
    T1('!'), T1('#'), T1('$'), T1('%'), T1('&'), T1('\''), T1('*'), T1('+'), T1('-'), T1('.'),
    T1('^'), T1('_'), T1('`'), T1('|'), T1('~'),
    T1('0'), T1('1'), T1('2'), T1('3'), T1('4'), T1('5'), T1('6'), T1('7'), T1('8'), T1('9'),
    T1('A'), T1('B'), T1('C'), T1('D'), T1('E'), T1('F'), T1('G'), T1('H'), T1('I'), T1('J'),
    T1('K'), T1('L'), T1('M'), T1('N'), T1('O'), T1('P'), T1('Q'), T1('R'), T1('S'), T1('T'),
    T1('U'), T1('V'), T1('W'), T1('X'), T1('Y'), T1('Z'),
    T1('a'), T1('b'), T1('c'), T1('d'), T1('e'), T1('f'), T1('g'), T1('h'), T1('i'), T1('j'),
    T1('k'), T1('l'), T1('m'), T1('n'), T1('o'), T1('p'), T1('q'), T1('r'), T1('s'), T1('t'),
    T1('u'), T1('v'), T1('w'), T1('x'), T1('y'), T1('z'),
};
#undef T1

static inline int is_tchar(unsigned char c)
{
    return req_http_tchar[c];
}

static int hex_value(unsigned char c)
{
    if (is_digit(c)) return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* After a head or a body: the next request, or nothing more to scan when
 * the request left HTTP (CONNECT, Upgrade). */
static void after_request(struct req_state *s)
{
    s->phase = (s->flags & RQ_UPGRADE) ? REQ_P_DONE : REQ_P_IDLE;
}

/* Matches c, the next byte of a token or name, against `want` (lower case). */
static void match_byte(struct req_state *s, unsigned char c, const char *want, unsigned want_len)
{
    if (!(s->flags & RQ_DIRTY) && s->match < want_len && lower(c) == (unsigned char)want[s->match])
        s->match++;
    else
        s->flags |= RQ_DIRTY;
}

/* True when the token or name just ended is exactly `want` of want_len. */
static int matched(const struct req_state *s, unsigned want_len)
{
    return !(s->flags & RQ_DIRTY) && s->match == want_len;
}

static void start_token(struct req_state *s)
{
    s->match = 0;
    s->flags &= (uint16_t)~RQ_DIRTY;
}

/* Ends one token of a Transfer-Encoding or Expect value. */
static LINGER_WARM void end_token(struct req_state *s)
{
    if (s->match == 0 && !(s->flags & RQ_DIRTY))
        return; /* empty: OWS or commas */
    if (s->sub == H_TRANSFER_ENCODING) {
        s->flags |= RQ_TE; /* the last coding decides chunked */
        if (matched(s, 7))
            s->flags |= RQ_CHUNKED;
        else
            s->flags &= (uint16_t)~RQ_CHUNKED;
    } else if (s->sub == H_EXPECT && matched(s, 12)) {
        s->flags |= RQ_EXPECT;
    }
    start_token(s);
}

/* One byte of a header value (not CR or LF). */
static void value_byte(struct req_state *s, unsigned char c)
{
    switch (s->sub) {
    case H_CONTENT_LENGTH:
        if (is_ows(c)) {
            if (s->flags & RQ_DIGITS)
                s->flags |= RQ_NUM_END;
        } else if (!is_digit(c) || (s->flags & RQ_NUM_END) || !req_add_digit(s, c)) {
            req_lose(s);
        }
        return;
    case H_TRANSFER_ENCODING:
    case H_EXPECT:
        if (c == ',' || is_ows(c))
            end_token(s);
        else
            match_byte(s, c, s->sub == H_EXPECT ? "100-continue" : "chunked", s->sub == H_EXPECT ? 12 : 7);
        return;
    case H_UPGRADE:
        if (!is_ows(c))
            s->flags |= RQ_UPGRADE;
        return;
    }
}

/* A header line's value ended. */
static void end_value(struct req_state *s)
{
    if (s->sub == H_CONTENT_LENGTH) {
        /* one length, or repeats of the same one; anything else is a 400 */
        if (!(s->flags & RQ_DIGITS) || ((s->flags & RQ_HAVE_CL) && s->body != s->remaining)) {
            req_lose(s);
            return;
        }
        s->body = s->remaining;
        s->remaining = 0;
        s->flags |= RQ_HAVE_CL;
    } else if (s->sub == H_TRANSFER_ENCODING || s->sub == H_EXPECT) {
        end_token(s);
    }
    s->phase = HP_HEADER_START;
}

LINGER_WARM void req_http_end_head(struct req_state *s)
{
    if (s->flags & RQ_TE) {
        if (!(s->flags & RQ_CHUNKED)) { /* a request's last coding must be chunked */
            req_lose(s);
            return;
        }
        req_head_done(s, 0, 0);
        s->remaining = 0;
        s->phase = HP_CHUNK_SIZE;
        return;
    }
    uint64_t n = (s->flags & RQ_HAVE_CL) ? s->body : 0;
    req_head_done(s, n, 1);
    if (n > 0) {
        s->remaining = n;
        s->sub = B_WHOLE_BODY;
        s->phase = REQ_P_BODY;
    } else {
        after_request(s);
    }
}

/* The end of a line (its LF) in phase s->phase. */
static void end_line(struct req_state *s)
{
    s->left = 0;
    switch (s->phase) {
    case HP_VERSION:
        if (s->aux != VERSION_PREFIX_LEN + 1) { req_lose(s); return; }
        s->phase = HP_HEADER_START;
        return;
    case HP_HEADER_START: req_http_end_head(s); return;
    case HP_VALUE: end_value(s); return;
    case HP_CHUNK_SIZE:
    case HP_CHUNK_EXT:
        if (!(s->flags & RQ_DIGITS)) { req_lose(s); return; }
        s->flags &= (uint16_t)~RQ_DIGITS;
        if (s->remaining == 0) {
            s->phase = HP_TRAILER_START;
        } else {
            s->sub = B_CHUNK;
            s->phase = REQ_P_BODY;
        }
        return;
    case HP_CHUNK_END:
        s->remaining = 0;
        s->phase = HP_CHUNK_SIZE;
        return;
    case HP_TRAILER_START: /* the blank line after the trailers: the body is done */
        req_body_done(s);
        after_request(s);
        return;
    case HP_TRAILER_LINE:
        s->phase = HP_TRAILER_START;
        return;
    default: /* a line may not end inside a method, target or name */
        req_lose(s);
        return;
    }
}

/* One byte that is not CR or LF, in a line. */
static void line_byte(struct req_state *s, unsigned char c)
{
    switch (s->phase) {
    case HP_METHOD:
        if (c == ' ') {
            if (s->match == 0 && !(s->flags & RQ_DIRTY)) { req_lose(s); return; }
            if (matched(s, 7)) /* CONNECT: a tunnel follows the head */
                s->flags |= RQ_UPGRADE;
            s->match = 0; /* 1 once the target has a byte */
            s->phase = HP_TARGET;
        } else if (is_tchar(c)) {
            if (!(s->flags & RQ_DIRTY) && s->match < 7 && c == (unsigned char)"CONNECT"[s->match])
                s->match++;
            else
                s->flags |= RQ_DIRTY;
        } else {
            req_lose(s);
        }
        return;
    case HP_TARGET:
        if (c == ' ') {
            if (s->match == 0) { req_lose(s); return; } /* empty target */
            s->aux = 0;
            s->phase = HP_VERSION;
        } else if (c < 0x21 || c == 0x7f) {
            req_lose(s);
        } else {
            s->match = 1;
        }
        return;
    case HP_VERSION:
        if (s->aux < VERSION_PREFIX_LEN && c == (unsigned char)version_prefix[s->aux])
            s->aux++;
        else if (s->aux == VERSION_PREFIX_LEN && is_digit(c))
            s->aux++;
        else
            req_lose(s);
        return;
    case HP_HEADER_START:
        if (!is_tchar(c)) { /* obs-fold, or garbage: a 400 */
            req_lose(s);
            return;
        }
        s->flags &= (uint16_t)~(RQ_DIRTY | RQ_DIGITS | RQ_NUM_END);
        s->match = 0;
        s->sub = H_OTHER;
        for (uint8_t h = H_CONTENT_LENGTH; h <= H_UPGRADE; h++)
            if (lower(c) == (unsigned char)req_http_names[h][0])
                s->sub = h;
        if (s->sub == H_OTHER)
            s->flags |= RQ_DIRTY;
        else
            s->match = 1;
        s->phase = HP_NAME;
        return;
    case HP_NAME:
        if (c == ':') {
            if (!matched(s, req_http_name_lens[s->sub]))
                s->sub = H_OTHER;
            start_token(s);
            s->remaining = 0;
            s->phase = HP_VALUE;
        } else if (is_tchar(c)) {
            match_byte(s, c, req_http_names[s->sub], req_http_name_lens[s->sub]);
        } else {
            req_lose(s);
        }
        return;
    case HP_VALUE:
        value_byte(s, c);
        return;
    case HP_CHUNK_SIZE: {
        int v = hex_value(c);
        if (v >= 0) {
            if (s->remaining >= MAX_CHUNK_SIZE / 16) { req_lose(s); return; }
            s->remaining = s->remaining * 16 + (uint64_t)v;
            s->flags |= RQ_DIGITS;
        } else if ((c == ';' || is_ows(c)) && (s->flags & RQ_DIGITS)) {
            s->phase = HP_CHUNK_EXT;
        } else {
            req_lose(s);
        }
        return;
    }
    case HP_CHUNK_EXT:
        return;
    case HP_CHUNK_END: /* only CRLF may follow a chunk's data */
        req_lose(s);
        return;
    case HP_TRAILER_START:
        s->phase = HP_TRAILER_LINE;
        return;
    case HP_TRAILER_LINE:
        return;
    }
}

/* One byte outside a counted body. */
static void http_byte(struct req_state *s, unsigned char c)
{
    if (s->phase == REQ_P_IDLE) {
        if (c == '\r' || c == '\n') /* blank lines between requests are ignored */
            return;
        if (!is_tchar(c)) {
            req_lose(s);
            return;
        }
        req_begin(s);
        s->phase = HP_METHOD;
    }
    if (++s->left > REQ_MAX_LINE) {
        req_lose(s);
        return;
    }
    if (c == '\r') {
        if (s->flags & RQ_CR)
            req_lose(s);
        else
            s->flags |= RQ_CR;
        return;
    }
    if (c == '\n') {
        s->flags &= (uint16_t)~RQ_CR;
        end_line(s);
        return;
    }
    if (s->flags & RQ_CR) { /* a bare CR inside a line */
        req_lose(s);
        return;
    }
    line_byte(s, c);
}

/* How many bytes from p[0..n) the scanner may pass over without looking
 * at each: the rest of a line whose bytes do not matter (a header this
 * scanner ignores, a trailer, a chunk extension), of a request target, of
 * a header name that cannot match. The same state as feeding them one by
 * one, but for the line's length, which the caller adds. */
static size_t skippable_run(const struct req_state *s, const unsigned char *p, size_t n)
{
    size_t j = 0;
    if (s->flags & RQ_CR)
        return 0; /* the next byte must be LF */
    switch (s->phase) {
    case HP_VALUE:
        if (s->sub != H_OTHER)
            return 0;
        /* fall through */
    case HP_TRAILER_LINE:
    case HP_CHUNK_EXT:
        while (j < n && p[j] != '\r' && p[j] != '\n')
            j++;
        return j;
    case HP_TARGET:
        while (j < n && p[j] > 0x20 && p[j] != 0x7f)
            j++;
        return j;
    case HP_NAME:
        if (s->sub != H_OTHER && !(s->flags & RQ_DIRTY))
            return 0;
        while (j < n && is_tchar(p[j]))
            j++;
        return j;
    case HP_METHOD: /* not CONNECT: the rest of the token */
        if (!(s->flags & RQ_DIRTY))
            return 0;
        while (j < n && is_tchar(p[j]))
            j++;
        return j;
    }
    return 0;
}

/* "HTTP/1.x" whole at p (n bytes there) at the start of the version, the
 * line short enough: 1, and the scanner is past it as byte by byte. */
static int whole_version(struct req_state *s, const unsigned char *p, size_t n)
{
    if (s->aux != 0 || n < VERSION_PREFIX_LEN + 1 || (s->flags & RQ_CR)
        || s->left + VERSION_PREFIX_LEN + 1 > REQ_MAX_LINE
        || memcmp(p, version_prefix, VERSION_PREFIX_LEN) != 0 || !is_digit(p[VERSION_PREFIX_LEN]))
        return 0;
    s->aux = VERSION_PREFIX_LEN + 1;
    s->left += VERSION_PREFIX_LEN + 1;
    return 1;
}

LINGER_WARM void req_http_feed_ref(struct req_state *s, const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s->phase == HP_VERSION && whole_version(s, p + i, len - i)) {
            i += VERSION_PREFIX_LEN + 1;
            continue;
        }
        size_t run = s->phase >= HP_METHOD ? skippable_run(s, p + i, len - i) : 0;
        if (run > 0) {
            if (run > REQ_MAX_LINE - s->left) { /* as byte by byte: lost past the limit */
                s->left = REQ_MAX_LINE + 1;
                req_lose(s);
                return;
            }
            s->left += (uint32_t)run;
            if (s->phase == HP_TARGET)
                s->match = 1; /* the target has a byte */
            i += run;
            continue;
        }
        if (s->phase == REQ_P_BODY) {
            i += req_count_body(s, len - i, REQ_P_BODY);
            if (s->remaining > 0)
                return;
            if (s->sub == B_CHUNK) {
                s->phase = HP_CHUNK_END;
            } else {
                req_body_done(s);
                after_request(s);
            }
            continue;
        }
        if (req_is_stopped(s))
            return;
        http_byte(s, p[i++]);
    }
}
