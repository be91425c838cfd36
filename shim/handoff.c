/* handoff.c - lingering past the process's end (see handoff.h). */
#include "handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "detach.h"
#include "drainer.h"
#include "fdtable.h"
#include "holders.h"
#include "log.h"
#include "policy.h"
#include "owner.h"
#include "real.h"
#include "stats.h"
#include "stdio_out.h"
#include "pages.h"

static _Atomic int handed_off;  /* handoff_at_exit ran in this process */
/* linger_lingered_total when an exec last handed sockets over: a failed
 * exec, then another (execvp tries each PATH directory), hands them over
 * again only if more have lingered since. */
static uint64_t lingered_at_exec_handoff;
/* In a fork child: stdout and stderr had written, and flushed, all they
 * wrote before the fork (so their state tells nothing of the child's own
 * writes). */
static int stdout_flushed_at_fork, stderr_flushed_at_fork;

LINGER_HOT void handoff_after_fork_child(void)
{
    atomic_store(&handed_off, 0);
    lingered_at_exec_handoff = 0; /* the child counts its own, from zero */
    stdout_flushed_at_fork = stdio_output(stdout) == STDIO_EARLIER;
    stderr_flushed_at_fork = stdio_output(stderr) == STDIO_EARLIER;
}

/* stdout/stderr written through stdio onto a socket count as writes - if
 * written at all: a write-only stream nobody wrote to is not an answer.
 * flushed_at_fork: in a fork child, what the stream shows as flushed may be
 * the parent's writes. */
static LINGER_WARM void note_stdio_socket(FILE *f, int flushed_at_fork)
{
    int fd = fileno(f);
    enum stdio_output out = stdio_output(f);
    if (out == STDIO_EARLIER && flushed_at_fork)
        out = STDIO_NOTHING;
    if (fd >= 0 && out != STDIO_NOTHING)
        policy_sent_via_stdio(fd, out);
}

/* True when no thread of the app but the exiting one runs (linger's drainer
 * aside): none can be writing to a socket the exit shuts down. Asks
 * /proc/self/stat (num_threads); without it, says no. */
static LINGER_WARM int app_alone(void)
{
    char buf[1024];
    long fd = raw_syscall(SYS_openat, AT_FDCWD, (long)"/proc/self/stat", O_RDONLY | O_CLOEXEC, 0, 0, 0);
    if (fd < 0)
        return 0;
    long n = raw_syscall(SYS_read, fd, (long)buf, sizeof buf - 1, 0, 0, 0);
    raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces and ')' */
    for (int field = 2; p && field < 20; field++) /* num_threads is field 20 */
        p = strchr(p + 1, ' ');
    if (!p)
        return 0;
    long threads = strtol(p + 1, NULL, 10);
    return threads - (drainer_accepting() ? 1 : 0) <= 1;
}

/* Hands every tracked socket that should linger to the drainer. Asks
 * whether the app is alone only if there is one (a fork child that closed
 * its connection exits without reading /proc). */
static void linger_open_sockets(void)
{
    int alone = -1;
    for (int fd = fdt_next(-1); fd >= 0; fd = fdt_next(fd)) {
        if (fdt_kind(&fdt[fd]) != FK_TRACKED)
            continue;
        if (alone < 0)
            alone = app_alone();
        policy_linger_at_exit(fd, alone);
    }
}

/* Gives the drainer up to LINGER_EXIT_WAIT to finish what it holds (most
 * clients close within a few milliseconds of the response). */
static void wait_for_drainer(void)
{
    if (stat_get(ST_LINGERING_NOW) == 0 || !drainer_accepting())
        return; /* first: a fork child that lingered nothing reads no clock (a page it need not map) */
    uint64_t deadline = clock_ms() + cfg.exit_wait_ms;
    long nap_ns = 50000; /* 50 us, doubling to 5 ms: the usual client answers fast */
    while (stat_get(ST_LINGERING_NOW) > 0 && drainer_accepting() && clock_ms() < deadline) {
        struct timespec nap = { 0, nap_ns };
        nanosleep(&nap, NULL);
        if (nap_ns < 5000000)
            nap_ns *= 2;
    }
}

/* The shim-owned copies still lingering (the drainer's, and any made at exit
 * while no drainer thread runs). */
