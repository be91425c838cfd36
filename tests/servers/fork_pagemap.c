/* fork_pagemap - how many pages of a library's read-only mappings a fork
 * child starts with (tests/integration/test_forkmap.py, shim/forkmap.h).
 *
 *   fork_pagemap NAME
 *
 * Finds the read-only mappings (r--p, r-xp) of the file whose path holds
 * NAME, forks, and has the child count, first thing, the pages of those
 * mappings present in its page table (/proc/self/pagemap, bit 63). Prints
 * "pages M parent P child C" and exits 0; 2 when no such mapping exists or
 * pagemap cannot be read. Every call the child makes is bound in the parent
 * first (the warm-up count), so the child's own lazy binding touches no
 * library's symbol table. It holds an accepted loopback connection and
 * forks once before it counts, as a fork-per-connection server does: linger
 * prepares its children at such a fork (shim/forkmap.h). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"

#define MAX_RANGES 16

static uintptr_t lo[MAX_RANGES], hi[MAX_RANGES];
static int nranges;

/* The read-only mappings of the file whose path holds name. */
static void find_ranges(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f) && nranges < MAX_RANGES) {
        unsigned long s, e;
        char perm[8];
        if (sscanf(line, "%lx-%lx %7s", &s, &e, perm) == 3 && strstr(line, name) && strchr(line, '/')
            && perm[0] == 'r' && perm[1] == '-' && perm[3] == 'p') {
            lo[nranges] = s;
            hi[nranges++] = e;
        }
    }
    if (f)
        fclose(f);
}

/* Pages of the ranges present in this process's page table, or -1. */
static long count_present(long *total)
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0)
        return -1;
    long present = 0, all = 0;
    for (int i = 0; i < nranges; i++)
        for (uintptr_t a = lo[i]; a < hi[i]; a += 4096) {
            uint64_t entry;
            if (pread(fd, &entry, sizeof entry, (off_t)(a / 4096 * sizeof entry)) != (ssize_t)sizeof entry) {
                close(fd);
                return -1;
            }
            all++;
            present += (entry >> 63) & 1;
        }
    close(fd);
    *total = all;
    return present;
}

/* Accepts a loopback connection of its own and keeps both ends open. */
static void hold_accepted_socket(void)
{
    struct sockaddr_in addr;
    int l = kit_listen_loopback(&addr, 1);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof addr) != 0 || kit_accept(l) < 0) {
        perror("fork_pagemap: loopback connection");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fork_pagemap NAME\n");
        return 2;
    }
    hold_accepted_socket();
    pid_t first = fork(); /* the fork a server makes for its first connection */
    if (first == 0)
        _exit(0);
    if (first < 0 || waitpid(first, NULL, 0) != first)
        return 2;
    find_ranges(argv[1]);
    long total = 0, parent = count_present(&total);
    if (!nranges || parent < 0) {
        fprintf(stderr, "fork_pagemap: no read-only mapping of %s, or no pagemap\n", argv[1]);
        return 2;
    }
    int p[2];
    if (pipe(p) != 0)
        return 2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        long t = 0, c = count_present(&t);
        (void)write(p[1], &c, sizeof c);
        _exit(0);
    }
    long child = -1;
    if (pid < 0 || read(p[0], &child, sizeof child) != (ssize_t)sizeof child || waitpid(pid, NULL, 0) != pid)
        return 2;
    printf("pages %ld parent %ld child %ld\n", total, parent, child);
    return 0;
}
