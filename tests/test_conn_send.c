/*
 * The send path of a connection: what the default limits let a server echo, the outbound
 * size error, the lifetime of ws_conn_output's bytes, iovec output, sends without a copy,
 * prepared messages, and the allocations sends make (none per message).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_count.h"
#include "conn.h"
#include "ws.h"

static int test_random(void *ud, uint8_t *buf, size_t len)
{
    uint32_t *s = (uint32_t *)ud;
    size_t i;

    for (i = 0; i < len; i++) {
        *s = *s * 1103515245u + 12345u;
        buf[i] = (uint8_t)(*s >> 16);
    }
    return 0;
}

static uint32_t rnd_state = 1;

/* An open connection on the counting allocator (st NULL: the C library's). */
static ws_conn *open_conn(ws_role role, alloc_stats *st, bool whole)
{
    ws_config cfg;
    ws_conn *c;

    ws_config_init(&cfg, role);
    cfg.whole_messages = whole;
    cfg.random = test_random;
    cfg.random_ud = &rnd_state;
    cfg.realloc = st != NULL ? count_realloc : plain_realloc;
    cfg.realloc_ud = st;
    c = ws_conn_new(&cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    return c;
}

static uint64_t fixed_mem[(64u * 1024u) / 8u];

/* An open server in fixed storage with a 4 KiB output limit. */
static ws_conn *open_fixed(void)
{
    ws_config cfg;
    ws_conn *c;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 4096;
    cfg.max_head_size = 1024;
    cfg.max_headers = 16;
    assert_true(ws_conn_storage_size(&cfg) <= sizeof fixed_mem);
    c = ws_conn_init(fixed_mem, sizeof fixed_mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    return c;
}

/* Every pending byte, gathered through the iovec without consuming; caller frees. */
static uint8_t *gather(const ws_conn *c, size_t *n)
{
    ws_iovec iov[256];
    size_t runs = ws_conn_output_iov(c, iov, 256, n), i, at = 0;
    uint8_t *buf = malloc(*n + 1);

    assert_non_null(buf);
    assert_true(runs < 256);
    for (i = 0; i < runs; i++) {
        memcpy(buf + at, iov[i].base, iov[i].len);
        at += iov[i].len;
    }
    assert_int_equal(at, *n);
    return buf;
}

/* Consumes every pending byte, run by run. */
static size_t drain(ws_conn *c)
{
    const uint8_t *p;
    size_t n, total = 0;

    while ((n = ws_conn_output(c, &p)) > 0) {
        total += n;
        ws_conn_consume(c, n);
    }
    return total;
}

/* One decoded frame of the output. */
typedef struct frame_seen {
    uint8_t opcode, rsv;
    bool fin;
    uint8_t *payload; /* points into the decoded copy */
    size_t len;
} frame_seen;

/* Decodes wire[0..n) as the peer of a sender in role sender would (unmasking in place);
 * returns the frame count. Fails the test on anything malformed or left over. */
static size_t decode(uint8_t *wire, size_t n, ws_role sender, frame_seen *f, size_t max)
{
    ws_frame_decoder d;
    size_t pos = 0, count = 0;
    bool in_frame = false; /* an empty payload still has its WS_FRAME_END to give */

    ws_frame_decoder_init(&d, sender == WS_ROLE_SERVER ? WS_ROLE_CLIENT : WS_ROLE_SERVER);
    d.max_frame_size = 0;
    while (pos < n || in_frame) {
        size_t used, clen;
        uint8_t *chunk;
        int r = ws_frame_decode(&d, wire + pos, n - pos, &used, &chunk, &clen);
        assert_true(r >= 0);
        pos += used;
        if (r == WS_FRAME_HEADER) {
            assert_true(count < max);
            f[count].opcode = d.header.opcode;
            f[count].rsv = d.header.rsv;
            f[count].fin = d.header.fin;
            f[count].payload = NULL;
            f[count].len = 0;
            in_frame = true;
        } else if (r == WS_FRAME_DATA || r == WS_FRAME_END) {
            if (clen > 0 && f[count].payload == NULL)
                f[count].payload = chunk;
            f[count].len += clen;
            if (r == WS_FRAME_END) {
                count++;
                in_frame = false;
            }
        } else {
            fail_msg("truncated output");
        }
    }
    return count;
}

/* A masked client frame of one data opcode around payload. */
static size_t client_frame(uint8_t *out, uint8_t opcode, const uint8_t *payload, size_t len)
{
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    ws_frame_header h;
    int n;

    memset(&h, 0, sizeof h);
    h.fin = true;
    h.opcode = opcode;
    h.length = len;
    h.masked = true;
    memcpy(h.mask, key, 4);
    n = ws_frame_header_encode(out, &h);
    assert_true(n > 0);
    ws_mask_copy(out + n, payload, len, key, 0);
    return (size_t)n + len;
}

/* ---- a pong owed ----------------------------------------------------------------------- */

/* Consumes every pending byte, run by run, keeping a copy in out (cap bytes); returns the
 * count. The pong owed goes out from inside ws_conn_consume, so it is read the same way. */
static size_t drain_into(ws_conn *c, uint8_t *out, size_t cap)
{
    const uint8_t *p;
    size_t n, total = 0;

    while ((n = ws_conn_output(c, &p)) > 0) {
        assert_true(total + n <= cap);
        memcpy(out + total, p, n);
        total += n;
        ws_conn_consume(c, n);
    }
    return total;
}

/* Pings that meet an output queue full of data (up to max_output) are answered as room
 * allows: the pong owed is always the latest ping's, it goes
 * out from ws_conn_consume once the queue has room, after everything queued before it, and
 * the older pings that found no room get none (RFC 6455 5.5.3 lets a pong answer only the
 * most recent ping). In fixed storage and on the heap. */
static void test_pong_owed_until_room(void **state)
{
    enum { PINGS = 40, PLEN = 100 };
    static uint8_t data[1000], in[PLEN + 16], wire[16384];
    frame_seen f[64];
    int mode;
    (void)state;

    memset(data, 'd', sizeof data);
    for (mode = 0; mode < 2; mode++) {
        ws_conn *c;
        ws_event ev;
        size_t sent = 0, n, frames, i, pongs = 0;
        int i_ping;

        if (mode == 0) {
            c = open_fixed();
        } else {
            ws_config cfg;
            ws_config_init(&cfg, WS_ROLE_SERVER);
            cfg.max_output = 4096;
            cfg.realloc = plain_realloc;
            c = ws_conn_new(&cfg);
            assert_non_null(c);
            assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
        }
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
        while (ws_conn_send(c, WS_OP_BINARY, data, sizeof data) == WS_OK)
            sent++;
        assert_true(sent >= 3);
        for (i_ping = 0; i_ping < PINGS; i_ping++) {
            uint8_t payload[PLEN];
            memset(payload, 'A' + i_ping % 26, sizeof payload);
            payload[0] = (uint8_t)i_ping;
            n = client_frame(in, WS_OP_PING, payload, sizeof payload);
            assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
            assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_PING);
            assert_int_equal(ev.len, PLEN);
            assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
        }
        n = drain_into(c, wire, sizeof wire);
        frames = decode(wire, n, WS_ROLE_SERVER, f, 64);
        for (i = 0; i < sent; i++) /* the data first, whole and in order */
            assert_true(f[i].opcode == WS_OP_BINARY && f[i].len == sizeof data);
        for (i = sent; i < frames; i++) {
            assert_int_equal(f[i].opcode, WS_OP_PONG);
            assert_int_equal(f[i].len, PLEN);
            /* pongs in ping order, none answered twice */
            if (i > sent)
                assert_true(f[i].payload[0] > f[i - 1].payload[0]);
            pongs++;
        }
        assert_true(pongs >= 1 && pongs < PINGS);              /* some pings found no room */
        assert_int_equal(f[frames - 1].payload[0], PINGS - 1); /* the latest is answered */
        assert_int_equal(f[frames - 1].payload[1], 'A' + (PINGS - 1) % 26);
        assert_int_equal(drain(c), 0); /* owed no more */
        ws_conn_free(c);
    }
}

/* ---- coherent defaults ---------------------------------------------------------------- */

/* A default-config server in whole-message mode echoes what the defaults let in: a 1 MiB
 * message and one of exactly max_message_size. One byte more could not be queued, and says
 * so with the outbound error. */
static void test_default_echo_whole(void **state)
{
    static const size_t sizes[] = {1u << 20, 16u << 20};
    ws_config def;
    size_t i;
    (void)state;

    ws_config_init(&def, WS_ROLE_SERVER);
    assert_int_equal(def.max_message_size, 16u << 20);
    assert_true(def.max_output >= def.max_message_size + WS_FRAME_HEADER_MAX);
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len = sizes[i], n, got, nf;
        uint8_t *payload = malloc(len + 1), *in = malloc(len + 15), *out;
        ws_conn *c = open_conn(WS_ROLE_SERVER, NULL, true);
        frame_seen f[2];
        ws_event ev;

        assert_non_null(payload);
        assert_non_null(in);
        for (n = 0; n <= len; n++)
            payload[n] = (uint8_t)(n * 7u + (n >> 9));
        n = client_frame(in, WS_OP_BINARY, payload, len);
        assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_MESSAGE);
        assert_int_equal(ev.len, len);
        assert_int_equal(ws_conn_send(c, ev.opcode, ev.data, ev.len), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
        out = gather(c, &got);
        assert_int_equal(got, len + ws_frame_header_size(len, false));
        nf = decode(out, got, WS_ROLE_SERVER, f, 2);
        assert_int_equal(nf, 1);
        assert_int_equal(f[0].opcode, WS_OP_BINARY);
        assert_true(f[0].fin);
        assert_int_equal(f[0].len, len);
        assert_memory_equal(f[0].payload, payload, len);
        free(out);
        /* The queue is full of it now; a byte over the limit could never fit. */
        assert_int_equal(drain(c), got);
        assert_int_equal(ws_conn_send(c, WS_OP_BINARY, payload, def.max_output), WS_E_SEND_TOO_BIG);
        ws_conn_free(c);
        free(in);
        free(payload);
    }
}

