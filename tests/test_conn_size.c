/*
 * What a connection costs in memory on this target (docs/connection.md, "Memory"): the state
 * and its biggest parts, the storage of typical fixed-memory configurations checked against
 * the formula of docs/connection.md, and the heap an idle open ws_conn_new connection
 * holds. Runs natively and, through tests/cross.sh, on i386 and s390x. Prints the figures
 * as comments and TAP for the checks.
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

/* docs/connection.md's formula for ws_conn_storage_size. */
static size_t formula(const ws_config *cfg)
{
    return align8(sizeof(ws_conn)) + 2 * align8(cfg->max_head_size) +
           align8(cfg->max_headers * sizeof(ws_header)) + align8(cfg->max_output) +
           (sizeof(void *) == 8 ? 464u : 392u) +
           (cfg->whole_messages ? align8((size_t)cfg->max_message_size) : 0);
}

/* The heap of a ws_conn_new server connection after a browser-like handshake and one
 * small echoed message, with nothing left to write: what an idle open connection holds. */
static size_t idle_open_heap(void)
{
    static char req[] = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nOrigin: http://example.com\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n";
    static uint8_t frame[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
    alloc_stats st = {0, 0, 0};
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    const uint8_t *out;
    size_t n, live;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.realloc = count_realloc;
    cfg.realloc_ud = &st;
    c = ws_conn_new(&cfg);
    if (c == NULL)
        return 0;
    if (ws_conn_feed(c, (uint8_t *)req, strlen(req)) != WS_OK ||
        ws_conn_next_event(c, &ev) != WS_EV_REQUEST || ws_conn_accept(c, NULL) != WS_OK ||
        ws_conn_next_event(c, &ev) != WS_EV_OPEN || ws_conn_next_event(c, &ev) != WS_EV_NONE ||
        ws_conn_feed(c, frame, sizeof frame) != WS_OK ||
        ws_conn_next_event(c, &ev) != WS_EV_CHUNK ||
        ws_conn_send(c, WS_OP_TEXT, ev.data, ev.len) != WS_OK) {
        ws_conn_free(c);
        return 0;
    }
    while (ws_conn_next_event(c, &ev) != WS_EV_NONE)
        ;
    while ((n = ws_conn_output(c, &out)) > 0)
        ws_conn_consume(c, n);
    live = st.live;
    ws_conn_free(c);
    check(st.live == 0, "ws_conn_free returns every byte");
    return live;
}

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
    size_t i, heap;
    char what[160];

    printf("# %u-bit size_t, %u-byte pointers\n", (unsigned)(sizeof(size_t) * 8),
           (unsigned)sizeof(void *));
    printf("# sizeof(ws_conn) %u: ws_config %u, ws_handshake %u (ws_request %u, ws_response "
           "%u), ws_frame_decoder %u, control frame payload %u, pong owed %u, ping sent %u\n",
           (unsigned)sizeof(ws_conn), (unsigned)sizeof(ws_config), (unsigned)sizeof(ws_handshake),
           (unsigned)sizeof(ws_request), (unsigned)sizeof(ws_response),
           (unsigned)sizeof(ws_frame_decoder), (unsigned)sizeof(((ws_conn *)0)->ctl),
           (unsigned)sizeof(((ws_conn *)0)->pong_data),
           (unsigned)sizeof(((ws_conn *)0)->ping_data));
    printf("# sizeof(ws_header) %u (one header slot)\n", (unsigned)sizeof(ws_header));
    for (i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        ws_config cfg;
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
    heap = idle_open_heap();
    printf("# heap of an idle open ws_conn_new connection, defaults, streaming: %lu\n",
           (unsigned long)heap);
    check(heap > 0, "an idle open ws_conn_new connection was measured");
    return failures != 0;
}
