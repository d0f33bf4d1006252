/*
 * Tests for the client side of the opening handshake: exact request bytes for a table of
 * URLs and offers (with a fixed random source), and a table of server answers with what each
 * must give, fed whole, byte by byte and split at every offset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ws.h"

/* RFC 6455 §1.2: the nonce "the sample nonce" gives this key and this accept value. */
#define NONCE       "the sample nonce"
#define KEY_LINE    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define ACCEPT_LINE "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"

static int sample_nonce(void *ud, uint8_t *buf, size_t len)
{
    if (ud != NULL)
        ++*(int *)ud;
    assert_int_equal(len, 16);
    memcpy(buf, NONCE, 16);
    return 0;
}

static int broken_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    (void)buf;
    (void)len;
    return -1;
}

static void assert_bytes(const uint8_t *p, size_t len, const char *want, size_t want_len)
{
    if (len != want_len || memcmp(p, want, len) != 0) {
        print_message("got:\n%.*s\nwant:\n%.*s\n", (int)len, (const char *)p, (int)want_len, want);
        fail();
    }
}

static void assert_str(const char *p, size_t len, const char *want)
{
    if (want == NULL) {
        assert_null(p);
        return;
    }
    if (p == NULL || len != strlen(want) || memcmp(p, want, len) != 0) {
        print_message("got \"%.*s\", want \"%s\"\n", p ? (int)len : 6, p ? p : "(null)", want);
        fail();
    }
}

#define HEAD_CAP    4096
#define MAX_HEADERS 32

typedef struct fixture {
    ws_handshake hs;
    uint8_t head[HEAD_CAP];
    ws_header headers[MAX_HEADERS];
    uint8_t out[2048];
    size_t out_len;
} fixture;

/* ---- the request ---------------------------------------------------------------------- */

static const char *const chat[] = {"chat", "superchat"};
static const char *const spaced[] = {"bad proto"};
static const char *const empty[] = {""};
static const char *const twice[] = {"chat", "chat"};
static const char *const comma[] = {"a,b"};
static const ws_header origin[] = {{"Origin", 6, "http://example.com", 18}};
static const ws_header auth[] = {{"Authorization", 13, "Bearer abc.def", 14},
                                 {"Cookie", 6, "sid=1; theme=dark", 17},
                                 {"Origin", 6, "https://example.com", 19}};
static const ws_header crlf[] = {{"X-Evil", 6, "a\r\nHost: b", 10}};
static const ws_header nul[] = {{"X-Nul", 5, "a\0b", 3}};
static const ws_header spaced_name[] = {{"Bad Name", 8, "x", 1}};
static const ws_header host[] = {{"Host", 4, "other", 5}};
static const ws_header key[] = {{"sec-websocket-key", 17, "x", 1}};

typedef struct request_case {
    const char *name;
    const char *url;
    const char *const *protocols;
    size_t protocol_count;
    const char *extensions;
    const ws_header *headers;
    size_t header_count;
    int result;
    const char *want; /* the exact request when result is WS_OK */
} request_case;

#define STD "Upgrade: websocket\r\nConnection: Upgrade\r\n" KEY_LINE "Sec-WebSocket-Version: 13\r\n"

