/* scanbench.c - the response scanner alone (shim/scan.c), for callgrind
 * (make bench, figure 1): feeds a typical response head N times, each whole
 * to a fresh scanner. Two values of N give the scanner's instructions per
 * head byte, free of startup.
 *
 * Usage: scanbench N        feeds the head N times, whole
 *        scanbench N bytes  feeds it N times, one byte per scan_feed (a head
 *                           split at every byte)
 *        scanbench N two    feeds it N times in two writes, split in the
 *                           middle of a header line (byte 119)
 *        scanbench len      prints the head's length in bytes
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

/* An nginx response head for a small static file (238 bytes). */
static const char head[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    "Content-Type: text/html\r\n"
    "Content-Length: 615\r\n"
    "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    "Connection: keep-alive\r\n"
    "ETag: \"65920000-267\"\r\n"
    "Accept-Ranges: bytes\r\n"
    "\r\n";

int main(int argc, char **argv)
{
    size_t len = sizeof head - 1;
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "bytes") != 0 && strcmp(argv[2], "two") != 0)) {
        fprintf(stderr, "usage: scanbench N [bytes|two] | scanbench len\n");
        return 2;
    }
    if (strcmp(argv[1], "len") == 0) {
        printf("%zu\n", len);
        return 0;
    }
    long n = atol(argv[1]);
    int bytewise = argc == 3 && strcmp(argv[2], "bytes") == 0;
    int two = argc == 3 && strcmp(argv[2], "two") == 0;
    unsigned long keep = 0;
    for (long i = 0; i < n; i++) {
        struct scan_state s;
        scan_init(&s);
        if (bytewise) {
            for (size_t j = 0; j < len; j++)
                scan_feed(&s, head + j, 1);
            keep += scan_verdict(&s) == SCAN_KEEPALIVE;
        } else if (two) {
            scan_feed(&s, head, len / 2);
            keep += scan_feed(&s, head + len / 2, len - len / 2) == SCAN_KEEPALIVE;
        } else {
            keep += scan_feed(&s, head, len) == SCAN_KEEPALIVE;
        }
    }
    if (keep != (unsigned long)n) {
        fprintf(stderr, "scanbench: the scanner did not see a keep-alive response\n");
        return 1;
    }
    return 0;
}
