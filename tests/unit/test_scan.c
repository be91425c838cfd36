/* test_scan.c - criterion tests of the response scanner (shim/scan.h).
 *
 * The core is a table of cases: each is every byte one connection sends,
 * with the verdict expected after all of it (and, where it matters, the
 * number of final response heads). check_stream() feeds every case whole,
 * one byte at a time, split in two at every byte position, and in random
 * pieces through the scan_skip_body() hot path, and demands the same answer
 * each time.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"
#include "scan_machine.h" /* scan_fast_way: both ways of the fast path */

#define ANY_COUNT (-1) /* do not check `responses` */

struct scan_case {
    const char *name;
    const char *bytes;
    size_t len;
    enum scan_verdict verdict;
    int responses;
};

#define CASE(name, str, verdict, responses) { name, str, sizeof(str) - 1, verdict, responses }

/* Responses used as the tail of many cases: when the scanner reaches one of
 * these heads correctly, the framing of everything before it was right. */
#define R_KEEP  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
#define R_CLOSE "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
#define H_200   "HTTP/1.1 200 OK\r\n"
#define H_CL5   "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
/* A header line long enough to make a head one the fast path takes whole. */
#define X_FILL "X-Filler: 0123456789012345678901234567890123456789012345678901234567890123\r\n"
#define X_FILL_LF "X-Filler: 0123456789012345678901234567890123456789012345678901234567890123\n"
#define TLS_HELLO "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"

