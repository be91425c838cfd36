/* epoll_dup2.c - an epoll app that replaces a lingering socket's number.
 *
 * It accepts a connection, adds it to an epoll set, sends a 413 with
 * Connection: close, then dup2()s a fresh pipe's read end over the socket's
 * number (an implicit close of the socket, which linger turns into a
 * lingering one) and adds that number to the set again. The client keeps
 * sending. The app must then see no event for that number: the pipe is
 * empty, and the socket it replaced is gone from the app's point of view.
 * Without linger the kernel drops the socket's epoll registration with the
 * socket; with linger alive behind the scenes, linger must drop it itself.
 *
 * Usage: epoll_dup2 --port-file F. Prints "second-add R errno E" (the
 * second EPOLL_CTL_ADD's result: 0 errno 0 when the old registration went
 * with the socket, -1 errno EEXIST when it survived) and
 * "events-for-replaced-number N", and exits 0 (the test asserts both), 1 on
 * setup errors.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESPONSE[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

int main(int argc, char **argv)
{
    const char *port_file = argc == 3 && !strcmp(argv[1], "--port-file") ? argv[2] : NULL;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (!port_file || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4)
        || getsockname(l, (struct sockaddr *)&a, &al))
        return 1;
    char tmp[4096]; /* written aside and renamed: a reader never sees it half-written */
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return 1;
    fprintf(f, "%d\n", ntohs(a.sin_port));
    fclose(f);
    rename(tmp, port_file);

    int c = accept(l, NULL, NULL);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = c };
    if (c < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev))
        return 1;
    char buf[4096];
    ssize_t n = read(c, buf, sizeof buf); /* the head (and maybe some body) */
    if (n <= 0 || write(c, RESPONSE, sizeof RESPONSE - 1) != (ssize_t)(sizeof RESPONSE - 1))
        return 1;
    int p[2];
    if (pipe(p) || dup2(p[0], c) != c)
        return 1;
    close(p[0]);
    ev.data.fd = c;
    errno = 0;
    int added = epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev); /* EEXIST if the old registration survived */
    printf("second-add %d errno %s\n", added, added == 0 ? "0" : errno == EEXIST ? "EEXIST" : strerror(errno));
    int stray = 0;
    for (int round = 0; round < 10; round++) { /* ~1 s while the client sends */
        struct epoll_event got[8];
        int k = epoll_wait(ep, got, 8, 100);
        for (int i = 0; i < k; i++)
            if (got[i].data.fd == c)
                stray++;
    }
    printf("events-for-replaced-number %d\n", stray);
    fflush(stdout);
    return 0;
}
