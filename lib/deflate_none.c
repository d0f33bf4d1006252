/*
 * permessage-deflate in a build without zlib: the same functions as deflate.c, so the API
 * keeps its shape, each saying WS_E_UNSUPPORTED (negotiation checks ws_deflate_available).
 */
#include "deflate.h"

/* What both step functions do here: nothing, and say so. */
static int ws_no_step(const uint8_t *in, size_t in_len, bool last, const uint8_t *out, size_t cap,
                      size_t *consumed, size_t *produced)
{
    (void)in;
    (void)in_len;
    (void)last;
    (void)out;
    (void)cap;
    if (consumed != NULL)
        *consumed = 0;
    if (produced != NULL)
        *produced = 0;
    return WS_E_UNSUPPORTED;
}

bool ws_deflate_available(void)
{
    return false;
}

int ws_inflater_new(ws_inflater **out, const ws_deflate_params *params, ws_role role,
                    size_t max_message_size, ws_realloc_fn realloc_fn, void *ud)
{
    (void)params;
    (void)role;
    (void)max_message_size;
    (void)realloc_fn;
    (void)ud;
    if (out != NULL)
        *out = NULL;
    return WS_E_UNSUPPORTED;
}

int ws_inflater_step(ws_inflater *z, const uint8_t *in, size_t in_len, bool last, uint8_t *out,
                     size_t cap, size_t *consumed, size_t *produced)
{
    (void)z;
    return ws_no_step(in, in_len, last, out, cap, consumed, produced);
}

size_t ws_inflater_memory(const ws_inflater *z)
{
    (void)z;
    return 0;
}

void ws_inflater_free(ws_inflater *z)
{
    (void)z;
}

int ws_deflater_new(ws_deflater **out, const ws_deflate_params *params, ws_role role,
                    const ws_deflate_config *cfg, ws_realloc_fn realloc_fn, void *ud)
{
    (void)params;
    (void)role;
    (void)cfg;
    (void)realloc_fn;
    (void)ud;
    if (out != NULL)
        *out = NULL;
    return WS_E_UNSUPPORTED;
}

int ws_deflater_step(ws_deflater *z, const uint8_t *in, size_t in_len, bool last, uint8_t *out,
                     size_t cap, size_t *consumed, size_t *produced)
{
    (void)z;
    return ws_no_step(in, in_len, last, out, cap, consumed, produced);
}

size_t ws_deflater_bound(size_t len)
{
    return len;
}

size_t ws_deflater_memory(const ws_deflater *z)
{
    (void)z;
    return 0;
}

void ws_deflater_free(ws_deflater *z)
{
    (void)z;
}

bool ws_inflater_trim(ws_inflater *z)
{
    (void)z;
    return false;
}

bool ws_deflater_trim(ws_deflater *z)
{
    (void)z;
    return false;
}

void ws_deflater_forget(ws_deflater *z)
{
    (void)z;
}

bool ws_inflater_can_trim(const ws_inflater *z)
{
    (void)z;
    return false;
}

bool ws_deflater_can_trim(const ws_deflater *z)
{
    (void)z;
    return false;
}
