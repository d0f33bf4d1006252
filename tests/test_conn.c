/*
 * Connection engine tests: tables of frames in -> events and output frames out, each run in
 * streaming and whole-message mode, whole, byte by byte and split at every offset; then the
 * handshake paths, sends, backpressure, end of stream and memory modes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_count.h"
#include "error_text.h"
#include "ws.h"

/* ---- test fixtures ------------------------------------------------------------------- */

/* Random source for the client role: all-zero keys make masked output readable. */
static int zero_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    memset(buf, 0, len);
    return 0;
}

static const uint8_t test_key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* A frame in a table: first byte (FIN | RSV | opcode) and payload. RAW marks bytes copied to
 * the input as they are (for frames the encoder would refuse to write). */
typedef struct frm {
    int b0;
    const char *p;
    size_t n;
} frm;

/* clang-format off: brace initialisers in macros and the tables below read better as written */
#define RAW -1
#define FR(b0, s)                                                                                  \
    {                                                                                              \
        (b0), (s), sizeof(s) - 1                                                                   \
    }
#define RW(s)                                                                                      \
    {                                                                                              \
        RAW, (s), sizeof(s) - 1                                                                    \
    }
#define END_FR                                                                                     \
    {                                                                                              \
        0, NULL, 0                                                                                 \
    }
/* clang-format on */

/* Encodes frames as the peer of role would send them (masked toward a server). */
static size_t build_frames(const frm *f, ws_role receiver, uint8_t *out)
{
    size_t len = 0;

    for (; f->p != NULL; f++) {
        ws_frame_header h;
        int hl;
        if (f->b0 == RAW) {
            memcpy(out + len, f->p, f->n);
            len += f->n;
            continue;
        }
        memset(&h, 0, sizeof h);
        h.fin = (f->b0 & 0x80) != 0;
        h.rsv = (uint8_t)(f->b0 & 0x70);
        h.opcode = (uint8_t)(f->b0 & 0x0f);
        h.length = f->n;
        h.masked = receiver == WS_ROLE_SERVER;
        memcpy(h.mask, test_key, 4);
        hl = ws_frame_header_encode(out + len, &h);
        assert_true(hl > 0);
        len += (size_t)hl;
        memcpy(out + len, f->p, f->n);
        if (h.masked)
            ws_mask(out + len, f->n, test_key, 0);
        len += f->n;
    }
    return len;
}

/* Appends printable text, escaping anything else, to a transcript. */
static void put(char *t, size_t cap, const char *fmt, ...)
{
    size_t used = strlen(t);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(t + used, cap - used, fmt, ap);
    va_end(ap);
}

static void put_bytes(char *t, size_t cap, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n && strlen(t) + 5 < cap; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '|')
            put(t, cap, "%c", p[i]);
        else
            put(t, cap, "\\x%02x", p[i]);
    }
}

#define TRANSCRIPT_MAX 8192

/* Collects events into a transcript in which chunks are joined into their message, so that
 * the same stream split differently gives the same text. */
typedef struct recorder {
    char text[TRANSCRIPT_MAX];
    uint8_t msg[1 << 17];
    size_t msg_len;
    size_t last_len; /* length of the last whole message */
    uint8_t msg_op;
    bool echo; /* send every message back, to check stream order */
} recorder;

static const char *op_name(uint8_t op)
{
    return op == WS_OP_TEXT ? "TEXT" : "BIN";
}

static void record(recorder *r, ws_conn *c, const ws_event *ev)
{
    switch (ev->type) {
    case WS_EV_OPEN:
        put(r->text, TRANSCRIPT_MAX, "OPEN|");
        break;
    case WS_EV_CHUNK:
        assert_true(r->msg_len + ev->len <= sizeof r->msg);
        if (ev->len)
            memcpy(r->msg + r->msg_len, ev->data, ev->len);
        r->msg_len += ev->len;
        r->msg_op = (uint8_t)ev->opcode;
        if (!ev->message_final)
            break;
        /* fall through */
    case WS_EV_MESSAGE:
        if (ev->type == WS_EV_MESSAGE) {
            memcpy(r->msg, ev->data, ev->len);
            r->msg_len = ev->len;
            r->msg_op = (uint8_t)ev->opcode;
        }
        put(r->text, TRANSCRIPT_MAX, "%s:", op_name(r->msg_op));
        put_bytes(r->text, TRANSCRIPT_MAX, r->msg, r->msg_len);
        r->last_len = r->msg_len;
        put(r->text, TRANSCRIPT_MAX, "|");
        if (r->echo)
            assert_int_equal(ws_conn_send(c, (ws_opcode)r->msg_op, r->msg, r->msg_len), WS_OK);
        r->msg_len = 0;
        break;
    case WS_EV_PING:
    case WS_EV_PONG:
        put(r->text, TRANSCRIPT_MAX, ev->type == WS_EV_PING ? "PING:" : "PONG:");
        put_bytes(r->text, TRANSCRIPT_MAX, ev->data, ev->len);
        put(r->text, TRANSCRIPT_MAX, "|");
        break;
    case WS_EV_CLOSE:
        put(r->text, TRANSCRIPT_MAX, "CLOSE:%u:", ev->close_code);
        put_bytes(r->text, TRANSCRIPT_MAX, (const uint8_t *)ev->reason, ev->reason_len);
        put(r->text, TRANSCRIPT_MAX, "|");
        break;
    case WS_EV_CLOSED:
        if (r->msg_len) { /* what was delivered of a message the error cut short */
            put(r->text, TRANSCRIPT_MAX, "PART:%s:", op_name(r->msg_op));
            put_bytes(r->text, TRANSCRIPT_MAX, r->msg, r->msg_len);
            put(r->text, TRANSCRIPT_MAX, "|");
            r->msg_len = 0;
        }
        put(r->text, TRANSCRIPT_MAX, "CLOSED:%u:%d", ev->close_code, ev->error);
        break;
    default:
        fail_msg("unexpected event %d", ev->type);
    }
}

/* Decodes what a connection wrote, as its peer would, into a transcript of frames. Close
 * frames show their reason only for codes a host chose (error reasons are prose). */
static void transcribe_output(const uint8_t *p, size_t n, ws_role writer, char *t)
{
    ws_frame_decoder d;
    uint8_t buf[1 << 17];
    size_t pos = 0;
    uint8_t ctl[256];
    size_t ctl_len = 0;

    assert_true(n <= sizeof buf);
    memcpy(buf, p, n);
    ws_frame_decoder_init(&d, writer == WS_ROLE_SERVER ? WS_ROLE_CLIENT : WS_ROLE_SERVER);
    d.max_frame_size = 0;
    bool end_due = false;

    t[0] = '\0';
    while (pos < n || end_due) {
        size_t used = 0, clen = 0;
        uint8_t *chunk = NULL;
        int r = ws_frame_decode(&d, buf + pos, n - pos, &used, &chunk, &clen);
        assert_true(r >= 0);
        pos += used;
        end_due = r == WS_FRAME_HEADER && d.header.length == 0;
        if (r == WS_FRAME_HEADER) {
            static const char *names[16] = {"CONT", "TEXT", "BIN",   "",     "",    "",
                                            "",     "",     "CLOSE", "PING", "PONG"};
            put(t, TRANSCRIPT_MAX, "O%s%s:", names[d.header.opcode], d.header.fin ? "" : "~");
            ctl_len = 0;
        } else if (r == WS_FRAME_DATA || r == WS_FRAME_END) {
            if (d.header.opcode == WS_OP_CLOSE) {
                if (clen)
                    memcpy(ctl + ctl_len, chunk, clen);
                ctl_len += clen;
            } else {
                put_bytes(t, TRANSCRIPT_MAX, chunk, clen);
            }
            if (r == WS_FRAME_END) {
                if (d.header.opcode == WS_OP_CLOSE && ctl_len >= 2) {
                    unsigned code = (unsigned)(ctl[0] << 8 | ctl[1]);
                    put(t, TRANSCRIPT_MAX, "%u", code);
                    if (code < 1002 || code >= 3000) {
                        put(t, TRANSCRIPT_MAX, ":");
                        put_bytes(t, TRANSCRIPT_MAX, ctl + 2, ctl_len - 2);
                    }
                }
                put(t, TRANSCRIPT_MAX, "|");
            }
        } else {
            break;
        }
    }
}

/* ---- the frame tables ---------------------------------------------------------------- */

typedef struct conn_case {
    const char *name;
    ws_role role;
    frm in[8];
    const char *events;
    const char *out;
    size_t max_frame, max_message, max_fragments;
    bool no_auto_pong, echo;
} conn_case;

/* clang-format off */
#define FIN 0x80
#define T1 (FIN | WS_OP_TEXT)
#define B1 (FIN | WS_OP_BINARY)
#define C1 (FIN | WS_OP_CONTINUATION)
#define PING (FIN | WS_OP_PING)
#define PONG (FIN | WS_OP_PONG)
#define CLOSE (FIN | WS_OP_CLOSE)

/* Payloads for the fast path's word steps (lib/conn_fast.h): 127 bytes take every step of
 * a 7-bit length, 200 bytes a 16-bit length. */
#define TXT127 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrs"
#define TXT200 "{\"seq\":42,\"user\":\"ana\",\"text\":\"lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem }"

