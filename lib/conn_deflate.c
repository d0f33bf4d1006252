/*
 * permessage-deflate on a connection (RFC 7692): negotiation during the opening handshake,
 * inflating received messages in bounded steps (into a scratch buffer for chunks, or into
 * the message buffer), and compressing sent messages. The codecs are deflate.c's; this file
 * only decides when to use them and where their bytes go.
 */
#include "conn.h"
#include "deflate.h"

/* Inflated bytes per WS_EV_CHUNK in streaming mode: the size of the per-connection scratch
 * buffer. */
#define WS_PMD_SCRATCH 4096u
/* Inflated bytes per step in whole-message mode: the message buffer grows by this much. */
#define WS_PMD_WHOLE_STEP 16384u
/* A send buffer larger than this is released after the message that needed it. */
#define WS_PMD_TX_KEEP 16384u
/* Wire bytes a compressed message may take per frame beyond ws_deflater_bound of its
 * inflated limit: a sender that flushes each fragment adds an empty stored block (5 bytes)
 * and the padded header of the next block; 16 covers that with room to spare. */
#define WS_PMD_FRAME_SLACK 16u

struct ws_pmd {
    ws_deflate_params params;
    ws_inflater *inf;
    ws_deflater *def;
    char ext[WS_DEFLATE_HEADER_MAX]; /* the agreed parameters, for WS_EV_OPEN */
    size_t ext_len;
    size_t min_size; /* cfg.deflate.min_size: the configuration goes with the handshake */

    /* Receive: the message being received has RSV1; the compressed bytes of its current
     * chunk that are not inflated yet (they lie in the host's buffer or the stash). */
    bool rx_compressed;
    bool rx_pending;
    bool rx_frame_end; /* the pending bytes end their frame */
    bool rx_last;      /* ... and the message */
    const uint8_t *rx_in;
    size_t rx_in_len;

    /* Send: a fragmented message being sent is compressed. */
    bool tx_compressing;
    uint8_t *tx; /* compressed payload of the frame being queued */
    size_t tx_cap;

    uint64_t last_used; /* c->now when a message last moved through a codec */
    bool stamped;       /* last_used is a time of the host\'s clock (it had started) */
    uint8_t tiny[WS_DEFLATE_OUT_MIN]; /* whole mode: the last bytes before the limit */
    size_t scratch_cap;               /* 0 in whole-message mode */
    uint8_t scratch[];                /* streaming mode: inflated chunks */
};

/* A message moved: the idle time counts from now. */
static void ws_conn_deflate_used(ws_conn *c)
{
    c->pmd->last_used = c->now;
    c->pmd->stamped = c->clock_started;
}

static bool ws_conn_deflate_usable(const ws_conn *c)
{
    return ws_deflate_available() && c->cfg.realloc != NULL;
}

void ws_conn_deflate_free(ws_conn *c)
{
    ws_pmd *m = c->pmd;

    if (m == NULL)
        return;
    ws_inflater_free(m->inf);
    ws_deflater_free(m->def);
    if (m->tx != NULL)
        c->cfg.realloc(c->cfg.realloc_ud, m->tx, 0);
    c->cfg.realloc(c->cfg.realloc_ud, m, 0);
    c->pmd = NULL;
    c->dec.allowed_rsv = 0;
}

/* Puts permessage-deflate to use with the agreed params: both codecs (zlib's state comes
 * with the first message), the scratch buffer, RSV1 allowed on received frames. */
