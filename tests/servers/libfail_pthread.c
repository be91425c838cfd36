/* libfail_pthread.c - a preload library for linger's fault tests: the
 * drainer thread cannot be created.
 *
 *   LD_PRELOAD="build/liblinger.so build/tests/libfail_pthread.so" server
 *
 * Its pthread_create fails with EAGAIN (as at RLIMIT_NPROC) when the call
 * comes from liblinger - any frame of the caller's stack in an object whose
 * file name contains "liblinger", so a sanitizer's pthread_create interceptor
 * in between does not hide it - and passes every other call (the server's
 * own threads) to the real one. The order in LD_PRELOAD does not matter for
 * that: liblinger does not define pthread_create, so its call binds to the
 * first definition after the executable in load order, this one or a
 * sanitizer runtime's (which then reaches this one through RTLD_NEXT).
 * Each refusal is counted on stderr as "libfail_pthread: refused N".
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "from_linger.h"

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    static create_fn real;
    static int refused;
    if (!real)
        real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
    if (from_linger()) {
        char line[64];
        int len = snprintf(line, sizeof line, "libfail_pthread: refused %d\n", __atomic_add_fetch(&refused, 1, __ATOMIC_SEQ_CST));
        (void)!write(2, line, (size_t)len);
        return EAGAIN;
    }
    return real(t, attr, fn, arg);
}