static const conn_case conn_cases[] = {
    {"text", WS_ROLE_SERVER, {FR(T1, "hello"), END_FR}, "OPEN|TEXT:hello|", ""},
    {"binary", WS_ROLE_SERVER, {FR(B1, "\x00\x01\xff"), END_FR}, "OPEN|BIN:\\x00\\x01\\xff|", ""},
    {"empty text", WS_ROLE_SERVER, {FR(T1, ""), END_FR}, "OPEN|TEXT:|", ""},
    {"two messages", WS_ROLE_SERVER, {FR(T1, "a"), FR(B1, "b"), END_FR}, "OPEN|TEXT:a|BIN:b|",
     ""},
    {"fragmented text", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "hel"), FR(WS_OP_CONTINUATION, "l"), FR(C1, "o"), END_FR},
     "OPEN|TEXT:hello|", ""},
    {"empty fragments", WS_ROLE_SERVER,
     {FR(WS_OP_BINARY, ""), FR(WS_OP_CONTINUATION, ""), FR(C1, ""), END_FR}, "OPEN|BIN:|",
     ""},
    {"ping inside a fragmented message", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "hel"), FR(PING, "p"), FR(C1, "lo"), END_FR}, "OPEN|PING:p|TEXT:hello|",
     "OPONG:p|"},
    {"ping answered", WS_ROLE_SERVER, {FR(PING, "hello"), END_FR}, "OPEN|PING:hello|",
     "OPONG:hello|"},
    {"empty ping", WS_ROLE_SERVER, {FR(PING, ""), END_FR}, "OPEN|PING:|", "OPONG:|"},
    {"many pings", WS_ROLE_SERVER, {FR(PING, "1"), FR(PING, "2"), FR(PING, "3"), END_FR},
     "OPEN|PING:1|PING:2|PING:3|", "OPONG:1|OPONG:2|OPONG:3|"},
    {"ping of 125 bytes", WS_ROLE_SERVER,
     {FR(PING, "0123456789012345678901234567890123456789012345678901234567890123456789012345"
               "6789012345678901234567890123456789012345678901234"),
      END_FR},
     "OPEN|PING:012345678901234567890123456789012345678901234567890123456789012345678901234"
     "56789012345678901234567890123456789012345678901234|",
     "OPONG:0123456789012345678901234567890123456789012345678901234567890123456789012345"
     "6789012345678901234567890123456789012345678901234|"},
    {"auto pong off", WS_ROLE_SERVER, {FR(PING, "x"), END_FR}, "OPEN|PING:x|", "", 0, 0, 0,
     true},
    {"unsolicited pong", WS_ROLE_SERVER, {FR(PONG, "x"), END_FR}, "OPEN|PONG:x|", ""},
    {"close 1000 with reason", WS_ROLE_SERVER, {FR(CLOSE, "\x03\xe8" "bye"), END_FR},
     "OPEN|CLOSE:1000:bye|CLOSED:1000:0", "OCLOSE:1000:bye|"},
    {"close without payload", WS_ROLE_SERVER, {FR(CLOSE, ""), END_FR},
     "OPEN|CLOSE:1005:|CLOSED:1005:0", "OCLOSE:|"},
    {"close 4999", WS_ROLE_SERVER, {FR(CLOSE, "\x13\x87"), END_FR},
     "OPEN|CLOSE:4999:|CLOSED:4999:0", "OCLOSE:4999:|"},
    {"data after close is ignored", WS_ROLE_SERVER,
     {FR(CLOSE, "\x03\xe8"), FR(T1, "late"), END_FR}, "OPEN|CLOSE:1000:|CLOSED:1000:0",
     "OCLOSE:1000:|"},
    {"close with 1-byte payload", WS_ROLE_SERVER, {FR(CLOSE, "\x03"), END_FR},
     "OPEN|CLOSED:1002:-34", "OCLOSE:1002|"},
    {"close code 1005 on the wire", WS_ROLE_SERVER, {FR(CLOSE, "\x03\xed"), END_FR},
     "OPEN|CLOSED:1002:-35", "OCLOSE:1002|"},
    {"close code 999", WS_ROLE_SERVER, {FR(CLOSE, "\x03\xe7"), END_FR}, "OPEN|CLOSED:1002:-35",
     "OCLOSE:1002|"},
    {"close code 2999", WS_ROLE_SERVER, {FR(CLOSE, "\x0b\xb7"), END_FR},
     "OPEN|CLOSED:1002:-35", "OCLOSE:1002|"},
    {"close code 5000", WS_ROLE_SERVER, {FR(CLOSE, "\x13\x88"), END_FR},
     "OPEN|CLOSED:1002:-35", "OCLOSE:1002|"},
    {"close reason not UTF-8", WS_ROLE_SERVER, {FR(CLOSE, "\x03\xe8\xff"), END_FR},
     "OPEN|CLOSED:1007:-41", "OCLOSE:1007|"},
    {"invalid UTF-8 after a valid prefix", WS_ROLE_SERVER, {FR(T1, "ab\xff" "cd"), END_FR},
     "OPEN|PART:TEXT:ab|CLOSED:1007:-33", "OCLOSE:1007|"},
    {"character split across fragments", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "\xc3"), FR(C1, "\xa9"), END_FR}, "OPEN|TEXT:\\xc3\\xa9|", ""},
    {"4-byte character split three ways", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "\xf0\x9f"), FR(WS_OP_CONTINUATION, "\x98"), FR(C1, "\x80!"), END_FR},
     "OPEN|TEXT:\\xf0\\x9f\\x98\\x80!|", ""},
    {"invalid UTF-8 before the frame completes", WS_ROLE_SERVER,
     {RW("\x81\x8a\x00\x00\x00\x00" "ok\xc0"), END_FR}, "OPEN|PART:TEXT:ok|CLOSED:1007:-33",
     "OCLOSE:1007|"},
    {"invalid UTF-8 across fragments", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "a\xed"), FR(C1, "\xa0\x80"), END_FR},
     "OPEN|PART:TEXT:a\\xed|CLOSED:1007:-33", "OCLOSE:1007|"},
    {"text truncated at message end", WS_ROLE_SERVER, {FR(T1, "a\xe2\x82"), END_FR},
     "OPEN|PART:TEXT:a\\xe2\\x82|CLOSED:1007:-33", "OCLOSE:1007|"},
    {"continuation without a message", WS_ROLE_SERVER, {FR(C1, "x"), END_FR},
     "OPEN|CLOSED:1002:-31", "OCLOSE:1002|"},
    {"text inside a fragmented message", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "a"), FR(T1, "b"), END_FR}, "OPEN|PART:TEXT:a|CLOSED:1002:-32",
     "OCLOSE:1002|"},
    {"reserved opcode 3", WS_ROLE_SERVER, {FR(FIN | 3, "x"), END_FR}, "OPEN|CLOSED:1002:-21",
     "OCLOSE:1002|"},
    {"reserved opcode 0xB", WS_ROLE_SERVER, {FR(FIN | 0xB, ""), END_FR},
     "OPEN|CLOSED:1002:-21", "OCLOSE:1002|"},
    {"RSV1 without extension", WS_ROLE_SERVER, {FR(T1 | 0x40, "x"), END_FR},
     "OPEN|CLOSED:1002:-20", "OCLOSE:1002|"},
    {"RSV3", WS_ROLE_SERVER, {FR(B1 | 0x10, "x"), END_FR}, "OPEN|CLOSED:1002:-20",
     "OCLOSE:1002|"},
    {"fragmented ping", WS_ROLE_SERVER, {RW("\x09\x80\x00\x00\x00\x00"), END_FR},
     "OPEN|CLOSED:1002:-23", "OCLOSE:1002|"},
    {"ping of 126 bytes", WS_ROLE_SERVER, {RW("\x89\xfe\x00\x7e"), END_FR},
     "OPEN|CLOSED:1002:-22", "OCLOSE:1002|"},
    {"unmasked frame to a server", WS_ROLE_SERVER, {RW("\x81\x02hi"), END_FR},
     "OPEN|CLOSED:1002:-24", "OCLOSE:1002|"},
    {"length with the top bit set", WS_ROLE_SERVER,
     {RW("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00"), END_FR}, "OPEN|CLOSED:1002:-26",
     "OCLOSE:1002|"},
    {"non-minimal 16-bit length", WS_ROLE_SERVER, {RW("\x82\xfe\x00\x05"), END_FR},
     "OPEN|CLOSED:1002:-27", "OCLOSE:1002|"},
    {"frame over the limit, before its payload", WS_ROLE_SERVER,
     {RW("\x82\xfe\x01\x00"), END_FR}, "OPEN|CLOSED:1009:-28", "OCLOSE:1009|", 128},
    {"message over the limit across fragments", WS_ROLE_SERVER,
     {FR(WS_OP_BINARY, "12345"), FR(C1, "67890"), END_FR}, "OPEN|PART:BIN:12345|CLOSED:1009:-29",
     "OCLOSE:1009|", 0, 8},
    {"too many fragments", WS_ROLE_SERVER,
     {FR(WS_OP_BINARY, "1"), FR(WS_OP_CONTINUATION, "2"), FR(C1, "3"), END_FR},
     "OPEN|PART:BIN:12|CLOSED:1009:-30", "OCLOSE:1009|", 0, 0, 2},
    {"echo then error keeps stream order", WS_ROLE_SERVER,
     {FR(T1, "a"), FR(B1, "b"), FR(FIN | 4, ""), END_FR}, "OPEN|TEXT:a|BIN:b|CLOSED:1002:-21",
     "OTEXT:a|OBIN:b|OCLOSE:1002|", 0, 0, 0, false, true},
    {"text of 127 bytes", WS_ROLE_SERVER, {FR(T1, TXT127), END_FR}, "OPEN|TEXT:" TXT127 "|", ""},
    {"text of 200 bytes", WS_ROLE_SERVER, {FR(T1, TXT200), END_FR}, "OPEN|TEXT:" TXT200 "|", ""},
    {"binary of 200 bytes", WS_ROLE_SERVER, {FR(B1, TXT200), END_FR}, "OPEN|BIN:" TXT200 "|", ""},
    {"text not all ASCII", WS_ROLE_SERVER, {FR(T1, "caf\xc3\xa9 \xe2\x82\xac"), END_FR},
     "OPEN|TEXT:caf\\xc3\\xa9 \\xe2\\x82\\xac|", ""},
    {"text of 129 bytes not all ASCII", WS_ROLE_SERVER, {FR(T1, TXT127 "\xc3\xa9"), END_FR},
     "OPEN|TEXT:" TXT127 "\\xc3\\xa9|", ""},
    {"invalid UTF-8 in a text of 129 bytes", WS_ROLE_SERVER, {FR(T1, TXT127 "\xffx"), END_FR},
     "OPEN|PART:TEXT:" TXT127 "|CLOSED:1007:-33", "OCLOSE:1007|"},
    {"text of 20 bytes not all ASCII", WS_ROLE_SERVER, {FR(T1, "abc\xc3\xa9" "0123456789abcde"), END_FR},
     "OPEN|TEXT:abc\\xc3\\xa9" "0123456789abcde|", ""},
    {"invalid UTF-8 in a text of 20 bytes", WS_ROLE_SERVER,
     {FR(T1, "abc\xff" "0123456789abcdef"), END_FR}, "OPEN|PART:TEXT:abc|CLOSED:1007:-33",
     "OCLOSE:1007|"},
    {"invalid UTF-8 in the last byte of 16", WS_ROLE_SERVER, {FR(T1, "0123456789abcde\x80"), END_FR},
     "OPEN|PART:TEXT:0123456789abcde|CLOSED:1007:-33", "OCLOSE:1007|"},
    {"invalid UTF-8 then a valid message", WS_ROLE_SERVER,
     {FR(T1, "ok"), FR(T1, "\xc0\xaf"), FR(T1, "late"), END_FR}, "OPEN|TEXT:ok|CLOSED:1007:-33",
     "OCLOSE:1007|"},
    {"single frame at the message limit", WS_ROLE_SERVER, {FR(B1, "12345678"), END_FR},
     "OPEN|BIN:12345678|", "", 0, 8},
    {"single frame over the message limit", WS_ROLE_SERVER, {FR(B1, "123456789"), END_FR},
     "OPEN|CLOSED:1009:-29", "OCLOSE:1009|", 0, 8},
    {"single frame over the frame limit", WS_ROLE_SERVER, {FR(B1, "123456789"), END_FR},
     "OPEN|CLOSED:1009:-28", "OCLOSE:1009|", 8},
    {"non-minimal 16-bit length, payload present", WS_ROLE_SERVER,
     {RW("\x82\xfe\x00\x05\x00\x00\x00\x00" "abcde"), END_FR}, "OPEN|CLOSED:1002:-27",
     "OCLOSE:1002|"},
    {"client: text of 200 bytes", WS_ROLE_CLIENT, {FR(T1, TXT200), END_FR},
     "OPEN|TEXT:" TXT200 "|", ""},
    {"client: binary", WS_ROLE_CLIENT, {FR(B1, "\x80\xff"), END_FR}, "OPEN|BIN:\\x80\\xff|", ""},
    {"client: text not all ASCII", WS_ROLE_CLIENT, {FR(T1, "\xc3\xa9t\xc3\xa9"), END_FR},
     "OPEN|TEXT:\\xc3\\xa9t\\xc3\\xa9|", ""},
    {"client: text", WS_ROLE_CLIENT, {FR(T1, "hi"), END_FR}, "OPEN|TEXT:hi|", ""},
    {"client: ping answered masked", WS_ROLE_CLIENT, {FR(PING, "k"), END_FR}, "OPEN|PING:k|",
     "OPONG:k|"},
    {"client: close echoed", WS_ROLE_CLIENT, {FR(CLOSE, "\x0b\xb8" "x"), END_FR},
     "OPEN|CLOSE:3000:x|CLOSED:3000:0", "OCLOSE:3000:x|"},
    {"client: masked frame from a server", WS_ROLE_CLIENT,
     {RW("\x81\x82\x00\x00\x00\x00hi"), END_FR}, "OPEN|CLOSED:1002:-25", "OCLOSE:1002|"},
    {"client: invalid UTF-8", WS_ROLE_CLIENT, {FR(T1, "\xf4\x90\x80\x80"), END_FR},
     "OPEN|PART:TEXT:\\xf4|CLOSED:1007:-33", "OCLOSE:1007|"},
    /* The fast path's second way (lib/conn_fast.c): fragments and small controls. */
    {"fragments of 200 bytes with pings between", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, TXT200), FR(PING, "a"), FR(WS_OP_CONTINUATION, TXT127), FR(PONG, "b"),
      FR(C1, TXT200), END_FR},
     "OPEN|PING:a|PONG:b|TEXT:" TXT200 TXT127 TXT200 "|", "OPONG:a|"},
    {"ASCII fragment after a cut character", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "ab\xc3"), FR(C1, "cd"), END_FR}, "OPEN|PART:TEXT:ab\\xc3|CLOSED:1007:-33",
     "OCLOSE:1007|"},
    {"ASCII fragment after a finished character", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "ab\xc3"), FR(WS_OP_CONTINUATION, "\xa9"), FR(C1, "cd"), END_FR},
     "OPEN|TEXT:ab\\xc3\\xa9cd|", ""},
    {"message ends inside a character after ASCII", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "ab"), FR(C1, "\xe2\x82"), END_FR},
     "OPEN|PART:TEXT:ab\\xe2\\x82|CLOSED:1007:-33", "OCLOSE:1007|"},
    {"binary fragments, not all ASCII", WS_ROLE_SERVER,
     {FR(WS_OP_BINARY, "\xff\x00"), FR(C1, "\x80"), END_FR}, "OPEN|BIN:\\xff\\x00\\x80|", ""},
    {"RSV1 on a continuation", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "a"), FR(C1 | 0x40, "b"), END_FR}, "OPEN|PART:TEXT:a|CLOSED:1002:-20",
     "OCLOSE:1002|"},
    {"non-minimal length on a continuation", WS_ROLE_SERVER,
     {FR(WS_OP_BINARY, "a"), RW("\x80\xfe\x00\x01\x00\x00\x00\x00" "b"), END_FR},
     "OPEN|PART:BIN:a|CLOSED:1002:-27", "OCLOSE:1002|"},
    {"unmasked continuation to a server", WS_ROLE_SERVER,
     {FR(WS_OP_BINARY, "a"), RW("\x80\x01" "b"), END_FR}, "OPEN|PART:BIN:a|CLOSED:1002:-24",
     "OCLOSE:1002|"},
    {"continuation over the frame limit", WS_ROLE_SERVER,
     {FR(WS_OP_BINARY, "1234"), FR(C1, "123456789"), END_FR},
     "OPEN|PART:BIN:1234|CLOSED:1009:-28", "OCLOSE:1009|", 8},
    {"too many fragments with pings between", WS_ROLE_SERVER,
     {FR(WS_OP_BINARY, "1"), FR(PING, "p"), FR(WS_OP_CONTINUATION, "2"), FR(PING, "q"),
      FR(C1, "3"), END_FR},
     "OPEN|PING:p|PING:q|PART:BIN:12|CLOSED:1009:-30", "OPONG:p|OPONG:q|OCLOSE:1009|", 0, 0, 2},
    {"ping inside a message, auto pong off", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "a"), FR(PING, "x"), FR(C1, "b"), END_FR}, "OPEN|PING:x|TEXT:ab|", "", 0,
     0, 0, true},
    {"close inside a fragmented message", WS_ROLE_SERVER,
     {FR(WS_OP_TEXT, "a"), FR(CLOSE, "\x03\xe8"), END_FR},
     "OPEN|CLOSE:1000:|PART:TEXT:a|CLOSED:1000:0", "OCLOSE:1000:|"},
    {"client: fragments and a ping", WS_ROLE_CLIENT,
     {FR(WS_OP_TEXT, TXT127), FR(PING, "k"), FR(C1, "\xc3\xa9"), END_FR},
     "OPEN|PING:k|TEXT:" TXT127 "\\xc3\\xa9|", "OPONG:k|"},
};

