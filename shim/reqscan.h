/* reqscan.h - pure, incremental scanners of the requests a socket receives.
 *
 * Fed the bytes the app consumes from one accepted connection, in arbitrary
 * pieces, they keep just enough state (struct req_state, 32 bytes) to answer
 * two questions at the app's close:
 *   - is a request body still unconsumed (and how much of it)?
 *   - did the last request head announce a body?
 * The protocol is learnt from the first bytes: an HTTP/1.x method token, a
 * uwsgi packet header, an SCGI netstring, a FastCGI record. Requests may be
 * pipelined. Bytes that are none of these, or break their framing, stop the
 * scanner in REQ_LOST, which answers "no" to both questions: a scanner that
 * does not understand the stream never makes a close linger.
 *
 * No syscalls, no allocation, no logging: safe anywhere, testable alone.
 * One .c per protocol (req_http.c, req_uwsgi.c, req_scgi.c, req_fcgi.c);
 * req_detect.c picks one and holds the common entry points.
 */
#ifndef LINGER_REQSCAN_H
#define LINGER_REQSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Which protocol the stream speaks. */
enum req_proto {
    REQ_PROTO_NONE = 0, /* no byte seen yet */
    REQ_PROTO_HTTP,
    REQ_PROTO_UWSGI,
    REQ_PROTO_SCGI,
    REQ_PROTO_FCGI,
};

/* Where the scanner is. The first four are common; a scanner's own phases
 * (a head's parts, chunk lines, records) follow them and are internal. */
enum req_phase {
    REQ_P_IDLE = 0,  /* between requests (nothing of the next one seen) */
    REQ_P_BODY,      /* counting `remaining` bytes of body (or of a chunk, or of a
                        record's content); `sub` says what follows */
    REQ_P_LOST,      /* not a stream we understand: stopped for good */
    REQ_P_DONE,      /* the stream stopped being requests (upgrade, CONNECT): stopped */
    REQ_P_FIRST_PRIVATE, /* a protocol's own phases start here */
};

/* Request state flags. */
#define RQ_ANNOUNCED   0x0001u /* the last complete head announced a non-empty body */
#define RQ_IN_BODY     0x0002u /* that body is not fully consumed yet */
#define RQ_LENGTH_KNOWN 0x0004u /* ... and its length is known (`body`) */
#define RQ_EXPECT      0x0008u /* the head asked for 100-continue */
#define RQ_CR          0x0010u /* HTTP: a CR inside a line, expecting LF */
#define RQ_DIGITS      0x0020u /* a number being parsed has a digit */
#define RQ_NUM_END     0x0040u /* ... and has ended (only OWS may follow) */
#define RQ_HAVE_CL     0x0080u /* the head carried a content length */
#define RQ_CHUNKED     0x0100u /* HTTP: the last transfer-coding is chunked */
#define RQ_TE          0x0200u /* HTTP: a Transfer-Encoding header was seen */
#define RQ_DIRTY       0x0400u /* the current name/token cannot match */
#define RQ_UPGRADE     0x0800u /* HTTP: the request asks to leave HTTP (Upgrade, CONNECT) */
#define RQ_MATCHED     0x1000u /* the current name matched the one we look for */
#define RQ_ALL_FLAGS   0x1fffu

/* Longest HTTP request or header line, SCGI netstring, before LOST. */
#define REQ_MAX_LINE 16384u
/* Largest body length believed (10^18); a larger one is LOST. */
#define REQ_MAX_LENGTH 1000000000000000000ull

struct req_state {
    uint64_t remaining; /* body or chunk bytes not yet consumed; or a number being parsed */
    uint64_t body;      /* the body length the head announced (when RQ_LENGTH_KNOWN) */
    uint32_t left;      /* bytes left in the current container (uwsgi vars, SCGI
                           netstring, FastCGI record); HTTP: length of the line */
    uint32_t item;      /* bytes left in the current item (uwsgi key/value, FastCGI
                           name/value); a length being assembled */
    uint16_t flags;     /* RQ_* */
    uint8_t proto;      /* enum req_proto */
    uint8_t phase;      /* enum req_phase, or a protocol's private phase */
    uint8_t match;      /* progress matching a name or token (internal) */
    uint8_t sub;        /* a protocol's sub-state (internal) */
    uint8_t aux;        /* a protocol's small counter (internal) */
    uint8_t requests;   /* complete request heads seen, saturating at 255 */
};

