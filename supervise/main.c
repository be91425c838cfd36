/* main.c - linger-supervise: runs a program that ignores LD_PRELOAD (a
 * static binary) under a seccomp user-notification supervisor that turns
 * its closes of answered TCP connections into lingering closes.
 *
 *   linger-supervise --probe            exit 0 when this kernel can, else
 *                                       say why on stdout and exit 1
 *   linger-supervise -- PROGRAM [ARG...]
 *
 * The program keeps this process's PID: the filter is installed here and
 * PROGRAM exec'd. The supervisor is a double-forked process (no child of
 * the program's), handed the filter's listener over a socketpair before
 * the exec. scripts/linger-run is the front end; see docs/static.md. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "filter.h"
#include "supervisor.h"

/* The one-line refusal; exit status 3, as linger-run's for a static binary. */
static int refuse(const char *prog, const char *why)
{
    fprintf(stderr, "linger-run: cannot supervise %s: %s\n", prog, why);
    return 3;
}

/* Forks the supervisor (a grandchild, so that it is not the program's
 * child) with sock as its end of the socketpair. 0, or -1. */
static int start_supervisor(int sock, int other)
{
    pid_t root = getpid();
    pid_t mid = fork();
    if (mid < 0)
        return -1;
    if (mid == 0) {
        close(other);
        pid_t sup = fork();
        if (sup == 0)
            supervisor_run(sock, root);
        _exit(sup < 0);
    }
    int st;
    while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--probe") == 0) {
        const char *why = filter_probe();
        if (why)
            printf("%s\n", why);
        return why ? 1 : 0;
    }
    if (argc < 3 || strcmp(argv[1], "--") != 0) {
        fprintf(stderr, "usage: linger-supervise --probe | -- PROGRAM [ARG...]\n");
        return 2;
    }
    char **prog = argv + 2;
    conf_load();
    if (sv_cfg.mode != MODE_OFF) {
        const char *why = filter_probe();
        if (why)
            return refuse(prog[0], why);
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0 || start_supervisor(sp[1], sp[0]) != 0)
            return refuse(prog[0], "cannot start the supervisor process");
        close(sp[1]);
        int listener = filter_install();
        if (listener < 0) {
            char why_buf[160];
            snprintf(why_buf, sizeof why_buf, "the seccomp filter cannot be installed (%s)", strerror(errno));
            return refuse(prog[0], why_buf); /* the supervisor sees EOF and exits */
        }
        if (supervisor_hand_over(sp[0], listener) != 0) {
            /* the filter is on and nobody answers it: exit_group would
             * wait forever, so end with the thread's own exit (untrapped) */
            refuse(prog[0], "the supervisor did not start");
            syscall(SYS_exit, 3);
        }
        close(listener); /* the supervisor answers this close already */
        close(sp[0]);
    }
    execvp(prog[0], prog);
    int err = errno;
    fprintf(stderr, "linger-run: %s: %s\n", prog[0], strerror(err));
    return err == ENOENT ? 127 : 126;
}
