/* libcount_syscall.c - a preload library for linger's tests: counts the
 * calls of syscall(SYS_close, ...) that pass through the public symbol,
 * then hands every call on unchanged to the next definition (liblinger's,
 * when it is preloaded after this one; else libc's).
 *
 *   COUNT_SYSCALL_FILE=/tmp/n LD_PRELOAD="build/tests/libcount_syscall.so build/liblinger.so" node ...
 *
 * The count (one uint64) lives in a shared mapping of COUNT_SYSCALL_FILE, so
 * a test reads it while the process runs. It shows that a program (Node's
 * libuv) really closes through syscall(), the path linger must interpose.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint64_t local_count;
static uint64_t *close_count = &local_count;

__attribute__((constructor)) static void map_counter(void)
{
    const char *path = getenv("COUNT_SYSCALL_FILE");
    if (!path)
        return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (ftruncate(fd, sizeof(uint64_t)) == 0) {
        void *p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED)
            close_count = p;
    }
    close(fd);
}

long syscall(long nr, ...)
{
    static long (*next)(long, ...);
    if (!next)
        next = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_close)
        __atomic_fetch_add(close_count, 1, __ATOMIC_RELAXED);
    return next(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
