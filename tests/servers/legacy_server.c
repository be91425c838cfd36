/* legacy_server.c - a deliberately "legacy" HTTP/1.1 test server for linger.
 *
 * It has the bug linger exists to hide: when a request announces a body
 * larger than --limit, it writes a 413 with Connection: close in ONE write()
 * and close()s the socket at once, without reading the body. Linux then
 * resets the connection (unread bytes at close, or bytes arriving after it)
 * and the client usually never sees the 413.
 *
 * Everything else is a plain, correct HTTP/1.1 server: bodies within the limit
 * are read in full and answered 200 with the byte count, keep-alive is the
 * HTTP/1.1 default, "Connection: close" (or HTTP/1.0 without keep-alive) is
 * honoured, GET works, and GET /stats returns this process's counters.
 *
 * Usage: legacy_server (--port N | --unix PATH) [--model M] [--limit BYTES]
 *                      [--port-file PATH] [--workers N] [--delay-ms N]
 *                      [--preread BYTES] [--epoll-del]
 *   --model     single | threads | fork | prefork | epoll   (default threads)
 *   --port 0    picks a free port; --port-file says which (written
 *               atomically once listening; "0" for --unix)
 *   --delay-ms  sleep this long after reading the head of an oversized request
 *               before answering 413 (the client is then surely mid-send)
 *   --preread BYTES  read (and discard) up to this many body bytes of an
 *               oversized request before answering 413 (default 0): the 413
 *               then lands while the client is streaming at full speed
 *   --epoll-del epoll model: EPOLL_CTL_DEL before close (default: rely on
 *               close() removing the fd from the interest list, like most
 *               event loops do)
 *
 * Only libc and pthreads; every close is a plain close(). SIGTERM/SIGINT make
 * it exit cleanly, after SIGTERM-ing the worker/child processes it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 16384          /* longest request head accepted */
#define MAX_CHILDREN 4096       /* fork model: children tracked for SIGTERM */

enum model { M_SINGLE, M_THREADS, M_FORK, M_PREFORK, M_EPOLL };

static struct {
    int port;
    const char *unix_path;
    enum model model;
    long long limit;
    const char *port_file;
    int workers;
    int delay_ms;
    long long preread;
    int epoll_del;
} opt = { .port = -1, .model = M_THREADS, .limit = 65536, .workers = 2 };

static volatile sig_atomic_t stopping;
static int listen_fd = -1;

/* Counters of this process, shown by GET /stats. */
static atomic_long st_accepted, st_closed, st_requests, st_413, st_200,
    st_spurious, st_stale, st_max_fd;

/* Children (fork model) or workers (prefork model) to SIGTERM on exit. */
static pid_t children[MAX_CHILDREN];
static volatile sig_atomic_t nchildren_hint;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "legacy_server: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void note_fd(int fd)
{
    long cur = atomic_load(&st_max_fd);
    while (fd > cur && !atomic_compare_exchange_weak(&st_max_fd, &cur, fd))
        ;
}

/* ---- children bookkeeping (signal-safe enough: slots of pids) ---- */

static void child_add(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] == 0) {
            children[i] = pid;
            if (i + 1 > nchildren_hint)
                nchildren_hint = i + 1;
            return;
        }
    }
}

static void child_remove(pid_t pid)
{
    for (int i = 0; i < nchildren_hint; i++)
        if (children[i] == pid)
            children[i] = 0;
}

static void reap_children(void)
{
    int saved = errno;
    pid_t pid;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
        child_remove(pid);
    errno = saved;
}

static void on_sigchld(int sig)
{
    (void)sig;
    reap_children();
}

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static void kill_children_and_wait(void)
{
    for (int i = 0; i < nchildren_hint; i++)
        if (children[i] > 0)
            kill(children[i], SIGTERM);
    /* Give them up to ~2 s, then SIGKILL what is left. */
    for (int tries = 0; tries < 200; tries++) {
        int left = 0;
        for (int i = 0; i < nchildren_hint; i++) {
            if (children[i] > 0) {
                pid_t r = waitpid(children[i], NULL, WNOHANG);
                if (r == children[i] || (r < 0 && errno == ECHILD))
                    children[i] = 0;
                else
                    left++;
            }
        }
        if (!left)
            return;
        usleep(10000);
    }
    for (int i = 0; i < nchildren_hint; i++)
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
}

/* ---- HTTP parsing (shared by every model) ---- */

