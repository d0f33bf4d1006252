/*
 * The shared driver of the conformance suite: builds a peer's bytes from a case, feeds them
 * to the connection engine split many ways, and compares the events and the decoded output
 * with the case, checking the stream-order and fail-fast properties on every run.
 */
#include "conf_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CF_INPUT_MAX    ((size_t)17 << 20) /* the default 16 MiB limit plus headers */
#define CF_EXPANDED_MAX 70000              /* frames in one case once repeats are expanded */
#define CF_SHOW_MAX     256                /* longest payload written out in full */
#define CF_PATTERN_MIN  64                 /* shortest payload written as <fill*length> */
#define CF_UNIT_MAX     2048
#define CF_TAPE         4096
#define CF_ENTRY_MAX    (CF_SHOW_MAX * 4 + 128)
#define CF_TEXT_MAX     32768
#define CF_ECHO_MAX     ((size_t)1 << 20)
#define CF_EVERY_MAX    4096         /* inputs up to this size are split at every offset, */
#define CF_EVERY_WORK   (256u << 10) /* unless bytes times frames is above this */
#define CF_MEDIUM_MAX   (256u << 10) /* inputs up to this size are also fed byte by byte */
#define CF_PLANS_MAX    (CF_EVERY_MAX + 512)

/* ---- small helpers ------------------------------------------------------------------- */

static const struct {
    int err;
    const char *name;
} cf_errors[] = {
    {WS_OK, "OK"},
    {WS_E_NOMEM, "NOMEM"},
    {WS_E_RESERVED_BITS, "RESERVED_BITS"},
    {WS_E_RESERVED_OPCODE, "RESERVED_OPCODE"},
    {WS_E_CONTROL_TOO_LONG, "CONTROL_TOO_LONG"},
    {WS_E_CONTROL_FRAGMENTED, "CONTROL_FRAGMENTED"},
    {WS_E_UNMASKED, "UNMASKED"},
    {WS_E_MASKED, "MASKED"},
    {WS_E_LENGTH_MSB, "LENGTH_MSB"},
    {WS_E_LENGTH_NONMINIMAL, "LENGTH_NONMINIMAL"},
    {WS_E_FRAME_TOO_BIG, "FRAME_TOO_BIG"},
    {WS_E_MESSAGE_TOO_BIG, "MESSAGE_TOO_BIG"},
    {WS_E_TOO_MANY_FRAGMENTS, "TOO_MANY_FRAGMENTS"},
    {WS_E_UNEXPECTED_CONTINUATION, "UNEXPECTED_CONTINUATION"},
    {WS_E_EXPECTED_CONTINUATION, "EXPECTED_CONTINUATION"},
    {WS_E_INVALID_UTF8, "INVALID_UTF8"},
    {WS_E_CLOSE_REASON, "CLOSE_REASON"},
    {WS_E_CLOSE_PAYLOAD, "CLOSE_PAYLOAD"},
    {WS_E_CLOSE_CODE, "CLOSE_CODE"},
    {WS_E_EOF, "EOF"},
};

const char *cf_error_name(int err)
{
    static char other[32];
    size_t i;

    for (i = 0; i < sizeof cf_errors / sizeof cf_errors[0]; i++) {
        if (cf_errors[i].err == err)
            return cf_errors[i].name;
    }
    snprintf(other, sizeof other, "E%d", err);
    return other;
}

int cf_random(void *ud, uint8_t *buf, size_t len)
{
    uint32_t *state = (uint32_t *)ud;
    size_t i;

    for (i = 0; i < len; i++) {
        *state = *state * 1103515245u + 12345u;
        buf[i] = (uint8_t)(*state >> 16);
    }
    if (len == 4 && buf[0] == 0 && buf[1] == 0 && buf[2] == 0 && buf[3] == 0)
        buf[0] = 0x5a; /* a zero key would hide a missing mask in the output checks */
    return 0;
}

/* Counting allocator: every run checks that the connection gave back all it took. */
typedef struct cf_alloc {
    size_t live;
} cf_alloc;

typedef struct cf_alloc_hdr {
    size_t size;
    size_t pad;
} cf_alloc_hdr;

static void *cf_realloc(void *ud, void *ptr, size_t size)
{
    cf_alloc *st = (cf_alloc *)ud;
    cf_alloc_hdr *h = ptr ? (cf_alloc_hdr *)ptr - 1 : NULL;
    cf_alloc_hdr *n;

    if (size == 0) {
        if (h)
            st->live -= h->size;
        free(h);
        return NULL;
    }
    n = realloc(h, sizeof *n + size);
    if (n == NULL)
        return NULL;
    if (h)
        st->live -= n->size;
    n->size = size;
    st->live += size;
    return n + 1;
}

/* A bounded string that fails the test instead of truncating. */
typedef struct cf_str {
    char *p;
    size_t len, cap;
} cf_str;

static void str_put(cf_str *s, const char *fmt, ...)
{
    va_list ap;
    int w;

    va_start(ap, fmt);
    w = vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= s->cap - s->len)
        fail_msg("transcript longer than %zu bytes", s->cap);
    s->len += (size_t)w;
}