/* clang-format on */

/* Splits used for every case: whole, byte by byte, two pieces at every offset. */
typedef struct split_plan {
    size_t piece; /* 0: use cut */
    size_t cut;
} split_plan;

static ws_conn *open_conn(const conn_case *tc, bool whole, void *mem, size_t memsize)
{
    ws_config cfg;
    ws_conn *c;

    ws_config_init(&cfg, tc->role);
    cfg.random = zero_random;
    cfg.whole_messages = whole;
    if (tc->max_frame)
        cfg.max_frame_size = tc->max_frame;
    if (tc->max_message)
        cfg.max_message_size = tc->max_message;
    if (tc->max_fragments)
        cfg.max_fragments = tc->max_fragments;
    if (whole)
        cfg.max_message_size = tc->max_message ? tc->max_message : 65536;
    cfg.auto_pong = !tc->no_auto_pong;
    cfg.max_output = 65536;
    assert_true(ws_conn_storage_size(&cfg) <= memsize);
    c = ws_conn_init(mem, memsize, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    return c;
}

/* Feeds input in pieces, pulling every event after each piece. */
static void drive(ws_conn *c, recorder *r, uint8_t *in, size_t n, split_plan plan)
{
    size_t pos = 0;
    ws_event ev;

    while (pos < n) {
        size_t piece = plan.piece ? plan.piece : (pos < plan.cut ? plan.cut - pos : n - pos);
        if (piece > n - pos)
            piece = n - pos;
        if (ws_conn_feed(c, in + pos, piece) != WS_OK)
            break;
        pos += piece;
        while (ws_conn_next_event(c, &ev) != WS_EV_NONE)
            record(r, c, &ev);
    }
    while (ws_conn_next_event(c, &ev) != WS_EV_NONE)
        record(r, c, &ev);
}

/* Removes "PART:...|" entries: whole-message mode never hands out part of a message. */
static void strip_parts(const char *in, char *out)
{
    const char *p = in;
    out[0] = '\0';
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) + 1 : strlen(p);
        if (strncmp(p, "PART:", 5) != 0)
            strncat(out, p, len);
        p += len;
    }
}

static uint64_t conn_mem[1 << 16];

static void run_case(const conn_case *tc, bool whole, split_plan plan)
{
    static uint8_t input[1 << 14], pristine[1 << 14];
    static recorder r;
    char expect[TRANSCRIPT_MAX], out[TRANSCRIPT_MAX];
    const uint8_t *o;
    size_t n = build_frames(tc->in, tc->role, pristine), olen;
    ws_conn *c = open_conn(tc, whole, conn_mem, sizeof conn_mem);

    memcpy(input, pristine, n);
    memset(&r, 0, sizeof r);
    r.echo = tc->echo;
    drive(c, &r, input, n, plan);
    if (whole)
        strip_parts(tc->events, expect);
    else
        snprintf(expect, sizeof expect, "%s", tc->events);
    if (strcmp(r.text, expect) != 0)
        fail_msg("%s (%s, piece %zu, cut %zu): events\n  got    %s\n  expect %s", tc->name,
                 whole ? "whole" : "stream", plan.piece, plan.cut, r.text, expect);
    olen = ws_conn_output(c, &o);
    transcribe_output(o, olen, tc->role, out);
    if (strcmp(out, tc->out) != 0)
        fail_msg("%s (%s, piece %zu, cut %zu): output\n  got    %s\n  expect %s", tc->name,
                 whole ? "whole" : "stream", plan.piece, plan.cut, out, tc->out);
}

