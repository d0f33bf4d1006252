/*
 * The send side of a connection: the frames the host (or the protocol itself: pongs, close
 * replies) puts into the output queue (outq.c), copied, referenced or shared, and the calls
 * the host drains it with.
 */
#include "conn.h"
#include "prepared.h"

int ws_buf_reserve(ws_conn *c, ws_buf *b, size_t need)
{
    if (b->cap - b->len < need && b->off > 0) {
        /* compact: what was drained makes room at the front */
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->cap - b->len >= need)
        return WS_OK;
    if (need > b->max - b->len)
        return WS_E_BACKPRESSURE;
    if (ws_conn_heap_of(c) == NULL)
        return WS_E_NOMEM; /* fixed storage is sized to max; not reached */
    return WS_CONN_HEAP(c, grow)(c, b, need);
}

/* The allocator the output queue grows with. A queue in fixed storage never calls it (it
 * refuses what its one block cannot take, and a reservation there is always in that block),
 * so the connection's own is passed whatever the storage: a heap connection always has one. */
static ws_realloc_fn ws_conn_out_rf(const ws_conn *c)
{
    return c->cfg.realloc;
}

/* Whether a frame of len payload bytes can be queued: WS_E_SEND_TOO_BIG when it never could,
 * WS_E_BACKPRESSURE when it cannot now. */
static int ws_conn_out_room(const ws_conn *c, size_t len, bool control)
{
    size_t limit = c->cfg.max_output + (control ? WS_CONN_CONTROL_SLACK : 0);

    if (len > limit || WS_FRAME_HEADER_MAX > limit - len)
        return WS_E_SEND_TOO_BIG;
    if (c->out.pending > limit - len - WS_FRAME_HEADER_MAX)
        return WS_E_BACKPRESSURE;
    return WS_OK;
}

/* The header of a frame the connection sends, in shortest form, with a fresh mask key in
 * the client role (copied to key). Its callers only ever pass valid opcodes, RSV bits and
 * control lengths, so nothing is checked again here: this is the hot path of every send.
 * Returns its size, or WS_E_RANDOM. */
static int ws_conn_put_header(ws_conn *c, uint8_t *dst, uint8_t b0, size_t len, uint8_t key[4])
{
    int n = 2;

    dst[0] = b0;
    if (len < 126) {
        dst[1] = (uint8_t)len;
    } else if (len <= 0xFFFFu) {
        dst[1] = 126;
        dst[2] = (uint8_t)(len >> 8);
        dst[3] = (uint8_t)len;
        n = 4;
    } else {
        size_t v = len; /* a 32-bit size_t runs out to zero for the high bytes */
        int i;
        dst[1] = 127;
        for (i = 9; i >= 2; i--, v >>= 8)
            dst[i] = (uint8_t)v;
        n = 10;
    }
    if (ws_conn_is_client(c)) {
        if (c->enc.random == NULL || c->enc.random(c->enc.random_ud, key, 4) != 0)
            return WS_E_RANDOM;
        dst[1] |= 0x80u;
        memcpy(dst + n, key, 4);
        n += 4;
    }
    return n;
}

/* Queues one frame of first byte b0 and len payload bytes. With make, the payload is not
 * known yet: len is the most it may take, and make is called once the room is in hand
 * (nothing runs before that, so a refusal leaves everything as it was) to give the payload
 * and its real length, at most len. */
