/* test_req_http.c - the HTTP/1.x request scanner (shim/req_http.c, its fast
 * path shim/req_http_fast.c), every case at every split (req_check.h), and
 * the fast path against the byte machine. */
#include "req_check.h"
#include "req_http.h"

#define HTTP REQ_PROTO_HTTP
#define GET "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
#define POST5 "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
#define CHUNKED "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"

static const struct req_case cases[] = {
    /* --- nothing yet, heads without bodies --- */
    RCASE("empty", "", REQ_PROTO_NONE, 0, 0, 0, 0, 0),
    RCASE("partial method", "GE", HTTP, 0, 0, 0, 0, 0),
    RCASE("partial head", "POST / HTTP/1.1\r\nContent-Length: 5\r\n", HTTP, 0, 0, 0, 0, 0),
    RCASE("get", GET, HTTP, 0, 0, 0, 1, 0),
    RCASE("get 1.0", "GET / HTTP/1.0\r\n\r\n", HTTP, 0, 0, 0, 1, 0),
    RCASE("get, bare LF", "GET / HTTP/1.1\nHost: a\n\n", HTTP, 0, 0, 0, 1, 0),
    RCASE("content-length 0", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", HTTP, 0, 0, 0, 1, 0),
    RCASE("blank lines between requests", GET "\r\n\r\n" GET, HTTP, 0, 0, 0, 2, 0),

    /* --- Content-Length bodies --- */
    RCASE("body announced, none read", POST5, HTTP, 1, 5, 1, 1, 0),
    RCASE("body partly read", POST5 "he", HTTP, 1, 3, 1, 1, 0),
    RCASE("body fully read", POST5 "hello", HTTP, 0, 0, 1, 1, 0),
    RCASE("header name case", "POST / HTTP/1.1\r\ncOnTeNt-LeNgTh:  12 \r\n\r\nabc", HTTP, 1, 9, 1, 1, 0),
    RCASE("repeated equal lengths", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
          HTTP, 1, 3, 1, 1, 0),
    RCASE("8 MiB body", "PUT /x HTTP/1.1\r\nContent-Length: 8388608\r\n\r\n", HTTP, 1, 8388608, 1, 1, 0),
    RCASE("similar header names", "POST / HTTP/1.1\r\nContent-Lengths: 9\r\nContent-Type: x\r\n"
          "X-Content-Length: 7\r\nContent-Length: 2\r\n\r\n", HTTP, 1, 2, 1, 1, 0),

    /* --- chunked, trailers --- */
    RCASE("chunked head", CHUNKED, HTTP, 1, LEFT_UNKNOWN, 1, 1, 0),
    RCASE("chunked mid chunk", CHUNKED "5\r\nhel", HTTP, 1, LEFT_UNKNOWN, 1, 1, 0),
    RCASE("chunked after a chunk", CHUNKED "5\r\nhello\r\n", HTTP, 1, LEFT_UNKNOWN, 1, 1, 0),
    RCASE("chunked last chunk, no blank line", CHUNKED "5\r\nhello\r\n0\r\n", HTTP, 1, LEFT_UNKNOWN, 1, 1, 0),
    RCASE("chunked done", CHUNKED "5\r\nhello\r\n0\r\n\r\n", HTTP, 0, 0, 1, 1, 0),
    RCASE("chunked with extensions", CHUNKED "a;name=v\r\n0123456789\r\n0 ; x\r\n\r\n", HTTP, 0, 0, 1, 1, 0),
    RCASE("chunked upper-case hex", CHUNKED "A\r\n0123456789\r\n0\r\n\r\n", HTTP, 0, 0, 1, 1, 0),
    RCASE("chunked with trailers", CHUNKED "3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n", HTTP, 0, 0, 1, 1, 0),
    RCASE("chunked mid trailers", CHUNKED "3\r\nabc\r\n0\r\nX-Sum: 1\r\n", HTTP, 1, LEFT_UNKNOWN, 1, 1, 0),
    RCASE("gzip, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
          HTTP, 1, LEFT_UNKNOWN, 1, 1, 0),
    RCASE("te wins over length", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nabc\r\n0\r\n\r\n", HTTP, 0, 0, 1, 1, 0),

    /* --- Expect: 100-continue --- */
    RCASE("expect, body not sent", "PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
          HTTP, 1, 4, 1, 1, 0),
    RCASE("expect, body read", "PUT / HTTP/1.1\r\nexpect: 100-Continue\r\nContent-Length: 4\r\n\r\nabcd",
          HTTP, 0, 0, 1, 1, 0),

    /* --- pipelining --- */
    RCASE("two gets", GET GET, HTTP, 0, 0, 0, 2, 0),
    RCASE("post then get", POST5 "hello" GET, HTTP, 0, 0, 0, 2, 0),
    RCASE("get then post", GET POST5 "hel", HTTP, 1, 2, 1, 2, 0),
    RCASE("chunked then post", CHUNKED "1\r\na\r\n0\r\n\r\n" POST5, HTTP, 1, 5, 1, 2, 0),
    RCASE("three posts, last unread", POST5 "hello" POST5 "world" POST5, HTTP, 1, 5, 1, 3, 0),
    RCASE("next head partly read", POST5 "hello" "GET / HT", HTTP, 0, 0, 0, 1, 0),

    /* --- leaving HTTP: never a body after --- */
    RCASE("connect", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\x16\x03\x01", HTTP, 0, 0, 0, 1, 1),
    RCASE("websocket upgrade", "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
          "\x81\x85garbage", HTTP, 0, 0, 0, 1, 1),
    RCASE("upgrade with a body, mid body", "POST / HTTP/1.1\r\nUpgrade: h2c\r\nContent-Length: 4\r\n\r\nab",
          HTTP, 1, 2, 1, 1, 0),
    RCASE("upgrade with a body, after it", "POST / HTTP/1.1\r\nUpgrade: h2c\r\nContent-Length: 4\r\n\r\nabcd",
          HTTP, 0, 0, 0, 1, 1),
    RCASE("connects is a method too", "CONNECTS / HTTP/1.1\r\n\r\n", HTTP, 0, 0, 0, 1, 0),

    /* --- bad input: lost, never a body --- */
    RCASE("lower-case first byte", "get / HTTP/1.1\r\n\r\n", REQ_PROTO_NONE, 0, 0, 0, 0, 1),
    RCASE("tls hello", "\x16\x03\x01\x02\x00\x01", REQ_PROTO_NONE, 0, 0, 0, 0, 1),
    RCASE("http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("http/0.9", "GET /\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("no target", "GET  HTTP/1.1\r\n\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("bad length", "POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\nhello", HTTP, 0, 0, 0, 0, 1),
    RCASE("empty length", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("two numbers", "POST / HTTP/1.1\r\nContent-Length: 5 6\r\n\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("length list", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("different lengths", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
          HTTP, 0, 0, 0, 0, 1),
    RCASE("huge length", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("te not chunked last", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
          HTTP, 0, 0, 0, 0, 1),
    RCASE("bad chunk size", CHUNKED "zz\r\n", HTTP, 0, 0, 0, 1, 1),
    RCASE("chunk without size", CHUNKED "\r\n", HTTP, 0, 0, 0, 1, 1),
    RCASE("chunk data too long", CHUNKED "3\r\nabcd\r\n", HTTP, 0, 0, 0, 1, 1),
    RCASE("huge chunk", CHUNKED "fffffffffffffffff\r\n", HTTP, 0, 0, 0, 1, 1),
    RCASE("obs-fold", "POST / HTTP/1.1\r\nX: a\r\n  b\r\nContent-Length: 1\r\n\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("space before colon", "POST / HTTP/1.1\r\nContent-Length : 1\r\n\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("bare CR", "GET / HTTP/1.1\rHost: a\r\n\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("garbage after a request", GET "\x01\x02", HTTP, 0, 0, 0, 1, 1),
    RCASE("binary after a body", POST5 "hello" "\x00\x01", HTTP, 0, 0, 0, 1, 1),
    RCASE("bad version", "GET / HTTP/2.0\r\n\r\n", HTTP, 0, 0, 0, 0, 1),
    RCASE("version without digit", "GET / HTTP/1.\r\n\r\n", HTTP, 0, 0, 0, 0, 1),
};

Test(req_http, table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_req_case(&cases[i]);
}

/* An over-long line stops the scanner; one just inside the limit does not. */
Test(req_http, line_limit)
{
    static unsigned char buf[REQ_MAX_LINE + 64];
    const char *head = "GET /";
    size_t n = strlen(head);
    memcpy(buf, head, n);
    memset(buf + n, 'a', sizeof buf - n);
    struct req_state s;
    req_init(&s);
    req_feed(&s, buf, sizeof buf);
    cr_expect(req_is_stopped(&s));

    /* a target of REQ_MAX_LINE - 16 bytes, then a header with a body */
    size_t tl = REQ_MAX_LINE - 16;
    memset(buf + n, 'a', tl);
    memcpy(buf + n + tl, " HTTP/1.1\r\n", 11);
    req_init(&s);
    req_feed(&s, buf, n + tl + 11);
    req_feed(&s, "Content-Length: 7\r\n\r\n", 21);
    cr_expect(req_body_pending(&s));
    cr_expect_eq(req_body_left(&s), 7);
}

/* The skip-by-count contract: n < req_skippable leaves the last byte to
 * req_feed, and the state matches feeding the bytes. */
Test(req_http, skip_contract)
{
    struct req_state s;
    req_init(&s);
    req_feed(&s, POST5, sizeof POST5 - 1);
    cr_expect_eq(req_skippable(&s), 5);
    req_skipped(&s, 4);
    cr_expect_eq(req_body_left(&s), 1);
    req_feed(&s, "o", 1);
    cr_expect(!req_body_pending(&s));
    cr_expect_eq(req_skippable(&s), 0);
}

/* The state the byte machine (the reference) reaches fed b[0..n) one byte
 * at a time, from the start of an HTTP connection. */
static struct req_state machine_state(const char *b, size_t n)
{
    struct req_state s;
    req_init(&s);
    s.proto = REQ_PROTO_HTTP;
    for (size_t i = 0; i < n; i++)
        req_http_feed_ref(&s, (const unsigned char *)b + i, 1);
    return s;
}

/* After b[0..len) whole, and after each of its prefixes fed whole, every
 * field of the fast path's state (its way w) equals the machine's. */
static void expect_fast_is_machine(const char *b, size_t len, int w)
{
    for (size_t n = 0; n <= len; n++) {
        struct req_state fast, ref = machine_state(b, n);
        req_init(&fast);
        fast.proto = REQ_PROTO_HTTP;
        req_http_feed(&fast, (const unsigned char *)b, n);
        if (!req_same(&fast, &ref)) {
            cr_expect(0, "way %d, \"%.40s\"..., its first %zu bytes: the fast path and the machine differ "
                         "(phase %u/%u flags %#x/%#x match %u/%u sub %u/%u left %u/%u requests %u/%u)",
                      w, b, n, fast.phase, ref.phase, fast.flags, ref.flags, fast.match, ref.match,
                      fast.sub, ref.sub, fast.left, ref.left, fast.requests, ref.requests);
            return;
        }
    }
}

/* Heads the fast path takes whole, or declines at some line, or must stop
 * on as the machine does: after the whole of each, and after each of its
 * prefixes fed whole, every field equals the machine's. */
Test(req_http, fast_path_is_the_machine)
{
    static const char *const heads[] = {
        "GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n",
        "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
        "Accept: text/html,*/*;q=0.8\r\nAccept-Encoding: gzip, br\r\nConnection: keep-alive\r\n"
        "Cookie: a=1; b=2\r\nUpgrade-Insecure-Requests: 1\r\nCache-Control: max-age=0\r\n\r\n",
        "POST /up HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\nExpect: 100-continue\r\n\r\nhello"
        "GET / HTTP/1.0\n\n",
        "CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n",
        "CONNEC / HTTP/1.1\r\n\r\n",
        "CONNECTS / HTTP/1.1\r\n\r\n",
        "C / HTTP/1.1\r\nX: y\r\n\r\n",
        "GET /\x80\xff HTTP/1.1\r\n\r\n",
        "GET /\x7f HTTP/1.1\r\n\r\n",
        "GET /abcdefgh\x7fijk HTTP/1.1\r\n\r\n",
        "GET /abcdefghijklmnop\tq HTTP/1.1\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET / HTTP/1.1\r\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a value of some length\rwith a bare CR\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a value of some\tlength with a tab and \x01\x7f\x80\r\n\r\n",
        "GET / HTTP/1.1\r\nX : y\r\n\r\n",
        "GET / HTTP/1.1\r\n: y\r\n\r\n",
        "GET / HTTP/1.1\r\n y\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 2\r\nContent-Lengtx: 3\r\n\r\nab\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "\r\n\n\r\nGET / HTTP/1.1\r\n\r\n",
    };
    int ways = req_http_fast_way(1) + 1; /* 2 when the CPU has the whole-head pass */
    for (int w = 0; w < ways; w++) {
        req_http_fast_way(w);
        for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++)
            expect_fast_is_machine(heads[h], strlen(heads[h]), w);
    }
    req_http_fast_way(ways - 1);
}

/* Heads the whole-head pass (shim/req_whole.h) takes, or leaves to the
 * line-at-a-time way at each of its tests: the request line's parts, a
 * name's bytes, CRs, framing names, heads across 64-byte words, pipelined
 * heads, a head past the pass's 4 KiB. */
Test(req_http, whole_head_pass)
{
    static const char *const heads[] = {
        "GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n",
        "GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\nGET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n"
        "GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n",
        "GET /index.html HTTP/1.1\nHost: bench\n\nGET / HTTP/1.0\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
        "GET /a-target-long-enough-for-the-first-word-and-then-some-more/x.html HTTP/1.1\r\nHost: bench\r\n\r\n",
        "GET /0123456789012345678901234567890123456789012345 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nA-Name-Of-Sixty-Three-Bytes-Or-So-That-Runs-Over-The-Word-Edge-X: v\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nX-Very-Long-Header-Name-That-Crosses-64: 1\r\nAccept: */*\r\n\r\n",
        "GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~09AZaz: all the tchars\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nX\"y: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nX(y: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nX/y: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nX@y: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nX{y: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nX\x80y: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nX\x7fy: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nXy 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\n:y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\n\tfolded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\n\r\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\n\rx",
        "GET / HTTP/1.1\r\nHost: be\rnch\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nX: \x00\x01\x7f\x80\xff\t\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nContent-Length: 3\r\n\r\nabc",
        "GET / HTTP/1.1\r\nHost: bench\r\ncontent-LENGTH: 0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nContent-Lengtx: 3\r\nAccept: */*\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nTransfer-Encodinx: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nExpect: 100-continue\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nExpecT: x\r\nUpgradE: h2c\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench\r\nExpects: x\r\nUpgrades: h2c\r\nUpgrad: y\r\n\r\n",
        "GET / HTTP/1.1\r\nA12345: 1\r\nB123456: 1\r\nC1234567890123: 1\r\nD1234567890123456: 1\r\n"
        "E12345: 1\r\nF123456: 1\r\nG1234567890123: 1\r\nH1234567890123456: 1\r\nI12345: 1\r\n\r\n",
        "CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n\x16\x03\x01",
        "CONNECT host:443 HTTP/1.1\r\n\r\nxyz",
        "CONNECX host:443 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "GET /\x80\xff HTTP/1.1\r\nHost: bench\r\n\r\n",
        "GET /a b HTTP/1.1\r\nHost: bench\r\n\r\n",
        "GET  /ab HTTP/1.1\r\nHost: bench\r\n\r\n",
        "GET /ab  HTTP/1.1\r\nHost: bench\r\n\r\n",
        "GET /ab HTTP/1.1 \r\nHost: bench\r\n\r\n",
        "GET /ab HTTP/1.x\r\nHost: bench\r\n\r\n",
        "GET /ab HTTP/2.0\r\nHost: bench\r\n\r\n",
        "GET /ab\tHTTP/1.1\r\nHost: bench\r\n\r\n",
        "GET /ab\rHTTP/1.1\r\nHost: bench\r\n\r\n",
        "GET HTTP/1.1\r\nHost: bench and some more bytes\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: bench and some more bytes\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: bench and some more bytes\r\n\r",
        "GET / HTTP/1.1\r\nHost: bench and some more bytes\r\n",
        "GET /x HTTP/1.1\r\n\r\n\r\n\r\nGET /y HTTP/1.1\r\nHost: bench\r\n\r\n",
        /* names across the first 64-byte word's end (the carry, the line
         * starts of the word before): valid, with a non-tchar past the
         * edge, framing */
        "GET / HTTP/1.1\r\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB: v\r\n\r\n",
        "GET / HTTP/1.1\r\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"B: v\r\n\r\n",
        "GET / HTTP/1.1\r\nX: 0123456789012345678901234567890123456\r\nContent-Length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nX: 01234567890123456789012345678901234567890\r\nUpgrade: h2c\r\n\r\n",
        "GET / HTTP/1.1\r\nX: 0123456789012345678901234567890123456789012\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX: 0123456789012345678901234567890123456789012\r\n\r\r\nGET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX: 01234567890123456789012345678901234567890123\r\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX: 0123456789012345678901234567890123456789012\r\nX(y: 1\r\n\r\n",
    };
    int ways = req_http_fast_way(1) + 1;
    for (int w = 0; w < ways; w++) {
        req_http_fast_way(w);
        for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++)
            expect_fast_is_machine(heads[h], strlen(heads[h]), w);
    }
    /* a head of 4 KiB or more: past the pass's reach; one just inside it */
    static char big[5000];
    for (size_t value = 4000; value <= 4100; value += 10) {
        static const char start[] = "GET / HTTP/1.1\r\nX: ", end[] = "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        size_t n = sizeof start - 1;
        memcpy(big, start, n);
        memset(big + n, 'v', value);
        n += value;
        memcpy(big + n, end, sizeof end - 1);
        n += sizeof end - 1;
        for (int w = 0; w < ways; w++) {
            req_http_fast_way(w);
            expect_fast_is_machine(big, n, w);
        }
    }
    req_http_fast_way(ways - 1);
}

/* The whole-head pass's nibble tables are RFC 9110's tchar, byte by byte. */
Test(req_http, tchar_nibbles)
{
    for (unsigned c = 0; c < 256; c++)
        cr_expect_eq(req_http_tchar_by_nibbles((unsigned char)c), req_http_tchar[c], "byte %#x", c);
}

/* A line of exactly REQ_MAX_LINE bytes is taken; one byte more stops the
 * scanner, in the fast path as in the machine. */
Test(req_http, fast_path_line_limit)
{
    static char buf[REQ_MAX_LINE + 64];
    for (int extra = 0; extra <= 1; extra++) {
        size_t line = REQ_MAX_LINE + (size_t)extra;
        memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
        memset(buf + 19, 'v', line - 5);
        memcpy(buf + 19 + line - 5, "\r\n\r\n", 4);
        size_t len = 19 + line - 5 + 4; /* the header line: "X: " + value + CRLF = line bytes */
        struct req_state fast, ref = machine_state(buf, len);
        req_init(&fast);
        fast.proto = REQ_PROTO_HTTP;
        req_http_feed(&fast, (const unsigned char *)buf, len);
        cr_expect(req_same(&fast, &ref), "a %zu-byte header line: the fast path and the machine differ", line);
        cr_expect_eq(req_is_stopped(&fast), extra, "a %zu-byte header line", line);
    }
}
