/* process.h - one home for fork and ownership: which process the fd table
 * belongs to, the children that may share its memory or copy its fds, and
 * the one set of fork handlers, run in a written order (process.c).
 *
 * Two kinds of child must not act on the table: one that shares our memory
 * (vfork, clone with CLONE_VM: it would change its parent's table), and one
 * with a copy made without our fork handlers (_Fork, clone without CLONE_VM,
 * syscall(SYS_fork): its copy still describes the parent - writer, drainer,
 * handover stack). Both leave the table alone, as if linger were not there.
 */
#ifndef LINGER_PROCESS_H
#define LINGER_PROCESS_H

/* vfork is hooked (by a jump, hooks_fork.c) on x86-64 only. */
#if defined(__x86_64__)
#define LINGER_HOOKS_VFORK 1
#else
#define LINGER_HOOKS_VFORK 0
#endif

/* Records this process as the table's owner, maps the owner mark and
 * registers the fork handlers (at load, once). */
void process_init(void);

/* True in the process that owns the table (not in a vfork child, which
 * shares its memory and reports its own pid). One system call. */
int process_is_owner(void);

/* True in a child that must leave the table alone (see above): a copy made
 * without our fork handlers, or - once the app has made a child that may
 * share our memory - a pid that is not the owner's. No system call until
 * the app makes such a child. */
int process_borrowed_memory(void);

/* A child that shares this process's memory (vfork, clone with CLONE_VM)
 * may start now: from here on each close-family call asks the pid. */
void process_memory_may_be_shared(void);

/* This process made (or is about to make) a child with a copy of its fds:
 * counts it (fdt_note_fork: what the process wrote before it is not known
 * to be its answer, decide.c). */
void process_note_fork(void);

/* Both: a child that may share our memory and will have a copy of our fds
 * is about to start (vfork, a raw clone whatever its flags). */
void process_before_shared_child(void);

/* Set while handoff.c forks its drainer process through libc's fork (a
 * TSAN build does, so TSAN sees the child start): the child keeps every
 * lingering fd and the exit's state, so the child handlers stand aside. */
extern volatile int process_detaching;

#endif
