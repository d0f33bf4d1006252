/*
 * libws — an embeddable WebSocket protocol library (RFC 6455, RFC 7692) with no I/O of its own.
 * The host owns sockets, threads, clocks and memory; libws turns bytes into events and
 * sends into bytes. This is the only public header; every function is documented here.
 */
#ifndef WS_H
#define WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WS_VERSION_MAJOR  0
#define WS_VERSION_MINOR  1
#define WS_VERSION_PATCH  0
#define WS_VERSION_STRING "0.1.0"

/* ======================================================================================
 * Index
 *
 * A server, in the order the calls are used (docs/connection.md):
 *   ws_config_init          defaults for WS_ROLE_SERVER; set limits, hooks, trusted_hosts
 *   ws_conn_new             (or ws_conn_storage_size + ws_conn_init in memory of your own)
 *   ws_conn_feed            bytes read from the socket ...
 *   ws_conn_next_event      ... then events until WS_EV_NONE:
 *     WS_EV_REQUEST           ws_conn_accept or ws_conn_reject (now, or later)
 *     WS_EV_OPEN, WS_EV_CHUNK / WS_EV_MESSAGE, WS_EV_PING, WS_EV_PONG, WS_EV_CLOSE
 *     WS_EV_CLOSED            flush the output, close the socket, ws_conn_free
 *   ws_conn_send            (_text, _binary, _fragment, _nocopy, _prepared, ws_conn_ping)
 *   ws_conn_output          bytes to write (or ws_conn_output_iov), then ws_conn_consume
 *                           with what was written; the bytes stay put until consumed
 *   ws_conn_tick            with the time, when ws_conn_next_deadline says
 *   ws_conn_close           to end it; ws_conn_feed_eof when the socket ends
 *   ws_conn_free
 * A client, in order:
 *   ws_config_init          defaults for WS_ROLE_CLIENT; cfg.random is required
 *   ws_conn_new             (or ws_conn_storage_size + ws_conn_init)
 *   ws_conn_connect         the upgrade request for a ws:// or wss:// URL
 *   ws_conn_output          write it, ws_conn_consume
 *   ws_conn_feed            the server's answer and frames ...
 *   ws_conn_next_event      ... WS_EV_OPEN (accepted), then as a server; WS_EV_CLOSED with
 *                           http_status and response when the server refused
 *   ws_conn_send, ws_conn_tick, ws_conn_close, ws_conn_free as a server
 * Optional: request hooks and ws_conn_resume, keepalive hooks, ws_conn_handoff (from an
 * HTTP server of your own), ws_conn_start_open (HTTP/2 or HTTP/3 streams; with
 * ws_conn_set_deflate), permessage-deflate (cfg.deflate, ws_conn_deflate_params,
 * ws_conn_send_ex with WS_SEND_NO_COMPRESS; docs/deflate.md).
 * Broadcast: ws_prepared_new once (ws_prepared_compress for a compressed form),
 * ws_conn_send_prepared on each connection, then ws_prepared_free; large payloads without
 * a copy: ws_conn_send_nocopy.
 *
 * The header, in order: errors and common types; the connection and the types it shares
 * with the handshake; then the layers it is made of, each usable alone: UTF-8 validation,
 * masking, the frame codec, close payloads, SHA-1 and base64, HTTP heads (header lists, the
 * HTTP/1.1 head parser), the opening handshake (server, client, URLs), permessage-deflate
 * (the connection's calls, negotiation, codecs), and the ready-made policies (origin
 * checks, trusted hosts, token auth, SHA-256).
 * ====================================================================================== */

/* ======================================================================================
 * Errors
 *
 * Every failing call returns a negative WS_E_* code. Protocol errors also map to the
 * close code the peer is sent (ws_error_close_code) and handshake errors to the HTTP status
 * the client is answered with (ws_error_http_status).
 * ====================================================================================== */

enum {
    WS_OK = 0,
    WS_E_AGAIN = -1,        /* more input is needed to finish */
    WS_E_INVALID = -2,      /* an argument is out of range or inconsistent */
    WS_E_NOMEM = -3,        /* the allocator failed, or no allocator was given */
    WS_E_BUFFER = -4,       /* the caller's buffer is too small */
    WS_E_STATE = -5,        /* the call is not allowed in the connection's current phase */
    WS_E_BACKPRESSURE = -6, /* the output queue is full; nothing was queued, drain and retry */
    WS_E_CLOSED = -7,       /* the connection is closed or closing; nothing was queued */
    WS_E_RANDOM = -8,       /* the host's random source failed or is missing */
    WS_E_URL = -9,          /* not a valid ws:// or wss:// URL */
    WS_E_UNSUPPORTED = -10, /* a feature left out of this build (e.g. deflate without zlib) */
    /* A frame to send is larger than max_output, so it could never be queued (nothing was):
     * raise max_output or send the message in fragments. Not the inbound limit. */
    WS_E_SEND_TOO_BIG = -11,

    /* Frame and message errors (close code in brackets). */
    WS_E_RESERVED_BITS = -20,           /* RSV bit set without an extension using it [1002] */
    WS_E_RESERVED_OPCODE = -21,         /* opcode 0x3-0x7 or 0xB-0xF [1002] */
    WS_E_CONTROL_TOO_LONG = -22,        /* control frame payload over 125 bytes [1002] */
    WS_E_CONTROL_FRAGMENTED = -23,      /* control frame with FIN clear [1002] */
    WS_E_UNMASKED = -24,                /* client frame without a mask [1002] */
    WS_E_MASKED = -25,                  /* server frame with a mask [1002] */
    WS_E_LENGTH_MSB = -26,              /* 64-bit length with the top bit set [1002] */
    WS_E_LENGTH_NONMINIMAL = -27,       /* length not in its shortest encoding [1002] */
    WS_E_FRAME_TOO_BIG = -28,           /* frame length above the configured limit [1009] */
    WS_E_MESSAGE_TOO_BIG = -29,         /* message length above the configured limit [1009] */
    WS_E_TOO_MANY_FRAGMENTS = -30,      /* message split into more frames than allowed [1009] */
    WS_E_UNEXPECTED_CONTINUATION = -31, /* continuation frame with no message started [1002] */
    WS_E_EXPECTED_CONTINUATION = -32,   /* new data frame inside a fragmented message [1002] */
    WS_E_INVALID_UTF8 = -33,            /* text payload not UTF-8 [1007] */
    WS_E_CLOSE_PAYLOAD = -34,           /* close frame with a 1-byte payload [1002] */
    WS_E_CLOSE_CODE = -35,              /* close code not valid on the wire [1002] */
    WS_E_EOF = -36,                     /* transport ended without a close handshake [1006] */
    WS_E_HANDSHAKE_TIMEOUT = -37,       /* the opening handshake took too long [1006, not sent] */
    WS_E_PONG_TIMEOUT = -38,            /* no pong came back in time [1001] */
    WS_E_IDLE_TIMEOUT = -39,            /* nothing was received for too long [1001] */
    WS_E_CLOSE_TIMEOUT = -40,           /* the peer did not finish the close handshake [1006] */
    WS_E_CLOSE_REASON = -41,            /* close frame reason not UTF-8 [1007] */
    WS_E_DEFLATE_DATA = -42,            /* compressed message data that does not inflate [1007] */

    /* Opening handshake errors (HTTP status in brackets; server side unless noted). */
    WS_E_HTTP_SYNTAX = -50,              /* malformed request or response head [400] */
    WS_E_HTTP_METHOD = -51,              /* method other than GET [405] */
    WS_E_HTTP_VERSION = -52,             /* HTTP/1.0 or older (client: a 1.0 101) [400] */
    WS_E_HTTP_VERSION_UNSUPPORTED = -53, /* HTTP major version other than 1 [505] */
    WS_E_HTTP_HOST = -54,                /* Host header missing, repeated or invalid [400] */
    WS_E_HTTP_UPGRADE = -55,             /* Upgrade lacks the token "websocket" [400] */
    WS_E_HTTP_CONNECTION = -56,          /* Connection lacks the token "upgrade" [400] */
    WS_E_HTTP_KEY = -57,          /* Sec-WebSocket-Key missing, repeated or not 16 bytes [400] */
    WS_E_HTTP_WS_VERSION = -58,   /* Sec-WebSocket-Version not 13 [426] */
    WS_E_HTTP_URI_TOO_LONG = -59, /* request line over its limit [414] */
    WS_E_HTTP_HEADERS_TOO_LARGE = -60, /* header line, header count or head over limit [431] */
    WS_E_HTTP_REJECTED = -61,          /* the host rejected the request [its status] */
    WS_E_HTTP_STATUS = -62,      /* client: the server answered with a status other than 101 */
    WS_E_HTTP_ACCEPT = -63,      /* client: Sec-WebSocket-Accept missing or wrong */
    WS_E_HTTP_SUBPROTOCOL = -64, /* a subprotocol that was not offered */
    WS_E_HTTP_EXTENSION = -65,   /* an extension that was not offered, or malformed */
    WS_E_HTTP_MISDIRECTED = -66, /* Host is not in cfg.trusted_hosts [421] */

    /* Policy hooks (HTTP status in brackets). */
    WS_E_ORIGIN = -70,       /* Origin not allowed [403] */
    WS_E_AUTH_MISSING = -71, /* no credentials in the request [401] */
    WS_E_AUTH_INVALID = -72, /* malformed token, bad signature, unknown ticket [401] */
    WS_E_AUTH_EXPIRED = -73, /* the token has expired [401] */
    WS_E_FORBIDDEN = -74     /* valid credentials that are not allowed here [403] */
};

/* A short, static, human-readable description of a WS_OK / WS_E_* code. Never NULL. */
const char *ws_strerror(int err);

/* The close code the peer is sent for a protocol error (1002, 1006, 1007, 1009 ...), or 0
 * when err is not a protocol error. */
uint16_t ws_error_close_code(int err);

/* The HTTP status the client is answered with for a handshake error (400, 405, 414, 426,
 * 431, 505), or 0 when err is not a server-side handshake error. */
int ws_error_http_status(int err);

/* ======================================================================================
 * Common types
 * ====================================================================================== */

typedef enum ws_role { WS_ROLE_SERVER = 0, WS_ROLE_CLIENT = 1 } ws_role;

typedef enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA
} ws_opcode;

/* RSV bits, in their position in the first header byte. */
#define WS_RSV1 0x40u
#define WS_RSV2 0x20u
#define WS_RSV3 0x10u

/* Close codes (RFC 6455 §7.4.1 and the IANA registry). */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never on the wire: the close frame had no payload */
    WS_CLOSE_ABNORMAL = 1006,  /* never on the wire: the transport went away */
    WS_CLOSE_INVALID_PAYLOAD = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_MANDATORY_EXTENSION = 1010,
    WS_CLOSE_INTERNAL_ERROR = 1011,
    WS_CLOSE_SERVICE_RESTART = 1012,
    WS_CLOSE_TRY_AGAIN_LATER = 1013,
    WS_CLOSE_BAD_GATEWAY = 1014
};

/* The host's source of randomness (client mask keys, Sec-WebSocket-Key). Fill buf with
 * len unpredictable bytes and return 0, or return non-zero on failure. */
