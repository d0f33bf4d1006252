/*
 * Private state of a connection, shared by the receive path (conn.c) and the send path
 * (conn_send.c). Hosts only ever see the opaque ws_conn.
 */
#ifndef WS_CONN_H
#define WS_CONN_H

#include "outq.h"
#include "ws_internal.h"

WS_INTERNAL_BEGIN

/* A bounded byte buffer: data lives in p[off..len). In fixed-memory mode p is carved from
 * the caller's storage and never grows; otherwise it grows with the host's realloc up to
 * max. */
typedef struct ws_buf {
    uint8_t *p;
    size_t off;
    size_t len;
    size_t cap;
    size_t max;
} ws_buf;

/* Where the receive side is. One switch in ws_conn_next_event walks these. */
typedef enum ws_rx_state {
    WS_RX_IDLE,           /* client before ws_conn_connect, or before ws_conn_start_open */
    WS_RX_HANDSHAKE,      /* reading the request (server) or the response (client) */
    WS_RX_AWAIT_DECISION, /* server: a request was read; c->decision says who decides */
    WS_RX_OPEN_EVENT,     /* WS_EV_OPEN is due */
    WS_RX_FRAMES,         /* reading frames */
    WS_RX_FAIL_PENDING,   /* a protocol error is due once the bytes before it were delivered */
    WS_RX_CLOSED_EVENT,   /* WS_EV_CLOSED is due */
    WS_RX_DONE            /* nothing more will ever be reported */
} ws_rx_state;

/* Who decides about a server's request, and what comes next; one switch reads it. The public
 * phase stays WS_PHASE_CONNECTING through all of them. */
typedef enum ws_decision {
    WS_DEC_NONE,        /* no request read yet (and always in the client role) */
    WS_DEC_ORIGIN_HOOK, /* the origin hook runs, or waits for ws_conn_resume */
    WS_DEC_AUTH_HOOK,   /* the auth hook runs, or waits for ws_conn_resume */
    WS_DEC_REQUEST_DUE, /* every hook allowed: WS_EV_REQUEST is next */
    WS_DEC_HOST,        /* WS_EV_REQUEST was delivered: ws_conn_accept or ws_conn_reject */
    WS_DEC_PLAIN_DUE,   /* a plain HTTP GET: WS_EV_HTTP_REQUEST is next */
    WS_DEC_PLAIN_HOST,  /* WS_EV_HTTP_REQUEST was delivered: ws_conn_respond or reject */
    WS_DEC_DONE         /* decided: accepted, refused, answered or failed */
} ws_decision;

/* Each WS_FRAGMENT_BYTES of a message's payload pays for one more frame beyond
 * cfg.max_fragments (see ws.h). */
#define WS_FRAGMENT_BYTES 16u

/* Close frames may go past max_output by this much, so that an error can always be told to
 * the peer even when the host has stopped draining. */
#define WS_CONN_CONTROL_SLACK (2 * (WS_FRAME_HEADER_MAX + WS_CONTROL_PAYLOAD_MAX))

/* What the connection keeps of its configuration once it is set up; the rest (head and
 * header limits, hooks, trusted hosts ...) only matters to the opening handshake and lives
 * in its area. Same names as in ws_config. */
typedef struct ws_conn_cfg {
    uint64_t max_message_size;
    size_t max_fragments;
    size_t max_output;
    ws_realloc_fn realloc;
    void *realloc_ud;
    const struct ws_keepalive_hooks *keepalive;
    uint32_t ping_interval_ms;
    uint32_t pong_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t close_timeout_ms;
    uint8_t role;
    bool whole_messages;
    bool auto_pong;
    bool check_outgoing_utf8;
    bool keep_request;
} ws_conn_cfg;

/* The opening handshake's memory: its state, the whole configuration, then (in the same
 * block) the header slots and the head buffer. A heap connection frees it once WS_EV_OPEN
 * has been returned (unless cfg.keep_request); a fixed-memory one keeps it in its storage.
 * Bytes fed while the host decides wait in the head buffer's unused tail (the stash), so the
 * head is never held twice. */
typedef struct ws_conn_hs {
    ws_handshake hs;
    ws_config cfg;
    uint64_t started_at;     /* handshake deadline base */
    const char *subprotocol; /* for WS_EV_OPEN; in the head buffer */
    size_t subprotocol_len;
    ws_buf stash;
    ws_header *headers;
    uint8_t *head;
} ws_conn_hs;

/* The two control payload slots (heap: allocated when first needed; fixed memory: carved
 * from the storage). */
