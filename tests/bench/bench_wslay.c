/*
 * The same streams through wslay 1.1.1, the established C library: a server context of its
 * event API, fed by a recv callback that hands out 16 KiB pieces, pongs drained by a send
 * callback that discards them. Built only when Meson finds wslay (BENCH_WSLAY).
 */
#include "bench.h"

#ifdef BENCH_WSLAY

#include <string.h>

#include <wslay/wslay.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

typedef struct wslay_run {
    const uint8_t *piece; /* the current 16 KiB piece of the stream */
    size_t piece_len;
    size_t piece_pos;
    bool verify;
    bench_count *count;
} wslay_run;

/* wslay asks for at most the room left in its own 4 KiB buffer; the copy into that buffer
 * is its equivalent of libws's copy into the scratch buffer. */
static ssize_t wslay_recv_piece(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                                void *user_data)
{
    wslay_run *r = user_data;
    size_t n = r->piece_len - r->piece_pos;

    (void)flags;
    if (n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (n > len)
        n = len;
    memcpy(buf, r->piece + r->piece_pos, n);
    r->piece_pos += n;
    return (ssize_t)n;
}

static ssize_t wslay_send_discard(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                                  int flags, void *user_data)
{
    (void)ctx;
    (void)data;
    (void)flags;
    (void)user_data;
    return (ssize_t)len;
}

static void wslay_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                         void *user_data)
{
    wslay_run *r = user_data;

    (void)ctx;
    if (arg->opcode == WSLAY_PING) {
        r->count->pings++;
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME) {
        r->count->failed = true; /* a close: wslay refused something */
        return;
    }
    r->count->messages++;
    r->count->payload_bytes += arg->msg_length;
    if (r->verify) {
        r->count->checksum = bench_hash(r->count->checksum, arg->msg, arg->msg_length);
        r->count->checksum = bench_hash_len(r->count->checksum, arg->msg_length);
    }
}

bool bench_wslay_available(void)
{
    return true;
}

void bench_wslay_run(const bench_stream *s, bool verify, bench_count *out)
{
    struct wslay_event_callbacks cb;
    wslay_event_context_ptr ctx;
    wslay_run r;
    size_t off;

    memset(out, 0, sizeof *out);
    out->checksum = BENCH_HASH_INIT;
    memset(&r, 0, sizeof r);
    r.verify = verify;
    r.count = out;
    memset(&cb, 0, sizeof cb);
    cb.recv_callback = wslay_recv_piece;
    cb.send_callback = wslay_send_discard;
    cb.on_msg_recv_callback = wslay_on_msg;
    if (wslay_event_context_server_init(&ctx, &cb, &r) != 0) {
        out->failed = true;
        return;
    }
    for (off = 0; off < s->len && !out->failed; off += BENCH_PIECE) {
        r.piece = s->data + off;
        r.piece_len = s->len - off < BENCH_PIECE ? s->len - off : BENCH_PIECE;
        r.piece_pos = 0;
        if (wslay_event_recv(ctx) != 0 || !wslay_event_want_read(ctx))
            out->failed = true;
        if (wslay_event_want_write(ctx) && wslay_event_send(ctx) != 0)
            out->failed = true;
    }
    wslay_event_context_free(ctx);
}

size_t bench_wslay_idle_heap(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct wslay_event_callbacks cb;
    wslay_event_context_ptr ctx;
    struct mallinfo2 before, after;
    wslay_run r;

    memset(&cb, 0, sizeof cb);
    memset(&r, 0, sizeof r);
    cb.recv_callback = wslay_recv_piece;
    cb.send_callback = wslay_send_discard;
    cb.on_msg_recv_callback = wslay_on_msg;
    before = mallinfo2();
    if (wslay_event_context_server_init(&ctx, &cb, &r) != 0)
        return 0;
    after = mallinfo2();
    wslay_event_context_free(ctx);
    return after.uordblks > before.uordblks ? after.uordblks - before.uordblks : 0;
#else
    return 0;
#endif
}

#else /* !BENCH_WSLAY */

#include <string.h>

bool bench_wslay_available(void)
{
    return false;
}

void bench_wslay_run(const bench_stream *s, bool verify, bench_count *out)
{
    (void)s;
    (void)verify;
    memset(out, 0, sizeof *out);
    out->failed = true;
}

size_t bench_wslay_idle_heap(void)
{
    return 0;
}

#endif
