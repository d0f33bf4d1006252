/*
 * Tests for SHA-1, Base64 and the Sec-WebSocket-Accept key: published vectors, the SHA-1
 * padding edges, Base64 round trips at every length up to 64 and strict decoding.
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
#include "ws_internal.h"

static void digest_hex(const uint8_t d[WS_SHA1_SIZE], char hex[2 * WS_SHA1_SIZE + 1])
{
    size_t i;
    for (i = 0; i < WS_SHA1_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* Text is hashed as given; a NULL text stands for a_count bytes of 'a'. Digests of the
 * 'a' runs were computed with Python's hashlib; lengths 55, 56, 63, 64 and 65 straddle
 * the point where the padding needs a second block. */
typedef struct sha1_case {
    const char *text;
    size_t a_count;
    const char *hex;
} sha1_case;

static const sha1_case sha1_cases[] = {
    {"", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {"abc", 0, "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    {NULL, 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
    {NULL, 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
    {NULL, 63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
    {NULL, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
    {NULL, 65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
    {NULL, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
};

static void test_sha1_vectors(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof sha1_cases / sizeof sha1_cases[0]; i++) {
        const sha1_case *c = &sha1_cases[i];
        uint8_t d[WS_SHA1_SIZE];
        char hex[2 * WS_SHA1_SIZE + 1];

        if (c->text != NULL) {
            ws_sha1(c->text, strlen(c->text), d);
        } else {
            char *buf = malloc(c->a_count);
            assert_non_null(buf);
            memset(buf, 'a', c->a_count);
            ws_sha1(buf, c->a_count, d); /* fed in one call */
            free(buf);
        }
        digest_hex(d, hex);
        assert_string_equal(hex, c->hex);
    }
}

static void test_sha1_null_empty(void **state)
{
    uint8_t d[WS_SHA1_SIZE];
    char hex[2 * WS_SHA1_SIZE + 1];
    (void)state;
    ws_sha1(NULL, 0, d);
    digest_hex(d, hex);
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

/* Expected answers computed with Python: base64(sha1(key + GUID)). The long key makes the
 * key and the GUID straddle block boundaries. */
typedef struct accept_case {
    const char *key;
    const char *accept;
} accept_case;

static const accept_case accept_cases[] = {
    {"dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, /* RFC 6455 §1.3 */
    {"", "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w="},
    {"AQIDBAUGBwgJCgsMDQ4PEA==", "C/0nmHhBztSRGR1CwL6Tf4ZjwpY="},
    {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", /* 100 bytes */
     "DJTE+uYDnPxiT+W6VvIG/iPUxv8="},
};

static void test_accept_key(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof accept_cases / sizeof accept_cases[0]; i++) {
        char out[WS_ACCEPT_KEY_SIZE + 1];
        memset(out, 0, sizeof out);
        ws_accept_key(accept_cases[i].key, strlen(accept_cases[i].key), out);
        assert_string_equal(out, accept_cases[i].accept);
    }
}

/* ws_accept_key against SHA-1 and Base64 done the long way, for keys of every length up to
 * 80 bytes (24 is the one that takes the precomputed second block) and for many 24-byte keys
 * of arbitrary bytes. */
static void accept_reference(const uint8_t *key, size_t len, char out[WS_ACCEPT_KEY_SIZE])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t msg[80 + sizeof guid], d[WS_SHA1_SIZE];

    memcpy(msg, key, len);
    memcpy(msg + len, guid, sizeof guid - 1);
    ws_sha1(msg, len + sizeof guid - 1, d);
    assert_int_equal(ws_base64_encode(out, d, sizeof d), WS_ACCEPT_KEY_SIZE);
}

static void test_accept_key_any_key(void **state)
{
    uint8_t key[80];
    char got[WS_ACCEPT_KEY_SIZE], want[WS_ACCEPT_KEY_SIZE];
    uint32_t x = 12345;
    size_t len, i, round;

    (void)state;
    for (round = 0; round < 300; round++) {
        for (i = 0; i < sizeof key; i++) {
            x = x * 1103515245u + 12345u;
            key[i] = (uint8_t)(x >> 16);
        }
        for (len = round < 2 ? 0 : 24; len <= (round < 2 ? sizeof key : 24); len++) {
            ws_accept_key((const char *)key, len, got);
            accept_reference(key, len, want);
            assert_memory_equal(got, want, WS_ACCEPT_KEY_SIZE);
        }
    }
}

/* RFC 4648 §10. */
typedef struct b64_case {
    const char *plain;
    const char *encoded;
} b64_case;

static const b64_case b64_cases[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
    {"\xfb\xff\xbf", "+/+/"},
};

static void test_base64_rfc_vectors(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof b64_cases / sizeof b64_cases[0]; i++) {
        const b64_case *c = &b64_cases[i];
        size_t plen = strlen(c->plain), elen = strlen(c->encoded);
        char enc[16];
        uint8_t dec[16];

        assert_int_equal(ws_base64_encode(enc, (const uint8_t *)c->plain, plen), elen);
        assert_memory_equal(enc, c->encoded, elen);
        assert_int_equal(ws_base64_decode(dec, sizeof dec, c->encoded, elen), (int)plen);
        if (plen > 0)
            assert_memory_equal(dec, c->plain, plen);
    }
}

/* Every length 0..64 (each tail: none, one, two bytes) with bytes spread over 0..255. */
static void test_base64_round_trip(void **state)
{
    size_t n;
    (void)state;
    for (n = 0; n <= 64; n++) {
        uint8_t in[64], dec[64];
        char enc[4 * ((64 + 2) / 3)];
        size_t i, elen;

        memset(in, 0, sizeof in); /* gcc for s390x thinks n = 0 reads it uninitialised */
        for (i = 0; i < n; i++)
            in[i] = (uint8_t)(i * 97u + n * 31u + 255u);
        elen = ws_base64_encode(enc, in, n);
        assert_int_equal(elen, 4 * ((n + 2) / 3));
        for (i = 0; i < elen; i++)
            assert_true(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
                               enc[i]) != NULL);
        assert_int_equal(ws_base64_decode(dec, n, enc, elen), (int)n);
        if (n > 0)
            assert_memory_equal(dec, in, n);
    }
}

typedef struct b64_bad_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *why;
} b64_bad_case;

static const b64_bad_case b64_bad_cases[] = {
    {"Z", 0, "length 1"},
    {"Zg", 0, "length 2, no padding"},
    {"Zg=", 0, "length 3"},
    {"Zm9vY", 0, "length 5"},
    {"Zm9vYmFy=", 0, "length 9"},
    {"Zm9v!A==", 0, "bad char"},
    {"Zm9 ", 0, "space"},
    {"Zm9v\nZm9", 0, "newline"},
    {"Zm-_", 0, "url-safe alphabet"},
    {"\xc3\xa9Zg", 0, "non-ASCII"},
    {"Zg\0=", 4, "NUL"},
    {"Zg=A", 0, "misplaced ="},
    {"=Zg=", 0, "leading ="},
    {"Z===", 0, "three ="},
    {"====", 0, "only ="},
    {"Zm=v", 0, "= inside a quad"},
    {"Zg==Zg==", 0, "padding before the end"},
    {"Zh==", 0, "non-zero bits under =="},
    {"Zm9=", 0, "non-zero bits under ="},
    {"ZE==", 0, "non-zero bits 2-3 under =="},
    {"Zm+=", 0, "non-zero bit 1 under ="},
    {"dGhlIHNhbXBsZSBub25jZR==", 0, "16-byte key with stray bits"},
};

static void test_base64_invalid(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof b64_bad_cases / sizeof b64_bad_cases[0]; i++) {
        const b64_bad_case *c = &b64_bad_cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        uint8_t out[32];
        int rc;

        memset(out, 0xAA, sizeof out);
        rc = ws_base64_decode(out, sizeof out, c->in, len);
        if (rc != WS_E_INVALID)
            fail_msg("case %zu (%s): got %d, want WS_E_INVALID", i, c->why, rc);
        assert_int_equal(out[0], 0xAA); /* nothing written on error */
        /* malformed input is reported as such even when out is also too small */
        assert_int_equal(ws_base64_decode(NULL, 0, c->in, len), WS_E_INVALID);
    }
}

/* ws_base64_decoded_len says what ws_base64_decode would, without decoding. */
static void test_base64_decoded_len(void **state)
{
    size_t i, n;
    (void)state;
    for (i = 0; i < sizeof b64_bad_cases / sizeof b64_bad_cases[0]; i++) {
        const b64_bad_case *c = &b64_bad_cases[i];
        assert_int_equal(ws_base64_decoded_len(c->in, c->len ? c->len : strlen(c->in)),
                         WS_E_INVALID);
    }
    for (n = 0; n <= 64; n++) {
        uint8_t in[64], dec[64];
        char enc[4 * ((64 + 2) / 3)];
        size_t elen;

        for (i = 0; i < n; i++)
            in[i] = (uint8_t)(i * 37u + n);
        elen = ws_base64_encode(enc, in, n);
        assert_int_equal(ws_base64_decoded_len(enc, elen), (int)n);
        assert_int_equal(ws_base64_decode(dec, sizeof dec, enc, elen), (int)n);
    }
    assert_int_equal(ws_base64_decoded_len("dGhlIHNhbXBsZSBub25jZQ==", 24), 16);
}

static void test_base64_buffer(void **state)
{
    uint8_t out[8];
    (void)state;

    memset(out, 0xAA, sizeof out);
    assert_int_equal(ws_base64_decode(out, 5, "Zm9vYmFy", 8), WS_E_BUFFER);
    assert_int_equal(out[0], 0xAA);
    assert_int_equal(ws_base64_decode(out, 6, "Zm9vYmFy", 8), 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(out[6], 0xAA);

    assert_int_equal(ws_base64_decode(out, 0, "Zg==", 4), WS_E_BUFFER);
    assert_int_equal(ws_base64_decode(out, 1, "Zg==", 4), 1);
    assert_int_equal(ws_base64_decode(out, 1, "Zm8=", 4), WS_E_BUFFER);
    assert_int_equal(ws_base64_decode(NULL, 0, "", 0), 0);

    /* the handshake's use: a key must decode to exactly 16 bytes */
    assert_int_equal(ws_base64_decode(out, 8, "dGhlIHNhbXBsZSBub25jZQ==", 24), WS_E_BUFFER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_vectors),       cmocka_unit_test(test_sha1_null_empty),
        cmocka_unit_test(test_accept_key),         cmocka_unit_test(test_base64_rfc_vectors),
        cmocka_unit_test(test_base64_round_trip),  cmocka_unit_test(test_base64_invalid),
        cmocka_unit_test(test_base64_buffer),      cmocka_unit_test(test_accept_key_any_key),
        cmocka_unit_test(test_base64_decoded_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
