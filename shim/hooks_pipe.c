/* hooks_pipe.c - pipe and pipe2: the real call, made once more when it
 * failed for want of fds while sockets linger (see hooks_open.c). */
#include <errno.h>
#include <unistd.h>

#include "hooks.h"
#include "policy.h"
#include "real.h"

EXPORT int pipe(int fds[2])
{
    RETURN_MADE_FDS(2, real_pipe(fds));
}

EXPORT int pipe2(int fds[2], int flags)
{
    RETURN_MADE_FDS(2, real_pipe2(fds, flags));
}
