/*
 * Prepared messages: a frame encoded once (server role, unmasked) in one allocation that
 * any number of output queues reference, freed when the last holder lets go; and, once
 * ws_prepared_compress has run, a second frame beside it with the message compressed on
 * its own (RFC 7692, fresh history), shared by the same holders.
 */
#include "prepared.h"
#include "deflate.h"

#ifndef WS_NO_DEFAULT_ALLOC
#include <stdlib.h>
#endif

struct ws_prepared {
    size_t holders; /* the creator, until ws_prepared_free, and each queue holding the frame */
    ws_realloc_fn rf;
    void *ud;
    size_t len;     /* payload bytes */
    size_t hlen;    /* header bytes, at wire[0..hlen) */
    uint8_t opcode; /* WS_OP_TEXT or WS_OP_BINARY */
    uint8_t *wire;  /* header then payload, right after this struct */
    /* The compressed form, or zbits 0: its own allocation (zbuf), frame at zwire. */
    uint8_t zbits; /* the window it was compressed with, 8..15 */
    size_t zlen, zhlen;
    uint8_t *zwire, *zbuf;
};

#ifndef WS_NO_DEFAULT_ALLOC
static void *ws_prepared_libc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}
#define WS_PREPARED_DEFAULT ws_prepared_libc
#else
#define WS_PREPARED_DEFAULT NULL
#endif

int ws_prepared_new(ws_prepared **out, ws_opcode opcode, const void *data, size_t len,
                    ws_realloc_fn realloc_fn, void *realloc_ud)
{
    ws_frame_header h;
    ws_prepared *pm;
    size_t head = (sizeof(ws_prepared) + 7u) & ~(size_t)7u;
    int hlen;

    if (out == NULL)
        return WS_E_INVALID;
    *out = NULL;
    if ((opcode != WS_OP_TEXT && opcode != WS_OP_BINARY) || (len > 0 && data == NULL) ||
        len > SIZE_MAX / 2)
        return WS_E_INVALID;
    if (opcode == WS_OP_TEXT && !ws_utf8_valid((const uint8_t *)data, len))
        return WS_E_INVALID_UTF8;
    if (realloc_fn == NULL) {
        realloc_fn = WS_PREPARED_DEFAULT;
        realloc_ud = NULL;
    }
    if (realloc_fn == NULL)
        return WS_E_NOMEM;
    memset(&h, 0, sizeof h);
    h.fin = true;
    h.opcode = (uint8_t)opcode;
    h.length = len;
    pm = (ws_prepared *)realloc_fn(realloc_ud, NULL, head + ws_frame_header_size(len, false) + len);
    if (pm == NULL)
        return WS_E_NOMEM;
    pm->holders = 1;
    pm->rf = realloc_fn;
    pm->ud = realloc_ud;
    pm->len = len;
    pm->opcode = (uint8_t)opcode;
    pm->wire = (uint8_t *)pm + head;
    pm->zbits = 0;
    pm->zbuf = pm->zwire = NULL;
    pm->zlen = pm->zhlen = 0;
    hlen = ws_frame_header_encode(pm->wire, &h);
    pm->hlen = (size_t)hlen; /* a final data frame of at most SIZE_MAX / 2 always encodes */
    if (len > 0)
        memcpy(pm->wire + pm->hlen, data, len);
    *out = pm;
    return WS_OK;
}

static void ws_prepared_drop(ws_prepared *pm)
{
    if (--pm->holders != 0)
        return;
    if (pm->zbuf != NULL)
        pm->rf(pm->ud, pm->zbuf, 0);
    pm->rf(pm->ud, pm, 0);
}

/* The done of a queue's reference: data is the wire the queue held. */
static void ws_prepared_release(void *ud, const void *data)
{
    (void)data;
    ws_prepared_drop((ws_prepared *)ud);
}

void ws_prepared_free(ws_prepared *pm)
{
    if (pm != NULL)
        ws_prepared_drop(pm);
}

/* Compresses the payload with a fresh deflater of window bits and level into buf, after
 * WS_FRAME_HEADER_MAX bytes of room; sets *out_len. The deflater's memory, zlib's
 * included, comes from pm's allocator and is gone when this returns. */
