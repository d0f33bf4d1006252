/*
 * Tests for permessage-deflate (RFC 7692): negotiation as tables (offers in, answer out;
 * answers in, verdict out), the examples of RFC 7692 §7.2.3, input split at every offset,
 * decompression bombs around the message limit, invalid data, round trips with random
 * settings, and the memory a connection holds (printed, for docs/deflate.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deflate.h" /* the codecs' idle trim */
#include "ws.h"
#include <zlib.h> /* only to check lib/deflate.c against a strict 256-byte window */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------------------------ */

/* Counting allocator: each block carries its size, so live bytes and the peak are known;
 * fail_after > 0 makes the allocation after that many succeed fail (once). */
typedef struct counter {
    size_t live;
    size_t peak;
    size_t blocks;
    size_t calls;
    size_t fail_at;
} counter;

static void *count_realloc(void *ud, void *ptr, size_t size)
{
    counter *c = (counter *)ud;
    size_t *h = ptr ? (size_t *)ptr - 2 : NULL;
    size_t *n;

    if (h != NULL) {
        c->live -= h[0];
        c->blocks--;
    }
    if (size == 0) {
        free(h);
        return NULL;
    }
    c->calls++;
    if (c->fail_at != 0 && c->calls == c->fail_at) {
        if (h != NULL) {
            c->live += h[0];
            c->blocks++;
        }
        return NULL;
    }
    n = realloc(h, 2 * sizeof(size_t) + size);
    assert_non_null(n);
    n[0] = size;
    c->live += size;
    c->blocks++;
    if (c->live > c->peak)
        c->peak = c->live;
    return n + 2;
}

static ws_header ext_hdr(const char *value)
{
    ws_header h;
    h.name = "Sec-WebSocket-Extensions";
    h.name_len = strlen(h.name);
    h.value = value;
    h.value_len = strlen(value);
    return h;
}

/* A compact configuration for the tables: a window of 0 means the default 15. */
typedef struct tcfg {
    uint8_t server_window;
    uint8_t client_window;
    bool server_nct;
    bool client_nct;
    bool off;
} tcfg;

static void make_cfg(const tcfg *t, ws_deflate_config *cfg)
{
    ws_deflate_config_init(cfg);
    cfg->enable = !t->off;
    if (t->server_window)
        cfg->server_max_window_bits = t->server_window;
    if (t->client_window)
        cfg->client_max_window_bits = t->client_window;
    cfg->server_no_context_takeover = t->server_nct;
    cfg->client_no_context_takeover = t->client_nct;
}

/* Expected parameters: snct, cnct, server window, client window. */
typedef struct tparams {
    bool snct, cnct;
    uint8_t sw, cw;
} tparams;

static void check_params(const char *name, const ws_deflate_params *p, const tparams *want)
{
    if (p->server_no_context_takeover != want->snct ||
        p->client_no_context_takeover != want->cnct || p->server_max_window_bits != want->sw ||
        p->client_max_window_bits != want->cw) {
        print_error("%s: params %d %d %u %u, want %d %d %u %u\n", name,
                    p->server_no_context_takeover, p->client_no_context_takeover,
                    p->server_max_window_bits, p->client_max_window_bits, want->snct, want->cnct,
                    want->sw, want->cw);
        fail();
    }
}

#define PMD "permessage-deflate"

/* ---- configuration and errors ------------------------------------------------------------ */

static void test_config_defaults(void **state)
{
    ws_deflate_config cfg;
    (void)state;

    memset(&cfg, 0xAB, sizeof cfg);
    ws_deflate_config_init(&cfg);
    assert_false(cfg.enable);
    assert_int_equal(cfg.server_max_window_bits, 15);
    assert_int_equal(cfg.client_max_window_bits, 15);
    assert_false(cfg.server_no_context_takeover);
    assert_false(cfg.client_no_context_takeover);
    assert_int_equal(cfg.level, 6);
    assert_int_equal(cfg.mem_level, 8);
    assert_int_equal(cfg.min_size, 64);
    assert_true(ws_deflate_available());

    assert_int_equal(ws_error_close_code(WS_E_DEFLATE_DATA), 1007);
    assert_int_equal(ws_error_http_status(WS_E_DEFLATE_DATA), 0);
    assert_string_equal(ws_strerror(WS_E_DEFLATE_DATA), "compressed message data is invalid");
    assert_string_equal(ws_strerror(WS_E_UNSUPPORTED), "not supported by this build of libws");
    assert_int_equal(ws_error_close_code(WS_E_UNSUPPORTED), 0);
}

/* ---- server: offers in, answer out ------------------------------------------------------- */

typedef struct server_case {
    const char *name;
    tcfg cfg;
    const char *offers[3]; /* Sec-WebSocket-Extensions headers, in order */
    int rc;
    const char *answer;
    tparams params;
} server_case;