#define WS_CTL_SPLIT 0                      /* a control frame that arrived in pieces */
#define WS_CTL_PONG  WS_CONTROL_PAYLOAD_MAX /* the payload of the pong still owed */
#define WS_CTL_SIZE  (2 * WS_CONTROL_PAYLOAD_MAX)

/* A heap connection keeps a reassembly buffer of this size (the smallest it grows to) while
 * idle; a bigger one is freed (ws_conn_heap_trim). */
#define WS_MSG_KEEP 256u

/* What only a connection on the host's allocator (ws_conn_new) does, in a table (conn.c:
 * ws_conn_heap_ops) that a WS_SMALL build calls it through (WS_CONN_HEAP). It begins with
 * the output queue's table, which is where the connection keeps it (ws_conn_heap_of). */
typedef struct ws_conn_heap {
    ws_outq_heap outq; /* first: c->out.heap points here */
    /* Gives back, once all input is parsed, what the open connection holds only a while. */
    void (*trim)(ws_conn *c);
    /* Grows b to take need more bytes (they fit under its max). */
    int (*grow)(ws_conn *c, ws_buf *b, size_t need);
} ws_conn_heap;

/* Fields are grouped by size (pointers and 64-bit values first, flags last) so that no
 * alignment padding is wasted on any target; the comments say what belongs together. */
struct ws_conn {
    ws_conn_cfg cfg;

    /* Input: the host's current buffer, and the stash (in the handshake area) while it holds
     * bytes that must outlive it (they arrived while the server waited for the host's
     * decision); NULL otherwise. */
    uint8_t *in;
    size_t in_len;
    size_t in_pos;
    ws_buf *stash;

    ws_conn_hs *hsa; /* the opening handshake; NULL once released */

    /* Frames in: the decoder, the message in progress, the control slots (WS_CTL_SIZE
     * bytes, or NULL in a heap connection that never needed them). */
    ws_frame_decoder dec;
    uint64_t msg_len;
    size_t msg_frames;
    uint8_t *ctl;
    ws_buf msg;         /* whole_messages reassembly */
    struct ws_pmd *pmd; /* permessage-deflate once negotiated (conn_deflate.c), else NULL */

    /* Frames out. */
    ws_frame_encoder enc;
    ws_outq out; /* outq.c: bytes stay put until consumed */

    /* Time (keepalive.c). All in the host's milliseconds; meaningful once clock_started. */
    uint64_t now;
    uint64_t last_rx; /* last activity */
    uint64_t next_ping;
    uint64_t ping_sent_at; /* of the outstanding ping */
    uint64_t close_sent_at;
    int64_t rtt;

    void *user;

    /* Closing: the reason reported with WS_EV_CLOSED. */
    const char *close_reason;
    size_t close_reason_len;

    ws_utf8 utf8;       /* of the text message being received */
    ws_utf8 send_utf8;  /* of the text message being sent in fragments */
    uint32_t ping_hash; /* of the outstanding ping's payload, to match the pong (keepalive.c) */
    int error;          /* the cause reported with WS_EV_CLOSED */
    uint16_t close_code;
    uint16_t close_sent_code; /* the code of the close frame we sent (0: none) */
    int16_t http_status;      /* status of a failed or refused handshake */

    uint8_t rx;          /* ws_rx_state */
    uint8_t decision;    /* ws_decision: the server's decision about the request */
    uint8_t msg_opcode;  /* WS_OP_TEXT / WS_OP_BINARY while a message is open, else 0 */
    uint8_t send_opcode; /* opcode of the fragmented message being sent, else 0 */
    uint8_t ctl_len;     /* of the split control frame being assembled in ctl */
    uint8_t pong_len;    /* of the pong owed, in ctl + WS_CTL_PONG */
    uint8_t ping_len;    /* of the outstanding ping */

    bool eof;        /* the host said the transport ended */
    bool fed;        /* any bytes were ever fed */
    bool end_due;    /* a frame with an empty payload still has its WS_FRAME_END to give */
    bool msg_copied; /* whole_messages: some of the message is in msg */
    bool msg_used;   /* msg was needed since the input last ran out */
    /* The latest ping whose pong did not fit in the output queue: answered once the host
     * drains (RFC 6455 §5.5.3 allows answering only the most recent ping, not none). */
    bool pong_owed;
    bool clock_started;
    bool ping_outstanding;
    /* Whether a host callback (request hook, keepalive hook) is running: calls made from
     * inside one are checked against it. */
    bool hook_running; /* a request hook is running (not merely pending) */
    bool in_callback;  /* any host callback is running */
    bool close_sent;
    bool close_received;

    /* The longest payload the receive fast path may deliver (lib/conn_fast.h): the smaller of
     * max_frame_size and max_message_size (0 counts as no limit) and 65535, the longest
     * 16-bit length it decodes; one comparison then stands for both limits. Last, in what
     * was padding, so that no other field moves (the firmware build's code depends on where
     * its fields lie). */
    uint16_t fast_max;
};

