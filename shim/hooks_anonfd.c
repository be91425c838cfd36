/* hooks_anonfd.c - the calls that make an fd with no file behind it:
 * eventfd, timerfd_create, signalfd, memfd_create. Each is the real call,
 * made once more when it failed for want of fds while sockets linger (see
 * hooks_open.c). */
#include <errno.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "hooks.h"
#include "policy.h"
#include "real.h"

EXPORT int eventfd(unsigned count, int flags)
{
    RETURN_MADE_FDS(1, real_eventfd(count, flags));
}

EXPORT int timerfd_create(int clock, int flags)
{
    RETURN_MADE_FDS(1, real_timerfd_create(clock, flags));
}

/* signalfd on an existing fd makes none; its EMFILE can only come from a
 * new one */
EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
    RETURN_MADE_FDS(1, real_signalfd(fd, mask, flags));
}

EXPORT int memfd_create(const char *name, unsigned flags)
{
    RETURN_MADE_FDS(1, real_memfd_create(name, flags));
}