static void str_bytes(cf_str *s, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (b >= 0x20 && b < 0x7f && strchr("\\|*<>", b) == NULL)
            str_put(s, "%c", b);
        else
            str_put(s, "\\x%02x", b);
    }
}

/* ---- payload summaries --------------------------------------------------------------- */

/* The case's fill unit repeated, to compare long payloads with in memcmp-sized pieces. */
typedef struct cf_pattern {
    const uint8_t *unit;
    size_t ulen; /* 0: the case has no fill */
    size_t span; /* a multiple of ulen; the tape holds span + ulen bytes */
    uint8_t tape[CF_TAPE + CF_UNIT_MAX];
} cf_pattern;

static void pattern_init(cf_pattern *pt, const char *unit, size_t ulen)
{
    size_t i;

    pt->unit = (const uint8_t *)unit;
    pt->ulen = ulen;
    pt->span = 0;
    if (ulen == 0)
        return;
    assert_true(ulen <= CF_UNIT_MAX);
    pt->span = (CF_TAPE / ulen) * ulen;
    for (i = 0; i < pt->span + ulen; i++)
        pt->tape[i] = (uint8_t)unit[i % ulen];
}

static bool pattern_match(const cf_pattern *pt, size_t off, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t k = n < pt->span ? n : pt->span;
        if (memcmp(p, pt->tape + off % pt->ulen, k) != 0)
            return false;
        p += k;
        n -= k;
        off += k;
    }
    return true;
}

/* What is kept of a payload that may be megabytes long: its length, its start, and whether
 * it is the fill pattern throughout. */
typedef struct cf_sum {
    size_t len;
    bool fits;
    uint8_t head[CF_SHOW_MAX];
} cf_sum;

static void sum_reset(cf_sum *s)
{
    s->len = 0;
    s->fits = true;
}

static void sum_add(cf_sum *s, const cf_pattern *pt, const uint8_t *p, size_t n)
{
    if (s->len < CF_SHOW_MAX) {
        size_t k = CF_SHOW_MAX - s->len < n ? CF_SHOW_MAX - s->len : n;
        memcpy(s->head + s->len, p, k);
    }
    if (s->fits)
        s->fits = pt->ulen != 0 && pattern_match(pt, s->len, p, n);
    s->len += n;
}

static void sum_print(cf_str *e, const cf_sum *s, const cf_pattern *pt)
{
    if (pt->ulen != 0 && s->fits && s->len >= CF_PATTERN_MIN) {
        str_put(e, "<fill*%zu>", s->len);
    } else if (s->len <= CF_SHOW_MAX) {
        str_bytes(e, s->head, s->len);
    } else {
        str_put(e, "<%zu bytes, not the fill: ", s->len);
        str_bytes(e, s->head, 16);
        str_put(e, "...>");
    }
}

/* ---- transcripts --------------------------------------------------------------------- */

/* Entries joined with '|'; a run of equal entries is written once with "*count". */
typedef struct cf_log {
    char text[CF_TEXT_MAX];
    cf_str s;
    char prev[CF_ENTRY_MAX];
    unsigned count;
} cf_log;

static void log_reset(cf_log *l)
{
    l->text[0] = '\0';
    l->s.p = l->text;
    l->s.len = 0;
    l->s.cap = sizeof l->text;
    l->count = 0;
}

static void log_flush(cf_log *l)
{
    if (l->count == 0)
        return;
    str_put(&l->s, "%s%s", l->s.len ? "|" : "", l->prev);
    if (l->count > 1)
        str_put(&l->s, "*%u", l->count);
    l->count = 0;
}

static void log_entry(cf_log *l, const char *e)
{
    if (l->count > 0 && strcmp(l->prev, e) == 0) {
        l->count++;
        return;
    }
    log_flush(l);
    snprintf(l->prev, sizeof l->prev, "%s", e);
    l->count = 1;
}

/* Whole-message mode never hands out part of a message: the same transcript without PART. */
static void strip_parts(const char *in, char *out, size_t cap)
{
    cf_str s = {out, 0, cap};
    const char *p = in;

    out[0] = '\0';
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (strncmp(p, "PART:", 5) != 0)
            str_put(&s, "%s%.*s", s.len ? "|" : "", (int)len, p);
        p += bar ? len + 1 : len;
    }
}

/* ---- the peer's bytes ---------------------------------------------------------------- */

typedef struct cf_input {
    size_t n;
    size_t nframes;
    size_t start[CF_EXPANDED_MAX]; /* where each frame starts */
    size_t hsize[CF_EXPANDED_MAX]; /* its header size (RAW: all its bytes) */
    size_t plen[CF_EXPANDED_MAX];  /* payload bytes present in the input */
} cf_input;

static uint8_t cf_pristine[CF_INPUT_MAX];
static uint8_t cf_work[CF_INPUT_MAX];

