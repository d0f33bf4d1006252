/*
 * The shared driver of the conformance suite. A case lists the frames a peer sends, the events
 * the host must see and the frames the engine must write back; the driver runs it in both
 * roles, streaming and whole-message mode, with the input split many ways.
 */
#ifndef CONF_DRIVER_H
#define CONF_DRIVER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "ws.h"

/* ---- frames a peer sends ------------------------------------------------------------- */

/* Frame flags. The driver writes every header itself (not with the library's encoder), so
 * frames the RFC forbids can be written as easily as valid ones. */
enum {
    CF_FILL = 1u << 0,      /* payload: n bytes cycling through p (the case's fill unit) */
    CF_CUT = 1u << 1,       /* the header declares .len bytes, the input ends after n of them */
    CF_LEN16 = 1u << 2,     /* length in the 16-bit form even when a shorter one would do */
    CF_LEN64 = 1u << 3,     /* length in the 64-bit form even when a shorter one would do */
    CF_FLIP_MASK = 1u << 4, /* the mask bit the role forbids: clear to a server, set to a client */
    CF_RAW = 1u << 5,       /* p[0..n) goes into the input as it is */
    CF_ZERO_KEY = 1u << 6   /* (masked frames) the key 00 00 00 00 */
};

typedef struct cf_frame {
    int b0;          /* first header byte: FIN | RSV | opcode */
    const char *p;   /* payload, or the fill unit with CF_FILL */
    size_t n;        /* payload bytes in the input */
    unsigned flags;  /* CF_* above */
    uint64_t len;    /* CF_CUT: the payload length the header declares */
    unsigned repeat; /* the frame is sent this many times (0 and 1: once) */
    size_t ulen;     /* CF_FILL: length of the unit */
} cf_frame;

/* First header bytes. A trailing 0 means "not final". */
#define FIN   0x80
#define TXT   (FIN | WS_OP_TEXT)
#define TXT0  WS_OP_TEXT
#define BIN   (FIN | WS_OP_BINARY)
#define BIN0  WS_OP_BINARY
#define CONT  (FIN | WS_OP_CONTINUATION)
#define CONT0 WS_OP_CONTINUATION
#define PING  (FIN | WS_OP_PING)
#define PONG  (FIN | WS_OP_PONG)
#define CLOSE (FIN | WS_OP_CLOSE)
#define RSV1  0x40
#define RSV2  0x20
#define RSV3  0x10

/* clang-format off */
/* A frame with a literal payload (a string literal, so embedded NULs count). */
#define F(b0, s) {(b0), (s), sizeof(s) - 1, 0, 0, 0, 0}
/* A literal frame with extra flags. */
#define FX(b0, s, fl) {(b0), (s), sizeof(s) - 1, (fl), 0, 0, 0}
/* n bytes of the unit (a string literal) repeated; the offset runs on across the fragments
 * of a message. A case has at most one fill unit. */
#define FILL(b0, unit, n) {(b0), (unit), (n), CF_FILL, 0, 0, sizeof(unit) - 1}
#define FILLX(b0, unit, n, fl) {(b0), (unit), (n), CF_FILL | (fl), 0, 0, sizeof(unit) - 1}
/* A frame cut short: its header declares `declared` bytes, only the literal follows. */
#define CUT(b0, s, declared) {(b0), (s), sizeof(s) - 1, CF_CUT, (declared), 0, 0}
#define FILLCUT(b0, unit, n, declared)                                                         \
    {(b0), (unit), (n), CF_FILL | CF_CUT, (declared), 0, sizeof(unit) - 1}
/* Only a header, declaring `declared` bytes, with extra flags (CF_LEN64 ...). */
#define HDR(b0, declared, fl) {(b0), "", 0, CF_CUT | (fl), (declared), 0, 0}
/* The same frame k times. */
#define REP(b0, s, k) {(b0), (s), sizeof(s) - 1, 0, 0, (k), 0}
#define REPFILL(b0, unit, n, k) {(b0), (unit), (n), CF_FILL, 0, (k), sizeof(unit) - 1}
/* Bytes as they are. */
#define RAW(s) {0, (s), sizeof(s) - 1, CF_RAW, 0, 0, 0}
/* clang-format on */

/* Fill units shared by the areas. */
#define ALPHA "abcdefghijklmnopqrstuvwxyz0123456789"
/* 1-, 2-, 3- and 4-byte characters: a, U+00E9, U+20AC, U+1F600 (10 bytes). */
#define MIXED "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
/* Every byte value once. */
#define ALL_BYTES                                                                                  \
    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"                             \
    "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"                             \
    "\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f"                             \
    "\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f"                             \
    "\x40\x41\x42\x43\x44\x45\x46\x47\x48\x49\x4a\x4b\x4c\x4d\x4e\x4f"                             \
    "\x50\x51\x52\x53\x54\x55\x56\x57\x58\x59\x5a\x5b\x5c\x5d\x5e\x5f"                             \
    "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"                             \
    "\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x7b\x7c\x7d\x7e\x7f"                             \
    "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f"                             \
    "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f"                             \
    "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf"                             \
    "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf"                             \
    "\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf"                             \
    "\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"                             \
    "\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef"                             \
    "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff"

