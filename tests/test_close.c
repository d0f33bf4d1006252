/*
 * Close payload tests: every code 0..5000 classified, a parse table of received payloads,
 * and build -> parse round trips with the builder's rejections.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "ws.h"

/* RFC 6455 §7.4 and the IANA registry, written as the list of ranges that may be sent. */
static const struct {
    unsigned lo, hi;
} valid_ranges[] = {
    {1000, 1003}, /* normal, going away, protocol error, unsupported data */
    {1007, 1014}, /* invalid payload .. bad gateway; 1004-1006 are reserved / local only */
    {3000, 4999}, /* registered libraries and frameworks, private use */
};

static bool expected_valid(unsigned code)
{
    size_t i;

    for (i = 0; i < sizeof valid_ranges / sizeof valid_ranges[0]; i++) {
        if (code >= valid_ranges[i].lo && code <= valid_ranges[i].hi)
            return true;
    }
    return false;
}

static void test_code_classification(void **state)
{
    static const unsigned invalid_examples[] = {0,    999,  1004, 1005,  1006, 1015,
                                                1016, 2999, 5000, 65535, 70000};
    unsigned code, nvalid = 0;
    size_t i;

    (void)state;
    for (code = 0; code <= 5000; code++) {
        if (ws_close_code_valid(code) != expected_valid(code))
            fail_msg("close code %u classified wrongly", code);
        nvalid += ws_close_code_valid(code) ? 1u : 0u;
    }
    assert_int_equal(nvalid, 4 + 8 + 2000);
    for (i = 0; i < sizeof invalid_examples / sizeof invalid_examples[0]; i++)
        assert_false(ws_close_code_valid(invalid_examples[i]));
    assert_true(ws_close_code_valid(1000));
    assert_true(ws_close_code_valid(1014));
    assert_true(ws_close_code_valid(3000));
    assert_true(ws_close_code_valid(4999));
}

/* Parse table: payload bytes -> code and reason, or an error. */
typedef struct parse_case {
    const char *name;
    const char *payload; /* bytes; length given separately (may hold NULs) */
    size_t len;
    int result;
    uint16_t code;
    size_t reason_len;
} parse_case;

/* A payload as the 2 code bytes and the reason, and its length (the reason may hold NULs). */
#define P(code, reason) code reason, sizeof(code reason) - 1

static const parse_case parse_cases[] = {
    {"empty", P("", ""), WS_OK, WS_CLOSE_NO_STATUS, 0},
    {"one byte", P("\x03", ""), WS_E_CLOSE_PAYLOAD, 0, 0},
    {"1000 no reason", P("\x03\xe8", ""), WS_OK, 1000, 0},
    {"1000 with reason", P("\x03\xe8", "bye"), WS_OK, 1000, 3},
    {"1001 with UTF-8 reason", P("\x03\xe9", "caf\xc3\xa9"), WS_OK, 1001, 5},
    {"4999 private", P("\x13\x87", ""), WS_OK, 4999, 0},
    {"3000 registered", P("\x0b\xb8", "x"), WS_OK, 3000, 1},
    {"1014 bad gateway", P("\x03\xf6", ""), WS_OK, 1014, 0},
    {"0", P("\x00\x00", ""), WS_E_CLOSE_CODE, 0, 0},
    {"999", P("\x03\xe7", ""), WS_E_CLOSE_CODE, 0, 0},
    {"1004 reserved", P("\x03\xec", ""), WS_E_CLOSE_CODE, 0, 0},
    {"1005 on the wire", P("\x03\xed", ""), WS_E_CLOSE_CODE, 0, 0},
    {"1006 on the wire", P("\x03\xee", ""), WS_E_CLOSE_CODE, 0, 0},
    {"1015 on the wire", P("\x03\xf7", "tls"), WS_E_CLOSE_CODE, 0, 0},
    {"2999", P("\x0b\xb7", ""), WS_E_CLOSE_CODE, 0, 0},
    {"5000", P("\x13\x88", ""), WS_E_CLOSE_CODE, 0, 0},
    {"65535", P("\xff\xff", ""), WS_E_CLOSE_CODE, 0, 0},
    {"invalid code beats bad reason", P("\x03\xed", "\xff"), WS_E_CLOSE_CODE, 0, 0},
    {"reason with 0xff", P("\x03\xe8", "a\xff"), WS_E_CLOSE_REASON, 0, 0},
    {"reason with a surrogate", P("\x03\xe8", "\xed\xa0\x80"), WS_E_CLOSE_REASON, 0, 0},
    {"reason with overlong NUL", P("\x03\xe8", "\xc0\x80"), WS_E_CLOSE_REASON, 0, 0},
    {"reason cut mid-character", P("\x03\xe8", "caf\xc3"), WS_E_CLOSE_REASON, 0, 0},
    {"reason with a NUL is UTF-8", P("\x03\xe8", "a\0b"), WS_OK, 1000, 3},
};