static size_t put_header(uint8_t *o, int b0, uint64_t len, unsigned fl, bool masked,
                         const uint8_t key[4])
{
    size_t h = 2, ext, i;
    unsigned len7;

    if ((fl & CF_LEN64) || (!(fl & CF_LEN16) && len > 0xFFFFu)) {
        len7 = 127;
        ext = 8;
    } else if ((fl & CF_LEN16) || len >= 126) {
        assert_true(len <= 0xFFFFu);
        len7 = 126;
        ext = 2;
    } else {
        len7 = (unsigned)len;
        ext = 0;
    }
    o[0] = (uint8_t)b0;
    o[1] = (uint8_t)((masked ? 0x80u : 0u) | len7);
    for (i = 0; i < ext; i++)
        o[h++] = (uint8_t)(len >> (8u * (ext - 1u - i)));
    if (masked) {
        memcpy(o + h, key, 4);
        h += 4;
    }
    return h;
}

static void frame_key(unsigned seed, uint8_t key[4])
{
    key[0] = (uint8_t)(0x37u + 29u * seed);
    key[1] = (uint8_t)(0xfau ^ (seed * 7u));
    key[2] = (uint8_t)(0x21u + (seed >> 3));
    key[3] = (uint8_t)(0x3du + 101u * seed);
}

size_t cf_write_frame(uint8_t *out, ws_role receiver, int b0, const uint8_t *p, size_t n)
{
    uint8_t key[4];
    size_t h, i;
    bool masked = receiver == WS_ROLE_SERVER;

    frame_key((unsigned)n, key);
    h = put_header(out, b0, n, 0, masked, key);
    if (n > 0)
        memcpy(out + h, p, n);
    for (i = 0; masked && i < n; i++)
        out[h + i] ^= key[i & 3];
    return h + n;
}

/* Writes one frame of a case at in->n. msg_off is the fill offset of the message. */
static void build_frame(const cf_frame *f, ws_role receiver, unsigned seed, size_t *msg_off,
                        cf_input *in)
{
    uint8_t *o = cf_pristine + in->n;
    uint64_t declared = (f->flags & CF_CUT) ? f->len : f->n;
    bool masked = (receiver == WS_ROLE_SERVER) != ((f->flags & CF_FLIP_MASK) != 0);
    bool control = (f->b0 & 0x08) != 0;
    uint8_t key[4] = {0, 0, 0, 0};
    size_t h, i, off;

    assert_true(in->nframes < CF_EXPANDED_MAX);
    assert_true(f->n <= CF_INPUT_MAX - WS_FRAME_HEADER_MAX - in->n);
    in->start[in->nframes] = in->n;
    if (f->flags & CF_RAW) {
        memcpy(o, f->p, f->n);
        in->hsize[in->nframes] = f->n;
        in->plen[in->nframes] = 0;
        in->nframes++;
        in->n += f->n;
        return;
    }
    if (!(f->flags & CF_ZERO_KEY))
        frame_key(seed, key);
    h = put_header(o, f->b0, declared, f->flags, masked, key);
    /* Fill runs on across the fragments of a message; a control frame starts afresh. */
    off = control ? 0 : ((f->b0 & 0x0f) == WS_OP_CONTINUATION ? *msg_off : 0);
    if (f->flags & CF_FILL) {
        assert_true(f->ulen > 0);
        for (i = 0; i < f->n; i++)
            o[h + i] = (uint8_t)f->p[(off + i) % f->ulen];
    } else if (f->n > 0) {
        memcpy(o + h, f->p, f->n);
    }
    if (!control)
        *msg_off = off + f->n;
    for (i = 0; masked && i < f->n; i++)
        o[h + i] ^= key[i & 3];
    in->hsize[in->nframes] = h;
    in->plen[in->nframes] = f->n;
    in->nframes++;
    in->n += h + f->n;
}

static bool frame_is_end(const cf_frame *f)
{
    return f->p == NULL && f->flags == 0;
}

static void build_input(const cf_case *tc, ws_role receiver, cf_input *in, cf_pattern *pt)
{
    const cf_frame *unit = NULL;
    size_t msg_off = 0;
    unsigned seed = 0;
    const cf_frame *f;

    in->n = 0;
    in->nframes = 0;
    for (f = tc->in; f < tc->in + CF_MAX_FRAMES && !frame_is_end(f); f++) {
        unsigned reps = f->repeat ? f->repeat : 1, r;
        if (f->flags & CF_FILL) {
            if (unit != NULL && (unit->ulen != f->ulen || memcmp(unit->p, f->p, f->ulen) != 0))
                fail_msg("%s: a case has one fill unit", tc->id);
            unit = f;
        }
        for (r = 0; r < reps; r++)
            build_frame(f, receiver, ++seed, &msg_off, in);
    }
    pattern_init(pt, unit ? unit->p : "", unit ? unit->ulen : 0);
}

