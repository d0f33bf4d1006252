/*
 * What a connection costs in memory on this target (docs/connection.md, "Memory"): the state
 * and the handshake area, the storage of typical fixed-memory configurations checked against
 * the formula of docs/connection.md, and the heap an idle open ws_conn_new connection holds
 * in several configurations. Runs natively and, through tests/cross.sh, on i386 and s390x.
 * Prints the figures as comments and TAP for the checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_count.h"
#include "conn.h"

static int failures;

static void check(int ok, const char *what)
{
    if (!ok)
        failures++;
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
}

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

/* docs/connection.md's handshake area: its state, the header slots, the head buffer. */
static size_t hs_area(const ws_config *cfg)
{
    return align8(sizeof(ws_conn_hs)) + align8(cfg->max_headers * sizeof(ws_header)) +
           align8(cfg->max_head_size);
}

/* docs/connection.md's formula for ws_conn_storage_size. */
static size_t formula(const ws_config *cfg)
{
    return align8(sizeof(ws_conn)) + hs_area(cfg) + 256 + align8(cfg->max_output) +
           (sizeof(void *) == 8 ? 464u : 392u) +
           (cfg->whole_messages ? align8((size_t)cfg->max_message_size) : 0);
}

static const char browser_request[] =
    "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nOrigin: http://example.com\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

/* Pulls events until there are none, echoing data and writing out everything queued. */
static void drain(ws_conn *c)
{
    ws_event ev;
    const uint8_t *out;
    size_t n;
    ws_event_type t;

    while ((t = ws_conn_next_event(c, &ev)) != WS_EV_NONE) {
        if (t == WS_EV_CHUNK || t == WS_EV_MESSAGE)
            (void)ws_conn_send(c, (ws_opcode)ev.opcode, ev.data, ev.len);
    }
    while ((n = ws_conn_output(c, &out)) > 0)
        ws_conn_consume(c, n);
}

/* What the measured connection goes through after its handshake. */
enum { IDLE_PLAIN, IDLE_FRAGMENTED, IDLE_BIG_FRAGMENTED, IDLE_SPLIT_PING };

/* A client frame (first byte b0, mask 01 02 03 04) of len (< 126) bytes of 'x'. */
static size_t put_frame(uint8_t *dst, uint8_t b0, size_t len)
{
    size_t i;

    dst[0] = b0;
    dst[1] = (uint8_t)(0x80u | len);
    for (i = 0; i < 4; i++)
        dst[2 + i] = (uint8_t)(i + 1);
    for (i = 0; i < len; i++)
        dst[6 + i] = (uint8_t)('x' ^ (i % 4 + 1));
    return 6 + len;
}

/* The heap of a ws_conn_new server connection after a browser-like handshake, a small echoed
 * message (or one in two fragments, or 375 bytes in three, or followed by a ping split across
 * two feeds, and then one more small message) and a drain, with nothing left to write: what
 * an idle open connection holds. 0 when something failed. */