static const request_case requests[] = {
    {"RFC 6455 example", "ws://server.example.com/chat", chat, 2, NULL, origin, 1, WS_OK,
     "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n" STD
     "Sec-WebSocket-Protocol: chat, superchat\r\nOrigin: http://example.com\r\n\r\n"},
    {"no path", "ws://example.com", NULL, 0, NULL, NULL, 0, WS_OK,
     "GET / HTTP/1.1\r\nHost: example.com\r\n" STD "\r\n"},
    {"explicit default port", "ws://example.com:80/", NULL, 0, NULL, NULL, 0, WS_OK,
     "GET / HTTP/1.1\r\nHost: example.com\r\n" STD "\r\n"},
    {"other port", "ws://example.com:8080/x", NULL, 0, NULL, NULL, 0, WS_OK,
     "GET /x HTTP/1.1\r\nHost: example.com:8080\r\n" STD "\r\n"},
    {"wss default port", "wss://example.com:443/s", NULL, 0, NULL, NULL, 0, WS_OK,
     "GET /s HTTP/1.1\r\nHost: example.com\r\n" STD "\r\n"},
    {"wss on port 80", "wss://example.com:80/", NULL, 0, NULL, NULL, 0, WS_OK,
     "GET / HTTP/1.1\r\nHost: example.com:80\r\n" STD "\r\n"},
    {"IPv6 with port", "ws://[::1]:9000/chat", NULL, 0, NULL, NULL, 0, WS_OK,
     "GET /chat HTTP/1.1\r\nHost: [::1]:9000\r\n" STD "\r\n"},
    {"IPv6", "wss://[2001:db8::1]/", NULL, 0, NULL, NULL, 0, WS_OK,
     "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n" STD "\r\n"},
    {"query", "ws://example.com/chat?room=1&x=y", NULL, 0, NULL, NULL, 0, WS_OK,
     "GET /chat?room=1&x=y HTTP/1.1\r\nHost: example.com\r\n" STD "\r\n"},
    {"query without path", "ws://example.com?x=1", NULL, 0, NULL, NULL, 0, WS_OK,
     "GET /?x=1 HTTP/1.1\r\nHost: example.com\r\n" STD "\r\n"},
    {"extensions", "ws://example.com/", NULL, 0, "permessage-deflate; client_max_window_bits", NULL,
     0, WS_OK,
     "GET / HTTP/1.1\r\nHost: example.com\r\n" STD
     "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"},
    {"everything", "wss://api.example.com:8443/v1/stream?token=t", chat, 2, "permessage-deflate",
     auth, 3, WS_OK,
     "GET /v1/stream?token=t HTTP/1.1\r\nHost: api.example.com:8443\r\n" STD
     "Sec-WebSocket-Protocol: chat, superchat\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate\r\n"
     "Authorization: Bearer abc.def\r\nCookie: sid=1; theme=dark\r\n"
     "Origin: https://example.com\r\n\r\n"},

    {"http scheme", "http://example.com/", NULL, 0, NULL, NULL, 0, WS_E_URL, NULL},
    {"space in host", "ws://exa mple.com/", NULL, 0, NULL, NULL, 0, WS_E_URL, NULL},
    {"no URL", NULL, NULL, 0, NULL, NULL, 0, WS_E_URL, NULL},
    {"subprotocol with a space", "ws://h/", spaced, 1, NULL, NULL, 0, WS_E_INVALID, NULL},
    {"empty subprotocol", "ws://h/", empty, 1, NULL, NULL, 0, WS_E_INVALID, NULL},
    {"subprotocol twice", "ws://h/", twice, 2, NULL, NULL, 0, WS_E_INVALID, NULL},
    {"subprotocol with a comma", "ws://h/", comma, 1, NULL, NULL, 0, WS_E_INVALID, NULL},
    {"subprotocols missing", "ws://h/", NULL, 1, NULL, NULL, 0, WS_E_INVALID, NULL},
    {"header with CRLF", "ws://h/", NULL, 0, NULL, crlf, 1, WS_E_INVALID, NULL},
    {"header with NUL", "ws://h/", NULL, 0, NULL, nul, 1, WS_E_INVALID, NULL},
    {"header name with a space", "ws://h/", NULL, 0, NULL, spaced_name, 1, WS_E_INVALID, NULL},
    {"a second Host", "ws://h/", NULL, 0, NULL, host, 1, WS_E_INVALID, NULL},
    {"our own key header", "ws://h/", NULL, 0, NULL, key, 1, WS_E_INVALID, NULL},
    {"extensions with CRLF", "ws://h/", NULL, 0, "a\r\nb", NULL, 0, WS_E_INVALID, NULL},
    {"malformed extensions", "ws://h/", NULL, 0, "permessage-deflate;;", NULL, 0, WS_E_INVALID,
     NULL},
};

