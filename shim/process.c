/* process.c - fork and ownership (see process.h). */
#include "process.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include "drainer.h"
#include "fdring.h"
#include "handoff.h"
#include "real.h"

#ifndef MADV_WIPEONFORK /* Linux 4.14; older libc headers lack it */
#define MADV_WIPEONFORK 18
#endif

volatile int process_detaching;

/* The process the table belongs to; a fork child updates it (its handler). */
static pid_t owner;

/* A page the kernel zeroes in every child that gets a copy of our memory
 * (MADV_WIPEONFORK); the fork handler below sets it again. Zero means a copy
 * made without the handlers. NULL where the kernel cannot wipe: then every
 * close asks the pid, and a copy is told apart by that. */
static volatile uint8_t *owner_mark;

/* Set before the first vfork or clone(CLONE_VM) the app makes (hooks_fork.c
 * and hooks_syscall.c see them); never cleared. Set at load where vfork
 * cannot be hooked (LINGER_HOOKS_VFORK) or no page can be wiped. */
static _Atomic int memory_may_be_shared = !LINGER_HOOKS_VFORK;

static pid_t current_pid(void)
{
    return (pid_t)raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

void process_memory_may_be_shared(void)
{
    atomic_store_explicit(&memory_may_be_shared, 1, memory_order_relaxed);
}

void process_note_fork(void)
{
    fdt_note_fork();
}

void process_before_shared_child(void)
{
    process_memory_may_be_shared();
    process_note_fork();
}

int process_is_owner(void)
{
    return current_pid() == owner;
}

int process_borrowed_memory(void)
{
    if (owner_mark && !*owner_mark)
        return 1;
    if (!atomic_load_explicit(&memory_may_be_shared, memory_order_relaxed))
        return 0;
    return current_pid() != owner;
}

/* This process owns the table from now on. */
static void note_owner(void)
{
    owner = current_pid();
    if (owner_mark)
        *owner_mark = 1;
}

/* owner_mark, or NULL (and every close asks the pid). */
static volatile uint8_t *map_owner_mark(void)
{
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return NULL;
    if (madvise(page, 4096, MADV_WIPEONFORK) != 0) {
        munmap(page, 4096);
        return NULL;
    }
    return page;
}

/* ---- the fork handlers: the only pthread_atfork registration ---- */

static void before_fork(void)
{
    drainer_before_fork(); /* takes the drainer's start lock */
}

static void after_fork_parent(void)
{
    drainer_after_fork_parent();
    process_note_fork(); /* the child has a copy of our fds */
}

/* In the child, in this order:
 *   1. the owner: this process owns the table from here on (until then its
 *      mark is wiped, and every policy_* call would leave the table alone),
 *      so that the handlers after it may act on the table;
 *   2. the rings: the threads that held ring locks are not in the child;
 *   3. the drainer: the child has no drainer thread; it drops its copies
 *      of the parent's lingering sockets and shim fds and starts a new
 *      writer generation (fdt_new_generation);
 *   4. the exit handover: the child's own exit state, and what its stdout
 *      and stderr had flushed before the fork.
 * Not in the drainer process handoff.c forks (process_detaching). */
static void after_fork_child(void)
{
    if (process_detaching)
        return;
    note_owner();
    fdt_ring_locks_reset(); /* the threads that held ring locks are not here */
    drainer_after_fork_child();
    handoff_after_fork_child();
}

void process_init(void)
{
    owner_mark = map_owner_mark();
    if (!owner_mark)
        process_memory_may_be_shared();
    note_owner();
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}
