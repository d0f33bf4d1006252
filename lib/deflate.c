/*
 * permessage-deflate data path (RFC 7692 §7.2) over zlib: one inflater and one deflater
 * per connection, each with zlib's state allocated through the host's realloc. All use of
 * zlib in libws is in this file; builds without zlib use deflate_none.c instead.
 */
#include "deflate.h"

#include <limits.h>
#include <zlib.h>

bool ws_deflate_available(void)
{
    return true;
}

/* ---- zlib's memory through the host's allocator ------------------------------------------
 * Every block starts with a header holding its size, so that the bytes held can be counted
 * (zlib's free callback is not told the size). 16 bytes keep zlib's blocks aligned as a
 * malloc'ed block would be. */

#define WS_ZHDR 16u

typedef struct ws_zmem {
    ws_realloc_fn rf;
    void *ud;
    size_t live; /* bytes held, headers and the owning object included */
} ws_zmem;

static voidpf ws_zalloc(voidpf opaque, uInt items, uInt size)
{
    ws_zmem *m = (ws_zmem *)opaque;
    size_t n;
    uint8_t *p;

    if (size != 0 && items > (SIZE_MAX - WS_ZHDR) / size)
        return Z_NULL;
    n = (size_t)items * size;
    p = (uint8_t *)m->rf(m->ud, NULL, n + WS_ZHDR);
    if (p == NULL)
        return Z_NULL;
    memcpy(p, &n, sizeof n);
    m->live += n + WS_ZHDR;
    return p + WS_ZHDR;
}

static void ws_zfree(voidpf opaque, voidpf addr)
{
    ws_zmem *m = (ws_zmem *)opaque;
    uint8_t *p;
    size_t n;

    if (addr == NULL)
        return;
    p = (uint8_t *)addr - WS_ZHDR;
    memcpy(&n, p, sizeof n);
    m->live -= n + WS_ZHDR;
    (void)m->rf(m->ud, p, 0);
}

/* A zeroed codec object of size bytes, whose first member is its ws_zmem, or NULL. */
static void *ws_codec_alloc(size_t size, ws_realloc_fn rf, void *ud)
{
    ws_zmem *m = (ws_zmem *)rf(ud, NULL, size);

    if (m == NULL)
        return NULL;
    memset(m, 0, size);
    m->rf = rf;
    m->ud = ud;
    m->live = size;
    return m;
}

static void ws_zstream_setup(z_stream *zs, ws_zmem *m)
{
    memset(zs, 0, sizeof *zs);
    zs->zalloc = ws_zalloc;
    zs->zfree = ws_zfree;
    zs->opaque = m;
}

/* zlib refuses a 256-byte window for raw deflate streams and, when compressing with a
 * 512-byte one, never refers further back than 250 bytes (its window minus the
 * lookahead): so 9 serves a negotiated 8. */
static int ws_zlib_wbits(unsigned bits)
{
    return -(int)WS_MAX(bits, 9u);
}

static uInt ws_uint_clamp(size_t n)
{
    return (uInt)WS_MIN(n, (size_t)UINT_MAX);
}

/* The 4 bytes a sender removes from the end of every message, and the receiver puts back. */
static const uint8_t ws_pmd_tail[4] = {0x00, 0x00, 0xff, 0xff};

static bool ws_step_args_ok(const uint8_t *in, size_t in_len, const uint8_t *out, size_t cap,
                            const size_t *consumed, const size_t *produced)
{
    return consumed != NULL && produced != NULL && out != NULL && cap >= WS_DEFLATE_OUT_MIN &&
           (in != NULL || in_len == 0);
}

/* ---- inflater ---------------------------------------------------------------------------- */

struct ws_inflater {
    ws_zmem mem; /* first: see ws_codec_alloc */
    z_stream zs;
    bool active;     /* zs is initialised (holds zlib state) */
    bool reset_each; /* the peer has no context takeover: reset zlib between messages */
    bool stream_end; /* the peer ended its deflate stream (BFINAL) inside this message */
    int wbits;
    size_t max;      /* inflated bytes allowed per message */
    size_t total;    /* inflated bytes of the current message */
    size_t in_total; /* compressed bytes of the current message */
    uint8_t tail_fed;
    int error;
};

