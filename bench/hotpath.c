/* hotpath.c - the calls whose cost linger adds to, for callgrind (make bench,
 * figure 1). Run it without and with the shim, for two call counts: the
 * difference of the differences is the shim's cost per call, free of startup.
 *
 * Usage: hotpath MODE N [--app-thread] [--drainer]
 *   write-null   N write()s of 1 byte to /dev/null (a file: FK_IGNORED)
 *   write-pipe   N write()s of 1 byte to a pipe (read back every 32 calls)
 *   send-body    N send()s of 16 bytes on an accepted loopback TCP socket
 *                whose response head announced a body of 10^12 bytes: the
 *                shim's scanner skips each send by count (a tracked socket in
 *                a body). The client side discards what arrived every 32 calls.
 *   send-head    N send()s of a 16-byte slice of response heads on a tracked
 *                socket: each byte goes through the scanner (for reference).
 *   read-null    N read()s of 1 byte from /dev/zero (a file: FK_IGNORED)
 *   recv-body    N recv()s of 16 bytes on an accepted loopback TCP socket
 *                whose request head announced a body of 10^12 bytes: the
 *                shim's request scanner skips each read by count. The client
 *                sends 512 bytes every 32 calls.
 *   --app-thread  the program starts an idle thread of its own first, so it is
 *                multi-threaded with and without the shim (libc's syscall
 *                wrappers then take their cancellation path in both runs)
 *   --drainer    before the loop, send one response head on an accepted
 *                socket: under the shim this starts the drainer thread
 * The loop is the same code with and without the shim; only the calls differ.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../tests/servers/kit.h"
#include "bench.h"

/* A connected loopback pair: *srv is the accepted end (tracked by the shim),
 * *cli the connecting end. */
static void tcp_pair(int *srv, int *cli)
{
    struct sockaddr_in sa;
    int l = kit_listen_loopback(&sa, 1);
    *cli = socket(AF_INET, SOCK_STREAM, 0);
    if (*cli < 0 || connect(*cli, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect");
    *srv = accept(l, NULL, NULL);
    if (*srv < 0)
        die("accept");
    close(l);
}

static int idle_pipe[2];

static void *idle_thread(void *arg)
{
    char c;
    (void)arg;
    (void)!read(idle_pipe[0], &c, 1); /* never returns: nobody writes */
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: hotpath write-null|write-pipe|send-body|send-head|read-null|recv-body N [--app-thread] [--drainer]\n");
        return 2;
    }
    const char *mode = argv[1];
    long n = atol(argv[2]);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--app-thread") == 0) {
            pthread_t t;
            if (pipe(idle_pipe) < 0 || pthread_create(&t, NULL, idle_thread, NULL) != 0)
                die("thread");
        } else if (strcmp(argv[i], "--drainer") == 0) {
            int srv, cli;
            static const char h[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
            tcp_pair(&srv, &cli);
            if (send(srv, h, sizeof h - 1, 0) != (ssize_t)(sizeof h - 1))
                die("send head");
        } else {
            fprintf(stderr, "hotpath: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    static char buf[256];
    memset(buf, 'x', sizeof buf);

    if (strcmp(mode, "write-null") == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd < 0)
            die("/dev/null");
        for (long i = 0; i < n; i++)
            if (write(fd, buf, 1) != 1)
                die("write");
    } else if (strcmp(mode, "write-pipe") == 0) {
        int p[2];
        if (pipe(p) < 0)
            die("pipe");
        for (long i = 0; i < n; i++) {
            if (write(p[1], buf, 1) != 1)
                die("write");
            if ((i & 31) == 31 && read(p[0], buf + 64, 64) != 32)
                die("read");
        }
    } else if (strcmp(mode, "send-body") == 0 || strcmp(mode, "send-head") == 0) {
        int srv, cli;
        tcp_pair(&srv, &cli);
        int head = strcmp(mode, "send-head") == 0;
        /* 16-byte pieces of keep-alive heads, back to back, for send-head */
        static const char heads[] = "HTTP/1.1 204 No Content\r\nServer: bench/1.0\r\nX-A: 0123456789a\r\n\r\n";
        _Static_assert(sizeof heads - 1 == 64, "heads is 4 pieces of 16");
        if (!head) {
            static const char h[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n";
            if (send(srv, h, sizeof h - 1, 0) != (ssize_t)(sizeof h - 1))
                die("send head");
        }
        for (long i = 0; i < n; i++) {
            const char *p = head ? heads + (i & 3) * 16 : buf;
            if (send(srv, p, 16, 0) != 16)
                die("send");
            if ((i & 31) == 31 && recv(cli, NULL, 1 << 20, MSG_TRUNC | MSG_DONTWAIT) < 0 && errno != EAGAIN)
                die("recv");
        }
    } else if (strcmp(mode, "read-null") == 0) {
        int fd = open("/dev/zero", O_RDONLY);
        if (fd < 0)
            die("/dev/zero");
        for (long i = 0; i < n; i++)
            if (read(fd, buf, 1) != 1)
                die("read");
    } else if (strcmp(mode, "recv-body") == 0) {
        int srv, cli;
        tcp_pair(&srv, &cli);
        static const char h[] = "POST /up HTTP/1.1\r\nHost: b\r\nContent-Length: 1000000000000\r\n\r\n";
        static char in[512];
        if (send(cli, h, sizeof h - 1, 0) != (ssize_t)(sizeof h - 1)
            || recv(srv, in, sizeof h - 1, MSG_WAITALL) != (ssize_t)(sizeof h - 1))
            die("request head");
        for (long i = 0; i < n; i++) {
            if ((i & 31) == 0 && send(cli, in, sizeof in, 0) != (ssize_t)sizeof in)
                die("send");
            if (recv(srv, buf, 16, MSG_WAITALL) != 16)
                die("recv");
        }
    } else {
        fprintf(stderr, "hotpath: unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
