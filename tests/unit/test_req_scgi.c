/* test_req_scgi.c - the SCGI request scanner (shim/req_scgi.c), every case
 * at every split (req_check.h). */
#include "req_check.h"

#define SCGI REQ_PROTO_SCGI
/* "CONTENT_LENGTH\0" "5\0" "SCGI\0" "1\0" "REQUEST_METHOD\0" "POST\0" = 15+2+5+2+15+5 = 44 */
#define POST5 "44:CONTENT_LENGTH\0" "5\0" "SCGI\0" "1\0" "REQUEST_METHOD\0" "POST\0,"
/* "CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0" = 15+2+5+2 = 24 */
#define GET0 "24:CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0,"

static const struct req_case cases[] = {
    RCASE("empty", "", REQ_PROTO_NONE, 0, 0, 0, 0, 0),
    RCASE("partial length", "4", SCGI, 0, 0, 0, 0, 0),
    RCASE("partial headers", "44:CONTENT_LENGTH\0" "5\0SC", SCGI, 0, 0, 0, 0, 0),
    RCASE("no comma yet", "24:CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0", SCGI, 0, 0, 0, 0, 0),
    RCASE("get", GET0, SCGI, 0, 0, 0, 1, 0),
    RCASE("post, body unread", POST5, SCGI, 1, 5, 1, 1, 0),
    RCASE("post, body partly read", POST5 "hel", SCGI, 1, 2, 1, 1, 0),
    RCASE("post, body read", POST5 "hello", SCGI, 0, 0, 1, 1, 0),
    /* 15 + 8 + 5 + 2 = 30 */
    RCASE("8 MiB", "30:CONTENT_LENGTH\0" "8388608\0" "SCGI\0" "1\0,", SCGI, 1, 8388608, 1, 1, 0),
    /* CONTENT_LENGTH not first: still found. 5+2+15+2 = 24 */
    RCASE("length later", "24:SCGI\0" "1\0" "CONTENT_LENGTH\0" "3\0,ab", SCGI, 1, 1, 1, 1, 0),
    /* 16+2 + 15+2 = 35 */
    RCASE("similar names", "35:CONTENT_LENGTHX\0" "9\0" "CONTENT_LENGTH\0" "2\0,", SCGI, 1, 2, 1, 1, 0),
    RCASE("empty length value", "16:CONTENT_LENGTH\0\0,", SCGI, 0, 0, 0, 1, 0),
    RCASE("pipelined", POST5 "hello" GET0 POST5 "h", SCGI, 1, 4, 1, 3, 0),

    RCASE("leading zero", "044:x", REQ_PROTO_NONE, 0, 0, 0, 0, 1),
    RCASE("no digits", ":", REQ_PROTO_NONE, 0, 0, 0, 0, 1),
    RCASE("name past length", "1:x,", SCGI, 0, 0, 0, 0, 1),
    RCASE("bad length char", "4x:", SCGI, 0, 0, 0, 0, 1),
    RCASE("missing comma", "24:CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0;", SCGI, 0, 0, 0, 0, 1),
    RCASE("value past length", "20:CONTENT_LENGTH\0" "0\0" "SCGI\0" "1\0,", SCGI, 0, 0, 0, 0, 1),
    RCASE("length not a number", "17:CONTENT_LENGTH\0x\0,", SCGI, 0, 0, 0, 0, 1),
    RCASE("huge length value", "36:CONTENT_LENGTH\0" "99999999999999999999\0,", SCGI, 0, 0, 0, 0, 1),
    RCASE("netstring too long", "99999999:", SCGI, 0, 0, 0, 0, 1),
    RCASE("http after scgi", GET0 "GET / HTTP/1.1\r\n", SCGI, 0, 0, 0, 1, 1),
};

Test(req_scgi, table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_req_case(&cases[i]);
}
