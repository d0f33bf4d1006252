/*
 * Token auth: any bytes given to ws_token_verify either fail or are exactly the token
 * ws_token_sign writes for the claims they carry (one encoding per token); signed tokens
 * verify, and refuse every one-byte change or truncation; ws_token_find honours its source
 * order and points into the request; the hook's verdict follows from find and verify, and
 * a ticket is good once. HMAC-SHA256 hashes long keys (RFC 2104).
 * Input: mode byte, expiry (8 bytes, big-endian), mutation position and xor (2 bytes), then
 * lines: token (also the subject to sign), query, then "name:value" headers.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define FZ_MAX_LINES 10
#define FZ_TICKETS   4

static const uint8_t fz_key[] = "fuzz-token-key";
#define FZ_KEY_LEN (sizeof fz_key - 1)

static const uint64_t fz_times[4] = {0, 1700000000u, 4102444800u, UINT64_MAX};

/* The host's side for the hook: a clock and a store that accepts each ticket once. */
typedef struct fz_host {
    uint64_t now;
    uint8_t *used[FZ_TICKETS];
    size_t used_len[FZ_TICKETS];
    size_t used_count;
    ws_token_claims *out; /* where allowed claims are kept */
} fz_host;

static uint64_t fz_time(void *ud)
{
    return ((fz_host *)ud)->now;
}

static bool fz_consume(void *ud, const char *ticket, size_t len)
{
    fz_host *h = ud;
    size_t i;

    for (i = 0; i < h->used_count; i++) {
        if (h->used_len[i] == len && memcmp(h->used[i], ticket, len) == 0)
            return false;
    }
    FZ_CHECK(h->used_count < FZ_TICKETS);
    h->used[h->used_count] = fz_dup((const uint8_t *)ticket, len);
    h->used_len[h->used_count++] = len;
    return true;
}

/* Subjects starting with 'x' are not allowed in. */
/* on_claims: subjects starting with 'x' are refused (WS_E_FORBIDDEN); the others are kept. */
static bool fz_claims(void *ud, ws_conn *c, const ws_token_claims *claims)
{
    fz_host *h = (fz_host *)ud;

    FZ_CHECK(c == NULL);
    if (claims->subject[0] == 'x')
        return false;
    *h->out = *claims;
    return true;
}

static void fz_host_free(fz_host *h)
{
    size_t i;
    for (i = 0; i < h->used_count; i++)
        free(h->used[i]);
}

/* Arbitrary bytes as a token: a success is the canonical token of its claims. */
static void fz_check_verify(const uint8_t *p, size_t len, uint64_t now)
{
    char *tok = (char *)fz_dup(p, len);
    ws_token_claims claims;
    int rc = ws_token_verify(fz_key, FZ_KEY_LEN, tok, len, now, &claims);
    int rc0 = ws_token_verify(fz_key, FZ_KEY_LEN, tok, len, 0, NULL);
    int rcmax = ws_token_verify(fz_key, FZ_KEY_LEN, tok, len, UINT64_MAX, NULL);

    FZ_CHECK(rc == WS_OK || rc == WS_E_AUTH_INVALID || rc == WS_E_AUTH_EXPIRED);
    if (rc == WS_E_AUTH_INVALID) {
        FZ_CHECK(rc0 == WS_E_AUTH_INVALID && rcmax == WS_E_AUTH_INVALID);
    } else {
        FZ_CHECK(rc0 == WS_OK || rc0 == WS_E_AUTH_EXPIRED);
        FZ_CHECK(rcmax == WS_E_AUTH_EXPIRED);
    }
    if (rc == WS_OK) {
        char again[WS_TOKEN_MAX + 1];
        size_t n = 0;
        FZ_CHECK(len <= WS_TOKEN_MAX && now < claims.expires);
        FZ_CHECK(claims.subject_len >= 1 && claims.subject_len <= WS_TOKEN_SUBJECT_MAX);
        FZ_CHECK(claims.subject[claims.subject_len] == '\0');
        FZ_CHECK(memchr(claims.subject, '\0', claims.subject_len) == NULL);
        FZ_CHECK(ws_token_sign(fz_key, FZ_KEY_LEN, claims.subject, claims.subject_len,
                               claims.expires, again, sizeof again, &n) == WS_OK);
        FZ_CHECK(n == len && memcmp(again, tok, len) == 0);
    }
    free(tok);
}

