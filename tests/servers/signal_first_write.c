/* signal_first_write.c - a signal handler writes an answer while linger is
 * starting its drainer thread on the same thread.
 *
 * Two connections to a listener of its own. The main thread writes an
 * HTTP answer on the first: linger's first write to a tracked socket, so
 * it starts its drainer. A SIGUSR1 handler writes an answer on the second;
 * build/tests/libsignal_in_pthread_create.so raises SIGUSR1 from inside
 * linger's pthread_create, so the handler's write (linger's first write
 * to that socket, asking for the drainer too) comes while the first is
 * starting it. Both answers must arrive whole; a shim that waits for its
 * own start lock in the handler hangs here for good.
 *
 * Prints "first: N bytes, second: N bytes, handler ran: yes|no" and exits 0.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kit.h"

static const char ANSWER[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
static int second;
static volatile sig_atomic_t handler_ran;

static void on_usr1(int sig)
{
    (void)sig;
    handler_ran = write(second, ANSWER, sizeof ANSWER - 1) == (ssize_t)(sizeof ANSWER - 1);
}

/* Bytes the client reads up to the server's close (2 s at most). */
static ssize_t read_to_eof(int s)
{
    struct timeval tv = { 2, 0 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    ssize_t total = 0, n;
    while ((n = recv(s, buf, sizeof buf, 0)) > 0)
        total += n;
    return total;
}

int main(void)
{
    struct sockaddr_in a;
    int l = kit_listen_loopback(&a, 4);
    int c1 = socket(AF_INET, SOCK_STREAM, 0), c2 = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c1, (struct sockaddr *)&a, sizeof a) || connect(c2, (struct sockaddr *)&a, sizeof a))
        return 1;
    int first = accept(l, NULL, NULL);
    second = accept(l, NULL, NULL);
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigaction(SIGUSR1, &sa, NULL);
    if (write(first, ANSWER, sizeof ANSWER - 1) != (ssize_t)(sizeof ANSWER - 1))
        return 1;
    close(first);
    close(second);
    ssize_t got1 = read_to_eof(c1), got2 = read_to_eof(c2);
    printf("first: %zd bytes, second: %zd bytes, handler ran: %s\n", got1, got2, handler_ran ? "yes" : "no");
    return 0;
}
