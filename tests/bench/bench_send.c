/*
 * Send-path benchmark: messages queued on a connection and drained as a socket loop would,
 * in the server role (unmasked) and the client role (masked with keys from the kernel's
 * random source), through libws (copying sends; sends without a copy), wslay's event API
 * and a plain memcpy of the same wire bytes; then broadcast, a prepared message against a
 * send per recipient. Prints times, ratios to memcpy and checks that the bytes agree.
 * Run it under callgrind for instruction counts: tests/bench/run.sh send --callgrind.
 */
#define _GNU_SOURCE

#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ws.h"

#ifdef BENCH_WSLAY
#include <wslay/wslay.h>
#endif

/* The host writes once this much is queued (a socket write's worth). */
#define SEND_FLUSH (64u * 1024u)
/* Distinct payloads, cycled through. */
#define SEND_POOL 256u
/* Messages per broadcast run, each to every recipient. */
#define BROADCAST_COUNT 10000u

typedef struct send_workload {
    const char *name;
    const char *what;
    size_t count; /* messages */
    size_t len;   /* payload bytes each */
    ws_opcode opcode;
} send_workload;

static const send_workload workloads[] = {
    {"S1", "1M binary messages of 16 B", 1000000, 16, WS_OP_BINARY},
    {"S2", "100k JSON text messages of 200 B", 100000, 200, WS_OP_TEXT},
    {"S3", "10k binary messages of 64 KiB", 10000, 65536, WS_OP_BINARY},
};
#define WORKLOADS (sizeof workloads / sizeof workloads[0])

/* The payloads of a workload; pool[i % SEND_POOL] is message i. */
static uint8_t *pool[SEND_POOL];

static void make_pool(const send_workload *w)
{
    uint64_t rng = 42;
    size_t i, j;

    for (i = 0; i < SEND_POOL; i++) {
        free(pool[i]);
        pool[i] = malloc(w->len);
        if (pool[i] == NULL)
            exit(1);
        if (w->opcode == WS_OP_TEXT) {
            bench_json(&rng, (char *)pool[i], w->len, i);
        } else {
            for (j = 0; j < w->len; j++)
                pool[i][j] = (uint8_t)bench_rng_next(&rng);
        }
    }
}

/* ---- what the host's write sees --------------------------------------------------------- */

/* FNV-1a over the written bytes, only in verification runs. */
typedef struct sink {
    bool verify;
    uint64_t hash;
    uint64_t bytes;
    /* The client role's masks differ run to run: verification decodes the frames instead. */
    bool decode;
    ws_frame_decoder dec;
    uint8_t *hold; /* decoding needs bytes it may unmask in place */
    size_t hold_cap;
} sink;

static void sink_init(sink *s, bool verify, ws_role sender)
{
    memset(s, 0, sizeof *s);
    s->verify = verify;
    s->hash = UINT64_C(0xcbf29ce484222325);
    s->decode = sender == WS_ROLE_CLIENT;
    ws_frame_decoder_init(&s->dec, WS_ROLE_SERVER);
    s->dec.max_frame_size = 0;
}

static void sink_hash(sink *s, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        s->hash = (s->hash ^ p[i]) * UINT64_C(0x100000001b3);
}

/* A write of n bytes: hashed as they are (server role) or as the payloads they carry. */
static void sink_write(sink *s, const uint8_t *p, size_t n)
{
    size_t pos = 0;

    s->bytes += n;
    if (!s->verify)
        return;
    if (!s->decode) {
        sink_hash(s, p, n);
        return;
    }
    if (n > s->hold_cap) {
        free(s->hold);
        s->hold_cap = n;
        s->hold = malloc(n);
        if (s->hold == NULL)
            exit(1);
    }
    memcpy(s->hold, p, n);
    while (pos < n) {
        size_t used, clen;
        uint8_t *chunk;
        int r = ws_frame_decode(&s->dec, s->hold + pos, n - pos, &used, &chunk, &clen);
        if (r < 0) {
            s->hash = 0; /* a broken stream never matches */
            return;
        }
        pos += used;
        if (r == WS_FRAME_HEADER)
            sink_hash(s, &s->dec.header.opcode, 1);
        else if (r == WS_FRAME_DATA || r == WS_FRAME_END)
            sink_hash(s, chunk, clen);
    }
}

/* ---- the client role's random source ---------------------------------------------------- */

