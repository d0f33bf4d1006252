/*
 * Tests for the server side of the opening handshake: a table of raw requests and what each
 * must give (result, status, where the head ended), fed whole, byte by byte and split at
 * every offset, the same table through the hand-off, exact response bytes, and the limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error_text.h"
#include "ws.h"

/* Pieces of a valid request (RFC 6455 §1.2 and §4.1), for building the cases. */
#define RL      "GET /chat HTTP/1.1\r\n"
#define HOST    "Host: server.example.com\r\n"
#define UPG     "Upgrade: websocket\r\n"
#define CONN    "Connection: Upgrade\r\n"
#define KEY     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER     "Sec-WebSocket-Version: 13\r\n"
#define END     "\r\n"
#define GOOD    HOST UPG CONN KEY VER /* every header a valid request needs */
#define MINIMAL RL GOOD END

#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* A request as a browser sends it. */
#define CHROME                                                                                     \
    "GET /chat?room=lobby&x=1 HTTP/1.1\r\n"                                                        \
    "Host: example.com:8080\r\n"                                                                   \
    "Connection: Upgrade\r\n"                                                                      \
    "Pragma: no-cache\r\n"                                                                         \
    "Cache-Control: no-cache\r\n"                                                                  \
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "          \
    "Chrome/120.0.0.0 Safari/537.36\r\n"                                                           \
    "Upgrade: websocket\r\n"                                                                       \
    "Origin: https://example.com\r\n"                                                              \
    "Sec-WebSocket-Version: 13\r\n"                                                                \
    "Accept-Encoding: gzip, deflate, br\r\n"                                                       \
    "Accept-Language: en-US,en;q=0.9\r\n"                                                          \
    "Cookie: session=abc123; theme=dark\r\n"                                                       \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                                              \
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"                     \
    "Sec-WebSocket-Protocol: chat, superchat\r\n"                                                  \
    "\r\n"

/* Where the head ends (the absolute *consumed): the whole input, the input but its last
 * byte (an error found at the final LF), or an offset given as the size of a prefix. */
#define WHOLE      (-1L)
#define BUT_LAST   (-2L)
#define AT(prefix) ((long)sizeof(prefix) - 1)

typedef struct server_case {
    const char *name;
    const char *input; /* lengths are given so NUL can be in it */
    size_t len;
    long at;      /* WHOLE, BUT_LAST or an offset */
    int result;   /* WS_OK or the WS_E_* expected */
    int status;   /* ws_handshake_status */
    bool handoff; /* can be said through ws_handshake_server_handoff too */
    bool bare_lf; /* limits.allow_bare_lf */
} server_case;

/* clang-format off */
#define OK_CASE(name, in, at) {name, in, sizeof(in) - 1, at, WS_OK, 0, true, false}
#define BARE_LF_OK(name, in) {name, in, sizeof(in) - 1, WHOLE, WS_OK, 0, false, true}
#define BAD(name, in, at, err, status, handoff) \
    {name, in, sizeof(in) - 1, at, err, status, handoff, false}
/* clang-format on */

#define BARE_LF_REQUEST                                                                            \
    "GET /chat HTTP/1.1\nHost: a\nUpgrade: websocket\nConnection: Upgrade\n"                       \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n"

