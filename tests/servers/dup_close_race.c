/* dup_close_race.c - two numbers for one answered socket, closed at once.
 *
 * Each round accepts a loopback connection, reads its request (nothing is
 * left unread, so no close is due to reset it), writes a response with
 * Connection: close (linger tracks the socket and would linger its last
 * close), makes a second number with dup, and closes both numbers at the
 * same moment:
 *   --rounds N         from two threads, lined up by a barrier;
 *   --signal-rounds N  the main thread closes one while a SIGUSR1 handler
 *                      on the main thread closes the other, run from inside
 *                      the main thread's close (see fstat below).
 * After each round the client reads the response to its end: it must get
 * all of it and then EOF, without a reset, within 5 s.
 *
 * Prints "threads: rounds=N clean=N" and "signal: rounds=N clean=N
 * overlapping=N" (handler closes that ran while the main thread was inside
 * its close) and exits 0 when every close returned 0 and every connection
 * ended cleanly; 1 otherwise.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "kit.h"

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

static struct sockaddr_in addr;
static int listener;
static int failures;

static void fail(const char *what, int round)
{
    fprintf(stderr, "dup_close_race: round %d: %s (errno %d: %s)\n", round, what, errno, strerror(errno));
    failures++;
}

/* A connected client and the server's answered socket for it, via *server. */
static int answered_pair(int *server, int round)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) != 0
        || kit_write_all(c, REQUEST, sizeof REQUEST - 1) != 0) {
        perror("client");
        exit(2);
    }
    int s = kit_accept(listener);
    if (s < 0 || kit_read_head(s) != 'G' || kit_write_all(s, RESPONSE, sizeof RESPONSE - 1) != 0)
        fail("server side", round);
    *server = s;
    return c;
}

/* A second number for s; exits 2 when there is none. */
static int dup_of(int s)
{
    int b = dup(s);
    if (b < 0) {
        perror("dup");
        exit(2);
    }
    return b;
}

/* Reads the response on client c to its end; 1 when it came whole and
 * ended with EOF (no reset) within 5 s. Closes c. */
static int ended_cleanly(int c, int round)
{
    char buf[256];
    size_t got = 0;
    for (;;) {
        struct pollfd p = { .fd = c, .events = POLLIN };
        int ready = poll(&p, 1, 5000);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0) {
            fail("no EOF within 5 s", round);
            break;
        }
        ssize_t r = read(c, buf + got, sizeof buf - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fail("client read (a reset?)", round);
            break;
        }
        if (r == 0) {
            close(c);
            if (got == sizeof RESPONSE - 1 && memcmp(buf, RESPONSE, got) == 0)
                return 1;
            fail("response cut short", round);
            return 0;
        }
        got += (size_t)r;
        if (got == sizeof buf) {
            fail("more bytes than the response", round);
            break;
        }
    }
    close(c);
    return 0;
}

/* ---- two threads ----
 *
 * pthread barriers pass each round's numbers between the threads (so that
 * ThreadSanitizer, which sees pthread calls but not this program's atomics,
 * knows the order); a spin barrier then lines the two closes up closer than
 * a futex wake-up would. */

static int pair[2];           /* the two numbers of this round's socket */
static int pair_rc[2];        /* what each close returned */
static pthread_barrier_t round_start, round_end;
static _Atomic int lined_up;  /* closers at the spin barrier, over all rounds */

static void *closer(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int round = 1;; round++) {
        pthread_barrier_wait(&round_start);
        if (pair[me] < 0)
            return NULL; /* told to stop */
        atomic_fetch_add(&lined_up, 1);
        for (int spins = 0; atomic_load(&lined_up) < 2 * round;) /* the other one */
            if (++spins > 1000)
                sched_yield();
        pair_rc[me] = close(pair[me]);
        pthread_barrier_wait(&round_end);
    }
}

