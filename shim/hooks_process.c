/* hooks_process.c - the process's end, its image replaced, and children
 * that share its memory.
 *
 * _exit and _Exit skip destructors, so they hand lingering sockets over
 * themselves; exit() and a return from main reach linger's destructor
 * (linger.c). The exec family hands the sockets still lingering to a
 * drainer process before the kernel closes linger's close-on-exec fds. A
 * vfork child, or a clone(CLONE_VM) child, runs in this process's memory:
 * once the app makes one, the close-family hooks ask the pid before they
 * touch the fd table (policy.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include "fdtable.h"
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

/* ---- exec: each hook hands lingering sockets over, then calls libc's own
 * (glibc's execvp, execl... call its execve internally, past this hook). */

static int exec_v(const char *path, char *const argv[], char *const envp[])
{
    linger_before_exec();
    struct real_fns *r = real_exec_fns();
    if (r->execve)
        return r->execve(path, argv, envp);
    return (int)raw_syscall(SYS_execve, (long)path, (long)argv, (long)envp, 0, 0, 0);
}

/* execvp is execvpe with the process's environment, in glibc and musl. */
static int exec_vp(const char *file, char *const argv[], char *const envp[])
{
    linger_before_exec();
    struct real_fns *r = real_exec_fns();
    if (r->execvpe)
        return r->execvpe(file, argv, envp);
    errno = ENOSYS;
    return -1;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    return exec_v(path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
    return exec_v(path, argv, environ);
}

EXPORT int execvp(const char *file, char *const argv[])
{
    return exec_vp(file, argv, environ);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return exec_vp(file, argv, envp);
}

EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    linger_before_exec();
    struct real_fns *r = real_exec_fns();
    if (r->execveat)
        return r->execveat(dirfd, path, argv, envp, flags);
    return (int)raw_syscall(SYS_execveat, dirfd, (long)path, (long)argv, (long)envp, flags, 0);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    linger_before_exec();
    struct real_fns *r = real_exec_fns();
    if (r->fexecve)
        return r->fexecve(fd, argv, envp);
    return (int)raw_syscall(SYS_execveat, fd, (long)"", (long)argv, (long)envp, AT_EMPTY_PATH, 0);
}

/* The execl family: how many arguments the list holds (arg, then the
 * variadic ones up to the NULL), not counting the NULL. */
static size_t count_list(const char *arg, va_list *ap)
{
    size_t n = 0;
    for (const char *a = arg; a; a = va_arg(*ap, const char *))
        n++;
    return n;
}

/* Copies that list (n arguments, as counted) into argv, NULL-terminated;
 * ap is left after the list's NULL. */
static void list_to_argv(char **argv, const char *arg, size_t n, va_list *ap)
{
    argv[0] = (char *)arg;
    for (size_t i = 1; i < n; i++)
        argv[i] = va_arg(*ap, char *);
    argv[n] = NULL;
    if (n > 0)
        (void)va_arg(*ap, char *); /* the NULL that ends the list */
}

/* Runs an execl-family call: its list (arg, then ap up to the NULL; for
 * execle, envp after it) as an argv array, through exec_vp when search
 * (execlp), else exec_v. */
static int exec_list(const char *target, int search, int with_envp, const char *arg, va_list ap)
{
    va_list args;
    va_copy(args, ap);
    size_t n = count_list(arg, &args);
    va_end(args);
    char *argv[n + 1];
    va_copy(args, ap);
    list_to_argv(argv, arg, n, &args);
    char **envp = with_envp ? va_arg(args, char **) : environ;
    va_end(args);
    return search ? exec_vp(target, argv, envp) : exec_v(target, argv, envp);
}

EXPORT int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int r = exec_list(path, 0, 0, arg, ap);
    va_end(ap);
    return r;
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int r = exec_list(file, 1, 0, arg, ap);
    va_end(ap);
    return r;
}

EXPORT int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    int r = exec_list(path, 0, 1, arg, ap);
    va_end(ap);
    return r;
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
    else
        fdt_note_fork(); /* a child with a copy of our fds */
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
