/* req_detect.c - the request scanners' common entry points (see reqscan.h):
 * learns the protocol from the first byte and hands every byte to its
 * scanner. Pure: no syscalls. */
#include "reqscan.h"

#include <string.h>

#include "pages.h"

LINGER_HOT void req_init(struct req_state *s)
{
    memset(s, 0, sizeof *s);
}

const char *req_proto_name(enum req_proto p)
{
    switch (p) {
    case REQ_PROTO_NONE: return "none";
    case REQ_PROTO_HTTP: return "http";
    case REQ_PROTO_UWSGI: return "uwsgi";
    case REQ_PROTO_SCGI: return "scgi";
    case REQ_PROTO_FCGI: return "fastcgi";
    }
    return "?";
}

/* The protocol a connection's first byte c starts, or REQ_PROTO_NONE when
 * it starts none we know:
 *   'A'..'Z'   an HTTP/1.x method token (methods are upper case);
 *   '1'..'9'   the length of an SCGI netstring (never 0: CONTENT_LENGTH is
 *              required, so the headers are never empty);
 *   1          FastCGI's version byte (uwsgi's modifier1 1 is unused);
 *   0, 2..31   uwsgi's modifier1 (0 is WSGI, nginx's default; the others in
 *              use are small), but not 0x16, a TLS handshake record. */
static enum req_proto detect(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return REQ_PROTO_HTTP;
    if (c >= '1' && c <= '9')
        return REQ_PROTO_SCGI;
    if (c == 1)
        return REQ_PROTO_FCGI;
    if (c < 32 && c != 0x16)
        return REQ_PROTO_UWSGI;
    return REQ_PROTO_NONE;
}

LINGER_HOT void req_feed(struct req_state *s, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (len == 0 || req_is_stopped(s))
        return;
    if (s->proto == REQ_PROTO_NONE) {
        s->proto = (uint8_t)detect(p[0]);
        if (s->proto == REQ_PROTO_NONE) {
            req_lose(s);
            return;
        }
    }
    switch (s->proto) {
    case REQ_PROTO_HTTP: req_http_feed(s, p, len); break;
    case REQ_PROTO_UWSGI: req_uwsgi_feed(s, p, len); break;
    case REQ_PROTO_SCGI: req_scgi_feed(s, p, len); break;
    case REQ_PROTO_FCGI: req_fcgi_feed(s, p, len); break;
    default: req_lose(s); break;
    }
}

LINGER_WARM void req_begin(struct req_state *s)
{
    s->flags = 0;
    s->remaining = 0;
    s->body = 0;
    s->left = 0;
    s->item = 0;
    s->match = 0;
    s->sub = 0;
    s->aux = 0;
}

LINGER_WARM void req_head_done(struct req_state *s, uint64_t n, int known)
{
    uint16_t keep = s->flags & (RQ_EXPECT | RQ_UPGRADE);
    if (s->requests < 255)
        s->requests++;
    s->flags = keep;
    s->body = known ? n : 0;
    if (known && n == 0)
        return;
    s->flags |= RQ_ANNOUNCED | RQ_IN_BODY;
    if (known)
        s->flags |= RQ_LENGTH_KNOWN;
}
