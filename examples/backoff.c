/* Exponential backoff with jitter and a cap (see backoff.h). */
#include "backoff.h"
#include "common.h"

void ex_backoff_init(ex_backoff *b, uint32_t min_ms, uint32_t max_ms)
{
    b->min_ms = min_ms > 0 ? min_ms : 1;
    b->max_ms = max_ms > b->min_ms ? max_ms : b->min_ms;
    b->attempts = 0;
}

uint32_t ex_backoff_next(ex_backoff *b)
{
    uint64_t d = b->min_ms;
    uint32_t r = 0;
    unsigned i;

    for (i = 0; i < b->attempts && d < b->max_ms; i++)
        d *= 2;
    if (d > b->max_ms)
        d = b->max_ms;
    b->attempts++;
    ex_random(NULL, (uint8_t *)&r, sizeof r);
    return (uint32_t)(d / 2 + r % (d - d / 2 + 1));
}

void ex_backoff_reset(ex_backoff *b)
{
    b->attempts = 0;
}