/* ---- the outbound size error ------------------------------------------------------------ */

typedef struct size_case {
    size_t max_output;
    size_t len;
    bool control; /* a ping instead of a message */
    int expect;
} size_case;

static void test_send_too_big(void **state)
{
    static const size_case cases[] = {
        {256, 242, false, WS_OK}, /* 242 + the largest header, 14, is exactly 256 */
        {256, 243, false, WS_E_SEND_TOO_BIG},
        {256, 4000, false, WS_E_SEND_TOO_BIG},
        {4096, 4082, false, WS_OK},
        {4096, 4083, false, WS_E_SEND_TOO_BIG},
        {256, 125, true, WS_OK},
    };
    static uint8_t data[8192];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        alloc_stats st = {0, 0, 0};
        ws_config cfg;
        ws_conn *c;
        int rc;

        ws_config_init(&cfg, WS_ROLE_SERVER);
        cfg.max_output = cases[i].max_output;
        cfg.realloc = count_realloc;
        cfg.realloc_ud = &st;
        c = ws_conn_new(&cfg);
        assert_non_null(c);
        assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
        rc = cases[i].control ? ws_conn_ping(c, data, cases[i].len)
                              : ws_conn_send(c, WS_OP_BINARY, data, cases[i].len);
        assert_int_equal(rc, cases[i].expect);
        if (!cases[i].control) {
            /* Fragments obey the same limit; nocopy too. */
            assert_int_equal(ws_conn_send_fragment(c, WS_OP_BINARY, data, cases[i].len, true),
                             rc == WS_OK ? WS_E_BACKPRESSURE : rc);
            drain(c);
            assert_int_equal(ws_conn_send_nocopy(c, WS_OP_BINARY, data, cases[i].len, NULL, NULL),
                             rc);
        }
        ws_conn_free(c);
        assert_int_equal(st.live, 0);
    }
    /* Its own words, not the inbound limit's; not a protocol error. */
