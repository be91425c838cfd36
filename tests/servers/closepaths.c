/* closepaths.c - a legacy server that ends each connection through one chosen
 * close path, to test that linger sees every way an fd dies.
 *
 *   closepaths --path P [--count N] [--port-file F] [--inetd] [--no-length]
 *              [--abort listener|socket|syscall] [--listen-fd N]
 *
 * For each connection: read the request head, send an early
 * "413 + Connection: close" without reading the body, then end the socket
 * through path P (see usage()). With --count N it serves N connections one
 * after the other and exits (paths exit/_exit/return serve one). It prints
 * "accepted fd N" for every connection on stdout, so tests can check that
 * linger does not change the fd numbers the app gets. --inetd serves the one
 * connection it inherited on fds 0 and 1 instead of listening. --no-length
 * answers without Content-Length: the body ends with the close. --abort asks
 * for an abortive close (SO_LINGER on, 0 s) on the listener before it
 * accepts (its sockets inherit it), on each socket with setsockopt, or on
 * each socket with syscall(SYS_setsockopt). --listen-fd N accepts on the
 * listening socket it inherited as fd N (as from systemd or a supervisor).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char RESPONSE_WITH_LENGTH[] =
    "HTTP/1.1 413 Payload Too Large\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 14\r\n"
    "Connection: close\r\n"
    "\r\n"
    "too large, sir";
/* --no-length: the same answer, its body ended by the close (HTTP/1.0 style) */
static const char RESPONSE_NO_LENGTH[] =
    "HTTP/1.1 413 Payload Too Large\r\n"
    "Content-Type: text/plain\r\n"
    "Connection: close\r\n"
    "\r\n"
    "too large, sir";
static const char *RESPONSE = RESPONSE_WITH_LENGTH;

static void usage(void)
{
    fprintf(stderr,
            "usage: closepaths --path P [--count N] [--port-file F] [--inetd] [--no-length]\n"
            "                  [--abort listener|socket|syscall] [--listen-fd N]\n"
            "paths: close shutdown-wr shutdown-rdwr syscall dup2-over dup3-over dup-then-close\n"
            "       fcntl-dupfd fclose close-range closefrom close-all exit _exit return\n");
    exit(2);
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* Reads until the end of the request head (or EOF); the body stays unread. */
static void read_head(int fd)
{
    char buf[4096];
    size_t have = 0;
    while (have < sizeof buf) {
        ssize_t n = read(fd, buf + have, 1);
        if (n <= 0)
            return;
        have += (size_t)n;
        if (have >= 4 && memcmp(buf + have - 4, "\r\n\r\n", 4) == 0)
            return;
    }
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            die("write");
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd)
{
    send_all(fd, RESPONSE, strlen(RESPONSE));
}

/* --abort: where SO_LINGER {on, 0 s} is set (NULL: nowhere). */
static const char *abort_at;

/* Sets SO_LINGER {on, 0 s} on fd, through syscall() when raw. */
static void ask_for_reset(int fd, int raw)
{
    struct linger l = { 1, 0 };
    if ((raw ? syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_LINGER, &l, sizeof l)
             : setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l)) != 0)
        die("setsockopt SO_LINGER");
}

/* The close-all loop some daemons run: every number from `from` up. */
static void close_every_fd_from(int from)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    for (int fd = from; fd < (int)rl.rlim_cur; fd++)
        close(fd);
}

/* Answers connection c and ends it through path (exit paths end the
 * process; "return" leaves that to main). */
static void serve(int c, const char *path)
{
    read_head(c);
    if (abort_at && strcmp(abort_at, "listener"))
        ask_for_reset(c, !strcmp(abort_at, "syscall"));
    if (!strcmp(path, "dup-then-close") || !strcmp(path, "fcntl-dupfd")) {
        /* a second number for the socket; the first is closed before the
         * response is written through the second: closing one number must
         * not shut the socket down */
        int d = !strcmp(path, "fcntl-dupfd") ? fcntl(c, F_DUPFD_CLOEXEC, 100) : dup(c);
        if (d < 0)
            die("dup");
        close(c);
        respond(d);
        close(d);
        return;
    }
    if (!strcmp(path, "fclose")) {
        FILE *f = fdopen(c, "r+");
        if (!f)
            die("fdopen");
        fputs(RESPONSE, f);
        fclose(f);
        return;
    }
    respond(c);
    if (!strcmp(path, "close")) {
        close(c);
    } else if (!strcmp(path, "shutdown-wr")) {
        shutdown(c, SHUT_WR);
        close(c);
    } else if (!strcmp(path, "shutdown-rdwr")) {
        shutdown(c, SHUT_RDWR);
        close(c);
    } else if (!strcmp(path, "syscall")) {
        syscall(SYS_close, c);
    } else if (!strcmp(path, "dup2-over") || !strcmp(path, "dup3-over")) {
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0)
            die("open /dev/null");
        if ((!strcmp(path, "dup2-over") ? dup2(null, c) : dup3(null, c, O_CLOEXEC)) != c)
            die("dup2/dup3");
        close(null);
        close(c); /* now /dev/null */
    } else if (!strcmp(path, "close-range")) {
        if (syscall(SYS_close_range, c, ~0u, 0) != 0 && close_range(c, ~0u, 0) != 0)
            die("close_range");
    } else if (!strcmp(path, "closefrom")) {
        closefrom(c);
    } else if (!strcmp(path, "close-all")) {
        close_every_fd_from(c);
    } else if (!strcmp(path, "exit")) {
        exit(0);
    } else if (!strcmp(path, "_exit")) {
        _exit(0);
    } else if (!strcmp(path, "return")) {
        /* the caller returns from main */
    } else {
        usage();
    }
}

int main(int argc, char **argv)
{
    const char *path = NULL, *port_file = NULL;
    int count = 1000000, inetd = 0, listen_fd = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--path") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--port-file") && i + 1 < argc) port_file = argv[++i];
        else if (!strcmp(argv[i], "--inetd")) inetd = 1;
        else if (!strcmp(argv[i], "--no-length")) RESPONSE = RESPONSE_NO_LENGTH;
        else if (!strcmp(argv[i], "--abort") && i + 1 < argc) abort_at = argv[++i];
        else if (!strcmp(argv[i], "--listen-fd") && i + 1 < argc) listen_fd = atoi(argv[++i]);
        else usage();
    }
    if (!path || (abort_at && strcmp(abort_at, "listener") && strcmp(abort_at, "socket")
                  && strcmp(abort_at, "syscall")))
        usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    int one_shot = !strcmp(path, "exit") || !strcmp(path, "_exit") || !strcmp(path, "return");

    if (inetd) { /* the connection is fds 0 and 1, as inetd passes it */
        read_head(0);
        respond(1);
        if (!strcmp(path, "exit")) exit(0);
        if (!strcmp(path, "_exit")) _exit(0);
        return 0;
    }

    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int l = listen_fd;
    if (l < 0) {
        int on = 1;
        l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 64))
            die("listen");
    }
    if (getsockname(l, (struct sockaddr *)&a, &al))
        die("getsockname");
    if (abort_at && !strcmp(abort_at, "listener"))
        ask_for_reset(l, 0);
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f)
            die("port file");
        fprintf(f, "%d\n", ntohs(a.sin_port));
        fclose(f);
        rename(tmp, port_file);
    }
    for (int served = 0; served < count; served++) {
        int c = accept(l, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            die("accept");
        }
        printf("accepted fd %d\n", c);
        serve(c, path);
        if (one_shot)
            return 0;
    }
    return 0;
}
