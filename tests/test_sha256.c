/*
 * Tests for SHA-256, HMAC-SHA256 and the constant-time comparison: the FIPS 180-4 examples,
 * the padding edges, the RFC 4231 HMAC test cases 1-7 and the key-length boundaries.
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

static void digest_hex(const uint8_t *d, size_t len, char *hex)
{
    size_t i;
    for (i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* A NULL text stands for a_count bytes of 'a'. The FIPS 180-4 examples ("abc", the 448-bit
 * and 896-bit messages, one million 'a'); the other 'a' runs were computed with Python's
 * hashlib: 55, 56, 63, 64, 65, 119 and 120 straddle the point where the padding needs a
 * second block. */
typedef struct sha256_case {
    const char *text;
    size_t a_count;
    const char *hex;
} sha256_case;

static const sha256_case sha256_cases[] = {
    {"", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", 0, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
     "lmnopqrsmnopqrstnopqrstu",
     0, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    {NULL, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
    {NULL, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
    {NULL, 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
    {NULL, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
    {NULL, 65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
    {NULL, 119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
    {NULL, 120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    {NULL, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
};

static void test_sha256_vectors(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof sha256_cases / sizeof sha256_cases[0]; i++) {
        const sha256_case *c = &sha256_cases[i];
        uint8_t d[WS_SHA256_SIZE];
        char hex[2 * WS_SHA256_SIZE + 1];

        if (c->text != NULL) {
            ws_sha256(c->text, strlen(c->text), d);
        } else {
            char *buf = malloc(c->a_count);
            assert_non_null(buf);
            memset(buf, 'a', c->a_count);
            ws_sha256(buf, c->a_count, d);
            free(buf);
        }
        digest_hex(d, sizeof d, hex);
        if (strcmp(hex, c->hex) != 0)
            fail_msg("case %zu: got %s, want %s", i, hex, c->hex);
    }
}

static void test_sha256_null_empty(void **state)
{
    uint8_t d[WS_SHA256_SIZE];
    char hex[2 * WS_SHA256_SIZE + 1];
    (void)state;
    ws_sha256(NULL, 0, d);
    digest_hex(d, sizeof d, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* RFC 4231 §4.2-4.8. Case 5's expected value is truncated to 128 bits, as in the RFC. Keys
 * and data given as a repeated byte when fill_len is set. */
typedef struct hmac_case {
    uint8_t key_fill;
    size_t key_len;
    const char *key; /* used when key_fill is 0 */
    uint8_t data_fill;
    size_t data_len;
    const char *data; /* used when data_fill is 0 */
    const char *hex;
} hmac_case;

static const hmac_case hmac_cases[] = {
    {0x0b, 20, NULL, 0, 0, "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {0, 4, "Jefe", 0, 0, "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {0xaa, 20, NULL, 0xdd, 50, NULL,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {0, 25,
     "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"
     "\x17\x18\x19",
     0xcd, 50, NULL, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {0x0c, 20, NULL, 0, 0, "Test With Truncation", "a3b6167473100ee06e0c796c2955552b"},
    {0xaa, 131, NULL, 0, 0, "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {0xaa, 131, NULL, 0, 0,
     "This is a test using a larger than block-size key and a larger than block-size data. "
     "The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    /* Key length at the block size (used as is) and one past it (hashed first), and the
     * empty key and message; computed with Python's hmac. */
    {0xaa, 64, NULL, 0, 0, "x", "ce3c639dcb9d8baae5d44c3b8b5e233faab4d1860e07489af5c84f213998bd79"},
    {0xaa, 65, NULL, 0, 0, "x", "c2b9a0a013df029c7d812c5ac18388feef0194ee64fcc5f321d149c06137caa3"},
    {0, 0, "", 0, 0, "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
};

static void test_hmac_rfc4231(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof hmac_cases / sizeof hmac_cases[0]; i++) {
        const hmac_case *c = &hmac_cases[i];
        uint8_t key[131], data[64], d[WS_SHA256_SIZE];
        const uint8_t *kp = key;
        const void *dp = data;
        size_t dlen = c->data_len;
        char hex[2 * WS_SHA256_SIZE + 1];

        if (c->key_fill != 0)
            memset(key, c->key_fill, c->key_len);
        else
            kp = (const uint8_t *)c->key;
        if (c->data_fill != 0) {
            memset(data, c->data_fill, c->data_len);
        } else {
            dp = c->data;
            dlen = strlen(c->data);
        }
        ws_hmac_sha256(kp, c->key_len, dp, dlen, d);
        digest_hex(d, sizeof d, hex);
        if (strncmp(hex, c->hex, strlen(c->hex)) != 0)
            fail_msg("case %zu: got %s, want %s", i, hex, c->hex);
    }
}

/* RFC 2104: a key longer than the block is replaced by its hash. */
static void test_hmac_long_key_is_hashed(void **state)
{
    uint8_t key[200], hashed[WS_SHA256_SIZE], a[WS_SHA256_SIZE], b[WS_SHA256_SIZE];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7u + 3u);
    ws_sha256(key, sizeof key, hashed);
    ws_hmac_sha256(key, sizeof key, "msg", 3, a);
    ws_hmac_sha256(hashed, sizeof hashed, "msg", 3, b);
    assert_memory_equal(a, b, sizeof a);
    /* and a key of exactly 64 bytes is not hashed */
    ws_sha256(key, 64, hashed);
    ws_hmac_sha256(key, 64, "msg", 3, a);
    ws_hmac_sha256(hashed, sizeof hashed, "msg", 3, b);
    assert_memory_not_equal(a, b, sizeof a);
}

/* Equal and unequal buffers, with the difference at each end and in every bit. */
static void test_const_time_equal(void **state)
{
    uint8_t a[40], b[40];
    size_t i;
    unsigned bit;
    (void)state;

    for (i = 0; i < sizeof a; i++)
        a[i] = b[i] = (uint8_t)(i * 31u);
    assert_true(ws_const_time_equal(a, b, sizeof a));
    assert_true(ws_const_time_equal(NULL, NULL, 0));
    assert_true(ws_const_time_equal(a, a, sizeof a));
    for (i = 0; i < sizeof a; i++) {
        for (bit = 0; bit < 8; bit++) {
            b[i] = (uint8_t)(a[i] ^ (1u << bit));
            if (ws_const_time_equal(a, b, sizeof a))
                fail_msg("difference at byte %zu bit %u not seen", i, bit);
            assert_true(ws_const_time_equal(a, b, i)); /* the bytes before still equal */
            b[i] = a[i];
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),   cmocka_unit_test(test_sha256_null_empty),
        cmocka_unit_test(test_hmac_rfc4231),     cmocka_unit_test(test_hmac_long_key_is_hashed),
        cmocka_unit_test(test_const_time_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