#ifndef WS_NO_ERROR_STRINGS /* -Derror_strings=false keeps the codes only */
    assert_string_not_equal(ws_strerror(WS_E_SEND_TOO_BIG), ws_strerror(WS_E_MESSAGE_TOO_BIG));
    assert_non_null(strstr(ws_strerror(WS_E_SEND_TOO_BIG), "max_output"));
#endif
    assert_int_equal(ws_error_close_code(WS_E_SEND_TOO_BIG), 0);
    assert_int_equal(ws_error_http_status(WS_E_SEND_TOO_BIG), 0);
}

/* ---- output lifetime ------------------------------------------------------------------ */

/* Things that happen between taking ws_conn_output's pointer and consuming it. */
typedef enum later_act {
    ACT_SEND_SMALL,
    ACT_SEND_LARGE, /* past the block the first bytes are in */
    ACT_NOCOPY,
    ACT_PREPARED,
    ACT_PING_IN, /* the peer pings: an automatic pong is queued */
    ACT_TICK,
    ACT_PING_OUT,
    ACT_FRAGMENTS,
    ACT_CLOSE
} later_act;

static uint8_t big[1000];
static ws_prepared *shared_pm;

static void do_act(ws_conn *c, later_act a)
{
    static const uint8_t ping[] = {0x89, 0x82, 1, 2, 3, 4, 'p' ^ 1, 'q' ^ 2};
    uint8_t in[sizeof ping];
    ws_event ev;

    switch (a) {
    case ACT_SEND_SMALL:
        assert_int_equal(ws_conn_send_text(c, "later", 5), WS_OK);
        break;
    case ACT_SEND_LARGE:
        assert_int_equal(ws_conn_send_binary(c, big, sizeof big), WS_OK);
        break;
    case ACT_NOCOPY:
        assert_int_equal(ws_conn_send_nocopy(c, WS_OP_BINARY, big, sizeof big, NULL, NULL), WS_OK);
        break;
    case ACT_PREPARED:
        assert_int_equal(ws_conn_send_prepared(c, shared_pm), WS_OK);
        break;
    case ACT_PING_IN:
        memcpy(in, ping, sizeof ping);
        assert_int_equal(ws_conn_feed(c, in, sizeof in), WS_OK);
        while (ws_conn_next_event(c, &ev) != WS_EV_NONE)
            ;
        break;
    case ACT_TICK:
        ws_conn_tick(c, 1000);
        break;
    case ACT_PING_OUT:
        assert_int_equal(ws_conn_ping(c, "t", 1), WS_OK);
        break;
    case ACT_FRAGMENTS:
        assert_int_equal(ws_conn_send_fragment(c, WS_OP_TEXT, "ab", 2, false), WS_OK);
        assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, "cd", 2, true), WS_OK);
        break;
    case ACT_CLOSE:
        assert_int_equal(ws_conn_close(c, 1000, "bye", 3), WS_OK);
        break;
    }
}

