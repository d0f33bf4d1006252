/*
 * API sequences: fuzzer-chosen calls in any order on one connection - feed (raw bytes,
 * well-formed frames, a valid handshake), next_event, feed_eof, send, send_fragment, ping,
 * pong, close, accept, reject, resume, handoff, consume, connect, start_open, tick - with
 * optional request hooks whose verdicts the input picks. Nothing may crash or leak, and the
 * state machine must hold: results match the phase, no event after WS_EV_CLOSED, a
 * rejected request (by the host or a hook) is followed by WS_EV_CLOSED and nothing else, no
 * hook runs after a rejection or after WS_EV_REQUEST, accept works only on a request the
 * host was shown, sends after close fail with WS_E_CLOSED, a timeout ends the connection at
 * once, pending output never exceeds max_output plus the close slack, the host's buffer
 * is never touched once its events were drained (it is freed right then), the bytes
 * ws_conn_output hands out stay put and unchanged until consumed, ws_conn_output_iov agrees
 * with it, and every payload lent with ws_conn_send_nocopy or a prepared message is released
 * exactly once (each lives in its own heap block that only its release frees).
 * Input: settings (4 bytes), then operations (see fz_op).
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#ifdef FZ_TRACE /* -DFZ_TRACE: print each operation and event, to see what an input does */
#include <stdio.h>
#define FZ_LOG(...) fprintf(stderr, __VA_ARGS__)
#else
#define FZ_LOG(...) ((void)0)
#endif

typedef struct fz_api fz_api;

typedef struct fz_hook_ud {
    fz_api *a;
    int which; /* 0: origin hook, 1: auth hook */
} fz_hook_ud;

struct fz_api {
    ws_config cfg;
    ws_conn *c;
    void *storage;
    fz_alloc alloc;
    fz_rng rng;
    fz_events ev;
    fz_output out;
    bool out_ready;
    bool direct;          /* started with ws_conn_start_open: the output has no HTTP head */
    bool started;         /* connect or start_open succeeded */
    bool fed;             /* a feed or hand-off was taken */
    uint8_t *cur;         /* the host buffer the connection may still read */
    bool drained;         /* next_event returned WS_EV_NONE since the last feed */
    bool request_pending; /* WS_EV_REQUEST / WS_EV_HTTP_REQUEST shown, not yet answered */
    bool awaiting;        /* a request head was read: the server waits for a decision */
    bool plain;           /* ... and it was a plain HTTP request */
    int expect;           /* 'O': WS_EV_OPEN next; 'Z': WS_EV_CLOSED (rejected); 'T': (timed out) */
    int reject_status;
    int reject_error; /* the error WS_EV_CLOSED must carry after a rejection */
    bool close_called;
    /* Request hooks. */
    fz_hook_ud hud[2];
    int verdict[2];
    size_t hook_calls[2];
    bool hook_pending;
    bool hook_rejected;
    /* Time. */
    uint64_t now;
    ws_keepalive_hooks keepalive;
    unsigned keepalive_flags; /* want_ping, long ping payload, is_activity */
    unsigned reentry;         /* the public call every hook makes from inside (0: none) */
    /* The first run of output as last seen: it must not move or change until consumed. */
    const uint8_t *snap_p;
    size_t snap_len;
    uint8_t snap[64];
    ws_prepared *pm; /* a prepared message kept across operations, or NULL */
};

static const char fz_request[] = "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\n"
                                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                 "Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n"
                                 "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n";
