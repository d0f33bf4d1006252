/*
 * The connection: creation in caller storage or on the host's allocator, and the receive
 * path that turns fed bytes into events in wire order (handshake, frames, control frames,
 * the close handshake, and protocol errors at their place in the stream).
 */
#include "conn.h"
#include "conn_fast.h"
#include "deflate.h"
#include "frame.h"
#include "handshake.h"

#ifndef WS_NO_DEFAULT_ALLOC
#include <stdlib.h>
#endif

/* Storage alignment: enough for the pointers and 64-bit fields of the state. */
#define WS_ALIGN 8u

static size_t ws_align_up(size_t n)
{
    return (n + (WS_ALIGN - 1)) & ~(size_t)(WS_ALIGN - 1);
}

void ws_config_init(ws_config *cfg, ws_role role)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->role = role;
    cfg->max_frame_size = 16u << 20;
    cfg->max_message_size = 16u << 20;
    cfg->max_fragments = 4096;
    /* Whatever max_message_size lets in can be sent back whole. */
    cfg->max_output = (size_t)cfg->max_message_size + WS_FRAME_HEADER_MAX;
    cfg->max_head_size = 8192;
    cfg->max_headers = 64;
    ws_http_limits_init(&cfg->http);
    cfg->auto_pong = true;
    cfg->check_outgoing_utf8 = true;
    cfg->handshake_timeout_ms = 10000;
    cfg->close_timeout_ms = 5000;
    ws_deflate_config_init(&cfg->deflate);
}

static bool ws_config_valid(const ws_config *cfg)
{
    if (cfg == NULL || !ws_role_built((int)cfg->role))
        return false;
    if (cfg->max_head_size < 64 || cfg->max_headers < 8 || cfg->max_output < 256)
        return false;
    if (cfg->role == WS_ROLE_CLIENT && cfg->random == NULL)
        return false;
    if (cfg->trusted_hosts == NULL && cfg->trusted_host_count > 0)
        return false;
#ifdef WS_NO_REQUEST_HOOKS
    /* Left out of this build (docs/size.md): refused, never silently not applied. */
    if (cfg->origin_hook.fn != NULL || cfg->auth_hook.fn != NULL || cfg->trusted_host_count > 0)
        return false;
#endif
    if (cfg->deflate.enable && !ws_deflate_config_valid(&cfg->deflate))
        return false;
    /* Reassembly needs a bound for its buffer: "no limit" is for streaming only. */
    if (cfg->whole_messages && cfg->max_message_size == 0)
        return false;
    /* Sizes are added when carving storage; keep each far from SIZE_MAX. */
    if (cfg->max_output > SIZE_MAX / 8 || cfg->max_head_size > SIZE_MAX / 8 ||
        cfg->max_headers > SIZE_MAX / 8 / sizeof(ws_header) ||
        (cfg->whole_messages && cfg->max_message_size > SIZE_MAX / 8))
        return false;
    return true;
}

/* The handshake area: its state, then the header slots (which need the alignment), then
 * the head buffer. */
static size_t ws_hs_area_size(const ws_config *cfg)
{
    return ws_align_up(sizeof(ws_conn_hs)) + ws_align_up(cfg->max_headers * sizeof(ws_header)) +
           ws_align_up(cfg->max_head_size);
}

/* Sizes of the pieces a connection is made of, in the order they are carved. */
typedef struct ws_layout {
    size_t conn, hs, ctl, out, msg;
} ws_layout;

static void ws_layout_of(const ws_config *cfg, ws_layout *l)
{
    l->conn = ws_align_up(sizeof(ws_conn));
    l->hs = ws_hs_area_size(cfg);
    l->ctl = ws_align_up(WS_CTL_SIZE);
    l->out = ws_align_up(ws_outq_storage(cfg->max_output));
    /* ws_config_valid keeps a whole-message buffer's size within size_t. */
    l->msg = cfg->whole_messages ? ws_align_up((size_t)cfg->max_message_size) : 0;
}

size_t ws_conn_storage_size(const ws_config *cfg)
{
    ws_layout l;

    if (!ws_config_valid(cfg))
        return 0;
    ws_layout_of(cfg, &l);
    return l.conn + l.hs + l.ctl + l.out + l.msg;
}

/* The reassembly buffer's limit: max_message_size in whole-message mode (ws_config_valid
 * keeps it within size_t), else no buffer. */
static size_t ws_conn_msg_max(const ws_config *cfg)
{
    return cfg->whole_messages ? (size_t)cfg->max_message_size : 0;
}

static void ws_buf_setup(ws_buf *b, uint8_t *p, size_t cap, size_t max)
{
    b->p = p;
    b->off = b->len = 0;
    b->cap = cap;
    b->max = max;
}

/* Everything but the buffers, common to both ways of creating a connection. */
static void ws_conn_setup(ws_conn *c, const ws_config *cfg)
{
    ws_conn_cfg *k = &c->cfg;

    memset(c, 0, sizeof *c);
    k->max_message_size = cfg->max_message_size;
    k->max_fragments = cfg->max_fragments;
    k->max_output = cfg->max_output;
    k->realloc = cfg->realloc;
    k->realloc_ud = cfg->realloc_ud;
    k->keepalive = cfg->keepalive;
    k->ping_interval_ms = cfg->ping_interval_ms;
    k->pong_timeout_ms = cfg->pong_timeout_ms;
    k->idle_timeout_ms = cfg->idle_timeout_ms;
    k->close_timeout_ms = cfg->close_timeout_ms;
    k->role = (uint8_t)cfg->role;
    k->whole_messages = cfg->whole_messages;
    k->auto_pong = cfg->auto_pong;
    k->check_outgoing_utf8 = cfg->check_outgoing_utf8;
    k->keep_request = cfg->keep_request;
    c->rx = cfg->role == WS_ROLE_SERVER ? WS_RX_HANDSHAKE : WS_RX_IDLE;
    ws_frame_decoder_init(&c->dec, cfg->role);
    c->dec.max_frame_size = cfg->max_frame_size;
    c->dec.allow_nonminimal = cfg->allow_nonminimal_length;
#ifndef WS_SMALL /* for the receive fast path (lib/conn_fast.h), which WS_SMALL leaves out */
    c->fast_max = UINT16_MAX;
    if (cfg->max_frame_size != 0 && cfg->max_frame_size < c->fast_max)
        c->fast_max = (uint16_t)cfg->max_frame_size;
    if (cfg->max_message_size != 0 && cfg->max_message_size < c->fast_max)
        c->fast_max = (uint16_t)cfg->max_message_size;
#endif
    ws_frame_encoder_init(&c->enc, cfg->role, cfg->random, cfg->random_ud);
    ws_keepalive_start(c);
}