static void test_frame_table(void **state)
{
    size_t i, cut;
    int whole;
    (void)state;

    for (i = 0; i < sizeof conn_cases / sizeof conn_cases[0]; i++) {
        const conn_case *tc = &conn_cases[i];
        uint8_t tmp[1 << 14];
        size_t n = build_frames(tc->in, tc->role, tmp);
        for (whole = 0; whole < 2; whole++) {
            split_plan all = {0, n}, bytes = {1, 0};
            run_case(tc, whole != 0, all);
            run_case(tc, whole != 0, bytes);
            for (cut = 1; cut < n; cut++) {
                split_plan two = {0, cut};
                run_case(tc, whole != 0, two);
            }
        }
    }
}

/* ---- handshake through the connection ------------------------------------------------ */

static const char browser_request[] = "GET /chat?room=1 HTTP/1.1\r\n"
                                      "Host: example.com\r\n"
                                      "Upgrade: websocket\r\n"
                                      "Connection: Upgrade\r\n"
                                      "Origin: http://example.com\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                      "Sec-WebSocket-Protocol: chat, superchat\r\n"
                                      "Sec-WebSocket-Version: 13\r\n"
                                      "\r\n";

static ws_conn *new_server(alloc_stats *st, bool whole)
{
    ws_config cfg;
    ws_conn *c;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.realloc = count_realloc;
    cfg.realloc_ud = st;
    cfg.whole_messages = whole;
    c = ws_conn_new(&cfg);
    assert_non_null(c);
    return c;
}

/* Every pending byte, run after run. */
static size_t take_output(ws_conn *c, char *dst, size_t cap)
{
    const uint8_t *o;
    size_t n, total = 0;

    while ((n = ws_conn_output(c, &o)) > 0) {
        assert_true(total + n < cap);
        memcpy(dst + total, o, n);
        total += n;
        ws_conn_consume(c, n);
    }
    dst[total] = '\0';
    return total;
}

