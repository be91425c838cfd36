/* handoff.c - lingering past the process's end (see handoff.h). */
#include "handoff.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "drainer.h"
#include "fdtable.h"
#include "log.h"
#include "policy.h"
#include "real.h"
#include "stats.h"

static pid_t owner;            /* the process the table describes */
static _Atomic int handed_off;  /* handoff_at_exit ran in this process */

static pid_t current_pid(void)
{
    return (pid_t)raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

static void after_fork_child(void)
{
    owner = current_pid();
    atomic_store(&handed_off, 0);
}

void handoff_init(void)
{
    owner = current_pid();
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* stdout/stderr written through stdio onto a socket count as writes. */
static void note_stdio_socket(FILE *f)
{
    int fd = fileno(f);
    if (fd >= 0 && __fwriting(f))
        policy_sent_via_stdio(fd);
}

/* Discards what is queued on a lingering fd without blocking; closes it and
 * returns 1 when the peer has finished already. */
static int drained_already(int fd)
{
    const struct fd_entry *e = &fdt[fd];
    char buf[4096];
    for (int i = 0; i < 64; i++) {
        ssize_t n = (e->flags & FE_UNIX) ? recv(fd, buf, sizeof buf, MSG_DONTWAIT)
                                         : recv(fd, NULL, 1u << 20, MSG_TRUNC | MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0 && !(e->flags & FE_APP_SHUT_RD)) {
            fdt_set_kind(&fdt[fd], FK_UNKNOWN);
            real_close(fd);
            stat_add(ST_CLOSED_EOF, 1);
            return 1;
        }
        return 0;
    }
    return 0;
}

/* Marks what must linger; returns how many fds are FK_LINGERING now. */
static int collect(void)
{
    int count = 0;
    unsigned high = atomic_load_explicit(&fdt_high, memory_order_relaxed);
    for (unsigned fd = 0; fd < high; fd++) {
        enum fd_kind k = fdt_kind(&fdt[fd]);
        if (k == FK_TRACKED && policy_linger_at_exit((int)fd))
            k = FK_LINGERING;
        if (k == FK_LINGERING && !drained_already((int)fd))
            count++;
    }
    return count;
}

/* In the detached child: keep only the lingering fds open. */
static void close_all_but_lingering(void)
{
    unsigned high = atomic_load_explicit(&fdt_high, memory_order_relaxed);
    unsigned from = 0;
    for (unsigned fd = 0; fd < high; fd++) {
        if (fdt_kind(&fdt[fd]) == FK_LINGERING) {
            if (fd > from)
                raw_syscall(SYS_close_range, from, fd - 1, 0, 0, 0, 0);
            from = fd + 1;
        } else {
            fdt_set_kind(&fdt[fd], FK_UNKNOWN);
        }
    }
    raw_syscall(SYS_close_range, from, ~0u, 0, 0, 0, 0);
}

/* The detached child's whole life: its own session, default signals, only
 * the lingering fds, drain, exit without running the app's exit code. */
__attribute__((noreturn)) static void become_drainer(void)
{
    raw_syscall(SYS_setsid, 0, 0, 0, 0, 0, 0);
    raw_syscall(SYS_prctl, PR_SET_NAME, (long)"linger-drain", 0, 0, 0, 0);
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close_all_but_lingering();
    drainer_run_detached();
    raw_syscall(SYS_exit_group, 0, 0, 0, 0, 0, 0);
    for (;;)
        ;
}

int handoff_claim_exit(void)
{
    /* a vfork child sharing our memory is not us; and only once */
    return current_pid() == owner && !atomic_exchange(&handed_off, 1);
}

void handoff_at_exit(int flush_stdio)
{
    if (!policy_active() || cfg.mode == MODE_OFF || cfg.mode == MODE_OBSERVE)
        return;
    int saved = errno;
    if (flush_stdio) {
        note_stdio_socket(stdout);
        note_stdio_socket(stderr);
        fflush(NULL);
    }
    int count = collect();
    if (count > 0) {
        /* a bare clone: no fork handlers, no locks taken, in the child */
        long pid = raw_syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
        if (pid == 0)
            become_drainer();
        if (pid > 0)
            log_msg(LOG_INFO, "exit: %d lingering socket(s) handed to drainer process %ld", count, pid);
        else
            log_msg(LOG_WARN, "exit: cannot start a drainer process; %d socket(s) close now", count);
    }
    errno = saved;
}