static int ws_conn_deflate_setup(ws_conn *c, const ws_deflate_params *params)
{
    size_t scratch = c->cfg.whole_messages ? 0 : WS_PMD_SCRATCH;
    size_t max = c->cfg.max_message_size == 0 || c->cfg.max_message_size > SIZE_MAX
                     ? SIZE_MAX
                     : (size_t)c->cfg.max_message_size;
    ws_pmd *m;
    int rc;

    if (!ws_conn_deflate_usable(c))
        return WS_E_UNSUPPORTED;
    if (!ws_deflate_params_valid(params))
        return WS_E_INVALID;
    m = (ws_pmd *)c->cfg.realloc(c->cfg.realloc_ud, NULL, sizeof *m + scratch);
    if (m == NULL)
        return WS_E_NOMEM;
    memset(m, 0, sizeof *m);
    c->pmd = m;
    m->params = *params;
    m->min_size = c->hsa->cfg.deflate.min_size;
    m->scratch_cap = scratch;
    ws_conn_deflate_used(c);
    rc = ws_inflater_new(&m->inf, params, c->cfg.role, max, c->cfg.realloc, c->cfg.realloc_ud);
    if (rc == WS_OK)
        rc = ws_deflater_new(&m->def, params, c->cfg.role, &c->hsa->cfg.deflate, c->cfg.realloc,
                             c->cfg.realloc_ud);
    if (rc == WS_OK)
        rc = ws_deflate_params_write(params, m->ext, sizeof m->ext, &m->ext_len);
    if (rc != WS_OK) {
        ws_conn_deflate_free(c);
        return rc;
    }
    c->dec.allowed_rsv = WS_RSV1;
    return WS_OK;
}

bool ws_conn_deflate_params(const ws_conn *c, ws_deflate_params *out)
{
    if (c == NULL || c->pmd == NULL)
        return false;
    if (out != NULL)
        *out = c->pmd->params;
    return true;
}

int ws_conn_set_deflate(ws_conn *c, const ws_deflate_params *params)
{
    ws_rx_state fresh;

    if (c == NULL || params == NULL)
        return WS_E_INVALID;
    fresh = ws_conn_is_client(c) ? WS_RX_IDLE : WS_RX_HANDSHAKE;
    if (c->rx != fresh || c->fed || c->in_callback || c->pmd != NULL)
        return WS_E_STATE;
    return ws_conn_deflate_setup(c, params);
}

const char *ws_conn_deflate_extensions(const ws_conn *c, size_t *len)
{
    *len = c->pmd != NULL ? c->pmd->ext_len : 0;
    return c->pmd != NULL ? c->pmd->ext : NULL;
}

/* ---- negotiation ---------------------------------------------------------------------- */

int ws_conn_deflate_accept(ws_conn *c, const ws_request *r, char *answer, size_t cap)
{
    ws_deflate_params params;
    size_t len;

    if (c->pmd != NULL)
        return WS_E_STATE; /* ws_conn_set_deflate is for ws_conn_start_open */
    if (!c->hsa->cfg.deflate.enable || !ws_conn_deflate_usable(c) || r == NULL)
        return 0;
    /* An offer that cannot be accepted, or no room to set the codecs up: declined, and the
     * connection goes on without compression. */
    if (ws_deflate_server_negotiate(&c->hsa->cfg.deflate, r->headers, r->header_count, answer, cap,
                                    &len, &params) != 1)
        return 0;
    return ws_conn_deflate_setup(c, &params) == WS_OK ? 1 : 0;
}

bool ws_conn_deflate_offer(const ws_conn *c, char *offer, size_t cap)
{
    size_t len;

    return c->hsa->cfg.deflate.enable && ws_conn_deflate_usable(c) &&
           ws_deflate_client_offer(&c->hsa->cfg.deflate, offer, cap, &len) == WS_OK;
}

int ws_conn_deflate_check(ws_conn *c, const ws_response *r)
{
    ws_deflate_params params;
    int rc;

    if (!c->hsa->cfg.deflate.enable || !ws_conn_deflate_usable(c))
        return WS_OK; /* nothing offered: the handshake refused any answer */
    rc = ws_deflate_client_check(&c->hsa->cfg.deflate, r->headers, r->header_count, &params);
    if (rc < 0)
        return WS_E_HTTP_EXTENSION;
    return rc == 1 ? ws_conn_deflate_setup(c, &params) : WS_OK;
}

/* ---- receive -------------------------------------------------------------------------- */

