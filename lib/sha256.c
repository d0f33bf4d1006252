/* placeholder until the layer lands */
#include "ws_internal.h"
extern int ws_placeholder_sha256;
