/*
 * permessage-deflate through a connection: tables of frames in -> events and output out
 * (RFC 7692 §7.2.3's examples, RSV1 rules, bad data), each fed whole, byte by byte and split
 * at every offset in both delivery modes; bombs at the limit; negotiation through the
 * handshake in both roles; compressed sends; client <-> server round trips; memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_count.h"
#include "ws.h"

#ifdef WS_NO_DEFAULT_ALLOC
/* Without a default allocator, every configuration here names the C library's. */
static void test_config_init(ws_config *cfg, ws_role role)
{
    ws_config_init(cfg, role);
    cfg->realloc = plain_realloc;
}
#define ws_config_init test_config_init
#endif

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int zero_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    memset(buf, 0, len);
    return 0;
}

static const uint8_t test_key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* ---- buffers and transcripts --------------------------------------------------------- */

typedef struct dbuf {
    uint8_t *p;
    size_t len, cap;
} dbuf;

static void dbuf_put(dbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void dbuf_free(dbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

#define TMAX 4096

static void put(char *t, const char *fmt, ...)
{
    size_t used = strlen(t);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(t + used, TMAX - used, fmt, ap);
    va_end(ap);
}

/* A message in a transcript: short ones as text, long ones as length and a checksum. */
static void put_msg(char *t, const char *tag, uint8_t op, const uint8_t *p, size_t n)
{
    size_t i;
    uint32_t h = 2166136261u;

    put(t, "%s%s:", tag, op == WS_OP_TEXT ? "TEXT" : "BIN");
    if (n <= 40) {
        for (i = 0; i < n; i++)
            put(t, p[i] >= 0x20 && p[i] < 0x7f ? "%c" : "\\x%02x", p[i]);
    } else {
        for (i = 0; i < n; i++)
            h = (h ^ p[i]) * 16777619u;
        put(t, "#%zu/%08x", n, (unsigned)h);
    }
    put(t, "|");
}

/* Events joined into messages, so that any split of the input gives the same text. */
typedef struct recorder {
    char text[TMAX];
    dbuf msg;
    uint8_t op;
    size_t chunks; /* WS_EV_CHUNK events, for the bound on chunk sizes */
    size_t max_chunk;
} recorder;

static void record(recorder *r, const ws_event *ev)
{
    switch (ev->type) {
    case WS_EV_OPEN:
        put(r->text, "OPEN|");
        break;
    case WS_EV_CHUNK:
        assert_non_null(ev->data);
        dbuf_put(&r->msg, ev->data, ev->len);
        r->op = (uint8_t)ev->opcode;
        r->chunks++;
        if (ev->len > r->max_chunk)
            r->max_chunk = ev->len;
        if (ev->message_final) {
            put_msg(r->text, "", r->op, r->msg.p, r->msg.len);
            r->msg.len = 0;
        }
        break;
    case WS_EV_MESSAGE:
        assert_non_null(ev->data);
        assert_int_equal(r->msg.len, 0);
        put_msg(r->text, "", (uint8_t)ev->opcode, ev->data, ev->len);
        break;
    case WS_EV_PING:
        put(r->text, "PING|");
        break;
    case WS_EV_PONG:
        put(r->text, "PONG|");
        break;
    case WS_EV_CLOSE:
        put(r->text, "CLOSE:%u|", ev->close_code);
        break;
    case WS_EV_CLOSED:
        if (r->msg.len) { /* the part of a message an error cut short */
            put_msg(r->text, "PART:", r->op, r->msg.p, r->msg.len);
            r->msg.len = 0;
        }
        put(r->text, "CLOSED:%u:%d", ev->close_code, ev->error);
        break;
    default:
        fail_msg("unexpected event %d", ev->type);
    }
}

static void drain(ws_conn *c, recorder *r)
{
    ws_event ev;
    while (ws_conn_next_event(c, &ev) != WS_EV_NONE)
        record(r, &ev);
}

/* Takes everything c wrote. */
static void take_output(ws_conn *c, dbuf *out)
{
    const uint8_t *p;
    size_t n;

    while ((n = ws_conn_output(c, &p)) > 0) {
        dbuf_put(out, p, n);
        ws_conn_consume(c, n);
    }
}

/* ---- frames and codecs ----------------------------------------------------------------- */

#define FIN  0x80
#define RSV1 0x40
#define RSV2 0x20

/* Appends a frame as a client sends it to a server (masked). */
static void put_frame(dbuf *b, int b0, const void *p, size_t n)
{
    ws_frame_header h;
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    size_t start;
    int hl;

    memset(&h, 0, sizeof h);
    h.fin = (b0 & FIN) != 0;
    h.rsv = (uint8_t)(b0 & 0x70);
    h.opcode = (uint8_t)(b0 & 0x0f);
    h.length = n;
    h.masked = true;
    memcpy(h.mask, test_key, 4);
    hl = ws_frame_header_encode(hdr, &h);
    assert_true(hl > 0);
    dbuf_put(b, hdr, (size_t)hl);
    start = b->len;
    dbuf_put(b, p, n);
    ws_mask(b->p + start, n, test_key, 0);
}

/* Compresses msg as one message (the payload of its frames, tail removed). */
static void compress_msg(ws_deflater *d, const uint8_t *msg, size_t n, dbuf *out)
{
    size_t pos = 0;
    int rc;

    do {
        uint8_t buf[8192];
        size_t used, made;
        rc = ws_deflater_step(d, msg + pos, n - pos, true, buf, sizeof buf, &used, &made);
        assert_true(rc >= 0);
        pos += used;
        dbuf_put(out, buf, made);
    } while (rc != WS_DEFLATE_END);
}

/* A server connection already open (as after RFC 8441), with params when not NULL. */
static ws_conn *open_server(bool whole, uint64_t limit, const ws_deflate_params *p)
{
    ws_config cfg;
    ws_conn *c;
    ws_event ev;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.whole_messages = whole;
    cfg.max_message_size = limit;
    c = ws_conn_new(&cfg);
    assert_non_null(c);
    if (p != NULL)
        assert_int_equal(ws_conn_set_deflate(c, p), WS_OK);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    return c;
}

/* Feeds in[0..n) cut at the given offsets (ascending, inside 0..n), and returns the
 * transcript and what the connection wrote. */
static void run_cuts(ws_conn *c, const uint8_t *in, size_t n, const size_t *cuts, size_t ncuts,
                     recorder *r, dbuf *out)
{
    uint8_t *copy = malloc(n ? n : 1);
    size_t from = 0, i;

    assert_non_null(copy);
    memcpy(copy, in, n);
    for (i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        if (ws_conn_feed(c, copy + from, to - from) == WS_OK)
            drain(c, r);
        from = to;
    }
    ws_conn_feed_eof(c);
    drain(c, r);
    take_output(c, out);
    free(copy);
}

/* ---- the receive table ----------------------------------------------------------------- */

typedef struct rx_frame {
    int b0;
    const char *p;
    size_t n;
} rx_frame;

#define F(b0, s)                                                                                   \
    {                                                                                              \
        (b0), (s), sizeof(s) - 1                                                                   \
    }

typedef struct rx_case {
    const char *name;
    ws_deflate_params params;
    rx_frame in[6];
    const char *events;  /* after OPEN; then CLOSED at end of input (EOF: 1006) */
    uint16_t close_sent; /* code of the close frame the server sent, 0 for none */
} rx_case;

#define T1 (FIN | WS_OP_TEXT)
#define T0 (WS_OP_TEXT)
#define B1 (FIN | WS_OP_BINARY)
#define C1 (FIN | WS_OP_CONTINUATION)
#define C0 (WS_OP_CONTINUATION)

#define CT                                                                                         \
    {                                                                                              \
        false, false, 15, 15                                                                       \
    }
#define NCT                                                                                        \
    {                                                                                              \
        true, true, 15, 15                                                                         \
    }

/* RFC 7692 §7.2.3's bytes for "Hello". */
#define HELLO       "\xf2\x48\xcd\xc9\xc9\x07\x00"
#define HELLO_AGAIN "\xf2\x00\x11\x00\x00" /* with the first "Hello" as history */
#define EOF_CLOSED  "CLOSED:1006:-36"      /* WS_E_EOF */

static const rx_case rx_cases[] = {
    {"7.2.3.1 Hello compressed", CT, {F(T1 | RSV1, HELLO)}, "TEXT:Hello|" EOF_CLOSED, 0},
    {"7.2.3.1 fragmented",
     CT,
     {F(T0 | RSV1, "\xf2\x48\xcd"), F(C1, "\xc9\xc9\x07\x00")},
     "TEXT:Hello|" EOF_CLOSED,
     0},
    {"7.2.3.2 context takeover",
     CT,
     {F(T1 | RSV1, HELLO), F(T1 | RSV1, HELLO_AGAIN)},
     "TEXT:Hello|TEXT:Hello|" EOF_CLOSED,
     0},
    {"7.2.3.2 no context takeover: the same bytes twice",
     NCT,
     {F(T1 | RSV1, HELLO), F(T1 | RSV1, HELLO)},
     "TEXT:Hello|TEXT:Hello|" EOF_CLOSED,
     0},
    {"no context takeover: a reference to the last message is bad data",
     NCT,
     {F(T1 | RSV1, HELLO), F(T1 | RSV1, HELLO_AGAIN)},
     "TEXT:Hello|PART:TEXT:H|CLOSED:1007:-42",
     1007},
    {"7.2.3.3 no-compression block",
     CT,
     {F(B1 | RSV1, "\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00")},
     "BIN:Hello|" EOF_CLOSED,
     0},
    {"7.2.3.4 BFINAL set",
     CT,
     {F(T1 | RSV1, "\xf3\x48\xcd\xc9\xc9\x07\x00\x00")},
     "TEXT:Hello|" EOF_CLOSED,
     0},
    {"7.2.3.4 BFINAL, then a new stream",
     CT,
     {F(T1 | RSV1, "\xf3\x48\xcd\xc9\xc9\x07\x00\x00"), F(T1 | RSV1, HELLO)},
     "TEXT:Hello|TEXT:Hello|" EOF_CLOSED,
     0},
    {"7.2.3.5 two blocks",
     CT,
     {F(T1 | RSV1, "\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00")},
     "TEXT:Hello|" EOF_CLOSED,
     0},
    {"an empty message: the single byte 00", CT, {F(T1 | RSV1, "\x00")}, "TEXT:|" EOF_CLOSED, 0},
    {"empty payload with RSV1: an empty message", CT, {F(B1 | RSV1, "")}, "BIN:|" EOF_CLOSED, 0},
    /* A sender must remove the tail (§7.2.1); one that leaves it in still gets its message
     * through, the tail being an empty block. */
    {"the tail sent anyway: 00 00 ff ff left in",
     CT,
     {F(T1 | RSV1, HELLO "\x00\x00\xff\xff")},
     "TEXT:Hello|" EOF_CLOSED,
     0},
    {"an uncompressed message between compressed ones",
     CT,
     {F(T1 | RSV1, HELLO), F(T1, "plain"), F(T1 | RSV1, HELLO_AGAIN)},
     "TEXT:Hello|TEXT:plain|TEXT:Hello|" EOF_CLOSED,
     0},
    {"a ping between compressed fragments",
     CT,
     {F(T0 | RSV1, "\xf2\x48\xcd"), F(FIN | WS_OP_PING, "p"), F(C1, "\xc9\xc9\x07\x00")},
     "PING|TEXT:Hello|" EOF_CLOSED,
     0},
    {"RSV1 on a continuation: 1002",
     CT,
     {F(T0 | RSV1, "\xf2\x48\xcd"), F(C1 | RSV1, "\xc9\xc9\x07\x00")},
     "PART:TEXT:He|CLOSED:1002:-20",
     1002},
    {"RSV1 on a continuation of an uncompressed message: 1002",
     CT,
     {F(T0, "He"), F(C1 | RSV1, "llo")},
     "PART:TEXT:He|CLOSED:1002:-20",
     1002},
    {"RSV1 on a ping: 1002", CT, {F(FIN | WS_OP_PING | RSV1, "x")}, "CLOSED:1002:-20", 1002},
    {"RSV1 on a close: 1002", CT, {F(FIN | WS_OP_CLOSE | RSV1, "")}, "CLOSED:1002:-20", 1002},
    {"RSV2 stays reserved: 1002", CT, {F(T1 | RSV2, HELLO)}, "CLOSED:1002:-20", 1002},
    {"bad compressed data: 1007", CT, {F(T1 | RSV1, "\xff\xff\xff\xff")}, "CLOSED:1007:-42", 1007},
    {"inflated text that is not UTF-8: 1007",
     CT,
     /* "He\xff" as a stored block */
     {F(T1 | RSV1, "\x00\x03\x00\xfc\xff\x48\x65\xff")},
     "PART:TEXT:He|CLOSED:1007:-33",
     1007},
    {"inflated text cut inside a character: 1007",
     CT,
     {F(T1 | RSV1, "\x00\x02\x00\xfd\xff\x41\xc3")},
     "PART:TEXT:A\\xc3|CLOSED:1007:-33",
     1007},
};

static void build_case(const rx_case *k, dbuf *in)
{
    size_t i;
    for (i = 0; i < COUNT(k->in) && k->in[i].p != NULL; i++)
        put_frame(in, k->in[i].b0, k->in[i].p, k->in[i].n);
}

/* The close code of the last close frame in a server's output (0 when none). */
static unsigned close_code_of(const dbuf *out)
{
    ws_frame_decoder d;
    uint8_t *copy = malloc(out->len + 1);
    size_t pos = 0;
    unsigned code = 0;

    assert_non_null(copy);
    if (out->len)
        memcpy(copy, out->p, out->len);
    ws_frame_decoder_init(&d, WS_ROLE_CLIENT);
    d.max_frame_size = 0;
    while (pos < out->len) {
        size_t used = 0, clen = 0;
        uint8_t *chunk = NULL;
        int r = ws_frame_decode(&d, copy + pos, out->len - pos, &used, &chunk, &clen);
        assert_true(r >= 0);
        pos += used;
        if (r == WS_FRAME_END && d.header.opcode == WS_OP_CLOSE && clen >= 2)
            code = (unsigned)(chunk[0] << 8 | chunk[1]);
        if (r == WS_FRAME_NEED_MORE)
            break;
    }
    free(copy);
    return code;
}

/* One stream through a fresh server, cut at cuts. */
static void run_stream(const ws_deflate_params *p, bool whole, uint64_t limit, const dbuf *in,
                       const size_t *cuts, size_t ncuts, char *text, unsigned *close_code)
{
    ws_conn *c = open_server(whole, limit, p);
    recorder r;
    dbuf out = {0};

    memset(&r, 0, sizeof r);
    run_cuts(c, in->p, in->len, cuts, ncuts, &r, &out);
    strcpy(text, r.text);
    if (close_code != NULL)
        *close_code = close_code_of(&out);
    if (!whole)
        assert_true(r.max_chunk <= 4096 || p == NULL);
    dbuf_free(&out);
    dbuf_free(&r.msg);
    ws_conn_free(c);
}

/* Whole, byte by byte, and cut once at every offset, in both delivery modes: the same
 * events every time. */
static void check_every_split(const ws_deflate_params *p, uint64_t limit, const dbuf *in,
                              const char *want_chunks, unsigned want_close)
{
    static char got[TMAX];
    /* Whole-message mode delivers nothing of a message an error cut short. */
    static char want_whole[TMAX];
    const char *part = strstr(want_chunks, "PART:");
    const char *want;
    size_t *cuts = malloc((in->len + 1) * sizeof *cuts);
    int whole;
    size_t k;

    assert_non_null(cuts);
    snprintf(want_whole, sizeof want_whole, "%s", want_chunks);
    if (part != NULL)
        snprintf(want_whole + (part - want_chunks),
                 sizeof want_whole - (size_t)(part - want_chunks), "%s", strchr(part, '|') + 1);
    for (k = 0; k < in->len; k++)
        cuts[k] = k + 1;
    for (whole = 0; whole < 2; whole++) {
        unsigned code = 0;
        want = whole ? want_whole : want_chunks;
        run_stream(p, whole != 0, limit, in, NULL, 0, got, &code);
        if (strcmp(got, want) != 0)
            fail_msg("%s whole: got '%s' want '%s'", whole ? "messages" : "chunks", got, want);
        assert_int_equal(code, want_close);
        run_stream(p, whole != 0, limit, in, cuts, in->len > 0 ? in->len - 1 : 0, got, NULL);
        if (strcmp(got, want) != 0)
            fail_msg("%s byte by byte: got '%s' want '%s'", whole ? "messages" : "chunks", got,
                     want);
        for (k = 1; k < in->len; k++) {
            run_stream(p, whole != 0, limit, in, &k, 1, got, NULL);
            if (strcmp(got, want) != 0)
                fail_msg("%s cut at %zu: got '%s' want '%s'", whole ? "messages" : "chunks", k, got,
                         want);
        }
    }
    free(cuts);
}

static void test_receive_table(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < COUNT(rx_cases); i++) {
        const rx_case *k = &rx_cases[i];
        dbuf in = {0};

        build_case(k, &in);
        print_message("# %s\n", k->name);
        check_every_split(&k->params, 1 << 20, &in, k->events, k->close_sent);
        dbuf_free(&in);
    }
}

/* Without permessage-deflate in use, RSV1 is a protocol error as before. */
static void test_rsv1_without_deflate(void **state)
{
    char got[TMAX];
    dbuf in = {0};
    unsigned code = 0;
    (void)state;

    put_frame(&in, T1 | RSV1, HELLO, sizeof HELLO - 1);
    run_stream(NULL, false, 1 << 20, &in, NULL, 0, got, &code);
    assert_string_equal(got, "CLOSED:1002:-20");
    assert_int_equal(code, 1002);
    dbuf_free(&in);
}

/* ---- bombs and limits ------------------------------------------------------------------ */

/* A message of n bytes (zeros, or pseudo-random text when random) compressed by a client
 * with params at level, framed in frames of at most frame bytes of payload. */
static void build_message(const ws_deflate_params *p, int level, size_t n, bool random,
                          size_t frame, dbuf *in)
{
    ws_deflate_config cfg;
    ws_deflater *d;
    dbuf z = {0};
    uint8_t *msg = calloc(n ? n : 1, 1);
    size_t pos = 0;
    uint32_t seed = 7;

    assert_non_null(msg);
    if (random) {
        size_t i;
        for (i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            msg[i] = (uint8_t)('a' + (seed >> 16) % 26);
        }
    }
    ws_deflate_config_init(&cfg);
    cfg.level = level;
    assert_int_equal(
        ws_deflater_new(&d, p, WS_ROLE_CLIENT, &cfg, count_realloc, &(alloc_stats){0, 0, 0}),
        WS_OK);
    compress_msg(d, msg, n, &z);
    ws_deflater_free(d);
    do {
        size_t k = z.len - pos < frame ? z.len - pos : frame;
        int b0 =
            (pos == 0 ? WS_OP_BINARY | RSV1 : WS_OP_CONTINUATION) | (pos + k == z.len ? FIN : 0);
        put_frame(in, b0, z.p + pos, k);
        pos += k;
    } while (pos < z.len);
    dbuf_free(&z);
    free(msg);
}

/* Messages of limit - 1, limit and limit + 1 inflated bytes: the first two arrive, the last
 * fails with 1009 once the limit is crossed, in both modes, whatever the cuts. */
static void test_bombs_at_the_limit(void **state)
{
    static const size_t limits[] = {1, 2, 15, 16, 17, 100, 4095, 4096, 4097, 20000};
    ws_deflate_params p = CT;
    size_t i;
    (void)state;

    for (i = 0; i < COUNT(limits); i++) {
        size_t L = limits[i], n;
        for (n = L - 1; n <= L + 1; n++) {
            char want[TMAX] = "";
            dbuf in = {0};
            uint8_t *zeros = calloc(n + 1, 1);

            assert_non_null(zeros);
            build_message(&p, 6, n, false, L < 200 ? 3 : 1000, &in);
            if (n <= L) {
                put_msg(want, "", WS_OP_BINARY, zeros, n);
                put(want, EOF_CLOSED);
            } else {
                put_msg(want, "PART:", WS_OP_BINARY, zeros, L);
                put(want, "CLOSED:1009:%d", WS_E_MESSAGE_TOO_BIG);
            }
            if (in.len < 200) {
                check_every_split(&p, L, &in, want, n <= L ? 0 : 1009);
            } else { /* long streams: whole and byte by byte */
                char got[TMAX];
                const char *w = n > L ? strchr(want, '|') + 1 : want;
                int whole;
                for (whole = 0; whole < 2; whole++) {
                    size_t k, *cuts = malloc(in.len * sizeof *cuts);
                    unsigned code;
                    assert_non_null(cuts);
                    for (k = 0; k + 1 < in.len; k++)
                        cuts[k] = k + 1;
                    run_stream(&p, whole != 0, L, &in, NULL, 0, got, &code);
                    assert_string_equal(got, whole ? w : want);
                    assert_int_equal(code, n <= L ? 0 : 1009);
                    run_stream(&p, whole != 0, L, &in, cuts, in.len - 1, got, NULL);
                    assert_string_equal(got, whole ? w : want);
                    free(cuts);
                }
            }
            free(zeros);
            dbuf_free(&in);
        }
    }
}

/* 64 MiB of zeros against a 1 MiB limit: stopped with 1009 long before the end. */
static void test_big_bomb(void **state)
{
    ws_deflate_params p = CT;
    dbuf in = {0};
    char got[TMAX];
    unsigned code;
    (void)state;

    build_message(&p, 9, 64u << 20, false, 1u << 20, &in);
    run_stream(&p, false, 1u << 20, &in, NULL, 0, got, &code);
    assert_int_equal(code, 1009);
    assert_non_null(strstr(got, "PART:BIN:#1048576/"));
    run_stream(&p, true, 1u << 20, &in, NULL, 0, got, &code);
    assert_int_equal(code, 1009);
    assert_string_equal(got, "CLOSED:1009:-29");
    /* It fails in the middle of its one frame, as soon as the limit is crossed: fed in
     * 512-byte reads, long before the frame's end. */
    {
        int whole;
        for (whole = 0; whole < 2; whole++) {
            ws_conn *c = open_server(whole != 0, 1u << 20, &p);
            uint8_t *copy = malloc(in.len); /* feeding unmasks in place */
            size_t pos = 0;
            ws_event ev;
            bool closed = false;

            assert_non_null(copy);
            memcpy(copy, in.p, in.len);
            while (pos < in.len && !closed) {
                size_t k = in.len - pos < 512 ? in.len - pos : 512;
                assert_int_equal(ws_conn_feed(c, copy + pos, k), WS_OK);
                pos += k;
                while (ws_conn_next_event(c, &ev) != WS_EV_NONE)
                    if (ev.type == WS_EV_CLOSED) {
                        assert_int_equal(ev.error, WS_E_MESSAGE_TOO_BIG);
                        closed = true;
                    }
            }
            assert_true(closed);
            print_message("# 64 MiB bomb (%zu B compressed): 1009 after %zu B read\n", in.len, pos);
            assert_true(pos < in.len / 8);
            ws_conn_free(c);
            free(copy);
        }
    }
    dbuf_free(&in);
}

/* Incompressible data at the limit is a little longer on the wire than inflated: it is the
 * inflated size that max_message_size bounds. */
static void test_stored_message_at_the_limit(void **state)
{
    ws_deflate_params p = CT;
    dbuf in = {0};
    char got[TMAX];
    unsigned code;
    int whole;
    (void)state;

    build_message(&p, 0, 70000, true, 100000, &in);
    assert_true(in.len > 70000 + 14);
    for (whole = 0; whole < 2; whole++) {
        run_stream(&p, whole != 0, 70000, &in, NULL, 0, got, &code);
        assert_int_equal(code, 0);
        assert_non_null(strstr(got, "BIN:#70000/"));
    }
    dbuf_free(&in);
}

/* Fragmented compressed messages, in frames of 1 to 7 bytes and across context takeover. */
static void test_fragmented_messages(void **state)
{
    ws_deflate_params params[] = {CT, NCT};
    size_t i, frame;
    (void)state;

    for (i = 0; i < COUNT(params); i++) {
        for (frame = 1; frame <= 7; frame += 3) {
            dbuf in = {0};
            char want[TMAX] = "";
            char got[TMAX];
            uint8_t *zeros = calloc(300, 1);
            int whole;

            assert_non_null(zeros);
            build_message(&params[i], 6, 300, false, frame, &in);
            put_msg(want, "", WS_OP_BINARY, zeros, 300);
            put(want, EOF_CLOSED);
            for (whole = 0; whole < 2; whole++) {
                unsigned code;
                run_stream(&params[i], whole != 0, 1 << 20, &in, NULL, 0, got, &code);
                assert_string_equal(got, want);
            }
            free(zeros);
            dbuf_free(&in);
        }
    }
}

/* ---- negotiation through the handshake ------------------------------------------------- */

#define REQUEST_HEAD                                                                               \
    "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"     \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

typedef struct offer_case {
    const char *headers; /* Sec-WebSocket-Extensions lines, or "" */
    bool enable;
    uint8_t client_max; /* cfg.client_max_window_bits (0: 15) */
    const char *answer; /* expected Sec-WebSocket-Extensions of the 101, NULL for none */
} offer_case;

static const offer_case offer_cases[] = {
    {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", true, 0,
     "permessage-deflate"},
    {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", false, 0, NULL},
    {"", true, 0, NULL},
    {"Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n", true, 0, NULL},
    /* the first offer is invalid (unknown parameter): declined, the second one wins */
    {"Sec-WebSocket-Extensions: permessage-deflate; foo\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
     true, 0, "permessage-deflate; server_no_context_takeover"},
    /* several offers in one header, first acceptable one */
    {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7, "
     "permessage-deflate; server_max_window_bits=10, permessage-deflate\r\n",
     true, 0, "permessage-deflate; server_max_window_bits=10"},
    /* the server limits the client's window: an offer without client_max_window_bits is
     * declined, the next one answered with the limit */
    {"Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate; "
     "client_max_window_bits\r\n",
     true, 10, "permessage-deflate; client_max_window_bits=10"},
    /* every offer invalid: no compression, the handshake goes on */
    {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=08, "
     "permessage-deflate; client_no_context_takeover=1\r\n",
     true, 0, NULL},
    /* a list that does not parse */
    {"Sec-WebSocket-Extensions: permessage-deflate;;\r\n", true, 0, NULL},
};

static void test_server_negotiation(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < COUNT(offer_cases); i++) {
        const offer_case *k = &offer_cases[i];
        ws_config cfg;
        ws_conn *c;
        ws_event ev;
        ws_deflate_params p;
        char req[1024];
        dbuf out = {0};
        char *resp, *ext;

        ws_config_init(&cfg, WS_ROLE_SERVER);
        cfg.deflate.enable = k->enable;
        if (k->client_max)
            cfg.deflate.client_max_window_bits = k->client_max;
        c = ws_conn_new(&cfg);
        assert_non_null(c);
        snprintf(req, sizeof req, "%s%s\r\n", REQUEST_HEAD, k->headers);
        assert_int_equal(ws_conn_feed(c, (uint8_t *)req, strlen(req)), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
        assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
        take_output(c, &out);
        dbuf_put(&out, "", 1);
        resp = (char *)out.p;
        assert_non_null(strstr(resp, "HTTP/1.1 101 "));
        ext = strstr(resp, "Sec-WebSocket-Extensions: ");
        if (k->answer == NULL) {
            assert_null(ext);
            assert_false(ws_conn_deflate_params(c, &p));
            assert_null(ev.extensions);
        } else {
            char line[256];
            assert_non_null(ext);
            snprintf(line, sizeof line, "Sec-WebSocket-Extensions: %s\r\n", k->answer);
            assert_true(strncmp(ext, line, strlen(line)) == 0);
            assert_true(ws_conn_deflate_params(c, &p));
            assert_non_null(ev.extensions);
            assert_true(strncmp(ev.extensions, "permessage-deflate", 18) == 0);
        }
        dbuf_free(&out);
        ws_conn_free(c);
    }
}

/* A request handed off by the host's own HTTP server is negotiated the same way. */
static void test_handoff_negotiation(void **state)
{
    static const ws_header headers[] = {
        {"Host", 4, "example.com", 11},
        {"Upgrade", 7, "websocket", 9},
        {"Connection", 10, "Upgrade", 7},
        {"Sec-WebSocket-Key", 17, "dGhlIHNhbXBsZSBub25jZQ==", 24},
        {"Sec-WebSocket-Version", 21, "13", 2},
        {"Sec-WebSocket-Extensions", 24, "permessage-deflate; server_max_window_bits=11", 45},
    };
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    ws_deflate_params p;
    dbuf out = {0};
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.deflate.enable = true;
    c = ws_conn_new(&cfg);
    assert_int_equal(ws_conn_handoff(c, "GET", 3, "/", 1, 1, headers, COUNT(headers), NULL, 0),
                     WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    take_output(c, &out);
    dbuf_put(&out, "", 1);
    assert_non_null(
        strstr((char *)out.p,
               "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11\r\n"));
    assert_true(ws_conn_deflate_params(c, &p));
    assert_int_equal(p.server_max_window_bits, 11);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ev.extensions_len, strlen("permessage-deflate; server_max_window_bits=11"));
    dbuf_free(&out);
    ws_conn_free(c);
}

/* A connection that sent its request; *offer gets its extensions line. */
static ws_conn *client_connect(const ws_deflate_config *dc, bool whole, char *offer, size_t cap)
{
    ws_config cfg;
    ws_client_opts o;
    ws_conn *c;
    dbuf out = {0};
    char *line;

    ws_config_init(&cfg, WS_ROLE_CLIENT);
    cfg.random = zero_random;
    cfg.whole_messages = whole;
    if (dc != NULL)
        cfg.deflate = *dc;
    c = ws_conn_new(&cfg);
    assert_non_null(c);
    memset(&o, 0, sizeof o);
    o.url = "ws://example.com/chat";
    assert_int_equal(ws_conn_connect(c, &o), WS_OK);
    take_output(c, &out);
    dbuf_put(&out, "", 1);
    offer[0] = '\0';
    line = strstr((char *)out.p, "Sec-WebSocket-Extensions: ");
    if (line != NULL) {
        size_t n = strcspn(line, "\r");
        assert_true(n < cap);
        memcpy(offer, line, n);
        offer[n] = '\0';
    }
    dbuf_free(&out);
    return c;
}

/* Feeds a 101 with the given extra header lines; returns the event that follows. */
static ws_event_type client_answer(ws_conn *c, const char *ext_lines, ws_event *ev)
{
    char accept[WS_ACCEPT_KEY_SIZE + 1];
    static char resp[1024];

    /* zero_random: the key is 16 zero bytes */
    ws_accept_key("AAAAAAAAAAAAAAAAAAAAAA==", 24, accept);
    accept[WS_ACCEPT_KEY_SIZE] = '\0';
    snprintf(resp, sizeof resp,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n%s\r\n",
             accept, ext_lines);
    assert_int_equal(ws_conn_feed(c, (uint8_t *)resp, strlen(resp)), WS_OK);
    return ws_conn_next_event(c, ev);
}

typedef struct answer_case {
    const char *lines;
    bool ok;     /* OPEN, else CLOSED with WS_E_HTTP_EXTENSION */
    bool in_use; /* permessage-deflate in use after OPEN */
    ws_deflate_params want;
    uint8_t client_max; /* cfg.client_max_window_bits (0: 15) */
    bool snct;          /* cfg insists on server_no_context_takeover */
} answer_case;

static const answer_case answer_cases[] = {
    {"Sec-WebSocket-Extensions: permessage-deflate\r\n", true, true, {false, false, 15, 15}},
    {"", true, false, {false, false, 0, 0}},
    {"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10\r\n",
     true,
     true,
     {true, true, 9, 10}},
    {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"12\"\r\n",
     true,
     true,
     {false, false, 15, 12}},
    /* an extension that was not offered */
    {"Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n", false},
    /* unknown parameter, duplicate parameter, a value on a flag */
    {"Sec-WebSocket-Extensions: permessage-deflate; foo\r\n", false},
    {"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
     "server_no_context_takeover\r\n",
     false},
    {"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover=1\r\n", false},
    /* windows: out of range, leading zero, missing value */
    {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16\r\n", false},
    {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=09\r\n", false},
    {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", false},
    /* a client window above what the client allowed */
    {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=12\r\n",
     false,
     false,
     {false, false, 0, 0},
     11},
    /* server_no_context_takeover insisted on and missing */
    {"Sec-WebSocket-Extensions: permessage-deflate\r\n",
     false,
     false,
     {false, false, 0, 0},
     0,
     true},
    /* two answers */
    {"Sec-WebSocket-Extensions: permessage-deflate\r\n"
     "Sec-WebSocket-Extensions: permessage-deflate\r\n",
     false},
};

static void test_client_negotiation(void **state)
{
    size_t i;
    (void)state;

    for (i = 0; i < COUNT(answer_cases); i++) {
        const answer_case *k = &answer_cases[i];
        ws_deflate_config dc;
        ws_deflate_params p;
        ws_event ev;
        char offer[256];
        ws_conn *c;

        ws_deflate_config_init(&dc);
        dc.enable = true;
        if (k->client_max)
            dc.client_max_window_bits = k->client_max;
        dc.server_no_context_takeover = k->snct;
        c = client_connect(&dc, false, offer, sizeof offer);
        assert_true(strncmp(offer, "Sec-WebSocket-Extensions: permessage-deflate", 44) == 0);
        if (k->ok) {
            assert_int_equal(client_answer(c, k->lines, &ev), WS_EV_OPEN);
            assert_int_equal(ws_conn_deflate_params(c, &p), k->in_use);
            if (k->in_use) {
                assert_int_equal(p.server_no_context_takeover, k->want.server_no_context_takeover);
                assert_int_equal(p.client_no_context_takeover, k->want.client_no_context_takeover);
                assert_int_equal(p.server_max_window_bits, k->want.server_max_window_bits);
                assert_int_equal(p.client_max_window_bits, k->want.client_max_window_bits);
            }
        } else {
            const uint8_t *o;
            if (client_answer(c, k->lines, &ev) != WS_EV_CLOSED)
                fail_msg("answer %zu accepted: %s", i, k->lines);
            assert_int_equal(ev.error, WS_E_HTTP_EXTENSION);
            assert_false(ws_conn_deflate_params(c, NULL));
            /* failed, not open: nothing is sent, the host closes the transport */
            assert_int_equal(ws_conn_output(c, &o), 0);
        }
        ws_conn_free(c);
    }
}

/* The client offers nothing unless asked, and refuses an answer to an offer it did not make. */
static void test_client_without_offer(void **state)
{
    ws_event ev;
    char offer[256];
    ws_conn *c = client_connect(NULL, false, offer, sizeof offer);
    (void)state;

    assert_string_equal(offer, "");
    assert_int_equal(client_answer(c, "Sec-WebSocket-Extensions: permessage-deflate\r\n", &ev),
                     WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_HTTP_EXTENSION);
    ws_conn_free(c);
}

/* The host's own extensions are still refused: libws answers permessage-deflate itself. */
static void test_host_extensions_refused(void **state)
{
    ws_config cfg;
    ws_client_opts o;
    ws_conn *c;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_CLIENT);
    cfg.random = zero_random;
    c = ws_conn_new(&cfg);
    memset(&o, 0, sizeof o);
    o.url = "ws://example.com/";
    o.extensions = "permessage-deflate";
    assert_int_equal(ws_conn_connect(c, &o), WS_E_HTTP_EXTENSION);
    ws_conn_free(c);
}

/* ---- sending --------------------------------------------------------------------------- */

/* The first byte of every frame in a server's output, in order. */
static size_t frame_heads(const dbuf *out, uint8_t *heads, size_t cap)
{
    ws_frame_decoder d;
    uint8_t *copy = malloc(out->len + 1);
    size_t pos = 0, n = 0;

    assert_non_null(copy);
    if (out->len)
        memcpy(copy, out->p, out->len);
    ws_frame_decoder_init(&d, WS_ROLE_CLIENT);
    d.allowed_rsv = WS_RSV1;
    d.max_frame_size = 0;
    while (pos < out->len) {
        size_t used = 0, clen = 0;
        uint8_t *chunk = NULL;
        int r = ws_frame_decode(&d, copy + pos, out->len - pos, &used, &chunk, &clen);
        assert_true(r >= 0);
        pos += used;
        if (r == WS_FRAME_HEADER && n < cap)
            heads[n++] = (uint8_t)((d.header.fin ? FIN : 0) | d.header.rsv | d.header.opcode);
        if (r == WS_FRAME_NEED_MORE)
            break;
    }
    free(copy);
    return n;
}

/* What a client with params makes of a server's output. */
static void client_reads(const ws_deflate_params *p, const dbuf *out, recorder *r)
{
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    uint8_t *copy = malloc(out->len + 1);

    assert_non_null(copy);
    if (out->len)
        memcpy(copy, out->p, out->len);
    ws_config_init(&cfg, WS_ROLE_CLIENT);
    cfg.random = zero_random;
    c = ws_conn_new(&cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_set_deflate(c, p), WS_OK);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ws_conn_feed(c, copy, out->len), WS_OK);
    drain(c, r);
    ws_conn_free(c);
    free(copy);
}

static void test_send_compression(void **state)
{
    ws_deflate_params p = CT;
    ws_conn *c = open_server(false, 1 << 20, &p);
    char big[200], want[TMAX] = "";
    uint8_t heads[16];
    dbuf out = {0};
    recorder r;
    size_t n;
    (void)state;

    memset(big, 'a', sizeof big);
    memset(&r, 0, sizeof r);
    assert_int_equal(ws_conn_send(c, WS_OP_TEXT, big, sizeof big), WS_OK); /* compressed */
    assert_int_equal(ws_conn_send(c, WS_OP_TEXT, big, 63), WS_OK);         /* < min_size */
    assert_int_equal(ws_conn_send(c, WS_OP_BINARY, big, 64), WS_OK);       /* = min_size */
    assert_int_equal(ws_conn_send_ex(c, WS_OP_TEXT, big, sizeof big, WS_SEND_NO_COMPRESS), WS_OK);
    assert_int_equal(ws_conn_send_ex(c, WS_OP_TEXT, big, 1, 0x2u), WS_E_INVALID);
    assert_int_equal(ws_conn_ping(c, big, 100), WS_OK); /* control: never */
    /* fragmented: the first fragment decides */
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_BINARY, big, 100, false), WS_OK);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, big, 10, false), WS_OK);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, big, 0, true), WS_OK);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_TEXT, big, 10, false), WS_OK);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, big, 150, true), WS_OK);
    /* context takeover: the same message again is much smaller */
    assert_int_equal(ws_conn_send(c, WS_OP_TEXT, big, sizeof big), WS_OK);
    take_output(c, &out);
    n = frame_heads(&out, heads, sizeof heads);
    assert_int_equal(n, 11);
    assert_int_equal(heads[0], FIN | RSV1 | WS_OP_TEXT);
    assert_int_equal(heads[1], FIN | WS_OP_TEXT);
    assert_int_equal(heads[2], FIN | RSV1 | WS_OP_BINARY);
    assert_int_equal(heads[3], FIN | WS_OP_TEXT);
    assert_int_equal(heads[4], FIN | WS_OP_PING);
    assert_int_equal(heads[5], RSV1 | WS_OP_BINARY);
    assert_int_equal(heads[6], WS_OP_CONTINUATION);
    assert_int_equal(heads[7], FIN | WS_OP_CONTINUATION);
    assert_int_equal(heads[8], WS_OP_TEXT);
    assert_int_equal(heads[9], FIN | WS_OP_CONTINUATION);
    assert_int_equal(heads[10], FIN | RSV1 | WS_OP_TEXT);
    client_reads(&p, &out, &r);
    put_msg(want, "", WS_OP_TEXT, (const uint8_t *)big, sizeof big);
    put_msg(want, "", WS_OP_TEXT, (const uint8_t *)big, 63);
    put_msg(want, "", WS_OP_BINARY, (const uint8_t *)big, 64);
    put_msg(want, "", WS_OP_TEXT, (const uint8_t *)big, sizeof big);
    put(want, "PING|");
    put_msg(want, "", WS_OP_BINARY, (const uint8_t *)big, 110);
    put_msg(want, "", WS_OP_TEXT, (const uint8_t *)big, 160);
    put_msg(want, "", WS_OP_TEXT, (const uint8_t *)big, sizeof big);
    assert_string_equal(r.text, want);
    dbuf_free(&r.msg);
    dbuf_free(&out);
    ws_conn_free(c);
}