/* Lays out the handshake area at p (ws_hs_area_size bytes) and starts the handshake. */
static void ws_conn_setup_handshake(ws_conn *c, uint8_t *p, const ws_config *cfg)
{
    ws_conn_hs *a = (ws_conn_hs *)(void *)p;

    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    p += ws_align_up(sizeof(ws_conn_hs));
    a->headers = (ws_header *)(void *)p;
    p += ws_align_up(cfg->max_headers * sizeof(ws_header));
    a->head = p;
    c->hsa = a;
    if (ws_conn_is_server(c))
        ws_handshake_server_init(&a->hs, &a->cfg.http, a->head, cfg->max_head_size, a->headers,
                                 cfg->max_headers);
    else
        ws_handshake_client_init(&a->hs, &a->cfg.http, a->head, cfg->max_head_size, a->headers,
                                 cfg->max_headers);
}

ws_conn *ws_conn_init(void *mem, size_t size, const ws_config *cfg)
{
    ws_layout l;
    uint8_t *p = (uint8_t *)mem;
    ws_conn *c;

    if (mem == NULL || ((uintptr_t)mem % WS_ALIGN) != 0 || size < ws_conn_storage_size(cfg) ||
        !ws_config_valid(cfg))
        return NULL;
    ws_layout_of(cfg, &l);
    c = (ws_conn *)mem;
    ws_conn_setup(c, cfg);
    p += l.conn;
    ws_conn_setup_handshake(c, p, cfg);
    p += l.hs;
    c->ctl = p;
    p += l.ctl;
    ws_outq_init(&c->out, p, l.out);
    p += l.out;
    ws_buf_setup(&c->msg, cfg->whole_messages ? p : NULL, l.msg ? ws_conn_msg_max(cfg) : 0,
                 ws_conn_msg_max(cfg));
    return c;
}

#ifndef WS_NO_DEFAULT_ALLOC
/* What ws_conn_new uses when the host names no allocator: the C library's heap. A build
 * with WS_NO_DEFAULT_ALLOC (meson -Ddefault_alloc=false) leaves it out, so the library
 * refers to no heap function at all. */
static void *ws_libc_realloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}
#define WS_DEFAULT_REALLOC ws_libc_realloc
#else
#define WS_DEFAULT_REALLOC NULL
#endif

/* All input is parsed and the connection is open: a heap connection gives back what it
 * holds only for a while. The handshake area, once WS_EV_OPEN was returned (its pointers
 * lived until this call). The reassembly buffer, between messages, at the end of the first
 * input that did not need it, and only when it grew past its smallest size: a connection
 * that keeps reassembling across reads keeps its buffer instead of allocating it for every
 * read (the control slots, 250 bytes, stay for the same reason once allocated). */
void ws_conn_heap_trim(ws_conn *c)
{
    if (c->hsa != NULL && !c->cfg.keep_request) {
        c->cfg.realloc(c->cfg.realloc_ud, c->hsa, 0);
        c->hsa = NULL;
    }
    if (c->msg_used) {
        c->msg_used = false;
    } else if (c->msg.cap > WS_MSG_KEEP && c->msg_opcode == 0) {
        c->cfg.realloc(c->cfg.realloc_ud, c->msg.p, 0);
        ws_buf_setup(&c->msg, NULL, 0, c->msg.max);
    }
}

/* A buffer of a heap connection grows (doubling, from 256 bytes) to take need more bytes;
 * ws_buf_reserve checked that they fit under its max. */
