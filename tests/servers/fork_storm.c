/* fork_storm.c - forks again and again while other threads are inside the
 * shim: a child must never inherit a lock held at the fork.
 *
 *   fork_storm [--threads N] [--rounds N] [--forks N]
 *
 * In one process: N server threads accept on a shared listener, answer an
 * early 413 with Connection: close and close without reading the body (a
 * lingering close under the shim: the drainer adopts sockets all the
 * while); N client threads upload at least --rounds times each, and until
 * the last fork. Meanwhile the main
 * thread forks --forks times. Each child goes through the shim the way a
 * spawner does - closes its copies of every fd from 3 (the shim's own
 * included: they must answer EBADF or be gone), writes to a pipe, opens and
 * answers a socketpair, then calls exit(0), which runs linger's exit path -
 * and the parent waits for it at most 5 s; a child still running then is
 * hung (killed, counted).
 *
 * Prints "forks=F hung=H ok=N failed=M" and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"

static const char RESPONSE[] =
    "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope";

static int listener, threads = 4, rounds = 50, forks = 200;
static struct sockaddr_in addr;
static _Atomic int ok, failed, done, forking_done;

static void *server_thread(void *arg)
{
    (void)arg;
    kit_answer_each_until(listener, RESPONSE, sizeof RESPONSE - 1, &done, NULL);
    return NULL;
}

static void *client_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < rounds || !forking_done; i++) {
        int s = kit_upload(&addr, 256 * 1024);
        char buf[128];
        ssize_t n = s < 0 ? -1 : recv(s, buf, sizeof buf - 1, MSG_WAITALL);
        if (s >= 0)
            close(s);
        if (n > 12 && strncmp(buf, "HTTP/1.1 413", 12) == 0)
            ok++;
        else
            failed++;
    }
    return NULL;
}

/* What the child does: closes, writes, answers a socketpair, exits. */
static void child(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    for (int fd = 3; fd < (int)rl.rlim_cur && fd < 65536; fd++)
        close(fd);
    int p[2], sp[2];
    if (pipe(p) != 0 || write(p[1], "x", 1) != 1)
        _exit(3);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0 || write(sp[0], "HTTP/1.1 200 OK\r\n\r\n", 19) != 19)
        _exit(4);
    close(sp[0]);
    close(sp[1]);
    exit(0);
}

/* Waits up to 5 s for pid; 1 if it had to be killed. */
static int hung(pid_t pid)
{
    for (int i = 0; i < 500; i++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return !WIFEXITED(st) || WEXITSTATUS(st) != 0;
        if (r < 0)
            return 1;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--forks")) forks = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: fork_storm [--threads N] [--rounds N] [--forks N]\n"); return 2; }
    }
    signal(SIGPIPE, SIG_IGN);
    listener = kit_listen_loopback(&addr, 512);
    fcntl(listener, F_SETFL, O_NONBLOCK);
    pthread_t st[64], ct[64];
    if (threads > 64) threads = 64;
    for (int i = 0; i < threads; i++)
        pthread_create(&st[i], NULL, server_thread, NULL);
    for (int i = 0; i < threads; i++)
        pthread_create(&ct[i], NULL, client_thread, NULL);
    int n_hung = 0;
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid == 0)
            child();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        n_hung += hung(pid);
    }
    forking_done = 1;
    for (int i = 0; i < threads; i++)
        pthread_join(ct[i], NULL);
    done = 1;
    for (int i = 0; i < threads; i++)
        pthread_join(st[i], NULL);
    printf("forks=%d hung=%d ok=%d failed=%d\n", forks, n_hung, ok, failed);
    return 0;
}
