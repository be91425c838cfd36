/* epoll_closed_number.c - epoll registrations made through a number the
 * app closed while another number still held the socket.
 *
 * The kernel keys a registration by (file, fd number) and drops it only
 * when the file is released (epoll(7), Q6): after close(d) with s still
 * open, a registration made through d stays in the set, and EPOLL_CTL_DEL
 * can no longer name it. Once the app has closed every number, the file
 * goes and the registration with it - unless something else (a lingering
 * copy) keeps the file open; then the app's epoll_wait returns events,
 * with the app's data (a pointer, often), for a connection it closed.
 *
 * In one process, one connection per case, all from loopback. Each case
 * accepts s, answers an early 413 with Connection: close while the client
 * is still sending its body (a close linger lingers), closes every number
 * it made for the socket in the case's order, then the client sends more:
 *   dup-registered     d = dup(s); ADD d; close(d); close(s)
 *   first-registered   ADD s; d = dup(s); close(s); close(d)
 *   dup2-over          d = dup(s); ADD d; dup2(pipe, d) (an implicit close
 *                      of d); close(s); close(pipe's number)
 *   dup-closed-unseen  d = dup(s); ADD d; d closed by a raw system call no
 *                      hook sees; close(s) (x86-64 only)
 *   dup-removed        d = dup(s); ADD d; DEL d; close(d); close(s)
 *                      (nothing left behind: the close may linger)
 *   alone              ADD s; close(s) (the close may linger)
 *
 * For each case it prints one line:
 *   CASE registrations R events N data X held H
 * R: registrations left in the epoll set (from /proc/self/fdinfo of the
 * epoll fd) after the closes; N and X: what epoll_wait then returns within
 * 200 ms (the first event's data, 0 if none); H: fds of this process that
 * still hold the connection (1 while a lingering copy does, else 0).
 * Exits 0, or 2 on a setup error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kit.h"

static const char REQUEST[] = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
static const char RESPONSE[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const unsigned long long DATA = 0xdeadbeefULL;

static void fail(const char *what)
{
    perror(what);
    exit(2);
}

/* Registrations in epoll set ep: its "tfd:" lines in /proc/self/fdinfo. */
static int registrations(int ep)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", ep);
    FILE *f = fopen(path, "r");
    if (!f)
        fail("fdinfo");
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strncmp(line, "tfd:", 4) == 0;
    fclose(f);
    return n;
}

/* This process's fds that hold socket inode ino. */
static int held(unsigned long ino)
{
    char want[64], link[64], path[300];
    snprintf(want, sizeof want, "socket:[%lu]", ino);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        fail("/proc/self/fd");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k > 0) {
            link[k] = 0;
            n += strcmp(link, want) == 0;
        }
    }
    closedir(d);
    return n;
}

static void add(int ep, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = DATA };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        fail("EPOLL_CTL_ADD");
}

static int dup_of(int fd)
{
    int d = dup(fd);
    if (d < 0)
        fail("dup");
    return d;
}

#if defined(__x86_64__)
/* close() that no hook sees. */
static void unseen_close(int fd)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(3L /* SYS_close on x86_64 */), "D"((long)fd)
                     : "rcx", "r11", "memory");
    if (ret != 0)
        fail("raw close");
}
#endif

/* Closes every number of s (and what stands for them) in the case's order. */
static void close_case(const char *name, int ep, int s)
{
    int d;
    if (!strcmp(name, "dup-registered")) {
        d = dup_of(s);
        add(ep, d);
        close(d);
        close(s);
    } else if (!strcmp(name, "first-registered")) {
        add(ep, s);
        d = dup_of(s);
        close(s);
        close(d);
    } else if (!strcmp(name, "dup2-over")) {
        int p[2];
        d = dup_of(s);
        add(ep, d);
        if (pipe(p) != 0 || dup2(p[0], d) != d)
            fail("pipe/dup2");
        close(p[0]);
        close(p[1]);
        close(s);
        close(d);
#if defined(__x86_64__)
    } else if (!strcmp(name, "dup-closed-unseen")) {
        d = dup_of(s);
        add(ep, d);
        unseen_close(d);
        close(s);
#endif
    } else if (!strcmp(name, "dup-removed")) {
        d = dup_of(s);
        add(ep, d);
        if (epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL) != 0)
            fail("EPOLL_CTL_DEL");
        close(d);
        close(s);
    } else { /* alone */
        add(ep, s);
        close(s);
    }
}

static void run_case(int l, const struct sockaddr_in *addr, const char *name)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (const struct sockaddr *)addr, sizeof *addr) != 0)
        fail("connect");
    int s = kit_accept(l);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct stat st;
    if (s < 0 || ep < 0 || fstat(s, &st) != 0)
        fail("accept");
    static char body[65536];
    if (kit_write_all(c, REQUEST, sizeof REQUEST - 1) != 0 || kit_write_all(c, body, sizeof body) != 0
        || !kit_read_head(s) || kit_write_all(s, RESPONSE, sizeof RESPONSE - 1) != 0)
        fail("request");
    close_case(name, ep, s);
    /* the client goes on with its body (reset without a lingering close) */
    (void)!send(c, body, sizeof body, MSG_NOSIGNAL | MSG_DONTWAIT);
    int regs = registrations(ep);
    struct epoll_event out[8];
    int n = epoll_wait(ep, out, 8, 200);
    int h = held((unsigned long)st.st_ino);
    printf("%s registrations %d events %d data %#llx held %d\n", name, regs, n,
           n > 0 ? (unsigned long long)out[0].data.u64 : 0ULL, h);
    fflush(stdout);
    close(ep);
    close(c);
}

int main(void)
{
    struct sockaddr_in addr;
    int l = kit_listen_loopback(&addr, 8);
    static const char *const cases[] = {
        "dup-registered", "first-registered", "dup2-over",
#if defined(__x86_64__)
        "dup-closed-unseen",
#endif
        "dup-removed", "alone",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(l, &addr, cases[i]);
    return 0;
}
