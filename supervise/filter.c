/* filter.c - the seccomp filter and the kernel probe (see filter.h). */
#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define OUR_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define OUR_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "linger-supervise: add this architecture's AUDIT_ARCH"
#endif
#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd 438
#endif
#define X32_BIT 0x40000000u
#define CLOSE_RANGE_CLOEXEC_FLAG 4u

static long sys_seccomp(unsigned op, unsigned flags, void *arg)
{
    return syscall(__NR_seccomp, op, flags, arg);
}

const char *filter_probe(void)
{
    unsigned action = SECCOMP_RET_USER_NOTIF;
    if (sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0)
        return errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ? "the kernel has no seccomp user notification (Linux 5.5 or later)"
                                                  : "seccomp cannot be used here";
    struct seccomp_notif_sizes sizes;
    if (sys_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
        return "the kernel has no seccomp user notification (Linux 5.5 or later)";
    int pidfd = (int)syscall(__NR_pidfd_open, getpid(), 0);
    if (pidfd < 0)
        return "the kernel has no pidfd_open (Linux 5.3 or later)";
    int copy = (int)syscall(__NR_pidfd_getfd, pidfd, 2, 0);
    int err = errno;
    close(pidfd);
    if (copy < 0 && (err == ENOSYS || err == EINVAL))
        return "the kernel has no pidfd_getfd (Linux 5.6 or later)";
    if (copy < 0 && err == EPERM)
        return "pidfd_getfd is not permitted here (ptrace access denied)";
    if (copy >= 0)
        close(copy);
    /* a filter cannot be tried without keeping it: the kernel's answer to
     * the real install is the last word, and linger-supervise refuses
     * then, before the program runs */
    return NULL;
}

int filter_install(void)
{
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, OUR_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_BIT, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close, 9, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 8, 0),
#ifdef __NR_dup2
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_dup2, 7, 0),
#else
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_dup3, 7, 0),
#endif
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_dup3, 6, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_close_range, 6, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_shutdown, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* shutdown: SHUT_WR needs nothing from the supervisor */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])), /* low half */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SHUT_WR, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        /* close_range: CLOSE_RANGE_CLOEXEC closes nothing now */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLOSE_RANGE_CLOEXEC_FLAG, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
    };
    struct sock_fprog fprog = { sizeof prog / sizeof prog[0], prog };
    unsigned flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
    long fd = sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog);
    if (fd < 0 && errno == EACCES) {
        /* without CAP_SYS_ADMIN the kernel wants no_new_privs: setuid
         * binaries the program execs then run without their privileges */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            return -1;
        fd = sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog);
    }
    if (fd < 0)
        return -1;
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    return (int)fd;
}
