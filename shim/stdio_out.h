/* stdio_out.h - what a stdio stream has written. Its bytes go out through
 * libc-internal writes that no hook sees, so the stream itself is asked.
 *
 * __fwriting() is not the question: it is true for every write-only stream
 * (stdout, stderr, fdopen(fd, "w")) whether or not anything was written. */
#ifndef LINGER_STDIO_OUT_H
#define LINGER_STDIO_OUT_H

#include <stdio.h>
#include <stdio_ext.h>

#include "policy.h"

/* glibc's libio flag for a stream in put mode: set by its first output
 * (the first byte buffered, or written through), cleared only when the
 * stream turns to reading or is closed; a flush leaves it. The value has
 * been the same since libio began (glibc's public libio.h named it until
 * 2.28). */
#define LINGER_IO_CURRENTLY_PUTTING 0x0800

/* STDIO_PENDING when f holds bytes its next flush writes; else
 * STDIO_EARLIER when f wrote and flushed everything already (glibc only:
 * musl forgets a stream's write mode at each flush); else STDIO_NOTHING. */
static inline enum stdio_output stdio_output(FILE *f)
{
#ifdef __GLIBC__
    /* __fpending's own sum, for a byte stream (its public fields): the
     * call alone would map a page of libc's code into every fork child,
     * which asks this at the fork (forkmap.h) */
    size_t pending = f->_mode > 0 ? __fpending(f) : (size_t)(f->_IO_write_ptr - f->_IO_write_base);
#else
    size_t pending = __fpending(f);
#endif
    if (pending > 0)
        return STDIO_PENDING;
#ifdef __GLIBC__
    if (__atomic_load_n(&f->_flags, __ATOMIC_RELAXED) & LINGER_IO_CURRENTLY_PUTTING)
        return STDIO_EARLIER;
#endif
    return STDIO_NOTHING;
}

#endif
