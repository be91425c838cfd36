/* pages.h - where the shim's pages lie, for fork's sake.
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
 *
 * Code counts too. On a virtual machine with shadow page tables, a fresh
 * child's first touch of any page costs it a few microseconds, even a page
 * of code whose entry fork copied. So the functions a request runs through lie
 * together, ahead of the rest of .text (GNU ld 2.34 and later lay out the
 * .text.sorted.* sections in the order of their names, as one run; another
 * linker leaves them among the rest, which costs pages, nothing else):
 *   LINGER_HOT   what every request of a fork-per-connection child runs:
 *                the child's fork handlers, the read, write and close hooks, both
 *                scanners' usual way, the close decision, the hand-over,
 *                the exit;
 *   LINGER_WARM  the rest of that path, next: the other calls of those
 *                families, the unusual heads, dup2, shutdown, open.
 * Spread over .text, such a child ran our code from 20 to 24 pages; now
 * from about 5 (docs/benchmarks.md). A function that such a path calls
 * and that is not inlined needs one of the marks; which functions a child
 * runs, callgrind tells (HACKING.md).
 */
#ifndef LINGER_PAGES_H
#define LINGER_PAGES_H

#if defined(__x86_64__)
#define LINGER_LARGE_BUFFER __attribute__((section(".lbss.linger")))
#else
#define LINGER_LARGE_BUFFER
#endif

#define LINGER_HOT __attribute__((section(".text.sorted.linger.1")))
#define LINGER_WARM __attribute__((section(".text.sorted.linger.2")))

#include <errno.h>

/* Puts errno back as the caller saw it - storing only if it changed: the
 * store alone would copy the thread's TLS page after a fork. */
static inline void restore_errno(int saved)
{
    if (errno != saved)
        errno = saved;
}

#endif
