/*
 * Shared pieces of the receive-path benchmark: the generated client-to-server streams, what
 * a run counts, and the entry points of the wslay comparison (bench_wslay.c).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A socket loop hands the library this much per read. */
#define BENCH_PIECE 16384u

/* One generated workload: the masked wire bytes and what a receiver must report. */
typedef struct bench_stream {
    const char *name;
    const char *what;
    uint8_t *data; /* never modified after generation */
    size_t len;
    uint64_t messages;      /* text and binary messages */
    uint64_t payload_bytes; /* their payload bytes */
    uint64_t pings;
    uint64_t checksum; /* bench_hash of every payload then its length, in order */
} bench_stream;

/* What a receiver saw. The checksum is only computed when asked (a verification run),
 * so timed runs measure the library, not the hash. */
typedef struct bench_count {
    uint64_t messages;
    uint64_t payload_bytes;
    uint64_t pings;
    uint64_t checksum;
    uint64_t allocations; /* host allocator calls during the run (libws only) */
    bool failed;
} bench_count;

#define BENCH_HASH_INIT UINT64_C(0xcbf29ce484222325)

/* FNV-1a: byte-serial, so feeding a message in chunks gives the same value as feeding it
 * whole, whatever the chunk edges. */
uint64_t bench_hash(uint64_t h, const uint8_t *p, size_t n);
/* Mixes a message length in, so message boundaries count too. */
uint64_t bench_hash_len(uint64_t h, uint64_t len);

/* Copies one piece of the stream; the copy cannot be optimised away. */
void bench_copy(uint8_t *dst, const uint8_t *src, size_t n);

/* splitmix64 (bench_gen.c): deterministic, so every run generates the same streams. */
uint64_t bench_rng_next(uint64_t *s);
unsigned bench_rng_below(uint64_t *s, unsigned n);
/* A JSON-like object of exactly len ASCII bytes (len >= 96): the W2 message. */
void bench_json(uint64_t *rng, char *out, size_t len, uint64_t seq);

/* Whether the wslay comparison was built in. */
bool bench_wslay_available(void);
/* Feeds s through a wslay 1.1.1 server context (event API, whole messages, UTF-8 checked),
 * BENCH_PIECE bytes per recv callback. */
void bench_wslay_run(const bench_stream *s, bool verify, bench_count *out);
/* Heap bytes held by a freshly created wslay server context, or 0 when unknown. */
size_t bench_wslay_idle_heap(void);

#endif /* BENCH_H */
