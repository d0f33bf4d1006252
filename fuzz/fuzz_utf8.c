/*
 * UTF-8: the incremental validator, and each implementation behind it (portable, SSSE3,
 * AVX2, NEON: those this machine runs), against the reference in fuzz_common.c on every
 * input, fed in fuzzer-chosen chunks (the first bad byte must be reported at the same
 * place, errors must stay sticky), plus close payloads, whose reason is the other UTF-8
 * reader. Input: split plan, then the text.
 */
#include "fuzz.h"
#include "utf8_impl.h"

#include <stdlib.h>
#include <string.h>

/* Feeds text in the plan's pieces, piece k through feeds[k % nfeeds]. */
static void fz_check_incremental(const uint8_t *text, size_t len, fz_split plan,
                                 const ws_utf8_feed_fn *feeds, size_t nfeeds)
{
    bool boundary;
    size_t bad_ref = fz_utf8_first_bad(text, len, &boundary);
    size_t pos = 0, piece_no = 0;
    bool failed = false;
    ws_utf8 v;

    ws_utf8_init(&v);
    while (pos < len) {
        size_t n = fz_split_next(&plan, len - pos);
        uint8_t *piece = fz_dup(text + pos, n);
        size_t bad = 0;
        int rc = feeds[piece_no++ % nfeeds](&v, piece, n, &bad);

        if (failed) {
            FZ_CHECK(rc == WS_E_INVALID_UTF8 && bad == 0); /* sticky */
        } else if (bad_ref < pos + n) {
            FZ_CHECK(rc == WS_E_INVALID_UTF8);
            FZ_CHECK(bad == bad_ref - pos);
            failed = true;
        } else {
            FZ_CHECK(rc == WS_OK);
        }
        free(piece);
        pos += n;
    }
    if (failed) {
        size_t bad = 1;
        FZ_CHECK(ws_utf8_feed(&v, NULL, 0, &bad) == WS_E_INVALID_UTF8 && bad == 0);
    }
    FZ_CHECK((ws_utf8_finish(&v) == WS_OK) == (bad_ref == len && boundary));
}

/* ws_close_parse against the rules of RFC 6455 §5.5.1 and §7.4, and ws_close_build back. */
static void fz_check_close(const uint8_t *p, size_t len)
{
    uint16_t code = 0;
    const uint8_t *reason = NULL;
    size_t reason_len = 0;
    uint8_t out[WS_CONTROL_PAYLOAD_MAX];
    int rc = ws_close_parse(p, len, &code, &reason, &reason_len);
    unsigned wire = len >= 2 ? (unsigned)(p[0] << 8 | p[1]) : 0;
    bool too_long = len > WS_CONTROL_PAYLOAD_MAX;
    bool bad_code = len >= 2 && !fz_close_code_ok(wire);
    bool bad_text = len >= 2 && !fz_utf8_valid(p + 2, len - 2);
    int n;

    if (len == 0) {
        FZ_CHECK(rc == WS_OK && code == WS_CLOSE_NO_STATUS && reason_len == 0);
    } else if (len == 1) {
        FZ_CHECK(rc == WS_E_CLOSE_PAYLOAD);
    } else if (!too_long && !bad_code && !bad_text) {
        FZ_CHECK(rc == WS_OK && code == wire && reason == p + 2 && reason_len == len - 2);
    } else {
        FZ_CHECK((too_long && rc == WS_E_CONTROL_TOO_LONG) || (bad_code && rc == WS_E_CLOSE_CODE) ||
                 (bad_text && rc == WS_E_CLOSE_REASON));
    }

    /* Building: the first two bytes are the code, the rest the reason. */
    if (len < 2)
        return;
    n = ws_close_build(out, wire, (const char *)p + 2, len - 2);
    if (wire == 0 || wire == WS_CLOSE_NO_STATUS) {
        FZ_CHECK(len == 2 ? n == 0 : n == WS_E_INVALID);
        return;
    }
    if (n >= 0) {
        FZ_CHECK(fz_close_code_ok(wire) && len - 2 <= WS_CLOSE_REASON_MAX && !bad_text);
        FZ_CHECK((size_t)n == len && memcmp(out, p, len) == 0);
    } else {
        FZ_CHECK(!fz_close_code_ok(wire) || len - 2 > WS_CLOSE_REASON_MAX || bad_text);
        FZ_CHECK(n == WS_E_INVALID || (n == WS_E_INVALID_UTF8 && bad_text));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    fz_split plan;
    const uint8_t *text;
    uint8_t *copy;
    size_t len, nimpls, k;
    bool boundary;
    const ws_utf8_feed_fn pub = ws_utf8_feed;
    ws_utf8_impl impls[WS_UTF8_IMPL_MAX];
    ws_utf8_feed_fn feeds[WS_UTF8_IMPL_MAX];

    fz_reader_init(&r, data, size);
    fz_split_read(&plan, &r);
    len = fz_take(&r, r.n, &text);
    copy = fz_dup(text, len);

    FZ_CHECK(ws_utf8_valid(copy, len) == fz_utf8_valid(copy, len));
    (void)fz_utf8_first_bad(copy, len, &boundary);
    fz_check_incremental(copy, len, plan, &pub, 1);
    nimpls = ws_utf8_impls(impls);
    for (k = 0; k < nimpls; k++) {
        feeds[k] = impls[k].feed;
        fz_check_incremental(copy, len, plan, &feeds[k], 1);
    }
    /* A state from one implementation must mean the same to every other. */
    fz_check_incremental(copy, len, plan, feeds, nimpls);
    {
        ws_utf8 v; /* bad_offset may be NULL */
        ws_utf8_init(&v);
        FZ_CHECK((ws_utf8_feed(&v, copy, len, NULL) == WS_OK) ==
                 (fz_utf8_first_bad(copy, len, &boundary) == len));
    }
    fz_check_close(copy, len);
    free(copy);
    return 0;
}