static inline int ws_conn_frame_put(ws_conn *c, uint8_t b0, const uint8_t *payload, size_t len,
                                    bool control, ws_frame_make_fn make, void *arg)
{
    uint8_t key[4];
    uint8_t *dst;
    bool fast;
    int hlen, rc = ws_conn_out_room(c, len, control);

    if (rc != WS_OK)
        return rc;
#ifdef WS_SMALL
    dst = NULL; /* ws_outq_reserve below extends the last run too, only with a commit more */
#else
    /* Most sends extend the last run in place; the rest reserve (a new record or block). */
    dst = ws_outq_tail_room(&c->out, WS_FRAME_HEADER_MAX + len, control);
#endif
    fast = dst != NULL;
    if (!fast) {
        dst = ws_outq_reserve(&c->out, ws_conn_out_rf(c), c->cfg.realloc_ud,
                              WS_FRAME_HEADER_MAX + len, false, control, &rc);
        if (dst == NULL)
            return rc;
    }
    if (make != NULL && (rc = make(c, arg, &payload, &len)) != WS_OK)
        hlen = rc;
    else
        hlen = ws_conn_put_header(c, dst, b0, len, key);
    if (hlen < 0) {
        if (!fast)
            ws_outq_cancel(&c->out, ws_conn_out_rf(c), c->cfg.realloc_ud);
        return hlen;
    }
    if (len > 0) {
        if (ws_conn_is_client(c))
            ws_mask_copy(dst + hlen, payload, len, key, 0);
        else
            memcpy(dst + hlen, payload, len);
    }
    if (fast)
        ws_outq_extend(&c->out, (size_t)hlen + len);
    else
        ws_outq_commit(&c->out, (size_t)hlen + len);
    return WS_OK;
}

/* A frame whose payload is at hand, first byte b0: the sends of this file that a firmware
 * image may link queue through it rather than through ws_conn_queue_frame, so that where the
 * frame writer stays out of line (WS_SMALL) they pass it five arguments, and the image links
 * no wrapper unless it pings (keepalive.c). */
static inline int ws_conn_put_frame(ws_conn *c, uint8_t b0, const uint8_t *payload, size_t len,
                                    bool control)
{
    return ws_conn_frame_put(c, b0, payload, len, control, NULL, NULL);
}

int ws_conn_queue_frame(ws_conn *c, uint8_t opcode, bool fin, uint8_t rsv, const uint8_t *payload,
                        size_t len, bool control)
{
    return ws_conn_frame_put(c, (uint8_t)((fin ? 0x80u : 0u) | rsv | opcode), payload, len, control,
                             NULL, NULL);
}

int ws_conn_queue_made(ws_conn *c, uint8_t b0, size_t max_len, ws_frame_make_fn make, void *arg)
{
#ifdef WS_HAVE_DEFLATE
    return ws_conn_frame_put(c, b0, NULL, max_len, false, make, arg);
#else
    /* Only compression makes a payload late, and without zlib no connection compresses
     * (c->pmd stays NULL): the plain send path keeps ws_conn_frame_put to itself. */
    (void)c;
    (void)b0;
    (void)max_len;
    (void)make;
    (void)arg;
    return WS_E_UNSUPPORTED;
#endif
}

/* Server role: queues the header of a final frame and a reference to its payload, which
 * ref->done releases once consumed. */
static int ws_conn_queue_frame_ref(ws_conn *c, uint8_t opcode, const ws_outq_ref *ref)
{
    uint8_t *dst;
    int hlen, rc = ws_conn_out_room(c, ref->len, false);

    if (rc != WS_OK)
        return rc;
    dst = ws_outq_reserve(&c->out, ws_conn_out_rf(c), c->cfg.realloc_ud, WS_FRAME_HEADER_MAX, true,
                          false, &rc);
    if (dst == NULL)
        return rc;
    hlen = ws_conn_put_header(c, dst, (uint8_t)(0x80u | opcode), ref->len, NULL);
    ws_outq_commit_ref(&c->out, (size_t)hlen, ref); /* the server role draws no key */
    return WS_OK;
}

int ws_conn_queue_answer(ws_conn *c, ws_answer_fn write, const void *arg)
{
    size_t limit = c->cfg.max_output + WS_CONN_CONTROL_SLACK;
    size_t room = limit > c->out.pending ? limit - c->out.pending : 0;
    size_t want = WS_MIN(512, room), len = 0;
    uint8_t *dst;
    int rc;

    if (room == 0)
        return WS_E_BACKPRESSURE;
    for (;;) {
        dst =
            ws_outq_reserve(&c->out, ws_conn_out_rf(c), c->cfg.realloc_ud, want, false, true, &rc);
        if (dst == NULL)
            return rc;
        rc = write(c, dst, want, &len, arg);
        if (rc == WS_OK && len > 0) {
            ws_outq_commit(&c->out, len);
            return WS_OK;
        }
        ws_outq_cancel(&c->out, ws_conn_out_rf(c), c->cfg.realloc_ud);
        if (rc != WS_E_BUFFER || want == room)
            return rc;
        want = WS_MIN(want * 4, room);
    }
}

