/*
 * The client side of the opening handshake. Response mode: a request is written (with the
 * deterministic key, so the right accept value is FZ_ACCEPT), then the response is fed whole
 * and in fuzzer-chosen pieces (same result either way) and the parsed response is checked.
 * URL mode: the input is a URL for ws_url_parse, and a URL it accepts must give a request
 * whose request line and Host say the same thing.
 * Input: settings (1 byte), split plan, then the response or the URL.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fz_cl_cfg {
    ws_http_limits limits;
    size_t cap;
    size_t max_headers;
    bool protocols;
    bool extensions;
} fz_cl_cfg;

static const char *const fz_protocols[] = {"chat", "superchat"};
static const char fz_extensions[] = "permessage-deflate; client_max_window_bits, x-fz";

typedef struct fz_client {
    ws_handshake hs;
    uint8_t *buf;
    ws_header *headers;
    size_t cap;
} fz_client;

static bool fz_in_buf(const fz_client *s, const char *p, size_t len)
{
    const char *b = (const char *)s->buf;
    return p != NULL && p >= b && p <= b + s->cap && len <= (size_t)(b + s->cap - p);
}

static void fz_opts(const fz_cl_cfg *cfg, ws_client_opts *o, const char *url)
{
    memset(o, 0, sizeof *o);
    o->url = url;
    if (cfg->protocols) {
        o->subprotocols = fz_protocols;
        o->subprotocol_count = 2;
    }
    if (cfg->extensions)
        o->extensions = fz_extensions;
}

/* Sets up a client and writes its request; returns the request's size (0 if it failed
 * with rc, which is then returned in *rc). */
static size_t fz_client_start(fz_client *s, const fz_cl_cfg *cfg, const char *url, uint8_t **req,
                              int *rc)
{
    ws_client_opts o;
    fz_rng rng = {0};
    size_t n = 0, m = 0;
    uint8_t *small;

    s->cap = cfg->cap;
    s->buf = fz_block(cfg->cap);
    s->headers = (ws_header *)(void *)fz_block(cfg->max_headers * sizeof(ws_header));
    ws_handshake_client_init(&s->hs, &cfg->limits, s->buf, s->cap, s->headers, cfg->max_headers);
    fz_opts(cfg, &o, url);
    *req = fz_block(4096);
    *rc = ws_handshake_client_request(&s->hs, &o, fz_random, &rng, *req, 4096, &n);
    if (*rc != WS_OK)
        return 0;
    FZ_CHECK(n > 0 && n <= 4096);
    /* Too little room leaves the handshake idle, so the request can be written again. */
    {
        ws_handshake again;
        uint8_t *b2 = fz_block(cfg->cap);
        ws_handshake_client_init(&again, &cfg->limits, b2, cfg->cap, s->headers, cfg->max_headers);
        small = fz_block(n - 1);
        rng.counter = 0;
        FZ_CHECK(ws_handshake_client_request(&again, &o, fz_random, &rng, small, n - 1, &m) ==
                 WS_E_BUFFER);
        rng.counter = 0;
        free(small);
        small = fz_block(n);
        FZ_CHECK(ws_handshake_client_request(&again, &o, fz_random, &rng, small, n, &m) == WS_OK &&
                 m == n && memcmp(small, *req, n) == 0);
        FZ_CHECK(ws_handshake_client_request(&again, &o, fz_random, &rng, small, n, &m) ==
                 WS_E_STATE);
        free(small);
        free(b2);
    }
    return n;
}

static void fz_client_free(fz_client *s)
{
    free(s->buf);
    free(s->headers);
}

static bool fz_client_error(int rc)
{
    return rc == WS_E_HTTP_STATUS || rc == WS_E_HTTP_UPGRADE || rc == WS_E_HTTP_CONNECTION ||
           rc == WS_E_HTTP_ACCEPT || rc == WS_E_HTTP_SUBPROTOCOL || rc == WS_E_HTTP_EXTENSION ||
           rc == WS_E_HTTP_SYNTAX || rc == WS_E_HTTP_HEADERS_TOO_LARGE || rc == WS_E_HTTP_VERSION;
}