/* Mask keys from getrandom(2), read 4 KiB at a time as a host would buffer them. */
static uint8_t rnd_buf[4096];
static size_t rnd_pos = sizeof rnd_buf;

static int kernel_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    if (len > sizeof rnd_buf)
        return -1;
    if (sizeof rnd_buf - rnd_pos < len) {
        if (getrandom(rnd_buf, sizeof rnd_buf, 0) != (ssize_t)sizeof rnd_buf)
            return -1;
        rnd_pos = 0;
    }
    memcpy(buf, rnd_buf + rnd_pos, len);
    rnd_pos += len;
    return 0;
}

/* ---- implementations ---------------------------------------------------------------------- */

typedef struct send_run {
    const send_workload *w;
    ws_role role;
    bool verify;
    sink out;
    bool failed;
} send_run;

/* The wire bytes of each pooled message, built once: memcpy copies these. */
static uint8_t *wire[SEND_POOL];
static size_t wire_len[SEND_POOL];

static void make_wire(const send_workload *w, ws_role role)
{
    static const uint8_t key[4] = {1, 2, 3, 4};
    size_t i;

    for (i = 0; i < SEND_POOL; i++) {
        ws_frame_header h;
        int n;

        memset(&h, 0, sizeof h);
        h.fin = true;
        h.opcode = (uint8_t)w->opcode;
        h.length = w->len;
        h.masked = role == WS_ROLE_CLIENT;
        memcpy(h.mask, key, 4);
        free(wire[i]);
        wire[i] = malloc(WS_FRAME_HEADER_MAX + w->len);
        if (wire[i] == NULL)
            exit(1);
        n = ws_frame_header_encode(wire[i], &h);
        memcpy(wire[i] + n, pool[i], w->len);
        if (h.masked)
            ws_mask(wire[i] + n, w->len, key, 0);
        wire_len[i] = (size_t)n + w->len;
    }
}

static uint8_t flush_buf[SEND_FLUSH + WS_FRAME_HEADER_MAX + 65536];

static void run_memcpy(send_run *r)
{
    size_t i, used = 0;

    for (i = 0; i < r->w->count; i++) {
        size_t k = i % SEND_POOL;
        if (used + wire_len[k] > sizeof flush_buf) {
            sink_write(&r->out, flush_buf, used);
            used = 0;
        }
        memcpy(flush_buf + used, wire[k], wire_len[k]);
        used += wire_len[k];
    }
    sink_write(&r->out, flush_buf, used);
}

/* An open connection of role, with permessage-deflate agreed as p says when not NULL. */
static ws_conn *open_conn_deflate(ws_role role, const ws_deflate_params *p)
{
    ws_config cfg;
    ws_conn *c;

    ws_config_init(&cfg, role);
    cfg.random = kernel_random;
    cfg.check_outgoing_utf8 = true;
    c = ws_conn_new(&cfg);
    if (c == NULL || (p != NULL && ws_conn_set_deflate(c, p) != WS_OK) ||
        ws_conn_start_open(c, NULL) != WS_OK)
        exit(1);
    return c;
}

static ws_conn *open_conn(ws_role role)
{
    return open_conn_deflate(role, NULL);
}

/* The host's write: every run of the queue, then consumed. */
static void drain(ws_conn *c, sink *s)
{
    const uint8_t *p;
    size_t n;

    while ((n = ws_conn_output(c, &p)) > 0) {
        sink_write(s, p, n);
        ws_conn_consume(c, n);
    }
}

static void run_libws(send_run *r, bool nocopy)
{
    ws_conn *c = open_conn(r->role);
    size_t i, queued = 0;
    ws_event ev;

    (void)ws_conn_next_event(c, &ev); /* WS_EV_OPEN */
    for (i = 0; i < r->w->count && !r->failed; i++) {
        const uint8_t *p = pool[i % SEND_POOL];
        int rc = nocopy ? ws_conn_send_nocopy(c, r->w->opcode, p, r->w->len, NULL, NULL)
                        : ws_conn_send(c, r->w->opcode, p, r->w->len);
        if (rc != WS_OK)
            r->failed = true;
        queued += r->w->len;
        if (queued >= SEND_FLUSH) {
            drain(c, &r->out);
            queued = 0;
        }
    }
    drain(c, &r->out);
    ws_conn_free(c);
}