void ws_conn_queue_close(ws_conn *c, unsigned code, const char *reason, size_t reason_len)
{
    uint8_t payload[WS_CONTROL_PAYLOAD_MAX];
    int n;

    if (c->close_sent)
        return;
    c->close_sent = true;
    c->close_sent_at = c->now;
    if (code == WS_CLOSE_NO_STATUS)
        code = 0;
    c->close_sent_code = (uint16_t)code;
    if (reason_len > WS_CLOSE_REASON_MAX)
        reason_len = WS_CLOSE_REASON_MAX;
    n = ws_close_build(payload, code, reason, reason_len);
    if (n < 0) /* a reason cut mid-character: send the code alone */
        n = ws_close_build(payload, code, NULL, 0);
    if (n >= 0)
        (void)ws_conn_put_frame(c, (uint8_t)(0x80u | WS_OP_CLOSE), payload, (size_t)n, true);
}

/* ws_conn_send_allowed and ws_conn_consume tell the phase from c->rx by comparing, which
 * needs the receive states in the order a connection goes through them: the array size
 * below turns negative, and the build stops, if they ever are not. */
#define WS_RX_IN_ORDER                                                                             \
    (WS_RX_IDLE < WS_RX_HANDSHAKE && WS_RX_HANDSHAKE < WS_RX_AWAIT_DECISION &&                     \
     WS_RX_AWAIT_DECISION < WS_RX_OPEN_EVENT && WS_RX_OPEN_EVENT < WS_RX_FRAMES &&                 \
     WS_RX_FRAMES < WS_RX_FAIL_PENDING && WS_RX_FAIL_PENDING < WS_RX_CLOSED_EVENT &&               \
     WS_RX_CLOSED_EVENT < WS_RX_DONE)
typedef char ws_conn_rx_in_order[WS_RX_IN_ORDER ? 1 : -1];

/* Whether data and control frames may be sent now: ws_conn_phase_of's phases, connecting
 * before WS_RX_OPEN_EVENT, closed from WS_RX_CLOSED_EVENT, open (closing once our close
 * went out) between. */
static int ws_conn_send_allowed(const ws_conn *c)
{
    if (c->rx >= WS_RX_CLOSED_EVENT || c->close_sent)
        return WS_E_CLOSED;
    return c->rx >= WS_RX_OPEN_EVENT ? WS_OK : WS_E_STATE;
}

/* The checks every whole-message send makes before queueing. */
static int ws_conn_send_check(const ws_conn *c, ws_opcode opcode, const void *data, size_t len)
{
    int rc = ws_conn_send_allowed(c);

    if (rc != WS_OK)
        return rc;
    if (opcode != WS_OP_TEXT && opcode != WS_OP_BINARY)
        return WS_E_INVALID;
    if (len > 0 && data == NULL)
        return WS_E_INVALID;
    if (c->send_opcode != 0)
        return WS_E_STATE;
    if (opcode == WS_OP_TEXT && c->cfg.check_outgoing_utf8 &&
        !ws_utf8_valid((const uint8_t *)data, len))
        return WS_E_INVALID_UTF8;
    return WS_OK;
}

/* ws_conn_send_ex's work, in both public calls. */
static inline int ws_conn_send_msg(ws_conn *c, ws_opcode opcode, const void *data, size_t len,
                                   unsigned flags)
{
    int rc = ws_conn_send_check(c, opcode, data, len);

    if (rc != WS_OK)
        return rc;
    if (flags & ~WS_SEND_NO_COMPRESS)
        return WS_E_INVALID;
    if (ws_conn_pmd(c) != NULL && ws_conn_deflate_wants(c, len, flags))
        return ws_conn_deflate_send(c, (uint8_t)opcode, (const uint8_t *)data, len, true, true);
    return ws_conn_put_frame(c, (uint8_t)(0x80u | opcode), (const uint8_t *)data, len, false);
}

int ws_conn_send(ws_conn *c, ws_opcode opcode, const void *data, size_t len)
{
    return ws_conn_send_msg(c, opcode, data, len, 0);
}