static void fz_response_serialize(const ws_response *r, fz_buf *out)
{
    size_t i;

    fz_buf_u64(out, (uint64_t)r->status);
    fz_put_str(out, r->reason, r->reason_len);
    fz_buf_u64(out, r->header_count);
    for (i = 0; i < r->header_count; i++) {
        fz_put_str(out, r->headers[i].name, r->headers[i].name_len);
        fz_put_str(out, r->headers[i].value, r->headers[i].value_len);
    }
    fz_put_str(out, r->subprotocol, r->subprotocol_len);
    fz_put_str(out, r->extensions, r->extensions_len);
}

static void fz_check_response(const fz_client *s, const fz_cl_cfg *cfg, int rc)
{
    const ws_response *r = ws_handshake_response(&s->hs);
    size_t i;

    if (rc == WS_E_AGAIN) {
        FZ_CHECK(r == NULL);
        return;
    }
    if (rc == WS_OK || rc == WS_E_HTTP_STATUS)
        FZ_CHECK(r != NULL);
    if (r == NULL)
        return;
    FZ_CHECK(r->status >= 100 && r->status <= 599);
    FZ_CHECK((rc == WS_E_HTTP_STATUS) == (r->status != 101));
    FZ_CHECK(r->reason_len == 0 || fz_in_buf(s, r->reason, r->reason_len));
    for (i = 0; i < r->header_count; i++) {
        FZ_CHECK(fz_in_buf(s, r->headers[i].name, r->headers[i].name_len));
        FZ_CHECK(r->headers[i].value_len == 0 ||
                 fz_in_buf(s, r->headers[i].value, r->headers[i].value_len));
    }
    if (rc != WS_OK)
        return;
    FZ_CHECK(r->subprotocol == NULL || fz_in_buf(s, r->subprotocol, r->subprotocol_len));
    if (r->subprotocol != NULL) {
        /* Only an offered one can be chosen. */
        bool offered = false;
        for (i = 0; cfg->protocols && i < 2; i++)
            offered = offered || (strlen(fz_protocols[i]) == r->subprotocol_len &&
                                  memcmp(fz_protocols[i], r->subprotocol, r->subprotocol_len) == 0);
        FZ_CHECK(offered);
    }
    FZ_CHECK(r->extensions == NULL || fz_in_buf(s, r->extensions, r->extensions_len));
    FZ_CHECK(r->extensions == NULL || cfg->extensions);
}

static void fz_response_mode(const fz_cl_cfg *cfg, const uint8_t *p, size_t len, fz_split *plan)
{
    fz_client a, b;
    fz_split whole;
    uint8_t *req_a, *req_b;
    size_t ta, tb, na, nb;
    int ra, rb;
    static const char key_line[] = "\r\nSec-WebSocket-Key: " FZ_KEY "\r\n";

    na = fz_client_start(&a, cfg, "ws://example.com/chat", &req_a, &ra);
    nb = fz_client_start(&b, cfg, "ws://example.com/chat", &req_b, &rb);
    FZ_CHECK(ra == rb && na == nb);
    if (ra != WS_OK) {
        FZ_CHECK(ra == WS_E_BUFFER && cfg->cap < 128); /* the offer did not fit the buffer */
    } else {
        size_t i;
        bool found = false;
        FZ_CHECK(memcmp(req_a, "GET /chat HTTP/1.1\r\nHost: example.com\r\n", 39) == 0);
        for (i = 0; i + sizeof key_line - 1 <= na && !found; i++)
            found = memcmp(req_a + i, key_line, sizeof key_line - 1) == 0;
        FZ_CHECK(found);
        fz_split_whole(&whole);
        ra = fz_feed_head(ws_handshake_client_feed, &a.hs, p, len, &whole, &ta);
        rb = fz_feed_head(ws_handshake_client_feed, &b.hs, p, len, plan, &tb);
        FZ_CHECK(ra == rb); /* split invariance */
        FZ_CHECK(ra == WS_OK || ra == WS_E_AGAIN || fz_client_error(ra));
        fz_check_response(&a, cfg, ra);
        fz_check_response(&b, cfg, rb);
        if (ra == WS_OK || ra == WS_E_HTTP_STATUS) {
            fz_buf sa = {NULL, 0, 0}, sb = {NULL, 0, 0};
            if (ra == WS_OK)
                FZ_CHECK(ta == tb && ta <= len);
            fz_response_serialize(ws_handshake_response(&a.hs), &sa);
            fz_response_serialize(ws_handshake_response(&b.hs), &sb);
            FZ_CHECK(fz_buf_eq(&sa, &sb));
            fz_buf_free(&sa);
            fz_buf_free(&sb);
        }
        if (ra != WS_OK && ra != WS_E_AGAIN) {
            size_t used = 1;
            FZ_CHECK(ws_handshake_client_feed(&a.hs, (const uint8_t *)"\r\n", 2, &used) == ra);
            FZ_CHECK(used == 0);
        }
    }
    free(req_a);
    free(req_b);
    fz_client_free(&a);
    fz_client_free(&b);
}