struct request {
    char method[16];
    char path[256];
    long long content_length;   /* -1: none */
    int chunked;
    int close_after;            /* client asked for close, or HTTP/1.0 default */
};

/* Position just past "\r\n\r\n" in buf[0..len), or 0 if not there yet. */
static size_t find_head_end(const char *buf, size_t len)
{
    if (len < 4)
        return 0;
    const char *p = memmem(buf, len, "\r\n\r\n", 4);
    return p ? (size_t)(p - buf) + 4 : 0;
}

static int token_in_list(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - start) == tl && strncasecmp(start, token, tl) == 0)
            return 1;
    }
    return 0;
}

/* Parses the head buf[0..head_len). Returns 0, or -1 if malformed. */
static int parse_request(const char *buf, size_t head_len, struct request *r)
{
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    const char *end = buf + head_len;
    const char *line = buf;
    const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
    if (!eol)
        return -1;
    /* request line: METHOD SP PATH SP VERSION */
    const char *sp1 = memchr(line, ' ', (size_t)(eol - line));
    if (!sp1 || sp1 - line >= (long)sizeof r->method)
        return -1;
    memcpy(r->method, line, (size_t)(sp1 - line));
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (!sp2)
        return -1;
    size_t pl = (size_t)(sp2 - sp1 - 1);
    if (pl >= sizeof r->path)
        pl = sizeof r->path - 1;
    memcpy(r->path, sp1 + 1, pl);
    int http10 = (eol - sp2 - 1 == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0);
    int keep = 0, close = 0;
    line = eol + 2;
    while (line < end - 2) {
        eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        if (!eol)
            break;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            char value[1024];
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(eol - v);
            if (vl >= sizeof value)
                vl = sizeof value - 1;
            memcpy(value, v, vl);
            value[vl] = 0;
            size_t nl = (size_t)(colon - line);
            if (nl == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
                char *e;
                errno = 0;
                long long n = strtoll(value, &e, 10);
                if (errno || e == value || n < 0)
                    return -1;
                r->content_length = n;
            } else if (nl == 10 && strncasecmp(line, "Connection", 10) == 0) {
                if (token_in_list(value, "close"))
                    close = 1;
                if (token_in_list(value, "keep-alive"))
                    keep = 1;
            } else if (nl == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
                if (token_in_list(value, "chunked"))
                    r->chunked = 1;
            }
        }
        line = eol + 2;
    }
    r->close_after = close || (http10 && !keep);
    return 0;
}

/* Builds the response for a complete request into out; returns its length. */
static size_t build_response(const struct request *r, long long body_bytes,
                             int close_after, char *out, size_t cap)
{
    char body[512];
    int status = 200;
    const char *reason = "OK";
    if (strcmp(r->path, "/stats") == 0) {
        snprintf(body, sizeof body,
                 "pid=%d accepted=%ld closed=%ld requests=%ld r200=%ld r413=%ld "
                 "spurious=%ld stale=%ld max_fd=%ld\n",
                 (int)getpid(), atomic_load(&st_accepted), atomic_load(&st_closed),
                 atomic_load(&st_requests), atomic_load(&st_200), atomic_load(&st_413),
                 atomic_load(&st_spurious), atomic_load(&st_stale),
                 atomic_load(&st_max_fd));
    } else {
        snprintf(body, sizeof body, "received %lld bytes\n", body_bytes);
    }
    atomic_fetch_add(&st_200, 1);
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: %s\r\n\r\n%s",
                     status, reason, strlen(body), close_after ? "close" : "keep-alive",
                     body);
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static const char BODY_413[] = "request body too large\n";
static const char BODY_411[] = "length required\n";
static const char BODY_400[] = "bad request\n";

static size_t build_error(int status, char *out, size_t cap)
{
    const char *reason, *body;
    switch (status) {
    case 413: reason = "Payload Too Large"; body = BODY_413; break;
    case 411: reason = "Length Required"; body = BODY_411; break;
    case 431: reason = "Request Header Fields Too Large"; body = BODY_400; break;
    default: reason = "Bad Request"; body = BODY_400; break;
    }
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     status, reason, strlen(body), body);
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Which error, if any, ends this request before its body is read. */
static int early_error(const struct request *r)
{
    if (r->chunked)
        return 411;     /* legacy: no chunked request bodies */
    if (r->content_length > opt.limit)
        return 413;
    return 0;
}

