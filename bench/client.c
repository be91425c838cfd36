/* client.c - HTTP/1.1 clients for make bench (figures 3 and 6).
 *
 * Usage: client hold PORT N
 *   Opens N connections to 127.0.0.1:PORT (at most 256 connecting at once),
 *   sends "GET / ... Connection: close" on each and reads the response up to
 *   the server's FIN, then keeps every connection open without closing it
 *   (a client that got its answer and lingers on). Prints
 *   "ready OK N_OK SECONDS" when all are done, then waits until its standard
 *   input closes (or a line arrives) and exits, closing them all. Raises its
 *   own RLIMIT_NOFILE as needed.
 *
 * Usage: client seq PORT N
 *   N requests one after another, each on a new connection with
 *   "Connection: close": send, read up to the FIN, close. Prints
 *   "seq N_OK SECONDS".
 *
 * Usage: client ka PORT N
 *   N GET requests one after another on one keep-alive connection, each
 *   answer read to the end of its Content-Length body. Prints
 *   "ka N_OK SECONDS".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static const char REQ[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";

static struct sockaddr_in addr(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

/* One connection of `hold`. */
struct conn {
    int fd;
    size_t sent;
    size_t got;
    char head[16];  /* the first bytes of the response */
};

static int hold(int port, int n)
{
    struct rlimit rl = { (rlim_t)n + 512, (rlim_t)n + 512 };
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("setrlimit RLIMIT_NOFILE");
    struct sockaddr_in sa = addr(port);
    struct conn *c = calloc((size_t)n, sizeof *c);
    int ep = epoll_create1(0);
    if (!c || ep < 0)
        die("setup");
    double t0 = now_s();
    int started = 0, done = 0, ok = 0, inflight = 0;
    struct epoll_event evs[256];
    while (done < n) {
        while (started < n && inflight < 256) {
            int i = started++;
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0)
                die("socket");
            c[i].fd = fd;
            if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)
                die("connect");
            struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)i };
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
                die("epoll_ctl");
            inflight++;
        }
        int k = epoll_wait(ep, evs, 256, 5000);
        if (k <= 0) {
            fprintf(stderr, "client hold: stalled at %d of %d\n", done, n);
            return 1;
        }
        for (int j = 0; j < k; j++) {
            struct conn *x = &c[evs[j].data.u32];
            int finished = 0;
            if (x->sent < sizeof REQ - 1 && (evs[j].events & EPOLLOUT)) {
                ssize_t w = send(x->fd, REQ + x->sent, sizeof REQ - 1 - x->sent, MSG_NOSIGNAL);
                if (w > 0)
                    x->sent += (size_t)w;
                else if (w < 0 && errno != EAGAIN)
                    finished = 1;
                if (x->sent == sizeof REQ - 1) {
                    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = evs[j].data.u32 };
                    epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
                }
            }
            if (!finished && (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                char buf[4096];
                for (;;) {
                    ssize_t r = recv(x->fd, buf, sizeof buf, 0);
                    if (r > 0) {
                        if (x->got < sizeof x->head)
                            memcpy(x->head + x->got, buf,
                                   (size_t)r < sizeof x->head - x->got ? (size_t)r : sizeof x->head - x->got);
                        x->got += (size_t)r;
                        continue;
                    }
                    if (r == 0) {
                        finished = 1;
                        if (x->got >= 12 && memcmp(x->head, "HTTP/1.1 200", 12) == 0)
                            ok++;
                    } else if (errno != EAGAIN) {
                        finished = 1;
                    }
                    break;
                }
            }
            if (finished) {
                epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL); /* keep the fd open */
                done++;
                inflight--;
            }
        }
    }
    printf("ready %d %d %.3f\n", ok, n, now_s() - t0);
    fflush(stdout);
    char line[64];
    (void)!fgets(line, sizeof line, stdin);
    return 0;
}

static int seq(int port, int n)
{
    struct sockaddr_in sa = addr(port);
    int ok = 0;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            die("connect");
        if (send(fd, REQ, sizeof REQ - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof REQ - 1))
            die("send");
        char buf[4096], head[12];
        size_t got = 0;
        ssize_t r;
        while ((r = recv(fd, buf, sizeof buf, 0)) > 0) {
            if (got < sizeof head)
                memcpy(head + got, buf, (size_t)r < sizeof head - got ? (size_t)r : sizeof head - got);
            got += (size_t)r;
        }
        if (r == 0 && got >= sizeof head && memcmp(head, "HTTP/1.1 200", 12) == 0)
            ok++;
        close(fd);
    }
    printf("seq %d %d %.6f\n", ok, n, now_s() - t0);
    return 0;
}

static int keepalive(int port, int n)
{
    static const char req[] = "GET /index.html HTTP/1.1\r\nHost: bench\r\n\r\n";
    struct sockaddr_in sa = addr(port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect");
    static char buf[65536];
    size_t have = 0;
    int ok = 0;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
            die("send");
        char *end;
        for (;;) { /* the head */
            buf[have] = 0;
            if ((end = strstr(buf, "\r\n\r\n")))
                break;
            ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
            if (r <= 0)
                die("recv head");
            have += (size_t)r;
        }
        size_t head = (size_t)(end + 4 - buf);
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        size_t body = cl && cl < end ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
        while (have < head + body) {
            ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
            if (r <= 0)
                die("recv body");
            have += (size_t)r;
        }
        if (memcmp(buf, "HTTP/1.1 200", 12) == 0)
            ok++;
        memmove(buf, buf + head + body, have - head - body);
        have -= head + body;
    }
    close(fd);
    printf("ka %d %d %.6f\n", ok, n, now_s() - t0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: client hold|seq|ka PORT N\n");
        return 2;
    }
    int port = atoi(argv[2]), n = atoi(argv[3]);
    if (strcmp(argv[1], "hold") == 0)
        return hold(port, n);
    if (strcmp(argv[1], "seq") == 0)
        return seq(port, n);
    if (strcmp(argv[1], "ka") == 0)
        return keepalive(port, n);
    fprintf(stderr, "client: unknown mode %s\n", argv[1]);
    return 2;
}
