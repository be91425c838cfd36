/* shutdown_semantics.c - what the app sees of shutdown() on a socket linger
 * tracks: the same return value, errno and socket state as without it.
 *
 *   shutdown_semantics CASE...
 *
 * Each case makes its own loopback connection: the server end is accepted
 * here and answered with an HTTP response with "Connection: close" (the
 * kind of socket whose shutdown linger rewrites), the client end stays in
 * this process. It prints one line per observation ("CASE: ..."), and the
 * integration test compares the output with and without the shim: it must
 * be identical. Cases:
 *   success   shutdown(SHUT_RDWR), shutdown(SHUT_RD) and shutdown(SHUT_WR)
 *             that succeed leave errno as it was (set to EDOM before each)
 *   invalid   shutdown with a how that is none of those (3, 7, -1): -1 EINVAL,
 *             and the connection still works both ways afterwards
 *   reset     the client resets the connection (SO_LINGER 0 s, close) with
 *             nothing unread at the server, then the server calls
 *             shutdown(SHUT_RD) or shutdown(SHUT_RDWR): its answer, then what
 *             recv() or SO_ERROR says - the reset's pending error must still
 *             be there for the app (ECONNRESET), not taken by linger
 *   reset-unread  the same with 3 bytes unread at the server: the
 *             connection has ended all the same (SHUT_RD answers ENOTCONN)
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kit.h"

static const char RESPONSE[] = "HTTP/1.1 413 Payload Too Large\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: close\r\n"
                               "\r\n";
static const char REQUEST[] = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";

static int listener;
static struct sockaddr_in addr;

static void die(const char *what)
{
    perror(what);
    exit(2);
}

/* A connection: *client connected here, *server accepted, the request head
 * read and the 413 written on it (the body stays unsent). */
static void answered_pair(int *client, int *server)
{
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (*client < 0 || connect(*client, (struct sockaddr *)&addr, sizeof addr) != 0)
        die("connect");
    if (write(*client, REQUEST, strlen(REQUEST)) != (ssize_t)strlen(REQUEST))
        die("write request");
    if ((*server = kit_accept(listener)) < 0)
        die("accept");
    kit_read_head(*server);
    if (kit_write_all(*server, RESPONSE, strlen(RESPONSE)) != 0)
        die("write response");
}

/* errno's name for the few the cases meet, else its number. */
static const char *errname(int e)
{
    static char buf[16];
    switch (e) {
    case 0: return "0";
    case EDOM: return "EDOM";
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case ENOTCONN: return "ENOTCONN";
    case ECONNRESET: return "ECONNRESET";
    case EBADF: return "EBADF";
    case EPIPE: return "EPIPE";
    default:
        snprintf(buf, sizeof buf, "%d", e);
        return buf;
    }
}

static const char *howname(int how)
{
    static char buf[16];
    switch (how) {
    case SHUT_RD: return "SHUT_RD";
    case SHUT_WR: return "SHUT_WR";
    case SHUT_RDWR: return "SHUT_RDWR";
    default:
        snprintf(buf, sizeof buf, "%d", how);
        return buf;
    }
}

/* shutdown(fd, how) with errno set to EDOM first; prints what came back. */
static void shut(const char *name, int fd, int how)
{
    errno = EDOM;
    int r = shutdown(fd, how);
    int e = errno;
    printf("%s: shutdown(%s) = %d, errno %s\n", name, howname(how), r, errname(e));
}

static void case_success(void)
{
    static const int hows[] = { SHUT_RDWR, SHUT_RD, SHUT_WR };
    for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++) {
        int c, s;
        answered_pair(&c, &s);
        shut("success", s, hows[i]);
        close(s);
        close(c);
    }
}

/* One byte each way on the connection: "ok" when both arrive. */
static const char *still_works(int client, int server)
{
    char b;
    if (write(client, "c", 1) != 1 || write(server, "s", 1) != 1)
        return "a write failed";
    /* the client's "c" follows the request's unread body bytes: none sent */
    if (read(server, &b, 1) != 1 || b != 'c')
        return "the server did not read the client's byte";
    /* the 413 came first */
    char resp[sizeof RESPONSE];
    if (recv(client, resp, sizeof RESPONSE - 1, MSG_WAITALL) != (ssize_t)sizeof RESPONSE - 1)
        return "the client did not read the 413";
    if (read(client, &b, 1) != 1 || b != 's')
        return "the client did not read the server's byte";
    return "ok";
}

static void case_invalid(void)
{
    static const int hows[] = { 3, 7, -1 };
    for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++) {
        int c, s;
        answered_pair(&c, &s);
        shut("invalid", s, hows[i]);
        printf("invalid: after shutdown(%s) the connection: %s\n", howname(hows[i]), still_works(c, s));
        close(s);
        close(c);
    }
}

/* Waits (without reading anything, nor the socket's error) until the
 * client's reset has reached fd: POLLHUP. */
static void wait_for_reset(int fd)
{
    for (int i = 0; i < 500; i++) {
        struct pollfd p = { .fd = fd, .events = POLLRDHUP };
        if (poll(&p, 1, 10) == 1 && (p.revents & POLLHUP))
            return;
    }
    fprintf(stderr, "shutdown_semantics: no reset within 5 s\n");
    exit(2);
}

/* Every recv until it returns 0 or fails; prints each result. */
static void drain_reads(const char *name, int fd)
{
    for (int i = 0; i < 8; i++) {
        char buf[64];
        errno = 0;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        int e = errno;
        if (n > 0)
            printf("%s: recv = %zd (%.*s)\n", name, n, (int)n, buf);
        else
            printf("%s: recv = %zd, errno %s\n", name, n, errname(n < 0 ? e : 0));
        if (n <= 0)
            return;
    }
}

/* The reset cases; unread: how many bytes (0 or 3) the client sends before
 * its reset, left unread at the server. */
static void case_reset(int unread)
{
    static const int hows[] = { SHUT_RD, SHUT_RDWR };
    for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++)
        for (int ask_error = 0; ask_error <= 1; ask_error++) {
            char name[64];
            snprintf(name, sizeof name, "reset, %d unread, %s, then %s", unread, howname(hows[i]),
                     ask_error ? "SO_ERROR" : "recv");
            int c, s;
            answered_pair(&c, &s);
            if (unread && write(c, "xyz", 3) != 3)
                die("write");
            struct linger l = { 1, 0 };
            if (setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0)
                die("SO_LINGER");
            close(c); /* an RST */
            wait_for_reset(s);
            shut(name, s, hows[i]);
            if (ask_error) {
                int err = -1;
                socklen_t len = sizeof err;
                int r = getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
                printf("%s: SO_ERROR = %s (getsockopt %d)\n", name, errname(err), r);
            }
            drain_reads(name, s);
            close(s);
        }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    listener = kit_listen_loopback(&addr, 16);
    if (argc < 2) {
        fprintf(stderr, "usage: shutdown_semantics CASE...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "success"))
            case_success();
        else if (!strcmp(argv[i], "invalid"))
            case_invalid();
        else if (!strcmp(argv[i], "reset"))
            case_reset(0);
        else if (!strcmp(argv[i], "reset-unread"))
            case_reset(3);
        else {
            fprintf(stderr, "shutdown_semantics: unknown case %s\n", argv[i]);
            return 2;
        }
    }
    return 0;
}
