/*
 * Tests for token auth: signed tokens (vectors from the Python snippet of docs/hooks.md, and
 * every malformed, tampered or non-canonical form), extraction from each source, tickets,
 * and the hook's verdicts, alone and run by a server connection (async resume included).
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

#define KEY     "libws-test-key-0123456789abcdef!"
#define KEY_LEN (sizeof KEY - 1)

static const uint8_t *test_key(void)
{
    return (const uint8_t *)KEY;
}

/* ---- signing: the bytes are exactly what the Python snippet of docs/hooks.md mints ---- */

typedef struct sign_case {
    const char *subject;
    size_t subject_len; /* 0: strlen */
    uint64_t expires;
    const char *token;
} sign_case;

static const char x128[] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

static const sign_case sign_cases[] = {
    {"user-42", 0, 1700000000u,
     "dXNlci00Mg.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw"},
    {"user-42", 0, 1700000001u,
     "dXNlci00Mg.1700000001.wiIXZYwDpkBNSyr0bw2hc8DQvMERUluEpFuecKvsj9Q"},
    {"\xc3\xbc"
     "ser/\xc3\xa9t\xc3\xa9?",
     0, 4102444800u, "w7xzZXIvw6l0w6k_.4102444800.A9KxGFyRxmou7uLJ7zKniawqTZYIhb30NdBcShBLPo4"},
    {x128, 0, UINT64_MAX,
     "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4"
     "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4"
     "eHg."
     "18446744073709551615.OyYepqPg1XvmVmJUphGpGQNA-ZggxC-XIJWBLQ3xpoM"},
    {"a", 0, 0, "YQ.0.YCkxhwOwTrO86ixxjr5WqGmvFHoGEcjSO9uRmuvFt14"},
    {"ab", 0, 1, "YWI.1.OnV1lzgRJh2aPphwbP0hwWxj4hukyRYKFhXD6z3oM3I"},
    {"abc", 0, 1, "YWJj.1.hnFSfuQypbgrLfHPUST52dzlL_42DPYC9EEDfj5Uk1Q"},
};

static void test_sign_vectors(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof sign_cases / sizeof sign_cases[0]; i++) {
        const sign_case *c = &sign_cases[i];
        size_t slen = c->subject_len ? c->subject_len : strlen(c->subject);
        size_t want = strlen(c->token), len = 0;
        char out[WS_TOKEN_MAX + 1];
        ws_token_claims claims;

        memset(out, 0xAA, sizeof out);
        assert_int_equal(
            ws_token_sign(test_key(), KEY_LEN, c->subject, slen, c->expires, out, sizeof out, &len),
            WS_OK);
        assert_true(len <= WS_TOKEN_MAX);
        if (len != want || memcmp(out, c->token, want) != 0)
            fail_msg("case %zu: got %.*s, want %s", i, (int)len, out, c->token);
        assert_int_equal(out[len], '\0');

        /* and it verifies just before its expiry, not at it */
        if (c->expires > 0) {
            assert_int_equal(
                ws_token_verify(test_key(), KEY_LEN, c->token, want, c->expires - 1, &claims),
                WS_OK);
            assert_int_equal(claims.subject_len, slen);
            assert_memory_equal(claims.subject, c->subject, slen);
            assert_int_equal(claims.subject[slen], '\0');
            assert_true(claims.expires == c->expires);
        }
        assert_int_equal(ws_token_verify(test_key(), KEY_LEN, c->token, want, c->expires, &claims),
                         WS_E_AUTH_EXPIRED);
    }
}

