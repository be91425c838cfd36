/* fdring.c - the rings of numbers of one socket (see fdring.h). */
#include "fdring.h"

#include <pthread.h>
#include <string.h>

#include "pages.h"

/* ---- rings ----
 *
 * A ring changes (a number joins or leaves, an alias takes the lead, a
 * member closed unseen is unlinked) only under its lock: one of RING_LOCKS
 * try-locks, picked by the socket's inode. The close path must not block,
 * and a signal handler may interrupt the holder in its own thread: a caller
 * waits a bounded while for another thread, not at all for its own, and
 * then takes the conservative way (each function says which). Links are
 * atomic and bounds-checked, and the lock holder changes another member's
 * link only if it still holds what it read: a link that names no entry (a
 * member reset without leaving) or a walk of more than RING_MAX members
 * makes the ring lost - no member can know it is the last, so every close
 * of the socket is plain. */

#define RING_LOCKS 64
#define RING_MAX   64
#define RING_LOST  (-1)  /* ring_prune: the ring's members cannot be known */
#define LINK_LOST  (-1)  /* a link naming no member: the ring is lost */

static _Atomic uintptr_t ring_locks[RING_LOCKS]; /* 0, or the holder's pthread_self() */

/* The lock of socket ino's ring. */
static _Atomic uintptr_t *ring_lock_of(uint64_t ino)
{
    return &ring_locks[ino % RING_LOCKS];
}

/* Takes ino's ring lock: 1; 0 when it stays busy - held by this thread (a
 * signal handler interrupted it there) or by another past the bounded wait. */
static int ring_lock(uint64_t ino)
{
    _Atomic uintptr_t *l = ring_lock_of(ino);
    uintptr_t me = (uintptr_t)pthread_self();
    for (int i = 0;; i++) {
        uintptr_t held = 0;
        if (atomic_compare_exchange_strong_explicit(l, &held, me, memory_order_acquire, memory_order_relaxed))
            return 1;
        if (held == me || i == FDT_PAUSES)
            return 0;
        fdt_pause(i);
    }
}

static void ring_unlock(uint64_t ino)
{
    atomic_store_explicit(ring_lock_of(ino), 0, memory_order_release);
}

LINGER_HOT void fdt_ring_locks_reset(void)
{
    for (int i = 0; i < RING_LOCKS; i++) /* stored only if held: an untouched page is not copied */
        if (atomic_load_explicit(&ring_locks[i], memory_order_relaxed))
            atomic_store_explicit(&ring_locks[i], 0, memory_order_relaxed);
}

static int32_t link_of(const struct fd_entry *e)
{
    return __atomic_load_n(&e->ring_next, __ATOMIC_RELAXED);
}

static void set_link(struct fd_entry *e, int32_t link)
{
    __atomic_store_n(&e->ring_next, link, __ATOMIC_RELAXED);
}

/* Sets e's link to `link` if it is still `was`: 0 when it changed (the
 * entry was reset, or a join that found the lock busy marked it lost). */
