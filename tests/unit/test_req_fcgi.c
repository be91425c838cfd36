/* test_req_fcgi.c - the FastCGI request scanner (shim/req_fcgi.c), every
 * case at every split (req_check.h). */
#include "req_check.h"

#define FCGI REQ_PROTO_FCGI
/* records: version 1, type, request id 1, content length, padding */
#define BEGIN "\x01\x01\x00\x01\x00\x08\x00\x00" "\x00\x01\x01\x00\x00\x00\x00\x00"
#define PARAMS "\x01\x04\x00\x01\x00\x06\x02\x00" "\x04\x00" "ABCD" "pa" /* a pair: ABCD, empty */
#define PARAMS_END "\x01\x04\x00\x01\x00\x00\x00\x00"
#define STDIN5 "\x01\x05\x00\x01\x00\x05\x03\x00" "hello" "\0\0\0"
#define STDIN_END "\x01\x05\x00\x01\x00\x00\x00\x00"
#define ABORT "\x01\x02\x00\x01\x00\x00\x00\x00"
#define REQ_HEAD BEGIN PARAMS PARAMS_END

static const struct req_case cases[] = {
    RCASE("empty", "", REQ_PROTO_NONE, 0, 0, 0, 0, 0),
    RCASE("partial begin", "\x01\x01\x00\x01", FCGI, 0, 0, 0, 0, 0),
    RCASE("begin", BEGIN, FCGI, 1, LEFT_UNKNOWN, 0, 1, 0),
    RCASE("params", REQ_HEAD, FCGI, 1, LEFT_UNKNOWN, 0, 1, 0),
    RCASE("stdin record head", REQ_HEAD "\x01\x05\x00\x01\x00\x05\x03\x00", FCGI, 1, LEFT_UNKNOWN, 1, 1, 0),
    RCASE("mid stdin", REQ_HEAD "\x01\x05\x00\x01\x00\x05\x03\x00" "he", FCGI, 1, LEFT_UNKNOWN, 1, 1, 0),
    RCASE("stdin read", REQ_HEAD STDIN5, FCGI, 1, LEFT_UNKNOWN, 1, 1, 0),
    RCASE("stdin ended", REQ_HEAD STDIN5 STDIN_END, FCGI, 0, 0, 1, 1, 0),
    RCASE("get: empty stdin only", REQ_HEAD STDIN_END, FCGI, 0, 0, 0, 1, 0),
    RCASE("aborted", REQ_HEAD STDIN5 ABORT, FCGI, 0, 0, 1, 1, 0),
    RCASE("keep-alive: second request", REQ_HEAD STDIN5 STDIN_END REQ_HEAD, FCGI, 1, LEFT_UNKNOWN, 0, 2, 0),
    RCASE("keep-alive: two done", REQ_HEAD STDIN5 STDIN_END REQ_HEAD STDIN_END, FCGI, 0, 0, 0, 2, 0),
    RCASE("get values", "\x01\x09\x00\x00\x00\x00\x00\x00", FCGI, 0, 0, 0, 0, 0),

    RCASE("version 2", "\x01\x01\x00\x01\x00\x08\x00\x00" "\x00\x01\x01\x00\x00\x00\x00\x00"
          "\x02\x04\x00\x01\x00\x00\x00\x00", FCGI, 0, 0, 0, 1, 1),
    RCASE("a server's record", "\x01\x06\x00\x01\x00\x00\x00\x00", FCGI, 0, 0, 0, 0, 1),
    RCASE("unknown type", BEGIN "\x01\x0c\x00\x01\x00\x00\x00\x00", FCGI, 0, 0, 0, 1, 1),
};

Test(req_fcgi, table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_req_case(&cases[i]);
}