/* The heap table of a connection created by ws_conn_new (its buffers grow through
 * cfg.realloc), or NULL for one in caller storage. */
static inline const ws_conn_heap *ws_conn_heap_of(const ws_conn *c)
{
    return (const ws_conn_heap *)(const void *)c->out.heap;
}

/* The functions of the table (conn.c), and how the connection calls them: as WS_OUTQ_HEAP
 * (outq.h) does, through the table with WS_SMALL and directly in other builds. */
void ws_conn_heap_trim(ws_conn *c);
int ws_conn_heap_grow(ws_conn *c, ws_buf *b, size_t need);
#ifdef WS_SMALL
#define WS_CONN_HEAP(c, fn) (ws_conn_heap_of(c)->fn)
#else
#define WS_CONN_HEAP(c, fn) ws_conn_heap_##fn
#endif

/* A role left out of the build (WS_NO_CLIENT, WS_NO_SERVER) is refused by ws_conn_init. */
static inline bool ws_role_built(int role)
{
    return (WS_BUILT_SERVER && role == WS_ROLE_SERVER) ||
           (WS_BUILT_CLIENT && role == WS_ROLE_CLIENT);
}

static inline bool ws_conn_is_client(const ws_conn *c)
{
    (void)c; /* with one role built, the answer does not depend on c */
    return WS_ROLE_IS_CLIENT(c->cfg.role);
}

static inline bool ws_conn_is_server(const ws_conn *c)
{
    (void)c;
    return WS_ROLE_IS_SERVER(c->cfg.role);
}

/* The public phase, derived from where the receive side is (and, once open, whether our
 * close went out), so it can never disagree with it. Here so that every file of the
 * connection reads it without calling into conn.c. */
static inline ws_phase ws_conn_phase_of(const ws_conn *c)
{
    switch (c->rx) {
    case WS_RX_IDLE:
    case WS_RX_HANDSHAKE:
    case WS_RX_AWAIT_DECISION:
        return WS_PHASE_CONNECTING;
    case WS_RX_CLOSED_EVENT:
    case WS_RX_DONE:
        return WS_PHASE_CLOSED;
    case WS_RX_OPEN_EVENT:
    case WS_RX_FRAMES:
    case WS_RX_FAIL_PENDING:
    default:
        return c->close_sent ? WS_PHASE_CLOSING : WS_PHASE_OPEN;
    }
}

/* conn.c */
void ws_conn_fail(ws_conn *c, int err);
/* The control slots (WS_CTL_SIZE bytes), allocated on first use by a heap connection; NULL
 * when the allocator fails. */
uint8_t *ws_conn_ctl(ws_conn *c);
void ws_conn_fail_handshake(ws_conn *c, int err, int status);
/* A chunk of a data message's payload (as received, or inflated): validated, then handed
 * out (streaming) or collected (whole_messages). */
/* ws_conn_data_piece with ascii true: for a chunk that the caller found all ASCII while the
 * message's UTF-8 state was at a character boundary, which needs no further check. */
ws_event_type ws_conn_data_piece(ws_conn *c, const uint8_t *p, size_t n, bool frame_end, bool ascii,
                                 ws_event *ev);
static inline ws_event_type ws_conn_data_chunk(ws_conn *c, const uint8_t *p, size_t n,
                                               bool frame_end, ws_event *ev)
{
    return ws_conn_data_piece(c, p, n, frame_end, false, ev);
}
/* Checks a data frame's header against the message in progress and counts it in. */
int ws_conn_begin_data_frame(ws_conn *c, const ws_frame_header *h);
/* A complete control frame, payload p[0..n) (not NULL): its event, a pong queued for a ping,
 * a close echoed. */
ws_event_type ws_conn_control_frame(ws_conn *c, uint8_t opcode, const uint8_t *p, size_t n,
                                    ws_event *ev);
ws_event_type ws_event_data(ws_event *ev, ws_event_type type, uint8_t opcode, const uint8_t *data,
                            size_t len, bool frame_final, bool message_final);

/* conn_deflate.c: permessage-deflate on the connection. */
typedef struct ws_pmd ws_pmd;
/* c->pmd where a hook is called: without zlib (WS_HAVE_DEFLATE undefined) permessage-deflate
 * is never in use, so a constant NULL lets the compiler drop the hooks and their calls. */
