/*
 * SHA-1 (FIPS 180-4), written in-house so the library has no crypto dependency, and the
 * Sec-WebSocket-Accept computation of RFC 6455 §4.2.2 built on it. SHA-1 is used here only
 * because the handshake requires it, never for security.
 */
#include "ws_internal.h"

/* The key is hashed with this GUID appended (RFC 6455 §1.3). */
static const char ws_accept_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#define WS_SHA1_BLOCK 64

/* A streaming context, so the accept key can be hashed as key then GUID without copying
 * them into one buffer of unbounded size. */
typedef struct ws_sha1_ctx {
    uint32_t h[5];
    size_t block_len;
#ifdef WS_SMALL
    uint32_t w[16]; /* the block being filled, as big-endian words (not cleared: see below) */
    size_t total;   /* bytes hashed so far; a size_t, as the callers hash a few dozen */
#else
    uint8_t block[WS_SHA1_BLOCK];
    uint64_t total; /* bytes hashed so far */
#endif
} ws_sha1_ctx;

static uint32_t ws_rol32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32u - n));
}

#ifndef WS_SMALL
static uint32_t ws_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void ws_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
#endif

static void ws_sha1_init(ws_sha1_ctx *c)
{
    static const uint32_t ws_sha1_iv[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
                                           0xC3D2E1F0u};

    memcpy(c->h, ws_sha1_iv, sizeof ws_sha1_iv);
    c->block_len = 0;
    c->total = 0;
}

#ifdef WS_SMALL
/* One 64-byte block, rolled (WS_SMALL, docs/size.md): a small fraction of the code of the
 * unrolled version below, for firmware that computes an accept key once per connection. The
 * block is already in words (c->w, filled by ws_sha1_byte), and becomes the schedule. */
static void ws_sha1_block(ws_sha1_ctx *c)
{
    uint32_t *w = c->w;
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4];
    unsigned t, i;

    for (t = 0; t < 80; t++) {
        uint32_t f, k, tmp;
        if (t < 20) {
            f = d ^ (b & (cc ^ d));
            k = 0x5A827999u;
        } else if (t - 40u < 20u) {
            f = (b & cc) | (d & (b | cc));
            k = 0x8F1BBCDCu;
        } else {
            f = b ^ cc ^ d;
            k = t < 40 ? 0x6ED9EBA1u : 0xCA62C1D6u;
        }
        tmp = ws_rol32(a, 5) + f + e + k + w[0];
        /* w[i] is W[t + i]: W[t + 16] goes in at the end as the window slides on. */
        f = ws_rol32(w[13] ^ w[8] ^ w[2] ^ w[0], 1);
        for (i = 0; i < 15; i++)
            w[i] = w[i + 1];
        w[15] = f;
        e = d;
        d = cc;
        cc = ws_rol32(b, 30);
        b = a;
        a = tmp;
    }
    {
        const uint32_t v[5] = {a, b, cc, d, e};
        for (i = 0; i < 5; i++)
            c->h[i] += v[i];
    }
}
#else
/* One 64-byte block, unrolled: the round function and constant are fixed for each run of
 * twenty rounds and the five working words are rotated by renaming (five rounds per
 * SHA1_5), so no round tests which quarter it is in and every schedule index is a constant
 * the compiler resolves. */
#define SHA1_W(t)                                                                                  \
    (w[(t)&15] =                                                                                   \
         ws_rol32(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^ w[((t) + 2) & 15] ^ w[(t)&15], 1))
#define SHA1_R(a, b, c, d, e, f, k, wt)                                                            \
    do {                                                                                           \
        e += ws_rol32(a, 5) + (f) + (k) + (wt);                                                    \
        b = ws_rol32(b, 30);                                                                       \
    } while (0)
