/*
 * Tests for reading parsed HTTP heads: header lookup, token lists, list iteration over
 * repeated headers, Sec-WebSocket-Extensions parsing, cookies, query parameters and
 * ws:// / wss:// URL parsing. Each area is a table of input and expected result.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static ws_header hdr(const char *name, const char *value)
{
    ws_header h;
    h.name = name;
    h.name_len = strlen(name);
    h.value = value;
    h.value_len = strlen(value);
    return h;
}

/* A copy with no terminator in a block of exactly n bytes, so ASan reports any read past
 * the end of an input. */
static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n > 0 ? n : 1);
    assert_non_null(p);
    if (n > 0)
        memcpy(p, s, n);
    return p;
}

static ws_header hdr_exact(const char *name, const char *value)
{
    ws_header h = hdr(name, value);
    h.value = exact_copy(value, h.value_len);
    return h;
}

/* ---- ws_header_find -------------------------------------------------------------------- */

static void test_header_find(void **state)
{
    ws_header h[4];
    (void)state;
    h[0] = hdr("Host", "example.com");
    h[1] = hdr("Hostx", "no");
    h[2] = hdr("UPGRADE", "websocket");
    h[3] = hdr("upgrade", "second");

    assert_ptr_equal(ws_header_find(h, 4, "host"), &h[0]);
    assert_ptr_equal(ws_header_find(h, 4, "Upgrade"), &h[2]); /* the first of two */
    assert_ptr_equal(ws_header_find(h, 4, "hostx"), &h[1]);
    assert_null(ws_header_find(h, 4, "Hos"));
    assert_null(ws_header_find(h, 4, "Connection"));
    assert_null(ws_header_find(h, 1, "Upgrade")); /* count is honoured */
    assert_null(ws_header_find(NULL, 0, "Host"));
}

/* ---- ws_http_list_has ----------------------------------------------------------------- */

typedef struct token_case {
    const char *value;
    const char *token;
    bool has;
} token_case;

static const token_case token_cases[] = {
    {"keep-alive, Upgrade", "upgrade", true},
    {"Upgrade", "upgrade", true},
    {"UPGRADE", "Upgrade", true},
    {"keep-alive,upgrade", "upgrade", true},
    {"upgrade,keep-alive", "upgrade", true},
    {" \t, ,upgrade , ", "upgrade", true},
    {"\tupgrade\t", "upgrade", true},
    {"a, b, c, upgrade", "upgrade", true},
    {"websocket", "websocket", true},
    {"upgradex", "upgrade", false},
    {"xupgrade", "upgrade", false},
    {"up grade", "upgrade", false},
    {"upgrade x", "upgrade", false},
    {"upgrade;q=1", "upgrade", false},
    {"upgrad", "upgrade", false},
    {"keep-alive", "upgrade", false},
    {"keep-alive, upgradex, xupgrade", "upgrade", false},
    {"", "upgrade", false},
    {",,,", "upgrade", false},
    {" ", "upgrade", false},
    {"\"upgrade\"", "upgrade", false},
};

static void test_token_list(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < COUNT(token_cases); i++) {
        const token_case *c = &token_cases[i];
        char *v = exact_copy(c->value, strlen(c->value));
        bool has = ws_http_list_has(v, strlen(c->value), c->token);
        free(v);
        if (has != c->has)
            fail_msg("case %zu: \"%s\" has \"%s\": want %d", i, c->value, c->token, c->has);
    }
    /* only value[0..len) is looked at */
    assert_true(ws_http_list_has("upgradex", 7, "upgrade"));
    assert_false(ws_http_list_has("keep-alive, upgrade", 14, "upgrade"));
    assert_false(ws_http_list_has(NULL, 0, "upgrade"));
}

/* ---- ws_list_iter ---------------------------------------------------------------------- */