static int ws_prepared_deflate(const ws_prepared *pm, unsigned bits, int level, uint8_t *buf,
                               size_t cap, size_t *out_len)
{
    ws_deflate_params params;
    ws_deflate_config cfg;
    ws_deflater *d;
    const uint8_t *in = pm->wire + pm->hlen;
    size_t in_pos = 0, out_pos = WS_FRAME_HEADER_MAX;
    int rc;

    /* The server's compressor resetting for every message: standalone messages. zlib's
     * hash table scales with the window (memLevel 8 at 15, 1 at 8 and 9). */
    memset(&params, 0, sizeof params);
    params.server_no_context_takeover = true;
    params.server_max_window_bits = (uint8_t)bits;
    params.client_max_window_bits = WS_DEFLATE_WBITS_MAX;
    ws_deflate_config_init(&cfg);
    cfg.level = level;
    cfg.mem_level = bits > 9 ? (int)bits - 7 : 1;
    rc = ws_deflater_new(&d, &params, WS_ROLE_SERVER, &cfg, pm->rf, pm->ud);
    if (rc != WS_OK)
        return rc;
    do {
        size_t used, made;
        rc = ws_deflater_step(d, pm->len > 0 ? in + in_pos : NULL, pm->len - in_pos, true,
                              buf + out_pos, cap - out_pos, &used, &made);
        in_pos += used;
        out_pos += made;
    } while (rc == WS_DEFLATE_MORE && cap - out_pos >= WS_DEFLATE_OUT_MIN);
    ws_deflater_free(d);
    if (rc == WS_DEFLATE_MORE)
        rc = WS_E_STATE; /* the bound was wrong: never seen */
    if (rc < 0)
        return rc;
    *out_len = out_pos - WS_FRAME_HEADER_MAX;
    return WS_OK;
}

/* The smallest window that loses nothing on a message of len bytes: zlib refers back at
 * most its window minus 262 bytes (8 stands for 9 and 250 bytes: see deflate.c), and no
 * reference in a message goes further back than its length. */
static unsigned ws_prepared_window_for(size_t len)
{
    unsigned bits = 9;

    if (len <= 250)
        return 8;
    while (bits < WS_DEFLATE_WBITS_MAX && ((size_t)1 << bits) - 262u < len)
        bits++;
    return bits;
}

int ws_prepared_compress(ws_prepared *pm, unsigned window_bits, int level)
{
    ws_frame_header h;
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    size_t bound, zlen = 0;
    uint8_t *buf, *p;
    int rc;

    if (pm == NULL || window_bits < WS_DEFLATE_WBITS_MIN || window_bits > WS_DEFLATE_WBITS_MAX ||
        level < 0 || level > 9)
        return WS_E_INVALID;
    if (!ws_deflate_available())
        return WS_E_UNSUPPORTED;
    if (pm->zbits != 0)
        return WS_E_STATE;
    /* A smaller window compresses this message as well, costs less to set up and fits
     * more connections. */
    window_bits = WS_MIN(window_bits, ws_prepared_window_for(pm->len));
    bound = ws_deflater_bound(pm->len);
    if (bound > SIZE_MAX / 2)
        return WS_E_NOMEM;
    buf = (uint8_t *)pm->rf(pm->ud, NULL, WS_FRAME_HEADER_MAX + bound);
    if (buf == NULL)
        return WS_E_NOMEM;
    rc = ws_prepared_deflate(pm, window_bits, level, buf, WS_FRAME_HEADER_MAX + bound, &zlen);
    if (rc != WS_OK) {
        pm->rf(pm->ud, buf, 0);
        return rc;
    }
    /* Give back what the bound reserved beyond the compressed bytes. */
    p = (uint8_t *)pm->rf(pm->ud, buf, WS_FRAME_HEADER_MAX + zlen);
    if (p != NULL)
        buf = p;
    memset(&h, 0, sizeof h);
    h.fin = true;
    h.rsv = WS_RSV1; /* RFC 7692 §6: set on the first (here: only) frame of the message */
    h.opcode = pm->opcode;
    h.length = zlen;
    pm->zhlen = (size_t)ws_frame_header_encode(hdr, &h); /* a final data frame: encodes */
    pm->zwire = buf + WS_FRAME_HEADER_MAX - pm->zhlen;
    memcpy(pm->zwire, hdr, pm->zhlen);
    pm->zbuf = buf;
    pm->zlen = zlen;
    pm->zbits = (uint8_t)window_bits;
    return WS_OK;
}

uint8_t ws_prepared_opcode(const ws_prepared *pm)
{
    return pm->opcode;
}

bool ws_prepared_fits(const ws_prepared *pm, const ws_deflate_params *p, bool client)
{
    /* Our compressor must start each message afresh (else the peer's history would hold
     * bytes it does not know), and the peer must accept the window the form was made with
     * (RFC 7692 §7.1.1.1, §7.1.1.2, §7.1.2.1, §7.1.2.2). */
    if (pm->zbits == 0)
        return false;
    if (client)
        return p->client_no_context_takeover && pm->zbits <= p->client_max_window_bits;
    return p->server_no_context_takeover && pm->zbits <= p->server_max_window_bits;
}

const uint8_t *ws_prepared_payload(const ws_prepared *pm, bool compressed, size_t *len)
{
    if (compressed) {
        *len = pm->zlen;
        return pm->zwire + pm->zhlen;
    }
    *len = pm->len;
    return pm->wire + pm->hlen;
}

void ws_prepared_wire(ws_prepared *pm, bool compressed, ws_outq_ref *ref)
{
    ref->data = compressed ? pm->zwire : pm->wire;
    ref->len = compressed ? pm->zhlen + pm->zlen : pm->hlen + pm->len;
    ref->done = ws_prepared_release;
    ref->ud = pm;
}

void ws_prepared_hold(ws_prepared *pm)
{
    pm->holders++;
}