/* The bytes ws_conn_output hands out stay where they are, unchanged, until consumed:
 * whatever is done to the connection in between, heap or fixed storage, before and after a
 * partial consume. */
static void test_output_stays_put(void **state)
{
    static const later_act acts[] = {ACT_SEND_SMALL, ACT_SEND_LARGE, ACT_NOCOPY,
                                     ACT_PREPARED,   ACT_PING_IN,    ACT_TICK,
                                     ACT_PING_OUT,   ACT_FRAGMENTS,  ACT_CLOSE};
    static uint8_t first[700];
    size_t i, k;
    int fixed;
    (void)state;

    memset(big, 'b', sizeof big);
    memset(first, 'f', sizeof first);
    assert_int_equal(ws_prepared_new(&shared_pm, WS_OP_BINARY, big, 1000, plain_realloc, NULL),
                     WS_OK);
    for (fixed = 0; fixed < 2; fixed++) {
        for (i = 0; i < sizeof acts / sizeof acts[0]; i++) {
            alloc_stats st = {0, 0, 0};
            ws_conn *c = fixed ? open_fixed() : open_conn(WS_ROLE_SERVER, &st, false);
            const uint8_t *p, *q;
            uint8_t copy[1024];
            size_t n, m;
            ws_event ev;

            assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
            assert_int_equal(ws_conn_send_binary(c, first, sizeof first), WS_OK);
            n = ws_conn_output(c, &p);
            assert_int_equal(n, 4 + sizeof first);
            memcpy(copy, p, n);
            for (k = 0; k < 2 && !(acts[i] == ACT_CLOSE && k > 0); k++)
                do_act(c, acts[i]);
            m = ws_conn_output(c, &q);
            assert_ptr_equal(q, p);
            assert_true(m >= n);
            assert_memory_equal(p, copy, n);
            /* Half written: the other half is still there, and still after more activity. */
            ws_conn_consume(c, n / 2);
            if (acts[i] != ACT_CLOSE)
                do_act(c, acts[i]);
            m = ws_conn_output(c, &q);
            assert_ptr_equal(q, p + n / 2);
            assert_memory_equal(q, copy + n / 2, n - n / 2);
            drain(c);
            ws_conn_free(c);
            assert_int_equal(st.live, 0);
        }
    }
    ws_prepared_free(shared_pm);
}

/* The iovec gives the same bytes, in the same order, as draining run by run; and they are
 * the frames sent, in order. */
static void test_output_iov(void **state)
{
    static uint8_t payload[5000];
    ws_prepared *pm;
    int role;
    (void)state;

    memset(payload, 'x', sizeof payload);
    payload[0] = 'A';
    payload[sizeof payload - 1] = 'Z';
    assert_int_equal(ws_prepared_new(&pm, WS_OP_TEXT, payload, 4000, plain_realloc, NULL), WS_OK);
    for (role = 0; role < 2; role++) {
        ws_conn *c = open_conn((ws_role)role, NULL, false);
        uint8_t *all, *walked;
        const uint8_t *p;
        size_t n, w = 0, k, nf;
        ws_iovec one;
        frame_seen f[8];

        assert_int_equal(ws_conn_send_text(c, "one", 3), WS_OK);
        assert_int_equal(ws_conn_send_nocopy(c, WS_OP_BINARY, payload, sizeof payload, NULL, NULL),
                         WS_OK);
        assert_int_equal(ws_conn_send_prepared(c, pm), WS_OK);
        assert_int_equal(ws_conn_ping(c, "pp", 2), WS_OK);
        assert_int_equal(ws_conn_send_binary(c, payload, 300), WS_OK);
        all = gather(c, &n);
        /* A short array gets the first runs only, and says how many bytes they hold. */
        assert_int_equal(ws_conn_output_iov(c, &one, 1, &k), 1);
        assert_int_equal(k, one.len);
        assert_int_equal(ws_conn_output(c, &p), one.len);
        assert_ptr_equal(p, one.base);
        walked = malloc(n);
        assert_non_null(walked);
        while ((k = ws_conn_output(c, &p)) > 0) {
            assert_true(w + k <= n);
            memcpy(walked + w, p, k);
            w += k;
            ws_conn_consume(c, k > 7 ? k - 7 : k); /* in uneven steps, across runs */
            if (k > 7)
                ws_conn_consume(c, 7);
        }
        assert_int_equal(w, n);
        assert_memory_equal(walked, all, n);
        assert_int_equal(ws_conn_output_iov(c, &one, 1, &k), 0);
        assert_int_equal(k, 0);
        nf = decode(all, n, (ws_role)role, f, 8);
        assert_int_equal(nf, 5);
        assert_int_equal(f[0].opcode, WS_OP_TEXT);
        assert_memory_equal(f[0].payload, "one", 3);
        assert_int_equal(f[1].opcode, WS_OP_BINARY);
        assert_int_equal(f[1].len, sizeof payload);
        assert_memory_equal(f[1].payload, payload, sizeof payload);
        assert_int_equal(f[2].opcode, WS_OP_TEXT);
        assert_int_equal(f[2].len, 4000);
        assert_memory_equal(f[2].payload, payload, 4000);
        assert_int_equal(f[3].opcode, WS_OP_PING);
        assert_int_equal(f[4].len, 300);
        free(all);
        free(walked);
        ws_conn_free(c);
    }
    ws_prepared_free(pm);
}