static const server_case cases[] = {
    /* Valid requests. */
    OK_CASE("RFC 6455 example",
            RL HOST UPG CONN KEY "Origin: http://example.com\r\n"
                                 "Sec-WebSocket-Protocol: chat, superchat\r\n" VER END,
            WHOLE),
    OK_CASE("browser request", CHROME, WHOLE),
    OK_CASE("Connection list with keep-alive",
            RL HOST UPG "Connection: keep-alive, Upgrade\r\n" KEY VER END, WHOLE),
    OK_CASE("Connection spread over two headers",
            RL HOST UPG "Connection: keep-alive\r\n"
                        "Connection: upgrade\r\n" KEY VER END,
            WHOLE),
    OK_CASE("tokens are case-insensitive",
            RL HOST "Upgrade: WebSocket\r\n"
                    "Connection: UPGRADE\r\n" KEY VER END,
            WHOLE),
    OK_CASE("Upgrade list", RL HOST "Upgrade: h2c, websocket\r\n" CONN KEY VER END, WHOLE),
    OK_CASE("names are case-insensitive",
            RL "host: a\r\nUPGRADE: websocket\r\n"
               "connection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "SEC-WEBSOCKET-VERSION: 13\r\n" END,
            WHOLE),
    OK_CASE("whitespace around values",
            RL "Host:\t server.example.com \t\r\n" UPG CONN
               "Sec-WebSocket-Key:dGhlIHNhbXBsZSBub25jZQ==\r\n" VER END,
            WHOLE),
    OK_CASE("HTAB and obs-text in a value", RL GOOD "X-Note: a\tb \xC3\xA9\r\n" END, WHOLE),
    OK_CASE("empty header value", RL GOOD "X-Empty:\r\n" END, WHOLE),
    OK_CASE("Content-Length: 0 is no body", RL GOOD "Content-Length: 0\r\n" END, WHOLE),
    OK_CASE("absolute-form target", "GET http://server.example.com/chat?x=1 HTTP/1.1\r\n" GOOD END,
            WHOLE),
    OK_CASE("HTTP/1.2", "GET /chat HTTP/1.2\r\n" GOOD END, WHOLE),
    OK_CASE("pipelined frame after the head",
            MINIMAL "\x81\x85\x37\xfa\x21\x3d\x7f\x9f"
                    "\x4d\x51\x58",
            AT(MINIMAL)),
    BARE_LF_OK("bare LF when allowed", BARE_LF_REQUEST),

    /* The request line. */
    BAD("POST", "POST /chat HTTP/1.1\r\n" GOOD END, AT("POST /chat HTTP/1.1\r"), WS_E_HTTP_METHOD,
        405, true),
    BAD("methods are case-sensitive", "get /chat HTTP/1.1\r\n" GOOD END, AT("get /chat HTTP/1.1\r"),
        WS_E_HTTP_METHOD, 405, true),
    BAD("HTTP/1.0", "GET /chat HTTP/1.0\r\n" GOOD END, AT("GET /chat HTTP/1.0\r"),
        WS_E_HTTP_VERSION, 400, true),
    BAD("HTTP/0.9", "GET /chat HTTP/0.9\r\n" GOOD END, AT("GET /chat HTTP/0.9\r"),
        WS_E_HTTP_VERSION, 400, false),
    BAD("HTTP/2.0", "GET /chat HTTP/2.0\r\n" GOOD END, AT("GET /chat HTTP/2.0\r"),
        WS_E_HTTP_VERSION_UNSUPPORTED, 505, false),
    BAD("no version", "GET /chat\r\n" GOOD END, AT("GET /chat\r"), WS_E_HTTP_SYNTAX, 400, false),
    BAD("two spaces", "GET  /chat HTTP/1.1\r\n" GOOD END, AT("GET  /chat HTTP/1.1\r"),
        WS_E_HTTP_SYNTAX, 400, false),
    BAD("trailing space", "GET /chat HTTP/1.1 \r\n" GOOD END, AT("GET /chat HTTP/1.1 \r"),
        WS_E_HTTP_SYNTAX, 400, false),
    BAD("lower-case http", "GET /chat http/1.1\r\n" GOOD END, AT("GET /chat http/1.1\r"),
        WS_E_HTTP_SYNTAX, 400, false),
    BAD("two-digit minor", "GET /chat HTTP/1.10\r\n" GOOD END, AT("GET /chat HTTP/1.10\r"),
        WS_E_HTTP_SYNTAX, 400, false),
    BAD("HTAB as separator", "GET\t/chat HTTP/1.1\r\n" GOOD END, AT("GET\t/chat HTTP/1.1\r"),
        WS_E_HTTP_SYNTAX, 400, false),
    /* RFC 9112 §2.2: empty lines before the request line are ignored. */
    {"empty line before the request line", "\r\n" MINIMAL, sizeof("\r\n" MINIMAL) - 1, WHOLE, WS_OK,
     0, false, false},
    {"two empty lines before the request line", "\r\n\r\n" MINIMAL, sizeof("\r\n\r\n" MINIMAL) - 1,
     WHOLE, WS_OK, 0, false, false},
    BAD("bare LF before the request line", "\n" MINIMAL, 0, WS_E_HTTP_SYNTAX, 400, false),
    BAD("method not a token", "G(T /chat HTTP/1.1\r\n" GOOD END, AT("G(T /chat HTTP/1.1\r"),
        WS_E_HTTP_SYNTAX, 400, true),
    BAD("target without slash", "GET chat HTTP/1.1\r\n" GOOD END, AT("GET chat HTTP/1.1\r"),
        WS_E_HTTP_SYNTAX, 400, true),
    BAD("asterisk target", "GET * HTTP/1.1\r\n" GOOD END, AT("GET * HTTP/1.1\r"), WS_E_HTTP_SYNTAX,
        400, true),
    BAD("fragment in target", "GET /chat#x HTTP/1.1\r\n" GOOD END, AT("GET /chat#x HTTP/1.1\r"),
        WS_E_HTTP_SYNTAX, 400, true),
    BAD("non-ASCII target", "GET /caf\xC3\xA9 HTTP/1.1\r\n" GOOD END,
        AT("GET /caf\xC3\xA9 HTTP/1.1\r"), WS_E_HTTP_SYNTAX, 400, true),
    BAD("absolute-form, other scheme", "GET ftp://a/chat HTTP/1.1\r\n" GOOD END,
        AT("GET ftp://a/chat HTTP/1.1\r"), WS_E_HTTP_SYNTAX, 400, true),
    BAD("absolute-form, no authority", "GET http:///chat HTTP/1.1\r\n" GOOD END,
        AT("GET http:///chat HTTP/1.1\r"), WS_E_HTTP_SYNTAX, 400, true),

    /* Required headers. */
    BAD("no Host", RL UPG CONN KEY VER END, BUT_LAST, WS_E_HTTP_HOST, 400, true),
    BAD("two Hosts", RL GOOD "Host: other.example.com\r\n" END, BUT_LAST, WS_E_HTTP_HOST, 400,
        true),
    BAD("empty Host", RL "Host: \r\n" UPG CONN KEY VER END, BUT_LAST, WS_E_HTTP_HOST, 400, true),
    /* Host is uri-host [":" port] (RFC 9110 §7.2): nothing else passes. */
    BAD("Host with user info and a path", RL "Host: u@evil/x\r\n" UPG CONN KEY VER END, BUT_LAST,
        WS_E_HTTP_HOST, 400, true),
    BAD("Host that is a list", RL "Host: a b, c\r\n" UPG CONN KEY VER END, BUT_LAST, WS_E_HTTP_HOST,
        400, true),
    BAD("Host with an empty label", RL "Host: a..b\r\n" UPG CONN KEY VER END, BUT_LAST,
        WS_E_HTTP_HOST, 400, true),
    BAD("Host with port 0", RL "Host: h:0\r\n" UPG CONN KEY VER END, BUT_LAST, WS_E_HTTP_HOST, 400,
        true),
    BAD("Host with an empty port", RL "Host: h:\r\n" UPG CONN KEY VER END, BUT_LAST, WS_E_HTTP_HOST,
        400, true),
    BAD("Host with a broken IPv6 literal", RL "Host: [::1\r\n" UPG CONN KEY VER END, BUT_LAST,
        WS_E_HTTP_HOST, 400, true),
    OK_CASE("Host with an IPv6 literal and port", RL "Host: [::1]:8080\r\n" UPG CONN KEY VER END,
            WHOLE),
    OK_CASE("Host that is a rooted name", RL "Host: example.com.\r\n" UPG CONN KEY VER END, WHOLE),
    BAD("absolute-form with user info", "GET http://u@h/chat HTTP/1.1\r\n" GOOD END,
        AT("GET http://u@h/chat HTTP/1.1\r"), WS_E_HTTP_SYNTAX, 400, true),
    BAD("no Upgrade", RL HOST CONN KEY VER END, BUT_LAST, WS_E_HTTP_UPGRADE, 400, true),
    BAD("Upgrade: websocketx", RL HOST "Upgrade: websocketx\r\n" CONN KEY VER END, BUT_LAST,
        WS_E_HTTP_UPGRADE, 400, true),
    BAD("Upgrade: h2c", RL HOST "Upgrade: h2c\r\n" CONN KEY VER END, BUT_LAST, WS_E_HTTP_UPGRADE,
        400, true),
    BAD("no Connection", RL HOST UPG KEY VER END, BUT_LAST, WS_E_HTTP_CONNECTION, 400, true),
    BAD("Connection: upgradex", RL HOST UPG "Connection: upgradex\r\n" KEY VER END, BUT_LAST,
        WS_E_HTTP_CONNECTION, 400, true),
    BAD("Connection: keep-alive", RL HOST UPG "Connection: keep-alive\r\n" KEY VER END, BUT_LAST,
        WS_E_HTTP_CONNECTION, 400, true),
    BAD("no key", RL HOST UPG CONN VER END, BUT_LAST, WS_E_HTTP_KEY, 400, true),
    BAD("two keys", RL GOOD "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" END, BUT_LAST,
        WS_E_HTTP_KEY, 400, true),
    BAD("key without padding",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" VER END, BUT_LAST,
        WS_E_HTTP_KEY, 400, true),
    BAD("key of 17 bytes",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZSE=\r\n" VER END, BUT_LAST,
        WS_E_HTTP_KEY, 400, true),
    BAD("key with bits past the 16 bytes",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n" VER END, BUT_LAST,
        WS_E_HTTP_KEY, 400, true),
    BAD("key with padding inside",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j=Q==\r\n" VER END, BUT_LAST,
        WS_E_HTTP_KEY, 400, true),
    BAD("key of 16 bytes and one pad",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n" VER END, BUT_LAST,
        WS_E_HTTP_KEY, 400, true),
    BAD("key not base64",
        RL HOST UPG CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!==\r\n" VER END, BUT_LAST,
        WS_E_HTTP_KEY, 400, true),
    BAD("empty key", RL HOST UPG CONN "Sec-WebSocket-Key:\r\n" VER END, BUT_LAST, WS_E_HTTP_KEY,
        400, true),
    BAD("no version header", RL HOST UPG CONN KEY END, BUT_LAST, WS_E_HTTP_WS_VERSION, 426, true),
    BAD("version 8", RL HOST UPG CONN KEY "Sec-WebSocket-Version: 8\r\n" END, BUT_LAST,
        WS_E_HTTP_WS_VERSION, 426, true),
    BAD("version list", RL HOST UPG CONN KEY "Sec-WebSocket-Version: 13, 8\r\n" END, BUT_LAST,
        WS_E_HTTP_WS_VERSION, 426, true),
    BAD("version repeated", RL GOOD VER END, BUT_LAST, WS_E_HTTP_WS_VERSION, 426, true),
    BAD("old client (version before key)",
        RL HOST UPG CONN
        "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nSec-WebSocket-Version: 8\r\n" END,
        BUT_LAST, WS_E_HTTP_WS_VERSION, 426, true),
    BAD("Transfer-Encoding", RL GOOD "Transfer-Encoding: chunked\r\n" END, BUT_LAST,
        WS_E_HTTP_SYNTAX, 400, true),
    BAD("Content-Length: 5", RL GOOD "Content-Length: 5\r\n" END, BUT_LAST, WS_E_HTTP_SYNTAX, 400,
        true),

    /* Header syntax. */
    BAD("space before colon", RL "Host : server.example.com\r\n" UPG CONN KEY VER END,
        AT(RL "Host : server.example.com\r"), WS_E_HTTP_SYNTAX, 400, true),
    BAD("empty name", RL GOOD ": value\r\n" END, AT(RL GOOD ": value\r"), WS_E_HTTP_SYNTAX, 400,
        true),
    BAD("name with a separator", RL GOOD "X(y): 1\r\n" END, AT(RL GOOD "X(y): 1\r"),
        WS_E_HTTP_SYNTAX, 400, true),
    BAD("name with a space", RL GOOD "X y: 1\r\n" END, AT(RL GOOD "X y: 1\r"), WS_E_HTTP_SYNTAX,
        400, true),
    BAD("no colon", RL GOOD "NoColon\r\n" END, AT(RL GOOD "NoColon\r"), WS_E_HTTP_SYNTAX, 400,
        false),
    BAD("obs-fold", RL HOST "X-Folded: a\r\n b\r\n" UPG CONN KEY VER END,
        AT(RL HOST "X-Folded: a\r\n"), WS_E_HTTP_SYNTAX, 400, false),
    BAD("obs-fold with HTAB", RL HOST "X-Folded: a\r\n\tb\r\n" UPG CONN KEY VER END,
        AT(RL HOST "X-Folded: a\r\n"), WS_E_HTTP_SYNTAX, 400, false),
    BAD("whitespace before the first header", RL " " GOOD END, AT(RL), WS_E_HTTP_SYNTAX, 400,
        false),
    BAD("NUL in a value",
        RL GOOD "X-Nul: a\0"
                "b\r\n" END,
        AT(RL GOOD "X-Nul: a"), WS_E_HTTP_SYNTAX, 400, true),
    BAD("control byte in a value",
        RL GOOD "X-Ctl: a\x01"
                "b\r\n" END,
        AT(RL GOOD "X-Ctl: a"), WS_E_HTTP_SYNTAX, 400, true),
    BAD("DEL in a value",
        RL GOOD "X-Del: a\x7F"
                "b\r\n" END,
        AT(RL GOOD "X-Del: a"), WS_E_HTTP_SYNTAX, 400, true),
    BAD("NUL in the request line", "GET /c\0hat HTTP/1.1\r\n" GOOD END, AT("GET /c"),
        WS_E_HTTP_SYNTAX, 400, false),
    BAD("bare LF ends the request line", "GET /chat HTTP/1.1\n" GOOD END, AT("GET /chat HTTP/1.1"),
        WS_E_HTTP_SYNTAX, 400, false),
    BAD("bare LF ends a header", RL "Host: a\n" UPG CONN KEY VER END, AT(RL "Host: a"),
        WS_E_HTTP_SYNTAX, 400, false),
    BAD("bare LF ends the head", RL GOOD "\n", AT(RL GOOD), WS_E_HTTP_SYNTAX, 400, false),
    BAD("bare CR in the request line", "GET /chat\rHTTP/1.1\r\n" GOOD END, AT("GET /chat\r"),
        WS_E_HTTP_SYNTAX, 400, false),
    BAD("bare CR in a header", RL "Host: a\rb\r\n" UPG CONN KEY VER END, AT(RL "Host: a\r"),
        WS_E_HTTP_SYNTAX, 400, false),
    BAD("CR CR LF at the end", RL GOOD "\r\r\n", AT(RL GOOD "\r"), WS_E_HTTP_SYNTAX, 400, false),
};

