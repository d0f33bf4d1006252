/*
 * What both roles of the opening handshake share: running the HTTP head parser with a role's
 * checks at the end of the first line and of the head, the header lookups the checks use,
 * and a bounded writer for the requests and answers. Role code calls in here, never the
 * other way round.
 */
#include "handshake.h"

void ws_hs_init(ws_handshake *hs, ws_role role, const ws_http_limits *limits, uint8_t *buf,
                size_t cap, ws_header *headers, size_t max_headers)
{
    memset(hs, 0, sizeof *hs);
    if (limits != NULL)
        hs->limits = *limits;
    else
        ws_http_limits_init(&hs->limits);
    hs->role = (uint8_t)role;
    hs->phase = WS_HS_HEAD;
    ws_http_parser_setup(&hs->http,
                         WS_ROLE_IS_CLIENT(role) ? ws_http_status_line : ws_http_request_line,
                         &hs->limits, buf, cap, headers, max_headers);
    /* As the parser took them: no room without a buffer. */
    hs->buf = hs->http.buf;
    hs->cap = hs->http.cap;
    hs->headers = hs->http.headers;
    hs->max_headers = hs->http.max_headers;
}

int ws_hs_scan(ws_handshake *hs, const uint8_t *p, size_t len, size_t *consumed,
               int (*first_line)(ws_handshake *hs), int (*head_end)(ws_handshake *hs))
{
    size_t used = 0, n = 0;
    int rc;

    if (consumed != NULL)
        *consumed = 0;
    if (hs->phase == WS_HS_FAILED)
        return hs->error;
    if (hs->phase != WS_HS_HEAD)
        return WS_E_STATE;
    if (p == NULL && len > 0)
        return WS_E_INVALID;
    for (;;) {
        rc = ws_http_parser_feed(&hs->http, p + used, len - used, &n);
        used += n;
        if (rc == WS_HTTP_FIRST_LINE) {
            rc = first_line(hs);
            if (rc == WS_E_AGAIN)
                continue;
        } else if (rc == WS_OK) {
            hs->head_complete = true;
            rc = head_end(hs);
            if (rc == WS_OK)
                hs->phase = WS_HS_DONE;
        } else {
            break; /* more input needed, or the parser's own error (counted by it) */
        }
        /* A role's check fails on the LF that ended the line it looked at. */
        if (rc != WS_OK)
            used--;
        break;
    }
    if (consumed != NULL)
        *consumed = used;
    return ws_hs_settle(hs, rc);
}

int ws_hs_settle(ws_handshake *hs, int rc)
{
    if (rc < 0 && rc != WS_E_AGAIN && hs->phase != WS_HS_FAILED) {
        hs->phase = WS_HS_FAILED;
        hs->error = rc;
        hs->status = WS_ROLE_IS_SERVER(hs->role) ? ws_error_http_status(rc) : 0;
    }
    return rc;
}

#ifndef WS_SMALL
/* Whether s[0..n) is lower[0..n), which is in lower case, ignoring ASCII case: half the
 * work of ws_ascii_ieq_n per byte, on the path every header of a request takes. */
static bool ws_hs_is_lower(const char *s, const char *lower, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (ws_ascii_lower((unsigned char)s[i]) != (unsigned char)lower[i])
            return false;
    }
    return true;
}
#else
/* WS_SMALL (docs/size.md): the library's one comparison, which lower-cases both sides. */
#define ws_hs_is_lower(s, lower, n) ws_ascii_ieq_n(s, lower, n)
#endif

enum ws_hs_name ws_hs_header_kind(const char *name, size_t len)
{
    /* The names in lower case, one after the other in the order of enum ws_hs_name, from
     * WS_HN_KEY on without their common "sec-websocket-"; at[k] is where name k starts, and
     * by_len[n] is 1 + the kind of the name n bytes long (0: none; of the two 17 bytes long,
     * Transfer-Encoding), so that a name is compared once. */
    static const char names[] = "host"
                                "origin"
                                "upgrade"
                                "connection"
                                "content-type"
                                "content-length"
                                "transfer-encoding"
                                "key"
                                "accept"
                                "version"
                                "protocol"
                                "extensions";
    static const uint8_t at[WS_HN_COUNT] = {0, 4, 10, 17, 27, 39, 53, 70, 73, 79, 86, 94};
    static const uint8_t by_len[25] = {
        [4] = 1 + WS_HN_HOST,
        [6] = 1 + WS_HN_ORIGIN,
        [7] = 1 + WS_HN_UPGRADE,
        [10] = 1 + WS_HN_CONNECTION,
        [12] = 1 + WS_HN_CONTENT_TYPE,
        [14] = 1 + WS_HN_CONTENT_LENGTH,
        [17] = 1 + WS_HN_TRANSFER_ENCODING,
        [20] = 1 + WS_HN_ACCEPT,
        [21] = 1 + WS_HN_VERSION,
        [22] = 1 + WS_HN_PROTOCOL,
        [24] = 1 + WS_HN_EXTENSIONS,
    };
    static const char sec[] = "sec-websocket-";
    size_t skip;
    unsigned k;

