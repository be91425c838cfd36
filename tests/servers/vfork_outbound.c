/* vfork_outbound.c - a vfork child that closes fds before exec must not
 * change how its parent's outbound connection ends.
 *
 * The parent connects to a listener of its own (an outbound connection,
 * which linger never lingers), leaves a response from the other side
 * unread, vfork()s a child that closes the connection's number and exits
 * (as spawners close fds before exec), then sends and closes with the
 * response still unread: the kernel resets, and the other side must read
 * ECONNRESET, with or without linger. A shim that let the child's close
 * touch its table (shared with the parent) would forget what the number
 * is, take the parent's next write for an answer and turn the close into
 * a FIN.
 *
 * Usage: vfork_outbound [--no-child]   prints what the other side read
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

int main(int argc, char **argv)
{
    int with_child = !(argc > 1 && !strcmp(argv[1], "--no-child"));
    struct sockaddr_in a;
    int l = kit_listen_loopback(&a, 4);
    int out = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(out, (struct sockaddr *)&a, sizeof a))
        return 1;
    int peer = accept(l, NULL, NULL);
    if (peer < 0 || write(out, REQUEST, sizeof REQUEST - 1) < 0
        || write(peer, RESPONSE, sizeof RESPONSE - 1) < 0) /* left unread by out */
        return 1;
    if (with_child) {
        pid_t pid = vfork();
        if (pid == 0) {
            close(out);
            _exit(0);
        }
        if (pid < 0)
            return 1;
        waitpid(pid, NULL, 0);
    }
    if (write(out, REQUEST, sizeof REQUEST - 1) < 0)
        return 1;
    usleep(50000);
    close(out); /* the response is still unread: a reset */
    usleep(50000);
    char buf[256];
    ssize_t n;
    while ((n = recv(peer, buf, sizeof buf, 0)) > 0)
        ;
    printf("%s\n", n == 0 ? "EOF" : strerror(errno));
    return 0;
}