#define SHA1_F1(b, c, d) (d ^ (b & (c ^ d)))
#define SHA1_F2(b, c, d) (b ^ c ^ d)
#define SHA1_F3(b, c, d) ((b & c) | (d & (b | c)))
#define SHA1_5(F, K, t, W)                                                                         \
    do {                                                                                           \
        SHA1_R(a, b, c, d, e, F(b, c, d), K, W(t));                                                \
        SHA1_R(e, a, b, c, d, F(a, b, c), K, W((t) + 1));                                          \
        SHA1_R(d, e, a, b, c, F(e, a, b), K, W((t) + 2));                                          \
        SHA1_R(c, d, e, a, b, F(d, e, a), K, W((t) + 3));                                          \
        SHA1_R(b, c, d, e, a, F(c, d, e), K, W((t) + 4));                                          \
    } while (0)
#define SHA1_20(F, K, t, W)                                                                        \
    do {                                                                                           \
        SHA1_5(F, K, t, W);                                                                        \
        SHA1_5(F, K, (t) + 5, W);                                                                  \
        SHA1_5(F, K, (t) + 10, W);                                                                 \
        SHA1_5(F, K, (t) + 15, W);                                                                 \
    } while (0)
#define SHA1_WLOAD(t) (w[t])
#define SHA1_W15(t)   ((t) < 16 ? w[t] : SHA1_W(t))
#define SHA1_K1       0x5A827999u
#define SHA1_K2       0x6ED9EBA1u
#define SHA1_K3       0x8F1BBCDCu
#define SHA1_K4       0xCA62C1D6u

static void ws_sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    unsigned t;

    for (t = 0; t < 16; t++)
        w[t] = ws_load_be32(p + 4 * t);
    SHA1_5(SHA1_F1, SHA1_K1, 0, SHA1_WLOAD);
    SHA1_5(SHA1_F1, SHA1_K1, 5, SHA1_WLOAD);
    SHA1_5(SHA1_F1, SHA1_K1, 10, SHA1_WLOAD);
    SHA1_5(SHA1_F1, SHA1_K1, 15, SHA1_W15);
    SHA1_20(SHA1_F2, SHA1_K2, 20, SHA1_W);
    SHA1_20(SHA1_F3, SHA1_K3, 40, SHA1_W);
    SHA1_20(SHA1_F2, SHA1_K4, 60, SHA1_W);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

#endif /* WS_SMALL */

#ifndef WS_SMALL
/* A block whose message schedule is known in advance, given with each round's constant
 * already added (wk[t] = W[t] + K[t]). */
#define SHA1_WK(t) (wk[t])

static void ws_sha1_block_wk(uint32_t h[5], const uint32_t wk[80])
{
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    SHA1_20(SHA1_F1, 0u, 0, SHA1_WK);
    SHA1_20(SHA1_F2, 0u, 20, SHA1_WK);
    SHA1_20(SHA1_F3, 0u, 40, SHA1_WK);
    SHA1_20(SHA1_F2, 0u, 60, SHA1_WK);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* A 60-byte message (a 24-byte key and the GUID) leaves room for the 0x80 that starts its
 * padding but not for the length, so its second block is always 56 zero bytes and the
 * length, 480 bits: W[0..14] = 0, W[15] = 0x1E0. Its schedule plus constants, worked out
 * once with W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]); the tests hold accept keys
 * made with it against SHA-1 computed the long way. */
