/* hooks_pipe.c - pipe and pipe2: the real call, made once more when it
 * failed for want of fds while sockets linger (see hooks_open.c). */
#include <errno.h>
#include <unistd.h>

#include "hooks.h"
#include "policy.h"
#include "real.h"

EXPORT int pipe(int fds[2])
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 2, real_pipe(fds));
    return r;
}

EXPORT int pipe2(int fds[2], int flags)
{
    int r;
    RETRY_UNDER_FD_PRESSURE(r, 2, real_pipe2(fds, flags));
    return r;
}
