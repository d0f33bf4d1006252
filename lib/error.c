/*
 * Error codes as values: a message, the close code a peer is sent for a protocol error and
 * the HTTP status a client is answered with for a handshake error, all from one table.
 */
#include "ws_internal.h"

/* WS_NO_ERROR_STRINGS (meson -Derror_strings=false) keeps the codes and leaves the
 * messages out: about 2 KB less for firmware that logs numbers. */
typedef struct ws_error_info {
    int8_t code;
    uint16_t close_code;
    uint16_t http_status;
#ifndef WS_NO_ERROR_STRINGS
    const char *message;
#endif
} ws_error_info;

#ifdef WS_NO_ERROR_STRINGS
#define WS_ERROR(code, close_code, http_status, message)                                           \
    {                                                                                              \
        code, close_code, http_status                                                              \
    }
#else
#define WS_ERROR(code, close_code, http_status, message)                                           \
    {                                                                                              \
        code, close_code, http_status, message                                                     \
    }
#endif

static const ws_error_info ws_errors[] = {
    WS_ERROR(WS_OK, 0, 0, "success"),
    WS_ERROR(WS_E_AGAIN, 0, 0, "more input needed"),
    WS_ERROR(WS_E_INVALID, 0, 0, "invalid argument"),
    WS_ERROR(WS_E_NOMEM, 0, 0, "out of memory"),
    WS_ERROR(WS_E_BUFFER, 0, 0, "buffer too small"),
    WS_ERROR(WS_E_STATE, 0, 0, "not allowed in the connection's current phase"),
    WS_ERROR(WS_E_BACKPRESSURE, 0, 0, "output queue full"),
    WS_ERROR(WS_E_CLOSED, 0, 0, "connection closed"),
    WS_ERROR(WS_E_RANDOM, 0, 0, "random source failed or missing"),
    WS_ERROR(WS_E_URL, 0, 0, "invalid ws:// or wss:// URL"),
    WS_ERROR(WS_E_UNSUPPORTED, 0, 0, "not supported by this build of libws"),
    WS_ERROR(WS_E_SEND_TOO_BIG, 0, 0, "frame to send is larger than max_output"),
    WS_ERROR(WS_E_RESERVED_BITS, 1002, 0, "reserved bit set without a negotiated extension"),
    WS_ERROR(WS_E_RESERVED_OPCODE, 1002, 0, "reserved opcode"),
    WS_ERROR(WS_E_CONTROL_TOO_LONG, 1002, 0, "control frame payload longer than 125 bytes"),
    WS_ERROR(WS_E_CONTROL_FRAGMENTED, 1002, 0, "fragmented control frame"),
    WS_ERROR(WS_E_UNMASKED, 1002, 0, "unmasked frame from a client"),
    WS_ERROR(WS_E_MASKED, 1002, 0, "masked frame from a server"),
    WS_ERROR(WS_E_LENGTH_MSB, 1002, 0, "64-bit frame length with the most significant bit set"),
    WS_ERROR(WS_E_LENGTH_NONMINIMAL, 1002, 0, "frame length not in its shortest encoding"),
    WS_ERROR(WS_E_FRAME_TOO_BIG, 1009, 0, "frame larger than the configured limit"),
    WS_ERROR(WS_E_MESSAGE_TOO_BIG, 1009, 0, "message larger than the configured limit"),
    WS_ERROR(WS_E_TOO_MANY_FRAGMENTS, 1009, 0, "message split into too many fragments"),
    WS_ERROR(WS_E_UNEXPECTED_CONTINUATION, 1002, 0,
             "continuation frame without a message to continue"),
    WS_ERROR(WS_E_EXPECTED_CONTINUATION, 1002, 0, "new data frame inside a fragmented message"),
    WS_ERROR(WS_E_INVALID_UTF8, 1007, 0, "invalid UTF-8 in text"),
    WS_ERROR(WS_E_CLOSE_PAYLOAD, 1002, 0, "close frame with a 1-byte payload"),
    WS_ERROR(WS_E_CLOSE_CODE, 1002, 0, "invalid close code"),
    WS_ERROR(WS_E_EOF, 1006, 0, "transport closed without a close handshake"),
    WS_ERROR(WS_E_HANDSHAKE_TIMEOUT, 1006, 0, "opening handshake timed out"),
    WS_ERROR(WS_E_PONG_TIMEOUT, 1001, 0, "pong timeout"),
    WS_ERROR(WS_E_IDLE_TIMEOUT, 1001, 0, "idle timeout"),
    WS_ERROR(WS_E_CLOSE_TIMEOUT, 1006, 0, "close handshake timed out"),
    WS_ERROR(WS_E_CLOSE_REASON, 1007, 0, "invalid UTF-8 in close reason"),
    WS_ERROR(WS_E_DEFLATE_DATA, 1007, 0, "compressed message data is invalid"),
    WS_ERROR(WS_E_HTTP_SYNTAX, 0, 400, "malformed HTTP head"),
    WS_ERROR(WS_E_HTTP_METHOD, 0, 405, "method is not GET"),
    WS_ERROR(WS_E_HTTP_VERSION, 0, 400, "HTTP version older than 1.1"),
    WS_ERROR(WS_E_HTTP_VERSION_UNSUPPORTED, 0, 505, "HTTP major version not supported"),
    WS_ERROR(WS_E_HTTP_HOST, 0, 400, "Host header missing, repeated or invalid"),
    WS_ERROR(WS_E_HTTP_UPGRADE, 0, 400, "Upgrade header lacks \"websocket\""),
    WS_ERROR(WS_E_HTTP_CONNECTION, 0, 400, "Connection header lacks \"upgrade\""),
    WS_ERROR(WS_E_HTTP_KEY, 0, 400,
             "Sec-WebSocket-Key missing, repeated or not 16 bytes of base64"),
    WS_ERROR(WS_E_HTTP_WS_VERSION, 0, 426, "Sec-WebSocket-Version is not 13"),
    WS_ERROR(WS_E_HTTP_URI_TOO_LONG, 0, 414, "request line too long"),
    WS_ERROR(WS_E_HTTP_HEADERS_TOO_LARGE, 0, 431, "request header fields too large"),
    WS_ERROR(WS_E_HTTP_REJECTED, 0, 0, "request rejected by the host"),
    WS_ERROR(WS_E_HTTP_STATUS, 0, 0, "server answered with a status other than 101"),
    WS_ERROR(WS_E_HTTP_ACCEPT, 0, 0, "Sec-WebSocket-Accept missing or wrong"),
    WS_ERROR(WS_E_HTTP_SUBPROTOCOL, 0, 0, "subprotocol was not offered"),
    WS_ERROR(WS_E_HTTP_EXTENSION, 0, 0, "extension not offered or malformed"),
    WS_ERROR(WS_E_HTTP_MISDIRECTED, 0, 421, "Host is not one this server answers for"),
    WS_ERROR(WS_E_ORIGIN, 0, 403, "origin not allowed"),
    WS_ERROR(WS_E_AUTH_MISSING, 0, 401, "credentials missing"),
    WS_ERROR(WS_E_AUTH_INVALID, 0, 401, "credentials invalid"),
    WS_ERROR(WS_E_AUTH_EXPIRED, 0, 401, "credentials expired"),
    WS_ERROR(WS_E_FORBIDDEN, 0, 403, "not allowed"),
};

static const ws_error_info *ws_error_lookup(int err)
{
    size_t i;
    for (i = 0; i < sizeof ws_errors / sizeof ws_errors[0]; i++) {
        if (ws_errors[i].code == err)
            return &ws_errors[i];
    }
    return NULL;
}

const char *ws_strerror(int err)
{
#ifdef WS_NO_ERROR_STRINGS
    return err == WS_OK ? "success" : "error (messages not built in: see the WS_E_* code)";
#else
    const ws_error_info *e = ws_error_lookup(err);
    return e ? e->message : "unknown error";
#endif
}

uint16_t ws_error_close_code(int err)
{
    const ws_error_info *e = ws_error_lookup(err);
    return e ? e->close_code : 0;
}

int ws_error_http_status(int err)
{
    const ws_error_info *e = ws_error_lookup(err);
    return e ? e->http_status : 0;
}
