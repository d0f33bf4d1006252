/*
 * The server side of the opening handshake (RFC 6455 §4.2): reading and validating the
 * upgrade request, from bytes or from a host's own HTTP parser through the same checks, and
 * writing the 101 answer, a rejection or the error response a failed request calls for.
 */
#include "handshake.h"

static bool ws_hs_value_is(const ws_header *h, const char *value)
{
    size_t len = strlen(value);
    return h->value_len == len && memcmp(h->value, value, len) == 0;
}

/* ---- the request line ----------------------------------------------------------------- */

/* The authority of an absolute-form target ("http://host:port/path?q"), which RFC 9112
 * §3.2.2 makes the request's host in place of the Host header; it ends where the path or
 * the query starts. False when t is not one, or its authority is not host[:port] (user
 * info included). */
static bool ws_hs_absolute_authority(const char *t, size_t len, const char **auth,
                                     const char **auth_end)
{
    const char *end = t + len, *colon = ws_find_byte(t, end, ':'), *p;
    ws_hostport hp;
    size_t n = (size_t)(colon - t);

    /* http and https are "https" cut to 4 or 5 bytes; ws and wss "wss" to 2 or 3 (a target
     * without a colon is none of them). */
    if (!((n | 1) == 5 && ws_ascii_ieq_n(t, "https", n)) &&
        !((n | 1) == 3 && ws_ascii_ieq_n(t, "wss", n)))
        return false;
    if (end - colon < 4 || colon[1] != '/' || colon[2] != '/')
        return false;
    for (p = colon + 3; p < end && *p != '/' && *p != '?'; p++)
        ;
    *auth = colon + 3;
    *auth_end = p;
    return ws_hostport_parse(colon + 3, p, &hp);
}

/* Checks the request-target and splits it into path and query; an absolute-form target's
 * authority is the request's host from here on. Printable ASCII only: a browser
 * percent-encodes everything else, and '#' never reaches the server. */
static int ws_hs_target(ws_request *r, const char *t, size_t len)
{
    const char *end = t + len, *path = t, *q, *auth;
    size_t i;

    if (len == 0)
        return WS_E_HTTP_SYNTAX;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7F || c == '#')
            return WS_E_HTTP_SYNTAX;
    }
    if (t[0] != '/') {
        if (!ws_hs_absolute_authority(t, len, &auth, &path))
            return WS_E_HTTP_SYNTAX; /* "*" and authority-form have no place here */
        r->host = auth;
        r->host_len = (size_t)(path - auth);
    }
    q = ws_find_byte(path, end, '?'); /* end when there is no query */
    r->target = t;
    r->target_len = len;
    r->path = q != path ? path : "/"; /* "http://host" or "http://host?x": "/" */
    r->path_len = q != path ? (size_t)(q - path) : 1;
    r->query = q != end ? q + 1 : NULL;
    r->query_len = q != end ? (size_t)(end - (q + 1)) : 0;
    return WS_E_AGAIN;
}

/* The request line, as the parser read it: a target this server can serve, HTTP/1.1 or
 * later, and GET. */
static int ws_hs_server_first_line(ws_handshake *hs)
{
    const ws_http_head *h = &hs->http.head;
    ws_request *r = &hs->request;
    int rc;

    rc = ws_hs_target(r, h->target, h->target_len);
    if (rc != WS_E_AGAIN)
        return rc;
    if (h->version_major < 1 || (h->version_major == 1 && h->version_minor < 1))
        return WS_E_HTTP_VERSION;
    if (h->version_major != 1)
        return WS_E_HTTP_VERSION_UNSUPPORTED;
    if (h->method_len != 3 || memcmp(h->method, "GET", 3) != 0)
        return WS_E_HTTP_METHOD; /* methods are case-sensitive: "get" is not GET */
    r->method = h->method;
    r->method_len = h->method_len;
    r->version_minor = h->version_minor;
    return WS_E_AGAIN;
}

/* ---- the end of the head -------------------------------------------------------------- */

/* Sec-WebSocket-Key: once, and the base64 of exactly 16 bytes: 22 digits and "==", the
 * last digit's low 4 bits (past the 128 bits) zero, so that the encoding is the only one. */