static void test_list_iter_headers(void **state)
{
    static const char *const want[] = {"chat", "superchat", "v2.json", "last one"};
    ws_header h[7];
    ws_list_iter it;
    const char *item;
    size_t item_len, n = 0;
    (void)state;

    h[0] = hdr("Sec-WebSocket-Protocol", "chat, superchat");
    h[1] = hdr("Host", "example.com");
    h[2] = hdr("sec-websocket-protocol", " , v2.json ,,");
    h[3] = hdr("SEC-WEBSOCKET-PROTOCOL", "");
    h[4] = hdr("Sec-WebSocket-Protocolx", "not-this");
    h[5] = hdr("Sec-WebSocket-Protocol", ",\t,");
    h[6] = hdr("Sec-WebSocket-Protocol", "last one");

    ws_list_iter_init(&it, h, COUNT(h), "Sec-WebSocket-Protocol");
    while (ws_list_iter_next(&it, &item, &item_len)) {
        assert_true(n < COUNT(want));
        assert_int_equal(item_len, strlen(want[n]));
        assert_memory_equal(item, want[n], item_len);
        n++;
    }
    assert_int_equal(n, COUNT(want));
    assert_false(ws_list_iter_next(&it, &item, &item_len)); /* stays at the end */

    ws_list_iter_init(&it, h, COUNT(h), "Connection");
    assert_false(ws_list_iter_next(&it, &item, &item_len));
    ws_list_iter_init(&it, NULL, 0, "Connection");
    assert_false(ws_list_iter_next(&it, &item, &item_len));
}

static void test_offers_subprotocol(void **state)
{
    ws_header h[3];
    ws_request r;
    (void)state;

    h[0] = hdr("Sec-WebSocket-Protocol", "chat, superchat");
    h[1] = hdr("Origin", "http://example.com");
    h[2] = hdr("sec-websocket-protocol", "mqtt");
    memset(&r, 0, sizeof r);
    r.headers = h;
    r.header_count = COUNT(h);

    assert_true(ws_request_offers_subprotocol(&r, "chat", 4));
    assert_true(ws_request_offers_subprotocol(&r, "superchat", 9));
    assert_true(ws_request_offers_subprotocol(&r, "mqtt", 4));
    assert_true(ws_request_offers_subprotocol(&r, "chatty", 4)); /* len is honoured */
    assert_false(ws_request_offers_subprotocol(&r, "Chat", 4));  /* case-sensitive */
    assert_false(ws_request_offers_subprotocol(&r, "super", 5));
    assert_false(ws_request_offers_subprotocol(&r, "chat, superchat", 15));
    assert_false(ws_request_offers_subprotocol(&r, "", 0));
    r.header_count = 0;
    assert_false(ws_request_offers_subprotocol(&r, "chat", 4));
    assert_false(ws_request_offers_subprotocol(NULL, "chat", 4));
}

/* ---- ws_extension_iter ----------------------------------------------------------------- */

/* Each case is up to three Sec-WebSocket-Extensions values (other headers are mixed in by
 * the runner) and what the iterator yields, one extension per line as
 * "name;param;param=<value>", then "$" for the end or "ERR" for WS_E_HTTP_EXTENSION. */
typedef struct ext_case {
    const char *values[3];
    const char *want;
} ext_case;

static const ext_case ext_cases[] = {
    {{"permessage-deflate; client_max_window_bits, permessage-deflate; "
      "server_no_context_takeover; client_max_window_bits=10"},
     "permessage-deflate;client_max_window_bits\n"
     "permessage-deflate;server_no_context_takeover;client_max_window_bits=<10>\n$"},
    {{"permessage-deflate"}, "permessage-deflate\n$"},
    {{"permessage-deflate; client_max_window_bits=\"15\""},
     "permessage-deflate;client_max_window_bits=<15>\n$"},
    {{NULL}, "$"},
    {{""}, "$"},
    {{" , ,\t"}, "$"},
    {{",a,,b,"}, "a\nb\n$"},
    {{"a", "b; x=1", "c"}, "a\nb;x=<1>\nc\n$"},
    {{"a, b", "", "c"}, "a\nb\nc\n$"},
    {{"foo; bar=\"a,b;c\"; baz", "qux"}, "foo;bar=<a,b;c>;baz\nqux\n$"},
    {{"foo; bar=\";\", x; y=\",\""}, "foo;bar=<;>\nx;y=<,>\n$"},
    {{"foo; bar=\"\""}, "foo;bar=<>\n$"},
    {{"foo; bar=\"a\\\"b\\\\\""}, "foo;bar=<a\\\"b\\\\>\n$"},
    {{"foo ; bar = 1 ;baz=\t\"x y\" , qux ;z"}, "foo;bar=<1>;baz=<x y>\nqux;z\n$"},
    {{"x-Ext_1.0~!#$%&'*+^`|"}, "x-Ext_1.0~!#$%&'*+^`|\n$"},
    {{"a;p1;p2;p3;p4;p5;p6;p7;p8"}, "a;p1;p2;p3;p4;p5;p6;p7;p8\n$"},
    /* malformed */
    {{"a;p1;p2;p3;p4;p5;p6;p7;p8;p9"}, "ERR"},
    {{"; a"}, "ERR"},
    {{"a;"}, "ERR"},
    {{"a; "}, "ERR"},
    {{"a;;b"}, "ERR"},
    {{"a; =1"}, "ERR"},
    {{"a; b="}, "ERR"},
    {{"a; b= ,c"}, "ERR"},
    {{"a; b=\"unterminated"}, "ERR"},
    {{"a; b=\"x\\"}, "ERR"},
    {{"a; b=\"x\"y"}, "ERR"},
    {{"a; b=\"x\001\""}, "ERR"},
    {{"a; b=@"}, "ERR"},
    {{"a; b=c d"}, "ERR"},
    {{"a; b c"}, "ERR"},
    {{"a b"}, "ERR"},
    {{"a=1"}, "ERR"},
    {{"\"a\""}, "ERR"},
    {{"a@b"}, "ERR"},
    {{"a, b c, d"}, "a\nERR"},
    {{"good", "bad;", "never"}, "good\nERR"},
};

