/* linger-ab-client - the workload of scripts/linger-ab.
 *
 * Sends --requests HTTP requests, each on a new connection, --concurrency at
 * a time (one thread per request in flight), at most --rate a second spread
 * evenly. Each request sends its whole head and body before it reads the
 * response, as proxies and most HTTP libraries do, and gets exactly one
 * outcome. It prints one line per request, when it ends:
 *
 *     outcome status 413 ms 12.345
 *     outcome reset_before ms 3.210
 *
 * and, at the end, one summary line:
 *
 *     summary requests 20 complete 18 elapsed 1.234
 *
 * Outcomes: "status N" (a complete response: framed by Content-Length, by
 * chunks, or by the close; HEAD, 1xx, 204 and 304 have no body), reset_before
 * (ECONNRESET while sending, or before any response byte), reset_mid
 * (ECONNRESET after part of the response), eof_before, eof_mid (the
 * connection closed before or after part of the response), broken_pipe
 * (EPIPE while sending), timeout (--timeout passed, from connect to the last
 * response byte), connect_failed, bad_response (a malformed response), and
 * "error ENAME" for any other errno.
 *
 * Exit status: 0 when the workload ran (whatever its outcomes), 1 when it
 * could not (a thread could not start, stdout failed), 2 for bad usage.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "linger-ab-client"
#define BLOCK_SIZE 65536         /* body bytes per send() */
#define RECV_SIZE 65536          /* bytes per recv() */
#define LINE_LIMIT 65536         /* a response line longer than this is malformed */
#define MAX_HEADERS 200          /* more distinct header names than this is malformed */
#define BUFFER_SIZE (LINE_LIMIT + RECV_SIZE + 2)
#define THREAD_STACK (256 * 1024)

static const char USAGE[] =
    "usage: linger-ab-client --port N [options]\n"
    "\n"
    "The workload of linger-ab: HTTP requests, each on a new connection, that send\n"
    "the whole request (head and body) before reading the response. One line per\n"
    "request on stdout (\"outcome OUTCOME ms MILLISECONDS\"), then a summary line\n"
    "(\"summary requests N complete N elapsed SECONDS\").\n"
    "\n"
    "  --host ADDR         address or name to connect to (default 127.0.0.1)\n"
    "  --port N            port to connect to (required)\n"
    "  --requests N        number of requests (default 100)\n"
    "  --concurrency N     requests in flight at once, one thread each (default 4)\n"
    "  --body-size BYTES   request body size in bytes (default 1048576)\n"
    "  --method M          request method (default POST)\n"
    "  --path P            request path (default /)\n"
    "  --rate R            at most R requests per second, spread evenly (default: none)\n"
    "  --timeout SECONDS   per request, connect to last response byte (default 10)\n"
    "  --help              this text\n"
    "\n"
    "Outcomes: status N, reset_before, reset_mid, eof_before, eof_mid, broken_pipe,\n"
    "timeout, connect_failed, bad_response, error ENAME.\n"
    "Exit status: 0 when the workload ran, 1 when it could not, 2 for bad usage.\n";

/* ------------------------------------------------------------ the workload */

struct workload {
    const char *host;
    char port_text[8];
    long long requests;
    long long concurrency;
    long long body_size;
    const char *method;
    const char *path;
    double rate;                 /* requests a second; 0: as fast as possible */
    double timeout_s;
    char *head;                  /* the request head, the same for every request */
    size_t head_len;
};

static struct workload W = {
    .host = "127.0.0.1", .requests = 100, .concurrency = 4, .body_size = 1048576,
    .method = "POST", .path = "/", .rate = 0, .timeout_s = 10,
};
static char body_block[BLOCK_SIZE];
static double start_time;
static long long next_request;   /* the index the next worker takes */
static long long complete_count; /* requests that got a complete response */
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

/* Seconds on the monotonic clock. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timespec to_timespec(double seconds)
{
    struct timespec ts;
    if (seconds < 0)
        seconds = 0;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* ------------------------------------------------------------ one exchange */

