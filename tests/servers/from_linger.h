/* from_linger.h - for the preload libraries of linger's fault tests
 * (libfail_pthread.c, libsignal_in_pthread_create.c): whether a call comes
 * from liblinger.
 *
 * Any frame of the caller's stack in an object whose file name contains
 * "liblinger" counts, so that a sanitizer's interceptor in between does
 * not hide it. Header-only: each library is one C file built on its own. */
#ifndef LINGER_TEST_FROM_LINGER_H
#define LINGER_TEST_FROM_LINGER_H

#include <dlfcn.h>
#include <execinfo.h>
#include <string.h>

static inline int from_linger(void)
{
    void *frames[32];
    int n = backtrace(frames, 32);
    for (int i = 1; i < n; i++) {
        Dl_info info;
        if (dladdr(frames[i], &info) && info.dli_fname && strstr(info.dli_fname, "liblinger"))
            return 1;
    }
    return 0;
}

#endif
