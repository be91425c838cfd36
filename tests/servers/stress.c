/* stress.c - many threads accepting, answering early and closing at once,
 * while a signal handler, run on those same threads, closes other sockets.
 *
 *   stress [--threads N] [--rounds N] [--body BYTES] [--signal-closes N]
 *
 * In one process: N server threads each accept on a shared listener, read
 * the request head, send a 413 with Connection: close and close() without
 * reading the body; N client threads each connect --rounds times, send the
 * head and the whole body, then read the answer. Meanwhile the main thread
 * answers --signal-closes uploads on a second listener, and a SIGALRM
 * handler closes them, one per tick, while the server threads accept,
 * write and close in the shim. Only the main thread takes SIGALRM (the
 * others block it): the handler interrupts it in its own accept, read,
 * write or sleep - often inside the shim - and closes sockets it accepted.
 * The handler closes only while a server thread is serving (between its
 * accept and the end of its close), so that the two overlap by design, not
 * by luck; the upload clients go on past --rounds (up to ten times as many)
 * until the handler has made all its closes, and once they stop for good
 * the handler closes without waiting.
 * (Under ThreadSanitizer a handler's atomics do not order its accesses, so
 * a socket accepted by one thread and closed in a handler on another would
 * read as a race.)
 *
 * Prints "ok=N failed=M handler_closes=K overlapping=O" (client view of all
 * connections; K closes made by the handler, O of them while a server
 * thread was between its accept and the end of its close) and exits 0; the test decides what counts as
 * a pass with and without the shim.
 */
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
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

static int listener, sig_listener, rounds = 20, body = 256 * 1024, threads = 8, signal_closes = 32;
static struct sockaddr_in addr, sig_addr;
static _Atomic int ok, failed, handler_closes, done, clients_done;
/* server threads between accept and the end of their close; handler
 * closes made while some were */
static _Atomic int serving, overlapping_closes;

/* Sockets the signal handler closes, answered by the main thread. */
#define MAX_SIG 256
static int sig_fds[MAX_SIG];
static _Atomic int sig_next, sig_count;

/* The early-413 loop on the shared listener (non-blocking): accept,
 * read the head, answer, close, until the clients are done. */
static void *server_thread(void *arg)
{
    (void)arg;
    kit_answer_each_until(listener, RESPONSE, sizeof RESPONSE - 1, &done, &serving);
    return NULL;
}

/* One client connection to a: head + body, then the answer. 1 if it got 413. */
static int one_client(const struct sockaddr_in *a)
{
    int s = kit_upload(a, body);
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

/* --rounds uploads, then more while the handler still has closes to make
 * (bounded: ten times --rounds in all). */
static void *client_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < rounds || (sig_next < signal_closes && i < 10 * rounds); i++) {
        if (one_client(&addr)) ok++;
        else failed++;
    }
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    int i = sig_next;
    int busy = serving;
    if (!busy && !clients_done)
        return; /* wait for a tick that lands while a server thread serves */
    if (i < sig_count && atomic_compare_exchange_strong(&sig_next, &i, i + 1)) {
        if (busy)
            overlapping_closes++;
        close(sig_fds[i]);  /* a lingering close, inside a signal handler */
        handler_closes++;
    }
    errno = saved;
}

static void *signal_client(void *arg)
{
    (void)arg;
    for (int i = 0; i < signal_closes; i++) {
        if (one_client(&sig_addr)) ok++;
        else failed++;
    }
    return NULL;
}

/* Joins the upload clients, then lets the handler close without waiting
 * for a server thread to be serving (none will be). */
static void *clients_finished(void *arg)
{
    pthread_t *clients = arg;
    for (int i = 0; i < threads; i++)
        pthread_join(clients[i], NULL);
    clients_done = 1;
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
    fcntl(listener, F_SETFL, O_NONBLOCK);
    sig_listener = kit_listen_loopback(&sig_addr, 64);

    /* SIGALRM goes to this thread alone: the threads it creates inherit a
     * mask that blocks it, then it unblocks it for itself. */
    sigset_t alarm;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm, NULL);
    /* SA_RESTART: this thread's accept and read restart after it */
    struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
    sigaction(SIGALRM, &sa, NULL);

    pthread_t *st = calloc((size_t)threads, sizeof *st), *ct = calloc((size_t)threads, sizeof *ct);
    for (int i = 0; i < threads; i++)
        pthread_create(&st[i], NULL, server_thread, NULL);
    for (int i = 0; i < threads; i++)
        pthread_create(&ct[i], NULL, client_thread, NULL);

    /* Meanwhile: sockets the signal handler closes. This thread accepts
     * and answers them; their clients are still sending. */
    pthread_t sc, waiter;
    pthread_create(&sc, NULL, signal_client, NULL);
    pthread_create(&waiter, NULL, clients_finished, ct);
    pthread_sigmask(SIG_UNBLOCK, &alarm, NULL);
    struct itimerval it = { { 0, 2000 }, { 0, 2000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    for (int i = 0; i < signal_closes; i++) {
        int c = kit_accept(sig_listener);
        kit_read_head(c);
        if (kit_write_all(c, RESPONSE, sizeof RESPONSE - 1) != 0)
            perror("write");
        sig_fds[i] = c;
        sig_count = i + 1;
        while (sig_next <= i) /* one close per connection, from the handler */
            usleep(500);
    }
    struct itimerval stop = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &stop, NULL);

    pthread_join(sc, NULL);
    pthread_join(waiter, NULL);
    done = 1;
    for (int i = 0; i < threads; i++)
        pthread_join(st[i], NULL);
    printf("ok=%d failed=%d handler_closes=%d overlapping=%d\n", ok, failed, handler_closes,
           overlapping_closes);
    return 0;
}
