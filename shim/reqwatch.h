/* reqwatch.h - the read side of accepted sockets: the bytes the app
 * consumes go to the request scanner (reqscan.h) of the socket, kept in a
 * table beside the fd table, so that a close can ask whether a request
 * body is still unconsumed.
 *
 * Only sockets accepted here are watched, through the number accept gave
 * (reqw_adopt; its scanner is set up at the first read). A read through
 * another number of the socket (a dup) stops its scanner: linger cannot
 * follow both. The hot path is the same as the
 * send side's: one table lookup, the kind byte, a tail call; bytes inside
 * a body of known length are counted down without the scanner.
 */
#ifndef LINGER_REQWATCH_H
#define LINGER_REQWATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fdtable.h"
#include "reqscan.h"

#pragma GCC visibility push(hidden)

struct req_entry {
    struct req_state scan;     /* the request scanner */
    uint64_t skip;             /* bytes the hot path may still count down, plus one;
                                  0: ask the scanner (reqw_catch_up) */
    uint64_t ino;              /* the accepted socket this describes (fd_entry.ino) */
    uint32_t reader_mark;      /* fdt_writer_mark() at the last read the slow path saw */
    uint8_t responses_at_head; /* the response scanner's count when the last head ended */
    uint8_t heads;             /* scan.requests then (to see a head end) */
    uint8_t pad[2];
    uint64_t pad2;
};
_Static_assert(sizeof(struct req_entry) == 64, "struct req_entry is one cache line");

extern struct req_entry *rqt; /* fdt_size entries once reqw_init() ran; NULL before */

/* Maps the table beside the fd table (after fdt_init). 0, or -1: no
 * request scanning (the hooks then never look at reads). */
int reqw_init(void);

/* fd was just accepted: its reads go to a fresh scanner, set up at the
 * first one. */
void reqw_adopt(int fd);

/* True when fd's (entry e's) reads are watched and, since the last fork,
 * have been HTTP requests with no body still to come: no close of it
 * lingers for the request side's sake yet (the drainer need not run). */
int reqw_bodiless_so_far(int fd, const struct fd_entry *e);

/* Slow path of the read hooks: the app consumed n > 0 bytes of buf from
 * fd (entry e = &fdt[fd], not FK_IGNORED; rqt mapped). Keeps errno. */
void reqw_read_slow(int fd, struct fd_entry *e, const void *buf, size_t n);
ssize_t reqw_read_slow_r(int fd, struct fd_entry *e, const void *buf, ssize_t r);

/* The hot path's test for fd's entry e after the app consumed n bytes: 1
 * when nothing more is to be done (not a tracked socket, or bytes inside a
 * body, counted down here). */
static inline int reqw_read_done(int fd, struct fd_entry *e, size_t n)
{
    uint8_t k = atomic_load_explicit(&e->kind, memory_order_relaxed);
    if (k == FK_TRACKED) {
        struct req_entry *q = &rqt[fd];
        if (n < q->skip) {
            q->skip -= n;
            return 1;
        }
        return 0;
    }
    return k != FK_UNKNOWN && k != FK_ALIAS && k != FK_DECIDING;
}

/* For the read hooks of an fd inside the table (entry e; the tables
 * exist): the call returned r (bytes consumed, or -1) into buf; returns r,
 * so that a hook can end in it. */
static inline ssize_t reqw_read_entry(struct fd_entry *e, const void *buf, ssize_t r)
{
    int fd = (int)(e - fdt);
    if (r <= 0 || !rqt || reqw_read_done(fd, e, (size_t)r))
        return r;
    return reqw_read_slow_r(fd, e, buf, r);
}

/* The app consumed the first n bytes of an iovec array from fd. */
void reqw_read_iov(int fd, const struct iovec *iov, size_t cnt, size_t n);

/* The app consumed n bytes of fd that linger cannot see (MSG_TRUNC, a
 * splice out of the socket): counted when they fall inside a body of known
 * length, else the scanner stops. */
void reqw_read_unseen(int fd, size_t n);

/* The request side's word at the close of fd (entry e, held by the
 * caller): 1 when this process consumed fd's requests since it last forked
 * and a request body is not fully consumed, or the last head announced a
 * body and no response has been written since, or the connection speaks a
 * protocol of one request per connection (SCGI, uwsgi) and carried one.
 * Pure but for the tables. */
int reqw_wants_linger(int fd, const struct fd_entry *e);

#pragma GCC visibility pop

#endif
