/*
 * Helpers shared by the libFuzzer harnesses: reading choices out of the fuzz input, split
 * plans, a deterministic random source, a counting allocator, reference checks (UTF-8,
 * close payloads) and the two checkers every connection harness runs (events, output).
 */
#ifndef WS_FUZZ_H
#define WS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws.h"

/* The libFuzzer entry point every harness defines; replay.c calls it too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed invariant: prints where and why, then aborts so libFuzzer saves the input and
 * a replay test fails. */
void fz_fail(const char *file, int line, const char *what);

#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(__FILE__, __LINE__, #cond);                                                    \
    } while (0)

/* ---- reading the fuzz input ------------------------------------------------------------ */

typedef struct fz_reader {
    const uint8_t *p;
    size_t n;
} fz_reader;

void fz_reader_init(fz_reader *r, const uint8_t *p, size_t n);
/* The next byte, or 0 once the input is used up. */
uint8_t fz_u8(fz_reader *r);
uint16_t fz_u16(fz_reader *r);
/* Up to want bytes from the input (fewer at its end); returns how many. */
size_t fz_take(fz_reader *r, size_t want, const uint8_t **out);

/* How a stream is cut into pieces: a cycle of up to 16 piece lengths read from the input
 * (a length of 0 feeds an empty piece). With no lengths the stream goes in one piece. */
typedef struct fz_split {
    uint8_t sizes[16];
    size_t count;
    size_t next;
    size_t empties; /* empty pieces fed in a row; bounded so the loop always ends */
} fz_split;

/* Reads one count byte (its low 4 bits) and that many lengths. */
void fz_split_read(fz_split *s, fz_reader *r);
void fz_split_whole(fz_split *s);
/* The length of the next piece of a stream that has remaining bytes left. */
size_t fz_split_next(fz_split *s, size_t remaining);

/* An RFC 9110 token, written out here so that harnesses do not trust the library's. */
bool fz_is_token(const char *p, size_t n);

/* A copy of p[0..n) in a heap block of exactly n bytes, so that AddressSanitizer (or
 * valgrind) reports any access past the piece. Never NULL. */
uint8_t *fz_dup(const uint8_t *p, size_t n);
/* A heap block of exactly n bytes, its start filled with 0xAA so that nothing relies on
 * fresh memory being zero. */
uint8_t *fz_block(size_t n);

/* ---- growable byte buffer (harness side only) ------------------------------------------ */

typedef struct fz_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
} fz_buf;

void fz_buf_put(fz_buf *b, const void *p, size_t n);
void fz_buf_u8(fz_buf *b, unsigned v);
void fz_buf_u64(fz_buf *b, uint64_t v);
void fz_buf_free(fz_buf *b);
bool fz_buf_eq(const fz_buf *a, const fz_buf *b);
/* A length-prefixed string, NULL distinct from empty: for comparing parsed results. */
void fz_put_str(fz_buf *b, const char *p, size_t len);

/* Whether s[at..at+strlen(lower)) equals lower (lower case), ignoring ASCII case. */
bool fz_eq_ci_at(const char *s, size_t len, size_t at, const char *lower);
bool fz_prefix_ci(const char *s, size_t len, const char *lower);

/* ---- handshake heads -------------------------------------------------------------------- */

typedef int (*fz_head_feed)(ws_handshake *hs, const uint8_t *p, size_t len, size_t *consumed);

/* Feeds p[0..len) to feed (ws_handshake_server_feed or _client_feed) in the pieces plan
 * gives, each a fresh copy; checks that every piece is taken whole until the head ends.
 * Returns the result and, in *taken, the bytes of p the head took. */
int fz_feed_head(fz_head_feed feed, ws_handshake *hs, const uint8_t *p, size_t len, fz_split *plan,
                 size_t *taken);

/* ---- host callbacks --------------------------------------------------------------------- */

/* A deterministic random source: byte i of its output is (uint8_t)i, counting from where
 * the previous call stopped. The first 16 bytes, a client's Sec-WebSocket-Key nonce, give
 * the key "AAECAwQFBgcICQoLDA0ODw==" whose accept value is FZ_ACCEPT. */
