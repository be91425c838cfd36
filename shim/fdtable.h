/* fdtable.h - what linger knows about each fd number, in one flat table.
 *
 * The table is indexed by fd, mapped once at load (lazily backed by the
 * kernel, so untouched entries cost nothing) and bounded by RLIMIT_NOFILE.
 * Readers take no locks: the hot path reads one byte (kind) and returns.
 * Fds at or beyond the bound are never tracked: linger passes them through.
 */
#ifndef LINGER_FDTABLE_H
#define LINGER_FDTABLE_H

#include <stdatomic.h>
#include <stdint.h>

#include "owner.h"
#include "scan.h"

#pragma GCC visibility push(hidden) /* direct, not GOT, access from the hooks */

/* What an fd number is, from linger's point of view. */
enum fd_kind {
    FK_UNKNOWN = 0, /* not classified yet (new, or reused after a close) */
    FK_IGNORED,     /* nothing to do: file, pipe, tty, UDP, listener, a socket this
                       process connected out (never touched) */
    FK_TRACKED,     /* a stream socket we scan: accepted or inherited */
    FK_ALIAS,       /* another number for a tracked socket (dup): see the ring */
    FK_LINGERING,   /* the shim's duplicate of a socket being drained */
    FK_CLOSING,     /* the drainer is closing it; the number may be reused any moment */
    FK_SHIM,        /* the shim's own fd (drainer epoll, wake-up, log file) */
    FK_DECIDING,    /* a tracked socket whose close one thread is deciding (the app's
                       close, or the exit): the others leave the entry alone */
};

/* How this process came to hold a socket. */
enum fd_origin {
    FO_UNSEEN = 0,  /* came by a way linger does not see (SCM_RIGHTS, a raw accept...) */
    FO_ACCEPTED,    /* accepted here */
    FO_CONNECTED,   /* connected out from here */
    FO_INHERITED,   /* open when linger loaded: passed on at exec */
};

/* Per-socket flags. */
#define FE_SAW_RESPONSE 0x01u /* this process sent a complete HTTP response head */
#define FE_SAW_CLOSE    0x02u /* ... and the last one had close semantics */
#define FE_APP_SHUT_WR  0x04u /* the app shut down the write side */
#define FE_APP_SHUT_RD  0x08u /* the app shut down the read side */
#define FE_UNIX         0x10u /* AF_UNIX stream socket */
#define FE_EPOLL_LOST   0x20u /* an epoll registration linger cannot remove: in more
                                 sets than we can record, or made through another
                                 number for the socket, closed since (the kernel
                                 keeps it while the file is open): no lingering */
#define FE_BLIND        0x40u /* unseen bytes (sendfile) were sent: stop scanning */
#define FE_MID_RESPONSE 0x80u /* a response head or body is partly written */
#define FE_MID_FRAMED   0x100u /* ... and its own bytes mark its end (a head, a Content-Length
                                  or chunked body): scan_in_framed_response */
/* FK_LINGERING only (the bit is FE_SAW_RESPONSE's, which only a tracked
 * socket has): no unread bytes were seen at its close (or nobody looked);
 * the drainer counts a reset avoided when it discards its first bytes. */
#define FE_COUNT_FIRST_BYTES FE_SAW_RESPONSE

#define FD_EPOLL_SLOTS 2

/* A listener's accepted sockets, learnt at its first accept (fd_entry.listener). */
#define LI_KNOWN        0x01u /* the bits below are set */
#define LI_TRACKABLE    0x02u /* stream sockets of AF_INET, AF_INET6 or AF_UNIX */
#define LI_UNIX         0x04u /* ... of AF_UNIX */
#define LI_RESETS       0x08u /* SO_LINGER on with 0 s: its accepts inherit an abortive close */
#define LI_LOWAT        0x10u /* SO_RCVLOWAT above 1 (or unknown): its accepts inherit it */