typedef int (*ws_random_fn)(void *ud, uint8_t *buf, size_t len);

/* Host allocator, realloc-style: size 0 frees ptr and returns NULL. */
typedef void *(*ws_realloc_fn)(void *ud, void *ptr, size_t size);

/* ======================================================================================
 * Types the connection shares with the handshake layer (described there)
 * ====================================================================================== */

/* A header as received: pointers into the parsed head, not NUL-terminated. */
typedef struct ws_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing whitespace removed */
    size_t value_len;
} ws_header;

typedef struct ws_http_limits {
    size_t max_request_line; /* server: longer request line gives 414; default 8192; 0: no
                                limit of its own (the head buffer still bounds it) */
    size_t max_header_line;  /* one header line (client: also the status line); longer
                                gives 431; default 8192; 0 as above. Lengths exclude the
                                line end. */
    bool allow_bare_lf;      /* accept LF without CR as a line end; default false (400) */
} ws_http_limits;

void ws_http_limits_init(ws_http_limits *l);

/* The upgrade request, as the server's host sees it. Pointers point into the head buffer
 * and the header array given to ws_handshake_server_init: they stay valid while those do
 * and until the handshake is initialised again. */
typedef struct ws_request {
    const char *method;
    size_t method_len;
    const char *target; /* request-target: origin-form "/p?q" or absolute "http://h/p?q" */
    size_t target_len;
    const char *path; /* "/" for an absolute-form target without one */
    size_t path_len;
    const char *query; /* after '?', NULL when there is none */
    size_t query_len;
    int version_minor; /* HTTP/1.<minor> */
    const ws_header *headers;
    size_t header_count;
    const char *host; /* host[:port]: the Host header, or the authority of an absolute-form
                         target, which RFC 9112 §3.2.2 puts in its place */
    size_t host_len;
    const char *origin; /* the first Origin header; NULL when absent */
    size_t origin_len;
    const char *key; /* Sec-WebSocket-Key */
    size_t key_len;
} ws_request;

/* The server's answer, as the client's host sees it. */
typedef struct ws_response {
    int status;
    const char *reason;
    size_t reason_len;
    const ws_header *headers;
    size_t header_count;
    const char *subprotocol; /* chosen subprotocol, NULL when none */
    size_t subprotocol_len;
    const char *extensions; /* Sec-WebSocket-Extensions, several headers joined with ", "
                               (in the head buffer); NULL when none */
    size_t extensions_len;
    int version_minor; /* HTTP/1.<minor> of the status line */
} ws_response;

/* How the server answers a valid request. */
typedef struct ws_accept_opts {
    const char *subprotocol;  /* NUL-terminated; must be one the client offered, or NULL */
    const char *extensions;   /* Sec-WebSocket-Extensions answer, or NULL */
    const ws_header *headers; /* extra response headers */
    size_t header_count;
} ws_accept_opts;

/* What the client asks for. */
typedef struct ws_client_opts {
    const char *url;                 /* NUL-terminated ws:// or wss:// URL */
    const char *const *subprotocols; /* offered, in order of preference */
    size_t subprotocol_count;
    const char *extensions;   /* offered Sec-WebSocket-Extensions value, or NULL */
    const ws_header *headers; /* extra headers: Origin, Authorization, Cookie ... */
    size_t header_count;
} ws_client_opts;

/* ======================================================================================
 * Connection
 *
 * Ties handshake, frames, UTF-8, control frames and the close handshake together. The host
 * feeds what it read, pulls events until WS_EV_NONE, and writes out what
 * ws_conn_output returns. See docs/connection.md.
 * ====================================================================================== */

typedef struct ws_conn ws_conn;

/* permessage-deflate settings (RFC 7692): ws_config.deflate, and the negotiation and
 * codec functions further down. */
/* What the host allows and asks for. "Server" and "client" name the endpoint whose
 * compressor a setting governs, whichever role this endpoint plays. */
typedef struct ws_deflate_config {
    bool enable; /* offer (client) or accept (server) permessage-deflate; default false */
    /* The largest LZ77 window, as a power of two (8..15), each side's compressor may use;
     * default 15 (32 KiB). A smaller window costs less memory and compresses less. */
    uint8_t server_max_window_bits;
    uint8_t client_max_window_bits;
    /* Insist that the compressor of that side starts every message afresh (no context
     * takeover): less memory between messages, less compression; default false. */
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    int level;     /* zlib compression level of this endpoint's compressor, 0..9; default 6 */
    int mem_level; /* zlib memLevel of this endpoint's compressor, 1..9; default 8 */
    /* Messages shorter than this are sent uncompressed (RSV1 clear); default 64. */
    size_t min_size;
} ws_deflate_config;

/* Limits. One meaning of 0 throughout: a limit on what the peer sends (frame, message,
 * fragments, line lengths) or a deadline set to 0 is off; a buffer size (max_output,
 * max_head_size, max_headers) cannot be 0, and a configuration below its minimum is refused
 * (ws_conn_storage_size returns 0, ws_conn_init and ws_conn_new return NULL). The message
 * limits are checked as each length arrives, before its payload; going over closes with
 * 1009. */
typedef struct ws_config {
    ws_role role;
    uint64_t max_frame_size;      /* payload of one frame; default 16 MiB; 0: no limit. 64-bit
                                     like the wire length, so a 32-bit host can stream frames
                                     over 4 GiB */
    uint64_t max_message_size;    /* payload of a message, summed over its fragments; default
                                     16 MiB; 0: no limit (streaming only: whole_messages needs a
                                     bound for its buffer, at most SIZE_MAX / 8) */
    size_t max_fragments;         /* frames a message may have for free; each further frame needs
                                     16 bytes of the message's payload, so 4 MiB in 64-byte frames
                                     passes while empty or tiny frames are stopped; default 4096;
                                     0: no limit */
    size_t max_output;            /* wire bytes queued for the host to write (close frames may go
                                     a little past it); a frame larger than this is refused with
                                     WS_E_SEND_TOO_BIG. Default: the default max_message_size
                                     plus a frame header (16 MiB + 14), so whatever the defaults
                                     accept can be echoed whole; change it with max_message_size.
                                     A heap connection holds only what is pending. At least 256 */
    size_t max_head_size;         /* opening handshake head; default 8192; at least 64 */
    size_t max_headers;           /* header lines in a head; default 64; at least 8 */
    ws_http_limits http;          /* line limits and bare LF; see ws_http_limits_init */
    bool whole_messages;          /* deliver WS_EV_MESSAGE (reassembled) instead of WS_EV_CHUNK */
    bool http_requests;           /* server: hand plain HTTP GETs (no Upgrade header) to the host
                                   * as WS_EV_HTTP_REQUEST instead of answering 400 (default off) */
    bool auto_pong;               /* answer pings (default true) */
    bool check_outgoing_utf8;     /* refuse text sends that are not UTF-8 (default true) */
    bool allow_nonminimal_length; /* default false */
    bool keep_request;            /* server: keep the request readable through ws_conn_request
                                   * for the connection's life; default false: valid until
                                   * WS_EV_OPEN has been returned, then the handshake's memory
                                   * (head buffer, header slots) is freed (docs/connection.md) */
    ws_random_fn random;          /* required in the client role */
    void *random_ud;
    ws_realloc_fn realloc; /* for ws_conn_new; NULL: the C library's realloc and free
                            * (unless libws was built with WS_NO_DEFAULT_ALLOC) */
    void *realloc_ud;

    /* Deadlines, in milliseconds of the host's clock (see ws_conn_tick); 0 turns one off.
     * Any value up to UINT32_MAX (49 days). */
    uint32_t ping_interval_ms;     /* send a ping this often; default 0 */
    uint32_t pong_timeout_ms;      /* close (1001) when a ping is not answered in time; 0 */
    uint32_t idle_timeout_ms;      /* close (1001) when nothing arrives for this long; 0 */
    uint32_t handshake_timeout_ms; /* give up on an opening handshake this slow; 10000 */
    uint32_t close_timeout_ms;     /* give up waiting for the peer's close; 5000 */
    const struct ws_keepalive_hooks *keepalive; /* optional customisation, see below */

    /* Server: the host names this server answers for (DNS rebinding defence, docs/hooks.md).
     * When trusted_host_count is not 0, a request whose host (ws_request.host) matches none
     * of them is refused with 421 Misdirected Request and WS_E_HTTP_MISDIRECTED, before any
     * hook runs; plain HTTP requests too. Entries as for ws_host_trusted. Borrowed: the
     * array and its strings must outlive the connection. */
    const char *const *trusted_hosts;
    size_t trusted_host_count;

    /* Server request hooks, run in this order on a valid request before WS_EV_REQUEST.
     * A build with -Drequest_hooks=false (WS_NO_REQUEST_HOOKS, docs/size.md) runs neither
     * these nor the trusted_hosts check (the fields stay, so the header is the same for
     * every build): a configuration that sets one of them is invalid there. */
    struct ws_request_hook_def {
        int (*fn)(void *ud, ws_conn *c, const ws_request *r); /* see WS_HOOK_* */
        void *ud;
    } origin_hook, auth_hook;

    /* permessage-deflate (RFC 7692; docs/deflate.md): a client offers it and a server
     * accepts an offer when deflate.enable is set (ws_config_init: off, and the defaults of
     * ws_deflate_config_init). Needs an allocator: a connection made by ws_conn_init uses
     * it only when cfg.realloc is set (zlib's state is allocated through it), else it
     * declines (server) or does not offer (client). Ignored in a build without zlib. With
     * enable set, settings out of range make the configuration invalid. */
    ws_deflate_config deflate;
} ws_config;

/* Fills cfg with the defaults for role. */
void ws_config_init(ws_config *cfg, ws_role role);

/* Bytes of caller storage a fixed-memory connection with this configuration needs: the
 * state, the handshake area (its state, header slots, head buffer), two control slots, and
 * the output and (whole_messages) message buffers at their limits (docs/connection.md). */
size_t ws_conn_storage_size(const ws_config *cfg);

/* Creates a connection inside mem (size bytes, 8-byte aligned) without any heap use.
 * Returns NULL when size is too small or cfg is invalid. */
ws_conn *ws_conn_init(void *mem, size_t size, const ws_config *cfg);

/* Creates a connection on the heap: with cfg->realloc, or the C library's realloc and free
 * when it is NULL; buffers grow on demand up to their limits, and what is only needed for a
 * while is freed when the connection is idle: the handshake area once WS_EV_OPEN has been
 * returned (unless cfg->keep_request), the message buffer between messages. Returns NULL
 * when cfg is invalid, the allocator fails, or realloc is NULL in a build with
 * WS_NO_DEFAULT_ALLOC (-Ddefault_alloc=false: for hosts without a heap, which use
 * ws_conn_init). */
ws_conn *ws_conn_new(const ws_config *cfg);

/* Releases what ws_conn_new allocated, and the output's references (ws_conn_send_nocopy
 * payloads, prepared messages) in either mode; for a fixed-memory connection nothing else. */
void ws_conn_free(ws_conn *c);

