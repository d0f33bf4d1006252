/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), written in-house so signed tokens need
 * no crypto dependency, plus the constant-time comparison their signatures are checked with.
 */
#include "ws_internal.h"

#define WS_SHA256_BLOCK 64

typedef struct ws_sha256_ctx {
    uint32_t h[8];
    uint8_t block[WS_SHA256_BLOCK];
    size_t block_len;
    uint64_t total; /* bytes hashed so far */
} ws_sha256_ctx;

/* The first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t ws_sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u,
};

static uint32_t ws_ror32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static uint32_t ws_sha256_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void ws_sha256_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void ws_sha256_init(ws_sha256_ctx *c)
{
    /* The first 32 bits of the fractional parts of the square roots of the first 8 primes. */
    c->h[0] = 0x6a09e667u;
    c->h[1] = 0xbb67ae85u;
    c->h[2] = 0x3c6ef372u;
    c->h[3] = 0xa54ff53au;
    c->h[4] = 0x510e527fu;
    c->h[5] = 0x9b05688cu;
    c->h[6] = 0x1f83d9abu;
    c->h[7] = 0x5be0cd19u;
    c->block_len = 0;
    c->total = 0;
}

/* One 64-byte block. The 64-word schedule is kept as a rolling window of 16 words. */
static void ws_sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[16], s[8];
    unsigned t, i;

    for (t = 0; t < 16; t++)
        w[t] = ws_sha256_load_be32(p + 4 * t);
    for (i = 0; i < 8; i++)
        s[i] = h[i];

    for (t = 0; t < 64; t++) {
        uint32_t t1, t2, ch, maj, e = s[4], a = s[0];
        if (t >= 16) {
            uint32_t w15 = w[(t + 1) & 15], w2 = w[(t + 14) & 15];
            uint32_t s0 = ws_ror32(w15, 7) ^ ws_ror32(w15, 18) ^ (w15 >> 3);
            uint32_t s1 = ws_ror32(w2, 17) ^ ws_ror32(w2, 19) ^ (w2 >> 10);
            w[t & 15] += s0 + w[(t + 9) & 15] + s1;
        }
        ch = (e & s[5]) ^ (~e & s[6]);
        maj = (a & s[1]) ^ (a & s[2]) ^ (s[1] & s[2]);
        t1 = s[7] + (ws_ror32(e, 6) ^ ws_ror32(e, 11) ^ ws_ror32(e, 25)) + ch + ws_sha256_k[t] +
             w[t & 15];
        t2 = (ws_ror32(a, 2) ^ ws_ror32(a, 13) ^ ws_ror32(a, 22)) + maj;
        for (i = 7; i > 0; i--)
            s[i] = s[i - 1];
        s[4] += t1;
        s[0] = t1 + t2;
    }

    for (i = 0; i < 8; i++)
        h[i] += s[i];
}

static void ws_sha256_update(ws_sha256_ctx *c, const uint8_t *p, size_t len)
{
    if (len == 0)
        return; /* p may be NULL then */
    c->total += (uint64_t)len;

    if (c->block_len > 0) {
        size_t take = WS_MIN(len, WS_SHA256_BLOCK - c->block_len);
        memcpy(c->block + c->block_len, p, take);
        c->block_len += take;
        p += take;
        len -= take;
        if (c->block_len < WS_SHA256_BLOCK)
            return;
        ws_sha256_block(c->h, c->block);
        c->block_len = 0;
    }
    while (len >= WS_SHA256_BLOCK) {
        ws_sha256_block(c->h, p);
        p += WS_SHA256_BLOCK;
        len -= WS_SHA256_BLOCK;
    }
    if (len > 0) {
        memcpy(c->block, p, len);
        c->block_len = len;
    }
}

/* Pads with 0x80, zeros and the 64-bit big-endian bit length, which takes a second block
 * when fewer than 9 bytes are left in the current one. */
static void ws_sha256_final(ws_sha256_ctx *c, uint8_t out[WS_SHA256_SIZE])
{
    uint64_t bits = c->total * 8u;
    unsigned i;

    c->block[c->block_len++] = 0x80;
    if (c->block_len > WS_SHA256_BLOCK - 8) {
        memset(c->block + c->block_len, 0, WS_SHA256_BLOCK - c->block_len);
        ws_sha256_block(c->h, c->block);
        c->block_len = 0;
    }
    memset(c->block + c->block_len, 0, WS_SHA256_BLOCK - 8 - c->block_len);
    ws_sha256_store_be32(c->block + 56, (uint32_t)(bits >> 32));
    ws_sha256_store_be32(c->block + 60, (uint32_t)bits);
    ws_sha256_block(c->h, c->block);

    for (i = 0; i < 8; i++)
        ws_sha256_store_be32(out + 4 * i, c->h[i]);
}

void ws_sha256(const void *data, size_t len, uint8_t out[WS_SHA256_SIZE])
{
    ws_sha256_ctx c;
    ws_sha256_init(&c);
    ws_sha256_update(&c, (const uint8_t *)data, len);
    ws_sha256_final(&c, out);
}

/* H((K ^ opad) || H((K ^ ipad) || data)), with a key longer than a block hashed first and
 * a shorter one zero-padded to the block size. */
void ws_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
                    uint8_t out[WS_SHA256_SIZE])
{
    uint8_t k[WS_SHA256_BLOCK], pad[WS_SHA256_BLOCK], inner[WS_SHA256_SIZE];
    ws_sha256_ctx c;
    size_t i;

    memset(k, 0, sizeof k);
    if (key_len > WS_SHA256_BLOCK)
        ws_sha256(key, key_len, k);
    else if (key_len > 0)
        memcpy(k, key, key_len);

    for (i = 0; i < WS_SHA256_BLOCK; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x36u);
    ws_sha256_init(&c);
    ws_sha256_update(&c, pad, sizeof pad);
    ws_sha256_update(&c, (const uint8_t *)data, len);
    ws_sha256_final(&c, inner);

    for (i = 0; i < WS_SHA256_BLOCK; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x5cu);
    ws_sha256_init(&c);
    ws_sha256_update(&c, pad, sizeof pad);
    ws_sha256_update(&c, inner, sizeof inner);
    ws_sha256_final(&c, out);
}

/* Every byte is looked at whatever the earlier ones were, and the verdict is folded into
 * one accumulator, so the time says nothing about where a forged signature goes wrong. */
bool ws_const_time_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *pa = (const volatile uint8_t *)a;
    const volatile uint8_t *pb = (const volatile uint8_t *)b;
    uint8_t diff = 0;
    size_t i;

    for (i = 0; i < len; i++)
        diff = (uint8_t)(diff | (pa[i] ^ pb[i]));
    return diff == 0;
}