static bool ws_hs_key_valid(const ws_header *key)
{
    const char *v = key->value;
    int d = -1;
    size_t i;

    if (key->value_len != WS_KEY_B64_LEN || v[22] != '=' || v[23] != '=')
        return false;
    for (i = 0; i < 22; i++) {
        if ((d = ws_base64_digit(v[i], '+', '/')) < 0)
            return false;
    }
    return (d & 15) == 0;
}

/* What one pass over the headers found, so that no check walks them again: the first
 * header of each kind, and bit k of many when there is more than one of kind k. */
typedef struct ws_hs_survey {
    const ws_header *first[WS_HN_COUNT];
    unsigned many;
    bool websocket; /* an Upgrade list holds "websocket" */
    bool upgrade;   /* a Connection list holds "upgrade" */
} ws_hs_survey;

/* Whether the list in h's value holds lower (lower-case, len bytes); a value that is that
 * token alone, as browsers send it, takes one comparison. */
static bool ws_hs_list_holds(const ws_header *h, const char *lower, size_t len)
{
    if (h->value_len == len && ws_ascii_ieq_n(h->value, lower, len))
        return true;
    return ws_http_list_has(h->value, h->value_len, lower);
}

static void ws_hs_survey_headers(const ws_header *h, size_t n, ws_hs_survey *s)
{
    size_t i;

    memset(s, 0, sizeof *s);
    for (i = 0; i < n; i++) {
        enum ws_hs_name k = ws_hs_header_kind(h[i].name, h[i].name_len);
        if (k == WS_HN_COUNT)
            continue;
        if (s->first[k] != NULL)
            s->many |= 1u << k;
        else
            s->first[k] = &h[i];
        if (k == WS_HN_UPGRADE && !s->websocket)
            s->websocket = ws_hs_list_holds(&h[i], "websocket", 9);
        else if (k == WS_HN_CONNECTION && !s->upgrade)
            s->upgrade = ws_hs_list_holds(&h[i], "upgrade", 7);
    }
}

/* The one header of its kind, or NULL when there is none or more than one. */
static const ws_header *ws_hs_single(const ws_hs_survey *s, enum ws_hs_name k)
{
    return (s->many >> k & 1u) != 0 ? NULL : s->first[k];
}

/* The one header of its kind with exactly this value. */
static bool ws_hs_single_is(const ws_hs_survey *s, enum ws_hs_name k, const char *value)
{
    const ws_header *h = ws_hs_single(s, k);
    return h != NULL && ws_hs_value_is(h, value);
}

/* A body on an upgrade request would be read as frames here and as a body by anything in
 * front of us (request smuggling), so none is allowed. */
static bool ws_hs_announces_body(const ws_hs_survey *s)
{
    return s->first[WS_HN_TRANSFER_ENCODING] != NULL ||
           (s->first[WS_HN_CONTENT_LENGTH] != NULL &&
            !ws_hs_single_is(s, WS_HN_CONTENT_LENGTH, "0"));
}

static int ws_hs_server_head_end(ws_handshake *hs)
{
    ws_request *r = &hs->request;
    const ws_header *host, *origin, *key;
    ws_hostport hp;
    ws_hs_survey s;

    ws_hs_survey_headers(hs->http.head.headers, hs->http.head.header_count, &s);
    host = ws_hs_single(&s, WS_HN_HOST);
    /* Exactly one Host, and a valid one, even where an absolute-form target overrides it. */
    if (host == NULL || !ws_hostport_parse(host->value, host->value + host->value_len, &hp))
        return WS_E_HTTP_HOST;
    /* From here on the head is a well-formed HTTP request: keep it readable even when it is
     * not an upgrade, so a host can serve plain requests (ws_hs_plain_request). */
    origin = s.first[WS_HN_ORIGIN];
    r->headers = hs->http.head.headers;
    r->header_count = hs->http.head.header_count;
    if (r->host == NULL) { /* no absolute-form target (ws_hs_target) */
        r->host = host->value;
        r->host_len = host->value_len;
    }
    r->origin = origin != NULL ? origin->value : NULL;
    r->origin_len = origin != NULL ? origin->value_len : 0;
    if (!s.websocket)
        return WS_E_HTTP_UPGRADE;
    if (!s.upgrade)
        return WS_E_HTTP_CONNECTION;
    /* The version before the key: an older client may use other key headers, and 426 with
     * our version tells it what to retry with. */
    if (!ws_hs_single_is(&s, WS_HN_VERSION, "13"))
        return WS_E_HTTP_WS_VERSION;
    key = ws_hs_single(&s, WS_HN_KEY);
    if (key == NULL || !ws_hs_key_valid(key))
        return WS_E_HTTP_KEY;
    if (ws_hs_announces_body(&s))
        return WS_E_HTTP_SYNTAX;
    r->key = key->value;
    r->key_len = key->value_len;
    return WS_OK;
}