static void delay_before_error(void)
{
    if (opt.delay_ms > 0) {
        struct timespec ts = { opt.delay_ms / 1000, (long)(opt.delay_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stopping)
            ;
    }
}

/* ---- blocking connection handler (single, threads, fork, prefork) ---- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void close_conn(int fd)
{
    atomic_fetch_add(&st_closed, 1);
    close(fd);
}

static void serve_blocking(int fd)
{
    static __thread char buf[HEAD_MAX];
    char scratch[65536];
    char out[1024];
    size_t len = 0;

    for (;;) {
        size_t head_len;
        while ((head_len = find_head_end(buf, len)) == 0) {
            if (len == sizeof buf) {
                size_t n = build_error(431, out, sizeof out);
                (void)!write(fd, out, n);
                close_conn(fd);
                return;
            }
            ssize_t r = read(fd, buf + len, sizeof buf - len);
            if (r < 0 && errno == EINTR && !stopping)
                continue;
            if (r <= 0) {           /* EOF, reset or stop: done */
                close_conn(fd);
                return;
            }
            len += (size_t)r;
        }
        struct request req;
        if (parse_request(buf, head_len, &req) < 0) {
            size_t n = build_error(400, out, sizeof out);
            (void)!write(fd, out, n);
            close_conn(fd);
            return;
        }
        atomic_fetch_add(&st_requests, 1);
        int err = early_error(&req);
        if (err) {
            /* THE BUG UNDER TEST: one write(), then close() with the body
             * unread. */
            if (err == 413) {
                atomic_fetch_add(&st_413, 1);
                long long pre = opt.preread < req.content_length ? opt.preread
                                                                 : req.content_length;
                long long got = (long long)(len - head_len);
                while (got < pre) {
                    size_t chunk = sizeof scratch;
                    if ((long long)chunk > pre - got)
                        chunk = (size_t)(pre - got);
                    ssize_t r = read(fd, scratch, chunk);
                    if (r < 0 && errno == EINTR && !stopping)
                        continue;
                    if (r <= 0)
                        break;
                    got += r;
                }
            }
            delay_before_error();
            size_t n = build_error(err, out, sizeof out);
            (void)!write(fd, out, n);
            close_conn(fd);
            return;
        }
        /* Read (and count) the body. */
        long long want = req.content_length > 0 ? req.content_length : 0;
        long long got = 0;
        size_t have = len - head_len;
        size_t take = (long long)have < want ? have : (size_t)want;
        got += (long long)take;
        size_t consumed = head_len + take;
        memmove(buf, buf + consumed, len - consumed);
        len -= consumed;
        while (got < want) {
            size_t chunk = sizeof scratch;
            if ((long long)chunk > want - got)
                chunk = (size_t)(want - got);
            ssize_t r = read(fd, scratch, chunk);
            if (r < 0 && errno == EINTR && !stopping)
                continue;
            if (r <= 0) {
                close_conn(fd);
                return;
            }
            got += r;
        }
        size_t n = build_response(&req, got, req.close_after, out, sizeof out);
        if (write_all(fd, out, n) < 0 || req.close_after) {
            close_conn(fd);
            return;
        }
    }
}

/* ---- listening ---- */

static int make_listener(void)
{
    int fd;
    if (opt.unix_path) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(opt.unix_path) >= sizeof sa.sun_path)
            die("unix path too long");
        strcpy(sa.sun_path, opt.unix_path);
        unlink(opt.unix_path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            die("bind %s: %s", opt.unix_path, strerror(errno));
        chmod(opt.unix_path, 0777);   /* nginx workers may run as another user */
    } else {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            die("bind 127.0.0.1:%d: %s", opt.port, strerror(errno));
    }
    if (listen(fd, 1024) < 0)
        die("listen: %s", strerror(errno));
    return fd;
}

static void write_port_file(void)
{
    if (!opt.port_file)
        return;
    int port = 0;
    if (!opt.unix_path) {
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        if (getsockname(listen_fd, (struct sockaddr *)&sa, &sl) < 0)
            die("getsockname: %s", strerror(errno));
        port = ntohs(sa.sin_port);
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", opt.port_file, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        die("port file %s: %s", tmp, strerror(errno));
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, opt.port_file) < 0)
        die("port file %s: %s", opt.port_file, strerror(errno));
}

/* Waits for and accepts one connection (blocking models). The listener is
 * non-blocking and waited for with poll() in short slices, so a SIGTERM is
 * noticed even when it lands between the `stopping` check and the wait (or
 * inside another handler, after which a restarted accept() would block), and
 * prefork workers woken together for one connection do not block in accept. */