#define NCASES (sizeof cases / sizeof cases[0])

/* ---- running a case ----------------------------------------------------------------- */

#define HEAD_CAP          8192
#define MAX_HEADERS       64
#define WS_TEST_MIN(a, b) ((a) < (b) ? (a) : (b))

typedef struct fixture {
    ws_handshake hs;
    uint8_t head[HEAD_CAP];
    ws_header headers[MAX_HEADERS];
} fixture;

typedef struct outcome {
    int rc;
    int status;
    size_t consumed; /* absolute: from the start of the input */
} outcome;

static void start(fixture *f, const server_case *c)
{
    ws_http_limits limits;

    ws_http_limits_init(&limits);
    limits.allow_bare_lf = c->bare_lf;
    ws_handshake_server_init(&f->hs, &limits, f->head, sizeof f->head, f->headers, MAX_HEADERS);
}

/* Feeds in[0..len) in pieces that end at the given cut points (then the rest). */
static outcome feed_cuts(fixture *f, const server_case *c, const size_t *cuts, size_t ncuts)
{
    const uint8_t *in = (const uint8_t *)c->input;
    size_t from = 0, i;
    outcome o = {WS_E_AGAIN, 0, 0};

    start(f, c);
    for (i = 0; i <= ncuts && o.rc == WS_E_AGAIN; i++) {
        size_t to = i < ncuts ? cuts[i] : c->len, used = 99999;
        o.rc = ws_handshake_server_feed(&f->hs, in + from, to - from, &used);
        if (o.rc == WS_E_AGAIN)
            assert_int_equal(used, to - from); /* all of it was taken */
        else
            assert_true(used <= to - from);
        o.consumed = from + used;
        from = to;
    }
    o.status = ws_handshake_status(&f->hs);
    return o;
}

static outcome feed_whole(fixture *f, const server_case *c)
{
    return feed_cuts(f, c, NULL, 0);
}

static outcome feed_bytewise(fixture *f, const server_case *c)
{
    const uint8_t *in = (const uint8_t *)c->input;
    size_t i, used;
    outcome o = {WS_E_AGAIN, 0, 0};

    start(f, c);
    for (i = 0; i < c->len && o.rc == WS_E_AGAIN; i++) {
        o.rc = ws_handshake_server_feed(&f->hs, in + i, 1, &used);
        o.consumed = i + used;
        /* One byte scanned per call; a byte that completes a line is kept even when the
         * line then fails. */
        if (o.rc == WS_E_AGAIN || o.rc == WS_OK)
            assert_int_equal(f->hs.http.len, i + 1);
        else
            assert_true(f->hs.http.len == i || f->hs.http.len == i + 1);
    }
    o.status = ws_handshake_status(&f->hs);
    return o;
}

static size_t expected_at(const server_case *c)
{
    if (c->at == WHOLE)
        return c->len;
    if (c->at == BUT_LAST)
        return c->len - 1;
    return (size_t)c->at;
}

static void check_outcome(const server_case *c, outcome o, const char *how)
{
    if (o.rc != c->result || o.status != c->status || o.consumed != expected_at(c))
        print_message("case \"%s\" (%s): rc %d status %d consumed %zu, want %d %d %zu\n", c->name,
                      how, o.rc, o.status, o.consumed, c->result, c->status, expected_at(c));
    assert_int_equal(o.rc, c->result);
    assert_int_equal(o.status, c->status);
    assert_int_equal(o.consumed, expected_at(c));
}

static bool span_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (a == NULL || b == NULL)
        return a == b && alen == blen;
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Two parsed requests say the same thing. */
static void assert_same_request(const ws_request *a, const ws_request *b)
{
    size_t i;

    assert_true(span_eq(a->method, a->method_len, b->method, b->method_len));
    assert_true(span_eq(a->target, a->target_len, b->target, b->target_len));
    assert_true(span_eq(a->path, a->path_len, b->path, b->path_len));
    assert_true(span_eq(a->query, a->query_len, b->query, b->query_len));
    assert_int_equal(a->version_minor, b->version_minor);
    assert_true(span_eq(a->host, a->host_len, b->host, b->host_len));
    assert_true(span_eq(a->origin, a->origin_len, b->origin, b->origin_len));
    assert_true(span_eq(a->key, a->key_len, b->key, b->key_len));
    assert_int_equal(a->header_count, b->header_count);
    for (i = 0; i < a->header_count; i++) {
        assert_true(span_eq(a->headers[i].name, a->headers[i].name_len, b->headers[i].name,
                            b->headers[i].name_len));
        assert_true(span_eq(a->headers[i].value, a->headers[i].value_len, b->headers[i].value,
                            b->headers[i].value_len));
    }
}

static void assert_str(const char *p, size_t len, const char *want)
{
    if (p == NULL || len != strlen(want) || memcmp(p, want, len) != 0) {
        print_message("got \"%.*s\", want \"%s\"\n", p ? (int)len : 6, p ? p : "(null)", want);
        fail();
    }
}

static void assert_bytes(const uint8_t *p, size_t len, const char *want, size_t want_len)
{
    if (len != want_len || memcmp(p, want, len) != 0) {
        print_message("got:\n%.*s\nwant:\n%.*s\n", (int)len, (const char *)p, (int)want_len, want);
        fail();
    }
}

/* ---- the table, fed every way --------------------------------------------------------- */

static void test_table_whole(void **state)
{
    static fixture f;
    size_t i;

    (void)state;
    for (i = 0; i < NCASES; i++) {
        outcome o = feed_whole(&f, &cases[i]);
        check_outcome(&cases[i], o, "whole");
        if (o.rc == WS_OK)
            assert_non_null(ws_handshake_request(&f.hs));
        else
            assert_null(ws_handshake_request(&f.hs));
    }
}

static void test_table_bytewise(void **state)
{
    static fixture f, ref;
    size_t i;

    (void)state;
    for (i = 0; i < NCASES; i++) {
        outcome o = feed_bytewise(&f, &cases[i]);
        check_outcome(&cases[i], o, "byte by byte");
        if (o.rc == WS_OK) {
            (void)feed_whole(&ref, &cases[i]);
            assert_same_request(ws_handshake_request(&f.hs), ws_handshake_request(&ref.hs));
        }
    }
}

static void test_table_every_split(void **state)
{
    static fixture f, ref;
    size_t i, at;

    (void)state;
    for (i = 0; i < NCASES; i++) {
        (void)feed_whole(&ref, &cases[i]);
        for (at = 0; at <= cases[i].len; at++) {
            outcome o = feed_cuts(&f, &cases[i], &at, 1);
            check_outcome(&cases[i], o, "split in two");
            if (o.rc == WS_OK)
                assert_same_request(ws_handshake_request(&f.hs), ws_handshake_request(&ref.hs));
        }
    }
}

/* Errors are sticky; bytes after them are not looked at. */
static void test_errors_are_sticky(void **state)
{
    static fixture f;
    static const server_case post =
        BAD("POST", "POST / HTTP/1.1\r\n", WHOLE, WS_E_HTTP_METHOD, 405, true);
    size_t used = 1;

    (void)state;
    assert_int_equal(feed_whole(&f, &post).rc, WS_E_HTTP_METHOD);
    assert_int_equal(
        ws_handshake_server_feed(&f.hs, (const uint8_t *)MINIMAL, sizeof MINIMAL - 1, &used),
        WS_E_HTTP_METHOD);
    assert_int_equal(used, 0);
    assert_int_equal(ws_handshake_status(&f.hs), 405);

    /* After a valid head, more input is not the handshake's business. */
    assert_int_equal(feed_whole(&f, &cases[0]).rc, WS_OK);
    assert_int_equal(ws_handshake_server_feed(&f.hs, (const uint8_t *)"x", 1, &used), WS_E_STATE);
    assert_int_equal(used, 0);
}

/* ---- every field of a parsed request ------------------------------------------------ */

