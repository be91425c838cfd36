/* bench.h - what the bench programs share: dying with a line, and the
 * monotonic clock. Header-only: each program is one C file. */
#ifndef LINGER_BENCH_H
#define LINGER_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* perror(what), exit 1. */
static inline void die(const char *what)
{
    perror(what);
    exit(1);
}

/* CLOCK_MONOTONIC in seconds. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
