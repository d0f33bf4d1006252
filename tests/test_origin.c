/*
 * Tests for the origin policy: a table of allow patterns against origins (look-alike hosts,
 * ports, schemes, case, IPv6, null, malformed origins), same-origin against the Host
 * header, missing and repeated Origin headers, and the hook's verdicts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "ws.h"

typedef struct match_case {
    const char *pattern;
    const char *origin;
    bool match;
} match_case;

static const match_case match_cases[] = {
    /* exact */
    {"https://app.example.com", "https://app.example.com", true},
    {"https://app.example.com", "https://app.example.co", false},
    {"https://app.example.com", "https://app.example.comm", false},
    {"https://app.example.com", "https://xapp.example.com", false},
    {"https://app.example.com", "https://sub.app.example.com", false},
    {"https://app.example.com", "https://app.example.com.evil.net", false},
    {"https://app.example.com", "", false},
    /* scheme and host compare case-insensitively */
    {"https://app.example.com", "HTTPS://APP.Example.COM", true},
    {"HTTPS://App.Example.Com", "https://app.example.com", true},
    {"https://app.example.com", "http://app.example.com", false},
    {"http://app.example.com", "https://app.example.com", false},
    {"https://app.example.com", "wss://app.example.com", false},
    {"https://app.example.com", "httpss://app.example.com", false},
    /* default ports, explicit or not, compare equal; other ports never */
    {"https://app.example.com", "https://app.example.com:443", true},
    {"https://app.example.com:443", "https://app.example.com", true},
    {"http://app.example.com", "http://app.example.com:80", true},
    {"http://app.example.com:80", "http://app.example.com", true},
    {"https://app.example.com", "https://app.example.com:80", false},
    {"http://app.example.com", "http://app.example.com:443", false},
    {"https://app.example.com", "https://app.example.com:8443", false},
    {"http://localhost:8080", "http://localhost:8080", true},
    {"http://localhost:8080", "http://localhost:8081", false},
    {"http://localhost:8080", "http://localhost", false},
    {"http://localhost", "http://localhost:8080", false},
    {"http://localhost:8080", "http://localhost:08080", false},
    {"http://localhost:8080", "http://localhost:", false},
    {"http://localhost:8080", "http://localhost:8080:8080", false},
    {"http://localhost:65535", "http://localhost:65535", true},
    {"http://localhost:65536", "http://localhost:65536", false},
    {"http://localhost:0", "http://localhost:0", false},
    {"http://localhost:8080", "http://localhost:+8080", false},
    {"http://localhost:8080", "http://localhost:8080 ", false},
    /* a scheme without a default port needs the same (or no) port on both sides */
    {"app://thing", "app://thing", true},
    {"app://thing", "app://thing:80", false},
    {"app://thing", "apq://thing", false},
    {"app://thing", "APP://thing", true},
    {"app://thing:9", "app://thing:9", true},
    /* wildcard subdomains: one or more whole labels, never the apex or a look-alike */
    {"https://*.example.com", "https://a.example.com", true},
    {"https://*.example.com", "https://a.b.example.com", true},
    {"https://*.example.com", "https://A.EXAMPLE.com", true},
    {"https://*.example.com", "https://a.example.com:443", true},
    {"https://*.example.com", "https://example.com", false},
    {"https://*.example.com", "https://.example.com", false},
    {"https://*.example.com", "https://evilexample.com", false},
    {"https://*.example.com", "https://a.evilexample.com", false},
    {"https://*.example.com", "https://a.example.com.evil.net", false},
    {"https://*.example.com", "https://a.example.com:8443", false},
    {"https://*.example.com", "http://a.example.com", false},
    {"https://*.example.com", "https://*.example.com", false},
    {"https://*.example.com", "https://a..example.com", false},
    {"https://*.example.com", "https://[::1]", false},
    {"https://*.example.com:8443", "https://a.example.com:8443", true},
    {"https://*.example.com:8443", "https://a.example.com", false},
    {"https://a.*.example.com", "https://a.b.example.com", false},
    {"https://*example.com", "https://aexample.com", false},
    {"https://*", "https://a", false},
    {"https://*.", "https://a.", false},
    /* IPv6 literals in brackets, compared as written, case-insensitively */
    {"http://[::1]:8080", "http://[::1]:8080", true},
    {"http://[::1]:8080", "http://[::1]", false},
    {"http://[::1]", "http://[::1]:80", true},
    {"http://[2001:db8::a]", "http://[2001:DB8::A]", true},
    {"http://[2001:db8::a]", "http://[2001:db8::b]", false},
    {"http://[::ffff:1.2.3.4]", "http://[::ffff:1.2.3.4]", true},
    {"http://[::1]", "http://::1", false},
    {"http://[::1]", "http://[::1", false},
    {"http://[::1]", "http://[::1]x", false},
    {"http://[::1]", "http://[fe80::1%25eth0]", false},
    {"http://[fe80::1%25eth0]", "http://[fe80::1%25eth0]", false},
    {"http://[1.2.3.4]", "http://[1.2.3.4]", false},
    /* IPv4 */
    {"http://127.0.0.1:3000", "http://127.0.0.1:3000", true},
    {"http://127.0.0.1:3000", "http://127.0.0.10:3000", false},
    /* the opaque origin: only the literal null pattern, never a wildcard */
    {"null", "null", true},
    {"null", "NULL", false},
    {"null", "null ", false},
    {"null", "nul", false},
    {"https://*.example.com", "null", false},
    {"https://null", "null", false},
    {"null", "https://null", false},
    /* anything beyond scheme://host[:port] never matches */
    {"https://app.example.com", "https://app.example.com/", false},
    {"https://app.example.com", "https://app.example.com/path", false},
    {"https://app.example.com", "https://app.example.com?q", false},
    {"https://app.example.com", "https://app.example.com#f", false},
    {"https://app.example.com", "https://user@app.example.com", false},
    {"https://app.example.com", "https://user:pw@app.example.com", false},
    {"https://app.example.com", "https://evil.net@app.example.com", false},
    {"https://app.example.com", "https://app.example.com@evil.net", false},
    {"https://app.example.com", "https://app.example.com.", false},
    /* A rooted name is a host like any other (one rule for every host in libws): it
     * matches a pattern written the same way, and only that. */
    {"https://app.example.com.", "https://app.example.com.", true},
    {"https://app.example.com.", "https://app.example.com", false},
    {"https://*.example.com", "https://app.example.com.", false},
    {"https://*.example.com", "https://a.example.com.", false},
    {"https://app.example.com", "https://app%2eexample.com", false},
    {"https://app.example.com", "https://app.example.com\r\n", false},
    {"https://app.example.com", " https://app.example.com", false},
    {"https://app.example.com", "https:/app.example.com", false},
    {"https://app.example.com", "https//app.example.com", false},
    {"https://app.example.com", "app.example.com", false},
    {"https://app.example.com", "://app.example.com", false},
    {"https://app.example.com", "https://", false},
    {"https://app.example.com", "https://app.example.com https://app.example.com", false},
    {"https://app.example.com", "https://app.example.com,https://app.example.com", false},
    {"https://app.example.com", "https://app.exa mple.com", false},
    {"https://app.example.com", "https://app.example.com\xc2\xa0", false},
    {"https://app.example.com", "1https://app.example.com", false},
    /* a malformed pattern matches nothing, not even itself */
    {"https://app.example.com/", "https://app.example.com/", false},
    {"https://app.example.com/", "https://app.example.com", false},
    {"app.example.com", "app.example.com", false},
    {"", "", false},
    {"*", "https://a.example.com", false},
};

