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
#include "pages.h"

struct fd_entry *fdt;
unsigned fdt_size;
uint32_t fdt_gen = 1;
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

/* Clears what an entry says about its socket, but for its kind and link. */
LINGER_WARM void fdt_clear_state(struct fd_entry *e)
{
    e->origin = FO_UNSEEN;
    __atomic_store_n(&e->listener, 0, __ATOMIC_RELAXED);
    e->flags = 0;
    e->writer_gen = 0;
    e->epfds[0] = e->epfds[1] = 0;
    /* a ring walker may read ino while the number starts a new life: it
     * follows the link a member kept when it left busy (fdt_ring_leave) */
    __atomic_store_n(&e->ino, 0, __ATOMIC_RELAXED);
    memset(&e->u, 0, sizeof e->u);
    e->skip = 0;
}

/* Clears an entry for a new life of its fd number. The acquire load orders
 * this after everything the previous owner of the number did to the entry
 * (its last act was a release store of kind: here, or the drainer's CAS);
 * the kernel already orders the two lives through close and reuse. */
LINGER_HOT void fdt_reset_entry(struct fd_entry *e)
{
    (void)atomic_load_explicit(&e->kind, memory_order_acquire);
    fdt_clear_state(e);
    __atomic_store_n(&e->ring_next, 0, __ATOMIC_RELAXED);
    fdt_set_kind(e, FK_UNKNOWN);
}

LINGER_HOT void fdt_forget(int fd)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    if (!fdt_touched(fd))
        return; /* never touched: keep the page clean */
    fdt_reset_entry(e);
}

void fdt_adopt_socket(int fd, enum fd_origin origin)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return;
    fdt_reset_entry(e);
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
        __atomic_store_n(&e->ino, (uint64_t)st.st_ino, __ATOMIC_RELAXED); /* see clear_state */
        if (domain == AF_UNIX)
            fdt_update_flags(e, FE_UNIX, 0);
    }
    fdt_touch(fd);
    fdt_set_kind(e, kind);
    restore_errno(saved);
    return kind;
}

void fdt_note_fork(void)
{
    atomic_fetch_add_explicit(&fork_fresh->forks, 1, memory_order_relaxed);
}

LINGER_HOT void fdt_new_generation(void)
{
    fdt_gen++;
    if (fdt_fork_count()) /* already 0 on a wiped page (owner.h): no store, no copy */
        atomic_store_explicit(&fork_fresh->forks, 0, memory_order_relaxed);
    for (int fd = fdt_next(-1); fd >= 0 && (unsigned)fd < fdt_own_base; fd = fdt_next(fd)) {
        struct fd_entry *e = &fdt[fd];
        /* a claim's thread did not come along: the socket is as it was
         * (looked at first: a locked compare-and-swap writes the page,
         * and a page the child writes is a page it copies) */
        if (fdt_kind(e) == FK_DECIDING)
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
    restore_errno(saved);
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
        __atomic_store_n(&e->ino, (uint64_t)st.st_ino, __ATOMIC_RELAXED); /* see clear_state */
        if (li & LI_UNIX)
            fdt_update_flags(e, FE_UNIX, 0);
        fdt_set_kind(e, FK_TRACKED);
    }
    restore_errno(saved);
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

/* True when an fstat that answered rc, st, found the socket e describes. */
static int stat_is_socket_of(int rc, const struct stat *st, const struct fd_entry *e)
{
    return rc == 0 && S_ISSOCK(st->st_mode) && (uint64_t)st->st_ino == __atomic_load_n(&e->ino, __ATOMIC_RELAXED);
}

LINGER_WARM int fdt_same_socket(int fd, const struct fd_entry *e)
{
    struct stat st;
    int saved = errno;
    int same = stat_is_socket_of(fstat(fd, &st), &st, e);
    restore_errno(saved);
    return same;
}

LINGER_HOT int fdt_same_socket_raw(int fd, const struct fd_entry *e)
{
    struct stat st;
    int saved = errno;
    int same = stat_is_socket_of((int)raw_syscall(SYS_fstat, fd, (long)&st, 0, 0, 0, 0), &st, e);
    restore_errno(saved);
    return same;
}

int fdt_same_file(int fd, const struct fd_entry *e)
{
    struct stat st;
    int saved = errno;
    int same = fstat(fd, &st) == 0 && (uint64_t)st.st_ino == e->ino;
    restore_errno(saved);
    return same;
}

LINGER_WARM void fdt_pause(int i)
{
    if (i < 16) {
        raw_syscall(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
    } else {
        struct timespec nap = { 0, 100000 };
        raw_syscall(SYS_nanosleep, (long)&nap, 0, 0, 0, 0, 0);
    }
}

LINGER_HOT enum fd_kind fdt_settle(struct fd_entry *e)
{
    enum fd_kind k;
    for (int i = 0; (k = fdt_kind(e)) == FK_DECIDING && i < FDT_PAUSES; i++)
        fdt_pause(i);
    return k;
}