static void test_sign_errors(void **state)
{
    char out[WS_TOKEN_MAX + 1];
    const char *tok = sign_cases[0].token;
    size_t need = strlen(tok), len = 0;
    (void)state;

    assert_int_equal(ws_token_sign(NULL, 0, "a", 1, 1, out, sizeof out, &len), WS_E_INVALID);
    assert_int_equal(ws_token_sign(test_key(), 0, "a", 1, 1, out, sizeof out, &len), WS_E_INVALID);
    assert_int_equal(ws_token_sign(test_key(), KEY_LEN, "", 0, 1, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_token_sign(test_key(), KEY_LEN, NULL, 0, 1, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_token_sign(test_key(), KEY_LEN, "a\0b", 3, 1, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_token_sign(test_key(), KEY_LEN, x128, 128, 1, out, sizeof out, &len),
                     WS_OK);
    assert_int_equal(ws_token_sign(test_key(), KEY_LEN,
                                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                   "xxxxxxxxx",
                                   129, 1, out, sizeof out, &len),
                     WS_E_INVALID);
    assert_int_equal(ws_token_sign(test_key(), KEY_LEN, "a", 1, 1, out, sizeof out, NULL),
                     WS_E_INVALID);

    /* the token and its terminator must fit */
    len = 7;
    memset(out, 0xAA, sizeof out);
    assert_int_equal(ws_token_sign(test_key(), KEY_LEN, "user-42", 7, 1700000000u, out, need, &len),
                     WS_E_BUFFER);
    assert_int_equal(len, 7);
    assert_int_equal(ws_token_sign(test_key(), KEY_LEN, "user-42", 7, 1700000000u, NULL, 0, &len),
                     WS_E_BUFFER);
    assert_int_equal(
        ws_token_sign(test_key(), KEY_LEN, "user-42", 7, 1700000000u, out, need + 1, &len), WS_OK);
    assert_int_equal(len, need);
    assert_memory_equal(out, tok, need + 1);
}

/* ---- verifying ----------------------------------------------------------------------- */

#define VALID    "dXNlci00Mg.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw"
#define NOW      1600000000u
#define TAMPERED "dXNlci00Mw.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw"

typedef struct verify_case {
    const char *token;
    uint64_t now;
    int want;
    const char *why;
} verify_case;

/* The entries marked "signed" carry a correct HMAC over a payload that is malformed, so
 * only the format check can refuse them. */
static const verify_case verify_cases[] = {
    {VALID, NOW, WS_OK, "valid"},
    {VALID, 1699999999u, WS_OK, "one second left"},
    {VALID, 1700000000u, WS_E_AUTH_EXPIRED, "expired at its expiry"},
    {VALID, UINT64_MAX, WS_E_AUTH_EXPIRED, "long expired"},
    /* bad signature, tampered payload */
    {"dXNlci00Mg.1700000000.katErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw", NOW, WS_E_AUTH_INVALID,
     "signature changed"},
    {"dXNlci00Mw.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw", NOW, WS_E_AUTH_INVALID,
     "subject changed to user-43"},
    {"dXNlci00Mg.1800000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw", NOW, WS_E_AUTH_INVALID,
     "expiry extended"},
    {"dXNlci00Mg.1700000001.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw", NOW, WS_E_AUTH_INVALID,
     "signature of another token"},
    {"dXNlci00Mg.1700000000.wiIXZYwDpkBNSyr0bw2hc8DQvMERUluEpFuecKvsj9Q", NOW, WS_E_AUTH_INVALID,
     "signature of another token (2)"},
    {"dXNlci00Mg.1700000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NOW, WS_E_AUTH_INVALID,
     "zero signature"},
    /* non-canonical base64url */
    {"dXNlci00Mg.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vx", NOW, WS_E_AUTH_INVALID,
     "signature with non-zero trailing bits (same bytes)"},
    {"dXNlci00Mh.1700000000.O1A3mHr6FoiXWDZ_R2cbz2S5VP5ZC-ZJG-SOnswCGbY", NOW, WS_E_AUTH_INVALID,
     "signed: subject with non-zero trailing bits"},
    {"dXNlci00Mg==.1700000000.vXmrTdbmEbPGccSPnJ6UGS604gFMRfsrkqJp_ar6_tY", NOW, WS_E_AUTH_INVALID,
     "signed: padded subject"},
    {"w7xzZXIvw6l0w6k/.4102444800.kUk8VTp_55TNVi6Zz7dZHmwL44GD1unro2fVbW0XdJ8", NOW,
     WS_E_AUTH_INVALID, "signed: standard alphabet"},
    {"dXNlci00Mg.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw=", NOW, WS_E_AUTH_INVALID,
     "padded signature"},
    {"dXNlci00Mg.1700000000.jatErp/fB6S8IqqD+pkhsr2sQd9JglQTZ/UtcMSx+Vw", NOW, WS_E_AUTH_INVALID,
     "signature in the standard alphabet"},
    {"dXNlci00Mg.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-V", NOW, WS_E_AUTH_INVALID,
     "signature one character short"},
    {"dXNlci00Mg.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-VwAA", NOW, WS_E_AUTH_INVALID,
     "signature too long"},
    {"dXNlci00M.1700000000.qMo8DRPmKmIQy3ptYTtUVvJNwsG5HMFSWkyR_8DhkIg", NOW, WS_E_AUTH_INVALID,
     "signed: subject of impossible length"},
    {"YWJjA.1700000000.WPScPe9H16ZnRkPi4aNAkqhDtW5MhovxZR8gHrwOgU8", NOW, WS_E_AUTH_INVALID,
     "signed: impossible length, the extra character all zero bits"},
    /* expiry not in canonical decimal */
    {"dXNlci00Mg.01700000000.KY6c3xW-t25FRJL2mVGDj-Tx9FTKFSIWszFW8olnIEs", NOW, WS_E_AUTH_INVALID,
     "signed: leading zero"},
    {"dXNlci00Mg.+1700000000.5E_cXkVRmGcu-086CwLbtFfJSgKXSzlt1EuCKicuVvY", NOW, WS_E_AUTH_INVALID,
     "signed: plus sign"},
    {"dXNlci00Mg.-1.p76BmgU8Y6ieMVHRJnmD9lt2213LJaIw4Y9IxlUThtE", NOW, WS_E_AUTH_INVALID,
     "signed: negative"},
    {"dXNlci00Mg.18446744073709551616.TqQSUuY1RxOF8ZWRbMtz4g11BCDtLFUcyTN-w1h5PVE", NOW,
     WS_E_AUTH_INVALID, "signed: 2^64"},
    {"dXNlci00Mg.99999999999999999999.qrD7jL_euEg4sg_T2nwzVKEXnoZ5VJGeWGtxwa4fUd8", NOW,
     WS_E_AUTH_INVALID, "signed: 20 nines"},
    {"dXNlci00Mg.17000 00000.hgGN5u8lpNG2eEx1y_UdBQtyQ2SXnsmf9ayzgccr4XM", NOW, WS_E_AUTH_INVALID,
     "signed: space in the expiry"},
    {"dXNlci00Mg.0x10.cBUHMG_MStaHSPwH1XhxyB4aZjBrIGXdYKI2p3tbFfI", NOW, WS_E_AUTH_INVALID,
     "signed: hex expiry"},
    {"dXNlci00Mg..Km1qUTDC-t_kJjOpu26uSyILQt2irMM5xcRHL2Xpnb8", NOW, WS_E_AUTH_INVALID,
     "signed: empty expiry"},
    /* subject */
    {".1700000000.D_Kiu6BuZJwb-rH-SGUOLMgoVjGvNUL99zGVKJJdlm8", NOW, WS_E_AUTH_INVALID,
     "signed: empty subject"},
    {"YQBi.1700000000.bSIFuVuIfItqBVFoloIOyiDNOP8wzyX45187W0n4Yhg", NOW, WS_E_AUTH_INVALID,
     "signed: NUL in the subject"},
    {"eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eX"
     "l5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5.17000"
     "00000.-ecRAE83ejai35neRX9BiYipMbqAakDjhK9P7X9b2Dg",
     NOW, WS_E_AUTH_INVALID, "signed: 129-byte subject"},
    /* dots */
    {"dXNlci00Mg.1700000000.x.bJiXwdt0uzuGN3hvHt5FppyPpFc3JSQg2m08CT29gwk", NOW, WS_E_AUTH_INVALID,
     "signed: three dots"},
    {"dXNlci00Mg.1700000000", NOW, WS_E_AUTH_INVALID, "one dot"},
    {"dXNlci00Mg", NOW, WS_E_AUTH_INVALID, "no dot"},
    {"..", NOW, WS_E_AUTH_INVALID, "only dots"},
    {".", NOW, WS_E_AUTH_INVALID, "one dot alone"},
    {"", NOW, WS_E_AUTH_INVALID, "empty"},
    {"dXNlci00Mg.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw.", NOW, WS_E_AUTH_INVALID,
     "trailing dot"},
    /* surroundings */
    {" dXNlci00Mg.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw", NOW, WS_E_AUTH_INVALID,
     "leading space"},
    {"dXNlci00Mg.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw ", NOW, WS_E_AUTH_INVALID,
     "trailing space"},
    {"Bearer dXNlci00Mg.1700000000.jatErp_fB6S8IqqD-pkhsr2sQd9JglQTZ_UtcMSx-Vw", NOW,
     WS_E_AUTH_INVALID, "scheme included"},
};

static void test_verify_table(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof verify_cases / sizeof verify_cases[0]; i++) {
        const verify_case *c = &verify_cases[i];
        ws_token_claims claims;
        int got;

        memset(&claims, 0xAA, sizeof claims);
        got = ws_token_verify(test_key(), KEY_LEN, c->token, strlen(c->token), c->now, &claims);
        if (got != c->want)
            fail_msg("case %zu (%s): got %d, want %d", i, c->why, got, c->want);
        if (got == WS_OK) {
            assert_string_equal(claims.subject, "user-42");
            assert_int_equal(claims.subject_len, 7);
            assert_true(claims.expires == 1700000000u);
        } else {
            assert_int_equal((unsigned char)claims.subject[0], 0xAA); /* untouched */
        }
    }
}

static void test_verify_wrong_key(void **state)
{
    static const uint8_t other[] = "libws-test-key-0123456789abcdef?";
    (void)state;
    assert_int_equal(ws_token_verify(other, sizeof other - 1, VALID, strlen(VALID), NOW, NULL),
                     WS_E_AUTH_INVALID);
    assert_int_equal(ws_token_verify(test_key(), KEY_LEN - 1, VALID, strlen(VALID), NOW, NULL),
                     WS_E_AUTH_INVALID);
    assert_int_equal(ws_token_verify(test_key(), KEY_LEN, VALID, strlen(VALID), NOW, NULL), WS_OK);
    assert_int_equal(ws_token_verify(NULL, 0, VALID, strlen(VALID), NOW, NULL), WS_E_INVALID);
    assert_int_equal(ws_token_verify(test_key(), 0, VALID, strlen(VALID), NOW, NULL), WS_E_INVALID);
    assert_int_equal(ws_token_verify(test_key(), KEY_LEN, NULL, 5, NOW, NULL), WS_E_INVALID);
    assert_int_equal(ws_token_verify(test_key(), KEY_LEN, NULL, 0, NOW, NULL), WS_E_AUTH_INVALID);
}

/* Every prefix of a valid token, and every one-byte change to it, is refused as invalid
 * (never as expired: a changed expiry breaks the signature first). Only the given length is
 * read: the token inside a longer buffer still verifies. */
static void test_verify_truncated_and_tampered(void **state)
{
    static const char tail[] = VALID "xyz";
    static const uint8_t flips[] = {0x01, 0x02, 0x20, 0x80, 0xFF};
    char buf[sizeof VALID];
    size_t n = strlen(VALID), i, k;
    (void)state;

    for (i = 0; i < n; i++) {
        if (ws_token_verify(test_key(), KEY_LEN, VALID, i, NOW, NULL) != WS_E_AUTH_INVALID)
            fail_msg("prefix of length %zu accepted", i);
    }
    for (i = 0; i < n; i++) {
        for (k = 0; k < sizeof flips; k++) {
            memcpy(buf, VALID, sizeof buf);
            buf[i] = (char)(buf[i] ^ flips[k]);
            if (ws_token_verify(test_key(), KEY_LEN, buf, n, NOW, NULL) != WS_E_AUTH_INVALID)
                fail_msg("byte %zu ^ 0x%02x accepted", i, flips[k]);
        }
    }
    assert_int_equal(ws_token_verify(test_key(), KEY_LEN, tail, n, NOW, NULL), WS_OK);
    assert_int_equal(ws_token_verify(test_key(), KEY_LEN, tail, n + 1, NOW, NULL),
                     WS_E_AUTH_INVALID);
}

/* Longer than WS_TOKEN_MAX is refused before anything else is looked at. */
static void test_verify_too_long(void **state)
{
    char buf[WS_TOKEN_MAX + 2];
    size_t n = strlen(VALID);
    (void)state;

    memset(buf, 'A', sizeof buf);
    memcpy(buf + sizeof buf - n, VALID, n);
    assert_int_equal(ws_token_verify(test_key(), KEY_LEN, buf, sizeof buf, NOW, NULL),
                     WS_E_AUTH_INVALID);
}

/* Every subject length 1..128 with bytes 1..255 round-trips; the tokens never exceed
 * WS_TOKEN_MAX, even with the longest expiry. */
static void test_sign_verify_round_trip(void **state)
{
    static const uint64_t expiries[] = {1, 10, 4102444800u, UINT64_MAX};
    char subject[WS_TOKEN_SUBJECT_MAX], out[WS_TOKEN_MAX + 1];
    size_t n, e, i, len;
    ws_token_claims claims;
    (void)state;

    for (n = 1; n <= WS_TOKEN_SUBJECT_MAX; n++) {
        for (i = 0; i < n; i++)
            subject[i] = (char)(1u + (i * 37u + n * 11u) % 255u);
        for (e = 0; e < sizeof expiries / sizeof expiries[0]; e++) {
            assert_int_equal(
                ws_token_sign(test_key(), KEY_LEN, subject, n, expiries[e], out, sizeof out, &len),
                WS_OK);
            assert_true(len <= WS_TOKEN_MAX);
            for (i = 0; i < len; i++)
                assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_.",
                                       out[i]));
            assert_int_equal(
                ws_token_verify(test_key(), KEY_LEN, out, len, expiries[e] - 1, &claims), WS_OK);
            assert_int_equal(claims.subject_len, n);
            assert_memory_equal(claims.subject, subject, n);
            assert_true(claims.expires == expiries[e]);
        }
    }
}