static void test_match_table(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
        const match_case *c = &match_cases[i];
        bool got = ws_origin_match(c->pattern, c->origin, strlen(c->origin));
        if (got != c->match)
            fail_msg("case %zu: pattern \"%s\" origin \"%s\": got %d, want %d", i, c->pattern,
                     c->origin, got, c->match);
    }
}

/* Only len bytes of the origin are read: the same bytes followed by more must not match
 * differently, and a NUL inside the origin is just a bad byte. */
static void test_match_length(void **state)
{
    static const char o[] = "https://a.example.com/evil";
    static const char nul[] = "https://a.example.com\0.evil.net";
    (void)state;
    assert_true(ws_origin_match("https://a.example.com", o, 21));
    assert_false(ws_origin_match("https://a.example.com", o, 22));
    assert_false(ws_origin_match("https://a.example.com", o, 20));
    assert_false(ws_origin_match("https://a.example.com", nul, sizeof nul - 1));
    assert_false(ws_origin_match(NULL, o, 21));
    assert_false(ws_origin_match("https://a.example.com", NULL, 0));
}

/* ---- requests ---------------------------------------------------------------------------- */

#define MAX_TEST_HEADERS 4

typedef struct test_request {
    ws_header headers[MAX_TEST_HEADERS];
    ws_request r;
} test_request;

