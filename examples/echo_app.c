/*
 * The echo servers' shared part: command line, libws settings, and the handling of each
 * event (accept, echo chunk by chunk as fragments of the same message, log).
 */
#include "echo_app.h"

#include <stdlib.h>
#include <string.h>

#define SEND_PIECE (64u * 1024u) /* largest fragment queued with one call */

static void usage(FILE *out, const char *prog, bool tls, const ex_echo_usage *own)
{
    fprintf(out,
            "usage: %s [--host HOST] [--port PORT] [--max-message BYTES]%s [--verbose]%s\n"
            "  --host HOST          address to listen on (default 127.0.0.1)\n"
            "  --port PORT          port (default 9001; 0 picks a free one)\n"
            "  --max-message BYTES  largest message and frame accepted (default 16M)\n",
            prog, tls ? " [--cert FILE --key FILE]" : "", own ? own->synopsis : "");
    if (tls)
        fprintf(out, "  --cert FILE          serve wss://: certificate chain (PEM)\n"
                     "  --key FILE           and its private key (PEM)\n");
    fprintf(out, "  --verbose            log each connection's open and close to stderr\n");
    if (own)
        fputs(own->help, out);
    ex_deflate_usage(out);
    ex_trusted_usage(out);
    ex_limits_usage(out);
}

int ex_echo_parse(const char *prog, bool tls, const ex_echo_usage *own, int argc, char **argv,
                  ex_echo_opts *o)
{
    int i, rc;

    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 9001;
    o->max_message = 16u * 1024u * 1024u;
    ex_deflate_init(&o->deflate);
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout, prog, tls, own);
            exit(0);
        } else if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
            o->verbose = true;
        } else if (strcmp(arg, "--host") == 0 && val != NULL) {
            o->host = val;
            i++;
        } else if (strcmp(arg, "--port") == 0 && val != NULL) {
            unsigned long p = strtoul(val, &end, 10);
            if (*val == '\0' || *end != '\0' || p > 65535)
                break;
            o->port = (unsigned)p;
            i++;
        } else if (tls && (strcmp(arg, "--cert") == 0 || strcmp(arg, "--key") == 0) &&
                   val != NULL) {
            *(arg[2] == 'c' ? &o->cert : &o->key) = val;
            i++;
        } else if (strcmp(arg, "--max-message") == 0 && val != NULL) {
            if (!ex_parse_size(val, &o->max_message))
                break;
            i++;
        } else if ((rc = ex_deflate_arg(&o->deflate, arg, val)) != 0) {
            if (rc < 0)
                break;
            i += rc - 1;
        } else if ((rc = ex_limits_arg(&o->limits, arg, val)) != 0 ||
                   (rc = ex_trusted_arg(&o->trusted, arg, val)) != 0) {
            if (rc < 0)
                break;
            i++;
        } else {
            break;
        }
    }
    if (i < argc || (o->cert == NULL) != (o->key == NULL)) {
        usage(stderr, prog, tls, own);
        return -1;
    }
    return 0;
}

int ex_echo_config(ex_echo_opts *o, ws_config *cfg, size_t *piece)
{
    ws_config_init(cfg, WS_ROLE_SERVER);
    cfg->max_message_size = o->max_message;
    cfg->max_frame_size = o->max_message;
    cfg->whole_messages = false; /* stream: echo each chunk as it arrives */
    cfg->realloc = ex_realloc;
    ex_deflate_apply(&o->deflate, cfg); /* on unless --no-deflate */
    ex_limits_apply(&o->limits, cfg);   /* --max-frame etc. over the defaults above */
    ex_trusted_apply(&o->trusted, o->host, cfg);
    if (ws_conn_storage_size(cfg) == 0) {
        fprintf(stderr, "echo server: those limits make no valid configuration\n");
        return -1;
    }
    /* Fragments small enough that one always fits in an empty output queue. */
    *piece = cfg->max_output / 2 < SEND_PIECE ? cfg->max_output / 2 : SEND_PIECE;
    return 0;
}

void ex_echo_announce(const char *host, unsigned port)
{
    bool v6 = strchr(host, ':') != NULL;
    printf("listening on %s%s%s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "", port);
    fflush(stdout);
}

static void log_closed(const ex_echo *e, const ws_event *ev)
{
    fprintf(stderr, "[%s] closed: %u%s%.*s", e->peer, (unsigned)ev->close_code,
            ev->reason_len > 0 ? " " : "", (int)ev->reason_len,
            ev->reason != NULL ? ev->reason : "");
    if (ev->error != WS_OK)
        fprintf(stderr, " (%s)", ws_strerror(ev->error));
    if (ev->http_status != 0)
        fprintf(stderr, " (HTTP %d)", ev->http_status);
    fprintf(stderr, "\n");
}

bool ex_echo_event(ex_echo *e, ws_conn *ws, const ws_event *ev)
{
    switch (ev->type) {
    case WS_EV_REQUEST:
        /* Every request is welcome; a real server would check Origin or a token here. */
        if (ws_conn_accept(ws, NULL) != WS_OK)
            ws_conn_reject(ws, 500, NULL, 0, NULL, 0);
        break;
    case WS_EV_OPEN:
        if (e->verbose) {
            const ws_request *req = ws_conn_request(ws);
            char deflate[160];
            ex_deflate_describe(ws, deflate, sizeof deflate);
            fprintf(stderr, "[%s] open %.*s (%s)\n", e->peer,
                    req != NULL ? (int)req->target_len : 0, req != NULL ? req->target : "",
                    deflate);
        }
        break;
    case WS_EV_CHUNK:
    case WS_EV_MESSAGE:
        /* Echo the chunk as a fragment of the same message. */
        ex_pending_set(&e->echo, (uint8_t)ev->opcode, ev->data, ev->len,
                       ev->type == WS_EV_MESSAGE || ev->message_final, e->piece);
        return ex_echo_retry(e, ws);
    case WS_EV_CLOSED:
        if (e->verbose)
            log_closed(e, ev);
        break;
    case WS_EV_NONE:
    case WS_EV_HTTP_REQUEST: /* only with cfg.http_requests, which is off here */
    case WS_EV_PING:         /* answered by libws (auto_pong) */
    case WS_EV_PONG:
    case WS_EV_CLOSE: /* libws answers with the peer's code; WS_EV_CLOSED follows */
        break;
    }
    return false;
}

bool ex_echo_retry(ex_echo *e, ws_conn *ws)
{
    /* Any failure but backpressure means the connection is closing: the echo is dropped. */
    return e->echo.active && ex_pending_send(&e->echo, ws) == WS_E_BACKPRESSURE;
}

void ex_echo_log(const ex_echo *e, const char *what)
{
    if (e->verbose)
        fprintf(stderr, "[%s] %s\n", e->peer, what);
}

void ex_echo_free(ex_echo *e)
{
    ex_pending_free(&e->echo);
}

ex_echo_client *ex_echo_client_new(ex_echo_client **list, size_t piece, bool verbose)
{
    ex_echo_client *cl = calloc(1, sizeof *cl);

    if (cl == NULL)
        return NULL;
    cl->echo.piece = piece;
    cl->echo.verbose = verbose;
    cl->next = *list;
    if (cl->next != NULL)
        cl->next->prev = cl;
    *list = cl;
    return cl;
}

void ex_echo_client_free(ex_echo_client **list, ex_echo_client *cl)
{
    if (cl->prev != NULL)
        cl->prev->next = cl->next;
    else
        *list = cl->next;
    if (cl->next != NULL)
        cl->next->prev = cl->prev;
    ex_echo_free(&cl->echo);
    free(cl);
}