int ws_inflater_new(ws_inflater **out, const ws_deflate_params *params, ws_role role,
                    size_t max_message_size, ws_realloc_fn realloc_fn, void *ud)
{
    ws_inflater *z;

    if (out == NULL)
        return WS_E_INVALID;
    *out = NULL;
    if (!ws_deflate_params_valid(params) || realloc_fn == NULL ||
        (role != WS_ROLE_SERVER && role != WS_ROLE_CLIENT))
        return WS_E_INVALID;
    z = (ws_inflater *)ws_codec_alloc(sizeof *z, realloc_fn, ud);
    if (z == NULL)
        return WS_E_NOMEM;
    z->reset_each = role == WS_ROLE_SERVER ? params->client_no_context_takeover
                                           : params->server_no_context_takeover;
    /* The full window, not the peer's: see ws.h (split invariance over hostile input). */
    z->wbits = ws_zlib_wbits(WS_DEFLATE_WBITS_MAX);
    z->max = max_message_size;
    *out = z;
    return WS_OK;
}

/* The message is complete: get ready for the next one, resetting zlib's state (kept, not
 * set up again: that costs several times more) when the peer starts each message afresh,
 * and forgetting a stream the peer ended. ws_inflater_trim releases it when idle. */
static int ws_inflater_end_message(ws_inflater *z)
{
    z->total = 0;
    z->in_total = 0;
    z->tail_fed = 0;
    if (z->active && (z->reset_each || z->stream_end))
        (void)inflateReset(&z->zs);
    z->stream_end = false;
    return WS_DEFLATE_END;
}

int ws_inflater_step(ws_inflater *z, const uint8_t *in, size_t in_len, bool last, uint8_t *out,
                     size_t cap, size_t *consumed, size_t *produced)
{
    size_t in_pos = 0, out_pos = 0, out_cap = cap;

    if (z == NULL || !ws_step_args_ok(in, in_len, out, cap, consumed, produced))
        return WS_E_INVALID;
    *consumed = *produced = 0;
    if (z->error != WS_OK)
        return z->error;
    if (!z->active && (in_len > 0 || (last && z->in_total > 0))) {
        ws_zstream_setup(&z->zs, &z->mem);
        if (inflateInit2(&z->zs, z->wbits) != Z_OK)
            return WS_E_NOMEM;
        z->active = true;
    }
    /* Room for one byte past the limit at most: enough to see it crossed. */
    if (z->max - z->total < cap)
        out_cap = z->max - z->total + 1;

    while (z->active && !z->stream_end && out_pos < out_cap) {
        const uint8_t *src;
        size_t src_len;
        uInt avail_in, avail_out;
        bool tail = false;
        int ret;

        if (in_pos < in_len) {
            src = in + in_pos;
            src_len = in_len - in_pos;
        } else if (last && z->in_total + in_len > 0 && z->tail_fed < sizeof ws_pmd_tail) {
            /* An empty compressed payload stays empty: no tail, nothing inflated. */
            src = ws_pmd_tail + z->tail_fed;
            src_len = sizeof ws_pmd_tail - z->tail_fed;
            tail = true;
        } else {
            src = NULL;
            src_len = 0;
        }
        avail_in = ws_uint_clamp(src_len);
        avail_out = ws_uint_clamp(out_cap - out_pos);
        z->zs.next_in = (Bytef *)(uintptr_t)src; /* zlib does not write through next_in */
        z->zs.avail_in = avail_in;
        z->zs.next_out = out + out_pos;
        z->zs.avail_out = avail_out;
        ret = inflate(&z->zs, Z_SYNC_FLUSH);
        if (tail)
            z->tail_fed = (uint8_t)(z->tail_fed + (avail_in - z->zs.avail_in));
        else
            in_pos += avail_in - z->zs.avail_in;
        out_pos += avail_out - z->zs.avail_out;
        z->total += avail_out - z->zs.avail_out;
        if (z->total > z->max) {
            z->error = WS_E_MESSAGE_TOO_BIG;
            break;
        }
        if (ret == Z_STREAM_END) {
            z->stream_end = true;
        } else if (ret == Z_NEED_DICT || ret == Z_DATA_ERROR || ret == Z_STREAM_ERROR) {
            z->error = WS_E_DEFLATE_DATA;
            break;
        } else if (ret == Z_MEM_ERROR) {
            z->error = WS_E_NOMEM;
            break;
        } else if (ret == Z_BUF_ERROR ||
                   (avail_in == z->zs.avail_in && avail_out == z->zs.avail_out)) {
            break; /* no progress possible: out of input */
        }
    }
    if (z->stream_end)
        in_pos = in_len; /* after the peer's final block nothing more is data */
    z->in_total += in_pos;
    *consumed = in_pos;
    if (z->error != WS_OK) {
        /* What came before the error is handed out first (bytes past the limit never
         * are); the next call reports the error, so the outcome does not depend on how
         * the input was cut. */
        if (z->error == WS_E_MESSAGE_TOO_BIG)
            out_pos -= z->total - z->max;
        *produced = out_pos;
        return out_pos > 0 ? WS_DEFLATE_MORE : z->error;
    }
    *produced = out_pos;
    if (out_pos == out_cap)
        return WS_DEFLATE_MORE;
    if (!last || in_pos < in_len)
        return WS_DEFLATE_NEED_INPUT;
    return ws_inflater_end_message(z);
}