struct fd_entry {
    _Atomic uint8_t kind;         /* enum fd_kind */
    uint8_t origin;               /* enum fd_origin */
    uint8_t listener;             /* LI_*: what a listening socket's accepts give; for an
                                     accepted socket, what its listener gave it */
    uint16_t flags;               /* FE_*: see fdt_flags() */
    uint32_t writer_gen;          /* fdt_writer_mark() at the last write seen (0: none) */
    int32_t ring_next;            /* next number for the same socket, + 1 (0: alone) */
    int32_t epfds[FD_EPOLL_SLOTS];/* epoll sets the app added this fd to, + 1 (0: empty) */
    uint64_t ino;                 /* socket inode: tells a reused number apart */
    union {
        struct scan_state scan;   /* FK_TRACKED: the response scanner */
        int32_t handover_next;    /* FK_LINGERING, until the drainer takes it */
    } u;
    uint64_t skip;                /* FK_TRACKED: bytes the hot path may still skip by count,
                                     plus one; 0: ask the scanner (fdt_scanner_catch_up) */
};
_Static_assert(sizeof(struct fd_entry) == 64, "struct fd_entry is one cache line");

extern struct fd_entry *fdt;      /* NULL until fdt_init() */
extern unsigned fdt_size;         /* number of entries */
extern uint32_t fdt_gen;          /* this process's generation: bumped in a fork child */

/* The entries that may hold state are the low range [0, fdt_high) and the
 * shim's range [fdt_own_base, fdt_own_high), where ownfd.c keeps its fds;
 * scans visit only those (see fdt_next). */
extern unsigned fdt_own_base;     /* set by ownfd_init(); UINT_MAX before */
extern _Atomic unsigned fdt_high;     /* one past the highest touched fd below fdt_own_base */
extern _Atomic unsigned fdt_own_high; /* one past the highest touched fd at or above it */

/* Maps the table, sized from RLIMIT_NOFILE. Returns 0, or -1 (linger off). */
int fdt_init(void);

/* The entry for fd, or NULL when fd is outside the table. */
static inline struct fd_entry *fdt_get(int fd)
{
    return ((unsigned)fd < fdt_size) ? &fdt[fd] : (struct fd_entry *)0;
}

/* The kind for the hot path: a relaxed load (see fdt_passes below). */
static inline enum fd_kind fdt_kind_relaxed(const struct fd_entry *e)
{
    return (enum fd_kind)atomic_load_explicit(&e->kind, memory_order_relaxed);
}

/* Hot path: true when fd is in the table and linger has nothing to do with
 * its sends (FK_IGNORED): the hook just calls the real function. A relaxed
 * load: the kind of a number the caller holds changes only in calls on it. */
static inline int fdt_passes(int fd)
{
    return (unsigned)fd < fdt_size && fdt_kind_relaxed(&fdt[fd]) == FK_IGNORED;
}

static inline enum fd_kind fdt_kind(const struct fd_entry *e)
{
    return (enum fd_kind)atomic_load_explicit(&e->kind, memory_order_acquire);
}

static inline void fdt_set_kind(struct fd_entry *e, enum fd_kind k)
{
    atomic_store_explicit(&e->kind, (uint8_t)k, memory_order_release);
}

/* Claims e for a close decision: kind from -> to, atomically. 1 if this
 * thread won; 0 when the kind was not `from` (another thread has it). */
static inline int fdt_claim(struct fd_entry *e, enum fd_kind from, enum fd_kind to)
{
    uint8_t expect = (uint8_t)from;
    return atomic_compare_exchange_strong_explicit(&e->kind, &expect, (uint8_t)to,
                                                   memory_order_acq_rel, memory_order_acquire);
}

/* Waits a bounded while (about 10 ms at most: 16 yields, then 48 naps of
 * 100 us) for another thread to finish deciding e's close. Returns e's kind
 * then: FK_DECIDING if it did not. */
enum fd_kind fdt_settle(struct fd_entry *e);

/* A tracked socket's flags and writer generation are read by the exit path
 * in another thread while the app's threads update them: relaxed atomics
 * (plain loads and stores on x86; the updates are locked only when a flag
 * changes, which is once per response head or end). */
static inline unsigned fdt_flags(const struct fd_entry *e)
{
    return __atomic_load_n(&e->flags, __ATOMIC_RELAXED);
}

/* Clears the `clear` bits, then sets the `set` bits (an observer in between
 * sees fewer claims, never more: MID_RESPONSE and SAW_CLOSE go first). */
static inline void fdt_update_flags(struct fd_entry *e, unsigned set, unsigned clear)
{
    unsigned old = fdt_flags(e);
    if (clear & old)
        __atomic_fetch_and(&e->flags, (uint16_t)~clear, __ATOMIC_RELAXED);
    if (set & ~old)
        __atomic_fetch_or(&e->flags, (uint16_t)set, __ATOMIC_RELAXED);
}

