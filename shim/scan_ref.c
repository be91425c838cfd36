/* scan_ref.c - the response scanner's reference: the byte-by-byte machine
 * (see scan.h, scan_machine.h). Every byte of a line goes through
 * scan_line_byte; bodies are skipped by count. The fast path (scan_fast.c)
 * must leave the state this machine leaves. Pure: no syscalls.
 */
#include "scan_machine.h"
#include "pages.h"

#include <string.h>

#define ALL_HEADER_CANDIDATES 0x0eu  /* bits 1..3 */


#define MAX_CONTENT_LENGTH 1000000000000000000ull /* 10^18: larger is overflow */
#define MAX_CHUNK_SIZE     (1ull << 59)

void scan_init(struct scan_state *s)
{
    memset(s, 0, sizeof *s);
}

const char *scan_verdict_name(enum scan_verdict v)
{
    switch (v) {
    case SCAN_NONE: return "none";
    case SCAN_KEEPALIVE: return "keep-alive";
    case SCAN_CLOSE: return "close";
    case SCAN_UPGRADED: return "upgraded";
    case SCAN_LOST: return "lost";
    }
    return "?";
}

#define to_lower scan_lower
#define is_ows scan_is_ows
#define is_digit scan_is_digit
#define start_line scan_start_line
#define start_value scan_start_value
#define start_response scan_start_response
#define header_done scan_header_done
#define end_of_head scan_end_of_head
#define lose scan_lose
#define header_names scan_header_names
#define header_lens scan_header_lens
#define token_names scan_token_names
#define token_lens scan_token_lens