/* ---- entry points --------------------------------------------------------------------- */

void ws_handshake_server_init(ws_handshake *hs, const ws_http_limits *limits, uint8_t *buf,
                              size_t cap, ws_header *headers, size_t max_headers)
{
    ws_hs_init(hs, WS_ROLE_SERVER, limits, buf, cap, headers, max_headers);
}

int ws_handshake_server_feed(ws_handshake *hs, const uint8_t *p, size_t len, size_t *consumed)
{
    if (hs->role != WS_ROLE_SERVER) {
        if (consumed != NULL)
            *consumed = 0;
        return WS_E_STATE;
    }
    return ws_hs_scan(hs, p, len, consumed, ws_hs_server_first_line, ws_hs_server_head_end);
}

/* True when none of s[0..n) is NUL or one of the bytes in `breaks`: what would change
 * where the serialized request's lines or elements end, and so let a host's parser smuggle a
 * line in. Any other byte goes to the scanner, which judges it as if it had been sent. */
static bool ws_hs_keeps_shape(const char *s, size_t n, const char *breaks)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '\0' || memchr(breaks, s[i], strlen(breaks)) != NULL)
            return false;
    }
    return true;
}

/* The next piece of the request as it would have been sent, through the same scanner as
 * fed bytes, so every limit and check is the same. */
static int ws_hs_handoff_put(ws_handshake *hs, const char *s, size_t n)
{
    return n == 0 ? WS_E_AGAIN
                  : ws_hs_scan(hs, (const uint8_t *)s, n, NULL, ws_hs_server_first_line,
                               ws_hs_server_head_end);
}

int ws_handshake_server_handoff(ws_handshake *hs, const char *method, size_t method_len,
                                const char *target, size_t target_len, int version_minor,
                                const ws_header *headers, size_t count)
{
    char version[] = " HTTP/1.x\r\n";
    size_t i;
    int rc;

    if (hs->role != WS_ROLE_SERVER)
        return WS_E_STATE;
    if (hs->phase == WS_HS_FAILED)
        return hs->error;
    if (hs->phase != WS_HS_HEAD || hs->http.len != 0)
        return WS_E_STATE; /* bytes were fed already, or a request was read */
    if ((method == NULL && method_len > 0) || (target == NULL && target_len > 0) ||
        (headers == NULL && count > 0))
        return WS_E_INVALID;
    for (i = 0; i < count; i++) {
        if ((headers[i].name == NULL && headers[i].name_len > 0) ||
            (headers[i].value == NULL && headers[i].value_len > 0))
            return WS_E_INVALID;
    }
    if (version_minor < 0 || version_minor > 9 || !ws_hs_keeps_shape(method, method_len, " \r\n") ||
        !ws_hs_keeps_shape(target, target_len, " \r\n"))
        return ws_hs_settle(hs, WS_E_HTTP_SYNTAX);
    version[8] = (char)('0' + version_minor);
    rc = ws_hs_handoff_put(hs, method, method_len);
    if (rc == WS_E_AGAIN)
        rc = ws_hs_handoff_put(hs, " ", 1);
    if (rc == WS_E_AGAIN)
        rc = ws_hs_handoff_put(hs, target, target_len);
    if (rc == WS_E_AGAIN)
        rc = ws_hs_handoff_put(hs, version, sizeof version - 1);
    for (i = 0; i < count && rc == WS_E_AGAIN; i++) {
        const ws_header *h = &headers[i];
        /* A colon or line end in the name, a line end in the value, or a name starting with
         * whitespace (an obs-fold) would change the lines. */
        if (!ws_hs_keeps_shape(h->name, h->name_len, ":\r\n") ||
            !ws_hs_keeps_shape(h->value, h->value_len, "\r\n") ||
            (h->name_len > 0 && (h->name[0] == ' ' || h->name[0] == '\t')))
            return ws_hs_settle(hs, WS_E_HTTP_SYNTAX);
        rc = ws_hs_handoff_put(hs, h->name, h->name_len);
        if (rc == WS_E_AGAIN)
            rc = ws_hs_handoff_put(hs, ": ", 2);
        if (rc == WS_E_AGAIN)
            rc = ws_hs_handoff_put(hs, h->value, h->value_len);
        if (rc == WS_E_AGAIN)
            rc = ws_hs_handoff_put(hs, "\r\n", 2);
    }
    if (rc == WS_E_AGAIN)
        rc = ws_hs_handoff_put(hs, "\r\n", 2);
    return rc;
}