static size_t resolve_at(const cf_case *tc, const cf_input *in)
{
    const cf_at *at = &tc->at;
    long f, idx, span;
    size_t base;

    if (at->where == CF_AT_NONE)
        return SIZE_MAX;
    f = at->frame < 0 ? (long)in->nframes + at->frame : at->frame;
    if (f < 0 || (size_t)f >= in->nframes)
        fail_msg("%s: .at names frame %d of %zu", tc->id, at->frame, in->nframes);
    base = in->start[f];
    span = (long)(at->where == CF_AT_HEADER ? in->hsize[f] : in->plen[f]);
    if (at->where == CF_AT_PAYLOAD)
        base += in->hsize[f];
    idx = at->idx < 0 ? span + at->idx : at->idx;
    if (idx < 0 || idx >= span)
        fail_msg("%s: .at names byte %ld of %ld", tc->id, at->idx, span);
    return base + (size_t)idx;
}

/* ---- split plans --------------------------------------------------------------------- */

/* piece > 0: pieces of that size; else two pieces cut at `cut` (cut == n: all at once). */
typedef struct cf_plan {
    size_t piece;
    size_t cut;
} cf_plan;

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void add_cut(size_t *cuts, size_t *nc, size_t n, long at)
{
    if (at >= 1 && (size_t)at < n && *nc < CF_PLANS_MAX - 8)
        cuts[(*nc)++] = (size_t)at;
}

/* The frames whose boundaries a large input is cut around: all of a few, else a sample. */
static bool frame_sampled(size_t i, size_t nframes)
{
    if (nframes <= 16)
        return true;
    return i < 4 || i >= nframes - 4 || i % (nframes / 8) == 0;
}

/*
 * Inputs up to CF_EVERY_MAX bytes (of not too many frames): whole, byte by byte, and cut in
 * two at every offset. Up to CF_MEDIUM_MAX: whole, byte by byte, pieces of 997, 4096 and
 * 16384 bytes, and cuts around the header of sampled frames (where every state change of
 * the decoder happens), in the last 16 bytes and in the middle. Beyond (multi-MiB): whole,
 * 16 KiB pieces and a handful of cuts.
 */
static size_t make_plans(const cf_input *in, cf_plan *plans)
{
    static size_t cuts[CF_PLANS_MAX];
    size_t n = in->n, np = 0, nc = 0, i;
    long d;
    bool big = n > CF_MEDIUM_MAX;

    plans[np++] = (cf_plan){0, n};
    if (n <= 1)
        return np;
    if (!big)
        plans[np++] = (cf_plan){1, 0};
    if (n <= CF_EVERY_MAX && n * in->nframes <= CF_EVERY_WORK) {
        for (i = 1; i < n; i++)
            plans[np++] = (cf_plan){0, i};
        return np;
    }
    plans[np++] = (cf_plan){16384, 0};
    if (!big) {
        plans[np++] = (cf_plan){997, 0};
        plans[np++] = (cf_plan){4096, 0};
    }
    for (i = 0; i < in->nframes; i++) {
        long s = (long)in->start[i], h = (long)in->hsize[i];
        if (big || !frame_sampled(i, in->nframes))
            continue;
        for (d = -2; d <= h + 2; d++)
            add_cut(cuts, &nc, n, s + d);
    }
    if (big) { /* inside and just after the first header, inside the last one */
        long h0 = (long)in->hsize[0], last = (long)in->start[in->nframes - 1];
        add_cut(cuts, &nc, n, 1);
        add_cut(cuts, &nc, n, h0);
        add_cut(cuts, &nc, n, h0 + 1);
        add_cut(cuts, &nc, n, last + 1);
    }
    for (d = 1; !big && d <= 16; d++)
        add_cut(cuts, &nc, n, (long)(n - (size_t)d));
    add_cut(cuts, &nc, n, (long)(n / 2));
    add_cut(cuts, &nc, n, (long)(n - 1));
    qsort(cuts, nc, sizeof cuts[0], cmp_size);
    for (i = 0; i < nc; i++) {
        if (i == 0 || cuts[i] != cuts[i - 1])
            plans[np++] = (cf_plan){0, cuts[i]};
    }
    return np;
}

static void plan_name(cf_plan p, size_t n, char *out, size_t cap)
{
    if (p.piece == 1)
        snprintf(out, cap, "byte by byte");
    else if (p.piece)
        snprintf(out, cap, "pieces of %zu", p.piece);
    else if (p.cut >= n)
        snprintf(out, cap, "all at once");
    else
        snprintf(out, cap, "cut at %zu of %zu", p.cut, n);
}

/* ---- one run ------------------------------------------------------------------------- */

typedef struct cf_rec {
    const cf_case *tc;
    const cf_pattern *pt;
    ws_conn *c;
    bool whole;
    const char *where; /* role, mode and plan, for messages */
    cf_log log;
    cf_sum msg; /* the message being received (streaming) */
    bool in_msg;
    uint8_t msg_op;
    size_t echo_len;
    bool close_seen; /* WS_EV_CLOSE: WS_EV_CLOSED must follow at once */
    bool closed;
    int error;
    const uint8_t *lo, *hi; /* the fed bytes: streaming payloads must point into them */
} cf_rec;

