/* no_close_range.c - runs a program as on a kernel without close_range(2)
 * (Linux before 5.9): a seccomp filter makes the system call fail with
 * ENOSYS, for this process and everything it execs or forks.
 *
 *   no_close_range PROGRAM [ARG...]
 *
 * It checks that the filter works (close_range on an empty range must fail
 * with ENOSYS) and exits 127 when it cannot install it or exec the program.
 * The filter looks at the system call number alone: the tests run programs
 * of the machine's own ABI.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_close_range
#define __NR_close_range 436 /* the same number on every architecture */
#endif

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: no_close_range PROGRAM [ARG...]\n");
        return 127;
    }
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close_range, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof filter / sizeof filter[0], filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("no_close_range: seccomp");
        return 127;
    }
    errno = 0;
    if (syscall(__NR_close_range, ~0u, ~0u, 0) != -1 || errno != ENOSYS) {
        fprintf(stderr, "no_close_range: close_range still works (errno %d)\n", errno);
        return 127;
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "no_close_range: exec %s: %s\n", argv[1], strerror(errno));
    return 127;
}
