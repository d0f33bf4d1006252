/*
 * frame-demo: the frame codec on its own, no connection and no sockets. A client builds
 * four frames (masking their payloads), a server decodes the stream fed a few bytes at a
 * time, and a frame that breaks the rules shows how errors and close codes come out.
 */
#include "common.h"
#include "ws.h"

#include <stdio.h>
#include <string.h>

#define PIECE 3 /* bytes per feed: small, to show that any split works */

static uint8_t stream[512];
static size_t stream_len;

/* Appends one client frame: a header with a fresh mask key, then the masked payload. */
static int add_frame(ws_frame_encoder *enc, uint8_t opcode, const void *payload, size_t len)
{
    uint8_t key[4];
    int hdr = ws_frame_encode(enc, stream + stream_len, opcode, true, 0, len, key);

    if (hdr < 0)
        return hdr;
    stream_len += (size_t)hdr;
    memcpy(stream + stream_len, payload, len);
    ws_mask(stream + stream_len, len, key, 0);
    stream_len += len;
    return WS_OK;
}

static void show_payload(uint8_t opcode, const uint8_t *p, size_t len)
{
    uint16_t code;
    const uint8_t *reason;
    size_t reason_len;
    size_t i;

    if (opcode == WS_OP_CLOSE && ws_close_parse(p, len, &code, &reason, &reason_len) == WS_OK) {
        printf("    close code %u, reason \"%.*s\"\n", (unsigned)code, (int)reason_len,
               (const char *)reason);
    } else if (opcode == WS_OP_BINARY) {
        printf("    bytes:");
        for (i = 0; i < len; i++)
            printf(" %02x", p[i]);
        printf("\n");
    } else {
        printf("    \"%.*s\"\n", (int)len, (const char *)p);
    }
}

/* Feeds buf to d PIECE bytes at a time and prints what comes out; returns the first error
 * or WS_OK. Payload chunks are collected so each frame's payload prints once. */
static int decode_all(ws_frame_decoder *d, uint8_t *buf, size_t len)
{
    uint8_t payload[128];
    size_t have = 0;
    size_t off = 0;

    while (off < len) {
        size_t n = len - off < PIECE ? len - off : PIECE;
        int r;

        do {
            size_t used;
            uint8_t *chunk = NULL;
            size_t chunk_len = 0;

            r = ws_frame_decode(d, buf + off, n, &used, &chunk, &chunk_len);
            off += used;
            n -= used;
            if (r < 0)
                return r;
            if (r == WS_FRAME_HEADER) {
                printf("frame: opcode 0x%x fin %d masked %d length %llu\n", d->header.opcode,
                       d->header.fin, d->header.masked, (unsigned long long)d->header.length);
                have = 0;
            }
            if ((r == WS_FRAME_DATA || r == WS_FRAME_END) && have + chunk_len <= sizeof payload) {
                memcpy(payload + have, chunk, chunk_len);
                have += chunk_len;
            }
            if (r == WS_FRAME_END)
                show_payload(d->header.opcode, payload, have);
        } while (r != WS_FRAME_NEED_MORE);
    }
    return WS_OK;
}

int main(void)
{
    static const uint8_t blob[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01};
    /* A server must reject unmasked frames: this is "Hi" as a server would send it. */
    uint8_t unmasked[] = {0x81, 0x02, 'H', 'i'};
    uint8_t close_payload[WS_CONTROL_PAYLOAD_MAX];
    ws_frame_encoder enc;
    ws_frame_decoder dec;
    int close_len;
    int r;

    ws_frame_encoder_init(&enc, WS_ROLE_CLIENT, ex_random, NULL);
    close_len = ws_close_build(close_payload, WS_CLOSE_NORMAL, "bye", 3);
    if (close_len < 0 || add_frame(&enc, WS_OP_TEXT, "Hello", 5) != WS_OK ||
        add_frame(&enc, WS_OP_BINARY, blob, sizeof blob) != WS_OK ||
        add_frame(&enc, WS_OP_PING, "are you there?", 14) != WS_OK ||
        add_frame(&enc, WS_OP_CLOSE, close_payload, (size_t)close_len) != WS_OK) {
        fprintf(stderr, "frame-demo: could not build the frames\n");
        return 1;
    }
    printf("client wrote %zu bytes of frames; the server decodes them %d bytes at a time:\n",
           stream_len, PIECE);

    ws_frame_decoder_init(&dec, WS_ROLE_SERVER);
    r = decode_all(&dec, stream, stream_len);
    if (r != WS_OK) {
        fprintf(stderr, "frame-demo: unexpected error: %s\n", ws_strerror(r));
        return 1;
    }

    printf("\nan unmasked frame sent to a server:\n");
    ws_frame_decoder_init(&dec, WS_ROLE_SERVER);
    r = decode_all(&dec, unmasked, sizeof unmasked);
    printf("error %d: %s -> the server closes with %u\n", r, ws_strerror(r),
           (unsigned)ws_error_close_code(r));
    return r == WS_E_UNMASKED ? 0 : 1;
}