static uint8_t cf_echo[CF_ECHO_MAX];

static const char *op_name(uint8_t op)
{
    return op == WS_OP_TEXT ? "TEXT" : op == WS_OP_BINARY ? "BIN" : "?";
}

static void rec_fail(const cf_rec *r, const char *what)
{
    fail_msg("%s [%s]: %s (events so far: %s)", r->tc->id, r->where, what, r->log.text);
}

static void rec_message(cf_rec *r, const char *prefix)
{
    char e[CF_ENTRY_MAX];
    cf_str s = {e, 0, sizeof e};

    str_put(&s, "%s%s:", prefix, op_name(r->msg_op));
    sum_print(&s, &r->msg, r->pt);
    log_entry(&r->log, e);
    r->in_msg = false;
}

static void rec_echo(cf_rec *r, const uint8_t *p, size_t n)
{
    int rc;

    if (!(r->tc->flags & CF_ECHO))
        return;
    rc = ws_conn_send(r->c, (ws_opcode)r->msg_op, p, n);
    if (rc != WS_OK)
        fail_msg("%s [%s]: echo of %zu bytes: %s", r->tc->id, r->where, n, cf_error_name(rc));
}

static void rec_chunk(cf_rec *r, const ws_event *ev)
{
    if (r->whole)
        rec_fail(r, "WS_EV_CHUNK in whole-message mode");
    if (ev->opcode != WS_OP_TEXT && ev->opcode != WS_OP_BINARY)
        rec_fail(r, "chunk without a data opcode");
    if (r->in_msg && ev->opcode != r->msg_op)
        rec_fail(r, "a chunk's opcode changed inside its message");
    if (ev->len == 0 && !ev->message_final)
        rec_fail(r, "an empty chunk that ends nothing");
    if (ev->message_final && !ev->frame_final)
        rec_fail(r, "message_final without frame_final");
    if (ev->len > 0 && (ev->data < r->lo || ev->data + ev->len > r->hi))
        rec_fail(r, "a streamed payload not in the fed buffer (copied?)");
    if (!r->in_msg) {
        sum_reset(&r->msg);
        r->msg_op = (uint8_t)ev->opcode;
        r->in_msg = true;
        r->echo_len = 0;
    }
    sum_add(&r->msg, r->pt, ev->data, ev->len);
    if (r->tc->flags & CF_ECHO) {
        assert_true(ev->len <= CF_ECHO_MAX - r->echo_len);
        memcpy(cf_echo + r->echo_len, ev->data, ev->len);
        r->echo_len += ev->len;
    }
    if (ev->message_final) {
        rec_message(r, "");
        rec_echo(r, cf_echo, r->echo_len);
    }
}

static void rec_whole(cf_rec *r, const ws_event *ev)
{
    if (!r->whole)
        rec_fail(r, "WS_EV_MESSAGE in streaming mode");
    if (!ev->frame_final || !ev->message_final)
        rec_fail(r, "WS_EV_MESSAGE not final");
    if (ev->opcode != WS_OP_TEXT && ev->opcode != WS_OP_BINARY)
        rec_fail(r, "message without a data opcode");
    r->msg_op = (uint8_t)ev->opcode;
    sum_reset(&r->msg);
    sum_add(&r->msg, r->pt, ev->data, ev->len);
    rec_message(r, "");
    rec_echo(r, ev->data, ev->len);
}

static void rec_event(cf_rec *r, const ws_event *ev)
{
    char e[CF_ENTRY_MAX];
    cf_str s = {e, 0, sizeof e};
    cf_sum sum;

    if (r->closed)
        rec_fail(r, "an event after WS_EV_CLOSED");
    if (r->close_seen && ev->type != WS_EV_CLOSED)
        rec_fail(r, "WS_EV_CLOSE not followed by WS_EV_CLOSED");
    if (ev->type != WS_EV_CLOSED && ev->type != WS_EV_CLOSE && ev->data == NULL)
        rec_fail(r, "an event with a NULL payload pointer");
    switch (ev->type) {
    case WS_EV_CHUNK:
        rec_chunk(r, ev);
        return;
    case WS_EV_MESSAGE:
        rec_whole(r, ev);
        return;
    case WS_EV_PING:
    case WS_EV_PONG:
        if (ev->len > WS_CONTROL_PAYLOAD_MAX)
            rec_fail(r, "a control payload over 125 bytes");
        sum_reset(&sum);
        sum_add(&sum, r->pt, ev->data, ev->len);
        str_put(&s, "%s:", ev->type == WS_EV_PING ? "PING" : "PONG");
        sum_print(&s, &sum, r->pt);
        log_entry(&r->log, e);
        return;
    case WS_EV_CLOSE:
    case WS_EV_CLOSED:
        if (r->in_msg)
            rec_message(r, "PART:");
        if (ev->type == WS_EV_CLOSE) {
            r->close_seen = true;
            str_put(&s, "CLOSE:%u", ev->close_code);
            if (ev->reason_len) {
                str_put(&s, ":");
                str_bytes(&s, (const uint8_t *)ev->reason, ev->reason_len);
            }
        } else {
            r->closed = true;
            r->error = ev->error;
            str_put(&s, "CLOSED:%u:%s", ev->close_code, cf_error_name(ev->error));
        }
        log_entry(&r->log, e);
        return;
    default:
        fail_msg("%s [%s]: unexpected event %d", r->tc->id, r->where, (int)ev->type);
    }
}