/* ---- finding the token ----------------------------------------------------------------- */

#define MAX_TEST_HEADERS 6

typedef struct test_request {
    ws_header headers[MAX_TEST_HEADERS];
    ws_request r;
} test_request;

/* A request from "Name: value" lines (NULL-terminated list) and a query (may be NULL). */
static void make_request(test_request *t, const char *const *lines, const char *query)
{
    size_t n = 0;

    memset(t, 0, sizeof *t);
    for (; lines != NULL && *lines != NULL; lines++) {
        const char *colon = strchr(*lines, ':');
        const char *v = colon + 1;
        assert_non_null(colon);
        assert_true(n < MAX_TEST_HEADERS);
        while (*v == ' ')
            v++;
        t->headers[n].name = *lines;
        t->headers[n].name_len = (size_t)(colon - *lines);
        t->headers[n].value = v;
        t->headers[n].value_len = strlen(v);
        n++;
    }
    t->r.headers = t->headers;
    t->r.header_count = n;
    t->r.query = query;
    t->r.query_len = query != NULL ? strlen(query) : 0;
}

#define ALL (WS_TOKEN_BEARER | WS_TOKEN_COOKIE | WS_TOKEN_QUERY | WS_TOKEN_SUBPROTOCOL)

typedef struct find_case {
    const char *lines[4];
    const char *query;
    unsigned sources;
    const char *token; /* NULL: WS_E_AUTH_MISSING */
    unsigned source;
} find_case;

