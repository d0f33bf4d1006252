/*
 * permessage-deflate benchmark: compresses two server-to-client streams - the W2 messages
 * (200-byte JSON-like objects) and market-data-like ticks (small JSON objects that repeat
 * their keys and symbols) - through libws's ws_deflater / ws_inflater and through zlib
 * alone with the same parameters, for several settings. Prints bytes on the wire, time
 * per message each way, and the memory a connection holds. Figures only: never a verdict.
 *
 * Then the same streams through two ws_conn (a client and a server, in memory, no
 * sockets): what a host sees with ws_config.deflate on - both directions (the client's
 * masked messages received by the server, the server's sent to the client), the bytes on
 * the wire, the time per message of ws_conn_send and of ws_conn_feed with the events
 * pulled, and what each connection holds from the allocator: at its peak, between
 * messages, and once ws_conn_tick has seen it idle for WS_DEFLATE_IDLE_MS.
 */
#define _POSIX_C_SOURCE 200809L

#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "ws.h"

typedef struct corpus {
    const char *name;
    uint8_t *data; /* messages back to back */
    size_t *len;   /* length of each */
    size_t count;
    size_t bytes;
} corpus;

typedef struct setting {
    const char *name;
    uint8_t window;
    int mem_level;
    int level;
    bool no_takeover;
} setting;

static const setting settings[] = {
    {"defaults: window 15, memLevel 8, level 6", 15, 8, 6, false},
    {"window 15, memLevel 8, level 6, no context takeover", 15, 8, 6, true},
    {"window 15, memLevel 8, level 1", 15, 8, 1, false},
    {"window 10, memLevel 4, level 6", 10, 4, 6, false},
    {"smallest: window 8, memLevel 1, level 6, no context takeover", 8, 1, 6, true},
};
#define SETTING_COUNT (sizeof settings / sizeof settings[0])

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "bench_deflate: out of memory\n");
        exit(2);
    }
    return p;
}

typedef struct counting {
    size_t live;
    size_t peak;
} counting;

static void *count_realloc(void *ud, void *ptr, size_t size)
{
    counting *c = ud;
    size_t *h = ptr ? (size_t *)ptr - 2 : NULL, *n;

    if (h != NULL)
        c->live -= h[0];
    if (size == 0) {
        free(h);
        return NULL;
    }
    n = realloc(h, size + 2 * sizeof(size_t));
    if (n == NULL)
        return NULL;
    n[0] = size;
    c->live += size;
    if (c->live > c->peak)
        c->peak = c->live;
    return n + 2;
}

/* ---- the two streams ------------------------------------------------------------------ */

static void corpus_alloc(corpus *c, const char *name, size_t count, size_t bytes)
{
    c->name = name;
    c->data = xmalloc(bytes);
    c->len = xmalloc(count * sizeof *c->len);
    c->count = 0;
    c->bytes = 0;
}

static void corpus_add(corpus *c, const void *p, size_t n)
{
    memcpy(c->data + c->bytes, p, n);
    c->len[c->count++] = n;
    c->bytes += n;
}

/* The W2 messages, as bench.c generates them (the same seed, and the one draw per message
 * its frame's mask key takes). */
static void gen_w2(corpus *c, size_t count)
{
    uint64_t rng = 2;
    char p[200];
    size_t i;

    corpus_alloc(c, "W2: 200 B JSON-like objects", count, count * sizeof p);
    for (i = 0; i < count; i++) {
        bench_json(&rng, p, sizeof p, i);
        (void)bench_rng_next(&rng);
        corpus_add(c, p, sizeof p);
    }
}

/* Ticks: {"type":"tick","sym":"MSFT","bid":412.17,"ask":412.19,"bsz":300,"asz":100,
 * "ts":1733300000123}, 40 symbols, prices walking slowly, time going up. */
