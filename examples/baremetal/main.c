/*
 * libws on a Cortex-M4 without an operating system or a heap: one server connection in a
 * fixed arena (ws_conn_init), driven through the public API by a complete session - the
 * upgrade request Chromium sent (chromium_request.h), a text and a binary message echoed, a
 * ping answered, the close handshake. The peer's bytes arrive in small pieces, as from a
 * TCP stack or a UART; every byte libws writes is kept and checked. Prints TAP over
 * semihosting; tests/baremetal.sh runs it under qemu-system-arm.
 */
#include "board.h"
#include "chromium_request.h"
#include "ws.h"

#include <stdint.h>
#include <string.h>

/* The connection's whole memory: state, head buffer, header slots and output queue. */
static uint64_t arena[2048]; /* 16 KiB */

/* What the browser sends after its request, and what libws writes back. */
static uint8_t wire_in[1024];
static size_t wire_in_len;
static uint8_t wire_out[1024];
static size_t wire_out_len;

static int failures;
static unsigned checks;

/* ---- output -------------------------------------------------------------------------- */

static char *put_uint(char *p, unsigned long v)
{
    char tmp[12];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static void check(bool ok, const char *what)
{
    char line[128];
    char *p = line;
    size_t n = strlen(what);

    checks++;
    if (!ok) {
        failures++;
        memcpy(p, "not ", 4);
        p += 4;
    }
    memcpy(p, "ok ", 3);
    p = put_uint(p + 3, checks);
    memcpy(p, " - ", 3);
    p += 3;
    if (n > sizeof line - (size_t)(p - line) - 2)
        n = sizeof line - (size_t)(p - line) - 2;
    memcpy(p, what, n);
    p += n;
    *p++ = '\n';
    *p = '\0';
    board_puts(line);
}

static void note_uint(const char *label, unsigned long v)
{
    char line[96];
    char *p = line;
    size_t n = strlen(label);

    *p++ = '#';
    *p++ = ' ';
    if (n > 60)
        n = 60;
    memcpy(p, label, n);
    p = put_uint(p + n, v);
    *p++ = '\n';
    *p = '\0';
    board_puts(line);
}

/* ---- the browser's side ------------------------------------------------------------- */

/* Appends one frame as a browser sends it: FIN set, masked with key (RFC 6455 §5.3). Written
 * out here rather than with libws's own encoder, so the test does not grade itself. */
static void browser_frame(uint8_t opcode, const uint8_t *payload, size_t len, const uint8_t key[4])
{
    uint8_t *p = wire_in + wire_in_len;
    size_t i;

    *p++ = (uint8_t)(0x80u | opcode);
    if (len < 126) {
        *p++ = (uint8_t)(0x80u | len);
    } else {
        *p++ = 0x80u | 126u;
        *p++ = (uint8_t)(len >> 8);
        *p++ = (uint8_t)len;
    }
    memcpy(p, key, 4);
    p += 4;
    for (i = 0; i < len; i++)
        *p++ = (uint8_t)(payload[i] ^ key[i % 4]);
    wire_in_len = (size_t)(p - wire_in);
}

static const char text_msg[] = "Hello from Chromium, on a Cortex-M4";
static uint8_t binary_msg[200];
static const char ping_data[] = "keepalive";
static const uint8_t close_payload[] = {0x03, 0xe8, 'b', 'y', 'e'}; /* 1000 "bye" */

/* ---- the server ---------------------------------------------------------------------- */

static void take_output(ws_conn *c)
{
    const uint8_t *data;
    size_t n;

    while ((n = ws_conn_output(c, &data)) > 0) {
        if (n > sizeof wire_out - wire_out_len)
            n = sizeof wire_out - wire_out_len;
        memcpy(wire_out + wire_out_len, data, n);
        wire_out_len += n;
        ws_conn_consume(c, n);
    }
}

/* What the events were, in order: one letter each. */
static char seen[16];
static size_t seen_len;

static void on_event(ws_conn *c, const ws_event *ev)
{
    static const char letters[] = "NROCMPQXZH";
    ws_accept_opts opts;

    if (seen_len < sizeof seen - 1 && (size_t)ev->type < sizeof letters - 1)
        seen[seen_len++] = letters[ev->type];
    switch (ev->type) {
    case WS_EV_REQUEST:
        check(ev->request->path_len == 5 && memcmp(ev->request->path, "/echo", 5) == 0 &&
                  ev->request->query_len == 6 && memcmp(ev->request->query, "room=7", 6) == 0,
              "request: path /echo, query room=7");
        check(ev->request->origin_len == 22 &&
                  memcmp(ev->request->origin, "http://127.0.0.1:42361", 22) == 0,
              "request: Chromium's Origin");
        memset(&opts, 0, sizeof opts);
        opts.subprotocol = "chat";
        check(ws_conn_accept(c, &opts) == WS_OK, "accepted with subprotocol chat");
        break;
    case WS_EV_OPEN:
        check(ev->subprotocol_len == 4 && memcmp(ev->subprotocol, "chat", 4) == 0,
              "open: subprotocol chat");
        break;
    case WS_EV_MESSAGE:
        if (ev->opcode == WS_OP_TEXT)
            check(ev->len == sizeof text_msg - 1 && memcmp(ev->data, text_msg, ev->len) == 0,
                  "text message received intact");
        else
            check(ev->len == sizeof binary_msg && memcmp(ev->data, binary_msg, ev->len) == 0,
                  "binary message (16-bit length) received intact");
        check(ws_conn_send(c, (ws_opcode)ev->opcode, ev->data, ev->len) == WS_OK, "message echoed");
        break;
    case WS_EV_PING:
        check(ev->len == sizeof ping_data - 1 && memcmp(ev->data, ping_data, ev->len) == 0,
              "ping received");
        break;
    case WS_EV_CLOSE:
        check(ev->close_code == 1000 && ev->reason_len == 3 && memcmp(ev->reason, "bye", 3) == 0,
              "close 1000 bye received");
        break;
    case WS_EV_CLOSED:
        check(ev->error == WS_OK, "closed cleanly");
        break;
    default:
        check(false, "no other event");
        break;
    }
}

/* Feeds the bytes in pieces of at most piece bytes, pulling every event in between. */
static void feed(ws_conn *c, uint8_t *p, size_t len, size_t piece)
{
    ws_event ev;

    while (len > 0) {
        size_t n = len < piece ? len : piece;
        if (ws_conn_feed(c, p, n) != WS_OK) {
            check(false, "feed accepted");
            return;
        }
        while (ws_conn_next_event(c, &ev) != WS_EV_NONE)
            on_event(c, &ev);
        take_output(c);
        p += n;
        len -= n;
    }
}

/* Shows the response head libws wrote, as comment lines, when a check failed. */
static void show_head(void)
{
    char line[100];
    size_t i, n = 0;

    for (i = 0; i < wire_out_len && i < 400; i++) {
        char ch = (char)wire_out[i];
        if (n == 0) {
            line[n++] = '#';
            line[n++] = ' ';
        }
        if (ch == '\n' || n == sizeof line - 2) {
            line[n++] = '\n';
            line[n] = '\0';
            board_puts(line);
            n = 0;
        } else if (ch != '\r') {
            line[n++] = (ch >= 32 && ch < 127) ? ch : '.';
        }
    }
}

/* Finds needle in the output, from *at on; moves *at past it. */
static bool output_has(size_t *at, const void *needle, size_t n)
{
    size_t i;

    for (i = *at; i + n <= wire_out_len; i++) {
        if (memcmp(wire_out + i, needle, n) == 0) {
            *at = i + n;
            return true;
        }
    }
    return false;
}

/* The server's frame: FIN, opcode, unmasked, then the payload. */
static bool output_frame(size_t *at, uint8_t opcode, const void *payload, size_t len)
{
    uint8_t h[4];
    size_t hl = 2;

    h[0] = (uint8_t)(0x80u | opcode);
    if (len < 126) {
        h[1] = (uint8_t)len;
    } else {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    }
    if (wire_out_len - *at < hl + len || memcmp(wire_out + *at, h, hl) != 0 ||
        memcmp(wire_out + *at + hl, payload, len) != 0)
        return false;
    *at += hl + len;
    return true;
}

int main(void)
{
    static const uint8_t key1[4] = {0x4d, 0x1a, 0x93, 0xe2}, key2[4] = {0x00, 0xff, 0x5a, 0xa5};
    static const uint8_t key3[4] = {0x71, 0x08, 0xc4, 0x3b}, key4[4] = {0xde, 0xad, 0xbe, 0xef};
    static uint8_t request[sizeof chromium_request];
    static const char status_line[] = "HTTP/1.1 101 Switching Protocols\r\n";
    static const char accept_line[] = "Sec-WebSocket-Accept: " CHROMIUM_ACCEPT "\r\n";
    ws_config cfg;
    ws_conn *c;
    size_t i, need, at = 0;

    board_puts("# libws " WS_VERSION_STRING " on a Cortex-M4, no heap\n");
    for (i = 0; i < sizeof binary_msg; i++)
        binary_msg[i] = (uint8_t)(i * 7u + 3u);
    browser_frame(WS_OP_TEXT, (const uint8_t *)text_msg, sizeof text_msg - 1, key1);
    browser_frame(WS_OP_BINARY, binary_msg, sizeof binary_msg, key2);
    browser_frame(WS_OP_PING, (const uint8_t *)ping_data, sizeof ping_data - 1, key3);
    browser_frame(WS_OP_CLOSE, close_payload, sizeof close_payload, key4);

    /* What other configurations would take here (docs/connection.md). */
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_head_size = 64;
    cfg.max_headers = 8;
    cfg.max_output = 256;
    note_uint("storage, smallest accepted limits: ", (unsigned long)ws_conn_storage_size(&cfg));
    cfg.max_head_size = 2048;
    cfg.max_headers = 16;
    cfg.max_output = 4096;
    note_uint("storage, small server: ", (unsigned long)ws_conn_storage_size(&cfg));

    /* Limits sized for this device: Chromium's request is 585 bytes. */
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_head_size = 1024;
    cfg.max_headers = 20;
    cfg.max_output = 512;
    cfg.max_frame_size = 512;
    cfg.max_message_size = 512;
    cfg.whole_messages = true;
    need = ws_conn_storage_size(&cfg);
    note_uint("arena bytes needed (ws_conn_storage_size): ", (unsigned long)need);
    check(need > 0 && need <= sizeof arena, "configuration fits the fixed arena");
    c = ws_conn_init(arena, sizeof arena, &cfg);
    check(c != NULL, "ws_conn_init in the arena");
    if (c == NULL)
        return 1;

    /* The request in pieces of 61 bytes, the frames in pieces of 23. */
    memcpy(request, chromium_request, sizeof request);
    feed(c, request, sizeof request - 1, 61);
    feed(c, wire_in, wire_in_len, 23);

    check(seen_len == 7 && memcmp(seen, "ROMMPXZ", 7) == 0,
          "events: REQUEST OPEN MESSAGE MESSAGE PING CLOSE CLOSED");
    check(output_has(&at, status_line, sizeof status_line - 1), "101 Switching Protocols");
    check(output_has(&at, accept_line, sizeof accept_line - 1),
          "Sec-WebSocket-Accept matches Chromium's key");
    at = 0;
    check(output_has(&at, "\r\n\r\n", 4), "end of the 101 head");
    check(output_frame(&at, WS_OP_TEXT, text_msg, sizeof text_msg - 1), "text echo on the wire");
    check(output_frame(&at, WS_OP_BINARY, binary_msg, sizeof binary_msg),
          "binary echo on the wire");
    check(output_frame(&at, WS_OP_PONG, ping_data, sizeof ping_data - 1),
          "pong with the ping's payload");
    check(output_frame(&at, WS_OP_CLOSE, close_payload, sizeof close_payload),
          "close 1000 bye echoed");
    check(at == wire_out_len, "nothing else written");
    check(ws_conn_phase(c) == WS_PHASE_CLOSED, "phase CLOSED");
    note_uint("bytes written: ", (unsigned long)wire_out_len);
    if (failures != 0)
        show_head();
    board_puts(failures == 0 ? "# session complete\n" : "# session FAILED\n");
    return failures == 0 ? 0 : 1;
}