static const find_case find_cases[] = {
    /* Authorization: Bearer */
    {{"Authorization: Bearer abc"}, NULL, ALL, "abc", WS_TOKEN_BEARER},
    {{"authorization: bearer abc"}, NULL, ALL, "abc", WS_TOKEN_BEARER},
    {{"Authorization: BEARER abc"}, NULL, ALL, "abc", WS_TOKEN_BEARER},
    {{"Authorization: Bearer    abc"}, NULL, ALL, "abc", WS_TOKEN_BEARER},
    {{"Authorization: Bearer " VALID}, NULL, ALL, VALID, WS_TOKEN_BEARER},
    {{"Authorization: Bearer a-b_c.d~e+f/g=="}, NULL, ALL, "a-b_c.d~e+f/g==", WS_TOKEN_BEARER},
    {{"Authorization: Bearer\tabc"}, NULL, ALL, NULL, 0},
    {{"Authorization: Bearerabc"}, NULL, ALL, NULL, 0},
    {{"Authorization: Bearer"}, NULL, ALL, NULL, 0},
    {{"Authorization: Bearer abc def"}, NULL, ALL, NULL, 0},
    {{"Authorization: Bearer =abc"}, NULL, ALL, NULL, 0},
    {{"Authorization: Bearer =="}, NULL, ALL, NULL, 0},
    {{"Authorization: Bearer a=b"}, NULL, ALL, NULL, 0},
    {{"Authorization: Bearer a,b"}, NULL, ALL, NULL, 0},
    {{"Authorization: Basic dXNlcjpwdw=="}, NULL, ALL, NULL, 0},
    {{"Authorization: Bearer abc"}, NULL, ALL & ~WS_TOKEN_BEARER, NULL, 0},
    /* the header may not be repeated: only the first one counts */
    {{"Authorization: Basic dXNlcjpwdw==", "Authorization: Bearer abc"}, NULL, ALL, NULL, 0},
    /* Cookie */
    {{"Cookie: token=abc"}, NULL, ALL, "abc", WS_TOKEN_COOKIE},
    {{"Cookie: a=1; token=abc; b=2"}, NULL, ALL, "abc", WS_TOKEN_COOKIE},
    {{"Cookie: a=1", "Cookie: token=\"abc\""}, NULL, ALL, "abc", WS_TOKEN_COOKIE},
    {{"Cookie: token="}, NULL, ALL, NULL, 0},
    {{"Cookie: Token=abc; xtoken=abc; tokens=abc"}, NULL, ALL, NULL, 0},
    {{"Cookie: token=abc"}, NULL, WS_TOKEN_BEARER | WS_TOKEN_QUERY, NULL, 0},
    /* query parameter, raw */
    {{NULL}, "token=abc", ALL, "abc", WS_TOKEN_QUERY},
    {{NULL}, "room=1&token=abc&x", ALL, "abc", WS_TOKEN_QUERY},
    {{NULL}, "token=a%2Eb", ALL, "a%2Eb", WS_TOKEN_QUERY},
    {{NULL}, "token", ALL, NULL, 0},
    {{NULL}, "token=", ALL, NULL, 0},
    {{NULL}, "xtoken=abc&tokenx=abc", ALL, NULL, 0},
    {{NULL}, "token=abc", WS_TOKEN_BEARER | WS_TOKEN_COOKIE, NULL, 0},
    /* Sec-WebSocket-Protocol entry with the prefix */
    {{"Sec-WebSocket-Protocol: token.abc"}, NULL, ALL, "abc", WS_TOKEN_SUBPROTOCOL},
    {{"Sec-WebSocket-Protocol: chat, token." VALID}, NULL, ALL, VALID, WS_TOKEN_SUBPROTOCOL},
    {{"Sec-WebSocket-Protocol: chat", "sec-websocket-protocol: v2, token.abc"},
     NULL,
     ALL,
     "abc",
     WS_TOKEN_SUBPROTOCOL},
    {{"Sec-WebSocket-Protocol: token., chat"}, NULL, ALL, NULL, 0},
    {{"Sec-WebSocket-Protocol: Token.abc, tokenabc, chat"}, NULL, ALL, NULL, 0},
    {{"Sec-WebSocket-Protocol: token.abc"}, NULL, ALL & ~WS_TOKEN_SUBPROTOCOL, NULL, 0},
    /* nothing at all */
    {{NULL}, NULL, ALL, NULL, 0},
    {{"Authorization: Bearer abc", "Cookie: token=abc"}, "token=abc", 0, NULL, 0},
};

