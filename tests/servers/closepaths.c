/* closepaths.c - a legacy server that ends each connection through one chosen
 * close path, to test that linger sees every way an fd dies.
 *
 *   closepaths --path P [--count N] [--port-file F] [--inetd] [--no-length]
 *              [--abort listener|socket|syscall] [--listen-fd N] [--report-survivors]
 *              [--open-extra]
 *   closepaths --list-fds
 *
 * For each connection: read the request head, send an early
 * "413 + Connection: close" without reading the body, then end the socket
 * through path P (see usage()). With --count N it serves N connections one
 * after the other and exits (paths exit/_exit/return/exec/exec-syscall serve
 * one; the exec paths close the socket, try to exec a missing file, then
 * exec this program with --list-fds). It prints
 * "accepted fd N" for every connection on stdout, so tests can check that
 * linger does not change the fd numbers the app gets. --inetd serves the one
 * connection it inherited on fds 0 and 1 instead of listening. --no-length
 * answers without Content-Length: the body ends with the close. --abort asks
 * for an abortive close (SO_LINGER on, 0 s) on the listener before it
 * accepts (its sockets inherit it), on each socket with setsockopt, or on
 * each socket with syscall(SYS_setsockopt). --listen-fd N accepts on the
 * listening socket it inherited as fd N (as from systemd or a supervisor).
 *
 * The paths that close "every fd from 3" (close-range, close-range-syscall,
 * closefrom, close-all, close-range-cloexec) start at 3 literally, as such
 * apps do; their listener moves to fd 0 at startup (stdin is not needed),
 * so each accepted socket is fd 3. --report-survivors: after each close
 * path, every fd >= 3 still open is closed with close() and reported as
 * "survivor fd N: close R errno E, still open|gone", then "survivors K".
 * --open-extra opens /dev/null and a pipe before the socket's close path
 * (for each connection; with --inetd, before the answer): fds the close
 * path must close too, and that a drainer process must not keep. When
 * close_range fails (close-range, close-range-syscall: ENOSYS on a kernel
 * without it), the server prints "close_range failed: errno E; fd N open|
 * closed" and closes every fd from 3 one by one, as such apps do.
 * --list-fds prints "exec'd fds >= 3: none" (or the list) and exits: the
 * helper close-range-cloexec runs (fork + exec) after marking every fd from
 * 3 close-on-exec.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

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
            "                  [--abort listener|socket|syscall] [--listen-fd N] [--report-survivors]\n"
            "                  [--open-extra]\n"
            "       closepaths --list-fds\n"
            "paths: close shutdown-wr shutdown-rdwr syscall dup2-over dup3-over dup-then-close\n"
            "       fcntl-dupfd fcntl-dupfd-cloexec fclose close-range close-range-syscall\n"
            "       close-range-cloexec closefrom close-all exit _exit return exec exec-syscall\n");
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

/* True for the paths that close (or mark) every fd from 3 up. */
static int closes_from_three(const char *path)
{
    return !strcmp(path, "close-range") || !strcmp(path, "close-range-syscall") || !strcmp(path, "closefrom")
           || !strcmp(path, "close-all") || !strcmp(path, "close-range-cloexec");
}

/* Fills fds with the open fds >= 3 (at most max; the listing's own fd
 * left out) and returns how many. */
static int open_fds_from_three(int *fds, int max)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        die("opendir /proc/self/fd");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < max) {
        int fd = atoi(de->d_name);
        if (de->d_name[0] != '.' && fd >= 3 && fd != dirfd(d))
            fds[n++] = fd;
    }
    closedir(d);
    return n;
}

/* --report-survivors: closes every fd >= 3 still open and reports how each
 * close went and whether the fd is open after it. */
static void report_survivors(void)
{
    int fds[4096];
    int n = open_fds_from_three(fds, 4096);
    for (int i = 0; i < n; i++) {
        errno = 0;
        int r = close(fds[i]);
        int e = errno;
        int still_open = fcntl(fds[i], F_GETFD) >= 0;
        printf("survivor fd %d: close %d errno %s, %s\n", fds[i], r,
               r == 0 ? "0" : e == EBADF ? "EBADF" : strerror(e), still_open ? "still open" : "gone");
    }
    printf("survivors %d\n", n);
}

/* --list-fds: what an exec'd image got: fds from 3, and children. */
static int list_fds(void)
{
    int fds[4096];
    int n = open_fds_from_three(fds, 4096);
    printf("exec'd fds >= 3:");
    for (int i = 0; i < n; i++)
        printf(" %d", fds[i]);
    printf("%s\n", n ? "" : " none");
    /* an image brought in by exec must not find children it never made
     * (a drainer process linger started before the exec, say) */
    int status;
    pid_t child = waitpid(-1, &status, WNOHANG);
    printf("exec'd children: %s\n", child < 0 && errno == ECHILD ? "none" : "some");
    return 0;
}

/* close-range-cloexec: what an app does before it runs a helper (a CGI
 * script, a log compressor): marks every fd from 3 close-on-exec, then
 * forks and execs. The answered socket must stay open here, marked, and
 * the helper must get none of it (nor any of linger's). */
