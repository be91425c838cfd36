/* fdspace.c - the supervisor's own fd numbers (see fdspace.h). */
#include "fdspace.h"

#include <fcntl.h>
#include <unistd.h>

static int base;

void fdspace_init(int limit)
{
    base = limit >= 4096 ? limit / 2 : 0;
}

int fdspace_base(void)
{
    return base;
}

int fdspace_high(int fd)
{
    if (!base || fd < 0 || fd >= base)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, base);
    if (high < 0)
        return fd;
    close(fd);
    return high;
}
