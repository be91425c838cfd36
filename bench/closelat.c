/* closelat.c - how long the app's close() takes on a socket that lingers,
 * next to a plain close of the same kind of socket (make bench, figure 5).
 *
 * Run it under the shim. Each round, on a fresh loopback connection: the
 * client sends a request head and 4 KiB of body the server never reads (the
 * early-413 case), the server answers "Connection: close", and the server's
 * close() is timed with clock_gettime around it. Rounds take turns:
 *   linger  close() through the shim: the socket lingers
 *   plain   libc's own close (looked up in libc.so.6, past the shim): what
 *           the same close costs without linger (the kernel resets it)
 *   calls   the floor: the five system calls the shim's lingering close
 *           makes (fstat, ppoll, fcntl for the copy, shutdown, close), made
 *           directly through libc, past the shim; the copy is closed after
 *           the round, untimed
 * After the close the client sends 4 KiB more, then reads the response to
 * its end and closes: the drain of a lingering socket can end only after
 * that, so a close that waited for the drain could not return at all (one
 * thread does both sides).
 *
 * Usage: closelat ROUNDS
 *   prints "linger|plain|calls N RESETS p50_us p99_us max_us", RESETS being the
 *   rounds where the client's later send or read failed (a reset).
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../tests/servers/kit.h"
#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: closelat ROUNDS\n");
        return 2;
    }
    int rounds = atoi(argv[1]);
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (!libc)
        die("dlopen libc.so.6");
    int (*libc_close)(int) = (int (*)(int))dlsym(libc, "close");
    int (*libc_fstat)(int, struct stat *) = (int (*)(int, struct stat *))dlsym(libc, "fstat");
    int (*libc_ppoll)(struct pollfd *, nfds_t, const struct timespec *, const void *)
        = (int (*)(struct pollfd *, nfds_t, const struct timespec *, const void *))dlsym(libc, "ppoll");
    int (*libc_fcntl)(int, int, ...) = (int (*)(int, int, ...))dlsym(libc, "fcntl");
    int (*libc_shutdown)(int, int) = (int (*)(int, int))dlsym(libc, "shutdown");
    if (!libc_close || !libc_fstat || !libc_ppoll || !libc_fcntl || !libc_shutdown)
        die("dlsym libc");

    struct sockaddr_in sa;
    int l = kit_listen_loopback(&sa, 64);

    static const char req[] = "POST /upload HTTP/1.1\r\nHost: bench\r\nContent-Length: 1000000\r\n\r\n";
    static const char resp[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    static char body[4096];
    memset(body, 'b', sizeof body);
    enum { LINGER, PLAIN, CALLS, WAYS };
    double *t[WAYS];
    int n[WAYS] = { 0 }, resets[WAYS] = { 0 };
    for (int v = 0; v < WAYS; v++)
        if (!(t[v] = calloc((size_t)rounds, sizeof(double))))
            die("calloc");

    for (int i = 0; i < WAYS * rounds; i++) {
        int v = i % WAYS;
        int cli = socket(AF_INET, SOCK_STREAM, 0);
        if (cli < 0 || connect(cli, (struct sockaddr *)&sa, sizeof sa) < 0)
            die("connect");
        int srv = accept(l, NULL, NULL);
        if (srv < 0)
            die("accept");
        if (send(cli, req, sizeof req - 1, 0) != (ssize_t)(sizeof req - 1)
            || send(cli, body, sizeof body, 0) != (ssize_t)sizeof body)
            die("client send");
        char buf[8192];
        size_t got = 0; /* the server reads the head only */
        while (got < sizeof req - 1) {
            ssize_t r = recv(srv, buf, sizeof req - 1 - got, 0);
            if (r <= 0)
                die("server recv");
            got += (size_t)r;
        }
        if (send(srv, resp, sizeof resp - 1, 0) != (ssize_t)(sizeof resp - 1))
            die("server send");
        int copy = -1, rc;
        double t0 = now_s();
        if (v == LINGER) {
            rc = close(srv);
        } else if (v == PLAIN) {
            rc = libc_close(srv);
        } else {
            struct stat st;
            struct pollfd pfd = { .fd = srv, .events = POLLIN | POLLRDHUP };
            struct timespec zero = { 0, 0 };
            rc = libc_fstat(srv, &st);
            rc |= libc_ppoll(&pfd, 1, &zero, NULL) < 0;
            copy = libc_fcntl(srv, F_DUPFD_CLOEXEC, 900);
            rc |= copy < 0;
            rc |= libc_shutdown(srv, SHUT_WR);
            rc |= libc_close(srv);
        }
        double t1 = now_s();
        if (rc != 0)
            die("close");
        t[v][n[v]++] = (t1 - t0) * 1e6; /* microseconds */
        /* the client goes on sending, then reads the answer to its end */
        int reset = send(cli, body, sizeof body, MSG_NOSIGNAL) != (ssize_t)sizeof body;
        got = 0;
        ssize_t r;
        while ((r = recv(cli, buf + got, sizeof buf - got, 0)) > 0)
            got += (size_t)r;
        if (r < 0 || got != sizeof resp - 1 || memcmp(buf, resp, got) != 0)
            reset = 1;
        resets[v] += reset;
        close(cli);
        if (copy >= 0)
            libc_close(copy);
    }
    static const char *name[WAYS] = { "linger", "plain", "calls" };
    for (int v = 0; v < WAYS; v++) {
        qsort(t[v], (size_t)n[v], sizeof(double), cmp_double);
        printf("%s %d %d %.2f %.2f %.2f\n", name[v], n[v], resets[v], pct(t[v], n[v], 0.50),
               pct(t[v], n[v], 0.99), t[v][n[v] - 1]);
    }
    return 0;
}
