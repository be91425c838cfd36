/* reqentry.h - what the read side keeps of one accepted socket (reqwatch.h):
 * its request scanner and the marks around it. It lives in the socket's fd
 * table entry (fdtable.h, the entry's second cache line), on the same page
 * as the send side's state: a fork child that reads its request and writes
 * its response copies one page of the table, not two (a fault of tens of
 * microseconds on a virtual machine). */
#ifndef LINGER_REQENTRY_H
#define LINGER_REQENTRY_H

#include <stdint.h>

#include "reqscan.h"

struct req_entry {
    struct req_state scan;     /* the request scanner */
    uint64_t skip;             /* bytes the hot path may still count down, plus one;
                                  0: ask the scanner (reqw_catch_up) */
    uint64_t ino;              /* the accepted socket this describes (fd_entry.ino) */
    uint32_t reader_mark;      /* fdt_writer_mark() at the last read the slow path saw */
    uint8_t responses_at_head; /* the response scanner's count when the last head ended */
    uint8_t heads;             /* scan.requests then (to see a head end) */
    uint8_t pad[2];
    uint64_t pad2;
};
_Static_assert(sizeof(struct req_entry) == 64, "struct req_entry is one cache line");

#endif
