/* vfork_child.c - a vfork child that juggles fds before exec must not
 * change its parent's view of them.
 *
 * The parent accepts an upload and sends an early 413 with Connection:
 * close. Before closing, it vfork()s a child that does what spawners do:
 * dup2() the socket onto stdout, close() the original number, exec. The
 * child shares the parent's memory, so linger must leave its table alone
 * there. The parent then closes the socket: that close must linger.
 *
 * Usage: vfork_child [--clone] --port-file F   (serves one connection, then exits)
 *
 * --clone makes the child with clone(CLONE_VM | CLONE_VFORK) instead, as
 * some spawners do: the same sharing, through another libc function.
 */
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char RESPONSE[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/* What the child does before exec: stdout becomes the socket, and the
 * socket's own number is closed. The program it runs gets an empty
 * environment, so no linger of its own: only the parent's close can linger
 * the socket (a shim in /bin/true would linger its stdout at exit). */
static int child(void *arg)
{
    int c = *(int *)arg;
    char *no_env[] = { NULL };
    dup2(c, 1);
    close(c);
    execle("/bin/true", "true", (char *)NULL, no_env);
    _exit(127);
}

int main(int argc, char **argv)
{
    int use_clone = argc == 4 && !strcmp(argv[1], "--clone");
    if (use_clone)
        argv++, argc--;
    if (argc != 3 || strcmp(argv[1], "--port-file"))
        return 2;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4) || getsockname(l, (struct sockaddr *)&a, &al))
        return 1;
    char tmp[4096]; /* written aside and renamed: a reader never sees it half-written */
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return 1;
    fprintf(f, "%d\n", ntohs(a.sin_port));
    fclose(f);
    rename(tmp, argv[2]);
    int c = accept(l, NULL, NULL);
    char buf[4096];
    if (c < 0 || read(c, buf, sizeof buf) <= 0)
        return 1;
    if (write(c, RESPONSE, sizeof RESPONSE - 1) != (ssize_t)(sizeof RESPONSE - 1))
        return 1;
    pid_t pid;
    if (use_clone) {
        size_t size = 256 * 1024;
        char *stack = malloc(size);
        if (!stack)
            return 1;
        pid = clone(child, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
    } else if ((pid = vfork()) == 0) {
        child(&c);
    }
    if (pid < 0)
        return 1;
    waitpid(pid, NULL, 0);
    close(c); /* must linger: the client is still sending */
    sleep(1);
    return 0;
}