static void hdr(ws_header *h, const char *name, const char *value)
{
    h->name = name;
    h->name_len = strlen(name);
    h->value = value;
    h->value_len = strlen(value);
}

/* A request with Host (when host is not NULL) and up to two Origin headers. */
static void make_request(test_request *t, const char *host, const char *origin, const char *origin2)
{
    size_t n = 0;

    memset(t, 0, sizeof *t);
    hdr(&t->headers[n++], "Upgrade", "websocket");
    if (host != NULL) {
        hdr(&t->headers[n++], "Host", host);
        t->r.host = host;
        t->r.host_len = strlen(host);
    }
    if (origin != NULL) {
        hdr(&t->headers[n++], "Origin", origin);
        t->r.origin = origin;
        t->r.origin_len = strlen(origin);
    }
    if (origin2 != NULL)
        hdr(&t->headers[n++], "origin", origin2);
    t->r.headers = t->headers;
    t->r.header_count = n;
}

typedef struct same_case {
    bool secure;
    const char *host;
    const char *origin;
    bool allowed;
} same_case;

static const same_case same_cases[] = {
    {false, "example.com", "http://example.com", true},
    {false, "example.com", "http://EXAMPLE.com", true},
    {false, "Example.COM", "http://example.com", true},
    {false, "example.com:80", "http://example.com", true},
    {false, "example.com", "http://example.com:80", true},
    {false, "example.com:8080", "http://example.com:8080", true},
    {false, "example.com:8080", "http://example.com", false},
    {false, "example.com", "http://example.com:8080", false},
    {false, "example.com", "https://example.com", false},
    {false, "example.com:443", "https://example.com", false},
    {false, "example.com", "http://a.example.com", false},
    {false, "example.com", "http://example.com.evil.net", false},
    {false, "example.com", "http://evilexample.com", false},
    {true, "example.com", "https://example.com", true},
    {true, "example.com:443", "https://example.com", true},
    {true, "example.com", "https://example.com:443", true},
    {true, "example.com", "http://example.com", false},
    {true, "example.com:80", "http://example.com", false},
    {true, "example.com:8443", "https://example.com:8443", true},
    {true, "example.com:8443", "https://example.com", false},
    {false, "[::1]:8080", "http://[::1]:8080", true},
    {false, "[::1]", "http://[::1]", true},
    {false, "[::1]", "http://[::2]", false},
    {false, "127.0.0.1:9000", "http://127.0.0.1:9000", true},
    /* a Host that is not a plain host[:port] gives no same-origin at all */
    {false, "*.example.com", "http://a.example.com", false},
    {false, "example.com:", "http://example.com", false},
    {false, "example.com:0080", "http://example.com", false},
    {false, "user@example.com", "http://example.com", false},
    {false, "example.com/x", "http://example.com", false},
    /* the origin must still be well formed */
    {false, "example.com", "http://example.com/", false},
    {false, "example.com", "null", false},
};

static void test_same_origin_table(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof same_cases / sizeof same_cases[0]; i++) {
        const same_case *c = &same_cases[i];
        ws_origin_policy p;
        test_request t;
        int want = c->allowed ? WS_OK : WS_E_ORIGIN, got;

        ws_origin_policy_init(&p);
        p.secure = c->secure;
        make_request(&t, c->host, c->origin, NULL);
        got = ws_origin_check(&p, &t.r);
        if (got != want)
            fail_msg("case %zu: host \"%s\" origin \"%s\" secure %d: got %d, want %d", i, c->host,
                     c->origin, c->secure, got, want);
        /* with same_origin off and nothing listed, nothing is allowed */
        p.same_origin = false;
        assert_int_equal(ws_origin_check(&p, &t.r), WS_E_ORIGIN);
    }
}

