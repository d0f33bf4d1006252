/*
 * The client side of the opening handshake (RFC 6455 §4.1): writing the upgrade request for
 * a ws:// or wss:// URL and checking the server's answer with the scanner both roles share.
 * Redirects and other statuses are reported, never followed.
 */
#include "handshake.h"

static const char ws_protocol_header[] = "Sec-WebSocket-Protocol";

/* A one-entry header list over a remembered offer, so the list walkers can read it. */
static ws_header ws_hs_offer(const char *name, const char *value, size_t len)
{
    ws_header h;

    h.name = name;
    h.name_len = strlen(name);
    h.value = value != NULL ? value : ""; /* the walkers do pointer arithmetic on it */
    h.value_len = len;
    return h;
}

/* ---- the request ---------------------------------------------------------------------- */

/* Offered subprotocols: tokens (RFC 6455 §4.1 item 10), each offered once. */
static int ws_hs_check_protocols(const ws_client_opts *opts)
{
    size_t i, j;

    if (opts->subprotocol_count > 0 && opts->subprotocols == NULL)
        return WS_E_INVALID;
    for (i = 0; i < opts->subprotocol_count; i++) {
        const char *p = opts->subprotocols[i];
        if (p == NULL || !ws_http_is_token(p, strlen(p)))
            return WS_E_INVALID;
        for (j = 0; j < i; j++) {
            /* Both are tokens by now, so neither is NULL. */
            if (strlen(opts->subprotocols[j]) == strlen(p) &&
                memcmp(p, opts->subprotocols[j], strlen(p)) == 0)
                return WS_E_INVALID;
        }
    }
    return WS_OK;
}

/* The offered extensions must read back as a list, since the answer is checked against it. */
static int ws_hs_check_extensions(const char *ext)
{
    ws_header offer;
    ws_extension_iter it;
    ws_extension e;
    int rc;

    if (ext == NULL)
        return WS_OK;
    offer = ws_hs_offer(ws_extensions_header, ext, strlen(ext));
    if (!ws_http_is_field_text(offer.value, offer.value_len))
        return WS_E_INVALID;
    ws_extension_iter_init(&it, &offer, 1);
    while ((rc = ws_extension_iter_next(&it, &e)) == 1)
        ;
    return rc == 0 ? WS_OK : WS_E_INVALID;
}

static void ws_hs_put_protocols(ws_hs_out *o, const ws_client_opts *opts)
{
    size_t i;

    for (i = 0; i < opts->subprotocol_count; i++) {
        if (i > 0)
            ws_hs_put(o, ", ", 2);
        ws_hs_puts(o, opts->subprotocols[i]);
    }
}

/* "Host: name[:port]"; the port only when it is explicit and not the scheme's default. */
static void ws_hs_put_host(ws_hs_out *o, const ws_url *url)
{
    ws_hs_puts(o, "Host: ");
    if (url->host_is_ipv6)
        ws_hs_put(o, "[", 1);
    ws_hs_put(o, url->host, url->host_len);
    if (url->host_is_ipv6)
        ws_hs_put(o, "]", 1);
    if (url->port_explicit && url->port != (url->secure ? 443 : 80)) {
        ws_hs_put(o, ":", 1);
        ws_hs_put_uint(o, url->port);
    }
    ws_hs_put(o, "\r\n", 2);
}

static void ws_hs_put_request(ws_hs_out *o, const ws_url *url, const char *key,
                              const ws_client_opts *opts)
{
    ws_hs_puts(o, "GET ");
    ws_hs_put(o, url->path, url->path_len);
    if (url->query != NULL) {
        ws_hs_put(o, "?", 1);
        ws_hs_put(o, url->query, url->query_len);
    }
    ws_hs_puts(o, " HTTP/1.1\r\n");
    ws_hs_put_host(o, url);
    ws_hs_puts(o, "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n");
    ws_hs_put_header(o, "Sec-WebSocket-Key", key, WS_KEY_B64_LEN);
    ws_hs_puts(o, "Sec-WebSocket-Version: 13\r\n");
    if (opts->subprotocol_count > 0) {
        ws_hs_puts(o, ws_protocol_header);
        ws_hs_put(o, ": ", 2);
        ws_hs_put_protocols(o, opts);
        ws_hs_put(o, "\r\n", 2);
    }
    if (opts->extensions != NULL && opts->extensions[0] != '\0')
        ws_hs_put_header(o, ws_extensions_header, opts->extensions, strlen(opts->extensions));
    ws_hs_put_headers(o, opts->headers, opts->header_count);
    ws_hs_put(o, "\r\n", 2);
}

