/* req_http_fast.c - the HTTP/1.x request scanner's entry, req_http_feed
 * (see reqscan.h): the fast path. A head that arrives whole in one read,
 * from its first byte, is taken at once where the CPU has AVX2 and the head
 * is plain (req_whole.h, the whole-head pass); else it is taken line by
 * line, each ordinary line at once: a request line, a header
 * whose name frames nothing (not Content-Length, Transfer-Encoding, Expect
 * or Upgrade), the blank line. Only a header's name is looked at byte by
 * byte; its value is searched for the line's end a word at a time.
 * Everything else (a line the read cut, a framing header, a body, chunks,
 * anything malformed or over-long) goes to the byte machine,
 * req_http_feed_ref (req_http.c), which is the reference: after any bytes
 * cut in any way, the state is the one it reaches fed them byte by byte
 * (tests/fuzz/fuzz_req_diff.c checks this). Pure: no syscalls.
 */
#include "req_http.h"
#include "cpu_way.h"
#include "pages.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORDS 1 /* eight bytes at a time; the lowest flagged byte of the
                   zero-byte and less-than tests below is exact */
#else
#define WORDS 0
#endif
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* The bytes of w equal to b, flagged (their high bit; exact for the lowest). */
static inline uint64_t bytes_equal(uint64_t w, unsigned char b)
{
    uint64_t x = w ^ (ONES * b);
    return (x - ONES) & ~x & HIGHS;
}

/* The index of the first CR or LF in p[0..n), or n. */
static size_t find_line_end(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; WORDS && i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t hit = bytes_equal(w, '\n') | bytes_equal(w, '\r');
        if (hit)
            return i + (size_t)(__builtin_ctzll(hit) >> 3);
    }
    while (i < n && p[i] != '\n' && p[i] != '\r')
        i++;
    return i;
}

/* The index of the first byte in p[0..n) a request target cannot hold
 * (a control, space or DEL; bytes from 0x80 may), or n. */
static size_t find_target_end(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; WORDS && i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t hit = ((w - ONES * 0x21) & ~w & HIGHS) | bytes_equal(w, 0x7f);
        if (hit)
            return i + (size_t)(__builtin_ctzll(hit) >> 3);
    }
    while (i < n && p[i] > 0x20 && p[i] != 0x7f)
        i++;
    return i;
}

/* The length of the line end at p[0..n) (CR LF or LF: 2 or 1), 0 if none. */
static size_t eol_len(const unsigned char *p, size_t n)
{
    if (n >= 1 && p[0] == '\n')
        return 1;
    if (n >= 2 && p[0] == '\r' && p[1] == '\n')
        return 2;
    return 0;
}

/* True when p[0..8) is "HTTP/1." and a digit. */
static inline int is_version(const unsigned char *p)
{
    _Static_assert(sizeof REQ_HTTP_VERSION - 1 == 7, "HTTP/1. then one digit: eight bytes");
#if WORDS
    uint64_t w, want;
    memcpy(&w, p, 8);
    memcpy(&want, REQ_HTTP_VERSION "0", 8);
    if ((w ^ want) & 0x00ffffffffffffffull) /* the first seven bytes, in memory order */
        return 0;
#else
    if (memcmp(p, REQ_HTTP_VERSION, 7) != 0)
        return 0;
#endif
    return p[7] >= '0' && p[7] <= '9';
}

/* An ordinary request line whole in p[0..n), from its first byte (the
 * scanner idle): method SP target SP HTTP/1.d CRLF (or LF), at most
 * REQ_MAX_LINE bytes. Returns its length, the state past it as the machine
 * leaves it (req_begin's fields, the method's match against CONNECT, the
 * target's mark, the version's count); 0 for any other line, untouched. */
static size_t request_line(struct req_state *s, const unsigned char *p, size_t n)
{
    size_t max = n < REQ_MAX_LINE ? n : REQ_MAX_LINE;
    size_t i = 0;
    while (i < max && req_http_tchar[p[i]])
        i++;
    size_t method = i;
    if (method == 0 || i >= max || p[i] != ' ')
        return 0;
    size_t target = ++i;
    i += find_target_end(p + i, max - i);
    if (i == target || max - i < REQ_HTTP_VERSION_LEN + 3 || p[i] != ' ' || !is_version(p + i + 1))
        return 0;
    i += REQ_HTTP_VERSION_LEN + 2;
    size_t eol = eol_len(p + i, max - i);
    if (eol == 0)
        return 0;
    int connect_prefix = p[0] == 'C' && method <= 7 && memcmp(p, "CONNECT", method) == 0;
    req_begin(s);
    if (!connect_prefix)
        s->flags |= RQ_DIRTY; /* the method cannot be CONNECT */
    else if (method == 7)
        s->flags |= RQ_UPGRADE; /* CONNECT: a tunnel follows the head */
    s->match = 1;               /* the target had a byte */
    s->aux = REQ_HTTP_VERSION_LEN + 1;
    s->phase = HP_HEADER_START;
    return i + eol;
}