#ifdef WS_HAVE_DEFLATE
#define ws_conn_pmd(c) ((c)->pmd)
#else
#define ws_conn_pmd(c) ((ws_pmd *)NULL)
#endif
void ws_conn_deflate_free(ws_conn *c);
/* Server, deciding: negotiates from r and sets the codecs up; 1 with answer written (for
 * the 101), 0 declined (no offer, none acceptable, no allocator, no memory), WS_E_STATE
 * after ws_conn_set_deflate. */
int ws_conn_deflate_accept(ws_conn *c, const ws_request *r, char *answer, size_t cap);
/* Client: writes the offer for cfg.deflate; false when none is to be made. */
bool ws_conn_deflate_offer(const ws_conn *c, char *offer, size_t cap);
/* Client: holds the 101's answer to the offer; WS_OK (in use or not), WS_E_HTTP_EXTENSION,
 * WS_E_NOMEM. */
int ws_conn_deflate_check(ws_conn *c, const ws_response *r);
/* The agreed parameters as text for WS_EV_OPEN, or NULL. */
const char *ws_conn_deflate_extensions(const ws_conn *c, size_t *len);
/* A frame header's RSV bits against the message: WS_OK or WS_E_RESERVED_BITS (1002). */
int ws_conn_deflate_frame(ws_conn *c, const ws_frame_header *h);
bool ws_conn_rx_compressed(const ws_conn *c);
bool ws_conn_inflate_pending(const ws_conn *c);
uint64_t ws_conn_deflate_wire_limit(const ws_conn *c, uint64_t max, size_t frames);
ws_event_type ws_conn_inflate_chunk(ws_conn *c, const uint8_t *p, size_t n, bool frame_end,
                                    ws_event *ev);
ws_event_type ws_conn_inflate_continue(ws_conn *c, ws_event *ev);
/* Send: whether a message (or first fragment) of len bytes goes compressed; whether a
 * compressed fragmented message is under way; compress and queue one frame. */
bool ws_conn_deflate_wants(const ws_conn *c, size_t len, unsigned flags);
bool ws_conn_deflate_sending(const ws_conn *c);
int ws_conn_deflate_send(ws_conn *c, uint8_t opcode, const uint8_t *data, size_t len, bool first,
                         bool fin);
/* ws_conn_tick: releases idle zlib state that carries nothing between messages; and when
 * that will be due (UINT64_MAX: nothing to release), for ws_conn_next_deadline. */
void ws_conn_deflate_tick(ws_conn *c, uint64_t now_ms);
uint64_t ws_conn_deflate_deadline(const ws_conn *c);

/* keepalive.c: deadlines only; it never ends a connection itself (conn.c acts on what
 * ws_keepalive_due reports), so the dependency goes one way. */
void ws_keepalive_start(ws_conn *c);
/* Queues a ping that is due and returns WS_OK, or the WS_E_*_TIMEOUT of a deadline that
 * has passed. */
int ws_keepalive_due(ws_conn *c, uint64_t now_ms);
void ws_keepalive_on_feed(ws_conn *c, size_t len);
void ws_keepalive_on_event(ws_conn *c, const ws_event *ev);

/* conn_send.c */
int ws_buf_reserve(ws_conn *c, ws_buf *b, size_t need);
/* Queues one frame (rsv: WS_RSV1... bits an extension set), copying (client: masking) the
 * payload. control frames may use the close slack. WS_E_SEND_TOO_BIG when it could never
 * fit, WS_E_BACKPRESSURE when it does not fit now. */
int ws_conn_queue_frame(ws_conn *c, uint8_t opcode, bool fin, uint8_t rsv, const uint8_t *payload,
                        size_t len, bool control);
/* Queues one data frame (first byte b0) whose payload is made only once there is room for
 * max_len bytes of it: make sets *payload and *len (at most max_len) or returns an error,
 * which is returned with nothing queued. A refusal of room comes before make runs. */
typedef int (*ws_frame_make_fn)(ws_conn *c, void *arg, const uint8_t **payload, size_t *len);
int ws_conn_queue_made(ws_conn *c, uint8_t b0, size_t max_len, ws_frame_make_fn make, void *arg);
/* Writes a handshake answer (request, response) straight into the output queue: write is
 * called with the room there is, and again with more after WS_E_BUFFER. */
typedef int (*ws_answer_fn)(ws_conn *c, uint8_t *out, size_t cap, size_t *len, const void *arg);
int ws_conn_queue_answer(ws_conn *c, ws_answer_fn write, const void *arg);
void ws_conn_queue_close(ws_conn *c, unsigned code, const char *reason, size_t reason_len);
/* Queues the pong for a ping of payload[0..len) (payload never NULL), or keeps it owed
 * until the host drains. */
void ws_conn_answer_ping(ws_conn *c, const uint8_t *payload, size_t len);

WS_INTERNAL_END

#endif /* WS_CONN_H */
