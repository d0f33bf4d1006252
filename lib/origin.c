/*
 * Origin checks against cross-site WebSocket hijacking: an allowlist of origins (exact, or
 * "*." for subdomains) and same-origin against the Host header. Anything that is not a
 * plain scheme://host[:port] never matches, so a malformed Origin fails closed.
 */
#include "ws_internal.h"

/* An origin, an allow pattern or a Host value taken apart; pointers into the input. */
typedef struct ws_origin_parts {
    const char *scheme; /* NULL for a Host value */
    size_t scheme_len;
    const char *host; /* brackets included for an IPv6 literal; after "*." for a wildcard */
    size_t host_len;
    bool wildcard; /* pattern "*.suffix": one or more labels, then ".suffix" */
    uint32_t port; /* explicit, else the scheme's default; 0 when the scheme has none */
} ws_origin_parts;

static const char ws_null_origin[] = "null";

/* host [":" port] filling [p, end); a wildcard "*." prefix only when allowed. The port is
 * left alone when absent, so the caller's default stays. */
static bool ws_host_port_parse(const char *p, const char *end, bool allow_wildcard,
                               ws_origin_parts *o)
{
    ws_hostport hp;

    o->wildcard = false;
    if (allow_wildcard && end - p >= 2 && p[0] == '*' && p[1] == '.') {
        o->wildcard = true;
        p += 2;
    }
    if (!ws_hostport_parse(p, end, &hp) || (o->wildcard && hp.ipv6))
        return false;
    o->host = hp.host;
    o->host_len = hp.host_len;
    if (hp.has_port)
        o->port = hp.port;
    return true;
}

/* The port a scheme implies when none is written; 0 when it implies none. */
static uint32_t ws_default_port(const char *scheme, size_t len)
{
    if ((len == 4 && ws_ascii_ieq_n(scheme, "http", 4)) ||
        (len == 2 && ws_ascii_ieq_n(scheme, "ws", 2)))
        return 80;
    if ((len == 5 && ws_ascii_ieq_n(scheme, "https", 5)) ||
        (len == 3 && ws_ascii_ieq_n(scheme, "wss", 3)))
        return 443;
    return 0;
}

/* scheme "://" host [":" port] and nothing else: no userinfo, path, query or fragment. */
static bool ws_origin_parse(const char *s, size_t len, bool allow_wildcard, ws_origin_parts *o)
{
    const char *p = s, *end = s + len;

    if (len == 0 || !ws_is_alpha(*p))
        return false;
    while (p < end && (ws_is_alpha(*p) || ws_is_digit(*p) || *p == '+' || *p == '-' || *p == '.'))
        p++;
    if (end - p < 3 || memcmp(p, "://", 3) != 0)
        return false;
    o->scheme = s;
    o->scheme_len = (size_t)(p - s);
    o->port = ws_default_port(s, o->scheme_len);
    return ws_host_port_parse(p + 3, end, allow_wildcard, o);
}

/* Whether host[0..len) is the host of the pattern pat, or (a wildcard) lies under it. */
static bool ws_origin_host_match(const ws_origin_parts *pat, const char *host, size_t len)
{
    if (pat->wildcard) {
        /* At least one whole label, then a dot, then exactly the suffix. An IPv6 literal
         * ends in ']', so it never ends with a suffix of labels. */
        size_t cut;
        if (len < pat->host_len + 2)
            return false;
        cut = len - pat->host_len;
        return host[cut - 1] == '.' && ws_ascii_ieq_n(host + cut, pat->host, pat->host_len);
    }
    return pat->host_len == len && ws_ascii_ieq_n(pat->host, host, len);
}

/* Whether the origin o lies in the pattern pat (both parsed). */
static bool ws_origin_parts_match(const ws_origin_parts *pat, const ws_origin_parts *o)
{
    return pat->scheme_len == o->scheme_len &&
           ws_ascii_ieq_n(pat->scheme, o->scheme, o->scheme_len) && pat->port == o->port &&
           ws_origin_host_match(pat, o->host, o->host_len);
}

static bool ws_is_null_origin(const char *origin, size_t len)
{
    return len == sizeof ws_null_origin - 1 && memcmp(origin, ws_null_origin, len) == 0;
}

