/* req_whole.h - the request fast path's whole-head pass, included once by
 * req_http_fast.c (not a header to include anywhere else). Pure: no
 * syscalls.
 *
 * When a read holds a whole request head from its first byte, its bytes
 * are classified 32 at a time (AVX2) into bit masks, 64 bytes to a word:
 * LF, CR, ':', the bytes that are not tchars (RFC 9110, exact: a nibble
 * table lookup), and `odd` (a control, SP, DEL or a byte >= 0x80). The
 * lines are then checked all at once with bit arithmetic, as the response
 * side's pass does (scan_whole.h): each header line's first byte that is
 * not a tchar is found by one addition (a carry from the line's start runs
 * through the name's bytes and stops there) and must be a ':' after at
 * least one byte; every CR must be followed by an LF; the first line whose
 * first byte is no tchar must be the blank line. The request line is
 * method SP target SP "HTTP/1.d" [CR] LF, checked by the positions of its
 * odd bytes (exactly those SP, SP, [CR], LF: so the target has no control,
 * space, DEL, nor a byte >= 0x80, which the machine would take but this
 * pass leaves to it). Only names of a length a framing header has (6, 7,
 * 14, 17) are read; a head with a framing header, or anything unusual, is
 * left to the line-at-a-time way with the state untouched. A head taken
 * leaves the state the byte machine reaches at its last LF (the machine's
 * fields after a head without a framing header do not depend on its
 * lines one by one).
 */

/* A head is taken whole up to this many 64-byte words (4 KiB, far below
 * REQ_MAX_LINE, so no line of it is too long). */
#define WHOLE_WORDS 64

/* Names that may frame (by their length) a head may hold for this pass. */
#define WHOLE_CANDS 8

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_WHOLE_AVX2 1
#define WHOLE_AVX2 __attribute__((target("avx2,bmi,bmi2")))

/* 64 bytes (or fewer, the rest 0) as bit masks, bit i for byte i. */
struct req_masks {
    uint64_t lf, cr, colon, nontchar, odd;
};

/* RFC 9110 tchar by nibbles: c is a tchar when low[c & 15] & high[c >> 4]
 * is not 0. Each bit is one rectangle of high x low nibbles that holds
 * only tchars; together they hold them all (tests/unit/test_req_http.c
 * checks every byte against req_http_tchar):
 *   bit 0: high 2, 4, 6 x low 1, 3-7, a, b, d, e  (! # $ % & ' * + - .)
 *   bit 1: high 3, 5, 6, 7 x low 0-9                (digits, P-Y, `-i, p-y)
 *   bit 2: high 4, 6 x low 1-f                       (A-O, a-o)
 *   bit 3: high 5, 6 x low a, e, f                   (Z ^ _)
 *   bit 4: high 4, 6, 7 x low a, c, e                (z | ~)
 * Bytes >= 0x80 look up 0 in the low table (vpshufb's rule). */
#define TCHAR_LOW 0x02, 0x07, 0x06, 0x07, 0x07, 0x07, 0x07, 0x07, 0x06, 0x06, 0x1d, 0x05, 0x14, 0x05, 0x1d, 0x0c
#define TCHAR_HIGH 0, 0, 0x01, 0x02, 0x15, 0x0a, 0x1f, 0x12, 0, 0, 0, 0, 0, 0, 0, 0
static const unsigned char tchar_nibbles[2][16] = { { TCHAR_LOW }, { TCHAR_HIGH } };

/* The byte values the masks compare with, 32 of each, then the nibble
 * tables. */
static const unsigned char whole_bytes[8][32] __attribute__((aligned(32))) = {
    { [0 ... 31] = '\n' }, { [0 ... 31] = '\r' }, { [0 ... 31] = ':' }, { [0 ... 31] = 0x0f },
    { [0 ... 31] = 0x22 }, { [0 ... 31] = 1 }, { TCHAR_LOW, TCHAR_LOW }, { TCHAR_HIGH, TCHAR_HIGH },
};
enum { K_LF, K_CR, K_COLON, K_NIBBLE, K_C22, K_ONE, K_LOW, K_HIGH };

/* The constants, through a pointer the compiler cannot see into (else it
 * builds each in registers, three instructions, where a load folds into
 * the compare). */
