/* midflight_close.c - the app closes a socket while another of its threads
 * is still writing the response to it.
 *
 *   midflight_close --case NAME [--syscall-close]
 *
 * In one process, from loopback: a client connects and sends a request
 * head, which the server reads in full (so that no unread byte makes a
 * plain close a reset). Thread W then writes the response, which has
 * Connection: close; thread T closes the socket; the client (the main
 * thread) does not read a byte until T has closed it (T tells it through a
 * pipe), then reads everything to EOF. Small socket buffers (64 KiB asked
 * for on each side) keep an 8 MiB body from fitting before the client reads.
 *
 * A write in flight holds the file: without linger it goes on after the
 * close and the client gets the whole response. A lingering close's
 * shutdown would cut it short.
 *
 * Cases, in flight (T closes while W is inside the call, which it sees in
 * /proc/self/task/W/syscall; the body cannot fit before the client reads,
 * so the call cannot have finished):
 *   length        a head with Content-Length, then write() of the 8 MiB body
 *   chunked       a chunked head and the chunk's size line, then write() of
 *                 the 8 MiB chunk (the last chunk never comes: cut either way)
 *   sendfile      a head with Content-Length, then sendfile() of an 8 MiB file
 * and written in full before T closes (the close may linger):
 *   complete-write     head and a 4 KiB body, each with write()
 *   complete-writev    head and body in one writev()
 *   complete-sendfile  head with write(), the body with sendfile()
 *   complete-http10    HTTP/1.0 with Content-Length, head and body
 *   close-delimited    head without a length, then the body: the close ends it
 *
 * --syscall-close: T closes with syscall(SYS_close), which takes the same
 * path in linger as close() but not through ThreadSanitizer's close
 * interceptor: TSAN would report the close racing W's write on the fd, which
 * is the app's own doing (and this test's subject), not linger's.
 *
 * Prints one line:
 *   case NAME writer W expected E got G intact I held H
 * W: what W's body call returned (its one writev for complete-writev;
 * -ERRNO on failure); E: the bytes of the whole response; G: the bytes the
 * client got; I: 1 when they are a prefix of the response, byte for byte;
 * H: this process's fds that hold the connection right after the close (1
 * while a lingering copy does).
 * Exits 0, 2 on a setup error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

#define BIG (8 << 20)
#define SMALL 4096
#define BUFSZ (64 << 10)

static const char REQUEST[] = "GET /down HTTP/1.1\r\nHost: x\r\n\r\n";

static const char *name;
static int s, in_flight, syscall_close;
static char *response;         /* the whole response, as the client should get it */
static size_t head_len, total; /* its head (and chunk size line), and all of it */
static int body_fd = -1;       /* the body in a file, for sendfile */
/* W's progress, under a mutex: T waits on it, and the lock orders W's calls
 * before T's close for ThreadSanitizer too (this program is not built with
 * it; only the calls it intercepts order threads) */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t moved = PTHREAD_COND_INITIALIZER;
static int writer_tid, writer_done;
static long writer_result;
static unsigned long ino;
static int wake[2];            /* T to the client: closed */

