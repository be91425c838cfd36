/* fdtable.c - the per-fd table (see fdtable.h). */
#include "fdtable.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "real.h"

struct fd_entry *fdt;
unsigned fdt_size;
uint32_t fdt_gen = 1;
_Atomic uint32_t fdt_forks;
unsigned fdt_own_base = ~0u;
_Atomic unsigned fdt_high;
_Atomic unsigned fdt_own_high;

/* Entries at most: 2^20 fds, 64 MiB of address space, touched on demand. */
#define FDT_MAX_ENTRIES (1u << 20)

int fdt_init(void)
{
    struct rlimit rl;
    rlim_t want = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        want = rl.rlim_max > rl.rlim_cur ? rl.rlim_max : rl.rlim_cur;
    if (want > FDT_MAX_ENTRIES || want == RLIM_INFINITY)
        want = FDT_MAX_ENTRIES;
    if (want < 64)
        want = 64;
    size_t bytes = (size_t)want * sizeof(struct fd_entry);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    fdt = p;
    fdt_size = (unsigned)want;
    return 0;
}

/* Clears an entry for a new life of its fd number. The acquire load orders
 * this after everything the previous owner of the number did to the entry
 * (its last act was a release store of kind: here, or the drainer's CAS);
 * the kernel already orders the two lives through close and reuse. */
static void reset_entry(struct fd_entry *e)
{
    (void)atomic_load_explicit(&e->kind, memory_order_acquire);
    e->origin = FO_UNSEEN;
    __atomic_store_n(&e->listener, 0, __ATOMIC_RELAXED);
    e->flags = 0;
    e->writer_gen = 0;
    e->ring_next = 0;
    e->epfds[0] = e->epfds[1] = 0;
    e->ino = 0;
    memset(&e->u, 0, sizeof e->u);
    e->skip = 0;
    fdt_set_kind(e, FK_UNKNOWN);
}

void fdt_forget(int fd)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    if (!fdt_touched(fd))
        return; /* never touched: keep the page clean */
    reset_entry(e);
}

void fdt_adopt_socket(int fd, enum fd_origin origin)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    reset_entry(e);
    e->origin = (uint8_t)origin;
    fdt_touch(fd);
}

enum fd_kind fdt_classify(int fd, struct fd_entry *e)
{
    int saved = errno;
    struct stat st;
    enum fd_kind kind = FK_IGNORED;
    int type = 0, domain = 0, listening = 0;
    socklen_t len = sizeof(int);
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)
        && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM
        && (len = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len)) == 0
        && (domain == AF_INET || domain == AF_INET6 || domain == AF_UNIX)
        && (len = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len)) == 0
        && !listening) {
        kind = e->origin == FO_CONNECTED ? FK_IGNORED : FK_TRACKED;
        e->ino = (uint64_t)st.st_ino;
        if (domain == AF_UNIX)
            fdt_update_flags(e, FE_UNIX, 0);
    }
    fdt_touch(fd);
    fdt_set_kind(e, kind);
    errno = saved;
    return kind;
}

void fdt_note_fork(void)
{
    atomic_fetch_add_explicit(&fdt_forks, 1, memory_order_relaxed);
}

void fdt_new_generation(void)
{
    fdt_gen++;
    atomic_store_explicit(&fdt_forks, 0, memory_order_relaxed);
    for (int fd = fdt_next(-1); fd >= 0 && (unsigned)fd < fdt_own_base; fd = fdt_next(fd)) {
        struct fd_entry *e = &fdt[fd];
        /* a claim's thread did not come along: the socket is as it was */
        fdt_claim(e, FK_DECIDING, FK_TRACKED);
        if (e->skip) {
            fdt_scanner_catch_up(e);
            e->skip = 0;
        }
    }
}

unsigned fdt_listener_info(int fd)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return 0;
    /* threads accepting on one listener may fill it in together, alike */
    unsigned li = __atomic_load_n(&e->listener, __ATOMIC_RELAXED);
    if (li & LI_KNOWN)
        return li;
    int saved = errno;
    int type = 0, domain = 0;
    socklen_t len = sizeof(int);
    li = LI_KNOWN;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM
        && (len = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len)) == 0
        && (domain == AF_INET || domain == AF_INET6 || domain == AF_UNIX))
        li |= LI_TRACKABLE | (domain == AF_UNIX ? LI_UNIX : 0);
    struct linger l = { 0, 0 };
    len = sizeof l;
    if ((li & LI_TRACKABLE) && (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) != 0 || (l.l_onoff && !l.l_linger)))
        li |= LI_RESETS;
    int lowat = 1;
    len = sizeof lowat;
    if ((li & LI_TRACKABLE) && (getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len) != 0 || lowat > 1))
        li |= LI_LOWAT;
    errno = saved;
    fdt_touch(fd);
    __atomic_store_n(&e->listener, (uint8_t)li, __ATOMIC_RELAXED);
    return li;
}

