/* scan.h - pure, incremental scanner of the HTTP/1.x responses a socket sends.
 *
 * It is fed the outgoing bytes of one connection in arbitrary pieces and keeps
 * just enough state (struct scan_state, 24 bytes) to say whether the last
 * response head it saw asks for the connection to close. No syscalls, no
 * allocation, no logging: it is safe to call from anywhere and testable alone.
 *
 * A response head starts with an HTTP/1.x status line, or with a CGI-style
 * "Status: NNN reason" line (SCGI and uwsgi apps answer that way); such a
 * head has close semantics, as those protocols carry one request per
 * connection.
 */
#ifndef LINGER_SCAN_H
#define LINGER_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* What the bytes seen so far say about the connection. */
enum scan_verdict {
    SCAN_NONE = 0,      /* no complete response head yet */
    SCAN_KEEPALIVE,     /* last final response head keeps the connection open */
    SCAN_CLOSE,         /* last final response head has close semantics */
    SCAN_UPGRADED,      /* 101 Switching Protocols: scanning stopped */
    SCAN_LOST,          /* bytes were not HTTP/1.x we understand: scanning stopped */
};

/* Where in the byte stream the scanner is. Values are internal but stable. */
enum scan_phase {
    SP_START = 0,       /* before a status line (CR/LF tolerated) */
    SP_STATUS,          /* inside the status line */
    SP_HEADER_START,    /* at the first byte of a header line */
    SP_HEADER_NAME,
    SP_HEADER_VALUE,
    SP_BODY_LENGTH,     /* skipping `remaining` body bytes */
    SP_CHUNK_SIZE,
    SP_CHUNK_EXT,       /* chunk extension up to end of line */
    SP_CHUNK_DATA,      /* skipping `remaining` chunk bytes */
    SP_CHUNK_DATA_END,  /* expecting CRLF after chunk data */
    SP_TRAILER_START,   /* at the first byte of a trailer line */
    SP_TRAILER_LINE,
    SP_BODY_UNTIL_CLOSE,/* body ends when the connection does: stop */
    SP_DONE,            /* upgraded or lost: ignore everything */
};

/* Longest status, header or chunk line accepted before the stream is LOST. */
#define SCAN_MAX_LINE 16384u

struct scan_state {
    uint64_t remaining;  /* body/chunk bytes still to skip, or number being parsed */
    uint16_t status;     /* status code of the response being parsed */
    uint16_t line_len;   /* bytes in the current line */
    uint16_t flags;      /* SF_* below, for the response being parsed */
    uint8_t phase;       /* enum scan_phase */
    uint8_t verdict;     /* enum scan_verdict */
    uint8_t header;      /* which header the current line is (internal) */
    uint8_t match;       /* progress matching a name/token/literal (internal) */
    uint8_t token;       /* candidate-set bits for the current token (internal) */
    uint8_t responses;   /* complete final response heads seen, saturating at 255 */
};

/* Per-response flags (internal, exposed for tests). */
#define SF_HTTP10        0x0001u
#define SF_CONN_CLOSE    0x0002u
#define SF_CONN_KEEP     0x0004u
#define SF_CHUNKED       0x0008u /* last transfer-coding is chunked */
#define SF_TE            0x0010u /* Transfer-Encoding present */
#define SF_CL            0x0020u /* Content-Length present */
#define SF_VALUE_DIGITS  0x0040u /* current number has at least one digit */
#define SF_VALUE_END     0x0080u /* number ended, only OWS allowed */
#define SF_CR            0x0100u /* saw CR inside a line, expecting LF */
#define SF_TOKEN_DIRTY   0x0200u /* current token cannot match any candidate */
#define SF_IN_HEADER     0x0400u /* at least one header line seen */
#define SF_CGI           0x0800u /* CGI-style head: "Status: NNN" (close semantics) */

/* Sets *s to the state before the first byte of a connection. */
void scan_init(struct scan_state *s);

/* Feeds the next len bytes the connection sent; returns the new verdict.
 * The fast path (scan_fast.c): whole lines at once where it can. */
enum scan_verdict scan_feed(struct scan_state *s, const void *buf, size_t len);

/* The same, through the reference machine a byte at a time (scan_ref.c):
 * the state it leaves is by definition the right one. For tests, fuzzing,
 * and pieces too short for the fast path. */
enum scan_verdict scan_feed_ref(struct scan_state *s, const void *buf, size_t len);

/* The verdict for the bytes fed so far. */
static inline enum scan_verdict scan_verdict(const struct scan_state *s)
{
    return (enum scan_verdict)s->verdict;
}

/* True when the scanner has stopped looking at bytes (upgraded, lost, or a
 * body delimited by close): callers may skip feeding it. */
static inline int scan_is_done(const struct scan_state *s)
{
    return s->phase >= SP_BODY_UNTIL_CLOSE;
}

/* True when every response is known to be written in full: before a status
 * line. Not inside a head or a counted body, nor in a body that only the
 * close ends, nor once scanning has stopped (nothing is known then). */
static inline int scan_between_responses(const struct scan_state *s)
{
    return s->phase == SP_START;
}

/* True when a response is partly written and its own bytes mark its end:
 * inside a head, a body of a known length (Content-Length), or a chunked
 * body and its trailers. More of it is due, so a write of it may be under
 * way. Not between responses, nor in a body that only the close ends (the
 * close is its end), nor once scanning has stopped (nothing is known). */
static inline int scan_in_framed_response(const struct scan_state *s)
{
    return s->phase > SP_START && s->phase < SP_BODY_UNTIL_CLOSE;
}

/* How many bytes the next sends may be skipped by count, plus one: the rest
 * of the current body or chunk (its last byte must go through scan_feed);
 * all of them (UINT64_MAX) once scanning has stopped; 0 anywhere else. */
static inline uint64_t scan_skippable(const struct scan_state *s)
{
    if (s->phase == SP_BODY_LENGTH || s->phase == SP_CHUNK_DATA)
        return s->remaining;
    return s->phase >= SP_BODY_UNTIL_CLOSE ? UINT64_MAX : 0;
}

/* Records that n bytes, n < scan_skippable(s), were skipped by count (the
 * shim counts them down outside the state and tells the scanner later). */
static inline void scan_skipped(struct scan_state *s, uint64_t n)
{
    if (s->phase == SP_BODY_LENGTH || s->phase == SP_CHUNK_DATA)
        s->remaining -= n;
}

/* Consumes len body bytes by count when they fit in the current body or
 * chunk (or the scanner is done); returns 1 if it did, 0 if scan_feed must
 * look at them. */
static inline int scan_skip_body(struct scan_state *s, size_t len)
{
    if (len >= scan_skippable(s))
        return 0;
    scan_skipped(s, len);
    return 1;
}

/* Consumes n bytes whose content linger cannot see (sendfile) by count.
 * Returns 1 when they all fell inside the current body or chunk; 0 when they
 * ran past it, and the scanner stops with the verdict it had. */
int scan_skip_unseen(struct scan_state *s, uint64_t n);

/* Human-readable name of a verdict, for logs and tests. */
const char *scan_verdict_name(enum scan_verdict v);

/* Which way the fast path reads heads: want 0 SSE2 (or plain C), 1 AVX2
 * when the CPU has it, -1 the CPU's best (decided at the first call when
 * nobody asked before); returns the way in use (0 or 1). The library asks
 * at load; tests ask for each way, which must agree. */
int scan_fast_way(int want);

#endif
