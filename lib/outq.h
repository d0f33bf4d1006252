/*
 * The output queue of a connection: the bytes waiting for the host to write, kept in blocks
 * that never move or change while they hold pending bytes, so a pointer handed to the host
 * stays valid until the host consumes it. Besides copied bytes the queue holds references
 * to bytes that live elsewhere (a caller's payload, a prepared message), released once
 * written. With no bytes pending a heap queue holds no storage at all.
 */
#ifndef WS_OUTQ_H
#define WS_OUTQ_H

#include "ws_internal.h"

WS_INTERNAL_BEGIN

typedef struct ws_outq_block ws_outq_block;

struct ws_outq_block {
    ws_outq_block *next;
    size_t cap; /* bytes of records the block holds */
    size_t wr;  /* end of the records written */
};

/* One record: len wire bytes, which follow it (ext NULL) or live at ext. */
typedef struct ws_outq_rec {
    size_t len;
    const uint8_t *ext;
    ws_release_fn done;
    void *ud;
} ws_outq_rec;

#define WS_OUTQ_ALIGN(n) (((n) + 7u) & ~(size_t)7u)
#define WS_OUTQ_HDR      WS_OUTQ_ALIGN(sizeof(ws_outq_block))
#define WS_OUTQ_REC      WS_OUTQ_ALIGN(sizeof(ws_outq_rec))

/* Kept back from data frames for two control frames (a close and a pong) in blocks of
 * their own, so the peer can always be told why the connection ends. */
#define WS_OUTQ_RESERVE                                                                            \
    (2u * (WS_OUTQ_HDR + WS_OUTQ_REC + WS_OUTQ_ALIGN(WS_FRAME_HEADER_MAX + WS_CONTROL_PAYLOAD_MAX)))

/* A reference to bytes outside the queue: done(ud, data) runs once they are consumed (or the
 * queue is cleared). */
typedef struct ws_outq_ref {
    const uint8_t *data;
    size_t len;
    ws_release_fn done;
    void *ud;
} ws_outq_ref;

typedef struct ws_outq ws_outq;

/* What only a heap queue does (outq.c), in a table the queue's creator hands
 * ws_outq_init_heap; a WS_SMALL build calls it through the table (WS_OUTQ_HEAP), so an image
 * whose queues all live in caller storage refers to no such table and links none of it. */
typedef struct ws_outq_heap {
    /* A fresh block for an append that does not fit in the tail (ws_outq_reserve). */
    uint8_t *(*grow)(ws_outq *q, ws_realloc_fn rf, void *ud, size_t n, bool ref, bool control,
                     int *rc);
    /* Gives back the blocks read to their end once the next one is reached. */
    void (*next_block)(ws_outq *q, ws_realloc_fn rf, void *ud);
    /* Gives back every block (nothing is pending). */
    void (*drop)(ws_outq *q, ws_realloc_fn rf, void *ud);
} ws_outq_heap;

struct ws_outq {
    ws_outq_block *head;      /* oldest block, read by the host; NULL when no storage is held */
    ws_outq_block *tail;      /* newest block, where appends go */
    ws_outq_block *fixed;     /* the one block over the caller's storage, or NULL (heap) */
    const ws_outq_heap *heap; /* a heap queue's functions (outq.c), or NULL (fixed) */
    size_t rd;                /* offset in head of the record being read */
    size_t rd_done;           /* bytes of that record consumed */
    size_t last;              /* offset in tail of its last record; WS_OUTQ_NONE when none */
    size_t pending;           /* wire bytes queued and not consumed */
    size_t held;              /* heap bytes the blocks take */
    size_t budget;            /* what held may reach */
    size_t hint;              /* the size a heap queue's next first block starts at */
    /* An append between ws_outq_reserve and ws_outq_commit. */
    ws_outq_block *res_block; /* where the bytes go (a fresh block is linked at commit) */
    /* Offset of the bytes in it: where the last record ends when they extend it, else past
     * the header of a record of their own (so ws_outq_commit tells which from it). */
    size_t res_off;
};

#define WS_OUTQ_NONE ((size_t)-1)

/* Bytes of storage a queue for frames of up to max_output wire bytes (plus the close slack
 * the caller adds to its control limit) takes at most: the fixed region of ws_conn_init and
 * the bound of a heap queue alike. */
size_t ws_outq_storage(size_t max_output);