static void gen_ticks(corpus *c, size_t count)
{
    static const char *const syms[] = {
        "AAPL", "MSFT", "AMZN", "GOOG", "META", "NVDA", "TSLA", "BRK.B", "JPM", "V",
        "UNH",  "XOM",  "JNJ",  "WMT",  "MA",   "PG",   "HD",   "CVX",   "MRK", "ABBV",
        "KO",   "PEP",  "COST", "AVGO", "ADBE", "CSCO", "CRM",  "NFLX",  "AMD", "INTC",
        "ORCL", "QCOM", "TXN",  "NKE",  "DIS",  "BA",   "IBM",  "GE",    "CAT", "SBUX"};
    unsigned price[40];
    uint64_t rng = 7, ts = UINT64_C(1733300000000);
    char p[160];
    size_t i;

    for (i = 0; i < 40; i++)
        price[i] = 5000 + bench_rng_below(&rng, 90000);
    corpus_alloc(c, "ticks: market-data JSON, 40 symbols", count, count * sizeof p);
    for (i = 0; i < count; i++) {
        unsigned s = bench_rng_below(&rng, 40), spread = 1 + bench_rng_below(&rng, 5);
        int n;

        price[s] = price[s] + bench_rng_below(&rng, 21) - 10;
        ts += bench_rng_below(&rng, 40);
        n = snprintf(p, sizeof p,
                     "{\"type\":\"tick\",\"sym\":\"%s\",\"bid\":%u.%02u,\"ask\":%u.%02u,"
                     "\"bsz\":%u,\"asz\":%u,\"ts\":%llu}",
                     syms[s], price[s] / 100, price[s] % 100, (price[s] + spread) / 100,
                     (price[s] + spread) % 100, 100 * (1 + bench_rng_below(&rng, 20)),
                     100 * (1 + bench_rng_below(&rng, 20)), (unsigned long long)ts);
        corpus_add(c, p, (size_t)n);
    }
}

/* Server-to-client frame header size (unmasked). */
static size_t header_size(size_t n)
{
    return n < 126 ? 2 : n <= 0xFFFF ? 4 : 10;
}

/* ---- one setting, one implementation -------------------------------------------------- */

typedef struct result {
    size_t wire;      /* frame headers + payloads */
    double send_ns;   /* per message */
    double recv_ns;   /* per message */
    size_t send_peak; /* bytes the send side held at most */
    size_t send_idle; /* and between messages */
    size_t recv_peak;
    size_t recv_idle;
    bool ok;
} result;

typedef struct packed {
    uint8_t *data; /* compressed payloads back to back */
    size_t *len;
    size_t bytes;
} packed;

static void params_of(const setting *s, ws_deflate_params *p)
{
    p->server_no_context_takeover = s->no_takeover;
    p->client_no_context_takeover = s->no_takeover;
    p->server_max_window_bits = s->window;
    p->client_max_window_bits = s->window;
}

/* libws: ws_deflater on the server, ws_inflater on the client. */
static void run_libws(const corpus *c, const setting *s, packed *pk, result *r)
{
    ws_deflate_params p;
    ws_deflate_config cfg;
    ws_deflater *d;
    ws_inflater *z;
    counting cd = {0, 0}, ci = {0, 0};
    size_t cap = ws_deflater_bound(4096), i, off, used, made;
    uint8_t *out = xmalloc(cap);
    double t0;

    params_of(s, &p);
    ws_deflate_config_init(&cfg);
    cfg.level = s->level;
    cfg.mem_level = s->mem_level;
    if (ws_deflater_new(&d, &p, WS_ROLE_SERVER, &cfg, count_realloc, &cd) != WS_OK ||
        ws_inflater_new(&z, &p, WS_ROLE_CLIENT, 1u << 20, count_realloc, &ci) != WS_OK) {
        r->ok = false;
        free(out);
        return;
    }
    pk->bytes = 0;
    r->wire = 0;
    t0 = now_s();
    for (i = 0, off = 0; i < c->count; off += c->len[i], i++) {
        if (ws_deflater_step(d, c->data + off, c->len[i], true, pk->data + pk->bytes, cap, &used,
                             &made) != WS_DEFLATE_END)
            r->ok = false;
        pk->len[i] = made;
        pk->bytes += made;
    }
    r->send_ns = (now_s() - t0) * 1e9 / (double)c->count;
    r->send_peak = cd.peak;
    r->send_idle = cd.live;

    t0 = now_s();
    for (i = 0, off = 0; i < c->count; off += pk->len[i], i++) {
        if (ws_inflater_step(z, pk->data + off, pk->len[i], true, out, cap, &used, &made) !=
                WS_DEFLATE_END ||
            made != c->len[i])
            r->ok = false;
    }
    r->recv_ns = (now_s() - t0) * 1e9 / (double)c->count;
    r->recv_peak = ci.peak;
    r->recv_idle = ci.live;
    for (i = 0; i < c->count; i++)
        r->wire += header_size(pk->len[i]) + pk->len[i];
    ws_deflater_free(d);
    ws_inflater_free(z);
    free(out);
}

