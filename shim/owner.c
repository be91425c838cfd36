/* owner.c - which process the fd table belongs to (see owner.h). */
#include "owner.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include "pages.h"
#include "real.h"

#ifndef MADV_WIPEONFORK /* Linux 4.14; older libc headers lack it */
#define MADV_WIPEONFORK 18
#endif

/* Until owner_init, and for good where the kernel cannot wipe a page. */
static struct fork_fresh fallback;
struct fork_fresh *fork_fresh = &fallback;

/* fork_fresh is a page the kernel zeroes in every child that gets a copy
 * of our memory: its owner mark, zero there, means a copy made without
 * the handlers. Where no page can be wiped, every close asks the pid, and
 * a copy is told apart by that. */
static int mark_wiped;

/* The process the table belongs to; 0 while nobody asked (a fork child
 * asks no pid until the app makes a child that may share its memory). */
static _Atomic pid_t owner;

/* Set before the first vfork or clone(CLONE_VM) the app makes (hooks_fork.c
 * and hooks_syscall.c see them), once owner is known; never cleared. Set
 * at load where vfork cannot be hooked (LINGER_HOOKS_VFORK) or no page can
 * be wiped. */
static _Atomic int memory_may_be_shared = !LINGER_HOOKS_VFORK;

static pid_t current_pid(void)
{
    return (pid_t)raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

LINGER_HOT int owner_fresh_wiped(void)
{
    return mark_wiped;
}

/* A copy of our memory made without the fork handlers. */
static int unhandled_copy(void)
{
    return mark_wiped && !fork_fresh->owned;
}

void owner_memory_may_be_shared(void)
{
    if (atomic_load_explicit(&memory_may_be_shared, memory_order_acquire))
        return;
    /* in the owner itself (the hooks call this before the child starts):
     * the pid the child will be told apart from, known before the flag */
    if (!owner && !unhandled_copy())
        owner = current_pid();
    atomic_store_explicit(&memory_may_be_shared, 1, memory_order_release);
}

LINGER_HOT int owner_is_current(void)
{
    if (unhandled_copy())
        return 0;
    /* no child has shared our memory: the process with our mark is us */
    if (!atomic_load_explicit(&memory_may_be_shared, memory_order_acquire))
        return 1;
    return current_pid() == owner;
}

LINGER_HOT int owner_borrowed_memory(void)
{
    if (unhandled_copy())
        return 1;
    if (!atomic_load_explicit(&memory_may_be_shared, memory_order_acquire))
        return 0;
    return current_pid() != owner;
}

LINGER_HOT void owner_note_self(void)
{
    /* the pid only when a child may already share our memory (our
     * parent's vfork children made it so): else at the first one */
    pid_t pid = atomic_load_explicit(&memory_may_be_shared, memory_order_acquire) ? current_pid() : 0;
    if (owner != pid) /* a store that changes nothing would still copy the page */
        owner = pid;
    fork_fresh->owned = 1;
}

/* The page for fork_fresh, or NULL. */
static struct fork_fresh *map_fresh_page(void)
{
    _Static_assert(sizeof(struct fork_fresh) <= 4096, "struct fork_fresh fits one page");
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return NULL;
    if (madvise(page, 4096, MADV_WIPEONFORK) != 0) {
        munmap(page, 4096);
        return NULL;
    }
    return page;
}

void owner_init(void)
{
    struct fork_fresh *page = map_fresh_page();
    if (page) {
        fork_fresh = page; /* before any thread or fork uses it: all zero, as fallback is */
        mark_wiped = 1;
    } else {
        owner_memory_may_be_shared();
    }
    owner = current_pid();
    fork_fresh->owned = 1;
}