static size_t idle_open_heap(const ws_config *base, int what)
{
    /* masked with 01 02 03 04: "hi" unfragmented, "h" + "i" in two frames, a ping "ab" */
    static const uint8_t hi[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
    static const uint8_t frag[] = {0x01, 0x81, 1, 2, 3, 4, 'h' ^ 1,
                                   0x80, 0x81, 1, 2, 3, 4, 'i' ^ 1};
    static const uint8_t ping[] = {0x89, 0x82, 1, 2, 3, 4, 'a' ^ 1, 'b' ^ 2};
    alloc_stats st = {0, 0, 0};
    uint8_t in[512];
    ws_config cfg = *base;
    size_t big = 0;
    ws_conn *c;
    ws_event ev;
    size_t live, n = strlen(browser_request);

    cfg.realloc = count_realloc;
    cfg.realloc_ud = &st;
    c = ws_conn_new(&cfg);
    if (c == NULL)
        return 0;
    memcpy(in, browser_request, n);
    if (ws_conn_feed(c, in, n) != WS_OK || ws_conn_next_event(c, &ev) != WS_EV_REQUEST ||
        ws_conn_accept(c, NULL) != WS_OK || ws_conn_next_event(c, &ev) != WS_EV_OPEN) {
        ws_conn_free(c);
        return 0;
    }
    drain(c);
    n = what == IDLE_FRAGMENTED ? sizeof frag : sizeof hi;
    memcpy(in, what == IDLE_FRAGMENTED ? frag : hi, n);
    if (what == IDLE_BIG_FRAGMENTED) {
        big = put_frame(in, 0x02, 125);
        big += put_frame(in + big, 0x00, 125);
        n = big + put_frame(in + big, 0x80, 125);
    }
    if (ws_conn_feed(c, in, n) != WS_OK) {
        ws_conn_free(c);
        return 0;
    }
    drain(c);
    if (what == IDLE_SPLIT_PING) { /* 7 bytes, then the last: assembled in the control slot */
        memcpy(in, ping, sizeof ping);
        if (ws_conn_feed(c, in, 7) != WS_OK) {
            ws_conn_free(c);
            return 0;
        }
        drain(c);
        if (ws_conn_feed(c, in + 7, sizeof ping - 7) != WS_OK) {
            ws_conn_free(c);
            return 0;
        }
        drain(c);
    }
    if (what != IDLE_PLAIN) { /* the next input that does not need them frees them */
        memcpy(in, hi, sizeof hi);
        if (ws_conn_feed(c, in, sizeof hi) != WS_OK) {
            ws_conn_free(c);
            return 0;
        }
        drain(c);
    }
    live = st.live;
    ws_conn_free(c);
    if (st.live != 0)
        return 0;
    return live;
}

#ifndef WS_NO_CLIENT
/* The client's mask keys: any will do here. */
static int fixed_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    memset(buf, 7, len);
    return WS_OK;
}
#endif