typedef enum ws_event_type {
    WS_EV_NONE = 0, /* nothing more until more input, a decision or a drain */
    WS_EV_REQUEST,  /* server: an upgrade request awaits ws_conn_accept / ws_conn_reject */
    WS_EV_OPEN,     /* the handshake completed */
    WS_EV_CHUNK,    /* part of a message (streaming mode) */
    WS_EV_MESSAGE,  /* a whole message (whole_messages mode) */
    WS_EV_PING,
    WS_EV_PONG,
    WS_EV_CLOSE,       /* the peer's close frame */
    WS_EV_CLOSED,      /* final: flush the output, then close the transport */
    WS_EV_HTTP_REQUEST /* server with http_requests: a plain GET; answer with ws_conn_respond */
} ws_event_type;

typedef struct ws_event {
    ws_event_type type;
    ws_opcode opcode;    /* CHUNK, MESSAGE: WS_OP_TEXT or WS_OP_BINARY (as ws_conn_send takes) */
    bool frame_final;    /* CHUNK: ends its frame */
    bool message_final;  /* CHUNK: ends its message (always true for MESSAGE) */
    const uint8_t *data; /* CHUNK, MESSAGE, PING, PONG payload (never NULL) */
    size_t len;
    uint16_t close_code; /* CLOSE: peer's code (1005 if none); CLOSED: the code of the close
                            (ours when we sent one first, whatever error followed) */
    const char *reason;  /* CLOSE, CLOSED: close reason (not NUL-terminated) */
    size_t reason_len;
    int error;                   /* CLOSED: WS_OK after a clean close handshake, else the cause */
    int http_status;             /* CLOSED in the handshake: status sent (server) or received */
    const ws_request *request;   /* REQUEST, HTTP_REQUEST */
    const ws_response *response; /* client OPEN, and CLOSED after a refused handshake */
    const char *subprotocol;     /* OPEN: negotiated subprotocol, NULL when none */
    size_t subprotocol_len;
    const char *extensions; /* OPEN: negotiated extensions (permessage-deflate and the
                               agreed parameters), NULL when none */
    size_t extensions_len;
} ws_event;

/* Hands the connection bytes read from the transport. buf must stay valid and is modified
 * (payloads are unmasked in place) until ws_conn_next_event returns WS_EV_NONE. Returns
 * WS_OK, WS_E_STATE when the previous input has not been drained of events, from inside a
 * callback, or for a client before ws_conn_connect / ws_conn_start_open (nothing is taken),
 * or WS_E_CLOSED after the connection ended (the bytes are ignored). */
int ws_conn_feed(ws_conn *c, uint8_t *buf, size_t len);

/* Tells the connection the transport reached end of stream. */
void ws_conn_feed_eof(ws_conn *c);

/* Produces the next event in wire order; returns its type (WS_EV_NONE when there is none).
 * Pointers in ev stay valid until the next ws_conn_next_event, ws_conn_feed or ws_conn_free
 * on c: the host may pass ev.data straight to ws_conn_send (an echo) and may send from it
 * several times. A peer's close is answered by the connection itself (echoing its code)
 * before WS_EV_CLOSE is returned; in streaming mode every WS_EV_CHUNK carries the opcode of
 * its message, continuation frames included. */
ws_event_type ws_conn_next_event(ws_conn *c, ws_event *ev);

/* Server: accepts the request of the last WS_EV_REQUEST (now, or later from any point of
 * the host's loop). Queues the 101 response; WS_EV_OPEN follows. */
int ws_conn_accept(ws_conn *c, const ws_accept_opts *opts);

/* Server: rejects the pending upgrade request with status 200-599 (and optional headers
 * and body). The response is queued with Connection: close, WS_EV_CLOSED follows (error
 * WS_E_HTTP_REJECTED) and no further input is parsed. A WS_EV_HTTP_REQUEST is answered with
 * ws_conn_respond (given one, this call answers it the same way). */
int ws_conn_reject(ws_conn *c, int status, const ws_header *headers, size_t header_count,
                   const char *body, size_t body_len);

/* Server: answers a WS_EV_HTTP_REQUEST with status 200-599, headers and body, then ends as
 * ws_conn_reject does (Connection: close, WS_EV_CLOSED with WS_OK). WS_E_STATE for an
 * upgrade request: accept or reject those. */
int ws_conn_respond(ws_conn *c, int status, const ws_header *headers, size_t header_count,
                    const char *body, size_t body_len);

/* Server: hand-off from the host's own HTTP parser. The request (method, target, HTTP/1.x
 * minor version, headers) is copied and checked exactly as if its bytes had been fed, and
 * rest[0..rest_len) - whatever the host read after the head - is kept for the frame layer.
 * Only on a fresh connection; events follow as after ws_conn_feed. Returns WS_OK (the
 * verdict, good or bad, comes as an event), WS_E_STATE, or WS_E_HTTP_HEADERS_TOO_LARGE when
 * rest is longer than max_head_size (nothing changed). rest waits in the head buffer behind
 * the request: when the two do not fit together, WS_EV_CLOSED follows with
 * WS_E_HTTP_HEADERS_TOO_LARGE and a 431 answer. */
int ws_conn_handoff(ws_conn *c, const char *method, size_t method_len, const char *target,
                    size_t target_len, int version_minor, const ws_header *headers,
                    size_t header_count, const uint8_t *rest, size_t rest_len);

/* Client: queues the upgrade request. With cfg.deflate.enable the request offers
 * permessage-deflate (opts->extensions must then be NULL), and the 101's answer is held to
 * the offer: an answer the offer does not allow ends the handshake with WS_EV_CLOSED and
 * WS_E_HTTP_EXTENSION (the client fails the connection, RFC 6455 §9.1). */
int ws_conn_connect(ws_conn *c, const ws_client_opts *opts);

/* Starts a connection that is already open (e.g. a WebSocket over an HTTP/2 stream, RFC
 * 8441): no handshake, WS_EV_OPEN comes first. subprotocol may be NULL; it is copied (the
 * caller's string need not outlive the call). Only on a fresh connection (WS_E_STATE);
 * WS_E_INVALID when subprotocol is not a token or is longer than max_head_size. */
int ws_conn_start_open(ws_conn *c, const char *subprotocol);

/* ---- Sending ---------------------------------------------------------------------------
 * Sends queue frames in the output queue, which the host drains with ws_conn_output (or
 * ws_conn_output_iov) and ws_conn_consume. Nothing is ever half-queued: a send either queues
 * its whole frame or returns an error and queues nothing. See docs/connection.md. */

/* Sends a whole message (WS_OP_TEXT or WS_OP_BINARY) as one frame; data is copied, and
 * compressed when permessage-deflate is in use and len >= cfg.deflate.min_size (see
 * ws_conn_send_ex). Returns
 * WS_OK, WS_E_BACKPRESSURE (the queue is too full now: nothing queued, drain and retry),
 * WS_E_SEND_TOO_BIG (the frame would not fit in max_output even with the queue empty: raise
 * max_output or send it in fragments), WS_E_CLOSED, WS_E_STATE (not open, or a fragmented
 * send is in progress), WS_E_INVALID_UTF8 (text check on), WS_E_NOMEM, WS_E_RANDOM or
 * WS_E_INVALID. */
int ws_conn_send(ws_conn *c, ws_opcode opcode, const void *data, size_t len);

/* ws_conn_send with WS_OP_TEXT and WS_OP_BINARY. */
int ws_conn_send_text(ws_conn *c, const char *text, size_t len);
int ws_conn_send_binary(ws_conn *c, const void *data, size_t len);

/* ws_conn_send with flags: WS_SEND_NO_COMPRESS sends this message uncompressed (RSV1
 * clear) even when permessage-deflate is in use, e.g. for a message that mixes a secret
 * with text an attacker chooses, or data that is already compressed. A compressed message
 * needs room for ws_deflater_bound(len) bytes in the output queue: WS_E_BACKPRESSURE while
 * the queue lacks it; when even an empty queue would lack it the message goes uncompressed.
 * Unknown flags: WS_E_INVALID. */
#define WS_SEND_NO_COMPRESS 0x1u
int ws_conn_send_ex(ws_conn *c, ws_opcode opcode, const void *data, size_t len, unsigned flags);

/* Sends one fragment: the first call of a message gives its opcode, later calls pass
 * WS_OP_CONTINUATION (or the same opcode); final ends the message. Text is checked across
 * fragments when check_outgoing_utf8 is on. With permessage-deflate in use the first
 * fragment decides for the whole message: it is compressed when that first fragment is at
 * least cfg.deflate.min_size bytes (each fragment is then flushed, so the peer can inflate
 * what it received so far). Errors as ws_conn_send. */
int ws_conn_send_fragment(ws_conn *c, ws_opcode opcode, const void *data, size_t len, bool final);

/* Called once libws no longer needs bytes it was lent; data is the pointer that was lent. */
typedef void (*ws_release_fn)(void *ud, const void *data);

/* Sends a whole message without copying its payload: in the server role only the frame
 * header is queued, and data[0..len) is referenced by the queue, so it must stay valid and
 * unchanged until done(ud, data) is called. done is called exactly once, when the host has
 * consumed the last byte of the payload (from inside ws_conn_consume), from ws_conn_free, or
 * before this call returns when the bytes were copied after all: always in the client role
 * (the payload must be masked) and for payloads under 256 bytes (cheaper to copy than to
 * track). done may be NULL: the bytes are then in use until ws_conn_output reports an empty
 * queue. done must not call into c. On an error nothing is referenced and done is not
 * called. Errors as ws_conn_send. The frame is never compressed. */
int ws_conn_send_nocopy(ws_conn *c, ws_opcode opcode, const void *data, size_t len,
                        ws_release_fn done, void *ud);

/* ---- Prepared messages (broadcast) ----------------------------------------------------
 * A message encoded once - its server-role frame, header and payload - and queued on any
 * number of server connections without encoding or copying it again: each queue references
 * the shared bytes, which are freed once the creator has called ws_prepared_free and every
 * connection has consumed (or dropped) its copy. A client connection masks it into its own
 * queue (a copy with a fresh key). A prepared message is sent uncompressed (RSV1 clear),
 * also on connections that negotiated permessage-deflate, unless ws_prepared_compress gave
 * it a compressed form that the connection may send (see there). The reference count is
 * not atomic: a prepared message and the connections it is queued on belong to one thread. */
typedef struct ws_prepared ws_prepared;

/* Encodes a message (WS_OP_TEXT, checked as UTF-8, or WS_OP_BINARY); data is copied.
 * realloc NULL: the C library's (WS_E_NOMEM in a WS_NO_DEFAULT_ALLOC build). Returns WS_OK
 * and *out, or WS_E_INVALID, WS_E_INVALID_UTF8 or WS_E_NOMEM. */
int ws_prepared_new(ws_prepared **out, ws_opcode opcode, const void *data, size_t len,
                    ws_realloc_fn realloc, void *realloc_ud);