static const struct scan_case cases[] = {
    /* --- the empty and the incomplete --- */
    CASE("empty", "", SCAN_NONE, 0),
    CASE("partial status line", "HTTP/1.", SCAN_NONE, 0),
    CASE("head without blank line", H_CL5, SCAN_NONE, 0),
    CASE("close head without blank line", H_200 "Connection: close\r\n", SCAN_NONE, 0),
    CASE("head ending in lone CR", H_CL5 "\r", SCAN_NONE, 0),
    CASE("only blank lines", "\r\n\r\n\n", SCAN_NONE, 0),

    /* --- HTTP/1.1 defaults to keep-alive --- */
    CASE("1.1 content-length", H_CL5 "\r\nhello", SCAN_KEEPALIVE, 1),
    CASE("1.1 content-length 0", R_KEEP, SCAN_KEEPALIVE, 1),
    CASE("1.1 head, body not sent yet", H_200 "Content-Length: 100\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("1.1 explicit keep-alive", H_200 "Connection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
         SCAN_KEEPALIVE, 1),
    CASE("1.1 404 with length", "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!" R_CLOSE,
         SCAN_CLOSE, 2),
    CASE("empty reason phrase", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("reason phrase with spaces", "HTTP/1.1 200 Very Much OK\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("other headers", H_200 "Date: Tue, 25 Nov 2025 22:35:00 GMT\r\nServer: x\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),

    /* --- Connection: close --- */
    CASE("close", H_200 "Connection: close\r\nContent-Length: 5\r\n\r\nhello", SCAN_CLOSE, 1),
    CASE("close, upper-case name", H_200 "CONNECTION: close\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("close, lower-case name", H_200 "connection: close\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("close, mixed-case name and value", H_200 "cOnNeCtIoN: cLoSe\r\nContent-Length: 0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("close after content-length", H_CL5 "Connection: close\r\n\r\nhello", SCAN_CLOSE, 1),
    CASE("keep-alive, close", H_200 "Connection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("keep-alive,close", H_200 "Connection: keep-alive,close\r\nContent-Length: 0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("close, Upgrade", H_200 "Connection: close, Upgrade\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("OWS around Close", H_200 "Connection:\t Close \t\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("no OWS at all", H_200 "Connection:close\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("empty list elements", H_200 "Connection: , ,close ,,\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("second Connection line", H_200 "Connection: keep-alive\r\nConnection: close\r\n"
                                   "Content-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("closed is not close", H_200 "Connection: closed\r\nContent-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("xclose is not close", H_200 "Connection: xclose\r\nContent-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("clos is not close", H_200 "Connection: clos\r\nContent-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("close-later is not close", H_200 "Connection: close-later\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("Upgrade, keep-alive", H_200 "Connection: Upgrade, keep-alive\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("X-Connection is another header", H_200 "X-Connection: close\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("Connectionx is another header", H_200 "Connectionx: close\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("Connectio is another header", H_200 "Connectio: close\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("Proxy-Connection is another header", H_200 "Proxy-Connection: close\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("close as another header's value", H_200 "X-Note: close\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),

    /* --- obsolete line folding: SP/HT at line start continues the value --- */
    CASE("folded close", H_200 "Connection:\r\n close\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("folded list with tab", H_200 "Connection: keep-alive,\r\n\tclose\r\nContent-Length: 0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("fold of another header", H_200 "X-Foo: a\r\n b\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("folded text is not a header", H_200 "X-Foo: a\r\n Connection: close\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("folded content-length", H_200 "Content-Length:\r\n 5\r\n\r\nhello" R_CLOSE, SCAN_CLOSE, 2),

    /* --- HTTP/1.0 defaults to close --- */
    CASE("1.0 content-length", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", SCAN_CLOSE, 1),
    CASE("1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello",
         SCAN_KEEPALIVE, 1),
    CASE("1.0 Keep-Alive mixed case", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("1.0 keep-alive without length", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nbody",
         SCAN_CLOSE, 1),
    CASE("1.0 keep-alive, close", "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n"
                                  "Content-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("1.0 keep-alived is not keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alived\r\n"
                                              "Content-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("1.0 204", "HTTP/1.0 204 No Content\r\n\r\n", SCAN_CLOSE, 1),
    CASE("1.0 keep-alive x2 then plain",
         "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na"
         "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nb"
         "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 3),

    /* --- several responses: the last head wins --- */
    CASE("keep, keep, close",
         H_CL5 "\r\nhello"
         H_200 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
         R_CLOSE, SCAN_CLOSE, 3),
    CASE("keep, keep, keep",
         H_CL5 "\r\nhello" R_KEEP H_200 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         SCAN_KEEPALIVE, 3),
    CASE("body that looks like a close response",
         H_200 "Content-Length: 38\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("next head incomplete keeps previous verdict", R_KEEP H_200 "Connection: close\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("blank line before first response", "\r\n" R_KEEP, SCAN_KEEPALIVE, 1),
    CASE("blank line between responses", R_KEEP "\r\n" R_CLOSE, SCAN_CLOSE, 2),

    /* --- chunked --- */
    CASE("chunked", H_200 "Transfer-Encoding: chunked\r\n\r\n5;foo=bar\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("chunked, trailers, next close",
         H_200 "Transfer-Encoding: chunked\r\n\r\n5;foo=bar\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
         R_CLOSE, SCAN_CLOSE, 2),
    CASE("chunked, two trailers, next keep",
         H_200 "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-A: 1\r\nX-B: close\r\n\r\n" R_KEEP,
         SCAN_KEEPALIVE, 2),
    CASE("chunked, upper-case hex",
         H_200 "Transfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n1F\r\n0123456789012345678901234567890\r\n"
         "0\r\n\r\n" R_CLOSE, SCAN_CLOSE, 2),
    CASE("chunked, lower-case hex and leading zeros",
         H_200 "Transfer-Encoding: chunked\r\n\r\n00a\r\n0123456789\r\n1f\r\n0123456789012345678901234567890\r\n"
         "000\r\n\r\n" R_CLOSE, SCAN_CLOSE, 2),
    CASE("chunk data that looks like framing",
         H_200 "Transfer-Encoding: chunked\r\n\r\nC\r\n0\r\n\r\nHTTP/1.\r\n0\r\n\r\n" R_CLOSE, SCAN_CLOSE, 2),
    CASE("chunk extensions, quoted and several",
         H_200 "Transfer-Encoding: chunked\r\n\r\n5;a=\"x;y\"\r\nhello\r\n2;a=1;b\r\nhi\r\n0;z\r\n\r\n" R_CLOSE,
         SCAN_CLOSE, 2),
    CASE("chunked, mid chunk", H_200 "Transfer-Encoding: chunked\r\n\r\n10\r\nabc", SCAN_KEEPALIVE, 1),
    CASE("chunked with close", H_200 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("gzip, chunked is chunked",
         H_200 "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" R_KEEP, SCAN_KEEPALIVE, 2),
    CASE("CHUNKED in any case",
         H_200 "transfer-encoding: CHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\n" R_KEEP, SCAN_KEEPALIVE, 2),
    CASE("gzip then chunked on two lines",
         H_200 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" R_KEEP,
         SCAN_KEEPALIVE, 2),
    CASE("chunked, gzip reads until close",
         H_200 "Transfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n" R_KEEP, SCAN_CLOSE, 1),
    CASE("chunked then gzip on two lines",
         H_200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n" R_KEEP, SCAN_CLOSE, 1),
    CASE("gzip alone reads until close", H_200 "Transfer-Encoding: gzip\r\n\r\nxyz" R_KEEP, SCAN_CLOSE, 1),
    CASE("transfer-encoding overrides content-length",
         H_200 "Transfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n3\r\nabc\r\n0\r\n\r\n" R_KEEP,
         SCAN_KEEPALIVE, 2),
    CASE("chunkedx is not chunked", H_200 "Transfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n" R_KEEP, SCAN_CLOSE, 1),

    /* --- bodies without a length --- */
    CASE("200 without length reads until close", H_200 "\r\nsome body", SCAN_CLOSE, 1),
    CASE("body until close swallows later heads", H_200 "Content-Type: text/plain\r\n\r\n" R_KEEP R_KEEP,
         SCAN_CLOSE, 1),
    CASE("204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("304 has no body", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("204 then keep", "HTTP/1.1 204 No Content\r\n\r\n" R_KEEP, SCAN_KEEPALIVE, 2),
    CASE("304 content-length describes no body",
         "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n" R_CLOSE, SCAN_CLOSE, 2),
    CASE("204 transfer-encoding describes no body",
         "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n" R_KEEP, SCAN_KEEPALIVE, 2),
    CASE("204 with close", "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", SCAN_CLOSE, 1),

    /* --- interim 1xx responses are not final --- */
    CASE("100 alone", "HTTP/1.1 100 Continue\r\n\r\n", SCAN_NONE, 0),
    CASE("100 then 200", "HTTP/1.1 100 Continue\r\n\r\n" H_CL5 "\r\nhello", SCAN_KEEPALIVE, 1),
    CASE("103 then 200", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" H_CL5 "\r\nhello",
         SCAN_KEEPALIVE, 1),
    CASE("100, 103, then 200 close",
         "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" R_CLOSE, SCAN_CLOSE, 1),
    CASE("keep then 100", R_KEEP "HTTP/1.1 100 Continue\r\n\r\n", SCAN_KEEPALIVE, 1),

    /* --- 101 stops scanning --- */
    CASE("101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
         SCAN_UPGRADED, ANY_COUNT),
    CASE("101 then a close head", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"
                                  "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", SCAN_UPGRADED, ANY_COUNT),
    CASE("101 then binary", "HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello\x88\x00" TLS_HELLO,
         SCAN_UPGRADED, ANY_COUNT),
    CASE("keep then 101", R_KEEP "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n" R_CLOSE,
         SCAN_UPGRADED, ANY_COUNT),

    /* --- the main use case: an early error response that closes --- */
    CASE("413 close, full body",
         "HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/html\r\nContent-Length: 37\r\n"
         "Connection: close\r\n\r\n<html>Request Entity Too Large</html>", SCAN_CLOSE, 1),
    CASE("413 close, partial body",
         "HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/html\r\nContent-Length: 37\r\n"
         "Connection: close\r\n\r\n<html>Request", SCAN_CLOSE, 1),
    CASE("413 close, head only",
         "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 37\r\n\r\n", SCAN_CLOSE, 1),
    CASE("keep then 413 close", H_CL5 "\r\nhello"
         "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 37\r\nConnection: close\r\n\r\n<html>",
         SCAN_CLOSE, 2),

    /* --- bare LF line endings --- */
    CASE("bare LF", "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello", SCAN_KEEPALIVE, 1),
    CASE("bare LF close", "HTTP/1.1 200 OK\nConnection: close\n\n", SCAN_CLOSE, 1),
    CASE("bare LF then CRLF", "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello" R_CLOSE, SCAN_CLOSE, 2),
    CASE("mixed line endings", "HTTP/1.1 200 OK\nConnection: close\r\nContent-Length: 0\n\r\n", SCAN_CLOSE, 1),
    CASE("bare LF fold", "HTTP/1.1 200 OK\nConnection:\n close\nContent-Length: 0\n\n", SCAN_CLOSE, 1),

    /* --- Content-Length --- */
    CASE("content-length with OWS", H_200 "Content-Length: \t5 \t\r\n\r\nhello" R_CLOSE, SCAN_CLOSE, 2),
    CASE("content-length leading zeros", H_200 "Content-Length: 005\r\n\r\nhello" R_CLOSE, SCAN_CLOSE, 2),
    CASE("content-length 5, 5", H_200 "Content-Length: 5, 5\r\n\r\nhello" R_CLOSE, SCAN_CLOSE, 2),
    CASE("content-length 5,5,5", H_200 "Content-Length: 5,5,5\r\n\r\nhello" R_CLOSE, SCAN_CLOSE, 2),
    CASE("content-length twice, same", H_CL5 "Content-Length: 5\r\n\r\nhello" R_CLOSE, SCAN_CLOSE, 2),
    CASE("content-length 18 digits", H_200 "Content-Length: 999999999999999999\r\n\r\nabc",
         SCAN_KEEPALIVE, 1),
    CASE("content-length 5, 6", H_200 "Content-Length: 5, 6\r\n\r\nhello" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length 5, 50", H_200 "Content-Length: 5, 50\r\n\r\nhello" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length 50, 5", H_200 "Content-Length: 50, 5\r\n\r\nhello" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length twice, different", H_CL5 "Content-Length: 6\r\n\r\nhello" R_KEEP,
         SCAN_LOST, ANY_COUNT),
    CASE("content-length 12a", H_200 "Content-Length: 12a\r\n\r\n" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length empty", H_200 "Content-Length: \r\n\r\n" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length negative", H_200 "Content-Length: -1\r\n\r\n" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length plus sign", H_200 "Content-Length: +5\r\n\r\nhello" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length 1 2", H_200 "Content-Length: 1 2\r\n\r\n" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length hex", H_200 "Content-Length: 0x10\r\n\r\n" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length 2^64", H_200 "Content-Length: 18446744073709551616\r\n\r\n" R_KEEP,
         SCAN_LOST, ANY_COUNT),
    CASE("content-length 25 digits", H_200 "Content-Length: 1234567890123456789012345\r\n\r\n" R_KEEP,
         SCAN_LOST, ANY_COUNT),

    /* --- whole lines at once (header_lines, fast_length_value): the edges --- */
    CASE("names in upper case", H_200 "CONTENT-LENGTH: 5\r\nCONNECTION: CLOSE\r\n\r\nhello", SCAN_CLOSE, 1),
    CASE("transfer-encoding in upper case", H_200 "TRANSFER-ENCODING: CHUNKED\r\n\r\n0\r\n\r\n" R_CLOSE,
         SCAN_CLOSE, 2),
    CASE("names one byte off ours", H_200 "Connectiom: close\r\nContent-Lengtx: 5\r\nTransfer-Encodinx: chunked\r\n"
                                    "Content_Length: 9\r\nContent-Length: 0\r\n\r\n" R_CLOSE, SCAN_CLOSE, 2),
    CASE("name with bytes above 0x7f", H_200 "X-\xc3\xa9t\xc3\xa9: 1\r\nContent-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("name with DEL", H_200 "X\x7fY: 1\r\nContent-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("value with control bytes", H_200 "X-A: a\x01\x7f b\r\nContent-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("content-length 17 digits", H_200 "Content-Length: 12345678901234567\r\n\r\nabc", SCAN_KEEPALIVE, 1),
    CASE("content-length 19 digits", H_200 "Content-Length: 1234567890123456789\r\n\r\n" R_KEEP,
         SCAN_LOST, ANY_COUNT),
    CASE("bare CR in content-length", H_200 "Content-Length: 5\r5\r\n\r\nhello" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length then a fold", H_200 "Content-Length: 5\r\n 5\r\n\r\nhello" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("content-length bare LF", "HTTP/1.1 200 OK\nContent-Length:  7\t\nX: y\n\nhello!!" R_CLOSE, SCAN_CLOSE, 2),

    /* --- whole heads at once (scan_whole.h: heads of 64 bytes or more): the edges --- */
    CASE("whole: bare CR in a value", H_200 X_FILL "X-Bad: a\rb\r\nContent-Length: 0\r\n\r\n", SCAN_LOST,
         ANY_COUNT),
    CASE("whole: CR before a blank line's LF only", H_200 X_FILL "Content-Length: 0\r\n\r\r\n", SCAN_LOST,
         ANY_COUNT),
    CASE("whole: space in a name", H_200 X_FILL "Bad Name: x\r\nContent-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("whole: empty name", H_200 X_FILL ": x\r\nContent-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("whole: name with DEL", H_200 X_FILL "X\x7fY: 1\r\nContent-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("whole: name with bytes above 0x7f", H_200 X_FILL "X-\xc3\xa9: 1\r\nConnection: close\r\n"
         "Content-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("whole: obs-fold", H_200 X_FILL "Connection: keep-alive,\r\n close\r\nContent-Length: 0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("whole: connection list", H_200 X_FILL "Connection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("whole: connection with tabs", H_200 X_FILL "Connection:\tclose\t\r\nContent-Length: 0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("whole: other connection token", H_200 X_FILL "Connection: upgrade\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("whole: HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\n" X_FILL "Connection: Keep-Alive\r\n"
         "Content-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("whole: HTTP/1.0 without keep-alive", "HTTP/1.0 200 OK\r\n" X_FILL "Content-Length: 0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("whole: CGI status", "Status: 200 OK\r\n" X_FILL "Content-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("whole: two equal lengths", H_200 X_FILL "Content-Length: 2\r\nContent-Length: 2\r\n\r\nhi" R_CLOSE,
         SCAN_CLOSE, 2),
    CASE("whole: two different lengths", H_200 X_FILL "Content-Length: 2\r\nContent-Length: 3\r\n\r\nhi",
         SCAN_LOST, ANY_COUNT),
    CASE("whole: length of 8 digits", H_200 X_FILL "Content-Length: 00000002\r\n\r\nhi" R_CLOSE, SCAN_CLOSE, 2),
    CASE("whole: length of 7 digits", H_200 X_FILL "Content-Length: 0000002\r\n\r\nhi" R_CLOSE, SCAN_CLOSE, 2),
    CASE("whole: length then space", H_200 X_FILL "Content-Length: 2 \r\n\r\nhi" R_CLOSE, SCAN_CLOSE, 2),
    CASE("whole: length after a tab", H_200 X_FILL "Content-Length:\t2\r\n\r\nhi" R_CLOSE, SCAN_CLOSE, 2),
    CASE("whole: length with a letter", H_200 X_FILL "Content-Length: 2x\r\n\r\nhi" R_CLOSE, SCAN_LOST, ANY_COUNT),
    CASE("whole: chunked", H_200 X_FILL "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" R_CLOSE,
         SCAN_CLOSE, 2),
    CASE("whole: gzip, chunked", H_200 X_FILL "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" R_CLOSE,
         SCAN_CLOSE, 2),
    CASE("whole: not chunked last", H_200 X_FILL "Transfer-Encoding: gzip\r\n\r\n" R_KEEP, SCAN_CLOSE, 1),
    CASE("whole: interim then final", "HTTP/1.1 100 Continue\r\n" X_FILL "\r\n" H_200 X_FILL
         "Content-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("whole: 101", "HTTP/1.1 101 Switching Protocols\r\n" X_FILL "Connection: Upgrade\r\n\r\n" R_KEEP,
         SCAN_UPGRADED, 0),
    CASE("whole: 204 with a length", "HTTP/1.1 204 No Content\r\n" X_FILL "Content-Length: 5\r\n\r\n" R_CLOSE,
         SCAN_CLOSE, 2),
    CASE("whole: bare LF line ends", "HTTP/1.1 200 OK\n" X_FILL_LF "Connection: close\nContent-Length: 0\n\n",
         SCAN_CLOSE, 1),
    CASE("whole: status line alone", "HTTP/1.1 200 OK, and a reason phrase long enough for a whole word\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("whole: keep then close", H_200 X_FILL "Content-Length: 0\r\n\r\n" H_200 X_FILL
         "Connection: close\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 2),

    /* --- the quick way's usual lines (scan_quick.h, scan_usual.h), and
     * the ones it leaves to the whole-head pass --- */
    CASE("quick: keep-alive", H_200 X_FILL "Connection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
         SCAN_KEEPALIVE, 1),
    CASE("quick: keep-alive in capitals", H_200 X_FILL "CONNECTION: KEEP-ALIVE\r\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("quick: keep-alive last", "HTTP/1.0 200 OK\r\n" X_FILL "Content-Length: 0\r\nConnection: Keep-Alive\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("quick: keep-alive then a space", "HTTP/1.0 200 OK\r\n" X_FILL "Content-Length: 0\r\nConnection: keep-alive \r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("quick: keep-alive, lone CR", H_200 X_FILL "Connection: keep-alive\r\r\nContent-Length: 0\r\n\r\n",
         SCAN_LOST, ANY_COUNT),
    CASE("quick: keep-alive, a dash for the CR", H_200 X_FILL "Connection: keep-alive-\nContent-Length: 0\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("quick: keep-alive, LF alone", "HTTP/1.0 200 OK\n" X_FILL_LF "Connection: keep-alive\nContent-Length: 0\n\n",
         SCAN_KEEPALIVE, 1),
    CASE("quick: close, LF alone", H_200 X_FILL "Connection: close\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("quick: Set-Cookie and Keep-Alive", H_200 X_FILL "Set-Cookie: a=b\r\nKeep-Alive: timeout=5\r\n"
         "Connection: Keep-Alive\r\nContent-Length: 0\r\n\r\n" R_CLOSE, SCAN_CLOSE, 2),
    CASE("quick: close last", H_200 X_FILL "Content-Length: 0\r\nConnection: close\r\n\r\n", SCAN_CLOSE, 1),
    CASE("quick: close and keep-alive", H_200 X_FILL "Connection: keep-alive\r\nConnection: Close\r\n"
         "Content-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("quick: closed", H_200 X_FILL "Connection: closed\r\nContent-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("quick: upgrade", H_200 X_FILL "Connection: upgrade\r\nContent-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("quick: chunked", H_200 X_FILL "Transfer-Encoding: Chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" R_KEEP,
         SCAN_KEEPALIVE, 2),
    CASE("quick: chunked then a length", H_200 X_FILL "Transfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n"
         "0\r\n\r\n" R_CLOSE, SCAN_CLOSE, 2),
    CASE("quick: chunked then gzip", H_200 X_FILL "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"
         R_KEEP, SCAN_CLOSE, 1),
    CASE("quick: chunked, LF alone", H_200 X_FILL "Transfer-Encoding: chunked\n\n0\r\n\r\n" R_CLOSE, SCAN_CLOSE, 2),
    CASE("quick: length of 1 digit last", H_200 X_FILL "Content-Length: 2\r\n\r\nhi" R_CLOSE, SCAN_CLOSE, 2),
    CASE("quick: length of 6 digits", H_200 X_FILL "Content-Length: 123456\r\nConnection: close\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("quick: length of 7 digits, body skipped", H_200 X_FILL "Content-Length: 1000000\r\nServer: x\r\n\r\n",
         SCAN_KEEPALIVE, 1),
    CASE("quick: length in capitals", H_200 X_FILL "CONTENT-LENGTH: 2\r\nServer: x\r\n\r\nhi" R_CLOSE,
         SCAN_CLOSE, 2),
    CASE("quick: length without a space", H_200 X_FILL "Content-Length:2\r\nServer: x\r\n\r\nhi" R_CLOSE,
         SCAN_CLOSE, 2),
    CASE("quick: length, LF alone", H_200 X_FILL "Content-Length: 2\nServer: x\r\n\r\nhi" R_CLOSE, SCAN_CLOSE, 2),
    CASE("quick: length empty", H_200 X_FILL "Content-Length: \r\nServer: x\r\n\r\nhi", SCAN_LOST, ANY_COUNT),
    CASE("quick: length, lone CR", H_200 X_FILL "Content-Length: 2\rServer: x\r\n\r\nhi", SCAN_LOST, ANY_COUNT),
    CASE("quick: length 0", H_200 X_FILL "Content-Length: 0\r\nServer: x\r\n\r\n" R_CLOSE, SCAN_CLOSE, 2),
    CASE("quick: HTTP/1.0", "HTTP/1.0 200 OK\r\n" X_FILL "Content-Length: 0\r\n\r\n" R_KEEP, SCAN_KEEPALIVE, 2),
    CASE("quick: HTTP/1.9", "HTTP/1.9 200 OK\r\n" X_FILL "Content-Length: 0\r\n\r\n" R_KEEP, SCAN_KEEPALIVE, 2),
    CASE("quick: HTTP/1.x", "HTTP/1.x 200 OK\r\n" X_FILL "Content-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("quick: status 2x0", "HTTP/1.1 2x0 OK\r\n" X_FILL "Content-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("quick: status 099", "HTTP/1.1 099 OK\r\n" X_FILL "Content-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("quick: status then CR LF", "HTTP/1.1 200\r\n" X_FILL "Content-Length: 0\r\n\r\n" R_KEEP,
         SCAN_KEEPALIVE, 2),
    CASE("quick: status then a letter", "HTTP/1.1 2000\r\n" X_FILL "Content-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("quick: 404", "HTTP/1.1 404 Not Found\r\n" X_FILL "Content-Length: 3\r\n\r\nno!" R_KEEP, SCAN_KEEPALIVE, 2),
    CASE("quick: 201 and close", "HTTP/1.1 201 Created\r\n" X_FILL "Connection: close\r\nContent-Length: 0\r\n\r\n",
         SCAN_CLOSE, 1),
    CASE("quick: 200 without a header line", "HTTP/1.1 200 OK\r\n\r\n" X_FILL X_FILL, SCAN_CLOSE, 1),
    CASE("quick: 304", "HTTP/1.1 304 Not Modified\r\n" X_FILL "Content-Length: 5\r\n\r\n" R_KEEP,
         SCAN_KEEPALIVE, 2),
    CASE("quick: 199 then 500", "HTTP/1.1 199 Hm\r\n" X_FILL "\r\nHTTP/1.1 500 Oops\r\n" X_FILL
         "Connection: keep-alive\r\nContent-Length: 0\r\n\r\n", SCAN_KEEPALIVE, 1),
    CASE("quick: the blank line a lone CR", H_200 X_FILL "Content-Length: 0\r\n\rX", SCAN_LOST, ANY_COUNT),
    CASE("quick: nginx head", "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
         "Content-Type: text/html\r\nContent-Length: 615\r\nLast-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
         "Connection: keep-alive\r\nETag: \"65920000-267\"\r\nAccept-Ranges: bytes\r\n\r\n", SCAN_KEEPALIVE, 1),

    /* --- chunk framing errors --- */
    CASE("chunk size 20 hex digits",
         H_200 "Transfer-Encoding: chunked\r\n\r\n10000000000000000000\r\n" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("chunk size 17 hex digits",
         H_200 "Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n" R_KEEP,
         SCAN_LOST, ANY_COUNT),
    CASE("chunk size not hex", H_200 "Transfer-Encoding: chunked\r\n\r\nzz\r\n" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("chunk size missing", H_200 "Transfer-Encoding: chunked\r\n\r\n\r\n" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("chunk data without CRLF",
         H_200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n" R_KEEP, SCAN_LOST, ANY_COUNT),

    /* --- not HTTP/1.x responses --- */
    CASE("a request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("TLS", TLS_HELLO, SCAN_LOST, ANY_COUNT),
    CASE("HTTP/2", "HTTP/2 200\r\ncontent-length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("HTTPS/1.1", "HTTPS/1.1 200 OK\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("HTTP/1.x", "HTTP/1.x 200 OK\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("status 20x", "HTTP/1.1 20x OK\r\nContent-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("status 2000", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("header without colon", H_200 "NoColonHere\r\nContent-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("bare CR in a header value", H_200 "X-A: a\rb\r\nContent-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("bare CR in the status line", "HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("bare CR after chunk data",
         H_200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r0\r\n\r\n" R_KEEP, SCAN_LOST, ANY_COUNT),
    CASE("header with empty name", H_200 ": x\r\nContent-Length: 0\r\n\r\n", SCAN_LOST, ANY_COUNT),

    /* --- CGI-style heads (SCGI, uwsgi): a "Status: NNN" first line; one
     * request per connection, so close semantics whatever the headers say --- */
    CASE("CGI status head", "Status: 413 Request Entity Too Large\r\nContent-Type: text/plain\r\n"
         "Content-Length: 5\r\n\r\nhello", SCAN_CLOSE, 1),
    CASE("CGI status, name in lower case", "status: 200 OK\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("CGI status, name in upper case", "STATUS: 200 OK\r\nContent-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("CGI status without reason", "Status: 204\r\n\r\n", SCAN_CLOSE, 1),
    CASE("CGI status, bare LF", "Status: 200 OK\nContent-Length: 2\n\nok", SCAN_CLOSE, 1),
    CASE("CGI status, keep-alive header ignored", "Status: 200 OK\r\nConnection: keep-alive\r\n"
         "Content-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("CGI status, chunked body", "Status: 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("CGI status, body until close", "Status: 200 OK\r\nContent-Type: text/html\r\n\r\n<p>", SCAN_CLOSE, 1),
    CASE("CGI status, interim then final", "Status: 100 Continue\r\n\r\nStatus: 200 OK\r\n"
         "Content-Length: 0\r\n\r\n", SCAN_CLOSE, 1),
    CASE("CGI status, head not complete", "Status: 200 OK\r\nContent-Length: 0\r\n", SCAN_NONE, 0),
    CASE("CGI status, no space after the colon", "Status:200 OK\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("CGI status, two spaces", "Status:  200 OK\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("CGI status, letter in the code", "Status: 2x0 OK\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("CGI status, four digits", "Status: 2000 OK\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("CGI status, code under 100", "Status: 099\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("CGI status, another S name", "Server: x\r\n\r\n", SCAN_LOST, ANY_COUNT),
    CASE("CGI status later than the first line", "Content-Type: text/plain\r\nStatus: 200 OK\r\n\r\n",
         SCAN_LOST, ANY_COUNT),
    CASE("HTTP keep-alive then CGI status", R_KEEP "Status: 200 OK\r\nContent-Length: 0\r\n\r\n",
         SCAN_CLOSE, 2),

    /* --- LOST is final --- */
    CASE("request then valid response", "GET / HTTP/1.1\r\n\r\n" R_KEEP R_CLOSE, SCAN_LOST, ANY_COUNT),
    CASE("bad length then valid responses", H_200 "Content-Length: 12a\r\n\r\n" R_KEEP R_CLOSE,
         SCAN_LOST, ANY_COUNT),
    CASE("keep then garbage", R_KEEP "garbage\r\n\r\n" R_CLOSE, SCAN_LOST, 1),
};

/* ------------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: fixed seeds give the same "random" inputs on every run */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static void feed(struct scan_state *s, const unsigned char *p, size_t n)
{
    enum scan_verdict v = scan_feed(s, p, n);
    cr_assert_eq(v, scan_verdict(s), "scan_feed returned %d but scan_verdict() says %d", v, scan_verdict(s));
    cr_assert_leq(s->phase, SP_DONE, "phase %d out of range", s->phase);
}

/* What a real caller does: try the by-count hot path, else scan. */
static void feed_hot(struct scan_state *s, const unsigned char *p, size_t n)
{
    if (!scan_skip_body(s, n))
        feed(s, p, n);
}

/* Feeds buf in random pieces of 1..max_piece bytes through feed_hot(). */
static void feed_random(struct scan_state *s, const unsigned char *buf, size_t n, size_t max_piece)
{
    size_t off = 0;
    while (off < n) {
        size_t piece = 1 + rng() % max_piece;
        if (piece > n - off)
            piece = n - off;
        feed_hot(s, buf + off, piece);
        off += piece;
    }
}

static void expect(const struct scan_state *s, const char *name, const char *how,
                   enum scan_verdict want, int want_responses)
{
    cr_assert_eq(scan_verdict(s), want, "[%s] %s: verdict %s, want %s", name, how,
                 scan_verdict_name(scan_verdict(s)), scan_verdict_name(want));
    if (want_responses != ANY_COUNT)
        cr_assert_eq(s->responses, want_responses, "[%s] %s: responses %d, want %d", name, how,
                     s->responses, want_responses);
}

static int same_state(const struct scan_state *a, const struct scan_state *b)
{
    return a->remaining == b->remaining && a->status == b->status && a->line_len == b->line_len &&
           a->flags == b->flags && a->phase == b->phase && a->verdict == b->verdict &&
           a->header == b->header && a->match == b->match && a->token == b->token &&
           a->responses == b->responses;
}

static void check_stream_way(const char *name, const unsigned char *buf, size_t n,
                             enum scan_verdict want, int want_responses);

/* Feeds one connection's bytes in every way described at the top, through
 * each way the fast path has of reading heads (SSE2, and AVX2 where the CPU
 * has it), and checks the whole-piece state against the reference's. */
static void check_stream(const char *name, const unsigned char *buf, size_t n,
                         enum scan_verdict want, int want_responses)
{
    int ways = scan_fast_way(1) + 1;
    for (int w = 0; w < ways; w++) {
        scan_fast_way(w);
        check_stream_way(name, buf, n, want, want_responses);
        struct scan_state fast, ref;
        scan_init(&fast);
        scan_init(&ref);
        scan_feed(&fast, buf, n);
        scan_feed_ref(&ref, buf, n);
        expect(&ref, name, "through the reference", want, want_responses);
        cr_assert(same_state(&fast, &ref), "[%s] way %d: the fast path's state differs from the reference's",
                  name, w);
    }
    scan_fast_way(ways - 1);
}

static void check_stream_way(const char *name, const unsigned char *buf, size_t n,
                             enum scan_verdict want, int want_responses)
{
    struct scan_state s;
    uint8_t *prefix = malloc(n + 1); /* verdict after i bytes, fed one by one */
    cr_assert_not_null(prefix);

    scan_init(&s);
    prefix[0] = scan_verdict(&s);
    for (size_t i = 0; i < n; i++) {
        feed(&s, buf + i, 1);
        prefix[i + 1] = scan_verdict(&s);
    }
    expect(&s, name, "one byte at a time", want, want_responses);

    scan_init(&s);
    feed(&s, buf, n);
    expect(&s, name, "in one piece", want, want_responses);

    for (size_t i = 0; i <= n; i++) {
        scan_init(&s);
        feed(&s, buf, i);
        cr_assert_eq(scan_verdict(&s), prefix[i], "[%s] after first %zu bytes in one piece: verdict %s, "
                     "but %s when fed one by one", name, i, scan_verdict_name(scan_verdict(&s)),
                     scan_verdict_name(prefix[i]));
        feed(&s, buf + i, n - i);
        char how[64];
        snprintf(how, sizeof how, "split at %zu", i);
        expect(&s, name, how, want, want_responses);
    }

    rng_state = 0x9E3779B97F4A7C15ULL ^ n;
    for (size_t max_piece = 2; max_piece <= 64; max_piece *= 2) {
        scan_init(&s);
        feed_random(&s, buf, n, max_piece);
        expect(&s, name, "random pieces through scan_skip_body", want, want_responses);
    }
    free(prefix);
}

/* Criterion may run each parameter in a fresh process image, where pointers
 * into this one mean nothing: the parameter is an index into cases[]. */
static void free_indices(struct criterion_test_params *p)
{
    cr_free(p->params);
}

ParameterizedTestParameters(scan, table)
{
    size_t n = sizeof cases / sizeof cases[0];
    size_t *idx = cr_malloc(n * sizeof *idx);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    return cr_make_param_array(size_t, idx, n, free_indices);
}

ParameterizedTest(size_t *i, scan, table)
{
    const struct scan_case *c = &cases[*i];
    check_stream(c->name, (const unsigned char *)c->bytes, c->len, c->verdict, c->responses);
}

/* ------------------------------------------------------------------------ */
/* Cases too long to write out: lines around SCAN_MAX_LINE. */

struct buf {
    char *p;
    size_t n, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void put_fill(struct buf *b, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(b, &c, 1);
}

static void check_buf(const char *name, struct buf *b, enum scan_verdict want, int want_responses)
{
    check_stream(name, (const unsigned char *)b->p, b->n, want, want_responses);
    free(b->p);
}

/* Our headers' names and values at every offset from the 64-byte words
 * the whole-head pass reads (scan_whole.h), so that each crosses a word's
 * end somewhere: a name's carry, a line start and a CR LF pair across two
 * words. */
/* A 200 head whose first header line is `pad` bytes of value, then tail. */
static void put_padded_head(struct buf *b, size_t pad, const char *tail)
{
    puts_(b, H_200 "X-Pad: ");
    put_fill(b, 'a', pad);
    puts_(b, "\r\n");
    puts_(b, tail);
}

Test(scan, whole_heads_at_every_offset)
{
    static const char *const tails[] = {
        "Connection: close\r\nContent-Length: 2\r\n\r\nhi",
        "Transfer-Encoding: chunked\r\nX: y\r\n\r\n2\r\nhi\r\n0\r\n\r\n" R_CLOSE,
        "Content-Length: 2\r\nConnection: keep-alive\r\n\r\nhi" R_CLOSE,
        "Connection: keep-alive\nContent-Length: 2\n\nhi" R_CLOSE,
    };
    static const int responses[] = { 1, 2, 2, 2 };
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        for (size_t pad = 0; pad < 130; pad++) {
            struct buf b = { 0 };
            put_padded_head(&b, pad, tails[t]);
            char name[64];
            snprintf(name, sizeof name, "tail %zu after a pad of %zu", t, pad);
            check_buf(name, &b, SCAN_CLOSE, responses[t]);
        }
    }
}

/* A CR at every offset from the 64-byte words the quick pass reads
 * (scan_quick.h): one just before its LF, and one alone, inside a value
 * (the reference loses) or just before the head's end; each at a word's
 * last byte somewhere, where the pass looks at the next byte again. The
 * heads end where the feed does, so that their last piece is read as 64
 * bytes or as 32. */
Test(scan, quick_heads_with_a_cr_at_every_offset)
{
    static const struct {
        const char *tail;
        enum scan_verdict want;
        int responses;
    } tails[] = {
        { "X-B: c\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi", SCAN_CLOSE, 1 },
        { "X-B: c\rd\r\nContent-Length: 2\r\n\r\nhi", SCAN_LOST, ANY_COUNT },
        { "X-B: c\r\r\nConnection: close\r\n\r\n", SCAN_LOST, ANY_COUNT },
        { "Content-Length: 0\r\nX-B: c\r", SCAN_NONE, 0 },
        { "Content-Length: 0\r\n\r", SCAN_NONE, 0 },
    };
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        for (size_t pad = 0; pad < 140; pad++) {
            struct buf b = { 0 };
            put_padded_head(&b, pad, tails[t].tail);
            char name[64];
            snprintf(name, sizeof name, "CR tail %zu after a pad of %zu", t, pad);
            check_buf(name, &b, tails[t].want, tails[t].responses);
        }
    }
}

Test(scan, long_header_line_under_limit)
{
    struct buf b = { 0 };
    puts_(&b, H_200 "X-Long: ");
    put_fill(&b, 'a', SCAN_MAX_LINE - 200);
    puts_(&b, "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    check_buf("header line under SCAN_MAX_LINE", &b, SCAN_CLOSE, 1);
}

Test(scan, long_header_line_over_limit)
{
    struct buf b = { 0 };
    puts_(&b, H_200 "X-Long: ");
    put_fill(&b, 'a', SCAN_MAX_LINE + 100);
    puts_(&b, "\r\nContent-Length: 0\r\n\r\n" R_KEEP);
    check_buf("header line over SCAN_MAX_LINE", &b, SCAN_LOST, ANY_COUNT);
}

Test(scan, long_header_name_over_limit)
{
    struct buf b = { 0 };
    puts_(&b, H_200);
    put_fill(&b, 'X', SCAN_MAX_LINE + 100);
    puts_(&b, ": 1\r\nContent-Length: 0\r\n\r\n" R_KEEP);
    check_buf("header name over SCAN_MAX_LINE", &b, SCAN_LOST, ANY_COUNT);
}

Test(scan, long_folded_header_over_limit)
{
    /* Folding continues one logical line; each physical line is short. */
    struct buf b = { 0 };
    puts_(&b, H_200 "X-Long: a");
    for (unsigned i = 0; i < SCAN_MAX_LINE / 8 + 100; i++)
        puts_(&b, "\r\n bbbbb");
    puts_(&b, "\r\nContent-Length: 0\r\n\r\n" R_CLOSE);
    /* Either a limit on the logical line (LOST) or on physical lines (the
     * close is seen) is reasonable; what is not is anything else. */
    struct scan_state s;
    scan_init(&s);
    scan_feed(&s, b.p, b.n);
    enum scan_verdict v = scan_verdict(&s);
    cr_assert(v == SCAN_LOST || v == SCAN_CLOSE, "verdict %s", scan_verdict_name(v));
    check_buf("long folded header", &b, v, ANY_COUNT);
}

Test(scan, long_status_line_over_limit)
{
    struct buf b = { 0 };
    puts_(&b, "HTTP/1.1 200 ");
    put_fill(&b, 'O', SCAN_MAX_LINE + 100);
    puts_(&b, "\r\nContent-Length: 0\r\n\r\n" R_KEEP);
    check_buf("status line over SCAN_MAX_LINE", &b, SCAN_LOST, ANY_COUNT);
}

Test(scan, long_chunk_extension_over_limit)
{
    struct buf b = { 0 };
    puts_(&b, H_200 "Transfer-Encoding: chunked\r\n\r\n5;x=");
    put_fill(&b, 'e', SCAN_MAX_LINE + 100);
    puts_(&b, "\r\nhello\r\n0\r\n\r\n" R_KEEP);
    check_buf("chunk line over SCAN_MAX_LINE", &b, SCAN_LOST, ANY_COUNT);
}

Test(scan, long_trailer_line_over_limit)
{
    struct buf b = { 0 };
    puts_(&b, H_200 "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: ");
    put_fill(&b, 't', SCAN_MAX_LINE + 100);
    puts_(&b, "\r\n\r\n" R_KEEP);
    check_buf("trailer line over SCAN_MAX_LINE", &b, SCAN_LOST, ANY_COUNT);
}

Test(scan, many_headers_each_short)
{
    /* The line limit is per line, not per head. */
    struct buf b = { 0 };
    puts_(&b, H_200);
    for (int i = 0; i < 700; i++) /* 20 KB of head, lines of 29 bytes */
        puts_(&b, "X-Header-Number: some value\r\n");
    puts_(&b, "Connection: close\r\nContent-Length: 0\r\n\r\n");
    check_buf("many short headers", &b, SCAN_CLOSE, 1);
}

Test(scan, responses_saturate_at_255)
{
    struct buf b = { 0 };
    for (int i = 0; i < 300; i++)
        puts_(&b, "HTTP/1.1 204 No Content\r\n\r\n");
    check_buf("300 responses", &b, SCAN_KEEPALIVE, 255);
}

/* ------------------------------------------------------------------------ */

Test(scan, state_fits_in_32_bytes)
{
    cr_assert_leq(sizeof(struct scan_state), 32, "struct scan_state is %zu bytes", sizeof(struct scan_state));
}

Test(scan, init)
{
    struct scan_state s;
    memset(&s, 0xa5, sizeof s);
    scan_init(&s);
    cr_assert_eq(scan_verdict(&s), SCAN_NONE);
    cr_assert_eq(s.phase, SP_START);
    cr_assert_eq(s.responses, 0);
    cr_assert_not(scan_is_done(&s));
    cr_assert_not(scan_skip_body(&s, 1));
    cr_assert_eq(scan_feed(&s, "", 0), SCAN_NONE);
}

Test(scan, verdict_names)
{
    const enum scan_verdict all[] = { SCAN_NONE, SCAN_KEEPALIVE, SCAN_CLOSE, SCAN_UPGRADED, SCAN_LOST };
    for (size_t i = 0; i < 5; i++) {
        const char *a = scan_verdict_name(all[i]);
        cr_assert_not_null(a);
        cr_assert_neq(a[0], '\0');
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(a, scan_verdict_name(all[j]));
    }
}

static void feed_str(struct scan_state *s, const char *str)
{
    feed(s, (const unsigned char *)str, strlen(str));
}

Test(scan, skip_body_content_length)
{
    static const char body[100] = { 0 };
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, H_200 "Content-Length: 100\r\n\r\n");
    cr_assert_eq(s.phase, SP_BODY_LENGTH);
    cr_assert_eq(s.remaining, 100);

    cr_assert_eq(scan_skip_body(&s, 150), 0, "150 bytes do not fit in 100");
    cr_assert_eq(s.remaining, 100);
    cr_assert_eq(scan_skip_body(&s, 50), 1);
    cr_assert_eq(s.remaining, 50);
    cr_assert_eq(scan_skip_body(&s, 50), 0, "the last byte of a body must go through scan_feed");
    cr_assert_eq(s.remaining, 50);
    cr_assert_eq(scan_verdict(&s), SCAN_KEEPALIVE);

    feed(&s, (const unsigned char *)body, 50);
    cr_assert_eq(s.phase, SP_START, "message should have ended, phase %d", s.phase);
    cr_assert_eq(scan_skip_body(&s, 1), 0);

    feed_str(&s, R_CLOSE);
    cr_assert_eq(scan_verdict(&s), SCAN_CLOSE);
    cr_assert_eq(s.responses, 2);
}

Test(scan, skip_body_chunk)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, H_200 "Transfer-Encoding: chunked\r\n\r\n40\r\n");
    cr_assert_eq(s.phase, SP_CHUNK_DATA);
    cr_assert_eq(scan_skip_body(&s, 64), 0);
    cr_assert_eq(scan_skip_body(&s, 60), 1);
    cr_assert_eq(s.remaining, 4);
    feed_str(&s, "abcd\r\n0\r\n\r\n" R_CLOSE);
    cr_assert_eq(scan_verdict(&s), SCAN_CLOSE);
    cr_assert_eq(s.responses, 2);
}

Test(scan, skip_body_not_in_head)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, H_200 "Content-Le");
    cr_assert_eq(scan_skip_body(&s, 1), 0);
    feed_str(&s, "ngth: 3\r\n\r\nab");
    cr_assert_eq(scan_skip_body(&s, 1), 0, "one byte left, it ends the body");
    feed_str(&s, "c");
    cr_assert_eq(scan_skip_body(&s, 1), 0);
}

/* scan_skip_unseen: bytes sent by sendfile, counted but never seen. */
Test(scan, skip_unseen_inside_body)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, H_200 "Content-Length: 100\r\n\r\n");
    cr_assert_eq(scan_skip_unseen(&s, 40), 1);
    cr_assert_eq(s.remaining, 60);
    cr_assert_eq(scan_skip_unseen(&s, 60), 1, "exactly the rest of the body");
    cr_assert_eq(s.phase, SP_START, "message should have ended, phase %d", s.phase);
    feed_str(&s, R_CLOSE);
    cr_assert_eq(scan_verdict(&s), SCAN_CLOSE);
    cr_assert_eq(s.responses, 2);
}

Test(scan, skip_unseen_inside_chunk)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, H_200 "Transfer-Encoding: chunked\r\n\r\n40\r\n");
    cr_assert_eq(scan_skip_unseen(&s, 64), 1);
    cr_assert_eq(s.phase, SP_CHUNK_DATA_END);
    feed_str(&s, "\r\n0\r\n\r\n" R_CLOSE);
    cr_assert_eq(scan_verdict(&s), SCAN_CLOSE);
    cr_assert_eq(s.responses, 2);
}

Test(scan, skip_unseen_past_body_stops_with_verdict)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, H_200 "Content-Length: 10\r\n\r\n");
    cr_assert_eq(scan_skip_unseen(&s, 11), 0);
    cr_assert_eq(scan_verdict(&s), SCAN_KEEPALIVE, "keeps the verdict it had");
    cr_assert(scan_is_done(&s));
    feed_str(&s, R_CLOSE);
    cr_assert_eq(scan_verdict(&s), SCAN_KEEPALIVE, "stopped: later bytes are not looked at");
    cr_assert_eq(scan_skip_unseen(&s, 5), 1, "a stopped scanner needs nothing");
}

Test(scan, skip_unseen_in_head_stops)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, H_200 "Content-Le");
    cr_assert_eq(scan_skip_unseen(&s, 1), 0);
    cr_assert_eq(scan_verdict(&s), SCAN_NONE);
    cr_assert(scan_is_done(&s));

    scan_init(&s);
    feed_str(&s, "HTTP/1.1 101 Switching Protocols\r\n\r\n");
    cr_assert_eq(scan_skip_unseen(&s, 1000), 1);
    cr_assert_eq(scan_verdict(&s), SCAN_UPGRADED);
}

Test(scan, done_states)
{
    struct scan_state s;

    scan_init(&s);
    feed_str(&s, H_200 "\r\n");
    cr_assert_eq(scan_verdict(&s), SCAN_CLOSE);
    cr_assert(scan_is_done(&s), "body until close: nothing more to learn");
    cr_assert(scan_skip_body(&s, 12345));

    scan_init(&s);
    feed_str(&s, "HTTP/1.1 101 Switching Protocols\r\n\r\n");
    cr_assert_eq(scan_verdict(&s), SCAN_UPGRADED);
    cr_assert(scan_is_done(&s));
    cr_assert(scan_skip_body(&s, 1));

    scan_init(&s);
    feed_str(&s, "GET / HTTP/1.1\r\n");
    cr_assert_eq(scan_verdict(&s), SCAN_LOST);
    cr_assert(scan_is_done(&s));
    cr_assert(scan_skip_body(&s, 1));

    scan_init(&s);
    feed_str(&s, R_KEEP);
    cr_assert_not(scan_is_done(&s));
}

Test(scan, lost_is_final)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 2x0 OK\r\n");
    cr_assert_eq(scan_verdict(&s), SCAN_LOST);
    for (int i = 0; i < 100; i++) {
        feed_str(&s, R_KEEP);
        feed_str(&s, R_CLOSE);
        feed_str(&s, "HTTP/1.1 101 Switching Protocols\r\n\r\n");
        cr_assert_eq(scan_verdict(&s), SCAN_LOST);
    }
    cr_assert_eq(s.responses, 0);
}

Test(scan, upgraded_is_final)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 101 Switching Protocols\r\n\r\n");
    uint8_t responses = s.responses;
    for (int i = 0; i < 100; i++) {
        feed_str(&s, R_CLOSE);
        feed_str(&s, "GET / HTTP/1.1\r\n");
        cr_assert_eq(scan_verdict(&s), SCAN_UPGRADED);
    }
    cr_assert_eq(s.responses, responses);
}

/* ------------------------------------------------------------------------ */
/* Robustness: pseudo-random streams, half random and half fragments of the
 * table, fed whole, byte by byte, and in two random split patterns. */

static const char http_alphabet[] = "HTTP/1.01 200 \r\n\r\n:,; \tConnection close keep-alive "
                                    "Content-Length Transfer-Encoding chunked gzip 0123456789abcdefABCDEF";

static size_t make_stream(unsigned char *out, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        size_t take;
        unsigned kind = rng() % 8;
        if (kind == 0) { /* raw random bytes */
            take = 1 + rng() % 8;
            for (size_t i = 0; i < take && n < cap; i++)
                out[n++] = (unsigned char)rng();
        } else if (kind <= 2) { /* HTTP-looking random bytes */
            take = 1 + rng() % 16;
            for (size_t i = 0; i < take && n < cap; i++)
                out[n++] = (unsigned char)http_alphabet[rng() % (sizeof http_alphabet - 1)];
        } else { /* a whole case, or a piece of one */
            const struct scan_case *c = &cases[rng() % (sizeof cases / sizeof cases[0])];
            size_t from = 0, to = c->len;
            if (kind == 3 && c->len > 0) {
                from = rng() % c->len;
                to = from + rng() % (c->len - from + 1);
            }
            for (size_t i = from; i < to && n < cap; i++)
                out[n++] = (unsigned char)c->bytes[i];
        }
    }
    return n;
}

/* A valid pipeline of keep-alive responses with a few bytes changed, so the
 * scanner gets deep into heads and bodies before anything goes wrong. */
static size_t make_mutated_stream(unsigned char *out, size_t cap)
{
    static const char *const keeps[] = {
        R_KEEP,
        H_CL5 "\r\nhello",
        H_200 "Transfer-Encoding: chunked\r\n\r\n5;foo=bar\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n",
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
        H_200 "Connection: keep-alive, Upgrade\r\nContent-Length: 1\r\n\r\nx",
    };
    size_t n = 0;
    while (n < cap) {
        const char *r = keeps[rng() % (sizeof keeps / sizeof keeps[0])];
        size_t len = strlen(r);
        if (len > cap - n)
            len = cap - n;
        memcpy(out + n, r, len);
        n += len;
    }
    size_t mutations = rng() % 4;
    for (size_t i = 0; i < mutations; i++) {
        size_t at = rng() % n;
        out[at] = (rng() & 1) ? (unsigned char)rng() : (unsigned char)http_alphabet[rng() % (sizeof http_alphabet - 1)];
    }
    return n;
}

static void check_consistent(const unsigned char *buf, size_t n, unsigned round)
{
    struct scan_state whole, bytewise, a, b;

    scan_init(&whole);
    feed(&whole, buf, n);

    scan_init(&bytewise);
    for (size_t i = 0; i < n; i++)
        feed(&bytewise, buf + i, 1);

    scan_init(&a);
    feed_random(&a, buf, n, 7);
    scan_init(&b);
    feed_random(&b, buf, n, 300);

    const struct scan_state *others[] = { &bytewise, &a, &b };
    for (size_t k = 0; k < 3; k++) {
        cr_assert_eq(scan_verdict(others[k]), scan_verdict(&whole), "round %u, pattern %zu: %s vs %s whole",
                     round, k, scan_verdict_name(scan_verdict(others[k])),
                     scan_verdict_name(scan_verdict(&whole)));
        cr_assert_eq(others[k]->responses, whole.responses, "round %u, pattern %zu: responses %d vs %d",
                     round, k, others[k]->responses, whole.responses);
    }
}

Test(scan, random_bytes_robustness)
{
    enum { STREAM = 4096, ROUNDS = 50 };
    static unsigned char buf[STREAM];
    size_t total = 0;
    unsigned verdicts[SCAN_LOST + 1] = { 0 };

    rng_state = 0x1234567887654321ULL;
    for (unsigned round = 0; round < ROUNDS; round++) {
        size_t n = (round & 1) ? make_mutated_stream(buf, STREAM) : make_stream(buf, STREAM);
        check_consistent(buf, n, round);
        /* also a short prefix, where early verdicts are more varied */
        size_t short_n = rng() % 300;
        check_consistent(buf, short_n < n ? short_n : n, round);

        struct scan_state s;
        scan_init(&s);
        scan_feed(&s, buf, n);
        verdicts[scan_verdict(&s)]++;
        total += n;
    }
    cr_assert_geq(total, 200000);
    cr_assert_gt(verdicts[SCAN_LOST], 0, "the random streams should sometimes be lost");
    cr_assert_gt(verdicts[SCAN_KEEPALIVE] + verdicts[SCAN_CLOSE], 0,
                 "the mutated streams should sometimes survive");
}

/* scan_between_responses: false from the first byte of a status line until
 * the body is written in full (what the exit path asks before lingering). */
Test(scan, between_responses_tracks_head_and_body)
{
    struct scan_state s;
    scan_init(&s);
    cr_assert(scan_between_responses(&s));
    feed_str(&s, "HTTP/1.1 200 OK\r\nContent-Len");
    cr_assert_not(scan_between_responses(&s), "inside the head");
    feed_str(&s, "gth: 10\r\nConnection: close\r\n\r\n");
    cr_assert_eq(scan_verdict(&s), SCAN_CLOSE);
    cr_assert_not(scan_between_responses(&s), "body not written yet");
    cr_assert(scan_skip_body(&s, 9));
    cr_assert_not(scan_between_responses(&s), "one body byte to go");
    feed_str(&s, "x");
    cr_assert(scan_between_responses(&s), "body written in full");
}

Test(scan, between_responses_chunked_and_close_delimited)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    cr_assert_not(scan_between_responses(&s), "before the last chunk");
    feed_str(&s, "0\r\n\r\n");
    cr_assert(scan_between_responses(&s), "after the last chunk");
    scan_init(&s);
    feed_str(&s, "HTTP/1.0 200 OK\r\n\r\nbody until the close");
    cr_assert_not(scan_between_responses(&s), "a close-delimited body may still be being written");
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
    cr_assert_not(scan_between_responses(&s), "after an upgrade nothing is known");
}

Test(scan, between_responses_after_unseen_bytes)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    cr_assert(scan_skip_unseen(&s, 60));
    cr_assert_not(scan_between_responses(&s));
    cr_assert(scan_skip_unseen(&s, 40));
    cr_assert(scan_between_responses(&s), "sendfile wrote the rest of the body");
}

/* scan_in_framed_response: true while a response whose end its own bytes
 * mark (a head, a Content-Length or chunked body) is partly written (what
 * the app's close asks: a write of the rest may be under way); false
 * between responses, in a body only the close ends, and once scanning has
 * stopped. */
Test(scan, framed_response_head_and_counted_body)
{
    struct scan_state s;
    scan_init(&s);
    cr_assert_not(scan_in_framed_response(&s), "nothing written");
    feed_str(&s, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Len");
    cr_assert(scan_in_framed_response(&s), "inside the head");
    feed_str(&s, "gth: 10\r\n\r\n");
    cr_assert_eq(scan_verdict(&s), SCAN_CLOSE);
    cr_assert(scan_in_framed_response(&s), "a counted body not written yet");
    cr_assert(scan_skip_body(&s, 9));
    cr_assert(scan_in_framed_response(&s), "one body byte to go");
    feed_str(&s, "x");
    cr_assert_not(scan_in_framed_response(&s), "body written in full");
    feed_str(&s, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    cr_assert_not(scan_in_framed_response(&s), "an empty body is written with its head");
    scan_init(&s);
    feed_str(&s, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc");
    cr_assert_eq(scan_verdict(&s), SCAN_CLOSE);
    cr_assert_not(scan_in_framed_response(&s), "HTTP/1.0 with its body in full");
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n");
    cr_assert_not(scan_in_framed_response(&s), "a 304 has no body, whatever its length says");
}

Test(scan, framed_response_chunked)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    cr_assert(scan_in_framed_response(&s), "before the first chunk");
    feed_str(&s, "5\r\nhel");
    cr_assert(scan_in_framed_response(&s), "inside a chunk");
    feed_str(&s, "lo\r\n0\r\n");
    cr_assert(scan_in_framed_response(&s), "before the trailers' end");
    feed_str(&s, "X-Trailer: 1\r\n");
    cr_assert(scan_in_framed_response(&s), "inside the trailers");
    feed_str(&s, "\r\n");
    cr_assert_not(scan_in_framed_response(&s), "after the last chunk and trailers");
}

Test(scan, framed_response_not_close_delimited_nor_stopped)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody until the close");
    cr_assert_eq(scan_verdict(&s), SCAN_CLOSE);
    cr_assert_not(scan_in_framed_response(&s), "the close ends a close-delimited body");
    scan_init(&s);
    feed_str(&s, "HTTP/1.0 200 OK\r\n\r\n");
    cr_assert_not(scan_in_framed_response(&s), "HTTP/1.0 without a length: the close ends it");
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
    cr_assert_not(scan_in_framed_response(&s), "not chunked last: the close ends it");
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
    cr_assert_not(scan_in_framed_response(&s), "after an upgrade nothing is known");
    scan_init(&s);
    feed_str(&s, "\x16\x03\x01 not http");
    cr_assert_not(scan_in_framed_response(&s), "lost: nothing is known");
}

Test(scan, framed_response_after_unseen_bytes)
{
    struct scan_state s;
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n");
    cr_assert(scan_skip_unseen(&s, 60));
    cr_assert(scan_in_framed_response(&s), "sendfile wrote part of the body");
    cr_assert(scan_skip_unseen(&s, 40));
    cr_assert_not(scan_in_framed_response(&s), "sendfile wrote the rest of the body");
    scan_init(&s);
    feed_str(&s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    cr_assert_eq(scan_skip_unseen(&s, 11), 0);
    cr_assert_not(scan_in_framed_response(&s), "ran past the body: scanning stopped, nothing is known");
}