void fdt_classify_accepted(int fd, struct fd_entry *e, unsigned li)
{
    if (!(li & LI_TRACKABLE))
        return;
    int saved = errno;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
        e->ino = (uint64_t)st.st_ino;
        if (li & LI_UNIX)
            fdt_update_flags(e, FE_UNIX, 0);
        fdt_set_kind(e, FK_TRACKED);
    }
    errno = saved;
}

void fdt_epoll_added(int fd, int epfd)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    for (int i = 0; i < FD_EPOLL_SLOTS; i++)
        if (fdt_epoll_slot(e, i) == epfd + 1)
            return;
    for (int i = 0; i < FD_EPOLL_SLOTS; i++)
        if (fdt_epoll_slot(e, i) == 0) {
            __atomic_store_n(&e->epfds[i], epfd + 1, __ATOMIC_RELAXED);
            fdt_touch(fd);
            return;
        }
    fdt_update_flags(e, FE_EPOLL_LOST, 0);
}

void fdt_epoll_removed(int fd, int epfd)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    for (int i = 0; i < FD_EPOLL_SLOTS; i++)
        if (fdt_epoll_slot(e, i) == epfd + 1)
            __atomic_store_n(&e->epfds[i], 0, __ATOMIC_RELAXED);
}

int fdt_same_socket(int fd, const struct fd_entry *e)
{
    struct stat st;
    int saved = errno;
    int same = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && (uint64_t)st.st_ino == e->ino;
    errno = saved;
    return same;
}

int fdt_same_file(int fd, const struct fd_entry *e)
{
    struct stat st;
    int saved = errno;
    int same = fstat(fd, &st) == 0 && (uint64_t)st.st_ino == e->ino;
    errno = saved;
    return same;
}

enum fd_kind fdt_settle(struct fd_entry *e)
{
    enum fd_kind k;
    for (int i = 0; (k = fdt_kind(e)) == FK_DECIDING && i < 64; i++) {
        if (i < 16) {
            raw_syscall(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
        } else {
            struct timespec nap = { 0, 100000 };
            raw_syscall(SYS_nanosleep, (long)&nap, 0, 0, 0, 0, 0);
        }
    }
    return k;
}

/* The member holding a ring's scanner: TRACKED, or being decided at exit. */
static int is_leader_kind(enum fd_kind k)
{
    return k == FK_TRACKED || k == FK_DECIDING;
}

/* True when e's number was added to an epoll set the app did not remove it
 * from (or to more than linger could record). */
static int has_epoll_registrations(const struct fd_entry *e)
{
    if (fdt_flags(e) & FE_EPOLL_LOST)
        return 1;
    for (int i = 0; i < FD_EPOLL_SLOTS; i++)
        if (fdt_epoll_slot(e, i))
            return 1;
    return 0;
}

/* Marks every member of fd's ring FE_EPOLL_LOST. A member's number is closed
 * while others still hold the socket: the kernel keeps an epoll registration
 * made through that number as long as the file is open (epoll(7)), and
 * EPOLL_CTL_DEL needs that number, which is gone. Whichever member closes
 * last must then close plainly: a lingering copy would keep the app's
 * registration - and its events, with the app's data - alive after the app
 * closed every number. */
static void ring_mark_epoll_lost(int fd)
{
    int cur = fd;
    for (int steps = 0; steps < 64; steps++) {
        fdt_update_flags(&fdt[cur], FE_EPOLL_LOST, 0);
        int next = fdt[cur].ring_next - 1;
        if (next < 0 || next == fd || (unsigned)next >= fdt_size)
            break;
        cur = next;
    }
}

/* True when member fd still belongs to the ring of socket ino. */
static int ring_member_valid(int fd, uint64_t ino)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return 0;
    enum fd_kind k = fdt_kind(e);
    return (k == FK_TRACKED || k == FK_ALIAS || k == FK_DECIDING) && e->ino == ino && fdt_same_socket(fd, e);
}

/* True when the entry of member fd, closed unseen, still records socket
 * ino and epoll registrations made through its number. */