/* Adds to pm a compressed form (permessage-deflate, RFC 7692), made once here: the message
 * deflated on its own - fresh history, zlib level 0..9, a window of at most 2^window_bits
 * bytes (8..15; capped to what the message needs: 8 up to 250 bytes, then the smallest w
 * with 2^w - 262 >= len) - with the 00 00 FF FF tail removed, in one final frame with RSV1
 * set. Its bytes are shared by the connections like the plain ones and freed with them;
 * zlib's state is allocated through pm's allocator and released before this returns.
 * ws_conn_send_prepared sends the compressed form on a connection exactly when
 * permessage-deflate is in use on it, its own compressor starts every message afresh
 * (server role: server_no_context_takeover agreed; client role:
 * client_no_context_takeover), and the form's window is at most the one agreed for that
 * compressor (server_max_window_bits for a server, client_max_window_bits for a client).
 * Anywhere else it sends the plain form, uncompressed, as without this call: with context
 * takeover the peer would hold bytes in its history that the connection's compressor does
 * not know, and a peer keeps no more history than the window it agreed to. The
 * connection's own compressor is never used for a prepared message, and cfg.deflate.min_size
 * does not apply. For the compressed form on every connection a server sets
 * cfg.deflate.server_no_context_takeover and passes a window no larger than the smallest
 * server_max_window_bits it agrees to. The form may be a few bytes larger than the
 * message for data that does not compress. Returns WS_OK, WS_E_INVALID (pm NULL, window
 * or level out of range), WS_E_STATE (pm already has one), WS_E_NOMEM (pm unchanged) or
 * WS_E_UNSUPPORTED (a build without zlib). */
int ws_prepared_compress(ws_prepared *pm, unsigned window_bits, int level);

/* Queues pm on c (errors as ws_conn_send). pm may be freed right after. */
int ws_conn_send_prepared(ws_conn *c, ws_prepared *pm);

/* Drops the creator's reference; the bytes go once no connection still has them queued. */
void ws_prepared_free(ws_prepared *pm);

/* Queues a ping or an unsolicited pong (payload at most 125 bytes). */
int ws_conn_ping(ws_conn *c, const void *data, size_t len);
int ws_conn_pong(ws_conn *c, const void *data, size_t len);

/* Starts the close handshake with code (0 for none) and reason. WS_EV_CLOSED follows once
 * the peer answers (or the transport ends). */
int ws_conn_close(ws_conn *c, unsigned code, const char *reason, size_t reason_len);

/* ---- Output --------------------------------------------------------------------------
 * The queue is a sequence of runs of bytes: copied frames (consecutive ones share a run),
 * and the payloads of ws_conn_send_nocopy and prepared messages, which stay where they are.
 * Lifetime: the bytes a run points to stay valid and unchanged until the host consumes
 * them, whatever happens in between - later sends, automatic pongs and close frames, events,
 * ticks, feeds. So a host may hand them to a completion-based write (libuv's uv_write,
 * io_uring, IOCP) and consume only when it completes. Only ws_conn_free ends them early. */

/* The first run of bytes waiting to be written: sets *data (never to NULL) and returns its
 * length, 0 when nothing is pending. After consuming it, call again for the next run. */
size_t ws_conn_output(const ws_conn *c, const uint8_t **data);

/* One run of output, as in struct iovec (copy the two members into one). */
typedef struct ws_iovec {
    const uint8_t *base;
    size_t len;
} ws_iovec;

/* The runs waiting to be written, in order: fills up to max entries of iov, returns how
 * many, and sets *bytes (when not NULL) to the bytes they hold. Same lifetime as
 * ws_conn_output. A frame sent with ws_conn_send_nocopy is two runs: header and payload. */
size_t ws_conn_output_iov(const ws_conn *c, ws_iovec *iov, size_t max, size_t *bytes);

/* Marks n bytes of the output (counted across runs, in order) as written. Referenced
 * payloads consumed to their end are released (ws_release_fn, prepared messages), and a
 * heap connection whose queue is now empty frees the queue's storage. */
void ws_conn_consume(ws_conn *c, size_t n);

/* ---- Time: deadlines and keepalive ---------------------------------------------------
 * libws reads no clock. The host tells the connection the time (milliseconds of any
 * monotonic clock) with ws_conn_tick, as often as it likes and at least when
 * ws_conn_next_deadline says; bytes fed count as received at the last time given. */

/* Gives the connection the current time. A ping that is due is queued; a deadline that has
 * passed ends the connection: WS_EV_CLOSED follows with WS_E_HANDSHAKE_TIMEOUT,
 * WS_E_PONG_TIMEOUT, WS_E_IDLE_TIMEOUT or WS_E_CLOSE_TIMEOUT (a close frame with 1001 is
 * queued for the pong and idle timeouts). A server whose handshake times out answers first:
 * 408 Request Timeout when the request had not fully arrived, 503 Service Unavailable when
 * it had and the decision (a pending hook, the host's accept or reject) never came; the
 * status is the http_status of WS_EV_CLOSED. The first call starts the clocks. From inside
 * a callback it only sets the time. */
void ws_conn_tick(ws_conn *c, uint64_t now_ms);

/* Only sets the time, without acting on deadlines. A host that woke up late sets the time,
 * feeds what it read (a pong that is already there counts) and then calls ws_conn_tick. */
void ws_conn_set_time(ws_conn *c, uint64_t now_ms);

/* The time at which the connection next needs ws_conn_tick, or UINT64_MAX when none. After
 * WS_EV_CLOSED there is none: bound the final flush of the output with a timer of your own. */
uint64_t ws_conn_next_deadline(const ws_conn *c);

/* The round-trip time of the last ping answered by a matching pong, in milliseconds, or
 * -1 before one was measured. */
int64_t ws_conn_rtt(const ws_conn *c);

/* Optional customisation of the keepalive (cfg.keepalive); any member may be NULL. */
typedef struct ws_keepalive_hooks {
    /* Return false to skip a ping that is due (e.g. data is flowing). */
    bool (*want_ping)(void *ud, ws_conn *c, uint64_t now_ms);
    /* Writes the ping payload (at most 125 bytes) and returns its length. By default the
     * payload is the 8-byte big-endian send time, which is how the RTT is matched. */
    size_t (*ping_payload)(void *ud, ws_conn *c, uint64_t now_ms, uint8_t buf[125]);
    /* Return true when ev counts as activity for the idle timeout. By default every frame
     * received counts; a host can count only its own application heartbeats. */
    bool (*is_activity)(void *ud, ws_conn *c, const struct ws_event *ev);
    void *ud;
} ws_keepalive_hooks;

/* ---- Request hooks (server) -----------------------------------------------------------
 * cfg.origin_hook and cfg.auth_hook are conveniences over WS_EV_REQUEST: they run, in that
 * order, on a request that passed validation. A hook returns WS_HOOK_ALLOW, WS_HOOK_PENDING
 * (decided later: the host calls ws_conn_resume from its own loop), an HTTP status 400-599
 * to reject with, or a policy code that says why: WS_E_ORIGIN, WS_E_AUTH_MISSING,
 * WS_E_AUTH_INVALID, WS_E_AUTH_EXPIRED or WS_E_FORBIDDEN, answered with its status
 * (ws_error_http_status). Anything else rejects with 500. A rejection goes through
 * ws_conn_reject: Connection: close (and WWW-Authenticate: Bearer with a 401), then
 * WS_EV_CLOSED with the status as http_status and the policy code, or WS_E_HTTP_REJECTED
 * for a bare status, as error; no hook or event ever sees that request again. When every
 * hook allows, WS_EV_REQUEST is delivered as usual. */
enum { WS_HOOK_ALLOW = 0, WS_HOOK_PENDING = 1 };

/* Calls from inside callbacks (request hooks, keepalive hooks, on_claims). Inside a request
 * hook the request is not decided yet: ws_conn_reject refuses it there and then (the hook's
 * return value is ignored afterwards); ws_conn_accept, ws_conn_respond, ws_conn_resume
 * (nothing is pending while the hook runs), sends, ping and close return WS_E_STATE.
 * Inside a keepalive hook the connection is open: sends, ping and ws_conn_close work as
 * anywhere else, and a ping the hook was asked about is not sent once the connection is
 * closing. In every callback ws_conn_feed, ws_conn_handoff, ws_conn_start_open and
 * ws_conn_connect return WS_E_STATE, ws_conn_next_event returns WS_EV_NONE (events are
 * pulled by the host's loop), ws_conn_tick only sets the time, and ws_conn_free must not be
 * called. */

/* Completes a pending hook with a verdict as a hook would return it: WS_HOOK_ALLOW, a
 * status 400-599 or a policy code. */
int ws_conn_resume(ws_conn *c, int verdict);

/* A pointer the host (or a hook: a user id, claims) attaches to the connection. */
void ws_conn_set_user(ws_conn *c, void *user);
void *ws_conn_user(const ws_conn *c);

/* The last time given to ws_conn_tick (0 before the first call). */
uint64_t ws_conn_now(const ws_conn *c);

typedef enum ws_phase {
    WS_PHASE_CONNECTING = 0, /* opening handshake */
    WS_PHASE_OPEN,
    WS_PHASE_CLOSING, /* a close frame was sent or received */
    WS_PHASE_CLOSED
} ws_phase;

ws_phase ws_conn_phase(const ws_conn *c);

/* The request the connection was opened with (server), or NULL. Valid from WS_EV_REQUEST
 * (or a request hook) through WS_EV_OPEN: a connection from ws_conn_new frees the
 * handshake's memory from the next ws_conn_next_event on, and NULL is returned once it has.
 * With cfg.keep_request, and in fixed memory, it stays valid for the connection's life. */
const ws_request *ws_conn_request(const ws_conn *c);

/* ======================================================================================
 * Layers: the pieces the connection is made of, each usable on its own
 * ====================================================================================== */

/* ======================================================================================
 * UTF-8 validation (incremental)
 *
 * State carries across chunks, so a text message can be checked as its fragments arrive.
 * Rejects overlong forms, surrogates (U+D800-U+DFFF), code points above U+10FFFF and stray
 * continuation bytes at the first byte that makes the text invalid: the lead byte itself for
 * C0, C1 and F5-FF; the second byte for E0 80, ED A0 (a surrogate) or F4 90 (too high); the
 * byte that is not a continuation where one is needed (41 in C3 41); a stray continuation.
 * ASCII is checked eight bytes at a time, and long runs of text 16 or 32 bytes at a time
 * with SSSE3/AVX2 or NEON where available. No allocation; a ws_utf8 may be copied.
 * ====================================================================================== */

typedef struct ws_utf8 {
    uint32_t state; /* private: 0 when at a character boundary */
} ws_utf8;

/* Starts a new text (message boundary). */
void ws_utf8_init(ws_utf8 *v);

/* Validates the next len bytes. Returns WS_OK when every byte so far can still be part of
 * valid text (a character may be incomplete at the end of the chunk, to be finished by the
 * next one), or WS_E_INVALID_UTF8 with *bad_offset set to the index in p (this chunk, not
 * the whole text) of the first byte that makes the text invalid. After an error the state
 * stays failed: later calls return WS_E_INVALID_UTF8 with *bad_offset 0. bad_offset may be
 * NULL; p may be NULL when len is 0. */
