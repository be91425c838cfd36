/* pages.h - where the shim's writable data lies, for fork's sake.
 *
 * A fork child copies every page of ours it writes to (a fault of tens of
 * microseconds on a virtual machine), and the parent faults on every page
 * it writes while a child still shares it. The small variables the shim
 * writes around a fork (the fork handlers, the child's close and exit,
 * the parent's accept and fork) all lie in .data and .bss, together on
 * one or two pages - as long as no large buffer sits among them. A large
 * buffer (LINGER_LARGE_BUFFER) goes to .lbss instead, which the linker
 * places after .bss. And a store that changes nothing still copies its
 * page: the fork path stores only what changes (restore_errno below).
 */
#ifndef LINGER_PAGES_H
#define LINGER_PAGES_H

#if defined(__x86_64__)
#define LINGER_LARGE_BUFFER __attribute__((section(".lbss.linger")))
#else
#define LINGER_LARGE_BUFFER
#endif

#include <errno.h>

/* Puts errno back as the caller saw it - storing only if it changed: the
 * store alone would copy the thread's TLS page after a fork. */
static inline void restore_errno(int saved)
{
    if (errno != saved)
        errno = saved;
}

#endif