static ws_client_opts opts_of(const request_case *c)
{
    ws_client_opts o;

    o.url = c->url;
    o.subprotocols = c->protocols;
    o.subprotocol_count = c->protocol_count;
    o.extensions = c->extensions;
    o.headers = c->headers;
    o.header_count = c->header_count;
    return o;
}

static void test_request_table(void **state)
{
    static fixture f;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        const request_case *c = &requests[i];
        ws_client_opts o = opts_of(c);
        int calls = 0, rc;

        ws_handshake_client_init(&f.hs, NULL, f.head, sizeof f.head, f.headers, MAX_HEADERS);
        rc = ws_handshake_client_request(&f.hs, &o, sample_nonce, &calls, f.out, sizeof f.out,
                                         &f.out_len);
        if (rc != c->result)
            print_message("request \"%s\": %d, want %d\n", c->name, rc, c->result);
        assert_int_equal(rc, c->result);
        if (rc == WS_OK) {
            assert_int_equal(calls, 1);
            assert_bytes(f.out, f.out_len, c->want, strlen(c->want));
        } else {
            assert_int_equal(calls, 0); /* refused before any randomness was spent */
        }
    }
}

static void test_request_random_and_buffers(void **state)
{
    static fixture f;
    const request_case *c = &requests[0];
    ws_client_opts o = opts_of(c);
    size_t need = strlen(c->want), cap;

    (void)state;
    ws_handshake_client_init(&f.hs, NULL, f.head, sizeof f.head, f.headers, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_client_request(&f.hs, &o, NULL, NULL, f.out, sizeof f.out, &f.out_len),
        WS_E_RANDOM);
    assert_int_equal(ws_handshake_client_request(&f.hs, &o, broken_random, NULL, f.out,
                                                 sizeof f.out, &f.out_len),
                     WS_E_RANDOM);
    /* Too little room: refused each time, and the handshake can be asked again. */
    for (cap = 0; cap < need; cap++)
        assert_int_equal(
            ws_handshake_client_request(&f.hs, &o, sample_nonce, NULL, f.out, cap, &f.out_len),
            WS_E_BUFFER);
    assert_int_equal(
        ws_handshake_client_request(&f.hs, &o, sample_nonce, NULL, f.out, need, &f.out_len), WS_OK);
    assert_int_equal(f.out_len, need);
    /* Only once per handshake. */
    assert_int_equal(
        ws_handshake_client_request(&f.hs, &o, sample_nonce, NULL, f.out, sizeof f.out, &f.out_len),
        WS_E_STATE);

    /* The head buffer keeps a copy of the offer ("chat, superchat" is 15 bytes). */
    ws_handshake_client_init(&f.hs, NULL, f.head, 14, f.headers, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_client_request(&f.hs, &o, sample_nonce, NULL, f.out, sizeof f.out, &f.out_len),
        WS_E_BUFFER);

    /* Feeding before the request is written is out of order. */
    ws_handshake_client_init(&f.hs, NULL, f.head, sizeof f.head, f.headers, MAX_HEADERS);
    assert_int_equal(ws_handshake_client_feed(&f.hs, (const uint8_t *)"H", 1, &cap), WS_E_STATE);
    assert_int_equal(cap, 0);
    assert_null(ws_handshake_response(&f.hs));
}