/* Copies what was offered to the start of the head buffer, where the answer is checked
 * against it; the caller's strings need not outlive the request. */
static int ws_hs_remember_offer(ws_handshake *hs, const ws_client_opts *opts)
{
    size_t ext_len = opts->extensions != NULL ? strlen(opts->extensions) : 0;
    ws_hs_out o;

    ws_hs_out_init(&o, hs->buf, hs->cap);
    ws_hs_put_protocols(&o, opts);
    hs->offered_protocols_len = o.len;
    ws_hs_put(&o, opts->extensions, ext_len);
    if (o.overflow)
        return WS_E_BUFFER;
    hs->offered_protocols = hs->offered_protocols_len > 0 ? (const char *)hs->buf : NULL;
    hs->offered_extensions_len = ext_len;
    hs->offered_extensions = ext_len > 0 ? (const char *)hs->buf + hs->offered_protocols_len : NULL;
    hs->reserved = o.len;
    return WS_OK;
}

void ws_handshake_client_init(ws_handshake *hs, const ws_http_limits *limits, uint8_t *buf,
                              size_t cap, ws_header *headers, size_t max_headers)
{
    ws_hs_init(hs, WS_ROLE_CLIENT, limits, buf, cap, headers, max_headers);
    hs->phase = WS_HS_IDLE;
}

int ws_handshake_client_request(ws_handshake *hs, const ws_client_opts *opts, ws_random_fn random,
                                void *random_ud, uint8_t *out, size_t cap, size_t *out_len)
{
    static const unsigned ours = WS_HN_BIT(WS_HN_HOST) | WS_HN_BIT(WS_HN_UPGRADE) |
                                 WS_HN_BIT(WS_HN_CONNECTION) | WS_HN_BIT(WS_HN_KEY) |
                                 WS_HN_BIT(WS_HN_VERSION) | WS_HN_BIT(WS_HN_PROTOCOL) |
                                 WS_HN_BIT(WS_HN_EXTENSIONS);
    uint8_t nonce[WS_KEY_NONCE_LEN];
    char key[WS_KEY_B64_LEN];
    ws_url url;
    ws_hs_out o;
    size_t len;
    int rc;

    if (opts == NULL || out_len == NULL)
        return WS_E_INVALID;
    if (hs->role != WS_ROLE_CLIENT || hs->phase != WS_HS_IDLE)
        return WS_E_STATE;
    if (opts->url == NULL || ws_url_parse(opts->url, strlen(opts->url), &url) != WS_OK)
        return WS_E_URL;
    rc = ws_hs_check_protocols(opts);
    if (rc == WS_OK)
        rc = ws_hs_check_extensions(opts->extensions);
    if (rc == WS_OK)
        rc = ws_hs_check_extra(opts->headers, opts->header_count, ours) < 0 ? WS_E_INVALID : WS_OK;
    if (rc != WS_OK)
        return rc;
    if (random == NULL || random(random_ud, nonce, sizeof nonce) != 0)
        return WS_E_RANDOM;
    (void)ws_base64_encode(key, nonce, sizeof nonce);

    ws_hs_out_init(&o, out, cap);
    ws_hs_put_request(&o, &url, key, opts);
    rc = ws_hs_out_done(&o, &len);
    if (rc == WS_OK)
        rc = ws_hs_remember_offer(hs, opts);
    if (rc != WS_OK)
        return rc; /* still idle: the caller may retry with more room */
    ws_accept_key(key, sizeof key, hs->accept);
    /* The response is parsed in the room after the remembered offer. */
    ws_http_parser_setup(&hs->http, ws_http_status_line, &hs->limits, hs->buf + hs->reserved,
                         hs->cap - hs->reserved, hs->headers, hs->max_headers);
    hs->phase = WS_HS_HEAD;
    *out_len = len;
    return WS_OK;
}

/* ---- the response --------------------------------------------------------------------- */

/* The status line, as the parser read it: HTTP/1.x only. */
static int ws_hs_client_first_line(ws_handshake *hs)
{
    const ws_http_head *h = &hs->http.head;
    ws_response *r = &hs->response;

    if (h->version_major != 1)
        return WS_E_HTTP_SYNTAX;
    r->status = h->status;
    r->version_minor = h->version_minor;
    r->reason = h->reason;
    r->reason_len = h->reason_len;
    return WS_E_AGAIN;
}