static void mark_cloexec_and_run_helper(int c)
{
    if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) != 0)
        die("close_range CLOSE_RANGE_CLOEXEC");
    int flags = fcntl(c, F_GETFD);
    if (flags < 0 || !(flags & FD_CLOEXEC)) {
        fprintf(stderr, "closepaths: fd %d is %s after close_range(CLOSE_RANGE_CLOEXEC)\n", c,
                flags < 0 ? "closed" : "not close-on-exec");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        execl("/proc/self/exe", "closepaths", "--list-fds", (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("helper");
}

/* The close-all loop some daemons run: every number from `from` up. */
static void close_every_fd_from(int from)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    for (int fd = from; fd < (int)rl.rlim_cur; fd++)
        close(fd);
}

/* close-range, close-range-syscall: close_range(3, ~0U, 0) or the system
 * call; where it fails (ENOSYS), what the app sees of socket c, then the
 * one-by-one loop instead. */
static void close_range_from_three(int c, int raw)
{
    if ((raw ? syscall(SYS_close_range, 3, ~0u, 0) : close_range(3, ~0u, 0)) == 0)
        return;
    int e = errno;
    printf("close_range failed: errno %s; fd %d %s\n", e == ENOSYS ? "ENOSYS" : strerror(e), c,
           fcntl(c, F_GETFD) >= 0 ? "open" : "closed");
    close_every_fd_from(3);
}

/* --open-extra: fds besides the socket that the close path must close. */
static int open_extra;

static void open_extra_fds(void)
{
    int p[2];
    if (open("/dev/null", O_RDONLY) < 0 || pipe(p) != 0)
        die("open-extra");
}

/* Answers connection c and ends it through path (exit paths end the
 * process; "return" leaves that to main). */
static void serve(int c, const char *path)
{
    read_head(c);
    if (abort_at && strcmp(abort_at, "listener"))
        ask_for_reset(c, !strcmp(abort_at, "syscall"));
    if (!strcmp(path, "dup-then-close") || !strcmp(path, "fcntl-dupfd") || !strcmp(path, "fcntl-dupfd-cloexec")) {
        /* a second number for the socket; the first is closed before the
         * response is written through the second: closing one number must
         * not shut the socket down */
        int d = !strcmp(path, "fcntl-dupfd")           ? fcntl(c, F_DUPFD, 100)
                : !strcmp(path, "fcntl-dupfd-cloexec") ? fcntl(c, F_DUPFD_CLOEXEC, 100)
                                                       : dup(c);
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
    if (open_extra)
        open_extra_fds();
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
    } else if (!strcmp(path, "close-range") || !strcmp(path, "close-range-syscall")) {
        close_range_from_three(c, !strcmp(path, "close-range-syscall"));
    } else if (!strcmp(path, "close-range-cloexec")) {
        mark_cloexec_and_run_helper(c);
        close(c);
    } else if (!strcmp(path, "closefrom")) {
        closefrom(3);
    } else if (!strcmp(path, "close-all")) {
        close_every_fd_from(3);
    } else if (!strcmp(path, "exit")) {
        exit(0);
    } else if (!strcmp(path, "_exit")) {
        _exit(0);
    } else if (!strcmp(path, "exec") || !strcmp(path, "exec-syscall")) {
        /* a lingering close, then a new image (this program, listing the
         * fds it got): the exec closes linger's close-on-exec copy */
        close(c);
        static char *const argv[] = { "closepaths", "--list-fds", NULL };
        int raw = !strcmp(path, "exec-syscall");
        /* first an exec that fails, as execvp's search of PATH makes them */
        if ((raw ? syscall(SYS_execve, "/nonexistent/closepaths", argv, environ)
                 : execv("/nonexistent/closepaths", argv)) != -1 || errno != ENOENT)
            die("exec of a missing file");
        if (raw)
            syscall(SYS_execve, "/proc/self/exe", argv, environ);
        else
            execv("/proc/self/exe", argv);
        die("exec");
    } else if (!strcmp(path, "return")) {
        /* the caller returns from main */
    } else {
        usage();
    }
}

int main(int argc, char **argv)
{
    const char *path = NULL, *port_file = NULL;
    int count = 1000000, inetd = 0, listen_fd = -1, survivors = 0;
    if (argc == 2 && !strcmp(argv[1], "--list-fds"))
        return list_fds();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--path") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--port-file") && i + 1 < argc) port_file = argv[++i];
        else if (!strcmp(argv[i], "--inetd")) inetd = 1;
        else if (!strcmp(argv[i], "--no-length")) RESPONSE = RESPONSE_NO_LENGTH;
        else if (!strcmp(argv[i], "--abort") && i + 1 < argc) abort_at = argv[++i];
        else if (!strcmp(argv[i], "--listen-fd") && i + 1 < argc) listen_fd = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--report-survivors")) survivors = 1;
        else if (!strcmp(argv[i], "--open-extra")) open_extra = 1;
        else usage();
    }
    if (!path || (abort_at && strcmp(abort_at, "listener") && strcmp(abort_at, "socket")
                  && strcmp(abort_at, "syscall")))
        usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    int one_shot = !strcmp(path, "exit") || !strcmp(path, "_exit") || !strcmp(path, "return")
                   || !strcmp(path, "exec") || !strcmp(path, "exec-syscall");

    if (inetd) { /* the connection is fds 0 and 1, as inetd passes it */
        read_head(0);
        if (open_extra)
            open_extra_fds();
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
        if (closes_from_three(path)) { /* below 3: the range closes spare it */
            if (dup2(l, 0) != 0 || fcntl(0, F_SETFD, FD_CLOEXEC) != 0)
                die("dup2 listener to fd 0");
            close(l);
            l = 0;
        }
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
        if (survivors)
            report_survivors();
        if (one_shot)
            return 0;
    }
    return 0;
}
