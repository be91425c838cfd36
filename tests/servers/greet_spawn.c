/* greet_spawn.c - a server that is not HTTP greets, then hands the
 * connection to a handler program it starts without fork(): the C sibling
 * of line_server.py --greet-then-spawn.
 *
 * Usage: greet_spawn --how posix_spawn|posix_spawnp|clone|vfork --port-file F
 *
 * For each connection: write "220 ready\r\n", wait 100 ms (the client's
 * command arrives, unread), start /bin/sh with the connection as its fds 0
 * and 1 and a pipe's read end as fd 3, close our copy of the connection,
 * then the pipe's write end. The handler waits for that EOF, reads the
 * client's command and replies "250 hello\r\n".
 *   posix_spawn, posix_spawnp  libc's, with dup2 file actions
 *   clone  clone(CLONE_VM | CLONE_VFORK | SIGCHLD), no CLONE_FILES: the
 *          child dup2()s and execs in our memory, with its own fd table
 *   vfork  the same through vfork()
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

extern char **environ;

static char *handler_argv[] = { "sh", "-c", "read x <&3; read line; printf '250 hello\\r\\n'", NULL };

struct child_args {
    int conn, pipe_r;
};

/* In the child (clone, vfork): the handler's fds, then exec. */
static int child(void *p)
{
    struct child_args *a = p;
    if (dup2(a->conn, 0) != 0 || dup2(a->conn, 1) != 1 || dup2(a->pipe_r, 3) != 3)
        _exit(126);
    execve("/bin/sh", handler_argv, environ);
    _exit(127);
}

/* Starts the handler; 0, or -1 with the reason on stderr. */
static int spawn_handler(const char *how, int conn, int pipe_r)
{
    if (!strcmp(how, "posix_spawn") || !strcmp(how, "posix_spawnp")) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, conn, 0);
        posix_spawn_file_actions_adddup2(&fa, conn, 1);
        posix_spawn_file_actions_adddup2(&fa, pipe_r, 3);
        pid_t pid;
        int err = !strcmp(how, "posix_spawn") ? posix_spawn(&pid, "/bin/sh", &fa, NULL, handler_argv, environ)
                                              : posix_spawnp(&pid, "sh", &fa, NULL, handler_argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (err)
            fprintf(stderr, "%s: %s\n", how, strerror(err));
        return err ? -1 : 0;
    }
    struct child_args a = { conn, pipe_r };
    pid_t pid;
    if (!strcmp(how, "clone")) {
        static char stack[64 * 1024] __attribute__((aligned(16)));
        pid = clone(child, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    } else {
        pid = vfork();
        if (pid == 0)
            child(&a);
    }
    if (pid < 0)
        perror(how);
    return pid < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *how = NULL, *port_file = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--how"))
            how = argv[i + 1];
        else if (!strcmp(argv[i], "--port-file"))
            port_file = argv[i + 1];
    }
    if (!how || !port_file) {
        fprintf(stderr, "usage: greet_spawn --how posix_spawn|posix_spawnp|clone|vfork --port-file F\n");
        return 2;
    }
    struct sockaddr_in a;
    int l = kit_listen_loopback(&a, 16);
    fcntl(l, F_SETFD, FD_CLOEXEC);
    kit_write_port_file(port_file, &a);
    signal(SIGCHLD, SIG_IGN); /* handlers reap themselves */
    for (;;) {
        int c = kit_accept(l);
        if (c < 0)
            return 1;
        static const char greeting[] = "220 ready\r\n";
        kit_write_all(c, greeting, sizeof greeting - 1);
        nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) {
            perror("pipe2");
            return 2;
        }
        fcntl(c, F_SETFD, FD_CLOEXEC); /* the handler gets it as 0 and 1 only */
        if (spawn_handler(how, c, p[0]) != 0)
            return 2;
        close(c);
        close(p[1]);
        close(p[0]);
    }
}