enum failure { FAIL_NONE, FAIL_TIMEOUT, FAIL_EOF, FAIL_ERRNO, FAIL_BAD };

/* One request's connection and what its response reading has buffered. */
struct exchange {
    int fd;
    double deadline;
    char *buf;                   /* BUFFER_SIZE bytes; unread bytes are buf[start, end) */
    size_t start, end;
    unsigned long long got;      /* response bytes received in all */
    enum failure fail;           /* why the exchange stopped */
    int err;                     /* the errno, for FAIL_ERRNO */
};

static bool failed(struct exchange *x, enum failure why, int err)
{
    x->fail = why;
    x->err = err;
    return false;
}

/* Waits until fd is ready for events or the deadline passes; false with
 * x->fail set (timeout) when it passed. */
static bool wait_ready(struct exchange *x, short events)
{
    for (;;) {
        double left = x->deadline - now_s();
        if (left <= 0)
            return failed(x, FAIL_TIMEOUT, 0);
        struct pollfd p = { .fd = x->fd, .events = events };
        struct timespec ts = to_timespec(left);
        int n = ppoll(&p, 1, &ts, NULL);
        if (n > 0)
            return true;
        if (n == 0)
            return failed(x, FAIL_TIMEOUT, 0);
        if (errno != EINTR)
            return failed(x, FAIL_ERRNO, errno);
    }
}

/* Sends all len bytes of data before the deadline (MSG_NOSIGNAL: a reset
 * connection is EPIPE, not SIGPIPE). */
static bool send_all(struct exchange *x, const char *data, size_t len)
{
    while (len > 0) {
        if (x->deadline - now_s() <= 0)
            return failed(x, FAIL_TIMEOUT, 0);
        ssize_t n = send(x->fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_ready(x, POLLOUT))
                return false;
        } else if (n < 0 && errno != EINTR) {
            return failed(x, FAIL_ERRNO, errno);
        }
    }
    return true;
}

/* Sends the head, then the body in BLOCK_SIZE pieces. */
static bool send_request(struct exchange *x)
{
    if (!send_all(x, W.head, W.head_len))
        return false;
    long long left = W.body_size;
    while (left > 0) {
        size_t n = left < BLOCK_SIZE ? (size_t)left : BLOCK_SIZE;
        if (!send_all(x, body_block, n))
            return false;
        left -= (long long)n;
    }
    return true;
}

/* Receives up to RECV_SIZE more response bytes into the buffer (compacting
 * it first); false at EOF, an error or the deadline. */
static bool fill(struct exchange *x)
{
    if (x->start > 0) {
        memmove(x->buf, x->buf + x->start, x->end - x->start);
        x->end -= x->start;
        x->start = 0;
    }
    for (;;) {
        if (!wait_ready(x, POLLIN))
            return false;
        ssize_t n = recv(x->fd, x->buf + x->end, RECV_SIZE, MSG_DONTWAIT);
        if (n > 0) {
            x->end += (size_t)n;
            x->got += (unsigned long long)n;
            return true;
        }
        if (n == 0)
            return failed(x, FAIL_EOF, 0);
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return failed(x, FAIL_ERRNO, errno);
    }
}

/* The next CRLF-terminated line (without the CRLF) in *line, *len; valid
 * until the next read. A line longer than LINE_LIMIT is malformed. */
static bool read_line(struct exchange *x, char **line, size_t *len)
{
    size_t scanned = x->start;
    for (;;) {
        for (size_t i = scanned; i + 1 < x->end; i++) {
            if (x->buf[i] == '\r' && x->buf[i + 1] == '\n') {
                *line = x->buf + x->start;
                *len = i - x->start;
                x->start = i + 2;
                return true;
            }
        }
        if (x->end - x->start > LINE_LIMIT)
            return failed(x, FAIL_BAD, 0);
        size_t seen = x->end > x->start ? x->end - x->start - 1 : 0;
        if (!fill(x))
            return false;
        scanned = x->start + seen;
    }
}

