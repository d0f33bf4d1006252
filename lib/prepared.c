/*
 * Prepared messages: a frame encoded once (server role, unmasked) in one allocation that
 * any number of output queues reference, freed when the last holder lets go. The layout
 * leaves room for a compressed encoding beside the plain one later; today there is none.
 */
#include "prepared.h"

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
    hlen = ws_frame_header_encode(pm->wire, &h);
    pm->hlen = (size_t)hlen; /* a final data frame of at most SIZE_MAX / 2 always encodes */
    if (len > 0)
        memcpy(pm->wire + pm->hlen, data, len);
    *out = pm;
    return WS_OK;
}

static void ws_prepared_drop(ws_prepared *pm)
{
    if (--pm->holders == 0)
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

uint8_t ws_prepared_opcode(const ws_prepared *pm)
{
    return pm->opcode;
}

const uint8_t *ws_prepared_payload(const ws_prepared *pm, size_t *len)
{
    *len = pm->len;
    return pm->wire + pm->hlen;
}

void ws_prepared_wire(ws_prepared *pm, ws_outq_ref *ref)
{
    ref->data = pm->wire;
    ref->len = pm->hlen + pm->len;
    ref->done = ws_prepared_release;
    ref->ud = pm;
}

void ws_prepared_hold(ws_prepared *pm)
{
    pm->holders++;
}
