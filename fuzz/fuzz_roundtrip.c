/*
 * Round trip: a client and a server connection talk to each other through their output
 * queues (cut into fuzzer-chosen pieces on the way). Fuzzer-chosen sends, fragments,
 * pings, pongs and closes on either side must return what the API documents (a model
 * predicts each result), and whatever was accepted must arrive at the other side
 * unchanged, in order, exactly once: messages, pings, pongs (automatic ones included) and
 * the close handshake, which must end cleanly on both sides.
 * Input: settings byte, split plan, then operations (see fz_step).
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

typedef struct fz_item {
    int kind; /* 'M' message, 'i' ping, 'o' pong, 'C' close */
    uint8_t opcode;
    bool complete;
    unsigned code;
    fz_buf data;
} fz_item;

typedef struct fz_queue {
    fz_item *items;
    size_t count, head, cap;
} fz_queue;

static size_t fz_push(fz_queue *q, int kind, unsigned opcode_or_code, const uint8_t *p, size_t n,
                      bool complete)
{
    fz_item *it;

    if (q->count == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 16;
        q->items = realloc(q->items, q->cap * sizeof *q->items);
        if (q->items == NULL)
            abort();
    }
    it = &q->items[q->count];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    it->complete = complete;
    if (kind == 'C')
        it->code = opcode_or_code;
    else
        it->opcode = (uint8_t)opcode_or_code;
    fz_buf_put(&it->data, p, n);
    return q->count++;
}

static fz_item *fz_front(fz_queue *q)
{
    return q->head < q->count ? &q->items[q->head] : NULL;
}

static void fz_queue_free(fz_queue *q)
{
    size_t i;

    for (i = 0; i < q->count; i++)
        fz_buf_free(&q->items[i].data);
    free(q->items);
}

typedef struct fz_side {
    ws_config cfg;
    ws_conn *c;
    fz_alloc alloc;
    fz_rng rng;
    fz_events ev;
    fz_output out;
    fz_queue msgs; /* what this side expects to receive, in order */
    fz_queue ctls;
    fz_buf rx;           /* streaming: the message being received */
    uint8_t send_opcode; /* the fragmented message being sent, 0 when none */
    size_t frag_item;    /* its item in the peer's queue */
    fz_buf send_text;
    bool close_sent;
    const char *protocol; /* the server's choice */
    struct fz_side *peer;
    fz_split *plan;
} fz_side;

static bool fz_same(const fz_buf *b, const void *p, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->p, p, n) == 0);
}

static void fz_receive(fz_side *r, const ws_event *ev)
{
    fz_item *it;
    ws_accept_opts opts;

    switch (ev->type) {
    case WS_EV_REQUEST:
        memset(&opts, 0, sizeof opts);
        opts.subprotocol = r->protocol;
        FZ_CHECK(ws_conn_accept(r->c, &opts) == WS_OK);
        return;
    case WS_EV_OPEN: {
        const char *want = r->cfg.role == WS_ROLE_SERVER ? r->protocol : r->peer->protocol;
        FZ_CHECK(want == NULL ? ev->subprotocol == NULL
                              : ev->subprotocol_len == strlen(want) &&
                                    memcmp(ev->subprotocol, want, strlen(want)) == 0);
        return;
    }
    case WS_EV_CHUNK:
        it = fz_front(&r->msgs);
        FZ_CHECK(it != NULL && ev->opcode == it->opcode);
        fz_buf_put(&r->rx, ev->data, ev->len);
        FZ_CHECK(r->rx.len <= it->data.len &&
                 (r->rx.len == 0 || memcmp(r->rx.p, it->data.p, r->rx.len) == 0));
        if (ev->message_final) {
            FZ_CHECK(it->complete && r->rx.len == it->data.len);
            r->msgs.head++;
            r->rx.len = 0;
        }
        return;
    case WS_EV_MESSAGE:
        it = fz_front(&r->msgs);
        FZ_CHECK(it != NULL && it->complete && ev->opcode == it->opcode);
        FZ_CHECK(fz_same(&it->data, ev->data, ev->len));
        r->msgs.head++;
        return;
    case WS_EV_PING:
    case WS_EV_PONG:
        it = fz_front(&r->ctls);
        FZ_CHECK(it != NULL && it->kind == (ev->type == WS_EV_PING ? 'i' : 'o'));
        FZ_CHECK(fz_same(&it->data, ev->data, ev->len));
        r->ctls.head++;
        /* The answer is sent (RFC 6455 §5.5.2), but after a close of our own it follows
         * that close, and the peer stops reading at the close. */
        if (ev->type == WS_EV_PING && r->cfg.auto_pong && !r->close_sent)
            (void)fz_push(&r->peer->ctls, 'o', 0, ev->data, ev->len, true);
        return;
    case WS_EV_CLOSE:
        it = fz_front(&r->ctls);
        FZ_CHECK(it != NULL && it->kind == 'C' && it->code == ev->close_code);
        FZ_CHECK(fz_same(&it->data, ev->reason, ev->reason_len));
        r->ctls.head++;
        if (!r->close_sent) { /* the echo */
            (void)fz_push(&r->peer->ctls, 'C', ev->close_code, (const uint8_t *)ev->reason,
                          ev->reason_len, true);
            r->close_sent = true;
        }
        return;
    case WS_EV_CLOSED:
        FZ_CHECK(ev->error == WS_OK);
        return;
    default: /* nothing else can happen here; fz_events_check has judged it already */
        return;
    }
}