/* The epoll set in slot i (+ 1; 0: empty). */
static inline int fdt_epoll_slot(const struct fd_entry *e, int i)
{
    return __atomic_load_n(&e->epfds[i], __ATOMIC_RELAXED);
}

static inline uint32_t fdt_writer_gen(const struct fd_entry *e)
{
    return __atomic_load_n(&e->writer_gen, __ATOMIC_RELAXED);
}

static inline void fdt_set_writer_gen(struct fd_entry *e, uint32_t gen)
{
    __atomic_store_n(&e->writer_gen, gen, __ATOMIC_RELAXED);
}

/* The children this process forked in this generation (fdt_note_fork):
 * on the page a fork child starts zeroed (owner.h), where the parent's
 * count never faults. */
static inline uint32_t fdt_fork_count(void)
{
    return atomic_load_explicit(&fork_fresh->forks, memory_order_relaxed);
}

/* What a write records in writer_gen: this process's generation (high 16
 * bits) and how many children it had forked then (low 16). */
static inline uint32_t fdt_writer_mark(void)
{
    return ((fdt_gen & 0xffffu) << 16) | (fdt_fork_count() & 0xffffu);
}

/* True when writer mark wm was recorded by this process (at any time). */
static inline int fdt_written_here(uint32_t wm)
{
    return wm != 0 && (wm >> 16) == (fdt_gen & 0xffffu);
}