#define DECLINED(n, o)                                                                             \
    {                                                                                              \
        n, {0}, {o}, 0, NULL,                                                                      \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

static const server_case server_cases[] = {
    {"plain", {0}, {PMD}, 1, PMD, {false, false, 15, 15}},
    {"client window, no value", {0}, {PMD "; client_max_window_bits"}, 1, PMD, {0, 0, 15, 15}},
    {"client window 10",
     {0},
     {PMD "; client_max_window_bits=10"},
     1,
     PMD "; client_max_window_bits=10",
     {0, 0, 15, 10}},
    {"server window 10",
     {0},
     {PMD "; server_max_window_bits=10"},
     1,
     PMD "; server_max_window_bits=10",
     {0, 0, 10, 15}},
    {"server window 15 is answered",
     {0},
     {PMD "; server_max_window_bits=15"},
     1,
     PMD "; server_max_window_bits=15",
     {0, 0, 15, 15}},
    {"server window 8",
     {0},
     {PMD "; server_max_window_bits=8"},
     1,
     PMD "; server_max_window_bits=8",
     {0, 0, 8, 15}},
    {"quoted window",
     {0},
     {PMD "; server_max_window_bits=\"10\""},
     1,
     PMD "; server_max_window_bits=10",
     {0, 0, 10, 15}},
    {"quoted client window",
     {0},
     {PMD "; client_max_window_bits=\"9\""},
     1,
     PMD "; client_max_window_bits=9",
     {0, 0, 15, 9}},
    {"both flags",
     {0},
     {PMD "; server_no_context_takeover; client_no_context_takeover"},
     1,
     PMD "; server_no_context_takeover; client_no_context_takeover",
     {1, 1, 15, 15}},
    {"all four",
     {0},
     {PMD "; client_max_window_bits=8; server_max_window_bits=9; client_no_context_takeover; "
          "server_no_context_takeover"},
     1,
     PMD "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; "
         "client_max_window_bits=8",
     {1, 1, 9, 8}},
    {"whitespace",
     {0},
     {" " PMD " ;\tserver_max_window_bits = 12 ; client_max_window_bits "},
     1,
     PMD "; server_max_window_bits=12",
     {0, 0, 12, 15}},
    {"after another extension", {0}, {"x-webkit-deflate-frame, " PMD}, 1, PMD, {0, 0, 15, 15}},
    {"browser", {0}, {PMD "; client_max_window_bits"}, 1, PMD, {0, 0, 15, 15}},
    {"second offer",
     {0},
     {PMD "; server_max_window_bits=7, " PMD "; client_max_window_bits=11"},
     1,
     PMD "; client_max_window_bits=11",
     {0, 0, 15, 11}},
    {"third offer",
     {0},
     {PMD "; foo, " PMD "; server_no_context_takeover=1, " PMD "; server_max_window_bits=14"},
     1,
     PMD "; server_max_window_bits=14",
     {0, 0, 14, 15}},
    {"second header",
     {0},
     {PMD "; server_max_window_bits", PMD "; server_max_window_bits=11"},
     1,
     PMD "; server_max_window_bits=11",
     {0, 0, 11, 15}},
    {"first of two good ones",
     {0},
     {PMD "; server_max_window_bits=10", PMD},
     1,
     PMD "; server_max_window_bits=10",
     {0, 0, 10, 15}},
    {"empty elements", {0}, {", ,," PMD ",,"}, 1, PMD, {0, 0, 15, 15}},
    DECLINED("no header", NULL),
    DECLINED("another extension", "foo; bar=1"),
    DECLINED("unknown parameter", PMD "; foo"),
    DECLINED("unknown parameter with value", PMD "; foo=1"),
    DECLINED("name in another case", "Permessage-Deflate"),
    DECLINED("parameter in another case", PMD "; Server_No_Context_Takeover"),
    DECLINED("duplicate flag", PMD "; server_no_context_takeover; server_no_context_takeover"),
    DECLINED("duplicate client flag",
             PMD "; client_no_context_takeover; client_no_context_takeover"),
    DECLINED("duplicate server window",
             PMD "; server_max_window_bits=10; server_max_window_bits=10"),
    DECLINED("duplicate client window", PMD "; client_max_window_bits; client_max_window_bits=10"),
    DECLINED("server window 7", PMD "; server_max_window_bits=7"),
    DECLINED("server window 16", PMD "; server_max_window_bits=16"),
    DECLINED("server window 0", PMD "; server_max_window_bits=0"),
    DECLINED("server window leading zero", PMD "; server_max_window_bits=08"),
    DECLINED("server window leading zeros", PMD "; server_max_window_bits=010"),
    DECLINED("server window quoted leading zero", PMD "; server_max_window_bits=\"09\""),
    DECLINED("server window sign", PMD "; server_max_window_bits=+9"),
    DECLINED("server window hex", PMD "; server_max_window_bits=0xa"),
    DECLINED("server window letters", PMD "; server_max_window_bits=1a"),
    DECLINED("server window empty quoted", PMD "; server_max_window_bits=\"\""),
    DECLINED("server window quoted space", PMD "; server_max_window_bits=\" 9\""),
    DECLINED("server window escaped", PMD "; server_max_window_bits=\"1\\5\""),
    DECLINED("server window without value", PMD "; server_max_window_bits"),
    DECLINED("client window 7", PMD "; client_max_window_bits=7"),
    DECLINED("client window 16", PMD "; client_max_window_bits=16"),
    DECLINED("client window leading zero", PMD "; client_max_window_bits=09"),
    DECLINED("client window 100", PMD "; client_max_window_bits=100"),
    DECLINED("value on server flag", PMD "; server_no_context_takeover=1"),
    DECLINED("value on client flag", PMD "; client_no_context_takeover=true"),
    DECLINED("empty quoted value on flag", PMD "; client_no_context_takeover=\"\""),
    DECLINED("unterminated quote", PMD "; server_max_window_bits=\"10"),
    DECLINED("list broken before", "foo;;, " PMD),
    DECLINED("dangling semicolon", PMD ";"),
    DECLINED("too many parameters", PMD "; a; b; c; d; e; f; g; h; i, " PMD),
    {"disabled", {0, 0, false, false, true}, {PMD}, 0, NULL, {0}},
    {"cfg client window, offer lacks it", {0, 10}, {PMD}, 0, NULL, {0}},
    {"cfg client window, bare offer",
     {0, 10},
     {PMD "; client_max_window_bits"},
     1,
     PMD "; client_max_window_bits=10",
     {0, 0, 15, 10}},
    {"cfg client window, larger offer",
     {0, 10},
     {PMD "; client_max_window_bits=12"},
     1,
     PMD "; client_max_window_bits=10",
     {0, 0, 15, 10}},
    {"cfg client window, smaller offer",
     {0, 10},
     {PMD "; client_max_window_bits=9"},
     1,
     PMD "; client_max_window_bits=9",
     {0, 0, 15, 9}},
    {"cfg client window, second offer can",
     {0, 10},
     {PMD "; server_no_context_takeover", PMD "; client_max_window_bits"},
     1,
     PMD "; client_max_window_bits=10",
     {0, 0, 15, 10}},
    {"cfg server window", {10}, {PMD}, 1, PMD "; server_max_window_bits=10", {0, 0, 10, 15}},
    {"cfg server window, larger offer",
     {10},
     {PMD "; server_max_window_bits=12"},
     1,
     PMD "; server_max_window_bits=10",
     {0, 0, 10, 15}},
    {"cfg server window, smaller offer",
     {10},
     {PMD "; server_max_window_bits=9"},
     1,
     PMD "; server_max_window_bits=9",
     {0, 0, 9, 15}},
    {"cfg insists on server reset",
     {0, 0, true},
     {PMD},
     1,
     PMD "; server_no_context_takeover",
     {1, 0, 15, 15}},
    {"cfg insists on client reset",
     {0, 0, false, true},
     {PMD},
     1,
     PMD "; client_no_context_takeover",
     {0, 1, 15, 15}},
    {"smallest everything",
     {8, 8, true, true},
     {PMD "; client_max_window_bits"},
     1,
     PMD "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; "
         "client_max_window_bits=8",
     {1, 1, 8, 8}},
};

static void test_server_negotiate(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < COUNT(server_cases); i++) {
        const server_case *t = &server_cases[i];
        ws_deflate_config cfg;
        ws_deflate_params p;
        ws_header h[4];
        char answer[WS_DEFLATE_HEADER_MAX];
        size_t n = 0, len = 999;
        int rc;

        make_cfg(&t->cfg, &cfg);
        /* Other headers around the extension headers are skipped. */
        h[n++] = (ws_header){"Host", 4, "example.com", 11};
        while (n - 1 < 3 && t->offers[n - 1] != NULL) {
            h[n] = ext_hdr(t->offers[n - 1]);
            n++;
        }
        memset(&p, 0xAB, sizeof p);
        strcpy(answer, "untouched");
        rc = ws_deflate_server_negotiate(&cfg, h, n, answer, sizeof answer, &len, &p);
        if (rc != t->rc) {
            print_error("%s: rc %d, want %d\n", t->name, rc, t->rc);
            fail();
        }
        if (rc == 1) {
            if (strcmp(answer, t->answer) != 0 || len != strlen(t->answer)) {
                print_error("%s: answer \"%s\", want \"%s\"\n", t->name, answer, t->answer);
                fail();
            }
            check_params(t->name, &p, &t->params);
        } else {
            assert_string_equal(answer, "untouched");
            assert_int_equal(len, 999);
        }
    }
}

static void test_server_negotiate_errors(void **state)
{
    ws_deflate_config cfg;
    ws_deflate_params p;
    ws_header h = ext_hdr(PMD "; server_no_context_takeover; client_no_context_takeover; "
                              "server_max_window_bits=9; client_max_window_bits=9");
    char answer[WS_DEFLATE_HEADER_MAX];
    size_t len, need;
    (void)state;

    ws_deflate_config_init(&cfg);
    cfg.enable = true;
    assert_int_equal(ws_deflate_server_negotiate(&cfg, &h, 1, answer, sizeof answer, &len, &p), 1);
    need = len + 1;
    /* One byte short of the answer and its NUL: WS_E_BUFFER, for every smaller size. */
    for (len = 0; len < need; len++)
        assert_int_equal(ws_deflate_server_negotiate(&cfg, &h, 1, answer, len, NULL, &p),
                         WS_E_BUFFER);
    assert_int_equal(ws_deflate_server_negotiate(&cfg, &h, 1, answer, need, NULL, &p), 1);
    assert_int_equal(ws_deflate_server_negotiate(&cfg, &h, 1, NULL, 10, NULL, &p), WS_E_INVALID);
    assert_int_equal(ws_deflate_server_negotiate(&cfg, &h, 1, answer, 10, NULL, NULL),
                     WS_E_INVALID);
    assert_int_equal(ws_deflate_server_negotiate(NULL, &h, 1, answer, 10, NULL, &p), WS_E_INVALID);
    assert_int_equal(ws_deflate_server_negotiate(&cfg, NULL, 1, answer, 10, NULL, &p),
                     WS_E_INVALID);
    assert_int_equal(ws_deflate_server_negotiate(&cfg, NULL, 0, answer, 10, NULL, &p), 0);
    cfg.server_max_window_bits = 7;
    assert_int_equal(ws_deflate_server_negotiate(&cfg, &h, 1, answer, 10, NULL, &p), WS_E_INVALID);
    cfg.server_max_window_bits = 15;
    cfg.client_max_window_bits = 16;
    assert_int_equal(ws_deflate_server_negotiate(&cfg, &h, 1, answer, 10, NULL, &p), WS_E_INVALID);
    cfg.client_max_window_bits = 15;
    cfg.level = 10;
    assert_int_equal(ws_deflate_server_negotiate(&cfg, &h, 1, answer, 10, NULL, &p), WS_E_INVALID);
    cfg.level = 0;
    cfg.mem_level = 0;
    assert_int_equal(ws_deflate_server_negotiate(&cfg, &h, 1, answer, 10, NULL, &p), WS_E_INVALID);
}

/* Many declined offers before the good one: all are read, in one pass, and the good one
 * is still found (a wall-clock bound would be flaky; the work is linear by construction,
 * and this shows nothing is skipped or re-scanned into a wrong answer). */