static int swap_link(struct fd_entry *e, int32_t was, int32_t link)
{
    return __atomic_compare_exchange_n(&e->ring_next, &was, link, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

/* The fd a link names, or -1 when it names no entry (0, lost, garbage). */
static int link_fd(int32_t link)
{
    return link > 0 && (unsigned)(link - 1) < fdt_size ? link - 1 : -1;
}

static uint64_t ino_of(const struct fd_entry *e)
{
    return __atomic_load_n(&e->ino, __ATOMIC_RELAXED);
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
static LINGER_WARM void ring_mark_epoll_lost(int fd) /* the ring's lock held */
{
    int cur = fd;
    for (int steps = 0; steps < RING_MAX; steps++) {
        fdt_update_flags(&fdt[cur], FE_EPOLL_LOST, 0);
        int next = link_fd(link_of(&fdt[cur]));
        if (next < 0 || next == fd)
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
    return (k == FK_TRACKED || k == FK_ALIAS || k == FK_DECIDING) && ino_of(e) == ino && fdt_same_socket(fd, e);
}

/* True when the entry of member fd, closed unseen, still records socket
 * ino and epoll registrations made through its number. */
static int stale_member_registered(int fd, uint64_t ino)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || ino_of(e) != ino)
        return 0;
    enum fd_kind k = fdt_kind(e);
    return (k == FK_TRACKED || k == FK_ALIAS || k == FK_DECIDING) && has_epoll_registrations(e);
}

/* Walks fd's ring (its lock held), unlinking members that are no longer
 * valid. Returns the number of other valid members, or RING_LOST; *leader
 * is the leader seen (-1: none), *pred the member whose link names fd (fd
 * when it is alone). A member closed unseen whose number was in an epoll
 * set leaves that registration behind: the ring is marked FE_EPOLL_LOST. */
static LINGER_WARM int ring_prune(int fd, uint64_t ino, int *leader, int *pred)
{
    int others = 0, prev = fd, lost = 0;
    *leader = is_leader_kind(fdt_kind(&fdt[fd])) ? fd : -1;
    *pred = fd;
    for (int steps = 0; steps < RING_MAX; steps++) {
        int32_t link = link_of(&fdt[prev]);
        int cur = link_fd(link);
        if (cur == fd || (link == 0 && prev == fd)) { /* round, or alone */
            *pred = prev;
            if (others == 0 && link != 0)
                swap_link(&fdt[fd], link, 0);
            if (lost)
                ring_mark_epoll_lost(fd);
            return others;
        }
        if (cur < 0)
            return RING_LOST;
        if (!ring_member_valid(cur, ino)) { /* closed unseen, or dropped: unlink it */
            lost |= stale_member_registered(cur, ino);
            int32_t after = link_of(&fdt[cur]);
            if (link_fd(after) < 0 || !swap_link(&fdt[prev], link, after))
                return RING_LOST;
            uint64_t cur_ino = ino_of(&fdt[cur]);
            if (cur_ino == ino || cur_ino == 0) /* ours, or dropped: it keeps no link into the ring */
                swap_link(&fdt[cur], after, 0);
            continue;
        }
        others++;
        if (is_leader_kind(fdt_kind(&fdt[cur])))
            *leader = cur;
        prev = cur;
    }
    return RING_LOST;
}

/* Alias e leads from now on (the socket's only number, or its leader went
 * unseen), with no scanner history: blind. */
static LINGER_WARM void take_lead(struct fd_entry *e)
{
    memset(&e->u, 0, sizeof e->u);
    e->skip = 0;
    /* its scanner history is gone: nothing is known of its responses */
    fdt_update_flags(e, FE_BLIND | FE_MID_RESPONSE, FE_MID_FRAMED);
    fdt_set_kind(e, FK_TRACKED);
}

/* Links newfd (entry dst, filled in) into oldfd's ring, after oldfd. Without
 * the lock, or when src's link changed under it, marks both links lost
 * instead: no number of the socket may then think itself the last. */
static void link_after(int oldfd, struct fd_entry *src, int newfd, struct fd_entry *dst, int locked)
{
    int32_t next = link_of(src);
    if (locked) {
        set_link(dst, next ? next : oldfd + 1);
        if (swap_link(src, next, newfd + 1))
            return;
    }
    set_link(dst, LINK_LOST);
    set_link(src, LINK_LOST);
}

LINGER_WARM void fdt_ring_join(int oldfd, int newfd)
{
    struct fd_entry *src = fdt_get(oldfd), *dst = fdt_get(newfd);
    if (!src || !dst)
        return;
    uint64_t ino = ino_of(src);
    int locked = ring_lock(ino), leader, pred;
    if (locked)
        ring_prune(oldfd, ino, &leader, &pred);
    fdt_reset_entry(dst);
    dst->origin = src->origin;
    dst->listener = src->listener;
    dst->flags = (uint16_t)fdt_flags(src);
    __atomic_store_n(&dst->ino, ino, __ATOMIC_RELAXED);
    dst->writer_gen = fdt_writer_gen(src);
    link_after(oldfd, src, newfd, dst, locked);
    fdt_touch(newfd);
    fdt_set_kind(dst, FK_ALIAS);
    if (locked)
        ring_unlock(ino);
}

LINGER_WARM struct fd_entry *fdt_ring_leader(int fd)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e)
        return NULL;
    if (is_leader_kind(fdt_kind(e)))
        return e;
    uint64_t ino = ino_of(e);
    if (!ring_lock(ino))
        return NULL;
    int leader, pred;
    int others = ring_prune(fd, ino, &leader, &pred);
    if (leader < 0 && others != RING_LOST && fdt_kind(e) == FK_ALIAS) { /* the leader went unseen */
        take_lead(e);
        leader = fd;
    }
    ring_unlock(ino);
    return leader >= 0 ? &fdt[leader] : NULL;
}