const ws_request *ws_handshake_request(const ws_handshake *hs)
{
    if (hs->role != WS_ROLE_SERVER || hs->phase != WS_HS_DONE)
        return NULL;
    return &hs->request;
}

const ws_request *ws_hs_plain_request(const ws_handshake *hs)
{
    const ws_request *r = &hs->request;
    ws_hs_survey s;

    if (hs->role != WS_ROLE_SERVER || hs->phase != WS_HS_FAILED || hs->error != WS_E_HTTP_UPGRADE)
        return NULL;
    ws_hs_survey_headers(r->headers, r->header_count, &s);
    return s.first[WS_HN_UPGRADE] == NULL && !ws_hs_announces_body(&s) ? r : NULL;
}

int ws_handshake_status(const ws_handshake *hs)
{
    return hs->phase == WS_HS_FAILED ? hs->status : 0;
}

/* ---- answers -------------------------------------------------------------------------- */

#ifndef WS_NO_ERROR_STRINGS
/* Every status of the IANA HTTP status code registry that a rejection may carry (200-599).
 * WS_NO_ERROR_STRINGS (docs/size.md) has no phrases at all: every refusal goes out with the
 * empty one, which is still a valid status line. */
#define WS_REASON(status, phrase) #status phrase "\0"
/* Each entry: three digits, the phrase and a NUL; an empty entry ends the list. */
/* clang-format off */
static const char ws_reasons[] =
    WS_REASON(200, "OK")
    WS_REASON(201, "Created")
    WS_REASON(202, "Accepted")
    WS_REASON(203, "Non-Authoritative Information")
    WS_REASON(204, "No Content")
    WS_REASON(205, "Reset Content")
    WS_REASON(206, "Partial Content")
    WS_REASON(207, "Multi-Status")
    WS_REASON(208, "Already Reported")
    WS_REASON(226, "IM Used")
    WS_REASON(300, "Multiple Choices")
    WS_REASON(301, "Moved Permanently")
    WS_REASON(302, "Found")
    WS_REASON(303, "See Other")
    WS_REASON(304, "Not Modified")
    WS_REASON(305, "Use Proxy")
    WS_REASON(307, "Temporary Redirect")
    WS_REASON(308, "Permanent Redirect")
    WS_REASON(400, "Bad Request")
    WS_REASON(401, "Unauthorized")
    WS_REASON(402, "Payment Required")
    WS_REASON(403, "Forbidden")
    WS_REASON(404, "Not Found")
    WS_REASON(405, "Method Not Allowed")
    WS_REASON(406, "Not Acceptable")
    WS_REASON(407, "Proxy Authentication Required")
    WS_REASON(408, "Request Timeout")
    WS_REASON(409, "Conflict")
    WS_REASON(410, "Gone")
    WS_REASON(411, "Length Required")
    WS_REASON(412, "Precondition Failed")
    WS_REASON(413, "Content Too Large")
    WS_REASON(414, "URI Too Long")
    WS_REASON(415, "Unsupported Media Type")
    WS_REASON(416, "Range Not Satisfiable")
    WS_REASON(417, "Expectation Failed")
    WS_REASON(421, "Misdirected Request")
    WS_REASON(422, "Unprocessable Content")
    WS_REASON(423, "Locked")
    WS_REASON(424, "Failed Dependency")
    WS_REASON(425, "Too Early")
    WS_REASON(426, "Upgrade Required")
    WS_REASON(428, "Precondition Required")
    WS_REASON(429, "Too Many Requests")
    WS_REASON(431, "Request Header Fields Too Large")
    WS_REASON(451, "Unavailable For Legal Reasons")
    WS_REASON(500, "Internal Server Error")
    WS_REASON(501, "Not Implemented")
    WS_REASON(502, "Bad Gateway")
    WS_REASON(503, "Service Unavailable")
    WS_REASON(504, "Gateway Timeout")
    WS_REASON(505, "HTTP Version Not Supported")
    WS_REASON(506, "Variant Also Negotiates")
    WS_REASON(507, "Insufficient Storage")
    WS_REASON(508, "Loop Detected")
    WS_REASON(510, "Not Extended")
    WS_REASON(511, "Network Authentication Required")
    ""; /* the end: an empty entry */