bool ws_inflater_can_trim(const ws_inflater *z)
{
    return z != NULL && z->active && z->reset_each && z->total == 0 && z->in_total == 0 &&
           z->tail_fed == 0 && z->error == WS_OK;
}

bool ws_inflater_trim(ws_inflater *z)
{
    if (!ws_inflater_can_trim(z))
        return false;
    inflateEnd(&z->zs);
    z->active = false;
    return true;
}

size_t ws_inflater_memory(const ws_inflater *z)
{
    return z != NULL ? z->mem.live : 0;
}

void ws_inflater_free(ws_inflater *z)
{
    if (z == NULL)
        return;
    if (z->active)
        inflateEnd(&z->zs);
    z->mem.rf(z->mem.ud, z, 0);
}

/* ---- deflater ---------------------------------------------------------------------------- */

struct ws_deflater {
    ws_zmem mem; /* first: see ws_codec_alloc */
    z_stream zs;
    bool active;     /* zs is initialised */
    bool reset_each; /* no context takeover: reset zlib between messages */
    bool in_message; /* a message was started and not ended */
    int wbits;
    int level;
    int mem_level;
    uint8_t hold[4]; /* the last bytes made, kept until it is known whether they are the tail */
    size_t hold_len;
    int error;
};

int ws_deflater_new(ws_deflater **out, const ws_deflate_params *params, ws_role role,
                    const ws_deflate_config *cfg, ws_realloc_fn realloc_fn, void *ud)
{
    ws_deflate_config defaults;
    ws_deflater *z;
    bool self_is_server = role == WS_ROLE_SERVER;

    if (out == NULL)
        return WS_E_INVALID;
    *out = NULL;
    if (cfg == NULL) {
        ws_deflate_config_init(&defaults);
        cfg = &defaults;
    }
    if (!ws_deflate_params_valid(params) || !ws_deflate_config_valid(cfg) || realloc_fn == NULL ||
        (role != WS_ROLE_SERVER && role != WS_ROLE_CLIENT))
        return WS_E_INVALID;
    z = (ws_deflater *)ws_codec_alloc(sizeof *z, realloc_fn, ud);
    if (z == NULL)
        return WS_E_NOMEM;
    z->reset_each =
        self_is_server ? params->server_no_context_takeover : params->client_no_context_takeover;
    z->wbits = ws_zlib_wbits(self_is_server ? params->server_max_window_bits
                                            : params->client_max_window_bits);
    z->level = cfg->level;
    z->mem_level = cfg->mem_level;
    *out = z;
    return WS_OK;
}

/* Ends the message whose compressed bytes are out[0..n): removes the tail (an empty
 * message, which made nothing, becomes the single byte of an empty stored block) and
 * releases zlib's state when every message starts afresh. Returns the payload length, or
 * a negative code if zlib did not end with the tail. */
