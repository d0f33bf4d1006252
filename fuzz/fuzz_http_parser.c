/*
 * The standalone HTTP/1.1 head parser, request and response: the same bytes whole and in
 * fuzzer-chosen pieces give the same answer at the same offset (split invariance); a head it
 * accepts has a well-formed first line and header lines of a token name and a value without
 * control bytes, all inside the caller's buffer; nothing is read or written outside it, the
 * buffer's size bounds what is held, and errors stay. Input: flags (response, bare LF, small
 * limits), split plan, then the bytes.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define FZ_HEAD_CAP    2048
#define FZ_MAX_HEADERS 24

typedef struct fz_result {
    int rc;          /* WS_OK, WS_E_AGAIN or an error */
    size_t consumed; /* bytes of the stream taken up to the answer */
    size_t first;    /* offset at which WS_HTTP_FIRST_LINE came, or SIZE_MAX */
} fz_result;

static bool fz_in(const uint8_t *buf, size_t len, const char *p, size_t n)
{
    return n == 0 || ((const uint8_t *)p >= buf && (const uint8_t *)p + n <= buf + len);
}

/* Checks a head the parser accepted. */
static void fz_check_head(const ws_http_parser *p, bool response)
{
    const ws_http_head *h = ws_http_parser_head(p);
    size_t i, k;

    FZ_CHECK(h != NULL && p->len <= p->cap);
    FZ_CHECK(h->version_major >= 0 && h->version_major <= 9);
    FZ_CHECK(h->version_minor >= 0 && h->version_minor <= 9);
    if (response) {
        FZ_CHECK(h->status >= 100 && h->status <= 599);
        FZ_CHECK(fz_in(p->buf, p->len, h->reason, h->reason_len));
    } else {
        FZ_CHECK(fz_is_token(h->method, h->method_len) &&
                 fz_in(p->buf, p->len, h->method, h->method_len));
        FZ_CHECK(h->target_len > 0 && fz_in(p->buf, p->len, h->target, h->target_len));
        for (k = 0; k < h->target_len; k++)
            FZ_CHECK(h->target[k] != ' ' && h->target[k] != '\t' && h->target[k] != '\r' &&
                     h->target[k] != '\n');
    }
    FZ_CHECK(h->header_count <= FZ_MAX_HEADERS);
    for (i = 0; i < h->header_count; i++) {
        const ws_header *x = &h->headers[i];
        FZ_CHECK(fz_is_token(x->name, x->name_len) && fz_in(p->buf, p->len, x->name, x->name_len));
        FZ_CHECK(fz_in(p->buf, p->len, x->value, x->value_len));
        for (k = 0; k < x->value_len; k++) {
            unsigned char c = (unsigned char)x->value[k];
            FZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7F));
        }
        if (x->value_len > 0) /* trimmed */
            FZ_CHECK(x->value[0] != ' ' && x->value[0] != '\t' &&
                     x->value[x->value_len - 1] != ' ' && x->value[x->value_len - 1] != '\t');
    }
}

/* Parses data in the plan's pieces, each in a block of its own size. */
static fz_result fz_parse(ws_http_parser *p, bool response, const ws_http_limits *lim, uint8_t *buf,
                          ws_header *headers, const uint8_t *data, size_t len, fz_split plan)
{
    fz_result res = {WS_E_AGAIN, 0, SIZE_MAX};
    size_t pos = 0;

    ws_http_parser_init(p, response, lim, buf, FZ_HEAD_CAP, headers, FZ_MAX_HEADERS);
    while (pos < len && res.rc == WS_E_AGAIN) {
        size_t n = fz_split_next(&plan, len - pos), off = 0;
        uint8_t *piece = fz_dup(data + pos, n);

        for (;;) {
            size_t used = 0, held = p->len;
            int rc = ws_http_parser_feed(p, piece + off, n - off, &used);
            FZ_CHECK(used <= n - off && p->len <= p->cap && p->len >= held);
            off += used;
            if (rc == WS_HTTP_FIRST_LINE) {
                FZ_CHECK(res.first == SIZE_MAX);
                res.first = pos + off;
                continue;
            }
            res.rc = rc;
            break;
        }
        FZ_CHECK(res.rc != WS_E_AGAIN || off == n);
        res.consumed = pos + off;
        pos += n;
        free(piece);
    }
    return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf_a[FZ_HEAD_CAP], buf_b[FZ_HEAD_CAP];
    static ws_header h_a[FZ_MAX_HEADERS], h_b[FZ_MAX_HEADERS];
    ws_http_parser pa, pb;
    ws_http_limits lim;
    fz_reader r;
    fz_split plan, whole;
    const uint8_t *bytes;
    size_t len;
    uint8_t flags;
    bool response;
    fz_result ra, rb;

    fz_reader_init(&r, data, size);
    flags = fz_u8(&r);
    fz_split_read(&plan, &r);
    len = fz_take(&r, SIZE_MAX, &bytes);
    response = (flags & 1u) != 0;
    ws_http_limits_init(&lim);
    lim.allow_bare_lf = (flags & 2u) != 0;
    if (flags & 4u) {
        lim.max_request_line = 40;
        lim.max_header_line = 30;
    }
    if (flags & 8u)
        lim.max_request_line = lim.max_header_line = 0; /* the buffer alone bounds lines */

    fz_split_whole(&whole);
    ra = fz_parse(&pa, response, &lim, buf_a, h_a, bytes, len, whole);
    rb = fz_parse(&pb, response, &lim, buf_b, h_b, bytes, len, plan);
    /* Split invariance: the same answer at the same byte, the same first line. */
    FZ_CHECK(ra.rc == rb.rc && ra.consumed == rb.consumed && ra.first == rb.first);
    FZ_CHECK(pa.len == pb.len && memcmp(buf_a, buf_b, pa.len) == 0);
    if (ra.rc == WS_OK) {
        fz_check_head(&pa, response);
        FZ_CHECK(pa.head.header_count == pb.head.header_count);
        FZ_CHECK(ws_http_parser_feed(&pa, bytes, 0, NULL) == WS_E_STATE);
    } else if (ra.rc != WS_E_AGAIN) {
        size_t used = 1;
        FZ_CHECK(ra.rc == WS_E_HTTP_SYNTAX || ra.rc == WS_E_HTTP_URI_TOO_LONG ||
                 ra.rc == WS_E_HTTP_HEADERS_TOO_LARGE);
        FZ_CHECK(ra.rc != WS_E_HTTP_URI_TOO_LONG || !response);
        FZ_CHECK(ws_http_parser_head(&pa) == NULL);
        FZ_CHECK(ws_http_parser_feed(&pa, bytes, len, &used) == ra.rc && used == 0); /* sticky */
    }
    return 0;
}