static void test_server_many_offers(void **state)
{
    const char *bad = PMD "; server_max_window_bits=16, ";
    size_t count = 20000, blen = strlen(bad), i;
    char *v = malloc(count * blen + 64);
    ws_deflate_config cfg;
    ws_deflate_params p;
    ws_header h[2];
    char answer[WS_DEFLATE_HEADER_MAX];
    (void)state;

    assert_non_null(v);
    for (i = 0; i < count; i++)
        memcpy(v + i * blen, bad, blen);
    strcpy(v + count * blen, PMD "; client_max_window_bits=12");
    h[0] = ext_hdr(v);
    h[1] = ext_hdr(PMD);
    ws_deflate_config_init(&cfg);
    cfg.enable = true;
    assert_int_equal(ws_deflate_server_negotiate(&cfg, h, 2, answer, sizeof answer, NULL, &p), 1);
    assert_string_equal(answer, PMD "; client_max_window_bits=12");
    free(v);
}

/* ---- client: the offer, and answers in, verdict out -------------------------------------- */

typedef struct offer_case {
    tcfg cfg;
    const char *offer;
} offer_case;

static const offer_case offer_cases[] = {
    {{0}, PMD "; client_max_window_bits"},
    {{10}, PMD "; server_max_window_bits=10; client_max_window_bits"},
    {{0, 9}, PMD "; client_max_window_bits=9"},
    {{0, 0, true}, PMD "; server_no_context_takeover; client_max_window_bits"},
    {{0, 0, false, true}, PMD "; client_no_context_takeover; client_max_window_bits"},
    {{8, 8, true, true},
     PMD "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; "
         "client_max_window_bits=8"},
};

static void test_client_offer(void **state)
{
    size_t i, len;
    char out[WS_DEFLATE_HEADER_MAX];
    ws_deflate_config cfg;
    (void)state;

    for (i = 0; i < COUNT(offer_cases); i++) {
        make_cfg(&offer_cases[i].cfg, &cfg);
        assert_int_equal(ws_deflate_client_offer(&cfg, out, sizeof out, &len), WS_OK);
        assert_string_equal(out, offer_cases[i].offer);
        assert_int_equal(len, strlen(offer_cases[i].offer));
        assert_int_equal(ws_deflate_client_offer(&cfg, out, len, &len), WS_E_BUFFER);
        assert_int_equal(ws_deflate_client_offer(&cfg, out, len + 1, NULL), WS_OK);
    }
    cfg.enable = false;
    assert_int_equal(ws_deflate_client_offer(&cfg, out, sizeof out, &len), WS_E_INVALID);
    cfg.enable = true;
    assert_int_equal(ws_deflate_client_offer(&cfg, NULL, sizeof out, &len), WS_E_INVALID);
    assert_int_equal(ws_deflate_client_offer(NULL, out, sizeof out, &len), WS_E_INVALID);
}

typedef struct client_case {
    const char *name;
    tcfg cfg;
    const char *answers[3];
    int rc;
    tparams params;
} client_case;

#define REFUSED(n, a)                                                                              \
    {                                                                                              \
        n, {0}, {a}, WS_E_HTTP_EXTENSION,                                                          \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

static const client_case client_cases[] = {
    {"no answer", {0}, {NULL}, 0, {0}},
    {"another extension only", {0}, {"foo"}, 0, {0}},
    {"plain", {0}, {PMD}, 1, {0, 0, 15, 15}},
    {"server flag", {0}, {PMD "; server_no_context_takeover"}, 1, {1, 0, 15, 15}},
    {"client flag", {0}, {PMD "; client_no_context_takeover"}, 1, {0, 1, 15, 15}},
    {"server window unasked", {0}, {PMD "; server_max_window_bits=10"}, 1, {0, 0, 10, 15}},
    {"client window", {0}, {PMD "; client_max_window_bits=9"}, 1, {0, 0, 15, 9}},
    {"quoted client window", {0}, {PMD "; client_max_window_bits=\"9\""}, 1, {0, 0, 15, 9}},
    {"all four",
     {0},
     {PMD "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; "
          "client_max_window_bits=8"},
     1,
     {1, 1, 8, 8}},
    {"with another extension", {0}, {"foo, " PMD "; server_max_window_bits=12"}, 1, {0, 0, 12, 15}},
    REFUSED("client window without value", PMD "; client_max_window_bits"),
    REFUSED("server window without value", PMD "; server_max_window_bits"),
    REFUSED("unknown parameter", PMD "; foo"),
    REFUSED("duplicate flag", PMD "; client_no_context_takeover; client_no_context_takeover"),
    REFUSED("duplicate window", PMD "; server_max_window_bits=9; server_max_window_bits=9"),
    REFUSED("window 7", PMD "; server_max_window_bits=7"),
    REFUSED("window 16", PMD "; client_max_window_bits=16"),
    REFUSED("leading zero", PMD "; server_max_window_bits=09"),
    REFUSED("value on flag", PMD "; server_no_context_takeover=1"),
    REFUSED("two answers", PMD ", " PMD),
    {"two answers in two headers", {0}, {PMD, PMD}, WS_E_HTTP_EXTENSION, {0}},
    REFUSED("malformed list", PMD ";"),
    REFUSED("unterminated quote", PMD "; client_max_window_bits=\"9"),
    {"not offered", {0, 0, false, false, true}, {PMD}, WS_E_HTTP_EXTENSION, {0}},
    {"not offered, not answered", {0, 0, false, false, true}, {"foo"}, 0, {0}},
    {"server window asked, missing", {10}, {PMD}, WS_E_HTTP_EXTENSION, {0}},
    {"server window asked, larger",
     {10},
     {PMD "; server_max_window_bits=11"},
     WS_E_HTTP_EXTENSION,
     {0}},
    {"server window asked, same", {10}, {PMD "; server_max_window_bits=10"}, 1, {0, 0, 10, 15}},
    {"server window asked, smaller", {10}, {PMD "; server_max_window_bits=8"}, 1, {0, 0, 8, 15}},
    {"client window above ours",
     {0, 10},
     {PMD "; client_max_window_bits=11"},
     WS_E_HTTP_EXTENSION,
     {0}},
    {"client window ours", {0, 10}, {PMD "; client_max_window_bits=10"}, 1, {0, 0, 15, 10}},
    {"client window left to us", {0, 10}, {PMD}, 1, {0, 0, 15, 10}},
    {"server reset asked, missing", {0, 0, true}, {PMD}, WS_E_HTTP_EXTENSION, {0}},
    {"server reset asked", {0, 0, true}, {PMD "; server_no_context_takeover"}, 1, {1, 0, 15, 15}},
    {"client reset ours", {0, 0, false, true}, {PMD}, 1, {0, 1, 15, 15}},
};

static void test_client_check(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < COUNT(client_cases); i++) {
        const client_case *t = &client_cases[i];
        ws_deflate_config cfg;
        ws_deflate_params p;
        ws_header h[4];
        size_t n = 0;
        int rc;

        make_cfg(&t->cfg, &cfg);
        h[n++] = (ws_header){"Upgrade", 7, "websocket", 9};
        while (n - 1 < 3 && t->answers[n - 1] != NULL) {
            h[n] = ext_hdr(t->answers[n - 1]);
            n++;
        }
        memset(&p, 0xAB, sizeof p);
        rc = ws_deflate_client_check(&cfg, h, n, &p);
        if (rc != t->rc) {
            print_error("%s: rc %d, want %d\n", t->name, rc, t->rc);
            fail();
        }
        if (rc == 1)
            check_params(t->name, &p, &t->params);
        else
            assert_int_equal(p.server_max_window_bits, 0xAB);
    }
}

/* Whatever the two sides' settings, an offer the client writes and the server answers is
 * accepted by the client, and both sides agree on the parameters. */
static void test_negotiation_agrees(void **state)
{
    uint32_t seed = 12345;
    int i;
    (void)state;

    for (i = 0; i < 4000; i++) {
        ws_deflate_config ccfg, scfg;
        ws_deflate_params sp, cp;
        char offer[WS_DEFLATE_HEADER_MAX], answer[WS_DEFLATE_HEADER_MAX];
        ws_header h;
        int rc;

        seed = seed * 1103515245u + 12345u;
        ws_deflate_config_init(&ccfg);
        ws_deflate_config_init(&scfg);
        ccfg.enable = scfg.enable = true;
        ccfg.server_max_window_bits = (uint8_t)(8 + (seed >> 8) % 8);
        ccfg.client_max_window_bits = (uint8_t)(8 + (seed >> 11) % 8);
        scfg.server_max_window_bits = (uint8_t)(8 + (seed >> 14) % 8);
        scfg.client_max_window_bits = (uint8_t)(8 + (seed >> 17) % 8);
        ccfg.server_no_context_takeover = (seed >> 20) & 1;
        ccfg.client_no_context_takeover = (seed >> 21) & 1;
        scfg.server_no_context_takeover = (seed >> 22) & 1;
        scfg.client_no_context_takeover = (seed >> 23) & 1;

        assert_int_equal(ws_deflate_client_offer(&ccfg, offer, sizeof offer, NULL), WS_OK);
        h = ext_hdr(offer);
        rc = ws_deflate_server_negotiate(&scfg, &h, 1, answer, sizeof answer, NULL, &sp);
        /* The client always offers client_max_window_bits, so the server can always
         * lower the client's window: every offer is acceptable. */
        assert_int_equal(rc, 1);
        h = ext_hdr(answer);
        assert_int_equal(ws_deflate_client_check(&ccfg, &h, 1, &cp), 1);
        assert_memory_equal(&sp, &cp, sizeof sp);
        assert_true(sp.server_max_window_bits <= ccfg.server_max_window_bits);
        assert_true(sp.server_max_window_bits <= scfg.server_max_window_bits);
        assert_true(sp.client_max_window_bits <= ccfg.client_max_window_bits);
        assert_true(sp.client_max_window_bits <= scfg.client_max_window_bits);
        assert_true(sp.server_no_context_takeover ==
                    (ccfg.server_no_context_takeover || scfg.server_no_context_takeover));
        assert_true(sp.client_no_context_takeover ==
                    (ccfg.client_no_context_takeover || scfg.client_no_context_takeover));
    }
}