/* clang-format on */
#undef WS_REASON

/* The space after the status, its registered phrase (none, which RFC 9112 §4 allows, for an
 * unregistered code) and the end of the status line. */
static void ws_hs_put_reason(ws_hs_out *o, int status)
{
    const char *p;

    for (p = ws_reasons; *p != '\0'; p += 3 + strlen(p + 3) + 1) {
        if ((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0') == status)
            break;
    }
    ws_hs_put(o, " ", 1);
    ws_hs_puts(o, *p != '\0' ? p + 3 : "");
    ws_hs_put(o, "\r\n", 2);
}
#else
/* Codes only: the empty phrase of every status, which RFC 9112 §4 allows. */
static void ws_hs_put_reason(ws_hs_out *o, int status)
{
    (void)status;
    ws_hs_put(o, " \r\n", 3);
}
#endif

/* Statuses that never carry content (RFC 9110 §15.3.5, §15.3.6, §15.4.5); 204 and 304 do
 * not even announce a length. */
static bool ws_status_bodyless(int status)
{
    return status == 204 || status == 205 || status == 304;
}

/* A refusal, into out[0..cap): the head with the extra headers, then the body, body[0..len)
 * and, with nl, a line end. The one writer of ws_handshake_reject and
 * ws_handshake_error_response, with the checks of the former. */
static int ws_hs_refuse(const ws_handshake *hs, int status, const ws_header *extra, size_t n,
                        const char *body, size_t len, bool nl, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    static const unsigned ours = WS_HN_BIT(WS_HN_CONNECTION) | WS_HN_BIT(WS_HN_CONTENT_LENGTH) |
                                 WS_HN_BIT(WS_HN_TRANSFER_ENCODING);
    ws_hs_out o;
    int rc;

    if (out_len == NULL || status < 200 || status > 599 || (body == NULL && len > 0) ||
        (len > 0 && ws_status_bodyless(status)))
        return WS_E_INVALID;
    if (hs->role != WS_ROLE_SERVER)
        return WS_E_STATE;
    rc = ws_hs_check_extra(extra, n, ours);
    if (rc < 0)
        return rc;
    ws_hs_out_init(&o, out, cap);
    ws_hs_puts(&o, "HTTP/1.1 ");
    ws_hs_put_uint(&o, (size_t)status);
    ws_hs_put_reason(&o, status);
    ws_hs_puts(&o, "Connection: close\r\n");
    if ((len > 0 || nl) && ((unsigned)rc & WS_HN_BIT(WS_HN_CONTENT_TYPE)) == 0)
        ws_hs_puts(&o, "Content-Type: text/plain\r\n");
    if (status != 204 && status != 304) {
        ws_hs_puts(&o, "Content-Length: ");
        ws_hs_put_uint(&o, len + nl);
        ws_hs_put(&o, "\r\n", 2);
    }
    ws_hs_put_headers(&o, extra, n);
    ws_hs_put(&o, "\r\n", 2);
    ws_hs_put(&o, body, len);
    ws_hs_put(&o, "\n", nl);
    return ws_hs_out_done(&o, out_len);
}

/* The 101 of ws_handshake_accept; offered checks opts->extensions against the request's
 * offer (ws_hs_extensions_offered), or is NULL where no answer may be given at all. Inlined
 * into each caller, so the function pointer is a constant there. */
#ifdef __GNUC__
__attribute__((always_inline))
#endif
static inline int
ws_hs_accept(const ws_handshake *hs, const ws_accept_opts *opts,
             int (*offered)(const ws_header *, size_t, const ws_header *, size_t), uint8_t *out,
             size_t cap, size_t *out_len)
{
    /* A 101 has no content: a length or coding would make a proxy read frames as a body. */
    static const unsigned ours = WS_HN_BIT(WS_HN_UPGRADE) | WS_HN_BIT(WS_HN_CONNECTION) |
                                 WS_HN_BIT(WS_HN_ACCEPT) | WS_HN_BIT(WS_HN_PROTOCOL) |
                                 WS_HN_BIT(WS_HN_EXTENSIONS) | WS_HN_BIT(WS_HN_CONTENT_LENGTH) |
                                 WS_HN_BIT(WS_HN_TRANSFER_ENCODING);
    static const ws_accept_opts none = {NULL, NULL, NULL, 0};
    static const char switching[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                    "Upgrade: websocket\r\n"
                                    "Connection: Upgrade\r\n"
                                    "Sec-WebSocket-Accept: ";
    char accept[WS_ACCEPT_KEY_SIZE];
    size_t proto_len = 0, ext_len = 0;
    ws_hs_out o;
    int rc;

    if (out_len == NULL)
        return WS_E_INVALID;
    if (hs->role != WS_ROLE_SERVER || hs->phase != WS_HS_DONE)
        return WS_E_STATE;
    if (opts == NULL)
        opts = &none;
    if (opts->subprotocol != NULL) {
        proto_len = strlen(opts->subprotocol);
        /* A client may offer anything in its list; only a token may be echoed. */
        if (!ws_http_is_token(opts->subprotocol, proto_len) ||
            !ws_request_offers_subprotocol(&hs->request, opts->subprotocol, proto_len))
            return WS_E_HTTP_SUBPROTOCOL;
    }
    if (opts->extensions != NULL) {
        ws_header answer = {"Sec-WebSocket-Extensions", 24, opts->extensions, 0};
        if (offered == NULL) /* ws_hs_accept_plain: no answer may be given at all */
            return WS_E_HTTP_EXTENSION;
        answer.value_len = ext_len = strlen(opts->extensions);
        if (!ws_http_is_field_text(opts->extensions, ext_len))
            return WS_E_INVALID;
        rc = offered(&answer, 1, hs->request.headers, hs->request.header_count);
        if (rc != WS_OK)
            return rc;
    }
    rc = ws_hs_check_extra(opts->headers, opts->header_count, ours);
    if (rc < 0)
        return rc;

    ws_accept_key(hs->request.key, hs->request.key_len, accept);
    ws_hs_out_init(&o, out, cap);
    ws_hs_put(&o, switching, sizeof switching - 1);
    ws_hs_put(&o, accept, sizeof accept);
    ws_hs_put(&o, "\r\n", 2);
    if (proto_len > 0)
        ws_hs_put_header(&o, "Sec-WebSocket-Protocol", opts->subprotocol, proto_len);
    if (ext_len > 0)
        ws_hs_put_header(&o, "Sec-WebSocket-Extensions", opts->extensions, ext_len);
    ws_hs_put_headers(&o, opts->headers, opts->header_count);
    ws_hs_puts(&o, "\r\n");
    return ws_hs_out_done(&o, out_len);
}

int ws_handshake_accept(const ws_handshake *hs, const ws_accept_opts *opts, uint8_t *out,
                        size_t cap, size_t *out_len)
{
    return ws_hs_accept(hs, opts, ws_hs_extensions_offered, out, cap, out_len);
}

#ifndef WS_HAVE_DEFLATE
int ws_hs_accept_plain(const ws_handshake *hs, const ws_accept_opts *opts, uint8_t *out, size_t cap,
                       size_t *out_len)
{
    return ws_hs_accept(hs, opts, NULL, out, cap, out_len);
}
#endif

int ws_handshake_reject(const ws_handshake *hs, int status, const ws_header *headers,
                        size_t header_count, const char *body, size_t body_len, uint8_t *out,
                        size_t cap, size_t *out_len)
{
    return ws_hs_refuse(hs, status, headers, header_count, body, body_len, false, out, cap,
                        out_len);
}

int ws_handshake_error_response(const ws_handshake *hs, uint8_t *out, size_t cap, size_t *out_len)
{
    static const ws_header allow = {"Allow", 5, "GET", 3};
    static const ws_header version = {"Sec-WebSocket-Version", 21, "13", 2};
    const ws_header *extra = NULL;
    const char *message;

    if (out_len == NULL)
        return WS_E_INVALID;
    if (hs->role != WS_ROLE_SERVER || hs->phase != WS_HS_FAILED || hs->status == 0)
        return WS_E_STATE;
    if (hs->status == 405)
        extra = &allow;
    else if (hs->status == 426)
        extra = &version;
    message = ws_strerror(hs->error);
    return ws_hs_refuse(hs, hs->status, extra, extra != NULL ? 1 : 0, message, strlen(message),
                        true, out, cap, out_len);
}
