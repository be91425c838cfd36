/* scan_fast.c - the response scanner's fast path (see scan.h): scan_feed.
 *
 * The usual head - "HTTP/1.x NNN", the feed holding it whole, only the
 * usual lines of ours (scan_usual.h) - is taken in one pass that keeps its
 * state in registers (scan_quick.h). Any other head the feed holds whole is
 * taken at once too (scan_whole.h, scan_bits.h):
 * its bytes are classified 64 at a time into bit masks (LF or ':', the
 * bytes that are not odd, CR), every line is checked with a few bit
 * operations per 64 bytes, and only the names that may be ours (by their
 * length) are read, with their values (scan_values.h). A head split between writes has its
 * whole lines taken the same way, and the rest a line at a time: 32-byte
 * spans find each line's LF (and check that a CR comes only just before
 * it), and only the first bytes of a line are looked at (scan_lines.h).
 * Everything else - a line split between writes, an unusual line, a
 * chunked body's size lines, a value that is a list - goes by the steps of
 * scan_pieces.h or a byte at a time through the reference machine
 * (scan_ref.c), and wherever the fast path stops, the state is the one that
 * machine reaches at the same byte (tests/fuzz/fuzz_scan_diff.c checks
 * this). Each way comes as SSE2 (or plain C) and AVX2+BMI2 (scan_ways.h),
 * chosen once. Pure: no syscalls.
 */