/* The offer is copied: the caller's strings may change or die after the request. */
static void test_offer_is_copied(void **state)
{
    static fixture f;
    static const char answer[] =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\n" ACCEPT_LINE "Sec-WebSocket-Protocol: superchat\r\n"
        "Sec-WebSocket-Extensions: x-mine\r\n\r\n";
    char p0[] = "chat", p1[] = "superchat", ext[] = "x-mine";
    const char *protos[2];
    ws_client_opts o;
    const ws_response *r;
    size_t used;

    (void)state;
    protos[0] = p0;
    protos[1] = p1;
    memset(&o, 0, sizeof o);
    o.url = "ws://h/";
    o.subprotocols = protos;
    o.subprotocol_count = 2;
    o.extensions = ext;
    ws_handshake_client_init(&f.hs, NULL, f.head, sizeof f.head, f.headers, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_client_request(&f.hs, &o, sample_nonce, NULL, f.out, sizeof f.out, &f.out_len),
        WS_OK);
    memset(p1, 'z', sizeof p1 - 1);
    memset(ext, 'z', sizeof ext - 1);
    assert_int_equal(
        ws_handshake_client_feed(&f.hs, (const uint8_t *)answer, sizeof answer - 1, &used), WS_OK);
    r = ws_handshake_response(&f.hs);
    assert_str(r->subprotocol, r->subprotocol_len, "superchat");
    assert_str(r->extensions, r->extensions_len, "x-mine");
}

/* ---- the response --------------------------------------------------------------------- */

enum { OFFER_NONE, OFFER_BOTH };

#define R101  "HTTP/1.1 101 Switching Protocols\r\n"
#define RUPG  "Upgrade: websocket\r\n"
#define RCONN "Connection: Upgrade\r\n"
#define RGOOD RUPG RCONN ACCEPT_LINE
#define END   "\r\n"

#define WHOLE      (-1L)
#define BUT_LAST   (-2L)
#define AT(prefix) ((long)sizeof(prefix) - 1)

typedef struct response_case {
    const char *name;
    int offer; /* OFFER_NONE, or chat/superchat and two extensions */
    const char *input;
    size_t len;
    long at; /* the absolute *consumed: WHOLE, BUT_LAST or an offset */
    int result;
    int status; /* of the parsed response; 0 when the head never completed */
    const char *subprotocol;
    const char *extensions;
    const char *header; /* a header to look up in the response, and its value */
    const char *value;
} response_case;

/* clang-format off */
#define RESP(name, offer, in, at, result, status, proto, ext, h, v) \
    {name, offer, in, sizeof(in) - 1, at, result, status, proto, ext, h, v}
/* clang-format on */