/* A queue in caller storage mem[0..size) (8-byte aligned). */
void ws_outq_init(ws_outq *q, void *mem, size_t size);
/* A queue on the heap, its blocks taking at most size bytes; heap holds the functions
 * below (or begins with them: the table may be the first member of a larger one). */
void ws_outq_init_heap(ws_outq *q, size_t size, const ws_outq_heap *heap);
uint8_t *ws_outq_heap_grow(ws_outq *q, ws_realloc_fn rf, void *ud, size_t n, bool ref, bool control,
                           int *rc);
void ws_outq_heap_next_block(ws_outq *q, ws_realloc_fn rf, void *ud);
void ws_outq_heap_drop(ws_outq *q, ws_realloc_fn rf, void *ud);

/* How the queue calls one of them: through q->heap with WS_SMALL (docs/size.md), so that an
 * image which never creates a heap queue links none of them; directly in other builds,
 * which keeps a load and an indirect call off a heap queue's sends and drains. */
#ifdef WS_SMALL
#define WS_OUTQ_HEAP(q, fn) ((q)->heap->fn)
#else
#define WS_OUTQ_HEAP(q, fn) ws_outq_heap_##fn
#endif

/* Room for n bytes at the end of the queue (followed, with ref, by a reference record).
 * Control appends may use the storage kept back for close frames and pongs. Returns where to
 * write, or NULL with *rc WS_E_BACKPRESSURE (no room now) or WS_E_NOMEM (*rc is set only
 * then). Nothing is queued until ws_outq_commit; ws_outq_cancel drops the reservation. rf is
 * the heap's allocator: a queue in fixed storage never calls it (it may be NULL there), nor
 * does any function below. */
uint8_t *ws_outq_reserve(ws_outq *q, ws_realloc_fn rf, void *ud, size_t n, bool ref, bool control,
                         int *rc);

static inline uint8_t *ws_outq_data(const ws_outq_block *b)
{
    return (uint8_t *)(uintptr_t)b + WS_OUTQ_HDR;
}

static inline ws_outq_rec *ws_outq_rec_at(const ws_outq_block *b, size_t off)
{
    return (ws_outq_rec *)(void *)(ws_outq_data(b) + off);
}

/* The hot path of every send, inline: where n more bytes of the last run go when its block
 * has room for them (NULL otherwise: use ws_outq_reserve). ws_outq_extend queues the m <= n
 * bytes written there. WS_SMALL reserves for every frame instead (conn_send.c). */
#ifndef WS_SMALL
static inline uint8_t *ws_outq_tail_room(const ws_outq *q, size_t n, bool control)
{
    const ws_outq_block *b = q->tail;

    if (b == NULL || q->last == WS_OUTQ_NONE || ws_outq_rec_at(b, q->last)->ext != NULL ||
        n > b->cap - b->wr || (b == q->fixed && !control && b->cap - b->wr - n < WS_OUTQ_RESERVE))
        return NULL;
    return ws_outq_data(b) + b->wr;
}
#endif

static inline void ws_outq_extend(ws_outq *q, size_t m)
{
    ws_outq_rec_at(q->tail, q->last)->len += m;
    q->tail->wr += m;
    q->pending += m;
}

/* Queues the first n bytes written at the reservation (n may be less than reserved). */
void ws_outq_commit(ws_outq *q, size_t n);
/* The same, then ref (the reservation was made with ref). Apart, so that an image which
 * never queues a reference links none of it. */
void ws_outq_commit_ref(ws_outq *q, size_t n, const ws_outq_ref *ref);
void ws_outq_cancel(ws_outq *q, ws_realloc_fn rf, void *ud);

/* The first contiguous run of pending bytes; 0 when none. */
size_t ws_outq_peek(const ws_outq *q, const uint8_t **data);

/* Up to max runs, in order, into iov; returns how many, and the bytes they hold in *bytes. */
size_t ws_outq_iov(const ws_outq *q, ws_iovec *iov, size_t max, size_t *bytes);

/* Marks n bytes written: references consumed to their end are released, blocks emptied are
 * freed, and an empty heap queue holds nothing. */
void ws_outq_consume(ws_outq *q, ws_realloc_fn rf, void *ud, size_t n);

/* Releases every reference and every block, written or not. */
void ws_outq_clear(ws_outq *q, ws_realloc_fn rf, void *ud);

WS_INTERNAL_END

#endif /* WS_OUTQ_H */
