/*
 * The standalone HTTP/1.1 head parser as a table: bytes in -> answer, where it came, and the
 * first line and headers read; each case whole and byte by byte, which must agree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ws.h"

typedef struct parser_case {
    const char *name;
    bool response;
    const char *in;
    int rc;             /* WS_OK, WS_E_AGAIN or the error */
    size_t at;          /* bytes consumed when the answer came (0: the whole input) */
    const char *first;  /* "GET /x 1.1" or "101 Switching 1.1"; NULL: not checked */
    size_t headers;     /* header count, for WS_OK */
    const char *header; /* "Name=value" of the last header, or NULL */
    size_t max_line;    /* both line limits when not 0 */
    size_t cap;         /* head buffer when not 0 */
    bool bare_lf;
} parser_case;

#define REQ "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade:  websocket \r\n\r\n"

static const parser_case cases[] = {
    {"request", false, REQ, WS_OK, 0, "GET /chat?x=1 1.1", 2, "Upgrade=websocket"},
    {"response", true, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", WS_OK, 0,
     "101 Switching Protocols 1.1", 1, "Upgrade=websocket"},
    {"response without a reason", true, "HTTP/1.0 404\r\n\r\n", WS_OK, 0, "404  1.0", 0, NULL},
    {"a version the parser reads, the user judges", false, "GET / HTTP/2.0\r\n\r\n", WS_OK, 0,
     "GET / 2.0", 0, NULL},
    {"empty lines before a request line", false, "\r\n\r\n" REQ, WS_OK, 0, "GET /chat?x=1 1.1", 2,
     NULL},
    {"empty value", false, "GET / HTTP/1.1\r\nX-Empty:\r\n\r\n", WS_OK, 0, NULL, 1, "X-Empty="},
    {"bytes after the head are not taken", false, REQ "\x81\x00", WS_OK, sizeof REQ - 1, NULL, 2,
     NULL},
    {"incomplete", false, "GET / HTTP/1.1\r\nHost: a\r\n", WS_E_AGAIN, 0, NULL, 0, NULL},
    {"obs-fold", false, "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", WS_E_HTTP_SYNTAX, 22, NULL, 0,
     NULL},
    {"space before the colon", false, "GET / HTTP/1.1\r\nHost : a\r\n\r\n", WS_E_HTTP_SYNTAX, 25,
     NULL, 0, NULL},
    {"method not a token", false, "G(T / HTTP/1.1\r\n\r\n", WS_E_HTTP_SYNTAX, 15, NULL, 0, NULL},
    {"two spaces", false, "GET  / HTTP/1.1\r\n\r\n", WS_E_HTTP_SYNTAX, 16, NULL, 0, NULL},
    {"status 99", true, "HTTP/1.1 099 x\r\n\r\n", WS_E_HTTP_SYNTAX, 15, NULL, 0, NULL},
    {"status 600", true, "HTTP/1.1 600 x\r\n\r\n", WS_E_HTTP_SYNTAX, 15, NULL, 0, NULL},
    {"not HTTP", true, "HTTX/1.1 101 x\r\n\r\n", WS_E_HTTP_SYNTAX, 15, NULL, 0, NULL},
    {"NUL in a value", false, "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", WS_E_HTTP_SYNTAX, 20, NULL, 0,
     NULL},
    {"CR without LF", false, "GET / HTTP/1.1\rX\r\n\r\n", WS_E_HTTP_SYNTAX, 15, NULL, 0, NULL},
    {"bare LF refused", false, "GET / HTTP/1.1\n\n", WS_E_HTTP_SYNTAX, 14, NULL, 0, NULL},
    {"bare LF allowed", false, "GET / HTTP/1.1\nHost: a\n\n", WS_OK, 0, "GET / 1.1", 1, "Host=a", 0,
     0, true},
    {"request line over its limit", false, "GET /0123456789 HTTP/1.1\r\n\r\n",
     WS_E_HTTP_URI_TOO_LONG, 20, NULL, 0, NULL, 20},
    {"header line over its limit", false, "GET / HTTP/1.1\r\nX: 0123456789012345678\r\n\r\n",
     WS_E_HTTP_HEADERS_TOO_LARGE, 36, NULL, 0, NULL, 20},
    {"status line over the header line limit", true, "HTTP/1.1 101 Switching Protocols\r\n\r\n",
     WS_E_HTTP_HEADERS_TOO_LARGE, 20, NULL, 0, NULL, 20},
    {"head over the buffer", false, REQ, WS_E_HTTP_HEADERS_TOO_LARGE, 40, NULL, 0, NULL, 0, 40},
    {"too many headers", false, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
     WS_E_HTTP_HEADERS_TOO_LARGE, 40, NULL, 0, NULL},
};