int ws_utf8_feed(ws_utf8 *v, const uint8_t *p, size_t len, size_t *bad_offset);

/* Ends the text: WS_OK when it ended on a character boundary, else WS_E_INVALID_UTF8
 * (a sequence was truncated by the end of the message, or the text was already invalid).
 * The state is not changed. */
int ws_utf8_finish(const ws_utf8 *v);

/* One-shot check of a complete text: true when p[0..len) is valid UTF-8 and does not end
 * inside a character. */
bool ws_utf8_valid(const uint8_t *p, size_t len);

/* ======================================================================================
 * Masking
 *
 * RFC 6455 §5.3: byte i of a masked payload is XORed with key[i % 4]. Masking and unmasking
 * are the same operation. Works a machine word at a time (SSE2/AVX2 or NEON vectors for
 * payloads of 64 bytes and more) on any length and alignment, reads and writes only the
 * given bytes, allocates nothing.
 * ====================================================================================== */

/* XORs p[0..len) in place with the 4-byte key, starting at key byte (offset % 4), and
 * returns (offset + len) % 4: the offset to pass for the bytes that follow, so a payload
 * can be (un)masked in pieces. p may be NULL when len is 0. */
size_t ws_mask(uint8_t *p, size_t len, const uint8_t key[4], size_t offset);

/* Same, writing src XOR key to dst[0..len) in one pass; src is not modified unless it is
 * dst. dst and src may be equal but must not overlap otherwise. */
size_t ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                    size_t offset);

/* ======================================================================================
 * Frame codec
 *
 * A resumable, role-aware decoder: the header may arrive split at any byte, and payload is
 * handed back as pointers into the caller's buffer, unmasked in place. Every RFC 6455 §5
 * rule about a single frame is enforced as soon as the byte that breaks it arrives. Rules
 * about sequences of frames (continuations, interleaving) belong to the connection.
 * ====================================================================================== */

#define WS_FRAME_HEADER_MAX    14 /* 2 + 8 (length) + 4 (mask key) */
#define WS_CONTROL_PAYLOAD_MAX 125

typedef struct ws_frame_header {
    uint64_t length; /* payload length */
    uint8_t opcode;  /* WS_OP_* */
    uint8_t rsv;     /* WS_RSV1 | WS_RSV2 | WS_RSV3 bits as on the wire */
    bool fin;
    bool masked;
    uint8_t mask[4]; /* the key, when masked */
} ws_frame_header;

typedef struct ws_frame_decoder {
    /* Settings: set by ws_frame_decoder_init, may be changed between frames. */
    uint64_t max_frame_size; /* longer frames fail with WS_E_FRAME_TOO_BIG; default 16 MiB;
                                0: no limit */
    uint8_t allowed_rsv;     /* RSV bits a negotiated extension uses; default 0 */
    bool allow_nonminimal;   /* accept lengths not in shortest form; default false */
    uint8_t role;            /* ws_role of the receiving endpoint */
    /* The header of the current frame, valid from WS_FRAME_HEADER on. */
    ws_frame_header header;
    /* Private. */
    uint8_t state;
    uint8_t hdr_len;
    uint8_t hdr[WS_FRAME_HEADER_MAX];
    int error;
    uint64_t remaining;
    size_t mask_offset;
} ws_frame_decoder;

/* What one decode step produced. */
enum {
    WS_FRAME_NEED_MORE = 0, /* every byte given was consumed; feed more */
    WS_FRAME_HEADER = 1,    /* a whole header was read: see d->header */
    WS_FRAME_DATA = 2,      /* a payload chunk (len > 0) that does not end the frame */
    WS_FRAME_END = 3        /* the last payload chunk of the frame (may be empty) */
};

/* Sets up a decoder for an endpoint of the given role (a server expects masked frames, a
 * client unmasked ones) with the default settings above. */
void ws_frame_decoder_init(ws_frame_decoder *d, ws_role role);

/* Decodes from buf[0..len). Returns one of WS_FRAME_* or a negative WS_E_* error and sets
 * *consumed to the bytes of buf used. For WS_FRAME_DATA and WS_FRAME_END, *chunk and
 * *chunk_len give the payload bytes, which lie in buf and have been unmasked in place.
 * Every frame reports WS_FRAME_HEADER, then zero or more WS_FRAME_DATA, then exactly one
 * WS_FRAME_END. On an error *consumed counts the bytes before the offending byte, and the
 * decoder keeps returning that error. A frame breaking several rules reports the first of:
 * byte 0: reserved opcode, RSV bits, control without FIN; byte 1: mask bit against the
 * role, control 7-bit length over 125 (a 126/127 marker waits for the full length only with
 * allow_nonminimal), 7-bit length over max_frame_size; byte 2: 64-bit length MSB; last
 * length byte: non-minimal, control over 125, over max_frame_size. The same whole or split. */
int ws_frame_decode(ws_frame_decoder *d, uint8_t *buf, size_t len, size_t *consumed,
                    uint8_t **chunk, size_t *chunk_len);

/* The size of the header for a payload of the given length. */
size_t ws_frame_header_size(uint64_t length, bool masked);

/* Writes the header h (length in shortest form; mask key when h->masked) to out and returns
 * its size (2 to 14), or WS_E_INVALID for an opcode above 15, RSV bits outside
 * WS_RSV1..3, a length with the top bit set, or a control frame that is longer than 125
 * bytes or not final. The payload is not touched: a client masks it with ws_mask. */
int ws_frame_header_encode(uint8_t out[WS_FRAME_HEADER_MAX], const ws_frame_header *h);

/* A role-aware header writer: in the client role each header gets a fresh mask key. */
typedef struct ws_frame_encoder {
    uint8_t role;
    ws_random_fn random;
    void *random_ud;
} ws_frame_encoder;

/* random may be NULL in the server role; the client role needs it. */
void ws_frame_encoder_init(ws_frame_encoder *e, ws_role role, ws_random_fn random, void *ud);

/* Writes a header for (opcode, fin, rsv, length). In the client role a fresh key is drawn
 * from the random source, written into the header and copied to key_out (when not NULL),
 * so the caller can mask the payload with ws_mask(payload, length, key_out, 0). Returns the
 * header size, WS_E_INVALID as for ws_frame_header_encode, or WS_E_RANDOM. */
int ws_frame_encode(ws_frame_encoder *e, uint8_t out[WS_FRAME_HEADER_MAX], uint8_t opcode, bool fin,
                    uint8_t rsv, uint64_t length, uint8_t key_out[4]);

/* ======================================================================================
 * Close frame payloads
 * ====================================================================================== */

#define WS_CLOSE_REASON_MAX 123

/* True for the codes that may appear in a close frame: 1000-1003, 1007-1014, 3000-4999. */
bool ws_close_code_valid(unsigned code);

/* Parses a received close payload. An empty payload gives *code = WS_CLOSE_NO_STATUS and an
 * empty reason. Errors: WS_E_CLOSE_PAYLOAD (1 byte), WS_E_CONTROL_TOO_LONG (over 125),
 * WS_E_CLOSE_CODE (invalid code), WS_E_CLOSE_REASON (reason not UTF-8). The reason points
 * into p. */
int ws_close_parse(const uint8_t *p, size_t len, uint16_t *code, const uint8_t **reason,
                   size_t *reason_len);

/* Builds a close payload into out (at least 125 bytes) and returns its length. code 0 (or
 * WS_CLOSE_NO_STATUS) builds the empty payload and then reason must be empty. Errors:
 * WS_E_INVALID for a code that may not be sent or a reason over 123 bytes,
 * WS_E_INVALID_UTF8 for a reason that is not UTF-8. */
int ws_close_build(uint8_t out[WS_CONTROL_PAYLOAD_MAX], unsigned code, const char *reason,
                   size_t reason_len);

/* ======================================================================================
 * SHA-1, Base64 and the accept key (RFC 6455 §4.2.2)
 * ====================================================================================== */

#define WS_SHA1_SIZE       20
#define WS_ACCEPT_KEY_SIZE 28 /* base64 of a SHA-1 digest, no terminator */

void ws_sha1(const void *data, size_t len, uint8_t out[WS_SHA1_SIZE]);

/* Writes the base64 (RFC 4648, padded) of in[0..len) to out, which must hold
 * 4 * ((len + 2) / 3) bytes; returns that length. No terminator is written. */
size_t ws_base64_encode(char *out, const uint8_t *in, size_t len);

/* Decodes strict padded base64 (no whitespace) into out (cap bytes). Returns the decoded
 * length, WS_E_INVALID for malformed input (length not a multiple of 4, a character outside
 * the alphabet, '=' other than as the last one or two, non-zero bits under the padding)
 * or WS_E_BUFFER when out is too small. out is not written on error. */
int ws_base64_decode(uint8_t *out, size_t cap, const char *in, size_t len);

/* Computes Sec-WebSocket-Accept for a Sec-WebSocket-Key. */
void ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_KEY_SIZE]);

/* ======================================================================================
 * HTTP heads and header lists
 * ====================================================================================== */

/* The first header called name (case-insensitive), or NULL. */
const ws_header *ws_header_find(const ws_header *headers, size_t count, const char *name);

/* HTTP token lists (Connection, Upgrade ...; not the auth tokens of ws_token_*): true when
 * the comma-separated list value[0..len) holds token as a whole element,
 * compared case-insensitively ("keep-alive, Upgrade" holds "upgrade"; "upgradex" does not). */
bool ws_http_list_has(const char *value, size_t len, const char *token);

/* Walks the elements of a comma-separated list spread over every header called name
 * (case-insensitive): elements are trimmed of SP/HTAB, empty ones skipped, in one pass.
 * Commas inside quoted strings are not special: this is for lists of tokens. */
typedef struct ws_list_iter {
    const ws_header *headers; /* private */
    size_t count;
    const char *name;
    size_t index;
    size_t pos;
} ws_list_iter;

void ws_list_iter_init(ws_list_iter *it, const ws_header *headers, size_t count, const char *name);
bool ws_list_iter_next(ws_list_iter *it, const char **item, size_t *item_len);

/* One extension offer or answer from Sec-WebSocket-Extensions (RFC 6455 §9.1). */
#define WS_EXTENSION_PARAMS_MAX 8
typedef struct ws_extension_param {
    const char *name;
    size_t name_len;
    const char *value; /* NULL when the parameter has no value; quotes removed */
    size_t value_len;
} ws_extension_param;

typedef struct ws_extension {
    const char *name;
    size_t name_len;
    ws_extension_param params[WS_EXTENSION_PARAMS_MAX];
    size_t param_count;
} ws_extension;

typedef struct ws_extension_iter {
    ws_list_iter headers; /* private */
    const char *cur;
    const char *end;
    int error; /* sticky once the list was found malformed */
} ws_extension_iter;

/* Walks every Sec-WebSocket-Extensions header (RFC 6455 §9.1; SP/HTAB allowed around
 * ',', ';' and '=', empty list elements skipped). Quoted parameter values are given without
 * their quotes, backslash escapes left as they are, and may hold ',' and ';'; checking
 * that a value is a token after unescaping is left to the extension. Work is linear in the
 * header size. */