#include "scan_machine.h"
#include "pages.h"
#include "scan_pieces.h"
#include "scan_values.h"
#include "scan_bits.h"
#include "cpu_way.h"
#include "scan_usual.h"
#include "scan_ways.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The feed's length from which the fast path pays for itself; shorter ones
 * go through the reference machine (and the 16-byte blocks below may be
 * loaded from the feed's end). */
#define FAST_MIN_LEN 16

/* A line is shaped from blocks up to this far; a longer one is searched
 * with memchr. */
#define SHAPE_SPAN 64

/* The block at q, of which only the bytes before end are real: when q + 16
 * passes end it is read from end - 16 (the feed holds at least 16 bytes),
 * and *shift says how far its bits must move down. */
static inline block16 block_at(const unsigned char *q, const unsigned char *end, unsigned *shift)
{
    if (end - q >= 16) {
        *shift = 0;
        return load16(q);
    }
    *shift = 16 - (unsigned)(end - q);
    return load16(end - 16);
}

/* Where a line ends: the offset of its first `stop` byte (its name's end,
 * < 32) and of its LF, from its first byte. */
struct shape {
    unsigned name, lf;
};

/* The bytes of a line the reference counts in line_len: all but a CR. */
static inline size_t counted(const unsigned char *p, const struct shape *sh)
{
    return sh->lf + 1 - (sh->lf > 0 && p[sh->lf - 1] == '\r');
}

/* The first LF from p + k on, given the `eol` bits of the block there, when
 * only a CR just before it stands on the way (HT and other bytes of
 * 0x08..0x0f are passed over); SIZE_MAX when the line ends without its
 * LF in the feed, or a CR stands alone (the reference then loses). */
static inline size_t first_lf(const unsigned char *p, size_t k, unsigned eol, const unsigned char *end)
{
    while (eol) {
        size_t i = k + (size_t)__builtin_ctz(eol);
        if (p[i] == '\n')
            return i;
        if (p[i] == '\r')
            return p + i + 1 < end && p[i + 1] == '\n' ? i + 1 : SIZE_MAX;
        eol &= eol - 1;
    }
    return SIZE_MAX - 1; /* not in this block */
}

/* The shape of the whole line at p when the feed holds its LF and a CR
 * stands only just before that LF; 0 otherwise (the line is not all here,
 * a CR inside it makes the reference lose, or its name is longer than a
 * block). Lines longer than SHAPE_SPAN are searched with memchr. The way
 * for any line; scan_lines.h has a quicker one for most. */
static LINGER_WARM __attribute__((noinline)) int line_shape(const unsigned char *p, const unsigned char *end, struct shape *sh)
{
    unsigned shift;
    block16 v = block_at(p, end, &shift);
    unsigned stop = (stop_bits(v) >> shift) | ~(0xffffu >> shift);
    if ((stop & 0xffffu) == 0)
        return 0; /* a name of 16 bytes or more: the byte-at-a-time way */
    sh->name = (unsigned)__builtin_ctz(stop);
    for (size_t k = 0;;) {
        size_t lf = first_lf(p, k, eol_bits(v) >> shift, end);
        if (lf < SIZE_MAX - 1) {
            sh->lf = (unsigned)lf;
            return 1;
        }
        if (lf == SIZE_MAX)
            return 0;
        k += 16;
        if (p + k >= end)
            return 0;
        if (k == SHAPE_SPAN)
            break;
        v = block_at(p + k, end, &shift);
    }
    const unsigned char *lf = memchr(p + SHAPE_SPAN, '\n', (size_t)(end - p - SHAPE_SPAN));
    if (!lf)
        return 0;
    const unsigned char *cr = memchr(p + SHAPE_SPAN, '\r', (size_t)(lf - p - SHAPE_SPAN));
    if ((cr && cr != lf - 1) || (size_t)(lf - p) + (cr == NULL) > SCAN_MAX_LINE) /* counted() too long */
        return 0;
    sh->lf = (unsigned)(lf - p);
    return 1;
}


#define load8 scan_load8
#define header_named scan_header_named

/* The state after header lines the fast path passed over whole, as the
 * reference leaves it at the start of the next line. */
static inline void after_other_lines(struct scan_state *s)
{
    s->flags |= SF_IN_HEADER;
    scan_start_value(s);
    s->header = H_OTHER;
    scan_start_line(s, SP_HEADER_START);
}

/* Header name lengths that may be one of ours (10, 14, 17), as bits. */
#define OUR_NAME_LENGTHS ((1u << 10) | (1u << 14) | (1u << 17))

/* Where the build has the AVX2 way, a CPU without it is rare: its SSE2
 * way's code stays out of the hot pages (pages.h). */
#ifdef HAVE_AVX2_WAY
#define SSE2_HOT
#define SSE2_WARM
#else
#define SSE2_HOT LINGER_HOT
#define SSE2_WARM LINGER_WARM
#endif

#define LINES_ATTR
#define WAY_WARM SSE2_WARM
#define CONSTS CONSTS_SSE2
#define CONSTS_T struct consts_sse2
#define CRS_BEFORE(m, n) ((m) & ((1ull << (n)) - 1))
#define SPAN span_sse2
#define SHAPE shape_sse2
#define STATUS status_sse2
#define HEAD head_sse2
#define MASKS masks_sse2
#define MASKS32 masks32_sse2
#define USUAL_LINE usual_line_sse2
#define AND_NOT and_not_sse2
#define WHOLE whole_sse2
#define QUICK quick_sse2
#define QUICK_LINES quick_lines_sse2
#define QUICK_OTHER quick_other_sse2
#define QUICK_NAME quick_name_sse2
#include "scan_whole.h"
#include "scan_quick.h"
#include "scan_lines.h"

#ifdef HAVE_AVX2_WAY
#define LINES_ATTR AVX2
#define WAY_WARM LINGER_WARM
#define CONSTS CONSTS_AVX2
#define CONSTS_T struct consts_avx2
#define CRS_BEFORE(m, n) _bzhi_u64((m), (n))
#define SPAN span_avx2
#define SHAPE shape_avx2
#define STATUS status_avx2
#define HEAD head_avx2
#define MASKS masks_avx2
#define MASKS32 masks32_avx2
#define USUAL_LINE usual_line_avx2
#define AND_NOT and_not_avx2
#define WHOLE whole_avx2
#define QUICK quick_avx2
#define QUICK_LINES quick_lines_avx2
#define QUICK_OTHER quick_other_avx2
#define QUICK_NAME quick_name_avx2
#include "scan_whole.h"
#include "scan_quick.h"
#include "scan_lines.h"
#endif

/* The quick way (quick_*) where a head starts inside a feed. */
static SSE2_WARM __attribute__((noinline)) const unsigned char *quick_any_sse2(struct scan_state *s, const unsigned char *p,
                                                                    const unsigned char *lo, const unsigned char *end)
{
    return quick_sse2(s, p, lo, end);
}

#ifdef HAVE_AVX2_WAY
static LINGER_WARM AVX2 __attribute__((noinline)) const unsigned char *quick_any_avx2(struct scan_state *s, const unsigned char *p,
                                                                         const unsigned char *lo, const unsigned char *end)
{
    return quick_avx2(s, p, lo, end);
}
#endif

#ifdef HAVE_AVX2_WAY
#define AVX2_WAY_BUILT 1
#else
#define AVX2_WAY_BUILT 0
#endif

/* Which way heads are read: -1 not decided yet, 0 SSE2, 1 AVX2. */
static int head_way = -1;

/* The way this CPU reads heads fastest, decided at the first call. */
static inline int wide_way(void)
{
    return cpu_way(&head_way, AVX2_WAY_BUILT);
}

/* How scan_feed takes a feed that starts a head (below). */
typedef enum scan_verdict feed_head_fn(struct scan_state *s, const unsigned char *lo, const unsigned char *end);
static feed_head_fn feed_head, *feed_head_way_of(int way);

/* The way scan_feed takes a head: feed_head until the way is decided, then
 * the way's own (one indirect jump, where a test of head_way was three
 * instructions). */
static feed_head_fn *feed_head_at = feed_head;

int scan_fast_way(int want)
{
    const int way = cpu_way_choose(&head_way, AVX2_WAY_BUILT, want);
    __atomic_store_n(&feed_head_at, feed_head_way_of(way), __ATOMIC_RELAXED);
    return way;
}

/* Lines of a head at once (status_* and head_* above), the CPU's way. */
static inline const unsigned char *head_lines(struct scan_state *s, const unsigned char *p, const unsigned char *lo,
                                             const unsigned char *end)
{
#ifdef HAVE_AVX2_WAY
    if (wide_way())
        return head_avx2(s, p, lo, end);
#endif
    return head_sse2(s, p, lo, end);
}

/* A whole head at once, the CPU's way: the quick way (quick_*) when the
 * feed holds 64 bytes of it, else whole_* (which reads the feed's last 64
 * bytes, the caller knows it holds them). */
static inline const unsigned char *whole_head(struct scan_state *s, const unsigned char *p, const unsigned char *lo,
                                             const unsigned char *end)
{
#ifdef HAVE_AVX2_WAY
    if (wide_way())
        return end - p >= 64 ? quick_any_avx2(s, p, lo, end) : whole_avx2(s, p, lo, end);
#endif
    return end - p >= 64 ? quick_any_sse2(s, p, lo, end) : whole_sse2(s, p, lo, end);
}

/* The fast path from p on, where no whole head was taken at once. */
static LINGER_HOT __attribute__((noinline)) enum scan_verdict feed_lines(struct scan_state *s, const unsigned char *lo,
                                                             const unsigned char *p, const unsigned char *end)
{
    while (p < end) {
        const unsigned char *from = p;
        switch ((enum scan_phase)s->phase) {
        case SP_BODY_LENGTH:
        case SP_CHUNK_DATA:
            p += scan_count_body(s, (size_t)(end - p));
            continue;
        case SP_BODY_UNTIL_CLOSE:
        case SP_DONE:
            return (enum scan_verdict)s->verdict;
        case SP_START:
            if (end - lo >= 32 && (*p == 'H' || *p == 'S' || *p == 's')) {
                p = end - lo >= 64 ? whole_head(s, p, lo, end) : p;
                if (p == from)
                    p = head_lines(s, p, lo, end);
            }
            break;
        case SP_HEADER_START:
            if (end - lo >= 32 && !(s->flags & SF_CR))
                p = head_lines(s, p, lo, end);
            break;
        default:
            break;
        }
        if (p == from && s->phase != SP_DONE)
            p = scan_piece_step(s, p, end);
        if (p == from && s->phase != SP_DONE) /* a byte at a time where no fast way went on */
            scan_line_byte(s, *p++);
    }
    return (enum scan_verdict)s->verdict;
}

/* What scan_feed does with the bytes from p on when they start with a head
 * it did not take at once (p == lo), or come after one it took. */
static LINGER_HOT __attribute__((noinline)) enum scan_verdict feed_rest(struct scan_state *s, const unsigned char *lo,
                                                            const unsigned char *p, const unsigned char *end)
{
    if (p == lo && (*p == 'H' || *p == 'S' || *p == 's'))
        p = head_lines(s, p, lo, end);
    return feed_lines(s, lo, p, end);
}

/* scan_feed from the start of a head (SP_START) the feed holds 64 bytes
 * of or more, the CPU's way: at once when it can (quick_*, whole_*). */
#ifdef HAVE_AVX2_WAY
static LINGER_HOT AVX2 __attribute__((noinline)) enum scan_verdict feed_head_avx2(struct scan_state *s, const unsigned char *lo,
                                                                       const unsigned char *end)
{
    const unsigned char *p = quick_avx2(s, lo, lo, end);
    if (__builtin_expect(p == end, 1))
        return (enum scan_verdict)s->verdict;
    return feed_rest(s, lo, p, end);
}
#endif

static SSE2_HOT __attribute__((noinline)) enum scan_verdict feed_head_sse2(struct scan_state *s, const unsigned char *lo,
                                                                 const unsigned char *end)
{
    const unsigned char *p = quick_sse2(s, lo, lo, end);
    if (p == end)
        return (enum scan_verdict)s->verdict;
    return feed_rest(s, lo, p, end);
}

/* feed_head_sse2 or feed_head_avx2, as `way` says. */
static feed_head_fn *feed_head_way_of(int way)
{
#ifdef HAVE_AVX2_WAY
    if (way)
        return feed_head_avx2;
#endif
    (void)way;
    return feed_head_sse2;
}

/* The CPU's way, decided at the first call, which feed_head_at then goes to
 * at once. */
static LINGER_WARM enum scan_verdict feed_head(struct scan_state *s, const unsigned char *lo, const unsigned char *end)
{
    feed_head_fn *const way = feed_head_way_of(wide_way());
    __atomic_store_n(&feed_head_at, way, __ATOMIC_RELAXED);
    return way(s, lo, end);
}

LINGER_HOT enum scan_verdict scan_feed(struct scan_state *s, const void *buf, size_t len)
{
    const unsigned char *lo = buf;
    if (__builtin_expect(s->phase == SP_START && len >= 64, 1)) /* a whole head at once: the usual case */
        return __atomic_load_n(&feed_head_at, __ATOMIC_RELAXED)(s, lo, lo + len);
    if (len < FAST_MIN_LEN)
        return scan_feed_ref(s, buf, len);
    return feed_lines(s, lo, lo, lo + len);
}