/* clang-format off */
static const uint32_t ws_sha1_pad60_wk[80] = {
    0x5A827999u, 0x5A827999u, 0x5A827999u, 0x5A827999u, 0x5A827999u,  /* rounds 0-4 */
    0x5A827999u, 0x5A827999u, 0x5A827999u, 0x5A827999u, 0x5A827999u,  /* rounds 5-9 */
    0x5A827999u, 0x5A827999u, 0x5A827999u, 0x5A827999u, 0x5A827999u,  /* rounds 10-14 */
    0x5A827B79u, 0x5A827999u, 0x5A827999u, 0x5A827D59u, 0x5A827999u,  /* rounds 15-19 */
    0x6ED9EBA1u, 0x6ED9F321u, 0x6ED9EBA1u, 0x6ED9EF61u, 0x6ED9FAA1u,  /* rounds 20-24 */
    0x6ED9EBA1u, 0x6ED9EBA1u, 0x6EDA09A1u, 0x6ED9EBA1u, 0x6ED9F861u,  /* rounds 25-29 */
    0x6EDA27A1u, 0x6ED9EFE1u, 0x6ED9EBA1u, 0x6EDA63A1u, 0x6ED9FAA1u,  /* rounds 30-34 */
    0x6EDA1EA1u, 0x6EDADBA1u, 0x6ED9FAA1u, 0x6ED9EBA1u, 0x6EDBDAA1u,  /* rounds 35-39 */
    0x8F1BBCDCu, 0x8F1C88DCu, 0x8F1F7CDCu, 0x8F1C005Cu, 0x8F1BBCDCu,  /* rounds 40-44 */
    0x8F234BDCu, 0x8F1CBBDCu, 0x8F1EE35Cu, 0x8F2ABCDCu, 0x8F1CACDCu,  /* rounds 45-49 */
    0x8F1BEFDCu, 0x8F3ABBDCu, 0x8F1BBCDCu, 0x8F2874DCu, 0x8F57BCDCu,  /* rounds 50-54 */
    0x8F1FC7DCu, 0x8F1CACDCu, 0x8F94BBDCu, 0x8F2BACDCu, 0x8F4F43DCu,  /* rounds 55-59 */
    0xCB52C1D6u, 0xCA7284D6u, 0xCA63B1D6u, 0xCC527CD6u, 0xCA62C1D6u,  /* rounds 60-64 */
    0xCB2EC1D6u, 0xCE23B1D6u, 0xCAA641D6u, 0xCA62C1D6u, 0xD1F1C1D6u,  /* rounds 65-69 */
    0xCB61C1D6u, 0xCD895FD6u, 0xD962C1D6u, 0xCB53B1D6u, 0xCA95FDD6u,  /* rounds 70-74 */
    0xE96249D6u, 0xCA62C1D6u, 0xD71B49D6u, 0x0663B1D6u, 0xCE6D0BD6u,  /* rounds 75-79 */
};
/* clang-format on */
#endif /* !WS_SMALL */

#ifdef WS_SMALL
/* WS_SMALL (docs/size.md): a byte at a time into the block's words, and the padding through
 * the same path; the keys hashed here are a few dozen bytes. A word is never cleared: it
 * takes exactly four bytes before the block is hashed, so whatever it held before has been
 * shifted out by then. */
static void ws_sha1_byte(ws_sha1_ctx *c, uint8_t b)
{
    uint32_t *w = &c->w[c->block_len >> 2];

    *w = (*w << 8) | b;
    if (++c->block_len == WS_SHA1_BLOCK) {
        ws_sha1_block(c);
        c->block_len = 0;
    }
}

static void ws_sha1_update(ws_sha1_ctx *c, const uint8_t *p, size_t len)
{
    size_t i;

    c->total += len;
    for (i = 0; i < len; i++)
        ws_sha1_byte(c, p[i]);
}

/* 0x80, zeros up to 8 bytes before a block's end, then the 64-bit big-endian bit length as
 * the block's last two words. */
static void ws_sha1_final(ws_sha1_ctx *c, uint8_t out[WS_SHA1_SIZE])
{
    unsigned i;

    ws_sha1_byte(c, 0x80);
    while (c->block_len != WS_SHA1_BLOCK - 8)
        ws_sha1_byte(c, 0);
    c->w[14] = (uint32_t)((uint64_t)c->total >> 29);
    c->w[15] = (uint32_t)c->total << 3;
    ws_sha1_block(c);
    for (i = 0; i < WS_SHA1_SIZE; i++)
        out[i] = (uint8_t)(c->h[i >> 2] >> (24u - 8u * (i & 3u)));
}
#else
static void ws_sha1_update(ws_sha1_ctx *c, const uint8_t *p, size_t len)
{
    if (len == 0)
        return; /* p may be NULL then */
    c->total += (uint64_t)len;

    if (c->block_len > 0) {
        size_t take = WS_MIN(len, WS_SHA1_BLOCK - c->block_len);
        memcpy(c->block + c->block_len, p, take);
        c->block_len += take;
        p += take;
        len -= take;
        if (c->block_len < WS_SHA1_BLOCK)
            return;
        ws_sha1_block(c->h, c->block);
        c->block_len = 0;
    }
    while (len >= WS_SHA1_BLOCK) {
        ws_sha1_block(c->h, p);
        p += WS_SHA1_BLOCK;
        len -= WS_SHA1_BLOCK;
    }
    if (len > 0) {
        memcpy(c->block, p, len);
        c->block_len = len;
    }
}

