/* no_user_notify.c - runs a program as on a kernel without seccomp user
 * notification (Linux before 5.0, or one built without
 * CONFIG_SECCOMP_FILTER): a seccomp filter makes seccomp(2) fail with
 * ENOSYS, for this process and everything it execs or forks. Used to show
 * that linger-run refuses a static program it cannot supervise.
 *
 *   no_user_notify PROGRAM [ARG...]
 *
 * Exits 127 when it cannot install the filter or exec the program. The
 * filter looks at the system call number alone: the tests run programs of
 * the machine's own ABI. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: no_user_notify PROGRAM [ARG...]\n");
        return 127;
    }
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof filter / sizeof filter[0], filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("no_user_notify: seccomp");
        return 127;
    }
    if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, NULL) != -1 || errno != ENOSYS) {
        fprintf(stderr, "no_user_notify: the filter does not work\n");
        return 127;
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "no_user_notify: %s: %s\n", argv[1], strerror(errno));
    return 127;
}
