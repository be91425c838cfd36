/* hooks_exec.c - the exec family: execve, execv, execvp, execvpe, execl,
 * execlp, execle, execveat, fexecve. Each hands the sockets still lingering
 * to a drainer process before the kernel closes linger's close-on-exec fds
 * (handoff.c), then calls libc's own (glibc's execvp, execl... call its
 * execve internally, past this hook). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include "hooks.h"
#include "linger.h"
#include "real.h"

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