/* §7.2.3.1 and §7.2.3.2 from the sending side: "Hello" twice with context takeover gives
 * the RFC's exact bytes, tail removed; without context takeover the same bytes twice. */
static void test_send_rfc_examples(void **state)
{
    static const uint8_t ct[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07,
                                 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00};
    static const uint8_t nct[] = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00,
                                  0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    int k;
    (void)state;

    for (k = 0; k < 2; k++) {
        ws_deflate_params p = {k == 1, false, 15, 15};
        ws_config cfg;
        ws_conn *c;
        ws_event ev;
        dbuf out = {0};

        ws_config_init(&cfg, WS_ROLE_SERVER);
        cfg.deflate.min_size = 0;
        c = ws_conn_new(&cfg);
        assert_int_equal(ws_conn_set_deflate(c, &p), WS_OK);
        assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
        assert_int_equal(ws_conn_send(c, WS_OP_TEXT, "Hello", 5), WS_OK);
        assert_int_equal(ws_conn_send(c, WS_OP_TEXT, "Hello", 5), WS_OK);
        take_output(c, &out);
        if (k == 0) {
            assert_int_equal(out.len, sizeof ct);
            assert_memory_equal(out.p, ct, sizeof ct);
        } else {
            assert_int_equal(out.len, sizeof nct);
            assert_memory_equal(out.p, nct, sizeof nct);
        }
        /* an empty message is the single byte 00 */
        out.len = 0;
        assert_int_equal(ws_conn_send(c, WS_OP_BINARY, "", 0), WS_OK);
        take_output(c, &out);
        assert_int_equal(out.len, 3);
        assert_memory_equal(out.p, "\xc2\x01\x00", 3);
        dbuf_free(&out);
        ws_conn_free(c);
    }
}

