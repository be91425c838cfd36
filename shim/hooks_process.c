/* hooks_process.c - the process's end, and children that share its memory.
 *
 * _exit and _Exit skip destructors, so they hand lingering sockets over
 * themselves; exit() and a return from main reach linger's destructor
 * (linger.c). A vfork child, or a clone(CLONE_VM) child, runs in this
 * process's memory: once the app makes one, the close-family hooks ask the
 * pid before they touch the fd table (policy.c). */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <sched.h>
#include <sys/types.h>

#include "hooks.h"
#include "linger.h"
#include "policy.h"
#include "real.h"

EXPORT __attribute__((noreturn)) void _exit(int status)
{
    linger_at_exit(0);
    real_exit_now(status);
}

EXPORT __attribute__((noreturn)) void _Exit(int status)
{
    linger_at_exit(0);
    real_exit_now(status);
}

EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    /* read whether passed or not, and passed on as they are: libc's clone
     * looks at them only when flags ask for them */
    void *ptid = va_arg(ap, void *), *tls = va_arg(ap, void *), *ctid = va_arg(ap, void *);
    va_end(ap);
    if (flags & CLONE_VM)
        policy_memory_may_be_shared();
    return real_clone(fn, stack, flags, arg, ptid, tls, ctid);
}

/* glibc exports clone under this name too. */
EXPORT int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) __attribute__((alias("clone"), copy(clone)));

#if LINGER_HOOKS_VFORK
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
    return real.vfork ? real.vfork : (void *)fork;
}

/* vfork cannot be wrapped by a C function: the child would return from the
 * wrapper's frame, and the parent would then run on a stack the child has
 * overwritten. The hook sets the flag and jumps (never calls) to libc's
 * vfork, with the stack exactly as the app's call left it. glibc exports
 * the same function as __vfork. */
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
    "    call policy_memory_may_be_shared\n"
    "    call linger_vfork_target\n"
    "    addq $8, %rsp\n"
    "    .cfi_adjust_cfa_offset -8\n"
    "    jmp *%rax\n"
    "    .cfi_endproc\n"
    ".size vfork, .-vfork\n"
    ".size __vfork, .-__vfork\n");
#endif