#define MIB ((size_t)1 << 20)

/* ---- where the final event must be reported ------------------------------------------ */

/* The byte whose arrival completes the case: WS_EV_CLOSED must come out of the very feed
 * that delivers this byte (whatever the split), and not before. Frames count from 0 after
 * repeats are expanded; a negative frame counts from the end (-1: the last), a negative
 * index from the end of the header or of the payload present in the input. */
enum { CF_AT_NONE = 0, CF_AT_HEADER, CF_AT_PAYLOAD };

typedef struct cf_at {
    int where;
    int frame;
    long idx;
} cf_at;

/* clang-format off */
#define AT_H(f, i) {CF_AT_HEADER, (f), (i)}
#define AT_P(f, i) {CF_AT_PAYLOAD, (f), (i)}
/* clang-format on */
#define AT_HEND(f) AT_H(f, -1)
#define AT_PEND(f) AT_P(f, -1)

/* ---- cases --------------------------------------------------------------------------- */

/* Case flags. */
enum {
    CF_SERVER_ONLY = 1u << 0, /* run in the server role only (default: both roles) */
    CF_CLIENT_ONLY = 1u << 1,
    CF_ECHO = 1u << 2,         /* the host sends every message back as it completes */
    CF_NO_AUTO_PONG = 1u << 3, /* auto_pong off */
    CF_EOF = 1u << 4,          /* the transport ends after the input */
    CF_HOST_CLOSE = 1u << 5,   /* the host calls ws_conn_close(1000, "bye") first */
    CF_HOST_PING = 1u << 6,    /* the host calls ws_conn_ping("hi") first */
    CF_NONMINIMAL = 1u << 7,   /* allow_nonminimal_length on */
    CF_STREAM_ONLY = 1u << 8   /* streaming mode only (keeps a 16 MiB case fast) */
};

#define CF_MAX_FRAMES 16

typedef struct cf_case {
    const char *id;             /* "5.3 ping in fragmented text": section, number, summary */
    cf_frame in[CF_MAX_FRAMES]; /* what the peer sends, up to the first empty entry */
    const char *events;         /* expected events in streaming mode; whole-message mode
                                   expects the same without the PART entries */
    const char *out;            /* expected output frames (see below) */
    cf_at at;                   /* the byte that completes the case (the error, the close) */
    unsigned flags;             /* CF_SERVER_ONLY ... */
    /* Limits, 0 for the default; the first two are 64-bit as in ws_config. */
    uint64_t max_frame, max_message;
    size_t max_fragments, max_output;
} cf_case;

/*
 * Transcripts. Entries are joined with '|'; an entry repeated k > 1 times in a row is written
 * once followed by "*k". The opening WS_EV_OPEN is checked, not written.
 *
 * events:  TEXT:<payload>  BIN:<payload>   a whole message (chunks are joined)
 *          PART:TEXT:<payload>              what was delivered of a message the close or the
 *                                           error cut short (streaming mode only)
 *          PING:<payload>  PONG:<payload>
 *          CLOSE:<code>[:<reason>]          the peer's close frame (1005: it had no code)
 *          CLOSED:<code>:<error>            the end; error is OK or the WS_E_ name without
 *                                           its prefix (INVALID_UTF8, CLOSE_CODE ...)
 * out:     TEXT:..  BIN:..  CONT:..  PING:..  PONG:..  as decoded by the peer, one entry per
 *          frame, "~" after the name when FIN is clear
 *          CLOSE  CLOSE:<code>  CLOSE:<code>:<reason>  (the reason of a close the engine sent
 *          because of an error is prose, and not shown)
 * payload: printable ASCII as is; other bytes and \ | * < > as \xNN; a payload of 64 bytes or
 *          more that is the case's fill unit repeated (from its start) is written <fill*length>.
 */

/* Runs the cases as one CMocka group (one test per case) plus extra tests; returns the
 * number of failures. */
int cf_run_group(const char *group, const cf_case *cases, size_t count,
                 const struct CMUnitTest *extra, size_t extra_count);

/* Runs one case: every role, mode and split. Also usable from a hand-written test. */
void cf_run_case(const cf_case *tc);

/* The WS_E_ name of an error without the prefix ("OK" for WS_OK). */
const char *cf_error_name(int err);

/* A deterministic random source for the client role (never the all-zero key). */
int cf_random(void *ud, uint8_t *buf, size_t len);

/* Writes a frame as a peer of `receiver` would send it (masked toward a server) into out,
 * which has room for WS_FRAME_HEADER_MAX + n bytes; returns the bytes written. */
size_t cf_write_frame(uint8_t *out, ws_role receiver, int b0, const uint8_t *p, size_t n);

#endif /* CONF_DRIVER_H */