static void test_server_handshake_with_pipelined_frame(void **state)
{
    alloc_stats st = {0, 0, 0};
    ws_conn *c = new_server(&st, false);
    uint8_t in[512];
    size_t n = strlen(browser_request);
    frm f[] = {FR(T1, "early"), END_FR};
    ws_accept_opts opts = {"chat", NULL, NULL, 0};
    char out[1024];
    ws_event ev;
    (void)state;

    memcpy(in, browser_request, n);
    n += build_frames(f, WS_ROLE_SERVER, in + n);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_non_null(ev.request);
    assert_int_equal(ev.request->path_len, 5);
    assert_memory_equal(ev.request->path, "/chat", 5);
    assert_int_equal(ws_conn_phase(c), WS_PHASE_CONNECTING);
    assert_int_equal(ws_conn_send(c, WS_OP_TEXT, "x", 1), WS_E_STATE);
    assert_int_equal(ws_conn_accept(c, &opts), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ev.subprotocol_len, 4);
    assert_memory_equal(ev.subprotocol, "chat", 4);
    /* The request is readable until WS_EV_OPEN has been returned. */
    assert_non_null(ws_conn_request(c));
    assert_memory_equal(ws_conn_request(c)->host, "example.com", 11);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CHUNK);
    assert_int_equal(ev.len, 5);
    assert_memory_equal(ev.data, "early", 5);
    /* Delivered in place: the payload lies inside the fed buffer. */
    assert_true(ev.data >= in && ev.data < in + n);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    take_output(c, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 101 Switching Protocols\r\n"));
    assert_non_null(strstr(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(out, "Sec-WebSocket-Protocol: chat\r\n"));
    assert_int_equal(ws_conn_phase(c), WS_PHASE_OPEN);
    /* Once the input is parsed, the handshake's memory is given back. */
    assert_null(ws_conn_request(c));
    ws_conn_free(c);
    assert_int_equal(st.live, 0);
}

/* cfg.keep_request keeps the request for the life of the connection; without it, the
 * handshake area is freed once the connection is open and idle. */
static void test_server_keep_request(void **state)
{
    static const uint8_t hi[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
    int keep;
    (void)state;

    for (keep = 0; keep < 2; keep++) {
        alloc_stats st = {0, 0, 0};
        ws_config cfg;
        ws_conn *c;
        uint8_t in[512];
        size_t n = strlen(browser_request), before;
        ws_event ev;

        ws_config_init(&cfg, WS_ROLE_SERVER);
        cfg.realloc = count_realloc;
        cfg.realloc_ud = &st;
        cfg.keep_request = keep != 0;
        c = ws_conn_new(&cfg);
        assert_non_null(c);
        memcpy(in, browser_request, n);
        assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
        assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
        before = st.live;
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
        memcpy(in, hi, sizeof hi);
        assert_int_equal(ws_conn_feed(c, in, sizeof hi), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CHUNK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
        if (keep) {
            assert_int_equal(st.live, before);
            assert_non_null(ws_conn_request(c));
            assert_memory_equal(ws_conn_request(c)->path, "/chat", 5);
        } else {
            assert_true(st.live + cfg.max_head_size < before);
            assert_null(ws_conn_request(c));
        }
        ws_conn_free(c);
        assert_int_equal(st.live, 0);
    }
}

/* Every error is a value: a message, and the close code or HTTP status the peer gets. */
static void test_error_values(void **state)
{
    static const struct {
        int err;
        unsigned close_code;
        int status;
    } table[] = {
        {WS_OK, 0, 0},
        {WS_E_RESERVED_BITS, 1002, 0},
        {WS_E_CLOSE_CODE, 1002, 0},
        {WS_E_INVALID_UTF8, 1007, 0},
        {WS_E_CLOSE_REASON, 1007, 0},
        {WS_E_FRAME_TOO_BIG, 1009, 0},
        {WS_E_TOO_MANY_FRAGMENTS, 1009, 0},
        {WS_E_EOF, 1006, 0},
        {WS_E_PONG_TIMEOUT, 1001, 0},
        {WS_E_HTTP_SYNTAX, 0, 400},
        {WS_E_HTTP_METHOD, 0, 405},
        {WS_E_HTTP_URI_TOO_LONG, 0, 414},
        {WS_E_HTTP_WS_VERSION, 0, 426},
        {WS_E_HTTP_HEADERS_TOO_LARGE, 0, 431},
        {WS_E_HTTP_VERSION_UNSUPPORTED, 0, 505},
        {WS_E_ORIGIN, 0, 403},
        {WS_E_AUTH_EXPIRED, 0, 401},
        {WS_E_BACKPRESSURE, 0, 0},
    };
    size_t i;
    int err;
    (void)state;

    for (i = 0; i < sizeof table / sizeof table[0]; i++) {
        assert_int_equal(ws_error_close_code(table[i].err), table[i].close_code);
        assert_int_equal(ws_error_http_status(table[i].err), table[i].status);
    }
    /* Every code from WS_OK down to the last has its own message; others are "unknown". */
    for (err = 0; err >= WS_E_FORBIDDEN; err--) {
        const char *m = ws_strerror(err);
        assert_non_null(m);
        if (strcmp(m, "unknown error") != 0)
            assert_true(strlen(m) > 3 && strlen(m) <= WS_CLOSE_REASON_MAX);
    }
    assert_string_equal(ws_strerror(WS_OK), "success");
    assert_string_equal(ws_strerror(WS_E_INVALID_UTF8), TEST_MESSAGE("invalid UTF-8 in text"));
    assert_string_equal(ws_strerror(WS_E_CLOSE_REASON),
                        TEST_MESSAGE("invalid UTF-8 in close reason"));
    assert_string_equal(ws_strerror(1), TEST_MESSAGE("unknown error"));
    assert_string_equal(ws_strerror(-49), TEST_MESSAGE("unknown error")); /* between ranges */
    assert_string_equal(ws_strerror(WS_E_FORBIDDEN - 1), TEST_MESSAGE("unknown error"));
    assert_int_equal(ws_error_close_code(WS_E_FORBIDDEN - 1), 0);
    assert_int_equal(ws_error_http_status(WS_E_FORBIDDEN - 1), 0);
    assert_int_equal(ws_error_close_code(INT_MIN), 0);
    assert_int_equal(ws_error_http_status(INT_MAX), 0);
    assert_int_equal(ws_error_close_code(-999), 0);
    assert_int_equal(ws_error_http_status(-999), 0);
}

/* The host answers later (an auth lookup): bytes fed meanwhile are kept in order. */
static void test_server_async_decision(void **state)
{
    alloc_stats st = {0, 0, 0};
    ws_conn *c = new_server(&st, true);
    uint8_t in[512], more[64];
    size_t n = strlen(browser_request), m;
    frm f1[] = {FR(T1, "one"), END_FR}, f2[] = {FR(T1, "two"), END_FR};
    ws_event ev;
    (void)state;

    memcpy(in, browser_request, n);
    n += build_frames(f1, WS_ROLE_SERVER, in + n);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    memset(in, 0xAA, sizeof in); /* the host reuses its buffer */
    m = build_frames(f2, WS_ROLE_SERVER, more);
    assert_int_equal(ws_conn_feed(c, more, m), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    memset(more, 0xAA, sizeof more);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_null(ev.subprotocol);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_MESSAGE);
    assert_int_equal(ev.len, 3);
    assert_memory_equal(ev.data, "one", 3);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_MESSAGE);
    assert_memory_equal(ev.data, "two", 3);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    ws_conn_free(c);
    assert_int_equal(st.live, 0);
}

/* A client that floods frames while the host decides ends the connection; no byte is lost
 * silently. */
static void test_server_stash_overflow(void **state)
{
    ws_config cfg;
    ws_conn *c;
    static uint64_t mem[1 << 12];
    static uint8_t flood[4096];
    uint8_t in[512];
    size_t n = strlen(browser_request);
    ws_event ev;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 1024;
    cfg.max_head_size = 1024;
    cfg.max_headers = 16;
    c = ws_conn_init(mem, sizeof mem, &cfg);
    assert_non_null(c);
    memcpy(in, browser_request, n);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    /* The request and the bytes queued behind it share the head buffer. */
    assert_int_equal(ws_conn_feed(c, flood, 1000 - n), WS_OK);
    assert_int_equal(ws_conn_feed(c, flood, 24), WS_OK);
    assert_int_equal(ws_conn_feed(c, flood, 1), WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(ws_conn_accept(c, NULL), WS_E_STATE);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_HTTP_HEADERS_TOO_LARGE);
    assert_int_equal(ws_conn_feed(c, flood, 1), WS_E_CLOSED);
}

static void test_server_reject(void **state)
{
    alloc_stats st = {0, 0, 0};
    ws_conn *c = new_server(&st, false);
    uint8_t in[512];
    size_t n = strlen(browser_request);
    ws_header extra = {"WWW-Authenticate", 16, "Bearer", 6};
    char out[1024];
    ws_event ev;
    (void)state;

    memcpy(in, browser_request, n);
    memcpy(in + n, "\x81\x85", 2); /* a frame the host must never see */
    assert_int_equal(ws_conn_feed(c, in, n + 2), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_reject(c, 401, &extra, 1, "no", 2), WS_OK);
    assert_int_equal(ws_conn_accept(c, NULL), WS_E_STATE);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_HTTP_REJECTED);
    assert_int_equal(ev.http_status, 401);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    assert_int_equal(ws_conn_feed(c, in, n), WS_E_CLOSED);
    assert_int_equal(ws_conn_send(c, WS_OP_TEXT, "x", 1), WS_E_CLOSED);
    take_output(c, out, sizeof out);
    assert_int_equal(strncmp(out, "HTTP/1.1 401 ", 13), 0);
    assert_non_null(strstr(out, "WWW-Authenticate: Bearer\r\n"));
    assert_non_null(strstr(out, "Connection: close\r\n"));
    ws_conn_free(c);
}

static void test_server_bad_request(void **state)
{
    static const char req[] =
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 8\r\n\r\n";
    alloc_stats st = {0, 0, 0};
    ws_conn *c = new_server(&st, false);
    uint8_t in[512];
    char out[1024];
    ws_event ev;
    (void)state;

    memcpy(in, req, sizeof req - 1);
    assert_int_equal(ws_conn_feed(c, in, sizeof req - 1), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_HTTP_WS_VERSION);
    assert_int_equal(ev.http_status, 426);
    take_output(c, out, sizeof out);
    assert_int_equal(strncmp(out, "HTTP/1.1 426 ", 13), 0);
    assert_non_null(strstr(out, "Sec-WebSocket-Version: 13\r\n"));
    ws_conn_free(c);
}

/* A plain GET on the WebSocket port reaches the host only when it asked for such requests. */
static void test_plain_http_request(void **state)
{
    static const char get[] = "GET /index.html?x=1 HTTP/1.1\r\nHost: chat.test\r\n\r\n";
    static const char status_200[] = "HTTP/1.1 200 " TEST_PHRASE("OK") "\r\n";
    alloc_stats st = {0, 0, 0};
    ws_config cfg;
    ws_conn *c;
    uint8_t in[256];
    char out[1024];
    ws_header ct = {"Content-Type", 12, "text/html", 9};
    ws_event ev;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.realloc = count_realloc;
    cfg.realloc_ud = &st;
    c = ws_conn_new(&cfg); /* off by default: 400 */
    memcpy(in, get, sizeof get - 1);
    assert_int_equal(ws_conn_feed(c, in, sizeof get - 1), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.http_status, 400);
    ws_conn_free(c);

    cfg.http_requests = true;
    c = ws_conn_new(&cfg);
    memcpy(in, get, sizeof get - 1);
    assert_int_equal(ws_conn_feed(c, in, sizeof get - 1), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_HTTP_REQUEST);
    assert_non_null(ev.request);
    assert_int_equal(ev.request->path_len, 11);
    assert_memory_equal(ev.request->path, "/index.html", 11);
    assert_memory_equal(ev.request->host, "chat.test", 9);
    assert_int_equal(ws_conn_accept(c, NULL), WS_E_STATE); /* not an upgrade */
    assert_int_equal(ws_conn_respond(c, 200, &ct, 1, "<p>hi</p>", 9), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_OK);
    assert_int_equal(ev.http_status, 200);
    take_output(c, out, sizeof out);
    assert_int_equal(strncmp(out, status_200, sizeof status_200 - 1), 0);
    assert_non_null(strstr(out, "Content-Type: text/html\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n<p>hi</p>"));
    ws_conn_free(c);

    /* An upgrade attempt with a wrong Upgrade value is still an upgrade error, not a page. */
    c = ws_conn_new(&cfg);
    {
        static const char bad[] = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n";
        memcpy(in, bad, sizeof bad - 1);
        assert_int_equal(ws_conn_feed(c, in, sizeof bad - 1), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
        assert_int_equal(ev.http_status, 400);
    }
    ws_conn_free(c);
    assert_int_equal(st.live, 0);
}

/* A host whose own HTTP server parsed the request hands it over with the bytes after it. */
static void test_handoff(void **state)
{
    ws_header hdrs[] = {
        {"Host", 4, "example.com", 11},
        {"Upgrade", 7, "websocket", 9},
        {"Connection", 10, "Upgrade", 7},
        {"Sec-WebSocket-Key", 17, "dGhlIHNhbXBsZSBub25jZQ==", 24},
        {"Sec-WebSocket-Version", 21, "13", 2},
    };
    alloc_stats st = {0, 0, 0};
    ws_conn *c = new_server(&st, true);
    uint8_t rest[64];
    size_t n;
    frm f[] = {FR(T1, "after"), END_FR};
    char out[1024];
    ws_event ev;
    (void)state;

    n = build_frames(f, WS_ROLE_SERVER, rest);
    assert_int_equal(ws_conn_handoff(c, "GET", 3, "/ws", 3, 1, hdrs, 5, rest, n), WS_OK);
    memset(rest, 0, sizeof rest); /* the host's copy may go away */
    assert_int_equal(ws_conn_handoff(c, "GET", 3, "/ws", 3, 1, hdrs, 5, NULL, 0), WS_E_STATE);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_memory_equal(ev.request->path, "/ws", 3);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_MESSAGE);
    assert_memory_equal(ev.data, "after", 5);
    take_output(c, out, sizeof out);
    assert_non_null(strstr(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    ws_conn_free(c);

    /* The same checks as for bytes: version 12 gets 426. */
    c = new_server(&st, true);
    hdrs[4].value = "12";
    assert_int_equal(ws_conn_handoff(c, "GET", 3, "/ws", 3, 1, hdrs, 5, NULL, 0), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.http_status, 426);
    ws_conn_free(c);
    hdrs[4].value = "13";

    /* The rest waits in the head buffer behind the request: more than max_head_size is
     * refused at once, more than the request left room for is answered with 431. */
    {
        static uint64_t mem[1 << 12];
        static uint8_t big[300];
        ws_config cfg;

        ws_config_init(&cfg, WS_ROLE_SERVER);
        cfg.max_head_size = 256;
        cfg.max_headers = 16;
        cfg.max_output = 1024;
        c = ws_conn_init(mem, sizeof mem, &cfg);
        assert_non_null(c);
        assert_int_equal(ws_conn_handoff(c, "GET", 3, "/ws", 3, 1, hdrs, 5, big, 257),
                         WS_E_HTTP_HEADERS_TOO_LARGE);
        assert_int_equal(ws_conn_handoff(c, "GET", 3, "/ws", 3, 1, hdrs, 5, big, 200), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
        assert_int_equal(ev.error, WS_E_HTTP_HEADERS_TOO_LARGE);
        assert_int_equal(ev.http_status, 431);
        take_output(c, out, sizeof out);
        assert_non_null(strstr(out, "HTTP/1.1 431 "));
    }
    assert_int_equal(st.live, 0);
}

/* ---- a client and a server talking to each other in memory --------------------------- */

typedef struct peer {
    ws_conn *c;
    recorder r;
} peer;

/* Moves what one side wrote into the other in pieces of at most step bytes. */
static void pump(peer *from, peer *to, size_t step)
{
    const uint8_t *o;
    size_t n;
    static uint8_t buf[1 << 21];
    ws_event ev;

    while ((n = ws_conn_output(from->c, &o)) > 0) {
        size_t piece = n < step ? n : step;
        memcpy(buf, o, piece);
        ws_conn_consume(from->c, piece);
        if (ws_conn_feed(to->c, buf, piece) != WS_OK)
            return;
        while (ws_conn_next_event(to->c, &ev) != WS_EV_NONE) {
            if (ev.type == WS_EV_REQUEST)
                assert_int_equal(ws_conn_accept(to->c, NULL), WS_OK);
            else
                record(&to->r, to->c, &ev);
        }
    }
}

static void test_client_server_session(void **state)
{
    static const size_t steps[] = {1, 7, 100, 1 << 20};
    size_t s;
    (void)state;

    for (s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        static peer cl, sv;
        alloc_stats sts = {0, 0, 0}, stc = {0, 0, 0};
        ws_config cfg;
        ws_client_opts opts;
        static uint8_t big[100000];
        size_t i;

        memset(&cl, 0, sizeof cl);
        memset(&sv, 0, sizeof sv);
        sv.c = new_server(&sts, false);
        sv.r.echo = true;
        ws_config_init(&cfg, WS_ROLE_CLIENT);
        cfg.random = zero_random;
        cfg.realloc = count_realloc;
        cfg.realloc_ud = &stc;
        cfg.whole_messages = true;
        cl.c = ws_conn_new(&cfg);
        assert_non_null(cl.c);
        memset(&opts, 0, sizeof opts);
        opts.url = "ws://127.0.0.1:9001/echo";
        assert_int_equal(ws_conn_connect(cl.c, &opts), WS_OK);
        pump(&cl, &sv, steps[s]);
        pump(&sv, &cl, steps[s]);
        assert_int_equal(ws_conn_phase(cl.c), WS_PHASE_OPEN);
        for (i = 0; i < sizeof big; i++)
            big[i] = (uint8_t)(i * 7);
        assert_int_equal(ws_conn_send(cl.c, WS_OP_TEXT, "hello", 5), WS_OK);
        assert_int_equal(ws_conn_send(cl.c, WS_OP_BINARY, big, 300), WS_OK);
        assert_int_equal(ws_conn_send_fragment(cl.c, WS_OP_TEXT, "fra", 3, false), WS_OK);
        assert_int_equal(ws_conn_send(cl.c, WS_OP_TEXT, "x", 1), WS_E_STATE);
        assert_int_equal(ws_conn_ping(cl.c, "p", 1), WS_OK);
        assert_int_equal(ws_conn_send_fragment(cl.c, WS_OP_CONTINUATION, "g", 1, true), WS_OK);
        pump(&cl, &sv, steps[s]);
        pump(&sv, &cl, steps[s]);
        {
            static char expect[TRANSCRIPT_MAX];
            expect[0] = '\0';
            put(expect, TRANSCRIPT_MAX, "OPEN|TEXT:hello|BIN:");
            put_bytes(expect, TRANSCRIPT_MAX, big, 300);
            put(expect, TRANSCRIPT_MAX, "|PING:p|TEXT:frag|");
            assert_string_equal(sv.r.text, expect);
        }
        /* The echoes came back to the client, and so did the pong. */
        assert_non_null(strstr(cl.r.text, "OPEN|TEXT:hello|BIN:"));
        assert_non_null(strstr(cl.r.text, "PONG:p|TEXT:frag|"));
        /* A large message both ways. */
        assert_int_equal(ws_conn_send(cl.c, WS_OP_BINARY, big, sizeof big), WS_OK);
        cl.r.text[0] = '\0';
        sv.r.echo = false;
        sv.r.text[0] = '\0';
        pump(&cl, &sv, steps[s]);
        assert_int_equal(strncmp(sv.r.text, "BIN:", 4), 0);
        assert_int_equal(sv.r.last_len, sizeof big);
        /* Close handshake initiated by the client. */
        assert_int_equal(ws_conn_close(cl.c, 1000, "done", 4), WS_OK);
        assert_int_equal(ws_conn_phase(cl.c), WS_PHASE_CLOSING);
        assert_int_equal(ws_conn_send(cl.c, WS_OP_TEXT, "x", 1), WS_E_CLOSED);
        sv.r.text[0] = '\0';
        pump(&cl, &sv, steps[s]);
        pump(&sv, &cl, steps[s]);
        assert_string_equal(sv.r.text, "CLOSE:1000:done|CLOSED:1000:0");
        assert_string_equal(cl.r.text, "CLOSE:1000:done|CLOSED:1000:0");
        assert_int_equal(ws_conn_phase(cl.c), WS_PHASE_CLOSED);
        ws_conn_free(cl.c);
        ws_conn_free(sv.c);
        assert_int_equal(sts.live, 0);
        assert_int_equal(stc.live, 0);
    }
}

static void test_client_refused(void **state)
{
    static const char resp[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                               "X-Why: origin\r\n\r\n";
    ws_config cfg;
    ws_client_opts opts;
    alloc_stats st = {0, 0, 0};
    ws_conn *c;
    uint8_t in[256];
    char out[1024];
    ws_event ev;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_CLIENT);
    cfg.random = zero_random;
    cfg.realloc = count_realloc;
    cfg.realloc_ud = &st;
    c = ws_conn_new(&cfg);
    memset(&opts, 0, sizeof opts);
    opts.url = "ws://[::1]:8080/x?y=1";
    assert_int_equal(ws_conn_connect(c, &opts), WS_OK);
    take_output(c, out, sizeof out);
    assert_int_equal(strncmp(out, "GET /x?y=1 HTTP/1.1\r\n", 21), 0);
    assert_non_null(strstr(out, "Host: [::1]:8080\r\n"));
    memcpy(in, resp, sizeof resp - 1);
    assert_int_equal(ws_conn_feed(c, in, sizeof resp - 1), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_HTTP_STATUS);
    assert_int_equal(ev.http_status, 403);
    assert_non_null(ev.response);
    assert_non_null(ws_header_find(ev.response->headers, ev.response->header_count, "x-why"));
    ws_conn_free(c);
    assert_int_equal(st.live, 0);
}

/* ---- limits, end of stream, memory --------------------------------------------------- */

static void test_backpressure(void **state)
{
    ws_config cfg;
    static uint64_t mem[1 << 13];
    ws_conn *c;
    uint8_t payload[100];
    const uint8_t *o;
    int sent = 0;
    (void)state;

    memset(payload, 'a', sizeof payload);
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 1000;
    cfg.max_head_size = 1024;
    cfg.max_headers = 16;
    c = ws_conn_init(mem, sizeof mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    while (ws_conn_send(c, WS_OP_BINARY, payload, sizeof payload) == WS_OK)
        sent++;
    assert_int_equal(sent, 9); /* 9 * 102 bytes fit in 1000, a tenth does not */
    assert_int_equal(ws_conn_send(c, WS_OP_BINARY, payload, sizeof payload), WS_E_BACKPRESSURE);
    assert_int_equal(ws_conn_output(c, &o), 9 * 102);
    /* A frame that could never fit says so, instead of asking to wait forever. */
    {
        static uint8_t huge[2000];
        assert_int_equal(ws_conn_send(c, WS_OP_BINARY, huge, sizeof huge), WS_E_SEND_TOO_BIG);
        assert_int_equal(ws_conn_send_fragment(c, WS_OP_BINARY, huge, 900, false),
                         WS_E_BACKPRESSURE);
    }
    /* Pending bytes never move, so fixed storage starts over only once it is empty. */
    ws_conn_consume(c, 500);
    assert_int_equal(ws_conn_output(c, &o), 9 * 102 - 500);
    ws_conn_consume(c, 9 * 102 - 500);
    assert_int_equal(ws_conn_send(c, WS_OP_BINARY, payload, sizeof payload), WS_OK);
    assert_int_equal(ws_conn_output(c, &o), 102);
    /* Close frames may still go out when the queue is full. */
    while (ws_conn_send(c, WS_OP_BINARY, payload, sizeof payload) == WS_OK)
        ;
    assert_int_equal(ws_conn_close(c, 1001, "bye", 3), WS_OK);
}

static void test_send_checks(void **state)
{
    ws_config cfg;
    ws_conn *c;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 4096;
    c = ws_conn_init(conn_mem, sizeof conn_mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_ping(c, "x", 1), WS_E_STATE);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_send(c, WS_OP_TEXT, "\xff", 1), WS_E_INVALID_UTF8);
    assert_int_equal(ws_conn_send(c, WS_OP_PING, "x", 1), WS_E_INVALID);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_TEXT, "\xe2\x82", 2, false), WS_OK);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, "\x41", 1, true),
                     WS_E_INVALID_UTF8);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_BINARY, "x", 1, true), WS_E_INVALID);
    assert_int_equal(ws_conn_send_fragment(c, WS_OP_CONTINUATION, "\xac", 1, true), WS_OK);
    assert_int_equal(ws_conn_ping(c, NULL, 126), WS_E_INVALID);
    assert_int_equal(ws_conn_close(c, 1006, NULL, 0), WS_E_INVALID);
    assert_int_equal(ws_conn_close(c, 1000, "\xff", 1), WS_E_INVALID_UTF8);
    assert_int_equal(ws_conn_close(c, 1000, NULL, 0), WS_OK);
    assert_int_equal(ws_conn_close(c, 1000, NULL, 0), WS_E_CLOSED);
    assert_int_equal(ws_conn_pong(c, "x", 1), WS_E_CLOSED);
}

