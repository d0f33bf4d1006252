/*
 * The send side of a connection: the bounded output queue the host drains, and the frames
 * the host (or the protocol itself: pongs, close replies) puts into it.
 */
#include "conn.h"

int ws_buf_reserve(ws_conn *c, ws_buf *b, size_t need)
{
    size_t want, cap;
    uint8_t *p;

    if (b->cap - b->len >= need)
        return WS_OK;
    if (b->off > 0) { /* compact: what was drained makes room at the front */
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= need)
            return WS_OK;
    }
    if (need > b->max - b->len)
        return WS_E_BACKPRESSURE;
    if (!c->heap)
        return WS_E_NOMEM; /* fixed storage is sized to max; not reached */
    want = b->len + need;
    cap = b->cap < 256 ? 256 : b->cap;
    while (cap < want)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    if (cap > b->max)
        cap = b->max;
    p = c->cfg.realloc(c->cfg.realloc_ud, b->p, cap);
    if (p == NULL)
        return WS_E_NOMEM;
    b->p = p;
    b->cap = cap;
    return WS_OK;
}

int ws_conn_queue_frame(ws_conn *c, uint8_t opcode, bool fin, uint8_t rsv, const uint8_t *payload,
                        size_t len, bool control)
{
    size_t pending = c->out.len - c->out.off;
    size_t limit = c->cfg.max_output + (control ? WS_CONN_CONTROL_SLACK : 0);
    size_t frame;
    uint8_t key[4];
    uint8_t *dst;
    int hlen, rc;

    /* A frame that could never fit is a different matter from a queue that is full now. */
    if (len > limit || WS_FRAME_HEADER_MAX > limit - len)
        return WS_E_MESSAGE_TOO_BIG;
    if (pending > limit - len - WS_FRAME_HEADER_MAX)
        return WS_E_BACKPRESSURE;
    frame = WS_FRAME_HEADER_MAX + len;
    rc = ws_buf_reserve(c, &c->out, frame);
    if (rc != WS_OK)
        return rc;
    dst = c->out.p + c->out.len;
    hlen = ws_frame_encode(&c->enc, dst, opcode, fin, rsv, len, key);
    if (hlen < 0)
        return hlen;
    if (len > 0) {
        if (ws_conn_is_client(c))
            ws_mask_copy(dst + hlen, payload, len, key, 0);
        else
            memcpy(dst + hlen, payload, len);
    }
    c->out.len += (size_t)hlen + len;
    return WS_OK;
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
        (void)ws_conn_queue_frame(c, WS_OP_CLOSE, true, 0, payload, (size_t)n, true);
}

/* Whether data and control frames may be sent now. */
static int ws_conn_send_allowed(const ws_conn *c)
{
    if (ws_conn_phase_of(c) == WS_PHASE_CLOSED || c->close_sent)
        return WS_E_CLOSED;
    if (ws_conn_phase_of(c) != WS_PHASE_OPEN)
        return WS_E_STATE;
    return WS_OK;
}

int ws_conn_send(ws_conn *c, ws_opcode opcode, const void *data, size_t len)
{
    return ws_conn_send_ex(c, opcode, data, len, 0);
}

int ws_conn_send_ex(ws_conn *c, ws_opcode opcode, const void *data, size_t len, unsigned flags)
{
    int rc = ws_conn_send_allowed(c);

    if (rc != WS_OK)
        return rc;
    if ((opcode != WS_OP_TEXT && opcode != WS_OP_BINARY) || (flags & ~WS_SEND_NO_COMPRESS))
        return WS_E_INVALID;
    if (len > 0 && data == NULL)
        return WS_E_INVALID;
    if (c->send_opcode != 0)
        return WS_E_STATE;
    if (opcode == WS_OP_TEXT && c->cfg.check_outgoing_utf8 &&
        !ws_utf8_valid((const uint8_t *)data, len))
        return WS_E_INVALID_UTF8;
    if (c->pmd != NULL && ws_conn_deflate_wants(c, len, flags))
        return ws_conn_deflate_send(c, (uint8_t)opcode, (const uint8_t *)data, len, true, true);
    return ws_conn_queue_frame(c, (uint8_t)opcode, true, 0, (const uint8_t *)data, len, false);
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
        compress = c->pmd != NULL && ws_conn_deflate_wants(c, len, 0); /* the first decides */
        ws_utf8_init(&utf8);
    } else {
        if (opcode != WS_OP_CONTINUATION && opcode != c->send_opcode)
            return WS_E_INVALID;
        msg_opcode = c->send_opcode;
        frame_opcode = WS_OP_CONTINUATION;
        compress = c->pmd != NULL && ws_conn_deflate_sending(c);
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
        rc = ws_conn_queue_frame(c, frame_opcode, final, 0, (const uint8_t *)data, len, false);
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
    return ws_conn_queue_frame(c, opcode, true, 0, (const uint8_t *)data, len, false);
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
    rc = ws_conn_queue_frame(c, WS_OP_CLOSE, true, 0, payload, (size_t)n, true);
    if (rc != WS_OK)
        return rc;
    c->close_sent = true;
    c->close_sent_at = c->now;
    c->close_sent_code = (uint16_t)(n >= 2 ? code : 0);
    return WS_OK;
}

void ws_conn_answer_ping(ws_conn *c, const uint8_t *payload, size_t len)
{
    if (ws_conn_queue_frame(c, WS_OP_PONG, true, 0, payload, len, false) == WS_OK) {
        c->pong_owed = false; /* this answer supersedes any older one still owed */
        return;
    }
    c->pong_owed = true;
    c->pong_len = len;
    if (len)
        memcpy(c->pong_data, payload, len);
}

size_t ws_conn_output(const ws_conn *c, const uint8_t **data)
{
    *data = c->out.p ? c->out.p + c->out.off : NULL;
    return c->out.len - c->out.off;
}

void ws_conn_consume(ws_conn *c, size_t n)
{
    size_t pending = c->out.len - c->out.off;

    c->out.off += n < pending ? n : pending;
    if (c->out.off == c->out.len)
        c->out.off = c->out.len = 0;
    /* Room was made: the pong owed to the latest ping goes out now, unless the connection
     * has ended (no frame may follow the close that ended it). */
    if (c->pong_owed && ws_conn_phase_of(c) != WS_PHASE_CLOSED &&
        ws_conn_queue_frame(c, WS_OP_PONG, true, 0, c->pong_data, c->pong_len, false) == WS_OK)
        c->pong_owed = false;
}
