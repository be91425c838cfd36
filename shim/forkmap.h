/* forkmap.h - fork children start with the shim's read-only pages mapped.
 *
 * Linux's fork copies the page-table entries of a private file mapping only
 * when that mapping has anonymous pages of its own (an anon_vma: mm/memory.c,
 * vma_needs_copy). The shim's code, its read-only data and its symbol table
 * have none, so every fork child faults them back in: two fault-around
 * windows of code, one of read-only data, and the symbol table that ld.so
 * searches when the app binds a function lazily in the child - about 4 of
 * the faults a fork-per-connection child pays for the shim, each tens of
 * microseconds on a virtual machine.
 *
 * When a process first forks while it holds an accepted socket (the fork
 * that makes the channel, forkchan.h: a fork-per-connection server), the
 * shim maps those pages in (MADV_POPULATE_READ) and rewrites
 * one byte of each such segment, its own value, through /proc/self/mem, as
 * a debugger does to set a breakpoint: the kernel gives that page a private
 * copy, identical, and the mapping an anon_vma. From then on each fork
 * copies the entries, and the child takes no fault there. The content never
 * changes, at no instant (the copy is made first, then the same byte
 * written), so a thread running that code meanwhile runs the same bytes;
 * no protection changes (no page is ever writable and executable). The cost:
 * one private page per segment (12 KB a process), and each fork copies some
 * thirty more entries. Where /proc/self/mem refuses (a kernel booted with
 * proc_mem.force_override=never, no /proc, a security profile that denies
 * the write and may log it), nothing changes: children fault as before.
 * Other processes never try: they gain nothing from it.
 */
#ifndef LINGER_FORKMAP_H
#define LINGER_FORKMAP_H

/* Once, in a fork-per-connection server (forkchan.c, at the fork that
 * makes its channel, before the child exists): makes fork copy the entries of the
 * shim's read-only segments (above). Quietly does nothing on any error;
 * the number of segments done, for the log. */
int forkmap_init(void);

#endif