/* The leaving leader's scanner goes to heir, claimed first. 0 when heir
 * neither takes it nor leads already: it left meanwhile (a signal handler
 * that interrupted this thread closed it). */
static int hand_scanner(const struct fd_entry *from, struct fd_entry *heir)
{
    if (!fdt_claim(heir, FK_ALIAS, FK_DECIDING))
        return is_leader_kind(fdt_kind(heir));
    heir->u = from->u;
    heir->skip = from->skip;
    /* the heir keeps its own FE_EPOLL_LOST (its number's registrations) */
    __atomic_store_n(&heir->flags, (uint16_t)(fdt_flags(from) | (fdt_flags(heir) & FE_EPOLL_LOST)),
                     __ATOMIC_RELAXED);
    fdt_set_writer_gen(heir, fdt_writer_gen(from));
    fdt_set_kind(heir, FK_TRACKED);
    return 1;
}

/* fdt_ring_leave with the ring's lock held. Walks again (once) when the
 * heir left while the scanner was on its way: fd may be the last now. */
static int ring_leave_locked(int fd, struct fd_entry *e, uint64_t ino)
{
    for (int walks = 0; walks < 2; walks++) {
        int leader, pred;
        int others = ring_prune(fd, ino, &leader, &pred);
        if (others == RING_LOST)
            return 1;
        if (others == 0) {
            if (fdt_kind(e) == FK_ALIAS)
                take_lead(e);
            return 0;
        }
        /* pred takes fd's place; it leads if fd did (and fd still holds the socket) */
        if (leader == fd && fdt_same_socket(fd, e) && !hand_scanner(e, &fdt[pred]))
            continue;
        /* fd's own epoll registrations outlive its number (see ring_mark_epoll_lost) */
        int orphans = has_epoll_registrations(e);
        int32_t next = link_of(e);
        swap_link(&fdt[pred], fd + 1, link_fd(next) == pred ? 0 : next);
        set_link(e, 0);
        if (orphans)
            ring_mark_epoll_lost(pred);
        return 1;
    }
    return 1;
}

/* fd leaves without the lock (its holder is busy): its entry, which the
 * caller holds as kind `held`, is cleared but keeps its link, so that the
 * holder and later walks step over it and the ring stays whole. 0 when the
 * holder claimed it first (to make it the leader): the holder finishes it. */
static int drop_keeping_link(struct fd_entry *e, enum fd_kind held)
{
    if (!fdt_claim(e, held, FK_UNKNOWN))
        return 0;
    fdt_clear_state(e);
    return 1;
}

LINGER_HOT int fdt_ring_leave(int fd, enum fd_kind held)
{
    struct fd_entry *e = fdt_get(fd);
    if (!e || (!link_of(e) && held != FK_ALIAS))
        return 0;
    uint64_t ino = ino_of(e);
    if (!ring_lock(ino)) {
        drop_keeping_link(e, held);
        return FDT_RING_BUSY;
    }
    int others = ring_leave_locked(fd, e, ino);
    ring_unlock(ino);
    return others;
}
