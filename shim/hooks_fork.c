/* hooks_fork.c - fork, which may first start the drainer process of the
 * process's fork children (forkchan.h); clone (and glibc's __clone) and
 * vfork (and __vfork): children that may share this process's memory. A vfork child, or a
 * clone(CLONE_VM) child, runs in this process's memory: once the app makes
 * one, the close-family hooks ask the pid before they touch the fd table
 * (process_borrowed_memory).
 *
 * Every child that gets a copy of the process's fds counts as a fork
 * (process_note_fork: what the process wrote before it is not known to be
 * its answer, decide.c): fork()'s handler counts fork's (process.c); these
 * hooks count vfork's and clone's, hooks_spawn.c posix_spawn's. No fork
 * handler runs for those, and a child that shares our memory must not
 * count itself: it would count in our counter. */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <unistd.h>

#include "forkchan.h"
#include "hooks.h"
#include "pages.h"
#include "process.h"
#include "real.h"

/* fork: libc's, after the process made sure (the first time it forks
 * while it holds a tracked socket) that its children can hand their
 * lingering sockets to a drainer process (forkchan.h). Its fork handlers
 * (process.c) run inside libc's fork, as without linger. */
EXPORT LINGER_HOT pid_t fork(void)
{
    forkchan_before_fork();
    struct real_fns *r = real_exec_fns();
    if (r->fork)
        return r->fork();
    errno = ENOSYS;
    return -1;
}

EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    /* read whether passed or not, and passed on as they are: libc's clone
     * looks at them only when flags ask for them */
    void *ptid = va_arg(ap, void *), *tls = va_arg(ap, void *), *ctid = va_arg(ap, void *);
    va_end(ap);
    if (!(flags & CLONE_VM)) {
        process_note_fork(); /* a child with a copy of our fds */
        return real_clone(fn, stack, flags, arg, ptid, tls, ctid);
    }
    process_memory_may_be_shared();
    int pid = real_clone(fn, stack, flags, arg, ptid, tls, ctid);
    /* Only the parent returns here (the child runs fn, then exits), once
     * the child exists - with CLONE_VFORK, once it has exec'd. A child
     * with its own copy of our fds is a fork; one sharing the table
     * (CLONE_FILES: a thread) is not. */
    if (pid > 0 && !(flags & CLONE_FILES))
        process_note_fork();
    return pid;
}

/* glibc exports clone under this name too. */
EXPORT int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) __attribute__((alias("clone"), copy(clone)));

#if LINGER_HOOKS_VFORK
/* Called by the hook below before it jumps to libc's vfork: the child may
 * share our memory, and it will have a copy of our fds - a fork, counted
 * here, in the parent, before the child exists. A hook that jumps cannot
 * run after vfork returns, and code run after its return would run in the
 * child first, in our memory: the child would count in our counter. If
 * vfork fails, one fork too many is counted: the process's earlier writes
 * then count as made before a fork, the cautious side (decide.c). */
__attribute__((used)) void linger_before_vfork(void)
{
    process_before_shared_child();
}

/* The vfork to jump to (called from the hook below, with nothing on the
 * stack that outlives the call): libc's. While another thread is still
 * resolving the real functions (at load only), wait for it a while; if
 * libc has no vfork after all, fork, which POSIX allows a vfork to be. */
__attribute__((used)) void *linger_vfork_target(void)
{
    for (int tries = 0; !real.vfork && tries < 1000; tries++) {
        real_resolve();
        if (!real.vfork)
            sched_yield();
    }
    return real.vfork ? (void *)real.vfork : (void *)fork;
}

/* vfork cannot be wrapped by a C function: the child would return from the
 * wrapper's frame, and the parent would then run on a stack the child has
 * overwritten. The hook sets the flag, counts the fork and jumps (never
 * calls) to libc's vfork, with the stack exactly as the app's call left it.
 * glibc exports the same function as __vfork. */
__asm__(
    ".text\n"
    ".globl vfork\n"
    ".globl __vfork\n"
    ".type vfork, @function\n"
    ".type __vfork, @function\n"
    "vfork:\n"
    "__vfork:\n"
    "    .cfi_startproc\n"
    "    endbr64\n"
    "    subq $8, %rsp\n"                       /* the calls below need rsp 16-aligned */
    "    .cfi_adjust_cfa_offset 8\n"
    "    call linger_before_vfork\n"
    "    call linger_vfork_target\n"
    "    addq $8, %rsp\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    jmp *%rax\n"
    "    .cfi_endproc\n"
    ".size vfork, .-vfork\n"
    ".size __vfork, .-__vfork\n");
#endif