static void fz_pump(fz_side *s)
{
    ws_event ev;
    size_t steps = 0;

    while (ws_conn_next_event(s->c, &ev) != WS_EV_NONE) {
        fz_events_check(&s->ev, s->c, &ev);
        fz_receive(s, &ev);
        FZ_CHECK(++steps < 100000);
    }
    fz_events_check(&s->ev, s->c, &ev);
}

/* Moves everything s wrote to its peer, in pieces. */
static bool fz_transfer(fz_side *s)
{
    const uint8_t *d;
    size_t n = ws_conn_output(s->c, &d), pos = 0;
    uint8_t *copy;

    FZ_CHECK(n <= fz_output_bound(&s->cfg));
    if (n == 0)
        return false;
    copy = fz_dup(d, n);
    fz_output_feed(&s->out, d, n);
    ws_conn_consume(s->c, n);
    while (pos < n) {
        /* Long transfers go in pieces 256 times larger: one run must stay fast. */
        size_t k = fz_split_next(s->plan, n - pos);
        if (n > 8192)
            k = k * 256 + 1 < n - pos ? k * 256 + 1 : n - pos;
        uint8_t *piece = fz_dup(copy + pos, k);
        int rc = ws_conn_feed(s->peer->c, piece, k);

        /* Pongs may follow a close frame; the peer that took the close ignores them. */
        FZ_CHECK(rc == WS_OK || (rc == WS_E_CLOSED && s->peer->ev.closed_seen));
        fz_pump(s->peer);
        free(piece);
        pos += k;
    }
    free(copy);
    return true;
}

/* ---- the model of the send calls ------------------------------------------------------- */

static void fz_send(fz_side *s, uint8_t opcode, const uint8_t *p, size_t n)
{
    int want = WS_OK;

    if (s->close_sent)
        want = WS_E_CLOSED;
    else if (s->send_opcode != 0)
        want = WS_E_STATE;
    else if (opcode == WS_OP_TEXT && !fz_utf8_valid(p, n))
        want = WS_E_INVALID_UTF8;
    FZ_CHECK(ws_conn_send(s->c, (ws_opcode)opcode, p, n) == want);
    if (want == WS_OK)
        (void)fz_push(&s->peer->msgs, 'M', opcode, p, n, true);
}

static void fz_send_fragment(fz_side *s, uint8_t opcode, const uint8_t *p, size_t n, bool final)
{
    uint8_t msg_op = s->send_opcode ? s->send_opcode : opcode;
    int want = WS_OK;

    if (s->close_sent) {
        want = WS_E_CLOSED;
    } else if (s->send_opcode == 0 && opcode != WS_OP_TEXT && opcode != WS_OP_BINARY) {
        want = WS_E_INVALID;
    } else if (s->send_opcode != 0 && opcode != WS_OP_CONTINUATION && opcode != s->send_opcode) {
        want = WS_E_INVALID;
    } else if (msg_op == WS_OP_TEXT) {
        fz_buf joined = {NULL, 0, 0};
        bool boundary;
        fz_buf_put(&joined, s->send_text.p, s->send_text.len);
        fz_buf_put(&joined, p, n);
        if (fz_utf8_first_bad(joined.p, joined.len, &boundary) < joined.len || (final && !boundary))
            want = WS_E_INVALID_UTF8;
        fz_buf_free(&joined);
    }
    FZ_CHECK(ws_conn_send_fragment(s->c, (ws_opcode)opcode, p, n, final) == want);
    if (want != WS_OK)
        return;
    if (s->send_opcode == 0) {
        s->frag_item = fz_push(&s->peer->msgs, 'M', msg_op, NULL, 0, false);
        s->send_text.len = 0;
    }
    fz_buf_put(&s->peer->msgs.items[s->frag_item].data, p, n);
    if (msg_op == WS_OP_TEXT)
        fz_buf_put(&s->send_text, p, n);
    if (final) {
        s->peer->msgs.items[s->frag_item].complete = true;
        s->send_opcode = 0;
        s->send_text.len = 0;
    } else {
        s->send_opcode = msg_op;
    }
}

