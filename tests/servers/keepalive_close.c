/* keepalive_close.c - a single-threaded keep-alive server whose close can
 * leave the client's next request unread, to test when linger's drainer
 * thread starts (issue #16: a process that never lingers stays
 * single-threaded).
 *
 *   keepalive_close --port-file F [--count N]
 *
 * Serves N connections (default 3) one after the other, then exits. On each
 * it reads a request head (the body is not read) and answers it with a
 * keep-alive "200" of 2 bytes. A request for /close is answered so too, and
 * then the socket is closed at once: whatever the client sent after that
 * head stays unread (linger lingers such a close, as its response was the
 * app's answer). Any other request waits for the next; EOF closes the
 * socket. Prints, on stdout, one line per event with this process's thread
 * count: "accepted threads=N", "closed threads=N" (after the close()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

static const char OK[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* This process's thread count, from /proc/self/status; -1 when unknown. */
static int threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

/* Reads a request head (kit_read_head_into) and its request line's path
 * into path; 0 at EOF or error. */
static int read_request(int c, char *path, size_t size)
{
    char head[512];
    if (!kit_read_head_into(c, head, sizeof head))
        return 0;
    return sscanf(head, "%*s %255s", path) == 1 && strlen(path) < size;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL;
    int count = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
            port_file = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: keepalive_close --port-file F [--count N]\n");
            return 2;
        }
    }
    if (!port_file) {
        fprintf(stderr, "keepalive_close: --port-file is required\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in addr;
    int l = kit_listen_loopback(&addr, 16);
    kit_write_port_file(port_file, &addr);
    for (int served = 0; served < count; served++) {
        int c = kit_accept(l);
        if (c < 0)
            return 1;
        printf("accepted threads=%d\n", threads());
        char path[256];
        while (read_request(c, path, sizeof path)) {
            if (kit_write_all(c, OK, sizeof OK - 1) != 0 || !strcmp(path, "/close"))
                break;
        }
        close(c);
        printf("closed threads=%d\n", threads());
    }
    return 0;
}
