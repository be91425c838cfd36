/* pages.h - where the shim's writable data lies, for fork's sake.
 *
 * A fork child copies every page of ours it writes to (a fault of tens of
 * microseconds on a virtual machine), and the parent faults on every page
 * it writes while a child still shares it. The small variables the shim
 * writes around a fork (the fork handlers, the child's close and exit,
 * the parent's accept and fork) all lie in .data and .bss, together on
 * one or two pages - as long as no large buffer sits among them. A large
 * buffer (LINGER_LARGE_BUFFER) goes to .lbss instead, which the linker
 * places after .bss: bench/run.py figure 6 counts the faults per child.
 */
#ifndef LINGER_PAGES_H
#define LINGER_PAGES_H

#if defined(__x86_64__)
#define LINGER_LARGE_BUFFER __attribute__((section(".lbss.linger")))
#else
#define LINGER_LARGE_BUFFER
#endif

#endif