int ws_conn_deflate_frame(ws_conn *c, const ws_frame_header *h)
{
    /* The decoder lets RSV1 through only when permessage-deflate is in use (c->pmd). */
    if (h->rsv == 0) {
        if (c->pmd != NULL && h->opcode != WS_OP_CONTINUATION && !(h->opcode & 0x8))
            c->pmd->rx_compressed = false;
        return WS_OK;
    }
    /* RFC 7692 §6.1: RSV1 marks the first frame of a compressed message, nothing else. */
    if (c->pmd == NULL || (h->opcode & 0x8) || h->opcode == WS_OP_CONTINUATION)
        return WS_E_RESERVED_BITS;
    c->pmd->rx_compressed = true;
    return WS_OK;
}

bool ws_conn_rx_compressed(const ws_conn *c)
{
    return c->pmd != NULL && c->pmd->rx_compressed;
}

bool ws_conn_inflate_pending(const ws_conn *c)
{
    return c->pmd != NULL && c->pmd->rx_pending;
}

uint64_t ws_conn_deflate_wire_limit(const ws_conn *c, uint64_t max, size_t frames)
{
    /* A compressed message may be a little longer on the wire than inflated (stored
     * blocks), and each frame of it a little more (the flush that ends it, the header of
     * the block after): its inflated size is what max_message_size bounds; the wire limit
     * only keeps a message of blocks that inflate to nothing from running on. */
    uint64_t slack = (uint64_t)frames * WS_PMD_FRAME_SLACK;

    if (!ws_conn_rx_compressed(c) || max == 0)
        return max;
    if (max >= SIZE_MAX / 2 || slack / WS_PMD_FRAME_SLACK != frames || slack > UINT64_MAX / 2)
        return UINT64_MAX;
    return (uint64_t)ws_deflater_bound((size_t)max) + slack;
}

/* Whole-message mode: inflated bytes go straight into the message buffer; the last few
 * before the limit through m->tiny, so that the inflater always has room to see the limit
 * crossed. */
static int ws_conn_inflate_whole(ws_conn *c, uint8_t **out, size_t *cap)
{
    ws_pmd *m = c->pmd;
    size_t room = c->msg.max - c->msg.len;
    int rc;

    if (room < WS_DEFLATE_OUT_MIN) {
        *out = m->tiny;
        *cap = sizeof m->tiny;
        return WS_OK;
    }
    rc = ws_buf_reserve(c, &c->msg, WS_MIN(room, (size_t)WS_PMD_WHOLE_STEP));
    if (rc != WS_OK)
        return rc;
    *out = c->msg.p + c->msg.len;
    *cap = c->msg.cap - c->msg.len;
    return WS_OK;
}

/* Whole-message mode: n more inflated bytes at out (the free end of the message buffer, or
 * m->tiny); the message ends when end is set. */
static ws_event_type ws_conn_inflated_whole(ws_conn *c, const uint8_t *out, size_t n, bool end,
                                            ws_event *ev)
{
    static const uint8_t empty[1] = {0};
    uint8_t opcode = c->msg_opcode;
    int rc;

    if (n > 0 && out == c->pmd->tiny) {
        /* Never past msg.max: the inflater stops at max_message_size, which it is. */
        rc = ws_buf_reserve(c, &c->msg, n);
        if (rc != WS_OK) {
            ws_conn_fail(c, rc == WS_E_BACKPRESSURE ? WS_E_MESSAGE_TOO_BIG : rc);
            return WS_EV_NONE;
        }
        memcpy(c->msg.p + c->msg.len, out, n);
    }
    /* msg.p is NULL until a message has a byte */
    if (opcode == WS_OP_TEXT &&
        (ws_utf8_feed(&c->utf8, n > 0 ? c->msg.p + c->msg.len : NULL, n, NULL) != WS_OK ||
         (end && ws_utf8_finish(&c->utf8) != WS_OK))) {
        ws_conn_fail(c, WS_E_INVALID_UTF8);
        return WS_EV_NONE;
    }
    c->msg.len += n;
    c->msg_copied = true;
    if (!end)
        return WS_EV_NONE;
    c->msg_opcode = 0;
    return ws_event_data(ev, WS_EV_MESSAGE, opcode, c->msg.p != NULL ? c->msg.p : empty, c->msg.len,
                         true, true);
}

