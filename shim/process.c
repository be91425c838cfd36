/* process.c - fork (see process.h). */
#include "process.h"

#include <pthread.h>

#include "detach.h"
#include "drainer.h"
#include "fdring.h"
#include "forkchan.h"
#include "handoff.h"
#include "owner.h"
#include "pages.h"

void process_memory_may_be_shared(void)
{
    owner_memory_may_be_shared();
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
 *   1. the owner: this process owns its copy of the table from here on
 *      (until then its mark is wiped, and every policy_* call would leave
 *      the table alone), so that the handlers after it may act on it;
 *   2. the rings: the threads that held ring locks are not in the child;
 *   3. the drainer: the child has no drainer thread; it drops its copies
 *      of the parent's lingering sockets and shim fds and starts a new
 *      writer generation (fdt_new_generation);
 *   4. the exit handover: the child's own exit state, and what its stdout
 *      and stderr had flushed before the fork;
 *   5. the fork channel: the parent's channel becomes the child's way to
 *      hand its lingering sockets over (forkchan.h).
 * Not in a drainer process detach.c forks (detach_forking). */
static LINGER_HOT void after_fork_child(void)
{
    if (detach_forking)
        return;
    owner_note_self();
    fdt_ring_locks_reset();
    drainer_after_fork_child();
    handoff_after_fork_child();
    forkchan_after_fork_child();
}

void process_init(void)
{
    owner_init();
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}
