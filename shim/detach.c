/* detach.c - processes that are no children of ours (see detach.h). */
#include "detach.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "real.h"

volatile int detach_forking;

#if defined(__SANITIZE_THREAD__)
/* The fork first in the lookup order: TSAN's interceptor (TSAN is preloaded
 * first), which then calls linger's fork hook (it stands aside while
 * detach_forking is set) and libc's fork. */
static pid_t (*const first_fork)(void) = fork;
#endif

/* The middle process's clone: under TSAN libc's fork (with linger's own
 * fork handlers standing aside), so that TSAN's fork interceptor sees the
 * child start and does not take the parent's threads for live ones; else
 * a bare clone with no exit signal (only wait4(__WCLONE) sees it), no fork
 * handlers and no locks taken in the child. */
static long clone_middle(void)
{
#if defined(__SANITIZE_THREAD__)
    detach_forking = 1;
    long pid = first_fork();
    if (pid != 0)
        detach_forking = 0;
    return pid;
#else
    return raw_syscall(SYS_clone, 0, 0, 0, 0, 0, 0);
#endif
}

/* A detached process's start: its own session, its name, default signals,
 * none blocked. */
static void enter_detached(void)
{
    raw_syscall(SYS_setsid, 0, 0, 0, 0, 0, 0);
    raw_syscall(SYS_prctl, PR_SET_NAME, (long)"linger-drain", 0, 0, 0, 0);
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

int detach_spawn(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int started = -1;
    long mid = clone_middle();
    if (mid == 0) {
        long pid = raw_syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
        if (pid == 0) {
            enter_detached();
            return 0;
        }
        raw_syscall(SYS_exit_group, pid > 0 ? 0 : 1, 0, 0, 0, 0, 0);
    }
    if (mid > 0) {
        int status = 0;
#if defined(__SANITIZE_THREAD__)
        int options = 0;       /* fork's child signals SIGCHLD */
#else
        int options = __WCLONE;
#endif
        while (raw_syscall(SYS_wait4, mid, (long)&status, options, 0, 0, 0) < 0 && errno == EINTR)
            ;
        started = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 1 : -1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}
