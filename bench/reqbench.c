/* reqbench.c - the request scanner alone (shim/req_*.c), for callgrind:
 * feeds bench/client's keep-alive request N times, each whole, to one
 * scanner that stays idle between them (as nginx's keep-alive reads reach
 * it). Two values of N give the scanner's instructions per request, free
 * of startup.
 *
 * Usage: reqbench N [line]  feeds the request N times ("line": with the
 *                           whole-head pass off, line by line only)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "req_http.h"

/* bench/client's keep-alive request (41 bytes). */
static const char request[] = "GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n";

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "line") != 0)) {
        fprintf(stderr, "usage: reqbench N [line]\n");
        return 2;
    }
    long n = atol(argv[1]);
    if (argc == 3)
        req_http_fast_way(0);
    struct req_state s;
    req_init(&s);
    for (long i = 0; i < n; i++)
        req_feed(&s, request, sizeof request - 1);
    if (s.phase != REQ_P_IDLE || s.requests != (n < 255 ? n : 255) || req_announced_body(&s)) {
        fprintf(stderr, "reqbench: the scanner did not see %ld requests without a body\n", n);
        return 1;
    }
    return 0;
}
