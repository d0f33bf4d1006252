/*
 * What the echo servers share, whatever loop drives them (echo-server: epoll,
 * uv-echo-server: libuv, event-echo-server: libevent): the command line, the libws settings
 * and what to do with each event. The loop only moves bytes and time.
 */
#ifndef EXAMPLES_ECHO_APP_H
#define EXAMPLES_ECHO_APP_H

#include "common.h"
#include "deflate_flags.h"
#include "ws.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define EX_ECHO_SHUTDOWN_REASON "server shutting down"

typedef struct ex_echo_opts {
    const char *host; /* default 127.0.0.1 */
    unsigned port;    /* default 9001; 0 picks a free one */
    size_t max_message;
    bool verbose;
    const char *cert, *key; /* wss:// when both are given */
    ex_limits limits;       /* --max-frame, --max-fragments ... over the defaults */
    ex_trusted trusted;     /* --trusted-host */
    ex_deflate deflate;     /* --no-deflate, the permessage-deflate parameters */
} ex_echo_opts;

/* Options a program takes on top of the shared ones (taken out of argv before parsing),
 * for its usage: appended to the synopsis line, and help lines to print after the others. */
typedef struct ex_echo_usage {
    const char *synopsis; /* " [--threads N]" */
    const char *help;     /* "  --threads N ...\n" */
} ex_echo_usage;

/* Parses the command line shared by the echo servers. Prints the usage and exits on
 * --help; returns -1 (usage printed to stderr) on a bad argument. tls says whether --cert
 * and --key are offered by this program; own (may be NULL) lists its own options. */
int ex_echo_parse(const char *prog, bool tls, const ex_echo_usage *own, int argc, char **argv,
                  ex_echo_opts *o);

/* The server configuration for o: streaming (each chunk echoed as it arrives), limits from
 * --max-message and the limit flags, trusted hosts (on by default on a non-loopback
 * address). *piece receives the largest fragment to queue at once, small enough to always
 * fit in an empty output queue. Returns -1 (said on stderr) when the limits make no valid
 * configuration. o keeps the trusted host list: it must outlive the connections. */
int ex_echo_config(ex_echo_opts *o, ws_config *cfg, size_t *piece);

/* Prints "listening on HOST:PORT" to stdout (the tests read it) and flushes. */
void ex_echo_announce(const char *host, unsigned port);

/* One connection's echo state. */
typedef struct ex_echo {
    ex_pending echo; /* the chunk being echoed */
    size_t piece;
    bool verbose;
    char peer[80];
} ex_echo;

/* Handles one event: accepts every upgrade request, logs open and close with --verbose,
 * echoes chunks. Returns true when the echo waits for room in the output queue: no further
 * event may be pulled until ex_echo_retry returns false (ev's data was copied if needed). */
bool ex_echo_event(ex_echo *e, ws_conn *ws, const ws_event *ev);

/* Queues more of a waiting echo once output was written; true while it still waits. */
bool ex_echo_retry(ex_echo *e, ws_conn *ws);

/* Logs "[peer] timed out ..." with --verbose: why a connection was dropped by its loop. */
void ex_echo_log(const ex_echo *e, const char *what);

void ex_echo_free(ex_echo *e);

/* A server's list of connections, for the servers whose loop glue owns the connection
 * (uv-echo-server, event-echo-server): the echo state and the glue's handle. */
typedef struct ex_echo_client {
    struct ex_echo_client *prev, *next;
    void *conn; /* the glue's connection (ws_uv *, ws_levent *), set by the server */
    ex_echo echo;
} ex_echo_client;

/* A new client at the head of *list; NULL when out of memory. */
ex_echo_client *ex_echo_client_new(ex_echo_client **list, size_t piece, bool verbose);

/* Takes cl off *list and frees it. */
void ex_echo_client_free(ex_echo_client **list, ex_echo_client *cl);

#endif /* EXAMPLES_ECHO_APP_H */