static int ws_deflater_end_message(ws_deflater *z, uint8_t *out, size_t n, size_t *produced)
{
    if (n == 0) {
        out[0] = 0x00;
        *produced = 1;
    } else if (n >= sizeof ws_pmd_tail &&
               memcmp(out + n - sizeof ws_pmd_tail, ws_pmd_tail, sizeof ws_pmd_tail) == 0) {
        *produced = n - sizeof ws_pmd_tail;
    } else {
        z->error = WS_E_STATE;
        return z->error;
    }
    if (z->reset_each && z->active)
        (void)deflateReset(&z->zs);
    z->in_message = false;
    return WS_DEFLATE_END;
}

int ws_deflater_step(ws_deflater *z, const uint8_t *in, size_t in_len, bool last, uint8_t *out,
                     size_t cap, size_t *consumed, size_t *produced)
{
    size_t in_pos = 0, out_pos, keep;

    if (z == NULL || !ws_step_args_ok(in, in_len, out, cap, consumed, produced))
        return WS_E_INVALID;
    *consumed = *produced = 0;
    if (z->error != WS_OK)
        return z->error;
    if (!z->active) {
        ws_zstream_setup(&z->zs, &z->mem);
        if (deflateInit2(&z->zs, z->level, Z_DEFLATED, z->wbits, z->mem_level,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            return WS_E_NOMEM;
        z->active = true;
    }
    z->in_message = true;
    memcpy(out, z->hold, z->hold_len);
    out_pos = z->hold_len;
    z->hold_len = 0;

    for (;;) {
        uInt avail_in = ws_uint_clamp(in_len - in_pos);
        uInt avail_out = ws_uint_clamp(cap - out_pos);
        int ret;

        if (avail_out == 0)
            break;
        z->zs.next_in = in != NULL ? (Bytef *)(uintptr_t)(in + in_pos) : Z_NULL;
        z->zs.avail_in = avail_in;
        z->zs.next_out = out + out_pos;
        z->zs.avail_out = avail_out;
        /* Every call flushes: a fragment's bytes go out with it. */
        ret = deflate(&z->zs, Z_SYNC_FLUSH);
        in_pos += avail_in - z->zs.avail_in;
        out_pos += avail_out - z->zs.avail_out;
        if (ret == Z_STREAM_ERROR) {
            z->error = WS_E_STATE;
            return z->error;
        }
        if (ret == Z_BUF_ERROR || (in_pos == in_len && z->zs.avail_out != 0))
            break; /* flushed everything given */
    }
    *consumed = in_pos;
    if (out_pos == cap || in_pos < in_len) {
        /* Output full: more may follow, so the last bytes may yet be the tail. */
        keep = WS_MIN(out_pos, sizeof z->hold);
        memcpy(z->hold, out + out_pos - keep, keep);
        z->hold_len = keep;
        *produced = out_pos - keep;
        return WS_DEFLATE_MORE;
    }
    if (!last) {
        keep = WS_MIN(out_pos, sizeof z->hold);
        memcpy(z->hold, out + out_pos - keep, keep);
        z->hold_len = keep;
        *produced = out_pos - keep;
        return WS_DEFLATE_NEED_INPUT;
    }
    return ws_deflater_end_message(z, out, out_pos, produced);
}

size_t ws_deflater_bound(size_t len)
{
    /* Stored blocks at worst (zlib never emits a block larger than its stored form), each
     * at least 128 bytes with a 5-byte header at the smallest mem_level, plus the flush
     * marker and the bits before it. */
    if (len > SIZE_MAX / 2)
        return SIZE_MAX;
    return len + (len + 7) / 8 + (len + 63) / 64 + 32;
}

bool ws_deflater_can_trim(const ws_deflater *z)
{
    return z != NULL && z->active && z->reset_each && !z->in_message && z->error == WS_OK;
}

bool ws_deflater_trim(ws_deflater *z)
{
    if (!ws_deflater_can_trim(z))
        return false;
    deflateEnd(&z->zs);
    z->active = false;
    return true;
}

void ws_deflater_forget(ws_deflater *z)
{
    if (z == NULL || z->in_message || !z->active)
        return;
    (void)deflateReset(&z->zs);
}

size_t ws_deflater_memory(const ws_deflater *z)
{
    return z != NULL ? z->mem.live : 0;
}

void ws_deflater_free(ws_deflater *z)
{
    if (z == NULL)
        return;
    if (z->active)
        deflateEnd(&z->zs);
    z->mem.rf(z->mem.ud, z, 0);
}
