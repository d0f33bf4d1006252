/*
 * permessage-deflate on the examples' command lines (docs/deflate.md). The example servers
 * and ws-client turn compression on by default (the library leaves it off) when the build
 * has zlib; --no-deflate turns it off, and the RFC 7692 parameters have a flag each.
 */
#ifndef EXAMPLES_DEFLATE_FLAGS_H
#define EXAMPLES_DEFLATE_FLAGS_H

#include "ws.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ex_deflate {
    bool off;                   /* --no-deflate */
    uint8_t server_window_bits; /* --server-max-window-bits N; 0: the library's default */
    uint8_t client_window_bits; /* --client-max-window-bits N */
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    int level; /* --deflate-level N; -1: the library's default */
} ex_deflate;

/* Sets d to the examples' default: compression on, the library's settings. */
void ex_deflate_init(ex_deflate *d);

/* Returns 2 when arg is a deflate flag that took val, 1 when it is one without a value,
 * 0 when it is not one, -1 when val is missing or out of range. */
int ex_deflate_arg(ex_deflate *d, const char *arg, const char *val);

/* Fills cfg->deflate from d (after cfg's limits are set, before ex_limits_apply).
 * Compression stays off when this build has no zlib. With it on, max_frame_size is raised
 * to ws_deflater_bound(max_message_size) when below: a message that does not compress
 * grows a little on the wire. */
void ex_deflate_apply(const ex_deflate *d, ws_config *cfg);

void ex_deflate_usage(FILE *out);

/* What c negotiated, for a log line: "permessage-deflate: server_max_window_bits=15
 * client_max_window_bits=15" and the no-context-takeover flags agreed, or "compression:
 * off". */
void ex_deflate_describe(const ws_conn *c, char *buf, size_t cap);

#endif /* EXAMPLES_DEFLATE_FLAGS_H */