/* A compressed message needs room for its bound: backpressure until the queue has it, and a
 * message whose bound never fits goes uncompressed. Nothing is half-sent. */
static void test_send_room(void **state)
{
    ws_deflate_params p = CT;
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    static char msg[2000];
    dbuf out = {0};
    recorder r;
    uint8_t heads[8];
    char want[TMAX] = "";
    (void)state;

    memset(msg, 'x', sizeof msg);
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 2100;
    c = ws_conn_new(&cfg);
    assert_int_equal(ws_conn_set_deflate(c, &p), WS_OK);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ws_conn_send(c, WS_OP_BINARY, msg, 1000), WS_OK); /* compressed */
    /* its bound does not fit in 2100 bytes: uncompressed, which fits */
    assert_int_equal(ws_conn_send(c, WS_OP_BINARY, msg, 1900), WS_OK);
    /* 1000 bytes would fit uncompressed, not with their bound: wait */
    assert_int_equal(ws_conn_send(c, WS_OP_BINARY, msg, 1000), WS_E_BACKPRESSURE);
    take_output(c, &out);
    assert_int_equal(ws_conn_send(c, WS_OP_BINARY, msg, 1000), WS_OK);
    take_output(c, &out);
    assert_int_equal(frame_heads(&out, heads, sizeof heads), 3);
    assert_int_equal(heads[0], FIN | RSV1 | WS_OP_BINARY);
    assert_int_equal(heads[1], FIN | WS_OP_BINARY);
    assert_int_equal(heads[2], FIN | RSV1 | WS_OP_BINARY);
    memset(&r, 0, sizeof r);
    client_reads(&p, &out, &r);
    put_msg(want, "", WS_OP_BINARY, (const uint8_t *)msg, 1000);
    put_msg(want, "", WS_OP_BINARY, (const uint8_t *)msg, 1900);
    put_msg(want, "", WS_OP_BINARY, (const uint8_t *)msg, 1000);
    assert_string_equal(r.text, want);
    dbuf_free(&r.msg);
    dbuf_free(&out);
    ws_conn_free(c);
}