int ws_conn_send_ex(ws_conn *c, ws_opcode opcode, const void *data, size_t len, unsigned flags)
{
    return ws_conn_send_msg(c, opcode, data, len, flags);
}

int ws_conn_send_text(ws_conn *c, const char *text, size_t len)
{
    return ws_conn_send(c, WS_OP_TEXT, text, len);
}

int ws_conn_send_binary(ws_conn *c, const void *data, size_t len)
{
    return ws_conn_send(c, WS_OP_BINARY, data, len);
}

/* Payloads below this are copied by ws_conn_send_nocopy: a reference record costs more. */
#define WS_NOCOPY_MIN 256u

int ws_conn_send_nocopy(ws_conn *c, ws_opcode opcode, const void *data, size_t len,
                        ws_release_fn done, void *ud)
{
    ws_outq_ref ref;
    int rc = ws_conn_send_check(c, opcode, data, len);

    if (rc != WS_OK)
        return rc;
    if (ws_conn_is_client(c) || len < WS_NOCOPY_MIN) {
        rc = ws_conn_put_frame(c, (uint8_t)(0x80u | opcode), (const uint8_t *)data, len, false);
        if (rc == WS_OK && done != NULL)
            done(ud, data);
        return rc;
    }
    ref.data = (const uint8_t *)data;
    ref.len = len;
    ref.done = done;
    ref.ud = ud;
    return ws_conn_queue_frame_ref(c, (uint8_t)opcode, &ref);
}

int ws_conn_send_prepared(ws_conn *c, ws_prepared *pm)
{
    ws_outq_ref ref;
    ws_deflate_params params;
    const uint8_t *payload;
    size_t len;
    bool z;
    int rc;

    if (pm == NULL)
        return WS_E_INVALID;
    rc = ws_conn_send_allowed(c);
    if (rc != WS_OK)
        return rc;
    if (c->send_opcode != 0)
        return WS_E_STATE;
    /* The compressed form where this connection may send it, else the plain one. */
    z = c->pmd != NULL && ws_conn_deflate_params(c, &params) &&
        ws_prepared_fits(pm, &params, ws_conn_is_client(c));
    payload = ws_prepared_payload(pm, z, &len);
    if (ws_conn_is_client(c) || len < WS_NOCOPY_MIN)
        return ws_conn_queue_frame(c, ws_prepared_opcode(pm), true, z ? WS_RSV1 : 0, payload, len,
                                   false);
    /* The frame, header included, is shared: only a reference record is queued. */
    rc = ws_conn_out_room(c, len, false);
    if (rc != WS_OK)
        return rc;
    ws_prepared_wire(pm, z, &ref);
    if (ws_outq_reserve(&c->out, ws_conn_out_rf(c), c->cfg.realloc_ud, 0, true, false, &rc) == NULL)
        return rc;
    ws_prepared_hold(pm);
    ws_outq_commit_ref(&c->out, 0, &ref);
    return WS_OK;
}

int ws_conn_send_fragment(ws_conn *c, ws_opcode opcode, const void *data, size_t len, bool final)
{
    int rc = ws_conn_send_allowed(c);
    uint8_t msg_opcode, frame_opcode;
    bool compress;
    ws_utf8 utf8;

    if (rc != WS_OK)
        return rc;
    if (len > 0 && data == NULL)
        return WS_E_INVALID;
    if (c->send_opcode == 0) {
        if (opcode != WS_OP_TEXT && opcode != WS_OP_BINARY)
            return WS_E_INVALID;
        msg_opcode = (uint8_t)opcode;
        frame_opcode = (uint8_t)opcode;
        compress =
            ws_conn_pmd(c) != NULL && ws_conn_deflate_wants(c, len, 0); /* the first decides */
        ws_utf8_init(&utf8);
    } else {
        if (opcode != WS_OP_CONTINUATION && opcode != c->send_opcode)
            return WS_E_INVALID;
        msg_opcode = c->send_opcode;
        frame_opcode = WS_OP_CONTINUATION;
        compress = ws_conn_pmd(c) != NULL && ws_conn_deflate_sending(c);
        utf8 = c->send_utf8;
    }
    /* Text is checked on a copy of the state, committed only once the frame is queued. */
    if (msg_opcode == WS_OP_TEXT && c->cfg.check_outgoing_utf8) {
        if (ws_utf8_feed(&utf8, (const uint8_t *)data, len, NULL) != WS_OK ||
            (final && ws_utf8_finish(&utf8) != WS_OK))
            return WS_E_INVALID_UTF8;
    }
    if (compress)
        rc = ws_conn_deflate_send(c, frame_opcode, (const uint8_t *)data, len,
                                  frame_opcode != WS_OP_CONTINUATION, final);
    else
        rc = ws_conn_put_frame(c, (uint8_t)((final ? 0x80u : 0u) | frame_opcode),
                               (const uint8_t *)data, len, false);
    if (rc != WS_OK)
        return rc;
    c->send_utf8 = utf8;
    c->send_opcode = final ? 0 : msg_opcode;
    return WS_OK;
}

