/* reqwatch.c - the read side of accepted sockets (see reqwatch.h). */
#include "reqwatch.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "drainer.h"
#include "fdring.h"
#include "forkchan.h"
#include "pages.h"

struct req_entry *rqt;

int reqw_init(void)
{
    if (!fdt || rqt)
        return rqt ? 0 : -1;
    size_t bytes = (size_t)fdt_size * sizeof(struct req_entry);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    rqt = p;
    return 0;
}

LINGER_WARM void reqw_adopt(int fd)
{
    if (!rqt || (unsigned)fd >= fdt_size)
        return;
    /* the hot path reads skip before anything else: no count left from
     * the number's last life. The rest waits for the first read (watch):
     * a fork-per-connection parent, which accepts and never reads, then
     * writes nothing here, and no page it shares with its last child is
     * copied. The store only if needed, for the same reason. */
    if (rqt[fd].skip)
        rqt[fd].skip = 0;
}

/* The hot path counts body bytes down in q->skip and tells the scanner at
 * its next look (0: nothing to tell; the count never reaches 0 inside a
 * body: the last byte always goes to the scanner). */
static void catch_up(struct req_entry *q)
{
    if (q->skip) {
        req_skipped(&q->scan, req_skippable(&q->scan) - q->skip);
        q->skip = 0;
    }
}

/* fd's request entry when fd is the number of an accepted socket whose
 * reads are watched (the entry's socket is the one accepted); NULL else. */
static struct req_entry *watched(int fd, const struct fd_entry *e)
{
    if (!rqt || (unsigned)fd >= fdt_size)
        return NULL;
    struct req_entry *q = &rqt[fd];
    uint64_t ino = __atomic_load_n(&e->ino, __ATOMIC_RELAXED);
    return (ino != 0 && q->ino == ino) ? q : NULL;
}

/* fd's request entry as watched(), started fresh when the socket was
 * accepted here and nothing read it yet (reqw_adopt leaves the rest to the
 * first read); NULL when it is not watched. */
static LINGER_HOT struct req_entry *watch(int fd, const struct fd_entry *e)
{
    struct req_entry *q = watched(fd, e);
    uint64_t ino = __atomic_load_n(&e->ino, __ATOMIC_RELAXED);
    if (q || !rqt || (unsigned)fd >= fdt_size || e->origin != FO_ACCEPTED || ino == 0)
        return q;
    q = &rqt[fd];
    req_init(&q->scan);
    q->skip = 0;
    q->reader_mark = 0;
    q->responses_at_head = 0;
    q->heads = 0;
    q->ino = ino;
    return q;
}

/* A read through another number of fd's socket: the scanner, which that
 * read bypasses, stops (its leader's, and this number's). */
static void stop_for_alias(int fd)
{
    struct fd_entry *lead = fdt_ring_leader(fd);
    struct req_entry *q;
    if (lead && (q = watch((int)(lead - fdt), lead))) {
        q->skip = 0;
        req_lose(&q->scan);
    }
    if ((q = watched(fd, &fdt[fd]))) {
        q->skip = 0;
        req_lose(&q->scan);
    }
}

/* Starts the drainer thread (forkchan_want_drainer). Keeps errno. */
static void start_drainer(void)
{
    int saved = errno;
    forkchan_want_drainer();
    errno = saved;
}

/* True while the requests s has seen are plain HTTP, none with a body
 * still to come: nothing on the read side may make the close linger yet. */
static int bodiless_http(const struct req_state *s)
{
    return s->proto == REQ_PROTO_HTTP && !(s->flags & RQ_IN_BODY) && !req_is_stopped(s);
}

LINGER_HOT int reqw_bodiless_so_far(int fd, const struct fd_entry *e)
{
    const struct req_entry *q = watched(fd, e);
    return q && q->reader_mark == fdt_writer_mark() && bodiless_http(&q->scan);
}

/* fd's kind when it is not FK_TRACKED already: waits for another
 * thread's close decision, classifies a new fd, stops the scanners an
 * alias's read bypasses. Makes syscalls, but keeps errno. */
static LINGER_WARM enum fd_kind settle_reader(int fd, struct fd_entry *e, enum fd_kind k)
{
    int saved = errno;
    if (k == FK_DECIDING) /* another thread decides its close: see how that ends */
        k = fdt_settle(e);
    if (k == FK_UNKNOWN)
        k = fdt_classify(fd, e);
    if (k == FK_ALIAS)
        stop_for_alias(fd);
    errno = saved;
    return k;
}

/* The entry of fd (classifying it if new) when its reads are watched;
 * notes this process as their reader. Keeps errno: only the rare branches
 * make calls that may set it, and they restore it. */
static inline struct req_entry *tracked_reader(int fd, struct fd_entry *e)
{
    enum fd_kind k = fdt_kind(e);
    if (k != FK_TRACKED && settle_reader(fd, e, k) != FK_TRACKED)
        return NULL;
    struct req_entry *q = watch(fd, e);
    uint32_t mark = fdt_writer_mark();
    if (q && q->reader_mark != mark) {
        q->reader_mark = mark;
        if (forkchan_drainer_starts_early())
            start_drainer();
    }
    return q;
}

