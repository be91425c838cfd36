/* glibc_compat.h - one build for old hosts: the glibc x86-64 library binds
 * no symbol newer than GLIBC_2.17, whatever glibc it is built on.
 *
 * The Makefile force-includes this header (-include) into every object of
 * the plain glibc build; nothing in shim/ includes it. Built on glibc 2.34+,
 * six calls would otherwise bind to new versions of old functions (the
 * threads functions moved into libc in 2.34, fstat became a real symbol in
 * 2.33, pthread_sigmask got a new version in 2.32). Each is pinned here to
 * the version every x86-64 glibc since 2.2.5 (2.12 for pthread_setname_np)
 * exports; the newest symbol left is clock_gettime@GLIBC_2.17. The Makefile
 * links libpthread.so.0 and libdl.so.2 explicitly, where those functions
 * lived before 2.34 (stubs on newer glibc). musl builds, other architectures
 * and the sanitizer builds do not use this. tests/integration/
 * test_install.py checks the ceiling with objdump -T. */
#ifndef LINGER_GLIBC_COMPAT_H
#define LINGER_GLIBC_COMPAT_H

#include <features.h>

#if defined(__GLIBC__) && defined(__x86_64__)
#include <sys/stat.h>

__asm__(".symver pthread_create,pthread_create@GLIBC_2.2.5");
__asm__(".symver pthread_attr_setstacksize,pthread_attr_setstacksize@GLIBC_2.2.5");
__asm__(".symver pthread_setname_np,pthread_setname_np@GLIBC_2.12");
__asm__(".symver pthread_sigmask,pthread_sigmask@GLIBC_2.2.5");
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");

/* fstat had no symbol of its own before glibc 2.33: the headers turned it
 * into __fxstat(_STAT_VER, ...), which every glibc still exports (x86-64's
 * _STAT_VER is 1). */
#if __GLIBC_PREREQ(2, 33)
extern int __fxstat(int ver, int fd, struct stat *st);
__asm__(".symver __fxstat,__fxstat@GLIBC_2.2.5");
static inline int linger_compat_fstat(int fd, struct stat *st)
{
    return __fxstat(1, fd, st);
}
#define fstat(fd, st) linger_compat_fstat((fd), (st))
#endif
#endif

#endif