static void test_browser_request_fields(void **state)
{
    static fixture f;
    const server_case *c = &cases[1];
    const ws_request *r;
    const char *v;
    size_t vlen;

    (void)state;
    assert_string_equal(c->name, "browser request");
    assert_int_equal(feed_whole(&f, c).rc, WS_OK);
    r = ws_handshake_request(&f.hs);
    assert_non_null(r);
    assert_str(r->method, r->method_len, "GET");
    assert_str(r->target, r->target_len, "/chat?room=lobby&x=1");
    assert_str(r->path, r->path_len, "/chat");
    assert_str(r->query, r->query_len, "room=lobby&x=1");
    assert_int_equal(r->version_minor, 1);
    assert_str(r->host, r->host_len, "example.com:8080");
    assert_str(r->origin, r->origin_len, "https://example.com");
    assert_str(r->key, r->key_len, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_int_equal(r->header_count, 14);
    assert_ptr_equal(r->headers, f.headers);
    assert_str(r->headers[0].name, r->headers[0].name_len, "Host");
    assert_str(r->headers[4].name, r->headers[4].name_len, "User-Agent");
    assert_str(r->headers[4].value, r->headers[4].value_len,
               "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/120.0.0.0 Safari/537.36");
    assert_str(r->headers[13].name, r->headers[13].name_len, "Sec-WebSocket-Protocol");
    assert_str(r->headers[13].value, r->headers[13].value_len, "chat, superchat");
    /* The http layer's readers work on what the handshake parsed. */
    assert_true(ws_request_offers_subprotocol(r, "superchat", 9));
    assert_false(ws_request_offers_subprotocol(r, "chat, superchat", 15));
    assert_true(ws_request_cookie(r, "theme", &v, &vlen));
    assert_str(v, vlen, "dark");
    assert_true(ws_request_query_param(r, "room", &v, &vlen));
    assert_str(v, vlen, "lobby");
}

static void test_request_field_edges(void **state)
{
    static fixture f;
    static const server_case plain = OK_CASE("plain", MINIMAL, WHOLE);
    static const server_case trimmed = OK_CASE("trimmed",
                                               "GET /a? HTTP/1.1\r\n"
                                               "Host:\t  h  \t\r\n" UPG CONN KEY VER END,
                                               WHOLE);
    static const server_case absolute = OK_CASE("absolute",
                                                "GET HTTPS://h.example?x=1 "
                                                "HTTP/1.1\r\n" GOOD END,
                                                WHOLE);
    static const server_case absolute_port = OK_CASE("absolute with a port",
                                                     "GET http://victim.example:8080/x "
                                                     "HTTP/1.1\r\n" GOOD END,
                                                     WHOLE);
    const ws_request *r;

    (void)state;
    assert_int_equal(feed_whole(&f, &plain).rc, WS_OK);
    r = ws_handshake_request(&f.hs);
    assert_str(r->path, r->path_len, "/chat");
    assert_null(r->query);
    assert_null(r->origin);
    assert_int_equal(r->origin_len, 0);

    assert_int_equal(feed_whole(&f, &trimmed).rc, WS_OK);
    r = ws_handshake_request(&f.hs);
    assert_str(r->host, r->host_len, "h");
    assert_str(r->path, r->path_len, "/a");
    assert_non_null(r->query); /* "?" with nothing after it is an empty query */
    assert_int_equal(r->query_len, 0);

    assert_int_equal(feed_whole(&f, &absolute).rc, WS_OK);
    r = ws_handshake_request(&f.hs);
    assert_str(r->target, r->target_len, "HTTPS://h.example?x=1");
    assert_str(r->path, r->path_len, "/");
    assert_str(r->query, r->query_len, "x=1");
    /* RFC 9112 §3.2.2: the target's authority is the host, not the Host header. */
    assert_str(r->host, r->host_len, "h.example");
    assert_int_equal(feed_whole(&f, &absolute_port).rc, WS_OK);
    r = ws_handshake_request(&f.hs);
    assert_str(r->host, r->host_len, "victim.example:8080");
    assert_str(r->path, r->path_len, "/x");
}

/* ---- the hand-off, with the same table ------------------------------------------------ */

/* What a host's own HTTP parser would hand over for a case: a small parser of the test's
 * own, trusted only with the cases marked handoff. */
typedef struct parsed {
    const char *method, *target;
    size_t method_len, target_len;
    int minor;
    ws_header headers[MAX_HEADERS];
    size_t count;
} parsed;

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++) {
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    }
    return NULL;
}

static void host_parse(const server_case *c, parsed *out)
{
    const char *p = c->input, *end = c->input + c->len, *eol, *sp1, *sp2;

    eol = find_crlf(p, end);
    assert_non_null(eol);
    sp1 = memchr(p, ' ', (size_t)(eol - p));
    for (sp2 = eol - 1; *sp2 != ' '; sp2--)
        ;
    assert_true(sp1 != NULL && sp1 < sp2 && eol - sp2 == 9);
    out->method = p;
    out->method_len = (size_t)(sp1 - p);
    out->target = sp1 + 1;
    out->target_len = (size_t)(sp2 - (sp1 + 1));
    out->minor = sp2[8] - '0';
    out->count = 0;
    for (p = eol + 2; (eol = find_crlf(p, end)) != p; p = eol + 2) {
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        assert_non_null(colon);
        out->headers[out->count].name = p;
        out->headers[out->count].name_len = (size_t)(colon - p);
        out->headers[out->count].value = colon + 1;
        out->headers[out->count].value_len = (size_t)(eol - (colon + 1));
        out->count++;
    }
}

static void test_handoff_table(void **state)
{
    static fixture f, ref;
    static parsed req;
    size_t i, tested = 0;

    (void)state;
    for (i = 0; i < NCASES; i++) {
        const server_case *c = &cases[i];
        int rc;

        if (!c->handoff)
            continue;
        host_parse(c, &req);
        start(&f, c);
        rc = ws_handshake_server_handoff(&f.hs, req.method, req.method_len, req.target,
                                         req.target_len, req.minor, req.headers, req.count);
        if (rc != c->result)
            print_message("hand-off of \"%s\": %d, want %d\n", c->name, rc, c->result);
        assert_int_equal(rc, c->result);
        assert_int_equal(ws_handshake_status(&f.hs), c->status);
        if (rc == WS_OK) {
            (void)feed_whole(&ref, c);
            assert_same_request(ws_handshake_request(&f.hs), ws_handshake_request(&ref.hs));
            /* Copied: the request does not point into the caller's storage. */
            assert_true(ws_handshake_request(&f.hs)->method >= (const char *)f.head &&
                        ws_handshake_request(&f.hs)->method < (const char *)f.head + HEAD_CAP);
        }
        tested++;
    }
    assert_true(tested > 40);
}

static void test_handoff_limits_and_state(void **state)
{
    static fixture f;
    static const server_case plain = OK_CASE("plain", MINIMAL, WHOLE);
    static parsed req;
    static char target[300];
    ws_http_limits limits;
    size_t used;

    (void)state;
    host_parse(&plain, &req);

    /* The request line limit, counted as "GET <target> HTTP/1.1". */
    ws_http_limits_init(&limits);
    limits.max_request_line = 100;
    memset(target, 'a', sizeof target);
    target[0] = '/';
    ws_handshake_server_init(&f.hs, &limits, f.head, HEAD_CAP, f.headers, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_server_handoff(&f.hs, "GET", 3, target, 87, 1, req.headers, req.count), WS_OK);
    ws_handshake_server_init(&f.hs, &limits, f.head, HEAD_CAP, f.headers, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_server_handoff(&f.hs, "GET", 3, target, 88, 1, req.headers, req.count),
        WS_E_HTTP_URI_TOO_LONG);
    assert_int_equal(ws_handshake_status(&f.hs), 414);

    /* The header count and the head buffer. */
    ws_handshake_server_init(&f.hs, NULL, f.head, HEAD_CAP, f.headers, req.count - 1);
    assert_int_equal(
        ws_handshake_server_handoff(&f.hs, "GET", 3, "/", 1, 1, req.headers, req.count),
        WS_E_HTTP_HEADERS_TOO_LARGE);
    ws_handshake_server_init(&f.hs, NULL, f.head, 64, f.headers, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_server_handoff(&f.hs, "GET", 3, "/", 1, 1, req.headers, req.count),
        WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(ws_handshake_status(&f.hs), 431);
    assert_true(f.hs.http.len <= 64);

    /* Not after bytes were fed; a NULL with a length is the caller's mistake. */
    ws_handshake_server_init(&f.hs, NULL, f.head, HEAD_CAP, f.headers, MAX_HEADERS);
    assert_int_equal(ws_handshake_server_feed(&f.hs, (const uint8_t *)"G", 1, &used), WS_E_AGAIN);
    assert_int_equal(
        ws_handshake_server_handoff(&f.hs, "GET", 3, "/", 1, 1, req.headers, req.count),
        WS_E_STATE);
    ws_handshake_server_init(&f.hs, NULL, f.head, HEAD_CAP, f.headers, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_server_handoff(&f.hs, "GET", 3, NULL, 1, 1, req.headers, req.count),
        WS_E_INVALID);
    assert_int_equal(
        ws_handshake_server_handoff(&f.hs, "GET", 3, "/", 1, 1, req.headers, req.count), WS_OK);
}

/* ---- responses -------------------------------------------------------------------- */

static void test_accept_rfc_example(void **state)
{
    static fixture f;
    static const char want[] = "HTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
                               "\r\n";
    uint8_t out[512];
    size_t len = 0, cap;

    (void)state;
    assert_int_equal(feed_whole(&f, &cases[0]).rc, WS_OK);
    assert_int_equal(ws_handshake_accept(&f.hs, NULL, out, sizeof out, &len), WS_OK);
    assert_bytes(out, len, want, sizeof want - 1);

    /* Every smaller buffer is refused, the exact size is enough. */
    for (cap = 0; cap < sizeof want - 1; cap++)
        assert_int_equal(ws_handshake_accept(&f.hs, NULL, out, cap, &len), WS_E_BUFFER);
    assert_int_equal(ws_handshake_accept(&f.hs, NULL, out, sizeof want - 1, &len), WS_OK);
    assert_int_equal(len, sizeof want - 1);
}

static void test_accept_with_options(void **state)
{
    static fixture f;
    static const char want[] =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
        "Sec-WebSocket-Protocol: superchat\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n"
        "Set-Cookie: id=1\r\n"
        "X-Server: libws\r\n"
        "\r\n";
    static const ws_header extra[] = {{"Set-Cookie", 10, "id=1", 4}, {"X-Server", 8, "libws", 5}};
    ws_accept_opts opts = {"superchat", "permessage-deflate; client_max_window_bits=15", extra, 2};
    uint8_t out[1024];
    size_t len = 0;

    (void)state;
    assert_int_equal(feed_whole(&f, &cases[1]).rc, WS_OK); /* offers chat, superchat */
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len), WS_OK);
    assert_bytes(out, len, want, sizeof want - 1);
}