static const response_case responses[] = {
    RESP("valid 101", OFFER_NONE, R101 RGOOD END, WHOLE, WS_OK, 101, NULL, NULL, "Upgrade",
         "websocket"),
    RESP("frames right after the head", OFFER_NONE, R101 RGOOD END "\x81\x05hello",
         AT(R101 RGOOD END), WS_OK, 101, NULL, NULL, NULL, NULL),
    RESP("no reason phrase", OFFER_NONE, "HTTP/1.1 101\r\n" RGOOD END, WHOLE, WS_OK, 101, NULL,
         NULL, NULL, NULL),
    RESP("tokens and names in any case", OFFER_NONE,
         R101 "upgrade: WebSocket\r\n"
              "CONNECTION: keep-alive, upgrade\r\n"
              "sec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n" END,
         WHOLE, WS_OK, 101, NULL, NULL, NULL, NULL),
    RESP("offered and chosen subprotocol", OFFER_BOTH,
         R101 RGOOD "Sec-WebSocket-Protocol: superchat\r\n" END, WHOLE, WS_OK, 101, "superchat",
         NULL, NULL, NULL),
    RESP("offered extension accepted", OFFER_BOTH,
         R101 RGOOD
         "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n" END,
         WHOLE, WS_OK, 101, NULL, "permessage-deflate; client_max_window_bits=10", NULL, NULL),
    RESP("extensions in two headers", OFFER_BOTH,
         R101 RGOOD "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                    "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n" END,
         WHOLE, WS_OK, 101, NULL, "permessage-deflate, x-webkit-deflate-frame", NULL, NULL),
    RESP("nothing chosen from an offer", OFFER_BOTH, R101 RGOOD END, WHOLE, WS_OK, 101, NULL, NULL,
         NULL, NULL),

    RESP("wrong accept", OFFER_NONE,
         R101 RUPG RCONN "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOO=\r\n" END, BUT_LAST,
         WS_E_HTTP_ACCEPT, 101, NULL, NULL, NULL, NULL),
    RESP("accept in another case", OFFER_NONE,
         R101 RUPG RCONN "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n" END, BUT_LAST,
         WS_E_HTTP_ACCEPT, 101, NULL, NULL, NULL, NULL),
    RESP("no accept", OFFER_NONE, R101 RUPG RCONN END, BUT_LAST, WS_E_HTTP_ACCEPT, 101, NULL, NULL,
         NULL, NULL),
    RESP("accept twice", OFFER_NONE, R101 RGOOD ACCEPT_LINE END, BUT_LAST, WS_E_HTTP_ACCEPT, 101,
         NULL, NULL, NULL, NULL),
    RESP("no Upgrade", OFFER_NONE, R101 RCONN ACCEPT_LINE END, BUT_LAST, WS_E_HTTP_UPGRADE, 101,
         NULL, NULL, NULL, NULL),
    RESP("Upgrade: h2c", OFFER_NONE, R101 "Upgrade: h2c\r\n" RCONN ACCEPT_LINE END, BUT_LAST,
         WS_E_HTTP_UPGRADE, 101, NULL, NULL, NULL, NULL),
    RESP("no Connection", OFFER_NONE, R101 RUPG ACCEPT_LINE END, BUT_LAST, WS_E_HTTP_CONNECTION,
         101, NULL, NULL, NULL, NULL),
    RESP("subprotocol when none was offered", OFFER_NONE,
         R101 RGOOD "Sec-WebSocket-Protocol: chat\r\n" END, BUT_LAST, WS_E_HTTP_SUBPROTOCOL, 101,
         NULL, NULL, NULL, NULL),
    RESP("subprotocol not offered", OFFER_BOTH, R101 RGOOD "Sec-WebSocket-Protocol: mqtt\r\n" END,
         BUT_LAST, WS_E_HTTP_SUBPROTOCOL, 101, NULL, NULL, NULL, NULL),
    RESP("subprotocol in another case", OFFER_BOTH,
         R101 RGOOD "Sec-WebSocket-Protocol: Chat\r\n" END, BUT_LAST, WS_E_HTTP_SUBPROTOCOL, 101,
         NULL, NULL, NULL, NULL),
    RESP("two subprotocols in one header", OFFER_BOTH,
         R101 RGOOD "Sec-WebSocket-Protocol: chat, superchat\r\n" END, BUT_LAST,
         WS_E_HTTP_SUBPROTOCOL, 101, NULL, NULL, NULL, NULL),
    RESP("two subprotocol headers", OFFER_BOTH,
         R101 RGOOD "Sec-WebSocket-Protocol: chat\r\n"
                    "Sec-WebSocket-Protocol: chat\r\n" END,
         BUT_LAST, WS_E_HTTP_SUBPROTOCOL, 101, NULL, NULL, NULL, NULL),
    RESP("extension when none was offered", OFFER_NONE,
         R101 RGOOD "Sec-WebSocket-Extensions: permessage-deflate\r\n" END, BUT_LAST,
         WS_E_HTTP_EXTENSION, 101, NULL, NULL, NULL, NULL),
    RESP("extension not offered", OFFER_BOTH,
         R101 RGOOD "Sec-WebSocket-Extensions: permessage-deflate, x-other\r\n" END, BUT_LAST,
         WS_E_HTTP_EXTENSION, 101, NULL, NULL, NULL, NULL),
    RESP("malformed extension", OFFER_BOTH,
         R101 RGOOD "Sec-WebSocket-Extensions: permessage-deflate;;\r\n" END, BUT_LAST,
         WS_E_HTTP_EXTENSION, 101, NULL, NULL, NULL, NULL),

    RESP("401", OFFER_NONE,
         "HTTP/1.1 401 Unauthorized\r\n"
         "WWW-Authenticate: Basic realm=\"ws\"\r\nContent-Length: 0\r\n" END,
         BUT_LAST, WS_E_HTTP_STATUS, 401, NULL, NULL, "WWW-Authenticate", "Basic realm=\"ws\""),
    RESP("403 with a body", OFFER_NONE,
         "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n" END "forbidden",
         AT("HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r"), WS_E_HTTP_STATUS, 403, NULL, NULL,
         "Content-Length", "9"),
    RESP("302 is not followed", OFFER_NONE,
         "HTTP/1.1 302 Found\r\n"
         "Location: wss://other.example.com/chat\r\n" END,
         BUT_LAST, WS_E_HTTP_STATUS, 302, NULL, NULL, "Location", "wss://other.example.com/chat"),
    RESP("426", OFFER_NONE, "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n" END,
         BUT_LAST, WS_E_HTTP_STATUS, 426, NULL, NULL, "Sec-WebSocket-Version", "13"),
    RESP("200 from a plain web server", OFFER_NONE,
         "HTTP/1.1 200 OK\r\n"
         "Content-Type: text/html\r\n" END,
         BUT_LAST, WS_E_HTTP_STATUS, 200, NULL, NULL, "Content-Type", "text/html"),

    RESP("HTTP/2", OFFER_NONE, "HTTP/2 101\r\n" RGOOD END, AT("HTTP/2 101\r"), WS_E_HTTP_SYNTAX, 0,
         NULL, NULL, NULL, NULL),
    RESP("letter in the status", OFFER_NONE, "HTTP/1.1 1O1 Switching Protocols\r\n" RGOOD END,
         AT("HTTP/1.1 1O1 Switching Protocols\r"), WS_E_HTTP_SYNTAX, 0, NULL, NULL, NULL, NULL),
    RESP("HTTP/1.0 101 (no Upgrade in HTTP/1.0)", OFFER_NONE,
         "HTTP/1.0 101 Switching Protocols\r\n" RGOOD END, BUT_LAST, WS_E_HTTP_VERSION, 101, NULL,
         NULL, NULL, NULL),
    RESP("no space before the reason", OFFER_NONE, "HTTP/1.1 101Switching\r\n" RGOOD END,
         AT("HTTP/1.1 101Switching\r"), WS_E_HTTP_SYNTAX, 0, NULL, NULL, NULL, NULL),
    RESP("status 600", OFFER_NONE, "HTTP/1.1 600 Odd\r\n" RGOOD END, AT("HTTP/1.1 600 Odd\r"),
         WS_E_HTTP_SYNTAX, 0, NULL, NULL, NULL, NULL),
    RESP("not HTTP", OFFER_NONE, "ICY 200 OK\r\n" END, AT("ICY 200 OK\r"), WS_E_HTTP_SYNTAX, 0,
         NULL, NULL, NULL, NULL),
    RESP("bare LF", OFFER_NONE, "HTTP/1.1 101 Switching Protocols\n" RGOOD END,
         AT("HTTP/1.1 101 Switching Protocols"), WS_E_HTTP_SYNTAX, 0, NULL, NULL, NULL, NULL),
    RESP("obs-fold", OFFER_NONE, R101 RUPG " websocket\r\n" RCONN ACCEPT_LINE END, AT(R101 RUPG),
         WS_E_HTTP_SYNTAX, 0, NULL, NULL, NULL, NULL),
    RESP("control byte", OFFER_NONE, R101 RGOOD "X-A: \x1b[0m\r\n" END, AT(R101 RGOOD "X-A: "),
         WS_E_HTTP_SYNTAX, 0, NULL, NULL, NULL, NULL),
};