int main(void)
{
    struct {
        const char *name;
        size_t head, headers, output, message;
        int whole;
    } configs[] = {
        {"smallest accepted limits (head 64, 8 headers, output 256), streaming", 64, 8, 256, 0, 0},
        {"examples/baremetal (head 1024, 20 headers, output 512, messages 512)", 1024, 20, 512, 512,
         1},
        {"small server (head 2048, 16 headers, output 4096), streaming", 2048, 16, 4096, 0, 0},
        {"defaults (head 8192, 64 headers, output 16 MiB + 14), streaming", 0, 0, 0, 0, 0},
    };
    size_t i, plain, keep, frag, ping, whole, whole_big;
    char what[160];
    ws_config cfg;

    printf("# %u-bit size_t, %u-byte pointers\n", (unsigned)(sizeof(size_t) * 8),
           (unsigned)sizeof(void *));
    printf("# sizeof(ws_conn) %u: configuration kept %u, frame decoder %u, output queue %u, "
           "message buffer bookkeeping %u\n",
           (unsigned)sizeof(ws_conn), (unsigned)sizeof(ws_conn_cfg),
           (unsigned)sizeof(ws_frame_decoder), (unsigned)sizeof(ws_outq), (unsigned)sizeof(ws_buf));
    printf("# handshake area state sizeof(ws_conn_hs) %u: ws_handshake %u, ws_config %u\n",
           (unsigned)sizeof(ws_conn_hs), (unsigned)sizeof(ws_handshake),
           (unsigned)sizeof(ws_config));
    printf("# sizeof(ws_header) %u (one header slot)\n", (unsigned)sizeof(ws_header));
    /* docs/connection.md's bound on the state of a 32-bit target. */
    if (sizeof(void *) == 4)
        check(sizeof(ws_conn) <= 512, "the state is at most 512 bytes on a 32-bit target");
    for (i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        size_t got;
        ws_config_init(&cfg, WS_ROLE_SERVER);
        if (configs[i].head) {
            cfg.max_head_size = configs[i].head;
            cfg.max_headers = configs[i].headers;
            cfg.max_output = configs[i].output;
        }
        if (configs[i].whole) {
            cfg.whole_messages = true;
            cfg.max_message_size = configs[i].message;
        }
        got = ws_conn_storage_size(&cfg);
        printf("# ws_conn_storage_size, %s: %lu\n", configs[i].name, (unsigned long)got);
        snprintf(what, sizeof what, "the formula gives ws_conn_storage_size for %s",
                 configs[i].name);
        check(got == formula(&cfg), what);
    }

    ws_config_init(&cfg, WS_ROLE_SERVER);
    plain = idle_open_heap(&cfg, IDLE_PLAIN);
    frag = idle_open_heap(&cfg, IDLE_FRAGMENTED);
    ping = idle_open_heap(&cfg, IDLE_SPLIT_PING);
    cfg.keep_request = true;
    keep = idle_open_heap(&cfg, IDLE_PLAIN);
    cfg.keep_request = false;
    cfg.whole_messages = true;
    whole = idle_open_heap(&cfg, IDLE_FRAGMENTED);
    whole_big = idle_open_heap(&cfg, IDLE_BIG_FRAGMENTED);
    printf("# heap of an idle open ws_conn_new server, defaults, streaming: %lu\n",
           (unsigned long)plain);
    printf("# the same with keep_request: %lu\n", (unsigned long)keep);
    printf("# the same, whole_messages, after a fragmented message of 2 bytes: %lu\n",
           (unsigned long)whole);
    printf("# the same, whole_messages, after a fragmented message of 375 bytes: %lu\n",
           (unsigned long)whole_big);
    printf("# the same, streaming, after a ping split across two reads: %lu\n",
           (unsigned long)ping);
    check(plain > 0 && keep > 0 && frag > 0 && ping > 0 && whole > 0 && whole_big > 0,
          "idle open ws_conn_new connections were measured, and ws_conn_free returned every byte");
    ws_config_init(&cfg, WS_ROLE_SERVER);
    check(keep - plain == hs_area(&cfg),
          "once open, the handshake area is freed, unless keep_request keeps it");
    check(frag == plain, "streaming, a fragmented message leaves nothing behind");
    check(whole == plain + WS_MSG_KEEP,
          "an idle connection keeps a reassembly buffer of the smallest size");
    check(whole_big == plain,
          "a reassembly buffer that grew is freed once an input did not need it");
    check(ping == plain + WS_CTL_SIZE, "a split ping leaves the control slots, and nothing else");

#ifndef WS_NO_CLIENT
    /* A client: the request it wrote and the 101 it read are gone once it is open. */
    {
        alloc_stats st = {0, 0, 0};
        ws_client_opts opts;
        ws_conn *c;
        ws_event ev;
        const uint8_t *out;
        static char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: ";
        char head[512];
        const char *key;
        char accept[WS_ACCEPT_KEY_SIZE];
        size_t n, live = 0;

        ws_config_init(&cfg, WS_ROLE_CLIENT);
        cfg.random = fixed_random;
        cfg.realloc = count_realloc;
        cfg.realloc_ud = &st;
        memset(&opts, 0, sizeof opts);
        opts.url = "ws://example.com/chat";
        c = ws_conn_new(&cfg);
        if (c != NULL && ws_conn_connect(c, &opts) == WS_OK) {
            n = ws_conn_output(c, &out);
            key = strstr((const char *)out, "Sec-WebSocket-Key: ");
            if (key != NULL && n < sizeof head) {
                ws_accept_key(key + 19, 24, accept);
                ws_conn_consume(c, n);
                snprintf(head, sizeof head, "%s%.28s\r\n\r\n", resp, accept);
                if (ws_conn_feed(c, (uint8_t *)head, strlen(head)) == WS_OK &&
                    ws_conn_next_event(c, &ev) == WS_EV_OPEN &&
                    ws_conn_next_event(c, &ev) == WS_EV_NONE)
                    live = st.live;
            }
        }
        ws_conn_free(c);
        printf("# heap of an idle open ws_conn_new client, defaults: %lu\n", (unsigned long)live);
        check(live > 0 && live < hs_area(&cfg), "an open client holds less than its handshake");
    }
#endif
    return failures != 0;
}
