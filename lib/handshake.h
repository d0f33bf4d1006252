/*
 * Private interface of the opening handshake: what both roles share (handshake.c): running
 * the head parser with a role's checks, header lookups and the bounded writer. The roles
 * call in here; handshake.c calls no role code. Not installed; nothing here is API.
 */
#ifndef WS_HANDSHAKE_H
#define WS_HANDSHAKE_H

#include "ws_internal.h"

WS_INTERNAL_BEGIN

#define WS_KEY_NONCE_LEN 16 /* Sec-WebSocket-Key: a 16-byte nonce ... */
#define WS_KEY_B64_LEN   24 /* ... in base64 */

/* Where a handshake is; ws_handshake.phase. */
enum ws_hs_phase {
    WS_HS_IDLE = 0, /* client: the request has not been written yet */
    WS_HS_HEAD,     /* reading the head */
    WS_HS_DONE,     /* a valid head was read */
    WS_HS_FAILED    /* ws_handshake.error holds why; sticky */
};

/* Sets up either role over the caller's buffers; phase is WS_HS_HEAD. */
void ws_hs_init(ws_handshake *hs, ws_role role, const ws_http_limits *limits, uint8_t *buf,
                size_t cap, ws_header *headers, size_t max_headers);

/* Runs the head parser over p[0..len) with the role's checks: first_line once the request
 * or status line is complete (WS_E_AGAIN to go on), head_end once the head is. Returns and
 * sets *consumed as ws_handshake_server_feed documents, for either role. */
int ws_hs_scan(ws_handshake *hs, const uint8_t *p, size_t len, size_t *consumed,
               int (*first_line)(ws_handshake *hs), int (*head_end)(ws_handshake *hs));

/* Records the outcome of a step: a negative code other than WS_E_AGAIN fails the
 * handshake for good. Returns rc. */
int ws_hs_settle(ws_handshake *hs, int rc);

/* The header names the handshake looks for or writes itself, as ws_hs_header_kind tells
 * them (those from WS_HN_KEY on start with "Sec-WebSocket-"); reserved sets for
 * ws_hs_check_extra are made of their bits (WS_HN_BIT). */
enum ws_hs_name {
    WS_HN_HOST,
    WS_HN_ORIGIN,
    WS_HN_UPGRADE,
    WS_HN_CONNECTION,
    WS_HN_CONTENT_TYPE,
    WS_HN_CONTENT_LENGTH,
    WS_HN_TRANSFER_ENCODING,
    WS_HN_KEY,        /* Sec-WebSocket-Key */
    WS_HN_ACCEPT,     /* Sec-WebSocket-Accept */
    WS_HN_VERSION,    /* Sec-WebSocket-Version */
    WS_HN_PROTOCOL,   /* Sec-WebSocket-Protocol */
    WS_HN_EXTENSIONS, /* Sec-WebSocket-Extensions */
    WS_HN_COUNT       /* none of them */
};
#define WS_HN_BIT(k) (1u << (k))

/* Which of the names above name[0..len) is, case-insensitively; WS_HN_COUNT for another. */
enum ws_hs_name ws_hs_header_kind(const char *name, size_t len);

/* The number of headers called name, and the first of them (NULL when none). */
size_t ws_hs_count(const ws_header *h, size_t n, const char *name, const ws_header **first);

/* True when some element of the lists in every header called name equals token
 * (case-insensitive). */
bool ws_hs_list_has(const ws_header *h, size_t n, const char *name, const char *token);

/* WS_OK when every extension in the Sec-WebSocket-Extensions headers of answer[0..n)
 * parses and has a name (exact match) that offer[0..m) holds, else WS_E_HTTP_EXTENSION. */
int ws_hs_extensions_offered(const ws_header *answer, size_t n, const ws_header *offer, size_t m);

/* Checks headers a host wants sent: token names, field-text values, and none of the
 * names in reserved (WS_HN_BIT of each) that the builder writes itself. WS_E_INVALID, or
 * the WS_HN_BIT of the kind of each name among them (WS_HN_COUNT for another name). */
int ws_hs_check_extra(const ws_header *h, size_t n, unsigned reserved);
#ifndef WS_HAVE_DEFLATE
/* ws_handshake_accept for a connection that never answers an extension (no zlib): an
 * answer in opts is refused (WS_E_HTTP_EXTENSION) without the extension parser. */
int ws_hs_accept_plain(const ws_handshake *hs, const ws_accept_opts *opts, uint8_t *out, size_t cap,
                       size_t *out_len);
#endif

/* A bounded output: writes stop at cap and set overflow. */
typedef struct ws_hs_out {
    uint8_t *p;
    size_t cap;
    size_t len;
    bool overflow;
} ws_hs_out;

void ws_hs_out_init(ws_hs_out *o, uint8_t *p, size_t cap);
void ws_hs_put(ws_hs_out *o, const char *s, size_t n);
void ws_hs_puts(ws_hs_out *o, const char *s);
void ws_hs_put_uint(ws_hs_out *o, size_t v);
/* "name: value\r\n" */
void ws_hs_put_header(ws_hs_out *o, const char *name, const char *value, size_t value_len);
void ws_hs_put_headers(ws_hs_out *o, const ws_header *h, size_t n);
/* WS_OK with *out_len set, or WS_E_BUFFER when something did not fit. */
int ws_hs_out_done(const ws_hs_out *o, size_t *out_len);

/* A well-formed GET that is not an upgrade at all (no Upgrade header), for hosts that serve
 * plain HTTP on the same port; NULL otherwise. */
const ws_request *ws_hs_plain_request(const ws_handshake *hs);

WS_INTERNAL_END

#endif /* WS_HANDSHAKE_H */
