/*
 * A bounded, incremental HTTP/1.1 head parser, request or response, usable on its own: bytes
 * are copied into the caller's buffer (its size is the limit on the head) and split into the
 * first line and headers as they complete, each byte looked at once however the head is cut.
 * It knows HTTP syntax only; what a head must say is for its user (the handshake roles).
 */
#include "ws_internal.h"

#include <stdint.h>

#include "simd.h"

#if defined(WS_SIMD_SSE2) && (defined(__GNUC__) || defined(__clang__)) /* for __builtin_ctz */
#define WS_HS_SSE2 1
#include <emmintrin.h>
#endif

#define WS_HTTP_LINE_DEFAULT 8192

/* Where the parser is; ws_http_parser.state. */
enum ws_http_state { WS_HTTP_READING = 0, WS_HTTP_DONE, WS_HTTP_FAILED };

/* Where the scanner is inside the head; ws_http_parser.line_state. A state with
 * WS_SCAN_CR set is the one before it after a CR (which only an LF may follow). */
enum ws_hs_scan {
    WS_SCAN_FIRST = 0,     /* inside the request or status line */
    WS_SCAN_CR = 1,        /* the CR bit */
    WS_SCAN_FIRST_CR = 1,  /* after the first line's CR: LF must follow */
    WS_SCAN_LINE = 2,      /* at the start of a header line or of the empty line ending the head */
    WS_SCAN_END_CR = 3,    /* after the CR of the empty line */
    WS_SCAN_HEADER = 4,    /* inside a header line */
    WS_SCAN_HEADER_CR = 5, /* after a header line's CR */
};

void ws_http_limits_init(ws_http_limits *l)
{
    l->max_request_line = WS_HTTP_LINE_DEFAULT;
    l->max_header_line = WS_HTTP_LINE_DEFAULT;
    l->allow_bare_lf = false;
}

/* ---- character classes ---------------------------------------------------------------- */

/* Control bytes; HTAB is one, but header values may hold it. */
static bool ws_hs_is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7F;
}

#ifdef WS_HS_SSE2
/* Which of 16 bytes are letters, digits or '-' (what header names are made of), as a bit
 * mask. */
static unsigned ws_hs_name_mask(__m128i v)
{
    __m128i letter = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
    __m128i digit = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    __m128i ok = _mm_cmpeq_epi8(_mm_min_epu8(letter, _mm_set1_epi8(25)), letter);

    ok = _mm_or_si128(ok, _mm_cmpeq_epi8(_mm_min_epu8(digit, _mm_set1_epi8(9)), digit));
    ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
    return (unsigned)_mm_movemask_epi8(ok);
}

/* The number of letters, digits and '-' at the start of s[0..len), 16 at a time; a string
 * shorter than 16 bytes is left to the caller. */
static size_t ws_hs_name_run(const char *s, size_t len)
{
    size_t i = 0, last;
    unsigned bad;

    if (len < 16)
        return 0;
    for (; len - i >= 16; i += 16) {
        bad = ~ws_hs_name_mask(_mm_loadu_si128((const __m128i *)(const void *)(s + i))) & 0xFFFFu;
        if (bad != 0)
            return i + (size_t)__builtin_ctz(bad);
    }
    if (i == len)
        return i;
    /* The last 16 bytes, overlapping what was seen: only lanes from i on count. */
    last = len - 16;
    bad = ~ws_hs_name_mask(_mm_loadu_si128((const __m128i *)(const void *)(s + last))) &
          (0xFFFFu << (i - last)) & 0xFFFFu;
    return bad != 0 ? last + (size_t)__builtin_ctz(bad) : len;
}
#endif

/* The number of tchar bytes at the start of s[0..len). */
static size_t ws_hs_token_len(const char *s, size_t len)
{
    size_t i = 0;

#ifdef WS_HS_SSE2
    i = ws_hs_name_run(s, len);
#endif
    while (i < len && ws_is_tchar(s[i]))
        i++;
    return i;
}

bool ws_http_is_token(const char *s, size_t len)
{
    return len > 0 && ws_hs_token_len(s, len) == len;
}

bool ws_http_is_field_text(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (ws_hs_is_ctl(c) && c != '\t')
            return false;
    }
    return true;
}

/* Stores one header whose name and value were checked; the value is trimmed here. */
static int ws_hs_store_header(ws_http_parser *hs, const char *name, size_t name_len,
                              const char *value, size_t value_len)
{
    ws_header *h;

    if (hs->header_count == hs->max_headers)
        return WS_E_HTTP_HEADERS_TOO_LARGE;
    while (value_len > 0 && ws_is_ows(value[0])) {
        value++;
        value_len--;
    }
    while (value_len > 0 && ws_is_ows(value[value_len - 1]))
        value_len--;
    h = &hs->headers[hs->header_count++];
    h->name = name;
    h->name_len = name_len;
    h->value = value;
    h->value_len = value_len;
    return WS_E_AGAIN;
}