static void test_find_table(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof find_cases / sizeof find_cases[0]; i++) {
        const find_case *c = &find_cases[i];
        test_request t;
        const char *tok = NULL;
        size_t len = 0;
        unsigned src = 99;
        int rc;

        make_request(&t, c->lines, c->query);
        rc = ws_token_find(&t.r, c->sources, NULL, NULL, NULL, &tok, &len, &src);
        if (c->token == NULL) {
            if (rc != WS_E_AUTH_MISSING)
                fail_msg("case %zu: got %d (%.*s), want missing", i, rc, (int)len, tok);
            assert_int_equal(src, 99);
            continue;
        }
        if (rc != WS_OK || len != strlen(c->token) || memcmp(tok, c->token, len) != 0 ||
            src != c->source)
            fail_msg("case %zu: got %d \"%.*s\" from %u, want \"%s\" from %u", i, rc, (int)len,
                     tok ? tok : "", src, c->token, c->source);
    }
}

/* One request carrying a token in all four places: the first source asked for wins, in the
 * fixed order bearer, cookie, query, subprotocol; the token points into the request. */
static void test_find_precedence(void **state)
{
    static const char *const lines[] = {"Authorization: Bearer b1", "Cookie: token=c1",
                                        "Sec-WebSocket-Protocol: chat, token.s1", NULL};
    static const char *const malformed_bearer[] = {"Authorization: Bearer b 1", "Cookie: token=c1",
                                                   NULL};
    static const struct {
        unsigned sources;
        const char *token;
        unsigned source;
    } cases[] = {
        {ALL, "b1", WS_TOKEN_BEARER},
        {WS_TOKEN_SUBPROTOCOL | WS_TOKEN_BEARER, "b1", WS_TOKEN_BEARER},
        {ALL & ~WS_TOKEN_BEARER, "c1", WS_TOKEN_COOKIE},
        {WS_TOKEN_SUBPROTOCOL | WS_TOKEN_QUERY, "q1", WS_TOKEN_QUERY},
        {WS_TOKEN_SUBPROTOCOL, "s1", WS_TOKEN_SUBPROTOCOL},
    };
    test_request t;
    const char *tok;
    size_t len, i;
    unsigned src;
    (void)state;

    make_request(&t, lines, "token=q1");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(ws_token_find(&t.r, cases[i].sources, NULL, NULL, NULL, &tok, &len, &src),
                         WS_OK);
        assert_int_equal(len, 2);
        assert_memory_equal(tok, cases[i].token, 2);
        assert_int_equal(src, cases[i].source);
    }
    /* a pointer into the Authorization value itself */
    assert_int_equal(ws_token_find(&t.r, ALL, NULL, NULL, NULL, &tok, &len, NULL), WS_OK);
    assert_ptr_equal(tok, t.headers[0].value + 7);

    /* a malformed Bearer falls through to the next source */
    make_request(&t, malformed_bearer, NULL);
    assert_int_equal(ws_token_find(&t.r, ALL, NULL, NULL, NULL, &tok, &len, &src), WS_OK);
    assert_int_equal(src, WS_TOKEN_COOKIE);
}

static void test_find_custom_names(void **state)
{
    static const char *const lines[] = {"Cookie: token=wrong; sess=c2",
                                        "Sec-WebSocket-Protocol: token.wrong, auth-s2", NULL};
    test_request t;
    const char *tok;
    size_t len;
    unsigned src;
    (void)state;

    make_request(&t, lines, "token=wrong&access_token=q2");
    assert_int_equal(ws_token_find(&t.r, WS_TOKEN_COOKIE, "sess", "x", "x", &tok, &len, &src),
                     WS_OK);
    assert_true(len == 2 && memcmp(tok, "c2", 2) == 0 && src == WS_TOKEN_COOKIE);
    assert_int_equal(
        ws_token_find(&t.r, WS_TOKEN_QUERY, "x", "access_token", "x", &tok, &len, &src), WS_OK);
    assert_true(len == 2 && memcmp(tok, "q2", 2) == 0 && src == WS_TOKEN_QUERY);
    assert_int_equal(ws_token_find(&t.r, WS_TOKEN_SUBPROTOCOL, "x", "x", "auth-", &tok, &len, &src),
                     WS_OK);
    assert_true(len == 2 && memcmp(tok, "s2", 2) == 0 && src == WS_TOKEN_SUBPROTOCOL);
    assert_int_equal(ws_token_find(&t.r, ALL, "nope", "nope", "nope.", &tok, &len, &src),
                     WS_E_AUTH_MISSING);
    assert_int_equal(ws_token_find(NULL, ALL, NULL, NULL, NULL, &tok, &len, &src), WS_E_INVALID);
    assert_int_equal(ws_token_find(&t.r, ALL, NULL, NULL, NULL, NULL, &len, &src), WS_E_INVALID);
}

/* ---- the ready-made hook ------------------------------------------------------------- */

#define TICKETS 3

/* The host's side: a clock, a ticket store and a subject policy, all counting calls. */
typedef struct host_ctx {
    uint64_t now;
    const char *tickets[TICKETS];
    bool used[TICKETS];
    const char *banned;
    ws_token_claims *out; /* where an allowed request's claims are copied */
    unsigned time_calls, consume_calls, allow_calls;
} host_ctx;

static uint64_t host_time(void *ud)
{
    host_ctx *h = ud;
    h->time_calls++;
    return h->now;
}