#define NRESP (sizeof responses / sizeof responses[0])

typedef struct outcome {
    int rc;
    size_t consumed; /* absolute */
} outcome;

static void start_with(fixture *f, const response_case *c, const ws_http_limits *limits,
                       size_t max_headers)
{
    static const char *const protos[] = {"chat", "superchat"};
    ws_client_opts o;

    memset(&o, 0, sizeof o);
    o.url = "ws://server.example.com/chat";
    if (c->offer == OFFER_BOTH) {
        o.subprotocols = protos;
        o.subprotocol_count = 2;
        o.extensions = "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame";
    }
    ws_handshake_client_init(&f->hs, limits, f->head, sizeof f->head, f->headers, max_headers);
    assert_int_equal(ws_handshake_client_request(&f->hs, &o, sample_nonce, NULL, f->out,
                                                 sizeof f->out, &f->out_len),
                     WS_OK);
}

static void start(fixture *f, const response_case *c)
{
    start_with(f, c, NULL, MAX_HEADERS);
}

static const response_case *find_response(const char *name)
{
    size_t i;

    for (i = 0; i < NRESP; i++) {
        if (strcmp(responses[i].name, name) == 0)
            return &responses[i];
    }
    fail();
    return NULL;
}

/* Feeds the case in two pieces split at cut (cut == len: whole). */
static outcome feed_split(fixture *f, const response_case *c, size_t cut)
{
    const uint8_t *in = (const uint8_t *)c->input;
    outcome o;
    size_t used = 12345;

    start(f, c);
    o.rc = ws_handshake_client_feed(&f->hs, in, cut, &used);
    o.consumed = used;
    if (o.rc == WS_E_AGAIN) {
        assert_int_equal(used, cut);
        o.rc = ws_handshake_client_feed(&f->hs, in + cut, c->len - cut, &used);
        o.consumed = cut + used;
    }
    return o;
}

