/* syscallcost.c - what one system call costs on this machine, to read the
 * throughput figures against (make bench, figure 2): the median over 7
 * rounds of the time per getppid() in a loop of 200,000. getppid does no
 * work in the kernel, so this is the price of entering and leaving it,
 * which a virtual machine can make many times larger than on bare metal.
 *
 * Usage: syscallcost      prints nanoseconds per call
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define ROUNDS 7
#define CALLS 200000

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    double ns[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_s();
        for (int i = 0; i < CALLS; i++)
            syscall(SYS_getppid);
        ns[r] = (now_s() - t0) * 1e9 / CALLS;
    }
    qsort(ns, ROUNDS, sizeof ns[0], by_value);
    printf("%.0f\n", ns[ROUNDS / 2]);
    return 0;
}