static int hex_value(unsigned char c)
{
    if (is_digit(c)) return c - '0';
    c = to_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decimal digit count of v (1 for 0). */
static unsigned decimal_digits(uint64_t v)
{
    unsigned n = 1;
    while (v >= 10) { v /= 10; n++; }
    return n;
}

/* The idx-th decimal digit of v, most significant first. */
static unsigned decimal_digit_at(uint64_t v, unsigned idx)
{
    unsigned skip = decimal_digits(v) - 1 - idx;
    while (skip--) v /= 10;
    return (unsigned)(v % 10);
}

/* Ends one token of a Connection or Transfer-Encoding value. */
static LINGER_WARM void end_token(struct scan_state *s)
{
    if (s->match == 0)
        return;
    int dirty = (s->flags & SF_TOKEN_DIRTY) != 0;
    if (s->header == H_CONNECTION) {
        if (!dirty && (s->token & (1u << T_CLOSE)) && s->match == token_lens[T_CLOSE])
            s->flags |= SF_CONN_CLOSE;
        if (!dirty && (s->token & (1u << T_KEEP_ALIVE)) && s->match == token_lens[T_KEEP_ALIVE])
            s->flags |= SF_CONN_KEEP;
    } else { /* transfer-encoding: the last coding decides chunked */
        s->flags |= SF_TE;
        if (!dirty && (s->token & (1u << T_CHUNKED)) && s->match == token_lens[T_CHUNKED])
            s->flags |= SF_CHUNKED;
        else
            s->flags &= (uint16_t)~SF_CHUNKED;
    }
    s->match = 0;
    s->token = 0;
    s->flags &= (uint16_t)~SF_TOKEN_DIRTY;
}

/* One byte of a token list value (Connection, Transfer-Encoding). */
static void token_byte(struct scan_state *s, unsigned char c)
{
    if (c == ',' || is_ows(c)) {
        end_token(s);
        return;
    }
    if (s->match == 0)
        s->token = (s->header == H_CONNECTION)
            ? (uint8_t)((1u << T_CLOSE) | (1u << T_KEEP_ALIVE)) : (uint8_t)(1u << T_CHUNKED);
    c = to_lower(c);
    for (unsigned t = 0; t < 3; t++) {
        if ((s->token & (1u << t)) && (s->match >= token_lens[t] || token_names[t][s->match] != c))
            s->token &= (uint8_t)~(1u << t);
    }
    if (!s->token)
        s->flags |= SF_TOKEN_DIRTY;
    if (s->match < 255)
        s->match++;
}

/* Ends one element of a Content-Length value; all elements must be equal
 * (see scan_machine.h). */
void scan_end_length(struct scan_state *s)
{
    if (!(s->flags & SF_VALUE_DIGITS)) {
        lose(s);
        return;
    }
    if ((s->flags & SF_CL) && s->match != decimal_digits(s->remaining)) {
        lose(s);
        return;
    }
    s->flags |= SF_CL;
    s->flags &= (uint16_t)~(SF_VALUE_DIGITS | SF_VALUE_END);
    s->match = 0;
}

/* One byte of a Content-Length value. The first element accumulates into
 * remaining; later ones are compared digit by digit against it. */
static void length_byte(struct scan_state *s, unsigned char c)
{
    if (is_ows(c)) {
        if (s->flags & SF_VALUE_DIGITS)
            s->flags |= SF_VALUE_END;
        return;
    }
    if (c == ',') {
        scan_end_length(s);
        return;
    }
    if (!is_digit(c) || (s->flags & SF_VALUE_END)) {
        lose(s);
        return;
    }
    unsigned d = (unsigned)(c - '0');
    if (s->flags & SF_CL) {
        if (s->match >= decimal_digits(s->remaining) || decimal_digit_at(s->remaining, s->match) != d) {
            lose(s);
            return;
        }
        s->match++;
    } else {
        if (s->remaining >= MAX_CONTENT_LENGTH / 10) {
            lose(s);
            return;
        }
        s->remaining = s->remaining * 10 + d;
    }
    s->flags |= SF_VALUE_DIGITS;
}

/* Called at the end of every header line: line end delimits tokens. */
static void header_line_end(struct scan_state *s)
{
    if (s->header == H_CONNECTION || s->header == H_TRANSFER_ENCODING)
        end_token(s);
    else if (s->header == H_CONTENT_LENGTH && (s->flags & SF_VALUE_DIGITS))
        s->flags |= SF_VALUE_END;
}

/* One byte of a CGI-style status line "Status: NNN reason" (SCGI, uwsgi,
 * CGI): the name in any case, one SP, three digits, then SP or the line end.
 * i is the byte's index in the line. */
static void cgi_status_byte(struct scan_state *s, unsigned char c, unsigned i)
{
    static const char name[] = "status:";
    if (i < 7) {
        if (to_lower(c) != (unsigned char)name[i]) lose(s);
    } else if (i == 7) {
        if (c != ' ') lose(s);
    } else if (i <= 10) {
        if (!is_digit(c)) lose(s);
        else s->status = (uint16_t)(s->status * 10 + (c - '0'));
    } else if (i == 11 && c != ' ' && c != '\n') {
        lose(s);
    } else if (c == '\n') {
        start_line(s, SP_HEADER_START);
    }
}

/* One byte of the status line "HTTP/1.x NNN reason", or of a CGI-style
 * "Status: NNN reason" when the line starts with an S. */
static void status_byte(struct scan_state *s, unsigned char c)
{
    static const char prefix[] = "HTTP/1.";
    unsigned i = s->line_len - 1u; /* line_len was already incremented */
    if (i == 0 && (c == 'S' || c == 's'))
        s->flags |= SF_CGI;
    if (s->flags & SF_CGI) {
        cgi_status_byte(s, c, i);
        return;
    }
    if (i < 7) {
        if (c != (unsigned char)prefix[i]) lose(s);
    } else if (i == 7) {
        if (!is_digit(c)) lose(s);
        else if (c == '0') s->flags |= SF_HTTP10;
    } else if (i == 8) {
        if (c != ' ') lose(s);
    } else if (i <= 11) {
        if (!is_digit(c)) lose(s);
        else s->status = (uint16_t)(s->status * 10 + (c - '0'));
    } else if (i == 12 && c != ' ' && c != '\n') {
        lose(s);
    } else if (c == '\n') {
        start_line(s, SP_HEADER_START);
    }
}

/* First byte of a header line: blank line, continuation, or a new name. */
static void header_start_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n') {
        end_of_head(s);
        return;
    }
    if (is_ows(c)) {            /* obs-fold: the previous value goes on */
        if (!(s->flags & SF_IN_HEADER)) lose(s);
        else s->phase = SP_HEADER_VALUE;
        return;
    }
    header_done(s);
    if (s->phase == SP_DONE)
        return;
    s->flags |= SF_IN_HEADER;
    s->phase = SP_HEADER_NAME;
    if (c == ':' || c < 0x21 || c == 0x7f) { /* an empty name, or a CTL/SP in it */
        lose(s);
        return;
    }
    /* header_name_byte's work for a first byte: the names starting with it */
    c = to_lower(c);
    s->token = 0;
    for (unsigned h = 1; h <= 3; h++)
        if ((unsigned char)header_names[h][0] == c)
            s->token |= (uint8_t)(1u << h);
    s->match = 1;
}

/* One byte of a header name, matched case-insensitively as it arrives. */
static void header_name_byte(struct scan_state *s, unsigned char c)
{
    if (c == ':') {
        if (s->match == 0) {    /* a field name is at least one tchar */
            lose(s);
            return;
        }
        s->header = H_OTHER;
        for (unsigned h = 1; h <= 3; h++)
            if ((s->token & (1u << h)) && s->match == header_lens[h])
                s->header = (uint8_t)h;
        start_value(s);
        return;
    }
    if (c < 0x21 || c == 0x7f) { /* CTL, SP or line end inside a name */
        lose(s);
        return;
    }
    c = to_lower(c);
    for (unsigned h = 1; h <= 3; h++)
        if ((s->token & (1u << h)) && (s->match >= header_lens[h] || header_names[h][s->match] != c))
            s->token &= (uint8_t)~(1u << h);
    if (s->match < 255)
        s->match++;
}