void ws_extension_iter_init(ws_extension_iter *it, const ws_header *headers, size_t count);
/* Returns 1 with *ext filled, 0 at the end, or WS_E_HTTP_EXTENSION when the list is
 * malformed or an extension has more than WS_EXTENSION_PARAMS_MAX parameters. */
int ws_extension_iter_next(ws_extension_iter *it, ws_extension *ext);

/* ======================================================================================
 * Opening handshake (RFC 6455 §4)
 *
 * Push-style and bounded: bytes are fed as they arrive, split anywhere, and copied into a
 * head buffer the caller provides (its size is the limit on the whole head). Scanning
 * resumes where it stopped, so total work is linear in the head's size.
 * ====================================================================================== */

/* ---- The HTTP/1.1 head parser ----------------------------------------------------------
 * Standalone, bounded and incremental, for requests and responses alike (the handshake is
 * built on it; a host may use it for anything else). Bytes are copied into the caller's
 * buffer, whose size is the limit on the whole head, and split into lines as they complete,
 * so a head may arrive cut anywhere and each byte is looked at once. It checks HTTP syntax
 * only (RFC 9112): a request line of method token, target and HTTP/d.d, or a status line of
 * HTTP/d.d, a status 100-599 and an optional reason; header lines of a token, ':' and a
 * value without control bytes but HTAB; CRLF line ends (bare LF with allow_bare_lf); no
 * obs-fold. Empty lines before a request line are skipped (RFC 9112 §2.2). */

/* A parsed head; pointers into the parser's buffer and header array. */
typedef struct ws_http_head {
    const char *method; /* request */
    size_t method_len;
    const char *target; /* request, as sent */
    size_t target_len;
    int status; /* response */
    const char *reason;
    size_t reason_len;
    int version_major;
    int version_minor;
    const ws_header *headers; /* values trimmed of SP/HTAB */
    size_t header_count;
} ws_http_head;

/* All fields are private; public so that the parser can live in caller memory. */
typedef struct ws_http_parser {
    /* Parses the first line: the request line, or a response's status line. */
    int (*first_line)(struct ws_http_parser *p, const char *line, size_t len);
    bool allow_bare_lf;
    uint8_t state;
    uint8_t line_state;
    int error;
    size_t max_first_line;
    size_t max_header_line;
    uint8_t *buf;
    size_t cap;
    size_t len;        /* bytes held; every one has been scanned, none is scanned again */
    size_t line_start; /* start of the line being scanned */
    ws_header *headers;
    size_t max_headers;
    size_t header_count;
    ws_http_head head;
} ws_http_parser;

/* ws_http_parser_feed's answer when the request or status line is complete. */
enum { WS_HTTP_FIRST_LINE = 1 };

/* Prepares to parse one request head (response false) or response head into buf (cap
 * bytes: the limit on the head, 431 beyond) and headers (max_headers entries, 431 beyond);
 * limits may be NULL for the defaults. */
void ws_http_parser_init(ws_http_parser *p, bool response, const ws_http_limits *limits,
                         uint8_t *buf, size_t cap, ws_header *headers, size_t max_headers);

/* Parses data[0..len). Returns WS_E_AGAIN when all of it was taken and the head goes on,
 * WS_HTTP_FIRST_LINE when the first line just completed (its fields in the head are set;
 * feed the rest, data + *consumed, again), WS_OK when the empty line ending the head was read
 * (*consumed = the bytes of data that belonged to it), or an error, sticky:
 * WS_E_HTTP_SYNTAX, WS_E_HTTP_URI_TOO_LONG (a request line over max_request_line),
 * WS_E_HTTP_HEADERS_TOO_LARGE (a header or status line over max_header_line, too many
 * headers, or the buffer full), with *consumed counting the bytes before the offending one;
 * WS_E_STATE after WS_OK, WS_E_INVALID for NULL data with a length. consumed may be NULL. */
int ws_http_parser_feed(ws_http_parser *p, const uint8_t *data, size_t len, size_t *consumed);

/* The head, once ws_http_parser_feed returned WS_OK; NULL before. */
const ws_http_head *ws_http_parser_head(const ws_http_parser *p);

/* The value of cookie name (exact, case-sensitive) in the request's Cookie headers
 * ("a=1; b=2"); the first match wins, surrounding DQUOTEs are removed. */
bool ws_request_cookie(const ws_request *r, const char *name, const char **value,
                       size_t *value_len);

/* The value of query parameter name in r->query ("a=1&b=2"), matched exactly and
 * returned raw: neither name nor value is percent-decoded. The first match wins; a
 * parameter without '=' has an empty value. */
bool ws_request_query_param(const ws_request *r, const char *name, const char **value,
                            size_t *value_len);

/* True when the client offered subprotocol proto (exact, case-sensitive match). */
bool ws_request_offers_subprotocol(const ws_request *r, const char *proto, size_t len);

/* State of one handshake, either role. All fields are private; the struct is public only so
 * that it can live in caller-provided memory. */
typedef struct ws_handshake {
    uint8_t role;
    uint8_t phase;
    bool head_complete; /* the whole head was read (even if it then failed a check) */
    int error;
    int status;
    ws_http_limits limits;
    uint8_t *buf; /* the head buffer, cap = limit on the whole head */
    size_t cap;
    size_t reserved; /* client: bytes at the start of buf holding what was offered */
    ws_header *headers;
    size_t max_headers;
    ws_http_parser http; /* the head, parsed in buf after the reserved bytes */
    ws_request request;
    ws_response response;
    char accept[WS_ACCEPT_KEY_SIZE]; /* client: the value expected back */
    const char *offered_protocols;   /* client: copy of the offered list, in buf */
    size_t offered_protocols_len;
    const char *offered_extensions;
    size_t offered_extensions_len;
} ws_handshake;

/* Prepares a server-side handshake. buf (cap bytes) holds the request head, so cap is the
 * limit on its size (431 beyond); headers (max_headers entries) receives the parsed
 * headers (431 beyond). limits may be NULL for the defaults. */
void ws_handshake_server_init(ws_handshake *hs, const ws_http_limits *limits, uint8_t *buf,
                              size_t cap, ws_header *headers, size_t max_headers);

/* Feeds request bytes. Returns WS_E_AGAIN when the head is not complete yet (all len bytes
 * used), WS_OK when a complete, valid upgrade request has been read (*consumed = the bytes
 * of p that belonged to the head; the rest are frames for the connection), or a negative
 * WS_E_HTTP_* error: ws_handshake_status gives the status to answer with and
 * ws_handshake_error_response writes that answer. Errors are sticky; on one, *consumed
 * counts the bytes before the byte at which it was found (a limit fails on the first byte
 * past it, a line's content on its LF, a missing header on the head's final LF). Besides
 * the checks of the WS_E_HTTP_* list: Host must be host[:port] by the rules of
 * ws_url_parse (WS_E_HTTP_HOST), an absolute-form target's authority too (WS_E_HTTP_SYNTAX),
 * empty lines before the request line are skipped (RFC 9112 §2.2), and a request announcing a
 * body (Transfer-Encoding, Content-Length other than 0) is WS_E_HTTP_SYNTAX. After WS_OK,
 * further calls return WS_E_STATE. consumed may be NULL. */
int ws_handshake_server_feed(ws_handshake *hs, const uint8_t *p, size_t len, size_t *consumed);

/* Hand-off from a host's own HTTP parser: the already-parsed HTTP/1.<version_minor> request
 * goes through the scanner of ws_handshake_server_feed exactly as it would have been sent
 * ("METHOD target HTTP/1.x", "Name: value" lines, the empty line), so every check and limit
 * is the same as for fed bytes, and the head buffer holds a copy (the caller's storage need
 * not outlive the call). A method or target with SP or a control byte, a header name that is
 * not a token, a value with a control byte other than HTAB, or a version_minor outside 0-9
 * is WS_E_HTTP_SYNTAX: nothing handed over can add a line. Returns WS_OK or an error as
 * ws_handshake_server_feed; WS_E_STATE after bytes were fed, WS_E_INVALID for a NULL pointer
 * with a length (nothing changed then). Bytes that followed the request are the
 * connection's. */
int ws_handshake_server_handoff(ws_handshake *hs, const char *method, size_t method_len,
                                const char *target, size_t target_len, int version_minor,
                                const ws_header *headers, size_t count);

/* The parsed request, once feed or handoff returned WS_OK (NULL before). */
const ws_request *ws_handshake_request(const ws_handshake *hs);

/* The HTTP status for a server-side handshake's error, or 0 when there is none (always 0
 * in the client role: the client answers nobody; see ws_handshake_response). */
int ws_handshake_status(const ws_handshake *hs);

/* Writes the 101 Switching Protocols response into out. Returns WS_OK with *out_len set,
 * WS_E_BUFFER when cap is too small, WS_E_HTTP_SUBPROTOCOL when the subprotocol was not
 * offered or is not a token (a client may offer anything; only a token is echoed),
 * WS_E_HTTP_EXTENSION when the extensions answer is malformed or names an
 * extension the client did not offer, WS_E_INVALID when a header name is not a token, a
 * value (or the extensions) holds a control byte other than HTAB (CR, LF, NUL ...), or an
 * extra header is one this function writes itself (Upgrade, Connection,
 * Sec-WebSocket-*) or announces a body (Content-Length, Transfer-Encoding: a 101 has none),
 * WS_E_STATE when no valid request was read. opts may be NULL. */
int ws_handshake_accept(const ws_handshake *hs, const ws_accept_opts *opts, uint8_t *out,
                        size_t cap, size_t *out_len);

/* Writes a rejection: "HTTP/1.1 <status> <reason phrase>" (status 200-599; the phrase of
 * the IANA registry, empty for an unregistered status and, in a build with
 * WS_NO_ERROR_STRINGS, for every status), Connection: close, Content-Type:
 * text/plain when there is a body and the extra headers give no Content-Type,
 * Content-Length (not for 204 and 304), the extra headers, then body. Allowed at any point
 * of a server-side handshake. Errors: WS_E_INVALID for a status out of range, a NULL body
 * with a length, a body with 204, 205 or 304 (statuses without content), or extra headers as for
 * ws_handshake_accept (Connection, Content-Length and Transfer-Encoding are written here);
 * WS_E_BUFFER. */
int ws_handshake_reject(const ws_handshake *hs, int status, const ws_header *headers,
                        size_t header_count, const char *body, size_t body_len, uint8_t *out,
                        size_t cap, size_t *out_len);

/* Writes the answer to a request that failed validation, in the form of
 * ws_handshake_reject: its status, Connection: close, the header the status calls for
 * (Allow: GET with 405, Sec-WebSocket-Version: 13 with 426) and a one-line text/plain
 * body, ws_strerror of the error. WS_E_STATE when the handshake has no error. */
int ws_handshake_error_response(const ws_handshake *hs, uint8_t *out, size_t cap, size_t *out_len);

