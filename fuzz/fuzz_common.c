/*
 * Helpers shared by the harnesses (see fuzz.h). The references here are written from the
 * RFCs, not from lib/, so that a harness compares two independent readings of the spec.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h" /* WS_CONN_CONTROL_SLACK: the room beyond max_output kept for close frames */

void fz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
    fflush(stderr);
    abort();
}

/* ---- reading the fuzz input ------------------------------------------------------------ */

void fz_reader_init(fz_reader *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->n = n;
}

uint8_t fz_u8(fz_reader *r)
{
    uint8_t v;

    if (r->n == 0)
        return 0;
    v = r->p[0];
    r->p++;
    r->n--;
    return v;
}

uint16_t fz_u16(fz_reader *r)
{
    uint16_t hi = fz_u8(r);
    return (uint16_t)(hi << 8 | fz_u8(r));
}

size_t fz_take(fz_reader *r, size_t want, const uint8_t **out)
{
    size_t n = want < r->n ? want : r->n;

    *out = r->p;
    r->p += n;
    r->n -= n;
    return n;
}

void fz_split_read(fz_split *s, fz_reader *r)
{
    size_t i;

    memset(s, 0, sizeof *s);
    s->count = fz_u8(r) & 15u;
    for (i = 0; i < s->count; i++)
        s->sizes[i] = fz_u8(r);
}

void fz_split_whole(fz_split *s)
{
    memset(s, 0, sizeof *s);
}

size_t fz_split_next(fz_split *s, size_t remaining)
{
    size_t size;

    if (s->count == 0)
        return remaining;
    size = s->sizes[s->next++ % s->count];
    if (size == 0 && ++s->empties > 2)
        size = 1; /* a cycle of zeros must still move on */
    if (size != 0)
        s->empties = 0;
    return size < remaining ? size : remaining;
}

uint8_t *fz_dup(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);

    if (q == NULL)
        abort();
    if (n)
        memcpy(q, p, n);
    return q;
}

uint8_t *fz_block(size_t n)
{
    uint8_t *q = malloc(n ? n : 1);

    if (q == NULL)
        abort();
    /* Only the start: filling a 16 MiB connection storage on every run would cost more
     * than the run, and valgrind (tests/valgrind.sh) reports reads of the rest anyway. */
    memset(q, 0xAA, n < 4096 ? (n ? n : 1) : 4096);
    return q;
}

/* ---- growable byte buffer -------------------------------------------------------------- */