/* A heap connection holds nothing for output once everything was consumed. */
static void test_release_when_empty(void **state)
{
    static uint8_t payload[2000];
    alloc_stats st = {0, 0, 0};
    ws_conn *c = open_conn(WS_ROLE_SERVER, &st, false);
    ws_prepared *pm;
    size_t idle = st.live;
    (void)state;

    assert_int_equal(ws_prepared_new(&pm, WS_OP_BINARY, payload, 1000, plain_realloc, NULL), WS_OK);
    assert_int_equal(ws_conn_send_binary(c, payload, 10), WS_OK);
    assert_true(st.live > idle);
    drain(c);
    assert_int_equal(st.live, idle);
    assert_int_equal(ws_conn_send_binary(c, payload, sizeof payload), WS_OK);
    assert_int_equal(ws_conn_send_nocopy(c, WS_OP_BINARY, payload, sizeof payload, NULL, NULL),
                     WS_OK);
    assert_int_equal(ws_conn_send_prepared(c, pm), WS_OK);
    assert_int_equal(ws_conn_ping(c, NULL, 0), WS_OK);
    ws_conn_consume(c, 1);
    assert_true(st.live > idle);
    drain(c);
    assert_int_equal(st.live, idle);
    ws_prepared_free(pm);
    ws_conn_free(c);
    assert_int_equal(st.live, 0);
}

/* ---- nocopy --------------------------------------------------------------------------- */

typedef struct release_log {
    int calls;
    const void *data;
} release_log;

static void on_release(void *ud, const void *data)
{
    release_log *r = (release_log *)ud;
    r->calls++;
    r->data = data;
}

typedef struct nocopy_case {
    ws_role role;
    size_t len;
    bool referenced; /* else copied, and released before the send returns */
    bool fixed;
} nocopy_case;

static void test_send_nocopy(void **state)
{
    static const nocopy_case cases[] = {
        {WS_ROLE_SERVER, 100000, true, false},  {WS_ROLE_SERVER, 256, true, false},
        {WS_ROLE_SERVER, 255, false, false},    {WS_ROLE_SERVER, 0, false, false},
        {WS_ROLE_CLIENT, 100000, false, false}, {WS_ROLE_SERVER, 3000, true, true},
    };
    static uint8_t payload[100000];
    size_t i, n;
    (void)state;

    for (n = 0; n < sizeof payload; n++)
        payload[n] = (uint8_t)(n ^ (n >> 8));
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const nocopy_case *t = &cases[i];
        release_log rel = {0, NULL};
        ws_conn *c = t->fixed ? open_fixed() : open_conn(t->role, NULL, false);
        ws_iovec iov[4];
        size_t runs, total, hlen = ws_frame_header_size(t->len, t->role == WS_ROLE_CLIENT);
        uint8_t *wire;
        frame_seen f[1];

        assert_int_equal(ws_conn_send_nocopy(c, WS_OP_BINARY, payload, t->len, on_release, &rel),
                         WS_OK);
        runs = ws_conn_output_iov(c, iov, 4, &total);
        assert_int_equal(total, hlen + t->len);
        if (t->referenced) {
            /* Header in the queue, payload where the caller has it. */
            assert_int_equal(runs, 2);
            assert_int_equal(iov[0].len, hlen);
            assert_ptr_equal(iov[1].base, payload);
            assert_int_equal(rel.calls, 0);
            ws_conn_consume(c, total - 1);
            assert_int_equal(rel.calls, 0); /* one byte is still to be written */
            ws_conn_consume(c, 1);
        } else {
            assert_int_equal(runs, 1);
            assert_int_equal(rel.calls, 1); /* copied: released at once */
            wire = gather(c, &total);
            assert_int_equal(decode(wire, total, t->role, f, 1), 1);
            assert_int_equal(f[0].len, t->len);
            if (t->len > 0)
                assert_memory_equal(f[0].payload, payload, t->len);
            free(wire);
            drain(c);
        }
        assert_int_equal(rel.calls, 1);
        assert_ptr_equal(rel.data, payload);
        /* Freed with the bytes still queued: released all the same, once. */
        rel.calls = 0;
        assert_int_equal(ws_conn_send_nocopy(c, WS_OP_BINARY, payload, t->len, on_release, &rel),
                         WS_OK);
        ws_conn_free(c);
        assert_int_equal(rel.calls, 1);
    }
}