/* Reads and drops n response bytes. */
static bool skip_bytes(struct exchange *x, unsigned long long n)
{
    while (n > 0) {
        if (x->start == x->end) {
            x->start = x->end = 0;
            if (!fill(x))
                return false;
        }
        size_t avail = x->end - x->start;
        size_t k = n < avail ? (size_t)n : avail;
        x->start += k;
        n -= k;
    }
    return true;
}

/* Reads and drops everything up to the peer's EOF. */
static bool read_to_eof(struct exchange *x)
{
    for (;;) {
        x->start = x->end = 0;
        if (!fill(x))
            break;
    }
    if (x->fail != FAIL_EOF)
        return false;
    x->fail = FAIL_NONE;
    return true;
}

/* ------------------------------------------------------------ parsing */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* s[0, *len) without leading and trailing ASCII whitespace. */
static char *strip(char *s, size_t *len)
{
    while (*len > 0 && is_space(s[0])) {
        s++;
        (*len)--;
    }
    while (*len > 0 && is_space(s[*len - 1]))
        (*len)--;
    return s;
}

static void lower(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
}

static int digit_value(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* An integer in base 10 or 16 as Python's int(text, base) reads it: an
 * optional sign, for base 16 an optional 0x, digits with single underscores
 * between them; whitespace around. Saturates instead of overflowing. */
static bool parse_integer(const char *s, size_t len, int base, long long *out)
{
    char *t = (char *)s;
    t = strip(t, &len);
    size_t i = 0;
    bool negative = false;
    if (i < len && (t[i] == '+' || t[i] == '-'))
        negative = t[i++] == '-';
    if (base == 16 && i + 1 < len && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'X')) {
        i += 2;
        if (i < len && t[i] == '_')
            i++;
    }
    if (i >= len)
        return false;
    unsigned long long v = 0;
    bool after_digit = false;
    for (; i < len; i++) {
        if (t[i] == '_' && after_digit && i + 1 < len && t[i + 1] != '_') {
            after_digit = false;
            continue;
        }
        int d = digit_value(t[i]);
        if (d >= base)
            return false;
        v = v > (unsigned long long)LLONG_MAX / (unsigned)base ? (unsigned long long)LLONG_MAX
                                                              : v * (unsigned)base + (unsigned)d;
        if (v > (unsigned long long)LLONG_MAX)
            v = (unsigned long long)LLONG_MAX;
        after_digit = true;
    }
    if (!after_digit)
        return false;
    *out = negative ? -(long long)v : (long long)v;
    return true;
}

/* 64-bit FNV-1a of a header name: tells distinct names apart. */
static uint64_t name_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* What the head of a response says about its body. */
struct response_head {
    int status;
    bool chunked;                /* Transfer-Encoding contains "chunked" */
    bool has_length;             /* a Content-Length header (the last one counts) */
    bool length_valid;
    long long length;
};

/* Reads a status line "HTTP/d.d ddd..." and the header lines up to the
 * empty line. */
static bool read_head(struct exchange *x, struct response_head *h)
{
    char *line;
    size_t len;
    if (!read_line(x, &line, &len))
        return false;
    if (len < 12 || memcmp(line, "HTTP/", 5) != 0 || !is_digit(line[5]) || line[6] != '.'
        || !is_digit(line[7]) || line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10])
        || !is_digit(line[11]))
        return failed(x, FAIL_BAD, 0);
    *h = (struct response_head){ .status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0') };
    uint64_t names[MAX_HEADERS + 1];
    size_t n_names = 0;
    for (;;) {
        if (!read_line(x, &line, &len))
            return false;
        if (len == 0)
            return true;
        char *colon = memchr(line, ':', len);
        size_t key_len = colon ? (size_t)(colon - line) : len;
        size_t value_len = colon ? len - key_len - 1 : 0;
        char *key = strip(line, &key_len);
        char *value = strip(colon ? colon + 1 : line + len, &value_len);
        lower(key, key_len);
        lower(value, value_len);
        uint64_t hash = name_hash(key, key_len);
        bool seen = false;
        for (size_t i = 0; i < n_names && !seen; i++)
            seen = names[i] == hash;
        if (!seen) {
            names[n_names++] = hash;
            if (n_names > MAX_HEADERS)
                return failed(x, FAIL_BAD, 0);
        }
        if (key_len == 17 && memcmp(key, "transfer-encoding", 17) == 0)
            h->chunked = memmem(value, value_len, "chunked", 7) != NULL;
        if (key_len == 14 && memcmp(key, "content-length", 14) == 0) {
            h->has_length = true;
            h->length_valid = parse_integer(value, value_len, 10, &h->length);
        }
    }
}

