/*
 * Error codes as values: a message, the close code a peer is sent for a protocol error and
 * the HTTP status a client is answered with for a handshake error, all from one table.
 */
#include "ws_internal.h"

/* Every code: X(code, close code, HTTP status, message). */
#define WS_ERROR_LIST(X)                                                                           \
    X(WS_OK, 0, 0, "success")                                                                      \
    X(WS_E_AGAIN, 0, 0, "more input needed")                                                       \
    X(WS_E_INVALID, 0, 0, "invalid argument")                                                      \
    X(WS_E_NOMEM, 0, 0, "out of memory")                                                           \
    X(WS_E_BUFFER, 0, 0, "buffer too small")                                                       \
    X(WS_E_STATE, 0, 0, "not allowed in the connection's current phase")                           \
    X(WS_E_BACKPRESSURE, 0, 0, "output queue full")                                                \
    X(WS_E_CLOSED, 0, 0, "connection closed")                                                      \
    X(WS_E_RANDOM, 0, 0, "random source failed or missing")                                        \
    X(WS_E_URL, 0, 0, "invalid ws:// or wss:// URL")                                               \
    X(WS_E_UNSUPPORTED, 0, 0, "not supported by this build of libws")                              \
    X(WS_E_SEND_TOO_BIG, 0, 0, "frame to send is larger than max_output")                          \
    X(WS_E_RESERVED_BITS, 1002, 0, "reserved bit set without a negotiated extension")              \
    X(WS_E_RESERVED_OPCODE, 1002, 0, "reserved opcode")                                            \
    X(WS_E_CONTROL_TOO_LONG, 1002, 0, "control frame payload longer than 125 bytes")               \
    X(WS_E_CONTROL_FRAGMENTED, 1002, 0, "fragmented control frame")                                \
    X(WS_E_UNMASKED, 1002, 0, "unmasked frame from a client")                                      \
    X(WS_E_MASKED, 1002, 0, "masked frame from a server")                                          \
    X(WS_E_LENGTH_MSB, 1002, 0, "64-bit frame length with the most significant bit set")           \
    X(WS_E_LENGTH_NONMINIMAL, 1002, 0, "frame length not in its shortest encoding")                \
    X(WS_E_FRAME_TOO_BIG, 1009, 0, "frame larger than the configured limit")                       \
    X(WS_E_MESSAGE_TOO_BIG, 1009, 0, "message larger than the configured limit")                   \
    X(WS_E_TOO_MANY_FRAGMENTS, 1009, 0, "message split into too many fragments")                   \
    X(WS_E_UNEXPECTED_CONTINUATION, 1002, 0, "continuation frame without a message to continue")   \
    X(WS_E_EXPECTED_CONTINUATION, 1002, 0, "new data frame inside a fragmented message")           \
    X(WS_E_INVALID_UTF8, 1007, 0, "invalid UTF-8 in text")                                         \
    X(WS_E_CLOSE_PAYLOAD, 1002, 0, "close frame with a 1-byte payload")                            \
    X(WS_E_CLOSE_CODE, 1002, 0, "invalid close code")                                              \
    X(WS_E_EOF, 1006, 0, "transport closed without a close handshake")                             \
    X(WS_E_HANDSHAKE_TIMEOUT, 1006, 0, "opening handshake timed out")                              \
    X(WS_E_PONG_TIMEOUT, 1001, 0, "pong timeout")                                                  \
    X(WS_E_IDLE_TIMEOUT, 1001, 0, "idle timeout")                                                  \
    X(WS_E_CLOSE_TIMEOUT, 1006, 0, "close handshake timed out")                                    \
    X(WS_E_CLOSE_REASON, 1007, 0, "invalid UTF-8 in close reason")                                 \
    X(WS_E_DEFLATE_DATA, 1007, 0, "compressed message data is invalid")                            \
    X(WS_E_HTTP_SYNTAX, 0, 400, "malformed HTTP head")                                             \
    X(WS_E_HTTP_METHOD, 0, 405, "method is not GET")                                               \
    X(WS_E_HTTP_VERSION, 0, 400, "HTTP version older than 1.1")                                    \
    X(WS_E_HTTP_VERSION_UNSUPPORTED, 0, 505, "HTTP major version not supported")                   \
    X(WS_E_HTTP_HOST, 0, 400, "Host header missing, repeated or invalid")                          \
    X(WS_E_HTTP_UPGRADE, 0, 400, "Upgrade header lacks \"websocket\"")                             \
    X(WS_E_HTTP_CONNECTION, 0, 400, "Connection header lacks \"upgrade\"")                         \
    X(WS_E_HTTP_KEY, 0, 400, "Sec-WebSocket-Key missing, repeated or not 16 bytes of base64")      \
    X(WS_E_HTTP_WS_VERSION, 0, 426, "Sec-WebSocket-Version is not 13")                             \
    X(WS_E_HTTP_URI_TOO_LONG, 0, 414, "request line too long")                                     \
    X(WS_E_HTTP_HEADERS_TOO_LARGE, 0, 431, "request header fields too large")                      \
    X(WS_E_HTTP_REJECTED, 0, 0, "request rejected by the host")                                    \
    X(WS_E_HTTP_STATUS, 0, 0, "server answered with a status other than 101")                      \
    X(WS_E_HTTP_ACCEPT, 0, 0, "Sec-WebSocket-Accept missing or wrong")                             \
    X(WS_E_HTTP_SUBPROTOCOL, 0, 0, "subprotocol was not offered")                                  \
    X(WS_E_HTTP_EXTENSION, 0, 0, "extension not offered or malformed")                             \
    X(WS_E_HTTP_MISDIRECTED, 0, 421, "Host is not one this server answers for")                    \
    X(WS_E_ORIGIN, 0, 403, "origin not allowed")                                                   \
    X(WS_E_AUTH_MISSING, 0, 401, "credentials missing")                                            \
    X(WS_E_AUTH_INVALID, 0, 401, "credentials invalid")                                            \
    X(WS_E_AUTH_EXPIRED, 0, 401, "credentials expired")                                            \
    X(WS_E_FORBIDDEN, 0, 403, "not allowed")