static outcome feed_bytewise(fixture *f, const response_case *c)
{
    const uint8_t *in = (const uint8_t *)c->input;
    outcome o = {WS_E_AGAIN, 0};
    size_t i, used;

    start(f, c);
    for (i = 0; i < c->len && o.rc == WS_E_AGAIN; i++) {
        o.rc = ws_handshake_client_feed(&f->hs, in + i, 1, &used);
        o.consumed = i + used;
    }
    return o;
}

static void check(fixture *f, const response_case *c, outcome o, const char *how)
{
    size_t at = c->at == WHOLE ? c->len : c->at == BUT_LAST ? c->len - 1 : (size_t)c->at;
    const ws_response *r = ws_handshake_response(&f->hs);

    if (o.rc != c->result || o.consumed != at)
        print_message("response \"%s\" (%s): rc %d consumed %zu, want %d %zu\n", c->name, how, o.rc,
                      o.consumed, c->result, at);
    assert_int_equal(o.rc, c->result);
    assert_int_equal(o.consumed, at);
    assert_int_equal(ws_handshake_status(&f->hs), 0); /* a client answers nobody */
    if (c->status == 0) {
        assert_null(r);
        return;
    }
    assert_non_null(r);
    assert_int_equal(r->status, c->status);
    if (o.rc == WS_OK) {
        assert_str(r->subprotocol, r->subprotocol_len, c->subprotocol);
        assert_str(r->extensions, r->extensions_len, c->extensions);
    }
    if (c->header != NULL) {
        const ws_header *h = ws_header_find(r->headers, r->header_count, c->header);
        assert_non_null(h);
        assert_str(h->value, h->value_len, c->value);
    }
}

static void test_response_table(void **state)
{
    static fixture f;
    size_t i;

    (void)state;
    for (i = 0; i < NRESP; i++)
        check(&f, &responses[i], feed_split(&f, &responses[i], responses[i].len), "whole");
}

static void test_response_bytewise(void **state)
{
    static fixture f;
    size_t i;

    (void)state;
    for (i = 0; i < NRESP; i++)
        check(&f, &responses[i], feed_bytewise(&f, &responses[i]), "byte by byte");
}

