/*
 * Origin policy: ws_origin_match on fuzzer-chosen patterns and origins must be case-blind,
 * fail closed on anything past scheme://host[:port], treat an explicit default port as none
 * and keep wildcards to whole subdomains; ws_origin_check on a request built from the same
 * fields must agree with the matcher (same-origin is exactly the pattern scheme://Host).
 * Input: flags byte, then "pattern\norigin\nhost" (each may hold any other byte).
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

/* A NUL-terminated heap copy of p[0..n) (so a NUL inside ends the string early). */
static char *fz_cstr(const uint8_t *p, size_t n)
{
    char *s = (char *)fz_block(n + 1);
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static char *fz_concat(const char *a, size_t alen, const char *b, size_t blen)
{
    char *s = (char *)fz_block(alen + blen + 1);
    if (alen > 0)
        memcpy(s, a, alen);
    if (blen > 0)
        memcpy(s + alen, b, blen);
    s[alen + blen] = '\0';
    return s;
}

static bool fz_is_null_word(const char *s, size_t len)
{
    return len == 4 && fz_prefix_ci(s, len, "null");
}

/* ASCII letters with their case flipped, in an exact-size block. */
static char *fz_swapcase(const char *s, size_t len)
{
    char *t = (char *)fz_block(len + 1);
    size_t i;

    for (i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        t[i] = c;
    }
    t[len] = '\0';
    return t;
}

static bool fz_match(const char *pattern, const char *origin, size_t len)
{
    char *o = (char *)fz_dup((const uint8_t *)origin, len); /* reads past len are caught */
    bool m = ws_origin_match(pattern, o, len);
    free(o);
    return m;
}

/* What a matching origin can never contain, and what it can never be followed by. */
static void fz_check_matched(const char *pattern, const char *origin, size_t len)
{
    static const char *const tails[] = {"/", ".", ":", "?", "#", " ", "@x"};
    char *self;
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)origin[i];
        FZ_CHECK(c > 0x20 && c < 0x7F && strchr("@?#%\\\"'<>", (int)c) == NULL);
    }
    for (i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        char *longer = fz_concat(origin, len, tails[i], strlen(tails[i]));
        FZ_CHECK(!fz_match(pattern, longer, strlen(longer)));
        free(longer);
    }
    /* a matching origin is a valid pattern that matches itself */
    self = fz_cstr((const uint8_t *)origin, len);
    FZ_CHECK(ws_origin_match(self, origin, len));
    free(self);

    /* the default port written out changes nothing */
    if (memchr(origin, '[', len) == NULL) {
        const char *port = NULL;
        if (fz_prefix_ci(origin, len, "http://") && memchr(origin + 7, ':', len - 7) == NULL)
            port = ":80";
        else if (fz_prefix_ci(origin, len, "https://") && memchr(origin + 8, ':', len - 8) == NULL)
            port = ":443";
        if (port != NULL) {
            char *explicit_port = fz_concat(origin, len, port, strlen(port));
            FZ_CHECK(fz_match(pattern, explicit_port, strlen(explicit_port)));
            free(explicit_port);
        }
    }
}

/* pattern with its "*." (right after "://") replaced by rep. */
static char *fz_wild_replace(const char *pattern, const char *star, const char *rep)
{
    size_t before = (size_t)(star - pattern);
    char *head = fz_concat(pattern, before, rep, strlen(rep));
    char *all = fz_concat(head, strlen(head), star + 2, strlen(star + 2));
    free(head);
    return all;
}

/* A wildcard pattern matches a subdomain and a deeper one, never the apex or a host that
 * merely ends with the same letters. */
static void fz_check_wildcard(const char *pattern)
{
    const char *sep = strstr(pattern, "://");
    char *sub, *deep, *apex, *glued;

    if (sep == NULL || strncmp(sep + 3, "*.", 2) != 0)
        return;
    sub = fz_wild_replace(pattern, sep + 3, "a.");
    if (fz_match(pattern, sub, strlen(sub))) {
        deep = fz_wild_replace(pattern, sep + 3, "b.a.");
        apex = fz_wild_replace(pattern, sep + 3, "");
        glued = fz_wild_replace(pattern, sep + 3, "evil");
        FZ_CHECK(fz_match(pattern, deep, strlen(deep)));
        FZ_CHECK(!fz_match(pattern, apex, strlen(apex)));
        FZ_CHECK(!fz_match(pattern, glued, strlen(glued)));
        FZ_CHECK(ws_origin_match(sub, sub, strlen(sub)));
        free(deep);
        free(apex);
        free(glued);
    }
    free(sub);
}

