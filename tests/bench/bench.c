/*
 * Receive-path benchmark: generates client-to-server streams in memory, feeds them in 16 KiB
 * pieces to libws (whole messages and streaming), to wslay and to a plain memcpy, and prints
 * throughput and ratios; also handshake cost and bytes of state per connection.
 */
#define _POSIX_C_SOURCE 200809L

#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ws.h"

#ifdef BENCH_CALLGRIND
#include <valgrind/callgrind.h>
#endif

/* ---- small helpers ------------------------------------------------------------------- */

#define FNV_PRIME UINT64_C(0x100000001b3)

uint64_t bench_hash(uint64_t h, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

uint64_t bench_hash_len(uint64_t h, uint64_t len)
{
    uint8_t b[8];
    size_t i;

    for (i = 0; i < 8; i++)
        b[i] = (uint8_t)(len >> (8 * i));
    return bench_hash(h, b, 8);
}

void bench_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
    memcpy(dst, src, n);
#if defined(__GNUC__)
    /* The copy is the work being measured: tell the compiler someone reads dst. */
    __asm__ __volatile__("" : : "r"(dst) : "memory");
#endif
}

/* Wall-clock time by default; --cpu-time switches to the process's CPU time, which a busy
 * machine disturbs less (for comparing builds, not for published figures). */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL) {
        fprintf(stderr, "bench: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return q;
}

/* A host allocator that counts calls and the bytes it holds, for the "no allocation per
 * message" check and the idle-connection heap figure. */
typedef struct counting_alloc {
    uint64_t calls; /* allocations and resizes; frees are not counted */
    size_t live;
    size_t peak;
} counting_alloc;

#define ALLOC_PREFIX 16u /* keeps the caller's pointer 16-byte aligned */

static void *counting_realloc(void *ud, void *ptr, size_t size)
{
    counting_alloc *a = ud;
    uint8_t *base = ptr ? (uint8_t *)ptr - ALLOC_PREFIX : NULL;
    size_t old = 0;
    uint8_t *nb;

    if (base)
        memcpy(&old, base, sizeof old);
    if (size == 0) {
        free(base);
        a->live -= old;
        return NULL;
    }
    a->calls++;
    nb = realloc(base, size + ALLOC_PREFIX);
    if (nb == NULL)
        return NULL;
    memcpy(nb, &size, sizeof size);
    a->live = a->live - old + size;
    if (a->live > a->peak)
        a->peak = a->live;
    return nb + ALLOC_PREFIX;
}

/* ---- stream generation --------------------------------------------------------------- */

typedef struct gen {
    bench_stream *s;
    size_t cap;
    uint64_t rng;
} gen;

static void gen_start(gen *g, bench_stream *s, const char *name, const char *what, size_t estimate,
                      uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->what = what;
    s->checksum = BENCH_HASH_INIT;
    s->data = xrealloc(NULL, estimate);
    g->s = s;
    g->cap = estimate;
    g->rng = seed;
}

static uint8_t *gen_room(gen *g, size_t n)
{
    bench_stream *s = g->s;

    if (g->cap - s->len < n) {
        while (g->cap - s->len < n)
            g->cap *= 2;
        s->data = xrealloc(s->data, g->cap);
    }
    return s->data + s->len;
}

/* Appends one masked frame (a fresh random key per frame, as a browser sends). */
static void gen_frame(gen *g, unsigned opcode, bool fin, const uint8_t *payload, size_t len)
{
    uint8_t *p = gen_room(g, 14 + len);
    uint64_t key = bench_rng_next(&g->rng);
    uint8_t mask[8];
    size_t n = 0, i;

    p[n++] = (uint8_t)((fin ? 0x80u : 0u) | opcode);
    if (len < 126) {
        p[n++] = (uint8_t)(0x80u | len);
    } else if (len <= 0xFFFFu) {
        p[n++] = 0x80u | 126u;
        p[n++] = (uint8_t)(len >> 8);
        p[n++] = (uint8_t)len;
    } else {
        p[n++] = 0x80u | 127u;
        for (i = 0; i < 8; i++)
            p[n++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    for (i = 0; i < 8; i++)
        mask[i] = (uint8_t)(key >> (8 * (i & 3u)));
    memcpy(p + n, mask, 4);
    n += 4;
    /* Eight bytes at a time: the key repeats every four, so one 8-byte pattern fits all. */
    for (i = 0; i + 8 <= len; i += 8) {
        uint64_t w, m;
        memcpy(&w, payload + i, 8);
        memcpy(&m, mask, 8);
        w ^= m;
        memcpy(p + n + i, &w, 8);
    }
    for (; i < len; i++)
        p[n + i] = (uint8_t)(payload[i] ^ mask[i & 3u]);
    g->s->len += n + len;
}

/* Records a whole message (its payload as the receiver must see it). */
static void gen_account(gen *g, const uint8_t *payload, size_t len)
{
    bench_stream *s = g->s;

    s->messages++;
    s->payload_bytes += len;
    s->checksum = bench_hash(s->checksum, payload, len);
    s->checksum = bench_hash_len(s->checksum, len);
}

static void gen_message(gen *g, unsigned opcode, const uint8_t *payload, size_t len)
{
    gen_frame(g, opcode, true, payload, len);
    gen_account(g, payload, len);
}

static void gen_random_bytes(gen *g, uint8_t *p, size_t n)
{
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t r = bench_rng_next(&g->rng);
        memcpy(p + i, &r, 8);
    }
    while (i < n) {
        uint64_t r = bench_rng_next(&g->rng);
        size_t k;
        for (k = 0; k < 8 && i < n; k++, i++)
            p[i] = (uint8_t)(r >> (8 * k));
    }
}

#define W_SCALE(n, q) ((q) ? (n) / 10u : (n))

static void gen_w1(bench_stream *s, bool quick)
{
    uint64_t count = W_SCALE(1000000u, quick), i;
    uint8_t p[16];
    gen g;

    gen_start(&g, s, "W1", "1M binary x 16 B", (size_t)count * 22u, 1);
    for (i = 0; i < count; i++) {
        gen_random_bytes(&g, p, sizeof p);
        gen_message(&g, WS_OP_BINARY, p, sizeof p);
    }
}

static void gen_w2(bench_stream *s, bool quick)
{
    uint64_t count = W_SCALE(100000u, quick), i;
    char p[200];
    gen g;

    gen_start(&g, s, "W2", "100k text x 200 B JSON", (size_t)count * 208u, 2);
    for (i = 0; i < count; i++) {
        bench_json(&g.rng, p, sizeof p, i);
        gen_message(&g, WS_OP_TEXT, (const uint8_t *)p, sizeof p);
    }
}

static void gen_w3(bench_stream *s, bool quick)
{
    uint64_t count = W_SCALE(10000u, quick), i;
    size_t len = 65536;
    uint8_t *p = xrealloc(NULL, len);
    gen g;

    gen_start(&g, s, "W3", "10k binary x 64 KiB", (size_t)count * (len + 14u), 3);
    for (i = 0; i < count; i++) {
        gen_random_bytes(&g, p, len);
        gen_message(&g, WS_OP_BINARY, p, len);
    }
    free(p);
}

/* Appends one character: ASCII nine times in ten, else a 2-, 3- or 4-byte one. */
static size_t gen_utf8_char(gen *g, uint8_t *p)
{
    unsigned kind = bench_rng_below(&g->rng, 30);
    uint32_t cp;

    if (kind >= 3) {
        p[0] = (uint8_t)(0x20 + bench_rng_below(&g->rng, 95));
        return 1;
    }
    if (kind == 0) {
        cp = 0x80 + bench_rng_below(&g->rng, 0x800 - 0x80);
        p[0] = (uint8_t)(0xC0 | (cp >> 6));
        p[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (kind == 1) {
        do
            cp = 0x800 + bench_rng_below(&g->rng, 0x10000 - 0x800);
        while (cp >= 0xD800 && cp <= 0xDFFF);
        p[0] = (uint8_t)(0xE0 | (cp >> 12));
        p[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        p[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    cp = 0x10000 + bench_rng_below(&g->rng, 0x110000 - 0x10000);
    p[0] = (uint8_t)(0xF0 | (cp >> 18));
    p[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static void gen_w4(bench_stream *s, bool quick)
{
    uint64_t count = quick ? 4u : 20u, i;
    size_t len = (size_t)8 << 20, frag = len / 64, f;
    uint8_t *p = xrealloc(NULL, len);
    gen g;

    gen_start(&g, s, "W4", "20 text x 8 MiB UTF-8, 64 frags", (size_t)count * (len + 64u * 14u), 4);
    for (i = 0; i < count; i++) {
        size_t n = 0;
        while (len - n >= 4)
            n += gen_utf8_char(&g, p + n);
        while (n < len)
            p[n++] = 'x';
        /* Fixed fragment edges: wherever they fall, including inside a character. */
        for (f = 0; f < 64; f++)
            gen_frame(&g, f == 0 ? WS_OP_TEXT : WS_OP_CONTINUATION, f == 63, p + f * frag, frag);
        gen_account(&g, p, len);
    }
    free(p);
}

static void gen_w5(bench_stream *s, bool quick)
{
    uint64_t count = W_SCALE(1000000u, quick), i;
    char p[17];
    gen g;

    gen_start(&g, s, "W5", "1M text x 16 B", (size_t)count * 22u, 5);
    for (i = 0; i < count; i++) {
        snprintf(p, sizeof p, "{\"seq\":%08u}", (unsigned)(i % 100000000u));
        gen_message(&g, WS_OP_TEXT, (const uint8_t *)p, 16);
    }
}

static void gen_w6(bench_stream *s, bool quick)
{
    uint64_t count = W_SCALE(50000u, quick), i;
    char p[1024];
    uint8_t ping[8];
    size_t f;
    gen g;

    gen_start(&g, s, "W6", "50k text x 1 KiB, 8 frags + 7 pings", (size_t)count * 1200u, 6);
    for (i = 0; i < count; i++) {
        bench_json(&g.rng, p, sizeof p, i);
        for (f = 0; f < 8; f++) {
            if (f > 0) {
                gen_random_bytes(&g, ping, sizeof ping);
                gen_frame(&g, WS_OP_PING, true, ping, sizeof ping);
                s->pings++;
            }
            gen_frame(&g, f == 0 ? WS_OP_TEXT : WS_OP_CONTINUATION, f == 7,
                      (const uint8_t *)p + f * 128, 128);
        }
        gen_account(&g, (const uint8_t *)p, sizeof p);
    }
}

typedef void (*gen_fn)(bench_stream *s, bool quick);

typedef struct workload {
    const char *name;
    gen_fn gen;
    double target;           /* libws time / memcpy time must stay at or below this */
    const char *wslay_issue; /* wslay / memcpy as the issue measured it */
} workload;

static const workload workloads[] = {
    {"W1", gen_w1, 14, "28-61"}, {"W2", gen_w2, 20, "64-100"}, {"W3", gen_w3, 2, "15-22"},
    {"W4", gen_w4, 8, "65-71"},  {"W5", gen_w5, 20, "64-100"}, {"W6", gen_w6, 20, "60-82"},
};
#define WORKLOAD_COUNT (sizeof workloads / sizeof workloads[0])

/* ---- receivers ----------------------------------------------------------------------- */

static uint8_t scratch[BENCH_PIECE];

static void run_memcpy(const bench_stream *s, bool verify, bench_count *out)
{
    size_t off;

    (void)verify;
    memset(out, 0, sizeof *out);
    for (off = 0; off < s->len; off += BENCH_PIECE) {
        size_t n = s->len - off < BENCH_PIECE ? s->len - off : BENCH_PIECE;
        bench_copy(scratch, s->data + off, n);
    }
    /* Nothing to count: a copy delivers no messages. */
    out->messages = s->messages;
    out->payload_bytes = s->payload_bytes;
    out->pings = s->pings;
    out->checksum = s->checksum;
}

/* Takes every event the connection has for the piece just fed. */
static void libws_drain_events(ws_conn *c, bool verify, uint64_t *msg_len, bench_count *out)
{
    ws_event ev;
    ws_event_type t;

    while ((t = ws_conn_next_event(c, &ev)) != WS_EV_NONE) {
        switch (t) {
        case WS_EV_MESSAGE:
            out->messages++;
            out->payload_bytes += ev.len;
            if (verify) {
                out->checksum = bench_hash(out->checksum, ev.data, ev.len);
                out->checksum = bench_hash_len(out->checksum, ev.len);
            }
            break;
        case WS_EV_CHUNK:
            out->payload_bytes += ev.len;
            *msg_len += ev.len;
            if (verify)
                out->checksum = bench_hash(out->checksum, ev.data, ev.len);
            if (ev.message_final) {
                out->messages++;
                if (verify)
                    out->checksum = bench_hash_len(out->checksum, *msg_len);
                *msg_len = 0;
            }
            break;
        case WS_EV_PING:
            out->pings++;
            break;
        default:
            out->failed = true;
            break;
        }
    }
}

static void run_libws(const bench_stream *s, bool whole, bool verify, bench_count *out)
{
    counting_alloc alloc;
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    uint64_t msg_len = 0;
    size_t off;

    memset(out, 0, sizeof *out);
    out->checksum = BENCH_HASH_INIT;
    memset(&alloc, 0, sizeof alloc);
    /* Production settings: defaults (UTF-8 checked, pings answered), heap connection. */
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.whole_messages = whole;
    cfg.realloc = counting_realloc;
    cfg.realloc_ud = &alloc;
    c = ws_conn_new(&cfg);
    if (c == NULL || ws_conn_start_open(c, NULL) != WS_OK ||
        ws_conn_next_event(c, &ev) != WS_EV_OPEN) {
        out->failed = true;
        ws_conn_free(c);
        return;
    }
    alloc.calls = 0; /* from here on: the receive path only */
    for (off = 0; off < s->len && !out->failed; off += BENCH_PIECE) {
        size_t n = s->len - off < BENCH_PIECE ? s->len - off : BENCH_PIECE;
        const uint8_t *d;
        size_t k;

        /* libws unmasks in place: the stream itself stays untouched. */
        bench_copy(scratch, s->data + off, n);
        if (ws_conn_feed(c, scratch, n) != WS_OK)
            out->failed = true;
        libws_drain_events(c, verify, &msg_len, out);
        while ((k = ws_conn_output(c, &d)) > 0) /* the pongs, as a loop would write them */
            ws_conn_consume(c, k);
    }
    out->allocations = alloc.calls;
    ws_conn_free(c);
}

static void run_libws_whole(const bench_stream *s, bool verify, bench_count *out)
{
    run_libws(s, true, verify, out);
}

static void run_libws_stream(const bench_stream *s, bool verify, bench_count *out)
{
    run_libws(s, false, verify, out);
}

static void run_wslay(const bench_stream *s, bool verify, bench_count *out)
{
    bench_wslay_run(s, verify, out);
}

typedef void (*run_fn)(const bench_stream *s, bool verify, bench_count *out);

enum { IMPL_MEMCPY, IMPL_LIBWS, IMPL_STREAM, IMPL_WSLAY, IMPL_COUNT };

static const struct {
    const char *name;
    run_fn run;
} impls[IMPL_COUNT] = {
    {"memcpy", run_memcpy},
    {"libws", run_libws_whole},
    {"stream", run_libws_stream},
    {"wslay", run_wslay},
};

/* ---- measurement --------------------------------------------------------------------- */

#define MAX_RUNS 51

typedef struct stats {
    bool done;
    bool ok;
    double median, min, max; /* seconds */
    uint64_t allocations;    /* per run, from the verification run */
} stats;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void summarise(double *t, int n, stats *st)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    st->min = t[0];
    st->max = t[n - 1];
    st->median = (n % 2) ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static bool check_count(const bench_stream *s, const char *impl, const bench_count *c, bool verify)
{
    bool ok = !c->failed && c->messages == s->messages && c->payload_bytes == s->payload_bytes &&
              c->pings == s->pings && (!verify || c->checksum == s->checksum);

    if (!ok)
        fprintf(stderr,
                "bench: %s %s: MISMATCH messages %llu/%llu bytes %llu/%llu pings %llu/%llu "
                "checksum %s%s\n",
                s->name, impl, (unsigned long long)c->messages, (unsigned long long)s->messages,
                (unsigned long long)c->payload_bytes, (unsigned long long)s->payload_bytes,
                (unsigned long long)c->pings, (unsigned long long)s->pings,
                !verify                      ? "not checked"
                : c->checksum == s->checksum ? "ok"
                                             : "WRONG",
                c->failed ? " (receiver reported a failure)" : "");
    return ok;
}

typedef struct options {
    int runs;
    bool verify;
    bool quick;
    bool handshake;
    bool rerun_shared; /* run a round again when the core was shared (see probe_core) */
    bool instructions; /* under callgrind: one counted run per receiver, no timing */
    bool only[WORKLOAD_COUNT];
    bool impl[IMPL_COUNT];
} options;

/*
 * How much of a core this process gets just now: six interleaved integer chains, as many
 * operations per cycle as the core's ALUs run (G operations/s). On a VM whose virtual CPU
 * shares a physical core with another guest's (SMT), this halves whenever the other guest is
 * busy, while a single dependent chain (the clock) does not move. Code that runs several
 * instructions per cycle, as libws and wslay do, then slows by up to 2x, and memcpy, which
 * waits on memory, hardly at all: the ratios of such a round say more about the neighbour
 * than about the code.
 */
static double probe_core(void)
{
    enum { STEPS = 3000000 };
    volatile uint64_t sink;
    uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, i;
    double t0 = now_seconds(), t;

    for (i = 0; i < STEPS; i++) {
        a += b ^ i;
        b += c ^ a;
        c += d ^ i;
        d += e ^ c;
        e += f ^ i;
        f += a ^ e;
    }
    t = now_seconds() - t0;
    sink = a + b + c + d + e + f;
    (void)sink;
    return t > 0 ? 12.0 * STEPS / t / 1e9 : 0;
}

/* A round whose core probe, before or after it, fell below this share of the best probe
 * seen is run again (up to MAX_RERUNS times per workload), so that every receiver's times
 * come from rounds with the whole core; how many were run again is reported. */
#define CORE_SHARE_MIN 0.8
#define MAX_RERUNS     20

/* One timed round: every receiver once, in turn. */
static bool run_round(const bench_stream *s, stats st[IMPL_COUNT], double t[IMPL_COUNT])
{
    bench_count c;
    bool ok = true;
    int i;

    for (i = 0; i < IMPL_COUNT; i++) {
        double t0;
        if (!st[i].done)
            continue;
        t0 = now_seconds();
        impls[i].run(s, false, &c);
        t[i] = now_seconds() - t0;
        if (!check_count(s, impls[i].name, &c, false))
            st[i].ok = ok = false;
    }
    return ok;
}

/* One verification run per receiver (untimed, checksum on), then the timed rounds, the
 * receivers taking turns so that drifts in machine load hit them alike. */
static bool measure(const bench_stream *s, const options *o, stats st[IMPL_COUNT], int *reruns)
{
    double t[MAX_RUNS][IMPL_COUNT], by_impl[MAX_RUNS], best = 0;
    bench_count c;
    bool ok = true;
    int i, r = 0;

    *reruns = 0;
    for (i = 0; i < IMPL_COUNT; i++) {
        memset(&st[i], 0, sizeof st[i]);
        if (!o->impl[i] || (i == IMPL_WSLAY && !bench_wslay_available()))
            continue;
        st[i].done = true;
        impls[i].run(s, o->verify, &c);
        st[i].ok = check_count(s, impls[i].name, &c, o->verify);
        st[i].allocations = c.allocations;
        ok = ok && st[i].ok;
    }
    while (r < o->runs) {
        double before = probe_core(), after;
        bool round_ok = run_round(s, st, t[r]);

        after = probe_core();
        best = before > best ? before : best;
        best = after > best ? after : best;
        ok = ok && round_ok;
        if (o->rerun_shared && *reruns < MAX_RERUNS &&
            (before < CORE_SHARE_MIN * best || after < CORE_SHARE_MIN * best)) {
            (*reruns)++;
            continue;
        }
        r++;
    }
    for (i = 0; i < IMPL_COUNT; i++) {
        if (!st[i].done)
            continue;
        for (r = 0; r < o->runs; r++)
            by_impl[r] = t[r][i];
        summarise(by_impl, o->runs, &st[i]);
    }
    return ok;
}

/*
 * --instructions, under valgrind --tool=callgrind (tests/bench/run.sh --instructions): each
 * receiver makes its verification run (unless --no-verify), then one run with the checksum
 * off between CALLGRIND_ZERO_STATS and a dump named "<workload> <receiver>", whose total is
 * the instructions of that run alone. No timing: instruction counts do not depend on load.
 */
static bool measure_instructions(const bench_stream *s, const options *o)
{
    bench_count c;
    bool ok = true;
    int i;

    printf("instructions: %s wire_bytes %zu messages %llu\n", s->name, s->len,
           (unsigned long long)s->messages);
    for (i = 0; i < IMPL_COUNT; i++) {
        char label[64];
        if (!o->impl[i] || (i == IMPL_WSLAY && !bench_wslay_available()))
            continue;
        if (o->verify) {
            impls[i].run(s, true, &c);
            ok &= check_count(s, impls[i].name, &c, true);
        }
        snprintf(label, sizeof label, "%s %s", s->name, impls[i].name);
#ifdef BENCH_CALLGRIND
        CALLGRIND_ZERO_STATS;
#endif
        impls[i].run(s, false, &c);
#ifdef BENCH_CALLGRIND
        CALLGRIND_DUMP_STATS_AT(label);
#endif
        ok &= check_count(s, impls[i].name, &c, false);
        printf("instructions: %s %s counted\n", s->name, impls[i].name);
    }
    fflush(stdout);
    return ok;
}

/* ---- report -------------------------------------------------------------------------- */

typedef struct row {
    const workload *w;
    const char *what;
    size_t wire;
    uint64_t messages;
    stats st[IMPL_COUNT];
    int reruns; /* rounds run again because the core was shared */
} row;

static void fmt_mbs(char *buf, size_t cap, const row *r, int i)
{
    const stats *st = &r->st[i];

    if (!st->done) {
        snprintf(buf, cap, "-");
        return;
    }
    snprintf(buf, cap, "%.0f (%.0f-%.0f)%s", (double)r->wire / 1e6 / st->median,
             (double)r->wire / 1e6 / st->max, (double)r->wire / 1e6 / st->min,
             st->ok ? "" : " FAIL");
}

static void fmt_ratio(char *buf, size_t cap, const row *r, int num, int den)
{
    if (!r->st[num].done || !r->st[den].done) {
        snprintf(buf, cap, "-");
        return;
    }
    snprintf(buf, cap, "%.2f", r->st[num].median / r->st[den].median);
}

/* Messages per second, scaled so that 16 B and 8 MiB messages both read well. */
static void fmt_rate(char *buf, size_t cap, uint64_t messages, const stats *st)
{
    double rate;

    if (!st->done) {
        snprintf(buf, cap, "-");
        return;
    }
    rate = (double)messages / st->median;
    if (rate >= 1e6)
        snprintf(buf, cap, "%.2f M", rate / 1e6);
    else if (rate >= 1e3)
        snprintf(buf, cap, "%.1f k", rate / 1e3);
    else
        snprintf(buf, cap, "%.1f", rate);
}

static void print_tables(const row *rows, size_t n, const options *o)
{
    char a[64], b[64], cc[64], d[64], e[32], f[32], g[32], h[32];
    size_t i;

    printf("\nThroughput, MB/s of wire bytes: median (min-max) of %d runs\n\n", o->runs);
    printf("| workload | wire MB | memcpy | libws | libws stream | wslay |\n");
    printf("|---|--:|--:|--:|--:|--:|\n");
    for (i = 0; i < n; i++) {
        const row *r = &rows[i];
        fmt_mbs(a, sizeof a, r, IMPL_MEMCPY);
        fmt_mbs(b, sizeof b, r, IMPL_LIBWS);
        fmt_mbs(cc, sizeof cc, r, IMPL_STREAM);
        fmt_mbs(d, sizeof d, r, IMPL_WSLAY);
        printf("| %s: %s | %.1f | %s | %s | %s | %s |\n", r->w->name, r->what,
               (double)r->wire / 1e6, a, b, cc, d);
    }

    printf("\nMessages/s (median) and time ratios (medians of the same run)\n\n");
    printf("| workload | libws msg/s | wslay msg/s | libws / wslay | libws / memcpy | "
           "stream / memcpy | wslay / memcpy | target libws / memcpy | met | allocations per run "
           "(libws, stream) |\n");
    printf("|---|--:|--:|--:|--:|--:|--:|--:|:-:|--:|\n");
    for (i = 0; i < n; i++) {
        const row *r = &rows[i];
        const stats *lw = &r->st[IMPL_LIBWS], *mc = &r->st[IMPL_MEMCPY];
        char msgs_l[32], msgs_w[32], met[8];

        fmt_rate(msgs_l, sizeof msgs_l, r->messages, lw);
        fmt_rate(msgs_w, sizeof msgs_w, r->messages, &r->st[IMPL_WSLAY]);
        fmt_ratio(e, sizeof e, r, IMPL_LIBWS, IMPL_WSLAY);
        fmt_ratio(f, sizeof f, r, IMPL_LIBWS, IMPL_MEMCPY);
        fmt_ratio(g, sizeof g, r, IMPL_STREAM, IMPL_MEMCPY);
        fmt_ratio(h, sizeof h, r, IMPL_WSLAY, IMPL_MEMCPY);
        if (lw->done && mc->done)
            snprintf(met, sizeof met, "%s", lw->median / mc->median <= r->w->target ? "yes" : "NO");
        else
            snprintf(met, sizeof met, "-");
        printf("| %s | %s | %s | %s | %s | %s | %s (issue: %s) | <= %.0f | %s | %llu, %llu |\n",
               r->w->name, msgs_l, msgs_w, e, f, g, h, r->w->wslay_issue, r->w->target, met,
               (unsigned long long)r->st[IMPL_LIBWS].allocations,
               (unsigned long long)r->st[IMPL_STREAM].allocations);
    }

    printf("\nTime per run, ms: median (min-max); rounds run again because the core was "
           "shared\n\n");
    printf("| workload | memcpy | libws | libws stream | wslay | rounds run again |\n"
           "|---|--:|--:|--:|--:|--:|\n");
    for (i = 0; i < n; i++) {
        const row *r = &rows[i];
        int k;
        printf("| %s |", r->w->name);
        for (k = 0; k < IMPL_COUNT; k++) {
            const stats *st = &r->st[k];
            if (st->done)
                printf(" %.2f (%.2f-%.2f) |", st->median * 1e3, st->min * 1e3, st->max * 1e3);
            else
                printf(" - |");
        }
        printf(" %d |\n", r->reruns);
    }
}

/* ---- handshake ----------------------------------------------------------------------- */

/* What a current Chrome sends, cookie included. */
static const char browser_request[] =
    "GET /chat?room=42 HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: https://example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=3f9a1c2e7b4d8e6f; theme=dark\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";
#define EXPECTED_ACCEPT "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"

/* A 101 carrying the accept value of the request's key (found with memchr, so that the
 * check costs little next to the handshake it checks). */
static bool response_ok(const uint8_t *p, size_t n)
{
    static const char status[] = "HTTP/1.1 101 ";
    const char *want = EXPECTED_ACCEPT;
    size_t w = strlen(want);
    const uint8_t *q = p, *end = p + n;

    if (n < sizeof status - 1 || memcmp(p, status, sizeof status - 1) != 0)
        return false;
    while ((size_t)(end - q) >= w && (q = memchr(q, want[0], (size_t)(end - q) - w + 1)) != NULL) {
        if (memcmp(q, want, w) == 0)
            return true;
        q++;
    }
    return false;
}

/* One handshake through the ws_handshake_* API: parse the request, write the 101. */
static bool handshake_api_once(uint8_t *head, size_t head_cap, ws_header *hdrs, size_t max_hdrs,
                               uint8_t *out, size_t cap, size_t *out_len)
{
    ws_handshake hs;
    size_t used = 0;

    ws_handshake_server_init(&hs, NULL, head, head_cap, hdrs, max_hdrs);
    if (ws_handshake_server_feed(&hs, (const uint8_t *)browser_request, sizeof browser_request - 1,
                                 &used) != WS_OK)
        return false;
    return ws_handshake_accept(&hs, NULL, out, cap, out_len) == WS_OK;
}

/* One handshake through a connection: feed, WS_EV_REQUEST, accept, WS_EV_OPEN, output. */
static bool handshake_conn_once(ws_conn *c, uint8_t *req, size_t *out_len)
{
    ws_event ev;
    const uint8_t *d;

    if (c == NULL || ws_conn_feed(c, req, sizeof browser_request - 1) != WS_OK ||
        ws_conn_next_event(c, &ev) != WS_EV_REQUEST || ws_conn_accept(c, NULL) != WS_OK ||
        ws_conn_next_event(c, &ev) != WS_EV_OPEN || ws_conn_next_event(c, &ev) != WS_EV_NONE)
        return false;
    *out_len = ws_conn_output(c, &d);
    if (!response_ok(d, *out_len))
        return false;
    ws_conn_consume(c, *out_len);
    return true;
}

/* The configuration a memory-conscious server would use: streaming, small buffers. */
static void small_config(ws_config *cfg)
{
    ws_config_init(cfg, WS_ROLE_SERVER);
    cfg->max_head_size = 2048;
    cfg->max_headers = 16;
    cfg->max_output = 4096;
}

static double best_of(double *t, int n)
{
    double b = t[0];
    int i;

    for (i = 1; i < n; i++)
        if (t[i] < b)
            b = t[i];
    return b;
}

static void bench_handshake(void)
{
    enum { N = 100000, REPS = 5 };
    static uint8_t head[8192], out[1024];
    static ws_header hdrs[64];
    static uint8_t req[sizeof browser_request];
    double t_api[REPS], t_init[REPS], t_new[REPS], t0;
    size_t out_len = 0, storage;
    counting_alloc alloc;
    ws_config cfg;
    void *mem;
    int rep, i;
    bool ok = true;

    memcpy(req, browser_request, sizeof browser_request);
    small_config(&cfg);
    storage = ws_conn_storage_size(&cfg);
    mem = xrealloc(NULL, storage);
    memset(&alloc, 0, sizeof alloc);

    ok = handshake_api_once(head, sizeof head, hdrs, 64, out, sizeof out, &out_len) &&
         response_ok(out, out_len);
    for (rep = 0; rep < REPS && ok; rep++) {
        t0 = now_seconds();
        for (i = 0; i < N; i++)
            ok &= handshake_api_once(head, sizeof head, hdrs, 64, out, sizeof out, &out_len);
        t_api[rep] = now_seconds() - t0;

        t0 = now_seconds();
        for (i = 0; i < N; i++)
            ok &= handshake_conn_once(ws_conn_init(mem, storage, &cfg), req, &out_len);
        t_init[rep] = now_seconds() - t0;

        ws_config_init(&cfg, WS_ROLE_SERVER);
        cfg.realloc = counting_realloc;
        cfg.realloc_ud = &alloc;
        t0 = now_seconds();
        for (i = 0; i < N; i++) {
            ws_conn *c = ws_conn_new(&cfg);
            ok &= handshake_conn_once(c, req, &out_len);
            ws_conn_free(c);
        }
        t_new[rep] = now_seconds() - t0;
        small_config(&cfg);
    }
    free(mem);
    printf("\nOpening handshake: a Chrome-like upgrade request (%zu bytes, 13 headers with a "
           "cookie and a permessage-deflate offer) parsed and answered with a 101 (%zu bytes); "
           "best of %d x %d\n\n",
           sizeof browser_request - 1, out_len, REPS, (int)N);
    if (!ok) {
        printf("handshake: FAILED\n");
        return;
    }
    printf("| path | ns per handshake |\n|---|--:|\n");
    printf("| ws_handshake_server_init + _feed + ws_handshake_accept | %.0f |\n",
           best_of(t_api, REPS) / N * 1e9);
    printf("| ws_conn_init (small config) + feed + next_event x3 + accept + output | %.0f |\n",
           best_of(t_init, REPS) / N * 1e9);
    printf("| ws_conn_new (defaults) + the same + ws_conn_free | %.0f |\n",
           best_of(t_new, REPS) / N * 1e9);
}

/* ---- memory -------------------------------------------------------------------------- */

/* Heap held by an idle open connection: created, handshake done, output drained. */
static size_t idle_heap(bool whole, uint64_t *calls)
{
    counting_alloc alloc;
    ws_config cfg;
    ws_conn *c;
    uint8_t req[sizeof browser_request];
    size_t out_len = 0, held;

    memcpy(req, browser_request, sizeof req);
    memset(&alloc, 0, sizeof alloc);
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.whole_messages = whole;
    cfg.realloc = counting_realloc;
    cfg.realloc_ud = &alloc;
    c = ws_conn_new(&cfg);
    if (!handshake_conn_once(c, req, &out_len)) {
        ws_conn_free(c);
        return 0;
    }
    held = alloc.live;
    *calls = alloc.calls;
    ws_conn_free(c);
    return alloc.live == 0 ? held : 0; /* 0 also flags a leak */
}

static void bench_memory(void)
{
    ws_config cfg;
    size_t held, wslay;
    uint64_t calls = 0;

    printf("\nBytes of state per connection\n\n| what | bytes |\n|---|--:|\n");
    small_config(&cfg);
    printf("| ws_conn_storage_size: streaming, max_head_size 2048, max_headers 16, "
           "max_output 4096 | %zu |\n",
           ws_conn_storage_size(&cfg));
    cfg.max_head_size = 64;
    cfg.max_headers = 8;
    cfg.max_output = 256;
    printf("| ws_conn_storage_size: smallest accepted limits (head 64, 8 headers, output 256) "
           "| %zu |\n",
           ws_conn_storage_size(&cfg));
    ws_config_init(&cfg, WS_ROLE_SERVER);
    printf("| ws_conn_storage_size: defaults, streaming | %zu |\n", ws_conn_storage_size(&cfg));
    cfg.whole_messages = true;
    printf("| ws_conn_storage_size: defaults, whole_messages (16 MiB message buffer) | %zu |\n",
           ws_conn_storage_size(&cfg));
    held = idle_heap(false, &calls);
    printf("| heap of an idle open ws_conn_new connection, defaults, streaming (%llu "
           "allocations) | %zu |\n",
           (unsigned long long)calls, held);
    held = idle_heap(true, &calls);
    printf("| heap of an idle open ws_conn_new connection, defaults, whole_messages (%llu "
           "allocations) | %zu |\n",
           (unsigned long long)calls, held);
    wslay = bench_wslay_idle_heap();
    if (wslay)
        printf("| heap of a fresh wslay server context (mallinfo2) | %zu |\n", wslay);
}

/* ---- main ---------------------------------------------------------------------------- */

static void print_machine(void)
{
#ifdef __OPTIMIZE__
    const char *optimised = ", optimised";
#else
    const char *optimised = ", NOT optimised";
#endif
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256], model[256] = "unknown";

    if (f) {
        while (fgets(line, sizeof line, f)) {
            const char *v = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && v) {
                v += strspn(v + 1, " \t") + 1;
                snprintf(model, sizeof model, "%s", v);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    printf("machine: %s, %ld CPUs online\n", model, sysconf(_SC_NPROCESSORS_ONLN));
#ifdef __VERSION__
    printf("compiler: %s%s\n", __VERSION__, optimised);
#else
    printf("compiler: unknown%s\n", optimised);
#endif
    printf("libws %s; wslay %s\n", WS_VERSION_STRING,
           bench_wslay_available() ? "linked (Debian libwslay 1.1.1)" : "not built in");
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench [--runs N] [--only W1,W4,...] [--impl memcpy,libws,stream,wslay]\n"
            "             [--no-verify] [--quick] [--no-handshake] [--cpu-time] [--keep-shared]\n"
            "             [--instructions]  (under valgrind --tool=callgrind: see run.sh)\n");
    exit(2);
}

static bool list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    const char *p = list;

    while ((p = strstr(p, name)) != NULL) {
        bool start = p == list || p[-1] == ',';
        bool end = p[n] == '\0' || p[n] == ',';
        if (start && end)
            return true;
        p += n;
    }
    return false;
}

static void parse_args(int argc, char **argv, options *o)
{
    size_t k;
    int i;

    memset(o, 0, sizeof *o);
    o->runs = 5;
    o->verify = true;
    o->handshake = true;
    o->rerun_shared = true;
    for (k = 0; k < WORKLOAD_COUNT; k++)
        o->only[k] = true;
    for (k = 0; k < IMPL_COUNT; k++)
        o->impl[k] = true;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            o->runs = atoi(argv[++i]);
            if (o->runs < 1 || o->runs > MAX_RUNS)
                usage();
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            i++;
            for (k = 0; k < WORKLOAD_COUNT; k++)
                o->only[k] = list_has(argv[i], workloads[k].name);
        } else if (strcmp(argv[i], "--impl") == 0 && i + 1 < argc) {
            i++;
            for (k = 0; k < IMPL_COUNT; k++)
                o->impl[k] = list_has(argv[i], impls[k].name);
        } else if (strcmp(argv[i], "--no-verify") == 0) {
            o->verify = false;
        } else if (strcmp(argv[i], "--quick") == 0) {
            o->quick = true;
        } else if (strcmp(argv[i], "--cpu-time") == 0) {
            bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        } else if (strcmp(argv[i], "--no-handshake") == 0) {
            o->handshake = false;
        } else if (strcmp(argv[i], "--keep-shared") == 0) {
            o->rerun_shared = false;
        } else if (strcmp(argv[i], "--instructions") == 0) {
            o->instructions = true;
        } else {
            usage();
        }
    }
}

int main(int argc, char **argv)
{
    row rows[WORKLOAD_COUNT];
    size_t n = 0, k;
    options o;
    bool ok = true;

    parse_args(argc, argv, &o);
    if (o.instructions) {
#ifdef BENCH_CALLGRIND
        if (!RUNNING_ON_VALGRIND) {
            fprintf(stderr, "bench: --instructions counts under valgrind --tool=callgrind "
                            "(tests/bench/run.sh --instructions)\n");
            return 2;
        }
#else
        fprintf(stderr, "bench: built without <valgrind/callgrind.h>: no --instructions\n");
        return 2;
#endif
    }
    print_machine();
    printf("streams fed in %u-byte pieces copied into a scratch buffer; %d timed runs after one "
           "verified run (count, bytes, pings, FNV-1a of every payload)%s\n",
           BENCH_PIECE, o.runs, o.quick ? "; QUICK: message counts / 10" : "");
    for (k = 0; k < WORKLOAD_COUNT; k++) {
        bench_stream s;
        row *r;

        if (!o.only[k])
            continue;
        workloads[k].gen(&s, o.quick);
        r = &rows[n++];
        r->w = &workloads[k];
        r->what = s.what;
        r->wire = s.len;
        r->messages = s.messages;
        fprintf(stderr, "%s: %s, %.1f MB ...\n", s.name, s.what, (double)s.len / 1e6);
        if (o.instructions)
            ok &= measure_instructions(&s, &o);
        else
            ok &= measure(&s, &o, r->st, &r->reruns);
        free(s.data);
    }
    if (o.instructions)
        return ok ? 0 : 1;
    printf("\nWorkloads: W1 1M binary x 16 B; W2 100k text x 200 B JSON-like ASCII; W3 10k "
           "binary x 64 KiB; W4 20 text x 8 MiB (~10%% of characters 2-4 bytes) in 64 "
           "fragments each; W5 1M text x 16 B; W6 50k text x 1 KiB in 8 fragments with a "
           "ping (8 B) between every two. All frames masked, a random key per frame.\n");
    print_tables(rows, n, &o);
    if (o.handshake)
        bench_handshake();
    bench_memory();
    return ok ? 0 : 1;
}
