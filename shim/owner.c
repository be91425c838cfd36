/* owner.c - which process the fd table belongs to (see owner.h). */
#include "owner.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include "real.h"

#ifndef MADV_WIPEONFORK /* Linux 4.14; older libc headers lack it */
#define MADV_WIPEONFORK 18
#endif

/* The process the table belongs to; a fork child updates it (process.c). */
static pid_t owner;

/* A page the kernel zeroes in every child that gets a copy of our memory
 * (MADV_WIPEONFORK); the fork handler sets it again. Zero means a copy
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

void owner_memory_may_be_shared(void)
{
    atomic_store_explicit(&memory_may_be_shared, 1, memory_order_relaxed);
}

int owner_is_current(void)
{
    return current_pid() == owner;
}

int owner_borrowed_memory(void)
{
    if (owner_mark && !*owner_mark)
        return 1;
    if (!atomic_load_explicit(&memory_may_be_shared, memory_order_relaxed))
        return 0;
    return current_pid() != owner;
}

void owner_note_self(void)
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

void owner_init(void)
{
    owner_mark = map_owner_mark();
    if (!owner_mark)
        owner_memory_may_be_shared();
    owner_note_self();
}