/* What a client with params reads from wire: pings pings, then one binary message of
 * msg[0..len). */
static void assert_client_reads(const ws_deflate_params *p, const dbuf *wire, size_t pings,
                                const uint8_t *msg, size_t len)
{
    static char want[TMAX];
    recorder r;
    size_t i;

    memset(&r, 0, sizeof r);
    want[0] = '\0';
    client_reads(p, wire, &r);
    for (i = 0; i < pings; i++)
        put(want, "PING|");
    put_msg(want, "", WS_OP_BINARY, msg, len);
    assert_string_equal(r.text, want);
    dbuf_free(&r.msg);
}

/* A compressed fragment that meets a full queue is refused with WS_E_BACKPRESSURE and
 * nothing changes: the connection stays open and the same fragment goes out once the host
 * has written. Fixed storage only starts its queue over once it is empty, so the room is
 * the queue's to say, not the count of pending bytes. */
static void test_fragment_send_backpressure(void **state)
{
    static uint64_t mem[(256u * 1024u) / 8];
    static uint8_t frag[100], pad[125];
    ws_deflate_params p = CT;
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    dbuf out = {0}, all = {0};
    const uint8_t *d;
    size_t i, n, pings = 0;
    (void)state;

    for (i = 0; i < sizeof frag; i++)
        frag[i] = (uint8_t)((i * 97 + 13) ^ (i * i)); /* compresses poorly */
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 4096;
    cfg.deflate.enable = true;
    cfg.deflate.min_size = 0;
    cfg.realloc = plain_realloc; /* zlib's state; the connection itself in mem */
    assert_true(ws_conn_storage_size(&cfg) <= sizeof mem);
    c = ws_conn_init(mem, sizeof mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_set_deflate(c, &p), WS_OK);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_BINARY, frag, sizeof frag, false), WS_OK);
    take_output(c, &all);
    while (ws_conn_ping(c, pad, sizeof pad) == WS_OK) /* fill the queue */
        pings++;
    assert_true(pings > 10);
    n = ws_conn_output(c, &d);
    assert_true(n > 10);
    dbuf_put(&all, d, n - 10);
    ws_conn_consume(c, n - 10); /* 10 bytes still to write: the queue is not empty */
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, frag, sizeof frag, false),
                     WS_E_BACKPRESSURE);
    assert_int_equal(ws_conn_phase(c), WS_PHASE_OPEN);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    take_output(c, &all);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, frag, sizeof frag, false), WS_OK);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, frag, 10, true), WS_OK);
    take_output(c, &all);
    dbuf_put(&out, frag, sizeof frag);
    dbuf_put(&out, frag, sizeof frag);
    dbuf_put(&out, frag, 10);
    assert_client_reads(&p, &all, pings, out.p, out.len);
    ws_conn_free(c);
    dbuf_free(&out);
    dbuf_free(&all);
}

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* The same on the heap, whose queue counts the blocks it holds, at random: pings, partial
 * writes and compressed fragments of random sizes; every fragment is either queued or
 * refused with WS_E_BACKPRESSURE, the connection never fails, and the peer reads the pings
 * and the whole message. */
