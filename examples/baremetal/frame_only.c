/*
 * The frame codec alone on a Cortex-M4, as a device that already has its own HTTP server
 * would use it: decode a browser's masked frames arriving in pieces, unmasked in place,
 * and write the server's unmasked reply headers. No connection object, no handshake. Prints
 * TAP over semihosting; tests/size.sh links it to measure the codec's share of an image.
 */
#include "board.h"
#include "ws.h"

#include <stdint.h>
#include <string.h>

static int failures;

static void check(bool ok, const char *what)
{
    if (!ok)
        failures++;
    board_puts(ok ? "ok - " : "not ok - ");
    board_puts(what);
    board_puts("\n");
}

int main(void)
{
    /* "Hello" masked with 37 fa 21 3d (RFC 6455 §5.7), then a masked empty ping. */
    static uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d,
                           0x51, 0x58, 0x89, 0x80, 0x01, 0x02, 0x03, 0x04};
    static const uint8_t hello_reply[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    ws_frame_decoder d;
    ws_frame_header h;
    uint8_t out[WS_FRAME_HEADER_MAX + 5];
    uint8_t *chunk;
    uint8_t text[8];
    size_t pos = 0, used, chunk_len, text_len = 0;
    int r, headers = 0, ends = 0, hl;

    ws_frame_decoder_init(&d, WS_ROLE_SERVER);
    /* Three bytes at a time, as from a slow link. */
    while (pos < sizeof in) {
        size_t n = sizeof in - pos < 3 ? sizeof in - pos : 3;
        size_t off = 0;
        /* Until the decoder wants more: an empty payload's end comes with no byte left. */
        for (;;) {
            r = ws_frame_decode(&d, in + pos + off, n - off, &used, &chunk, &chunk_len);
            off += used;
            if (r < 0) {
                check(false, "frames decode");
                return 1;
            }
            if (r == WS_FRAME_HEADER)
                headers++;
            if ((r == WS_FRAME_DATA || r == WS_FRAME_END) && d.header.opcode == WS_OP_TEXT &&
                chunk_len <= sizeof text - text_len) {
                memcpy(text + text_len, chunk, chunk_len);
                text_len += chunk_len;
            }
            if (r == WS_FRAME_END)
                ends++;
            if (r == WS_FRAME_NEED_MORE)
                break;
        }
        pos += n;
    }
    check(headers == 2 && ends == 2, "two frames, each with a header and an end");
    check(text_len == 5 && memcmp(text, "Hello", 5) == 0, "text unmasked in place");
    check(d.header.opcode == WS_OP_PING && d.header.length == 0, "then an empty ping");

    memset(&h, 0, sizeof h);
    h.fin = true;
    h.opcode = WS_OP_TEXT;
    h.length = text_len;
    hl = ws_frame_header_encode(out, &h);
    check(hl == 2, "reply header is 2 bytes");
    if (hl == 2) {
        memcpy(out + hl, text, text_len);
        check(memcmp(out, hello_reply, sizeof hello_reply) == 0, "reply frame as RFC 6455 §5.7");
    }
    board_puts(failures == 0 ? "# codec complete\n" : "# codec FAILED\n");
    return failures == 0 ? 0 : 1;
}