/* ---- the scanner ---------------------------------------------------------------------- */

#ifndef WS_SMALL
/* Copies the bytes at the start of src[0..n) that are not control bytes (the bytes of a
 * line that need no closer look) to dst, and returns how many there are; where it stops,
 * ws_hs_scan_byte takes over. dst[0..n) is free space: bytes past the run may be written
 * too, as SSE2 moves whole 16-byte blocks. */
static size_t ws_hs_copy_plain(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i = 0;

#ifdef WS_HS_SSE2
    const __m128i below = _mm_set1_epi8(0x1F), del = _mm_set1_epi8(0x7F);

    for (; n - i >= 16; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        __m128i ctl = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, below), v), /* < 0x20 */
                                   _mm_cmpeq_epi8(v, del));
        unsigned mask = (unsigned)_mm_movemask_epi8(ctl);
        _mm_storeu_si128((__m128i *)(void *)(dst + i), v);
        if (mask != 0)
            return i + (size_t)__builtin_ctz(mask);
    }
#else
    /* Eight bytes at a time: a byte below 0x20, or equal to 0x7F, sets its top bit in the
     * test (only whether one does is used, so the order of bytes in a word does not matter). */
    const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;

    for (; n - i >= 8; i += 8) {
        uint64_t x, d;
        memcpy(&x, src + i, 8);
        d = x ^ (ones * 0x7F);
        if ((((x - ones * 0x20) & ~x) | ((d - ones) & ~d)) & tops)
            break;
    }
    memcpy(dst, src, i);
#endif
    for (; i < n && !ws_hs_is_ctl(src[i]); i++)
        dst[i] = src[i];
    return i;
}

#endif /* !WS_SMALL */

/* True while the scanner is inside a server's request line, whose limit is its own. */
static bool ws_hs_in_request_line(const ws_http_parser *hs)
{
    return hs->line_state == WS_SCAN_FIRST && hs->first_line == ws_http_request_line;
}

/* The limit on the line being scanned. */
static size_t ws_hs_line_limit(const ws_http_parser *hs)
{
    return hs->line_state == WS_SCAN_FIRST ? hs->max_first_line : hs->max_header_line;
}

/* "GET /chat HTTP/1.1": a method token, single spaces, a target without spaces or control
 * bytes (the scanner let none but HTAB through) and a version of one digit each side. */
int ws_http_request_line(ws_http_parser *hs, const char *line, size_t len)
{
    const char *end = line + len, *sp1, *sp2, *v;
    ws_http_head *h = &hs->head;

    if (len == 0) { /* an empty line before the request line is ignored (RFC 9112 §2.2) */
        hs->line_state = WS_SCAN_FIRST;
        return WS_E_AGAIN;
    }
    sp1 = memchr(line, ' ', len);
    if (sp1 == NULL || !ws_http_is_token(line, (size_t)(sp1 - line)))
        return WS_E_HTTP_SYNTAX;
    sp2 = memchr(sp1 + 1, ' ', (size_t)(end - (sp1 + 1)));
    if (sp2 == NULL || sp2 == sp1 + 1 || memchr(sp1 + 1, '\t', (size_t)(sp2 - sp1 - 1)) != NULL)
        return WS_E_HTTP_SYNTAX;
    v = sp2 + 1;
    if (end - v != 8 || memcmp(v, "HTTP/", 5) != 0 || !ws_is_digit(v[5]) || v[6] != '.' ||
        !ws_is_digit(v[7]))
        return WS_E_HTTP_SYNTAX;
    h->method = line;
    h->method_len = (size_t)(sp1 - line);
    h->target = sp1 + 1;
    h->target_len = (size_t)(sp2 - (sp1 + 1));
    h->version_major = v[5] - '0';
    h->version_minor = v[7] - '0';
    return WS_HTTP_FIRST_LINE;
}

/* "HTTP/1.1 101 Switching Protocols": a version, a three-digit status from 100 to 599 and an
 * optional reason, whose space may go when the reason does. */
int ws_http_status_line(ws_http_parser *hs, const char *line, size_t len)
{
    ws_http_head *h = &hs->head;
    int status;

    if (len < 12 || memcmp(line, "HTTP/", 5) != 0 || !ws_is_digit(line[5]) || line[6] != '.' ||
        !ws_is_digit(line[7]) || line[8] != ' ' || !ws_is_digit(line[9]) ||
        !ws_is_digit(line[10]) || !ws_is_digit(line[11]) || (len > 12 && line[12] != ' '))
        return WS_E_HTTP_SYNTAX;
    status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (status < 100 || status > 599)
        return WS_E_HTTP_SYNTAX;
    h->status = status;
    h->version_major = line[5] - '0';
    h->version_minor = line[7] - '0';
    h->reason = line + (len > 12 ? 13 : 12);
    h->reason_len = len > 12 ? len - 13 : 0;
    return WS_HTTP_FIRST_LINE;
}