static void test_fragment_send_backpressure_heap(void **state)
{
    static uint8_t data[24000], pad[125];
    ws_deflate_params p = CT;
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    dbuf all, sent;
    uint32_t seed = 12345;
    size_t i, trial, refused = 0;
    (void)state;

    for (i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)xorshift(&seed);
    for (trial = 0; trial < 12; trial++) {
        size_t pings = 0, step;
        memset(&all, 0, sizeof all);
        memset(&sent, 0, sizeof sent);
        ws_config_init(&cfg, WS_ROLE_SERVER);
        cfg.max_output = 4096 + xorshift(&seed) % 60000;
        cfg.deflate.enable = true;
        cfg.deflate.min_size = 0;
        c = ws_conn_new(&cfg);
        assert_non_null(c);
        assert_int_equal(ws_conn_set_deflate(c, &p), WS_OK);
        assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
        assert_int_equal(ws_conn_send_fragment(c, WS_OP_BINARY, data, 10, false), WS_OK);
        dbuf_put(&sent, data, 10);
        for (step = 0; step < 3000; step++) {
            uint32_t a = xorshift(&seed) % 4;
            if (a == 0 && pings < 600) {
                if (ws_conn_ping(c, pad, xorshift(&seed) % 126) == WS_OK)
                    pings++;
            } else if (a == 1) {
                const uint8_t *d;
                size_t n = ws_conn_output(c, &d), k = n ? xorshift(&seed) % (n + 1) : 0;
                dbuf_put(&all, d, k);
                ws_conn_consume(c, k);
            } else {
                size_t n = xorshift(&seed) % (cfg.max_output / 3);
                int rc = ws_conn_send_fragment(c, WS_OP_CONTINUATION, data, n, false);
                if (rc == WS_OK) {
                    dbuf_put(&sent, data, n);
                } else {
                    assert_int_equal(rc, WS_E_BACKPRESSURE);
                    refused++;
                }
                assert_int_equal(ws_conn_phase(c), WS_PHASE_OPEN);
            }
        }
        take_output(c, &all);
        assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, data, 0, true), WS_OK);
        take_output(c, &all);
        assert_client_reads(&p, &all, pings, sent.p, sent.len);
        ws_conn_free(c);
        dbuf_free(&all);
        dbuf_free(&sent);
    }
    print_message("# %zu fragments refused with WS_E_BACKPRESSURE\n", refused);
    assert_true(refused > 10); /* the case under test did happen */
}

/* The limit is on the inflated size also for a message in many small compressed fragments,
 * each of which ends in a flush: a message of exactly max_message_size random bytes in
 * 64-byte fragments arrives whole (its wire size is about 1.25 times that), one byte more
 * is refused with 1009. */
static void test_fragmented_at_the_limit(void **state)
{
    enum { LIMIT = 100000, FRAG = 64 };
    static uint8_t data[LIMIT + 1];
    ws_deflate_params p = CT;
    uint32_t seed = 777;
    size_t i, extra;
    (void)state;

    for (i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)xorshift(&seed);
    for (extra = 0; extra <= 1; extra++) {
        for (i = 0; i < 2; i++) {
            bool whole = i == 1;
            size_t n = LIMIT + extra, off = 0;
            ws_config cfg;
            ws_conn *cl, *sv;
            ws_event ev;
            dbuf wire = {0};
            recorder r;
            char want[TMAX] = "";

            ws_config_init(&cfg, WS_ROLE_CLIENT);
            cfg.random = zero_random;
            cfg.deflate.enable = true;
            cfg.deflate.min_size = 0;
            cfg.max_output = 1u << 22;
            cl = ws_conn_new(&cfg);
            assert_non_null(cl);
            ws_config_init(&cfg, WS_ROLE_SERVER);
            cfg.whole_messages = whole;
            cfg.max_message_size = LIMIT;
            sv = ws_conn_new(&cfg);
            assert_non_null(sv);
            assert_int_equal(ws_conn_set_deflate(cl, &p), WS_OK);
            assert_int_equal(ws_conn_set_deflate(sv, &p), WS_OK);
            assert_int_equal(ws_conn_start_open(cl, NULL), WS_OK);
            assert_int_equal(ws_conn_start_open(sv, NULL), WS_OK);
            assert_int_equal(ws_conn_next_event(cl, &ev), WS_EV_OPEN);
            assert_int_equal(ws_conn_next_event(sv, &ev), WS_EV_OPEN);
            while (off < n) {
                size_t f = n - off < FRAG ? n - off : FRAG;
                assert_int_equal(ws_conn_send_fragment(cl,
                                                       off == 0 ? WS_OP_BINARY : WS_OP_CONTINUATION,
                                                       data + off, f, off + f == n),
                                 WS_OK);
                off += f;
            }
            take_output(cl, &wire);
            assert_true(wire.len > LIMIT + LIMIT / 8 + LIMIT / 64 + 32); /* past the bound */
            memset(&r, 0, sizeof r);
            assert_int_equal(ws_conn_feed(sv, wire.p, wire.len), WS_OK);
            drain(sv, &r);
            if (extra == 0) {
                put_msg(want, "", WS_OP_BINARY, data, LIMIT);
                assert_string_equal(r.text, want);
            } else {
                assert_non_null(strstr(r.text, "CLOSED:1009:"));
            }
            ws_conn_free(cl);
            ws_conn_free(sv);
            dbuf_free(&wire);
            dbuf_free(&r.msg);
        }
    }
}