static void test_accept_refusals(void **state)
{
    static fixture f;
    static const ws_header crlf[] = {{"X-Evil", 6, "a\r\nSet-Cookie: x", 16}};
    static const ws_header nul[] = {{"X-Nul", 5, "a\0b", 3}};
    static const ws_header bad_name[] = {{"X Evil", 6, "a", 1}};
    static const ws_header ours[] = {{"connection", 10, "close", 5}};
    static const ws_header length[] = {{"Content-Length", 14, "0", 1}};
    static const ws_header coding[] = {{"transfer-encoding", 17, "chunked", 7}};
    static const char odd[] =
        RL HOST UPG CONN KEY VER "Sec-WebSocket-Protocol: x/y, a b, chat\r\n" END;
    static const server_case odd_offer = {"odd offer", odd, sizeof odd - 1, WHOLE,
                                          WS_OK,       0,   false,          false};
    ws_accept_opts opts = {NULL, NULL, NULL, 0};
    uint8_t out[1024];
    size_t len;

    (void)state;
    /* Before a valid request there is nothing to accept. */
    ws_handshake_server_init(&f.hs, NULL, f.head, HEAD_CAP, f.headers, MAX_HEADERS);
    assert_int_equal(ws_handshake_accept(&f.hs, NULL, out, sizeof out, &len), WS_E_STATE);

    assert_int_equal(feed_whole(&f, &cases[1]).rc, WS_OK);
    opts.subprotocol = "mqtt"; /* offered: chat, superchat */
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len),
                     WS_E_HTTP_SUBPROTOCOL);
    opts.subprotocol = "Chat"; /* exact match only */
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len),
                     WS_E_HTTP_SUBPROTOCOL);
    opts.subprotocol = "";
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len),
                     WS_E_HTTP_SUBPROTOCOL);
    opts.subprotocol = NULL;
    opts.extensions = "x-unknown";
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len), WS_E_HTTP_EXTENSION);
    opts.extensions = "permessage-deflate\r\nX: y";
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len), WS_E_INVALID);
    opts.extensions = NULL;
    opts.headers = crlf;
    opts.header_count = 1;
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len), WS_E_INVALID);
    opts.headers = nul;
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len), WS_E_INVALID);
    opts.headers = bad_name;
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len), WS_E_INVALID);
    opts.headers = ours;
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len), WS_E_INVALID);
    /* A 101 has no content: a length or a coding would make a proxy read frames as a body. */
    opts.headers = length;
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len), WS_E_INVALID);
    opts.headers = coding;
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len), WS_E_INVALID);

    /* An offered element that is not a token is never echoed. */
    assert_int_equal(feed_whole(&f, &odd_offer).rc, WS_OK);
    opts.headers = NULL;
    opts.header_count = 0;
    opts.subprotocol = "x/y";
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len),
                     WS_E_HTTP_SUBPROTOCOL);
    opts.subprotocol = "a b";
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len),
                     WS_E_HTTP_SUBPROTOCOL);
    opts.subprotocol = "chat";
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len), WS_OK);

    /* The request offered no subprotocol at all. */
    assert_int_equal(feed_whole(&f, &cases[2]).rc, WS_OK);
    opts.headers = NULL;
    opts.header_count = 0;
    opts.subprotocol = "chat";
    assert_int_equal(ws_handshake_accept(&f.hs, &opts, out, sizeof out, &len),
                     WS_E_HTTP_SUBPROTOCOL);
}

/* The answer to each failed request: status line, headers and a body naming the problem. */
typedef struct error_answer {
    const char *request;
    size_t len;
    const char *status_line;
    const char *extra; /* headers after Content-Length */
    const char *message;
} error_answer;

#define ANSWER(req, status_line, extra, message)                                                   \
    {                                                                                              \
        req, sizeof(req) - 1, status_line, extra, TEST_MESSAGE(message)                            \
    }

static const error_answer answers[] = {
    ANSWER("POST /chat HTTP/1.1\r\n", "HTTP/1.1 405 " TEST_PHRASE("Method Not Allowed") "\r\n",
           "Allow: GET\r\n", "method is not GET"),
    ANSWER(RL HOST UPG CONN KEY "Sec-WebSocket-Version: 8\r\n" END,
           "HTTP/1.1 426 " TEST_PHRASE("Upgrade Required") "\r\n", "Sec-WebSocket-Version: 13\r\n",
           "Sec-WebSocket-Version is not 13"),
    ANSWER(RL UPG CONN KEY VER END, "HTTP/1.1 400 " TEST_PHRASE("Bad Request") "\r\n", "",
           "Host header missing, repeated or invalid"),
    ANSWER("GET /chat HTTP/2.0\r\n",
           "HTTP/1.1 505 " TEST_PHRASE("HTTP Version Not Supported") "\r\n", "",
           "HTTP major version not supported"),
};

static void test_error_responses(void **state)
{
    static fixture f;
    uint8_t out[1024];
    size_t i, len = 0;

    (void)state;
    ws_handshake_server_init(&f.hs, NULL, f.head, HEAD_CAP, f.headers, MAX_HEADERS);
    assert_int_equal(ws_handshake_error_response(&f.hs, out, sizeof out, &len), WS_E_STATE);
    for (i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        char want[512];
        size_t used, want_len;
        want_len = (size_t)snprintf(want, sizeof want,
                                    "%sConnection: close\r\nContent-Type: text/plain\r\n"
                                    "Content-Length: %zu\r\n%s\r\n%s\n",
                                    answers[i].status_line, strlen(answers[i].message) + 1,
                                    answers[i].extra, answers[i].message);
        ws_handshake_server_init(&f.hs, NULL, f.head, HEAD_CAP, f.headers, MAX_HEADERS);
        assert_true(ws_handshake_server_feed(&f.hs, (const uint8_t *)answers[i].request,
                                             answers[i].len, &used) < WS_E_AGAIN);
        assert_int_equal(ws_handshake_error_response(&f.hs, out, sizeof out, &len), WS_OK);
        assert_bytes(out, len, want, want_len);
        assert_int_equal(ws_handshake_error_response(&f.hs, out, want_len - 1, &len), WS_E_BUFFER);
    }
}