static void test_eof(void **state)
{
    static const conn_case tc = {"eof", WS_ROLE_SERVER, {END_FR}, "", ""};
    ws_conn *c = open_conn(&tc, false, conn_mem, sizeof conn_mem);
    uint8_t half[] = {0x81, 0x85, 1, 2};
    ws_event ev;
    const uint8_t *o;
    (void)state;

    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ws_conn_feed(c, half, sizeof half), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    ws_conn_feed_eof(c);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_EOF);
    assert_int_equal(ev.close_code, 1006);
    assert_int_equal(ws_conn_output(c, &o), 0); /* nothing is sent to a vanished peer */
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
}

/* A fixed-memory connection runs a whole session on caller storage: no allocator at all. */
static void test_fixed_memory_session(void **state)
{
    ws_config cfg;
    static uint64_t mem[1 << 12];
    size_t need;
    ws_conn *c;
    uint8_t in[1024];
    size_t n = strlen(browser_request);
    frm f[] = {FR(T1, "hi"), FR(CLOSE, "\x03\xe8"), END_FR};
    ws_event ev;
    char out[2048];
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 2048;
    cfg.max_head_size = 2048;
    cfg.max_headers = 16;
    cfg.whole_messages = true;
    cfg.max_message_size = 4096;
    need = ws_conn_storage_size(&cfg);
    assert_true(need <= sizeof mem);
    assert_null(ws_conn_init(mem, need - 1, &cfg));
#ifdef WS_NO_DEFAULT_ALLOC
    assert_null(ws_conn_new(&cfg)); /* no allocator given, and none built in */
#endif
    c = ws_conn_init(mem, need, &cfg);
    assert_non_null(c);
    memcpy(in, browser_request, n);
    n += build_frames(f, WS_ROLE_SERVER, in + n);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_MESSAGE);
    assert_int_equal(ws_conn_send(c, (ws_opcode)ev.opcode, ev.data, ev.len), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSE);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_OK);
    n = take_output(c, out, sizeof out);
    assert_true(n > 4);
    /* 101 response, then the echo, then the close reply. */
    assert_memory_equal(out + n - 4 - 4, "\x81\x02hi", 4);
    assert_memory_equal(out + n - 4, "\x88\x02\x03\xe8", 4);
}

/* A frame longer than 4 GiB streams in pieces with 64-bit limits, on a 32-bit host too: the
 * wire length is never narrowed to size_t. */