void fz_buf_put(fz_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void fz_buf_u8(fz_buf *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    fz_buf_put(b, &x, 1);
}

void fz_buf_u64(fz_buf *b, uint64_t v)
{
    uint8_t x[8];
    size_t i;

    for (i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (56 - 8 * i));
    fz_buf_put(b, x, 8);
}

void fz_buf_free(fz_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

bool fz_buf_eq(const fz_buf *a, const fz_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

void fz_put_str(fz_buf *b, const char *p, size_t len)
{
    fz_buf_u64(b, p != NULL ? len : UINT64_MAX);
    if (p != NULL)
        fz_buf_put(b, p, len);
}

bool fz_eq_ci_at(const char *s, size_t len, size_t at, const char *lower)
{
    size_t n = strlen(lower), i;

    if (at > len || len - at < n)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[at + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return false;
    }
    return true;
}

bool fz_prefix_ci(const char *s, size_t len, const char *lower)
{
    return fz_eq_ci_at(s, len, 0, lower);
}

/* ---- handshake heads -------------------------------------------------------------------- */

int fz_feed_head(fz_head_feed feed, ws_handshake *hs, const uint8_t *p, size_t len, fz_split *plan,
                 size_t *taken)
{
    size_t pos = 0;
    int rc = WS_E_AGAIN;

    *taken = 0;
    while (pos < len) {
        size_t n = fz_split_next(plan, len - pos), used = 7777;
        uint8_t *piece = fz_dup(p + pos, n);

        rc = feed(hs, piece, n, &used);
        free(piece);
        FZ_CHECK(used <= n);
        if (rc != WS_E_AGAIN) {
            *taken = pos + used;
            return rc;
        }
        FZ_CHECK(used == n);
        pos += n;
    }
    *taken = len;
    return rc;
}

/* ---- host callbacks --------------------------------------------------------------------- */

int fz_random(void *ud, uint8_t *buf, size_t len)
{
    fz_rng *g = (fz_rng *)ud;
    size_t i;

    for (i = 0; i < len; i++)
        buf[i] = (uint8_t)g->counter++;
    return 0;
}

/* Each block carries its size in front, 16 bytes so the payload stays aligned. */
#define FZ_ALLOC_HDR 16u

void *fz_realloc(void *ud, void *ptr, size_t size)
{
    fz_alloc *a = (fz_alloc *)ud;
    uint8_t *old = ptr ? (uint8_t *)ptr - FZ_ALLOC_HDR : NULL;
    size_t old_size = 0;
    uint8_t *blk;

    if (old != NULL)
        memcpy(&old_size, old, sizeof old_size);
    if (size == 0) {
        if (old != NULL) {
            FZ_CHECK(a->live_blocks > 0 && a->live_bytes >= old_size);
            a->live_blocks--;
            a->live_bytes -= old_size;
            free(old);
        }
        return NULL;
    }
    a->calls++;
    if (a->fail_at != 0 && (a->fail_once ? a->calls == a->fail_at : a->calls >= a->fail_at))
        return NULL;
    if (size > SIZE_MAX - FZ_ALLOC_HDR)
        return NULL;
    blk = realloc(old, size + FZ_ALLOC_HDR);
    if (blk == NULL)
        return NULL;
    memcpy(blk, &size, sizeof size);
    if (old == NULL)
        a->live_blocks++;
    a->live_bytes = a->live_bytes - old_size + size;
    if (a->live_bytes > a->peak_bytes)
        a->peak_bytes = a->live_bytes;
    return blk + FZ_ALLOC_HDR;
}

/* ---- references ------------------------------------------------------------------------ */

/* Whether some scalar value in its shortest form starts with the bits seen so far: prefix,
 * followed by left more continuation bytes of 6 bits each, for a sequence whose shortest
 * values start at min. */
static bool fz_utf8_possible(uint32_t prefix, unsigned left, uint32_t min)
{
    uint32_t lo = prefix << (6 * left);
    uint32_t hi = lo | ((UINT32_C(1) << (6 * left)) - 1);

    if (lo < min)
        lo = min;
    if (hi > 0x10FFFF)
        hi = 0x10FFFF;
    if (lo > hi)
        return false;
    return !(lo >= 0xD800 && hi <= 0xDFFF); /* only surrogates left */
}

size_t fz_utf8_first_bad(const uint8_t *p, size_t len, bool *boundary)
{
    size_t i = 0;

    *boundary = true;
    while (i < len) {
        uint8_t b = p[i];
        uint32_t cp, min;
        unsigned need, k;

        if (b < 0x80) {
            i++;
            continue;
        }
        if ((b & 0xE0) == 0xC0) {
            need = 1, cp = b & 0x1Fu, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            need = 2, cp = b & 0x0Fu, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            need = 3, cp = b & 0x07u, min = 0x10000;
        } else {
            return i; /* a continuation byte or F8..FF where a character must start */
        }
        if (!fz_utf8_possible(cp, need, min))
            return i;
        i++;
        for (k = 1; k <= need; k++, i++) {
            if (i == len) {
                *boundary = false;
                return len;
            }
            if ((p[i] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (p[i] & 0x3Fu);
            if (!fz_utf8_possible(cp, need - k, min))
                return i;
        }
    }
    return len;
}

bool fz_utf8_valid(const uint8_t *p, size_t len)
{
    bool boundary;
    return fz_utf8_first_bad(p, len, &boundary) == len && boundary;
}

bool fz_close_code_ok(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* ---- events ---------------------------------------------------------------------------- */

void fz_events_init(fz_events *s, const ws_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->role = cfg->role;
    s->whole_messages = cfg->whole_messages;
    s->http_requests = cfg->http_requests;
    s->max_message_size = cfg->max_message_size;
    s->max_fragments = cfg->max_fragments;
}

void fz_events_free(fz_events *s)
{
    fz_buf_free(&s->msg);
}

static bool fz_in(const void *p, const void *base, size_t len)
{
    const uint8_t *q = (const uint8_t *)p, *b = (const uint8_t *)base;
    return q >= b && q <= b + len;
}

static void fz_check_request(const ws_request *r)
{
    size_t i;

    FZ_CHECK(r != NULL);
    FZ_CHECK(r->method_len == 3 && memcmp(r->method, "GET", 3) == 0);
    FZ_CHECK(r->target != NULL && r->target_len > 0);
    FZ_CHECK(r->path != NULL && r->path_len > 0);
    FZ_CHECK(r->host != NULL && r->host_len > 0);
    FZ_CHECK(r->key != NULL && r->key_len == 24);
    FZ_CHECK(r->query == NULL || fz_in(r->query + r->query_len, r->target, r->target_len));
    FZ_CHECK(r->headers != NULL && r->header_count >= 5);
    for (i = 0; i < r->header_count; i++) {
        FZ_CHECK(r->headers[i].name != NULL && r->headers[i].name_len > 0);
        FZ_CHECK(r->headers[i].value != NULL || r->headers[i].value_len == 0);
    }
}

static void fz_events_chunk(fz_events *s, const ws_event *ev)
{
    bool boundary;

    FZ_CHECK(!s->whole_messages);
    FZ_CHECK(ev->len > 0 || ev->message_final);
    FZ_CHECK(!ev->message_final || ev->frame_final);
    if (s->msg_opcode == 0) {
        s->msg_opcode = (uint8_t)ev->opcode;
        s->msg_frames = 0;
        s->msg.len = 0;
        s->msg_checked = 0;
    }
    FZ_CHECK(ev->opcode == s->msg_opcode);
    fz_buf_put(&s->msg, ev->data, ev->len);
    FZ_CHECK(s->msg.len <= s->max_message_size);
    /* ws.h: max_fragments frames for free, one more per 16 bytes of payload; 0: no limit. */
    if (ev->frame_final)
        FZ_CHECK(++s->msg_frames <= s->max_fragments + s->msg.len / 16 || s->max_fragments == 0);
    if (ev->opcode == WS_OP_TEXT) {
        /* Streaming text is delivered only as far as it is valid. Checking resumes at the
         * last character start, so a message in many chunks costs linear time. */
        size_t n = s->msg.len - s->msg_checked;
        boundary = true;
        if (n > 0)
            FZ_CHECK(fz_utf8_first_bad(s->msg.p + s->msg_checked, n, &boundary) == n);
        FZ_CHECK(!ev->message_final || boundary);
        if (boundary) {
            s->msg_checked = s->msg.len;
        } else {
            size_t j = s->msg.len - 1;
            while ((s->msg.p[j] & 0xC0) == 0x80)
                j--; /* stops at the lead byte, which lies at or after msg_checked */
            s->msg_checked = j;
        }
    }
    if (ev->message_final)
        s->msg_opcode = 0;
}

void fz_events_check(fz_events *s, const ws_conn *c, const ws_event *ev)
{
    if (s->closed_seen) {
        FZ_CHECK(ev->type == WS_EV_NONE); /* nothing at all after WS_EV_CLOSED */
        return;
    }
    switch (ev->type) {
    case WS_EV_NONE:
        return;
    case WS_EV_REQUEST:
        FZ_CHECK(s->role == WS_ROLE_SERVER);
        FZ_CHECK(!s->request_seen && !s->open_seen);
        fz_check_request(ev->request);
        FZ_CHECK(ws_conn_request(c) == ev->request);
        s->request_seen = true;
        return;
    case WS_EV_HTTP_REQUEST:
        FZ_CHECK(s->role == WS_ROLE_SERVER && s->http_requests);
        FZ_CHECK(!s->request_seen && !s->open_seen);
        FZ_CHECK(ev->request != NULL && ev->request->method != NULL);
        s->request_seen = true;
        s->plain_http = true;
        return;
    case WS_EV_OPEN:
        FZ_CHECK(!s->open_seen && !s->plain_http);
        FZ_CHECK(ws_conn_phase(c) != WS_PHASE_CONNECTING);
        FZ_CHECK((ev->subprotocol == NULL) == (ev->subprotocol_len == 0));
        if (s->role == WS_ROLE_CLIENT && ev->response != NULL)
            FZ_CHECK(ev->response->status == 101);
        s->open_seen = true;
        return;
    case WS_EV_CHUNK:
    case WS_EV_MESSAGE:
        FZ_CHECK(s->open_seen && !s->close_seen);
        FZ_CHECK(ev->opcode == WS_OP_TEXT || ev->opcode == WS_OP_BINARY);
        FZ_CHECK(ev->data != NULL);
        if (ev->type == WS_EV_CHUNK) {
            fz_events_chunk(s, ev);
            return;
        }
        FZ_CHECK(s->whole_messages);
        FZ_CHECK(ev->message_final && ev->frame_final);
        FZ_CHECK(ev->len <= s->max_message_size);
        FZ_CHECK(ev->opcode != WS_OP_TEXT || fz_utf8_valid(ev->data, ev->len));
        return;
    case WS_EV_PING:
    case WS_EV_PONG:
        FZ_CHECK(s->open_seen && !s->close_seen);
        FZ_CHECK(ev->data != NULL && ev->len <= WS_CONTROL_PAYLOAD_MAX);
        return;
    case WS_EV_CLOSE:
        FZ_CHECK(s->open_seen && !s->close_seen);
        FZ_CHECK(fz_close_code_ok(ev->close_code) || ev->close_code == WS_CLOSE_NO_STATUS);
        FZ_CHECK(ev->close_code != WS_CLOSE_NO_STATUS || ev->reason_len == 0);
        FZ_CHECK(ev->reason_len <= WS_CLOSE_REASON_MAX);
        FZ_CHECK(ev->reason_len == 0 || ev->reason != NULL);
        FZ_CHECK(fz_utf8_valid((const uint8_t *)ev->reason, ev->reason_len));
        s->close_seen = true;
        return;
    case WS_EV_CLOSED:
        FZ_CHECK(ws_conn_phase(c) == WS_PHASE_CLOSED);
        FZ_CHECK(ev->error <= 0);
        /* Clean only after a close frame, or after answering a plain HTTP request. */
        FZ_CHECK(ev->error != WS_OK || s->close_seen || s->plain_http);
        FZ_CHECK(ev->close_code != 0);
        FZ_CHECK(ev->reason_len == 0 || ev->reason != NULL);
        FZ_CHECK(fz_utf8_valid((const uint8_t *)ev->reason, ev->reason_len));
        s->closed_seen = true;
        s->closed = *ev;
        return;
    default:
        fz_fail(__FILE__, __LINE__, "unknown event type (is this harness out of date?)");
    }
}

/* ---- output ---------------------------------------------------------------------------- */

void fz_output_init(fz_output *o, ws_role sender, bool head, bool check_utf8)
{
    memset(o, 0, sizeof *o);
    o->sender = sender;
    o->check_utf8 = check_utf8;
    o->part = head ? 0 : 1;
    ws_frame_decoder_init(&o->dec, sender == WS_ROLE_SERVER ? WS_ROLE_CLIENT : WS_ROLE_SERVER);
    o->dec.max_frame_size = UINT64_MAX;
}

void fz_output_free(fz_output *o)
{
    fz_buf_free(&o->head);
}

/* One byte of the HTTP head; at its empty line decides what follows. */
static void fz_output_head_byte(fz_output *o, uint8_t b)
{
    const uint8_t *h;

    fz_buf_put(&o->head, &b, 1);
    FZ_CHECK(o->head.len <= 65536);
    h = o->head.p;
    if (o->head.len < 4 || memcmp(h + o->head.len - 4, "\r\n\r\n", 4) != 0)
        return;
    if (o->sender == WS_ROLE_CLIENT) {
        FZ_CHECK(o->head.len > 4 && memcmp(h, "GET ", 4) == 0);
        o->part = 1;
    } else {
        FZ_CHECK(o->head.len > 13 && memcmp(h, "HTTP/1.1 ", 9) == 0);
        o->part = memcmp(h + 9, "101 ", 4) == 0 ? 1 : 2;
    }
}

static void fz_output_header(fz_output *o)
{
    const ws_frame_header *h = &o->dec.header;

    /* After a close frame only pongs may follow: no data (RFC 6455 §5.5.1), while pings
     * are still answered until the peer's close arrives (§5.5.2). */
    FZ_CHECK(!o->close_sent || h->opcode == WS_OP_PONG);
    FZ_CHECK(h->rsv == 0);
    if (h->opcode & 0x8) {
        o->ctl_len = 0;
        return;
    }
    if (h->opcode == WS_OP_CONTINUATION) {
        FZ_CHECK(o->msg_opcode != 0);
    } else {
        FZ_CHECK(o->msg_opcode == 0);
        o->msg_opcode = h->opcode;
        ws_utf8_init(&o->utf8);
    }
}

static void fz_output_payload(fz_output *o, const uint8_t *p, size_t n, bool end)
{
    const ws_frame_header *h = &o->dec.header;
    uint16_t code;
    const uint8_t *reason;
    size_t reason_len;

    if (h->opcode & 0x8) {
        FZ_CHECK(o->ctl_len + n <= sizeof o->ctl);
        if (n)
            memcpy(o->ctl + o->ctl_len, p, n);
        o->ctl_len += n;
        if (end && h->opcode == WS_OP_CLOSE) {
            FZ_CHECK(ws_close_parse(o->ctl, o->ctl_len, &code, &reason, &reason_len) == WS_OK);
            FZ_CHECK(o->ctl_len == 0 || fz_close_code_ok(code));
            o->close_sent = true;
        }
        return;
    }
    if (o->msg_opcode == WS_OP_TEXT && o->check_utf8) {
        FZ_CHECK(ws_utf8_feed(&o->utf8, p, n, NULL) == WS_OK);
        if (end && h->fin)
            FZ_CHECK(ws_utf8_finish(&o->utf8) == WS_OK);
    }
    if (end && h->fin)
        o->msg_opcode = 0;
}

static void fz_output_frames(fz_output *o, const uint8_t *p, size_t n)
{
    uint8_t *copy = fz_dup(p, n); /* the decoder unmasks in place; the output is const */
    size_t off = 0, steps = 0;

    for (;;) {
        size_t used = 0, chunk_len = 0;
        uint8_t *chunk = NULL;
        int r = ws_frame_decode(&o->dec, copy + off, n - off, &used, &chunk, &chunk_len);

        FZ_CHECK(r >= 0); /* everything a connection writes must decode */
        FZ_CHECK(used <= n - off);
        off += used;
        FZ_CHECK(++steps <= 3 * n + 4);
        if (r == WS_FRAME_NEED_MORE)
            break;
        if (r == WS_FRAME_HEADER)
            fz_output_header(o);
        else
            fz_output_payload(o, chunk, chunk_len, r == WS_FRAME_END);
    }
    FZ_CHECK(off == n);
    free(copy);
}

void fz_output_feed(fz_output *o, const uint8_t *p, size_t n)
{
    size_t i = 0;

    o->total += n;
    while (i < n && o->part == 0)
        fz_output_head_byte(o, p[i++]);
    if (i < n && o->part == 1)
        fz_output_frames(o, p + i, n - i);
}

/* One run of the output: at most n of its bytes. */
static size_t fz_drain_run(ws_conn *c, size_t n, fz_output *o, fz_buf *log)
{
    const uint8_t *d = NULL;
    size_t avail = ws_conn_output(c, &d);
    size_t take = n < avail ? n : avail;

    if (take > 0) {
        FZ_CHECK(d != NULL);
        if (o != NULL)
            fz_output_feed(o, d, take);
        if (log != NULL)
            fz_buf_put(log, d, take);
    }
    {
        /* Consuming never loses or changes the bytes not consumed; it may add a pong that
         * was owed for want of room. */
        size_t rest = avail - take;
        uint8_t *tail = fz_dup(rest ? d + take : NULL, rest);
        ws_conn_consume(c, take);
        FZ_CHECK(ws_conn_output(c, &d) >= rest);
        FZ_CHECK(rest == 0 || memcmp(d, tail, rest) == 0);
        free(tail);
    }
    return take;
}

size_t fz_drain(ws_conn *c, size_t n, fz_output *o, fz_buf *log)
{
    size_t total = 0, took;

    /* Run after run: the queue hands its bytes out in pieces that stay where they are. */
    while (total < n && (took = fz_drain_run(c, n - total, o, log)) > 0)
        total += took;
    return total;
}

size_t fz_output_bound(const ws_config *cfg)
{
    return cfg->max_output + WS_CONN_CONTROL_SLACK;
}

size_t fz_heap_bound(const ws_config *cfg)
{
    return ws_conn_storage_size(cfg) + cfg->max_output + 512;
}

bool fz_is_token(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL)))
            return false;
    }
    return n > 0;
}
