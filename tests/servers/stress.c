/* stress.c - many threads accepting, answering early and closing at once,
 * while a signal handler closes other sockets mid-flight.
 *
 *   stress [--threads N] [--rounds N] [--body BYTES] [--signal-closes N]
 *
 * In one process: N server threads each accept on a shared listener, read
 * the request head, send a 413 with Connection: close and close() without
 * reading the body; N client threads each connect --rounds times, send the
 * head and the whole body, then read the answer. Meanwhile a SIGALRM handler
 * closes, one per tick, sockets whose 413 was sent by the main thread - a
 * close() inside a signal handler while other threads are in the shim.
 *
 * Prints "ok=N failed=M" (client view of all connections) and exits 0; the
 * test decides what counts as a pass with and without the shim.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "kit.h"

static const char RESPONSE[] =
    "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope";

static int listener, rounds = 20, body = 256 * 1024, threads = 8, signal_closes = 32;
static struct sockaddr_in addr;
static _Atomic int ok, failed;

/* Sockets the signal handler closes, answered by the main thread. */
#define MAX_SIG 256
static int sig_fds[MAX_SIG];
static _Atomic int sig_next, sig_count;

static void *server_thread(void *arg)
{
    (void)arg;
    kit_answer_each(listener, RESPONSE, sizeof RESPONSE - 1);
    return NULL;
}

/* One client connection: head + body, then the answer. 1 if it got 413. */
static int one_client(void)
{
    int s = kit_upload(&addr, body);
    if (s < 0)
        return 0;
    char buf[256];
    ssize_t n = recv(s, buf, sizeof buf - 1, MSG_WAITALL);
    close(s);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    return strncmp(buf, "HTTP/1.1 413", 12) == 0;
}

static void *client_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < rounds; i++) {
        if (one_client()) ok++;
        else failed++;
    }
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    int i = sig_next;
    if (i < sig_count) {
        sig_next = i + 1;
        close(sig_fds[i]);  /* a lingering close, inside a signal handler */
    }
    errno = saved;
}

static void *signal_client(void *arg)
{
    (void)arg;
    for (int i = 0; i < signal_closes; i++) {
        if (one_client()) ok++;
        else failed++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--body")) body = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--signal-closes")) signal_closes = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: stress [--threads N] [--rounds N] [--body B] [--signal-closes N]\n"); return 2; }
    }
    if (signal_closes > MAX_SIG) signal_closes = MAX_SIG;
    signal(SIGPIPE, SIG_IGN);
    listener = kit_listen_loopback(&addr, 512);

    /* Phase 1: sockets the signal handler will close. The main thread
     * accepts and answers them; their clients are still sending. */
    pthread_t sc;
    pthread_create(&sc, NULL, signal_client, NULL);
    for (int i = 0; i < signal_closes; i++) {
        int c = kit_accept(listener);
        kit_read_head(c);
        if (kit_write_all(c, RESPONSE, sizeof RESPONSE - 1) != 0)
            perror("write");
        sig_fds[i] = c;
        sig_count = i + 1;
        if (i == 0) {
            /* SA_RESTART: the clients' own send/recv must not fail with EINTR */
            struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
            sigaction(SIGALRM, &sa, NULL);
            struct itimerval it = { { 0, 2000 }, { 0, 2000 } };
            setitimer(ITIMER_REAL, &it, NULL);
        }
        while (sig_next <= i) /* one close per connection, from the handler */
            usleep(500);
    }
    struct itimerval stop = { { 0, 0 }, { 0, 0 } }; /* phase 2 runs without the timer */
    setitimer(ITIMER_REAL, &stop, NULL);

    /* Phase 2 runs alongside the tail of phase 1: server and client threads. */
    pthread_t *st = calloc((size_t)threads, sizeof *st), *ct = calloc((size_t)threads, sizeof *ct);
    for (int i = 0; i < threads; i++)
        pthread_create(&st[i], NULL, server_thread, NULL);
    for (int i = 0; i < threads; i++)
        pthread_create(&ct[i], NULL, client_thread, NULL);
    pthread_join(sc, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(ct[i], NULL);
    printf("ok=%d failed=%d\n", ok, failed);
    fflush(stdout);
    _exit(0); /* server threads are still blocked in accept */
}
