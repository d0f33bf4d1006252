/*
 * Private pieces shared by the permessage-deflate sources: the range checks that the
 * negotiation (deflate_negotiate.c) and the data path (deflate.c) both apply.
 */
#ifndef WS_DEFLATE_H
#define WS_DEFLATE_H

#include "ws_internal.h"

WS_INTERNAL_BEGIN

#define WS_DEFLATE_WBITS_MIN 8
#define WS_DEFLATE_WBITS_MAX 15

/* True when every window is 8..15. */
bool ws_deflate_params_valid(const ws_deflate_params *p);

/* True when windows, level and mem_level are in range. */
bool ws_deflate_config_valid(const ws_deflate_config *cfg);

/* Writes the agreed params as a Sec-WebSocket-Extensions element (windows of 15 left out,
 * NUL-terminated): how the connection reports them in WS_EV_OPEN. */
int ws_deflate_params_write(const ws_deflate_params *p, char *out, size_t cap, size_t *out_len);

/* Release zlib's state of a codec whose every message starts afresh (no context
 * takeover), when it is between messages: the connection calls them once it is idle.
 * Return true when something was released. */
bool ws_inflater_trim(ws_inflater *z);
bool ws_deflater_trim(ws_deflater *z);
/* Whether the trim functions would release something now. */
bool ws_inflater_can_trim(const ws_inflater *z);
bool ws_deflater_can_trim(const ws_deflater *z);

/* A whole message was compressed but could not be sent: drop the history it left, so the
 * next message refers to nothing the peer has not seen. No-op in the middle of a message. */
void ws_deflater_forget(ws_deflater *z);

WS_INTERNAL_END

#endif /* WS_DEFLATE_H */