bool ws_origin_match(const char *pattern, const char *origin, size_t len)
{
    ws_origin_parts pat, o;

    if (pattern == NULL || origin == NULL)
        return false;
    if (ws_is_null_origin(pattern, strlen(pattern)))
        return ws_is_null_origin(origin, len);
    return ws_origin_parse(pattern, strlen(pattern), true, &pat) &&
           ws_origin_parse(origin, len, false, &o) && ws_origin_parts_match(&pat, &o);
}

/* Same origin: the scheme the server is reached with, and the Host header's host and port
 * (a Host without a port means that scheme's default). */
static bool ws_origin_same(bool secure, const ws_request *r, const ws_origin_parts *o)
{
    ws_origin_parts host;

    if (r->host == NULL)
        return false;
    host.scheme = secure ? "https" : "http";
    host.scheme_len = strlen(host.scheme);
    host.port = secure ? 443u : 80u;
    return ws_host_port_parse(r->host, r->host + r->host_len, false, &host) &&
           ws_origin_parts_match(&host, o);
}

/* How many Origin headers the request has, and the first one's value. A request built by
 * hand with r->origin but no header list counts as having that one. */
static size_t ws_origin_count(const ws_request *r, const char **value, size_t *len)
{
    size_t i, count = 0;

    for (i = 0; i < r->header_count; i++) {
        const ws_header *h = &r->headers[i];
        if (ws_ascii_ieq(h->name, h->name_len, "Origin")) {
            if (count++ == 0) {
                *value = h->value;
                *len = h->value_len;
            }
        }
    }
    if (count == 0 && r->origin != NULL) {
        *value = r->origin;
        *len = r->origin_len;
        count = 1;
    }
    return count;
}

void ws_origin_policy_init(ws_origin_policy *p)
{
    p->allow = NULL;
    p->allow_count = 0;
    p->same_origin = true;
    p->secure = false;
    p->allow_missing = true;
}

int ws_origin_check(const ws_origin_policy *p, const ws_request *r)
{
    const char *origin = NULL;
    size_t len = 0, count, i;
    ws_origin_parts o, pat;

    if (p == NULL || r == NULL || (p->allow == NULL && p->allow_count > 0))
        return WS_E_INVALID;
    count = ws_origin_count(r, &origin, &len);
    if (count == 0)
        return p->allow_missing ? WS_OK : WS_E_ORIGIN;
    if (count > 1)
        return WS_E_ORIGIN; /* which one would the browser have meant? */

    if (ws_is_null_origin(origin, len)) {
        for (i = 0; i < p->allow_count; i++) {
            if (p->allow[i] != NULL && ws_is_null_origin(p->allow[i], strlen(p->allow[i])))
                return WS_OK;
        }
        return WS_E_ORIGIN;
    }
    if (!ws_origin_parse(origin, len, false, &o))
        return WS_E_ORIGIN;
    for (i = 0; i < p->allow_count; i++) {
        const char *a = p->allow[i];
        if (a != NULL && ws_origin_parse(a, strlen(a), true, &pat) &&
            ws_origin_parts_match(&pat, &o))
            return WS_OK;
    }
    if (p->same_origin && ws_origin_same(p->secure, r, &o))
        return WS_OK;
    return WS_E_ORIGIN;
}

bool ws_host_trusted(const char *const *hosts, size_t count, const char *host, size_t len)
{
    ws_origin_parts pat;
    ws_hostport h;
    size_t i;

    if (host == NULL || (hosts == NULL && count > 0) || !ws_hostport_parse(host, host + len, &h))
        return false;
    for (i = 0; i < count; i++) {
        const char *e = hosts[i];
        pat.port = 0;
        if (e == NULL || !ws_host_port_parse(e, e + strlen(e), true, &pat))
            continue;
        /* An entry with a port pins it; one without takes any. */
        if (pat.port != 0 && (!h.has_port || pat.port != h.port))
            continue;
        if (ws_origin_host_match(&pat, h.host, h.host_len))
            return true;
    }
    return false;
}

int ws_origin_hook(void *policy, ws_conn *c, const ws_request *r)
{
    (void)c;
    return ws_origin_check((const ws_origin_policy *)policy, r) == WS_OK ? WS_HOOK_ALLOW
                                                                         : WS_E_ORIGIN;
}
