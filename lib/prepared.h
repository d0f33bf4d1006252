/*
 * Prepared messages (prepared.c) as the send path sees them: the shared frame, its payload,
 * and the reference count each queue that holds the frame takes.
 */
#ifndef WS_PREPARED_H
#define WS_PREPARED_H

#include "outq.h"
#include "ws_internal.h"

WS_INTERNAL_BEGIN

uint8_t ws_prepared_opcode(const ws_prepared *pm);
/* Whether pm's compressed form may go out on a connection with the agreed params p, from
 * the client (client) or the server end. */
bool ws_prepared_fits(const ws_prepared *pm, const ws_deflate_params *p, bool client);
/* The payload of the plain or (when fits) the compressed form. */
const uint8_t *ws_prepared_payload(const ws_prepared *pm, bool compressed, size_t *len);
/* The whole server-role frame of that form, as a reference that drops one hold when
 * consumed. */
void ws_prepared_wire(ws_prepared *pm, bool compressed, ws_outq_ref *ref);
/* One more holder (a queue); released through the reference's done. */
void ws_prepared_hold(ws_prepared *pm);

WS_INTERNAL_END

#endif /* WS_PREPARED_H */
