/* pagetouch.c - what a fork child pays the first time it touches a page
 * its parent mapped (make bench, figure 6): the price of each page of the
 * shim's code and data a fork-per-connection child runs or writes
 * (shim/pages.h).
 *
 * The parent maps 64 pages of data and 64 of code (each a "ret") and
 * touches them all, so that fork copies their page-table entries. It then
 * forks CHILDREN children one after another, in rounds that alternate four
 * kinds of child: one that touches nothing, one that reads the 64 data
 * pages, one that calls into the 64 code pages, one that writes the 64
 * data pages. Each child exits at once; the parent reads the CPU its
 * children used (getrusage(RUSAGE_CHILDREN), microseconds, all kinds
 * summed per kind).
 *
 * Usage: pagetouch CHILDREN
 *   prints "read US run US write US": microseconds of CPU per page per
 *   child, beyond the child that touches nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define PAGES 64
#define PAGE 4096

enum kind { NOTHING, READ, RUN, WRITE, KINDS };

/* CPU (user + system) of the children waited for so far, in microseconds. */
static double children_cpu_us(void)
{
    struct rusage r;
    if (getrusage(RUSAGE_CHILDREN, &r) != 0)
        die("getrusage");
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

/* One child of kind k: touches the pages its kind says, then exits. */
static void child(enum kind k, volatile unsigned char *data, unsigned char *code)
{
    unsigned sum = 0;
    for (int i = 0; i < PAGES; i++) {
        if (k == READ)
            sum += data[i * PAGE];
        else if (k == WRITE)
            data[i * PAGE] = 1;
        else if (k == RUN)
            ((void (*)(void))(code + i * PAGE))();
    }
    _exit(sum & 1);
}

int main(int argc, char **argv)
{
    if (argc != 2 || atoi(argv[1]) < KINDS) {
        fprintf(stderr, "usage: pagetouch CHILDREN\n");
        return 2;
    }
    int children = atoi(argv[1]);
    volatile unsigned char *data = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *code = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED || code == MAP_FAILED)
        die("mmap");
    for (int i = 0; i < PAGES; i++)
        data[i * PAGE] = (unsigned char)i;
    memset(code, 0xc3, PAGES * PAGE); /* ret */
    if (mprotect(code, PAGES * PAGE, PROT_READ | PROT_EXEC) != 0)
        die("mprotect");
    double us[KINDS] = { 0 };
    int n[KINDS] = { 0 };
    for (int c = 0; c < children; c++) {
        enum kind k = (enum kind)(c % KINDS);
        double before = children_cpu_us();
        pid_t p = fork();
        if (p < 0)
            die("fork");
        if (p == 0)
            child(k, data, code);
        if (waitpid(p, NULL, 0) != p)
            die("waitpid");
        us[k] += children_cpu_us() - before;
        n[k]++;
    }
    double base = us[NOTHING] / n[NOTHING];
    printf("read %.2f run %.2f write %.2f\n", (us[READ] / n[READ] - base) / PAGES,
           (us[RUN] / n[RUN] - base) / PAGES, (us[WRITE] / n[WRITE] - base) / PAGES);
    return 0;
}
