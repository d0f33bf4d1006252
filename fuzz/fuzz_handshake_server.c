/*
 * The server side of the opening handshake. Feed mode: the request is fed whole and in
 * fuzzer-chosen pieces (same result either way), then the parsed request, the accessors, the
 * 101 answer and the error answers are checked. Hand-off mode: method, target and headers
 * cut out of the input go through ws_handshake_server_handoff, and whenever they can be
 * written as bytes, feeding those bytes must give the same result.
 * Input: settings (2 bytes), split plan, then the request (feed) or fields (hand-off):
 * version byte, then "method\ntarget\nname:value\n...".
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_MAX_FIELDS 80

typedef struct fz_hs_cfg {
    ws_http_limits limits;
    size_t cap;
    size_t max_headers;
} fz_hs_cfg;

/* A server handshake with its own head buffer and header array (exact-size blocks). */
typedef struct fz_server {
    ws_handshake hs;
    uint8_t *buf;
    ws_header *headers;
    size_t cap;
} fz_server;

static void fz_server_init(fz_server *s, const fz_hs_cfg *cfg)
{
    s->cap = cfg->cap;
    s->buf = fz_block(cfg->cap);
    s->headers = (ws_header *)(void *)fz_block(cfg->max_headers * sizeof(ws_header));
    ws_handshake_server_init(&s->hs, &cfg->limits, s->buf, s->cap, s->headers, cfg->max_headers);
}

static void fz_server_free(fz_server *s)
{
    free(s->buf);
    free(s->headers);
}

static bool fz_in_buf(const fz_server *s, const char *p, size_t len)
{
    const char *b = (const char *)s->buf;
    return p != NULL && p >= b && p <= b + s->cap && len <= (size_t)(b + s->cap - p);
}

static bool fz_server_error(int rc)
{
    return rc <= WS_E_HTTP_SYNTAX && rc >= WS_E_HTTP_EXTENSION && rc != WS_E_HTTP_REJECTED &&
           rc != WS_E_HTTP_STATUS && rc != WS_E_HTTP_ACCEPT;
}

/* The request as values, to compare two parses. */
static void fz_request_serialize(const ws_request *r, fz_buf *out)
{
    size_t i;

    fz_put_str(out, r->method, r->method_len);
    fz_put_str(out, r->target, r->target_len);
    fz_put_str(out, r->path, r->path_len);
    fz_put_str(out, r->query, r->query_len);
    fz_buf_u64(out, (uint64_t)r->version_minor);
    fz_buf_u64(out, r->header_count);
    for (i = 0; i < r->header_count; i++) {
        fz_put_str(out, r->headers[i].name, r->headers[i].name_len);
        fz_put_str(out, r->headers[i].value, r->headers[i].value_len);
    }
    fz_put_str(out, r->host, r->host_len);
    fz_put_str(out, r->origin, r->origin_len);
    fz_put_str(out, r->key, r->key_len);
}

static bool fz_contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle), i;

    for (i = 0; i + k <= n; i++) {
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    }
    return false;
}

/* Writes with f into blocks of exactly the size needed and one byte less. */
typedef int (*fz_writer)(const ws_handshake *hs, const void *arg, uint8_t *out, size_t cap,
                         size_t *len);

static uint8_t *fz_write_exact(const ws_handshake *hs, fz_writer f, const void *arg, int *rc,
                               size_t *len)
{
    uint8_t *out = fz_block(4096);
    uint8_t *small;
    size_t n = 0, m = 0;

    *rc = f(hs, arg, out, 4096, &n);
    if (*rc != WS_OK) {
        free(out);
        return NULL;
    }
    FZ_CHECK(n > 0 && n <= 4096);
    free(out);
    out = fz_block(n);
    FZ_CHECK(f(hs, arg, out, n, &m) == WS_OK && m == n);
    small = fz_block(n - 1);
    FZ_CHECK(f(hs, arg, small, n - 1, &m) == WS_E_BUFFER);
    free(small);
    *len = n;
    return out;
}

static int fz_write_accept(const ws_handshake *hs, const void *arg, uint8_t *out, size_t cap,
                           size_t *len)
{
    return ws_handshake_accept(hs, (const ws_accept_opts *)arg, out, cap, len);
}

static int fz_write_error(const ws_handshake *hs, const void *arg, uint8_t *out, size_t cap,
                          size_t *len)
{
    (void)arg;
    return ws_handshake_error_response(hs, out, cap, len);
}

