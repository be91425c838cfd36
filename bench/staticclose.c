/* staticclose.c - what one close() costs a static program under
 * linger-supervise (make bench figure "static"). Built with gcc -static.
 *
 * Usage: staticclose N
 *   N rounds of each kind of close, timed with clock_gettime around the
 *   close() alone:
 *     file    an fd of /dev/null (trapped, copied, found no socket, let go)
 *     socket  an accepted loopback TCP connection that has sent a byte,
 *             whose peer is still open (under the supervisor it lingers:
 *             copy, socket checks, /proc scan, ID_VALID, shutdown, CONTINUE)
 *   Prints one line per kind: "KIND N P50_US P99_US MEAN_US".
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *kind, double *us, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += us[i];
    qsort(us, (size_t)n, sizeof *us, cmp);
    printf("%s %d %.2f %.2f %.2f\n", kind, n, us[n / 2], us[n * 99 / 100], sum / n);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    if (n < 1)
        n = 1;
    double *us = calloc((size_t)n, sizeof *us);
    if (!us)
        die("calloc");
    for (int i = 0; i < n; i++) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
            die("open");
        double t0 = now_s();
        close(fd);
        us[i] = (now_s() - t0) * 1e6;
    }
    report("file", us, n);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, 64) != 0
        || getsockname(l, (struct sockaddr *)&sa, &len) != 0)
        die("listen");
    for (int i = 0; i < n; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof sa) != 0)
            die("connect");
        int a = accept(l, NULL, NULL);
        if (a < 0 || write(a, "x", 1) != 1)
            die("accept");
        double t0 = now_s();
        close(a);
        us[i] = (now_s() - t0) * 1e6;
        close(c);
    }
    report("socket", us, n);
    return 0;
}