/* Inflates the pending compressed bytes until an event is due or they are used up. Each
 * step does work bounded by the scratch (or whole-message step) size. */
ws_event_type ws_conn_inflate_continue(ws_conn *c, ws_event *ev)
{
    ws_pmd *m = c->pmd;

    while (m->rx_pending) {
        uint8_t *out;
        size_t cap, used = 0, made = 0;
        bool frame_done;
        ws_event_type t;
        int rc;

        if (m->scratch_cap > 0) {
            out = m->scratch;
            cap = m->scratch_cap;
        } else if ((rc = ws_conn_inflate_whole(c, &out, &cap)) != WS_OK) {
            m->rx_pending = false;
            ws_conn_fail(c, rc == WS_E_BACKPRESSURE ? WS_E_MESSAGE_TOO_BIG : rc);
            return WS_EV_NONE;
        }
        rc = ws_inflater_step(m->inf, m->rx_in, m->rx_in_len, m->rx_last, out, cap, &used, &made);
        if (rc < 0) { /* 1009 past the limit, 1007 for bad data */
            m->rx_pending = false;
            ws_conn_fail(c, rc);
            return WS_EV_NONE;
        }
        if (used > 0) { /* rx_in is NULL for an empty payload */
            m->rx_in += used;
            m->rx_in_len -= used;
        }
        /* NEED_INPUT and END: every byte of the chunk was used. */
        frame_done = rc != WS_DEFLATE_MORE;
        if (frame_done) {
            m->rx_pending = false;
            m->rx_in = NULL;
            m->rx_in_len = 0;
        }
        if (rc == WS_DEFLATE_END) {
            m->rx_compressed = false;
            ws_conn_deflate_used(c);
        }
        if (m->scratch_cap == 0)
            t = ws_conn_inflated_whole(c, out, made, rc == WS_DEFLATE_END, ev);
        else
            t = ws_conn_data_chunk(c, out, made, frame_done && m->rx_frame_end, ev);
        if (c->rx != WS_RX_FRAMES)
            m->rx_pending = false; /* the text went wrong: the connection fails */
        if (t != WS_EV_NONE)
            return t;
    }
    return WS_EV_NONE;
}

ws_event_type ws_conn_inflate_chunk(ws_conn *c, const uint8_t *p, size_t n, bool frame_end,
                                    ws_event *ev)
{
    ws_pmd *m = c->pmd;

    m->rx_in = p;
    m->rx_in_len = n;
    m->rx_frame_end = frame_end;
    m->rx_last = frame_end && c->dec.header.fin;
    m->rx_pending = true;
    return ws_conn_inflate_continue(c, ev);
}

/* ---- send ----------------------------------------------------------------------------- */

/* Room a compressed frame of a len-byte message (or fragment) may need: the bound for the
 * bytes given, the 4 bytes the deflater held back from the fragment before, the header. */
static size_t ws_conn_deflate_need(size_t len)
{
    size_t b = ws_deflater_bound(len);

    return b > SIZE_MAX - 4 - WS_FRAME_HEADER_MAX ? SIZE_MAX : b + 4 + WS_FRAME_HEADER_MAX;
}

bool ws_conn_deflate_wants(const ws_conn *c, size_t len, unsigned flags)
{
    return c->pmd != NULL && !(flags & WS_SEND_NO_COMPRESS) && len >= c->pmd->min_size &&
           ws_conn_deflate_need(len) <= c->cfg.max_output;
}

bool ws_conn_deflate_sending(const ws_conn *c)
{
    return c->pmd != NULL && c->pmd->tx_compressing;
}

/* One compressed frame in the making: what ws_conn_deflate_make compresses, and whether the
 * compressor has moved on (from then on, a frame that does not go out costs the message). */
typedef struct ws_pmd_job {
    const uint8_t *data;
    size_t len;
    bool fin, touched;
} ws_pmd_job;