static bool host_consume(void *ud, const char *ticket, size_t len)
{
    host_ctx *h = ud;
    size_t i;

    h->consume_calls++;
    for (i = 0; i < TICKETS; i++) {
        if (h->tickets[i] != NULL && strlen(h->tickets[i]) == len &&
            memcmp(h->tickets[i], ticket, len) == 0) {
            bool fresh = !h->used[i];
            h->used[i] = true;
            return fresh;
        }
    }
    return false;
}

/* on_claims as a host writes it: refuse the banned subject, keep the claims of the rest and
 * hang them on the connection. */
static bool host_claims(void *ud, ws_conn *c, const ws_token_claims *claims)
{
    host_ctx *h = ud;
    h->allow_calls++;
    if (h->banned != NULL && strcmp(claims->subject, h->banned) == 0)
        return false;
    if (h->out != NULL) {
        *h->out = *claims;
        if (c != NULL)
            ws_conn_set_user(c, h->out);
    }
    return true;
}

static void signed_auth(ws_token_auth *a, host_ctx *h, ws_token_claims *out)
{
    memset(h, 0, sizeof *h);
    h->now = NOW;
    ws_token_auth_init(a);
    a->key = test_key();
    a->key_len = KEY_LEN;
    a->unix_time = host_time;
    a->ud = h;
    a->on_claims = host_claims;
    h->out = out;
}

static int run_hook(ws_token_auth *a, const char *line, const char *query)
{
    const char *lines[2];
    test_request t;

    lines[0] = line;
    lines[1] = NULL;
    make_request(&t, line != NULL ? lines : NULL, query);
    return ws_token_auth_hook(a, NULL, &t.r);
}

static void test_auth_defaults(void **state)
{
    ws_token_auth a;
    (void)state;
    memset(&a, 0xAA, sizeof a);
    ws_token_auth_init(&a);
    assert_int_equal(a.sources, WS_TOKEN_BEARER | WS_TOKEN_COOKIE);
    assert_string_equal(a.cookie_name, "token");
    assert_string_equal(a.query_name, "token");
    assert_string_equal(a.subprotocol_prefix, "token.");
    assert_null(a.key);
    assert_int_equal(a.key_len, 0);
    assert_null(a.unix_time);
    assert_null(a.consume_ticket);
    assert_null(a.on_claims);
    assert_null(a.ud);
}

static void test_auth_hook_signed(void **state)
{
    ws_token_auth a;
    host_ctx h;
    ws_token_claims out;
    (void)state;

    signed_auth(&a, &h, &out);
    memset(&out, 0, sizeof out);
    assert_int_equal(run_hook(&a, "Authorization: Bearer " VALID, NULL), WS_HOOK_ALLOW);
    assert_string_equal(out.subject, "user-42");
    assert_true(out.expires == 1700000000u);
    assert_int_equal(h.time_calls, 1);

    assert_int_equal(run_hook(&a, "Cookie: token=" VALID, NULL), WS_HOOK_ALLOW);
    /* the query is not a default source */
    assert_int_equal(run_hook(&a, NULL, "token=" VALID), WS_E_AUTH_MISSING);
    a.sources = WS_TOKEN_QUERY;
    assert_int_equal(run_hook(&a, NULL, "token=" VALID), WS_HOOK_ALLOW);
    a.sources = WS_TOKEN_SUBPROTOCOL;
    assert_int_equal(run_hook(&a, "Sec-WebSocket-Protocol: chat, token." VALID, NULL),
                     WS_HOOK_ALLOW);
    a.sources = WS_TOKEN_BEARER | WS_TOKEN_COOKIE;

    /* 401, each with its reason: missing, malformed, badly signed, expired */
    memset(&out, 0, sizeof out);
    assert_int_equal(run_hook(&a, NULL, NULL), WS_E_AUTH_MISSING);
    assert_int_equal(run_hook(&a, "Authorization: Basic dXNlcjpwdw==", NULL), WS_E_AUTH_MISSING);
    assert_int_equal(run_hook(&a, "Authorization: Bearer abc", NULL), WS_E_AUTH_INVALID);
    assert_int_equal(run_hook(&a, "Authorization: Bearer " TAMPERED, NULL), WS_E_AUTH_INVALID);
    h.now = 1700000000u;
    assert_int_equal(run_hook(&a, "Authorization: Bearer " VALID, NULL), WS_E_AUTH_EXPIRED);
    assert_int_equal(out.subject_len, 0); /* nothing written on a refusal */

    /* 403 (WS_E_FORBIDDEN): valid, but this subject may not connect */
    h.now = NOW;
    h.allow_calls = 0;
    h.banned = "user-42";
    assert_int_equal(run_hook(&a, "Authorization: Bearer " VALID, NULL), WS_E_FORBIDDEN);
    assert_int_equal(h.allow_calls, 1);
    assert_int_equal(out.subject_len, 0);
    h.banned = "user-43";
    assert_int_equal(run_hook(&a, "Authorization: Bearer " VALID, NULL), WS_HOOK_ALLOW);
    assert_int_equal(h.allow_calls, 2);
    assert_string_equal(out.subject, "user-42");
    /* on_claims is not asked about a token that is not valid */
    assert_int_equal(run_hook(&a, "Authorization: Bearer abc", NULL), WS_E_AUTH_INVALID);
    assert_int_equal(h.allow_calls, 2);

    /* without on_claims the verdict is the same */
    a.on_claims = NULL;
    assert_int_equal(run_hook(&a, "Authorization: Bearer " VALID, NULL), WS_HOOK_ALLOW);
}

