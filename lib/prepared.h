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
const uint8_t *ws_prepared_payload(const ws_prepared *pm, size_t *len);
/* The whole server-role frame, as a reference that drops one hold when consumed. */
void ws_prepared_wire(ws_prepared *pm, ws_outq_ref *ref);
/* One more holder (a queue); released through the reference's done. */
void ws_prepared_hold(ws_prepared *pm);

WS_INTERNAL_END

#endif /* WS_PREPARED_H */
