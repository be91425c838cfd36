/* req_uwsgi.c - the uwsgi protocol's request scanner (see reqscan.h).
 *
 * A request is a 4-byte header (modifier1, datasize as u16 little-endian,
 * modifier2), then datasize bytes of vars, each a u16-length key and a
 * u16-length value, then a body of CONTENT_LENGTH bytes (none when the var
 * is absent or empty). A packet without vars (a binary protocol whose first
 * byte looks like a modifier1: PostgreSQL's length), a var that runs past
 * datasize, or a CONTENT_LENGTH that is not a number stops the scanner in
 * REQ_P_LOST. Pure: no syscalls.
 *
 * Fields: `aux` counts the bytes of the packet header or of a length;
 * `left` the vars bytes still to come; `item` a length being assembled,
 * then the bytes left of that key or value; `match` the progress matching
 * CONTENT_LENGTH; `remaining` its value, then the body bytes still to come.
 */
#include "reqscan.h"

enum uwsgi_phase {
    UP_HEADER = REQ_P_FIRST_PRIVATE, /* the 4-byte packet header */
    UP_KEY_LEN,
    UP_KEY,
    UP_VALUE_LEN,
    UP_VALUE,
};

static const char content_length[] = "CONTENT_LENGTH";
#define CONTENT_LENGTH_LEN 14u

/* The vars are done: the body CONTENT_LENGTH announced follows. */
static void end_vars(struct req_state *s)
{
    uint64_t n = (s->flags & RQ_HAVE_CL) ? s->body : 0;
    req_head_done(s, n, 1);
    s->remaining = n;
    s->phase = n > 0 ? REQ_P_BODY : REQ_P_IDLE;
}

/* A key/value pair ended: the next one, or the end of the vars. */
static void end_pair(struct req_state *s)
{
    if (s->flags & RQ_MATCHED) {
        s->body = s->remaining; /* an empty value means no body */
        s->flags |= RQ_HAVE_CL;
    }
    s->flags &= (uint16_t)~(RQ_MATCHED | RQ_DIRTY | RQ_DIGITS);
    s->remaining = 0;
    s->aux = 0;
    s->item = 0;
    if (s->left == 0)
        end_vars(s);
    else
        s->phase = UP_KEY_LEN;
}

/* A key's or value's 2-byte length: after its second byte, 1. */
static int length_byte(struct req_state *s, unsigned char c)
{
    s->item |= (uint32_t)c << (8 * s->aux);
    return ++s->aux == 2;
}

/* One byte of the vars (s->left counts them). */
static void var_byte(struct req_state *s, unsigned char c)
{
    if (s->left == 0) { /* a pair runs past datasize */
        req_lose(s);
        return;
    }
    s->left--;
    switch (s->phase) {
    case UP_KEY_LEN:
        if (!length_byte(s, c))
            return;
        if (s->item > s->left) { req_lose(s); return; }
        s->match = 0;
        s->aux = 0;
        s->phase = s->item ? UP_KEY : UP_VALUE_LEN;
        return;
    case UP_KEY:
        if (!(s->flags & RQ_DIRTY) && s->match < CONTENT_LENGTH_LEN && c == (unsigned char)content_length[s->match])
            s->match++;
        else
            s->flags |= RQ_DIRTY;
        if (--s->item > 0)
            return;
        if (!(s->flags & RQ_DIRTY) && s->match == CONTENT_LENGTH_LEN)
            s->flags |= RQ_MATCHED;
        s->aux = 0;
        s->phase = UP_VALUE_LEN;
        return;
    case UP_VALUE_LEN:
        if (!length_byte(s, c))
            return;
        if (s->item > s->left) { req_lose(s); return; }
        s->remaining = 0;
        if (s->item == 0)
            end_pair(s);
        else
            s->phase = UP_VALUE;
        return;
    case UP_VALUE:
        if ((s->flags & RQ_MATCHED) && (c < '0' || c > '9' || !req_add_digit(s, c))) {
            req_lose(s);
            return;
        }
        if (--s->item == 0)
            end_pair(s);
        return;
    }
}

/* One byte of the packet header. */
static void header_byte(struct req_state *s, unsigned char c)
{
    if (s->aux == 1)
        s->left = c;
    else if (s->aux == 2)
        s->left |= (uint32_t)c << 8;
    if (++s->aux < 4)
        return;
    s->aux = 0;
    s->item = 0;
    if (s->left == 0) { /* a request always has vars: this is some other protocol */
        req_lose(s);
        return;
    }
    s->phase = UP_KEY_LEN;
}

void req_uwsgi_feed(struct req_state *s, const unsigned char *p, size_t len)
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
            s->phase = UP_HEADER;
            header_byte(s, p[i++]);
            continue;
        case UP_HEADER:
            header_byte(s, p[i++]);
            continue;
        case REQ_P_LOST:
        case REQ_P_DONE:
            return;
        default:
            var_byte(s, p[i++]);
            continue;
        }
    }
}