static const char fz_response[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Accept: " FZ_ACCEPT "\r\n\r\n";
/* Verdicts a hook or a resume may give: good ones (statuses, policy codes), and nonsense
 * the library must refuse with 500. */
static const int fz_verdicts[8] = {WS_HOOK_ALLOW, WS_HOOK_PENDING,   WS_E_ORIGIN, 401, 42,
                                   599,           WS_E_AUTH_EXPIRED, WS_E_EOF};

static bool fz_is_policy_code(int verdict)
{
    return verdict == WS_E_AUTH_EXPIRED || verdict == WS_E_ORIGIN;
}

static int fz_status_of(int verdict)
{
    if (fz_is_policy_code(verdict))
        return ws_error_http_status(verdict);
    return verdict >= 400 && verdict <= 599 ? verdict : 500;
}

static void fz_bound(fz_api *a)
{
    ws_iovec iov[256];
    const uint8_t *d;
    size_t bytes, first = ws_conn_output(a->c, &d);
    size_t runs = ws_conn_output_iov(a->c, iov, 256, &bytes);

    /* The runs, counted (all of them unless 256 were filled): the queue stays bounded. */
    FZ_CHECK(runs <= 256 && (runs == 0) == (first == 0));
    if (runs > 0)
        FZ_CHECK(iov[0].base == d && iov[0].len == first);
    FZ_CHECK(bytes <= fz_output_bound(&a->cfg));
    if (a->storage == NULL)
        FZ_CHECK(a->alloc.live_bytes <= fz_heap_bound(&a->cfg));
    /* What was handed out is still there, unchanged, whatever happened since. */
    if (a->snap_p != NULL) {
        FZ_CHECK(d == a->snap_p && first >= a->snap_len);
        FZ_CHECK(memcmp(d, a->snap, a->snap_len) == 0);
    } else if (first > 0) {
        a->snap_p = d;
        a->snap_len = first < sizeof a->snap ? first : sizeof a->snap;
        memcpy(a->snap, d, a->snap_len);
    }
}

static void fz_release_input(fz_api *a)
{
    free(a->cur);
    a->cur = NULL;
}

static void fz_consume(fz_api *a, size_t n)
{
    const uint8_t *d;

    if (ws_conn_output(a->c, &d) == 0)
        return;
    a->snap_p = NULL;    /* consumed: the next run may be anywhere */
    if (!a->out_ready) { /* the first byte written tells whether a head comes first */
        fz_output_init(&a->out, a->cfg.role, !a->direct, a->cfg.check_outgoing_utf8);
        a->out_ready = true;
    }
    (void)fz_drain(a->c, n, &a->out, NULL);
}

/* A hook's (or a resume's) verdict, as the connection must act on it. */
static void fz_verdict(fz_api *a, int v)
{
    if (v == WS_HOOK_ALLOW)
        return;
    if (v == WS_HOOK_PENDING) {
        a->hook_pending = true;
        return;
    }
    a->hook_rejected = true;
    a->expect = 'Z';
    a->reject_status = fz_status_of(v);
    a->reject_error = fz_is_policy_code(v) ? v : WS_E_HTTP_REJECTED;
}

/* A call from inside a callback: ws.h says each is either defined or refused with nothing
 * changed. The refused ones are checked here for every hook; a request hook's ws_conn_reject,
 * which decides, is modelled by the hook (fz_hook). */
static void fz_reentry(fz_api *a, ws_conn *c, bool request_hook)
{
    uint8_t byte = 0;
    ws_event ev;
    int rc;

    switch (a->reentry) {
    case 1:
        FZ_CHECK(ws_conn_accept(c, NULL) == WS_E_STATE);
        break;
    case 2:
        FZ_CHECK(ws_conn_respond(c, 200, NULL, 0, NULL, 0) == WS_E_STATE);
        break;
    case 3:
        FZ_CHECK(ws_conn_resume(c, WS_HOOK_ALLOW) == WS_E_STATE);
        break;
    case 4:
        rc = ws_conn_feed(c, &byte, 1);
        FZ_CHECK(rc == WS_E_STATE || rc == WS_E_CLOSED);
        break;
    case 5:
        FZ_CHECK(ws_conn_next_event(c, &ev) == WS_EV_NONE && ev.type == WS_EV_NONE);
        break;
    case 6:
        FZ_CHECK(ws_conn_handoff(c, "GET", 3, "/", 1, 1, NULL, 0, NULL, 0) == WS_E_STATE);
        break;
    case 7:
        FZ_CHECK(ws_conn_start_open(c, NULL) == WS_E_STATE);
        break;
    case 8:
        FZ_CHECK(ws_conn_connect(c, NULL) == WS_E_STATE);
        break;
    case 9:
        ws_conn_tick(c, a->now); /* deadlines never act from inside a callback */
        break;
    case 10:
        if (request_hook) { /* not open yet: nothing can be sent */
            FZ_CHECK(ws_conn_close(c, 1000, NULL, 0) == WS_E_STATE);
            FZ_CHECK(ws_conn_send(c, WS_OP_TEXT, "x", 1) == WS_E_STATE);
            FZ_CHECK(ws_conn_ping(c, "x", 1) == WS_E_STATE);
        }
        break;
    case 11:
        if (!request_hook) /* an open connection has no request to refuse */
            FZ_CHECK(ws_conn_reject(c, 403, NULL, 0, NULL, 0) == WS_E_STATE);
        break;
    default:
        break;
    }
}

static int fz_hook(void *ud, ws_conn *c, const ws_request *r)
{
    fz_hook_ud *h = (fz_hook_ud *)ud;
    fz_api *a = h->a;
    int v = a->verdict[h->which];

    FZ_CHECK(c == a->c && r != NULL && r == ws_conn_request(c));
    FZ_CHECK(r->method_len == 3 && r->key_len == 24); /* only valid upgrades are judged */
    FZ_CHECK(!a->hook_rejected);   /* no hook runs once the request was rejected */
    FZ_CHECK(!a->hook_pending);    /* nor while an earlier one is undecided */
    FZ_CHECK(!a->ev.request_seen); /* hooks come before WS_EV_REQUEST */
    FZ_CHECK(++a->hook_calls[h->which] == 1);
    a->awaiting = true;
    if (h->which == 1 && a->cfg.origin_hook.fn != NULL)
        FZ_CHECK(a->hook_calls[0] == 1); /* the origin hook runs first */
    fz_reentry(a, c, true);
    if (a->reentry == 11) {
        /* The hook refuses by itself: that decides, whatever it returns next. Without room
         * for the answer nothing changed and its own verdict stands. */
        int rc = ws_conn_reject(c, 403, NULL, 0, NULL, 0);
        FZ_CHECK(rc == WS_OK || rc == WS_E_BACKPRESSURE || rc == WS_E_NOMEM);
        if (rc == WS_OK) {
            fz_verdict(a, 403);
            return WS_HOOK_ALLOW; /* ignored */
        }
    }
    fz_verdict(a, v);
    return v;
}

static void fz_feed(fz_api *a, const uint8_t *p, size_t n)
{
    uint8_t *piece = fz_dup(p, n);
    int rc = ws_conn_feed(a->c, piece, n);
    /* Waiting for a decision, bytes are copied aside, which may not fit. */
    bool waiting = a->awaiting || a->hook_rejected;

    if (a->ev.closed_seen || (a->expect == 'Z' && !a->hook_rejected) || a->expect == 'T') {
        FZ_CHECK(rc == WS_E_CLOSED);
    } else if (a->cfg.role == WS_ROLE_CLIENT && !a->started) {
        FZ_CHECK(rc == WS_E_STATE); /* nothing to answer yet: refused, not dropped */
    } else if (a->drained) {
        FZ_CHECK(rc == WS_OK || rc == WS_E_CLOSED ||
                 (waiting && (rc == WS_E_HTTP_HEADERS_TOO_LARGE || rc == WS_E_NOMEM)));
    } else {
        FZ_CHECK(rc == WS_OK || rc == WS_E_STATE || rc == WS_E_CLOSED ||
                 (waiting && (rc == WS_E_HTTP_HEADERS_TOO_LARGE || rc == WS_E_NOMEM)));
    }
    if (rc != WS_OK) {
        free(piece);
        return;
    }
    fz_release_input(a); /* the connection now reads piece, not the old buffer */
    a->cur = piece;
    a->fed = true;
    a->drained = false;
}

static bool fz_is_timeout(int err)
{
    return err == WS_E_HANDSHAKE_TIMEOUT || err == WS_E_PONG_TIMEOUT || err == WS_E_IDLE_TIMEOUT ||
           err == WS_E_CLOSE_TIMEOUT;
}

static void fz_next(fz_api *a)
{
    ws_event ev;
    ws_event_type t = ws_conn_next_event(a->c, &ev);

    FZ_CHECK(t == ev.type);
    FZ_LOG("  event %d error %d status %d len %zu\n", (int)t, ev.error, ev.http_status, ev.len);
    fz_events_check(&a->ev, a->c, &ev);
    if (a->expect == 'O') {
        FZ_CHECK(t == WS_EV_OPEN);
        a->expect = 0;
    } else if (a->expect == 'T') {
        FZ_CHECK(t == WS_EV_CLOSED && fz_is_timeout(ev.error)); /* at once */
        a->expect = 0;
    } else if (a->expect == 'Z') {
        /* Nothing of a rejected request reaches the host, and WS_EV_CLOSED follows at once
         * (ws.h, request hooks), even when the answer could not be queued. */
        FZ_CHECK(t == WS_EV_CLOSED);
        if (ev.error == (a->plain ? WS_OK : a->reject_error))
            FZ_CHECK(ev.http_status == a->reject_status);
        else
            FZ_CHECK(a->hook_rejected && ev.error == WS_E_NOMEM); /* no answer was possible */
        a->expect = 0;
    }
    if (a->hook_rejected || a->hook_pending)
        FZ_CHECK(t == WS_EV_NONE || t == WS_EV_CLOSED);
    if (t == WS_EV_REQUEST || t == WS_EV_HTTP_REQUEST) {
        a->request_pending = true;
        a->awaiting = true;
        a->plain = t == WS_EV_HTTP_REQUEST;
    }
    if (t == WS_EV_CLOSED) {
        a->request_pending = false;
        a->hook_pending = false;
        a->awaiting = false;
    }
    if (t == WS_EV_NONE) {
        a->drained = true;
        fz_release_input(a);
    }
    fz_bound(a);
}

/* The result of a send-type call against the phase the connection was in. */
static void fz_check_send_rc(fz_api *a, ws_phase before, int rc)
{
    if (a->ev.closed_seen || a->close_called || before == WS_PHASE_CLOSED ||
        before == WS_PHASE_CLOSING) {
        FZ_CHECK(rc == WS_E_CLOSED);
    } else if (before == WS_PHASE_CONNECTING) {
        FZ_CHECK(rc == WS_E_STATE);
    } else {
        FZ_CHECK(rc == WS_OK || rc == WS_E_BACKPRESSURE || rc == WS_E_STATE || rc == WS_E_INVALID ||
                 rc == WS_E_INVALID_UTF8 || rc == WS_E_NOMEM || rc == WS_E_SEND_TOO_BIG);
    }
}

static void fz_feed_frame(fz_api *a, fz_reader *r, unsigned detail)
{
    uint8_t frame[WS_FRAME_HEADER_MAX + 255], key[4];
    const uint8_t *p;
    uint8_t b0 = fz_u8(r);
    size_t n = fz_take(r, fz_u8(r), &p), h = 2, i;
    /* Masked toward a server; detail bit 0 gets it wrong on purpose. */
    bool masked = (a->cfg.role == WS_ROLE_SERVER) != ((detail & 1u) != 0);

    for (i = 0; i < 4; i++)
        key[i] = (uint8_t)(0x5A + 17 * i);
    frame[0] = b0;
    if (n < 126) {
        frame[1] = (uint8_t)n;
    } else {
        frame[1] = 126;
        frame[2] = 0;
        frame[3] = (uint8_t)n;
        h = 4;
    }
    if (masked) {
        frame[1] |= 0x80;
        memcpy(frame + h, key, 4);
        h += 4;
    }
    for (i = 0; i < n; i++)
        frame[h + i] = (uint8_t)(p[i] ^ (masked ? key[i % 4] : 0));
    fz_feed(a, frame, h + n);
}

/* A lent payload's release: the block it lives in goes with it (a second release, or none,
 * is caught by the sanitizers and the leak check). */
static void fz_lent_done(void *ud, const void *data)
{
    FZ_CHECK(ud == data);
    free(ud);
}

/* The other sends of a whole message: the text and binary helpers, a send without a copy,
 * a prepared message (new, compressed or not, kept, or dropped). Takes copy. */
static void fz_send_other(fz_api *a, fz_reader *r, uint8_t o, uint8_t *copy, size_t n,
                          ws_phase before)
{
    unsigned how = fz_u8(r);
    int rc = WS_OK;

    switch (how & 3u) {
    case 0:
        rc = (how & 4u) ? ws_conn_send_text(a->c, (const char *)copy, n)
                        : ws_conn_send_binary(a->c, copy, n);
        free(copy);
        break;
    case 1:
        rc = ws_conn_send_nocopy(a->c, (ws_opcode)o, copy, n, fz_lent_done, copy);
        if (rc != WS_OK)
            free(copy); /* refused: nothing was lent */
        break;
    default:
        if (a->pm == NULL || (how & 3u) == 2) {
            ws_prepared_free(a->pm);
            a->pm = NULL;
            rc = ws_prepared_new(&a->pm, (ws_opcode)o, copy, n, NULL, NULL);
            FZ_CHECK(rc == WS_OK || rc == WS_E_INVALID || rc == WS_E_INVALID_UTF8);
            FZ_CHECK((rc == WS_OK) == (a->pm != NULL));
            if (a->pm != NULL && (how & 8u)) { /* with a compressed form, window 8..15 */
                rc = ws_prepared_compress(a->pm, 8u + ((how >> 4) & 7u), 6);
                FZ_CHECK(rc == (ws_deflate_available() ? WS_OK : WS_E_UNSUPPORTED) ||
                         rc == WS_E_NOMEM);
                if (rc == WS_OK)
                    FZ_CHECK(ws_prepared_compress(a->pm, 15, 6) == WS_E_STATE);
            }
        }
        free(copy);
        if (a->pm != NULL) {
            rc = ws_conn_send_prepared(a->c, a->pm);
            fz_check_send_rc(a, before, rc);
        }
        if (how & 4u) {
            ws_prepared_free(a->pm);
            a->pm = NULL;
        }
        return;
    }
    fz_check_send_rc(a, before, rc);
}

static void fz_send_op(fz_api *a, fz_reader *r, unsigned op, unsigned detail, ws_phase before)
{
    static const uint8_t opcodes[8] = {WS_OP_TEXT, WS_OP_BINARY, WS_OP_CONTINUATION,
                                       WS_OP_PING, WS_OP_CLOSE,  3,
                                       WS_OP_TEXT, WS_OP_BINARY};
    static const unsigned codes[16] = {0,    1000, 1001, 1002, 1003, 1005, 1006, 1007,
                                       1011, 1015, 2999, 3000, 4999, 5000, 999,  65535};
    const uint8_t *p;
    uint8_t *copy;
    size_t n = fz_take(r, op == 5 || op == 6 ? fz_u8(r) : fz_u8(r) % 130u, &p);
    uint8_t o = opcodes[detail & 7u];
    int rc;

    copy = fz_dup(p, n); /* exact size: a read past the data is caught */
    if (op == 5 && (detail & 8u)) {
        fz_send_other(a, r, o, copy, n, before); /* takes copy */
        return;
    }
    if (op == 5)
        rc = ws_conn_send(a->c, (ws_opcode)o, copy, n);
    else if (op == 6)
        rc = ws_conn_send_fragment(a->c, (ws_opcode)o, copy, n, (detail & 8u) != 0);
    else if (op == 7)
        rc = (detail & 1u) ? ws_conn_pong(a->c, copy, n) : ws_conn_ping(a->c, copy, n);
    else
        rc = ws_conn_close(a->c, codes[detail], (const char *)copy, n);
    fz_check_send_rc(a, before, rc);
    if (rc == WS_OK) {
        if (op == 5 || op == 6)
            FZ_CHECK(o == WS_OP_TEXT || o == WS_OP_BINARY || o == WS_OP_CONTINUATION);
        if (op == 5 && o == WS_OP_TEXT && a->cfg.check_outgoing_utf8)
            FZ_CHECK(fz_utf8_valid(copy, n));
        if (op >= 7)
            FZ_CHECK(n <= WS_CONTROL_PAYLOAD_MAX);
        if (op == 8) {
            FZ_CHECK(codes[detail] == 0 || codes[detail] == WS_CLOSE_NO_STATUS ||
                     fz_close_code_ok(codes[detail]));
            FZ_CHECK(ws_conn_phase(a->c) == WS_PHASE_CLOSING);
            a->close_called = true;
        }
    }
    free(copy);
}

static void fz_accept(fz_api *a, unsigned detail)
{
    static const char *const choice[4] = {NULL, "chat", "superchat", "nope"};
    ws_accept_opts o;
    int rc;

    memset(&o, 0, sizeof o);
    o.subprotocol = choice[detail & 3u];
    o.extensions = (detail & 4u) ? "permessage-deflate" : NULL;
    rc = ws_conn_accept(a->c, &o);
    /* Only a request the host was shown, and never a plain HTTP one. */
    if (!a->request_pending || a->plain)
        FZ_CHECK(rc == WS_E_STATE);
    FZ_CHECK(rc == WS_OK || rc == WS_E_STATE || rc == WS_E_HTTP_EXTENSION ||
             rc == WS_E_HTTP_SUBPROTOCOL || rc == WS_E_BACKPRESSURE || rc == WS_E_NOMEM);
    if (rc == WS_OK) {
        FZ_CHECK(ws_conn_phase(a->c) == WS_PHASE_OPEN);
        a->request_pending = false;
        a->awaiting = false;
        a->expect = 'O';
    }
}

static void fz_reject(fz_api *a, fz_reader *r)
{
    int status = (int)(fz_u16(r) % 700u), rc;
    const uint8_t *p;
    size_t n = fz_take(r, fz_u8(r) % 16u, &p);
    uint8_t *copy = fz_dup(p, n);

    rc = ws_conn_reject(a->c, status, NULL, 0, (const char *)copy, n);
    free(copy);
    /* Only while the server waits for a decision: after WS_EV_REQUEST, or once the host's
     * own hooks or hand-off have seen the request. */
    if (!a->awaiting)
        FZ_CHECK(rc == WS_E_STATE);
    FZ_CHECK(rc == WS_OK || rc == WS_E_STATE || rc == WS_E_INVALID || rc == WS_E_BACKPRESSURE ||
             rc == WS_E_NOMEM);
    if (rc == WS_OK) {
        FZ_CHECK(status >= 200 && status <= 599); /* the range ws.h allows */
        FZ_CHECK(ws_conn_phase(a->c) == WS_PHASE_CLOSED);
        a->request_pending = false;
        a->hook_pending = false;
        a->awaiting = false;
        a->expect = 'Z';
        a->reject_status = status;
        a->reject_error = WS_E_HTTP_REJECTED;
        fz_release_input(a); /* nothing after a rejected request is ever parsed */
        a->drained = true;
    }
}

static void fz_start(fz_api *a, unsigned detail, ws_phase before)
{
    static const char *const protocols[] = {"chat", "superchat"};
    int rc;

    if (detail & 1u) {
        rc = ws_conn_start_open(a->c, (detail & 2u) ? "chat" : NULL);
        FZ_CHECK(rc == WS_OK || rc == WS_E_STATE);
        FZ_CHECK((rc == WS_OK) ==
                 (!a->started && !a->fed && !a->ev.closed_seen && before == WS_PHASE_CONNECTING));
        if (rc == WS_OK) {
            a->started = true;
            if (!a->out_ready)
                a->direct = true;
        }
    } else {
        ws_client_opts o;
        memset(&o, 0, sizeof o);
        o.url = (detail & 2u) ? "wss://example.com:8443/chat?a=b" : "ws://example.com/";
        o.subprotocols = protocols;
        o.subprotocol_count = (detail >> 2) & 3u;
        if (o.subprotocol_count > 2)
            o.subprotocol_count = 2;
        rc = ws_conn_connect(a->c, &o);
        if (a->cfg.role == WS_ROLE_SERVER || a->started)
            FZ_CHECK(rc == WS_E_STATE);
        FZ_CHECK(rc == WS_OK || rc == WS_E_STATE || rc == WS_E_NOMEM);
        if (rc == WS_OK)
            a->started = true;
    }
}

static void fz_tick(fz_api *a, fz_reader *r, unsigned detail)
{
    uint64_t delta = fz_u16(r), next;
    ws_phase before = ws_conn_phase(a->c);

    if (detail & 8u)
        delta *= 1000;
    a->now += delta;
    ws_conn_tick(a->c, a->now);
    FZ_CHECK(ws_conn_now(a->c) == a->now);
    next = ws_conn_next_deadline(a->c);
    FZ_CHECK(next == UINT64_MAX || next > a->now); /* nothing overdue right after a tick */
    FZ_CHECK(ws_conn_rtt(a->c) >= -1);
    if (before != WS_PHASE_CLOSED && ws_conn_phase(a->c) == WS_PHASE_CLOSED) {
        a->expect = 'T';
        a->request_pending = false;
        a->hook_pending = false;
        a->awaiting = false;
    }
}

static void fz_resume(fz_api *a, unsigned detail)
{
    int v = fz_verdicts[detail & 7u], rc;
    bool was = a->hook_pending;

    a->hook_pending = false; /* a hook run by the resume may wait again */
    rc = ws_conn_resume(a->c, v);
    if (!was)
        FZ_CHECK(rc == WS_E_STATE);
    FZ_CHECK(rc == WS_OK || rc == WS_E_STATE);
    if (rc != WS_OK) {
        a->hook_pending = false;
        return;
    }
    fz_verdict(a, v == WS_HOOK_PENDING ? 500 : v);
}

static void fz_handoff(fz_api *a, fz_reader *r, unsigned detail)
{
    static const ws_header headers[] = {
        {"Host", 4, "example.com", 11},
        {"Upgrade", 7, "websocket", 9},
        {"Connection", 10, "Upgrade", 7},
        {"Sec-WebSocket-Key", 17, "dGhlIHNhbXBsZSBub25jZQ==", 24},
        {"Sec-WebSocket-Version", 21, "13", 2},
        {"Sec-WebSocket-Protocol", 22, "chat", 4},
        {"Origin", 6, "http://example.com", 18},
    };
    const uint8_t *p;
    size_t n = fz_take(r, fz_u8(r), &p), count = 7 - (detail & 3u);
    uint8_t *rest = fz_dup(p, n);
    bool fresh = a->cfg.role == WS_ROLE_SERVER && !a->fed && !a->started &&
                 ws_conn_phase(a->c) == WS_PHASE_CONNECTING;
    int rc = ws_conn_handoff(a->c, "GET", 3, "/chat", 5, 1, headers, count, rest, n);

    free(rest); /* the connection must have copied what it keeps */
    if (!fresh)
        FZ_CHECK(rc == WS_E_STATE);
    FZ_CHECK(rc == WS_OK || rc == WS_E_STATE || rc == WS_E_NOMEM);
    if (rc == WS_OK) {
        a->fed = true;
        a->awaiting = true;
        a->drained = false;
    }
}

/* One operation: a byte (low 4 bits: what; high 4 bits: detail), then its arguments. */
static void fz_op(fz_api *a, fz_reader *r)
{
    uint8_t op = fz_u8(r);
    unsigned what = op & 15u, detail = op >> 4;
    ws_phase before = ws_conn_phase(a->c);
    const uint8_t *p;
    size_t n, steps = 0;

    FZ_LOG("op %u detail %u (phase %d)\n", what, detail, (int)before);
    switch (what) {
    case 0: /* raw bytes; detail bit 0: a 2-byte length */
        n = fz_take(r, (detail & 1u) ? fz_u16(r) : fz_u8(r), &p);
        fz_feed(a, p, n);
        break;
    case 1:
        fz_feed_frame(a, r, detail);
        break;
    case 2:
        if (a->cfg.role == WS_ROLE_SERVER)
            fz_feed(a, (const uint8_t *)fz_request, sizeof fz_request - 1);
        else
            fz_feed(a, (const uint8_t *)fz_response, sizeof fz_response - 1);
        break;
    case 3:
        fz_next(a);
        break;
    case 4:
        do {
            fz_next(a);
            FZ_CHECK(++steps < 100000);
        } while (!a->drained);
        break;
    case 5: /* send */
    case 6: /* send_fragment */
    case 7: /* ping, pong */
    case 8: /* close */
        fz_send_op(a, r, what, detail, before);
        break;
    case 9:
        ws_conn_feed_eof(a->c);
        break;
    case 10:
        fz_accept(a, detail);
        break;
    case 11:
        fz_reject(a, r);
        break;
    case 12:
        fz_consume(a, fz_u16(r));
        break;
    case 13:
        fz_start(a, detail, before);
        break;
    case 14:
        fz_tick(a, r, detail);
        break;
    default:
        if (detail < 8) {
            fz_resume(a, detail);
        } else if (detail < 12) {
            fz_handoff(a, r, detail);
        } else {
            const uint8_t *d;
            size_t pending = ws_conn_output(a->c, &d);
            FZ_CHECK(pending == 0 || d != NULL);
            ws_conn_set_user(a->c, a);
            FZ_CHECK(ws_conn_user(a->c) == a);
            if (a->cfg.role == WS_ROLE_CLIENT)
                FZ_CHECK(ws_conn_request(a->c) == NULL);
        }
        break;
    }
    fz_bound(a);
}

/* The keepalive hooks, answering as the settings say. */
static bool fz_want_ping(void *ud, ws_conn *c, uint64_t now)
{
    fz_api *a = (fz_api *)ud;

    FZ_CHECK(c == a->c && now == a->now);
    fz_reentry(a, c, false);
    return (a->keepalive_flags & 1u) != 0;
}

static size_t fz_ping_payload(void *ud, ws_conn *c, uint64_t now, uint8_t buf[125])
{
    fz_api *a = (fz_api *)ud;

    FZ_CHECK(c == a->c && now == a->now);
    fz_reentry(a, c, false);
    memset(buf, 'k', 125);
    return (a->keepalive_flags & 2u) ? 200 : 3; /* 200: more than fits, to be cut to 125 */
}

static bool fz_is_activity(void *ud, ws_conn *c, const ws_event *ev)
{
    fz_api *a = (fz_api *)ud;

    FZ_CHECK(c == a->c && ev != NULL && ev->type != WS_EV_NONE);
    fz_reentry(a, c, false);
    return (a->keepalive_flags & 4u) != 0;
}

/* Settings (c4: the call hooks make from inside, fz_reentry): c0 role, whole_messages, heap,
 * check_outgoing_utf8 off, auto_pong off, output limit (2 bits), small limits; c1 allocator
 * failure; c2 origin hook, auth hook, plain HTTP requests, short timeouts, allocator fails once
 * only, a 512-byte head limit, keepalive hooks, is_activity's answer; c3 the request hooks'
 * verdicts (3 bits each), want_ping's answer, a ping payload too long to fit. */
static bool fz_api_create(fz_api *a, uint8_t c0, uint8_t c1, uint8_t c2, uint8_t c3, uint8_t c4)
{
    static const size_t outputs[4] = {65536, 256, 600, 4096};

    ws_config_init(&a->cfg, (c0 & 1u) ? WS_ROLE_CLIENT : WS_ROLE_SERVER);
    a->cfg.whole_messages = (c0 & 2u) != 0;
    a->cfg.check_outgoing_utf8 = (c0 & 8u) == 0;
    a->cfg.auto_pong = (c0 & 16u) == 0;
    /* Small limits keep each run cheap (see fuzz_conn.c). */
    a->cfg.max_output = outputs[(c0 >> 5) & 3u];
    a->cfg.max_message_size = 65536;
    if (c0 & 128u) {
        a->cfg.max_frame_size = 200;
        a->cfg.max_message_size = 500;
        a->cfg.max_fragments = 4;
    }
    a->cfg.random = fz_random;
    a->cfg.random_ud = &a->rng;
    a->hud[0].a = a->hud[1].a = a;
    a->hud[1].which = 1;
    a->verdict[0] = fz_verdicts[c3 & 7u];
    a->verdict[1] = fz_verdicts[(c3 >> 3) & 7u];
    a->reentry = c4 & 15u;
    if (c2 & 1u) {
        a->cfg.origin_hook.fn = fz_hook;
        a->cfg.origin_hook.ud = &a->hud[0];
    }
    if (c2 & 2u) {
        a->cfg.auth_hook.fn = fz_hook;
        a->cfg.auth_hook.ud = &a->hud[1];
    }
    a->cfg.http_requests = (c2 & 4u) != 0;
    if (c2 & 32u)
        a->cfg.max_head_size = 512; /* so bytes held for a decision can overflow */
    if (c2 & 64u) {
        a->keepalive.want_ping = fz_want_ping;
        a->keepalive.ping_payload = fz_ping_payload;
        a->keepalive.is_activity = fz_is_activity;
        a->keepalive.ud = a;
        a->keepalive_flags = (unsigned)(c3 >> 6) | ((c2 & 128u) ? 4u : 0u);
        a->cfg.keepalive = &a->keepalive;
    }
    if (c2 & 8u) {
        a->cfg.ping_interval_ms = 50;
        a->cfg.pong_timeout_ms = 80;
        a->cfg.idle_timeout_ms = 500;
        a->cfg.handshake_timeout_ms = 300;
        a->cfg.close_timeout_ms = 100;
    }
    a->drained = true;
    if (c0 & 4u) {
        a->cfg.realloc = fz_realloc;
        a->cfg.realloc_ud = &a->alloc;
        a->alloc.fail_at = c1;
        a->alloc.fail_once = (c2 & 16u) != 0;
        a->c = ws_conn_new(&a->cfg);
        if (a->c == NULL) {
            FZ_CHECK(c1 != 0 && a->alloc.live_bytes == 0);
            return false;
        }
    } else {
        size_t need = ws_conn_storage_size(&a->cfg);
        a->storage = fz_block(need);
        a->c = ws_conn_init(a->storage, need, &a->cfg);
        FZ_CHECK(a->c != NULL);
    }
    fz_events_init(&a->ev, &a->cfg);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_api a;
    fz_reader r;
    uint8_t c0, c1, c2, c3, c4;
    size_t ops = 0, steps = 0;

    fz_reader_init(&r, data, size);
    c0 = fz_u8(&r);
    c1 = fz_u8(&r);
    c2 = fz_u8(&r);
    c3 = fz_u8(&r);
    c4 = fz_u8(&r);
    memset(&a, 0, sizeof a);
    if (!fz_api_create(&a, c0, c1, c2, c3, c4))
        return 0;

    while (r.n > 0 && ops++ < 4000)
        fz_op(&a, &r);
    /* The host's last round: events until none, then all output. */
    do {
        fz_next(&a);
        FZ_CHECK(++steps < 100000);
    } while (!a.drained);
    fz_consume(&a, SIZE_MAX);

    ws_conn_free(a.c);
    ws_prepared_free(a.pm);
    free(a.storage);
    fz_release_input(&a);
    FZ_CHECK(a.alloc.live_bytes == 0 && a.alloc.live_blocks == 0);
    fz_events_free(&a.ev);
    if (a.out_ready)
        fz_output_free(&a.out);
    return 0;
}
