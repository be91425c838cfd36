/* drainrate.c - how fast a lingering socket is drained, next to a plain
 * recv loop into a 4 KiB buffer, the way nginx discards (make bench,
 * figure 4). Run it under the shim.
 *
 * Each trial, on a fresh loopback connection: the client sends a request,
 * the server answers "Connection: close", the client reads the answer and
 * then streams 64 KiB send()s as fast as it can for SECONDS, and closes. Trials alternate:
 *   drainer  the server close()s at once: the socket lingers and linger's
 *            drainer thread discards the stream (recv with MSG_TRUNC)
 *   recv4k   a server thread reads the stream with recv() into a 4 KiB
 *            buffer until EOF, then closes
 * The rate is the bytes the client got into the connection over SECONDS
 * (what the receiver consumed, give or take the socket buffers).
 *
 * Usage: drainrate SECONDS PAIRS
 *   prints one "drainer|recv4k BYTES SECONDS" line per trial, in the order run
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../tests/servers/kit.h"
#include "bench.h"

static void *recv4k(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    while (recv(fd, buf, sizeof buf, 0) > 0)
        ;
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: drainrate SECONDS PAIRS\n");
        return 2;
    }
    double secs = atof(argv[1]);
    int pairs = atoi(argv[2]);
    struct sockaddr_in sa;
    int l = kit_listen_loopback(&sa, 8);
    static const char req[] = "POST /upload HTTP/1.1\r\nHost: bench\r\nContent-Length: 100000000000\r\n\r\n";
    static const char resp[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    static char chunk[65536];
    memset(chunk, 'b', sizeof chunk);
    for (int i = 0; i < 2 * pairs; i++) {
        int drainer = (i & 1) == 0;
        int cli = socket(AF_INET, SOCK_STREAM, 0);
        if (cli < 0 || connect(cli, (struct sockaddr *)&sa, sizeof sa) < 0)
            die("connect");
        int srv = accept(l, NULL, NULL);
        if (srv < 0)
            die("accept");
        char buf[512];
        size_t got = 0;
        if (send(cli, req, sizeof req - 1, 0) != (ssize_t)(sizeof req - 1))
            die("client send");
        while (got < sizeof req - 1) {
            ssize_t r = recv(srv, buf, sizeof req - 1 - got, 0);
            if (r <= 0)
                die("server recv");
            got += (size_t)r;
        }
        if (send(srv, resp, sizeof resp - 1, 0) != (ssize_t)(sizeof resp - 1))
            die("server send");
        got = 0; /* the client reads the answer, then streams on regardless */
        while (got < sizeof resp - 1) {
            ssize_t r = recv(cli, buf, sizeof resp - 1 - got, 0);
            if (r <= 0)
                die("client recv");
            got += (size_t)r;
        }
        pthread_t t;
        if (drainer)
            close(srv); /* lingers: the drainer discards from here on */
        else if (pthread_create(&t, NULL, recv4k, (void *)(intptr_t)srv) != 0)
            die("pthread_create");
        double t0 = now_s(), end = t0 + secs, t1;
        unsigned long long sent = 0;
        int iter = 0;
        for (;;) {
            ssize_t w = send(cli, chunk, sizeof chunk, MSG_NOSIGNAL);
            if (w <= 0)
                die("client stream");
            sent += (unsigned long long)w;
            if ((++iter & 15) == 0 && (t1 = now_s()) >= end)
                break;
        }
        close(cli);
        if (!drainer)
            pthread_join(t, NULL);
        else
            usleep(20000); /* let the drainer see the EOF */
        printf("%s %llu %.6f\n", drainer ? "drainer" : "recv4k", sent, t1 - t0);
        fflush(stdout);
    }
    return 0;
}