static int fz_write_reject(const ws_handshake *hs, const void *arg, uint8_t *out, size_t cap,
                           size_t *len)
{
    static const ws_header extra = {"X-Reason", 8, "test", 4};
    (void)arg;
    return ws_handshake_reject(hs, 403, &extra, 1, "no", 2, out, cap, len);
}

static bool fz_ends_with_ci(const char *s, size_t len, const char *lower)
{
    size_t n = strlen(lower);
    return len >= n && fz_eq_ci_at(s, len, len - n, lower);
}

/* The ready-made policies read the request too: token lookup and verification, origin
 * checks. */
static void fz_check_policies(const fz_server *s, const ws_request *r)
{
    static const char *const allow[] = {"https://*.example.com", "http://localhost:8080"};
    static const uint8_t key[] = {'k', 'e', 'y'};
    const unsigned all = WS_TOKEN_BEARER | WS_TOKEN_COOKIE | WS_TOKEN_QUERY | WS_TOKEN_SUBPROTOCOL;
    ws_origin_policy policy;
    ws_token_claims claims;
    const char *token = NULL;
    size_t token_len = 0;
    unsigned source = 0;
    int rc;

    rc = ws_token_find(r, all, NULL, NULL, NULL, &token, &token_len, &source);
    FZ_CHECK(rc == WS_OK || rc == WS_E_AUTH_MISSING);
    if (rc == WS_OK) {
        FZ_CHECK(token_len > 0 && fz_in_buf(s, token, token_len));
        FZ_CHECK(source != 0 && (source & (source - 1)) == 0 && (source & all) == source);
        rc = ws_token_verify(key, sizeof key, token, token_len, 1000, &claims);
        FZ_CHECK(rc == WS_OK || rc == WS_E_AUTH_INVALID || rc == WS_E_AUTH_EXPIRED);
        if (rc == WS_OK)
            FZ_CHECK(claims.subject_len > 0 && claims.subject_len <= WS_TOKEN_SUBJECT_MAX &&
                     claims.subject[claims.subject_len] == '\0' && claims.expires > 1000);
    }

    ws_origin_policy_init(&policy);
    policy.allow = allow;
    policy.allow_count = 2;
    rc = ws_origin_check(&policy, r);
    FZ_CHECK(rc == WS_OK || rc == WS_E_ORIGIN);
    if (r->origin != NULL && ws_origin_match(allow[0], r->origin, r->origin_len)) {
        /* A wildcard never matches the bare domain nor a look-alike. */
        FZ_CHECK(fz_ends_with_ci(r->origin, r->origin_len, ".example.com") ||
                 fz_ends_with_ci(r->origin, r->origin_len, ".example.com:443"));
        FZ_CHECK(fz_prefix_ci(r->origin, r->origin_len, "https://"));
    }
}

