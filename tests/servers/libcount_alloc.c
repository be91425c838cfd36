/* libcount_alloc.c - a preload library for linger's fault tests: counts
 * every heap allocation and every mmap call made through the public symbols.
 *
 *   COUNT_ALLOC_FILE=/tmp/counts LD_PRELOAD="build/liblinger.so build/tests/libcount_alloc.so" server
 *
 * The counters (malloc, calloc, realloc, the aligned allocators, mmap; one
 * uint64 each, in that order) live in a shared mapping of COUNT_ALLOC_FILE,
 * so a test reads them while the process runs: the difference over a window
 * is what the process allocated in it. Calls bind here because liblinger and
 * the server define none of these and this library comes before libc.
 * Allocations are served by libc's own functions (RTLD_NEXT); during the
 * lookup, before they are known, by a small static arena.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_ALIGNED, C_MMAP, C_COUNT };
static uint64_t local[C_COUNT];
static uint64_t *counts = local;

static void *(*r_malloc)(size_t);
static void *(*r_calloc)(size_t, size_t);
static void *(*r_realloc)(void *, size_t);
static void (*r_free)(void *);
static int (*r_posix_memalign)(void **, size_t, size_t);
static void *(*r_aligned_alloc)(size_t, size_t);
static void *(*r_memalign)(size_t, size_t);
static void *(*r_mmap)(void *, size_t, int, int, int, off_t);

static char early[65536]; /* dlsym may allocate before r_calloc is known */
static size_t early_used;
static int resolving;

static void count(int which)
{
    __atomic_add_fetch(&counts[which], 1, __ATOMIC_RELAXED);
}

static void *early_alloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (early_used + n > sizeof early)
        return NULL;
    void *p = early + early_used;
    early_used += n;
    return p;
}

static int is_early(void *p)
{
    return (char *)p >= early && (char *)p < early + sizeof early;
}

static void resolve(void)
{
    if (r_malloc || resolving)
        return;
    resolving = 1;
    r_calloc = dlsym(RTLD_NEXT, "calloc");
    r_malloc = dlsym(RTLD_NEXT, "malloc");
    r_realloc = dlsym(RTLD_NEXT, "realloc");
    r_free = dlsym(RTLD_NEXT, "free");
    r_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    r_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    r_memalign = dlsym(RTLD_NEXT, "memalign");
    r_mmap = dlsym(RTLD_NEXT, "mmap");
    resolving = 0;
}

__attribute__((constructor)) static void count_init(void)
{
    resolve();
    const char *path = getenv("COUNT_ALLOC_FILE");
    if (!path)
        return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, sizeof local) != 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    /* the raw syscall: this mapping is not one the process asked for */
    void *m = (void *)syscall(SYS_mmap, NULL, sizeof local, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return;
    memcpy(m, local, sizeof local);
    counts = m;
}

void *malloc(size_t n)
{
    resolve();
    if (!r_malloc)
        return early_alloc(n);
    count(C_MALLOC);
    return r_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    resolve();
    if (!r_calloc)
        return early_alloc(a * b); /* static memory is zeroed */
    count(C_CALLOC);
    return r_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    resolve();
    count(C_REALLOC);
    if (is_early(p)) {
        void *q = malloc(n);
        size_t have = (size_t)(early + sizeof early - (char *)p);
        if (q)
            memcpy(q, p, n < have ? n : have);
        return q;
    }
    return r_realloc(p, n);
}

void free(void *p)
{
    if (p && !is_early(p)) {
        resolve();
        r_free(p);
    }
}

int posix_memalign(void **out, size_t align, size_t n)
{
    resolve();
    count(C_ALIGNED);
    return r_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    resolve();
    count(C_ALIGNED);
    return r_aligned_alloc(align, n);
}

void *memalign(size_t align, size_t n)
{
    resolve();
    count(C_ALIGNED);
    return r_memalign(align, n);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    resolve();
    count(C_MMAP);
    return r_mmap(addr, len, prot, flags, fd, off);
}