static inline const unsigned char (*whole_consts(void))[32]
{
    const unsigned char(*k)[32] = whole_bytes;
    __asm__("" : "+r"(k));
    return k;
}

#define LOAD32(q) _mm256_load_si256((const __m256i *)(const void *)(q))
#define LOADU32(q) _mm256_loadu_si256((const __m256i *)(const void *)(q))

/* The masks of the 32 bytes at q, in the low halves. */
static inline WHOLE_AVX2 struct req_masks masks32(const unsigned char *q, const unsigned char (*k)[32])
{
    const __m256i v = LOADU32(q);
    const __m256i t = _mm256_and_si256(
        _mm256_shuffle_epi8(LOAD32(k[K_LOW]), v),
        _mm256_shuffle_epi8(LOAD32(k[K_HIGH]), _mm256_and_si256(_mm256_srli_epi16(v, 4), LOAD32(k[K_NIBBLE]))));
    struct req_masks m;
    m.lf = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, LOAD32(k[K_LF])));
    m.cr = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, LOAD32(k[K_CR])));
    m.colon = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, LOAD32(k[K_COLON])));
    m.nontchar = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(t, _mm256_setzero_si256()));
    /* 0x22 > c + 1 as signed bytes: c <= 0x20, DEL, or c >= 0x80 */
    m.odd = (uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(LOAD32(k[K_C22]), _mm256_add_epi8(v, LOAD32(k[K_ONE]))));
    return m;
}

/* a's masks, then b's shifted left by `up` (bits b holds for bytes a
 * holds too agree with a's). */
static inline struct req_masks join(struct req_masks a, struct req_masks b, unsigned up)
{
    a.lf |= b.lf << up;
    a.cr |= b.cr << up;
    a.colon |= b.colon << up;
    a.nontchar |= b.nontchar << up;
    a.odd |= b.odd << up;
    return a;
}

/* The masks of the word at p[off..off+a), 0 < a <= 64, the feed p[0..n)
 * holding 32 bytes or more and ending at the word's end when a < 64:
 * bytes past a are 0 in every mask. */
static inline WHOLE_AVX2 struct req_masks word_masks(const unsigned char *p, size_t n, size_t off, unsigned a,
                                                    const unsigned char (*k)[32])
{
    if (a > 32) /* the second half read from p + off + a - 32 (when a < 64, the feed's end) */
        return join(masks32(p + off, k), masks32(p + off + a - 32, k), a - 32);
    struct req_masks m = masks32(p + n - 32, k);
    const unsigned drop = 32 - a;
    m.lf >>= drop;
    m.cr >>= drop;
    m.colon >>= drop;
    m.nontchar >>= drop;
    m.odd >>= drop;
    return m;
}

/* a + b + the carry in bit 0 of *carry; sets *carry to 0 or 1. */
static inline uint64_t add_carry(uint64_t a, uint64_t b, uint64_t *carry)
{
    uint64_t sum;
    uint64_t out = __builtin_add_overflow(a, b, &sum);
    out |= __builtin_add_overflow(sum, *carry, &sum);
    *carry = out;
    return sum;
}

/* hi shifted left by n (0 < n < 64), its low bits filled from the top of lo. */
static inline uint64_t shift_in(uint64_t hi, uint64_t lo, unsigned n)
{
    return hi << n | lo >> (64 - n);
}

/* Where the names of lines starting at b end, when they have a framing
 * header's length (6, 7, 14, 17), b_prev the line starts of the word before. */
static inline uint64_t framing_name_ends(uint64_t b, uint64_t b_prev)
{
    return shift_in(b, b_prev, 6) | shift_in(b, b_prev, 7) | shift_in(b, b_prev, 14) | shift_in(b, b_prev, 17);
}

/* True when the name ending at the ':' at p[c] (a line's first non-tchar)
 * is a framing header's. */
static LINGER_WARM int frames_at(const unsigned char *p, size_t c)
{
    static const uint8_t lens[] = { 6, 7, 14, 17 };
    for (unsigned j = 0; j < sizeof lens; j++)
        if (c > lens[j] && p[c - lens[j] - 1] == '\n' && frames_request(p + c - lens[j], lens[j]))
            return 1;
    return 0;
}

