/*
 * A build with one handshake role left out (WS_NO_CLIENT or WS_NO_SERVER, meson -Droles=)
 * refuses connections in that role and still runs the other one: built by
 * tests/amalgamation.sh against the one-file build in each of the two configurations.
 * Prints TAP.
 */
#include "ws.h"

#include <stdio.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what)
{
    if (!ok)
        failures++;
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
}

static int zero_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    memset(buf, 0, len);
    return 0;
}

int main(void)
{
    static uint64_t mem[4096];
    ws_config cfg;
    ws_conn *c;
#ifdef WS_NO_CLIENT
    const ws_role built = WS_ROLE_SERVER, left_out = WS_ROLE_CLIENT;
#else
    const ws_role built = WS_ROLE_CLIENT, left_out = WS_ROLE_SERVER;
#endif

    ws_config_init(&cfg, left_out);
    cfg.random = zero_random;
    cfg.max_output = 4096;
    check(ws_conn_storage_size(&cfg) == 0, "no storage size for the role left out");
    check(ws_conn_init(mem, sizeof mem, &cfg) == NULL, "ws_conn_init refuses the role left out");
    ws_config_init(&cfg, built);
    cfg.random = zero_random;
    cfg.max_output = 4096;
    c = ws_conn_init(mem, sizeof mem, &cfg);
    check(c != NULL, "ws_conn_init takes the role built");
    if (c != NULL && built == WS_ROLE_CLIENT) {
        ws_client_opts opts;
        memset(&opts, 0, sizeof opts);
        opts.url = "ws://example.com/chat";
        check(ws_conn_connect(c, &opts) == WS_OK, "the client writes its request");
    } else if (c != NULL) {
        static char req[] = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n";
        ws_event ev;
        check(ws_conn_feed(c, (uint8_t *)req, strlen(req)) == WS_OK &&
                  ws_conn_next_event(c, &ev) == WS_EV_REQUEST && ws_conn_accept(c, NULL) == WS_OK &&
                  ws_conn_next_event(c, &ev) == WS_EV_OPEN,
              "the server accepts a request");
    }
    return failures != 0;
}
