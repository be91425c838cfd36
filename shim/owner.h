/* owner.h - which process the fd table belongs to.
 *
 * Two kinds of child must not act on the table: one that shares our memory
 * (vfork, clone with CLONE_VM: it would change its parent's table), and one
 * with a copy made without our fork handlers (_Fork, clone without CLONE_VM,
 * syscall(SYS_fork): its copy still describes the parent - writer, drainer,
 * handover stack). Both leave the table alone, as if linger were not there.
 * The fork handlers (process.c) make a fork child the owner of its copy.
 */
#ifndef LINGER_OWNER_H
#define LINGER_OWNER_H

/* vfork is hooked (by a jump, hooks_fork.c) on x86-64 only: elsewhere the
 * owner cannot know when a child starts to share its memory. */
#if defined(__x86_64__)
#define LINGER_HOOKS_VFORK 1
#else
#define LINGER_HOOKS_VFORK 0
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Per-process state a fork child starts at zero, and that the process
 * writes at each fork it makes: on a page the kernel zeroes in every child
 * with a copy of our memory (MADV_WIPEONFORK). Fork does not share that
 * page, so the parent's writes to it never fault (a page the parent
 * writes while a child shares it is copied, tens of microseconds on a
 * virtual machine). Where no page can be wiped, a static copy, which the
 * fork handlers reset in the child. */
struct fork_fresh {
    volatile uint8_t owned;        /* the owner mark: 0 in a copy made without the handlers */
    _Atomic uint32_t forks;        /* fdtable.h: children forked in this generation */
    pthread_mutex_t drainer_start; /* drainer.c: the drainer's start lock, held across fork */
};
extern struct fork_fresh *fork_fresh;

/* True when fork_fresh is the wiped page: a fork child finds it zeroed. */
int owner_fresh_wiped(void);

/* Records this process as the owner and maps the owner mark (at load). */
void owner_init(void);

/* In a fork child that got our handlers: it owns its copy from now on. */
void owner_note_self(void);

/* True in the process that owns the table (not in a vfork child, which
 * shares its memory and reports its own pid, nor in a copy made without
 * the handlers). One system call once the app has made a child that may
 * share its memory; none before. */
int owner_is_current(void);

/* True in a child that must leave the table alone (see above): a copy made
 * without our fork handlers, or - once the app has made a child that may
 * share our memory - a pid that is not the owner's. No system call until
 * the app makes such a child. */
int owner_borrowed_memory(void);

/* A child that shares this process's memory (vfork, clone with CLONE_VM)
 * may start now: from here on each close-family call asks the pid. */
void owner_memory_may_be_shared(void);

#endif