/* Refused sends reference nothing and release nothing. */
static void test_send_nocopy_refused(void **state)
{
    static uint8_t payload[1000];
    release_log rel = {0, NULL};
    ws_conn *c = open_conn(WS_ROLE_SERVER, NULL, false);
    (void)state;

    assert_int_equal(ws_conn_send_nocopy(c, WS_OP_PING, payload, 300, on_release, &rel),
                     WS_E_INVALID);
    memset(payload, 0xff, sizeof payload);
    assert_int_equal(ws_conn_send_nocopy(c, WS_OP_TEXT, payload, 300, on_release, &rel),
                     WS_E_INVALID_UTF8);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_BINARY, "a", 1, false), WS_OK);
    assert_int_equal(ws_conn_send_nocopy(c, WS_OP_BINARY, payload, 300, on_release, &rel),
                     WS_E_STATE);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, "b", 1, true), WS_OK);
    assert_int_equal(ws_conn_close(c, 1000, NULL, 0), WS_OK);
    assert_int_equal(ws_conn_send_nocopy(c, WS_OP_BINARY, payload, 300, on_release, &rel),
                     WS_E_CLOSED);
    ws_conn_free(c);
    assert_int_equal(rel.calls, 0);
}

/* ---- prepared messages ---------------------------------------------------------------- */

/* Encoded once, queued on several servers as the same shared bytes and freed once the last
 * one consumed them; a client masks its own copy. */
static void test_prepared_broadcast(void **state)
{
    static uint8_t payload[2000];
    alloc_stats pst = {0, 0, 0};
    ws_conn *c[4];
    const uint8_t *shared = NULL;
    ws_prepared *pm;
    size_t i, n;
    (void)state;

    for (n = 0; n < sizeof payload; n++)
        payload[n] = (uint8_t)('a' + n % 26);
    assert_int_equal(ws_prepared_new(&pm, WS_OP_TEXT, payload, sizeof payload, count_realloc, &pst),
                     WS_OK);
    assert_int_equal(pst.calls, 1);
    for (i = 0; i < 4; i++) {
        c[i] = open_conn(i == 3 ? WS_ROLE_CLIENT : WS_ROLE_SERVER, NULL, false);
        assert_int_equal(ws_conn_send_text(c[i], "before", 6), WS_OK);
        assert_int_equal(ws_conn_send_prepared(c[i], pm), WS_OK);
    }
    ws_prepared_free(pm); /* the connections still hold it */
    assert_true(pst.live > 0);
    for (i = 0; i < 4; i++) {
        ws_iovec iov[4];
        size_t runs = ws_conn_output_iov(c[i], iov, 4, &n), nf;
        uint8_t *wire = gather(c[i], &n);
        frame_seen f[2];

        if (i < 3) {
            /* The second run is the prepared frame itself, header included, the same bytes
             * on every server. */
            assert_int_equal(runs, 2);
            assert_int_equal(iov[1].len, 4 + sizeof payload);
            if (shared == NULL)
                shared = iov[1].base;
            assert_ptr_equal(iov[1].base, shared);
        } else {
            assert_true(runs >= 1); /* masked into the client's own queue */
            assert_ptr_not_equal(iov[runs - 1].base, shared);
        }
        nf = decode(wire, n, i == 3 ? WS_ROLE_CLIENT : WS_ROLE_SERVER, f, 2);
        assert_int_equal(nf, 2);
        assert_int_equal(f[1].opcode, WS_OP_TEXT);
        assert_true(f[1].fin);
        assert_int_equal(f[1].rsv, 0);
        assert_int_equal(f[1].len, sizeof payload);
        assert_memory_equal(f[1].payload, payload, sizeof payload);
        free(wire);
    }
    drain(c[0]);
    ws_conn_free(c[0]);
    ws_conn_free(c[3]);
    assert_true(pst.live > 0);
    ws_conn_consume(c[1], 1);
    ws_conn_free(c[1]); /* dropped unwritten */
    assert_true(pst.live > 0);
    drain(c[2]);
    assert_int_equal(pst.live, 0); /* the last holder consumed it */
    ws_conn_free(c[2]);
}