static void fz_url_mode(const fz_cl_cfg *cfg, const uint8_t *p, size_t len)
{
    char *url = (char *)fz_block(len + 1);
    ws_url u;
    size_t i;
    int rc;

    if (len)
        memcpy(url, p, len);
    url[len] = '\0';
    rc = ws_url_parse(url, len, &u);
    FZ_CHECK(rc == WS_OK || rc == WS_E_URL);
    if (rc == WS_OK) {
        for (i = 0; i < len; i++)
            FZ_CHECK(url[i] > 0x20 && url[i] < 0x7F && url[i] != '#');
        FZ_CHECK(fz_prefix_ci(url, len, u.secure ? "wss://" : "ws://"));
        FZ_CHECK(u.host_len > 0 && u.host >= url && u.host + u.host_len <= url + len);
        FZ_CHECK(u.port != 0);
        FZ_CHECK(u.port_explicit || u.port == (u.secure ? 443 : 80));
        FZ_CHECK(u.path != NULL && u.path_len > 0 && u.path[0] == '/');
        FZ_CHECK(u.path_len == 1 || (u.path >= url && u.path + u.path_len <= url + len));
        FZ_CHECK(u.query == NULL ||
                 (u.query > url && u.query + u.query_len <= url + len && u.query[-1] == '?'));
        FZ_CHECK(memchr(u.host, '/', u.host_len) == NULL);
    }
    if (rc == WS_OK && strlen(url) == len) {
        fz_client s;
        uint8_t *req;
        size_t n;
        fz_buf want = {NULL, 0, 0};

        n = fz_client_start(&s, cfg, url, &req, &rc);
        FZ_CHECK(rc == WS_OK || rc == WS_E_BUFFER);
        if (rc == WS_OK) {
            fz_buf_put(&want, "GET ", 4);
            fz_buf_put(&want, u.path, u.path_len);
            if (u.query != NULL) {
                fz_buf_put(&want, "?", 1);
                fz_buf_put(&want, u.query, u.query_len);
            }
            fz_buf_put(&want, " HTTP/1.1\r\nHost: ", 17);
            if (u.host_is_ipv6)
                fz_buf_put(&want, "[", 1);
            fz_buf_put(&want, u.host, u.host_len);
            FZ_CHECK(n > want.len && memcmp(req, want.p, want.len) == 0);
        }
        fz_buf_free(&want);
        free(req);
        fz_client_free(&s);
    }
    free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[4] = {8192, 128, 300, 1024};
    static const size_t maxh[4] = {64, 1, 6, 12};
    fz_cl_cfg cfg;
    fz_reader r;
    fz_split plan;
    const uint8_t *p;
    size_t len;
    uint8_t c0;

    fz_reader_init(&r, data, size);
    c0 = fz_u8(&r);
    ws_http_limits_init(&cfg.limits);
    cfg.limits.allow_bare_lf = (c0 & 2u) != 0;
    cfg.protocols = (c0 & 4u) != 0;
    cfg.extensions = (c0 & 8u) != 0;
    cfg.cap = caps[(c0 >> 4) & 3u];
    cfg.max_headers = maxh[(c0 >> 6) & 3u];
    fz_split_read(&plan, &r);
    len = fz_take(&r, r.n, &p);
    if (c0 & 1u)
        fz_url_mode(&cfg, p, len);
    else
        fz_response_mode(&cfg, p, len, &plan);
    return 0;
}