static void test_parse_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const parse_case *c = &parse_cases[i];
        const uint8_t *p = (const uint8_t *)c->payload;
        uint16_t code = 7;
        const uint8_t *reason = NULL;
        size_t reason_len = 99;
        int r = ws_close_parse(p, c->len, &code, &reason, &reason_len);

        if (r != c->result)
            fail_msg("%s: result %d, expected %d", c->name, r, c->result);
        if (r != WS_OK)
            continue;
        if (code != c->code || reason_len != c->reason_len)
            fail_msg("%s: code %u reason %zu bytes, expected %u and %zu", c->name, code, reason_len,
                     c->code, c->reason_len);
        if (c->len >= 2)
            assert_ptr_equal(reason, p + 2); /* points into the payload, no copy */
    }
}

/* Close payloads at the control-frame limit: 125 bytes parse, 126 do not. */
static void test_parse_lengths(void **state)
{
    uint8_t p[130];
    uint16_t code;
    const uint8_t *reason;
    size_t reason_len;

    (void)state;
    memset(p, 'r', sizeof p);
    p[0] = 0x03;
    p[1] = 0xe8;
    assert_int_equal(ws_close_parse(p, 125, &code, &reason, &reason_len), WS_OK);
    assert_int_equal(code, 1000);
    assert_int_equal(reason_len, 123);
    assert_int_equal(ws_close_parse(p, 126, &code, &reason, &reason_len), WS_E_CONTROL_TOO_LONG);
    assert_int_equal(ws_close_parse(p, 130, &code, &reason, &reason_len), WS_E_CONTROL_TOO_LONG);
}

static void test_build_parse_roundtrip(void **state)
{
    static const unsigned codes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                     1011, 1012, 1013, 1014, 3000, 4000, 4999};
    static const char *const reasons[] = {"", "bye", "\xe2\x82\xac uro", "\xf0\x9f\x98\x80"};
    char longest[WS_CLOSE_REASON_MAX];
    uint8_t out[WS_CONTROL_PAYLOAD_MAX];
    uint16_t code;
    const uint8_t *reason;
    size_t reason_len, i, j;
    int n;

    (void)state;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        for (j = 0; j < sizeof reasons / sizeof reasons[0]; j++) {
            size_t rl = strlen(reasons[j]);

            n = ws_close_build(out, codes[i], reasons[j], rl);
            assert_int_equal(n, (int)(2 + rl));
            assert_int_equal(out[0], codes[i] >> 8);
            assert_int_equal(out[1], codes[i] & 0xff);
            assert_int_equal(ws_close_parse(out, (size_t)n, &code, &reason, &reason_len), WS_OK);
            assert_int_equal(code, codes[i]);
            assert_int_equal(reason_len, rl);
            assert_memory_equal(reason, reasons[j], rl);
        }
    }

    /* The longest reason fills a 125-byte control payload exactly. */
    memset(longest, 'z', sizeof longest);
    n = ws_close_build(out, 1000, longest, sizeof longest);
    assert_int_equal(n, WS_CONTROL_PAYLOAD_MAX);
    assert_int_equal(ws_close_parse(out, (size_t)n, &code, &reason, &reason_len), WS_OK);
    assert_int_equal(reason_len, WS_CLOSE_REASON_MAX);

    /* No code: the empty payload, which parses as 1005. */
    assert_int_equal(ws_close_build(out, 0, NULL, 0), 0);
    assert_int_equal(ws_close_build(out, WS_CLOSE_NO_STATUS, "", 0), 0);
    assert_int_equal(ws_close_parse(out, 0, &code, &reason, &reason_len), WS_OK);
    assert_int_equal(code, WS_CLOSE_NO_STATUS);
    assert_int_equal(reason_len, 0);
}

static void test_build_rejects(void **state)
{
    static const unsigned bad_codes[] = {1,    999,  1004, 1006,  1015,        1016,
                                         2000, 2999, 5000, 65535, 65536 + 1000};
    char too_long[WS_CLOSE_REASON_MAX + 1];
    uint8_t out[WS_CONTROL_PAYLOAD_MAX + 8];
    size_t i;

    (void)state;
    memset(too_long, 'a', sizeof too_long);
    memset(out, 0x5a, sizeof out);
    assert_int_equal(ws_close_build(out, 1000, too_long, sizeof too_long), WS_E_INVALID);
    for (i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++)
        assert_int_equal(ws_close_build(out, bad_codes[i], "x", 1), WS_E_INVALID);
    assert_int_equal(ws_close_build(out, 1000, "a\xff", 2), WS_E_INVALID_UTF8);
    assert_int_equal(ws_close_build(out, 1000, "\xed\xa0\x80", 3), WS_E_INVALID_UTF8);
    assert_int_equal(ws_close_build(out, 1000, "caf\xc3", 4), WS_E_INVALID_UTF8);
    /* No code means no reason either. */
    assert_int_equal(ws_close_build(out, 0, "x", 1), WS_E_INVALID);
    assert_int_equal(ws_close_build(out, WS_CLOSE_NO_STATUS, "x", 1), WS_E_INVALID);
    assert_int_equal(ws_close_build(out, 1000, NULL, 1), WS_E_INVALID);
    /* Nothing was written by a rejected call. */
    for (i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0x5a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_classification), cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_lengths),       cmocka_unit_test(test_build_parse_roundtrip),
        cmocka_unit_test(test_build_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