typedef struct prepared_bad {
    int opcode;
    const char *data;
    size_t len;
    int expect;
} prepared_bad;

static void test_prepared_checks(void **state)
{
    static const prepared_bad cases[] = {
        {WS_OP_TEXT, "\xc3\x28", 2, WS_E_INVALID_UTF8},
        {WS_OP_PING, "x", 1, WS_E_INVALID},
        {WS_OP_CONTINUATION, "x", 1, WS_E_INVALID},
        {WS_OP_BINARY, NULL, 5, WS_E_INVALID},
        {WS_OP_BINARY, NULL, 0, WS_OK},
        {WS_OP_TEXT, "", 0, WS_OK},
    };
    alloc_stats pst = {0, 0, 0};
    ws_prepared *pm;
    ws_conn *c;
    size_t i;
    (void)state;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pm = (ws_prepared *)&pst; /* must be reset */
        assert_int_equal(ws_prepared_new(&pm, (ws_opcode)cases[i].opcode, cases[i].data,
                                         cases[i].len, count_realloc, &pst),
                         cases[i].expect);
        if (cases[i].expect != WS_OK)
            assert_null(pm);
        ws_prepared_free(pm);
    }
    assert_int_equal(pst.live, 0);
    assert_int_equal(ws_prepared_new(NULL, WS_OP_TEXT, "a", 1, NULL, NULL), WS_E_INVALID);
    /* Not while a fragmented message is being sent, nor once closing; NULL is refused. */
    assert_int_equal(ws_prepared_new(&pm, WS_OP_BINARY, big, 1000, count_realloc, &pst), WS_OK);
    c = open_conn(WS_ROLE_SERVER, NULL, false);
    assert_int_equal(ws_conn_send_prepared(c, NULL), WS_E_INVALID);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_BINARY, "a", 1, false), WS_OK);
    assert_int_equal(ws_conn_send_prepared(c, pm), WS_E_STATE);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, "b", 1, true), WS_OK);
    assert_int_equal(ws_conn_close(c, 1000, NULL, 0), WS_OK);
    assert_int_equal(ws_conn_send_prepared(c, pm), WS_E_CLOSED);
    ws_conn_free(c);
    ws_prepared_free(pm);
    assert_int_equal(pst.live, 0);
}

/* ---- allocations ---------------------------------------------------------------------- */

typedef enum send_kind { SEND_COPY, SEND_NOCOPY, SEND_PREPARED } send_kind;

static int send_one(ws_conn *c, send_kind k, ws_prepared *pm, const uint8_t *p, size_t len)
{
    switch (k) {
    case SEND_NOCOPY:
        return ws_conn_send_nocopy(c, WS_OP_BINARY, p, len, NULL, NULL);
    case SEND_PREPARED:
        return ws_conn_send_prepared(c, pm);
    case SEND_COPY:
    default:
        return ws_conn_send_binary(c, p, len);
    }
}

typedef struct alloc_case {
    send_kind kind;
    size_t len;
    size_t count;
} alloc_case;

/* In steady state - the host writes as it sends, so the queue never runs dry - sends make
 * no allocation per message: the queue takes a block now and then (about one per 64 KiB of
 * output once it has grown) and records, references included, live inside blocks. */
static void test_no_allocation_per_message(void **state)
{
    static const alloc_case cases[] = {
        {SEND_COPY, 16, 100000},    {SEND_COPY, 200, 20000},      {SEND_COPY, 65536, 200},
        {SEND_NOCOPY, 4096, 20000}, {SEND_PREPARED, 1000, 20000},
    };
    static uint8_t payload[65536];
    size_t i;
    (void)state;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const alloc_case *t = &cases[i];
        alloc_stats st = {0, 0, 0};
        ws_conn *c = open_conn(WS_ROLE_SERVER, &st, false);
        ws_prepared *pm;
        size_t calls, k, bytes = 0, pending = 0;

        assert_int_equal(ws_prepared_new(&pm, WS_OP_BINARY, payload, t->len, plain_realloc, NULL),
                         WS_OK);
        calls = st.calls;
        for (k = 0; k < t->count; k++) {
            assert_int_equal(send_one(c, t->kind, pm, payload, t->len), WS_OK);
            pending += ws_frame_header_size(t->len, false) + t->len;
            /* Write all but the last byte: it keeps the queue from emptying. */
            ws_conn_consume(c, pending - 1);
            bytes += pending - 1;
            pending = 1;
        }
        calls = st.calls - calls;
        /* An allocation and a free per block; blocks double from 1 KiB to 256 KiB. */
        assert_true(calls <= 2 * (10 + bytes / 65536));
        if (t->len < 4096)
            assert_true(calls < t->count / 50);
        drain(c);
        ws_conn_free(c);
        ws_prepared_free(pm);
        assert_int_equal(st.live, 0);
    }
}