/* The close codes and HTTP statuses the list uses, each by its index in one table: the close
 * codes first, then the statuses (their 0 too), sixteen in all. */
enum { WS_CC_0, WS_CC_1001, WS_CC_1002, WS_CC_1006, WS_CC_1007, WS_CC_1009 };
enum {
    WS_ST_0 = WS_CC_1009 + 1,
    WS_ST_400,
    WS_ST_401,
    WS_ST_403,
    WS_ST_405,
    WS_ST_414,
    WS_ST_421,
    WS_ST_426,
    WS_ST_431,
    WS_ST_505
};
static const uint16_t ws_error_values[] = {0,   1001, 1002, 1006, 1007, 1009, 0,   400,
                                           401, 403,  405,  414,  421,  426,  431, 505};
typedef char ws_error_values_fit[WS_ST_505 <= 15 ? 1 : -1];

/* One byte a code, indexed by -code: the close code's index in the high nibble, the
 * status's in the low one (a byte of 0, for codes left unused, gives 0 for both). */
#define WS_CLASS(code, close_code, http_status, message)                                           \
    [-(code)] = (uint8_t)(WS_CC_##close_code << 4 | WS_ST_##http_status),
static const uint8_t ws_error_class[] = {WS_ERROR_LIST(WS_CLASS)};
#define WS_ERROR_COUNT (sizeof ws_error_class / sizeof ws_error_class[0])

/* WS_NO_ERROR_STRINGS (meson -Derror_strings=false) keeps the codes and leaves the
 * messages out: about 2 KB less for firmware that logs numbers. */
#ifndef WS_NO_ERROR_STRINGS
#define WS_MESSAGE(code, close_code, http_status, message) [-(code)] = message,
static const char *const ws_messages[WS_ERROR_COUNT] = {WS_ERROR_LIST(WS_MESSAGE)};
#endif

/* Out of line: inlined into both callers (as gcc -Os does), it is larger. */
#if defined(__GNUC__) || defined(__clang__)
#define WS_ERROR_NOINLINE __attribute__((noinline))
#else
#define WS_ERROR_NOINLINE
#endif

/* The close code (shift 4) or HTTP status (shift 0) of err: 0 for a value that is no code. */
WS_ERROR_NOINLINE static unsigned ws_error_value(int err, unsigned shift)
{
    unsigned cls = err <= 0 && err > -(int)WS_ERROR_COUNT ? ws_error_class[-err] : 0u;

    return ws_error_values[(cls >> shift) & 15u];
}

const char *ws_strerror(int err)
{
#ifdef WS_NO_ERROR_STRINGS
    return err == WS_OK ? "success" : "error (messages not built in: see the WS_E_* code)";
#else
    const char *m = err <= 0 && err > -(int)WS_ERROR_COUNT ? ws_messages[-err] : NULL;
    return m != NULL ? m : "unknown error";
#endif
}

uint16_t ws_error_close_code(int err)
{
    return (uint16_t)ws_error_value(err, 4);
}

int ws_error_http_status(int err)
{
    return (int)ws_error_value(err, 0);
}