int ws_conn_heap_grow(ws_conn *c, ws_buf *b, size_t need)
{
    size_t want = b->len + need, cap = b->cap < 256 ? 256 : b->cap;
    uint8_t *p;

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

/* Only ws_conn_new refers to this table, so a WS_SMALL image that creates its connections
 * in caller storage (ws_conn_init) links none of what it points to (other builds call the
 * functions directly: WS_CONN_HEAP, WS_OUTQ_HEAP). */
static const ws_conn_heap ws_conn_heap_ops = {
    {ws_outq_heap_grow, ws_outq_heap_next_block, ws_outq_heap_drop},
    ws_conn_heap_trim,
    ws_conn_heap_grow};

ws_conn *ws_conn_new(const ws_config *cfg)
{
    ws_conn *c;
    uint8_t *p, *area;
    ws_realloc_fn rf;
    void *ud;

    if (!ws_config_valid(cfg))
        return NULL;
    rf = cfg->realloc != NULL ? cfg->realloc : WS_DEFAULT_REALLOC;
    ud = cfg->realloc != NULL ? cfg->realloc_ud : NULL;
    if (rf == NULL)
        return NULL;
    /* The state for the connection's life; the handshake area apart, to be freed once the
     * connection is open. */
    p = rf(ud, NULL, sizeof(ws_conn));
    if (p == NULL)
        return NULL;
    area = rf(ud, NULL, ws_hs_area_size(cfg));
    if (area == NULL) {
        rf(ud, p, 0);
        return NULL;
    }
    c = (ws_conn *)(void *)p;
    ws_conn_setup(c, cfg);
    c->cfg.realloc = rf; /* buffers grow, and are freed, with the same allocator */
    c->cfg.realloc_ud = ud;
    /* Blocks are counted by their capacity, not their pending bytes: twice the storage lets
     * a frame that fits under max_output in bytes also find a block to go in. */
    ws_outq_init_heap(&c->out, 2 * ws_outq_storage(cfg->max_output), &ws_conn_heap_ops.outq);
    ws_buf_setup(&c->msg, NULL, 0, ws_conn_msg_max(cfg));
    ws_conn_setup_handshake(c, area, cfg);
    return c;
}

void ws_conn_free(ws_conn *c)
{
    ws_realloc_fn rf;
    void *ud;

    if (c == NULL)
        return;
#ifdef WS_HAVE_DEFLATE
    ws_conn_deflate_free(c); /* fixed-memory connections too: it came from cfg.realloc */
#endif
    rf = ws_conn_heap_of(c) != NULL ? c->cfg.realloc : NULL;
    ud = c->cfg.realloc_ud;
    ws_outq_clear(&c->out, rf, ud); /* also releases what fixed storage references */
    if (ws_conn_heap_of(c) == NULL)
        return;
    if (c->hsa)
        rf(ud, c->hsa, 0);
    if (c->ctl)
        rf(ud, c->ctl, 0);
    if (c->msg.p)
        rf(ud, c->msg.p, 0);
    rf(ud, c, 0);
}

ws_phase ws_conn_phase(const ws_conn *c)
{
    return ws_conn_phase_of(c);
}

const ws_request *ws_conn_request(const ws_conn *c)
{
    return ws_conn_is_server(c) && c->hsa != NULL ? ws_handshake_request(&c->hsa->hs) : NULL;
}

uint8_t *ws_conn_ctl(ws_conn *c)
{
    if (c->ctl == NULL && ws_conn_heap_of(c) != NULL)
        c->ctl = (uint8_t *)c->cfg.realloc(c->cfg.realloc_ud, NULL, WS_CTL_SIZE);
    return c->ctl;
}

/* ---- input --------------------------------------------------------------------------- */

static bool ws_conn_input_pending(const ws_conn *c)
{
    return c->in_pos < c->in_len || c->stash != NULL;
}

/* Copies bytes into the stash, where they outlive the host's buffer: the head buffer's tail,
 * after the request (a complete head), so the request and the bytes queued behind it
 * together stay within max_head_size. Nothing is parsed from the stash while it fills. */
static int ws_conn_stash(ws_conn *c, const uint8_t *p, size_t n)
{
    ws_buf *b = &c->hsa->stash;

    if (n == 0)
        return WS_OK;
    if (b->p == NULL) {
        const ws_handshake *hs = &c->hsa->hs;
        size_t used = hs->reserved + hs->http.len;
        ws_buf_setup(b, hs->buf + used, hs->cap - used, hs->cap - used);
    }
    if (n > b->cap - b->len)
        return WS_E_HTTP_HEADERS_TOO_LARGE;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    c->stash = b;
    return WS_OK;
}

/* The bytes to parse next: the stash drains before the host's buffer. */
static uint8_t *ws_conn_input(ws_conn *c, size_t *n)
{
    if (c->stash != NULL) {
        *n = c->stash->len - c->stash->off;
        return c->stash->p + c->stash->off;
    }
    *n = c->in_len - c->in_pos;
    return *n ? c->in + c->in_pos : NULL;
}

static void ws_conn_advance(ws_conn *c, size_t n)
{
    if (c->stash != NULL) {
        c->stash->off += n;
        if (c->stash->off == c->stash->len) {
            c->stash->off = c->stash->len = 0;
            c->stash = NULL;
        }
    } else {
        c->in_pos += n;
    }
}

static void ws_conn_drop_input(ws_conn *c)
{
    c->in = NULL;
    c->in_len = c->in_pos = 0;
    if (c->stash != NULL) {
        c->stash->off = c->stash->len = 0;
        c->stash = NULL;
    }
}

int ws_conn_feed(ws_conn *c, uint8_t *buf, size_t len)
{
    if (c->rx == WS_RX_DONE || c->rx == WS_RX_CLOSED_EVENT)
        return WS_E_CLOSED;
    /* A client's bytes are the answer to its request: none before ws_conn_connect. */
    if (c->in_pos < c->in_len || c->in_callback || c->rx == WS_RX_IDLE ||
        (ws_conn_pmd(c) != NULL && ws_conn_inflate_pending(c)))
        return WS_E_STATE;
    if (len > 0 && buf == NULL)
        return WS_E_INVALID;
    c->fed = true;
    ws_keepalive_on_feed(c, len);
    c->in = NULL;
    c->in_len = c->in_pos = 0;
    /* While the host decides, bytes queue behind the request: the host's buffer will be
     * reused before they can be parsed. The stash always drains before c->in. A client that
     * sends more than it holds before its answer loses the connection, not silently bytes. */
    if (c->rx == WS_RX_AWAIT_DECISION) {
        int rc = ws_conn_stash(c, buf, len);
        if (rc != WS_OK) {
            ws_conn_drop_input(c);
            ws_conn_fail_handshake(c, rc, 0);
        }
        return rc;
    }
    c->in = buf;
    c->in_len = len;
    return WS_OK;
}

void ws_conn_feed_eof(ws_conn *c)
{
    c->eof = true;
}

/* ---- events -------------------------------------------------------------------------- */

static void ws_event_clear(ws_event *ev, ws_event_type type)
{
    ev->type = type;
    ev->opcode = 0;
    ev->frame_final = false;
    ev->message_final = false;
    ev->data = NULL;
    ev->len = 0;
    ev->close_code = 0;
    ev->reason = NULL;
    ev->reason_len = 0;
    ev->error = 0;
    ev->http_status = 0;
    ev->request = NULL;
    ev->response = NULL;
    ev->subprotocol = NULL;
    ev->subprotocol_len = 0;
    ev->extensions = NULL;
    ev->extensions_len = 0;
}

/* A payload event: data is never NULL. */
ws_event_type ws_event_data(ws_event *ev, ws_event_type type, uint8_t opcode, const uint8_t *data,
                            size_t len, bool frame_final, bool message_final)
{
    ws_event_clear(ev, type);
    ev->opcode = opcode;
    ev->data = data;
    ev->len = len;
    ev->frame_final = frame_final;
    ev->message_final = message_final;
    return type;
}

/* Ends the connection with err: the peer is told with a close frame when the error has a
 * code that may go on the wire, and WS_EV_CLOSED is due next. */
void ws_conn_fail(ws_conn *c, int err)
{
    uint16_t code = ws_error_close_code(err);
    const char *reason = ws_strerror(err);

    c->error = err;
    c->close_code = code ? code : WS_CLOSE_ABNORMAL;
    /* The host's close went out first (say, before it pulled the event that fails): the
     * code reported is the one the peer saw. */
    if (c->close_sent && ws_close_code_valid(code))
        c->close_code = c->close_sent_code ? c->close_sent_code : WS_CLOSE_NO_STATUS;
    c->close_reason = reason;
    c->close_reason_len = strlen(reason);
    if (ws_close_code_valid(code))
        ws_conn_queue_close(c, code, reason, c->close_reason_len);
    c->rx = WS_RX_CLOSED_EVENT;
}

/* A handshake that did not end in an open connection: the answer (server) is queued and
 * WS_EV_CLOSED with the status is due next. */
void ws_conn_fail_handshake(ws_conn *c, int err, int status)
{
    c->decision = WS_DEC_DONE;
    c->error = err;
    c->http_status = (int16_t)status;
    c->close_code = WS_CLOSE_ABNORMAL;
    c->rx = WS_RX_CLOSED_EVENT;
}

static int ws_conn_write_error(ws_conn *c, uint8_t *out, size_t cap, size_t *len, const void *arg)
{
    (void)arg;
    return ws_handshake_error_response(&c->hsa->hs, out, cap, len);
}

typedef struct ws_reject_args {
    int status;
    const ws_header *headers;
    size_t header_count;
    const char *body;
    size_t body_len;
} ws_reject_args;

static int ws_conn_write_reject(ws_conn *c, uint8_t *out, size_t cap, size_t *len, const void *arg)
{
    const ws_reject_args *a = (const ws_reject_args *)arg;
    return ws_handshake_reject(&c->hsa->hs, a->status, a->headers, a->header_count, a->body,
                               a->body_len, out, cap, len);
}

/* ws_conn_reject, with err as the error of the WS_EV_CLOSED that follows. */
static int ws_conn_reject_as(ws_conn *c, int err, int status, const ws_header *headers,
                             size_t header_count, const char *body, size_t body_len)
{
    ws_reject_args a = {status, headers, header_count, body, body_len};
    bool plain = c->decision == WS_DEC_PLAIN_DUE || c->decision == WS_DEC_PLAIN_HOST;
    int rc;

    /* Any time before the decision is made: from a hook (whose verdict is then moot), while
     * one is pending, before or after WS_EV_REQUEST. */
    if (!ws_conn_is_server(c) || c->rx != WS_RX_AWAIT_DECISION || c->decision == WS_DEC_NONE ||
        c->decision == WS_DEC_DONE ||
        (c->in_callback && !c->hook_running)) /* from a request hook only */
        return WS_E_STATE;
    rc = ws_conn_queue_answer(c, ws_conn_write_reject, &a);
    if (rc != WS_OK)
        return rc;
    ws_conn_drop_input(c); /* nothing after a rejected request is ever parsed */
    ws_conn_fail_handshake(c, plain ? WS_OK : err, status);
    return WS_OK;
}

#ifndef WS_NO_REQUEST_HOOKS
/* Rejects the pending request on behalf of a hook: the verdict is a status, or a policy
 * code (WS_E_ORIGIN ... WS_E_FORBIDDEN) answered with its status and reported as the error
 * of WS_EV_CLOSED. 401 asks for a bearer token. */
static void ws_conn_hook_reject(ws_conn *c, int verdict)
{
    static const ws_header bearer = {"WWW-Authenticate", 16, "Bearer", 6};
    int status = verdict, err = WS_E_HTTP_REJECTED;

    if (verdict <= WS_E_ORIGIN && verdict >= WS_E_FORBIDDEN) {
        status = ws_error_http_status(verdict);
        err = verdict;
    } else if (verdict < 400 || verdict > 599) {
        status = 500; /* a hook that answered nonsense must not let the request through */
    }
    if (ws_conn_reject_as(c, err, status, status == 401 ? &bearer : NULL, status == 401 ? 1 : 0,
                          NULL, 0) != WS_OK) {
        /* No room for the answer: the request is refused all the same, without one. */
        ws_conn_drop_input(c);
        ws_conn_fail_handshake(c, err, status);
    }
}

/* Runs one request hook, marked as a callback so that calls made from inside it are held
 * to the rules of ws.h. Returns its verdict. */
static int ws_conn_call_hook(ws_conn *c, const struct ws_request_hook_def *h)
{
    int verdict;

    c->hook_running = true;
    c->in_callback = true;
    verdict = h->fn(h->ud, c, ws_handshake_request(&c->hsa->hs));
    c->in_callback = false;
    c->hook_running = false;
    return verdict;
}

/* Runs the request hooks from c->decision on, until one waits or refuses, or every one has
 * allowed (WS_EV_REQUEST is then due). */
static void ws_conn_run_hooks(ws_conn *c)
{
    for (;;) {
        const struct ws_request_hook_def *h;
        int verdict;

        switch (c->decision) {
        case WS_DEC_ORIGIN_HOOK:
            h = &c->hsa->cfg.origin_hook;
            break;
        case WS_DEC_AUTH_HOOK:
            h = &c->hsa->cfg.auth_hook;
            break;
        default:
            return;
        }
        verdict = h->fn != NULL ? ws_conn_call_hook(c, h) : WS_HOOK_ALLOW;
        if (c->decision == WS_DEC_DONE)
            return; /* the hook refused the request itself (ws_conn_reject) */
        if (verdict == WS_HOOK_PENDING)
            return; /* ws_conn_resume goes on from here */
        if (verdict != WS_HOOK_ALLOW) {
            ws_conn_hook_reject(c, verdict);
            return;
        }
        c->decision = c->decision == WS_DEC_ORIGIN_HOOK ? WS_DEC_AUTH_HOOK : WS_DEC_REQUEST_DUE;
    }
}

#endif /* !WS_NO_REQUEST_HOOKS */

/* WS_EV_REQUEST once every hook has allowed the request, or WS_EV_HTTP_REQUEST for a plain
 * HTTP request the host asked to see. */
static ws_event_type ws_conn_request_event(ws_conn *c, ws_event *ev)
{
    switch (c->decision) {
    case WS_DEC_PLAIN_DUE:
        c->decision = WS_DEC_PLAIN_HOST;
        ws_event_clear(ev, WS_EV_HTTP_REQUEST);
        ev->request = ws_hs_plain_request(&c->hsa->hs);
        return WS_EV_HTTP_REQUEST;
    case WS_DEC_REQUEST_DUE:
        c->decision = WS_DEC_HOST;
        ws_event_clear(ev, WS_EV_REQUEST);
        ev->request = ws_handshake_request(&c->hsa->hs);
        return WS_EV_REQUEST;
    default:
        return WS_EV_NONE;
    }
}

#ifndef WS_NO_REQUEST_HOOKS
/* A request for a host this server does not answer for (cfg.trusted_hosts): a page that
 * rebound a name of its own to our address, most likely. */
static bool ws_conn_misdirected(const ws_conn *c, const ws_request *r)
{
    const ws_config *cfg = &c->hsa->cfg;

    return cfg->trusted_host_count > 0 &&
           !ws_host_trusted(cfg->trusted_hosts, cfg->trusted_host_count, r->host, r->host_len);
}

#endif

/* A server's request head is complete (read or handed off) with verdict rc: wait for the
 * hooks and the host, or answer the error and end. */
static void ws_conn_server_head(ws_conn *c, int rc)
{
    const ws_request *plain =
        rc != WS_OK && c->hsa->cfg.http_requests ? ws_hs_plain_request(&c->hsa->hs) : NULL;

    c->rx = WS_RX_AWAIT_DECISION;
#ifdef WS_NO_REQUEST_HOOKS /* no trusted hosts, no hooks: the host decides */
    if (rc == WS_OK) {
        c->decision = WS_DEC_REQUEST_DUE;
        return;
    }
#else
    if ((rc == WS_OK && ws_conn_misdirected(c, ws_handshake_request(&c->hsa->hs))) ||
        (plain != NULL && ws_conn_misdirected(c, plain))) {
        static const char body[] = "Host is not one this server answers for\n";
        ws_reject_args a = {421, NULL, 0, body, sizeof body - 1};
        if (ws_conn_queue_answer(c, ws_conn_write_reject, &a) != WS_OK)
            a.status = 0;
        ws_conn_drop_input(c);
        ws_conn_fail_handshake(c, WS_E_HTTP_MISDIRECTED, a.status);
        return;
    }
    if (rc == WS_OK) {
        c->decision = WS_DEC_ORIGIN_HOOK;
        ws_conn_run_hooks(c);
        return;
    }
#endif
    if (plain != NULL) {
        c->decision = WS_DEC_PLAIN_DUE; /* the hooks guard upgrades, not pages */
        return;
    }
    (void)ws_conn_queue_answer(c, ws_conn_write_error, NULL);
    ws_conn_drop_input(c);
    ws_conn_fail_handshake(c, rc, ws_handshake_status(&c->hsa->hs));
}

int ws_conn_resume(ws_conn *c, int verdict)
{
#ifdef WS_NO_REQUEST_HOOKS /* no hook can be pending */
    (void)c;
    (void)verdict;
    return WS_E_STATE;
#else
    /* Only a hook that returned WS_HOOK_PENDING waits; one still running has not. */
    if (c->rx != WS_RX_AWAIT_DECISION || c->in_callback ||
        (c->decision != WS_DEC_ORIGIN_HOOK && c->decision != WS_DEC_AUTH_HOOK))
        return WS_E_STATE;
    if (verdict == WS_HOOK_ALLOW) {
        c->decision = c->decision == WS_DEC_ORIGIN_HOOK ? WS_DEC_AUTH_HOOK : WS_DEC_REQUEST_DUE;
        ws_conn_run_hooks(c);
    } else {
        ws_conn_hook_reject(c, verdict == WS_HOOK_PENDING ? 500 : verdict);
    }
    return WS_OK;
#endif
}

void ws_conn_set_user(ws_conn *c, void *user)
{
    c->user = user;
}

void *ws_conn_user(const ws_conn *c)
{
    return c->user;
}

static ws_event_type ws_conn_handshake_step(ws_conn *c, ws_event *ev)
{
    size_t n, used = 0;
    uint8_t *p = ws_conn_input(c, &n);
    int rc;

    if (n == 0)
        return WS_EV_NONE;
    if (ws_conn_is_server(c))
        rc = ws_handshake_server_feed(&c->hsa->hs, p, n, &used);
    else
        rc = ws_handshake_client_feed(&c->hsa->hs, p, n, &used);
    if (rc == WS_E_AGAIN) {
        ws_conn_advance(c, n);
        return WS_EV_NONE;
    }
    ws_conn_advance(c, used);
    if (ws_conn_is_server(c)) {
        ws_conn_server_head(c, rc);
        return ws_conn_request_event(c, ev);
    }
    if (rc == WS_OK)
        rc = ws_conn_deflate_check(c, ws_handshake_response(&c->hsa->hs));
    if (rc == WS_OK) {
        const ws_response *r = ws_handshake_response(&c->hsa->hs);
        c->hsa->subprotocol = r->subprotocol;
        c->hsa->subprotocol_len = r->subprotocol_len;
        c->rx = WS_RX_OPEN_EVENT;
        return WS_EV_NONE;
    }
    {
        const ws_response *r = ws_handshake_response(&c->hsa->hs);
        ws_conn_fail_handshake(c, rc, r ? r->status : 0);
    }
    return WS_EV_NONE;
}

/* Whether a message of len bytes may have one more frame than `frames`: max_fragments for
 * free, plus one per WS_FRAGMENT_BYTES of payload. Frames of a useful size always pass;
 * what is stopped is a message of empty or tiny frames, whose length max_message_size cannot
 * bound (each costs a header, a step and often an event, for no payload). */
static bool ws_conn_fragments_ok(const ws_conn *c, size_t frames, uint64_t len)
{
    uint64_t allowed = c->cfg.max_fragments + len / WS_FRAGMENT_BYTES;

    return c->cfg.max_fragments == 0 || frames <= allowed;
}

/* Checks a data frame's header against the message in progress (RFC 6455 §5.4). */
int ws_conn_begin_data_frame(ws_conn *c, const ws_frame_header *h)
{
    uint64_t max;
    /* RSV bits: only permessage-deflate lets any through the decoder (conn_deflate.c) */
#ifdef WS_HAVE_DEFLATE
    int rc = h->rsv != 0 || c->pmd != NULL ? ws_conn_deflate_frame(c, h) : WS_OK;
#else
    int rc = h->rsv != 0 ? WS_E_RESERVED_BITS : WS_OK; /* never in use without zlib */
#endif

    if (rc != WS_OK)
        return rc;
    if (h->opcode == WS_OP_CONTINUATION) {
        if (c->msg_opcode == 0)
            return WS_E_UNEXPECTED_CONTINUATION;
        if (h->length > UINT64_MAX - c->msg_len ||
            !ws_conn_fragments_ok(c, ++c->msg_frames, c->msg_len + h->length))
            return WS_E_TOO_MANY_FRAGMENTS;
    } else {
        if (c->msg_opcode != 0)
            return WS_E_EXPECTED_CONTINUATION;
        c->msg_opcode = h->opcode;
        c->msg_len = 0;
        c->msg_frames = 1;
        c->msg_copied = false;
        c->msg.off = c->msg.len = 0;
        ws_utf8_init(&c->utf8);
    }
    /* Compressed, the limit is on the inflated size (checked as it inflates); the wire
     * size is only held to what the limit could take compressed. */
    max = ws_conn_pmd(c) != NULL
              ? ws_conn_deflate_wire_limit(c, c->cfg.max_message_size, c->msg_frames)
              : c->cfg.max_message_size;
    if (max != 0 && (c->msg_len > max || h->length > max - c->msg_len))
        return WS_E_MESSAGE_TOO_BIG;
    /* No overflow: a first frame starts from 0, a continuation was checked above. */
    c->msg_len += h->length;
    return WS_OK;
}

/* A complete control frame, payload p[0..n): in the input, or in the control slot when it
 * arrived in pieces. Either stays valid until the next call (a close's reason until
 * WS_EV_CLOSED, which comes before the input is given back). */
ws_event_type ws_conn_control_frame(ws_conn *c, uint8_t opcode, const uint8_t *p, size_t n,
                                    ws_event *ev)
{
    static const uint8_t empty[1] = {0};
    uint16_t code;
    const uint8_t *reason;
    size_t reason_len;
    int rc;

    if (p == NULL) /* an empty payload: hosts get a valid pointer all the same */
        p = empty;
    switch (opcode) {
    case WS_OP_PING:
        /* Pings are answered until the peer's close arrives, ours sent or not (§5.5.2). */
        if (c->cfg.auto_pong)
            ws_conn_answer_ping(c, p, n);
        ws_event_clear(ev, WS_EV_PING);
        ev->data = p;
        ev->len = n;
        return WS_EV_PING;
    case WS_OP_PONG:
        ws_event_clear(ev, WS_EV_PONG);
        ev->data = p;
        ev->len = n;
        return WS_EV_PONG;
    default: /* WS_OP_CLOSE; the decoder lets no other opcode through */
        rc = ws_close_parse(p, n, &code, &reason, &reason_len);
        if (rc != WS_OK) {
            ws_conn_fail(c, rc);
            return WS_EV_NONE;
        }
        c->close_received = true;
        c->close_code = code;
        c->close_reason = (const char *)reason;
        c->close_reason_len = reason_len;
        ws_conn_queue_close(c, code, (const char *)reason, reason_len); /* echo */
        c->error = WS_OK;
        c->rx = WS_RX_CLOSED_EVENT;
        ws_event_clear(ev, WS_EV_CLOSE);
        ev->close_code = code;
        ev->reason = c->close_reason;
        ev->reason_len = reason_len;
        return WS_EV_CLOSE;
    }
}

/* Appends a chunk of a message to the reassembly buffer (whole_messages mode). Its size was
 * checked against max_message_size when the frame header arrived. */
static int ws_conn_collect(ws_conn *c, const uint8_t *p, size_t n)
{
    int rc = ws_buf_reserve(c, &c->msg, n);

    if (rc != WS_OK)
        return rc == WS_E_BACKPRESSURE ? WS_E_MESSAGE_TOO_BIG : rc;
    if (n)
        memcpy(c->msg.p + c->msg.len, p, n);
    c->msg.len += n;
    c->msg_copied = true;
    c->msg_used = true;
    return WS_OK;
}

/* A chunk of a data frame: validated, then handed out (streaming) or collected. */
ws_event_type ws_conn_data_piece(ws_conn *c, const uint8_t *p, size_t n, bool frame_end, bool ascii,
                                 ws_event *ev)
{
    static const uint8_t empty[1] = {0};
    bool fin = frame_end && c->dec.header.fin;
    uint8_t opcode = c->msg_opcode;
    int err = WS_OK, rc;

    if (p == NULL) /* an empty payload: hosts get a valid pointer all the same */
        p = empty;

    if (opcode == WS_OP_TEXT && !ascii) {
        size_t bad = 0;
        if (ws_utf8_feed(&c->utf8, p, n, &bad) != WS_OK) {
            err = WS_E_INVALID_UTF8;
            n = bad; /* deliver what came before the bad byte, then fail */
        } else if (fin && ws_utf8_finish(&c->utf8) != WS_OK) {
            err = WS_E_INVALID_UTF8;
        }
    }
    if (err != WS_OK) {
        c->error = err;
        c->rx = WS_RX_FAIL_PENDING;
        fin = false;
        frame_end = false;
    }
    if (fin)
        c->msg_opcode = 0;

    if (c->cfg.whole_messages) {
        if (err != WS_OK)
            return WS_EV_NONE;
        if (!fin || c->msg_copied) {
            rc = ws_conn_collect(c, p, n);
            if (rc != WS_OK) {
                ws_conn_fail(c, rc);
                return WS_EV_NONE;
            }
            if (!fin)
                return WS_EV_NONE;
            p = c->msg.p ? c->msg.p : empty;
            n = c->msg.len;
        }
        return ws_event_data(ev, WS_EV_MESSAGE, opcode, p, n, true, true);
    }
    /* Streaming: an empty chunk is only worth an event when it ends the message. */
    if (n == 0 && !fin)
        return WS_EV_NONE;
    return ws_event_data(ev, WS_EV_CHUNK, opcode, p, n, frame_end, fin);
}

#ifndef WS_SMALL
/*
 * A whole data frame that arrived in one piece. The commonest case by far, an unfragmented
 * message that is valid and within the limits, is handed out straight away, without the
 * bookkeeping a fragmented message needs; everything else takes the general path (which
 * checks the same payload again, so it also finds where invalid text goes wrong).
 */
static ws_event_type ws_conn_whole_data_frame(ws_conn *c, const ws_frame_header *h,
                                              const uint8_t *p, size_t n, ws_event *ev)
{
    int rc;

    if (h->fin && h->opcode != WS_OP_CONTINUATION && c->msg_opcode == 0 && h->rsv == 0 &&
        (c->cfg.max_message_size == 0 || n <= c->cfg.max_message_size) &&
        (h->opcode != WS_OP_TEXT || ws_utf8_valid(p, n)))
        return ws_event_data(ev, c->cfg.whole_messages ? WS_EV_MESSAGE : WS_EV_CHUNK, h->opcode, p,
                             n, true, true);
    rc = ws_conn_begin_data_frame(c, h);
    if (rc != WS_OK) {
        ws_conn_fail(c, rc);
        return WS_EV_NONE;
    }
    if (ws_conn_pmd(c) != NULL && ws_conn_rx_compressed(c))
        return ws_conn_inflate_chunk(c, p, n, true, ev);
    return ws_conn_data_chunk(c, p, n, true, ev);
}
#endif /* !WS_SMALL */

static ws_event_type ws_conn_frame_step(ws_conn *c, ws_event *ev)
{
    size_t n, used = 0, chunk_len = 0;
    uint8_t *p = ws_conn_input(c, &n);
    uint8_t *chunk = NULL;
    const ws_frame_header *h = &c->dec.header;
    int r;

    if (ws_conn_pmd(c) != NULL && ws_conn_inflate_pending(c))
        return ws_conn_inflate_continue(c, ev);
    if (n == 0 && !c->end_due)
        return WS_EV_NONE;
#ifndef WS_SMALL /* WS_SMALL (docs/size.md): frames go through the general decoder only */
    if (!c->end_due && ws_frame_decode_whole(&c->dec, p, n, &used, &chunk, &chunk_len)) {
        ws_conn_advance(c, used);
        if (h->opcode & 0x8) {
            if (h->rsv != 0) {
                ws_conn_fail(c, WS_E_RESERVED_BITS);
                return WS_EV_NONE;
            }
            return ws_conn_control_frame(c, h->opcode, chunk, chunk_len, ev);
        }
        return ws_conn_whole_data_frame(c, h, chunk, chunk_len, ev);
    }
#endif
    r = ws_frame_decode(&c->dec, p, n, &used, &chunk, &chunk_len);
    ws_conn_advance(c, used);
    if (r < 0) {
        ws_conn_fail(c, r);
        return WS_EV_NONE;
    }
    switch (r) {
    case WS_FRAME_HEADER:
        c->end_due = h->length == 0; /* an empty payload still ends with WS_FRAME_END */
        if (h->opcode & 0x8) {
            c->ctl_len = 0;
            if (h->rsv != 0)
                ws_conn_fail(c, WS_E_RESERVED_BITS);
        } else {
            int rc = ws_conn_begin_data_frame(c, h);
            if (rc != WS_OK)
                ws_conn_fail(c, rc);
        }
        return WS_EV_NONE;
    case WS_FRAME_DATA:
    case WS_FRAME_END:
        c->end_due = false;
        if (h->opcode & 0x8) {
            /* The payload came whole after its header: handed out in place. */
            if (r == WS_FRAME_END && c->ctl_len == 0)
                return ws_conn_control_frame(c, h->opcode, chunk, chunk_len, ev);
            /* In pieces: assembled in the control slot. The decoder caps control payloads at
             * 125 bytes. */
            if (ws_conn_ctl(c) == NULL) {
                ws_conn_fail(c, WS_E_NOMEM);
                return WS_EV_NONE;
            }
            if (chunk_len)
                memcpy(c->ctl + WS_CTL_SPLIT + c->ctl_len, chunk, chunk_len);
            c->ctl_len = (uint8_t)(c->ctl_len + chunk_len);
            return r == WS_FRAME_END
                       ? ws_conn_control_frame(c, h->opcode, c->ctl + WS_CTL_SPLIT, c->ctl_len, ev)
                       : WS_EV_NONE;
        }
        if (ws_conn_pmd(c) != NULL && ws_conn_rx_compressed(c))
            return ws_conn_inflate_chunk(c, chunk, chunk_len, r == WS_FRAME_END, ev);
        return ws_conn_data_chunk(c, chunk, chunk_len, r == WS_FRAME_END, ev);
    default: /* WS_FRAME_NEED_MORE: all bytes were taken into the header */
        return WS_EV_NONE;
    }
}

static ws_event_type ws_conn_closed_event(ws_conn *c, ws_event *ev)
{
    ws_event_clear(ev, WS_EV_CLOSED);
    ev->error = c->error;
    ev->close_code = c->close_code;
    ev->reason = c->close_reason;
    ev->reason_len = c->close_reason_len;
    ev->http_status = c->http_status;
    if (ws_conn_is_client(c) && c->hsa != NULL)
        ev->response = ws_handshake_response(&c->hsa->hs);
    c->rx = WS_RX_DONE;
    ws_conn_drop_input(c);
    return WS_EV_CLOSED;
}

static ws_event_type ws_conn_next_event_step(ws_conn *c, ws_event *ev)
{
    ws_event_type t;

    for (;;) {
        switch (c->rx) {
        case WS_RX_HANDSHAKE:
        case WS_RX_FRAMES:
            if (!ws_conn_input_pending(c) && !c->end_due &&
                !(ws_conn_pmd(c) != NULL && ws_conn_inflate_pending(c))) {
                if (c->eof) {
                    ws_conn_fail(c, WS_E_EOF);
                    continue;
                }
                c->in = NULL;
                c->in_len = c->in_pos = 0;
                if (ws_conn_heap_of(c) != NULL && c->rx == WS_RX_FRAMES)
                    WS_CONN_HEAP(c, trim)(c);
                ws_event_clear(ev, WS_EV_NONE);
                return WS_EV_NONE;
            }
            t = c->rx == WS_RX_HANDSHAKE ? ws_conn_handshake_step(c, ev)
                                         : ws_conn_frame_step(c, ev);
            if (t != WS_EV_NONE)
                return t;
            continue;
        case WS_RX_AWAIT_DECISION:
            if (c->decision == WS_DEC_REQUEST_DUE || c->decision == WS_DEC_PLAIN_DUE)
                return ws_conn_request_event(c, ev);
            /* The host may reuse its buffer once we return: keep what it still holds. */
            if (c->in_pos < c->in_len) {
                int rc = ws_conn_stash(c, c->in + c->in_pos, c->in_len - c->in_pos);
                if (rc != WS_OK) {
                    ws_conn_drop_input(c);
                    ws_conn_fail_handshake(c, rc, 0);
                    continue;
                }
                c->in_pos = c->in_len;
            }
            ws_event_clear(ev, WS_EV_NONE);
            return WS_EV_NONE;
        case WS_RX_OPEN_EVENT:
            c->rx = WS_RX_FRAMES;
            ws_event_clear(ev, WS_EV_OPEN);
            ev->subprotocol = c->hsa->subprotocol;
            ev->subprotocol_len = c->hsa->subprotocol_len;
            if (ws_conn_is_client(c))
                ev->response = ws_handshake_response(&c->hsa->hs);
#ifdef WS_HAVE_DEFLATE /* else none: ws_event_clear */
            ev->extensions = ws_conn_deflate_extensions(c, &ev->extensions_len);
#endif
            return WS_EV_OPEN;
        case WS_RX_FAIL_PENDING:
            ws_conn_fail(c, c->error);
            continue;
        case WS_RX_CLOSED_EVENT:
            return ws_conn_closed_event(c, ev);
        default: /* WS_RX_IDLE (a client before ws_conn_connect), WS_RX_DONE */
            ws_conn_drop_input(c);
            ws_event_clear(ev, WS_EV_NONE);
            return WS_EV_NONE;
        }
    }
}

/* The opening handshake took too long. A server answers first: 503 when the request was
 * read and the decision never came (a pending hook, a host that never answered), 408 when
 * the request itself was too slow to arrive. */
static void ws_conn_handshake_timeout(ws_conn *c)
{
    ws_reject_args a = {408, NULL, 0, NULL, 0};

    if (ws_conn_is_server(c)) {
        if (c->rx == WS_RX_AWAIT_DECISION)
            a.status = 503;
        if (ws_conn_queue_answer(c, ws_conn_write_reject, &a) != WS_OK)
            a.status = 0; /* no room for the answer: the connection ends without one */
    } else {
        a.status = 0;
    }
    ws_conn_drop_input(c);
    ws_conn_fail_handshake(c, WS_E_HANDSHAKE_TIMEOUT, a.status);
}

void ws_conn_tick(ws_conn *c, uint64_t now_ms)
{
    int err;

    ws_conn_set_time(c, now_ms);
    if (c->in_callback) /* no deadline acts from inside a host callback */
        return;
#ifdef WS_HAVE_DEFLATE
    ws_conn_deflate_tick(c, now_ms);
#endif
    err = ws_keepalive_due(c, now_ms);
    if (err == WS_E_HANDSHAKE_TIMEOUT)
        ws_conn_handshake_timeout(c);
    else if (err != WS_OK)
        ws_conn_fail(c, err);
}

/* Every event but the fast path's (lib/conn_fast.h), out of line so that the fast path
 * pays for no stack frame. */
WS_FAST_NOINLINE ws_event_type ws_conn_next_event_general(ws_conn *c, ws_event *ev)
{
    ws_event_type t = ws_conn_next_event_step(c, ev);

    /* Only a pong (RTT) or a host's activity hook cares about events. */
    if (t == WS_EV_PONG || (t != WS_EV_NONE && c->cfg.keepalive != NULL))
        ws_keepalive_on_event(c, ev);
    return t;
}

/* The general path, unless a host callback is running: events are pulled by the host's
 * loop, never from a callback. */
static inline ws_event_type ws_conn_next_event_checked(ws_conn *c, ws_event *ev)
{
    if (c->in_callback) {
        ws_event_clear(ev, WS_EV_NONE);
        return WS_EV_NONE;
    }
    return ws_conn_next_event_general(c, ev);
}

#ifndef WS_SMALL
WS_FAST_NOINLINE ws_event_type ws_conn_next_event_other(ws_conn *c, ws_event *ev)
{
    return ws_conn_next_event_checked(c, ev);
}
#endif

ws_event_type ws_conn_next_event(ws_conn *c, ws_event *ev)
{
#ifdef WS_SMALL
    /* WS_SMALL (docs/size.md): no one-step fast path; every event takes the general path.
     * (Named here so that a one-file build does not warn that it is unused.) */
    (void)ws_conn_fast_event;
    return ws_conn_next_event_checked(c, ev);
#else
    /* lib/conn_fast.h: a plain data frame in one step, else ws_conn_next_event_other or
     * ws_conn_next_event_general. */
    return ws_conn_fast_event(c, ev);
#endif
}

/* ---- handshake decisions ------------------------------------------------------------- */

static int ws_conn_write_accept(ws_conn *c, uint8_t *out, size_t cap, size_t *len, const void *arg)
{
#ifdef WS_HAVE_DEFLATE
    return ws_handshake_accept(&c->hsa->hs, (const ws_accept_opts *)arg, out, cap, len);
#else /* the only extension answer is permessage-deflate's */
    return ws_hs_accept_plain(&c->hsa->hs, (const ws_accept_opts *)arg, out, cap, len);
#endif
}

/* Finds the client's own spelling of the chosen subprotocol, in the head buffer, for
 * WS_EV_OPEN. */
static void ws_conn_remember_subprotocol(ws_conn *c, const char *proto)
{
    size_t len = proto != NULL ? strlen(proto) : 0;
    const char *item = ws_request_subprotocol_item(ws_handshake_request(&c->hsa->hs), proto, len);

    if (item != NULL) {
        c->hsa->subprotocol = item;
        c->hsa->subprotocol_len = len;
    }
}

int ws_conn_accept(ws_conn *c, const ws_accept_opts *opts)
{
    static const ws_accept_opts none;
    char answer[WS_DEFLATE_HEADER_MAX];
    ws_accept_opts o;
    int rc;

    /* Not before every hook has allowed the request and the host has seen it. */
    if (!ws_conn_is_server(c) || c->rx != WS_RX_AWAIT_DECISION || c->decision != WS_DEC_HOST ||
        c->in_callback)
        return WS_E_STATE;
    /* Extensions are the library's to answer (permessage-deflate, below), not the host's. */
    if (opts != NULL && opts->extensions != NULL)
        return WS_E_HTTP_EXTENSION;
    /* permessage-deflate (cfg.deflate) is answered here, while the request is at hand. */
    o = opts != NULL ? *opts : none;
#ifdef WS_HAVE_DEFLATE
    rc = ws_conn_deflate_accept(c, ws_handshake_request(&c->hsa->hs), answer, sizeof answer);
#else
    rc = 0; /* without zlib permessage-deflate is never agreed */
#endif
    if (rc < 0)
        return rc;
    if (rc == 1)
        o.extensions = answer;
    rc = ws_conn_queue_answer(c, ws_conn_write_accept, &o);
    if (rc != WS_OK) {
#ifdef WS_HAVE_DEFLATE
        ws_conn_deflate_free(c);
#endif
        return rc;
    }
    ws_conn_remember_subprotocol(c, opts ? opts->subprotocol : NULL);
    c->decision = WS_DEC_DONE;
    c->rx = WS_RX_OPEN_EVENT;
    return WS_OK;
}

int ws_conn_reject(ws_conn *c, int status, const ws_header *headers, size_t header_count,
                   const char *body, size_t body_len)
{
    return ws_conn_reject_as(c, WS_E_HTTP_REJECTED, status, headers, header_count, body, body_len);
}

int ws_conn_respond(ws_conn *c, int status, const ws_header *headers, size_t header_count,
                    const char *body, size_t body_len)
{
    if (c->decision != WS_DEC_PLAIN_DUE && c->decision != WS_DEC_PLAIN_HOST)
        return WS_E_STATE;
    return ws_conn_reject(c, status, headers, header_count, body, body_len);
}

int ws_conn_handoff(ws_conn *c, const char *method, size_t method_len, const char *target,
                    size_t target_len, int version_minor, const ws_header *headers,
                    size_t header_count, const uint8_t *rest, size_t rest_len)
{
    int rc;

    if (!ws_conn_is_server(c) || c->rx != WS_RX_HANDSHAKE || c->fed)
        return WS_E_STATE;
    if (rest_len > c->hsa->hs.cap || (rest_len > 0 && rest == NULL))
        return rest_len > c->hsa->hs.cap ? WS_E_HTTP_HEADERS_TOO_LARGE : WS_E_INVALID;
    c->fed = true;
    ws_keepalive_on_feed(c, method_len);
    rc = ws_handshake_server_handoff(&c->hsa->hs, method, method_len, target, target_len,
                                     version_minor, headers, header_count);
    /* The rest waits behind the request, in the head buffer's tail. */
    if (rc == WS_OK && ws_conn_stash(c, rest, rest_len) != WS_OK) {
        ws_reject_args a = {431, NULL, 0, NULL, 0};
        if (ws_conn_queue_answer(c, ws_conn_write_reject, &a) != WS_OK)
            a.status = 0;
        ws_conn_drop_input(c);
        ws_conn_fail_handshake(c, WS_E_HTTP_HEADERS_TOO_LARGE, a.status);
        return WS_OK;
    }
    ws_conn_server_head(c, rc);
    return WS_OK;
}

static int ws_conn_write_request(ws_conn *c, uint8_t *out, size_t cap, size_t *len, const void *arg)
{
    return ws_handshake_client_request(&c->hsa->hs, (const ws_client_opts *)arg, c->enc.random,
                                       c->enc.random_ud, out, cap, len);
}

int ws_conn_connect(ws_conn *c, const ws_client_opts *opts)
{
    char offer[WS_DEFLATE_HEADER_MAX];
    ws_client_opts o;
    int rc;

    if (!ws_conn_is_client(c) || c->rx != WS_RX_IDLE || c->in_callback)
        return WS_E_STATE;
    if (opts == NULL)
        return WS_E_INVALID;
    if (opts->extensions != NULL)
        return WS_E_HTTP_EXTENSION; /* as in ws_conn_accept */
    if (c->pmd != NULL)
        return WS_E_STATE; /* ws_conn_set_deflate is for ws_conn_start_open */
    o = *opts;
    if (ws_conn_deflate_offer(c, offer, sizeof offer))
        o.extensions = offer; /* cfg.deflate: the 101's answer is checked against it */
    rc = ws_conn_queue_answer(c, ws_conn_write_request, &o);
    if (rc != WS_OK)
        return rc;
    c->rx = WS_RX_HANDSHAKE;
    return WS_OK;
}

int ws_conn_start_open(ws_conn *c, const char *subprotocol)
{
    ws_rx_state fresh = ws_conn_is_client(c) ? WS_RX_IDLE : WS_RX_HANDSHAKE;

    size_t len = subprotocol != NULL ? strlen(subprotocol) : 0;

    if (c->rx != fresh || c->fed || c->in_callback)
        return WS_E_STATE;
    if (subprotocol != NULL &&
        (!ws_http_is_token(subprotocol, len) || len > c->hsa->cfg.max_head_size))
        return WS_E_INVALID;
    /* Kept in the head buffer, which no handshake will use: the caller's string need not
     * outlive the call. */
    if (len > 0)
        memcpy(c->hsa->head, subprotocol, len);
    c->hsa->subprotocol = subprotocol != NULL ? (const char *)c->hsa->head : NULL;
    c->hsa->subprotocol_len = len;
    c->rx = WS_RX_OPEN_EVENT;
    return WS_OK;
}
