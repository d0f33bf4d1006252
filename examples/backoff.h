/*
 * Reconnect delays for the example clients: exponential backoff with jitter and a cap, so
 * that clients cut off together (a node restarted, a network back) do not all come back at
 * the same instant, and a server that stays down is not hammered.
 */
#ifndef EXAMPLES_BACKOFF_H
#define EXAMPLES_BACKOFF_H

#include <stdint.h>

typedef struct ex_backoff {
    uint32_t min_ms;   /* the first delay's ceiling */
    uint32_t max_ms;   /* the cap */
    unsigned attempts; /* failures since the last success */
} ex_backoff;

void ex_backoff_init(ex_backoff *b, uint32_t min_ms, uint32_t max_ms);

/* The delay before the next attempt: d = min(max_ms, min_ms * 2^attempts), then a random
 * point in [d/2, d] (half fixed, so the wait still grows; half random, to spread clients). */
uint32_t ex_backoff_next(ex_backoff *b);

/* A connection succeeded: the next failure starts from min_ms again. */
void ex_backoff_reset(ex_backoff *b);

#endif /* EXAMPLES_BACKOFF_H */