/* The first line ended just before buf[end]. */
static int ws_hs_end_first_line(ws_http_parser *hs, size_t end)
{
    const char *line = (const char *)hs->buf + hs->line_start;
    size_t len = end - hs->line_start;

    hs->line_start = hs->len;
    return hs->first_line(hs, line, len);
}

/* A header line ended just before buf[end]. Its bytes are known to be field text, so only
 * the name needs a look: a token directly followed by the colon. */
static int ws_hs_end_header_line(ws_http_parser *hs, size_t end)
{
    const char *line = (const char *)hs->buf + hs->line_start;
    size_t len = end - hs->line_start, name_len = ws_hs_token_len(line, len);

    hs->line_start = hs->len;
    if (name_len == 0 || name_len == len || line[name_len] != ':')
        return WS_E_HTTP_SYNTAX; /* no colon, an empty name, whitespace or a separator */
    return ws_hs_store_header(hs, line, name_len, line + name_len + 1, len - name_len - 1);
}

/* The line being scanned ended just before buf[end]. */
static int ws_hs_end_line(ws_http_parser *hs, enum ws_hs_scan state, size_t end)
{
    return state == WS_SCAN_FIRST ? ws_hs_end_first_line(hs, end) : ws_hs_end_header_line(hs, end);
}

/* One byte of the head, stored in the buffer (whose size is the limit on the whole head)
 * once it is known to be allowed where it is: a byte inside a line is refused as soon as it
 * is a control byte or takes the line over its limit, before the line ends. Returns
 * WS_E_AGAIN to go on, WS_OK at the end of a valid head, or an error. */
static int ws_hs_scan_byte(ws_http_parser *hs, uint8_t c)
{
    size_t end = hs->len; /* where the line ends when c is a bare LF */
    unsigned state = hs->line_state, next = WS_SCAN_LINE;

    if ((state & WS_SCAN_CR) != 0) {
        if (c != '\n')
            return WS_E_HTTP_SYNTAX; /* a CR not followed by LF */
        end--;                       /* the line ended before its CR */
        state &= ~(unsigned)WS_SCAN_CR;
    } else if (c == '\r') {
        next = state | WS_SCAN_CR;
    } else if (c == '\n') {
        if (!hs->allow_bare_lf)
            return WS_E_HTTP_SYNTAX; /* a line end that is a lone LF */
    } else {
        if (state == WS_SCAN_LINE) {
            if (c == ' ' || c == '\t')
                return WS_E_HTTP_SYNTAX; /* obs-fold, or whitespace before the first name */
            if (hs->header_count == hs->max_headers)
                return WS_E_HTTP_HEADERS_TOO_LARGE;
            state = WS_SCAN_HEADER;
        }
        if (ws_hs_is_ctl(c) && c != '\t')
            return WS_E_HTTP_SYNTAX;
        if (hs->len - hs->line_start >= ws_hs_line_limit(hs))
            return ws_hs_in_request_line(hs) ? WS_E_HTTP_URI_TOO_LONG : WS_E_HTTP_HEADERS_TOO_LARGE;
        next = state;
    }
    if (hs->len == hs->cap)
        return WS_E_HTTP_HEADERS_TOO_LARGE;
    hs->buf[hs->len++] = c;
    hs->line_state = (uint8_t)next;
    if (next != WS_SCAN_LINE)
        return WS_E_AGAIN;       /* inside a line, or after its CR */
    if (state == WS_SCAN_LINE) { /* the empty line ending the head */
        hs->head.headers = hs->headers;
        hs->head.header_count = hs->header_count;
        hs->state = WS_HTTP_DONE;
        return WS_OK;
    }
    return ws_hs_end_line(hs, (enum ws_hs_scan)state, end);
}

#ifndef WS_SMALL
/* True when c, at the start of a line, begins a header that ws_hs_scan_lines may take on:
 * not a line end, not whitespace (obs-fold) and not a control byte, with room for one more
 * header. */
static bool ws_hs_header_starts(const ws_http_parser *hs, uint8_t c)
{
    return c > ' ' && c != 0x7F && hs->header_count < hs->max_headers;
}

/* How many bytes of the line being scanned may follow from an input of len bytes: no more
 * than the line's limit and the head buffer leave room for. */
static size_t ws_hs_line_room(const ws_http_parser *hs, size_t len)
{
    size_t limit = ws_hs_line_limit(hs), used = hs->len - hs->line_start;

    len = WS_MIN(len, hs->cap - hs->len);
    return WS_MIN(len, limit > used ? limit - used : 0);
}