#define MAX_HEADERS 4

/* Runs a case whole (piece 0) or byte by byte (piece 1); returns the answer and writes what
 * was read into text. */
static int run(const parser_case *c, size_t piece, size_t *at, char *text, size_t cap,
               size_t *first_at)
{
    static uint8_t buf[512];
    static ws_header headers[MAX_HEADERS];
    const uint8_t *in = (const uint8_t *)c->in;
    size_t len = strlen(c->in) + (strstr(c->name, "NUL") ? 6 : 0), pos = 0;
    ws_http_parser p;
    ws_http_limits lim;
    int rc = WS_E_AGAIN;

    ws_http_limits_init(&lim);
    lim.allow_bare_lf = c->bare_lf;
    if (c->max_line)
        lim.max_request_line = lim.max_header_line = c->max_line;
    ws_http_parser_init(&p, c->response, &lim, buf, c->cap ? c->cap : sizeof buf, headers,
                        MAX_HEADERS);
    *first_at = 0;
    while (pos < len && rc == WS_E_AGAIN) {
        size_t n = piece ? piece : len - pos, used = 0;
        if (n > len - pos)
            n = len - pos;
        rc = ws_http_parser_feed(&p, in + pos, n, &used);
        pos += used;
        if (rc == WS_HTTP_FIRST_LINE) {
            *first_at = pos;
            rc = WS_E_AGAIN;
        }
    }
    *at = pos;
    text[0] = '\0';
    if (rc == WS_OK) {
        const ws_http_head *h = ws_http_parser_head(&p);
        assert_non_null(h);
        if (c->response)
            snprintf(text, cap, "%d %.*s %d.%d|%zu", h->status, (int)h->reason_len, h->reason,
                     h->version_major, h->version_minor, h->header_count);
        else
            snprintf(text, cap, "%.*s %.*s %d.%d|%zu", (int)h->method_len, h->method,
                     (int)h->target_len, h->target, h->version_major, h->version_minor,
                     h->header_count);
        if (h->header_count > 0) {
            const ws_header *x = &h->headers[h->header_count - 1];
            size_t used = strlen(text);
            snprintf(text + used, cap - used, "|%.*s=%.*s", (int)x->name_len, x->name,
                     (int)x->value_len, x->value);
        }
        assert_int_equal(ws_http_parser_feed(&p, in, 1, NULL), WS_E_STATE);
    } else if (rc != WS_E_AGAIN) {
        size_t used = 9;
        assert_null(ws_http_parser_head(&p));
        assert_int_equal(ws_http_parser_feed(&p, in, 1, &used), rc); /* sticky */
        assert_int_equal(used, 0);
    }
    return rc;
}

static void test_table(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const parser_case *c = &cases[i];
        char whole[256], bytes[256], want[256];
        size_t at_w, at_b, first_w, first_b;
        int rw = run(c, 0, &at_w, whole, sizeof whole, &first_w);
        int rb = run(c, 1, &at_b, bytes, sizeof bytes, &first_b);
        size_t want_at = c->at ? c->at : strlen(c->in);

        if (rw != c->rc || at_w != want_at)
            fail_msg("%s: rc %d at %zu, want %d at %zu", c->name, rw, at_w, c->rc, want_at);
        if (rb != rw || at_b != at_w || first_b != first_w || strcmp(whole, bytes) != 0)
            fail_msg("%s: byte by byte %d at %zu \"%s\", whole %d at %zu \"%s\"", c->name, rb, at_b,
                     bytes, rw, at_w, whole);
        if (rw == WS_OK && c->first != NULL) {
            snprintf(want, sizeof want, "%s|%zu", c->first, c->headers);
            if (strncmp(whole, want, strlen(want)) != 0)
                fail_msg("%s: read \"%s\", want \"%s\"", c->name, whole, want);
        }
        if (rw == WS_OK && c->header != NULL) {
            const char *bar = strrchr(whole, '|');
            if (bar == NULL || strcmp(bar + 1, c->header) != 0)
                fail_msg("%s: last header \"%s\", want \"%s\"", c->name, whole, c->header);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