/* Signing: valid subjects give a token that verifies and that no change survives. */
static void fz_check_sign(const uint8_t *subject, size_t slen, uint64_t expires, uint8_t pos,
                          uint8_t flip)
{
    char out[WS_TOKEN_MAX + 1];
    char *copy;
    size_t n = 0;
    ws_token_claims claims;
    bool valid = slen >= 1 && slen <= WS_TOKEN_SUBJECT_MAX && memchr(subject, '\0', slen) == NULL;
    int rc = ws_token_sign(fz_key, FZ_KEY_LEN, (const char *)subject, slen, expires, out,
                           sizeof out, &n);

    FZ_CHECK(rc == (valid ? WS_OK : WS_E_INVALID));
    if (rc != WS_OK)
        return;
    FZ_CHECK(n <= WS_TOKEN_MAX && out[n] == '\0');
    rc = ws_token_verify(fz_key, FZ_KEY_LEN, out, n, 0, &claims);
    if (expires == 0) {
        FZ_CHECK(rc == WS_E_AUTH_EXPIRED);
    } else {
        FZ_CHECK(rc == WS_OK && claims.expires == expires && claims.subject_len == slen);
        FZ_CHECK(memcmp(claims.subject, subject, slen) == 0);
    }
    copy = (char *)fz_dup((const uint8_t *)out, n);
    copy[pos % n] = (char)((uint8_t)copy[pos % n] ^ (flip | 1u));
    FZ_CHECK(ws_token_verify(fz_key, FZ_KEY_LEN, copy, n, 0, NULL) == WS_E_AUTH_INVALID);
    free(copy);
    copy = (char *)fz_dup((const uint8_t *)out, pos % n);
    FZ_CHECK(ws_token_verify(fz_key, FZ_KEY_LEN, copy, pos % n, 0, NULL) == WS_E_AUTH_INVALID);
    free(copy);
}

static bool fz_points_into(const char *t, size_t n, const char *base, size_t len)
{
    return base != NULL && t >= base && t <= base + len && n <= (size_t)(base + len - t);
}

/* The first source asked for that has a token wins; the others before it have none. */
static void fz_check_find(const ws_request *r, unsigned sources)
{
    const char *tok = NULL, *t2 = NULL;
    size_t n = 0, n2 = 0, i;
    unsigned src = 0, s2 = 0, b;
    int rc = ws_token_find(r, sources, NULL, NULL, NULL, &tok, &n, &src);
    bool inside;

    if (rc != WS_OK) {
        FZ_CHECK(rc == WS_E_AUTH_MISSING);
        for (b = 1; b <= WS_TOKEN_SUBPROTOCOL; b <<= 1)
            if (sources & b)
                FZ_CHECK(ws_token_find(r, b, NULL, NULL, NULL, &t2, &n2, NULL) ==
                         WS_E_AUTH_MISSING);
        return;
    }
    FZ_CHECK(n > 0 && (src & sources) == src && (src & (src - 1)) == 0);
    inside = fz_points_into(tok, n, r->query, r->query_len);
    for (i = 0; i < r->header_count && !inside; i++)
        inside = fz_points_into(tok, n, r->headers[i].value, r->headers[i].value_len);
    FZ_CHECK(inside);
    for (b = 1; b < src; b <<= 1)
        if (sources & b)
            FZ_CHECK(ws_token_find(r, b, NULL, NULL, NULL, &t2, &n2, NULL) == WS_E_AUTH_MISSING);
    FZ_CHECK(ws_token_find(r, src, NULL, NULL, NULL, &t2, &n2, &s2) == WS_OK);
    FZ_CHECK(t2 == tok && n2 == n && s2 == src);
}