static void test_stream_over_4gib(void **state)
{
    ws_config cfg;
    static uint64_t mem[1 << 12];
    ws_conn *c;
    uint8_t in[1024];
    size_t n = strlen(browser_request);
    const uint64_t length = ((uint64_t)5 << 30) + 3; /* 5 GiB + 3 */
    ws_frame_header h;
    ws_event ev;
    int hl, i;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 2048;
    cfg.max_head_size = 2048;
    cfg.max_headers = 16;
    cfg.max_frame_size = (uint64_t)8 << 30;
    cfg.max_message_size = (uint64_t)8 << 30;
    c = ws_conn_init(mem, sizeof mem, &cfg);
    assert_non_null(c);
    memcpy(in, browser_request, n);
    memset(&h, 0, sizeof h);
    h.opcode = WS_OP_BINARY;
    h.fin = true;
    h.length = length;
    h.masked = true;
    memcpy(h.mask, test_key, 4);
    hl = ws_frame_header_encode(in + n, &h);
    assert_int_equal(hl, 14);
    n += (size_t)hl;
    memcpy(in + n, "abcdefgh", 8);
    ws_mask(in + n, 8, test_key, 0);
    n += 8;
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CHUNK);
    assert_int_equal(ev.opcode, WS_OP_BINARY);
    assert_false(ev.frame_final);
    assert_int_equal(ev.len, 8);
    assert_memory_equal(ev.data, "abcdefgh", 8);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    assert_int_equal(ws_conn_phase(c), WS_PHASE_OPEN);
    /* The byte count goes on past 2^32 without wrapping: one more piece, still mid-frame. */
    for (i = 0; i < 2; i++) {
        memset(in, 0, 16);
        assert_int_equal(ws_conn_feed(c, in, 16), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CHUNK);
        assert_int_equal(ev.len, 16);
        assert_false(ev.frame_final);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    }
    /* The same frame over a 4 GiB limit fails at its length, as it should. */
    cfg.max_frame_size = (uint64_t)4 << 30;
    c = ws_conn_init(mem, sizeof mem, &cfg);
    assert_non_null(c);
    n = strlen(browser_request);
    memcpy(in, browser_request, n);
    hl = ws_frame_header_encode(in + n, &h);
    n += (size_t)hl;
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_FRAME_TOO_BIG);
}

#ifndef WS_NO_DEFAULT_ALLOC
/* A session whose buffers must grow: a 6000-byte message in two fragments, reassembled and
 * echoed, then the close. */
static void run_growing_session(ws_conn *c)
{
    static uint8_t in[8192];
    static char out[8192];
    static char part[3000];
    frm f[] = {{0x01, part, sizeof part}, {0x80, part, sizeof part}, FR(CLOSE, "\x03\xe8"), END_FR};
    size_t n = strlen(browser_request);
    ws_event ev;

    memset(part, 'a', sizeof part);
    memcpy(in, browser_request, n);
    n += build_frames(f, WS_ROLE_SERVER, in + n);
    assert_true(n <= sizeof in);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_MESSAGE);
    assert_int_equal(ev.len, 2 * sizeof part);
    assert_int_equal(ws_conn_send(c, (ws_opcode)ev.opcode, ev.data, ev.len), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSE);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_OK);
    n = take_output(c, out, sizeof out);
    /* The 101, then the 6000-byte echo (header 81 7e 17 70), then the close reply. */
    assert_true(n > 6000 + 4 + 4);
    assert_memory_equal(out + n - 4 - 6000 - 4, "\x81\x7e\x17\x70", 4);
    assert_memory_equal(out + n - 4, "\x88\x02\x03\xe8", 4);
}
#endif

/* With no allocator named, ws_conn_new uses the C library's, unless the build opted out
 * (WS_NO_DEFAULT_ALLOC): then it fails. ws_conn_free releases what the session grew (the
 * sanitizer and valgrind runs check that nothing leaks). */
static void test_default_allocator(void **state)
{
    ws_config cfg;
    ws_conn *c;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.whole_messages = true;
    assert_null(cfg.realloc);
    c = ws_conn_new(&cfg);
#ifdef WS_NO_DEFAULT_ALLOC
    assert_null(c);
#else
    assert_non_null(c);
    run_growing_session(c);
    ws_conn_free(c);
#endif
}

/* Whatever is fed, the heap a connection holds stays within its configured limits. */
static void test_memory_bounded(void **state)
{
    alloc_stats st = {0, 0, 0};
    ws_config cfg;
    ws_conn *c;
    static uint8_t in[1 << 16];
    size_t i, n = 0, limit;
    ws_event ev;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.realloc = count_realloc;
    cfg.realloc_ud = &st;
    cfg.whole_messages = true;
    cfg.max_message_size = 4096;
    cfg.max_output = 4096;
    c = ws_conn_new(&cfg);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    /* Many fragments and pings with nobody draining the output. */
    for (i = 0; i < 500; i++) {
        frm f[] = {FR(WS_OP_BINARY, "12345678"), FR(PING, "ping payload"), END_FR};
        frm g[] = {FR(WS_OP_CONTINUATION, "12345678"), FR(PING, "ping payload"), END_FR};
        n += build_frames(i == 0 ? f : g, WS_ROLE_SERVER, in + n);
    }
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    while (ws_conn_next_event(c, &ev) != WS_EV_NONE && ev.type != WS_EV_CLOSED)
        ;
    /* What fixed storage takes, and a heap output queue's blocks may take up to twice their
     * share (their capacity counts, partly consumed or not yet filled: docs/connection.md). */
    limit = ws_conn_storage_size(&cfg) + cfg.max_output + 512;
    assert_true(st.peak <= limit);
    ws_conn_free(c);
    assert_int_equal(st.live, 0);
}

/* Edges of the connection API: bytes before a client's request, the subprotocol a host
 * gives ws_conn_start_open, and the close code reported after the host's own close. */
static void test_client_feed_before_connect(void **state)
{
    ws_config cfg;
    ws_conn *c;
    uint8_t in[4] = {0x81, 0x00, 0, 0};
    (void)state;

    ws_config_init(&cfg, WS_ROLE_CLIENT);
    cfg.random = zero_random;
    cfg.max_output = 4096;
    c = ws_conn_init(conn_mem, sizeof conn_mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_feed(c, in, sizeof in), WS_E_STATE); /* refused, not dropped */
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);         /* nothing was taken */
}

static void test_start_open_copies_subprotocol(void **state)
{
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    char proto[8];
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 4096;
    c = ws_conn_init(conn_mem, sizeof conn_mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_start_open(c, "a b"), WS_E_INVALID); /* not a token */
    strcpy(proto, "chat");
    assert_int_equal(ws_conn_start_open(c, proto), WS_OK);
    memset(proto, 'X', sizeof proto); /* the caller's string is gone */
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    assert_int_equal(ev.subprotocol_len, 4);
    assert_memory_equal(ev.subprotocol, "chat", 4);
}

/* The host closes with 1000 before pulling the event that fails the text: the peer saw
 * 1000, so WS_EV_CLOSED says 1000, with the error that ended the connection. */
static void test_close_before_pending_error(void **state)
{
    static const frm in_frames[] = {FR(T1, "ab\xff"), END_FR};
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    uint8_t in[64];
    const uint8_t *o;
    size_t n;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 4096;
    c = ws_conn_init(conn_mem, sizeof conn_mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    n = build_frames(in_frames, WS_ROLE_SERVER, in);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CHUNK); /* "ab", before the bad byte */
    assert_int_equal(ws_conn_close(c, 1000, NULL, 0), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_INVALID_UTF8);
    assert_int_equal(ev.close_code, 1000);
    n = ws_conn_output(c, &o);
    assert_int_equal(n, 4); /* one close frame: 1000 */
    assert_memory_equal(o, "\x88\x02\x03\xe8", 4);
}

#ifndef WS_NO_REQUEST_HOOKS
/* DNS rebinding: a page at attacker.example:8080 whose name now points at our address
 * sends Host and Origin that agree, so the same-origin check passes; the trusted host list
 * refuses it with 421 before any hook runs. A request for a trusted name goes through. */
static void test_trusted_hosts(void **state)
{
    static const char *const trusted[] = {"localhost", "127.0.0.1"};
    static const char rebound[] = "GET /chat HTTP/1.1\r\n"
                                  "Host: attacker.example:8080\r\n"
                                  "Origin: http://attacker.example:8080\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n\r\n";
    static const char good[] = "GET /chat HTTP/1.1\r\n"
                               "Host: localhost:8080\r\n"
                               "Origin: http://localhost:8080\r\n"
                               "Upgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n";
    ws_origin_policy policy;
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    uint8_t in[512];
    const uint8_t *o;
    size_t n;
    (void)state;

    ws_origin_policy_init(&policy); /* same-origin, which rebinding defeats on its own */
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 4096;
    cfg.origin_hook.fn = ws_origin_hook;
    cfg.origin_hook.ud = &policy;
    c = ws_conn_init(conn_mem, sizeof conn_mem, &cfg);
    assert_non_null(c);
    memcpy(in, rebound, sizeof rebound - 1);
    assert_int_equal(ws_conn_feed(c, in, sizeof rebound - 1), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST); /* without a list: passes */

    cfg.trusted_hosts = trusted;
    cfg.trusted_host_count = 2;
    c = ws_conn_init(conn_mem, sizeof conn_mem, &cfg);
    assert_non_null(c);
    memcpy(in, rebound, sizeof rebound - 1);
    assert_int_equal(ws_conn_feed(c, in, sizeof rebound - 1), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.http_status, 421);
    assert_int_equal(ev.error, WS_E_HTTP_MISDIRECTED);
    n = ws_conn_output(c, &o);
    {
        static const char line[] = "HTTP/1.1 421 " TEST_PHRASE("Misdirected Request") "\r\n";
        assert_true(n > sizeof line - 1);
        assert_memory_equal(o, line, sizeof line - 1);
    }

    c = ws_conn_init(conn_mem, sizeof conn_mem, &cfg);
    assert_non_null(c);
    memcpy(in, good, sizeof good - 1);
    assert_int_equal(ws_conn_feed(c, in, sizeof good - 1), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);

    cfg.trusted_hosts = NULL; /* a count without a list is a configuration error */
    assert_null(ws_conn_init(conn_mem, sizeof conn_mem, &cfg));
}
#else  /* WS_NO_REQUEST_HOOKS */
static int allow_all(void *ud, ws_conn *c, const ws_request *r)
{
    (void)ud;
    (void)c;
    (void)r;
    return WS_HOOK_ALLOW;
}

/* -Drequest_hooks=false: a configuration that asks for a hook or a trusted host list is
 * refused, never run without them; the host decides at WS_EV_REQUEST, with the same
 * policies called by itself. */