/* True when header name p[0..n) is one that frames a request (any case). */
static LINGER_WARM int frames_request(const unsigned char *p, size_t n)
{
    if (n >= 32 || !((1u << n) & ((1u << 6) | (1u << 7) | (1u << 14) | (1u << 17))))
        return 0; /* not the length of any of them */
    for (unsigned h = H_CONTENT_LENGTH; h <= H_UPGRADE; h++) {
        if (n != req_http_name_lens[h])
            continue;
        size_t i = 0;
        while (i < n && (p[i] | 0x20) == (unsigned char)req_http_names[h][i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

#include "req_whole.h"

#ifdef HAVE_WHOLE_AVX2
#define WHOLE_AVX2_BUILT 1
#else
#define WHOLE_AVX2_BUILT 0
#endif

/* Which way whole heads are taken: -1 not decided yet, 0 line by line
 * only, 1 the AVX2 whole-head pass (req_whole.h) first. */
static int whole_way = -1;

/* This CPU's way, decided at the first call. */
static inline int head_way(void)
{
    return cpu_way(&whole_way, WHOLE_AVX2_BUILT);
}

int req_http_fast_way(int want)
{
    return cpu_way_choose(&whole_way, WHOLE_AVX2_BUILT, want);
}

int req_http_tchar_by_nibbles(unsigned char c)
{
#ifdef HAVE_WHOLE_AVX2
    return (c < 0x80 ? tchar_nibbles[0][c & 15] : 0) & tchar_nibbles[1][c >> 4] ? 1 : 0;
#else
    return req_http_tchar[c];
#endif
}

/* A whole line in p[0..n) at the start of a header line: the blank line
 * (the head ends), or a header that frames nothing, at most REQ_MAX_LINE
 * bytes. Returns its length, the state past it as the machine leaves it;
 * 0 for any other line, untouched. */
static size_t header_line(struct req_state *s, const unsigned char *p, size_t n)
{
    size_t max = n < REQ_MAX_LINE ? n : REQ_MAX_LINE;
    size_t eol;
    if (p[0] == '\r' || p[0] == '\n') {
        eol = eol_len(p, max);
        if (eol)
            req_http_end_head(s);
        return eol;
    }
    size_t i = 0;
    while (i < max && req_http_tchar[p[i]])
        i++;
    if (i == 0 || i >= max || p[i] != ':' || frames_request(p, i))
        return 0;
    i++;
    i += find_line_end(p + i, max - i);
    eol = eol_len(p + i, max - i);
    if (eol == 0)
        return 0;
    /* the machine's name match ends in H_OTHER; its value is not read */
    s->flags &= (uint16_t)~(RQ_DIRTY | RQ_DIGITS | RQ_NUM_END);
    s->match = 0;
    s->sub = H_OTHER;
    s->remaining = 0;
    return i + eol;
}

/* How many bytes from p[0..n) the machine takes next, at least one (the
 * feed's loop advances): the rest of a body of known length, else up to and
 * including the end of the current line. */
static size_t machine_span(const struct req_state *s, const unsigned char *p, size_t n)
{
    if (s->phase == REQ_P_BODY && s->remaining > 0) /* always, in a body */
        return s->remaining < n ? (size_t)s->remaining : n;
    const unsigned char *lf = memchr(p, '\n', n);
    return lf ? (size_t)(lf - p) + 1 : n;
}

#ifdef HAVE_WHOLE_AVX2
/* whole_head_avx2 out of line, for the heads after the first of a read. */
static LINGER_WARM WHOLE_AVX2 __attribute__((noinline)) size_t whole_head_at(struct req_state *s, const unsigned char *p, size_t n)
{
    return whole_head_avx2(s, p, n);
}
#endif

/* req_http_feed from p[i] on: line by line (and whole heads at once where
 * a request starts), the rest by the machine. */
static LINGER_WARM __attribute__((noinline)) void feed_lines(struct req_state *s, const unsigned char *p, size_t len, size_t i)
{
    while (i < len) {
        size_t n = 0;
        if (s->phase == REQ_P_IDLE) {
            while (i < len && (p[i] == '\r' || p[i] == '\n'))
                i++; /* as the machine: blank lines between requests are ignored */
            if (i == len)
                return;
#ifdef HAVE_WHOLE_AVX2
            if (head_way() && (n = whole_head_at(s, p + i, len - i)) > 0) {
                i += n; /* a whole plain head at once */
                continue;
            }
#endif
            n = request_line(s, p + i, len - i);
        }
        /* a head's lines, one after another, while they are whole and ordinary */
        while (s->phase == HP_HEADER_START && s->left == 0 && i + n < len) {
            size_t h = header_line(s, p + i + n, len - i - n);
            if (h == 0)
                break;
            n += h;
        }
        if (n == 0) {
            if (req_is_stopped(s))
                return;
            n = machine_span(s, p + i, len - i);
            req_http_feed_ref(s, p + i, n);
        }
        i += n;
    }
}

#ifdef HAVE_WHOLE_AVX2
/* req_http_feed of a read that may start with a whole head (the scanner
 * idle): the head at once, what follows it line by line. Its own function
 * (AVX2, the pass inlined): no call to return from in the common case. */
static LINGER_HOT WHOLE_AVX2 __attribute__((noinline)) void feed_whole(struct req_state *s, const unsigned char *p, size_t len)
{
    size_t i = whole_head_avx2(s, p, len);
    if (i != len)
        feed_lines(s, p, len, i);
}
#endif

LINGER_HOT void req_http_feed(struct req_state *s, const unsigned char *p, size_t len)
{
#ifdef HAVE_WHOLE_AVX2
    /* the common read: one whole head (or more) from its first byte */
    if (s->phase == REQ_P_IDLE && len >= 32 && head_way()) {
        feed_whole(s, p, len);
        return;
    }
#endif
    feed_lines(s, p, len, 0);
}
