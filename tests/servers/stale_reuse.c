/* stale_reuse.c - a socket number closed behind linger's back, then reused.
 *
 * It accepts a connection, sends a 413 with Connection: close on it (so
 * linger would linger it), and closes it with a raw system call no hook can
 * see. The number is then reused, in turn, by a pipe, a regular file and a
 * socketpair; each is written to and closed with close(). None of them may be
 * shut down, drained or lingered because of the old socket's state: every
 * write and close must succeed, the data must arrive whole, and the number
 * must really be closed afterwards.
 *
 * Exits 0 when all holds, 1 with a message otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESPONSE[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char DATA[] = "data written to the reused number\n";

static int fail(const char *what)
{
    fprintf(stderr, "stale_reuse: %s (errno %d: %s)\n", what, errno, strerror(errno));
    exit(1);
}

/* close() that no hook sees. */
static void unseen_close(int fd)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(3L /* SYS_close on x86_64 */), "D"((long)fd)
                     : "rcx", "r11", "memory");
    if (ret != 0)
        fail("raw close");
}

static int listener, client; /* kept open through a phase, so s is the lowest free number */

/* A socket this process accepted and answered with a close-semantics
 * response; the client side stays open with unread bytes queued. */
static int answered_socket(void)
{
    int l = listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4) || getsockname(l, (struct sockaddr *)&a, &al))
        fail("listen");
    client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (struct sockaddr *)&a, sizeof a))
        fail("connect");
    int s = accept(l, NULL, NULL);
    if (s < 0)
        fail("accept");
    if (write(client, "POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\nxxxx", 46) != 46)
        fail("client write");
    if (write(s, RESPONSE, sizeof RESPONSE - 1) != (ssize_t)(sizeof RESPONSE - 1))
        fail("server write");
    return s;
}

static void expect_closed(int fd)
{
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
        fail("number still open after close()");
}

static void end_phase(void)
{
    close(client);
    close(listener);
}

int main(void)
{
    char buf[128];
    ssize_t n;

    /* 1: a pipe's read end takes the number; data passes, close works */
    int s = answered_socket();
    unseen_close(s);
    int p[2];
    if (pipe(p))
        fail("pipe");
    if (p[0] != s)
        fail("pipe did not reuse the number");
    if (write(p[1], DATA, sizeof DATA - 1) != (ssize_t)(sizeof DATA - 1))
        fail("pipe write");
    n = read(p[0], buf, sizeof buf);
    if (n != (ssize_t)(sizeof DATA - 1) || memcmp(buf, DATA, (size_t)n))
        fail("pipe data");
    if (close(p[0]) || close(p[1]))
        fail("pipe close");
    expect_closed(s);
    end_phase();

    /* 2: a regular file takes the number; written and closed through it */
    s = answered_socket();
    unseen_close(s);
    char path[] = "/tmp/stale_reuse.XXXXXX";
    int f = mkstemp(path);
    if (f != s)
        fail("file did not reuse the number");
    if (write(f, DATA, sizeof DATA - 1) != (ssize_t)(sizeof DATA - 1))
        fail("file write");
    if (close(f))
        fail("file close");
    expect_closed(s);
    f = open(path, O_RDONLY);
    n = read(f, buf, sizeof buf);
    close(f);
    unlink(path);
    if (n != (ssize_t)(sizeof DATA - 1) || memcmp(buf, DATA, (size_t)n))
        fail("file data");
    end_phase();

    /* 3: a socketpair takes the number and sends a close response on it.
     * A plain close with unread data resets a unix stream peer; had the old
     * socket's state lingered it, the peer would read EOF instead. */
    s = answered_socket();
    unseen_close(s);
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp))
        fail("socketpair");
    if (sp[0] != s)
        fail("socketpair did not reuse the number");
    if (write(sp[1], "request bytes the peer never reads", 34) != 34)
        fail("socketpair peer write");
    if (write(sp[0], RESPONSE, sizeof RESPONSE - 1) != (ssize_t)(sizeof RESPONSE - 1))
        fail("socketpair write");
    if (close(sp[0]))
        fail("socketpair close");
    expect_closed(s);
    n = read(sp[1], buf, sizeof buf);
    if (n != (ssize_t)(sizeof RESPONSE - 1))
        fail("socketpair data");
    n = read(sp[1], buf, sizeof buf);
    if (!(n < 0 && errno == ECONNRESET))
        fail("socketpair peer did not see the plain close's reset");
    close(sp[1]);
    end_phase();
    puts("stale_reuse: ok");
    return 0;
}
