/* filter.h - the seccomp filter that sends the close family to the
 * supervisor, and whether this kernel can run it. */
#ifndef LINGER_SUPERVISE_FILTER_H
#define LINGER_SUPERVISE_FILTER_H

/* NULL when this kernel has what supervision needs (seccomp user
 * notification with CONTINUE, pidfd_open, pidfd_getfd, and the right to
 * install a filter), or why not, in a few words. Installs nothing. */
const char *filter_probe(void);

/* Installs the filter on the calling thread (setting no_new_privs first
 * when the caller lacks CAP_SYS_ADMIN) and returns its listener fd
 * (close-on-exec), or -1 with errno. Trapped: close; close_range without
 * CLOSE_RANGE_CLOEXEC; dup2, dup3; shutdown other than SHUT_WR;
 * exit_group. Everything else, and every other ABI, is allowed. */
int filter_install(void);

#endif
