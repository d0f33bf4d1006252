/*
 * Base64 (RFC 4648 §4, standard alphabet, padded) for the handshake keys. Decoding is
 * strict: the input is checked completely before anything is written, so a malformed key
 * is told apart from a merely unusual one and out is left untouched on every error.
 */
#include "ws_internal.h"

#include <limits.h>

static const char ws_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#ifdef WS_SMALL
/* WS_SMALL (docs/size.md): the value worked out by comparisons, without the table below. */
static int ws_b64_value(char ch)
{
    return ws_base64_digit(ch, '+', '/');
}
#else
/* One more than the 6-bit value of each alphabet character, 0 for every other byte ('='
 * included; the bytes from 0x80 on are left to the zero fill): one lookup per character,
 * as keys are checked on every handshake. */
/* clang-format off */
static const uint8_t ws_b64_values[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 63,  0,  0,  0, 64,  /* 0x20 */
    53, 54, 55, 56, 57, 58, 59, 60, 61, 62,  0,  0,  0,  0,  0,  0,  /* 0x30 */
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,  /* 0x40 */
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  0,  0,  0,  0,  0,  /* 0x50 */
     0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,  /* 0x60 */
    42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,  0,  0,  0,  0,  0,  /* 0x70 */
};
/* clang-format on */

/* The 6-bit value of an alphabet character, or -1 for anything else ('=' included). */
static int ws_b64_value(char ch)
{
    return (int)ws_b64_values[(unsigned char)ch] - 1;
}
#endif

size_t ws_base64_encode(char *out, const uint8_t *in, size_t len)
{
    size_t i = 0, o = 0;

    for (; len - i >= 3; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | (uint32_t)in[i + 2];
        out[o++] = ws_b64_alphabet[(v >> 18) & 63u];
        out[o++] = ws_b64_alphabet[(v >> 12) & 63u];
        out[o++] = ws_b64_alphabet[(v >> 6) & 63u];
        out[o++] = ws_b64_alphabet[v & 63u];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = ws_b64_alphabet[(v >> 18) & 63u];
        out[o++] = ws_b64_alphabet[(v >> 12) & 63u];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = ws_b64_alphabet[(v >> 18) & 63u];
        out[o++] = ws_b64_alphabet[(v >> 12) & 63u];
        out[o++] = ws_b64_alphabet[(v >> 6) & 63u];
        out[o++] = '=';
    }
    return o;
}

/* Checks in[0..len) and gives its decoded length; WS_OK or WS_E_INVALID. Besides the alphabet
 * and the padding, the bits the padding discards must be zero: every byte string has
 * exactly one valid encoding, which is what a peer that encoded 16 bytes produces. */
static int ws_base64_check(const char *in, size_t len, size_t *decoded_len)
{
    size_t pad = 0, i;

    if (len % 4 != 0)
        return WS_E_INVALID;
    if (len == 0) {
        *decoded_len = 0;
        return WS_OK;
    }
    if (in[len - 1] == '=')
        pad = (in[len - 2] == '=') ? 2 : 1;

    for (i = 0; i < len - pad; i++) {
        if (ws_b64_value(in[i]) < 0)
            return WS_E_INVALID; /* a bad character, or '=' before the padding */
    }
    if (pad == 1 && (ws_b64_value(in[len - 2]) & 0x3) != 0)
        return WS_E_INVALID;
    if (pad == 2 && (ws_b64_value(in[len - 3]) & 0xF) != 0)
        return WS_E_INVALID;

    *decoded_len = len / 4 * 3 - pad;
    return WS_OK;
}

int ws_base64_decoded_len(const char *in, size_t len)
{
    size_t n;

    if (ws_base64_check(in, len, &n) != WS_OK || n > (size_t)INT_MAX)
        return WS_E_INVALID;
    return (int)n;
}

int ws_base64_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
    size_t n, i, o = 0;
    int rc = ws_base64_check(in, len, &n);

    if (rc != WS_OK)
        return rc;
    if (n > (size_t)INT_MAX)
        return WS_E_INVALID; /* the length could not be returned */
    if (n > cap)
        return WS_E_BUFFER;

    for (i = 0; i < len; i += 4) {
        uint32_t v = 0;
        unsigned k;
        for (k = 0; k < 4; k++) {
            int d = ws_b64_value(in[i + k]);
            v = (v << 6) | (uint32_t)(d < 0 ? 0 : d); /* '=' counts as zero bits */
        }
        out[o++] = (uint8_t)(v >> 16);
        if (o < n)
            out[o++] = (uint8_t)(v >> 8);
        if (o < n)
            out[o++] = (uint8_t)v;
    }
    return (int)n;
}