/* A parsed ws:// or wss:// URL; pointers into the caller's string. */
typedef struct ws_url {
    bool secure;      /* wss */
    const char *host; /* without brackets for an IPv6 literal */
    size_t host_len;
    bool host_is_ipv6;
    uint16_t port; /* explicit, or 80 / 443 */
    bool port_explicit;
    const char *path; /* from the first '/' up to '?'; a static "/" when the URL has none */
    size_t path_len;
    const char *query; /* after '?' (without it), NULL when there is none */
    size_t query_len;
} ws_url;

/* Parses url[0..len). The request-target to send is path, then '?' and query when query is
 * not NULL ("ws://h?x=1" gives path "/" and query "x=1"). The scheme is matched
 * case-insensitively and nothing is percent-decoded. Returns WS_OK (out filled) or WS_E_URL
 * (out untouched): a scheme other than ws/wss, a fragment ('#'), user info ('@' before the
 * path), an empty host, a host name that is not dot-separated non-empty labels of letters,
 * digits, '-' and '_' (one final dot allowed), an IPv6 literal that is malformed, has a zone
 * id or lacks its ']', a port that is empty, 0, above 65535, not digits or with a leading
 * zero, or any byte that is not printable ASCII (spaces and controls included). The same
 * host and port rules apply to Origin values, Host headers and trusted host lists. */
int ws_url_parse(const char *url, size_t len, ws_url *out);

/* Prepares a client-side handshake; buf holds what was offered and then the response head
 * (cap is the limit on the response head), headers receives the response headers. */
void ws_handshake_client_init(ws_handshake *hs, const ws_http_limits *limits, uint8_t *buf,
                              size_t cap, ws_header *headers, size_t max_headers);

/* Writes the upgrade request for opts into out, with a fresh 16-byte key from random, and
 * copies the offered subprotocols and extensions to the start of the head buffer (opts'
 * strings need not outlive the call). Returns WS_OK with *out_len set, WS_E_URL,
 * WS_E_RANDOM (random NULL or failing), WS_E_BUFFER (out, or the head buffer for the
 * copy), WS_E_INVALID (a subprotocol that is not a token or is offered twice, extensions
 * that do not parse, a header whose name is not a token, whose value holds a control byte,
 * or that this function writes itself: Host, Upgrade, Connection, Sec-WebSocket-*), or
 * WS_E_STATE once a request was written. After an error nothing changed: it may be
 * called again (e.g. with a larger out). */
int ws_handshake_client_request(ws_handshake *hs, const ws_client_opts *opts, ws_random_fn random,
                                void *random_ud, uint8_t *out, size_t cap, size_t *out_len);

/* Feeds response bytes. Returns WS_E_AGAIN, WS_OK for a valid 101 (*consumed = bytes of
 * the head; the rest are frames), or an error: WS_E_HTTP_STATUS for any other status (the
 * response, with its headers, stays available), WS_E_HTTP_UPGRADE, WS_E_HTTP_CONNECTION,
 * WS_E_HTTP_ACCEPT, WS_E_HTTP_SUBPROTOCOL, WS_E_HTTP_EXTENSION, WS_E_HTTP_SYNTAX,
 * WS_E_HTTP_VERSION (a 101 in HTTP/1.0, which has no Upgrade), WS_E_HTTP_HEADERS_TOO_LARGE (the
 * head buffer holds the copied offer, then the head). Redirects are never followed. *consumed and
 * stickiness as ws_handshake_server_feed; WS_E_STATE before ws_handshake_client_request. */
int ws_handshake_client_feed(ws_handshake *hs, const uint8_t *p, size_t len, size_t *consumed);

/* The parsed response once its head is complete (also after WS_E_HTTP_STATUS), else NULL. */
const ws_response *ws_handshake_response(const ws_handshake *hs);

/* ======================================================================================
 * permessage-deflate (RFC 7692)
 *
 * Optional at build time (Meson option "deflate", on when zlib is found). Without zlib
 * every function below still exists: ws_deflate_available() is false and the others return
 * WS_E_UNSUPPORTED. Negotiation is pure parsing over the handshake's headers; the data path
 * is one object per direction (ws_inflater for what is received, ws_deflater for what is
 * sent), each allocated through the host's allocator together with zlib's own state.
 * See docs/deflate.md for when to turn it on and what it costs per connection.
 * ====================================================================================== */

/* Fills cfg with the defaults above (enable false). */
void ws_deflate_config_init(ws_deflate_config *cfg);

/* True when this build includes permessage-deflate (linked with zlib). */
bool ws_deflate_available(void);

/* The agreed parameters of one connection (RFC 7692 §7.1). */
typedef struct ws_deflate_params {
    bool server_no_context_takeover; /* the server resets its compressor for every message */
    bool client_no_context_takeover; /* the client does */
    uint8_t server_max_window_bits;  /* window of the server's compressor, 8..15 */
    uint8_t client_max_window_bits;  /* window of the client's compressor, 8..15 */
} ws_deflate_params;

/* Room for any answer or offer these functions write. */
#define WS_DEFLATE_HEADER_MAX 160

/* Server: picks the first permessage-deflate offer in the request's
 * Sec-WebSocket-Extensions headers (all of them, in order) that cfg can accept, and writes
 * the answer for the 101 (the value of Sec-WebSocket-Extensions, NUL-terminated, at most
 * WS_DEFLATE_HEADER_MAX bytes with the NUL) to answer and the agreed parameters to
 * *params. An offer is declined, and the next one considered, when it has an unknown or
 * repeated parameter, a value on a flag, no value on server_max_window_bits, a window that
 * is not 8..15 written without leading zeros (quoted or not), or leaves the client's
 * window above cfg->client_max_window_bits (no client_max_window_bits parameter to lower
 * it). The server's window is the smaller of the offered one and cfg's; flags the offer
 * or cfg asks for are answered. A list that does not parse declines what is left of it.
 * Returns 1 (accepted; answer and params written), 0 (no acceptable offer, or cfg->enable
 * is false; nothing written), WS_E_BUFFER (cap too small), WS_E_INVALID (cfg out of range,
 * NULL pointer) or WS_E_UNSUPPORTED. Linear in the size of the headers. */
int ws_deflate_server_negotiate(const ws_deflate_config *cfg, const ws_header *headers,
                                size_t count, char *answer, size_t cap, size_t *answer_len,
                                ws_deflate_params *params);

/* Client: writes the offer for cfg (NUL-terminated, for ws_client_opts.extensions):
 * "permessage-deflate", the flags cfg insists on, server_max_window_bits when cfg's is
 * below 15, and client_max_window_bits (with cfg's value when below 15) so the server may
 * lower the client's window. Returns WS_OK, WS_E_BUFFER, WS_E_INVALID (cfg->enable false
 * or out of range) or WS_E_UNSUPPORTED. */
int ws_deflate_client_offer(const ws_deflate_config *cfg, char *out, size_t cap, size_t *out_len);

/* Client: checks the server's answer (the response's headers) against the offer cfg
 * makes. Fails with WS_E_HTTP_EXTENSION (the connection must fail) when a
 * permessage-deflate answer comes although none was offered (cfg->enable false) or twice,
 * has an unknown or repeated parameter, a value on a flag, a window that is missing a value,
 * not 8..15 or written with leading zeros, a server window above cfg's when cfg's is below
 * 15, lacks server_no_context_takeover that cfg insists on, or a client window above cfg's;
 * also when the header does not parse. Other extensions are left to the handshake, which
 * refuses any that was not offered. Returns 1 with *params filled (server window 15 and
 * client window cfg's when the answer leaves them out), 0 when there is no
 * permessage-deflate answer, or WS_E_INVALID / WS_E_UNSUPPORTED. */
int ws_deflate_client_check(const ws_deflate_config *cfg, const ws_header *headers, size_t count,
                            ws_deflate_params *params);

/* The connection's use of it (ws_config.deflate). Per connection, once negotiated: a
 * receive side (zlib's inflate state and a 32 KiB window, about 40 KiB; plus a 4 KiB
 * scratch buffer for inflated chunks in streaming mode) and a send side (zlib's deflate
 * state: about 2^(window+2) + 2^(memLevel+9) bytes, 262 KiB with the defaults, 9 KiB at
 * window 8 / memLevel 1). With no context takeover a side keeps its zlib state between
 * messages (reset, not set up again) and ws_conn_tick releases it once the connection
 * has moved no message for WS_DEFLATE_IDLE_MS (ws_conn_next_deadline includes that time
 * while there is such state to release). Figures per setting: docs/deflate.md. */
#define WS_DEFLATE_IDLE_MS 2000u

/* True, with *out filled (out may be NULL), when permessage-deflate is in use on c: from
 * WS_EV_OPEN on, in both roles. */
bool ws_conn_deflate_params(const ws_conn *c, ws_deflate_params *out);

/* For a connection started with ws_conn_start_open (RFC 8441, RFC 9220) whose host
 * negotiated permessage-deflate itself: call before ws_conn_start_open on a fresh
 * connection (ws_conn_connect and ws_conn_accept then return WS_E_STATE: a handshake
 * negotiates for itself). The compressor's level and memLevel come from cfg.deflate.
 * Returns WS_OK,
 * WS_E_STATE (not fresh, or already set), WS_E_INVALID (params out of range, NULL),
 * WS_E_NOMEM, or WS_E_UNSUPPORTED (a build without zlib, or a fixed-memory connection
 * without cfg.realloc). */
int ws_conn_set_deflate(ws_conn *c, const ws_deflate_params *params);

/* What one ws_inflater_step or ws_deflater_step did, when it did not fail. */
enum {
    WS_DEFLATE_NEED_INPUT = 0, /* all input used; more is needed for more output */
    WS_DEFLATE_MORE = 1,       /* call again with the input not consumed: out is full, or
                                * (inflater) the bytes before an error come first */
    WS_DEFLATE_END = 2         /* the message is complete; the next call starts a new one */
};

/* The smallest out capacity the step functions accept. */
#define WS_DEFLATE_OUT_MIN 16

/* Receive side: turns the payload of compressed messages (RSV1) back into their bytes. */
typedef struct ws_inflater ws_inflater;

/* Creates the inflater of an endpoint of role for the agreed params: it resets per message
 * when the peer has no context takeover. It always keeps a 32 KiB window while a message is
 * inflated, whatever window the peer agreed to use: with it, a reference back past what
 * the message stream has produced fails the same way however input and output are cut
 * (zlib checks distances only against the history it holds). A message
 * inflating to more than max_message_size bytes fails (SIZE_MAX: no limit). Memory comes
 * from realloc (ud passed back), zlib's included. Returns WS_OK with *out set,
 * WS_E_INVALID (params out of range, NULL realloc), WS_E_NOMEM or WS_E_UNSUPPORTED. */
int ws_inflater_new(ws_inflater **out, const ws_deflate_params *params, ws_role role,
                    size_t max_message_size, ws_realloc_fn realloc, void *ud);