/* The chosen subprotocol: at most one header holding one of the offered tokens. */
static int ws_hs_check_chosen(ws_handshake *hs)
{
    ws_response *r = &hs->response;
    const ws_header *chosen;
    ws_header offer;
    ws_list_iter it;
    const char *item;
    size_t n, item_len;

    n = ws_hs_count(r->headers, r->header_count, ws_protocol_header, &chosen);
    if (n == 0)
        return WS_OK;
    if (n > 1 || !ws_http_is_token(chosen->value, chosen->value_len))
        return WS_E_HTTP_SUBPROTOCOL;
    offer = ws_hs_offer(ws_protocol_header, hs->offered_protocols, hs->offered_protocols_len);
    ws_list_iter_init(&it, &offer, 1, ws_protocol_header);
    while (ws_list_iter_next(&it, &item, &item_len)) {
        if (item_len == chosen->value_len && memcmp(item, chosen->value, item_len) == 0) {
            r->subprotocol = chosen->value;
            r->subprotocol_len = chosen->value_len;
            return WS_OK;
        }
    }
    return WS_E_HTTP_SUBPROTOCOL;
}

/* ws_response.extensions is one string: several Sec-WebSocket-Extensions headers are
 * joined with ", " in the room after the head. */
static int ws_hs_join_extensions(ws_handshake *hs)
{
    ws_response *r = &hs->response;
    const ws_header *h = r->headers;
    ws_hs_out o;
    size_t i, found = 0;

    ws_hs_out_init(&o, hs->http.buf + hs->http.len, hs->http.cap - hs->http.len);
    for (i = 0; i < r->header_count; i++) {
        if (h[i].value_len == 0 || !ws_ascii_ieq(h[i].name, h[i].name_len, ws_extensions_header))
            continue;
        if (found++ == 0) {
            r->extensions = h[i].value;
            r->extensions_len = h[i].value_len;
            continue;
        }
        if (found == 2)
            ws_hs_put(&o, r->extensions, r->extensions_len);
        ws_hs_put(&o, ", ", 2);
        ws_hs_put(&o, h[i].value, h[i].value_len);
    }
    if (found < 2)
        return WS_OK;
    if (o.overflow)
        return WS_E_HTTP_HEADERS_TOO_LARGE;
    r->extensions = (const char *)o.p;
    r->extensions_len = o.len;
    hs->http.len += o.len; /* the head buffer now ends after the joined copy */
    return WS_OK;
}

static int ws_hs_client_head_end(ws_handshake *hs)
{
    ws_response *r = &hs->response;
    const ws_header *accept;
    ws_header offer;
    int rc;

    r->headers = hs->http.head.headers;
    r->header_count = hs->http.head.header_count;
    if (r->status != 101)
        return WS_E_HTTP_STATUS;
    if (r->version_minor < 1)
        return WS_E_HTTP_VERSION; /* HTTP/1.0 has no Upgrade (RFC 6455 §4.1, RFC 9110 §7.8) */
    if (!ws_hs_list_has(r->headers, r->header_count, "Upgrade", "websocket"))
        return WS_E_HTTP_UPGRADE;
    if (!ws_hs_list_has(r->headers, r->header_count, "Connection", "upgrade"))
        return WS_E_HTTP_CONNECTION;
    if (ws_hs_count(r->headers, r->header_count, "Sec-WebSocket-Accept", &accept) != 1 ||
        accept->value_len != WS_ACCEPT_KEY_SIZE ||
        memcmp(accept->value, hs->accept, WS_ACCEPT_KEY_SIZE) != 0)
        return WS_E_HTTP_ACCEPT;
    rc = ws_hs_check_chosen(hs);
    if (rc != WS_OK)
        return rc;
    offer = ws_hs_offer(ws_extensions_header, hs->offered_extensions, hs->offered_extensions_len);
    rc = ws_hs_extensions_offered(r->headers, r->header_count, &offer, 1);
    if (rc != WS_OK)
        return rc;
    return ws_hs_join_extensions(hs);
}

int ws_handshake_client_feed(ws_handshake *hs, const uint8_t *p, size_t len, size_t *consumed)
{
    if (hs->role != WS_ROLE_CLIENT || hs->phase == WS_HS_IDLE) {
        if (consumed != NULL)
            *consumed = 0;
        return WS_E_STATE;
    }
    return ws_hs_scan(hs, p, len, consumed, ws_hs_client_first_line, ws_hs_client_head_end);
}

const ws_response *ws_handshake_response(const ws_handshake *hs)
{
    if (hs->role != WS_ROLE_CLIENT || !hs->head_complete)
        return NULL;
    return &hs->response;
}
