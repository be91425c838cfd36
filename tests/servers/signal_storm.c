/* signal_storm.c - server threads close lingering sockets while a storm of
 * signals hits them.
 *
 *   signal_storm [--threads N] [--clients N] [--rounds N] [--body BYTES]
 *
 * In one process: N server threads accept on a shared listener, read the
 * request head, write a 413 with Connection: close and close() with the body
 * unread (every close lingers under the shim); N client threads each connect
 * --rounds times, send the head and the whole body, read the answer to EOF
 * and close. Meanwhile a storm thread sends SIGUSR1 to the server threads,
 * round robin, as fast as it can; the handler writes one byte to a pipe (a
 * write through the shim's hook, inside a handler) that a reader thread
 * empties. The handler is installed without SA_RESTART, so the server's
 * accept, read and write calls see EINTR and retry.
 *
 * Prints "ok=N failed=M signals=S sent=K seconds=T fds_before=B fds_after=A":
 * clients that got their 413, clients that did not, signals handled (a signal
 * sent while the same one is still pending is merged into it), pthread_kill
 * calls, the storm's duration, and the process's fd
 * count after a warm-up round and again once the clients are done (waiting
 * up to 3 s for lingering sockets to see the clients' EOF). Exit status 0;
 * the test decides.
 */
#include <dirent.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

static const char RESPONSE[] =
    "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope";

#define MAX_THREADS 64
static int listener, nthreads = 8, nclients = 8, rounds = 40, body = 256 * 1024;
static struct sockaddr_in addr;
static pthread_t servers[MAX_THREADS];
static int pipe_fds[2];
static _Atomic int ok, failed, done;
static _Atomic long signals, sent;

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    (void)!write(pipe_fds[1], "s", 1);
    atomic_fetch_add_explicit(&signals, 1, memory_order_relaxed);
    errno = saved;
}

/* The process's open fds, by raw syscalls: under `make test
 * SANITIZE=thread` TSAN's opendir/closedir would record the directory's fd
 * number, which a server thread's lingering close has just given back, with
 * no happens-before TSAN can see (the kernel orders them, TSAN's close
 * interceptor runs before linger's), and report a race that is not one. */
static int fd_count(void)
{
    int dfd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    char buf[8192];
    int n = 0;
    long got;
    while ((got = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < got;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            if (d->d_name[0] != '.')
                n++;
            off += d->d_reclen;
        }
    }
    syscall(SYS_close, dfd);
    return n - 1; /* the directory's own fd */
}

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
    char buf[512];
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(s, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0) {
            if (r < 0)
                got = 0; /* a reset: whatever arrived does not count */
            break;
        }
        got += (size_t)r;
        if (got == sizeof buf - 1)
            break;
    }
    close(s);
    buf[got] = 0;
    return strncmp(buf, "HTTP/1.1 413 ", 13) == 0;
}

static void *client_thread(void *arg)
{
    int n = (int)(long)arg;
    for (int i = 0; i < n; i++) {
        if (one_client())
            atomic_fetch_add(&ok, 1);
        else
            atomic_fetch_add(&failed, 1);
    }
    return NULL;
}

static void *storm_thread(void *arg)
{
    (void)arg;
    unsigned i;
    for (i = 0; !atomic_load(&done); i++) {
        pthread_kill(servers[i % (unsigned)nthreads], SIGUSR1);
        if (i % 64 == 63)
            sched_yield();
    }
    atomic_store(&sent, (long)i);
    return NULL;
}

static void *pipe_reader(void *arg)
{
    (void)arg;
    char buf[4096];
    while (read(pipe_fds[0], buf, sizeof buf) > 0 || errno == EINTR)
        ;
    return NULL;
}

static void run_clients(int per_client)
{
    pthread_t c[MAX_THREADS];
    for (int i = 0; i < nclients; i++)
        pthread_create(&c[i], NULL, client_thread, (void *)(long)per_client);
    for (int i = 0; i < nclients; i++)
        pthread_join(c[i], NULL);
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) nthreads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--clients")) nclients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--body")) body = atoi(argv[i + 1]);
    }
    if (nthreads < 1 || nthreads > MAX_THREADS || nclients < 1 || nclients > MAX_THREADS) {
        fprintf(stderr, "signal_storm: 1 to %d threads and clients\n", MAX_THREADS);
        return 2;
    }
    if (pipe2(pipe_fds, O_CLOEXEC) != 0 || fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK) != 0)
        return 2;
    (void)!write(pipe_fds[1], "w", 1); /* the pipe is known to the shim before the storm */

    listener = kit_listen_loopback(&addr, 256);

    /* Only the server threads take SIGUSR1: the others start with it blocked. */
    struct sigaction sa = { .sa_handler = on_usr1 }; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    for (int i = 0; i < nthreads; i++)
        pthread_create(&servers[i], NULL, server_thread, NULL);
    pthread_sigmask(SIG_BLOCK, &usr1, &old);
    pthread_t reader, storm;
    pthread_create(&reader, NULL, pipe_reader, NULL);

    /* Warm-up: starts the shim's drainer; the baseline is taken after it. */
    int saved_clients = nclients;
    nclients = 1;
    run_clients(2);
    nclients = saved_clients;
    struct timespec pause = { 0, 200 * 1000 * 1000 };
    nanosleep(&pause, NULL);
    int before = fd_count();
    int warm_ok = ok, warm_failed = failed;
    ok = failed = 0;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_create(&storm, NULL, storm_thread, NULL);
    run_clients(rounds);
    atomic_store(&done, 1);
    pthread_join(storm, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    int after = fd_count();
    for (int i = 0; i < 300 && after > before; i++) {
        struct timespec tick = { 0, 10 * 1000 * 1000 };
        nanosleep(&tick, NULL);
        after = fd_count();
    }
    printf("ok=%d failed=%d signals=%ld sent=%ld seconds=%.2f fds_before=%d fds_after=%d warmup_ok=%d "
           "warmup_failed=%d\n", ok, failed, atomic_load(&signals), atomic_load(&sent),
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, before, after,
           warm_ok, warm_failed);
    fflush(stdout);
    return 0;
}
