/* A parent project's program that uses libws (as a subproject, or installed): a server
 * connection on the default allocator answers an upgrade request with a 101. */
#include <ws.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    static char req[] = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    const uint8_t *out;
    size_t n;
    int status;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    c = ws_conn_new(&cfg);
    if (c == NULL || ws_conn_feed(c, (uint8_t *)req, strlen(req)) != WS_OK ||
        ws_conn_next_event(c, &ev) != WS_EV_REQUEST || ws_conn_accept(c, NULL) != WS_OK)
        return 1;
    n = ws_conn_output(c, &out);
    printf("%.*s\n", (int)(n > 32 ? 32 : n), (const char *)out);
    status = n > 12 && memcmp(out, "HTTP/1.1 101", 12) == 0 ? 0 : 1;
    ws_conn_free(c);
    return status;
}