static void test_request_hooks_left_out(void **state)
{
    static const char *const trusted[] = {"localhost"};
    static const char rebound[] = "GET /chat HTTP/1.1\r\n"
                                  "Host: attacker.example:8080\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n\r\n";
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    uint8_t in[512];
    const uint8_t *o;
    int i;
    (void)state;

    for (i = 0; i < 3; i++) {
        ws_config_init(&cfg, WS_ROLE_SERVER);
        cfg.max_output = 4096;
        if (i == 0)
            cfg.origin_hook.fn = allow_all;
        else if (i == 1)
            cfg.auth_hook.fn = allow_all;
        else {
            cfg.trusted_hosts = trusted;
            cfg.trusted_host_count = 1;
        }
        assert_int_equal(ws_conn_storage_size(&cfg), 0);
        assert_null(ws_conn_init(conn_mem, sizeof conn_mem, &cfg));
        assert_null(ws_conn_new(&cfg));
    }
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 4096;
    c = ws_conn_init(conn_mem, sizeof conn_mem, &cfg);
    assert_non_null(c);
    memcpy(in, rebound, sizeof rebound - 1);
    assert_int_equal(ws_conn_feed(c, in, sizeof rebound - 1), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_resume(c, WS_HOOK_ALLOW), WS_E_STATE); /* nothing pending */
    assert_false(ws_host_trusted(trusted, 1, ev.request->host, ev.request->host_len));
    assert_int_equal(ws_conn_reject(c, 421, NULL, 0, NULL, 0), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.http_status, 421);
    assert_int_equal(ev.error, WS_E_HTTP_REJECTED);
    assert_true(ws_conn_output(c, &o) > 13);
    assert_memory_equal(o, "HTTP/1.1 421 ", 13);
}
#endif /* WS_NO_REQUEST_HOOKS */

/* 0 means "no limit" for every size limit of a message: frame, message, fragments. */
static void test_zero_means_no_limit(void **state)
{
    static const frm in_frames[] = {FR(WS_OP_BINARY, "0123456789"), FR(WS_OP_CONTINUATION, ""),
                                    FR(C1, "abcdef"), END_FR};
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    uint8_t in[128];
    size_t n, got = 0;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 4096;
    cfg.max_frame_size = 0;
    cfg.max_message_size = 0;
    cfg.max_fragments = 0;
    c = ws_conn_init(conn_mem, sizeof conn_mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    n = build_frames(in_frames, WS_ROLE_SERVER, in);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    while (ws_conn_next_event(c, &ev) == WS_EV_CHUNK) {
        got += ev.len;
        if (ev.message_final)
            break;
    }
    assert_int_equal(got, 16);
    assert_true(ev.message_final);
    /* Reassembly needs a bound for its buffer. */
    cfg.whole_messages = true;
    assert_int_equal(ws_conn_storage_size(&cfg), 0);
    assert_null(ws_conn_init(conn_mem, sizeof conn_mem, &cfg));
}

/* Opens a connection of role straight into the frames state, with the given limits (0: the
 * default frame limit, 64 KiB messages). */
static ws_conn *open_plain(ws_role role, bool whole, uint64_t max_frame, uint64_t max_message)
{
    ws_config cfg;
    ws_conn *c;
    ws_event ev;

    ws_config_init(&cfg, role);
    cfg.random = zero_random;
    cfg.whole_messages = whole;
    cfg.max_output = 65536;
    if (max_frame)
        cfg.max_frame_size = max_frame;
    /* Reassembly takes a buffer of max_message_size from the storage: bounded here. */
    cfg.max_message_size = max_message ? max_message : 65536;
    c = ws_conn_init(conn_mem, sizeof conn_mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    return c;
}

/* One whole frame (FIN, opcode op) of p[0..n) as the peer of role sends it, with a key that
 * changes with n, so that the tail of every length meets every key byte. */
static size_t put_plain_frame(uint8_t *out, ws_role receiver, uint8_t op, const uint8_t *p,
                              size_t n)
{
    ws_frame_header h;
    int hl;

    memset(&h, 0, sizeof h);
    h.fin = true;
    h.opcode = op;
    h.length = n;
    h.masked = receiver == WS_ROLE_SERVER;
    h.mask[0] = (uint8_t)(0x91 + n);
    h.mask[1] = (uint8_t)(0x3c ^ n);
    h.mask[2] = (uint8_t)(0xe5 - n);
    h.mask[3] = (uint8_t)(0x07 + 3 * n);
    hl = ws_frame_header_encode(out, &h);
    assert_true(hl > 0);
    memcpy(out + hl, p, n);
    if (h.masked)
        ws_mask(out + hl, n, h.mask, 0);
    return (size_t)hl + n;
}

/*
 * The receive fast path (lib/conn_fast.h) at every length up to past its short limit, both
 * roles, both modes: binary of every byte value, ASCII text, text with a 2-byte character at
 * each place, text with a bad byte at each place, each message followed by another in the
 * same input so that the position after it counts too.
 */
static void test_fast_path_lengths(void **state)
{
    static uint8_t in[1024], msg[200];
    static const uint8_t after[3] = {'e', 'n', 'd'};
    int role, whole;
    size_t n, k, i;
    (void)state;

    for (role = 0; role < 2; role++) {
        ws_role r = role ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
        for (whole = 0; whole < 2; whole++) {
            for (n = 0; n <= 140; n++) {
                /* kind 0: binary; 1: ASCII text; 2: a 2-byte character at k; 3: 0xff at k */
                int kind;
                for (kind = 0; kind < 4; kind++) {
                    for (k = 0; k < (kind >= 2 ? n : 1); k++) {
                        ws_conn *c;
                        ws_event ev;
                        ws_event_type t;
                        uint8_t op = kind == 0 ? WS_OP_BINARY : WS_OP_TEXT;
                        size_t len;
                        if (kind == 2 && k + 1 >= n)
                            continue;
                        for (i = 0; i < n; i++)
                            msg[i] = kind == 0 ? (uint8_t)(i * 37u + n) : (uint8_t)('a' + i % 26);
                        if (kind == 2) {
                            msg[k] = 0xc3;
                            msg[k + 1] = 0xa9;
                        } else if (kind == 3) {
                            msg[k] = 0xff;
                        }
                        c = open_plain(r, whole != 0, 0, 0);
                        len = put_plain_frame(in, r, op, msg, n);
                        len += put_plain_frame(in + len, r, WS_OP_TEXT, after, sizeof after);
                        assert_int_equal(ws_conn_feed(c, in, len), WS_OK);
                        if (kind == 3) {
                            /* The valid prefix may come as a chunk first (streaming). */
                            while ((t = ws_conn_next_event(c, &ev)) == WS_EV_CHUNK) {
                                assert_true(ev.len <= k);
                                assert_memory_equal(ev.data, msg, ev.len);
                            }
                            assert_int_equal(t, WS_EV_CLOSED);
                            assert_int_equal(ev.error, WS_E_INVALID_UTF8);
                            assert_int_equal(ev.close_code, WS_CLOSE_INVALID_PAYLOAD);
                            continue;
                        }
                        t = ws_conn_next_event(c, &ev);
                        assert_int_equal(t, whole ? WS_EV_MESSAGE : WS_EV_CHUNK);
                        assert_int_equal(ev.opcode, op);
                        assert_true(ev.frame_final && ev.message_final);
                        assert_int_equal(ev.len, n);
                        if (n > 0)
                            assert_memory_equal(ev.data, msg, n);
                        assert_int_equal(ev.close_code, 0);
                        assert_null(ev.reason);
                        t = ws_conn_next_event(c, &ev);
                        assert_int_equal(t, whole ? WS_EV_MESSAGE : WS_EV_CHUNK);
                        assert_int_equal(ev.len, sizeof after);
                        assert_memory_equal(ev.data, after, sizeof after);
                        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
                    }
                }
            }
        }
    }
}

/* The limits at the fast path's sizes: a frame or message of exactly the limit is delivered,
 * one byte more fails with 1009 when its header arrives, for each of the two limits. */
static void test_fast_path_limits(void **state)
{
    static uint8_t in[512], msg[300];
    size_t lim, n;
    int which;
    (void)state;

    memset(msg, 'x', sizeof msg);
    for (which = 0; which < 2; which++) {
        for (lim = 1; lim <= 260; lim += (lim < 20 ? 1 : 61)) {
            for (n = lim; n <= lim + 1; n++) {
                ws_conn *c =
                    open_plain(WS_ROLE_SERVER, true, which == 0 ? lim : 0, which == 1 ? lim : 0);
                ws_event ev;
                size_t len = put_plain_frame(in, WS_ROLE_SERVER, WS_OP_TEXT, msg, n);
                assert_int_equal(ws_conn_feed(c, in, len), WS_OK);
                if (n == lim) {
                    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_MESSAGE);
                    assert_int_equal(ev.len, n);
                } else {
                    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_CLOSED);
                    assert_int_equal(ev.error,
                                     which == 0 ? WS_E_FRAME_TOO_BIG : WS_E_MESSAGE_TOO_BIG);
                    assert_int_equal(ev.close_code, WS_CLOSE_TOO_BIG);
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_table),
        cmocka_unit_test(test_server_handshake_with_pipelined_frame),
        cmocka_unit_test(test_server_async_decision),
        cmocka_unit_test(test_error_values),
        cmocka_unit_test(test_server_reject),
        cmocka_unit_test(test_server_stash_overflow),
        cmocka_unit_test(test_server_keep_request),
        cmocka_unit_test(test_server_bad_request),
        cmocka_unit_test(test_plain_http_request),
        cmocka_unit_test(test_handoff),
        cmocka_unit_test(test_client_server_session),
        cmocka_unit_test(test_client_refused),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_send_checks),
        cmocka_unit_test(test_eof),
        cmocka_unit_test(test_fixed_memory_session),
        cmocka_unit_test(test_default_allocator),
        cmocka_unit_test(test_memory_bounded),
        cmocka_unit_test(test_stream_over_4gib),
        cmocka_unit_test(test_client_feed_before_connect),
        cmocka_unit_test(test_start_open_copies_subprotocol),
        cmocka_unit_test(test_close_before_pending_error),
#ifndef WS_NO_REQUEST_HOOKS
        cmocka_unit_test(test_trusted_hosts),
#else
        cmocka_unit_test(test_request_hooks_left_out),
#endif
        cmocka_unit_test(test_zero_means_no_limit),
        cmocka_unit_test(test_fast_path_lengths),
        cmocka_unit_test(test_fast_path_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