typedef struct fz_rng {
    uint32_t counter;
} fz_rng;

#define FZ_KEY    "AAECAwQFBgcICQoLDA0ODw=="
#define FZ_ACCEPT "Bz3qJYTGdOe8gUSpLosEdiLKDrk="

int fz_random(void *ud, uint8_t *buf, size_t len);

/* A realloc that counts live bytes and blocks, and can be told to fail from the n-th
 * allocation on (fail_at 0: never), or only at the n-th one (fail_once). */
typedef struct fz_alloc {
    size_t live_bytes;
    size_t live_blocks;
    size_t peak_bytes;
    size_t calls;
    size_t fail_at;
    bool fail_once;
} fz_alloc;

void *fz_realloc(void *ud, void *ptr, size_t size);

/* ---- references ------------------------------------------------------------------------ */

/* The index of the first byte of p[0..len) that no valid UTF-8 text can have there (len
 * when there is none); *boundary says whether p ends between characters. Written from the
 * definition: a byte is bad when no continuation of the bytes so far encodes a scalar value
 * in its shortest form. */
size_t fz_utf8_first_bad(const uint8_t *p, size_t len, bool *boundary);
bool fz_utf8_valid(const uint8_t *p, size_t len);

/* Close codes that may appear in a close frame (RFC 6455 §7.4 and the IANA registry). */
bool fz_close_code_ok(unsigned code);

/* ---- connection checkers --------------------------------------------------------------- */

/* Follows one connection's events and checks the order and content rules of ws.h. */
typedef struct fz_events {
    ws_role role;
    bool whole_messages;
    bool http_requests;
    uint64_t max_message_size;
    size_t max_fragments;
    bool request_seen; /* WS_EV_REQUEST or WS_EV_HTTP_REQUEST */
    bool plain_http;   /* it was WS_EV_HTTP_REQUEST */
    bool open_seen;
    bool close_seen;
    bool closed_seen;
    ws_event closed;    /* the WS_EV_CLOSED event, once seen */
    uint8_t msg_opcode; /* streaming: the message in progress, 0 when none */
    size_t msg_frames;
    fz_buf msg;         /* streaming: the message so far */
    size_t msg_checked; /* text: msg[0..msg_checked) is valid and ends a character */
} fz_events;

void fz_events_init(fz_events *s, const ws_config *cfg);
void fz_events_check(fz_events *s, const ws_conn *c, const ws_event *ev);
void fz_events_free(fz_events *s);

/* Reads everything a connection writes and checks it is a well-formed stream: the HTTP
 * head (request, 101 or refusal), then frames of the sender's role, control frames within
 * limits, close payloads valid, text valid UTF-8 (when utf8 is set), fragments in order and
 * nothing but pongs after a close frame. */
typedef struct fz_output {
    ws_role sender;
    bool check_utf8;
    int part; /* 0: in the head, 1: frames, 2: after a refusal (body, not checked) */
    fz_buf head;
    ws_frame_decoder dec;
    bool close_sent;
    uint8_t msg_opcode;
    ws_utf8 utf8;
    uint8_t ctl[WS_CONTROL_PAYLOAD_MAX];
    size_t ctl_len;
    uint64_t total;
} fz_output;

/* head: whether the stream starts with an HTTP head (false after ws_conn_start_open). */
void fz_output_init(fz_output *o, ws_role sender, bool head, bool check_utf8);
void fz_output_feed(fz_output *o, const uint8_t *p, size_t n);
void fz_output_free(fz_output *o);

/* Takes up to n bytes of the connection's output into o (and into log when not NULL). */
size_t fz_drain(ws_conn *c, size_t n, fz_output *o, fz_buf *log);

/* The bound on a connection's pending output: max_output plus the room kept for close
 * frames (WS_CONN_CONTROL_SLACK in lib/conn.h). */
size_t fz_output_bound(const ws_config *cfg);

/* The bound on a heap connection's live bytes: what fixed storage takes, plus as much again
 * for the output queue, whose blocks may take twice their share (docs/connection.md). */
size_t fz_heap_bound(const ws_config *cfg);

#endif /* WS_FUZZ_H */
