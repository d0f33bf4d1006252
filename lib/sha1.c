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
    uint8_t block[WS_SHA1_BLOCK];
    size_t block_len;
    uint64_t total; /* bytes hashed so far */
} ws_sha1_ctx;

static uint32_t ws_rol32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32u - n));
}

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

static void ws_sha1_init(ws_sha1_ctx *c)
{
    c->h[0] = 0x67452301u;
    c->h[1] = 0xEFCDAB89u;
    c->h[2] = 0x98BADCFEu;
    c->h[3] = 0x10325476u;
    c->h[4] = 0xC3D2E1F0u;
    c->block_len = 0;
    c->total = 0;
}

/* One 64-byte block. Four loops of twenty rounds, each with its own round function, and
 * the five working words rotated by renaming (five rounds per iteration), so the compiler
 * keeps everything in registers and no round tests which quarter it is in. */
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
#define SHA1_WLOAD(t) (w[t])
#define SHA1_W15(t)   ((t) < 16 ? w[t] : SHA1_W(t))

static void ws_sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    unsigned t;

    for (t = 0; t < 16; t++)
        w[t] = ws_load_be32(p + 4 * t);
    for (t = 0; t < 15; t += 5)
        SHA1_5(SHA1_F1, 0x5A827999u, t, SHA1_WLOAD);
    SHA1_5(SHA1_F1, 0x5A827999u, 15, SHA1_W15);
    for (t = 20; t < 40; t += 5)
        SHA1_5(SHA1_F2, 0x6ED9EBA1u, t, SHA1_W);
    for (t = 40; t < 60; t += 5)
        SHA1_5(SHA1_F3, 0x8F1BBCDCu, t, SHA1_W);
    for (t = 60; t < 80; t += 5)
        SHA1_5(SHA1_F2, 0xCA62C1D6u, t, SHA1_W);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

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

void ws_sha1(const void *data, size_t len, uint8_t out[WS_SHA1_SIZE])
{
    ws_sha1_ctx c;
    ws_sha1_init(&c);
    ws_sha1_update(&c, (const uint8_t *)data, len);
    ws_sha1_final(&c, out);
}

void ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_KEY_SIZE])
{
    ws_sha1_ctx c;
    uint8_t digest[WS_SHA1_SIZE];

    ws_sha1_init(&c);
    ws_sha1_update(&c, (const uint8_t *)key, key_len);
    ws_sha1_update(&c, (const uint8_t *)ws_accept_guid, sizeof ws_accept_guid - 1);
    ws_sha1_final(&c, digest);
    (void)ws_base64_encode(out, digest, sizeof digest);
}
