/* scan_machine.h - the byte-by-byte response machine (scan_ref.c), as the
 * fast path (scan_fast.c) builds on it. Internal to the scanner: callers use
 * scan.h. The machine is the reference: whatever the fast path does, the
 * state it leaves is the one these functions reach byte by byte.
 */
#ifndef LINGER_SCAN_MACHINE_H
#define LINGER_SCAN_MACHINE_H

#include "scan.h"

/* Which header the current line is (struct scan_state.header). */
enum header_id { H_OTHER = 0, H_CONNECTION, H_CONTENT_LENGTH, H_TRANSFER_ENCODING };

/* Tokens looked for in Connection / Transfer-Encoding values. */
enum token_id { T_CLOSE = 0, T_KEEP_ALIVE, T_CHUNKED };

/* Header names we care about, lower case, indexed by enum header_id; and
 * the tokens, indexed by enum token_id. */
static const char *const scan_header_names[] = { "", "connection", "content-length", "transfer-encoding" };
static const uint8_t scan_header_lens[] = { 0, 10, 14, 17 };
static const char *const scan_token_names[] = { "close", "keep-alive", "chunked" };
static const uint8_t scan_token_lens[] = { 5, 10, 7 };

/* The 8 bytes at p, as one word (any alignment). */
static inline uint64_t scan_load8(const void *p)
{
    uint64_t w;
    __builtin_memcpy(&w, p, sizeof w);
    return w;
}

/* The 2 bytes at p, as one word (any alignment). */
static inline uint16_t scan_load16(const void *p)
{
    uint16_t w;
    __builtin_memcpy(&w, p, sizeof w);
    return w;
}

/* True when the n bytes at p (8 <= n <= 16) are the lower-case name want,
 * in any case. Our names hold only letters and '-': OR-ing 0x20 into each
 * byte lowers a letter and keeps '-', and of the bytes a name may hold no
 * other becomes a letter or '-' that way. */
static inline int scan_same_name(const unsigned char *p, const char *want, size_t n)
{
    const uint64_t lower = 0x2020202020202020ull;
    return ((scan_load8(p) | lower) == scan_load8(want)) && ((scan_load8(p + n - 8) | lower) == scan_load8(want + n - 8));
}

/* Which of our headers the name [p, p + n) is, case-insensitively (its
 * bytes are all name bytes: no CTL, SP, ':' or DEL). */
static inline enum header_id scan_header_named(const unsigned char *p, size_t n)
{
    if (n == 10 && scan_same_name(p, "connection", 10))
        return H_CONNECTION;
    if (n == 14 && scan_same_name(p, "content-length", 14))
        return H_CONTENT_LENGTH;
    if (n == 17 && scan_same_name(p, "transfer-encoding", 16) && (p[16] | 0x20) == 'g')
        return H_TRANSFER_ENCODING;
    return H_OTHER;
}

static inline unsigned char scan_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static inline int scan_is_ows(unsigned char c) { return c == ' ' || c == '\t'; }
static inline int scan_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Begins a new line in phase p. */
static inline void scan_start_line(struct scan_state *s, enum scan_phase p)
{
    s->phase = (uint8_t)p;
    s->line_len = 0;
}

/* Prepares the value parser for a header whose name just ended. */
static inline void scan_start_value(struct scan_state *s)
{
    s->flags &= (uint16_t)~(SF_VALUE_DIGITS | SF_VALUE_END | SF_TOKEN_DIRTY);
    s->match = 0;
    s->token = 0;
    s->phase = SP_HEADER_VALUE;
}

/* Resets the per-response state before a status line. */
static inline void scan_start_response(struct scan_state *s)
{
    s->flags = 0;
    s->status = 0;
    s->remaining = 0;
    s->header = H_OTHER;
    scan_start_line(s, SP_STATUS);
}

/* Feeds one byte to a line-oriented phase (not a body, not stopped). */
void scan_line_byte(struct scan_state *s, unsigned char c);

/* Stops scanning for good: the stream is not HTTP/1.x we understand. */
static inline void scan_lose(struct scan_state *s)
{
    s->verdict = SCAN_LOST;
    s->phase = SP_DONE;
}

/* Ends one element of a Content-Length value; all elements must be equal. */
void scan_end_length(struct scan_state *s);

/* Called when a header is complete (the next line is not a continuation).
 * The first Content-Length of a head, one number, is ended here at once. */
static inline void scan_header_done(struct scan_state *s)
{
    if (s->header == H_CONTENT_LENGTH && s->phase != SP_DONE) {
        if ((s->flags & (SF_VALUE_DIGITS | SF_CL)) == SF_VALUE_DIGITS) {
            s->flags = (uint16_t)((s->flags | SF_CL) & ~(SF_VALUE_DIGITS | SF_VALUE_END));
            s->match = 0;
        } else {
            scan_end_length(s);
        }
    }
    s->header = H_OTHER;
}

/* The blank line after the headers: decides framing and the verdict. */
static inline void scan_end_of_head(struct scan_state *s)
{
    scan_header_done(s);
    if (s->phase == SP_DONE)
        return;
    if (s->status < 100) {
        scan_lose(s);
        return;
    }
    if (s->status == 101) {
        s->verdict = SCAN_UPGRADED;
        s->phase = SP_DONE;
        return;
    }
    if (s->status < 200) {  /* interim response: the exchange goes on */
        scan_start_line(s, SP_START);
        return;
    }
    if (s->responses < 255)
        s->responses++;
    /* a CGI-style head comes over a protocol of one request per connection */
    int close = (s->flags & (SF_CONN_CLOSE | SF_CGI)) || ((s->flags & SF_HTTP10) && !(s->flags & SF_CONN_KEEP));
    enum scan_phase next;
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
    scan_start_line(s, next);
}

/* Skips body or chunk bytes by count: the first min(len, remaining). */
static inline size_t scan_count_body(struct scan_state *s, size_t len)
{
    size_t n = len;
    if (n > s->remaining)
        n = (size_t)s->remaining;
    s->remaining -= n;
    if (s->remaining == 0)
        scan_start_line(s, s->phase == SP_BODY_LENGTH ? SP_START : SP_CHUNK_DATA_END);
    return n;
}

#endif
