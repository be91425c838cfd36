/* static_probe.c - a small program for the static (supervised) path of
 * linger-run, built with gcc -static and musl-gcc -static.
 *
 *   static_probe exit N         exits with status N
 *   static_probe signal N       kills itself with signal N
 *   static_probe closes PIDFILE REPORT
 *       writes its PID to PIDFILE, then every 2 ms opens /dev/null and
 *       closes it, until killed; REPORT always holds one line
 *       "ok=N failed=N errno=E" (E: the last failed close's errno), written
 *       in place with pwrite (no close of its own)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kit.h"

static int closes(const char *pidfile, const char *report)
{
    int out = open(report, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0)
        return 2;
    char line[128];
    int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
    int p = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (p < 0 || write(p, line, (size_t)n) != n)
        return 2;
    /* p stays open: this program's only closes are the loop's */
    long ok = 0, failed = 0, last = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            if (close(fd) == 0) {
                ok++;
            } else {
                failed++;
                last = errno;
            }
        }
        n = snprintf(line, sizeof line, "ok=%ld failed=%ld errno=%ld          \n", ok, failed, last);
        if (pwrite(out, line, (size_t)n, 0) != n)
            return 2;
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
}

static int exit_413(const char *port_file)
{
    static const char answer[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    struct sockaddr_in addr;
    int l = kit_listen_loopback(&addr, 8);
    kit_write_port_file(port_file, &addr);
    int c = kit_accept(l);
    if (c < 0)
        return 2;
    kit_read_head(c);
    kit_write_all(c, answer, sizeof answer - 1);
    exit(0);
}

/* Ends connection c the way how names; 0, or -1 for an unknown how. */
static int end_connection(int c, const char *how, int devnull)
{
    if (strcmp(how, "close") == 0)
        return close(c), 0;
    if (strcmp(how, "dup2") == 0)
        return dup2(devnull, c) == c ? 0 : -1;
    if (strcmp(how, "dup3") == 0)
        return dup3(devnull, c, 0) == c ? 0 : -1;
    if (strcmp(how, "close_range") == 0)
        return (int)syscall(SYS_close_range, (unsigned)c, (unsigned)c, 0);
    if (strcmp(how, "shutdown") == 0) {
        int r = shutdown(c, SHUT_RDWR);
        close(c);
        return r;
    }
    return -1;
}

static int close_path(const char *how, const char *port_file)
{
    static const char answer[] = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    int devnull = open("/dev/null", O_RDONLY);
    struct sockaddr_in addr;
    int l = kit_listen_loopback(&addr, 8);
    kit_write_port_file(port_file, &addr);
    int c;
    while ((c = kit_accept(l)) >= 0) {
        kit_read_head(c);
        kit_write_all(c, answer, sizeof answer - 1);
        if (end_connection(c, how, devnull) != 0) {
            perror(how);
            return 2;
        }
        if (strncmp(how, "dup", 3) == 0)
            close(c); /* now /dev/null's dup */
    }
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "exit") == 0)
        return atoi(argv[2]);
    if (argc == 3 && strcmp(argv[1], "signal") == 0) {
        signal(atoi(argv[2]), SIG_DFL);
        raise(atoi(argv[2]));
        return 99;
    }
    if (argc == 4 && strcmp(argv[1], "closes") == 0)
        return closes(argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "closepath") == 0 && strcmp(argv[3], "--port-file") == 0)
        return close_path(argv[2], argv[4]);
    if (argc == 4 && strcmp(argv[1], "exit413") == 0 && strcmp(argv[2], "--port-file") == 0)
        return exit_413(argv[3]);
    fprintf(stderr, "usage: static_probe exit N | signal N | closes PIDFILE REPORT | exit413 --port-file PATH | closepath HOW --port-file PATH\n");
    return 2;
}
