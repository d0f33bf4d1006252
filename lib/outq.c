/*
 * The output queue: records in blocks that are appended to and read from, never moved.
 * A record is either a run of copied bytes (which later appends may extend) or a reference
 * to bytes elsewhere; the host reads them in order, one run at a time or as an iovec.
 */
#include "outq.h"

/* Heap blocks start small (an idle-to-busy connection pays for little) and double up to
 * a size where one allocation is spread over many frames. */
#define WS_OUTQ_BLOCK_MIN 1024u
#define WS_OUTQ_BLOCK_MAX (256u * 1024u)
/* Where a queue that emptied starts again at most: below the usual threshold at which
 * malloc maps pages of its own, so a drain-and-refill cycle stays cheap. */
#define WS_OUTQ_HINT_MAX (64u * 1024u)

static const uint8_t *ws_outq_rec_bytes(const ws_outq_rec *r)
{
    return r->ext != NULL ? r->ext : (const uint8_t *)r + WS_OUTQ_REC;
}

/* Offset of the record after the one at off. */
static size_t ws_outq_rec_next(const ws_outq_rec *r, size_t off)
{
    return WS_OUTQ_ALIGN(off + WS_OUTQ_REC + (r->ext != NULL ? 0 : r->len));
}

size_t ws_outq_storage(size_t max_output)
{
    return WS_OUTQ_HDR + WS_OUTQ_ALIGN(max_output) + WS_OUTQ_REC + 8u + WS_OUTQ_RESERVE;
}

void ws_outq_init(ws_outq *q, void *mem, size_t size)
{
    ws_outq_block *b = (ws_outq_block *)mem;

    memset(q, 0, sizeof *q);
    q->last = WS_OUTQ_NONE;
    q->budget = size;
    b->next = NULL;
    b->cap = size - WS_OUTQ_HDR;
    b->wr = 0;
    q->head = q->tail = q->fixed = b;
}

/* The end of an append at wr: n bytes (extending the last record, or in a record of their
 * own), then a reference record. *at is where the bytes go. */
static size_t ws_outq_end(size_t wr, bool extend, size_t n, bool ref, size_t *at)
{
    size_t end = wr;

    if (n > 0 && !extend)
        end = WS_OUTQ_ALIGN(end) + WS_OUTQ_REC;
    *at = end;
    end += n;
    if (ref)
        end = WS_OUTQ_ALIGN(end) + WS_OUTQ_REC;
    return end;
}

static bool ws_outq_can_extend(const ws_outq *q)
{
    return q->last != WS_OUTQ_NONE && ws_outq_rec_at(q->tail, q->last)->ext == NULL;
}

uint8_t *ws_outq_reserve(ws_outq *q, ws_realloc_fn rf, void *ud, size_t n, bool ref, bool control,
                         int *rc)
{
    ws_outq_block *b = q->tail;
    size_t at, end;

    if (b != NULL) {
        /* (ws_outq_end asks whether the bytes may extend the last record only if n > 0) */
        end = ws_outq_end(b->wr, ws_outq_can_extend(q), n, ref, &at);
        /* Fixed storage keeps WS_OUTQ_RESERVE back from data; the heap does through held. */
        if (end <= b->cap && (b != q->fixed || control || b->cap - end >= WS_OUTQ_RESERVE)) {
            q->res_block = b;
            q->res_off = at;
            return ws_outq_data(b) + at;
        }
    }
    if (q->fixed != NULL || rf == NULL) {
        *rc = WS_E_BACKPRESSURE; /* fixed storage starts over only once it is empty */
        return NULL;
    }
    return WS_OUTQ_HEAP(q, grow)(q, rf, ud, n, ref, control, rc);
}

