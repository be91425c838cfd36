/* handlerless_child.c - a child made without fork handlers closes its copy
 * of a keep-alive connection the parent goes on serving.
 *
 *   handlerless_child HOW      HOW: _Fork clone sysfork __vfork __clone
 *
 * One process plays client and server over loopback. The client sends two
 * pipelined requests; the server reads the first and answers it
 * (keep-alive), then makes a child in the way HOW names - none of them runs
 * pthread_atfork handlers - and the child closes its copy of the socket and
 * exits. The parent then answers the second request. A shim that took the
 * child's close for the parent's (lingering: shutting the socket down)
 * makes the parent's answer fail: SIGPIPE (status 141). Prints what the
 * client got; exits 0 when both answers arrived, 1 otherwise.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"

extern pid_t _Fork(void);
extern pid_t __vfork(void);
extern int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static const char ANSWER[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static int served; /* the server's end of the connection */

/* The child's whole life: close its copy, leave without running anything. */
static int child(void *arg)
{
    (void)arg;
    close(served);
    syscall(SYS_exit_group, 0);
    return 0;
}

/* A child made the HOW way; its pid, or -1. */
static pid_t make_child(const char *how)
{
    static char stack[64 * 1024] __attribute__((aligned(16)));
    pid_t pid = -1;
    if (!strcmp(how, "_Fork")) {
        if ((pid = _Fork()) == 0)
            child(NULL);
    } else if (!strcmp(how, "sysfork")) {
        if ((pid = (pid_t)syscall(SYS_fork)) == 0)
            child(NULL);
    } else if (!strcmp(how, "__vfork")) {
        if ((pid = __vfork()) == 0)
            child(NULL);
    } else if (!strcmp(how, "clone")) {
        pid = clone(child, stack + sizeof stack, SIGCHLD, NULL);
    } else if (!strcmp(how, "__clone")) {
        pid = __clone(child, stack + sizeof stack, SIGCHLD, NULL);
    }
    return pid;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: handlerless_child _Fork|clone|sysfork|__vfork|__clone\n");
        return 2;
    }
    signal(SIGPIPE, SIG_DFL);
    struct sockaddr_in addr;
    int l = kit_listen_loopback(&addr, 4);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) != 0 || (served = kit_accept(l)) < 0)
        return 2;
    if (kit_write_all(c, REQUEST, strlen(REQUEST)) || kit_write_all(c, REQUEST, strlen(REQUEST)))
        return 2;
    kit_read_head(served); /* the first request; the second stays unread */
    if (kit_write_all(served, ANSWER, strlen(ANSWER)))
        return 2;
    pid_t pid = make_child(argv[1]);
    if (pid < 0) {
        perror(argv[1]);
        return 2;
    }
    waitpid(pid, NULL, 0);
    kit_read_head(served); /* the second request */
    if (kit_write_all(served, ANSWER, strlen(ANSWER)))
        return 1;
    shutdown(served, SHUT_WR);
    char got[256];
    size_t have = 0;
    ssize_t n;
    while (have < sizeof got - 1 && (n = recv(c, got + have, sizeof got - 1 - have, 0)) > 0)
        have += (size_t)n;
    got[have] = '\0';
    int answers = 0;
    for (const char *p = got; (p = strstr(p, "HTTP/1.1 200")); p++)
        answers++;
    printf("%s: the client got %d answers\n", argv[1], answers);
    return answers == 2 ? 0 : 1;
}