/* Inflates the next compressed bytes of the current message, in[0..in_len) (as they
 * come, split anywhere across frames), into out[0..cap) (cap >= WS_DEFLATE_OUT_MIN).
 * last says that in ends the message's compressed bytes; the 00 00 FF FF tail RFC 7692
 * §7.2.2 removes is put back internally. Sets *consumed (bytes of in used) and *produced
 * (bytes written to out) and returns WS_DEFLATE_NEED_INPUT (give the rest of the message;
 * never with last), WS_DEFLATE_MORE (call again with in + *consumed, same last) or
 * WS_DEFLATE_END (last was set and the whole message is out). Fails with
 * WS_E_MESSAGE_TOO_BIG as soon as the message's inflated size passes max_message_size,
 * WS_E_DEFLATE_DATA for data that does not inflate, or WS_E_NOMEM; these three stick:
 * the bytes before the failure are handed out first (with WS_DEFLATE_MORE; never a byte
 * past the limit), then every call fails with it, so the bytes and the verdict are the
 * same however the input is cut and whatever cap is. Not sticky: WS_E_NOMEM when zlib's
 * state could not be set up at the start of a message (nothing consumed: retry) and
 * WS_E_INVALID for bad arguments (nothing changed). Each call does work bounded by in_len
 * and cap. in may be NULL when in_len is 0. */
int ws_inflater_step(ws_inflater *z, const uint8_t *in, size_t in_len, bool last, uint8_t *out,
                     size_t cap, size_t *consumed, size_t *produced);

/* Bytes the inflater holds from the allocator now (its own state and zlib's). */
size_t ws_inflater_memory(const ws_inflater *z);

/* Releases the inflater and everything it holds. NULL is ignored. */
void ws_inflater_free(ws_inflater *z);

/* Send side: compresses messages with the agreed window and context takeover. */
typedef struct ws_deflater ws_deflater;

/* Creates the deflater of an endpoint of role for the agreed params, with cfg's level and
 * mem_level (cfg may be NULL for the defaults). Returns as ws_inflater_new. */
int ws_deflater_new(ws_deflater **out, const ws_deflate_params *params, ws_role role,
                    const ws_deflate_config *cfg, ws_realloc_fn realloc, void *ud);

/* Compresses the next bytes of the current message, in[0..in_len), into out[0..cap)
 * (cap >= WS_DEFLATE_OUT_MIN): the payload of its frames, in order. last says that in
 * ends the message: its compressed data is then flushed and the 00 00 FF FF tail removed
 * (RFC 7692 §7.2.1). A fragment that is not the last is flushed too, so what the peer
 * received can be inflated whole, except the last four bytes, held back until the next
 * call. Returns WS_DEFLATE_NEED_INPUT (never with last), WS_DEFLATE_MORE (out is
 * full: call again with in + *consumed) or WS_DEFLATE_END, with *consumed and *produced.
 * Fails with WS_E_NOMEM when zlib's state could not be set up (nothing consumed: retry),
 * WS_E_INVALID for bad arguments (nothing changed), or WS_E_STATE, sticky, if zlib ever
 * reports its state broken. in may be NULL when in_len is 0. */
int ws_deflater_step(ws_deflater *z, const uint8_t *in, size_t in_len, bool last, uint8_t *out,
                     size_t cap, size_t *consumed, size_t *produced);

/* An upper bound on the compressed size of a message of len bytes given whole (one
 * ws_deflater_step with last): the room to reserve for its frame payload. */
size_t ws_deflater_bound(size_t len);

/* Bytes the deflater holds from the allocator now. */
size_t ws_deflater_memory(const ws_deflater *z);

/* Releases the deflater. NULL is ignored. */
void ws_deflater_free(ws_deflater *z);

/* ======================================================================================
 * Ready-made policies: origin checks and token auth (docs/hooks.md)
 * ====================================================================================== */

/* Cross-site WebSocket hijacking defence: which pages may open a connection. */
typedef struct ws_origin_policy {
    /* Allowed origins, as scheme://host[:port]: "https://app.example.com",
     * "http://localhost:8080"; a host written as "*.example.com" matches any subdomain of
     * example.com, never example.com itself nor a look-alike; "null" (the literal opaque
     * origin) is rejected unless listed. */
    const char *const *allow;
    size_t allow_count;
    bool same_origin;   /* also allow an Origin with this server's scheme, host and port */
    bool secure;        /* the server is reached over TLS: same-origin expects https */
    bool allow_missing; /* allow requests without Origin (non-browser clients) */
} ws_origin_policy;

/* Defaults: nothing listed, same_origin on, secure off, allow_missing on. */
void ws_origin_policy_init(ws_origin_policy *p);

/* True when origin[0..len) matches one allow pattern (scheme and host case-insensitive,
 * default ports made explicit, "*." matching one or more whole labels). An origin (or a
 * pattern) that is not exactly scheme://host[:port] never matches: no userinfo, path,
 * query, empty label, bytes outside [A-Za-z0-9._-] or port with a leading zero; a rooted
 * name ("example.com.") matches only a pattern written the same way; IPv6 literals in
 * brackets are compared as written. Hosts follow the rules of ws_url_parse. */
bool ws_origin_match(const char *pattern, const char *origin, size_t len);

/* WS_OK, or WS_E_ORIGIN when r's Origin is not allowed by p (a repeated Origin header
 * never is); WS_E_INVALID when p or r is NULL, or allow is NULL with a count. */
int ws_origin_check(const ws_origin_policy *p, const ws_request *r);

/* True when host[0..len) (a Host value: host[:port]) matches one of hosts[0..count): an
 * entry "example.com" matches that name with any port or none, "example.com:8443" only
 * that port, "*.example.com" any subdomain (not example.com itself), "[::1]" that IPv6
 * literal; names case-insensitively, by the host rules of ws_url_parse. A host or entry
 * that does not parse never matches. */
bool ws_host_trusted(const char *const *hosts, size_t count, const char *host, size_t len);

/* A request hook (cfg.origin_hook.fn, ud = a ws_origin_policy): allow, or WS_E_ORIGIN
 * (answered 403) whenever ws_origin_check does not return WS_OK. */
int ws_origin_hook(void *policy, ws_conn *c, const ws_request *r);

/* Where a token may travel. WS_TOKEN_QUERY is visible in access logs and proxies' logs:
 * prefer the others, or short-lived single-use tickets there. */
enum {
    WS_TOKEN_BEARER = 1u,     /* Authorization: Bearer <token> */
    WS_TOKEN_COOKIE = 2u,     /* Cookie: <cookie_name>=<token> */
    WS_TOKEN_QUERY = 4u,      /* ?<query_name>=<token> */
    WS_TOKEN_SUBPROTOCOL = 8u /* Sec-WebSocket-Protocol: <prefix><token>, never echoed */
};

/* Finds a token in the first source of `sources` (bits, tried in the order above) that has
 * one. Names default to "token" and the prefix to "token." when NULL. Bearer: the first
 * Authorization header only, scheme in any case, one or more SP, then a token68; an empty
 * cookie, parameter or prefixed entry counts as absent. Returns WS_OK with *token pointing
 * into the request and *source set (source may be NULL), WS_E_AUTH_MISSING, or
 * WS_E_INVALID when r, token or token_len is NULL. */
int ws_token_find(const ws_request *r, unsigned sources, const char *cookie_name,
                  const char *query_name, const char *subprotocol_prefix, const char **token,
                  size_t *token_len, unsigned *source);

#define WS_TOKEN_SUBJECT_MAX 128
#define WS_TOKEN_MAX         256

/* Signed tokens: base64url(subject) "." expiry (decimal Unix seconds) "."
 * base64url(HMAC-SHA256(key, the two first parts and the dot between them)), no padding.
 * Any service holding the key can mint them. The subject is 1 to WS_TOKEN_SUBJECT_MAX
 * bytes without NUL. Writes the token and a NUL to out; returns WS_OK with *out_len (at
 * most WS_TOKEN_MAX, NUL excluded), WS_E_BUFFER when cap < *out_len + 1, or WS_E_INVALID
 * (no key, empty key, bad subject, out_len NULL). */
int ws_token_sign(const uint8_t *key, size_t key_len, const char *subject, size_t subject_len,
                  uint64_t expires, char *out, size_t cap, size_t *out_len);

typedef struct ws_token_claims {
    char subject[WS_TOKEN_SUBJECT_MAX + 1]; /* NUL-terminated */
    size_t subject_len;
    uint64_t expires;
} ws_token_claims;

/* Verifies a signed token against key at time now (Unix seconds), comparing the signature
 * in constant time. Only the form ws_token_sign writes is accepted: exactly two dots, no
 * padding, zero trailing bits, expiry without sign or leading zero, at most WS_TOKEN_MAX
 * bytes. Returns WS_OK with *claims filled (claims may be NULL), WS_E_AUTH_INVALID
 * (malformed, bad signature), WS_E_AUTH_EXPIRED (validly signed, now >= expiry; claims
 * untouched) or WS_E_INVALID (no key, empty key). */
int ws_token_verify(const uint8_t *key, size_t key_len, const char *token, size_t len, uint64_t now,
                    ws_token_claims *claims);

/* The ready-made auth hook's settings (cfg.auth_hook.ud). */
typedef struct ws_token_auth {
    unsigned sources;               /* WS_TOKEN_* bits; default BEARER | COOKIE */
    const char *cookie_name;        /* default "token" */
    const char *query_name;         /* default "token" */
    const char *subprotocol_prefix; /* default "token." */
    const uint8_t *key;             /* HMAC key for signed tokens, or NULL to use tickets */
    size_t key_len;
    uint64_t (*unix_time)(void *ud); /* the host's wall clock, for expiry */
    /* Single-use tickets: returns true when the ticket was valid and is now used up. */
    bool (*consume_ticket)(void *ud, const char *ticket, size_t len);
    /* Optional: called with the verified claims and the connection they are for (NULL when
     * the hook is called outside a connection). Keep what the connection needs, e.g. copy
     * the subject into your per-connection record and ws_conn_set_user(c, record); return
     * false to refuse the request with 403. The claims do not outlive the call. */
    bool (*on_claims)(void *ud, ws_conn *c, const ws_token_claims *claims);
    void *ud;
} ws_token_auth;

void ws_token_auth_init(ws_token_auth *a);

/* A request hook (cfg.auth_hook.fn, ud = a ws_token_auth). Refuses with a policy code:
 * WS_E_AUTH_MISSING (no token), WS_E_AUTH_INVALID (malformed, badly signed, an unknown or
 * used-up ticket) or WS_E_AUTH_EXPIRED, all answered 401, or WS_E_FORBIDDEN (403) when
 * on_claims refuses; with 500 when the settings cannot work (an empty key, a key without
 * unix_time, neither a key nor consume_ticket). With a key and consume_ticket both set, a
 * genuine signed token is also single-use. A ticket (at most WS_TOKEN_SUBJECT_MAX bytes)
 * becomes claims.subject, with expires 0. Runs synchronously; never WS_HOOK_PENDING. */
int ws_token_auth_hook(void *auth, ws_conn *c, const ws_request *r);

/* SHA-256 and HMAC-SHA256 (RFC 6234, RFC 2104), and a comparison whose time does not depend
 * on where the inputs differ. */
#define WS_SHA256_SIZE 32
void ws_sha256(const void *data, size_t len, uint8_t out[WS_SHA256_SIZE]);
void ws_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
                    uint8_t out[WS_SHA256_SIZE]);
bool ws_const_time_equal(const void *a, const void *b, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* WS_H */