/* One byte of a header value. */
static void header_value_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n') {
        header_line_end(s);
        if (s->phase != SP_DONE)
            start_line(s, SP_HEADER_START);
        return;
    }
    if (s->header == H_CONNECTION || s->header == H_TRANSFER_ENCODING)
        token_byte(s, c);
    else if (s->header == H_CONTENT_LENGTH)
        length_byte(s, c);
}

/* One byte of a chunk-size line: hex digits, optional BWS, ';' extension. */
static void chunk_size_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n') {
        if (!(s->flags & SF_VALUE_DIGITS)) {
            lose(s);
            return;
        }
        s->flags &= (uint16_t)~(SF_VALUE_DIGITS | SF_VALUE_END);
        start_line(s, s->remaining ? SP_CHUNK_DATA : SP_TRAILER_START);
        return;
    }
    if (is_ows(c)) {
        if (s->flags & SF_VALUE_DIGITS) s->flags |= SF_VALUE_END;
        return;
    }
    if (c == ';') {
        if (!(s->flags & SF_VALUE_DIGITS)) lose(s);
        else s->phase = SP_CHUNK_EXT;
        return;
    }
    int v = hex_value(c);
    if (v < 0 || (s->flags & SF_VALUE_END) || s->remaining >= MAX_CHUNK_SIZE) {
        lose(s);
        return;
    }
    s->remaining = (s->remaining << 4) | (uint64_t)v;
    s->flags |= SF_VALUE_DIGITS;
}

/* One byte of a chunk extension: everything up to the line end. */
static void chunk_ext_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n') {
        s->flags &= (uint16_t)~(SF_VALUE_DIGITS | SF_VALUE_END);
        start_line(s, s->remaining ? SP_CHUNK_DATA : SP_TRAILER_START);
    }
}

/* The CRLF that must follow chunk data. */
static void chunk_data_end_byte(struct scan_state *s, unsigned char c)
{
    if (c != '\n') {
        lose(s);
        return;
    }
    s->remaining = 0;
    start_line(s, SP_CHUNK_SIZE);
}

/* First byte of a trailer line: a blank line ends the message. */
static void trailer_start_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n') {
        start_line(s, SP_START);
        return;
    }
    s->phase = SP_TRAILER_LINE;
}

static void trailer_line_byte(struct scan_state *s, unsigned char c)
{
    if (c == '\n')
        start_line(s, SP_TRAILER_START);
}

void scan_line_byte(struct scan_state *s, unsigned char c)
{
    if (s->phase == SP_START) {
        if (c == '\r' || c == '\n')
            return;
        start_response(s);
    }
    if (s->flags & SF_CR) {
        if (c != '\n') {
            lose(s);
            return;
        }
        s->flags &= (uint16_t)~SF_CR;
    } else if (c == '\r') {
        s->flags |= SF_CR;
        return;
    }
    if (++s->line_len > SCAN_MAX_LINE) {
        lose(s);
        return;
    }
    switch ((enum scan_phase)s->phase) {
    case SP_STATUS:        status_byte(s, c); break;
    case SP_HEADER_START:  header_start_byte(s, c); break;
    case SP_HEADER_NAME:   header_name_byte(s, c); break;
    case SP_HEADER_VALUE:  header_value_byte(s, c); break;
    case SP_CHUNK_SIZE:    chunk_size_byte(s, c); break;
    case SP_CHUNK_EXT:     chunk_ext_byte(s, c); break;
    case SP_CHUNK_DATA_END: chunk_data_end_byte(s, c); break;
    case SP_TRAILER_START: trailer_start_byte(s, c); break;
    case SP_TRAILER_LINE:  trailer_line_byte(s, c); break;
    default:               break;
    }
}

LINGER_WARM int scan_skip_unseen(struct scan_state *s, uint64_t n)
{
    if (s->phase >= SP_BODY_UNTIL_CLOSE)
        return 1;
    if ((s->phase == SP_BODY_LENGTH || s->phase == SP_CHUNK_DATA) && n <= s->remaining) {
        scan_count_body(s, (size_t)n);
        return 1;
    }
    s->phase = SP_DONE;
    return 0;
}

enum scan_verdict scan_feed_ref(struct scan_state *s, const void *buf, size_t len)
{
    const unsigned char *p = buf, *end = p + len;
    while (p < end) {
        if (s->phase == SP_BODY_LENGTH || s->phase == SP_CHUNK_DATA)
            p += scan_count_body(s, (size_t)(end - p));
        else if (s->phase >= SP_BODY_UNTIL_CLOSE)
            break;
        else
            scan_line_byte(s, *p++);
    }
    return (enum scan_verdict)s->verdict;
}
