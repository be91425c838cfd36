/* fork_handoff.c - a fork-per-connection early-413 server that reports, for
 * each connection, how many threads the process that answered had around
 * its close, and its pid (for the test to see it exit).
 *
 * Usage: fork_handoff --port-file PATH --report PATH [--grandchild]
 *                     [--pause write|close --go PATH]
 *   Each connection: fork; the child (with --grandchild: a child of the
 *   child, the middle one exits at once) reads the request head, writes a
 *   413 with Connection: close in one write() without reading the body,
 *   close()s, appends "pid=P threads_before_close=N threads_after_close=N"
 *   to the report and _exit(0)s. The parent closes its copy at once and
 *   reaps children between accepts.
 *   --pause write|close  before that step, wait (at most 20 s) until the
 *                        file --go names exists
 * Only libc; a plain close() everywhere. Exits on SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

static const char RESPONSE[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

static const char *pause_at, *go_file;
static int report_fd = -1;

/* Threads: from /proc/self/status; -1 when it cannot be read. */
static int threads_now(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, "\nThreads:");
    return p ? atoi(p + 9) : -1;
}

/* Waits until go_file exists, if the pause is at step. */
static void maybe_pause(const char *step)
{
    if (!pause_at || strcmp(pause_at, step) != 0)
        return;
    struct stat st;
    for (int i = 0; i < 2000 && stat(go_file, &st) != 0; i++) {
        struct timespec ms10 = { 0, 10000000 };
        nanosleep(&ms10, NULL);
    }
}

static void serve(int c)
{
    kit_read_head(c);
    maybe_pause("write");
    kit_write_all(c, RESPONSE, sizeof RESPONSE - 1);
    maybe_pause("close");
    int before = threads_now();
    close(c);
    int after = threads_now();
    char line[128];
    int n = snprintf(line, sizeof line, "pid=%d threads_before_close=%d threads_after_close=%d\n", (int)getpid(),
                     before, after);
    (void)!write(report_fd, line, (size_t)n);
    _exit(0);
}

int main(int argc, char **argv)
{
    const char *port_file = NULL, *report = NULL;
    int grandchild = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
            port_file = argv[++i];
        else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
            report = argv[++i];
        else if (strcmp(argv[i], "--grandchild") == 0)
            grandchild = 1;
        else if (strcmp(argv[i], "--pause") == 0 && i + 1 < argc)
            pause_at = argv[++i];
        else if (strcmp(argv[i], "--go") == 0 && i + 1 < argc)
            go_file = argv[++i];
        else {
            fprintf(stderr, "usage: fork_handoff --port-file PATH --report PATH [--grandchild] "
                            "[--pause write|close --go PATH]\n");
            return 2;
        }
    }
    if (!port_file || !report || (pause_at && !go_file)) {
        fprintf(stderr, "fork_handoff: --port-file and --report are required (--go with --pause)\n");
        return 2;
    }
    report_fd = open(report, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (report_fd < 0) {
        perror("report");
        return 2;
    }
    struct sockaddr_in addr;
    int l = kit_listen_loopback(&addr, 512);
    kit_write_port_file(port_file, &addr);
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        struct pollfd p = { .fd = l, .events = POLLIN };
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = kit_accept(l);
        if (c < 0)
            return 1;
        pid_t pid = fork();
        if (pid == 0) {
            close(l);
            if (grandchild && fork() != 0)
                _exit(0); /* the middle child: its grandchild serves */
            serve(c);
        }
        close(c);
    }
}
