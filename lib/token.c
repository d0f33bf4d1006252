/*
 * Token auth for the upgrade request: finding a token (Authorization: Bearer, a cookie, a
 * query parameter, a Sec-WebSocket-Protocol entry), HMAC-SHA256 signed tokens with a
 * subject and an expiry, single-use tickets through the host, and the ready-made hook.
 */
#include "ws_internal.h"

#define WS_TOKEN_MAC_B64_LEN 43 /* base64url of 32 bytes, no padding */
#define WS_U64_DIGITS_MAX    20

static const char ws_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- base64url (RFC 4648 §5), no padding ------------------------------------------------ */

static size_t ws_b64url_len(size_t n)
{
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

static size_t ws_b64url_encode(char *out, const uint8_t *in, size_t len)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = ws_b64url_alphabet[(acc >> bits) & 63u];
        }
        acc &= (1u << bits) - 1u;
    }
    if (bits > 0)
        out[o++] = ws_b64url_alphabet[(acc << (6u - bits)) & 63u];
    return o;
}

/* The 6-bit value of a base64url character, or -1 ('=', '+' and '/' included). */
static int ws_b64url_value(char ch)
{
    return ws_base64_digit(ch, '-', '_');
}

/* Strict decoding into out (cap bytes), without padding: ws_base64_decode_with. */
static bool ws_b64url_decode(uint8_t *out, size_t cap, const char *in, size_t len, size_t *out_len)
{
    int n = ws_base64_decode_with(out, cap, in, len, '-', '_', false);

    if (n < 0)
        return false;
    *out_len = (size_t)n;
    return true;
}

/* ---- decimal expiry ----------------------------------------------------------------------- */

static size_t ws_u64_format(char out[WS_U64_DIGITS_MAX], uint64_t v)
{
    char tmp[WS_U64_DIGITS_MAX];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v > 0);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Canonical decimal only: digits, no sign, no leading zero (but "0"), no overflow. */