static int accept_one(void)
{
    for (;;) {
        if (stopping)
            return -1;
        struct pollfd p = { .fd = listen_fd, .events = POLLIN };
        int r = poll(&p, 1, 200);
        if (stopping)
            return -1;
        if (r <= 0)
            continue;
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            atomic_fetch_add(&st_accepted, 1);
            note_fd(fd);
            return fd;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
            errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
            if (errno == EMFILE || errno == ENFILE)
                usleep(10000);
            continue;
        }
        die("accept: %s", strerror(errno));
    }
}

/* ---- models ---- */

static void run_single(void)
{
    while (!stopping) {
        int fd = accept_one();
        if (fd < 0)
            break;
        serve_blocking(fd);
    }
}

static void *conn_thread(void *arg)
{
    int fd = (int)(intptr_t)arg;
    serve_blocking(fd);
    return NULL;
}

static void run_threads(void)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    /* Connection threads start with SIGTERM/SIGINT blocked, so those reach
     * the main thread and interrupt its accept(). */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGCHLD);
    while (!stopping) {
        int fd = accept_one();
        if (fd < 0)
            break;
        pthread_t t;
        pthread_sigmask(SIG_BLOCK, &stop, &old);
        int rc = pthread_create(&t, &attr, conn_thread, (void *)(intptr_t)fd);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            close_conn(fd);
            usleep(1000);
        }
    }
    pthread_attr_destroy(&attr);
}

static void child_signals(void)
{
    struct sigaction sa = { .sa_handler = SIG_DFL };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);
}

static void run_fork(void)
{
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigaddset(&chld, SIGTERM);
    sigaddset(&chld, SIGINT);
    while (!stopping) {
        int fd = accept_one();
        if (fd < 0)
            break;
        sigprocmask(SIG_BLOCK, &chld, &old);
        pid_t pid = fork();
        if (pid == 0) {
            child_signals();
            close(listen_fd);
            serve_blocking(fd);
            _exit(0);
        }
        if (pid > 0)
            child_add(pid);
        sigprocmask(SIG_SETMASK, &old, NULL);
        /* Parent: close its copy right after fork, like ForkingTCPServer. */
        close(fd);
        if (pid < 0)
            usleep(1000);
    }
}

static void prefork_worker(void)
{
    child_signals();
    /* Workers stop on SIGTERM from the parent (default action), or when the
     * parent dies. */
    struct sigaction sa = { .sa_handler = on_stop };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    while (!stopping) {
        int fd = accept_one();
        if (fd < 0)
            break;
        serve_blocking(fd);
    }
    _exit(0);
}