static void fz_control(fz_side *s, bool ping, const uint8_t *p, size_t n)
{
    int want = WS_OK, rc;

    if (s->close_sent)
        want = WS_E_CLOSED;
    else if (n > WS_CONTROL_PAYLOAD_MAX)
        want = WS_E_INVALID;
    rc = ping ? ws_conn_ping(s->c, p, n) : ws_conn_pong(s->c, p, n);
    FZ_CHECK(rc == want);
    if (want == WS_OK)
        (void)fz_push(&s->peer->ctls, ping ? 'i' : 'o', 0, p, n, true);
}

static void fz_close(fz_side *s, unsigned code, const uint8_t *p, size_t n)
{
    bool bad_code, too_long, bad_text;
    int rc = ws_conn_close(s->c, code, (const char *)p, n);

    if (s->close_sent) {
        FZ_CHECK(rc == WS_E_CLOSED);
        return;
    }
    if (code == 0 || code == WS_CLOSE_NO_STATUS) {
        FZ_CHECK(rc == (n == 0 ? WS_OK : WS_E_INVALID));
    } else {
        bad_code = !fz_close_code_ok(code);
        too_long = n > WS_CLOSE_REASON_MAX;
        bad_text = !fz_utf8_valid(p, n);
        if (!bad_code && !too_long && !bad_text)
            FZ_CHECK(rc == WS_OK);
        else
            FZ_CHECK((rc == WS_E_INVALID && (bad_code || too_long)) ||
                     (rc == WS_E_INVALID_UTF8 && bad_text));
    }
    if (rc != WS_OK)
        return;
    (void)fz_push(&s->peer->ctls, 'C', code == 0 ? WS_CLOSE_NO_STATUS : code, p, n, true);
    s->close_sent = true;
}

/* One operation: a byte (bit 7: which side; bits 0-2: what; bits 3-6: details), then its
 * arguments. */
static void fz_step(fz_side *sides, fz_reader *r, size_t *big_left)
{
    static const unsigned codes[15] = {0,    1000, 1001, 1002, 1003, 1005, 1006, 1007,
                                       1011, 1015, 2999, 3000, 4999, 5000, 999};
    uint8_t op = fz_u8(r);
    fz_side *s = &sides[op >> 7];
    unsigned detail = (op >> 3) & 15u;
    const uint8_t *p;
    uint8_t *copy;
    size_t n;

    switch (op & 7u) {
    case 0: /* send: detail bit 0 picks binary */
    case 1: /* fragment: detail bits 0-1 pick the opcode, bit 2 ends the message */
    case 2: /* ping */
    case 3: /* pong */
    case 4: /* close: detail picks the code (15: two bytes from the input) */
        if ((op & 7u) == 4) {
            unsigned code = detail < 15 ? codes[detail] : fz_u16(r);
            n = fz_take(r, fz_u8(r) % 130u, &p);
            copy = fz_dup(p, n);
            fz_close(s, code, copy, n);
            free(copy);
            return;
        }
        n = fz_take(r, (op & 7u) >= 2 ? fz_u8(r) % 130u : fz_u8(r), &p);
        copy = fz_dup(p, n); /* exact size: a read past the data is caught */
        if ((op & 7u) == 0) {
            fz_send(s, (detail & 1u) ? WS_OP_BINARY : WS_OP_TEXT, copy, n);
        } else if ((op & 7u) == 1) {
            static const uint8_t ops[4] = {WS_OP_TEXT, WS_OP_BINARY, WS_OP_CONTINUATION,
                                           WS_OP_PING};
            fz_send_fragment(s, ops[detail & 3u], copy, n, (detail & 4u) != 0);
        } else {
            fz_control(s, (op & 7u) == 2, copy, n);
        }
        free(copy);
        return;
    case 5:
        (void)fz_transfer(s);
        return;
    case 6:
        (void)fz_transfer(&sides[0]);
        (void)fz_transfer(&sides[1]);
        return;
    default: /* a long binary message, so 16- and 64-bit lengths go both ways */
        n = (size_t)fz_u16(r) * 2;
        if (*big_left == 0)
            n %= 300;
        else
            (*big_left)--;
        copy = fz_block(n);
        memset(copy, (int)detail, n);
        fz_send(s, WS_OP_BINARY, copy, n);
        free(copy);
        return;
    }
}