/* ---- client <-> server ----------------------------------------------------------------- */

typedef struct pair {
    ws_conn *cl, *sv;
    recorder rcl, rsv;
    size_t wire; /* bytes that went between them after the handshake */
    bool open;
} pair;

/* Moves from's output to to, answering a request with accept. */
static void pump(pair *pr, ws_conn *from, ws_conn *to, recorder *r)
{
    dbuf out = {0};
    ws_event ev;

    take_output(from, &out);
    if (out.len == 0)
        return;
    if (pr->open)
        pr->wire += out.len;
    assert_int_equal(ws_conn_feed(to, out.p, out.len), WS_OK);
    while (ws_conn_next_event(to, &ev) != WS_EV_NONE) {
        if (ev.type == WS_EV_REQUEST)
            assert_int_equal(ws_conn_accept(to, NULL), WS_OK);
        else
            record(r, &ev);
    }
    dbuf_free(&out);
}

static void pair_open(pair *pr, const ws_deflate_config *cl, const ws_deflate_config *sv,
                      bool whole, alloc_stats *sv_alloc)
{
    ws_config cfg;
    ws_client_opts o;

    memset(pr, 0, sizeof *pr);
    ws_config_init(&cfg, WS_ROLE_CLIENT);
    cfg.random = zero_random;
    cfg.whole_messages = whole;
    cfg.deflate = *cl;
    pr->cl = ws_conn_new(&cfg);
    assert_non_null(pr->cl);
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.whole_messages = whole;
    cfg.deflate = *sv;
    if (sv_alloc != NULL) {
        cfg.realloc = count_realloc;
        cfg.realloc_ud = sv_alloc;
    }
    pr->sv = ws_conn_new(&cfg);
    assert_non_null(pr->sv);
    memset(&o, 0, sizeof o);
    o.url = "ws://example.com/";
    assert_int_equal(ws_conn_connect(pr->cl, &o), WS_OK);
    pump(pr, pr->cl, pr->sv, &pr->rsv);
    pump(pr, pr->sv, pr->cl, &pr->rcl);
    assert_string_equal(pr->rsv.text, "OPEN|");
    assert_string_equal(pr->rcl.text, "OPEN|");
    pr->rsv.text[0] = pr->rcl.text[0] = '\0';
    pr->open = true;
}

static void pair_free(pair *pr)
{
    ws_conn_free(pr->cl);
    ws_conn_free(pr->sv);
    dbuf_free(&pr->rcl.msg);
    dbuf_free(&pr->rsv.msg);
}