/* A host that drains the queue empty after every message pays one allocation per drain -
 * the queue gives its storage back when empty - and one per drain however many messages
 * it queued in between; fixed storage pays none at all. */
static void test_allocation_per_drain(void **state)
{
    static uint8_t payload[200];
    alloc_stats st = {0, 0, 0};
    ws_conn *c = open_conn(WS_ROLE_SERVER, &st, false);
    size_t calls, k, j;
    (void)state;

    calls = st.calls;
    for (k = 0; k < 1000; k++) {
        for (j = 0; j < 4; j++)
            assert_int_equal(ws_conn_send_binary(c, payload, sizeof payload), WS_OK);
        drain(c);
    }
    assert_int_equal(st.calls - calls, 2 * 1000);
    ws_conn_free(c);
    c = open_fixed();
    for (k = 0; k < 1000; k++) {
        assert_int_equal(ws_conn_send_binary(c, payload, sizeof payload), WS_OK);
        drain(c);
    }
    ws_conn_free(c);
}

/* ---- helpers and the shared opcode type ------------------------------------------------- */

typedef struct helper_case {
    int text; /* ws_conn_send_text, else ws_conn_send_binary */
    const char *data;
    size_t len;
    uint8_t byte0;
    int expect;
} helper_case;

static void test_send_helpers(void **state)
{
    static const helper_case cases[] = {
        {1, "hello", 5, 0x81, WS_OK},         {0, "hello", 5, 0x82, WS_OK}, {1, "", 0, 0x81, WS_OK},
        {1, "\xff", 1, 0, WS_E_INVALID_UTF8}, {0, "\xff", 1, 0x82, WS_OK},
    };
    size_t i;
    (void)state;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ws_conn *c = open_conn(WS_ROLE_SERVER, NULL, false);
        const uint8_t *p;
        int rc = cases[i].text ? ws_conn_send_text(c, cases[i].data, cases[i].len)
                               : ws_conn_send_binary(c, cases[i].data, cases[i].len);
        assert_int_equal(rc, cases[i].expect);
        if (rc == WS_OK) {
            assert_int_equal(ws_conn_output(c, &p), 2 + cases[i].len);
            assert_int_equal(p[0], cases[i].byte0);
            assert_memory_equal(p + 2, cases[i].data, cases[i].len);
        } else {
            assert_int_equal(ws_conn_output(c, &p), 0);
        }
        ws_conn_free(c);
    }
}

/* ev.opcode is a ws_opcode, so an echo passes it on as it is. */
static void test_event_opcode_type(void **state)
{
    uint8_t in[32];
    ws_conn *c = open_conn(WS_ROLE_SERVER, NULL, false);
    const uint8_t *p;
    ws_event ev;
    ws_opcode op;
    size_t n = client_frame(in, WS_OP_TEXT, (const uint8_t *)"ok", 2);
    (void)state;

    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CHUNK);
    op = ev.opcode;
    assert_int_equal(op, WS_OP_TEXT);
    assert_int_equal(sizeof ev.opcode, sizeof(ws_opcode));
    assert_int_equal(ws_conn_send(c, ev.opcode, ev.data, ev.len), WS_OK);
    assert_int_equal(ws_conn_output(c, &p), 4);
    assert_memory_equal(p, "\x81\x02ok", 4);
    ws_conn_free(c);
}

/* The frame queue takes the RSV bits an extension sets (permessage-deflate: RSV1). */
static void test_queue_frame_rsv(void **state)
{
    ws_conn *c = open_conn(WS_ROLE_SERVER, NULL, false);
    const uint8_t *p;
    (void)state;

    assert_int_equal(
        ws_conn_queue_frame(c, WS_OP_TEXT, true, WS_RSV1, (const uint8_t *)"z", 1, false), WS_OK);
    assert_int_equal(ws_conn_queue_frame(c, WS_OP_BINARY, false, 0, (const uint8_t *)"y", 1, false),
                     WS_OK);
    assert_int_equal(ws_conn_output(c, &p), 6);
    assert_memory_equal(p, "\xc1\x01z\x02\x01y", 6);
    ws_conn_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_echo_whole),
        cmocka_unit_test(test_send_too_big),
        cmocka_unit_test(test_output_stays_put),
        cmocka_unit_test(test_output_iov),
        cmocka_unit_test(test_release_when_empty),
        cmocka_unit_test(test_send_nocopy),
        cmocka_unit_test(test_send_nocopy_refused),
        cmocka_unit_test(test_prepared_broadcast),
        cmocka_unit_test(test_prepared_checks),
        cmocka_unit_test(test_no_allocation_per_message),
        cmocka_unit_test(test_allocation_per_drain),
        cmocka_unit_test(test_send_helpers),
        cmocka_unit_test(test_event_opcode_type),
        cmocka_unit_test(test_queue_frame_rsv),
        cmocka_unit_test(test_pong_owed_until_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