/* Reads a chunked body: chunks up to the zero chunk, then the trailer. */
static bool read_chunked(struct exchange *x)
{
    char *line;
    size_t len;
    for (;;) {
        if (!read_line(x, &line, &len))
            return false;
        char *semi = memchr(line, ';', len);
        long long size;
        if (!parse_integer(line, semi ? (size_t)(semi - line) : len, 16, &size))
            return failed(x, FAIL_BAD, 0);
        if (size == 0) {
            do {
                if (!read_line(x, &line, &len))
                    return false;
            } while (len > 0);
            return true;
        }
        /* the chunk and its CRLF (a negative size: size + 2 bytes, when positive) */
        unsigned long long skip = size > 0 ? (unsigned long long)size + 2 : size == -1 ? 1 : 0;
        if (!skip_bytes(x, skip))
            return false;
    }
}

/* Reads one complete response (after any 1xx but 101); its status in
 * *status. */
static bool read_response(struct exchange *x, int *status)
{
    struct response_head h;
    do {
        if (!read_head(x, &h))
            return false;
    } while (h.status >= 100 && h.status < 200 && h.status != 101);
    *status = h.status;
    if (strcmp(W.method, "HEAD") == 0 || h.status == 204 || h.status == 304
        || (h.status >= 100 && h.status < 200))
        return true;
    if (h.chunked)
        return read_chunked(x);
    if (h.has_length) {
        if (!h.length_valid)
            return failed(x, FAIL_BAD, 0);
        return h.length > 0 ? skip_bytes(x, (unsigned long long)h.length) : true;
    }
    return read_to_eof(x);
}

/* ------------------------------------------------------------ one request */

/* Connects x->fd to address a before x->deadline; false with x->fail set
 * when it could not. */
static bool connected_before_deadline(struct exchange *x, const struct addrinfo *a)
{
    if (connect(x->fd, a->ai_addr, a->ai_addrlen) == 0)
        return true;
    if (errno != EINPROGRESS)
        return failed(x, FAIL_ERRNO, errno);
    if (!wait_ready(x, POLLOUT))
        return false;
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        err = errno;
    return err == 0 ? true : failed(x, FAIL_ERRNO, err);
}

/* Connects to W.host:W.port before x->deadline: every address in turn; the
 * last one's error counts. Sets x->fd, or x->fail. */
static bool connect_to(struct exchange *x)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    if (getaddrinfo(W.host, W.port_text, &hints, &res) != 0)
        return failed(x, FAIL_ERRNO, EHOSTUNREACH);
    x->fail = FAIL_ERRNO;
    x->err = EHOSTUNREACH;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        x->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (x->fd < 0) {
            failed(x, FAIL_ERRNO, errno);
            continue;
        }
        if (connected_before_deadline(x, a)) {
            x->fail = FAIL_NONE;
            break;
        }
        close(x->fd);
        x->fd = -1;
    }
    freeaddrinfo(res);
    return x->fail == FAIL_NONE;
}