void ws_outq_commit(ws_outq *q, size_t n)
{
    ws_outq_block *b = q->res_block;
    ws_outq_rec *r;

    if (b != q->tail) { /* a fresh heap block */
        if (q->tail != NULL) {
            q->tail->next = b;
        } else {
            q->head = b;
            q->rd = q->rd_done = 0;
        }
        q->tail = b;
        q->last = WS_OUTQ_NONE;
        q->held += WS_OUTQ_HDR + b->cap;
    }
    if (n > 0) {
        if (q->res_off == b->wr) { /* they extend the last record */
            ws_outq_rec_at(b, q->last)->len += n;
        } else {
            q->last = q->res_off - WS_OUTQ_REC;
            r = ws_outq_rec_at(b, q->last);
            r->len = n;
            r->ext = NULL;
            r->done = NULL;
            r->ud = NULL;
        }
        b->wr = q->res_off + n;
        q->pending += n;
    }
    q->res_block = NULL;
}

void ws_outq_commit_ref(ws_outq *q, size_t n, const ws_outq_ref *ref)
{
    ws_outq_block *b;
    ws_outq_rec *r;

    ws_outq_commit(q, n);
    b = q->tail; /* the reservation's block, linked in if it was a fresh one */
    q->last = WS_OUTQ_ALIGN(b->wr);
    r = ws_outq_rec_at(b, q->last);
    r->len = ref->len;
    r->ext = ref->data;
    r->done = ref->done;
    r->ud = ref->ud;
    b->wr = q->last + WS_OUTQ_REC;
    q->pending += ref->len;
}

void ws_outq_cancel(ws_outq *q, ws_realloc_fn rf, void *ud)
{
    if (q->res_block != NULL && q->res_block != q->tail)
        rf(ud, q->res_block, 0);
    q->res_block = NULL;
}

size_t ws_outq_peek(const ws_outq *q, const uint8_t **data)
{
    static const uint8_t none[1] = {0};
    const ws_outq_rec *r;

    if (q->pending == 0) {
        *data = none; /* never NULL: a host's memcpy(dst, data, 0) stays defined */
        return 0;
    }
    r = ws_outq_rec_at(q->head, q->rd);
    *data = ws_outq_rec_bytes(r) + q->rd_done;
    return r->len - q->rd_done;
}

size_t ws_outq_iov(const ws_outq *q, ws_iovec *iov, size_t max, size_t *bytes)
{
    const ws_outq_block *b = q->head;
    size_t off = q->rd, done = q->rd_done, left = q->pending, n = 0, total = 0;

    while (n < max && left > 0) {
        const ws_outq_rec *r;
        if (off >= b->wr) {
            b = b->next;
            off = 0;
            continue;
        }
        r = ws_outq_rec_at(b, off);
        if (r->len > done) {
            iov[n].base = ws_outq_rec_bytes(r) + done;
            iov[n].len = r->len - done;
            total += iov[n].len;
            left -= iov[n].len;
            n++;
        }
        done = 0;
        off = ws_outq_rec_next(r, off);
    }
    if (bytes != NULL)
        *bytes = total;
    return n;
}

/* Nothing is pending: a heap queue gives back every block, fixed storage starts over. */
static void ws_outq_release(ws_outq *q, ws_realloc_fn rf, void *ud)
{
    if (q->fixed != NULL)
        q->fixed->wr = 0;
    else
        WS_OUTQ_HEAP(q, drop)(q, rf, ud);
    q->rd = q->rd_done = 0;
    q->last = WS_OUTQ_NONE;
}

/* Whether the head block was read to its end with bytes still pending: only ever in a heap
 * queue (fixed storage is one block, read to its end only when nothing is pending). WS_SMALL
 * asks only whether the queue is on the heap: ws_outq_heap_next_block tests the rest again. */
#ifdef WS_SMALL
#define WS_OUTQ_HEAD_READ(q) ((q)->fixed == NULL)
#else
#define WS_OUTQ_HEAD_READ(q) ((q)->pending > 0 && (q)->rd >= (q)->head->wr)
#endif

void ws_outq_consume(ws_outq *q, ws_realloc_fn rf, void *ud, size_t n)
{
    while (n > 0 && q->pending > 0) {
        ws_outq_rec *r = ws_outq_rec_at(q->head, q->rd);
        size_t take = WS_MIN(n, r->len - q->rd_done);

        q->rd_done += take;
        q->pending -= take;
        n -= take;
        if (q->rd_done < r->len)
            break;
        q->rd = ws_outq_rec_next(r, q->rd);
        q->rd_done = 0;
        if (r->ext != NULL && r->done != NULL) /* the record is not read after this */
            r->done(r->ud, r->ext);
        if (WS_OUTQ_HEAD_READ(q))
            WS_OUTQ_HEAP(q, next_block)(q, rf, ud);
    }
    if (q->pending == 0)
        ws_outq_release(q, rf, ud);
}

