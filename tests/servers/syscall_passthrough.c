/* syscall_passthrough.c - calls syscall() with numbers linger does not
 * handle and checks every result against the expected value: linger
 * interposes syscall() for the close family and must pass every other number
 * through untouched, with all six arguments and errno as the kernel left it.
 *
 *   syscall_passthrough DIR
 *
 * DIR: a directory for a scratch file (removed again). Prints one line per
 * check, "ok NAME" or "FAIL NAME: what differed", then "syscall() from
 * OBJECT" (the object that defines the syscall() this program calls: the
 * shim when preloaded), and exits 0 when every check passed, 1 when one
 * failed, 2 on a bad command line.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096
#define PAGES 4
#define ERRNO_MARK 12345 /* a value no call sets: errno must keep it on success */

static int failed;

/* Prints "ok name" when good, else "FAIL name: why" and remembers the failure. */
static void check(int good, const char *name, const char *why)
{
    if (good) {
        printf("ok %s\n", name);
    } else {
        printf("FAIL %s: %s\n", name, why);
        failed = 1;
    }
}

/* The byte at offset i of the scratch file: each page has its own pattern. */
static unsigned char pattern(size_t i)
{
    return (unsigned char)((i / PAGE) * 37 + (i % PAGE) * 7 + 1);
}

/* Creates DIR/syscall-passthrough.XXXXXX holding PAGES pages of pattern(),
 * unlinks it and returns its fd, or -1. */
static int scratch_file(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/syscall-passthrough.XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    unsigned char buf[PAGE * PAGES];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = pattern(i);
    return write(fd, buf, sizeof buf) == (ssize_t)sizeof buf ? fd : -1;
}

/* True when n bytes at p are the file's bytes from offset off. */
static int same_as_file(const unsigned char *p, size_t n, size_t off)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(off + i))
            return 0;
    return 1;
}

/* SYS_getpid: no argument, the pid, errno untouched. */
static void check_getpid(void)
{
    errno = ERRNO_MARK;
    long r = syscall(SYS_getpid);
    check(r == getpid() && errno == ERRNO_MARK, "getpid", "wrong pid or errno changed");
}

/* SYS_mmap: six arguments, the sixth the file offset: page 2 of the file. */
static void check_mmap(int fd)
{
    errno = ERRNO_MARK;
    long r = syscall(SYS_mmap, 0L, (long)PAGE, (long)PROT_READ, (long)MAP_PRIVATE, (long)fd, (long)(2 * PAGE));
    if (r == -1 || (unsigned long)r > -4096UL) {
        check(0, "mmap-6-args", strerror(errno));
        return;
    }
    check(same_as_file((const unsigned char *)r, PAGE, 2 * PAGE) && errno == ERRNO_MARK, "mmap-6-args",
          "the mapping does not hold page 2 (offset lost?) or errno changed");
    munmap((void *)r, PAGE);
}

/* SYS_pread64: four arguments, the fourth the offset. */
static void check_pread(int fd)
{
    unsigned char buf[100];
    errno = ERRNO_MARK;
    long r = syscall(SYS_pread64, fd, buf, sizeof buf, (long)(3 * PAGE + 5));
    check(r == (long)sizeof buf && same_as_file(buf, sizeof buf, 3 * PAGE + 5) && errno == ERRNO_MARK,
          "pread64", "wrong count or bytes, or errno changed");
}

/* SYS_splice: six arguments (in, &in_off, out, &out_off, len, flags): 300
 * bytes from offset PAGE + 11 into a pipe; the input offset moves. */
static void check_splice(int fd)
{
    int p[2];
    if (pipe(p)) {
        check(0, "splice-6-args", "pipe failed");
        return;
    }
    loff_t off = PAGE + 11;
    errno = ERRNO_MARK;
    long r = syscall(SYS_splice, fd, &off, p[1], NULL, 300L, (long)SPLICE_F_NONBLOCK);
    unsigned char buf[300];
    int good = r == 300 && off == PAGE + 311 && errno == ERRNO_MARK && read(p[0], buf, sizeof buf) == 300
               && same_as_file(buf, sizeof buf, PAGE + 11);
    check(good, "splice-6-args", "wrong count, offset or bytes, or errno changed");
    close(p[0]);
    close(p[1]);
}

/* SYS_copy_file_range: six arguments, the sixth flags, which must be 0
 * (anything else is EINVAL): 200 bytes from offset 3 of the file to page 3
 * of a second scratch file; both offsets move. */
static void check_copy_file_range(int fd, const char *dir)
{
    int out = scratch_file(dir);
    if (out < 0) {
        check(0, "copy_file_range-6-args", "no second scratch file");
        return;
    }
    loff_t in_off = 3, out_off = 3 * PAGE;
    errno = ERRNO_MARK;
    long r = syscall(SYS_copy_file_range, fd, &in_off, out, &out_off, 200L, 0L);
    unsigned char buf[200];
    int good = r == 200 && in_off == 203 && out_off == 3 * PAGE + 200 && errno == ERRNO_MARK
               && pread(out, buf, sizeof buf, 3 * PAGE) == 200 && same_as_file(buf, sizeof buf, 3);
    check(good, "copy_file_range-6-args", "wrong count, offsets or bytes, or errno changed");
    close(out);
}

/* A failing call: -1 and the kernel's errno. */
static void check_fails(const char *name, long r, int want)
{
    char why[200];
    int got = errno;
    snprintf(why, sizeof why, "returned %ld errno %d (%s), expected -1 errno %d (%s)", r, got, strerror(got),
             want, strerror(want));
    check(r == -1 && got == want, name, why);
}

/* The object that defines the syscall() this program calls. */
static const char *syscall_provider(void)
{
    Dl_info info;
    void *f = dlsym(RTLD_DEFAULT, "syscall");
    return f && dladdr(f, &info) && info.dli_fname ? info.dli_fname : "unknown";
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: syscall_passthrough DIR\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fd = scratch_file(argv[1]);
    if (fd < 0) {
        fprintf(stderr, "syscall_passthrough: cannot write a scratch file in %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    check_getpid();
    check_mmap(fd);
    check_pread(fd);
    check_splice(fd);
    check_copy_file_range(fd, argv[1]);
    errno = 0;
    check_fails("invalid-number", syscall(-1L), ENOSYS);
    errno = 0;
    check_fails("pread64-bad-fd", syscall(SYS_pread64, -1L, 0L, 1L, 0L), EBADF);
    errno = 0;
    check_fails("mmap-bad-offset", syscall(SYS_mmap, 0L, (long)PAGE, (long)PROT_READ, (long)MAP_PRIVATE,
                                           (long)fd, 1L), EINVAL);
    close(fd);
    printf("syscall() from %s\n", syscall_provider());
    return failed;
}
