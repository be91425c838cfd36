/* dup3_invalid.c - dup3 calls the kernel refuses must change nothing.
 *
 * An accepted connection gets an HTTP answer with Connection: close (so
 * linger tracks it), then dup3 onto its number with flags the kernel
 * rejects (EINVAL), and with a closed source (EBADF): the number still
 * holds the connection, so a second write reaches the client. Prints, per
 * call, its result and errno, then what the client read; exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kit.h"

static const char ANSWER[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\none ";

int main(void)
{
    struct sockaddr_in a;
    int l = kit_listen_loopback(&a, 4);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (struct sockaddr *)&a, sizeof a))
        return 1;
    int conn = accept(l, NULL, NULL);
    if (conn < 0 || write(conn, ANSWER, sizeof ANSWER - 1) < 0)
        return 1;
    int spare = dup(l), closed = dup(l);
    close(closed);
    errno = 0;
    int r = dup3(spare, conn, 0x4000); /* not O_CLOEXEC: EINVAL */
    printf("dup3 bad flags: %d %s\n", r, r < 0 ? strerror(errno) : "");
    errno = 0;
    r = dup3(closed, conn, O_CLOEXEC);
    printf("dup3 closed source: %d %s\n", r, r < 0 ? strerror(errno) : "");
    errno = 0;
    r = dup2(closed, conn);
    printf("dup2 closed source: %d %s\n", r, r < 0 ? strerror(errno) : "");
    r = (int)write(conn, "two", 3);
    printf("second write: %d\n", r);
    close(conn);
    char buf[512];
    ssize_t n, total = 0;
    while ((n = recv(client, buf + total, sizeof buf - 1 - (size_t)total, 0)) > 0)
        total += n;
    buf[total] = 0;
    printf("client read: %s\n", strstr(buf, "\r\n\r\n") ? strstr(buf, "\r\n\r\n") + 4 : buf);
    return 0;
}