void ws_outq_clear(ws_outq *q, ws_realloc_fn rf, void *ud)
{
    const ws_outq_block *b = q->head;
    size_t off = q->rd, left = q->pending;

    while (left > 0) {
        const ws_outq_rec *r;
        if (off >= b->wr) {
            b = b->next;
            off = 0;
            continue;
        }
        r = ws_outq_rec_at(b, off);
        left -= r->len - (off == q->rd && b == q->head ? q->rd_done : 0);
        if (r->ext != NULL && r->done != NULL)
            r->done(r->ud, r->ext);
        off = ws_outq_rec_next(r, off);
    }
    q->pending = 0;
    ws_outq_release(q, rf, ud);
}

/* ---- the heap queue -------------------------------------------------------------------- */

/* A fresh block for an append of n bytes (and a reference record with ref) that does not fit
 * in the tail, linked in at ws_outq_commit. */
uint8_t *ws_outq_heap_grow(ws_outq *q, ws_realloc_fn rf, void *ud, size_t n, bool ref, bool control,
                           int *rc)
{
    ws_outq_block *b = q->tail;
    size_t at, end, want, avail, limit;

    end = ws_outq_end(0, false, n, ref, &at);
    limit = control ? q->budget : q->budget - WS_OUTQ_RESERVE;
    avail = limit > q->held ? limit - q->held : 0;
    if (WS_OUTQ_HDR + end > avail) {
        *rc = WS_E_BACKPRESSURE;
        return NULL;
    }
    want = end;
    if (!control) { /* control frames take exactly their size, out of the reserve */
        /* Double the last block; a queue that emptied starts again at the size it had
         * reached (up to WS_OUTQ_HINT_MAX), so a busy connection does not regrow each time. */
        size_t grow = b != NULL ? 2 * (WS_OUTQ_HDR + b->cap)
                                : WS_MAX(q->hint + WS_OUTQ_HDR, WS_OUTQ_BLOCK_MIN);
        grow = WS_MIN(grow, WS_OUTQ_BLOCK_MAX) - WS_OUTQ_HDR;
        want = WS_MIN(WS_MAX(end, grow), avail - WS_OUTQ_HDR);
        q->hint = WS_MIN(WS_MAX(grow, q->hint), WS_OUTQ_HINT_MAX - WS_OUTQ_HDR);
    }
    b = (ws_outq_block *)rf(ud, NULL, WS_OUTQ_HDR + want);
    if (b == NULL) {
        *rc = WS_E_NOMEM;
        return NULL;
    }
    b->next = NULL;
    b->cap = want;
    b->wr = 0;
    q->res_block = b;
    q->res_off = at;
    return ws_outq_data(b) + at;
}

/* Blocks read to their end are given back as soon as the next one is reached. */
void ws_outq_heap_next_block(ws_outq *q, ws_realloc_fn rf, void *ud)
{
    while (q->pending > 0 && q->rd >= q->head->wr) {
        ws_outq_block *next = q->head->next;
        q->held -= WS_OUTQ_HDR + q->head->cap;
        rf(ud, q->head, 0);
        q->head = next;
        q->rd = 0;
    }
}

void ws_outq_heap_drop(ws_outq *q, ws_realloc_fn rf, void *ud)
{
    while (q->head != NULL) {
        ws_outq_block *next = q->head->next;
        rf(ud, q->head, 0);
        q->head = next;
    }
    q->tail = NULL;
    q->held = 0;
}

void ws_outq_init_heap(ws_outq *q, size_t size, const ws_outq_heap *heap)
{
    memset(q, 0, sizeof *q);
    q->last = WS_OUTQ_NONE;
    q->budget = size;
    q->heap = heap;
}