static int stale_member_registered(int fd, uint64_t ino)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || e->ino != ino)
        return 0;
    enum fd_kind k = fdt_kind(e);
    return (k == FK_TRACKED || k == FK_ALIAS || k == FK_DECIDING) && has_epoll_registrations(e);
}

/* Walks fd's ring, unlinking members that are no longer valid. Returns the
 * number of other valid members; *leader is the TRACKED one, or -1. A
 * member closed unseen whose number was in an epoll set leaves that
 * registration behind: the ring is marked FE_EPOLL_LOST. */
static int ring_prune(int fd, int *leader)
{
    struct fd_entry *self = &fdt[fd];
    int others = 0, prev = fd, lost = 0;
    *leader = is_leader_kind(fdt_kind(self)) ? fd : -1;
    for (int steps = 0; self->ring_next && steps < 64; steps++) {
        int cur = fdt[prev].ring_next - 1;
        if (cur == fd)
            break;
        if (!ring_member_valid(cur, self->ino)) { /* closed unseen: unlink it */
            lost |= stale_member_registered(cur, self->ino);
            int after = (unsigned)cur < fdt_size ? fdt[cur].ring_next : 0;
            if ((unsigned)cur < fdt_size)
                fdt[cur].ring_next = 0;
            fdt[prev].ring_next = after ? after : fd + 1;
            continue;
        }
        others++;
        if (is_leader_kind(fdt_kind(&fdt[cur])))
            *leader = cur;
        prev = cur;
    }
    if (others == 0)
        self->ring_next = 0;
    if (lost)
        ring_mark_epoll_lost(fd);
    return others;
}

void fdt_ring_join(int oldfd, int newfd)
{
    struct fd_entry *src = fdt_get(oldfd), *dst = fdt_get(newfd);
    if (!src || !dst)
        return;
    int leader;
    ring_prune(oldfd, &leader);
    reset_entry(dst);
    dst->origin = src->origin;
    dst->listener = src->listener;
    dst->flags = (uint16_t)fdt_flags(src);
    dst->ino = src->ino;
    dst->writer_gen = fdt_writer_gen(src);
    dst->ring_next = src->ring_next ? src->ring_next : oldfd + 1;
    src->ring_next = newfd + 1;
    fdt_touch(newfd);
    fdt_set_kind(dst, FK_ALIAS);
}

struct fd_entry *fdt_ring_leader(int fd)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return NULL;
    if (is_leader_kind(fdt_kind(e)))
        return e;
    int leader;
    ring_prune(fd, &leader);
    if (leader < 0) { /* the leader was closed unseen: this one takes over */
        memset(&e->u, 0, sizeof e->u);
        e->skip = 0;
        /* its scanner history is gone: nothing is known of its responses */
        fdt_update_flags(e, FE_BLIND | FE_MID_RESPONSE, FE_MID_FRAMED);
        fdt_set_kind(e, FK_TRACKED);
        return e;
    }
    return &fdt[leader];
}

int fdt_ring_leave(int fd)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || !e->ring_next)
        return 0;
    int leader;
    int others = ring_prune(fd, &leader);
    if (others == 0) {
        if (fdt_kind(e) == FK_ALIAS) {
            memset(&e->u, 0, sizeof e->u);
            e->skip = 0;
            fdt_update_flags(e, FE_BLIND | FE_MID_RESPONSE, FE_MID_FRAMED);
            fdt_set_kind(e, FK_TRACKED);
        }
        return 0;
    }
    /* fd's own epoll registrations outlive its number (see ring_mark_epoll_lost) */
    int orphans = has_epoll_registrations(e);
    /* unlink fd: find its predecessor */
    int prev = fd;
    for (int steps = 0; steps < 64; steps++) {
        int cur = fdt[prev].ring_next - 1;
        if (cur == fd)
            break;
        prev = cur;
    }
    fdt[prev].ring_next = (e->ring_next - 1 == prev) ? 0 : e->ring_next;
    if (leader == fd) { /* hand the scanner state to the next member */
        struct fd_entry *heir = &fdt[prev];
        heir->u = e->u;
        heir->skip = e->skip;
        /* the heir keeps its own FE_EPOLL_LOST (its number's registrations) */
        heir->flags = (uint16_t)(fdt_flags(e) | (fdt_flags(heir) & FE_EPOLL_LOST));
        fdt_set_writer_gen(heir, fdt_writer_gen(e));
        fdt_set_kind(heir, FK_TRACKED);
    }
    e->ring_next = 0;
    if (orphans)
        ring_mark_epoll_lost(prev);
    return 1;
}