/* Raises *mark to at least want. */
static inline void fdt_raise(_Atomic unsigned *mark, unsigned want)
{
    unsigned cur = atomic_load_explicit(mark, memory_order_relaxed);
    while (cur < want && !atomic_compare_exchange_weak_explicit(mark, &cur, want,
                                                                 memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Records that fd's entry may be non-zero (for bounded scans of the table). */
static inline void fdt_touch(int fd)
{
    if ((unsigned)fd >= fdt_own_base)
        fdt_raise(&fdt_own_high, (unsigned)fd + 1);
    else
        fdt_raise(&fdt_high, (unsigned)fd + 1);
}

/* fd's entry is all zero again and fd is still open (no one else can take
 * the number meanwhile): when it was the highest touched, the scans stop
 * below it again. A fork server's shim range then holds nothing once its
 * channel's receiving end went to the drainer process, and its children's
 * scans (at the fork, at the exit) touch no page there: on a VM with
 * shadow page tables, a child's first touch of a 2 MB region costs 30-90
 * microseconds (forkmap.h). */
static inline void fdt_untouch_top(int fd)
{
    unsigned top = (unsigned)fd + 1;
    _Atomic unsigned *mark = (unsigned)fd >= fdt_own_base ? &fdt_own_high : &fdt_high;
    atomic_compare_exchange_strong_explicit(mark, &top, (unsigned)fd, memory_order_relaxed, memory_order_relaxed);
}

/* True when fd's entry may hold state. */
static inline int fdt_touched(int fd)
{
    unsigned u = (unsigned)fd;
    return u < atomic_load_explicit(&fdt_high, memory_order_relaxed)
        || (u >= fdt_own_base && u < atomic_load_explicit(&fdt_own_high, memory_order_relaxed));
}

/* True when e records nothing: FK_UNKNOWN and all zero, as fdt_reset_entry
 * leaves it (a file linger never looked at). The kind is read first, with
 * acquire (the last reset's release store came before its zeros): the
 * entries the drainer writes are never FK_UNKNOWN. */
static inline int fdt_entry_blank(struct fd_entry *e)
{
    if (atomic_load_explicit(&e->kind, memory_order_acquire) != FK_UNKNOWN)
        return 0;
    const uint64_t *w = (const uint64_t *)e;
    _Static_assert(sizeof *e == 8 * sizeof *w, "eight words");
    return ((w[0] | w[1]) | (w[2] | w[3]) | (w[4] | w[5]) | (w[6] | w[7])) == 0;
}

/* True when the close of fd (entry e) has nothing to forget: its entry
 * was never touched, or is blank. A blank one is released as
 * fdt_reset_entry's last store releases it (a compare-and-swap of its kind,
 * unchanged), so that the number's next owner, whose reset starts with an
 * acquire load of the kind, comes after this look; one whose kind another
 * thread changed meanwhile is not blank after all. */
static inline int fdt_nothing_to_forget(int fd, struct fd_entry *e)
{
    if (!fdt_touched(fd))
        return 1;
    if (!fdt_entry_blank(e))
        return 0;
    uint8_t unknown = FK_UNKNOWN;
    return atomic_compare_exchange_strong_explicit(&e->kind, &unknown, (uint8_t)FK_UNKNOWN, memory_order_release,
                                                   memory_order_relaxed);
}

/* The next fd after fd whose entry may hold state, or -1: visits every
 * touched entry from fdt_next(-1) on, skipping the untouched middle. */
static inline int fdt_next(int fd)
{
    unsigned n = (unsigned)(fd + 1);
    if (n < atomic_load_explicit(&fdt_high, memory_order_relaxed))
        return (int)n;
    if (n < fdt_own_base)
        n = fdt_own_base;
    return n < atomic_load_explicit(&fdt_own_high, memory_order_relaxed) ? (int)n : -1;
}

/* The same, within the shim's range only (where lingering duplicates live). */
static inline int fdt_next_own(int fd)
{
    unsigned n = (unsigned)(fd + 1);
    if (n < fdt_own_base)
        n = fdt_own_base;
    return n < atomic_load_explicit(&fdt_own_high, memory_order_relaxed) ? (int)n : -1;
}

/* The hot path counts body bytes down in e->skip and tells the scanner at
 * its next look (0: nothing to tell; in a body the count never reaches 0,
 * the last byte always goes to the scanner). */
static inline void fdt_scanner_catch_up(struct fd_entry *e)
{
    if (e->skip)
        scan_skipped(&e->u.scan, scan_skippable(&e->u.scan) - e->skip);
}

/* In a fork child: a new writer generation. Every socket's scanner catches
 * up and its skip count drops to 0, so this process's first write on each
 * goes through the slow path, which records it as the writer; a claim made
 * by a parent's thread (FK_DECIDING) goes back to FK_TRACKED. (The ring
 * locks: fdt_ring_locks_reset.) */
void fdt_new_generation(void);

/* In the parent, after it made a child that copies its fds: counts it. */
void fdt_note_fork(void);

/* Forgets everything about fd: the number is closed or about to be reused. */
void fdt_forget(int fd);

/* Starts a fresh entry for a socket fd that this process just got. */
void fdt_adopt_socket(int fd, enum fd_origin origin);

/* Classifies an UNKNOWN fd (one fstat, plus getsockopt for sockets) and
 * returns its new kind. */
enum fd_kind fdt_classify(int fd, struct fd_entry *e);

/* LI_* for listening socket fd: four getsockopt calls at its first accept,
 * then the cached answer (forgotten with fd). 0 when fd is outside the table. */
unsigned fdt_listener_info(int fd);

/* Classifies fd, just accepted from a listener with info li, with one fstat:
 * FK_TRACKED when li says its sockets are trackable; else it stays UNKNOWN. */
void fdt_classify_accepted(int fd, struct fd_entry *e, unsigned li);

/* Records that fd was added to / removed from epoll set epfd. */
void fdt_epoll_added(int fd, int epfd);
void fdt_epoll_removed(int fd, int epfd);

/* True when fd still refers to the socket the entry describes. */
int fdt_same_socket(int fd, const struct fd_entry *e);

/* The same, by a raw fstat (the same struct stat on x86-64 and arm64, the
 * two raw_syscall knows), for a fork child that hands its sockets over:
 * libc's fstat lies on a page of libc's code that such a child would map
 * in for it alone, with shutdown and sendmsg (forkmap.h). Elsewhere the
 * shim calls libc's, which the app and the tests may interpose. */
int fdt_same_socket_raw(int fd, const struct fd_entry *e);

/* True when fd holds the file whose inode the entry recorded (any type). */
int fdt_same_file(int fd, const struct fd_entry *e);

/* For fdring.c: clears what an entry says about its socket, but for its
 * kind and link; clears it all for a new life of its number (kind
 * FK_UNKNOWN); the i-th pause of a bounded wait (16 yields, then naps of
 * 100 us), FDT_PAUSES at most (about 10 ms in all). */
void fdt_clear_state(struct fd_entry *e);
void fdt_reset_entry(struct fd_entry *e);
void fdt_pause(int i);
#define FDT_PAUSES 64

#pragma GCC visibility pop

#endif