/* A ticket is good once: the replay is refused as invalid (401), as are unknown tickets. */
static void test_auth_hook_tickets(void **state)
{
    ws_token_auth a;
    host_ctx h;
    ws_token_claims out;
    (void)state;

    memset(&h, 0, sizeof h);
    h.tickets[0] = "t-1";
    h.tickets[1] = "t-2";
    ws_token_auth_init(&a);
    a.sources = WS_TOKEN_QUERY;
    a.consume_ticket = host_consume;
    a.unix_time = host_time; /* not needed for tickets, and not called */
    a.ud = &h;
    a.on_claims = host_claims;
    h.out = &out;

    assert_int_equal(run_hook(&a, NULL, "token=t-1"), WS_HOOK_ALLOW);
    assert_string_equal(out.subject, "t-1");
    assert_true(out.expires == 0);
    assert_int_equal(run_hook(&a, NULL, "token=t-1"), WS_E_AUTH_INVALID); /* replay */
    assert_int_equal(run_hook(&a, NULL, "token=t-2"), WS_HOOK_ALLOW);
    assert_int_equal(run_hook(&a, NULL, "token=t-3"), WS_E_AUTH_INVALID);
    assert_int_equal(run_hook(&a, NULL, NULL), WS_E_AUTH_MISSING);
    assert_int_equal(h.consume_calls, 4);
    assert_int_equal(h.time_calls, 0);

    /* a ticket too long to be a subject is refused without reaching the store */
    assert_int_equal(run_hook(&a, NULL, "token=" VALID VALID VALID), WS_E_AUTH_INVALID);
    assert_int_equal(h.consume_calls, 4);

    /* on_claims sees the ticket, after it was used up */
    h.tickets[2] = "t-3";
    h.banned = "t-3";
    assert_int_equal(run_hook(&a, NULL, "token=t-3"), WS_E_FORBIDDEN);
    assert_true(h.used[2]);
}

/* With a key and consume_ticket both set, a signed token is also single-use, and only a
 * genuine one reaches the store. */
static void test_auth_hook_signed_single_use(void **state)
{
    ws_token_auth a;
    host_ctx h;
    ws_token_claims out;
    (void)state;

    signed_auth(&a, &h, &out);
    h.tickets[0] = VALID;
    a.consume_ticket = host_consume;
    assert_int_equal(run_hook(&a, "Authorization: Bearer " VALID, NULL), WS_HOOK_ALLOW);
    assert_int_equal(run_hook(&a, "Authorization: Bearer " VALID, NULL), WS_E_AUTH_INVALID);
    assert_int_equal(h.consume_calls, 2);
    assert_int_equal(run_hook(&a, "Authorization: Bearer " TAMPERED, NULL), WS_E_AUTH_INVALID);
    assert_int_equal(h.consume_calls, 2);
}

/* Settings that cannot work refuse every request with 500 rather than let it through. */
static void test_auth_hook_misconfigured(void **state)
{
    ws_token_auth a;
    host_ctx h;
    ws_token_claims out;
    test_request t;
    (void)state;

    signed_auth(&a, &h, &out);
    a.unix_time = NULL;
    assert_int_equal(run_hook(&a, "Authorization: Bearer " VALID, NULL), 500);
    a.unix_time = host_time;
    a.key_len = 0;
    assert_int_equal(run_hook(&a, "Authorization: Bearer " VALID, NULL), 500);
    a.key = NULL; /* neither a key nor a ticket store */
    assert_int_equal(run_hook(&a, "Authorization: Bearer " VALID, NULL), 500);
    make_request(&t, NULL, NULL);
    assert_int_equal(ws_token_auth_hook(NULL, NULL, &t.r), 500);
    a.key = test_key();
    a.key_len = KEY_LEN;
    assert_int_equal(ws_token_auth_hook(&a, NULL, NULL), 500);
}

#ifndef WS_NO_REQUEST_HOOKS /* a build without them refuses them (test_conn.c) */
/* ---- through a server connection ------------------------------------------------------ */

static void *host_realloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

typedef struct conn_hooks {
    ws_origin_policy origin;
    ws_token_auth auth;
    host_ctx host;
    ws_token_claims claims;
    char req[1024]; /* fed bytes stay valid until the events are drained */
} conn_hooks;

static ws_conn *hooked_server(conn_hooks *k, int (*auth_fn)(void *, ws_conn *, const ws_request *),
                              void *auth_ud)
{
    static const char *const allow[] = {"https://app.example.com"};
    ws_config cfg;
    ws_conn *c;

    ws_origin_policy_init(&k->origin);
    k->origin.allow = allow;
    k->origin.allow_count = 1;
    signed_auth(&k->auth, &k->host, &k->claims);
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.realloc = host_realloc;
    cfg.origin_hook.fn = ws_origin_hook;
    cfg.origin_hook.ud = &k->origin;
    cfg.auth_hook.fn = auth_fn;
    cfg.auth_hook.ud = auth_ud != NULL ? auth_ud : &k->auth;
    c = ws_conn_new(&cfg);
    assert_non_null(c);
    return c;
}

/* Feeds an upgrade request with the given Origin and Authorization lines. */
static void feed_request(conn_hooks *k, ws_conn *c, const char *origin_line, const char *auth_line)
{
    char *req = k->req;
    int n = snprintf(req, sizeof k->req,
                     "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s\r\n",
                     origin_line, auth_line);
    assert_true(n > 0 && (size_t)n < sizeof k->req);
    assert_int_equal(ws_conn_feed(c, (uint8_t *)req, (size_t)n), WS_OK);
}

/* The request was answered with status, WS_EV_CLOSED says so and names error as the cause
 * (a hook's policy code, or WS_E_HTTP_REJECTED for a bare status), and nothing follows. */
static void expect_refused(ws_conn *c, int status, int error)
{
    static const char bearer[] = "\r\nWWW-Authenticate: Bearer\r\n";
    const uint8_t *out;
    char prefix[16], head[512];
    ws_event ev;
    size_t n;

    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.http_status, status);
    assert_int_equal(ev.error, error);
    n = ws_conn_output(c, &out);
    snprintf(prefix, sizeof prefix, "HTTP/1.1 %d ", status);
    assert_true(n > strlen(prefix));
    assert_memory_equal(out, prefix, strlen(prefix));
    /* a 401 says which scheme to retry with; nothing else does */
    assert_true(n < sizeof head);
    memcpy(head, out, n);
    head[n] = '\0';
    assert_int_equal(strstr(head, bearer) != NULL, status == 401);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
}

