/*
 * The receive fast path: a plain data frame that lies wholly in the host's buffer, taken
 * in one step from the top of ws_conn_next_event. "Plain" is the shape of almost every
 * message of a chat, game or market-data feed: FIN set, no RSV bit, text or binary, a 7- or
 * 16-bit length in shortest form within the limits, the mask bit the role expects, no
 * fragmented message open, nothing stashed and no partial header pending. The header is
 * decoded here, the payload unmasked in place and, for text, checked as UTF-8 while it is
 * unmasked (a word of ASCII costs one OR), and the event is filled: inline for a 7-bit
 * length of 8 to 16 bytes, the size of many small messages; out of line (conn_fast.c) for
 * other lengths, a 16-bit length, a connection with permessage-deflate.
 *
 * Fragments and whole pings/pongs take a second way, ws_conn_fast_frames (conn_fast.c),
 * which hands them to the general path's own message-state and control-frame code.
 * Anything else is left for the general path in conn.c, which decodes the same bytes and
 * reports errors at their byte: close frames, RSV bits (permessage-deflate),
 * 64-bit lengths, frames cut by the end of the input, every rule broken. The one case found
 * after the payload was unmasked, text that is not valid UTF-8, is masked again first, so
 * the general path sees the frame exactly as it arrived. Nothing of the connection changes
 * unless the frame is delivered here.
 */
#ifndef WS_CONN_FAST_H
#define WS_CONN_FAST_H

#include "conn.h"
#include "frame.h"

#include <stddef.h>
#include <stdint.h>

WS_INTERNAL_BEGIN

#if defined(__GNUC__) || defined(__clang__)
#define WS_FAST_NOINLINE __attribute__((noinline))
#else
#define WS_FAST_NOINLINE
#endif

/* ws_fast_deliver clears an event from close_code on: nothing may sit between len and it. */
typedef char ws_fast_event_layout
    [offsetof(ws_event, close_code) == offsetof(ws_event, len) + sizeof(size_t) ? 1 : -1];

/* The top bit of every byte of a 64-bit word: set in the OR of non-ASCII bytes only. */
#define WS_FAST_HIGH_BITS UINT64_C(0x8080808080808080)

/* Payloads shorter than this are unmasked word by word (ws_fast_unmask_or16 inline, else
 * ws_fast_unmask_or in ws_conn_fast_rest); longer ones by ws_mask_copy (SIMD) in
 * ws_conn_fast_rest. A power of two: ws_fast_unmask_or takes its bits. */
#define WS_FAST_SHORT 128u

/* Unmasks the word at p in place and ORs it into *acc. */
static inline void ws_fast_word(uint8_t *p, uint64_t kw, uint64_t *acc)
{
    uint64_t w;

    memcpy(&w, p, 8);
    w ^= kw;
    memcpy(p, &w, 8);
    *acc |= w;
}

/* Whether ws_fast_unmask_or16 is built: it takes 8 to 16 bytes as two overlapping words,
 * with the key word for the second turned to its place, which depends on the byte order. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WS_FAST_TAIL_WORD 1
/* The key word kw as it applies s / 8 (0-3) bytes further on: the byte that comes first in
 * memory is the low one. */
static inline uint64_t ws_fast_key_at(uint64_t kw, unsigned s)
{
    return (kw >> s) | (kw << ((64u - s) & 63u));
}
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define WS_FAST_TAIL_WORD 1
static inline uint64_t ws_fast_key_at(uint64_t kw, unsigned s)
{
    return (kw << s) | (kw >> ((64u - s) & 63u));
}
#else
#define WS_FAST_TAIL_WORD 0
#endif

#if WS_FAST_TAIL_WORD
/* Unmasks p[0..n), 8 <= n <= 16, in place with the key word kw (the 4-byte key twice, as it
 * lies in memory) and returns the OR of the unmasked bytes, as ws_fast_unmask_or; inline in
 * ws_conn_fast_plain, for the size of many small messages. Two words, the first and the last,
 * which overlap unless there are 16: both are read before either is written, so the bytes
 * they share come out the same from each. */
static inline uint64_t ws_fast_unmask_or16(uint8_t *p, size_t n, uint64_t kw)
{
    uint64_t w0, w1;

    memcpy(&w0, p, 8);
    memcpy(&w1, p + n - 8, 8);
    w0 ^= kw;
    w1 ^= ws_fast_key_at(kw, 8u * (unsigned)(n & 3u));
    memcpy(p, &w0, 8);
    memcpy(p + n - 8, &w1, 8);
    return w0 | w1;
}
#endif