static int ws_conn_send_control(ws_conn *c, uint8_t opcode, const void *data, size_t len)
{
    int rc = ws_conn_send_allowed(c);

    if (rc != WS_OK)
        return rc;
    if (len > WS_CONTROL_PAYLOAD_MAX || (len > 0 && data == NULL))
        return WS_E_INVALID;
    return ws_conn_put_frame(c, (uint8_t)(0x80u | opcode), (const uint8_t *)data, len, false);
}

int ws_conn_ping(ws_conn *c, const void *data, size_t len)
{
    return ws_conn_send_control(c, WS_OP_PING, data, len);
}

int ws_conn_pong(ws_conn *c, const void *data, size_t len)
{
    return ws_conn_send_control(c, WS_OP_PONG, data, len);
}

int ws_conn_close(ws_conn *c, unsigned code, const char *reason, size_t reason_len)
{
    uint8_t payload[WS_CONTROL_PAYLOAD_MAX];
    int rc = ws_conn_send_allowed(c);
    int n;

    if (rc != WS_OK)
        return rc;
    n = ws_close_build(payload, code, reason, reason_len);
    if (n < 0)
        return n;
    /* An empty close (no code) leaves payload unwritten: nothing of it is passed. */
    rc = ws_conn_put_frame(c, (uint8_t)(0x80u | WS_OP_CLOSE), n > 0 ? payload : NULL, (size_t)n,
                           true);
    if (rc != WS_OK)
        return rc;
    c->close_sent = true;
    c->close_sent_at = c->now;
    c->close_sent_code = (uint16_t)(n >= 2 ? code : 0);
    return WS_OK;
}

void ws_conn_answer_ping(ws_conn *c, const uint8_t *payload, size_t len)
{
    if (ws_conn_put_frame(c, (uint8_t)(0x80u | WS_OP_PONG), payload, len, false) == WS_OK) {
        c->pong_owed = false; /* this answer supersedes any older one still owed */
        return;
    }
    if (ws_conn_ctl(c) == NULL)
        return; /* no memory to keep it in: an older pong owed still goes out */
    c->pong_owed = true;
    c->pong_len = (uint8_t)len;
    /* Never NULL, even for none; and ws_conn_consume's retry passes the very bytes kept. */
    memmove(c->ctl + WS_CTL_PONG, payload, len);
}

size_t ws_conn_output(const ws_conn *c, const uint8_t **data)
{
    return ws_outq_peek(&c->out, data);
}

size_t ws_conn_output_iov(const ws_conn *c, ws_iovec *iov, size_t max, size_t *bytes)
{
    return ws_outq_iov(&c->out, iov, max, bytes);
}

void ws_conn_consume(ws_conn *c, size_t n)
{
    ws_outq_consume(&c->out, ws_conn_out_rf(c), c->cfg.realloc_ud, n);
    /* Room was made: the pong owed to the latest ping goes out now, unless the connection
     * has ended (no frame may follow the close that ended it): the phase is closed from
     * WS_RX_CLOSED_EVENT on, the states being in order (ws_conn_rx_in_order). */
    if (c->pong_owed && c->rx < WS_RX_CLOSED_EVENT)
        ws_conn_answer_ping(c, c->ctl + WS_CTL_PONG, c->pong_len); /* owed still if no room */
}
