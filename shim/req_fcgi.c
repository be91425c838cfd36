/* req_fcgi.c - the FastCGI request scanner (see reqscan.h), the cheap way.
 *
 * The stream is records: an 8-byte header (version 1, type, request id,
 * content length u16 big-endian, padding length, reserved), the content,
 * the padding. A request runs from its FCGI_BEGIN_REQUEST record to the
 * empty FCGI_STDIN record that ends its input (or an FCGI_ABORT_REQUEST):
 * while it runs, its input (the params and the body) counts as a body not
 * fully consumed, of unknown length. A non-empty FCGI_STDIN record is an
 * announced body. The params are not parsed. A version other than 1, or a
 * record type that only a server sends, stops the scanner in REQ_P_LOST.
 * Pure: no syscalls.
 *
 * Fields: `match` counts the header's bytes; `sub` is the record's type;
 * `item` its content length; `aux` its padding length (then the padding
 * still to come); `remaining` the content bytes still to come.
 */
#include "reqscan.h"

enum fcgi_phase {
    FP_HEADER = REQ_P_FIRST_PRIVATE, /* inside a record header (match: its bytes so far) */
    FP_PADDING,                      /* `aux` bytes of padding to skip */
};

enum fcgi_type {
    FCGI_BEGIN_REQUEST = 1,
    FCGI_ABORT_REQUEST = 2,
    FCGI_PARAMS = 4,
    FCGI_STDIN = 5,
    FCGI_DATA = 8,
    FCGI_GET_VALUES = 9,
};

/* Types a client (the web server) sends. */
static int is_client_type(unsigned t)
{
    return t == FCGI_BEGIN_REQUEST || t == FCGI_ABORT_REQUEST || t == FCGI_PARAMS ||
           t == FCGI_STDIN || t == FCGI_DATA || t == FCGI_GET_VALUES;
}

/* The end of a record: the next record, of this request or the next one. */
static void end_record(struct req_state *s)
{
    s->match = 0;
    s->phase = (s->flags & RQ_IN_BODY) ? FP_HEADER : REQ_P_IDLE;
}

/* A record's header is complete: what it says about the request. */
static void end_header(struct req_state *s)
{
    switch (s->sub) {
    case FCGI_BEGIN_REQUEST:
        if (!(s->flags & RQ_IN_BODY)) { /* not a second, multiplexed, one */
            uint32_t content = s->item;
            uint8_t padding = s->aux;
            req_begin(s);
            s->item = content;
            s->aux = padding;
            s->sub = FCGI_BEGIN_REQUEST;
            s->flags |= RQ_IN_BODY;
            if (s->requests < 255)
                s->requests++;
        }
        break;
    case FCGI_STDIN:
        if (s->item == 0)
            req_body_done(s);
        else if (s->flags & RQ_IN_BODY)
            s->flags |= RQ_ANNOUNCED;
        break;
    case FCGI_ABORT_REQUEST:
        req_body_done(s);
        break;
    }
    if (s->item > 0) {
        s->remaining = s->item;
        s->phase = REQ_P_BODY;
    } else if (s->aux > 0) {
        s->phase = FP_PADDING;
    } else {
        end_record(s);
    }
}

/* One byte of a record header (`match` bytes of it seen before). */
static void header_byte(struct req_state *s, unsigned char c)
{
    switch (s->match) {
    case 0:
        if (c != 1) { req_lose(s); return; }
        break;
    case 1:
        if (!is_client_type(c)) { req_lose(s); return; }
        s->sub = c;
        break;
    case 4: s->item = (uint32_t)c << 8; break;
    case 5: s->item |= c; break;
    case 6: s->aux = c; break;
    }
    if (++s->match == 8)
        end_header(s);
}

void req_fcgi_feed(struct req_state *s, const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        switch (s->phase) {
        case REQ_P_BODY: {
            i += req_count_body(s, len - i, REQ_P_BODY);
            if (s->remaining > 0)
                return;
            if (s->aux > 0)
                s->phase = FP_PADDING;
            else
                end_record(s);
            continue;
        }
        case FP_PADDING: {
            size_t n = s->aux < len - i ? s->aux : len - i;
            s->aux = (uint8_t)(s->aux - n);
            i += n;
            if (s->aux == 0)
                end_record(s);
            continue;
        }
        case REQ_P_IDLE:
            s->match = 0;
            s->phase = FP_HEADER;
            continue;
        case FP_HEADER:
            header_byte(s, p[i++]);
            continue;
        default:
            return; /* lost */
        }
    }
}