static LINGER_HOT int count_lingering(void)
{
    int count = 0;
    for (int fd = fdt_next(-1); fd >= 0; fd = fdt_next(fd))
        if (fdt_kind(&fdt[fd]) == FK_LINGERING)
            count++;
    return count;
}

static int is_lingering(int fd)
{
    struct fd_entry *e = fdt_get(fd);
    return e && fdt_kind(e) == FK_LINGERING;
}

static void close_unless_lingering(int fd, void *unused)
{
    (void)unused;
    if (!is_lingering(fd))
        raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
}

/* In the detached child: keep only the lingering fds open. Reads the table
 * and writes nothing to it, so its pages stay shared with the parent's.
 * Without close_range (ENOSYS before Linux 5.9), closes the others one by
 * one: else the drainer would hold the app's listener, pipes and other
 * connections for as long as it drains. */
static void close_all_but_lingering(void)
{
    unsigned from = 0;
    for (int fd = fdt_next(-1); fd >= 0; fd = fdt_next(fd)) {
        if (fdt_kind(&fdt[fd]) == FK_LINGERING) {
            if ((unsigned)fd > from && raw_syscall(SYS_close_range, from, fd - 1, 0, 0, 0, 0) != 0)
                goto one_by_one;
            from = (unsigned)fd + 1;
        }
    }
    if (raw_syscall(SYS_close_range, from, ~0u, 0, 0, 0, 0) == 0)
        return;
one_by_one:
    holders_each_fd_from(0, close_unless_lingering, NULL);
}

/* The detached child's whole life: its own session, default signals, only
 * the lingering fds, drain, exit without running the app's exit code.
 *
 * Its counters are a copy of the process that handed the sockets over, so
 * a stats file of its own would count them again - unless that process's
 * file loses them. At exit it does not: the exiting process writes its
 * final file after this handover, so this process writes none (each
 * socket is counted once, by the process that lingered it). At exec it
 * does: the new image starts its counters, and its file under the same
 * pid, from zero, so this process keeps the old image's account in a
 * file under its own pid, to its end. */
__attribute__((noreturn)) static void become_drainer(int at_exec)
{
    close_all_but_lingering();
    drainer_run_detached(at_exec);
    if (at_exec && cfg.stats_file)
        stats_write_final_file(cfg.stats_file, (int)raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0));
    raw_syscall(SYS_exit_group, 0, 0, 0, 0, 0, 0);
    for (;;)
        ;
}

LINGER_HOT int handoff_claim_exit(void)
{
    /* a vfork child sharing our memory is not us; and only once */
    return owner_is_current() && !atomic_exchange(&handed_off, 1);
}

/* Starts the detached drainer process for the count sockets lingering now
 * (at exec, else at exit) and logs how that went. */
static LINGER_WARM void hand_lingering_to_process(int count, int at_exec)
{
    const char *when = at_exec ? "exec" : "exit";
    int started = detach_spawn();
    if (started == 0)
        become_drainer(at_exec);
    if (started > 0)
        log_msg(LOG_INFO, "%s: %d lingering socket(s) handed to a drainer process", when, count);
    else
        log_msg(LOG_WARN, "%s: cannot start a drainer process; %d socket(s) close now", when, count);
}

void handoff_before_exec(void)
{
    if (!policy_active() || cfg.mode == MODE_OFF || cfg.mode == MODE_OBSERVE || !owner_is_current())
        return; /* a vfork child's exec closes nothing of ours */
    int saved = errno;
    uint64_t lingered = stat_get(ST_LINGERED);
    int count = lingered != lingered_at_exec_handoff ? count_lingering() : 0;
    if (count > 0) {
        lingered_at_exec_handoff = lingered;
        hand_lingering_to_process(count, 1);
    }
    restore_errno(saved);
}

LINGER_HOT void handoff_at_exit(int flush_stdio)
{
    if (!policy_active() || cfg.mode == MODE_OFF || cfg.mode == MODE_OBSERVE)
        return;
    int saved = errno;
    if (flush_stdio) {
        note_stdio_socket(stdout, stdout_flushed_at_fork);
        note_stdio_socket(stderr, stderr_flushed_at_fork);
        fflush(NULL);
    }
    linger_open_sockets();
    wait_for_drainer();
    int count = count_lingering();
    if (count > 0)
        hand_lingering_to_process(count, 0);
    restore_errno(saved);
}
