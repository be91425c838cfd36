/* ownfd.c - the shim's own fds (see ownfd.h). */
#include "ownfd.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fdtable.h"
#include "pages.h"
#include "real.h"

#define MAX_SLOTS 6 /* drainer epoll and eventfd, log file, fork channel's two ends */

static int base = 3;
static _Atomic int *slots[MAX_SLOTS];

void ownfd_init(uint64_t max_sockets)
{
    /* The top (cap + 16) numbers under the soft limit, but never the lower
     * half: the app's lowest-free numbering must not meet the shim's fds. */
    struct rlimit rl;
    uint64_t soft = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        soft = rl.rlim_cur;
    if (soft > fdt_size)
        soft = fdt_size;
    uint64_t reserve = max_sockets + 16;
    base = (int)(soft > 2 * reserve ? soft - reserve : soft / 2);
    if (base < 3)
        base = 3;
    fdt_own_base = (unsigned)base;
}

/* Closes fd through the public, interposed close - linger's own close hook,
 * or a sanitizer's interceptor ahead of it - rather than real_close: the
 * number goes back to the app, and whatever tracks fds above linger (ASan,
 * TSan) must see it closed, or it would take the app's next fd of that
 * number for a stale one. (stats.c's fds never reach the app: it closes
 * them with real_close.) The one call of an interposed name outside the
 * hook files: test_hygiene.py allows it in this function only. */
static void close_seen_by_interposers(int fd)
{
    close(fd);
}

int ownfd_base(void)
{
    return base;
}

/* Duplicates fd to the lowest free number at or above from and marks the
 * copy FK_SHIM. Returns the copy, or -1 (fd untouched). */
static int move_to(int fd, int from)
{
    int high = real_fcntl(fd, F_DUPFD_CLOEXEC, from);
    struct fd_entry *e = high >= 0 ? fdt_get(high) : NULL;
    if (!e) {
        if (high >= 0)
            real_close(high);
        return -1;
    }
    struct stat st;
    fdt_adopt_socket(high, FO_UNSEEN);
    e->ino = fstat(high, &st) == 0 ? (uint64_t)st.st_ino : 0;
    fdt_set_kind(e, FK_SHIM);
    return high;
}

/* Duplicates fd into the high range (move_to). */
static int move_high(int fd)
{
    return move_to(fd, base);
}

/* ownfd_protect, with the fd moved to the lowest free number at or above
 * from. */
static int protect_at(_Atomic int *slot, int from)
{
    int fd = atomic_load(slot);
    int high = move_to(fd, from);
    if (high >= 0) {
        atomic_store(slot, high);
        close_seen_by_interposers(fd); /* the low number goes back to the app */
    } else {
        (void)real_fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    for (int i = 0; i < MAX_SLOTS; i++)
        if (!slots[i] || slots[i] == slot) {
            slots[i] = slot;
            break;
        }
    return atomic_load(slot);
}

int ownfd_protect(_Atomic int *slot)
{
    return protect_at(slot, base);
}

int ownfd_protect_inherited(_Atomic int *slot)
{
    return protect_at(slot, base < OWNFD_INHERITED ? base : OWNFD_INHERITED);
}

void ownfd_relocate(int fd)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (slots[i] && atomic_load(slots[i]) == fd) {
            int high = move_high(fd);
            if (high >= 0)
                atomic_store(slots[i], high);
            struct fd_entry *e = fdt_get(fd); /* the app's dup2 closes the old number */
            if (e)
                fdt_set_kind(e, FK_UNKNOWN);
            return;
        }
    }
}

LINGER_HOT void ownfd_rename(_Atomic int *from, _Atomic int *to)
{
    atomic_store(to, atomic_exchange(from, -1));
    for (int i = 0; i < MAX_SLOTS; i++)
        if (slots[i] == from)
            slots[i] = to;
}

void ownfd_release(_Atomic int *slot)
{
    int fd = atomic_load(slot);
    struct fd_entry *e = fd >= 0 ? fdt_get(fd) : NULL;
    if (e) {
        fdt_reset_entry(e); /* all zero again, as never touched */
        fdt_untouch_top(fd);
    }
    for (int i = 0; i < MAX_SLOTS; i++)
        if (slots[i] == slot)
            slots[i] = NULL;
}
