/* hooks_syscall.c - syscall(2) itself. libuv (Node) closes sockets with
 * syscall(SYS_close, fd), past close(). The fd-ending, sending and reading numbers
 * (and setsockopt, for SO_LINGER; exit_group and execve, which end the
 * process or its image) take the same path as their libc names; every
 * other number goes to the real syscall() untouched, with all six
 * arguments. */
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hooks.h"
#include "linger.h"
#include "policy.h"
#include "process.h"
#include "real.h"

EXPORT long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    switch (nr) {
    case SYS_close:
        return hook_close((int)a1);
    case SYS_close_range:
        return hook_close_range((unsigned)a1, (unsigned)a2, (int)a3);
#ifdef SYS_dup2
    case SYS_dup2:
        return hook_dup2((int)a1, (int)a2);
#endif
    case SYS_dup3:
        return hook_dup3((int)a1, (int)a2, (int)a3);
    case SYS_shutdown:
        return hook_shutdown((int)a1, (int)a2);
    case SYS_write:
        return hook_write((int)a1, (const void *)a2, (size_t)a3);
    case SYS_writev:
        return hook_writev((int)a1, (const struct iovec *)a2, (int)a3);
    case SYS_read:
        return hook_read((int)a1, (void *)a2, (size_t)a3);
    case SYS_readv:
        return hook_readv((int)a1, (const struct iovec *)a2, (int)a3);
    case SYS_recvfrom:
        return hook_recvfrom((int)a1, (void *)a2, (size_t)a3, (int)a4, (struct sockaddr *)a5, (socklen_t *)a6);
    case SYS_recvmsg:
        return hook_recvmsg((int)a1, (struct msghdr *)a2, (int)a3);
    case SYS_sendto:
        return hook_sendto((int)a1, (const void *)a2, (size_t)a3, (int)a4,
                           (const struct sockaddr *)a5, (socklen_t)a6);
    case SYS_sendmsg:
        return hook_sendmsg((int)a1, (const struct msghdr *)a2, (int)a3);
    case SYS_setsockopt:
        return hook_setsockopt((int)a1, (int)a2, (int)a3, (const void *)a4, (socklen_t)a5);
    case SYS_accept4:
        return hook_accept4((int)a1, (struct sockaddr *)a2, (socklen_t *)a3, (int)a4);
#ifdef SYS_vfork
    case SYS_vfork:
#endif
#ifdef SYS_clone3
    case SYS_clone3:
#endif
    case SYS_clone:
        /* whatever the flags: a child may share our memory, or have a copy of our fds */
        process_before_shared_child();
        return real_syscall(nr, a1, a2, a3, a4, a5, a6);
#ifdef SYS_fork
    case SYS_fork:
        process_note_fork();
        return real_syscall(nr, a1, a2, a3, a4, a5, a6);
#endif
    case SYS_exit_group:
        linger_at_exit(0);
        return real_syscall(nr, a1, a2, a3, a4, a5, a6);
    case SYS_execve:
    case SYS_execveat:
        linger_before_exec();
        return real_syscall(nr, a1, a2, a3, a4, a5, a6);
    default:
        return real_syscall(nr, a1, a2, a3, a4, a5, a6);
    }
}
