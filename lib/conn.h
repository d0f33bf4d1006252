/*
 * Private state of a connection, shared by the receive path (conn.c) and the send path
 * (conn_send.c). Hosts only ever see the opaque ws_conn.
 */
#ifndef WS_CONN_H
#define WS_CONN_H

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

struct ws_conn {
    ws_config cfg;
    bool heap; /* created by ws_conn_new: buffers grow through cfg.realloc */
    ws_rx_state rx;

    /* Input: the host's current buffer, and a stash for bytes that must outlive it (they
     * arrived while the server waited for the host's decision). */
    uint8_t *in;
    size_t in_len;
    size_t in_pos;
    bool eof;
    bool fed; /* any bytes were ever fed */
    ws_buf stash;

    /* Opening handshake. The head buffer lives as long as the connection, so the request
     * stays readable through ws_conn_request. */
    ws_handshake hs;
    uint8_t *head;
    ws_header *headers;
    const char *subprotocol;
    size_t subprotocol_len;

    /* Frames in. */
    ws_frame_decoder dec;
    bool end_due;       /* a frame with an empty payload still has its WS_FRAME_END to give */
    uint8_t msg_opcode; /* WS_OP_TEXT / WS_OP_BINARY while a message is open, else 0 */
    uint64_t msg_len;
    size_t msg_frames;
    bool msg_copied; /* whole_messages: some of the message is in msg */
    ws_utf8 utf8;
    uint8_t ctl[WS_CONTROL_PAYLOAD_MAX];
    size_t ctl_len;
    /* The latest ping whose pong did not fit in the output queue: answered once the host
     * drains (RFC 6455 §5.5.3 allows answering only the most recent ping, not none). */
    bool pong_owed;
    uint8_t pong_data[WS_CONTROL_PAYLOAD_MAX];
    size_t pong_len;
    ws_buf msg;         /* whole_messages reassembly */
    struct ws_pmd *pmd; /* permessage-deflate once negotiated (conn_deflate.c), else NULL */

    /* Frames out. */
    ws_frame_encoder enc;
    ws_buf out;
    uint8_t send_opcode; /* opcode of the fragmented message being sent, else 0 */
    ws_utf8 send_utf8;

    /* Time (keepalive.c). All in the host's milliseconds; meaningful once clock_started. */
    bool clock_started;
    bool ping_outstanding;
    uint64_t now;
    uint64_t started_at; /* handshake deadline base */
    uint64_t last_rx;    /* last activity */
    uint64_t next_ping;
    uint64_t ping_sent_at; /* of the outstanding ping */
    uint64_t close_sent_at;
    int64_t rtt;
    uint8_t ping_data[WS_CONTROL_PAYLOAD_MAX];
    size_t ping_len;

    /* The server's decision about the request, and whether a host callback (request hook,
     * keepalive hook) is running: calls made from inside one are checked against it. */
    ws_decision decision;
    bool hook_running; /* a request hook is running (not merely pending) */
    bool in_callback;  /* any host callback is running */
    void *user;

    /* Closing. */
    bool close_sent;
    bool close_received;
    int error;       /* the cause reported with WS_EV_CLOSED */
    int http_status; /* status of a failed or refused handshake */
    uint16_t close_code;
    uint16_t close_sent_code; /* the code of the close frame we sent (0: none) */
    const char *close_reason;
    size_t close_reason_len;
};

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
void ws_conn_fail_handshake(ws_conn *c, int err, int status);
/* A chunk of a data message's payload (as received, or inflated): validated, then handed
 * out (streaming) or collected (whole_messages). */
ws_event_type ws_conn_data_chunk(ws_conn *c, const uint8_t *p, size_t n, bool frame_end,
                                 ws_event *ev);
ws_event_type ws_event_data(ws_event *ev, ws_event_type type, uint8_t opcode, const uint8_t *data,
                            size_t len, bool frame_final, bool message_final);

/* conn_deflate.c: permessage-deflate on the connection. */
typedef struct ws_pmd ws_pmd;
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
uint64_t ws_conn_deflate_wire_limit(const ws_conn *c, uint64_t max);
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
int ws_conn_queue_frame(ws_conn *c, uint8_t opcode, bool fin, uint8_t rsv, const uint8_t *payload,
                        size_t len, bool control);
void ws_conn_queue_close(ws_conn *c, unsigned code, const char *reason, size_t reason_len);
void ws_conn_answer_ping(ws_conn *c, const uint8_t *payload, size_t len);

WS_INTERNAL_END

#endif /* WS_CONN_H */
