/*
 * Helpers shared by the example programs: what a host supplies to libws (randomness, an
 * allocator) and the I/O glue around a connection (writing its output, sending a message
 * that may have to wait for the output queue to drain, ending the TCP stream gracefully).
 */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H

#include "ws.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ws_random_fn over getrandom(2). */
int ex_random(void *ud, uint8_t *buf, size_t len);

/* ws_realloc_fn over realloc/free. */
void *ex_realloc(void *ud, void *ptr, size_t size);

/* Puts fd in non-blocking mode; returns 0 or -1 with errno set. */
int ex_set_nonblocking(int fd);

/* Parses a decimal byte count ("16777216", or with a K/M/G suffix: "16M"). Returns false
 * when s is not a positive number that fits in a size_t. */
bool ex_parse_size(const char *s, size_t *out);

/* Writes as much of c's output to the socket fd as it takes without blocking. Returns the
 * number of bytes written (0 when none could be), or -1 when the socket failed (errno). */
long ex_flush(int fd, ws_conn *c);

/* True when c has output waiting to be written. */
bool ex_has_output(const ws_conn *c);

/*
 * The lingering close. Once a connection is over and all its output written, a host calls
 * shutdown(fd, SHUT_WR) (the peer reads our last frames, then end of stream) and keeps
 * reading until the peer ends its side too, or a deadline passes, before close(fd). Closed
 * at once with input still unread, the socket would be reset, and a peer that was still
 * sending could lose our close frame before reading it.
 *
 * ex_drain reads from the non-blocking socket fd and throws the bytes away, until it would
 * block or about a megabyte went by (so a fast sender cannot hold an event loop). Returns
 * true when the stream ended (end of stream, or the socket failed): fd may be closed now.
 */
bool ex_drain(int fd);

/*
 * One outgoing message (or one piece of a message) that may have to wait. It is sent as
 * fragments of at most `piece` bytes, so a message larger than the connection's output
 * queue still goes out. While the queue is full the unsent rest is copied into storage the
 * helper owns, because libws only promises an event's data until the next call on the
 * connection.
 */
typedef struct ex_pending {
    bool active;
    uint8_t opcode;      /* WS_OP_TEXT or WS_OP_BINARY */
    bool final;          /* the last byte ends the message */
    const uint8_t *data; /* the bytes still to send: borrowed, or in own */
    size_t len;
    size_t piece;
    uint8_t *own;
    size_t own_cap;
} ex_pending;

/* Starts sending data[0..len) as (part of) a message of type opcode, fragments of at most
 * piece bytes. data is only borrowed until ex_pending_send returns. */
void ex_pending_set(ex_pending *p, uint8_t opcode, const uint8_t *data, size_t len, bool final,
                    size_t piece);

/* Queues as much as the connection accepts. Returns WS_OK when everything is queued (the
 * helper is then inactive), WS_E_BACKPRESSURE when the rest waits for the output to drain
 * (call again after writing), or another WS_E_* error from the send (the rest is dropped). */
int ex_pending_send(ex_pending *p, ws_conn *c);

void ex_pending_free(ex_pending *p);

/* A non-blocking listening TCP socket on host:port; port 0 picks a free one and
 * *bound_port tells which. Prints why it failed (prefixed with prog) and returns -1. */
int ex_listen(const char *prog, const char *host, unsigned port, unsigned *bound_port);

/* ex_listen with SO_REUSEPORT: several sockets (one per event loop) listen on the same port
 * and the kernel spreads the incoming connections among them. */
int ex_listen_shared(const char *prog, const char *host, unsigned port, unsigned *bound_port);

/* ex_accept's answers besides a descriptor. */
enum { EX_ACCEPT_NONE = -1, EX_ACCEPT_FULL = -2 };

/* Takes one pending connection from a non-blocking listener: the socket is non-blocking,
 * close-on-exec and has TCP_NODELAY (frames are small; latency matters), and peer receives
 * its numeric "host:port". Returns the descriptor, EX_ACCEPT_NONE when nothing is pending,
 * or EX_ACCEPT_FULL when the process is out of descriptors or memory (printed, prefixed
 * with prog): a level-triggered loop then stops watching the listener until one closes. */
int ex_accept(const char *prog, int listen_fd, char *peer, size_t peer_len);

/* Blocks SIGINT and SIGTERM and returns a descriptor that reads them instead (signalfd), so
 * the event loop handles them like any other input. */
int ex_signals_fd(void);

/*
 * Every libws limit as a command-line flag (--max-frame, --max-message, --max-fragments,
 * --max-output, --max-head, --max-headers, --max-request-line, --max-header-line,
 * --handshake-timeout, --close-timeout, --idle-timeout), shared by the example programs.
 * Flags are collected while the command line is read and applied over the program's own
 * settings once its ws_config is filled. 0 turns a limit off where libws allows it.
 */
#define EX_LIMIT_FLAGS 11
typedef struct ex_limits {
    bool set[EX_LIMIT_FLAGS];
    size_t value[EX_LIMIT_FLAGS];
} ex_limits;

/* Returns 1 when arg is a limit flag (val taken), 0 when it is not one, -1 when val is
 * missing or not a number (sizes take a K/M/G suffix). */
int ex_limits_arg(ex_limits *l, const char *arg, const char *val);
void ex_limits_apply(const ex_limits *l, ws_config *cfg);
void ex_limits_usage(FILE *out);

/*
 * Trusted hosts (docs/hooks.md, DNS rebinding): --trusted-host NAME (repeatable). A server
 * listening on an address that is not loopback answers only for the names given plus the
 * address itself and localhost; one on loopback only checks when names were given.
 */
#define EX_TRUSTED_MAX 16
typedef struct ex_trusted {
    const char *names[EX_TRUSTED_MAX + 4];
    size_t count;
    char listen_name[64]; /* the listen address, bracketed when IPv6 */
} ex_trusted;

/* Returns 1 when arg is --trusted-host (val taken), 0 when it is not, -1 on a bad value. */
int ex_trusted_arg(ex_trusted *t, const char *arg, const char *val);
/* Sets cfg's trusted host list as described above; t must outlive the connections. */
void ex_trusted_apply(ex_trusted *t, const char *listen_host, ws_config *cfg);
void ex_trusted_usage(FILE *out);

#endif /* EXAMPLES_COMMON_H */