#ifdef BENCH_WSLAY
static ssize_t wslay_write(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                           void *user_data)
{
    (void)ctx;
    (void)flags;
    sink_write(&((send_run *)user_data)->out, data, len);
    return (ssize_t)len;
}

static int wslay_mask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user_data)
{
    (void)ctx;
    (void)user_data;
    return kernel_random(NULL, buf, len) == 0 ? 0 : -1;
}

static void run_wslay(send_run *r)
{
    struct wslay_event_callbacks cb;
    wslay_event_context_ptr ctx;
    size_t i, queued = 0;

    memset(&cb, 0, sizeof cb);
    cb.send_callback = wslay_write;
    cb.genmask_callback = wslay_mask;
    if ((r->role == WS_ROLE_SERVER ? wslay_event_context_server_init(&ctx, &cb, r)
                                   : wslay_event_context_client_init(&ctx, &cb, r)) != 0) {
        r->failed = true;
        return;
    }
    for (i = 0; i < r->w->count && !r->failed; i++) {
        struct wslay_event_msg m;
        m.opcode = r->w->opcode == WS_OP_TEXT ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME;
        m.msg = pool[i % SEND_POOL];
        m.msg_length = r->w->len;
        if (wslay_event_queue_msg(ctx, &m) != 0)
            r->failed = true;
        queued += r->w->len;
        if (queued >= SEND_FLUSH) {
            if (wslay_event_send(ctx) != 0)
                r->failed = true;
            queued = 0;
        }
    }
    if (wslay_event_send(ctx) != 0)
        r->failed = true;
    wslay_event_context_free(ctx);
}
#endif

enum { IMPL_MEMCPY, IMPL_LIBWS, IMPL_NOCOPY, IMPL_WSLAY, IMPL_COUNT };
static const char *const impl_names[IMPL_COUNT] = {"memcpy", "libws", "nocopy", "wslay"};

static bool impl_available(int impl, ws_role role)
{
#ifndef BENCH_WSLAY
    if (impl == IMPL_WSLAY)
        return false;
#endif
    /* Without a copy only in the server role: a client masks, which is a copy. */
    return !(impl == IMPL_NOCOPY && role == WS_ROLE_CLIENT);
}