/* The outcome of an exchange that stopped on x->fail, into out. */
static void classify(const struct exchange *x, bool connected, char *out, size_t size)
{
    int err = x->err;
    if (x->fail == FAIL_TIMEOUT || (x->fail == FAIL_ERRNO && err == ETIMEDOUT))
        snprintf(out, size, "timeout");
    else if (!connected)
        snprintf(out, size, "connect_failed");
    else if (x->fail == FAIL_BAD)
        snprintf(out, size, "bad_response");
    else if (x->fail == FAIL_EOF)
        snprintf(out, size, "%s", x->got ? "eof_mid" : "eof_before");
    else if (err == EPIPE || err == ESHUTDOWN)
        snprintf(out, size, "broken_pipe");
    else if (err == ECONNRESET)
        snprintf(out, size, "%s", x->got ? "reset_mid" : "reset_before");
    else if (strerrorname_np(err))
        snprintf(out, size, "error %s", strerrorname_np(err));
    else
        snprintf(out, size, "error %d", err);
}

/* One request on a new connection: the whole head and body are sent, then
 * the response is read. Its outcome into out; returns its seconds. */
static double one_request(char *buffer, char *out, size_t size, bool *complete)
{
    double t0 = now_s();
    struct exchange x = { .fd = -1, .deadline = t0 + W.timeout_s, .buf = buffer };
    int status = 0;
    bool connected = connect_to(&x);
    *complete = connected && send_request(&x) && read_response(&x, &status);
    if (*complete)
        snprintf(out, size, "status %d", status);
    else
        classify(&x, connected, out, size);
    if (x.fd >= 0)
        close(x.fd);
    return now_s() - t0;
}

/* Takes the next request index, waits for its slot under --rate, runs it and
 * prints its line; until every request is taken. */
static void *worker(void *unused)
{
    (void)unused;
    char *buffer = malloc(BUFFER_SIZE);
    if (!buffer) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        exit(1);
    }
    for (;;) {
        long long i = __atomic_fetch_add(&next_request, 1, __ATOMIC_RELAXED);
        if (i >= W.requests)
            break;
        if (W.rate > 0) {
            struct timespec at = to_timespec(start_time + (double)i / W.rate);
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
            }
        }
        char outcome[64];
        bool complete;
        double seconds = one_request(buffer, outcome, sizeof outcome, &complete);
        pthread_mutex_lock(&count_lock);
        complete_count += complete;
        printf("outcome %s ms %.3f\n", outcome, seconds * 1000.0);
        pthread_mutex_unlock(&count_lock);
    }
    free(buffer);
    return NULL;
}

/* ------------------------------------------------------------ options */

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", PROG);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    exit(2);
}

static long long whole_number(const char *name, const char *text, long long lo, long long hi)
{
    long long v;
    if (!parse_integer(text, strlen(text), 10, &v) || strchr(text, '_') || is_space(text[0]))
        usage_error("bad %s '%s': want a whole number", name, text);
    if (v < lo || v > hi)
        usage_error("bad %s '%s': must be from %lld to %lld", name, text, lo, hi);
    return v;
}

static double positive_number(const char *name, const char *text, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v > 0) || v > hi)
        usage_error("bad %s '%s': want a number more than 0 and at most %g", name, text, hi);
    return v;
}

static bool valid_method(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > 32 || !((m[0] >= 'A' && m[0] <= 'Z') || (m[0] >= 'a' && m[0] <= 'z')))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(is_digit(m[i]) || (m[i] >= 'A' && m[i] <= 'Z') || (m[i] >= 'a' && m[i] <= 'z')
              || m[i] == '_' || m[i] == '-'))
            return false;
    return true;
}

