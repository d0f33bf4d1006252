/*
 * Base64 (RFC 4648 §4, standard alphabet, padded) for the handshake keys. Decoding is
 * strict: the input is checked completely before anything is written, so a malformed key
 * is told apart from a merely unusual one and out is left untouched on every error.
 */
#include "ws_internal.h"

#include <limits.h>

#ifdef WS_SMALL
/* The digit of the 6-bit value v, without the 64-byte alphabet. */
static char ws_b64_char(uint32_t v)
{
    uint32_t c;

    v &= 63u;
    if (v >= 62)
        return v == 62 ? '+' : '/';
    c = v + 'A'; /* A-Z */
    if (v >= 26)
        c += 'a' - 'A' - 26; /* a-z */
    if (v >= 52)
        c -= 'a' + 26 - '0'; /* 0-9 */
    return (char)c;
}

/* WS_SMALL (docs/size.md): one loop over groups of up to three bytes, each written as four
 * characters: a digit for each 6 bits that hold input, then '='. */
size_t ws_base64_encode(char *out, const uint8_t *in, size_t len)
{
    size_t i, o = 0;
    unsigned j;

    for (i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;

        if (len - i > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (len - i > 2)
            v |= in[i + 2];
        for (j = 0; j < 4; j++, v <<= 6)
            out[o++] = j <= len - i ? ws_b64_char(v >> 18) : '=';
    }
    return o;
}
#else
static const char ws_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
#endif

/* One pass over the digits: checks every one and, when out is not NULL, writes the bytes. */
static bool ws_base64_digits(uint8_t *out, const char *in, size_t len, char c62, char c63)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        int v = ws_base64_digit(in[i], c62, c63);
        if (v < 0)
            return false; /* a bad character, or '=' before the padding */
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out != NULL)
                out[o] = (uint8_t)(acc >> bits);
            o++;
            acc &= (1u << bits) - 1u;
        }
    }
    /* The bits past the last whole byte must be zero: every byte string then has exactly one
     * encoding (what a peer that encoded 16 bytes sends, a token nobody altered). */
    return acc == 0;
}

int ws_base64_decode_with(uint8_t *out, size_t cap, const char *in, size_t len, char c62, char c63,
                          bool padded)
{
    size_t data = len, n;

    if (padded) {
        if (len % 4 != 0)
            return WS_E_INVALID;
        if (data > 0 && in[data - 1] == '=')
            data--;
        if (data < len && data > 0 && in[data - 1] == '=')
            data--;
    }
    if (data % 4 == 1)
        return WS_E_INVALID; /* 6 bits cannot end a byte string */
    n = data / 4 * 3 + (data % 4 != 0 ? data % 4 - 1 : 0);
    if (n > (size_t)INT_MAX || !ws_base64_digits(NULL, in, data, c62, c63))
        return WS_E_INVALID;
    if (out == NULL)
        return (int)n;
    if (n > cap)
        return WS_E_BUFFER;
    (void)ws_base64_digits(out, in, data, c62, c63);
    return (int)n;
}

int ws_base64_decoded_len(const char *in, size_t len)
{
    return ws_base64_decode_with(NULL, 0, in, len, '+', '/', true);
}

int ws_base64_decode(uint8_t *out, size_t cap, const char *in, size_t len)
{
    uint8_t none;

    return ws_base64_decode_with(out != NULL ? out : &none, out != NULL ? cap : 0, in, len, '+',
                                 '/', true);
}
