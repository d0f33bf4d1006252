/*
 * The permessage-deflate flags shared by the example programs, and the line that says what
 * a connection negotiated.
 */
#include "deflate_flags.h"

#include <stdlib.h>
#include <string.h>

void ex_deflate_init(ex_deflate *d)
{
    memset(d, 0, sizeof *d);
    d->level = -1;
}

/* A decimal number in lo..hi. */
static bool small_number(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int ex_deflate_arg(ex_deflate *d, const char *arg, const char *val)
{
    long v;

    if (strcmp(arg, "--no-deflate") == 0) {
        d->off = true;
        return 1;
    }
    if (strcmp(arg, "--server-no-context-takeover") == 0) {
        d->server_no_context_takeover = true;
        return 1;
    }
    if (strcmp(arg, "--client-no-context-takeover") == 0) {
        d->client_no_context_takeover = true;
        return 1;
    }
    if (strcmp(arg, "--server-max-window-bits") == 0 ||
        strcmp(arg, "--client-max-window-bits") == 0) {
        if (!small_number(val, 8, 15, &v))
            return -1;
        *(arg[2] == 's' ? &d->server_window_bits : &d->client_window_bits) = (uint8_t)v;
        return 2;
    }
    if (strcmp(arg, "--deflate-level") == 0) {
        if (!small_number(val, 0, 9, &v))
            return -1;
        d->level = (int)v;
        return 2;
    }
    return 0;
}

void ex_deflate_apply(const ex_deflate *d, ws_config *cfg)
{
    ws_deflate_config *z = &cfg->deflate;

    ws_deflate_config_init(z);
    z->enable = !d->off && ws_deflate_available();
    if (d->server_window_bits != 0)
        z->server_max_window_bits = d->server_window_bits;
    if (d->client_window_bits != 0)
        z->client_max_window_bits = d->client_window_bits;
    z->server_no_context_takeover = d->server_no_context_takeover;
    z->client_no_context_takeover = d->client_no_context_takeover;
    if (d->level >= 0)
        z->level = d->level;
    /* max_frame_size bounds the bytes on the wire, and data that does not compress grows a
     * little when compressed: let a frame carry the compressed form of the largest message
     * (the message limit still applies to the inflated bytes). */
    if (z->enable && cfg->max_frame_size != 0 && cfg->max_message_size != 0 &&
        cfg->max_message_size <= SIZE_MAX / 2 &&
        cfg->max_frame_size < ws_deflater_bound((size_t)cfg->max_message_size))
        cfg->max_frame_size = ws_deflater_bound((size_t)cfg->max_message_size);
}

void ex_deflate_usage(FILE *out)
{
    fprintf(out,
            "  --no-deflate           no permessage-deflate (on by default when built with zlib)\n"
            "  --server-max-window-bits N  8..15: the largest window the server's compressor\n"
            "                         may use (default 15)\n"
            "  --client-max-window-bits N  8..15: the same for the client's compressor\n"
            "  --server-no-context-takeover  the server compresses each message afresh\n"
            "  --client-no-context-takeover  the client does\n"
            "  --deflate-level N      zlib level of this side's compressor, 0..9 (default 6)\n");
}

void ex_deflate_describe(const ws_conn *c, char *buf, size_t cap)
{
    ws_deflate_params p;

    if (!ws_conn_deflate_params(c, &p)) {
        snprintf(buf, cap, "compression: off");
        return;
    }
    snprintf(buf, cap,
             "permessage-deflate: server_max_window_bits=%u client_max_window_bits=%u%s%s",
             (unsigned)p.server_max_window_bits, (unsigned)p.client_max_window_bits,
             p.server_no_context_takeover ? " server_no_context_takeover" : "",
             p.client_no_context_takeover ? " client_no_context_takeover" : "");
}