/* Sets *s to the state before the first byte of a connection. */
void req_init(struct req_state *s);

/* Feeds the next len bytes the app consumed from the connection. */
void req_feed(struct req_state *s, const void *buf, size_t len);

/* True when the scanner stopped looking at bytes (lost, or not requests any
 * more): callers may stop feeding it. */
static inline int req_is_stopped(const struct req_state *s)
{
    return s->phase == REQ_P_LOST || s->phase == REQ_P_DONE;
}

/* True when a request body the app was sent is not fully consumed: the last
 * head announced a body and the app has not read all of it. */
static inline int req_body_pending(const struct req_state *s)
{
    return (s->flags & RQ_IN_BODY) != 0 && !req_is_stopped(s);
}

/* How many bytes of that body the app has not consumed: 0 when none is
 * pending, UINT64_MAX when the length is not known (chunked, FastCGI). */
static inline uint64_t req_body_left(const struct req_state *s)
{
    if (!req_body_pending(s))
        return 0;
    return (s->flags & RQ_LENGTH_KNOWN) ? s->remaining : UINT64_MAX;
}

/* True when the last complete request head announced a body (the body may
 * be consumed since). False once the scanner stopped. */
static inline int req_announced_body(const struct req_state *s)
{
    return (s->flags & RQ_ANNOUNCED) != 0 && !req_is_stopped(s);
}

/* How many body bytes the next consumed bytes may be skipped by count, plus
 * one: the rest of a body of known length (its last byte must go through
 * req_feed); 0 anywhere else. The same contract as scan_skippable. */
static inline uint64_t req_skippable(const struct req_state *s)
{
    return s->phase == REQ_P_BODY ? s->remaining : 0;
}

/* Records that n bytes, n < req_skippable(s), were consumed by count. */
static inline void req_skipped(struct req_state *s, uint64_t n)
{
    if (s->phase == REQ_P_BODY)
        s->remaining -= n;
}

/* Name of a protocol, for logs and tests. */
const char *req_proto_name(enum req_proto p);

/* ---- for the protocol scanners (req_*.c) only ---- */

/* Each protocol's feed: consumes all of p[0..len) (or stops the scanner). */
void req_http_feed(struct req_state *s, const unsigned char *p, size_t len);
void req_uwsgi_feed(struct req_state *s, const unsigned char *p, size_t len);
void req_scgi_feed(struct req_state *s, const unsigned char *p, size_t len);
void req_fcgi_feed(struct req_state *s, const unsigned char *p, size_t len);

/* Stops the scanner for good: the stream is not one we understand. */
static inline void req_lose(struct req_state *s)
{
    s->phase = REQ_P_LOST;
    s->flags = 0;
    s->remaining = 0;
}

/* Consumes up to len bytes of a body of known remaining length by count;
 * returns how many. When the count reaches 0, the phase becomes `next`. */
static inline size_t req_count_body(struct req_state *s, size_t len, uint8_t next)
{
    size_t n = s->remaining < len ? (size_t)s->remaining : len;
    s->remaining -= n;
    if (s->remaining == 0)
        s->phase = next;
    return n;
}

/* A head is complete and announces a body of n bytes (known) or of unknown
 * length (known == 0); n == 0 with known means no body. The scanner then
 * sets the phase it counts the body in. */
void req_head_done(struct req_state *s, uint64_t n, int known);

/* The body the last head announced is fully consumed. */
static inline void req_body_done(struct req_state *s)
{
    s->flags &= (uint16_t)~RQ_IN_BODY;
}

/* A new request begins (its first byte is being consumed). */
void req_begin(struct req_state *s);

/* Appends decimal digit c to the number in s->remaining; 0 on overflow. */
static inline int req_add_digit(struct req_state *s, unsigned char c)
{
    if (s->remaining > (REQ_MAX_LENGTH - 9) / 10)
        return 0;
    s->remaining = s->remaining * 10 + (uint64_t)(c - '0');
    s->flags |= RQ_DIGITS;
    return 1;
}

#endif
