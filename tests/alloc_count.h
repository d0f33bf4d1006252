/*
 * A counting allocator for the tests (ws_realloc_fn over realloc/free): tracks the bytes a
 * connection holds, the peak, and the calls. Included by the test programs that measure
 * heap use.
 */
#ifndef TESTS_ALLOC_COUNT_H
#define TESTS_ALLOC_COUNT_H

#include <stddef.h>
#include <stdlib.h>

typedef struct alloc_stats {
    size_t live, peak, calls;
} alloc_stats;

typedef struct alloc_hdr {
    size_t size;
    size_t pad;
} alloc_hdr;

static inline void *count_realloc(void *ud, void *ptr, size_t size)
{
    alloc_stats *st = (alloc_stats *)ud;
    alloc_hdr *h = ptr ? (alloc_hdr *)ptr - 1 : NULL;
    alloc_hdr *n;

    st->calls++;
    if (h)
        st->live -= h->size;
    if (size == 0) {
        free(h);
        return NULL;
    }
    n = realloc(h, sizeof *n + size);
    if (n == NULL)
        return NULL;
    n->size = size;
    st->live += size;
    if (st->live > st->peak)
        st->peak = st->live;
    return n + 1;
}

/* The C library's allocator, given explicitly: a -Ddefault_alloc=false build
 * (WS_NO_DEFAULT_ALLOC) has no default for cfg.realloc. */
static inline void *plain_realloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

#endif /* TESTS_ALLOC_COUNT_H */