/* ---- data path helpers ------------------------------------------------------------------- */

typedef struct dbuf {
    uint8_t *p;
    size_t len;
    size_t cap;
} dbuf;

static void dbuf_put(dbuf *b, const uint8_t *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void dbuf_free(dbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static ws_deflate_params mkparams(bool snct, bool cnct, uint8_t sw, uint8_t cw)
{
    ws_deflate_params p;
    p.server_no_context_takeover = snct;
    p.client_no_context_takeover = cnct;
    p.server_max_window_bits = sw;
    p.client_max_window_bits = cw;
    return p;
}

static const ws_deflate_params default_params = {false, false, 15, 15};

static void *plain_realloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

/* Inflates one message whose compressed bytes come in pieces cut at cuts[0..ncuts) (offsets,
 * increasing), cap bytes of output at a time, appending what comes out to out. Returns
 * WS_DEFLATE_END or the error. */
static int inflate_cut(ws_inflater *z, const uint8_t *in, size_t len, const size_t *cuts,
                       size_t ncuts, size_t cap, dbuf *out)
{
    uint8_t *buf = malloc(cap);
    size_t piece, start = 0;
    int rc = WS_E_STATE;

    assert_non_null(buf);
    for (piece = 0; piece <= ncuts; piece++) {
        size_t end = piece < ncuts ? cuts[piece] : len;
        bool last = piece == ncuts;
        size_t pos = start;

        for (;;) {
            size_t used, made;
            rc = ws_inflater_step(z, in ? in + pos : NULL, end - pos, last, buf, cap, &used, &made);
            if (rc < 0) {
                assert_int_equal(made, 0);
                free(buf);
                return rc;
            }
            assert_true(used <= end - pos);
            assert_true(made <= cap);
            dbuf_put(out, buf, made);
            pos += used;
            if (rc == WS_DEFLATE_MORE) {
                size_t u2, m2;
                /* Short of full only when an error comes next. */
                if (made < cap) {
                    rc = ws_inflater_step(z, NULL, 0, last, buf, cap, &u2, &m2);
                    assert_true(rc < 0);
                    assert_int_equal(m2, 0);
                    free(buf);
                    return rc;
                }
                continue;
            }
            assert_int_equal(pos, end);
            assert_int_equal(rc, last ? WS_DEFLATE_END : WS_DEFLATE_NEED_INPUT);
            break;
        }
        start = end;
    }
    free(buf);
    return rc;
}

static int inflate_whole(ws_inflater *z, const uint8_t *in, size_t len, size_t cap, dbuf *out)
{
    return inflate_cut(z, in, len, NULL, 0, cap, out);
}

/* Compresses one message given in fragments of frag bytes (0: whole), cap bytes of output
 * at a time, appending the payload bytes to out. */
static void deflate_frags(ws_deflater *z, const uint8_t *in, size_t len, size_t frag, size_t cap,
                          dbuf *out)
{
    uint8_t *buf = malloc(cap);
    size_t start = 0;

    assert_non_null(buf);
    do {
        size_t n = (frag == 0 || len - start <= frag) ? len - start : frag;
        bool last = start + n == len;
        size_t pos = start;

        for (;;) {
            size_t used, made;
            int rc = ws_deflater_step(z, in ? in + pos : NULL, start + n - pos, last, buf, cap,
                                      &used, &made);
            assert_true(rc >= 0);
            assert_true(used <= start + n - pos);
            assert_true(made <= cap);
            dbuf_put(out, buf, made);
            pos += used;
            if (rc == WS_DEFLATE_MORE)
                continue;
            assert_int_equal(pos, start + n);
            assert_int_equal(rc, last ? WS_DEFLATE_END : WS_DEFLATE_NEED_INPUT);
            break;
        }
        start += n;
    } while (start < len);
    free(buf);
}

static void deflate_whole(ws_deflater *z, const uint8_t *in, size_t len, dbuf *out)
{
    deflate_frags(z, in, len, 0, ws_deflater_bound(len), out);
}

static void unhex(const char *hex, dbuf *out)
{
    out->len = 0;
    while (hex[0] && hex[1]) {
        uint8_t b = (uint8_t)strtoul((char[3]){hex[0], hex[1], 0}, NULL, 16);
        dbuf_put(out, &b, 1);
        hex += 2;
    }
}

static bool dbuf_is(const dbuf *b, const char *s)
{
    return b->len == strlen(s) && (b->len == 0 || memcmp(b->p, s, b->len) == 0);
}

static bool dbuf_is_hex(const dbuf *b, const char *hex)
{
    dbuf want = {0};
    bool eq;
    unhex(hex, &want);
    eq = b->len == want.len && (b->len == 0 || memcmp(b->p, want.p, b->len) == 0);
    dbuf_free(&want);
    return eq;
}

/* Deterministic generator (xorshift32). */
static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* JSON-like text of exactly len bytes: compresses about as real API traffic does. */
static void gen_json(uint32_t *seed, uint8_t *out, size_t len)
{
    static const char *const keys[] = {"\"price\":",  "\"qty\":", "\"symbol\":\"",
                                       "\"side\":\"", "\"ts\":",  "\"id\":"};
    size_t i = 0;

    while (i < len) {
        const char *k = keys[rnd(seed) % COUNT(keys)];
        char num[16];
        size_t kl = strlen(k), nl;

        nl = (size_t)snprintf(num, sizeof num, "%u,", (unsigned)(rnd(seed) % 100000));
        if (i + kl <= len) {
            memcpy(out + i, k, kl);
            i += kl;
        }
        if (i + nl <= len) {
            memcpy(out + i, num, nl);
            i += nl;
        } else {
            while (i < len)
                out[i++] = ' ';
        }
    }
}

static void gen_random(uint32_t *seed, uint8_t *out, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        out[i] = (uint8_t)rnd(seed);
}

/* ---- RFC 7692 §7.2.3 ------------------------------------------------------------------------ */

typedef struct rfc_case {
    const char *name;
    const char *payloads[3]; /* hex, one message each; a '|' cuts a message into frames */
    const char *text;        /* what each message inflates to */
} rfc_case;

static const rfc_case rfc_cases[] = {
    {"7.2.3.1 Hello", {"f248cdc9c90700"}, "Hello"},
    {"7.2.3.1 Hello in two frames", {"f248cd|c9c90700"}, "Hello"},
    {"7.2.3.2 two messages sharing the window", {"f248cdc9c90700", "f200110000"}, "Hello"},
    {"7.2.3.3 stored block", {"000500faff48656c6c6f00"}, "Hello"},
    {"7.2.3.4 BFINAL set, then a new stream", {"f348cdc9c9070000", "f248cdc9c90700"}, "Hello"},
    {"7.2.3.5 two blocks in one message", {"f24805000000ffffcac9c90700"}, "Hello"},
    {"empty message: an empty stored block", {"00", "f248cdc9c90700"}, NULL},
    {"empty payload stays empty", {"", "f248cdc9c90700"}, NULL},
};

static void test_rfc_examples_inflate(void **state)
{
    size_t i, m;
    (void)state;

    for (i = 0; i < COUNT(rfc_cases); i++) {
        const rfc_case *t = &rfc_cases[i];
        ws_inflater *z;

        assert_int_equal(
            ws_inflater_new(&z, &default_params, WS_ROLE_SERVER, 1000, plain_realloc, NULL), WS_OK);
        for (m = 0; m < 3 && t->payloads[m] != NULL; m++) {
            dbuf in = {0}, out = {0};
            const char *bar = strchr(t->payloads[m], '|');
            size_t cut;
            char hex[64];

            assert_true(strlen(t->payloads[m]) < sizeof hex);
            strcpy(hex, t->payloads[m]);
            if (bar != NULL)
                memmove(hex + (bar - t->payloads[m]), bar + 1, strlen(bar));
            unhex(hex, &in);
            cut = bar ? (size_t)(bar - t->payloads[m]) / 2 : 0;
            assert_int_equal(inflate_cut(z, in.p, in.len, &cut, bar ? 1 : 0, 64, &out),
                             WS_DEFLATE_END);
            if (t->text == NULL && m == 0)
                assert_int_equal(out.len, 0);
            else if (!dbuf_is(&out, "Hello")) {
                print_error("%s: message %zu inflated to %zu bytes\n", t->name, m, out.len);
                fail();
            }
            dbuf_free(&in);
            dbuf_free(&out);
        }
        ws_inflater_free(z);
    }
}

static void test_rfc_examples_deflate(void **state)
{
    ws_deflater *z;
    dbuf out = {0};
    ws_deflate_params reset = mkparams(true, false, 15, 15);
    const uint8_t *hello = (const uint8_t *)"Hello";
    (void)state;

    /* With context takeover the second "Hello" refers back to the first (§7.2.3.2). */
    assert_int_equal(
        ws_deflater_new(&z, &default_params, WS_ROLE_SERVER, NULL, plain_realloc, NULL), WS_OK);
    deflate_whole(z, hello, 5, &out);
    assert_true(dbuf_is_hex(&out, "f248cdc9c90700"));
    out.len = 0;
    deflate_whole(z, hello, 5, &out);
    assert_true(dbuf_is_hex(&out, "f200110000"));
    out.len = 0;
    /* An empty message is one empty stored block without its tail. */
    deflate_whole(z, hello, 0, &out);
    assert_true(dbuf_is_hex(&out, "00"));
    ws_deflater_free(z);

    /* Without it, every message is compressed as if it were the first. */
    assert_int_equal(ws_deflater_new(&z, &reset, WS_ROLE_SERVER, NULL, plain_realloc, NULL), WS_OK);
    out.len = 0;
    deflate_whole(z, hello, 5, &out);
    assert_true(dbuf_is_hex(&out, "f248cdc9c90700"));
    out.len = 0;
    deflate_whole(z, hello, 5, &out);
    assert_true(dbuf_is_hex(&out, "f248cdc9c90700"));
    out.len = 0;
    deflate_whole(z, hello, 0, &out);
    assert_true(dbuf_is_hex(&out, "00"));
    ws_deflater_free(z);

    /* The client's compressor follows client_no_context_takeover, not the server's flag. */
    assert_int_equal(ws_deflater_new(&z, &reset, WS_ROLE_CLIENT, NULL, plain_realloc, NULL), WS_OK);
    out.len = 0;
    deflate_whole(z, hello, 5, &out);
    out.len = 0;
    deflate_whole(z, hello, 5, &out);
    assert_true(dbuf_is_hex(&out, "f200110000"));
    ws_deflater_free(z);
    dbuf_free(&out);
}

/* Fragments: each is flushed, and the message still ends without the tail. */
static void test_deflate_fragments(void **state)
{
    ws_deflater *z;
    ws_inflater *in;
    dbuf out = {0}, back = {0};
    uint8_t msg[3000];
    uint32_t seed = 7;
    size_t frag;
    (void)state;

    gen_json(&seed, msg, sizeof msg);
    for (frag = 1; frag <= sizeof msg; frag = frag * 3 + 1) {
        assert_int_equal(
            ws_deflater_new(&z, &default_params, WS_ROLE_CLIENT, NULL, plain_realloc, NULL), WS_OK);
        assert_int_equal(
            ws_inflater_new(&in, &default_params, WS_ROLE_SERVER, SIZE_MAX, plain_realloc, NULL),
            WS_OK);
        out.len = back.len = 0;
        deflate_frags(z, msg, sizeof msg, frag, WS_DEFLATE_OUT_MIN, &out);
        assert_false(out.len >= 4 && memcmp(out.p + out.len - 4, "\x00\x00\xff\xff", 4) == 0);
        assert_int_equal(inflate_whole(in, out.p, out.len, 100, &back), WS_DEFLATE_END);
        assert_int_equal(back.len, sizeof msg);
        assert_memory_equal(back.p, msg, sizeof msg);
        ws_deflater_free(z);
        ws_inflater_free(in);
    }
    dbuf_free(&out);
    dbuf_free(&back);
}

/* ---- split at every offset ------------------------------------------------------------------ */

static void test_split_every_offset(void **state)
{
    uint8_t m1[2000], m2[2500];
    dbuf c1 = {0}, c2 = {0}, out = {0};
    uint32_t seed = 99;
    ws_deflater *d;
    size_t i, j;
    (void)state;

    gen_json(&seed, m1, sizeof m1);
    gen_json(&seed, m2, sizeof m2);
    memcpy(m2 + 100, m1 + 200, 1000); /* so m2 refers back into m1 */
    assert_int_equal(
        ws_deflater_new(&d, &default_params, WS_ROLE_CLIENT, NULL, plain_realloc, NULL), WS_OK);
    deflate_whole(d, m1, sizeof m1, &c1);
    deflate_whole(d, m2, sizeof m2, &c2);
    ws_deflater_free(d);

    /* The second message, cut once at every offset (and byte by byte), after the first. */
    for (i = 0; i <= c2.len + 1; i++) {
        ws_inflater *z;
        size_t *cuts = NULL, ncuts = 1;

        assert_int_equal(
            ws_inflater_new(&z, &default_params, WS_ROLE_SERVER, 1u << 20, plain_realloc, NULL),
            WS_OK);
        out.len = 0;
        assert_int_equal(inflate_whole(z, c1.p, c1.len, 512, &out), WS_DEFLATE_END);
        assert_int_equal(out.len, sizeof m1);
        out.len = 0;
        if (i <= c2.len) {
            cuts = &i;
        } else {
            ncuts = c2.len;
            cuts = malloc(ncuts * sizeof *cuts);
            assert_non_null(cuts);
            for (j = 0; j < ncuts; j++)
                cuts[j] = j + 1;
        }
        assert_int_equal(inflate_cut(z, c2.p, c2.len, cuts, ncuts, i % 2 ? 16 : 4096, &out),
                         WS_DEFLATE_END);
        assert_int_equal(out.len, sizeof m2);
        assert_memory_equal(out.p, m2, sizeof m2);
        if (i > c2.len)
            free(cuts);
        ws_inflater_free(z);
    }
    dbuf_free(&c1);
    dbuf_free(&c2);
    dbuf_free(&out);
}

/* ---- decompression bombs ------------------------------------------------------------------ */

/* A message of n bytes inflates when n <= limit and fails with WS_E_MESSAGE_TOO_BIG when
 * n > limit, having handed out at most limit bytes, whatever the output size per step. */
static void test_bomb_near_limit(void **state)
{
    static const size_t limits[] = {1, 16, 100, 4096, 65536, 1u << 20};
    static const size_t caps[] = {16, 1000, 65536};
    ws_deflate_config cfg;
    size_t li, ci;
    long d;
    uint8_t *msg = calloc((1u << 20) + 3, 1);
    dbuf c = {0}, out = {0};
    (void)state;

    assert_non_null(msg);
    ws_deflate_config_init(&cfg);
    cfg.level = 9;
    for (li = 0; li < COUNT(limits); li++) {
        for (d = -2; d <= 2; d++) {
            size_t n = (size_t)((long)limits[li] + d);
            ws_deflater *z;

            if ((long)limits[li] + d < 0)
                continue;
            assert_int_equal(
                ws_deflater_new(&z, &default_params, WS_ROLE_CLIENT, &cfg, plain_realloc, NULL),
                WS_OK);
            c.len = 0;
            deflate_whole(z, msg, n, &c);
            ws_deflater_free(z);
            for (ci = 0; ci < COUNT(caps); ci++) {
                ws_inflater *in;
                int rc;

                assert_int_equal(ws_inflater_new(&in, &default_params, WS_ROLE_SERVER, limits[li],
                                                 plain_realloc, NULL),
                                 WS_OK);
                out.len = 0;
                rc = inflate_whole(in, c.p, c.len, caps[ci], &out);
                if (n <= limits[li]) {
                    assert_int_equal(rc, WS_DEFLATE_END);
                    assert_int_equal(out.len, n);
                } else {
                    size_t used, made;
                    uint8_t buf[16];
                    assert_int_equal(rc, WS_E_MESSAGE_TOO_BIG);
                    assert_int_equal(out.len, limits[li]); /* all up to the limit, no more */
                    /* The error stays. */
                    assert_int_equal(
                        ws_inflater_step(in, c.p, c.len, true, buf, sizeof buf, &used, &made),
                        WS_E_MESSAGE_TOO_BIG);
                    assert_int_equal(made, 0);
                }
                ws_inflater_free(in);
            }
        }
    }
    free(msg);
    dbuf_free(&c);
    dbuf_free(&out);
}

/* 64 MiB of zeros compress to about 64 KiB; with a 1 MiB limit inflating stops as soon as
 * the limit is passed, long before the compressed bytes are all read, and memory stays at
 * the inflater's own. */
static void test_bomb_big(void **state)
{
    size_t total = 64u << 20, chunk = 1u << 20, done = 0, used, made, pos = 0;
    uint8_t *zeros = calloc(chunk, 1), buf[65536];
    dbuf c = {0};
    ws_deflater *d;
    ws_inflater *z;
    counter cnt = {0};
    size_t got = 0;
    int rc;
    (void)state;

    assert_non_null(zeros);
    assert_int_equal(
        ws_deflater_new(&d, &default_params, WS_ROLE_CLIENT, NULL, plain_realloc, NULL), WS_OK);
    while (done < total) {
        uint8_t *out = malloc(ws_deflater_bound(chunk));
        bool last = done + chunk == total;
        size_t at = 0;
        assert_non_null(out);
        do {
            rc = ws_deflater_step(d, zeros + at, chunk - at, last, out, ws_deflater_bound(chunk),
                                  &used, &made);
            assert_true(rc >= 0);
            at += used;
            dbuf_put(&c, out, made);
        } while (rc == WS_DEFLATE_MORE);
        free(out);
        done += chunk;
    }
    ws_deflater_free(d);
    assert_true(c.len < total / 500);

    assert_int_equal(
        ws_inflater_new(&z, &default_params, WS_ROLE_SERVER, 1u << 20, count_realloc, &cnt), WS_OK);
    do {
        rc = ws_inflater_step(z, c.p + pos, c.len - pos, true, buf, sizeof buf, &used, &made);
        pos += used;
        got += made;
    } while (rc == WS_DEFLATE_MORE);
    assert_int_equal(made, 0);
    assert_int_equal(rc, WS_E_MESSAGE_TOO_BIG);
    assert_int_equal(got, 1u << 20);
    assert_true(pos < c.len / 8);
    assert_true(cnt.peak < 64 * 1024);
    ws_inflater_free(z);
    assert_int_equal(cnt.live, 0);
    free(zeros);
    dbuf_free(&c);
}

/* ---- invalid data ------------------------------------------------------------------------------
 */

static void test_invalid_data(void **state)
{
    static const char *const bad[] = {
        "ff",                 /* reserved block type 3 */
        "07",                 /* reserved block type 3, not final */
        "0005000000",         /* stored block whose NLEN is not ~LEN */
        "f248cdc9c907000100", /* a stored block whose NLEN (from the tail) is wrong */
        "fc",                 /* dynamic block with impossible code lengths */
    };
    size_t i;
    (void)state;

    for (i = 0; i < COUNT(bad); i++) {
        ws_inflater *z;
        dbuf in = {0}, out = {0};
        size_t used, made;
        uint8_t buf[16];
        int rc;

        assert_int_equal(
            ws_inflater_new(&z, &default_params, WS_ROLE_CLIENT, 1000, plain_realloc, NULL), WS_OK);
        unhex(bad[i], &in);
        rc = inflate_whole(z, in.p, in.len, 16, &out);
        if (rc != WS_E_DEFLATE_DATA) {
            print_error("case %zu (%s): rc %d\n", i, bad[i], rc);
            fail();
        }
        assert_int_equal(ws_error_close_code(rc), 1007);
        assert_int_equal(ws_inflater_step(z, in.p, in.len, true, buf, sizeof buf, &used, &made),
                         WS_E_DEFLATE_DATA);
        ws_inflater_free(z);
        dbuf_free(&in);
        dbuf_free(&out);
    }
}

/* Bytes that inflated before bad data are handed out before the error, the same whether
 * the input comes whole or in pieces (found by fuzz_deflate_data). */
static void test_error_after_output(void **state)
{
    static const char *const cases[] = {
        "f248cdc9c9073d",     /* "Hello", then a final block with a broken header */
        "f248cdc9c90700ff07", /* "Hello", an empty stored block, then a reserved type */
    };
    size_t i, cut, cap;
    dbuf in = {0}, out = {0};
    (void)state;

    for (i = 0; i < COUNT(cases); i++) {
        unhex(cases[i], &in);
        for (cut = 0; cut <= in.len; cut++) {
            for (cap = WS_DEFLATE_OUT_MIN; cap <= 64; cap *= 4) {
                ws_inflater *z;
                assert_int_equal(
                    ws_inflater_new(&z, &default_params, WS_ROLE_SERVER, 1000, plain_realloc, NULL),
                    WS_OK);
                out.len = 0;
                assert_int_equal(inflate_cut(z, in.p, in.len, &cut, 1, cap, &out),
                                 WS_E_DEFLATE_DATA);
                assert_true(dbuf_is(&out, "Hello"));
                ws_inflater_free(z);
            }
        }
    }
    dbuf_free(&in);
    dbuf_free(&out);
}

/* A reference back past the start of the stream (here into a preset dictionary the
 * sender used and the receiver never had) fails with WS_E_DEFLATE_DATA however the input is
 * cut and whatever the output size per step: the receive window is always 32 KiB, so
 * zlib's distance check sees the same history every time. */
static void test_reference_before_start(void **state)
{
    dbuf in = {0}, out = {0};
    size_t cut, cap;
    (void)state;

    /* "0123456789abcdef" x 2 + "xyz", compressed against a dictionary of that string x 4. */
    unhex("22c4afa8ac0200", &in);
    for (cut = 0; cut <= in.len; cut++) {
        for (cap = WS_DEFLATE_OUT_MIN; cap <= 4096; cap *= 16) {
            ws_inflater *z;
            assert_int_equal(
                ws_inflater_new(&z, &default_params, WS_ROLE_CLIENT, SIZE_MAX, plain_realloc, NULL),
                WS_OK);
            out.len = 0;
            assert_int_equal(inflate_cut(z, in.p, in.len, &cut, 1, cap, &out), WS_E_DEFLATE_DATA);
            ws_inflater_free(z);
        }
    }
    dbuf_free(&in);
    dbuf_free(&out);
}

/* Inflates the raw stream in[0..len) with zlib's own inflater at 2^bits bytes of window,
 * 16 bytes of output per call so that almost nothing but the window is history. */
static bool strict_inflate(const uint8_t *in, size_t len, int bits, dbuf *out)
{
    z_stream zs;
    uint8_t buf[16];
    int ret;

    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, -bits), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    do {
        zs.next_out = buf;
        zs.avail_out = sizeof buf;
        ret = inflate(&zs, Z_SYNC_FLUSH);
        dbuf_put(out, buf, sizeof buf - zs.avail_out);
    } while (ret == Z_OK && (zs.avail_in > 0 || zs.avail_out == 0));
    inflateEnd(&zs);
    return ret != Z_DATA_ERROR;
}

/* Appends one message's payload and the tail the sender removed: the raw stream. */
static void deflate_to_stream(ws_deflater *d, const uint8_t *msg, size_t len, dbuf *stream)
{
    deflate_whole(d, msg, len, stream);
    dbuf_put(stream, (const uint8_t *)"\x00\x00\xff\xff", 4);
}

/* A negotiated window of 8 is compressed with zlib's 9 (zlib refuses 8 for raw streams):
 * the output still fits a 256-byte window, which a window of 15 would not. */
static void test_window_8_fits(void **state)
{
    uint8_t msg[6000];
    uint32_t seed = 8;
    ws_deflate_params small = mkparams(false, false, 8, 8), big = default_params;
    dbuf c = {0}, out = {0};
    ws_deflater *d;
    size_t i;
    (void)state;

    gen_json(&seed, msg, 3000);
    for (i = 3000; i < sizeof msg; i++)
        msg[i] = msg[i - 1000]; /* repeats 1000 bytes back, and nearer ones */
    assert_int_equal(ws_deflater_new(&d, &small, WS_ROLE_SERVER, NULL, plain_realloc, NULL), WS_OK);
    deflate_to_stream(d, msg, sizeof msg, &c);
    deflate_to_stream(d, msg, sizeof msg, &c); /* a second message, with context */
    ws_deflater_free(d);
    assert_true(strict_inflate(c.p, c.len, 8, &out));
    assert_int_equal(out.len, 2 * sizeof msg);
    assert_memory_equal(out.p, msg, sizeof msg);
    assert_memory_equal(out.p + sizeof msg, msg, sizeof msg);

    c.len = out.len = 0;
    assert_int_equal(ws_deflater_new(&d, &big, WS_ROLE_SERVER, NULL, plain_realloc, NULL), WS_OK);
    deflate_to_stream(d, msg, sizeof msg, &c);
    ws_deflater_free(d);
    assert_false(strict_inflate(c.p, c.len, 8, &out));
    dbuf_free(&c);
    dbuf_free(&out);
}

/* ---- round trips with random settings ---------------------------------------------------- */

static void test_round_trips(void **state)
{
    uint32_t seed = 2024;
    int iter;
    uint8_t *msg = malloc(200000);
    dbuf c = {0}, out = {0};
    (void)state;

    assert_non_null(msg);
    for (iter = 0; iter < 150; iter++) {
        ws_deflate_params p =
            mkparams(rnd(&seed) & 1, rnd(&seed) & 1, (uint8_t)(8 + rnd(&seed) % 8),
                     (uint8_t)(8 + rnd(&seed) % 8));
        ws_deflate_config cfg;
        ws_role sender = (rnd(&seed) & 1) ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
        ws_role receiver = sender == WS_ROLE_CLIENT ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
        ws_deflater *d;
        ws_inflater *z;
        counter cd = {0}, ci = {0};
        int m, messages = 1 + (int)(rnd(&seed) % 5);

        ws_deflate_config_init(&cfg);
        cfg.level = (int)(rnd(&seed) % 10);
        cfg.mem_level = 1 + (int)(rnd(&seed) % 9);
        assert_int_equal(ws_deflater_new(&d, &p, sender, &cfg, count_realloc, &cd), WS_OK);
        assert_int_equal(ws_inflater_new(&z, &p, receiver, 200000, count_realloc, &ci), WS_OK);
        for (m = 0; m < messages; m++) {
            static const size_t sizes[] = {0, 1, 5, 100, 1000, 5000, 70000, 200000};
            size_t n = sizes[rnd(&seed) % COUNT(sizes)];
            size_t frag = (rnd(&seed) & 1) ? 0 : 1 + rnd(&seed) % 3000;
            size_t cap = WS_DEFLATE_OUT_MIN + rnd(&seed) % 5000;
            size_t ncuts = rnd(&seed) % 4, cuts[3], k;

            if (rnd(&seed) & 1)
                gen_json(&seed, msg, n);
            else
                gen_random(&seed, msg, n);
            c.len = out.len = 0;
            if (frag == 0 && (rnd(&seed) & 1)) {
                deflate_whole(d, msg, n, &c);
                assert_true(c.len <= ws_deflater_bound(n));
            } else {
                deflate_frags(d, msg, n, frag, cap, &c);
            }
            for (k = 0; k < ncuts; k++)
                cuts[k] = c.len ? rnd(&seed) % (c.len + 1) : 0;
            /* increasing order */
            for (k = 1; k < ncuts; k++) {
                if (cuts[k] < cuts[k - 1]) {
                    size_t t = cuts[k];
                    cuts[k] = cuts[k - 1];
                    cuts[k - 1] = t;
                    k = 0;
                }
            }
            assert_int_equal(inflate_cut(z, c.p, c.len, cuts, ncuts,
                                         WS_DEFLATE_OUT_MIN + rnd(&seed) % 9000, &out),
                             WS_DEFLATE_END);
            assert_int_equal(out.len, n);
            if (n > 0)
                assert_memory_equal(out.p, msg, n);
        }
        ws_deflater_free(d);
        ws_inflater_free(z);
        assert_int_equal(cd.live, 0);
        assert_int_equal(ci.live, 0);
    }
    free(msg);
    dbuf_free(&c);
    dbuf_free(&out);
}

/* ws_deflater_bound holds for incompressible data at every level, window and mem_level. */
static void test_deflater_bound(void **state)
{
    static const size_t sizes[] = {0, 1, 100, 4096, 65536, 300000};
    uint8_t *msg = malloc(300000);
    uint32_t seed = 3;
    dbuf c = {0};
    int level, mem;
    size_t s;
    (void)state;

    assert_non_null(msg);
    gen_random(&seed, msg, 300000);
    for (level = 0; level <= 9; level += 3) {
        for (mem = 1; mem <= 9; mem += 4) {
            for (s = 0; s < COUNT(sizes); s++) {
                ws_deflate_config cfg;
                ws_deflate_params p = mkparams(false, false, (uint8_t)(8 + (level + mem) % 8), 15);
                ws_deflater *d;

                ws_deflate_config_init(&cfg);
                cfg.level = level;
                cfg.mem_level = mem;
                assert_int_equal(ws_deflater_new(&d, &p, WS_ROLE_SERVER, &cfg, plain_realloc, NULL),
                                 WS_OK);
                c.len = 0;
                deflate_whole(d, msg, sizes[s], &c);
                assert_true(c.len <= ws_deflater_bound(sizes[s]));
                ws_deflater_free(d);
            }
        }
    }
    assert_int_equal(ws_deflater_bound(SIZE_MAX), SIZE_MAX);
    free(msg);
    dbuf_free(&c);
}

/* ---- memory -----------------------------------------------------------------------------------
 */

typedef struct mem_case {
    const char *name;
    ws_deflate_params params;
    int mem_level;
} mem_case;

/* Prints what one connection holds in each direction, for docs/deflate.md, and checks that
 * without context takeover nothing but the small objects stays between messages. */
static void test_memory_per_connection(void **state)
{
    static const mem_case cases[] = {
        {"defaults (window 15, memLevel 8, context takeover)", {false, false, 15, 15}, 8},
        {"window 15, memLevel 8, no context takeover", {true, true, 15, 15}, 8},
        {"window 12, memLevel 5, context takeover", {false, false, 12, 12}, 5},
        {"smallest (window 8, memLevel 1, no context takeover)", {true, true, 8, 8}, 1},
    };
    uint8_t msg[16384];
    uint32_t seed = 1;
    size_t i;
    dbuf c = {0}, out = {0};
    (void)state;

    gen_json(&seed, msg, sizeof msg);
    for (i = 0; i < COUNT(cases); i++) {
        counter cd = {0}, ci = {0};
        ws_deflate_config cfg;
        ws_deflater *d;
        ws_inflater *z;
        size_t d_idle, z_idle, d_fresh, z_fresh;
        bool reset = cases[i].params.server_no_context_takeover;

        ws_deflate_config_init(&cfg);
        cfg.mem_level = cases[i].mem_level;
        assert_int_equal(
            ws_deflater_new(&d, &cases[i].params, WS_ROLE_SERVER, &cfg, count_realloc, &cd), WS_OK);
        assert_int_equal(
            ws_inflater_new(&z, &cases[i].params, WS_ROLE_SERVER, SIZE_MAX, count_realloc, &ci),
            WS_OK);
        d_fresh = ws_deflater_memory(d);
        z_fresh = ws_inflater_memory(z);
        assert_int_equal(d_fresh, cd.live);
        assert_int_equal(z_fresh, ci.live);
        c.len = out.len = 0;
        deflate_whole(d, msg, sizeof msg, &c);
        assert_int_equal(inflate_whole(z, c.p, c.len, 4096, &out), WS_DEFLATE_END);
        assert_int_equal(out.len, sizeof msg);
        d_idle = ws_deflater_memory(d);
        z_idle = ws_inflater_memory(z);
        /* What the objects report is what the allocator holds for them. */
        assert_int_equal(d_idle, cd.live);
        assert_int_equal(z_idle, ci.live);
        /* zlib's state stays between messages (reset, not set up again); only a side
         * without context takeover can give it back when idle (trim). */
        assert_true(d_idle > d_fresh);
        assert_true(z_idle > z_fresh);
        assert_int_equal(ws_deflater_trim(d), reset);
        assert_int_equal(ws_inflater_trim(z), reset);
        assert_int_equal(ws_deflater_memory(d), reset ? d_fresh : d_idle);
        assert_int_equal(ws_inflater_memory(z), reset ? z_fresh : z_idle);
        assert_int_equal(ws_deflater_memory(d), cd.live);
        assert_int_equal(ws_inflater_memory(z), ci.live);
        print_message("# memory %s: send %zu B peak, %zu B between messages, %zu B idle; "
                      "receive %zu B peak, %zu B between messages, %zu B idle (%zu%% of %zu B "
                      "sent compressed)\n",
                      cases[i].name, cd.peak, d_idle, ws_deflater_memory(d), ci.peak, z_idle,
                      ws_inflater_memory(z), c.len * 100 / sizeof msg, sizeof msg);
        /* A trimmed codec sets zlib up again for the next message. */
        c.len = out.len = 0;
        deflate_whole(d, msg, sizeof msg, &c);
        assert_int_equal(inflate_whole(z, c.p, c.len, 4096, &out), WS_DEFLATE_END);
        assert_int_equal(out.len, sizeof msg);
        assert_memory_equal(out.p, msg, sizeof msg);
        ws_deflater_free(d);
        ws_inflater_free(z);
        assert_int_equal(cd.live, 0);
        assert_int_equal(ci.live, 0);
        assert_int_equal(cd.blocks, 0);
        assert_int_equal(ci.blocks, 0);
    }
    dbuf_free(&c);
    dbuf_free(&out);
}

/* Every allocation failing in turn: a clear WS_E_NOMEM, nothing leaked, and a deflater
 * works again once memory is back (a failed initialisation is not sticky). */
static void test_allocation_failures(void **state)
{
    uint8_t msg[5000], buf[8192], out[sizeof msg + 1];
    uint32_t seed = 11;
    size_t fail, used, made, clen = 0, made2;
    int rc, nomem = 0;
    (void)state;

    gen_json(&seed, msg, sizeof msg);
    for (fail = 1; fail < 10; fail++) {
        counter cnt = {0};
        ws_deflater *d = NULL;

        cnt.fail_at = fail;
        rc = ws_deflater_new(&d, &default_params, WS_ROLE_CLIENT, NULL, count_realloc, &cnt);
        if (rc == WS_OK)
            rc = ws_deflater_step(d, msg, sizeof msg, true, buf, sizeof buf, &used, &made);
        if (rc == WS_E_NOMEM) {
            nomem++;
            if (d != NULL) {
                cnt.fail_at = 0;
                rc = ws_deflater_step(d, msg, sizeof msg, true, buf, sizeof buf, &used, &made);
            }
        }
        if (d != NULL) {
            assert_int_equal(rc, WS_DEFLATE_END);
            clen = made;
        } else {
            assert_int_equal(rc, WS_E_NOMEM);
        }
        ws_deflater_free(d);
        assert_int_equal(cnt.live, 0);
    }
    assert_true(nomem >= 2); /* the object, and zlib's state */
    assert_true(clen > 0);

    nomem = 0;
    for (fail = 1; fail < 10; fail++) {
        counter cnt = {0};
        ws_inflater *z = NULL;

        cnt.fail_at = fail;
        rc = ws_inflater_new(&z, &default_params, WS_ROLE_SERVER, SIZE_MAX, count_realloc, &cnt);
        if (rc == WS_OK) {
            rc = ws_inflater_step(z, buf, clen, true, out, sizeof out, &used, &made);
            if (rc == WS_DEFLATE_MORE) { /* the bytes before the failure come first */
                assert_true(made < sizeof out);
                rc = ws_inflater_step(z, buf + used, clen - used, true, out, sizeof out, &used,
                                      &made2);
                assert_int_equal(made2, 0);
                assert_int_equal(rc, WS_E_NOMEM);
            }
        }
        if (rc == WS_DEFLATE_END) {
            assert_int_equal(made, sizeof msg);
            assert_memory_equal(out, msg, sizeof msg);
        } else {
            assert_int_equal(rc, WS_E_NOMEM);
            nomem++;
        }
        ws_inflater_free(z);
        assert_int_equal(cnt.live, 0);
    }
    assert_true(nomem >= 2);
}

/* zlib's state failing to be set up at the start of a message takes nothing and sticks
 * to nothing: the same call succeeds once memory is back. */
static void test_nomem_retry(void **state)
{
    static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    counter cnt = {0};
    ws_inflater *z;
    uint8_t out[64];
    size_t used = 99, made = 99;
    (void)state;

    assert_int_equal(
        ws_inflater_new(&z, &default_params, WS_ROLE_CLIENT, SIZE_MAX, count_realloc, &cnt), WS_OK);
    cnt.fail_at = cnt.calls + 1; /* inflateInit2's first allocation */
    assert_int_equal(ws_inflater_step(z, hello, sizeof hello, true, out, sizeof out, &used, &made),
                     WS_E_NOMEM);
    assert_int_equal(used, 0);
    assert_int_equal(made, 0);
    assert_int_equal(ws_inflater_step(z, hello, sizeof hello, true, out, sizeof out, &used, &made),
                     WS_DEFLATE_END);
    assert_int_equal(used, sizeof hello);
    assert_int_equal(made, 5);
    assert_memory_equal(out, "Hello", 5);
    ws_inflater_free(z);
    assert_int_equal(cnt.live, 0);
}

static void test_bad_arguments(void **state)
{
    ws_inflater *z;
    ws_deflater *d;
    ws_deflate_params p = default_params;
    uint8_t buf[64];
    size_t used, made;
    (void)state;

    p.server_max_window_bits = 7;
    assert_int_equal(ws_inflater_new(&z, &p, WS_ROLE_SERVER, 10, plain_realloc, NULL),
                     WS_E_INVALID);
    assert_null(z);
    assert_int_equal(ws_deflater_new(&d, &p, WS_ROLE_SERVER, NULL, plain_realloc, NULL),
                     WS_E_INVALID);
    assert_null(d);
    p.server_max_window_bits = 15;
    p.client_max_window_bits = 16;
    assert_int_equal(ws_inflater_new(&z, &p, WS_ROLE_SERVER, 10, plain_realloc, NULL),
                     WS_E_INVALID);
    assert_int_equal(ws_inflater_new(&z, &default_params, WS_ROLE_SERVER, 10, NULL, NULL),
                     WS_E_INVALID);
    assert_int_equal(
        ws_inflater_new(NULL, &default_params, WS_ROLE_SERVER, 10, plain_realloc, NULL),
        WS_E_INVALID);
    assert_int_equal(ws_inflater_new(&z, NULL, WS_ROLE_SERVER, 10, plain_realloc, NULL),
                     WS_E_INVALID);
    assert_int_equal(ws_inflater_new(&z, &default_params, (ws_role)2, 10, plain_realloc, NULL),
                     WS_E_INVALID);

    assert_int_equal(ws_inflater_new(&z, &default_params, WS_ROLE_SERVER, 10, plain_realloc, NULL),
                     WS_OK);
    assert_int_equal(
        ws_deflater_new(&d, &default_params, WS_ROLE_SERVER, NULL, plain_realloc, NULL), WS_OK);
    assert_int_equal(ws_inflater_step(z, buf, 1, true, buf, WS_DEFLATE_OUT_MIN - 1, &used, &made),
                     WS_E_INVALID);
    assert_int_equal(ws_inflater_step(z, NULL, 1, true, buf, sizeof buf, &used, &made),
                     WS_E_INVALID);
    assert_int_equal(ws_inflater_step(z, buf, 1, true, NULL, sizeof buf, &used, &made),
                     WS_E_INVALID);
    assert_int_equal(ws_inflater_step(z, buf, 1, true, buf, sizeof buf, NULL, &made), WS_E_INVALID);
    assert_int_equal(ws_deflater_step(d, buf, 1, true, buf, WS_DEFLATE_OUT_MIN - 1, &used, &made),
                     WS_E_INVALID);
    assert_int_equal(ws_deflater_step(d, NULL, 1, true, buf, sizeof buf, &used, &made),
                     WS_E_INVALID);
    /* Bad arguments do not spoil the codec. */
    assert_int_equal(
        ws_deflater_step(d, (const uint8_t *)"Hello", 5, true, buf, sizeof buf, &used, &made),
        WS_DEFLATE_END);
    assert_int_equal(ws_inflater_step(z, buf, made, true, buf + 32, 32, &used, &made),
                     WS_DEFLATE_END);
    assert_int_equal(made, 5);
    assert_memory_equal(buf + 32, "Hello", 5);
    ws_inflater_free(z);
    ws_deflater_free(d);
    ws_inflater_free(NULL);
    ws_deflater_free(NULL);
    assert_int_equal(ws_inflater_memory(NULL), 0);
    assert_int_equal(ws_deflater_memory(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_server_negotiate),
        cmocka_unit_test(test_server_negotiate_errors),
        cmocka_unit_test(test_server_many_offers),
        cmocka_unit_test(test_client_offer),
        cmocka_unit_test(test_client_check),
        cmocka_unit_test(test_negotiation_agrees),
        cmocka_unit_test(test_rfc_examples_inflate),
        cmocka_unit_test(test_rfc_examples_deflate),
        cmocka_unit_test(test_deflate_fragments),
        cmocka_unit_test(test_split_every_offset),
        cmocka_unit_test(test_bomb_near_limit),
        cmocka_unit_test(test_bomb_big),
        cmocka_unit_test(test_invalid_data),
        cmocka_unit_test(test_error_after_output),
        cmocka_unit_test(test_reference_before_start),
        cmocka_unit_test(test_window_8_fits),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_deflater_bound),
        cmocka_unit_test(test_memory_per_connection),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_nomem_retry),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