/* The policy on a request built from the fields agrees with the matcher. */
static void fz_check_policy(uint8_t flags, const char *pattern, const char *origin, size_t olen,
                            const char *host, size_t hlen, bool matched)
{
    ws_header h[3];
    ws_request r;
    ws_origin_policy p;
    size_t n = 0, origins = flags & 3u;
    const char *const allow[1] = {pattern};
    int rc, want;

    if (origins == 3)
        origins = 1;
    memset(&r, 0, sizeof r);
    h[n].name = "Host";
    h[n].name_len = 4;
    h[n].value = host;
    h[n++].value_len = hlen;
    r.host = host;
    r.host_len = hlen;
    if (origins > 0) {
        r.origin = origin;
        r.origin_len = olen;
    }
    while (n <= origins) {
        h[n].name = (flags & 0x80u) ? "origin" : "Origin";
        h[n].name_len = 6;
        h[n].value = origin;
        h[n++].value_len = olen;
    }
    r.headers = h;
    r.header_count = n;

    ws_origin_policy_init(&p);
    p.allow = (flags & 4u) ? allow : NULL;
    p.allow_count = (flags & 4u) ? 1 : 0;
    p.same_origin = (flags & 8u) != 0;
    p.secure = (flags & 16u) != 0;
    p.allow_missing = (flags & 32u) != 0;

    if (origins == 0) {
        want = p.allow_missing ? WS_OK : WS_E_ORIGIN;
    } else if (origins == 2) {
        want = WS_E_ORIGIN;
    } else {
        bool same = false;
        if (p.same_origin && memchr(host, '\0', hlen) == NULL && memchr(host, '*', hlen) == NULL &&
            !fz_is_null_word(origin, olen)) {
            const char *scheme = p.secure ? "https://" : "http://";
            char *as_pattern = fz_concat(scheme, strlen(scheme), host, hlen);
            same = fz_match(as_pattern, origin, olen);
            free(as_pattern);
        }
        want = ((p.allow_count == 1 && matched) || same) ? WS_OK : WS_E_ORIGIN;
    }
    rc = ws_origin_check(&p, &r);
    FZ_CHECK(rc == want);
    FZ_CHECK(ws_origin_hook(&p, NULL, &r) == (rc == WS_OK ? WS_HOOK_ALLOW : WS_E_ORIGIN));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader rd;
    const uint8_t *rest, *f[3];
    size_t n, flen[3], k = 0, start = 0, i;
    uint8_t flags;
    char *pattern, *origin, *host, *swapped;
    bool m;

    fz_reader_init(&rd, data, size);
    flags = fz_u8(&rd);
    n = fz_take(&rd, rd.n, &rest);
    for (i = 0; i <= n && k < 3; i++) {
        if (i == n || (rest[i] == '\n' && k < 2)) {
            f[k] = rest + start;
            flen[k++] = i - start;
            start = i + 1;
        }
    }
    while (k < 3) {
        f[k] = rest;
        flen[k++] = 0;
    }
    pattern = fz_cstr(f[0], flen[0]);
    origin = (char *)fz_dup(f[1], flen[1]);
    host = (char *)fz_dup(f[2], flen[2]);

    m = ws_origin_match(pattern, origin, flen[1]);
    if (m && strcmp(pattern, "null") != 0)
        fz_check_matched(pattern, origin, flen[1]);
    if (strcmp(pattern, "null") == 0)
        FZ_CHECK(m == (flen[1] == 4 && memcmp(origin, "null", 4) == 0));

    /* case never matters, except for the literal null */
    if (!fz_is_null_word(origin, flen[1]) && !fz_is_null_word(pattern, strlen(pattern))) {
        swapped = fz_swapcase(origin, flen[1]);
        FZ_CHECK(fz_match(pattern, swapped, flen[1]) == m);
        free(swapped);
        swapped = fz_swapcase(pattern, strlen(pattern));
        FZ_CHECK(fz_match(swapped, origin, flen[1]) == m);
        free(swapped);
    }
    fz_check_wildcard(pattern);
    fz_check_policy(flags, pattern, origin, flen[1], host, flen[2], m);

    free(pattern);
    free(origin);
    free(host);
    return 0;
}