/* ws_frame_make_fn: compresses the job into m->tx, once the queue has room for its bound. */
static int ws_conn_deflate_make(ws_conn *c, void *arg, const uint8_t **payload, size_t *len)
{
    ws_pmd_job *job = (ws_pmd_job *)arg;
    ws_pmd *m = c->pmd;
    size_t need = *len, in_pos = 0, out_len = 0;
    int rc;

    if (m->tx_cap < need) {
        uint8_t *p = (uint8_t *)c->cfg.realloc(c->cfg.realloc_ud, m->tx, need);
        if (p == NULL)
            return WS_E_NOMEM;
        m->tx = p;
        m->tx_cap = need;
    }
    do {
        size_t used, made;
        rc = ws_deflater_step(m->def, job->data != NULL ? job->data + in_pos : NULL,
                              job->len - in_pos, job->fin, m->tx + out_len, m->tx_cap - out_len,
                              &used, &made);
        if (rc < 0)
            return rc; /* WS_E_NOMEM: nothing consumed unless touched says so */
        job->touched = true;
        in_pos += used;
        out_len += made;
    } while (rc == WS_DEFLATE_MORE && m->tx_cap - out_len >= WS_DEFLATE_OUT_MIN);
    if (rc == WS_DEFLATE_MORE)
        return WS_E_STATE; /* the bound was wrong: never seen */
    *payload = m->tx;
    *len = out_len;
    return WS_OK;
}

int ws_conn_deflate_send(ws_conn *c, uint8_t opcode, const uint8_t *data, size_t len, bool first,
                         bool fin)
{
    ws_pmd *m = c->pmd;
    ws_pmd_job job;
    int rc;

    job.data = data;
    job.len = len;
    job.fin = fin;
    job.touched = false;
    /* The room for the frame's bound is taken before anything is compressed: once the
     * compressor has seen a message, the frame must go out, or the peer's history and ours
     * differ. So backpressure and a send too big leave the compressor untouched. */
    rc = ws_conn_queue_made(c, (uint8_t)((fin ? 0x80u : 0u) | (first ? WS_RSV1 : 0u) | opcode),
                            ws_conn_deflate_need(len) - WS_FRAME_HEADER_MAX, ws_conn_deflate_make,
                            &job);
    if (rc != WS_OK) {
        if (!job.touched)
            return rc;
        /* The compressor moved on without the peer (no random bytes for the mask, or the
         * bound was wrong). A whole message: forget its history. A fragment: the message
         * cannot be finished; the connection fails. */
        if (first && fin)
            ws_deflater_forget(m->def);
        else
            ws_conn_fail(c, rc);
        return rc;
    }
    m->tx_compressing = !fin;
    ws_conn_deflate_used(c);
    if (m->tx_cap > WS_PMD_TX_KEEP) {
        c->cfg.realloc(c->cfg.realloc_ud, m->tx, 0);
        m->tx = NULL;
        m->tx_cap = 0;
    }
    return WS_OK;
}

/* ---- idle ----------------------------------------------------------------------------- */

/* Whether a side holds zlib state that carries nothing to the next message. */
static bool ws_conn_deflate_trimmable(const ws_pmd *m)
{
    return ws_inflater_can_trim(m->inf) || ws_deflater_can_trim(m->def);
}

uint64_t ws_conn_deflate_deadline(const ws_conn *c)
{
    const ws_pmd *m = c->pmd;

    if (m == NULL || !m->stamped || !ws_conn_deflate_trimmable(m) ||
        m->last_used > UINT64_MAX - WS_DEFLATE_IDLE_MS)
        return UINT64_MAX;
    return m->last_used + WS_DEFLATE_IDLE_MS;
}

void ws_conn_deflate_tick(ws_conn *c, uint64_t now_ms)
{
    ws_pmd *m = c->pmd;

    if (m == NULL)
        return;
    if (!m->stamped) { /* messages moved before the clock started: count from now */
        m->last_used = now_ms;
        m->stamped = true;
        return;
    }
    if (now_ms < m->last_used || now_ms - m->last_used < WS_DEFLATE_IDLE_MS)
        return;
    /* Only a side that starts every message afresh has nothing worth keeping. */
    (void)ws_inflater_trim(m->inf);
    (void)ws_deflater_trim(m->def);
}