/* The hook's verdict, from what find and verify say; then the same request again. */
static void fz_check_hook(const ws_request *r, uint8_t mode, uint64_t now)
{
    ws_token_auth a;
    ws_token_claims out, claims;
    fz_host h;
    const char *tok;
    size_t n;
    int want, v1, v2;
    bool tickets = (mode & 0x40u) != 0, single_use = tickets || (mode & 0x80u) != 0;

    memset(&h, 0, sizeof h);
    h.now = now;
    ws_token_auth_init(&a);
    a.sources = mode & 15u;
    a.key = tickets ? NULL : fz_key;
    a.key_len = tickets ? 0 : FZ_KEY_LEN;
    a.unix_time = fz_time;
    a.consume_ticket = single_use ? fz_consume : NULL;
    a.on_claims = fz_claims;
    a.ud = &h;
    h.out = &out;

    if (ws_token_find(r, a.sources, NULL, NULL, NULL, &tok, &n, NULL) != WS_OK) {
        want = WS_E_AUTH_MISSING;
    } else if (tickets) {
        want = (n > WS_TOKEN_SUBJECT_MAX || memchr(tok, '\0', n) != NULL) ? WS_E_AUTH_INVALID
               : tok[0] == 'x'                                            ? WS_E_FORBIDDEN
                                                                          : WS_HOOK_ALLOW;
    } else if ((want = ws_token_verify(fz_key, FZ_KEY_LEN, tok, n, now, &claims)) != WS_OK) {
        FZ_CHECK(want == WS_E_AUTH_INVALID || want == WS_E_AUTH_EXPIRED);
    } else {
        want = claims.subject[0] == 'x' ? WS_E_FORBIDDEN : WS_HOOK_ALLOW;
    }
    v1 = ws_token_auth_hook(&a, NULL, r);
    FZ_CHECK(v1 == want);
    if (v1 == WS_HOOK_ALLOW) {
        FZ_CHECK(out.subject_len >= 1 && out.subject[out.subject_len] == '\0');
        if (tickets)
            FZ_CHECK(out.subject_len == n && memcmp(out.subject, tok, n) == 0);
        else
            FZ_CHECK(out.expires == claims.expires && out.subject_len == claims.subject_len);
    }
    v2 = ws_token_auth_hook(&a, NULL, r);
    /* A token that got as far as the store (allowed, or refused by on_claims) is used up. */
    if (single_use && (v1 == WS_HOOK_ALLOW || v1 == WS_E_FORBIDDEN))
        FZ_CHECK(v2 == WS_E_AUTH_INVALID); /* a replay */
    else
        FZ_CHECK(v2 == v1);
    fz_host_free(&h);
}

/* RFC 2104: a key longer than the block is hashed first. */
static void fz_check_hmac(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen)
{
    uint8_t a[WS_SHA256_SIZE], b[WS_SHA256_SIZE], hk[WS_SHA256_SIZE];

    ws_hmac_sha256(key, klen, msg, mlen, a);
    if (klen > 64) {
        ws_sha256(key, klen, hk);
        ws_hmac_sha256(hk, sizeof hk, msg, mlen, b);
        FZ_CHECK(memcmp(a, b, sizeof a) == 0);
    }
    {
        size_t n = klen < mlen ? klen : mlen;
        FZ_CHECK(ws_const_time_equal(key, msg, n) == (n == 0 || memcmp(key, msg, n) == 0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader rd;
    const uint8_t *rest, *line[FZ_MAX_LINES];
    size_t n, len[FZ_MAX_LINES], lines = 0, start = 0, i;
    ws_header headers[FZ_MAX_LINES];
    ws_request r;
    uint8_t mode, pos, flip, *copy;
    uint64_t expires = 0, now;

    fz_reader_init(&rd, data, size);
    mode = fz_u8(&rd);
    for (i = 0; i < 8; i++)
        expires = expires << 8 | fz_u8(&rd);
    pos = fz_u8(&rd);
    flip = fz_u8(&rd);
    now = fz_times[(mode >> 4) & 3u];
    n = fz_take(&rd, rd.n, &rest);
    copy = fz_dup(rest, n); /* the request points into an exact-size block */
    for (i = 0; i <= n && lines < FZ_MAX_LINES; i++) {
        if (i == n || copy[i] == '\n') {
            line[lines] = copy + start;
            len[lines++] = i - start;
            start = i + 1;
        }
    }

    fz_check_verify(line[0], len[0], now);
    fz_check_sign(line[0], len[0] < 140 ? len[0] : 140, expires, pos, flip);

    memset(&r, 0, sizeof r);
    if (lines > 1 && len[1] > 0) {
        r.query = (const char *)line[1];
        r.query_len = len[1];
    }
    for (i = 2; i < lines; i++) {
        const uint8_t *colon = memchr(line[i], ':', len[i]);
        size_t nl = colon != NULL ? (size_t)(colon - line[i]) : len[i];
        headers[i - 2].name = (const char *)line[i];
        headers[i - 2].name_len = nl;
        headers[i - 2].value = colon != NULL ? (const char *)colon + 1 : "";
        headers[i - 2].value_len = colon != NULL ? len[i] - nl - 1 : 0;
    }
    r.headers = headers;
    r.header_count = lines > 2 ? lines - 2 : 0;
    fz_check_find(&r, mode & 15u);
    fz_check_hook(&r, mode, now);
    fz_check_hmac(line[0], len[0], lines > 1 ? line[1] : line[0], lines > 1 ? len[1] : len[0]);

    free(copy);
    return 0;
}
