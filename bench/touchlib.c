/* touchlib.c - a library to preload in place of the shim, for the bench's
 * anchors: what loading a library at all costs a server (figure 2), and
 * what a fork child pays for touching as many pages as the shim's child
 * touches more than the plain child, and nothing else (figure 6).
 *
 * Without LINGER_BENCH_TOUCH it does nothing: no hook, no handler, no page.
 * With LINGER_BENCH_TOUCH=R,W it maps R + W pages of its own and writes each
 * once (present in the parent, as the shim's are), and its fork handler
 * reads the first R of them and writes the other W in each child.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#define PAGE 4096

static volatile unsigned char *pages;
static int n_read, n_write;

/* In a fork child: the first touch of each page, as the shim's child makes. */
static void in_child(void)
{
    unsigned sum = 0;
    for (int i = 0; i < n_read; i++)
        sum += pages[(size_t)i * PAGE];
    for (int i = n_read; i < n_read + n_write; i++)
        pages[(size_t)i * PAGE] = (unsigned char)(sum + 1);
}

/* Reads "R,W" into the counts; 0 when the value is not two counts from 0 to 64. */
static int parse_counts(const char *s)
{
    char *end;
    long r = strtol(s, &end, 10);
    if (end == s || *end != ',')
        return 0;
    const char *w_at = end + 1;
    long w = strtol(w_at, &end, 10);
    if (end == w_at || *end || r < 0 || w < 0 || r > 64 || w > 64 || r + w == 0)
        return 0;
    n_read = (int)r;
    n_write = (int)w;
    return 1;
}

__attribute__((constructor)) static void touchlib_init(void)
{
    const char *s = getenv("LINGER_BENCH_TOUCH");
    if (!s || !parse_counts(s))
        return;
    size_t bytes = (size_t)(n_read + n_write) * PAGE;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    pages = p;
    for (int i = 0; i < n_read + n_write; i++)
        pages[(size_t)i * PAGE] = 1;
    pthread_atfork(NULL, NULL, in_child);
}
