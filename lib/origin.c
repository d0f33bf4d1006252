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

/* Case-insensitive ASCII comparison of two strings of the same length n. */
static bool ws_ascii_ieq_n(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (ws_ascii_lower((unsigned char)a[i]) != ws_ascii_lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

static bool ws_is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool ws_origin_is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool ws_origin_is_hex(char ch)
{
    return ws_origin_is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* The bytes of a DNS label or dotted IPv4 address as browsers serialize hosts (IDNs come
 * as punycode); '%', '@', '/', '*' and the like make the whole value malformed. */
static bool ws_is_label_char(char ch)
{
    return ws_is_alpha(ch) || ws_origin_is_digit(ch) || ch == '-' || ch == '_';
}

/* Dot-separated non-empty labels filling [p, end). Empty labels are refused so that a
 * wildcard's "one or more labels" can never be the empty string. */
static bool ws_origin_reg_name_valid(const char *p, const char *end)
{
    bool label_started = false;

    if (p == end)
        return false;
    for (; p < end; p++) {
        if (*p == '.') {
            if (!label_started)
                return false;
            label_started = false;
        } else if (ws_is_label_char(*p)) {
            label_started = true;
        } else {
            return false;
        }
    }
    return label_started; /* no trailing dot */
}

/* "[" hex digits, ':' and '.' "]", with at least one ':'. Zone ids are not part of an
 * origin; the text is compared as written (browsers send the RFC 5952 form). */
static bool ws_ipv6_literal_valid(const char *p, const char *end)
{
    bool colon = false;

    if (end - p < 4 || p[0] != '[' || end[-1] != ']')
        return false;
    for (p++, end--; p < end; p++) {
        if (*p == ':')
            colon = true;
        else if (!ws_origin_is_hex(*p) && *p != '.')
            return false;
    }
    return colon;
}

/* A port: 1 to 5 digits without a leading zero, 1-65535. */
static bool ws_origin_port_parse(const char *p, const char *end, uint32_t *port)
{
    uint32_t v = 0;

    if (p == end || end - p > 5 || *p == '0')
        return false;
    for (; p < end; p++) {
        if (!ws_origin_is_digit(*p))
            return false;
        v = v * 10u + (uint32_t)(*p - '0');
    }
    if (v > 65535u)
        return false;
    *port = v;
    return true;
}

/* host [":" port] filling [p, end); a wildcard "*." prefix only when allowed. The port is
 * left alone when absent, so the caller's default stays. */
static bool ws_host_port_parse(const char *p, const char *end, bool allow_wildcard,
                               ws_origin_parts *o)
{
    const char *host_end;

    o->wildcard = false;
    if (p < end && *p == '[') {
        host_end = ws_find_byte(p, end, ']');
        if (host_end == end)
            return false;
        host_end++;
        if (!ws_ipv6_literal_valid(p, host_end))
            return false;
    } else {
        if (allow_wildcard && end - p >= 2 && p[0] == '*' && p[1] == '.') {
            o->wildcard = true;
            p += 2;
        }
        host_end = ws_find_byte(p, end, ':');
        if (!ws_origin_reg_name_valid(p, host_end))
            return false;
    }
    o->host = p;
    o->host_len = (size_t)(host_end - p);
    if (host_end == end)
        return true;
    return *host_end == ':' && ws_origin_port_parse(host_end + 1, end, &o->port);
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
    while (p < end &&
           (ws_is_alpha(*p) || ws_origin_is_digit(*p) || *p == '+' || *p == '-' || *p == '.'))
        p++;
    if (end - p < 3 || memcmp(p, "://", 3) != 0)
        return false;
    o->scheme = s;
    o->scheme_len = (size_t)(p - s);
    o->port = ws_default_port(s, o->scheme_len);
    return ws_host_port_parse(p + 3, end, allow_wildcard, o);
}

/* Whether the origin o lies in the pattern pat (both parsed). */
static bool ws_origin_parts_match(const ws_origin_parts *pat, const ws_origin_parts *o)
{
    if (pat->scheme_len != o->scheme_len ||
        !ws_ascii_ieq_n(pat->scheme, o->scheme, o->scheme_len) || pat->port != o->port)
        return false;
    if (pat->wildcard) {
        /* At least one whole label, then a dot, then exactly the suffix. An IPv6 literal
         * ends in ']', so it never ends with a suffix of labels. */
        size_t cut;
        if (o->host_len < pat->host_len + 2)
            return false;
        cut = o->host_len - pat->host_len;
        return o->host[cut - 1] == '.' && ws_ascii_ieq_n(o->host + cut, pat->host, pat->host_len);
    }
    return pat->host_len == o->host_len && ws_ascii_ieq_n(pat->host, o->host, o->host_len);
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

int ws_origin_hook(void *policy, ws_conn *c, const ws_request *r)
{
    (void)c;
    return ws_origin_check((const ws_origin_policy *)policy, r) == WS_OK ? WS_HOOK_ALLOW
                                                                         : WS_E_ORIGIN;
}