/* Unmasks p[0..n), n < WS_FAST_SHORT, in place with the key word k32 (the key's 4 bytes in
 * wire order, as loaded from the frame; 0 leaves the bytes as they are), starting at key
 * byte 0, and returns the OR of the unmasked bytes in words: ASCII when no byte's top bit is
 * set. One branch per bit of n and no loop (a loop draws the vectoriser's set-up, dearer
 * than 16 bytes of work); the key repeats every four bytes, so one key word fits each step. */
static inline uint64_t ws_fast_unmask_or(uint8_t *p, size_t n, uint32_t k32)
{
    uint64_t kw = ((uint64_t)k32 << 32) | k32, acc = 0;
    size_t i;

    /* Each step's place follows from the bits above it, so no cursor takes a register. */
    if (n & 64u) {
        for (i = 0; i < 64; i += 8)
            ws_fast_word(p + i, kw, &acc);
    }
    if (n & 32u) {
        for (i = 0; i < 32; i += 8)
            ws_fast_word(p + (n & 64u) + i, kw, &acc);
    }
    if (n & 16u) {
        ws_fast_word(p + (n & 96u), kw, &acc);
        ws_fast_word(p + (n & 96u) + 8, kw, &acc);
    }
    if (n & 8u)
        ws_fast_word(p + (n & 112u), kw, &acc);
    if (n & 7u) {
        /* The last 1-7 bytes, one at a time: past a multiple of 4 bytes the key starts over,
         * so byte i takes key byte i % 4, read from kw as it lies in memory. */
        uint8_t kb[8];
        memcpy(kb, &kw, 8);
        for (i = n & 120u; i < n; i++) {
            p[i] = (uint8_t)(p[i] ^ kb[i & 3u]);
            acc |= p[i];
        }
    }
    return acc;
}

#if !WS_FAST_TAIL_WORD
/* A byte order not known at compile time: the same by ws_fast_unmask_or's steps. */
static inline uint64_t ws_fast_unmask_or16(uint8_t *p, size_t n, uint64_t kw)
{
    return ws_fast_unmask_or(p, n, (uint32_t)kw);
}
#endif

/* Fills ev with a message whose payload is payload[0..len). */
static inline ws_event_type ws_fast_deliver(const ws_conn *c, ws_event *ev, const uint8_t *payload,
                                            size_t len, unsigned opcode)
{
    ev->type = c->cfg.whole_messages ? WS_EV_MESSAGE : WS_EV_CHUNK;
    ev->opcode = (uint8_t)opcode;
    ev->frame_final = true;
    ev->message_final = true;
    ev->data = payload;
    ev->len = len;
    /* The fields after len (close_code to extensions_len) are all empty for a message: a few
     * wide stores, where the field-by-field clear takes one each. */
    memset(&ev->close_code, 0, sizeof *ev - offsetof(ws_event, close_code));
    return ev->type;
}

/* conn.c: the general path of ws_conn_next_event (every event the fast path does not give). */
ws_event_type ws_conn_next_event_general(ws_conn *c, ws_event *ev);

/* conn.c: ws_conn_next_event when not in the frames state or from inside a host callback
 * (no event). */
ws_event_type ws_conn_next_event_other(ws_conn *c, ws_event *ev);

/* conn_fast.c: the rarer endings of a plain frame at the start of the input, out of line so
 * that the common one needs no stack frame: a payload not of 8 to 16 bytes (still masked
 * when `unmasked` is false), text that is not all ASCII, a keepalive activity hook.
 * The header was checked and says the payload is len bytes; text that is not valid UTF-8
 * goes, as it came, to the general path. */
ws_event_type ws_conn_fast_rest(ws_conn *c, ws_event *ev, size_t len, bool unmasked);

/* conn_fast.c: ws_conn_fast_plain's frames with a 16-bit length (text or binary, FIN, the
 * mask bit checked): the length checked as ws_conn_fast_plain checks a 7-bit one, then
 * ws_conn_fast_rest; a 64-bit length goes to the general path. Out of line, so that the
 * common path needs no second length. */
ws_event_type ws_conn_fast_len16(ws_conn *c, ws_event *ev, size_t avail);

/* conn_fast.c: the second fast way, for the frames of a fragmented message and for pings and
 * pongs that lie wholly in the input, one after another while they give no event; anything
 * else (and every frame after a failure) goes to ws_conn_next_event_general. */
ws_event_type ws_conn_fast_frames(ws_conn *c, ws_event *ev);