    if (len >= sizeof by_len || by_len[len] == 0)
        return WS_HN_COUNT;
    k = by_len[len] - 1u;
    if (k == WS_HN_TRANSFER_ENCODING && (name[0] | 0x20) == 's')
        k = WS_HN_KEY;
    skip = k >= WS_HN_KEY ? sizeof sec - 1 : 0;
    if (!ws_hs_is_lower(name, sec, skip) || !ws_hs_is_lower(name + skip, names + at[k], len - skip))
        return WS_HN_COUNT;
    return (enum ws_hs_name)k;
}

size_t ws_hs_count(const ws_header *h, size_t n, const char *name, const ws_header **first)
{
    size_t i, count = 0;

    *first = NULL;
    for (i = 0; i < n; i++) {
        if (ws_ascii_ieq(h[i].name, h[i].name_len, name)) {
            if (count++ == 0)
                *first = &h[i];
        }
    }
    return count;
}

bool ws_hs_list_has(const ws_header *h, size_t n, const char *name, const char *token)
{
    ws_list_iter it;
    const char *item;
    size_t item_len;

    ws_list_iter_init(&it, h, n, name);
    while (ws_list_iter_next(&it, &item, &item_len)) {
        if (ws_ascii_ieq(item, item_len, token))
            return true;
    }
    return false;
}

/* True when the extension list in offer[0..m) names an extension name[0..len). */
static bool ws_hs_extension_named(const ws_header *offer, size_t m, const char *name, size_t len)
{
    ws_extension_iter it;
    ws_extension ext;

    ws_extension_iter_init(&it, offer, m);
    while (ws_extension_iter_next(&it, &ext) == 1) {
        if (ext.name_len == len && memcmp(ext.name, name, len) == 0)
            return true;
    }
    return false;
}

int ws_hs_extensions_offered(const ws_header *answer, size_t n, const ws_header *offer, size_t m)
{
    ws_extension_iter it;
    ws_extension ext;
    int rc;

    ws_extension_iter_init(&it, answer, n);
    while ((rc = ws_extension_iter_next(&it, &ext)) == 1) {
        if (!ws_hs_extension_named(offer, m, ext.name, ext.name_len))
            return WS_E_HTTP_EXTENSION;
    }
    return rc == 0 ? WS_OK : WS_E_HTTP_EXTENSION;
}

int ws_hs_check_extra(const ws_header *h, size_t n, unsigned reserved)
{
    unsigned seen = 0;
    size_t i;

    if (n > 0 && h == NULL)
        return WS_E_INVALID;
    for (i = 0; i < n; i++) {
        if (h[i].name == NULL || !ws_http_is_token(h[i].name, h[i].name_len))
            return WS_E_INVALID;
        if (h[i].value_len > 0 &&
            (h[i].value == NULL || !ws_http_is_field_text(h[i].value, h[i].value_len)))
            return WS_E_INVALID;
        seen |= WS_HN_BIT(ws_hs_header_kind(h[i].name, h[i].name_len));
    }
    return (seen & reserved) != 0 ? WS_E_INVALID : (int)seen;
}

/* ---- the writer ----------------------------------------------------------------------- */

void ws_hs_out_init(ws_hs_out *o, uint8_t *p, size_t cap)
{
    o->p = p;
    o->cap = p != NULL ? cap : 0;
    o->len = 0;
    o->overflow = false;
}

void ws_hs_put(ws_hs_out *o, const char *s, size_t n)
{
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

void ws_hs_puts(ws_hs_out *o, const char *s)
{
    ws_hs_put(o, s, strlen(s));
}

void ws_hs_put_uint(ws_hs_out *o, size_t v)
{
    char digits[3 * sizeof(size_t)];
    size_t n = sizeof digits;

    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    ws_hs_put(o, digits + n, sizeof digits - n);
}

/* "name: value" and its line end. */
static void ws_hs_put_field(ws_hs_out *o, const char *name, size_t name_len, const char *value,
                            size_t value_len)
{
    ws_hs_put(o, name, name_len);
    ws_hs_put(o, ": ", 2);
    ws_hs_put(o, value, value_len);
    ws_hs_put(o, "\r\n", 2);
}

void ws_hs_put_header(ws_hs_out *o, const char *name, const char *value, size_t value_len)
{
    ws_hs_put_field(o, name, strlen(name), value, value_len);
}

void ws_hs_put_headers(ws_hs_out *o, const ws_header *h, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        ws_hs_put_field(o, h[i].name, h[i].name_len, h[i].value, h[i].value_len);
}

int ws_hs_out_done(const ws_hs_out *o, size_t *out_len)
{
    if (o->overflow)
        return WS_E_BUFFER;
    *out_len = o->len;
    return WS_OK;
}