/* JSON-like text that repeats itself a little, as market data does. */
static size_t make_json(char *buf, size_t cap, unsigned i)
{
    int n = snprintf(buf, cap,
                     "{\"type\":\"tick\",\"sym\":\"S%03u\",\"bid\":%u.%02u,\"ask\":%u.%02u,"
                     "\"seq\":%u,\"venue\":\"XNAS\",\"flags\":[\"regular\",\"lit\"]}",
                     i % 37, 100 + i % 50, i % 100, 101 + i % 50, (i * 7) % 100, i);
    assert_true(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

static void test_round_trips(void **state)
{
    struct setting {
        const char *name;
        bool snct, cnct;
        uint8_t swb, cwb; /* client asks for swb, server limits cwb */
    } settings[] = {
        {"defaults", false, false, 15, 15},
        {"server_no_context_takeover", true, false, 15, 15},
        {"client_no_context_takeover", false, true, 15, 15},
        {"server_max_window_bits=9", false, false, 9, 15},
        {"client_max_window_bits=8", false, false, 15, 8},
        {"all four", true, true, 8, 10},
    };
    size_t i;
    int whole;
    (void)state;

    for (i = 0; i < COUNT(settings); i++) {
        for (whole = 0; whole < 2; whole++) {
            ws_deflate_config cl, sv;
            ws_deflate_params pc, ps;
            char want[TMAX] = "", buf[512];
            size_t raw = 0;
            unsigned m;
            pair pr;

            ws_deflate_config_init(&cl);
            ws_deflate_config_init(&sv);
            cl.enable = sv.enable = true;
            cl.server_no_context_takeover = settings[i].snct;
            cl.client_no_context_takeover = settings[i].cnct;
            cl.server_max_window_bits = settings[i].swb;
            sv.client_max_window_bits = settings[i].cwb;
            pair_open(&pr, &cl, &sv, whole != 0, NULL);
            assert_true(ws_conn_deflate_params(pr.cl, &pc));
            assert_true(ws_conn_deflate_params(pr.sv, &ps));
            assert_memory_equal(&pc, &ps, sizeof pc);
            assert_int_equal(pc.server_no_context_takeover, settings[i].snct);
            assert_int_equal(pc.client_no_context_takeover, settings[i].cnct);
            assert_int_equal(pc.server_max_window_bits, settings[i].swb);
            assert_int_equal(pc.client_max_window_bits, settings[i].cwb);
            for (m = 0; m < 40; m++) {
                size_t n = make_json(buf, sizeof buf, m);
                raw += 2 * n;
                assert_int_equal(ws_conn_send(pr.cl, WS_OP_TEXT, buf, n), WS_OK);
                assert_int_equal(ws_conn_send(pr.sv, WS_OP_TEXT, buf, n), WS_OK);
                if (m % 3 == 0) { /* let some queue up */
                    pump(&pr, pr.cl, pr.sv, &pr.rsv);
                    pump(&pr, pr.sv, pr.cl, &pr.rcl);
                }
                put_msg(want, "", WS_OP_TEXT, (const uint8_t *)buf, n);
            }
            /* a fragmented message each way */
            for (m = 0; m < 3; m++) {
                assert_int_equal(ws_conn_send_fragment(pr.cl, m ? WS_OP_CONTINUATION : WS_OP_BINARY,
                                                       buf, 100, m == 2),
                                 WS_OK);
                assert_int_equal(ws_conn_send_fragment(pr.sv, m ? WS_OP_CONTINUATION : WS_OP_BINARY,
                                                       buf, 100, m == 2),
                                 WS_OK);
            }
            pump(&pr, pr.cl, pr.sv, &pr.rsv);
            pump(&pr, pr.sv, pr.cl, &pr.rcl);
            {
                uint8_t three[300];
                memcpy(three, buf, 100);
                memcpy(three + 100, buf, 100);
                memcpy(three + 200, buf, 100);
                put_msg(want, "", WS_OP_BINARY, three, 300);
            }
            assert_string_equal(pr.rsv.text, want);
            assert_string_equal(pr.rcl.text, want);
            /* compression happened: fewer bytes on the wire than the payloads alone */
            assert_true(pr.wire < raw);
            print_message("# round trip %s (%s): %zu B of text in %zu B on the wire\n",
                          settings[i].name, whole ? "messages" : "chunks", raw + 600, pr.wire);
            /* the close handshake is never compressed */
            assert_int_equal(ws_conn_close(pr.cl, 1000, "bye", 3), WS_OK);
            pump(&pr, pr.cl, pr.sv, &pr.rsv);
            pump(&pr, pr.sv, pr.cl, &pr.rcl);
            assert_non_null(strstr(pr.rsv.text, "CLOSE:1000|CLOSED:1000:0"));
            pair_free(&pr);
        }
    }
}

/* Each side may turn it off: the other side then runs without it. */
static void test_one_side_off(void **state)
{
    ws_deflate_config on, off;
    pair pr;
    int k;
    (void)state;

    ws_deflate_config_init(&on);
    ws_deflate_config_init(&off);
    on.enable = true;
    for (k = 0; k < 2; k++) {
        pair_open(&pr, k ? &on : &off, k ? &off : &on, false, NULL);
        assert_false(ws_conn_deflate_params(pr.cl, NULL));
        assert_false(ws_conn_deflate_params(pr.sv, NULL));
        char want[TMAX] = "", text[70];
        uint8_t heads[2];
        dbuf out = {0};
        memset(text, 'z', sizeof text);
        assert_int_equal(ws_conn_send(pr.cl, WS_OP_TEXT, text, sizeof text), WS_OK);
        assert_int_equal(ws_conn_send(pr.sv, WS_OP_TEXT, text, sizeof text), WS_OK);
        take_output(pr.sv, &out);
        assert_int_equal(frame_heads(&out, heads, 2), 1);
        assert_int_equal(heads[0], FIN | WS_OP_TEXT); /* not compressed */
        dbuf_free(&out);
        pump(&pr, pr.cl, pr.sv, &pr.rsv);
        put_msg(want, "", WS_OP_TEXT, (const uint8_t *)text, sizeof text);
        assert_string_equal(pr.rsv.text, want);
        pair_free(&pr);
    }
}

/* ---- memory ------------------------------------------------------------------------------ */

/* What a server connection holds with each setting, measured with a counting allocator:
 * open, after a 16 KiB JSON message each way, and after ws_conn_tick found it idle. The
 * figures are printed for docs/deflate.md. */
static void test_memory_per_setting(void **state)
{
    struct setting {
        const char *name;
        bool nct;
        uint8_t wb;
        int mem_level;
    } settings[] = {
        {"off", false, 15, 8},
        {"defaults (window 15, memLevel 8, context takeover)", false, 15, 8},
        {"window 15, memLevel 8, no context takeover", true, 15, 8},
        {"window 12, memLevel 5, context takeover", false, 12, 5},
        {"window 8, memLevel 1, no context takeover", true, 8, 1},
    };
    static char msg[16384];
    size_t i, n = 0;
    (void)state;

    while (n + 200 < sizeof msg)
        n += make_json(msg + n, sizeof msg - n, (unsigned)n);
    for (i = 0; i < COUNT(settings); i++) {
        int whole;
        for (whole = 0; whole < 2; whole++) {
            ws_deflate_config cl, sv;
            alloc_stats st = {0, 0, 0};
            size_t at_open, busy;
            pair pr;

            ws_deflate_config_init(&cl);
            ws_deflate_config_init(&sv);
            cl.enable = sv.enable = i > 0;
            cl.server_no_context_takeover = cl.client_no_context_takeover = settings[i].nct;
            cl.server_max_window_bits = sv.server_max_window_bits = settings[i].wb;
            cl.client_max_window_bits = sv.client_max_window_bits = settings[i].wb;
            sv.mem_level = settings[i].mem_level;
            pair_open(&pr, &cl, &sv, whole != 0, &st);
            ws_conn_tick(pr.sv, 1);
            at_open = st.live;
            assert_int_equal(ws_conn_send(pr.cl, WS_OP_TEXT, msg, n), WS_OK);
            assert_int_equal(ws_conn_send(pr.sv, WS_OP_TEXT, msg, n), WS_OK);
            pump(&pr, pr.cl, pr.sv, &pr.rsv);
            pump(&pr, pr.sv, pr.cl, &pr.rcl);
            busy = st.live;
            /* the host is told when to come back, only when there is something to give back */
            assert_int_equal(ws_conn_next_deadline(pr.sv),
                             i > 0 && settings[i].nct ? 1 + WS_DEFLATE_IDLE_MS : UINT64_MAX);
            ws_conn_tick(pr.sv, 1 + WS_DEFLATE_IDLE_MS - 1);
            assert_int_equal(st.live, busy); /* not idle for long enough yet */
            ws_conn_tick(pr.sv, 1 + WS_DEFLATE_IDLE_MS);
            if (i > 0 && settings[i].nct)
                assert_true(st.live < busy);
            else
                assert_int_equal(st.live, busy);
            assert_int_equal(ws_conn_next_deadline(pr.sv), UINT64_MAX); /* nothing left */
            print_message("# conn memory, permessage-deflate %s, %s: %zu B open, %zu B peak, %zu "
                          "B after a message each way, %zu B idle\n",
                          settings[i].name, whole ? "whole messages" : "streaming", at_open,
                          st.peak, busy, st.live);
            /* trimmed state is set up again for the next message */
            assert_int_equal(ws_conn_send(pr.cl, WS_OP_TEXT, msg, n), WS_OK);
            assert_int_equal(ws_conn_send(pr.sv, WS_OP_TEXT, msg, n), WS_OK);
            pump(&pr, pr.cl, pr.sv, &pr.rsv);
            pump(&pr, pr.sv, pr.cl, &pr.rcl);
            assert_non_null(strstr(pr.rcl.text, "TEXT:#"));
            assert_string_equal(pr.rsv.text, pr.rcl.text);
            ws_conn_free(pr.sv);
            assert_int_equal(st.live, 0);
            pr.sv = NULL;
            pair_free(&pr);
        }
    }
}

/* ---- setting it up by hand, fixed memory, builds without zlib -------------------------- */

static void test_set_deflate(void **state)
{
    ws_deflate_params p = CT, bad = {false, false, 7, 15}, got;
    ws_config cfg;
    ws_conn *c;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    c = ws_conn_new(&cfg);
    assert_int_equal(ws_conn_set_deflate(c, NULL), WS_E_INVALID);
    assert_int_equal(ws_conn_set_deflate(c, &bad), WS_E_INVALID);
    assert_false(ws_conn_deflate_params(c, &got));
    assert_int_equal(ws_conn_set_deflate(c, &p), WS_OK);
    assert_int_equal(ws_conn_set_deflate(c, &p), WS_E_STATE); /* already set */
    assert_true(ws_conn_deflate_params(c, &got));
    assert_memory_equal(&got, &p, sizeof p);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_set_deflate(c, &p), WS_E_STATE); /* too late */
    ws_conn_free(c);

    /* not with a handshake: it negotiates for itself */
    {
        ws_client_opts o;
        ws_event ev;
        char req[512];

        ws_config_init(&cfg, WS_ROLE_CLIENT);
        cfg.random = zero_random;
        c = ws_conn_new(&cfg);
        assert_int_equal(ws_conn_set_deflate(c, &p), WS_OK);
        memset(&o, 0, sizeof o);
        o.url = "ws://example.com/";
        assert_int_equal(ws_conn_connect(c, &o), WS_E_STATE);
        ws_conn_free(c);
        ws_config_init(&cfg, WS_ROLE_SERVER);
        cfg.deflate.enable = true;
        c = ws_conn_new(&cfg);
        assert_int_equal(ws_conn_set_deflate(c, &p), WS_OK);
        snprintf(req, sizeof req, "%s\r\n", REQUEST_HEAD);
        assert_int_equal(ws_conn_feed(c, (uint8_t *)req, strlen(req)), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
        assert_int_equal(ws_conn_accept(c, NULL), WS_E_STATE);
        ws_conn_free(c);
    }
}

/* A connection in caller storage uses permessage-deflate only with an allocator. */
static void test_fixed_memory(void **state)
{
    static uint64_t mem[(1u << 20) / 8 * 3];
    ws_deflate_params p = CT;
    alloc_stats st = {0, 0, 0};
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    char req[1024];
    dbuf in = {0};
    recorder r;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.deflate.enable = true;
    cfg.max_output = 64u * 1024u; /* fixed storage holds max_output: not the 16 MiB default */
    cfg.realloc = NULL;           /* caller storage and no allocator */
    assert_true(ws_conn_storage_size(&cfg) <= sizeof mem);
    c = ws_conn_init(mem, sizeof mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_set_deflate(c, &p), WS_E_UNSUPPORTED);
    snprintf(req, sizeof req, "%sSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
             REQUEST_HEAD);
    assert_int_equal(ws_conn_feed(c, (uint8_t *)req, strlen(req)), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_false(ws_conn_deflate_params(c, NULL)); /* declined */
    ws_conn_free(c);

    cfg.realloc = count_realloc;
    cfg.realloc_ud = &st;
    c = ws_conn_init(mem, sizeof mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_feed(c, (uint8_t *)req, strlen(req)), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_true(ws_conn_deflate_params(c, NULL));
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    put_frame(&in, T1 | RSV1, HELLO, sizeof HELLO - 1);
    memset(&r, 0, sizeof r);
    assert_int_equal(ws_conn_feed(c, in.p, in.len), WS_OK);
    drain(c, &r);
    assert_string_equal(r.text, "TEXT:Hello|");
    assert_true(st.live > 0); /* zlib's state, from cfg.realloc */
    ws_conn_free(c);
    assert_int_equal(st.live, 0);
    dbuf_free(&in);
    dbuf_free(&r.msg);
}

/* ---- prepared messages with a compressed form ------------------------------------------ */

/* A connection of role already open, with params when not NULL, allocating through st. */
static ws_conn *open_counted(ws_role role, const ws_deflate_params *p, alloc_stats *st)
{
    ws_config cfg;
    ws_conn *c;
    ws_event ev;

    ws_config_init(&cfg, role);
    cfg.random = zero_random;
    cfg.realloc = count_realloc;
    cfg.realloc_ud = st;
    c = ws_conn_new(&cfg);
    assert_non_null(c);
    if (p != NULL)
        assert_int_equal(ws_conn_set_deflate(c, p), WS_OK);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    return c;
}

/* What a connection of role with params (or none) makes of out. */
static void peer_reads(ws_role role, const ws_deflate_params *p, const dbuf *out, recorder *r)
{
    alloc_stats st = {0};
    ws_conn *c = open_counted(role, p, &st);
    uint8_t *copy = malloc(out->len + 1);

    assert_non_null(copy);
    if (out->len)
        memcpy(copy, out->p, out->len);
    assert_int_equal(ws_conn_feed(c, copy, out->len), WS_OK);
    drain(c, r);
    ws_conn_free(c);
    free(copy);
}

typedef struct pm_target {
    bool deflate;
    ws_deflate_params p;
    bool compressed; /* the prepared message's compressed form is the one to go out */
} pm_target;

/* Server connections with and without what the compressed form needs, for forms made with
 * window 10: each gets the prepared message between two messages of its own, and a client
 * with the same params reads the three; RSV1 marks exactly the compressed form. The window
 * is capped to what the message needs (2000 and 300 bytes: 10 as asked; 100 and 0 bytes: 8)
 * and the form then fits the connections with smaller windows too. */
static void test_prepared_compressed_broadcast(void **state)
{
    typedef struct target {
        bool deflate;
        ws_deflate_params p;
    } target;
    static const target targets[] = {
        {true, {true, false, 15, 15}},   /* server resets, any window */
        {true, {true, true, 10, 15}},    /* the window agreed is the form's */
        {true, {true, false, 9, 15}},    /* a smaller window */
        {true, {true, true, 8, 8}},      /* the smallest window */
        {true, {false, false, 15, 15}},  /* context takeover: plain */
        {true, {false, true, 15, 10}},   /* only the client resets: plain */
        {false, {false, false, 15, 15}}, /* no permessage-deflate: plain */
    };
    static const size_t sizes[] = {2000, 300, 100, 0}; /* shared, and copied (< 256) */
    static const unsigned windows[] = {10, 10, 8, 8};  /* the form's window for each size */
    char msg[2000];
    size_t i, k;
    (void)state;

    for (i = 0; i < sizeof msg; i++)
        msg[i] = "{\"px\":1.25,\"q\":7}"[i % 17];
    for (k = 0; k < COUNT(sizes); k++) {
        alloc_stats pst = {0}, cst[COUNT(targets)];
        ws_conn *c[COUNT(targets)];
        ws_prepared *pm;
        dbuf out[COUNT(targets)];
        size_t calls;

        memset(cst, 0, sizeof cst);
        memset(out, 0, sizeof out);
        assert_int_equal(ws_prepared_new(&pm, WS_OP_TEXT, msg, sizes[k], count_realloc, &pst),
                         WS_OK);
        assert_int_equal(ws_prepared_compress(pm, 10, 6), WS_OK);
        calls = pst.calls;
        for (i = 0; i < COUNT(targets); i++) {
            size_t before;
            c[i] = open_counted(WS_ROLE_SERVER, targets[i].deflate ? &targets[i].p : NULL, &cst[i]);
            assert_int_equal(ws_conn_send(c[i], WS_OP_TEXT, msg, 500), WS_OK);
            before = cst[i].live;
            assert_int_equal(ws_conn_send_prepared(c[i], pm), WS_OK);
            /* No compressor was set up for it: a few bytes of queue at most. */
            assert_true(cst[i].live - before < 4096);
            assert_int_equal(ws_conn_send(c[i], WS_OP_TEXT, msg, 400), WS_OK);
        }
        /* Made once: nothing more through the message's allocator per recipient. */
        assert_int_equal(pst.calls, calls);
        ws_prepared_free(pm); /* the connections may still hold it */
        for (i = 0; i < COUNT(targets); i++) {
            const ws_deflate_params *p = targets[i].deflate ? &targets[i].p : NULL;
            uint8_t heads[4];
            char want[TMAX] = "";
            recorder r;
            bool z = targets[i].deflate && targets[i].p.server_no_context_takeover &&
                     windows[k] <= targets[i].p.server_max_window_bits;

            memset(&r, 0, sizeof r);
            take_output(c[i], &out[i]);
            assert_int_equal(frame_heads(&out[i], heads, sizeof heads), 3);

            assert_int_equal(heads[1], FIN | WS_OP_TEXT | (z ? RSV1 : 0));
            peer_reads(WS_ROLE_CLIENT, p, &out[i], &r);
            put_msg(want, "", WS_OP_TEXT, (const uint8_t *)msg, 500);
            put_msg(want, "", WS_OP_TEXT, (const uint8_t *)msg, sizes[k]);
            put_msg(want, "", WS_OP_TEXT, (const uint8_t *)msg, 400);
            assert_string_equal(r.text, want);
            dbuf_free(&r.msg);
        }
        for (i = 0; i < COUNT(targets); i++) {
            ws_conn_free(c[i]);
            assert_int_equal(cst[i].live, 0);
            dbuf_free(&out[i]);
        }
        assert_int_equal(pst.live, 0);
    }
}

/* The form is made once, through the message's allocator, and much smaller than a
 * connection's compressor: zlib's state comes and goes inside ws_prepared_compress. */
static void test_prepared_compress_memory(void **state)
{
    alloc_stats pst = {0};
    char msg[4000];
    ws_prepared *pm;
    size_t live;
    (void)state;

    memset(msg, 'x', sizeof msg);
    assert_int_equal(ws_prepared_new(&pm, WS_OP_BINARY, msg, sizeof msg, count_realloc, &pst),
                     WS_OK);
    live = pst.live;
    assert_int_equal(ws_prepared_compress(pm, 15, 9), WS_OK);
    assert_true(pst.peak > 64 * 1024);  /* zlib's deflate state was there ... */
    assert_true(pst.live - live < 100); /* ... and only the compressed frame stays */
    assert_int_equal(ws_prepared_compress(pm, 15, 9), WS_E_STATE);
    ws_prepared_free(pm);
    assert_int_equal(pst.live, 0);
}

/* Client role: the compressed form masked into the queue, RSV1 set, where the client's own
 * compressor resets and its window allows; the server reads it. */
static void test_prepared_compressed_client(void **state)
{
    static const pm_target targets[] = {
        {true, {false, true, 15, 12}, true},
        {true, {false, true, 15, 11}, false}, /* window below the form's 12 */
        {true, {true, false, 15, 15}, false}, /* the server resets, the client does not */
    };
    char msg[3000]; /* needs a window of 12 */
    ws_prepared *pm;
    size_t i;
    (void)state;

    for (i = 0; i < sizeof msg; i++)
        msg[i] = (char)('a' + i % 7);
    assert_int_equal(ws_prepared_new(&pm, WS_OP_BINARY, msg, sizeof msg, plain_realloc, NULL),
                     WS_OK);
    assert_int_equal(ws_prepared_compress(pm, 12, 6), WS_OK);
    for (i = 0; i < COUNT(targets); i++) {
        alloc_stats st = {0};
        ws_conn *c = open_counted(WS_ROLE_CLIENT, &targets[i].p, &st);
        dbuf out = {0};
        char want[TMAX] = "";
        recorder r;

        memset(&r, 0, sizeof r);
        assert_int_equal(ws_conn_send_prepared(c, pm), WS_OK);
        assert_int_equal(ws_conn_send(c, WS_OP_BINARY, msg, 700), WS_OK);
        take_output(c, &out);
        assert_int_equal(out.p[0], FIN | WS_OP_BINARY | (targets[i].compressed ? RSV1 : 0));
        assert_true(out.p[1] & 0x80); /* masked */
        /* compressed: far shorter than the message */
        assert_true(targets[i].compressed == ((out.p[1] & 0x7f) < 126));
        peer_reads(WS_ROLE_SERVER, &targets[i].p, &out, &r);
        put_msg(want, "", WS_OP_BINARY, (const uint8_t *)msg, sizeof msg);
        put_msg(want, "", WS_OP_BINARY, (const uint8_t *)msg, 700);
        assert_string_equal(r.text, want);
        dbuf_free(&r.msg);
        dbuf_free(&out);
        ws_conn_free(c);
    }
    ws_prepared_free(pm);
}

/* count_realloc that fails its fail_at-th call that allocates (0: never). */
typedef struct fail_alloc {
    alloc_stats st;
    size_t n, fail_at;
} fail_alloc;

static void *failing_realloc(void *ud, void *ptr, size_t size)
{
    fail_alloc *f = (fail_alloc *)ud;

    if (size != 0 && ++f->n == f->fail_at)
        return NULL;
    return count_realloc(&f->st, ptr, size);
}

/* Bad arguments, and an allocator failing at each call: WS_E_NOMEM leaves the message as it
 * was (sent plain) and nothing leaks. */
static void test_prepared_compress_checks(void **state)
{
    static const ws_deflate_params p = {true, true, 15, 15};
    char msg[600];
    ws_prepared *pm;
    size_t fail_at;
    (void)state;

    memset(msg, 'q', sizeof msg);
    assert_int_equal(ws_prepared_compress(NULL, 15, 6), WS_E_INVALID);
    assert_int_equal(ws_prepared_new(&pm, WS_OP_TEXT, msg, sizeof msg, plain_realloc, NULL), WS_OK);
    assert_int_equal(ws_prepared_compress(pm, 7, 6), WS_E_INVALID);
    assert_int_equal(ws_prepared_compress(pm, 16, 6), WS_E_INVALID);
    assert_int_equal(ws_prepared_compress(pm, 15, -1), WS_E_INVALID);
    assert_int_equal(ws_prepared_compress(pm, 15, 10), WS_E_INVALID);
    ws_prepared_free(pm);
    for (fail_at = 1;; fail_at++) {
        fail_alloc st = {{0}, 0, 0};
        alloc_stats cst = {0};
        ws_conn *c;
        dbuf out = {0};
        int rc;

        assert_int_equal(ws_prepared_new(&pm, WS_OP_TEXT, msg, sizeof msg, failing_realloc, &st),
                         WS_OK);
        st.fail_at = st.n + fail_at;
        rc = ws_prepared_compress(pm, 15, 6);
        st.fail_at = 0;
        c = open_counted(WS_ROLE_SERVER, &p, &cst);
        assert_int_equal(ws_conn_send_prepared(c, pm), WS_OK);
        ws_prepared_free(pm);
        take_output(c, &out);
        assert_int_equal(out.p[0], FIN | WS_OP_TEXT | (rc == WS_OK ? RSV1 : 0));
        ws_conn_free(c);
        dbuf_free(&out);
        assert_int_equal(st.st.live, 0);
        if (rc == WS_OK)
            break;
        assert_int_equal(rc, WS_E_NOMEM);
    }
    assert_true(fail_at > 2); /* the buffer and zlib's state both could fail */
}

/* A build without zlib: the same API, and nothing is ever negotiated. */
static void test_without_zlib(void **state)
{
    ws_deflate_params p = CT;
    ws_deflate_config dc;
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    char req[1024], offer[256];
    dbuf out = {0};
    (void)state;

    assert_false(ws_deflate_available());
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.deflate.enable = true;
    c = ws_conn_new(&cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_set_deflate(c, &p), WS_E_UNSUPPORTED);
    snprintf(req, sizeof req, "%sSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
             REQUEST_HEAD);
    assert_int_equal(ws_conn_feed(c, (uint8_t *)req, strlen(req)), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_false(ws_conn_deflate_params(c, NULL));
    take_output(c, &out);
    dbuf_put(&out, "", 1);
    assert_null(strstr((char *)out.p, "Sec-WebSocket-Extensions"));
    dbuf_free(&out);
    ws_conn_free(c);

    ws_deflate_config_init(&dc);
    dc.enable = true;
    c = client_connect(&dc, false, offer, sizeof offer);
    assert_string_equal(offer, ""); /* nothing offered */
    assert_int_equal(client_answer(c, "", &ev), WS_EV_OPEN);
    assert_false(ws_conn_deflate_params(c, NULL));
    ws_conn_free(c);

    /* A prepared message has no compressed form here: it stays plain. */
    {
        ws_prepared *pm;
        assert_int_equal(ws_prepared_new(&pm, WS_OP_TEXT, "hello", 5, plain_realloc, NULL), WS_OK);
        assert_int_equal(ws_prepared_compress(pm, 15, 6), WS_E_UNSUPPORTED);
        ws_prepared_free(pm);
    }
}

int main(void)
{
    const struct CMUnitTest with_zlib[] = {
        cmocka_unit_test(test_receive_table),
        cmocka_unit_test(test_rsv1_without_deflate),
        cmocka_unit_test(test_bombs_at_the_limit),
        cmocka_unit_test(test_big_bomb),
        cmocka_unit_test(test_stored_message_at_the_limit),
        cmocka_unit_test(test_fragmented_messages),
        cmocka_unit_test(test_server_negotiation),
        cmocka_unit_test(test_handoff_negotiation),
        cmocka_unit_test(test_client_negotiation),
        cmocka_unit_test(test_client_without_offer),
        cmocka_unit_test(test_host_extensions_refused),
        cmocka_unit_test(test_send_compression),
        cmocka_unit_test(test_send_rfc_examples),
        cmocka_unit_test(test_send_room),
        cmocka_unit_test(test_fragment_send_backpressure),
        cmocka_unit_test(test_fragment_send_backpressure_heap),
        cmocka_unit_test(test_fragmented_at_the_limit),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_one_side_off),
        cmocka_unit_test(test_memory_per_setting),
        cmocka_unit_test(test_set_deflate),
        cmocka_unit_test(test_fixed_memory),
        cmocka_unit_test(test_prepared_compressed_broadcast),
        cmocka_unit_test(test_prepared_compress_memory),
        cmocka_unit_test(test_prepared_compressed_client),
        cmocka_unit_test(test_prepared_compress_checks),
    };
    const struct CMUnitTest without_zlib[] = {
        cmocka_unit_test(test_without_zlib),
        cmocka_unit_test(test_rsv1_without_deflate),
        cmocka_unit_test(test_client_without_offer),
        cmocka_unit_test(test_host_extensions_refused),
    };

    if (ws_deflate_available())
        return cmocka_run_group_tests(with_zlib, NULL, NULL);
    return cmocka_run_group_tests(without_zlib, NULL, NULL);
}