static void fail(const char *what)
{
    fprintf(stderr, "midflight_close: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The response: head, then a patterned body of n bytes. */
static void build(const char *head, size_t n)
{
    head_len = strlen(head);
    total = head_len + n;
    response = malloc(total);
    if (!response)
        fail("malloc");
    memcpy(response, head, head_len);
    for (size_t i = 0; i < n; i++)
        response[head_len + i] = (char)('a' + (i * 7 + i / 4096) % 26);
    if (!strcmp(name, "sendfile") || !strcmp(name, "complete-sendfile")) {
        body_fd = (int)syscall(SYS_memfd_create, "body", 0);
        if (body_fd < 0 || kit_write_all(body_fd, response + head_len, n) != 0)
            fail("memfd");
    }
}

static long result(long r)
{
    return r < 0 ? -errno : r;
}

static void *writer(void *arg)
{
    (void)arg;
    const char *body = response + head_len;
    size_t n = total - head_len;
    long r;
    if (!strcmp(name, "complete-writev")) {
        struct iovec iov[2] = { { response, head_len }, { (void *)body, n } };
        r = result(writev(s, iov, 2));
    } else if (kit_write_all(s, response, head_len) != 0) {
        r = -errno;
    } else {
        pthread_mutex_lock(&lock); /* the head is out: T may look for the body's call */
        writer_tid = (int)syscall(SYS_gettid);
        pthread_cond_signal(&moved);
        pthread_mutex_unlock(&lock);
        off_t off = 0;
        r = body_fd >= 0 ? result(sendfile(s, body_fd, &off, n)) : result(write(s, body, n));
    }
    pthread_mutex_lock(&lock);
    writer_result = r;
    writer_done = 1;
    pthread_cond_signal(&moved);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* True while thread tid is inside a write or a sendfile. */
static int inside_call(int tid)
{
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0)
        return 0;
    buf[k] = 0;
    long nr = strtol(buf, NULL, 10);
    return buf[0] >= '0' && buf[0] <= '9' && (nr == SYS_write || nr == SYS_sendfile);
}

/* This process's fds that hold socket inode ino, listed from d (opened
 * before the close: opening it after could take the closed number). */
static int held(DIR *d)
{
    char want[64], link[64], path[300];
    snprintf(want, sizeof want, "socket:[%lu]", ino);
    rewinddir(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k > 0) {
            link[k] = 0;
            n += strcmp(link, want) == 0;
        }
    }
    return n;
}

static int held_after_close = -1; /* read by main after joining T */

static void *closer(void *arg)
{
    (void)arg;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        fail("/proc/self/fd");
    pthread_mutex_lock(&lock);
    while (!(in_flight ? writer_tid || writer_done : writer_done))
        pthread_cond_wait(&moved, &lock);
    int tid = writer_tid, done = writer_done;
    pthread_mutex_unlock(&lock);
    if (in_flight) {
        for (int i = 0; i < 5000 && !done && !inside_call(tid); i++) /* 5 s at most */
            nap_ms(1);
        nap_ms(20); /* well inside the call: the send buffer filled */
        pthread_mutex_lock(&lock);
        done = writer_done;
        pthread_mutex_unlock(&lock);
        if (done || !inside_call(tid))
            fail("the body's call was not in flight at the close (the buffers are too large?)");
    }
    if (syscall_close)
        syscall(SYS_close, s);
    else
        close(s);
    held_after_close = held(d);
    if (write(wake[1], "c", 1) != 1)
        fail("wake");
    closedir(d); /* its number is not the socket's: that one stays free */
    return NULL;
}

int main(int argc, char **argv)
{
    name = argc >= 3 && !strcmp(argv[1], "--case") ? argv[2] : NULL;
    syscall_close = argc == 4 && !strcmp(argv[3], "--syscall-close");
    if (!name || argc > 4 || (argc == 4 && !syscall_close))
        return 2;
    signal(SIGPIPE, SIG_IGN); /* a cut write shows as EPIPE, not as a dead process */
    in_flight = !strcmp(name, "length") || !strcmp(name, "chunked") || !strcmp(name, "sendfile");
    char head[256];
    if (!strcmp(name, "length") || !strcmp(name, "sendfile")) {
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", BIG);
        build(head, BIG);
    } else if (!strcmp(name, "chunked")) {
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n", BIG);
        build(head, BIG);
    } else if (!strcmp(name, "complete-http10")) {
        snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n", SMALL);
        build(head, SMALL);
    } else if (!strcmp(name, "close-delimited")) {
        build("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", SMALL);
    } else if (!strcmp(name, "complete-write") || !strcmp(name, "complete-writev")
               || !strcmp(name, "complete-sendfile")) {
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", SMALL);
        build(head, SMALL);
    } else {
        fprintf(stderr, "midflight_close: no case %s\n", name);
        return 2;
    }

    struct sockaddr_in addr;
    int l = kit_listen_loopback(&addr, 4);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    int small = BUFSZ;
    if (c < 0 || setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) != 0
        || connect(c, (struct sockaddr *)&addr, sizeof addr) != 0)
        fail("connect");
    s = kit_accept(l);
    struct stat st;
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) != 0 || fstat(s, &st) != 0)
        fail("accept");
    ino = (unsigned long)st.st_ino;
    if (kit_write_all(c, REQUEST, sizeof REQUEST - 1) != 0 || !kit_read_head(s))
        fail("request");
    if (pipe(wake) != 0)
        fail("pipe");

    pthread_t w, t;
    if (pthread_create(&w, NULL, writer, NULL) || pthread_create(&t, NULL, closer, NULL))
        fail("pthread_create");
    char x;
    if (read(wake[0], &x, 1) != 1) /* nothing read before the close */
        fail("wait");
    size_t got = 0;
    int intact = 1;
    char buf[65536];
    for (;;) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (got + (size_t)n > total || memcmp(buf, response + got, (size_t)n) != 0)
            intact = 0;
        got += (size_t)n;
    }
    close(c);
    pthread_join(w, NULL);
    pthread_join(t, NULL);
    printf("case %s writer %ld expected %zu got %zu intact %d held %d\n", name, writer_result, total, got, intact,
           held_after_close);
    return 0;
}