static void run_prefork(void)
{
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigaddset(&chld, SIGTERM);
    sigaddset(&chld, SIGINT);
    for (int i = 0; i < opt.workers; i++) {
        sigprocmask(SIG_BLOCK, &chld, &old);
        pid_t pid = fork();
        if (pid == 0)
            prefork_worker();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        child_add(pid);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    /* The parent only waits; a dead worker is replaced. Signals stay
     * blocked except inside sigsuspend(), so none is missed. */
    sigprocmask(SIG_BLOCK, &chld, &old);
    while (!stopping) {
        sigsuspend(&old);
        if (stopping)
            break;
        int live = 0;
        for (int i = 0; i < nchildren_hint; i++)
            if (children[i] > 0)
                live++;
        for (; live < opt.workers && !stopping; live++) {
            pid_t pid = fork();
            if (pid == 0)
                prefork_worker();
            if (pid > 0)
                child_add(pid);
        }
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* epoll model: one thread, non-blocking sockets, level-triggered EPOLLIN. */

struct econn {
    char in[HEAD_MAX];
    size_t inlen;
    long long body_left;    /* > 0: discarding body bytes */
    long long body_got;
    struct request req;     /* valid while reading a body */
    int in_body;
    int rejecting;          /* reading --preread bytes before a 413 */
    char out[1024];
    size_t outlen, outoff;  /* pending response bytes */
    int close_after_out;
};

static struct econn **econns;
static int econn_cap;
static int epfd = -1;

static void e_close(int fd)
{
    if (opt.epoll_del)
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    free(econns[fd]);
    econns[fd] = NULL;
    close_conn(fd);
}

static void e_set_events(int fd, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.fd = fd };
    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* Tries to flush pending output. Returns -1 if the connection was closed. */
static int e_flush(int fd, struct econn *c)
{
    while (c->outoff < c->outlen) {
        ssize_t w = write(fd, c->out + c->outoff, c->outlen - c->outoff);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                e_set_events(fd, EPOLLOUT);
                return 0;
            }
            e_close(fd);
            return -1;
        }
        c->outoff += (size_t)w;
    }
    c->outoff = c->outlen = 0;
    if (c->close_after_out) {
        e_close(fd);
        return -1;
    }
    return 0;
}

/* Processes buffered input. Returns -1 if the connection was closed. */
static int e_process(int fd, struct econn *c)
{
    for (;;) {
        if (c->outlen) {           /* wait for output before the next request */
            return 0;
        }
        if (c->in_body) {
            size_t take = (long long)c->inlen < c->body_left ? c->inlen : (size_t)c->body_left;
            c->body_left -= (long long)take;
            c->body_got += (long long)take;
            memmove(c->in, c->in + take, c->inlen - take);
            c->inlen -= take;
            if (c->body_left > 0)
                return 0;
            c->in_body = 0;
            if (c->rejecting) {     /* --preread done: now the bug */
                delay_before_error();
                char out[512];
                size_t n = build_error(413, out, sizeof out);
                (void)!write(fd, out, n);
                e_close(fd);
                return -1;
            }
            c->outlen = build_response(&c->req, c->body_got, c->req.close_after,
                                       c->out, sizeof c->out);
            c->outoff = 0;
            c->close_after_out = c->req.close_after;
            if (e_flush(fd, c) < 0)
                return -1;
            continue;
        }
        size_t head_len = find_head_end(c->in, c->inlen);
        if (!head_len) {
            if (c->inlen == sizeof c->in) {
                char out[512];
                size_t n = build_error(431, out, sizeof out);
                (void)!write(fd, out, n);
                e_close(fd);
                return -1;
            }
            return 0;
        }
        if (parse_request(c->in, head_len, &c->req) < 0) {
            char out[512];
            size_t n = build_error(400, out, sizeof out);
            (void)!write(fd, out, n);
            e_close(fd);
            return -1;
        }
        atomic_fetch_add(&st_requests, 1);
        int err = early_error(&c->req);
        if (err == 413 && opt.preread > 0) {
            /* Read up to --preread body bytes first, then reject. */
            atomic_fetch_add(&st_413, 1);
            memmove(c->in, c->in + head_len, c->inlen - head_len);
            c->inlen -= head_len;
            c->in_body = 1;
            c->rejecting = 1;
            c->body_left = opt.preread < c->req.content_length ? opt.preread
                                                               : c->req.content_length;
            c->body_got = 0;
            continue;
        }
        if (err) {
            /* THE BUG UNDER TEST, event-loop flavour. */
            if (err == 413)
                atomic_fetch_add(&st_413, 1);
            delay_before_error();
            char out[512];
            size_t n = build_error(err, out, sizeof out);
            (void)!write(fd, out, n);
            e_close(fd);
            return -1;
        }
        memmove(c->in, c->in + head_len, c->inlen - head_len);
        c->inlen -= head_len;
        c->in_body = 1;
        c->body_left = c->req.content_length > 0 ? c->req.content_length : 0;
        c->body_got = 0;
    }
}

static void e_readable(int fd, struct econn *c)
{
    int first = 1;
    for (;;) {
        if (c->inlen == sizeof c->in && !c->in_body) {
            e_process(fd, c);
            return;
        }
        ssize_t r;
        if (c->in_body && c->inlen == 0) {
            /* Discard body bytes straight from the socket. */
            static char scratch[65536];
            size_t want = sizeof scratch;
            if ((long long)want > c->body_left)
                want = (size_t)c->body_left;
            r = read(fd, scratch, want);
            if (r > 0) {
                c->body_left -= r;
                c->body_got += r;
                if (c->body_left == 0 && e_process(fd, c) < 0)
                    return;
                first = 0;
                continue;
            }
        } else {
            r = read(fd, c->in + c->inlen, sizeof c->in - c->inlen);
            if (r > 0) {
                c->inlen += (size_t)r;
                if (e_process(fd, c) < 0)
                    return;
                if (c->outlen)     /* output pending: stop reading for now */
                    return;
                first = 0;
                continue;
            }
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (first)
                atomic_fetch_add(&st_spurious, 1);
            return;
        }
        e_close(fd);       /* EOF or error */
        return;
    }
}

static void run_epoll(void)
{
    struct rlimit rl;
    econn_cap = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)econn_cap)
        econn_cap = (int)rl.rlim_cur;
    econns = calloc((size_t)econn_cap, sizeof *econns);
    if (!econns)
        die("out of memory");
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = listen_fd };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    struct epoll_event evs[256];
    while (!stopping) {
        int n = epoll_wait(epfd, evs, 256, 200);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == listen_fd) {
                for (;;) {
                    int cfd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (cfd < 0)
                        break;
                    atomic_fetch_add(&st_accepted, 1);
                    note_fd(cfd);
                    if (cfd >= econn_cap) {
                        close_conn(cfd);
                        continue;
                    }
                    if (econns[cfd]) {
                        /* We think cfd is still open: cannot happen unless
                         * someone else closed it behind our back. */
                        atomic_fetch_add(&st_stale, 1);
                        free(econns[cfd]);
                        econns[cfd] = NULL;
                    }
                    econns[cfd] = calloc(1, sizeof(struct econn));
                    if (!econns[cfd]) {
                        close_conn(cfd);
                        continue;
                    }
                    struct epoll_event cev = { .events = EPOLLIN, .data.fd = cfd };
                    if (epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev) < 0) {
                        free(econns[cfd]);
                        econns[cfd] = NULL;
                        close_conn(cfd);
                    }
                }
                continue;
            }
            if (fd < 0 || fd >= econn_cap || !econns[fd]) {
                /* An event for an fd we closed: the kernel still has it in
                 * the interest list (someone holds a dup). */
                atomic_fetch_add(&st_stale, 1);
                continue;
            }
            struct econn *c = econns[fd];
            if (evs[i].events & EPOLLOUT) {
                if (e_flush(fd, c) < 0)
                    continue;
                if (!c->outlen) {
                    e_set_events(fd, EPOLLIN);
                    if (e_process(fd, c) < 0)
                        continue;
                }
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                e_readable(fd, c);
        }
    }
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: legacy_server (--port N | --unix PATH) [--model single|threads|fork|prefork|epoll]\n"
            "                     [--limit BYTES] [--port-file PATH] [--workers N] [--delay-ms N]\n"
            "                     [--preread BYTES] [--epoll-del]\n");
    exit(2);
}

