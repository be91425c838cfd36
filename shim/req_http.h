/* req_http.h - what the HTTP/1.x request scanner's two halves share:
 * req_http.c, the byte-by-byte machine (the reference), and
 * req_http_fast.c, the fast path that takes whole, ordinary lines at once
 * and leaves the rest to the machine. Not for other callers (reqscan.h). */
#ifndef LINGER_REQ_HTTP_H
#define LINGER_REQ_HTTP_H

#include "reqscan.h"

/* The machine's private phases (struct req_state.phase). */
enum http_phase {
    HP_METHOD = REQ_P_FIRST_PRIVATE,
    HP_TARGET,
    HP_VERSION,
    HP_HEADER_START, /* at the first byte of a header line (or the blank line) */
    HP_NAME,
    HP_VALUE,
    HP_CHUNK_SIZE,
    HP_CHUNK_EXT,    /* a chunk extension (or OWS) up to the end of the line */
    HP_CHUNK_END,    /* the CRLF after a chunk's data */
    HP_TRAILER_START,
    HP_TRAILER_LINE,
};

/* Headers that frame a request, by their unique first letter: their names
 * in lower case and lengths, indexed by enum header_id (H_OTHER: ""). */
enum header_id { H_OTHER = 0, H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_EXPECT, H_UPGRADE };
extern const char *const req_http_names[];
extern const uint8_t req_http_name_lens[];

/* RFC 9110 tchar, by byte: 1 for a token's bytes. */
extern const uint8_t req_http_tchar[256];

/* "HTTP/1." then one digit: the only versions the scanner reads. */
#define REQ_HTTP_VERSION "HTTP/1."
#define REQ_HTTP_VERSION_LEN 7u

/* The reference: consumes p[0..len) byte by byte (with its own skips over
 * bytes that cannot matter). req_http_feed gives the same state. */
void req_http_feed_ref(struct req_state *s, const unsigned char *p, size_t len);

/* The blank line ended the head (its LF consumed, s->left back to 0): the
 * body's framing (RFC 9112 6.3) and the phase that follows. */
void req_http_end_head(struct req_state *s);

/* The fast path's way of taking whole heads: want 1 the whole-head pass
 * where the CPU has it (AVX2), 0 line by line only, -1 leave it; returns
 * the way now in use (for tests: both ways must be the machine). */
int req_http_fast_way(int want);

/* 1 when c is a tchar by the whole-head pass's nibble tables (where it has
 * them; else by req_http_tchar): for tests. */
int req_http_tchar_by_nibbles(unsigned char c);

#endif