static bool valid_path(const char *p)
{
    if (p[0] != '/')
        return false;
    for (; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* Fills W from the command line; exits 0 after --help, 2 on bad usage. */
static void parse_options(int argc, char **argv)
{
    bool have_port = false;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(USAGE, stdout);
            exit(0);
        }
        static const char *const takes_value[] = { "--host", "--port", "--requests", "--concurrency",
                                                   "--body-size", "--method", "--path", "--rate",
                                                   "--timeout" };
        const char *name = NULL, *value = NULL;
        for (size_t k = 0; k < sizeof takes_value / sizeof *takes_value && !name; k++) {
            size_t n = strlen(takes_value[k]);
            if (strncmp(arg, takes_value[k], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
                name = takes_value[k];
                value = arg[n] == '=' ? arg + n + 1 : NULL;
            }
        }
        if (!name)
            usage_error(arg[0] == '-' ? "unknown option %s" : "unexpected argument '%s'", arg);
        if (!value) {
            if (i + 1 >= argc)
                usage_error("%s needs a value", name);
            value = argv[++i];
        }
        if (strcmp(name, "--host") == 0) {
            if (!*value)
                usage_error("bad --host: empty");
            W.host = value;
        } else if (strcmp(name, "--port") == 0) {
            snprintf(W.port_text, sizeof W.port_text, "%lld", whole_number(name, value, 1, 65535));
            have_port = true;
        } else if (strcmp(name, "--requests") == 0) {
            W.requests = whole_number(name, value, 1, 10000000);
        } else if (strcmp(name, "--concurrency") == 0) {
            W.concurrency = whole_number(name, value, 1, 4096);
        } else if (strcmp(name, "--body-size") == 0) {
            W.body_size = whole_number(name, value, 0, 64LL << 30);
        } else if (strcmp(name, "--method") == 0) {
            if (!valid_method(value))
                usage_error("bad --method '%s'", value);
            W.method = value;
        } else if (strcmp(name, "--path") == 0) {
            if (!valid_path(value))
                usage_error("bad --path '%s': want an absolute path without spaces", value);
            W.path = value;
        } else if (strcmp(name, "--rate") == 0) {
            W.rate = positive_number(name, value, 1e6);
        } else {
            W.timeout_s = positive_number(name, value, 86400);
        }
    }
    if (!have_port)
        usage_error("no --port");
}

/* The request head: the same for every request. */
static void build_head(void)
{
    bool with_body = W.body_size > 0 || strcmp(W.method, "POST") == 0 || strcmp(W.method, "PUT") == 0
                     || strcmp(W.method, "PATCH") == 0;
    char length[96] = "";
    if (with_body)
        snprintf(length, sizeof length, "Content-Type: application/octet-stream\r\nContent-Length: %lld\r\n",
                 W.body_size);
    const char *open = strchr(W.host, ':') ? "[" : "", *close_ = *open ? "]" : "";
    int n = asprintf(&W.head,
                     "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: linger-ab\r\nAccept: */*\r\n"
                     "%sConnection: close\r\n\r\n",
                     W.method, W.path, open, W.host, close_, W.port_text, length);
    if (n < 0) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        exit(1);
    }
    W.head_len = (size_t)n;
}

/* The body: "linger-ab upload " over and over. */
static void fill_body_block(void)
{
    static const char pattern[] = "linger-ab upload ";
    for (size_t i = 0; i < BLOCK_SIZE; i++)
        body_block[i] = pattern[i % (sizeof pattern - 1)];
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    build_head();
    fill_body_block();
    signal(SIGPIPE, SIG_IGN);    /* stdout too: a closed one is an error, not a signal */
    long long n_threads = W.concurrency < W.requests ? W.concurrency : W.requests;
    pthread_t *threads = calloc((size_t)n_threads, sizeof *threads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    if (!threads) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    start_time = now_s();
    for (long long i = 0; i < n_threads; i++) {
        int err = pthread_create(&threads[i], &attr, worker, NULL);
        if (err) {
            fprintf(stderr, "%s: cannot start thread %lld of %lld: %s\n", PROG, i + 1, n_threads,
                    strerror(err));
            exit(1);
        }
    }
    for (long long i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    printf("summary requests %lld complete %lld elapsed %.6f\n", W.requests, complete_count,
           now_s() - start_time);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write the results: %s\n", PROG, strerror(errno));
        return 1;
    }
    return 0;
}