static bool ws_u64_parse(const char *p, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > WS_U64_DIGITS_MAX || (len > 1 && p[0] == '0'))
        return false;
    for (i = 0; i < len; i++) {
        uint64_t d;
        if (p[i] < '0' || p[i] > '9')
            return false;
        d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return false;
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

/* ---- signed tokens ------------------------------------------------------------------------ */

int ws_token_sign(const uint8_t *key, size_t key_len, const char *subject, size_t subject_len,
                  uint64_t expires, char *out, size_t cap, size_t *out_len)
{
    char digits[WS_U64_DIGITS_MAX];
    uint8_t mac[WS_SHA256_SIZE];
    size_t nd, payload_len, total, o;

    if (key == NULL || key_len == 0 || subject == NULL || subject_len == 0 ||
        subject_len > WS_TOKEN_SUBJECT_MAX || memchr(subject, '\0', subject_len) != NULL ||
        out_len == NULL)
        return WS_E_INVALID;
    nd = ws_u64_format(digits, expires);
    payload_len = ws_b64url_len(subject_len) + 1 + nd;
    total = payload_len + 1 + WS_TOKEN_MAC_B64_LEN;
    if (out == NULL || cap <= total)
        return WS_E_BUFFER;

    o = ws_b64url_encode(out, (const uint8_t *)subject, subject_len);
    out[o++] = '.';
    memcpy(out + o, digits, nd);
    o += nd;
    ws_hmac_sha256(key, key_len, out, payload_len, mac);
    out[o++] = '.';
    o += ws_b64url_encode(out + o, mac, sizeof mac);
    out[o] = '\0';
    *out_len = o;
    return WS_OK;
}

int ws_token_verify(const uint8_t *key, size_t key_len, const char *token, size_t len, uint64_t now,
                    ws_token_claims *claims)
{
    uint8_t subject[WS_TOKEN_SUBJECT_MAX], sig[WS_SHA256_SIZE], mac[WS_SHA256_SIZE];
    const char *dot1, *dot2, *end;
    size_t subject_len, sig_len;
    uint64_t expires;

    if (key == NULL || key_len == 0 || (token == NULL && len > 0))
        return WS_E_INVALID;
    if (len == 0 || len > WS_TOKEN_MAX)
        return WS_E_AUTH_INVALID;
    end = token + len;
    dot1 = ws_find_byte(token, end, '.');
    dot2 = dot1 < end ? ws_find_byte(dot1 + 1, end, '.') : end;
    if (dot2 == end || ws_find_byte(dot2 + 1, end, '.') != end)
        return WS_E_AUTH_INVALID; /* exactly two dots */
    if (!ws_b64url_decode(subject, sizeof subject, token, (size_t)(dot1 - token), &subject_len) ||
        subject_len == 0 || memchr(subject, '\0', subject_len) != NULL)
        return WS_E_AUTH_INVALID;
    if (!ws_u64_parse(dot1 + 1, (size_t)(dot2 - dot1 - 1), &expires))
        return WS_E_AUTH_INVALID;
    if (!ws_b64url_decode(sig, sizeof sig, dot2 + 1, (size_t)(end - dot2 - 1), &sig_len) ||
        sig_len != sizeof sig)
        return WS_E_AUTH_INVALID;

    ws_hmac_sha256(key, key_len, token, (size_t)(dot2 - token), mac);
    if (!ws_const_time_equal(mac, sig, sizeof mac))
        return WS_E_AUTH_INVALID;
    if (now >= expires)
        return WS_E_AUTH_EXPIRED;

    if (claims != NULL) {
        memcpy(claims->subject, subject, subject_len);
        claims->subject[subject_len] = '\0';
        claims->subject_len = subject_len;
        claims->expires = expires;
    }
    return WS_OK;
}

/* ---- finding the token -------------------------------------------------------------------- */

/* token68 of RFC 9110 §11.2: the credentials form of a Bearer token. */
static bool ws_is_token68(const char *p, size_t len)
{
    size_t i = 0;

    while (i < len &&
           (ws_b64url_value(p[i]) >= 0 || p[i] == '.' || p[i] == '~' || p[i] == '+' || p[i] == '/'))
        i++;
    if (i == 0)
        return false;
    while (i < len && p[i] == '=')
        i++;
    return i == len;
}

/* "Bearer" (any case), one or more SP, token68: from the first Authorization header only,
 * as the header may not be repeated. */
static bool ws_token_from_bearer(const ws_request *r, const char **token, size_t *len)
{
    const ws_header *h = ws_header_find(r->headers, r->header_count, "Authorization");
    size_t i = 6;

    if (h == NULL || h->value_len <= i || !ws_ascii_ieq(h->value, i, "Bearer") ||
        h->value[i] != ' ')
        return false;
    while (i < h->value_len && h->value[i] == ' ')
        i++;
    if (!ws_is_token68(h->value + i, h->value_len - i))
        return false;
    *token = h->value + i;
    *len = h->value_len - i;
    return true;
}

/* The first offered subprotocol that starts with prefix and has something after it. */
static bool ws_token_from_subprotocol(const ws_request *r, const char *prefix, const char **token,
                                      size_t *len)
{
    size_t prefix_len = strlen(prefix), item_len;
    const char *item;
    ws_list_iter it;

    ws_list_iter_init(&it, r->headers, r->header_count, "Sec-WebSocket-Protocol");
    while (ws_list_iter_next(&it, &item, &item_len)) {
        if (item_len > prefix_len && memcmp(item, prefix, prefix_len) == 0) {
            *token = item + prefix_len;
            *len = item_len - prefix_len;
            return true;
        }
    }
    return false;
}

int ws_token_find(const ws_request *r, unsigned sources, const char *cookie_name,
                  const char *query_name, const char *subprotocol_prefix, const char **token,
                  size_t *token_len, unsigned *source)
{
    const char *t = NULL;
    size_t n = 0;
    unsigned found = 0;

    if (r == NULL || token == NULL || token_len == NULL)
        return WS_E_INVALID;
    if ((sources & WS_TOKEN_BEARER) != 0 && ws_token_from_bearer(r, &t, &n))
        found = WS_TOKEN_BEARER;
    else if ((sources & WS_TOKEN_COOKIE) != 0 &&
             ws_request_cookie(r, cookie_name != NULL ? cookie_name : "token", &t, &n) && n > 0)
        found = WS_TOKEN_COOKIE;
    else if ((sources & WS_TOKEN_QUERY) != 0 &&
             ws_request_query_param(r, query_name != NULL ? query_name : "token", &t, &n) && n > 0)
        found = WS_TOKEN_QUERY;
    else if ((sources & WS_TOKEN_SUBPROTOCOL) != 0 &&
             ws_token_from_subprotocol(
                 r, subprotocol_prefix != NULL ? subprotocol_prefix : "token.", &t, &n))
        found = WS_TOKEN_SUBPROTOCOL;
    if (found == 0)
        return WS_E_AUTH_MISSING;
    *token = t;
    *token_len = n;
    if (source != NULL)
        *source = found;
    return WS_OK;
}

/* ---- the ready-made hook ------------------------------------------------------------------ */

void ws_token_auth_init(ws_token_auth *a)
{
    memset(a, 0, sizeof *a);
    a->sources = WS_TOKEN_BEARER | WS_TOKEN_COOKIE;
    a->cookie_name = "token";
    a->query_name = "token";
    a->subprotocol_prefix = "token.";
}

/* A ticket's claims: the ticket itself as subject, no expiry (the host's store has it). */
static bool ws_ticket_claims(const char *ticket, size_t len, ws_token_claims *claims)
{
    if (len > WS_TOKEN_SUBJECT_MAX || memchr(ticket, '\0', len) != NULL)
        return false;
    memcpy(claims->subject, ticket, len);
    claims->subject[len] = '\0';
    claims->subject_len = len;
    claims->expires = 0;
    return true;
}

int ws_token_auth_hook(void *auth, ws_conn *c, const ws_request *r)
{
    const ws_token_auth *a = (const ws_token_auth *)auth;
    ws_token_claims claims;
    const char *tok;
    size_t len;
    int rc;

    if (a == NULL || r == NULL)
        return 500;
    /* A key needs a clock; without a key, tickets need the host's store. */
    if (a->key != NULL ? (a->key_len == 0 || a->unix_time == NULL) : a->consume_ticket == NULL)
        return 500;
    if (ws_token_find(r, a->sources, a->cookie_name, a->query_name, a->subprotocol_prefix, &tok,
                      &len, NULL) != WS_OK)
        return WS_E_AUTH_MISSING;
    if (a->key != NULL) {
        rc = ws_token_verify(a->key, a->key_len, tok, len, a->unix_time(a->ud), &claims);
        if (rc != WS_OK)
            return rc == WS_E_AUTH_EXPIRED ? WS_E_AUTH_EXPIRED : WS_E_AUTH_INVALID;
    } else if (!ws_ticket_claims(tok, len, &claims)) {
        return WS_E_AUTH_INVALID;
    }
    /* Consumed only once it is known to be well formed and, when signed, genuine. */
    if (a->consume_ticket != NULL && !a->consume_ticket(a->ud, tok, len))
        return WS_E_AUTH_INVALID;
    /* The host keeps what it needs per connection: nothing here is shared between them. */
    if (a->on_claims != NULL && !a->on_claims(a->ud, c, &claims))
        return WS_E_FORBIDDEN;
    return WS_HOOK_ALLOW;
}