/* Pads with 0x80, zeros and the 64-bit big-endian bit length, which may take a second
 * block when fewer than 9 bytes are left in the current one. */
static void ws_sha1_final(ws_sha1_ctx *c, uint8_t out[WS_SHA1_SIZE])
{
    uint64_t bits = c->total * 8u;
    unsigned i;

    c->block[c->block_len++] = 0x80;
    if (c->block_len > WS_SHA1_BLOCK - 8) {
        memset(c->block + c->block_len, 0, WS_SHA1_BLOCK - c->block_len);
        ws_sha1_block(c->h, c->block);
        c->block_len = 0;
    }
    memset(c->block + c->block_len, 0, WS_SHA1_BLOCK - 8 - c->block_len);
    ws_store_be32(c->block + 56, (uint32_t)(bits >> 32));
    ws_store_be32(c->block + 60, (uint32_t)bits);
    ws_sha1_block(c->h, c->block);

    for (i = 0; i < 5; i++)
        ws_store_be32(out + 4 * i, c->h[i]);
}
#endif /* WS_SMALL */

void ws_sha1(const void *data, size_t len, uint8_t out[WS_SHA1_SIZE])
{
    ws_sha1_ctx c;
    ws_sha1_init(&c);
    ws_sha1_update(&c, (const uint8_t *)data, len);
    ws_sha1_final(&c, out);
}

#ifndef WS_SMALL
/* The length of every valid Sec-WebSocket-Key (the base64 of 16 bytes): with the GUID, a
 * 60-byte message, which ws_sha1_pad60_wk finishes. */
#define WS_VALID_KEY_LEN 24

/* The digest of a key of WS_VALID_KEY_LEN bytes and the GUID: the first block laid out
 * directly, the second from its precomputed schedule. */
static void ws_accept_digest60(const char *key, uint8_t digest[WS_SHA1_SIZE])
{
    uint8_t block[WS_SHA1_BLOCK] = {0};
    ws_sha1_ctx c;
    unsigned i;

    memcpy(block, key, WS_VALID_KEY_LEN);
    memcpy(block + WS_VALID_KEY_LEN, ws_accept_guid, sizeof ws_accept_guid - 1);
    block[WS_VALID_KEY_LEN + sizeof ws_accept_guid - 1] = 0x80;
    ws_sha1_init(&c);
    ws_sha1_block(c.h, block);
    ws_sha1_block_wk(c.h, ws_sha1_pad60_wk);
    for (i = 0; i < 5; i++)
        ws_store_be32(digest + 4 * i, c.h[i]);
}
#endif /* !WS_SMALL */

void ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_KEY_SIZE])
{
    ws_sha1_ctx c;
    uint8_t digest[WS_SHA1_SIZE];

#ifndef WS_SMALL
    if (key_len == WS_VALID_KEY_LEN) {
        ws_accept_digest60(key, digest);
        (void)ws_base64_encode(out, digest, sizeof digest);
        return;
    }
#endif
    ws_sha1_init(&c);
    ws_sha1_update(&c, (const uint8_t *)key, key_len);
    ws_sha1_update(&c, (const uint8_t *)ws_accept_guid, sizeof ws_accept_guid - 1);
    ws_sha1_final(&c, digest);
    (void)ws_base64_encode(out, digest, sizeof digest);
}
