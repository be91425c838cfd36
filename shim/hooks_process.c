/* hooks_process.c - the process's end, its image replaced, and children
 * that share its memory.
 *
 * _exit and _Exit skip destructors, so they hand lingering sockets over
 * themselves; exit() and a return from main reach linger's destructor
 * (linger.c). The exec family hands the sockets still lingering to a
 * drainer process before the kernel closes linger's close-on-exec fds. A
 * vfork child, or a clone(CLONE_VM) child, runs in this process's memory:
 * once the app makes one, the close-family hooks ask the pid before they
 * touch the fd table (policy.c).
 *
 * Every child that gets a copy of the process's fds counts as a fork
 * (fdt_note_fork: what the process wrote before it is not known to be its
 * answer, policy.c): fork()'s handler counts fork's; these hooks count
 * vfork's, clone's, and posix_spawn's (libc makes that child with a
 * clone(CLONE_VM | CLONE_VFORK) of its own, past the clone hook). No fork
 * handler runs for those, and a child that shares our memory must not
 * count itself: it would count in our counter. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <sched.h>
#include <spawn.h>
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
    if (!(flags & CLONE_VM)) {
        fdt_note_fork(); /* a child with a copy of our fds */
        return real_clone(fn, stack, flags, arg, ptid, tls, ctid);
    }
    policy_memory_may_be_shared();
    int pid = real_clone(fn, stack, flags, arg, ptid, tls, ctid);
    /* Only the parent returns here (the child runs fn, then exits), once
     * the child exists - with CLONE_VFORK, once it has exec'd. A child
     * with its own copy of our fds is a fork; one sharing the table
     * (CLONE_FILES: a thread) is not. */
    if (pid > 0 && !(flags & CLONE_FILES))
        fdt_note_fork();
    return pid;
}

/* glibc exports clone under this name too. */
EXPORT int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) __attribute__((alias("clone"), copy(clone)));

/* posix_spawn's child has a copy of our fds (its file actions may hand it
 * a socket): a fork, counted once libc returns - after the child has
 * exec'd, or failed and gone (then nothing is counted). Returns err, the
 * answer of libc's posix_spawn or posix_spawnp. */
static int count_spawned(int err)
{
    if (err == 0)
        fdt_note_fork();
    return err;
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    struct real_fns *r = real_exec_fns();
    return r->posix_spawn ? count_spawned(r->posix_spawn(pid, path, fa, attr, argv, envp)) : ENOSYS;
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    struct real_fns *r = real_exec_fns();
    return r->posix_spawnp ? count_spawned(r->posix_spawnp(pid, file, fa, attr, argv, envp)) : ENOSYS;
}

#if LINGER_HOOKS_VFORK
/* Called by the hook below before it jumps to libc's vfork: the child may
 * share our memory, and it will have a copy of our fds - a fork, counted
 * here, in the parent, before the child exists. A hook that jumps cannot
 * run after vfork returns, and code run after its return would run in the
 * child first, in our memory: the child would count in our counter. If
 * vfork fails, one fork too many is counted: the process's earlier writes
 * then count as made before a fork, the cautious side (policy.c). */
__attribute__((used)) void linger_before_vfork(void)
{
    policy_memory_may_be_shared();
    fdt_note_fork();
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
    return real.vfork ? real.vfork : (void *)fork;
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