static void ext_format(char *out, size_t cap, const ws_extension *e)
{
    size_t i, n = (size_t)snprintf(out, cap, "%.*s", (int)e->name_len, e->name);
    for (i = 0; i < e->param_count && n < cap; i++) {
        const ws_extension_param *p = &e->params[i];
        n += (size_t)snprintf(out + n, cap - n, ";%.*s", (int)p->name_len, p->name);
        if (p->value != NULL && n < cap)
            n += (size_t)snprintf(out + n, cap - n, "=<%.*s>", (int)p->value_len, p->value);
    }
}

static void test_extension_iter(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < COUNT(ext_cases); i++) {
        const ext_case *c = &ext_cases[i];
        ws_header h[7];
        size_t n = 0, k, used = 0;
        char got[512], line[256];
        ws_extension_iter it;
        ws_extension ext;
        int rc;

        h[n++] = hdr("Host", "example.com");
        for (k = 0; k < 3 && c->values[k] != NULL; k++) {
            h[n++] = hdr_exact(k % 2 ? "sec-websocket-extensions" : "Sec-WebSocket-Extensions",
                               c->values[k]);
            h[n++] = hdr("X-Other", "a; b, c");
        }

        got[0] = '\0';
        ws_extension_iter_init(&it, h, n);
        while ((rc = ws_extension_iter_next(&it, &ext)) == 1) {
            ext_format(line, sizeof line, &ext);
            used += (size_t)snprintf(got + used, sizeof got - used, "%s\n", line);
            assert_true(used < sizeof got);
        }
        snprintf(got + used, sizeof got - used, "%s", rc == 0 ? "$" : "ERR");
        if (rc != 0)
            assert_int_equal(rc, WS_E_HTTP_EXTENSION);
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu: got\n%s\nwant\n%s", i, got, c->want);
        /* the end and errors are sticky */
        assert_int_equal(ws_extension_iter_next(&it, &ext), rc);
        for (k = 1; k < n; k += 2)
            free((char *)(uintptr_t)h[k].value);
    }
}