/* Everything a host may do with a valid request. */
static void fz_check_valid(fz_server *s)
{
    const ws_request *r = ws_handshake_request(&s->hs);
    char accept[WS_ACCEPT_KEY_SIZE + 1], line[96];
    ws_accept_opts opts;
    ws_extension_iter eit;
    ws_extension ext;
    ws_list_iter lit;
    const char *item, *v;
    size_t item_len, vlen, i, n;
    uint8_t *out;
    int rc, steps = 0;

    FZ_CHECK(r != NULL);
    FZ_CHECK(ws_handshake_status(&s->hs) == 0);
    FZ_CHECK(r->method_len == 3 && memcmp(r->method, "GET", 3) == 0);
    FZ_CHECK(r->version_minor >= 1);
    FZ_CHECK(fz_in_buf(s, r->method, r->method_len));
    FZ_CHECK(fz_in_buf(s, r->target, r->target_len) && r->target_len > 0);
    FZ_CHECK(r->path_len > 0 && r->path[0] == '/');
    FZ_CHECK(r->path_len == 1 || fz_in_buf(s, r->path, r->path_len));
    FZ_CHECK(r->query == NULL || fz_in_buf(s, r->query, r->query_len));
    FZ_CHECK(fz_in_buf(s, r->host, r->host_len) && r->host_len > 0);
    FZ_CHECK(r->origin == NULL || fz_in_buf(s, r->origin, r->origin_len));
    FZ_CHECK(fz_in_buf(s, r->key, r->key_len) && r->key_len == 24);
    FZ_CHECK(r->headers == s->headers);
    for (i = 0; i < r->header_count; i++) {
        FZ_CHECK(fz_in_buf(s, r->headers[i].name, r->headers[i].name_len));
        FZ_CHECK(r->headers[i].value_len == 0 ||
                 fz_in_buf(s, r->headers[i].value, r->headers[i].value_len));
    }

    /* The header list readers. */
    ws_extension_iter_init(&eit, r->headers, r->header_count);
    while ((rc = ws_extension_iter_next(&eit, &ext)) == 1) {
        FZ_CHECK(++steps < 10000);
        FZ_CHECK(ext.name_len > 0 && fz_in_buf(s, ext.name, ext.name_len));
        FZ_CHECK(ext.param_count <= WS_EXTENSION_PARAMS_MAX);
        for (i = 0; i < ext.param_count; i++)
            FZ_CHECK(ext.params[i].value == NULL ||
                     fz_in_buf(s, ext.params[i].value, ext.params[i].value_len));
    }
    FZ_CHECK(rc == 0 || rc == WS_E_HTTP_EXTENSION);
    FZ_CHECK(ws_extension_iter_next(&eit, &ext) == rc); /* the end, or the error, stays */
    if (ws_request_cookie(r, "session", &v, &vlen))
        FZ_CHECK(vlen == 0 || fz_in_buf(s, v, vlen));
    if (ws_request_query_param(r, "token", &v, &vlen))
        FZ_CHECK(vlen == 0 || fz_in_buf(s, v, vlen));

    /* The 101 answer carries the accept value of the key. */
    memset(&opts, 0, sizeof opts);
    out = fz_write_exact(&s->hs, fz_write_accept, &opts, &rc, &n);
    FZ_CHECK(rc == WS_OK);
    ws_accept_key(r->key, r->key_len, accept);
    accept[WS_ACCEPT_KEY_SIZE] = '\0';
    snprintf(line, sizeof line, "\r\nSec-WebSocket-Accept: %s\r\n", accept);
    FZ_CHECK(n > 34 && memcmp(out, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
    FZ_CHECK(fz_contains(out, n, line));
    FZ_CHECK(memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
    free(out);

    /* The first offered subprotocol can be chosen; one never offered cannot. */
    ws_list_iter_init(&lit, r->headers, r->header_count, "Sec-WebSocket-Protocol");
    if (ws_list_iter_next(&lit, &item, &item_len) && item_len < 64 &&
        memchr(item, '\0', item_len) == NULL) {
        char proto[64];
        memcpy(proto, item, item_len);
        proto[item_len] = '\0';
        FZ_CHECK(ws_request_offers_subprotocol(r, proto, item_len));
        opts.subprotocol = proto;
        out = fz_write_exact(&s->hs, fz_write_accept, &opts, &rc, &n);
        /* Only a token may be echoed, whatever the client offered. */
        FZ_CHECK(fz_is_token(proto, item_len) ? rc == WS_OK : rc == WS_E_HTTP_SUBPROTOCOL);
        free(out);
    }
    if (!ws_request_offers_subprotocol(r, "fz.never", 8)) {
        opts.subprotocol = "fz.never";
        FZ_CHECK(fz_write_exact(&s->hs, fz_write_accept, &opts, &rc, &n) == NULL);
        FZ_CHECK(rc == WS_E_HTTP_SUBPROTOCOL);
    }

    out = fz_write_exact(&s->hs, fz_write_reject, NULL, &rc, &n);
    FZ_CHECK(rc == WS_OK && n > 13 && memcmp(out, "HTTP/1.1 403 ", 13) == 0);
    free(out);
    FZ_CHECK(ws_handshake_error_response(&s->hs, NULL, 0, &n) == WS_E_STATE);
    fz_check_policies(s, r);
}

/* What a failed request leaves: a status, the answer for it, and a sticky error. */
static void fz_check_failed(fz_server *s, int rc)
{
    int status = ws_handshake_status(&s->hs), wrc;
    char prefix[16];
    uint8_t *out;
    size_t n, used = 1;
    uint8_t more[2] = {'\r', '\n'};

    FZ_CHECK(fz_server_error(rc));
    FZ_CHECK(status == ws_error_http_status(rc));
    FZ_CHECK(status == 400 || status == 405 || status == 414 || status == 426 || status == 431 ||
             status == 505);
    FZ_CHECK(ws_handshake_request(&s->hs) == NULL);
    out = fz_write_exact(&s->hs, fz_write_error, NULL, &wrc, &n);
    FZ_CHECK(wrc == WS_OK);
    snprintf(prefix, sizeof prefix, "HTTP/1.1 %d ", status);
    FZ_CHECK(n > strlen(prefix) && memcmp(out, prefix, strlen(prefix)) == 0);
    if (status == 426)
        FZ_CHECK(fz_contains(out, n, "\r\nSec-WebSocket-Version: 13\r\n"));
    free(out);
    FZ_CHECK(ws_handshake_server_feed(&s->hs, more, sizeof more, &used) == rc && used == 0);
    FZ_CHECK(ws_handshake_accept(&s->hs, NULL, more, sizeof more, &n) == WS_E_STATE);
}

static void fz_feed_mode(const fz_hs_cfg *cfg, const uint8_t *p, size_t len, fz_split *plan)
{
    fz_server a, b;
    fz_split whole;
    size_t ta, tb;
    int ra, rb;

    fz_server_init(&a, cfg);
    fz_server_init(&b, cfg);
    fz_split_whole(&whole);
    ra = fz_feed_head(ws_handshake_server_feed, &a.hs, p, len, &whole, &ta);
    rb = fz_feed_head(ws_handshake_server_feed, &b.hs, p, len, plan, &tb);
    FZ_CHECK(ra == rb); /* split invariance */
    if (ra == WS_OK) {
        fz_buf sa = {NULL, 0, 0}, sb = {NULL, 0, 0};
        FZ_CHECK(ta == tb && ta <= len);
        fz_request_serialize(ws_handshake_request(&a.hs), &sa);
        fz_request_serialize(ws_handshake_request(&b.hs), &sb);
        FZ_CHECK(fz_buf_eq(&sa, &sb));
        fz_buf_free(&sa);
        fz_buf_free(&sb);
        fz_check_valid(&b);
    } else if (ra == WS_E_AGAIN) {
        FZ_CHECK(ta == len && ws_handshake_request(&a.hs) == NULL);
        FZ_CHECK(ws_handshake_status(&a.hs) == 0);
    } else {
        fz_check_failed(&b, rb);
    }
    fz_server_free(&a);
    fz_server_free(&b);
}

/* ---- hand-off --------------------------------------------------------------------------- */

static bool fz_is_ctl(uint8_t c)
{
    return c < 0x20 || c == 0x7F;
}

/* Whether the fields can be written as a request head that says the same thing. */
static bool fz_representable(const char *method, size_t ml, const char *target, size_t tl,
                             int minor, const ws_header *h, size_t count, size_t cap)
{
    size_t i, j, total = ml + tl + 12 + 2;

    if (minor > 9)
        return false;
    for (i = 0; i < ml; i++)
        if (method[i] == ' ' || fz_is_ctl((uint8_t)method[i]))
            return false;
    for (i = 0; i < tl; i++)
        if (target[i] == ' ' || fz_is_ctl((uint8_t)target[i]))
            return false;
    for (i = 0; i < count; i++) {
        /* A line that starts with whitespace is an obs-fold, not a header with that name. */
        if (h[i].name_len > 0 && (h[i].name[0] == ' ' || h[i].name[0] == '\t'))
            return false;
        for (j = 0; j < h[i].name_len; j++)
            if (h[i].name[j] == ':' || fz_is_ctl((uint8_t)h[i].name[j]))
                return false;
        for (j = 0; j < h[i].value_len; j++)
            if (fz_is_ctl((uint8_t)h[i].value[j]) && h[i].value[j] != '\t')
                return false;
        total += h[i].name_len + 2 + h[i].value_len + 2;
    }
    return total <= cap; /* the byte form must not hit the head limit sooner */
}

static void fz_handoff_mode(const fz_hs_cfg *cfg, const uint8_t *data, size_t len)
{
    ws_header fields[FZ_MAX_FIELDS];
    const char *field[FZ_MAX_FIELDS + 2];
    size_t flen[FZ_MAX_FIELDS + 2];
    size_t nf = 0, start = 1, i, count = 0;
    int minor, rc;
    char *copy;
    fz_server s;
    fz_buf sa = {NULL, 0, 0};
    bool repr;

    if (len == 0)
        return;
    minor = data[0] % 12;
    copy = (char *)fz_dup(data, len); /* freed before the request is read back */
    for (i = 1; i <= len && nf < FZ_MAX_FIELDS + 2; i++) {
        if (i == len || copy[i] == '\n') {
            field[nf] = copy + start;
            flen[nf] = i - start;
            nf++;
            start = i + 1;
        }
    }
    for (i = 2; i < nf; i++) {
        const char *colon = memchr(field[i], ':', flen[i]);
        size_t nl = colon ? (size_t)(colon - field[i]) : flen[i];
        fields[count].name = field[i];
        fields[count].name_len = nl;
        fields[count].value = colon ? colon + 1 : "";
        fields[count].value_len = colon ? flen[i] - nl - 1 : 0;
        count++;
    }
    if (nf < 2) {
        field[1] = "/";
        flen[1] = nf == 1 ? 1 : 0;
    }
    repr = fz_representable(field[0], flen[0], field[1], flen[1], minor, fields, count, cfg->cap);

    fz_server_init(&s, cfg);
    rc = ws_handshake_server_handoff(&s.hs, field[0], flen[0], field[1], flen[1], minor, fields,
                                     count);
    FZ_CHECK(rc == WS_OK || fz_server_error(rc));
    if (rc == WS_OK)
        fz_request_serialize(ws_handshake_request(&s.hs), &sa);

    /* The same request as bytes must be judged the same way. */
    if (repr) {
        fz_buf head = {NULL, 0, 0}, sb = {NULL, 0, 0};
        fz_server t;
        fz_split whole;
        size_t taken;
        int rb;
        char version[16];

        fz_buf_put(&head, field[0], flen[0]);
        snprintf(version, sizeof version, " HTTP/1.%d\r\n", minor);
        fz_buf_put(&head, " ", 1);
        fz_buf_put(&head, field[1], flen[1]);
        fz_buf_put(&head, version, strlen(version));
        for (i = 0; i < count; i++) {
            fz_buf_put(&head, fields[i].name, fields[i].name_len);
            fz_buf_put(&head, ": ", 2);
            fz_buf_put(&head, fields[i].value, fields[i].value_len);
            fz_buf_put(&head, "\r\n", 2);
        }
        fz_buf_put(&head, "\r\n", 2);
        fz_server_init(&t, cfg);
        fz_split_whole(&whole);
        rb = fz_feed_head(ws_handshake_server_feed, &t.hs, head.p, head.len, &whole, &taken);
        FZ_CHECK(rb == rc);
        if (rc == WS_OK) {
            fz_request_serialize(ws_handshake_request(&t.hs), &sb);
            FZ_CHECK(fz_buf_eq(&sa, &sb));
        }
        fz_buf_free(&sb);
        fz_buf_free(&head);
        fz_server_free(&t);
    }
    free(copy);

    if (rc == WS_OK) {
        fz_buf sc = {NULL, 0, 0};
        fz_request_serialize(ws_handshake_request(&s.hs), &sc); /* nothing points at copy */
        FZ_CHECK(fz_buf_eq(&sa, &sc));
        fz_buf_free(&sc);
        fz_check_valid(&s);
        FZ_CHECK(ws_handshake_server_handoff(&s.hs, "GET", 3, "/", 1, 1, NULL, 0) == WS_E_STATE);
    } else {
        fz_check_failed(&s, rc);
    }
    fz_buf_free(&sa);
    fz_server_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[4] = {8192, 64, 200, 1024};
    static const size_t lines[4] = {8192, 16, 60, 300};
    static const size_t maxh[4] = {64, 1, 6, 12};
    fz_hs_cfg cfg;
    fz_reader r;
    fz_split plan;
    const uint8_t *p;
    size_t len;
    uint8_t c0, c1;

    fz_reader_init(&r, data, size);
    c0 = fz_u8(&r);
    c1 = fz_u8(&r);
    ws_http_limits_init(&cfg.limits);
    cfg.limits.allow_bare_lf = (c0 & 2u) != 0;
    cfg.cap = caps[(c0 >> 2) & 3u];
    cfg.limits.max_header_line = lines[(c0 >> 4) & 3u];
    cfg.limits.max_request_line = lines[c1 & 3u];
    cfg.max_headers = maxh[(c0 >> 6) & 3u];
    fz_split_read(&plan, &r);
    len = fz_take(&r, r.n, &p);
    if (c0 & 1u)
        fz_handoff_mode(&cfg, p, len);
    else
        fz_feed_mode(&cfg, p, len, &plan);
    return 0;
}