static long long num_arg(const char *s, long long lo, long long hi)
{
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (errno || e == s || *e || v < lo || v > hi)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--epoll-del") == 0) {
            opt.epoll_del = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (strcmp(a, "--port") == 0)
            opt.port = (int)num_arg(v, 0, 65535);
        else if (strcmp(a, "--unix") == 0)
            opt.unix_path = v;
        else if (strcmp(a, "--limit") == 0)
            opt.limit = num_arg(v, 0, LLONG_MAX);
        else if (strcmp(a, "--port-file") == 0)
            opt.port_file = v;
        else if (strcmp(a, "--workers") == 0)
            opt.workers = (int)num_arg(v, 1, 256);
        else if (strcmp(a, "--preread") == 0)
            opt.preread = num_arg(v, 0, LLONG_MAX);
        else if (strcmp(a, "--delay-ms") == 0)
            opt.delay_ms = (int)num_arg(v, 0, 600000);
        else if (strcmp(a, "--model") == 0) {
            if (strcmp(v, "single") == 0) opt.model = M_SINGLE;
            else if (strcmp(v, "threads") == 0) opt.model = M_THREADS;
            else if (strcmp(v, "fork") == 0) opt.model = M_FORK;
            else if (strcmp(v, "prefork") == 0) opt.model = M_PREFORK;
            else if (strcmp(v, "epoll") == 0) opt.model = M_EPOLL;
            else usage();
        } else
            usage();
    }
    if ((opt.port < 0) == (opt.unix_path == NULL))
        usage();

    signal(SIGPIPE, SIG_IGN);
    /* No SA_RESTART: a blocking accept() returns EINTR on SIGTERM. */
    struct sigaction sa = { .sa_handler = on_stop };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction sc = { .sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
    sigemptyset(&sc.sa_mask);
    sigaction(SIGCHLD, &sc, NULL);

    listen_fd = make_listener();
    /* Accepted sockets do not inherit O_NONBLOCK: they stay blocking. */
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    write_port_file();

    switch (opt.model) {
    case M_SINGLE: run_single(); break;
    case M_THREADS: run_threads(); break;
    case M_FORK: run_fork(); break;
    case M_PREFORK: run_prefork(); break;
    case M_EPOLL: run_epoll(); break;
    }
    kill_children_and_wait();
    if (opt.unix_path)
        unlink(opt.unix_path);
    return 0;
}
