/* libsignal_in_pthread_create.c - a preload library for linger's fault
 * tests: a signal arrives while linger starts its drainer thread.
 *
 *   LD_PRELOAD="build/liblinger.so build/tests/libsignal_in_pthread_create.so" program
 *
 * When liblinger calls pthread_create (from_linger.h tells), this one
 * raises SIGUSR1 on the calling thread first - once - and then creates the
 * thread. The program's SIGUSR1 handler thus runs while
 * linger is in the middle of starting its drainer, on the same thread.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "from_linger.h"

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    static create_fn real;
    static int raised;
    if (!real)
        real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
    if (from_linger() && !__atomic_exchange_n(&raised, 1, __ATOMIC_SEQ_CST)) {
        /* linger blocks every signal around its pthread_create: unblock
         * this one for the moment it is raised */
        sigset_t usr1, old;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        pthread_sigmask(SIG_UNBLOCK, &usr1, &old);
        raise(SIGUSR1);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    return real(t, attr, fn, arg);
}