/*
 * A plain frame at the start of the input (avail >= 2 bytes, a new frame due, no inflated
 * bytes waiting): its event, else, with nothing changed, ws_conn_next_event_general or the
 * second fast way. Every call a tail call, so that the common path has no call and no stack
 * frame.
 */
static inline ws_event_type ws_conn_fast_plain(ws_conn *c, ws_event *ev, size_t avail)
{
    uint8_t *p = c->in + c->in_pos; /* in is not NULL: there are bytes */
    size_t need, len;
    unsigned opcode, b1;
    bool masked;
    uint64_t acc = 0;

    /* FIN, no RSV bit, text or binary: byte 0 is 0x81 or 0x82; fragments and small control
     * frames go the second way, ws_conn_fast_frames. */
    if ((unsigned)(p[0] - (WS_FIN | WS_OP_TEXT)) > WS_OP_BINARY - WS_OP_TEXT)
        return ws_conn_fast_frames(c, ev);
    opcode = p[0] & WS_OPCODE_BITS;
    b1 = p[1];
    /* The mask bit the role expects; a masked header has the 4-byte key. */
    masked = ws_conn_is_server(c);
    if ((b1 & WS_MASK_BIT) != (masked ? WS_MASK_BIT : 0u))
        return ws_conn_next_event_general(c, ev);
    len = b1 & WS_LEN7_BITS;
    if (len >= WS_LEN7_16BIT) /* a 16-bit length follows, or a 64-bit one (general path) */
        return len == WS_LEN7_16BIT ? ws_conn_fast_len16(c, ev, avail)
                                    : ws_conn_next_event_general(c, ev);
    need = masked ? 6u : 2u;
    /* fast_max stands for max_frame_size and max_message_size (ws_conn_setup). */
    if (avail < need || len > avail - need || len > c->fast_max)
        return ws_conn_next_event_general(c, ev);

    /* Inline only 8 to 16 bytes; other lengths in ws_conn_fast_rest, so that this path keeps
     * everything in registers. */
    if (len - 8u > 8u)
        return ws_conn_fast_rest(c, ev, len, false);
    p += need;
    if (masked) {
        uint32_t k32;
        memcpy(&k32, p - 4, 4);
        acc = ws_fast_unmask_or16(p, len, ((uint64_t)k32 << 32) | k32);
    } else if (opcode == WS_OP_TEXT) {
        uint64_t w0, w1; /* unmasked text: only the OR, of the first and the last word */
        memcpy(&w0, p, 8);
        memcpy(&w1, p + len - 8, 8);
        acc = w0 | w1;
    }
    if ((opcode == WS_OP_TEXT && (acc & WS_FAST_HIGH_BITS) != 0) || c->cfg.keepalive != NULL)
        return ws_conn_fast_rest(c, ev, len, true);
    c->in_pos = (size_t)(p + len - c->in);
    return ws_fast_deliver(c, ev, p, len, opcode);
}

/* conn_fast.c: ws_conn_fast_plain for a connection with permessage-deflate, which first
 * checks that no inflated bytes of a compressed message are still to be delivered. */
ws_event_type ws_conn_fast_pmd(ws_conn *c, ws_event *ev, size_t avail);

/*
 * The next event when a plain frame starts the input; anything else goes, with nothing
 * changed, to ws_conn_next_event_general. Inline in ws_conn_next_event.
 */
static inline ws_event_type ws_conn_fast_event(ws_conn *c, ws_event *ev)
{
    const ws_frame_decoder *d = &c->dec;
    size_t avail = c->in_len - c->in_pos;

    /* Frames are read and no host callback runs (else ws_conn_next_event_other); a new frame
     * starts here: no header in progress (an empty payload still owed its end, end_due, also
     * leaves the decoder in FD_PAYLOAD); no fragmented message open (else the second fast
     * way); no stashed bytes that come first. */
    if (c->in_callback || c->rx != WS_RX_FRAMES)
        return ws_conn_next_event_other(c, ev);
    if (d->state != FD_HEADER || d->hdr_len != 0)
        return ws_conn_next_event_general(c, ev);
    if (c->msg_opcode != 0)
        return ws_conn_fast_frames(c, ev);
    if (c->stash != NULL || avail < 2)
        return ws_conn_next_event_general(c, ev);
    if (ws_conn_pmd(c) != NULL)
        return ws_conn_fast_pmd(c, ev, avail);
    return ws_conn_fast_plain(c, ev, avail);
}

WS_INTERNAL_END

#endif /* WS_CONN_FAST_H */