static void test_policy_defaults(void **state)
{
    ws_origin_policy p;
    (void)state;
    memset(&p, 0xAA, sizeof p);
    ws_origin_policy_init(&p);
    assert_null(p.allow);
    assert_int_equal(p.allow_count, 0);
    assert_true(p.same_origin);
    assert_false(p.secure);
    assert_true(p.allow_missing);
}

/* The allowlist and same-origin together; the list is tried in order and NULL entries
 * are skipped. */
static void test_allowlist_policy(void **state)
{
    static const char *const allow[] = {"https://app.example.com", NULL,
                                        "https://*.cdn.example.com", "http://localhost:8080"};
    static const struct {
        const char *origin;
        int want;
    } cases[] = {
        {"https://app.example.com", WS_OK},
        {"https://x.cdn.example.com", WS_OK},
        {"https://cdn.example.com", WS_E_ORIGIN},
        {"http://localhost:8080", WS_OK},
        {"http://localhost:8081", WS_E_ORIGIN},
        {"https://server.example.com", WS_OK}, /* same origin as the Host below */
        {"http://server.example.com", WS_E_ORIGIN},
        {"https://evil.example", WS_E_ORIGIN},
        {"null", WS_E_ORIGIN},
        {"", WS_E_ORIGIN}, /* present but empty is not missing */
    };
    ws_origin_policy p;
    size_t i;
    (void)state;

    ws_origin_policy_init(&p);
    p.allow = allow;
    p.allow_count = sizeof allow / sizeof allow[0];
    p.secure = true;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_request t;
        int got;
        make_request(&t, "server.example.com", cases[i].origin, NULL);
        got = ws_origin_check(&p, &t.r);
        if (got != cases[i].want)
            fail_msg("case %zu (%s): got %d, want %d", i, cases[i].origin, got, cases[i].want);
    }
}

static void test_null_origin(void **state)
{
    static const char *const with_null[] = {"https://a.example.com", "null"};
    ws_origin_policy p;
    test_request t;
    (void)state;

    ws_origin_policy_init(&p);
    make_request(&t, "null", "null", NULL); /* not even a Host of "null" makes it same-origin */
    assert_int_equal(ws_origin_check(&p, &t.r), WS_E_ORIGIN);
    p.allow = with_null;
    p.allow_count = 1;
    assert_int_equal(ws_origin_check(&p, &t.r), WS_E_ORIGIN);
    p.allow_count = 2;
    assert_int_equal(ws_origin_check(&p, &t.r), WS_OK);
    make_request(&t, "a.example.com", "NULL", NULL);
    assert_int_equal(ws_origin_check(&p, &t.r), WS_E_ORIGIN);
}

static void test_missing_origin(void **state)
{
    ws_origin_policy p;
    test_request t;
    (void)state;

    ws_origin_policy_init(&p);
    make_request(&t, "example.com", NULL, NULL);
    assert_int_equal(ws_origin_check(&p, &t.r), WS_OK);
    assert_int_equal(ws_origin_hook(&p, NULL, &t.r), WS_HOOK_ALLOW);
    p.allow_missing = false;
    assert_int_equal(ws_origin_check(&p, &t.r), WS_E_ORIGIN);
    assert_int_equal(ws_origin_hook(&p, NULL, &t.r), WS_E_ORIGIN);
}