static void fz_side_init(fz_side *s, ws_role role, bool whole, bool auto_pong, fz_split *plan)
{
    memset(s, 0, sizeof *s);
    ws_config_init(&s->cfg, role);
    s->cfg.whole_messages = whole;
    s->cfg.auto_pong = auto_pong;
    s->cfg.random = fz_random;
    s->cfg.random_ud = &s->rng;
    s->cfg.realloc = fz_realloc;
    s->cfg.realloc_ud = &s->alloc;
    s->c = ws_conn_new(&s->cfg);
    FZ_CHECK(s->c != NULL);
    fz_events_init(&s->ev, &s->cfg);
    fz_output_init(&s->out, role, true, true);
    s->plan = plan;
}

static void fz_side_free(fz_side *s)
{
    ws_conn_free(s->c);
    FZ_CHECK(s->alloc.live_bytes == 0 && s->alloc.live_blocks == 0);
    fz_events_free(&s->ev);
    fz_output_free(&s->out);
    fz_queue_free(&s->msgs);
    fz_queue_free(&s->ctls);
    fz_buf_free(&s->rx);
    fz_buf_free(&s->send_text);
}

/* After everything arrived: nothing owed, and a started close handshake is finished. */
static void fz_side_settled(fz_side *s)
{
    fz_item *it = fz_front(&s->msgs);

    FZ_CHECK(fz_front(&s->ctls) == NULL);
    if (it != NULL) { /* only a message whose sender has not finished it yet */
        FZ_CHECK(!it->complete && s->msgs.head + 1 == s->msgs.count);
        FZ_CHECK(s->rx.len == (s->cfg.whole_messages ? 0 : it->data.len));
    }
    if (s->close_sent || s->peer->close_sent)
        FZ_CHECK(s->ev.closed_seen && s->ev.closed.error == WS_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const protocols[] = {"chat", "superchat"};
    fz_side sides[2]; /* 0: client, 1: server */
    fz_reader r;
    fz_split plan;
    ws_client_opts o;
    size_t rounds = 0, ops = 0, big_left = 4;
    uint8_t cfg;

    fz_reader_init(&r, data, size);
    cfg = fz_u8(&r);
    fz_split_read(&plan, &r);
    fz_side_init(&sides[0], WS_ROLE_CLIENT, (cfg & 1u) != 0, (cfg & 8u) == 0, &plan);
    fz_side_init(&sides[1], WS_ROLE_SERVER, (cfg & 2u) != 0, (cfg & 16u) == 0, &plan);
    sides[0].peer = &sides[1];
    sides[1].peer = &sides[0];
    sides[1].protocol = (cfg & 4u) ? "superchat" : NULL;

    /* The opening handshake, through the same pipes. */
    memset(&o, 0, sizeof o);
    o.url = "ws://example.com/chat";
    o.subprotocols = protocols;
    o.subprotocol_count = 2;
    FZ_CHECK(ws_conn_connect(sides[0].c, &o) == WS_OK);
    FZ_CHECK(fz_transfer(&sides[0]) && sides[1].ev.open_seen);
    FZ_CHECK(fz_transfer(&sides[1]) && sides[0].ev.open_seen);

    while (r.n > 0 && ops++ < 2000)
        fz_step(sides, &r, &big_left);
    /* Until both queues stay empty: each answer (pong, close echo) takes one more trip. */
    for (;;) {
        bool moved = fz_transfer(&sides[0]);
        moved = fz_transfer(&sides[1]) || moved;
        if (!moved)
            break;
        FZ_CHECK(++rounds < 16);
    }
    fz_side_settled(&sides[0]);
    fz_side_settled(&sides[1]);
    fz_side_free(&sides[0]);
    fz_side_free(&sides[1]);
    return 0;
}