/* A long list in one header and spread over many headers yields every element. */
static void test_extension_iter_long(void **state)
{
    enum { N = 5000 };
    static ws_header many[N];
    char *big = malloc(N * 16);
    ws_extension_iter it;
    ws_extension ext;
    size_t i, used = 0, seen = 0;
    int rc;
    (void)state;

    assert_non_null(big);
    for (i = 0; i < N; i++)
        used += (size_t)sprintf(big + used, "%sx%zu; q=\"a,b\"", i ? ", " : "", i % 10);
    many[0] = hdr("Sec-WebSocket-Extensions", big);
    ws_extension_iter_init(&it, many, 1);
    while ((rc = ws_extension_iter_next(&it, &ext)) == 1) {
        assert_int_equal(ext.param_count, 1);
        assert_int_equal(ext.params[0].value_len, 3);
        seen++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(seen, N);

    for (i = 0; i < N; i++)
        many[i] = hdr("Sec-WebSocket-Extensions", "e; a=1, f");
    ws_extension_iter_init(&it, many, N);
    seen = 0;
    while ((rc = ws_extension_iter_next(&it, &ext)) == 1)
        seen++;
    assert_int_equal(rc, 0);
    assert_int_equal(seen, 2 * N);
    free(big);
}

/* ---- Cookies --------------------------------------------------------------------------- */

typedef struct lookup_case {
    const char *name;
    const char *value; /* NULL: not found */
} lookup_case;

static const lookup_case cookie_cases[] = {
    {"a", "1"},     {"b", "2"},    {"token", "abc"},  {"empty", ""}, {"sp", "x y"},
    {"q", "\""},    {"qq", ""},    {"eq", "x=y"},     {"c", "3"},    {"A", NULL},
    {"flag", NULL}, {"tok", NULL}, {"missing", NULL}, {"", NULL},    {"b=2", NULL},
};

static void test_cookie(void **state)
{
    ws_header h[3];
    ws_request r;
    size_t i;
    (void)state;

    h[0] = hdr_exact("Cookie", "a=1; b=2; token=\"abc\"; empty=; flag; sp = x y ; q=\"; "
                               "qq=\"\"; eq=x=y");
    h[1] = hdr("Host", "example.com");
    h[2] = hdr_exact("cookie", "c=3; a=second");
    memset(&r, 0, sizeof r);
    r.headers = h;
    r.header_count = COUNT(h);

    for (i = 0; i < COUNT(cookie_cases); i++) {
        const lookup_case *c = &cookie_cases[i];
        const char *v = NULL;
        size_t vlen = 99;
        bool found = ws_request_cookie(&r, c->name, &v, &vlen);
        if (found != (c->value != NULL))
            fail_msg("case %zu (%s): found %d", i, c->name, found);
        if (found) {
            assert_int_equal(vlen, strlen(c->value));
            assert_memory_equal(v, c->value, vlen);
        }
    }
    r.header_count = 0;
    {
        const char *v;
        size_t vlen;
        assert_false(ws_request_cookie(&r, "a", &v, &vlen));
    }
    free((char *)(uintptr_t)h[0].value);
    free((char *)(uintptr_t)h[2].value);
}

/* ---- Query parameters ------------------------------------------------------------------ */

static const lookup_case query_cases[] = {
    {"a", "1"},                                  /* the first of two */
    {"b", "2"},    {"flag", ""}, {"c", "x%20y"}, /* not percent-decoded */
    {"d", ""},     {"e", "f=g"}, {"x%41", "raw"},   {"A", NULL},
    {"fla", NULL}, {"z", NULL},  {"missing", NULL},
};

static void test_query_param(void **state)
{
    static const char query[] = "a=1&b=2&flag&c=x%20y&&d=&e=f=g&a=3&x%41=raw&=z";
    ws_request r;
    size_t i;
    const char *v;
    size_t vlen;
    (void)state;

    memset(&r, 0, sizeof r);
    r.query_len = strlen(query);
    r.query = exact_copy(query, r.query_len);
    for (i = 0; i < COUNT(query_cases); i++) {
        const lookup_case *c = &query_cases[i];
        bool found;
        v = NULL;
        vlen = 99;
        found = ws_request_query_param(&r, c->name, &v, &vlen);
        if (found != (c->value != NULL))
            fail_msg("case %zu (%s): found %d", i, c->name, found);
        if (found) {
            assert_int_equal(vlen, strlen(c->value));
            assert_memory_equal(v, c->value, vlen);
        }
    }
    r.query_len = 3; /* only "a=1" */
    assert_false(ws_request_query_param(&r, "b", &v, &vlen));
    free((char *)(uintptr_t)r.query);
    r.query = NULL;
    r.query_len = 0;
    assert_false(ws_request_query_param(&r, "a", &v, &vlen));
}

/* ---- ws_url_parse ---------------------------------------------------------------------- */

typedef struct url_case {
    const char *url;
    size_t len; /* 0: strlen(url) */
    int rc;
    bool secure;
    const char *host;
    bool ipv6;
    unsigned port;
    bool port_explicit;
    const char *path;
    const char *query; /* NULL: none */
} url_case;

/* clang-format off */
#define URL_OK(u, sec, h, v6, p, pe, pa, q) {u, 0, WS_OK, sec, h, v6, p, pe, pa, q}
#define URL_BAD(u) {u, 0, WS_E_URL, false, NULL, false, 0, false, NULL, NULL}
#define URL_BAD_LEN(u, n) {u, n, WS_E_URL, false, NULL, false, 0, false, NULL, NULL}
/* clang-format on */

static const url_case url_cases[] = {
    URL_OK("ws://example.com", false, "example.com", false, 80, false, "/", NULL),
    URL_OK("wss://example.com", true, "example.com", false, 443, false, "/", NULL),
    URL_OK("WS://Example.COM/", false, "Example.COM", false, 80, false, "/", NULL),
    URL_OK("WsS://h:8443/chat?room=1&x=2", true, "h", false, 8443, true, "/chat", "room=1&x=2"),
    URL_OK("ws://h?x=1", false, "h", false, 80, false, "/", "x=1"),
    URL_OK("ws://h/?", false, "h", false, 80, false, "/", ""),
    URL_OK("ws://h?a=/b", false, "h", false, 80, false, "/", "a=/b"),
    URL_OK("ws://h/a/b?c?d", false, "h", false, 80, false, "/a/b", "c?d"),
    URL_OK("ws://h:80", false, "h", false, 80, true, "/", NULL),
    URL_OK("wss://h:1/", true, "h", false, 1, true, "/", NULL),
    URL_OK("ws://h:65535/", false, "h", false, 65535, true, "/", NULL),
    URL_OK("ws://127.0.0.1:9000/a/b", false, "127.0.0.1", false, 9000, true, "/a/b", NULL),
    URL_OK("ws://h/a%20b?q=%41", false, "h", false, 80, false, "/a%20b", "q=%41"),
    URL_OK("ws://h/p:x@y", false, "h", false, 80, false, "/p:x@y", NULL),
    URL_OK("ws://xn--bcher-kva.example./", false, "xn--bcher-kva.example.", false, 80, false, "/",
           NULL),
    URL_OK("ws://a-b_c.d/", false, "a-b_c.d", false, 80, false, "/", NULL),
    URL_OK("ws://[::1]", false, "::1", true, 80, false, "/", NULL),
    URL_OK("wss://[2001:DB8::7]:8443/x?y", true, "2001:DB8::7", true, 8443, true, "/x", "y"),
    URL_OK("ws://[::ffff:192.0.2.1]/", false, "::ffff:192.0.2.1", true, 80, false, "/", NULL),
    URL_OK("ws://[1:2:3:4:5:6:7:8]", false, "1:2:3:4:5:6:7:8", true, 80, false, "/", NULL),
    URL_OK("ws://[1:2:3:4:5:6:1.2.3.4]", false, "1:2:3:4:5:6:1.2.3.4", true, 80, false, "/", NULL),
    URL_OK("ws://[::]", false, "::", true, 80, false, "/", NULL),
    URL_OK("ws://[1::]?q", false, "1::", true, 80, false, "/", "q"),
    URL_OK("ws://[abcd:ef01::2345:6789]:1", false, "abcd:ef01::2345:6789", true, 1, true, "/",
           NULL),
    /* scheme */
    URL_BAD("http://h"),
    URL_BAD("https://h"),
    URL_BAD("ftp://h"),
    URL_BAD("ws:/h"),
    URL_BAD("ws:h"),
    URL_BAD("ws//h"),
    URL_BAD("wss:/"),
    URL_BAD("w://h"),
    URL_BAD("wsss://h"),
    URL_BAD(""),
    URL_BAD("ws"),
    URL_BAD_LEN("ws://h", 4),
    /* empty host */
    URL_BAD("ws://"),
    URL_BAD("wss://"),
    URL_BAD("ws:///path"),
    URL_BAD("ws://:80"),
    URL_BAD("ws://?x=1"),
    URL_BAD("ws://[]"),
    /* fragments */
    URL_BAD("ws://h/#frag"),
    URL_BAD("ws://h#"),
    URL_BAD("ws://h/a?b#c"),
    /* user info */
    URL_BAD("ws://user@h"),
    URL_BAD("ws://user:pw@h/"),
    URL_BAD("ws://@h"),
    URL_BAD("ws://[::1]@h"),
    /* port */
    URL_BAD("ws://h:0"),
    URL_BAD("ws://h:000"),
    URL_BAD("ws://h:00080/"), /* one port rule for every host: no leading zero */
    URL_BAD("ws://h:65536"),
    URL_BAD("ws://h:70000/"),
    URL_BAD("ws://h:99999999999999999999"),
    URL_BAD("ws://h:"),
    URL_BAD("ws://h:/"),
    URL_BAD("ws://h:?x"),
    URL_BAD("ws://h:8a"),
    URL_BAD("ws://h:-1"),
    URL_BAD("ws://h:+80"),
    URL_BAD("ws://h:80:81"),
    URL_BAD("ws://[::1]:"),
    URL_BAD("ws://[::1]:x"),
    URL_BAD("ws://1:2:3::4/"),
    /* whitespace, controls and bytes outside ASCII */
    URL_BAD("ws://h /"),
    URL_BAD(" ws://h"),
    URL_BAD("ws://h/ "),
    URL_BAD("ws://h/\t"),
    URL_BAD("ws://h/\r\n"),
    URL_BAD("ws://h\x7f"),
    URL_BAD("ws://h/a\x01"),
    URL_BAD("ws://h\xc3\xa9/"),
    URL_BAD_LEN("ws://h\0/", 8),
    /* host syntax */
    URL_BAD("ws://h<x>/"),
    URL_BAD("ws://a^b"),
    URL_BAD("ws://h%2"),
    URL_BAD("ws://a%2Db/"), /* hosts are DNS names: no percent-encoding */
    URL_BAD("ws://a~b/"),
    URL_BAD("ws://a..b/"),
    URL_BAD("ws://.a/"),
    URL_BAD("ws://h%zz/"),
    URL_BAD("ws://a\"b"),
    URL_BAD("ws://a\\b/"),
    /* IPv6 literals */
    URL_BAD("ws://[::1"),
    URL_BAD("ws://[::1/x]"),
    URL_BAD("ws://["),
    URL_BAD("ws://[::1]x"),
    URL_BAD("ws://[::1]]"),
    URL_BAD("ws://[1:2:3:4:5:6:7:8:9]"),
    URL_BAD("ws://[1:2:3:4:5:6:7]"),
    URL_BAD("ws://[1:2:3:4:5:6:7::8]"),
    URL_BAD("ws://[1::2::3]"),
    URL_BAD("ws://[:::1]"),
    URL_BAD("ws://[12345::1]"),
    URL_BAD("ws://[::g]"),
    URL_BAD("ws://[1.2.3.4]"),
    URL_BAD("ws://[::1.2.3]"),
    URL_BAD("ws://[::1.2.3.256]"),
    URL_BAD("ws://[::1.2.3.04]"),
    URL_BAD("ws://[::1.2.3.4:5]"),
    URL_BAD("ws://[fe80::1%25eth0]"),
    URL_BAD("ws://[:1]"),
    URL_BAD("ws://[1:]"),
    URL_BAD("ws://[h]"),
    URL_BAD("ws://x[::1]"),
};

static void test_url_parse(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < COUNT(url_cases); i++) {
        const url_case *c = &url_cases[i];
        size_t len = c->len ? c->len : strlen(c->url);
        char *copy = exact_copy(c->url, len);
        ws_url u;
        int rc;

        memset(&u, 0x5A, sizeof u);
        rc = ws_url_parse(copy, len, &u);
        if (rc != c->rc)
            fail_msg("case %zu \"%s\": got %d, want %d", i, c->url, rc, c->rc);
        if (rc != WS_OK) {
            assert_int_equal(u.port, 0x5A5A); /* untouched on error */
            free(copy);
            continue;
        }
        assert_int_equal(u.secure, c->secure);
        assert_int_equal(u.host_len, strlen(c->host));
        assert_memory_equal(u.host, c->host, u.host_len);
        assert_int_equal(u.host_is_ipv6, c->ipv6);
        assert_int_equal(u.port, c->port);
        assert_int_equal(u.port_explicit, c->port_explicit);
        assert_int_equal(u.path_len, strlen(c->path));
        assert_memory_equal(u.path, c->path, u.path_len);
        if (c->query == NULL) {
            assert_null(u.query);
            assert_int_equal(u.query_len, 0);
        } else {
            assert_non_null(u.query);
            assert_int_equal(u.query_len, strlen(c->query));
            if (u.query_len > 0)
                assert_memory_equal(u.query, c->query, u.query_len);
        }
        free(copy);
    }
}

/* Pointers go into the caller's string, except the "/" of a URL without a path. */
static void test_url_pointers(void **state)
{
    static const char url[] = "wss://[::1]:9/p?q";
    ws_url u;
    (void)state;

    assert_int_equal(ws_url_parse(url, strlen(url), &u), WS_OK);
    assert_ptr_equal(u.host, url + 7);
    assert_ptr_equal(u.path, url + 13);
    assert_ptr_equal(u.query, url + 16);
    assert_int_equal(ws_url_parse(NULL, 0, &u), WS_E_URL);
    assert_int_equal(ws_url_parse(url, strlen(url), NULL), WS_E_URL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_find),
        cmocka_unit_test(test_token_list),
        cmocka_unit_test(test_list_iter_headers),
        cmocka_unit_test(test_offers_subprotocol),
        cmocka_unit_test(test_extension_iter),
        cmocka_unit_test(test_extension_iter_long),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_query_param),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_url_pointers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