static void test_reject(void **state)
{
    static fixture f;
    static const ws_header www[] = {{"WWW-Authenticate", 16, "Bearer", 6}};
    static const ws_header json[] = {{"Content-Type", 12, "application/json", 16}};
    static const ws_header length[] = {{"Content-Length", 14, "0", 1}};
    static const ws_header crlf[] = {{"X-A", 3, "1\r\n", 3}};
    static const char want_401[] =
        "HTTP/1.1 401 " TEST_PHRASE("Unauthorized") "\r\n"
                                                    "Connection: close\r\n"
                                                    "Content-Type: text/plain\r\n"
                                                    "Content-Length: 13\r\n"
                                                    "WWW-Authenticate: Bearer\r\n"
                                                    "\r\n"
                                                    "token expired";
    static const char want_503[] =
        "HTTP/1.1 503 " TEST_PHRASE("Service Unavailable") "\r\n"
                                                           "Connection: close\r\n"
                                                           "Content-Length: 0\r\n"
                                                           "\r\n";
    static const char want_json[] =
        "HTTP/1.1 403 " TEST_PHRASE("Forbidden") "\r\n"
                                                 "Connection: close\r\n"
                                                 "Content-Length: 2\r\n"
                                                 "Content-Type: application/json\r\n"
                                                 "\r\n"
                                                 "{}";
    static const char want_unknown[] = "HTTP/1.1 499 \r\n" /* unregistered: empty phrase */
                                       "Connection: close\r\n"
                                       "Content-Length: 0\r\n"
                                       "\r\n";
    static const char want_204[] = "HTTP/1.1 204 " TEST_PHRASE("No Content") "\r\n"
                                                                             "Connection: close\r\n"
                                                                             "\r\n";
    static const char want_304[] =
        "HTTP/1.1 304 " TEST_PHRASE("Not Modified") "\r\n"
                                                    "Connection: close\r\n"
                                                    "\r\n";
    static const struct {
        int status;
        const char *phrase;
    } phrases[] = {{201, TEST_PHRASE("Created")},
                   {206, TEST_PHRASE("Partial Content")},
                   {302, TEST_PHRASE("Found")},
                   {307, TEST_PHRASE("Temporary Redirect")},
                   {402, TEST_PHRASE("Payment Required")},
                   {407, TEST_PHRASE("Proxy Authentication Required")},
                   {408, TEST_PHRASE("Request Timeout")},
                   {421, TEST_PHRASE("Misdirected Request")},
                   {422, TEST_PHRASE("Unprocessable Content")},
                   {451, TEST_PHRASE("Unavailable For Legal Reasons")},
                   {503, TEST_PHRASE("Service Unavailable")},
                   {511, TEST_PHRASE("Network Authentication Required")},
                   {400, TEST_PHRASE("Bad Request")},
                   {401, TEST_PHRASE("Unauthorized")},
                   {403, TEST_PHRASE("Forbidden")},
                   {405, TEST_PHRASE("Method Not Allowed")},
                   {414, TEST_PHRASE("URI Too Long")},
                   {426, TEST_PHRASE("Upgrade Required")},
                   {431, TEST_PHRASE("Request Header Fields Too Large")},
                   {500, TEST_PHRASE("Internal Server Error")},
                   {505, TEST_PHRASE("HTTP Version Not Supported")}};
    uint8_t out[512];
    size_t len = 0, i;

    (void)state;
    assert_int_equal(feed_whole(&f, &cases[0]).rc, WS_OK);
    assert_int_equal(
        ws_handshake_reject(&f.hs, 401, www, 1, "token expired", 13, out, sizeof out, &len), WS_OK);
    assert_bytes(out, len, want_401, sizeof want_401 - 1);
    assert_int_equal(ws_handshake_reject(&f.hs, 503, NULL, 0, NULL, 0, out, sizeof out, &len),
                     WS_OK);
    assert_bytes(out, len, want_503, sizeof want_503 - 1);
    assert_int_equal(ws_handshake_reject(&f.hs, 403, json, 1, "{}", 2, out, sizeof out, &len),
                     WS_OK);
    assert_bytes(out, len, want_json, sizeof want_json - 1);
    assert_int_equal(ws_handshake_reject(&f.hs, 499, NULL, 0, NULL, 0, out, sizeof out, &len),
                     WS_OK);
    assert_bytes(out, len, want_unknown, sizeof want_unknown - 1);
    /* Statuses without content: no body, and 204/304 announce no length either. */
    assert_int_equal(ws_handshake_reject(&f.hs, 204, NULL, 0, NULL, 0, out, sizeof out, &len),
                     WS_OK);
    assert_bytes(out, len, want_204, sizeof want_204 - 1);
    assert_int_equal(ws_handshake_reject(&f.hs, 304, NULL, 0, NULL, 0, out, sizeof out, &len),
                     WS_OK);
    assert_bytes(out, len, want_304, sizeof want_304 - 1);
    assert_int_equal(ws_handshake_reject(&f.hs, 204, NULL, 0, "x", 1, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_handshake_reject(&f.hs, 304, NULL, 0, "x", 1, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_handshake_reject(&f.hs, 205, NULL, 0, "x", 1, out, sizeof out, &len),
                     WS_E_INVALID);
    /* Every status libws may send has its registered phrase (WS_NO_ERROR_STRINGS: none,
     * the empty phrase for every status). */
    for (i = 0; i < sizeof phrases / sizeof phrases[0]; i++) {
        char line[64];
        int n =
            snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", phrases[i].status, phrases[i].phrase);
        assert_int_equal(
            ws_handshake_reject(&f.hs, phrases[i].status, NULL, 0, NULL, 0, out, sizeof out, &len),
            WS_OK);
        assert_true(len > (size_t)n);
        assert_memory_equal(out, line, (size_t)n);
    }

    assert_int_equal(ws_handshake_reject(&f.hs, 101, NULL, 0, NULL, 0, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_handshake_reject(&f.hs, 100, NULL, 0, NULL, 0, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_handshake_reject(&f.hs, 600, NULL, 0, NULL, 0, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_handshake_reject(&f.hs, 403, crlf, 1, NULL, 0, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_handshake_reject(&f.hs, 403, length, 1, NULL, 0, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_handshake_reject(&f.hs, 403, NULL, 0, NULL, 3, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_handshake_reject(&f.hs, 401, www, 1, "token expired", 13, out,
                                         sizeof want_401 - 2, &len),
                     WS_E_BUFFER);
}

/* ---- limits ------------------------------------------------------------------------ */

/* Feeds in[0..len) one byte at a time, checking after each byte that the scan position
 * only moves forward and never past the buffer. Returns the result and where it stopped. */
static outcome trickle(ws_handshake *hs, const uint8_t *in, size_t len, size_t base)
{
    outcome o = {WS_E_AGAIN, 0, base};
    size_t i, used, before;

    for (i = 0; i < len && o.rc == WS_E_AGAIN; i++) {
        before = hs->http.len;
        o.rc = ws_handshake_server_feed(hs, in + i, 1, &used);
        o.consumed = base + i + used;
        assert_true(hs->http.len >= before && hs->http.len - before <= 1);
        assert_true(hs->http.len <= hs->cap);
    }
    o.status = ws_handshake_status(hs);
    return o;
}

static void test_header_line_without_end(void **state)
{
    static uint8_t head[65536];
    static ws_header headers[MAX_HEADERS];
    static uint8_t filler[4096];
    ws_handshake hs;
    outcome o;
    size_t fed = sizeof(RL HOST "X-Long: ") - 1, start = sizeof(RL HOST) - 1;

    (void)state;
    memset(filler, 'a', sizeof filler);
    ws_handshake_server_init(&hs, NULL, head, sizeof head, headers, MAX_HEADERS);
    o = trickle(&hs, (const uint8_t *)RL HOST "X-Long: ", fed, 0);
    assert_int_equal(o.rc, WS_E_AGAIN);
    while (o.rc == WS_E_AGAIN && fed < sizeof head) {
        o = trickle(&hs, filler, sizeof filler, fed);
        fed += sizeof filler;
    }
    /* Refused at the first byte past 8192 (the default), long before the buffer is full. */
    assert_int_equal(o.rc, WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(o.status, 431);
    assert_int_equal(o.consumed, start + 8192);
    assert_int_equal(hs.http.len, start + 8192);
}

static void test_ten_thousand_headers(void **state)
{
    static uint8_t head[1 << 20];
    static ws_header headers[MAX_HEADERS];
    static char line[32];
    ws_handshake hs;
    outcome o;
    size_t fed = sizeof RL - 1, i, n, at_limit = 0;

    (void)state;
    ws_handshake_server_init(&hs, NULL, head, sizeof head, headers, MAX_HEADERS);
    o = trickle(&hs, (const uint8_t *)RL, fed, 0);
    for (i = 0; i < 10000 && o.rc == WS_E_AGAIN; i++) {
        if (i == MAX_HEADERS)
            at_limit = fed;
        n = (size_t)snprintf(line, sizeof line, "X-H%05zu: v\r\n", i);
        o = trickle(&hs, (const uint8_t *)line, n, fed);
        fed += n;
    }
    /* Refused at the first byte of header 65, without reading the rest. */
    assert_int_equal(o.rc, WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(o.status, 431);
    assert_int_equal(i, MAX_HEADERS + 1);
    assert_int_equal(o.consumed, at_limit);
    assert_int_equal(hs.http.header_count, MAX_HEADERS);
}

static void test_huge_request_line(void **state)
{
    static uint8_t head[HEAD_CAP];
    static ws_header headers[MAX_HEADERS];
    static uint8_t filler[4096];
    ws_handshake hs;
    outcome o;
    size_t fed = 5, used;
    int rc = WS_E_AGAIN;

    (void)state;
    memset(filler, 'a', sizeof filler);
    ws_handshake_server_init(&hs, NULL, head, sizeof head, headers, MAX_HEADERS);
    o = trickle(&hs, (const uint8_t *)"GET /", 5, 0);
    assert_int_equal(o.rc, WS_E_AGAIN);
    /* Offer 1 MiB of target; the limit (8192, also the buffer size here) must win with
     * 414, not 431. */
    while (rc == WS_E_AGAIN && fed < (1u << 20)) {
        rc = ws_handshake_server_feed(&hs, filler, sizeof filler, &used);
        fed += used;
    }
    assert_int_equal(rc, WS_E_HTTP_URI_TOO_LONG);
    assert_int_equal(ws_handshake_status(&hs), 414);
    assert_int_equal(fed, 8192);
    assert_int_equal(hs.http.len, 8192);
}

static void test_head_larger_than_buffer(void **state)
{
    static uint8_t head[256];
    static ws_header headers[MAX_HEADERS];
    static const char big[] =
        RL GOOD "X-Padding-1: 0123456789012345678901234567890123456789\r\n"
                "X-Padding-2: 0123456789012345678901234567890123456789\r\n"
                "X-Padding-3: 0123456789012345678901234567890123456789\r\n" END;
    ws_handshake hs;
    outcome o;
    size_t used;

    (void)state;
    assert_true(sizeof big - 1 > sizeof head);
    ws_handshake_server_init(&hs, NULL, head, sizeof head, headers, MAX_HEADERS);
    o = trickle(&hs, (const uint8_t *)big, sizeof big - 1, 0);
    assert_int_equal(o.rc, WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(o.status, 431);
    assert_int_equal(o.consumed, sizeof head);

    /* Whole, the same. */
    ws_handshake_server_init(&hs, NULL, head, sizeof head, headers, MAX_HEADERS);
    assert_int_equal(ws_handshake_server_feed(&hs, (const uint8_t *)big, sizeof big - 1, &used),
                     WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(used, sizeof head);

    /* No buffer at all: nothing fits. */
    ws_handshake_server_init(&hs, NULL, NULL, 100, headers, MAX_HEADERS);
    assert_int_equal(ws_handshake_server_feed(&hs, (const uint8_t *)big, sizeof big - 1, &used),
                     WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(used, 0);
}

static void test_smaller_limits(void **state)
{
    static fixture f;
    ws_http_limits limits;
    size_t used;

    (void)state;
    /* "GET /chat HTTP/1.1" is 18 bytes: allowed at 18, refused at 17 on byte 18. */
    ws_http_limits_init(&limits);
    assert_int_equal(limits.max_request_line, 8192);
    assert_int_equal(limits.max_header_line, 8192);
    assert_false(limits.allow_bare_lf);
    limits.max_request_line = 18;
    ws_handshake_server_init(&f.hs, &limits, f.head, HEAD_CAP, f.headers, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_server_feed(&f.hs, (const uint8_t *)MINIMAL, sizeof MINIMAL - 1, &used),
        WS_OK);
    limits.max_request_line = 17;
    ws_handshake_server_init(&f.hs, &limits, f.head, HEAD_CAP, f.headers, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_server_feed(&f.hs, (const uint8_t *)MINIMAL, sizeof MINIMAL - 1, &used),
        WS_E_HTTP_URI_TOO_LONG);
    assert_int_equal(used, 17);

    /* "Host: server.example.com" is 24 bytes. */
    ws_http_limits_init(&limits);
    limits.max_header_line = 23;
    ws_handshake_server_init(&f.hs, &limits, f.head, HEAD_CAP, f.headers, MAX_HEADERS);
    assert_int_equal(
        ws_handshake_server_feed(&f.hs, (const uint8_t *)MINIMAL, sizeof MINIMAL - 1, &used),
        WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(used, sizeof RL - 1 + 23);

    /* Exactly as many headers as allowed. */
    ws_handshake_server_init(&f.hs, NULL, f.head, HEAD_CAP, f.headers, 5);
    assert_int_equal(
        ws_handshake_server_feed(&f.hs, (const uint8_t *)MINIMAL, sizeof MINIMAL - 1, &used),
        WS_OK);
    ws_handshake_server_init(&f.hs, NULL, f.head, HEAD_CAP, f.headers, 4);
    assert_int_equal(
        ws_handshake_server_feed(&f.hs, (const uint8_t *)MINIMAL, sizeof MINIMAL - 1, &used),
        WS_E_HTTP_HEADERS_TOO_LARGE);
}

/* A large valid head fed one byte at a time: finishes (work is linear) and every byte is
 * scanned once. */
static void test_large_head_linear(void **state)
{
    static uint8_t head[1 << 20];
    static ws_header headers[10010];
    static char line[64];
    ws_handshake hs;
    outcome o;
    size_t fed = 0, i, n;

    (void)state;
    ws_handshake_server_init(&hs, NULL, head, sizeof head, headers, 10010);
    o = trickle(&hs, (const uint8_t *)RL GOOD, sizeof(RL GOOD) - 1, 0);
    fed = sizeof(RL GOOD) - 1;
    for (i = 0; i < 10000 && o.rc == WS_E_AGAIN; i++) {
        n = (size_t)snprintf(line, sizeof line, "X-Header-%05zu: value %zu\r\n", i, i);
        o = trickle(&hs, (const uint8_t *)line, n, fed);
        fed += n;
    }
    o = trickle(&hs, (const uint8_t *)END, 2, fed);
    fed += 2;
    assert_int_equal(o.rc, WS_OK);
    assert_int_equal(o.consumed, fed);
    assert_int_equal(hs.http.len, fed);
    assert_int_equal(ws_handshake_request(&hs)->header_count, 10005);
}

/* ---- the scanner's fast paths --------------------------------------------------------- */

/* Feeds in[0..len) to a fresh handshake in pieces of `piece` bytes. */
static outcome feed_pieces(fixture *f, const ws_http_limits *limits, size_t cap, const char *in,
                           size_t len, size_t piece)
{
    outcome o = {WS_E_AGAIN, 0, 0};
    size_t from = 0, used;

    ws_handshake_server_init(&f->hs, limits, f->head, cap, f->headers, MAX_HEADERS);
    while (from < len && o.rc == WS_E_AGAIN) {
        size_t n = WS_TEST_MIN(piece, len - from);
        o.rc = ws_handshake_server_feed(&f->hs, (const uint8_t *)in + from, n, &used);
        o.consumed = from + used;
        from += n;
    }
    o.status = ws_handshake_status(&f->hs);
    return o;
}

/* The same outcome fed whole, byte by byte and in pieces of 7 and 16. */
static outcome feed_every_way(fixture *f, const ws_http_limits *limits, size_t cap, const char *in,
                              size_t len)
{
    static const size_t pieces[] = {1, 7, 16};
    outcome whole = feed_pieces(f, limits, cap, in, len, len), o;
    size_t i;

    for (i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        o = feed_pieces(f, limits, cap, in, len, pieces[i]);
        assert_int_equal(o.rc, whole.rc);
        assert_int_equal(o.status, whole.status);
        assert_int_equal(o.consumed, whole.consumed);
    }
    return whole;
}

/* RFC 9110 tchar, spelt out independently of the library. */
static bool is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Every byte at several places in a long header name (the SIMD block edges included): a
 * tchar is part of the name, anything else is a 400. */
static void test_name_bytes(void **state)
{
    static fixture f;
    static const size_t places[] = {0, 1, 15, 16, 17, 31, 32, 39};
    static const char head[] = RL GOOD, tail[] = ": v\r\n" END;
    char in[sizeof head - 1 + 40 + sizeof tail - 1];
    int c;
    size_t k;

    (void)state;
    for (c = 0; c < 256; c++) {
        if (c == ':')
            continue; /* ends the name */
        for (k = 0; k < sizeof places / sizeof places[0]; k++) {
            char *name = in + sizeof head - 1;
            outcome o;

            memcpy(in, head, sizeof head - 1);
            memset(name, 'N', 40);
            name[places[k]] = (char)c;
            memcpy(name + 40, tail, sizeof tail - 1);
            o = feed_every_way(&f, NULL, HEAD_CAP, in, sizeof in);
            if (is_tchar(c)) {
                assert_int_equal(o.rc, WS_OK);
                assert_int_equal(ws_handshake_request(&f.hs)->headers[5].name_len, 40);
            } else {
                if (o.rc != WS_E_HTTP_SYNTAX)
                    print_message("byte 0x%02x at %zu: rc %d\n", c, places[k], o.rc);
                assert_int_equal(o.rc, WS_E_HTTP_SYNTAX);
                assert_int_equal(o.status, 400);
            }
        }
    }
}

typedef struct name_case {
    const char *headers; /* between the request line and the empty line */
    int result;
} name_case;

/* Headers the server looks for are told by their whole name, in any case, and a value that
 * is the token alone or a list holding it; near misses are other headers. */
static const name_case name_cases[] = {
    {"HOST: a\r\n" UPG CONN KEY VER, WS_OK},
    {"hOsT: a\r\n" UPG CONN KEY VER, WS_OK},
    {"Hosu: a\r\n" UPG CONN KEY VER, WS_E_HTTP_HOST},
    {"Hos: a\r\n" UPG CONN KEY VER, WS_E_HTTP_HOST},
    {"Hosts: a\r\n" UPG CONN KEY VER, WS_E_HTTP_HOST},
    {HOST "Upgradf: websocket\r\n" CONN KEY VER, WS_E_HTTP_UPGRADE},
    {HOST "UPGRADE: WEBSOCKET\r\n" CONN KEY VER, WS_OK},
    {HOST "Upgrade: websockets\r\n" CONN KEY VER, WS_E_HTTP_UPGRADE},
    {HOST "Upgrade: websocke\r\n" CONN KEY VER, WS_E_HTTP_UPGRADE},
    {HOST "Upgrade: websocke\xD4\r\n" CONN KEY VER, WS_E_HTTP_UPGRADE},
    {HOST "Upgrade: websocket \t\r\n" CONN KEY VER, WS_OK},
    {HOST "Upgrade: , websocket,\r\n" CONN KEY VER, WS_OK},
    {HOST "Upgrade: foo\r\nUpgrade: websocket\r\n" CONN KEY VER, WS_OK},
    {HOST UPG "Connectiom: Upgrade\r\n" KEY VER, WS_E_HTTP_CONNECTION},
    {HOST UPG "Connection: Upgrad\xC5\r\n" KEY VER, WS_E_HTTP_CONNECTION},
    {HOST UPG "Connection: upgrade\r\n" KEY VER, WS_OK},
    {HOST UPG CONN "Sec-WebSocket-Kez: dGhlIHNhbXBsZSBub25jZQ==\r\n" VER, WS_E_HTTP_KEY},
    {HOST UPG CONN "Sec_WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" VER, WS_E_HTTP_KEY},
    {HOST UPG CONN "SEC-WEBSOCKET-KEY: dGhlIHNhbXBsZSBub25jZQ==\r\n" VER, WS_OK},
    {HOST UPG CONN KEY "Sec-WebSocket-Versiom: 13\r\n", WS_E_HTTP_WS_VERSION},
    {HOST UPG CONN KEY "sec-websocket-version: 13\r\n", WS_OK},
    {GOOD "Transfer-Encodinf: chunked\r\n", WS_OK},
    {GOOD "TRANSFER-ENCODING: chunked\r\n", WS_E_HTTP_SYNTAX},
    {GOOD "Content-Lengti: 5\r\n", WS_OK},
    {GOOD "content-length: 0\r\ncontent-length: 0\r\n", WS_E_HTTP_SYNTAX},
};

static void test_known_names(void **state)
{
    static fixture f;
    const ws_request *r;
    char in[512];
    size_t i;
    int n;

    (void)state;
    for (i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
        outcome o;
        n = snprintf(in, sizeof in, "%s%s%s", RL, name_cases[i].headers, END);
        o = feed_every_way(&f, NULL, HEAD_CAP, in, (size_t)n);
        if (o.rc != name_cases[i].result)
            print_message("case %zu: rc %d, want %d\n", i, o.rc, name_cases[i].result);
        assert_int_equal(o.rc, name_cases[i].result);
    }

    /* The first Origin, whatever its case; a near miss is no Origin. */
    n = snprintf(in, sizeof in, "%s", RL GOOD "oRiGiN: http://a\r\nOrigin: http://b\r\n" END);
    assert_int_equal(feed_every_way(&f, NULL, HEAD_CAP, in, (size_t)n).rc, WS_OK);
    r = ws_handshake_request(&f.hs);
    assert_str(r->origin, r->origin_len, "http://a");
    n = snprintf(in, sizeof in, "%s", RL GOOD "Origim: http://a\r\n" END);
    assert_int_equal(feed_every_way(&f, NULL, HEAD_CAP, in, (size_t)n).rc, WS_OK);
    assert_null(ws_handshake_request(&f.hs)->origin);
}

/* A control byte anywhere in a header value is found at its own position (and HTAB is
 * allowed there), wherever it falls against the scanner's 8- and 16-byte blocks. */
static void test_value_bytes_everywhere(void **state)
{
    static fixture f;
    static const unsigned char bytes[] = {0x00, 0x01, 0x0B, 0x1F, 0x7F, '\t', 0x80, 0xFF};
    char in[512];
    size_t k, b, at;

    (void)state;
    for (k = 0; k < 48; k++) {
        for (b = 0; b < sizeof bytes; b++) {
            outcome o;
            int n;

            at = sizeof(RL GOOD "X-Value: ") - 1 + k;
            n = snprintf(in, sizeof in, "%sX-Value: %.*s#tail\r\n%s", RL GOOD, (int)k,
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", END);
            in[at] = (char)bytes[b];
            o = feed_every_way(&f, NULL, HEAD_CAP, in, (size_t)n);
            if (bytes[b] == '\t' || bytes[b] >= 0x80) {
                assert_int_equal(o.rc, WS_OK);
            } else {
                assert_int_equal(o.rc, WS_E_HTTP_SYNTAX);
                assert_int_equal(o.consumed, at);
            }
        }
    }
}

/* A limit of limit bytes on the line of line_len bytes that starts at line_start: the error
 * comes at the first byte past it, fed any way. */
static void check_line_limit(fixture *f, bool request_line, size_t line_start, size_t line_len)
{
    static const char in[] = CHROME;
    ws_http_limits limits;
    size_t limit;
    outcome o;

    for (limit = line_len - 2; limit <= line_len + 1; limit++) {
        ws_http_limits_init(&limits);
        if (request_line)
            limits.max_request_line = limit;
        else
            limits.max_header_line = limit;
        o = feed_every_way(f, &limits, HEAD_CAP, in, sizeof in - 1);
        if (limit >= line_len) {
            assert_int_equal(o.rc, WS_OK);
            continue;
        }
        assert_int_equal(o.rc, request_line ? WS_E_HTTP_URI_TOO_LONG : WS_E_HTTP_HEADERS_TOO_LARGE);
        assert_int_equal(o.status, request_line ? 414 : 431);
        assert_int_equal(o.consumed, line_start + limit);
    }
}

/* The head buffer's size and the line limits around the browser request. */
static void test_limits_around_browser_request(void **state)
{
    static fixture f;
    static const char in[] = CHROME;
    const char *ua = strstr(in, "User-Agent");
    size_t len = sizeof in - 1, cap;
    outcome o;

    (void)state;
    for (cap = len - 40; cap <= len + 1; cap++) {
        o = feed_every_way(&f, NULL, cap, in, len);
        if (cap >= len) {
            assert_int_equal(o.rc, WS_OK);
        } else {
            assert_int_equal(o.rc, WS_E_HTTP_HEADERS_TOO_LARGE);
            assert_int_equal(o.consumed, cap);
        }
    }
    check_line_limit(&f, false, (size_t)(ua - in), strcspn(ua, "\r"));
    check_line_limit(&f, true, 0, strcspn(in, "\r"));
}

/* A hand-off is held to the limits of the same request fed as bytes: it goes through the
 * same scanner, line ends and separators included, so a head buffer one byte too small
 * refuses both. */
static void test_handoff_same_limits(void **state)
{
    static const char req[] = MINIMAL;
    static const ws_header h[] = {{"Host", 4, "server.example.com", 18},
                                  {"Upgrade", 7, "websocket", 9},
                                  {"Connection", 10, "Upgrade", 7},
                                  {"Sec-WebSocket-Key", 17, "dGhlIHNhbXBsZSBub25jZQ==", 24},
                                  {"Sec-WebSocket-Version", 21, "13", 2}};
    static const ws_header smuggle[] = {{"Host", 4, "a\r\nX-Evil: 1", 13}};
    ws_handshake hs;
    uint8_t buf[256];
    ws_header headers[16];
    size_t cap, consumed;
    (void)state;

    for (cap = sizeof req - 2; cap <= sizeof req - 1; cap++) {
        int want = cap == sizeof req - 1 ? WS_OK : WS_E_HTTP_HEADERS_TOO_LARGE;
        ws_handshake_server_init(&hs, NULL, buf, cap, headers, 16);
        assert_int_equal(
            ws_handshake_server_feed(&hs, (const uint8_t *)req, sizeof req - 1, &consumed), want);
        ws_handshake_server_init(&hs, NULL, buf, cap, headers, 16);
        assert_int_equal(ws_handshake_server_handoff(&hs, "GET", 3, "/chat", 5, 1, h, 5), want);
    }
    /* Nothing a host's parser hands over can add a line. */
    ws_handshake_server_init(&hs, NULL, buf, sizeof buf, headers, 16);
    assert_int_equal(ws_handshake_server_handoff(&hs, "GET", 3, "/ HTTP/1.1\r\nX: y", 17, 1, h, 5),
                     WS_E_HTTP_SYNTAX);
    ws_handshake_server_init(&hs, NULL, buf, sizeof buf, headers, 16);
    assert_int_equal(ws_handshake_server_handoff(&hs, "GET", 3, "/", 1, 1, smuggle, 1),
                     WS_E_HTTP_SYNTAX);
    ws_handshake_server_init(&hs, NULL, buf, sizeof buf, headers, 16);
    assert_int_equal(ws_handshake_server_handoff(&hs, "GET", 3, "/", 1, 10, h, 5),
                     WS_E_HTTP_SYNTAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handoff_same_limits),
        cmocka_unit_test(test_table_whole),
        cmocka_unit_test(test_table_bytewise),
        cmocka_unit_test(test_table_every_split),
        cmocka_unit_test(test_errors_are_sticky),
        cmocka_unit_test(test_browser_request_fields),
        cmocka_unit_test(test_request_field_edges),
        cmocka_unit_test(test_handoff_table),
        cmocka_unit_test(test_handoff_limits_and_state),
        cmocka_unit_test(test_accept_rfc_example),
        cmocka_unit_test(test_accept_with_options),
        cmocka_unit_test(test_accept_refusals),
        cmocka_unit_test(test_error_responses),
        cmocka_unit_test(test_reject),
        cmocka_unit_test(test_header_line_without_end),
        cmocka_unit_test(test_ten_thousand_headers),
        cmocka_unit_test(test_huge_request_line),
        cmocka_unit_test(test_head_larger_than_buffer),
        cmocka_unit_test(test_smaller_limits),
        cmocka_unit_test(test_large_head_linear),
        cmocka_unit_test(test_name_bytes),
        cmocka_unit_test(test_known_names),
        cmocka_unit_test(test_value_bytes_everywhere),
        cmocka_unit_test(test_limits_around_browser_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