/* Two Origin headers are refused whatever they say, even two allowed ones. */
static void test_repeated_origin(void **state)
{
    static const char *const allow[] = {"https://a.example.com", "https://b.example.com"};
    ws_origin_policy p;
    test_request t;
    (void)state;

    ws_origin_policy_init(&p);
    p.allow = allow;
    p.allow_count = 2;
    make_request(&t, "a.example.com", "https://a.example.com", NULL);
    assert_int_equal(ws_origin_check(&p, &t.r), WS_OK);
    make_request(&t, "a.example.com", "https://a.example.com", "https://b.example.com");
    assert_int_equal(ws_origin_check(&p, &t.r), WS_E_ORIGIN);
    make_request(&t, "a.example.com", "https://a.example.com", "https://a.example.com");
    assert_int_equal(ws_origin_check(&p, &t.r), WS_E_ORIGIN);
    make_request(&t, "a.example.com", "https://evil.example", "https://a.example.com");
    assert_int_equal(ws_origin_check(&p, &t.r), WS_E_ORIGIN);
    p.allow_missing = true;
    assert_int_equal(ws_origin_hook(&p, NULL, &t.r), WS_E_ORIGIN);
}

/* A request made by hand with r->origin but no header list is judged on r->origin. */
static void test_origin_without_headers(void **state)
{
    static const char *const allow[] = {"https://a.example.com"};
    ws_origin_policy p;
    ws_request r;
    (void)state;

    memset(&r, 0, sizeof r);
    ws_origin_policy_init(&p);
    p.allow = allow;
    p.allow_count = 1;
    p.allow_missing = false;
    r.origin = "https://a.example.com";
    r.origin_len = strlen(r.origin);
    assert_int_equal(ws_origin_check(&p, &r), WS_OK);
    r.origin = "https://b.example.com";
    assert_int_equal(ws_origin_check(&p, &r), WS_E_ORIGIN); /* no Host: no same-origin */
    r.origin = NULL;
    r.origin_len = 0;
    assert_int_equal(ws_origin_check(&p, &r), WS_E_ORIGIN);
}

static void test_invalid_arguments(void **state)
{
    ws_origin_policy p;
    test_request t;
    (void)state;

    ws_origin_policy_init(&p);
    make_request(&t, "example.com", "http://example.com", NULL);
    assert_int_equal(ws_origin_check(NULL, &t.r), WS_E_INVALID);
    assert_int_equal(ws_origin_check(&p, NULL), WS_E_INVALID);
    assert_int_equal(ws_origin_hook(NULL, NULL, &t.r), WS_E_ORIGIN); /* fails closed */
    p.allow_count = 1;                                               /* but allow is NULL */
    assert_int_equal(ws_origin_check(&p, &t.r), WS_E_INVALID);
    assert_int_equal(ws_origin_hook(&p, NULL, &t.r), WS_E_ORIGIN);
}

/* Trusted hosts: the names a server answers for, against DNS rebinding. */
static void test_host_trusted(void **state)
{
    static const char *const hosts[] = {"localhost", "app.example.com:8443", "*.internal.example",
                                        "[::1]", "not a host"};
    static const struct {
        const char *host;
        bool want;
    } cases[] = {
        {"localhost", true},
        {"LOCALHOST:8080", true}, /* no port in the entry: any port */
        {"app.example.com:8443", true},
        {"app.example.com", false}, /* the entry pins its port */
        {"app.example.com:443", false},
        {"a.internal.example", true},
        {"a.b.internal.example:1", true},
        {"internal.example", false},
        {"evilinternal.example", false},
        {"[::1]:9000", true},
        {"[::2]", false},
        {"attacker.example:8080", false},
        {"localhost.attacker.example", false},
        {"not a host", false},
        {"u@localhost", false},
        {"", false},
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = ws_host_trusted(hosts, 5, cases[i].host, strlen(cases[i].host));
        if (got != cases[i].want)
            fail_msg("host \"%s\": got %d, want %d", cases[i].host, got, cases[i].want);
    }
    assert_false(ws_host_trusted(NULL, 1, "localhost", 9));
    assert_false(ws_host_trusted(hosts, 0, "localhost", 9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_trusted),      cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_match_length),      cmocka_unit_test(test_same_origin_table),
        cmocka_unit_test(test_policy_defaults),   cmocka_unit_test(test_allowlist_policy),
        cmocka_unit_test(test_null_origin),       cmocka_unit_test(test_missing_origin),
        cmocka_unit_test(test_repeated_origin),   cmocka_unit_test(test_origin_without_headers),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