static void test_conn_hooks_allow(void **state)
{
    conn_hooks k;
    ws_conn *c = hooked_server(&k, ws_token_auth_hook, NULL);
    ws_event ev;
    (void)state;

    feed_request(&k, c, "Origin: https://app.example.com\r\n",
                 "Authorization: Bearer " VALID "\r\n");
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_ptr_equal(ws_conn_user(c), &k.claims);
    assert_string_equal(((const ws_token_claims *)ws_conn_user(c))->subject, "user-42");
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_ptr_equal(ws_conn_user(c), &k.claims);
    ws_conn_free(c);
}

/* The origin hook runs first: its 403 means the auth hook never runs. */
static void test_conn_hooks_reject(void **state)
{
    conn_hooks k;
    ws_conn *c;
    (void)state;

    c = hooked_server(&k, ws_token_auth_hook, NULL);
    feed_request(&k, c, "Origin: https://evil.example\r\n", "Authorization: Bearer " VALID "\r\n");
    expect_refused(c, 403, WS_E_ORIGIN);
    assert_int_equal(k.host.time_calls, 0);
    assert_null(ws_conn_user(c));
    ws_conn_free(c);

    c = hooked_server(&k, ws_token_auth_hook, NULL);
    feed_request(&k, c, "Origin: https://app.example.com\r\n", "");
    expect_refused(c, 401, WS_E_AUTH_MISSING);
    ws_conn_free(c);

    c = hooked_server(&k, ws_token_auth_hook, NULL);
    feed_request(&k, c, "Origin: https://app.example.com\r\n",
                 "Authorization: Bearer " TAMPERED "\r\n");
    expect_refused(c, 401, WS_E_AUTH_INVALID);
    ws_conn_free(c);

    c = hooked_server(&k, ws_token_auth_hook, NULL);
    k.host.now = 1700000000u;
    feed_request(&k, c, "Origin: https://app.example.com\r\n",
                 "Authorization: Bearer " VALID "\r\n");
    expect_refused(c, 401, WS_E_AUTH_EXPIRED);
    ws_conn_free(c);

    c = hooked_server(&k, ws_token_auth_hook, NULL);

    k.host.banned = "user-42";
    feed_request(&k, c, "Origin: https://app.example.com\r\n",
                 "Authorization: Bearer " VALID "\r\n");
    expect_refused(c, 403, WS_E_FORBIDDEN);
    assert_null(ws_conn_user(c));
    ws_conn_free(c);
}

/* The async pattern of docs/hooks.md: the hook starts a lookup and returns
 * WS_HOOK_PENDING; the host's loop resumes the connection with the answer later. */
typedef struct async_auth {
    ws_conn *waiting; /* the connection whose lookup is in flight */
    char user[32];
} async_auth;

static int async_auth_hook(void *ud, ws_conn *c, const ws_request *r)
{
    async_auth *a = ud;
    const char *tok;
    size_t len;

    if (ws_token_find(r, WS_TOKEN_BEARER, NULL, NULL, NULL, &tok, &len, NULL) != WS_OK)
        return WS_E_AUTH_MISSING;
    a->waiting = c; /* a real host would start its database query here */
    return WS_HOOK_PENDING;
}

static void test_conn_async_hook(void **state)
{
    /* a resume's verdict, and what the host must then see: status and error */
    static const int verdicts[][3] = {
        {WS_HOOK_ALLOW, 0, 0},
        {401, 401, WS_E_HTTP_REJECTED},
        {403, 403, WS_E_HTTP_REJECTED},
        {WS_E_AUTH_EXPIRED, 401, WS_E_AUTH_EXPIRED},
        {WS_E_FORBIDDEN, 403, WS_E_FORBIDDEN},
        {WS_E_EOF, 500, WS_E_HTTP_REJECTED}, /* not a policy code: refused all the same */
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof verdicts / sizeof verdicts[0]; i++) {
        async_auth a;
        conn_hooks k;
        ws_conn *c = hooked_server(&k, async_auth_hook, &a);
        ws_event ev;

        memset(&a, 0, sizeof a);
        feed_request(&k, c, "Origin: https://app.example.com\r\n",
                     "Authorization: Bearer db-1\r\n");
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE); /* waiting */
        assert_ptr_equal(a.waiting, c);

        /* the query came back */
        if (verdicts[i][0] == WS_HOOK_ALLOW) {
            strcpy(a.user, "alice");
            ws_conn_set_user(c, a.user);
        }
        assert_int_equal(ws_conn_resume(c, verdicts[i][0]), WS_OK);
        assert_int_equal(ws_conn_resume(c, verdicts[i][0]), WS_E_STATE); /* only once */
        if (verdicts[i][0] == WS_HOOK_ALLOW) {
            assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
            assert_ptr_equal(ws_conn_user(c), a.user);
        } else {
            expect_refused(c, verdicts[i][1], verdicts[i][2]);
        }
        ws_conn_free(c);
    }
}
#endif /* !WS_NO_REQUEST_HOOKS */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_vectors),
        cmocka_unit_test(test_sign_errors),
        cmocka_unit_test(test_verify_table),
        cmocka_unit_test(test_verify_wrong_key),
        cmocka_unit_test(test_verify_truncated_and_tampered),
        cmocka_unit_test(test_verify_too_long),
        cmocka_unit_test(test_sign_verify_round_trip),
        cmocka_unit_test(test_find_table),
        cmocka_unit_test(test_find_precedence),
        cmocka_unit_test(test_find_custom_names),
        cmocka_unit_test(test_auth_defaults),
        cmocka_unit_test(test_auth_hook_signed),
        cmocka_unit_test(test_auth_hook_tickets),
        cmocka_unit_test(test_auth_hook_signed_single_use),
        cmocka_unit_test(test_auth_hook_misconfigured),
#ifndef WS_NO_REQUEST_HOOKS
        cmocka_unit_test(test_conn_hooks_allow),
        cmocka_unit_test(test_conn_hooks_reject),
        cmocka_unit_test(test_conn_async_hook),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
