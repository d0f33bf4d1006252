/*
 * Close frame payloads (RFC 6455 §5.5.1, §7.4): which status codes may travel on the wire,
 * and parsing and building the 2-byte code plus UTF-8 reason.
 */
#include "ws_internal.h"

bool ws_close_code_valid(unsigned code)
{
    /* 1004 is reserved, 1005 and 1006 only ever describe a close locally, 1015 is the
     * TLS failure pseudo-code; 1016-2999 are unassigned protocol codes. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int ws_close_parse(const uint8_t *p, size_t len, uint16_t *code, const uint8_t **reason,
                   size_t *reason_len)
{
    uint16_t c;

    if (len > WS_CONTROL_PAYLOAD_MAX)
        return WS_E_CONTROL_TOO_LONG;
    if (len == 0) {
        *code = WS_CLOSE_NO_STATUS;
        *reason = p;
        *reason_len = 0;
        return WS_OK;
    }
    if (len == 1)
        return WS_E_CLOSE_PAYLOAD;
    c = (uint16_t)((p[0] << 8) | p[1]);
    if (!ws_close_code_valid(c))
        return WS_E_CLOSE_CODE;
    if (!ws_utf8_valid(p + 2, len - 2))
        return WS_E_CLOSE_REASON;
    *code = c;
    *reason = p + 2;
    *reason_len = len - 2;
    return WS_OK;
}

int ws_close_build(uint8_t out[WS_CONTROL_PAYLOAD_MAX], unsigned code, const char *reason,
                   size_t reason_len)
{
    if (code == 0 || code == WS_CLOSE_NO_STATUS)
        return reason_len == 0 ? 0 : WS_E_INVALID;
    if (!ws_close_code_valid(code) || reason_len > WS_CLOSE_REASON_MAX ||
        (reason_len != 0 && reason == NULL))
        return WS_E_INVALID;
    /* An empty reason is valid UTF-8 (and reason may then be NULL: nothing is read). */
    if (!ws_utf8_valid((const uint8_t *)reason, reason_len))
        return WS_E_INVALID_UTF8;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (reason_len != 0)
        memcpy(out + 2, reason, reason_len);
    return (int)(2 + reason_len);
}
