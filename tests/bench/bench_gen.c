/*
 * Generators shared by the benchmarks: the deterministic random source and the JSON-like
 * messages of workload W2 (bench.c sends them masked, bench_deflate.c compresses them).
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

uint64_t bench_rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

unsigned bench_rng_below(uint64_t *s, unsigned n)
{
    return (unsigned)(bench_rng_next(s) % n);
}

void bench_json(uint64_t *rng, char *out, size_t len, uint64_t seq)
{
    char head[96];
    int n = snprintf(head, sizeof head,
                     "{\"id\":%llu,\"type\":\"update\",\"user\":\"u%05u\",\"value\":%u.%02u,"
                     "\"note\":\"",
                     (unsigned long long)seq, bench_rng_below(rng, 100000),
                     bench_rng_below(rng, 10000), bench_rng_below(rng, 100));
    size_t h = (size_t)n, i;

    memcpy(out, head, h);
    for (i = h; i < len - 2; i++)
        out[i] = (char)('a' + bench_rng_below(rng, 26));
    out[len - 2] = '"';
    out[len - 1] = '}';
}