static void test_response_every_split(void **state)
{
    static fixture f;
    size_t i, cut;

    (void)state;
    for (i = 0; i < NRESP; i++) {
        for (cut = 0; cut <= responses[i].len; cut++)
            check(&f, &responses[i], feed_split(&f, &responses[i], cut), "split in two");
    }
}

static void test_response_details(void **state)
{
    static fixture f;
    const response_case *redirect = find_response("302 is not followed");
    const response_case *bare = find_response("no reason phrase");
    const ws_response *r;
    size_t used;

    (void)state;
    /* The reason phrase and the headers of a refusal stay readable. */
    assert_int_equal(feed_split(&f, redirect, redirect->len).rc, WS_E_HTTP_STATUS);
    r = ws_handshake_response(&f.hs);
    assert_str(r->reason, r->reason_len, "Found");
    assert_int_equal(r->header_count, 1);
    /* Sticky: nothing more is read. */
    assert_int_equal(ws_handshake_client_feed(&f.hs, (const uint8_t *)"x", 1, &used),
                     WS_E_HTTP_STATUS);
    assert_int_equal(used, 0);

    assert_int_equal(feed_split(&f, bare, bare->len).rc, WS_OK);
    r = ws_handshake_response(&f.hs);
    assert_int_equal(r->reason_len, 0);
    assert_int_equal(ws_handshake_client_feed(&f.hs, (const uint8_t *)"x", 1, &used), WS_E_STATE);
}

/* The response head shares the buffer with the remembered offer; its limits hold. */
static void test_response_limits(void **state)
{
    static fixture f;
    static const response_case valid =
        RESP("valid", OFFER_BOTH, R101 RGOOD END, WHOLE, WS_OK, 101, NULL, NULL, NULL, NULL);
    static const char prefix[] = R101 "X-Long: ";
    static uint8_t filler[8192];
    ws_http_limits limits;
    size_t used;
    int rc;

    (void)state;
    /* A header line that never ends. */
    memset(filler, 'a', sizeof filler);
    ws_http_limits_init(&limits);
    limits.max_header_line = 100;
    start_with(&f, &valid, &limits, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_client_feed(&f.hs, (const uint8_t *)prefix, sizeof prefix - 1, &used),
        WS_E_AGAIN);
    rc = ws_handshake_client_feed(&f.hs, filler, sizeof filler, &used);
    assert_int_equal(rc, WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(used, 100 - (sizeof "X-Long: " - 1));

    /* Too many headers. */
    start_with(&f, &valid, NULL, 2);
    assert_int_equal(
        ws_handshake_client_feed(&f.hs, (const uint8_t *)valid.input, valid.len, &used),
        WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(used, sizeof(R101 RUPG RCONN) - 1);
    assert_null(ws_handshake_response(&f.hs));

    /* A head larger than what is left of the buffer after the offer. */
    {
        static const char *const protos[] = {"chat"};
        ws_client_opts o;
        memset(&o, 0, sizeof o);
        o.url = "ws://h/";
        o.subprotocols = protos;
        o.subprotocol_count = 1;
        ws_handshake_client_init(&f.hs, NULL, f.head, 4 + 40, f.headers, MAX_HEADERS);
        assert_int_equal(ws_handshake_client_request(&f.hs, &o, sample_nonce, NULL, f.out,
                                                     sizeof f.out, &f.out_len),
                         WS_OK);
    }
    assert_int_equal(
        ws_handshake_client_feed(&f.hs, (const uint8_t *)valid.input, valid.len, &used),
        WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(used, 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_table),     cmocka_unit_test(test_request_random_and_buffers),
        cmocka_unit_test(test_offer_is_copied),   cmocka_unit_test(test_response_table),
        cmocka_unit_test(test_response_bytewise), cmocka_unit_test(test_response_every_split),
        cmocka_unit_test(test_response_details),  cmocka_unit_test(test_response_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