/* After the scanner looked: a head that ended notes the response count
 * (to tell later whether a response followed it); what may be skipped. */
static LINGER_HOT void after_feed(struct req_entry *q, const struct fd_entry *e)
{
    if (q->scan.requests != q->heads) {
        q->heads = q->scan.requests;
        q->responses_at_head = e->u.scan.responses;
    }
    q->skip = req_skippable(&q->scan);
    /* a body to come, or a stream that is not plain HTTP requests: the
     * close may linger on this side alone, the drainer must be up by then */
    if (!bodiless_http(&q->scan) && !drainer_accepting())
        start_drainer();
}

/* True when fd's entry q is the one tracked_reader would return with
 * nothing to do first: fd tracked, q watching its socket, this process
 * its reader already (the read of a keep-alive connection's next request). */
static inline int known_reader(const struct req_entry *q, const struct fd_entry *e)
{
    uint64_t ino = __atomic_load_n(&e->ino, __ATOMIC_RELAXED);
    return fdt_kind(e) == FK_TRACKED && ino != 0 && q->ino == ino && q->reader_mark == fdt_writer_mark();
}

/* reqw_read_slow_r in general: finds (or sets up) fd's scanner and feeds it. */
static LINGER_HOT __attribute__((noinline)) ssize_t read_any(int fd, struct fd_entry *e, const void *buf, ssize_t r)
{
    struct req_entry *q = tracked_reader(fd, e); /* keeps errno; the scanner makes no calls */
    if (q && !req_is_stopped(&q->scan)) {
        catch_up(q);
        req_feed(&q->scan, buf, (size_t)r);
        after_feed(q, e);
    }
    return r;
}

LINGER_HOT ssize_t reqw_read_slow_r(int fd, struct fd_entry *e, const void *buf, ssize_t r)
{
    /* the common read: the next request of a keep-alive HTTP connection
     * this process reads already, nothing counted by the hot path to tell
     * (the callers checked rqt and fd's place in the table) */
    struct req_entry *q = &rqt[fd];
    if (!__builtin_expect(known_reader(q, e) && q->skip == 0 && q->scan.proto == REQ_PROTO_HTTP
                              && !req_is_stopped(&q->scan), 1))
        return read_any(fd, e, buf, r);
    req_http_feed(&q->scan, buf, (size_t)r); /* req_feed's own step, r > 0 */
    after_feed(q, e);
    return r;
}

LINGER_WARM void reqw_read_slow(int fd, struct fd_entry *e, const void *buf, size_t n)
{
    reqw_read_slow_r(fd, e, buf, (ssize_t)n);
}

LINGER_WARM void reqw_read_iov(int fd, const struct iovec *iov, size_t cnt, size_t n)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || !rqt)
        return;
    for (size_t i = 0; i < cnt && n > 0; i++) {
        size_t part = iov[i].iov_len < n ? iov[i].iov_len : n;
        if (part && !reqw_read_done(fd, e, part))
            reqw_read_slow(fd, e, iov[i].iov_base, part);
        n -= part;
    }
}

LINGER_WARM void reqw_read_unseen(int fd, size_t n)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || !rqt)
        return;
    int saved = errno;
    struct req_entry *q = tracked_reader(fd, e);
    if (q && !req_is_stopped(&q->scan)) {
        catch_up(q);
        if (n < req_skippable(&q->scan))
            req_skipped(&q->scan, n);
        else
            req_lose(&q->scan); /* past the body: what came next is unknown */
        q->skip = req_skippable(&q->scan);
    }
    errno = saved;
}

LINGER_HOT int reqw_wants_linger(int fd, const struct fd_entry *e)
{
    const struct req_entry *q = watched(fd, e);
    if (!q || q->reader_mark != fdt_writer_mark())
        return 0; /* not read here since the last fork: a child may serve it */
    struct req_state s = q->scan;
    if (q->skip)
        req_skipped(&s, req_skippable(&s) - q->skip);
    if (req_body_pending(&s))
        return 1;
    /* SCGI and uwsgi carry one request per connection: the server's close
     * ends its answer, as `Connection: close` does in HTTP (whatever the
     * answer's head says, and even once the bytes after the request were
     * not understood: nginx streams more body than the CONTENT_LENGTH it
     * sent when scgi_request_buffering is off) */
    if ((s.proto == REQ_PROTO_SCGI || s.proto == REQ_PROTO_UWSGI) && s.requests > 0)
        return 1;
    if (!req_announced_body(&s))
        return 0;
    /* a head announced a body, all consumed: lingers while no response
     * has been seen since (none at all, none begun, the scanner still
     * counting: one it cannot read, or 255 of them, is taken as sent) */
    const struct scan_state *r = &e->u.scan;
    return !scan_is_done(r) && q->responses_at_head < 255 && r->responses == q->responses_at_head
        && !(fdt_flags(e) & FE_MID_RESPONSE) && scan_between_responses(r);
}
