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

WS_INTERNAL_END

#endif /* WS_DEFLATE_H */
