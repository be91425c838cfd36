/* stdio_fork.c - a process whose connection is also a stdio stream, for the
 * tests of what linger counts as written through stdio (whose writes no hook
 * sees).
 *
 *   stdio_fork --inetd [--greet]
 *       The connection is fds 0 and 1 (inetd style). Forks a handler and
 *       returns from main without writing anything (stdout is a write-only
 *       stream nobody wrote to); with --greet, first printf's "220 ready"
 *       and fflush'es it, so all it wrote went out before the fork.
 *   stdio_fork --fdopen --port-file F [--greet]
 *       Accepts on 127.0.0.1 (its port written to F). For each connection:
 *       fdopen(c, "w"), with --greet fprintf + fflush "220 ready" on it, fork
 *       a handler, fclose the stream.
 *   stdio_fork --dup2-stdout --port-file F
 *       Accepts on 127.0.0.1; for each connection: dup2 it onto stdout,
 *       printf and fflush "220 ready", fork a child that exit()s at once
 *       (exit's flush of a stdout that wrote before the fork), wait for it,
 *       then read the client's line and write "250 handler\r\n" itself,
 *       and put /dev/null on stdout.
 *   stdio_fork --inetd --answer flush|pending
 *       No fork: reads the client's line, printf's "ERR line too long", and
 *       fflush'es it (flush) or leaves it to exit (pending); returns from
 *       main with what the client sends after its line unread.
 *
 * The handler waits until its parent is done with the connection (EOF on
 * a pipe whose write end the parent closes after fclose, or by exiting),
 * then reads the client's line, writes "250 handler\r\n" with write(2),
 * closes and _exits. It reports the write's result on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"

#define GREETING "220 ready\r\n"
#define REPLY "250 handler\r\n"

/* Reads fd up to and including a '\n' (or EOF). */
static void read_line(int fd)
{
    char c;
    for (;;) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != 1 || c == '\n')
            return;
    }
}

/* In the handler: waits for the parent (EOF on done), then answers on out
 * after reading the client's line from in. Never returns. */
static __attribute__((noreturn)) void handle(int in, int out, int done)
{
    signal(SIGPIPE, SIG_IGN);
    char b;
    while (read(done, &b, 1) != 0 && errno == EINTR)
        ;
    read_line(in);
    ssize_t w = write(out, REPLY, sizeof REPLY - 1);
    fprintf(stderr, "handler: write %zd%s%s\n", w, w < 0 ? " " : "", w < 0 ? strerror(errno) : "");
    close(out);
    _exit(0);
}

/* Forks a handler for connection (in, out); returns the write end of the
 * pipe it waits on, for the parent to close when it is done. */
static int fork_handler(int in, int out, int listener)
{
    int p[2];
    if (pipe(p) != 0) {
        perror("pipe");
        exit(2);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        if (listener >= 0)
            close(listener);
        close(p[1]);
        handle(in, out, p[0]);
    }
    close(p[0]);
    return p[1];
}

static int inetd(int greet, const char *answer)
{
    if (answer) {
        read_line(0);
        printf("ERR line too long\n");
        if (!strcmp(answer, "flush"))
            fflush(stdout);
        return 0; /* exit() flushes what is pending */
    }
    if (greet) {
        printf(GREETING);
        fflush(stdout);
    }
    fork_handler(0, 1, -1); /* its pipe closes with this process */
    return 0;
}

static int fdopen_server(const char *port_file, int greet)
{
    struct sockaddr_in a;
    int l = kit_listen_loopback(&a, 16);
    kit_write_port_file(port_file, &a);
    signal(SIGCHLD, SIG_IGN); /* handlers reap themselves */
    for (;;) {
        int c = kit_accept(l);
        if (c < 0)
            return 1;
        FILE *f = fdopen(c, "w");
        if (!f) {
            perror("fdopen");
            return 2;
        }
        if (greet) {
            fputs(GREETING, f);
            fflush(f);
        }
        int done = fork_handler(c, c, l);
        fclose(f);
        close(done);
    }
}

static int dup2_stdout_server(const char *port_file)
{
    struct sockaddr_in a;
    int l = kit_listen_loopback(&a, 16);
    kit_write_port_file(port_file, &a);
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int c = kit_accept(l);
        if (c < 0)
            return 1;
        if (dup2(c, 1) != 1) {
            perror("dup2");
            return 2;
        }
        close(c);
        printf(GREETING);
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0)
            exit(0);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        read_line(1);
        ssize_t w = write(1, REPLY, sizeof REPLY - 1);
        fprintf(stderr, "handler: write %zd%s%s\n", w, w < 0 ? " " : "", w < 0 ? strerror(errno) : "");
        int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(null, 1) != 1) {
            perror("/dev/null");
            return 2;
        }
        close(null);
    }
}

int main(int argc, char **argv)
{
    const char *port_file = NULL, *answer = NULL;
    int mode_inetd = 0, mode_fdopen = 0, mode_dup2 = 0, greet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--inetd"))
            mode_inetd = 1;
        else if (!strcmp(argv[i], "--fdopen"))
            mode_fdopen = 1;
        else if (!strcmp(argv[i], "--dup2-stdout"))
            mode_dup2 = 1;
        else if (!strcmp(argv[i], "--greet"))
            greet = 1;
        else if (!strcmp(argv[i], "--answer") && i + 1 < argc)
            answer = argv[++i];
        else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
            port_file = argv[++i];
        else {
            fprintf(stderr, "usage: stdio_fork --inetd [--greet | --answer flush|pending]\n"
                            "       stdio_fork --fdopen --port-file F [--greet]\n"
                            "       stdio_fork --dup2-stdout --port-file F\n");
            return 2;
        }
    }
    if (mode_inetd)
        return inetd(greet, answer);
    if (mode_fdopen && port_file)
        return fdopen_server(port_file, greet);
    if (mode_dup2 && port_file)
        return dup2_stdout_server(port_file);
    fprintf(stderr, "stdio_fork: --inetd, or --fdopen or --dup2-stdout with --port-file\n");
    return 2;
}