static int thread_rounds(int rounds)
{
    pthread_t t[2];
    pthread_barrier_init(&round_start, NULL, 3);
    pthread_barrier_init(&round_end, NULL, 3);
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, closer, (void *)(intptr_t)i);
    int clean = 0;
    for (int round = 1; round <= rounds; round++) {
        int s, c = answered_pair(&s, round);
        pair[0] = s;
        pair[1] = dup_of(s);
        pthread_barrier_wait(&round_start);
        pthread_barrier_wait(&round_end);
        if (pair_rc[0] != 0 || pair_rc[1] != 0)
            fail("a close did not return 0", round);
        clean += ended_cleanly(c, round);
    }
    pair[0] = pair[1] = -1;
    pthread_barrier_wait(&round_start);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return clean;
}

/* ---- a signal handler ----
 *
 * A signal sent from another thread lands long after a close of a few
 * microseconds (about 60 us to deliver on a loaded VM), so the handler is
 * run from inside the close instead: this program's fstat, which the shim's
 * calls reach too (the executable's definition comes first), raises the
 * signal at the main thread's n-th fstat once armed. The shim calls fstat
 * while it walks the ring (checking the other number) and before it hands
 * a leader's state on; n goes 1, 2, 3 over the rounds, and the number the
 * main thread closes alternates between the original (the ring's leader)
 * and the dup. Where a close makes fewer calls (always, without the shim),
 * the main thread raises the signal itself once close() returns. */

static pthread_t main_thread;
static _Atomic int fstats_to_signal; /* 0: disarmed */
static _Atomic int victim = -1;     /* the number the handler closes */
static _Atomic int in_close;        /* the main thread is inside its close */
static int overlapping;             /* handler closes made inside that close */
static int handler_rc;

int fstat(int fd, struct stat *st)
{
    /* armed only once main_thread is set; the shim's drainer thread calls fstat too */
    if (atomic_load(&fstats_to_signal) && pthread_equal(pthread_self(), main_thread)
        && atomic_fetch_sub(&fstats_to_signal, 1) == 1)
        raise(SIGUSR1);
    return fstatat(fd, "", st, AT_EMPTY_PATH);
}

#if defined(__GLIBC__) && defined(__x86_64__)
/* The shim's glibc x86-64 build calls fstat as __fxstat(1, fd, st), which
 * every glibc exports (shim/glibc_compat.h: fstat@GLIBC_2.33 is newer than
 * the library may need); its calls come here, and go on to fstat above. */
int __fxstat(int ver, int fd, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st)
{
    (void)ver;
    return fstat(fd, st);
}
#endif

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    int fd = atomic_exchange(&victim, -1);
    if (fd >= 0) {
        handler_rc = close(fd);
        overlapping += atomic_load(&in_close);
    }
    errno = saved;
}

static int signal_rounds(int rounds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    main_thread = pthread_self();
    int clean = 0;
    for (int round = 1; round <= rounds; round++) {
        int s, c = answered_pair(&s, round);
        int b = dup_of(s);
        int mine = round % 2 ? s : b;
        handler_rc = 0;
        atomic_store(&victim, round % 2 ? b : s);
        atomic_store(&in_close, 1);
        atomic_store(&fstats_to_signal, 1 + (round / 2) % 3);
        int rc = close(mine);
        atomic_store(&in_close, 0);
        if (atomic_exchange(&fstats_to_signal, 0))
            raise(SIGUSR1);
        if (rc != 0 || handler_rc != 0 || atomic_load(&victim) >= 0)
            fail("a close did not return 0", round);
        clean += ended_cleanly(c, round);
    }
    return clean;
}

int main(int argc, char **argv)
{
    int rounds = 10000, sig_rounds = 3000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--signal-rounds"))
            sig_rounds = atoi(argv[i + 1]);
    }
    listener = kit_listen_loopback(&addr, 16);
    int clean = thread_rounds(rounds);
    printf("threads: rounds=%d clean=%d\n", rounds, clean);
    fflush(stdout);
    clean = signal_rounds(sig_rounds);
    printf("signal: rounds=%d clean=%d overlapping=%d\n", sig_rounds, clean, overlapping);
    fflush(stdout);
    close(listener);
    return failures ? 1 : 0;
}