/* True when a name ending at a ':' flagged in cands (positions in p) is a
 * framing header's. */
static int any_frames(const unsigned char *p, uint64_t cands)
{
    for (; cands; cands &= cands - 1)
        if (frames_at(p, (size_t)__builtin_ctzll(cands)))
            return 1;
    return 0;
}

/* The head at p[0..n) whose first stop (see whole_head_avx2) is at p[blank]
 * (a line start after the request line's LF, p[first_lf]; method the
 * method's length, odd the odd bytes up to that LF), none of its names
 * framing: the state the machine reaches at its last LF, and its length;
 * or 0, the state untouched. */
static inline size_t take_head(struct req_state *s, const unsigned char *p, size_t n, size_t method,
                               size_t first_lf, unsigned odd, size_t blank)
{
    size_t end = blank + 1;
    if (p[blank] != '\n') {
        if (p[blank] != '\r' || end >= n || p[end] != '\n')
            return 0; /* obs-fold, an empty name, a CTL: the line-at-a-time way */
        end++;
    }
    /* the request line: method SP target SP HTTP/1.d [CR] LF, its odd
     * bytes those SP, SP, [CR], LF (so the target is not empty and has none) */
    const size_t cr = p[first_lf - 1] == '\r';
    if (first_lf < method + 3 + REQ_HTTP_VERSION_LEN + 1 + cr)
        return 0;
    const size_t version = first_lf - cr - REQ_HTTP_VERSION_LEN - 1;
    if (p[version - 1] != ' ' || odd != 3 + cr || !is_version(p + version))
        return 0;
    uint64_t w, connect_w;
    memcpy(&w, p, 8); /* the head has more than 8 bytes */
    memcpy(&connect_w, "CONNECT ", 8);
    const int connect = method == 7 && w == connect_w;
    s->remaining = 0;
    s->body = 0;
    s->left = 0;
    s->item = 0;
    s->flags = connect ? RQ_UPGRADE : 0;
    s->phase = connect ? REQ_P_DONE : REQ_P_IDLE;
    s->match = blank == first_lf + 1; /* the target's mark, when no header line followed */
    s->sub = H_OTHER;
    s->aux = REQ_HTTP_VERSION_LEN + 1;
    if (s->requests < 255)
        s->requests++;
    return end;
}

/* take_head, unless a name ending at a ':' flagged in cands (positions in
 * p) is a framing header's (then 0). Out of line: most heads have none. */
static LINGER_WARM __attribute__((noinline, cold)) size_t take_head_unless_framing(struct req_state *s, const unsigned char *p,
                                                                     size_t n, size_t method, size_t first_lf,
                                                                     unsigned odd, size_t blank, uint64_t cands)
{
    if (any_frames(p, cands))
        return 0;
    return take_head(s, p, n, method, first_lf, odd, blank);
}