/* One run; not inlined, so callgrind can count exactly this (--toggle-collect). */
void bench_send_timed(send_run *r, int impl);
__attribute__((noinline)) void bench_send_timed(send_run *r, int impl)
{
    switch (impl) {
    case IMPL_MEMCPY:
        run_memcpy(r);
        break;
    case IMPL_LIBWS:
        run_libws(r, false);
        break;
    case IMPL_NOCOPY:
        run_libws(r, true);
        break;
#ifdef BENCH_WSLAY
    case IMPL_WSLAY:
        run_wslay(r);
        break;
#endif
    default:
        r->failed = true;
    }
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double run_once(const send_workload *w, ws_role role, int impl, bool verify, uint64_t *hash,
                       uint64_t *bytes)
{
    send_run r;
    double t0, t1;

    memset(&r, 0, sizeof r);
    r.w = w;
    r.role = role;
    r.verify = verify;
    sink_init(&r.out, verify, role);
    t0 = now_seconds();
    bench_send_timed(&r, impl);
    t1 = now_seconds();
    free(r.out.hold);
    if (r.failed)
        return -1;
    *hash = r.out.hash;
    *bytes = r.out.bytes;
    return t1 - t0;
}

/* ---- broadcast ----------------------------------------------------------------------------- */

/* How a broadcast reaches its recipients: sent (encoded, and copied) to each; prepared once
 * per message; and, on connections with permessage-deflate (no context takeover, window
 * 15), prepared and compressed once, or compressed by each connection. */
enum { BC_SEND, BC_PREPARED, BC_ZPREPARED, BC_ZSEND };

/* One message to n server connections, count times, the way kind says. Returns seconds. */
double bench_broadcast(size_t n, size_t count, size_t len, int kind);
__attribute__((noinline)) double bench_broadcast(size_t n, size_t count, size_t len, int kind)
{
    static const ws_deflate_params nct = {true, true, 15, 15};
    ws_conn **c = calloc(n, sizeof *c);
    size_t *queued = calloc(n, sizeof *queued);
    bool prepared = kind == BC_PREPARED || kind == BC_ZPREPARED;
    sink s;
    double t0, t1;
    size_t i, k;

    if (c == NULL || queued == NULL)
        exit(1);
    sink_init(&s, false, WS_ROLE_SERVER);
    for (k = 0; k < n; k++)
        c[k] = open_conn_deflate(WS_ROLE_SERVER, kind >= BC_ZPREPARED ? &nct : NULL);
    t0 = now_seconds();
    for (i = 0; i < count; i++) {
        const uint8_t *p = pool[i % SEND_POOL];
        ws_prepared *pm = NULL;
        if (prepared && ws_prepared_new(&pm, WS_OP_TEXT, p, len, NULL, NULL) != WS_OK)
            exit(1);
        if (kind == BC_ZPREPARED && ws_prepared_compress(pm, 15, 6) != WS_OK)
            exit(1);
        for (k = 0; k < n; k++) {
            int rc = prepared ? ws_conn_send_prepared(c[k], pm)
                              : ws_conn_send_text(c[k], (const char *)p, len);
            if (rc != WS_OK)
                exit(1);
            queued[k] += len;
            if (queued[k] >= SEND_FLUSH) {
                drain(c[k], &s);
                queued[k] = 0;
            }
        }
        ws_prepared_free(pm);
    }
    for (k = 0; k < n; k++)
        drain(c[k], &s);
    t1 = now_seconds();
    for (k = 0; k < n; k++)
        ws_conn_free(c[k]);
    free(c);
    free(queued);
    return t1 - t0;
}

/* ---- driver ---------------------------------------------------------------------------------- */

typedef struct options {
    int runs;
    const char *only; /* workload names, comma-separated, or NULL */
    const char *impl; /* implementation names, or NULL */
    const char *role; /* "server", "client" or NULL for both */
    bool once;        /* one timed run of each selection, no verification (callgrind) */
    bool no_broadcast;
    /* "N,LEN,KIND", KIND send, prepared, zprepared or zsend: that broadcast alone (callgrind) */
    const char *one_broadcast;
} options;

static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    const char *p = list;

    if (list == NULL)
        return true;
    while ((p = strstr(p, name)) != NULL) {
        if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return true;
        p += n;
    }
    return false;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void run_workloads(const options *o)
{
    static const ws_role roles[2] = {WS_ROLE_SERVER, WS_ROLE_CLIENT};
    size_t wi;
    int ri, impl, k;

    printf("| workload | role | impl | median ms | ns/message | MB/s (wire) | x memcpy | "
           "verified |\n|---|---|---|--:|--:|--:|--:|---|\n");
    for (wi = 0; wi < WORKLOADS; wi++) {
        const send_workload *w = &workloads[wi];
        if (!in_list(o->only, w->name))
            continue;
        make_pool(w);
        for (ri = 0; ri < 2; ri++) {
            double base = 0;
            uint64_t ref_hash = 0;
            if (!in_list(o->role, roles[ri] == WS_ROLE_SERVER ? "server" : "client"))
                continue;
            make_wire(w, roles[ri]);
            for (impl = 0; impl < IMPL_COUNT; impl++) {
                double t[32], med;
                uint64_t hash = 0, bytes = 0;
                const char *verified = "-";
                if (!impl_available(impl, roles[ri]) || !in_list(o->impl, impl_names[impl]))
                    continue;
                if (!o->once) {
                    /* Verification: the same bytes (server) or payloads (client). memcpy's
                     * client stream has a fixed key, so it is decoded like the others. */
                    if (run_once(w, roles[ri], impl, true, &hash, &bytes) < 0) {
                        printf("| %s | %s | %s | failed |\n", w->name, ri ? "client" : "server",
                               impl_names[impl]);
                        continue;
                    }
                    if (impl == IMPL_MEMCPY)
                        ref_hash = hash;
                    verified = ref_hash == 0 ? "?" : hash == ref_hash ? "yes" : "NO";
                }
                for (k = 0; k < (o->once ? 1 : o->runs); k++)
                    t[k] = run_once(w, roles[ri], impl, false, &hash, &bytes);
                qsort(t, (size_t)(o->once ? 1 : o->runs), sizeof t[0], cmp_double);
                med = t[(o->once ? 1 : o->runs) / 2];
                if (impl == IMPL_MEMCPY)
                    base = med;
                printf("| %s | %s | %s | %.1f | %.1f | %.0f | %s%.2f | %s |\n", w->name,
                       ri ? "client" : "server", impl_names[impl], med * 1e3,
                       med * 1e9 / (double)w->count, (double)bytes / med / 1e6,
                       base > 0 ? "" : "n/a ", base > 0 ? med / base : 0.0, verified);
            }
        }
    }
}

static void run_broadcast(const options *o)
{
    static const size_t ns[] = {1, 8, 64};
    static const size_t lens[] = {16, 1024};
    size_t li, ni;
    send_workload w = {"B", "broadcast", 0, 0, WS_OP_TEXT};
    bool z = ws_deflate_available();

    printf("\n| broadcast (server role) | message | recipients | prepared ns/recipient | "
           "send ns/recipient | deflate: prepared+compressed once | deflate: send (each "
           "compresses) |\n|---|--:|--:|--:|--:|--:|--:|\n");
    for (li = 0; li < 2; li++) {
        size_t count = BROADCAST_COUNT;
        w.len = 1024;
        make_pool(&w); /* JSON of 1 KiB; the 16-byte messages send its first bytes */
        for (ni = 0; ni < 3; ni++) {
            double t[4][16], med[4] = {0, 0, 0, 0};
            int k, kind, runs = o->once ? 1 : o->runs;
            for (kind = BC_SEND; kind <= BC_ZSEND; kind++) {
                /* compressing per connection is slow: a tenth of the messages */
                size_t cnt = kind == BC_ZSEND ? count / 10 : count;
                if (kind >= BC_ZPREPARED && !z)
                    continue;
                for (k = 0; k < runs; k++)
                    t[kind][k] = bench_broadcast(ns[ni], cnt, lens[li], kind);
                qsort(t[kind], (size_t)runs, sizeof t[kind][0], cmp_double);
                med[kind] = t[kind][runs / 2] * 1e9 / (double)(cnt * ns[ni]);
            }
            printf("| %s | %zu B | %zu | %.1f | %.1f | %.1f | %.1f |\n", "B", lens[li], ns[ni],
                   med[BC_PREPARED], med[BC_SEND], med[BC_ZPREPARED], med[BC_ZSEND]);
        }
    }
}

int main(int argc, char **argv)
{
    options o = {5, NULL, NULL, NULL, false, false, NULL};
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            o.runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            o.only = argv[++i];
        else if (strcmp(argv[i], "--impl") == 0 && i + 1 < argc)
            o.impl = argv[++i];
        else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            o.role = argv[++i];
        else if (strcmp(argv[i], "--once") == 0)
            o.once = true;
        else if (strcmp(argv[i], "--no-broadcast") == 0)
            o.no_broadcast = true;
        else if (strcmp(argv[i], "--broadcast") == 0 && i + 1 < argc)
            o.one_broadcast = argv[++i];
        else {
            fprintf(stderr, "usage: bench_send [--runs N] [--only S1,S2,S3,B] "
                            "[--impl memcpy,libws,nocopy,wslay] [--role server|client] [--once] "
                            "[--no-broadcast]\n");
            return 2;
        }
    }
    if (o.runs < 1 || o.runs > 15)
        o.runs = 5;
    if (o.one_broadcast != NULL) {
        unsigned long n = 0, len = 0;
        char kind[16] = "";
        send_workload w = {"B", "broadcast", 0, 1024, WS_OP_TEXT};
        if (sscanf(o.one_broadcast, "%lu,%lu,%15s", &n, &len, kind) != 3 || n == 0 || len == 0 ||
            len > 1024)
            return 2;
        make_pool(&w);
        static const char *const kinds[] = {"send", "prepared", "zprepared", "zsend"};
        int k = 0;
        unsigned long count = BROADCAST_COUNT;
        while (k < 4 && strcmp(kind, kinds[k]) != 0)
            k++;
        if (k == 4 || (k >= BC_ZPREPARED && !ws_deflate_available()))
            return 2;
        if (k == BC_ZSEND)
            count /= 10; /* as in the table: compressing per connection is slow */
        printf("broadcast %lu B to %lu (%s, %lu messages): %.1f ms\n", len, n, kind, count,
               bench_broadcast(n, count, len, k) * 1e3);
        return 0;
    }
    printf("send path: flush every %u KiB queued; client masks from getrandom(2), 4 KiB "
           "buffered\n\n",
           SEND_FLUSH / 1024u);
    run_workloads(&o);
    if (!o.no_broadcast && in_list(o.only, "B"))
        run_broadcast(&o);
    for (i = 0; i < (int)SEND_POOL; i++) {
        free(pool[i]);
        free(wire[i]);
    }
    return 0;
}
