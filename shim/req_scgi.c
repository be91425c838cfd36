/* req_scgi.c - the SCGI request scanner (see reqscan.h).
 *
 * A request is a netstring ("<length>:<headers>,") whose headers are
 * NUL-terminated names and values, CONTENT_LENGTH first, then a body of
 * CONTENT_LENGTH bytes. A header that runs past the netstring's length, a
 * missing comma, or a CONTENT_LENGTH that is not a number stops the scanner
 * in REQ_P_LOST. Pure: no syscalls.
 *
 * Fields: `left` is the netstring's length being parsed, then its bytes
 * still to come; `match` the progress matching CONTENT_LENGTH; `remaining`
 * its value, then the body bytes still to come.
 */
#include "reqscan.h"

enum scgi_phase {
    SP_LENGTH = REQ_P_FIRST_PRIVATE, /* the netstring's decimal length */
    SP_NAME,
    SP_VALUE,
    SP_COMMA,                        /* the netstring's closing comma */
};

/* Longest netstring believed: nginx sends every request header in it. */
#define SCGI_MAX_HEADERS (1u << 20)

static const char content_length[] = "CONTENT_LENGTH";
#define CONTENT_LENGTH_LEN 14u

/* One byte of the netstring's length, or its colon. */
static void length_byte(struct req_state *s, unsigned char c)
{
    if (c == ':' && (s->flags & RQ_DIGITS)) {
        s->flags &= (uint16_t)~RQ_DIGITS;
        s->match = 0;
        s->phase = s->left ? SP_NAME : SP_COMMA;
        return;
    }
    /* digits, no leading zero, bounded */
    if (c < '0' || c > '9' || (c == '0' && s->left == 0) || s->left > (SCGI_MAX_HEADERS - 9) / 10) {
        req_lose(s);
        return;
    }
    s->left = s->left * 10 + (uint32_t)(c - '0');
    s->flags |= RQ_DIGITS;
}

/* One byte inside the netstring (s->left counts them). */
static void header_byte(struct req_state *s, unsigned char c)
{
    if (s->left == 0) { /* a name or value runs past the length */
        req_lose(s);
        return;
    }
    s->left--;
    if (s->phase == SP_NAME) {
        if (c != 0) {
            if (!(s->flags & RQ_DIRTY) && s->match < CONTENT_LENGTH_LEN && c == (unsigned char)content_length[s->match])
                s->match++;
            else
                s->flags |= RQ_DIRTY;
            return;
        }
        if (!(s->flags & RQ_DIRTY) && s->match == CONTENT_LENGTH_LEN)
            s->flags |= RQ_MATCHED;
        s->flags &= (uint16_t)~RQ_DIRTY;
        s->match = 0;
        s->remaining = 0;
        s->phase = SP_VALUE;
        return;
    }
    /* SP_VALUE */
    if (c != 0) {
        if ((s->flags & RQ_MATCHED) && (c < '0' || c > '9' || !req_add_digit(s, c)))
            req_lose(s);
        return;
    }
    if (s->flags & RQ_MATCHED) {
        s->body = s->remaining; /* an empty value means no body */
        s->flags |= RQ_HAVE_CL;
    }
    s->flags &= (uint16_t)~(RQ_MATCHED | RQ_DIGITS);
    s->remaining = 0;
    s->phase = s->left ? SP_NAME : SP_COMMA;
}

/* The comma after the headers: the body CONTENT_LENGTH announced follows. */
static void comma_byte(struct req_state *s, unsigned char c)
{
    if (c != ',') {
        req_lose(s);
        return;
    }
    uint64_t n = (s->flags & RQ_HAVE_CL) ? s->body : 0;
    req_head_done(s, n, 1);
    s->remaining = n;
    s->phase = n > 0 ? REQ_P_BODY : REQ_P_IDLE;
}

void req_scgi_feed(struct req_state *s, const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        switch (s->phase) {
        case REQ_P_BODY:
            i += req_count_body(s, len - i, REQ_P_IDLE);
            if (s->remaining == 0)
                req_body_done(s);
            continue;
        case REQ_P_IDLE:
            req_begin(s);
            s->phase = SP_LENGTH;
            continue;
        case SP_LENGTH: length_byte(s, p[i++]); continue;
        case SP_NAME:
        case SP_VALUE: header_byte(s, p[i++]); continue;
        case SP_COMMA: comma_byte(s, p[i++]); continue;
        default: return; /* lost, done */
        }
    }
}