/* whole_head_avx2 for a head longer than 64 bytes, word by word. */
static LINGER_WARM WHOLE_AVX2 __attribute__((noinline)) size_t whole_words_avx2(struct req_state *s, const unsigned char *p,
                                                                   size_t n)
{
    const unsigned char(*k)[32] = whole_consts();
    uint16_t cands[WHOLE_CANDS]; /* where names that may frame end (their ':') */
    unsigned n_cands = 0;
    const size_t limit = n < 64 * WHOLE_WORDS ? n : 64 * WHOLE_WORDS;
    uint64_t lf_prev = 0, cr_prev = 0, b_prev = 0, carry = 0;
    uint64_t b = 0, stops = 0;
    size_t first_lf = SIZE_MAX; /* the request line's LF */
    unsigned odd = 0;           /* odd bytes of the request line */
    size_t method = 0;          /* its method's length */
    size_t off = 0;
    for (;; off += 64) {
        if (off >= limit)
            return 0; /* no blank line in the feed (or too far) */
        const unsigned a = limit - off < 64 ? (unsigned)(limit - off) : 64;
        struct req_masks m = word_masks(p, n, off, a, k);
        if (off == 0) {
            method = (size_t)__builtin_ctzll(m.nontchar | 1ull << 63);
            if (method == 0 || p[method] != ' ') /* a >= 64 here */
                return 0;
        }
        if (first_lf == SIZE_MAX) {
            if (m.lf) {
                const unsigned at = (unsigned)__builtin_ctzll(m.lf);
                first_lf = off + at;
                odd += (unsigned)__builtin_popcountll(_bzhi_u64(m.odd, at + 1));
            } else {
                odd += (unsigned)__builtin_popcountll(m.odd);
            }
        }
        b = m.lf << 1 | lf_prev >> 63; /* line starts */
        const uint64_t first = add_carry(~m.nontchar, b, &carry) & m.nontchar; /* each line's first non-tchar */
        uint64_t cand = first & m.colon & framing_name_ends(b, b_prev);
        stops = (first & (b | ~m.colon)) | ((m.cr << 1 | cr_prev >> 63) & ~m.lf);
        if (a < 64)
            stops |= 1ull << a; /* the feed ends here */
        b_prev = b;
        lf_prev = m.lf;
        cr_prev = m.cr;
        for (; cand; cand &= cand - 1) {
            if (n_cands == WHOLE_CANDS)
                return 0;
            cands[n_cands++] = (uint16_t)(off + (size_t)__builtin_ctzll(cand));
        }
        if (stops)
            break;
    }
    const unsigned t = (unsigned)__builtin_ctzll(stops);
    const size_t blank = off + t; /* where the blank line starts */
    if (!(b >> t & 1) || blank >= n || first_lf >= blank)
        return 0; /* a line not plain before the blank line, or the feed ends first */
    for (unsigned i = 0; i < n_cands && cands[i] < blank; i++)
        if (frames_at(p, cands[i]))
            return 0; /* a framing header: the line-at-a-time way */
    return take_head(s, p, n, method, first_lf, odd, blank);
}

/* The whole request head at p[0..n) (the scanner idle), at once when it
 * is all there and plain (see the top of this file): the state the
 * machine reaches at the head's last LF, and the head's length; 0, the
 * state untouched, for any other. A head in 64 bytes or fewer (one word)
 * is read here; a longer one by whole_words_avx2. */
static inline __attribute__((always_inline)) WHOLE_AVX2 size_t whole_head_avx2(struct req_state *s,
                                                                         const unsigned char *p, size_t n)
{
    if (n < 32)
        return 0;
    if (n > 64)
        return whole_words_avx2(s, p, n);
    const unsigned char(*k)[32] = whole_consts();
    struct req_masks m = join(masks32(p, k), masks32(p + n - 32, k), (unsigned)n - 32);
    /* all of them now: no vector stays live (and spilled) across the checks */
    __asm__("" : "+r"(m.lf), "+r"(m.cr), "+r"(m.colon), "+r"(m.nontchar), "+r"(m.odd));
    const size_t method = (size_t)__builtin_ctzll(m.nontchar | 1ull << 63);
    if (method == 0 || method >= n || p[method] != ' ' || !m.lf)
        return 0;
    const unsigned first_lf = (unsigned)__builtin_ctzll(m.lf);
    const uint64_t b = m.lf << 1; /* line starts */
    const uint64_t first = (~m.nontchar + b) & m.nontchar; /* each line's first non-tchar */
    const uint64_t stops = (first & (b | ~m.colon)) | ((m.cr << 1) & ~m.lf);
    if (!stops)
        return 0; /* no blank line in the feed */
    const unsigned t = (unsigned)__builtin_ctzll(stops); /* the blank line's start */
    if (!(b >> t & 1) || t >= n || first_lf >= t)
        return 0; /* a line not plain before the blank line, or the feed ends first */
    const unsigned odd = (unsigned)__builtin_popcountll(_bzhi_u64(m.odd, first_lf + 1));
    const uint64_t cands = _bzhi_u64(first & m.colon & framing_name_ends(b, 0), t);
    if (__builtin_expect(cands != 0, 0)) /* a tail call: the common way stays a leaf */
        return take_head_unless_framing(s, p, n, method, first_lf, odd, t, cands);
    return take_head(s, p, n, method, first_lf, odd, t);
}

#undef LOAD32
#undef TCHAR_LOW
#undef TCHAR_HIGH
#undef LOADU32
#endif

#undef WHOLE_WORDS
#undef WHOLE_CANDS
