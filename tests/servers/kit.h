/* kit.h - what the in-process test servers (stress, signal_storm,
 * exit_midflight; the benches' listeners) share: a loopback listener and
 * its port file, an accept that outlasts signals, reading a request head,
 * writing it all, the early-413 server loops (one thread, or several until
 * told to stop), and a client upload.
 * Header-only: each server is one C file built on its own. Every call
 * restarts after EINTR, so signal handlers in a test do not end loops. */
#ifndef LINGER_TEST_KIT_H
#define LINGER_TEST_KIT_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TCP listener on 127.0.0.1 and a free port, written to *addr; exits 2 on failure. */
static inline int kit_listen_loopback(struct sockaddr_in *addr, int backlog)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    *addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof *addr;
    if (l < 0 || bind(l, (struct sockaddr *)addr, sizeof *addr) != 0 || listen(l, backlog) != 0
        || getsockname(l, (struct sockaddr *)addr, &al) != 0) {
        perror("listen");
        exit(2);
    }
    return l;
}

/* Writes addr's port to path, through path.tmp renamed over it (a reader
 * never sees it half-written); exits 2 on failure. */
static inline void kit_write_port_file(const char *path, const struct sockaddr_in *addr)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", ntohs(addr->sin_port)) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        perror("port file");
        exit(2);
    }
}

/* The next connection on listener l, or -1 when accepting fails for good. */
static inline int kit_accept(int l)
{
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c >= 0 || (errno != EINTR && errno != ECONNABORTED))
            return c;
    }
}

/* Reads fd up to the end of a request head, byte by byte, leaving the body
 * unread, keeping its first size - 1 bytes in buf (NUL-terminated; buf may
 * be NULL when size is 0). Returns the head's first byte, or 0 at EOF or
 * error before its end. */
static inline char kit_read_head_into(int fd, char *buf, size_t size)
{
    char c, first = 0;
    unsigned state = 0;
    size_t n = 0;
    while (state < 4) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != 1)
            return 0;
        if (!first)
            first = c;
        if (n + 1 < size)
            buf[n++] = c;
        state = (c == (state % 2 ? '\n' : '\r')) ? state + 1 : (c == '\r');
    }
    if (size)
        buf[n] = '\0';
    return first;
}

/* The same, keeping nothing. */
static inline char kit_read_head(int fd)
{
    return kit_read_head_into(fd, NULL, 0);
}

/* Writes all n bytes; 0, or -1 when a write fails. */
static inline int kit_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The early-413 server loop: for each connection on listener l, read the
 * request head, write response (n bytes) without reading the body, close.
 * Returns when accepting fails for good. A failed write shows in the
 * client's count, not here. */
static inline void kit_answer_each(int l, const char *response, size_t n)
{
    int c;
    while ((c = kit_accept(l)) >= 0) {
        kit_read_head(c);
        kit_write_all(c, response, n);
        close(c);
    }
}

/* The early-413 loop for several threads sharing a non-blocking listener
 * l, until *done: waits in poll 20 ms at a time, takes a connection when
 * it wins the accept (accepted sockets are blocking: Linux does not pass
 * O_NONBLOCK on), then reads the head, answers and closes as
 * kit_answer_each does. *serving (may be NULL) counts the threads between
 * their accept and the end of their close. */
static inline void kit_answer_each_until(int l, const char *response, size_t n, _Atomic int *done,
                                         _Atomic int *serving)
{
    while (!*done) {
        struct pollfd p = { .fd = l, .events = POLLIN };
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(l, NULL, NULL);
        if (c < 0)
            continue; /* EAGAIN: another thread took it; EINTR */
        if (serving)
            (*serving)++;
        kit_read_head(c);
        kit_write_all(c, response, n);
        close(c);
        if (serving)
            (*serving)--;
    }
}

/* A connected client socket that has sent "POST /up" announcing body bytes
 * and then the body itself (MSG_NOSIGNAL: a reset is an answer, not a
 * signal). Returns the socket, or -1 (closed) when connecting or sending failed. */
static inline int kit_upload(const struct sockaddr_in *addr, int body)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    char head[128];
    int hl = snprintf(head, sizeof head, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", body);
    int good = connect(s, (const struct sockaddr *)addr, sizeof *addr) == 0
        && send(s, head, (size_t)hl, MSG_NOSIGNAL) == hl;
    static const char chunk[16384];
    for (int sent = 0; good && sent < body;) {
        size_t n = body - sent < (int)sizeof chunk ? (size_t)(body - sent) : sizeof chunk;
        ssize_t w = send(s, chunk, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        good = w > 0;
        sent += good ? (int)w : 0;
    }
    if (!good) {
        close(s);
        return -1;
    }
    return s;
}

#endif