static void pull(cf_rec *r)
{
    ws_event ev;
    ws_event_type t;

    while ((t = ws_conn_next_event(r->c, &ev)) != WS_EV_NONE) {
        if (t != ev.type)
            rec_fail(r, "next_event's return differs from ev.type");
        rec_event(r, &ev);
    }
}

/* ---- the engine's output, read as the peer reads it ---------------------------------- */

static bool close_code_ok(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

static void out_fail(const cf_rec *r, const char *what, size_t pos)
{
    fail_msg("%s [%s]: output at byte %zu: %s", r->tc->id, r->where, pos, what);
}

/* The whole pending output in one buffer: the queue hands it out as runs that stay where
 * they are, so they are gathered through ws_conn_output_iov without consuming anything. */
static uint8_t *gather_output(const ws_conn *c, size_t *n)
{
    static uint8_t *buf;
    static size_t cap;
    size_t max = 64, got, i, at = 0;
    ws_iovec *iov = NULL;

    for (;;) {
        ws_iovec *more = realloc(iov, max * sizeof *iov);
        assert_non_null(more);
        iov = more;
        got = ws_conn_output_iov(c, iov, max, n);
        if (got < max)
            break;
        max *= 2;
    }
    if (*n + 1 > cap) {
        free(buf);
        cap = *n + 1;
        buf = malloc(cap);
        assert_non_null(buf);
    }
    for (i = 0; i < got; i++) {
        memcpy(buf + at, iov[i].base, iov[i].len);
        at += iov[i].len;
    }
    free(iov);
    return buf;
}

static void read_output(const cf_rec *r, ws_role writer, bool show_reason, cf_log *log)
{
    static const char *names[16] = {"CONT", "TEXT", "BIN",   "",     "",    "",
                                    "",     "",     "CLOSE", "PING", "PONG"};
    size_t n, pos = 0;
    const uint8_t *o = gather_output(r->c, &n);
    bool in_msg = false, closed = false;

    log_reset(log);
    while (pos < n) {
        uint8_t b0, b1, key[4] = {0, 0, 0, 0}, ctl[WS_CONTROL_PAYLOAD_MAX];
        unsigned op, len7;
        bool fin, masked;
        size_t h = 2, ext, i;
        uint64_t len;
        char e[CF_ENTRY_MAX];
        cf_str s = {e, 0, sizeof e};
        cf_sum sum;

        if (n - pos < 2)
            out_fail(r, "truncated header", pos);
        b0 = o[pos];
        b1 = o[pos + 1];
        fin = (b0 & 0x80) != 0;
        op = b0 & 0x0fu;
        masked = (b1 & 0x80) != 0;
        len7 = b1 & 0x7fu;
        if (b0 & 0x70)
            out_fail(r, "RSV bits set", pos);
        if (masked != (writer == WS_ROLE_CLIENT))
            out_fail(r,
                     writer == WS_ROLE_CLIENT ? "client frame not masked (RFC 6455 5.3)"
                                              : "server frame masked (RFC 6455 5.1)",
                     pos);
        ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
        if (n - pos < h + ext + (masked ? 4 : 0))
            out_fail(r, "truncated header", pos);
        len = ext ? 0 : len7;
        for (i = 0; i < ext; i++)
            len = (len << 8) | o[pos + h + i];
        h += ext;
        if ((ext == 2 && len < 126) || (ext == 8 && len <= 0xFFFFu))
            out_fail(r, "length not in its shortest form", pos);
        if (masked) {
            memcpy(key, o + pos + h, 4);
            h += 4;
        }
        if (len > n - pos - h)
            out_fail(r, "truncated payload", pos);
        if (names[op] == NULL || names[op][0] == '\0')
            out_fail(r, "reserved opcode", pos);
        if ((op & 8) && (!fin || len > WS_CONTROL_PAYLOAD_MAX))
            out_fail(r, "control frame fragmented or over 125 bytes", pos);
        if (op == WS_OP_CONTINUATION && !in_msg)
            out_fail(r, "continuation without a message", pos);
        if ((op == WS_OP_TEXT || op == WS_OP_BINARY) && in_msg)
            out_fail(r, "new message inside a fragmented one", pos);
        /* RFC 6455 §5.5.1: no data after a close; a pong still answers a ping (§5.5.2). */
        if (closed && op != WS_OP_PONG)
            out_fail(r, "a frame other than a pong after the close frame", pos);
        if (!(op & 8))
            in_msg = !fin;
        pos += h;
        str_put(&s, "%s%s", names[op], fin ? "" : "~");
        if (op == WS_OP_CLOSE) {
            unsigned code;
            for (i = 0; i < len; i++)
                ctl[i] = (uint8_t)(o[pos + i] ^ key[i & 3]);
            closed = true;
            if (len == 1)
                out_fail(r, "1-byte close payload", pos);
            if (len >= 2) {
                code = (unsigned)(ctl[0] << 8 | ctl[1]);
                if (!close_code_ok(code))
                    out_fail(r, "close code that may not be sent", pos);
                if (!ws_utf8_valid(ctl + 2, (size_t)len - 2))
                    out_fail(r, "close reason not UTF-8", pos);
                str_put(&s, ":%u", code);
                if (show_reason && len > 2) {
                    str_put(&s, ":");
                    str_bytes(&s, ctl + 2, (size_t)len - 2);
                }
            }
        } else {
            uint8_t block[4096];
            size_t done = 0;
            sum_reset(&sum);
            while (done < len) {
                size_t k = len - done < sizeof block ? (size_t)len - done : sizeof block;
                for (i = 0; i < k; i++)
                    block[i] = (uint8_t)(o[pos + done + i] ^ key[(done + i) & 3]);
                sum_add(&sum, r->pt, block, k);
                done += k;
            }
            str_put(&s, ":");
            sum_print(&s, &sum, r->pt);
        }
        pos += (size_t)len;
        log_entry(log, e);
    }
    log_flush(log);
}

/* ---- running a case ------------------------------------------------------------------ */

typedef struct cf_run {
    const cf_case *tc;
    const cf_input *in;
    const cf_pattern *pt;
    ws_role role;
    bool whole;
    size_t at; /* SIZE_MAX: not checked */
} cf_run;

static ws_conn *open_conn(const cf_run *run, cf_alloc *st, uint32_t *rnd)
{
    const cf_case *tc = run->tc;
    ws_config cfg;
    ws_conn *c;

    ws_config_init(&cfg, run->role);
    cfg.random = cf_random;
    cfg.random_ud = rnd;
    cfg.realloc = cf_realloc;
    cfg.realloc_ud = st;
    cfg.whole_messages = run->whole;
    cfg.auto_pong = !(tc->flags & CF_NO_AUTO_PONG);
    cfg.allow_nonminimal_length = (tc->flags & CF_NONMINIMAL) != 0;
    if (tc->max_frame)
        cfg.max_frame_size = tc->max_frame;
    if (tc->max_message)
        cfg.max_message_size = tc->max_message;
    if (tc->max_fragments)
        cfg.max_fragments = tc->max_fragments == SIZE_MAX ? 0 : tc->max_fragments; /* SIZE_MAX: 0 */
    if (tc->max_output)
        cfg.max_output = tc->max_output;
    c = ws_conn_new(&cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    return c;
}

static void check_transcript(const cf_rec *r, const char *what, const char *got, const char *expect)
{
    if (strcmp(got, expect) != 0)
        fail_msg("%s [%s]: %s\n  got    %s\n  expect %s", r->tc->id, r->where, what, got, expect);
}

/* After WS_EV_CLOSED the connection is sticky: nothing more in, nothing more out. */
static void check_after_closed(const cf_rec *r)
{
    uint8_t one[1] = {0x81};
    ws_event ev;

    if (ws_conn_phase(r->c) != WS_PHASE_CLOSED)
        rec_fail(r, "phase is not CLOSED after WS_EV_CLOSED");
    if (ws_conn_feed(r->c, one, 1) != WS_E_CLOSED)
        rec_fail(r, "feed after WS_EV_CLOSED did not return WS_E_CLOSED");
    if (ws_conn_send(r->c, WS_OP_BINARY, "x", 1) != WS_E_CLOSED)
        rec_fail(r, "send after WS_EV_CLOSED did not return WS_E_CLOSED");
    if (ws_conn_ping(r->c, "x", 1) != WS_E_CLOSED)
        rec_fail(r, "ping after WS_EV_CLOSED did not return WS_E_CLOSED");
    if (ws_conn_next_event(r->c, &ev) != WS_EV_NONE)
        rec_fail(r, "an event after WS_EV_CLOSED");
}

/* The connection of the run in progress: a failing check jumps out of the run, and the
 * next case (or the end of the group) frees what it left. */
static ws_conn *cf_live;
static unsigned long cf_runs; /* runs in the current group, for the summary line */

static void release_live(void)
{
    if (cf_live != NULL)
        ws_conn_free(cf_live);
    cf_live = NULL;
}

static void run_one(const cf_run *run, cf_plan plan)
{
    static cf_rec r;
    static cf_log out;
    static char expect[CF_TEXT_MAX];
    const cf_case *tc = run->tc;
    size_t n = run->in->n, pos = 0, win_lo = SIZE_MAX, win_hi = 0;
    static char where[128];
    char pname[64];
    static cf_alloc st; /* static: a failed run's connection is freed after it returned */
    static uint32_t rnd;
    ws_event ev;

    release_live();
    st.live = 0;
    rnd = 1;
    cf_runs++;
    plan_name(plan, n, pname, sizeof pname);
    snprintf(where, sizeof where, "%s, %s, %s", run->role == WS_ROLE_SERVER ? "server" : "client",
             run->whole ? "whole messages" : "streaming", pname);
    memset(&r, 0, sizeof r);
    r.tc = tc;
    r.pt = run->pt;
    r.whole = run->whole;
    r.where = where;
    r.lo = cf_work;
    r.hi = cf_work + n;
    log_reset(&r.log);
    r.c = cf_live = open_conn(run, &st, &rnd);
    if (ws_conn_next_event(r.c, &ev) != WS_EV_OPEN)
        rec_fail(&r, "the first event is not WS_EV_OPEN");
    if (tc->flags & CF_HOST_CLOSE)
        assert_int_equal(ws_conn_close(r.c, 1000, "bye", 3), WS_OK);
    if (tc->flags & CF_HOST_PING)
        assert_int_equal(ws_conn_ping(r.c, "hi", 2), WS_OK);

    memcpy(cf_work, cf_pristine, n);
    while (pos < n) {
        size_t piece = plan.piece ? plan.piece : (pos < plan.cut ? plan.cut - pos : n - pos);
        int rc;
        if (piece > n - pos)
            piece = n - pos;
        rc = ws_conn_feed(r.c, cf_work + pos, piece);
        if (rc == WS_E_CLOSED && r.closed)
            break;
        if (rc != WS_OK)
            fail_msg("%s [%s]: feed at %zu returned %s", tc->id, where, pos, cf_error_name(rc));
        pull(&r);
        if (r.closed && win_lo == SIZE_MAX) {
            win_lo = pos;
            win_hi = pos + piece;
        }
        pos += piece;
    }
    if (tc->flags & CF_EOF) {
        ws_conn_feed_eof(r.c);
        pull(&r);
    }
    pull(&r);
    log_flush(&r.log);

    if (run->whole)
        strip_parts(tc->events, expect, sizeof expect);
    else
        snprintf(expect, sizeof expect, "%s", tc->events);
    check_transcript(&r, "events", r.log.text, expect);

    read_output(&r, run->role, !(r.closed && r.error != WS_OK), &out);
    check_transcript(&r, "output", out.text, tc->out);

    if (run->at != SIZE_MAX && !(win_lo <= run->at && run->at < win_hi))
        fail_msg("%s [%s]: WS_EV_CLOSED must come with the feed of byte %zu; it came with "
                 "bytes [%zu, %zu)",
                 tc->id, where, run->at, win_lo == SIZE_MAX ? 0 : win_lo, win_hi);
    if (r.closed)
        check_after_closed(&r);
    release_live();
    if (st.live != 0)
        fail_msg("%s [%s]: %zu bytes not freed", tc->id, where, st.live);
}

void cf_run_case(const cf_case *tc)
{
    static cf_input in;
    static cf_pattern pt;
    static cf_plan plans[CF_PLANS_MAX];
    static const ws_role roles[2] = {WS_ROLE_SERVER, WS_ROLE_CLIENT};
    size_t r, p, np;
    int whole;

    for (r = 0; r < 2; r++) {
        cf_run run;
        if ((roles[r] == WS_ROLE_SERVER && (tc->flags & CF_CLIENT_ONLY)) ||
            (roles[r] == WS_ROLE_CLIENT && (tc->flags & CF_SERVER_ONLY)))
            continue;
        build_input(tc, roles[r], &in, &pt);
        np = make_plans(&in, plans);
        run.tc = tc;
        run.in = &in;
        run.pt = &pt;
        run.role = roles[r];
        run.at = resolve_at(tc, &in);
        for (whole = 0; whole < 2; whole++) {
            if (whole && (tc->flags & CF_STREAM_ONLY))
                continue;
            run.whole = whole != 0;
            for (p = 0; p < np; p++)
                run_one(&run, plans[p]);
        }
    }
}

static void cf_case_test(void **state)
{
    release_live();
    cf_run_case((const cf_case *)*state);
}

int cf_run_group(const char *group, const cf_case *cases, size_t count,
                 const struct CMUnitTest *extra, size_t extra_count)
{
    struct CMUnitTest *tests = calloc(count + extra_count, sizeof *tests);
    size_t i;
    int failed;

    assert_non_null(tests);
    for (i = 0; i < count; i++) {
        tests[i].name = cases[i].id;
        tests[i].test_func = cf_case_test;
        tests[i].initial_state = (void *)&cases[i];
    }
    for (i = 0; i < extra_count; i++)
        tests[count + i] = extra[i];
    cf_runs = 0;
    failed = _cmocka_run_group_tests(group, tests, count + extra_count, NULL, NULL);
    release_live();
    printf("# %s: %zu cases, %lu table runs (roles x modes x splits), %d failed\n", group,
           count + extra_count, cf_runs, failed);
    free(tests);
    return failed;
}
