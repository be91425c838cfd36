/* test_req_uwsgi.c - the uwsgi protocol's request scanner (shim/req_uwsgi.c),
 * every case at every split (req_check.h). Packets are built here. */
#include "req_check.h"

#define UWSGI REQ_PROTO_UWSGI

struct buf {
    unsigned char b[4096];
    size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
    cr_assert(b->n + n <= sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put16(struct buf *b, unsigned v)
{
    unsigned char le[2] = { (unsigned char)(v & 0xff), (unsigned char)(v >> 8) };
    put(b, le, 2);
}

/* A uwsgi packet: modifier1 0, vars (NULL-terminated key, value list), body. */
static void packet(struct buf *b, const char *const *vars, const char *body)
{
    size_t size = 0;
    for (const char *const *v = vars; *v; v += 2)
        size += 4 + strlen(v[0]) + strlen(v[1]);
    unsigned char hdr[1] = { 0 };
    put(b, hdr, 1);
    put16(b, (unsigned)size);
    put(b, hdr, 1);
    for (const char *const *v = vars; *v; v += 2) {
        put16(b, (unsigned)strlen(v[0]));
        put(b, v[0], strlen(v[0]));
        put16(b, (unsigned)strlen(v[1]));
        put(b, v[1], strlen(v[1]));
    }
    put(b, body, strlen(body));
}

static void check(const char *name, const struct buf *b, enum req_proto proto, int pending, uint64_t left,
                  int announced, int requests, int stopped)
{
    struct req_case c = { name, b->b, b->n, proto, pending, left, announced, requests, stopped };
    check_req_case(&c);
}

static const char *const get_vars[] = { "REQUEST_METHOD", "GET", "PATH_INFO", "/", "CONTENT_LENGTH", "", NULL };
static const char *const post_vars[] = { "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "5", "PATH_INFO", "/up",
                                         "HTTP_HOST", "a", NULL };
static const char *const big_vars[] = { "CONTENT_LENGTH", "16777216", NULL };
static const char *const no_cl_vars[] = { "REQUEST_METHOD", "GET", NULL };
static const char *const similar_vars[] = { "CONTENT_LENGTHS", "x", "HTTP_CONTENT_LENGTH", "9", "CONTENT_LENGT", "",
                                            "CONTENT_LENGTH", "3", NULL };

Test(req_uwsgi, heads_and_bodies)
{
    struct buf b = { .n = 0 };
    check("empty", &b, REQ_PROTO_NONE, 0, 0, 0, 0, 0);
    packet(&b, get_vars, "");
    check("get, empty CONTENT_LENGTH", &b, UWSGI, 0, 0, 0, 1, 0);

    b.n = 0;
    packet(&b, no_cl_vars, "");
    check("no CONTENT_LENGTH", &b, UWSGI, 0, 0, 0, 1, 0);

    b.n = 0;
    packet(&b, post_vars, "");
    check("post, body unread", &b, UWSGI, 1, 5, 1, 1, 0);
    put(&b, "hel", 3);
    check("post, body partly read", &b, UWSGI, 1, 2, 1, 1, 0);
    put(&b, "lo", 2);
    check("post, body read", &b, UWSGI, 0, 0, 1, 1, 0);

    b.n = 0;
    packet(&b, big_vars, "");
    check("16 MiB body", &b, UWSGI, 1, 16777216, 1, 1, 0);

    b.n = 0;
    packet(&b, similar_vars, "ab");
    check("similar names", &b, UWSGI, 1, 1, 1, 1, 0);

    b.n = 0;
    packet(&b, post_vars, "");
    b.n -= 3; /* inside the last var */
    check("partial vars", &b, UWSGI, 0, 0, 0, 0, 0);
}

Test(req_uwsgi, pipelined)
{
    struct buf b = { .n = 0 };
    packet(&b, post_vars, "hello");
    packet(&b, get_vars, "");
    packet(&b, post_vars, "h");
    check("post, get, post", &b, UWSGI, 1, 4, 1, 3, 0);
}

Test(req_uwsgi, modifiers)
{
    struct buf b = { .n = 0 };
    packet(&b, post_vars, "");
    b.b[0] = 5; /* PSGI */
    b.b[3] = 0;
    check("modifier1 5", &b, UWSGI, 1, 5, 1, 1, 0);
    unsigned char empty[4] = { 0, 0, 0, 0 };
    b.n = 0;
    put(&b, empty, 4);
    check("no vars at all: not a request", &b, UWSGI, 0, 0, 0, 0, 1);
    /* PostgreSQL's SSLRequest: a length of 8, then the code */
    unsigned char pg[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
    b.n = 0;
    put(&b, pg, sizeof pg);
    check("postgresql", &b, UWSGI, 0, 0, 0, 0, 1);
}

Test(req_uwsgi, bad_input)
{
    struct buf b = { .n = 0 };
    static const char *const bad_cl[] = { "CONTENT_LENGTH", "5x", NULL };
    packet(&b, bad_cl, "hello");
    check("length not a number", &b, UWSGI, 0, 0, 0, 0, 1);

    b.n = 0;
    packet(&b, post_vars, "");
    b.b[1] = (unsigned char)(b.b[1] - 2); /* datasize ends inside the last value */
    check("var past datasize", &b, UWSGI, 0, 0, 0, 0, 1);

    b.n = 0;
    packet(&b, post_vars, "");
    b.b[4] = 0xff; /* the first key's length runs past datasize */
    check("key length past datasize", &b, UWSGI, 0, 0, 0, 0, 1);

    static const char *const huge[] = { "CONTENT_LENGTH", "99999999999999999999", NULL };
    b.n = 0;
    packet(&b, huge, "");
    check("huge length", &b, UWSGI, 0, 0, 0, 0, 1);

    unsigned char tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
    b.n = 0;
    put(&b, tls, sizeof tls);
    check("tls", &b, REQ_PROTO_NONE, 0, 0, 0, 0, 1);
}