/* The fast path, over whole lines: copies each line's plain bytes and, when its CR LF
 * follows, ends it at once and goes on with the next. Stops where a byte needs
 * ws_hs_scan_byte (a line end of another kind, a control byte, a limit, the end of the
 * head) or a line fails (*rc set). Returns the bytes used. */
static size_t ws_hs_scan_lines(ws_http_parser *hs, const uint8_t *p, size_t len, int *rc)
{
    size_t i = 0, n, end;

    for (;;) {
        enum ws_hs_scan state = (enum ws_hs_scan)hs->line_state;

        if (state == WS_SCAN_LINE) {
            if (i == len || !ws_hs_header_starts(hs, p[i]))
                return i;
            state = WS_SCAN_HEADER;
            hs->line_state = (uint8_t)state;
        } else if (state != WS_SCAN_FIRST && state != WS_SCAN_HEADER) {
            return i;
        }
        n = ws_hs_line_room(hs, len - i);
        if (n > 0) /* buf may be NULL when cap is 0 */
            n = ws_hs_copy_plain(hs->buf + hs->len, p + i, n);
        hs->len += n;
        i += n;
        if (len - i < 2 || p[i] != '\r' || p[i + 1] != '\n' || hs->cap - hs->len < 2)
            return i;
        end = hs->len;
        hs->buf[end] = '\r';
        hs->buf[end + 1] = '\n';
        hs->len += 2;
        i += 2;
        hs->line_state = WS_SCAN_LINE;
        *rc = ws_hs_end_line(hs, state, end);
        if (*rc != WS_E_AGAIN)
            return i;
    }
}
#else
/* WS_SMALL (docs/size.md): no fast path over whole lines; every byte goes through
 * ws_hs_scan_byte, which makes the same decisions one byte at a time. */
static size_t ws_hs_scan_lines(ws_http_parser *hs, const uint8_t *p, size_t len, int *rc)
{
    (void)hs;
    (void)p;
    (void)len;
    (void)rc;
    return 0;
}
#endif /* WS_SMALL */

int ws_http_parser_feed(ws_http_parser *hs, const uint8_t *p, size_t len, size_t *consumed)
{
    size_t i = 0;
    int rc = WS_E_AGAIN;

    if (consumed != NULL)
        *consumed = 0;
    if (hs->state == WS_HTTP_FAILED)
        return hs->error;
    if (hs->state != WS_HTTP_READING)
        return WS_E_STATE;
    if (p == NULL && len > 0)
        return WS_E_INVALID;
    while (i < len) {
        i += ws_hs_scan_lines(hs, p + i, len - i, &rc);
        if (i == len || rc != WS_E_AGAIN)
            break;
        rc = ws_hs_scan_byte(hs, p[i++]);
        if (rc != WS_E_AGAIN)
            break;
    }
    /* On an error the offending byte is not counted: i is one past it. */
    if (consumed != NULL)
        *consumed = rc >= WS_OK || rc == WS_E_AGAIN ? i : i - 1;
    if (rc < 0 && rc != WS_E_AGAIN) {
        hs->state = WS_HTTP_FAILED;
        hs->error = rc;
    }
    return rc;
}

void ws_http_parser_setup(ws_http_parser *hs, ws_http_first_line_fn first_line,
                          const ws_http_limits *limits, uint8_t *buf, size_t cap,
                          ws_header *headers, size_t max_headers)
{
    ws_http_limits defaults;
    bool response = first_line != ws_http_request_line;

    if (limits == NULL) {
        ws_http_limits_init(&defaults);
        limits = &defaults;
    }
    memset(hs, 0, sizeof *hs);
    hs->first_line = first_line;
    hs->state = WS_HTTP_READING;
    hs->line_state = WS_SCAN_FIRST;
    hs->allow_bare_lf = limits->allow_bare_lf;
    /* 0: no line limit of its own; the head buffer still bounds every line. */
    hs->max_first_line = response ? limits->max_header_line : limits->max_request_line;
    if (hs->max_first_line == 0)
        hs->max_first_line = SIZE_MAX;
    hs->max_header_line = limits->max_header_line != 0 ? limits->max_header_line : SIZE_MAX;
    hs->buf = buf;
    hs->cap = buf != NULL ? cap : 0;
    hs->headers = headers;
    hs->max_headers = headers != NULL ? max_headers : 0;
}

void ws_http_parser_init(ws_http_parser *hs, bool response, const ws_http_limits *limits,
                         uint8_t *buf, size_t cap, ws_header *headers, size_t max_headers)
{
    ws_http_parser_setup(hs, response ? ws_http_status_line : ws_http_request_line, limits, buf,
                         cap, headers, max_headers);
}

const ws_http_head *ws_http_parser_head(const ws_http_parser *hs)
{
    return hs->state == WS_HTTP_DONE ? &hs->head : NULL;
}