/* The same with zlib alone: one z_stream per side kept for the whole run (deflateReset
 * and inflateReset for no context takeover), the tail removed and put back by hand. */
static void run_zlib(const corpus *c, const setting *s, packed *pk, result *r)
{
    z_stream d, z;
    size_t cap = ws_deflater_bound(4096), i, off;
    uint8_t *out = xmalloc(cap);
    static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
    int wbits = s->window < 9 ? 9 : s->window;
    double t0;

    memset(&d, 0, sizeof d);
    memset(&z, 0, sizeof z);
    deflateInit2(&d, s->level, Z_DEFLATED, -wbits, s->mem_level, Z_DEFAULT_STRATEGY);
    inflateInit2(&z, -15);
    pk->bytes = 0;
    r->wire = 0;
    t0 = now_s();
    for (i = 0, off = 0; i < c->count; off += c->len[i], i++) {
        d.next_in = c->data + off;
        d.avail_in = (uInt)c->len[i];
        d.next_out = pk->data + pk->bytes;
        d.avail_out = (uInt)cap;
        deflate(&d, Z_SYNC_FLUSH);
        pk->len[i] = cap - d.avail_out - 4;
        pk->bytes += pk->len[i];
        if (s->no_takeover)
            deflateReset(&d);
    }
    r->send_ns = (now_s() - t0) * 1e9 / (double)c->count;

    t0 = now_s();
    for (i = 0, off = 0; i < c->count; off += pk->len[i], i++) {
        z.next_in = pk->data + off;
        z.avail_in = (uInt)pk->len[i];
        z.next_out = out;
        z.avail_out = (uInt)cap;
        inflate(&z, Z_SYNC_FLUSH);
        z.next_in = (Bytef *)(uintptr_t)tail;
        z.avail_in = 4;
        inflate(&z, Z_SYNC_FLUSH);
        if (cap - z.avail_out != c->len[i])
            r->ok = false;
        if (s->no_takeover)
            inflateReset(&z);
    }
    r->recv_ns = (now_s() - t0) * 1e9 / (double)c->count;
    for (i = 0; i < c->count; i++)
        r->wire += header_size(pk->len[i]) + pk->len[i];
    r->send_peak = r->send_idle = r->recv_peak = r->recv_idle = 0; /* not counted */
    deflateEnd(&d);
    inflateEnd(&z);
    free(out);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- through the connection ------------------------------------------------------------ */

#define CONN_PIECE 16384u /* bytes handed to ws_conn_feed at once, as a socket read would */

typedef struct conn_result {
    size_t up_wire, down_wire; /* client to server, server to client */
    double client_send_ns, server_recv_ns, server_send_ns, client_recv_ns;
    size_t server_peak, server_idle, server_after_tick; /* server connection, allocator bytes */
    size_t client_peak, client_idle, client_after_tick;
    bool ok;
} conn_result;

static int fixed_random(void *ud, uint8_t *buf, size_t len)
{
    uint64_t *rng = ud;
    size_t i;
    for (i = 0; i < len; i++)
        buf[i] = (uint8_t)bench_rng_next(rng);
    return 0;
}

/* Moves everything from's output to to's input; false when to refuses it. */
static bool pass(ws_conn *from, ws_conn *to, uint8_t *scratch, size_t cap)
{
    const uint8_t *out;
    size_t n;

    while ((n = ws_conn_output(from, &out)) > 0) {
        ws_event ev;
        if (n > cap)
            n = cap;
        memcpy(scratch, out, n);
        ws_conn_consume(from, n);
        if (ws_conn_feed(to, scratch, n) != WS_OK)
            return false;
        while (ws_conn_next_event(to, &ev) != WS_EV_NONE) {
            if (ev.type == WS_EV_REQUEST && ws_conn_accept(to, NULL) != WS_OK)
                return false;
        }
    }
    return true;
}

/* Sends every message of c from `from`, collecting its output (the wire) into wire. */
static double conn_send(ws_conn *from, const corpus *c, uint8_t *wire, size_t *wire_len, bool *ok)
{
    size_t i, off, n;
    double t0 = now_s();

    *wire_len = 0;
    for (i = 0, off = 0; i < c->count; off += c->len[i], i++) {
        const uint8_t *out;
        if (ws_conn_send(from, WS_OP_TEXT, c->data + off, c->len[i]) != WS_OK)
            *ok = false;
        while ((n = ws_conn_output(from, &out)) > 0) {
            memcpy(wire + *wire_len, out, n);
            *wire_len += n;
            ws_conn_consume(from, n);
        }
    }
    return (now_s() - t0) * 1e9 / (double)c->count;
}

/* Feeds the wire to `to` in CONN_PIECE reads and pulls the messages; checks their sizes. */
static double conn_receive(ws_conn *to, const corpus *c, const uint8_t *wire, size_t wire_len,
                           uint8_t *scratch, bool *ok)
{
    size_t off = 0, got = 0;
    double t0 = now_s();

    while (off < wire_len) {
        size_t n = wire_len - off < CONN_PIECE ? wire_len - off : CONN_PIECE;
        ws_event ev;
        memcpy(scratch, wire + off, n); /* unmasked in place: the wire stays as it was */
        off += n;
        if (ws_conn_feed(to, scratch, n) != WS_OK)
            *ok = false;
        while (ws_conn_next_event(to, &ev) != WS_EV_NONE) {
            if (ev.type != WS_EV_MESSAGE || got >= c->count || ev.len != c->len[got])
                *ok = false;
            got++;
        }
    }
    if (got != c->count)
        *ok = false;
    return (now_s() - t0) * 1e9 / (double)c->count;
}

/* One run: a client and a server connection with deflate set as s (or off), the stream
 * up (client sends, server receives) and down (server sends, client receives). */
static void run_conn(const corpus *c, const setting *s, uint8_t *wire, conn_result *r)
{
    ws_config sc, cc;
    counting ms = {0, 0}, mc = {0, 0};
    uint64_t rng = 11;
    ws_conn *server, *client;
    ws_client_opts opts;
    ws_deflate_params p;
    uint8_t *scratch = xmalloc(CONN_PIECE > 65536 ? CONN_PIECE : 65536);
    size_t len;

    ws_config_init(&sc, WS_ROLE_SERVER);
    ws_config_init(&cc, WS_ROLE_CLIENT);
    sc.whole_messages = cc.whole_messages = true;
    sc.max_message_size = cc.max_message_size = 1u << 20;
    sc.realloc = cc.realloc = count_realloc;
    sc.realloc_ud = &ms;
    cc.realloc_ud = &mc;
    cc.random = fixed_random;
    cc.random_ud = &rng;
    if (s != NULL) {
        ws_deflate_config *d[2] = {&sc.deflate, &cc.deflate};
        int k;
        for (k = 0; k < 2; k++) {
            ws_deflate_config_init(d[k]);
            d[k]->enable = true;
            d[k]->server_max_window_bits = d[k]->client_max_window_bits = s->window;
            d[k]->server_no_context_takeover = d[k]->client_no_context_takeover = s->no_takeover;
            d[k]->level = s->level;
            d[k]->mem_level = s->mem_level;
        }
    }
    server = ws_conn_new(&sc);
    client = ws_conn_new(&cc);
    memset(&opts, 0, sizeof opts);
    opts.url = "ws://bench.example/";
    r->ok = server != NULL && client != NULL && ws_conn_connect(client, &opts) == WS_OK &&
            pass(client, server, scratch, 65536) && pass(server, client, scratch, 65536);
    if (r->ok) {
        ws_event ev;
        while (ws_conn_next_event(client, &ev) != WS_EV_NONE)
            ;
        while (ws_conn_next_event(server, &ev) != WS_EV_NONE)
            ;
        /* Both ends agree on what the setting asks for (or on nothing). */
        if (s == NULL
                ? ws_conn_deflate_params(server, &p) || ws_conn_deflate_params(client, &p)
                : !ws_conn_deflate_params(server, &p) || p.server_max_window_bits != s->window ||
                      p.server_no_context_takeover != s->no_takeover ||
                      !ws_conn_deflate_params(client, &p) || p.client_max_window_bits != s->window)
            r->ok = false;
        r->client_send_ns = conn_send(client, c, wire, &len, &r->ok);
        r->up_wire = len;
        r->server_recv_ns = conn_receive(server, c, wire, len, scratch, &r->ok);
        r->server_send_ns = conn_send(server, c, wire, &len, &r->ok);
        r->down_wire = len;
        r->client_recv_ns = conn_receive(client, c, wire, len, scratch, &r->ok);
        r->server_peak = ms.peak;
        r->server_idle = ms.live;
        r->client_peak = mc.peak;
        r->client_idle = mc.live;
        ws_conn_tick(server, 1000000);
        ws_conn_tick(client, 1000000);
        ws_conn_tick(server, 1000000 + WS_DEFLATE_IDLE_MS + 1);
        ws_conn_tick(client, 1000000 + WS_DEFLATE_IDLE_MS + 1);
        r->server_after_tick = ms.live;
        r->client_after_tick = mc.live;
    }
    ws_conn_free(server);
    ws_conn_free(client);
    free(scratch);
}

static void conn_tables(const corpus *corpora, int runs)
{
    size_t k, i;

    printf("\nThrough the connection: a ws_conn client and server in memory, whole messages, "
           "%u B reads; both ends with the same setting; memory is what each connection "
           "holds from the allocator (its buffers included): at its peak, between messages, "
           "and after ws_conn_tick saw it idle for %u ms\n",
           CONN_PIECE, (unsigned)WS_DEFLATE_IDLE_MS);
    for (k = 0; k < 2; k++) {
        const corpus *c = &corpora[k];
        uint8_t *wire = xmalloc(c->bytes + c->count * 64 + 4096);

        printf("\n%s (%zu messages, %zu payload bytes)\n", c->name, c->count, c->bytes);
        printf("  %-62s %10s %10s %9s %9s %9s %9s %26s %26s\n", "setting", "up B", "down B",
               "c send", "s recv", "s send", "c recv", "server B peak/idle/ticked",
               "client B peak/idle/ticked");
        for (i = 0; i <= SETTING_COUNT; i++) {
            const setting *s = i == 0 ? NULL : &settings[i - 1];
            double t[4][16];
            conn_result r;
            int run, j;

            for (run = 0; run < runs; run++) {
                memset(&r, 0, sizeof r);
                run_conn(c, s, wire, &r);
                t[0][run] = r.client_send_ns;
                t[1][run] = r.server_recv_ns;
                t[2][run] = r.server_send_ns;
                t[3][run] = r.client_recv_ns;
            }
            for (j = 0; j < 4; j++)
                qsort(t[j], (size_t)runs, sizeof t[j][0], cmp_double);
            printf("  %-62s %10zu %10zu %9.0f %9.0f %9.0f %9.0f %8zu/%8zu/%-8zu %8zu/%8zu/%-8zu"
                   "%s\n",
                   s == NULL ? "permessage-deflate off" : s->name, r.up_wire, r.down_wire,
                   t[0][runs / 2], t[1][runs / 2], t[2][runs / 2], t[3][runs / 2], r.server_peak,
                   r.server_idle, r.server_after_tick, r.client_peak, r.client_idle,
                   r.client_after_tick, r.ok ? "" : "  FAILED");
        }
        free(wire);
    }
}

/* The median of runs for the times; sizes and memory are the same every run. */
static void measure(void (*fn)(const corpus *, const setting *, packed *, result *),
                    const corpus *c, const setting *s, packed *pk, int runs, result *r)
{
    double send[16], recv[16];
    int i;

    for (i = 0; i < runs; i++) {
        memset(r, 0, sizeof *r);
        r->ok = true;
        fn(c, s, pk, r);
        send[i] = r->send_ns;
        recv[i] = r->recv_ns;
    }
    qsort(send, (size_t)runs, sizeof send[0], cmp_double);
    qsort(recv, (size_t)runs, sizeof recv[0], cmp_double);
    r->send_ns = send[runs / 2];
    r->recv_ns = recv[runs / 2];
}

/* --dump DIR: writes each stream to DIR/w2.msgs and DIR/ticks.msgs (every message as a
 * 4-byte little-endian length and its bytes) for deflate_node.mjs, the Node ws reference. */
static int dump(const char *dir, const corpus *corpora)
{
    static const char *const names[2] = {"w2", "ticks"};
    size_t k, i, off;

    for (k = 0; k < 2; k++) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s.msgs", dir, names[k]);
        f = fopen(path, "wb");
        if (f == NULL) {
            perror(path);
            return 1;
        }
        for (i = 0, off = 0; i < corpora[k].count; off += corpora[k].len[i], i++) {
            uint8_t n[4] = {(uint8_t)corpora[k].len[i], (uint8_t)(corpora[k].len[i] >> 8),
                            (uint8_t)(corpora[k].len[i] >> 16), (uint8_t)(corpora[k].len[i] >> 24)};
            fwrite(n, 1, 4, f);
            fwrite(corpora[k].data + off, 1, corpora[k].len[i], f);
        }
        if (fclose(f) != 0) {
            perror(path);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t count = 100000, k, i;
    int runs = 3, a;
    corpus corpora[2];
    const char *dump_dir = NULL;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--messages") == 0 && a + 1 < argc)
            count = (size_t)strtoul(argv[++a], NULL, 10);
        else if (strcmp(argv[a], "--runs") == 0 && a + 1 < argc)
            runs = atoi(argv[++a]);
        else if (strcmp(argv[a], "--dump") == 0 && a + 1 < argc)
            dump_dir = argv[++a];
        else {
            fprintf(stderr, "usage: bench_deflate [--messages N] [--runs N (1-16)] [--dump DIR]\n");
            return 2;
        }
    }
    if (count == 0 || runs < 1 || runs > 16) {
        fprintf(stderr, "bench_deflate: bad --messages or --runs\n");
        return 2;
    }
    gen_w2(&corpora[0], count);
    gen_ticks(&corpora[1], count);
    if (dump_dir != NULL)
        return dump(dump_dir, corpora);
    printf("permessage-deflate: %zu messages per stream, server to client, each compressed "
           "whole; times are the median of %d runs (wall clock); zlib %s\n",
           count, runs, zlibVersion());
    for (k = 0; k < 2; k++) {
        const corpus *c = &corpora[k];
        size_t plain = 0;
        packed pk;

        for (i = 0; i < c->count; i++)
            plain += header_size(c->len[i]) + c->len[i];
        pk.data = xmalloc(c->bytes + c->count * 64 + 4096);
        pk.len = xmalloc(c->count * sizeof *pk.len);
        printf("\n%s, %.1f B per message on average; uncompressed on the wire: %zu B\n", c->name,
               (double)c->bytes / (double)c->count, plain);
        printf("  %-62s %-7s %10s %6s %9s %9s %17s %17s\n", "setting", "codec", "wire B", "ratio",
               "send ns", "recv ns", "send B peak/idle", "recv B peak/idle");
        for (i = 0; i < SETTING_COUNT; i++) {
            result rl, rz;

            measure(run_libws, c, &settings[i], &pk, runs, &rl);
            measure(run_zlib, c, &settings[i], &pk, runs, &rz);
            printf("  %-62s %-7s %10zu %5.1f%% %9.0f %9.0f %8zu/%-8zu %8zu/%-8zu%s\n",
                   settings[i].name, "libws", rl.wire, 100.0 * (double)rl.wire / (double)plain,
                   rl.send_ns, rl.recv_ns, rl.send_peak, rl.send_idle, rl.recv_peak, rl.recv_idle,
                   rl.ok ? "" : "  ROUND TRIP FAILED");
            printf("  %-62s %-7s %10zu %5.1f%% %9.0f %9.0f %17s %17s%s\n", "", "zlib", rz.wire,
                   100.0 * (double)rz.wire / (double)plain, rz.send_ns, rz.recv_ns, "-", "-",
                   rz.ok ? "" : "  ROUND TRIP FAILED");
        }
        free(pk.data);
        free(pk.len);
    }
    conn_tables(corpora, runs);
    for (k = 0; k < 2; k++) {
        free(corpora[k].data);
        free(corpora[k].len);
    }
    return 0;
}
