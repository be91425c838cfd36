/* process.h - one home for fork: the children this process makes (counted
 * as forks, or marked as sharing its memory), and the one set of fork
 * handlers, run in a written order (process.c). Which process owns the
 * fd table is owner.c's. */
#ifndef LINGER_PROCESS_H
#define LINGER_PROCESS_H

#include "owner.h" /* LINGER_HOOKS_VFORK */

/* Records the owner and registers the fork handlers (at load, once). */
void process_init(void);

/* A child that shares this process's memory (vfork, clone with CLONE_VM)
 * may start now (owner_memory_may_be_shared). */
void process_memory_may_be_shared(void);

/* This process made (or is about to make) a child with a copy of its fds:
 * counts it (fdt_note_fork: what the process wrote before it is not known
 * to be its answer, decide.c). */
void process_note_fork(void);

/* Both: a child that may share our memory and will have a copy of our fds
 * is about to start (vfork, a raw clone whatever its flags). */
void process_before_shared_child(void);

#endif
