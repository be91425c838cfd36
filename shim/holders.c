/* holders.c - whether another process still holds a socket (see holders.h). */
#include "holders.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

/* Writes v in decimal at p; returns the end. */
static char *put_decimal(char *p, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    return p;
}

/* True when the directory entry `name` of the open /proc/PID/fd `dir` is a
 * link to exactly `want` (want_len bytes). */
static int links_to(long dir, const char *name, const char *want, size_t want_len)
{
    char target[64];
    long n = raw_syscall(SYS_readlinkat, dir, (long)name, (long)target, sizeof target, 0, 0);
    return n == (long)want_len && memcmp(target, want, want_len) == 0;
}

/* The linux_dirent64 records getdents64 fills in. */
struct dirent64_raw {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

int holders_parent_has_socket(uint64_t ino)
{
    int saved = errno;
    long ppid = raw_syscall(SYS_getppid, 0, 0, 0, 0, 0, 0);
    if (ppid <= 1)
        return 0;
    char path[40] = "/proc/", want[40] = "socket:[";
    memcpy(put_decimal(path + 6, (uint64_t)ppid), "/fd", 4);
    char *w = put_decimal(want + 8, ino);
    *w++ = ']';
    size_t want_len = (size_t)(w - want);
    long dir = raw_syscall(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
    int found = 0;
    if (dir >= 0) {
        char buf[2048] __attribute__((aligned(8)));
        long n;
        while (!found && (n = raw_syscall(SYS_getdents64, dir, (long)buf, sizeof buf, 0, 0, 0)) > 0) {
            for (long off = 0; off < n && !found;) {
                const struct dirent64_raw *d = (const struct dirent64_raw *)(buf + off);
                found = d->name[0] != '.' && links_to(dir, d->name, want, want_len);
                off += d->reclen;
            }
        }
        raw_syscall(SYS_close, dir, 0, 0, 0, 0, 0);
    }
    errno = saved;
    return found;
}
