/*
 * Parsing ws:// and wss:// URLs (RFC 6455 §3) into what a client needs to connect and to
 * write its request: host, port, path and query, as pointers into the caller's string.
 * Anything a request line or Host header could not carry safely is rejected here.
 */
#include "ws_internal.h"

/* The path of a URL that has none, such as "ws://h" or "ws://h?x=1". */
static const char ws_root_path[] = "/";

static bool ws_is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool ws_is_hex(char ch)
{
    return ws_is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Case-insensitive prefix test against the NUL-terminated prefix. */
static bool ws_has_prefix_ci(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && ws_ascii_ieq(s, n, prefix);
}

/* reg-name of RFC 3986 §3.2.2: unreserved, pct-encoded and sub-delims. An IPv4 address
 * is a reg-name too, so it needs no path of its own. */
static bool ws_reg_name_valid(const char *p, const char *end)
{
    for (; p < end; p++) {
        char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ws_is_digit(ch))
            continue;
        if (ch == '%') {
            if (end - p < 3 || !ws_is_hex(p[1]) || !ws_is_hex(p[2]))
                return false;
            p += 2;
            continue;
        }
        if (ch == '\0' || memchr("-._~!$&'()*+,;=", ch, 15) == NULL)
            return false;
    }
    return true;
}

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, without leading zeros. */
static bool ws_ipv4_valid(const char *p, const char *end)
{
    unsigned part;

    for (part = 0; part < 4; part++) {
        const char *start = p;
        unsigned value = 0;

        if (part > 0) {
            if (p == end || *p != '.')
                return false;
            start = ++p;
        }
        while (p < end && ws_is_digit(*p) && p - start < 3) {
            value = value * 10u + (unsigned)(*p - '0');
            p++;
        }
        if (p == start || value > 255 || (p - start > 1 && *start == '0'))
            return false;
    }
    return p == end;
}

/* IPv6address of RFC 3986 §3.2.2: up to eight groups of 1-4 hex digits, at most one "::"
 * standing for one or more zero groups, optionally ending in an IPv4 address that counts
 * as two groups. Zone identifiers are not supported. */
static bool ws_ipv6_valid(const char *p, const char *end)
{
    unsigned groups = 0;
    bool elided = false;

    if (end - p >= 2 && p[0] == ':' && p[1] == ':') {
        elided = true;
        p += 2;
    }
    while (p < end) {
        const char *start = p;

        while (p < end && ws_is_hex(*p) && p - start < 4)
            p++;
        if (p < end && *p == '.') {
            if (!ws_ipv4_valid(start, end))
                return false;
            groups += 2;
            break;
        }
        if (p == start)
            return false;
        groups++;
        if (p == end)
            break;
        if (*p != ':')
            return false;
        p++;
        if (p < end && *p == ':') {
            if (elided)
                return false;
            elided = true;
            p++;
        } else if (p == end) {
            return false; /* a single trailing ':' */
        }
    }
    return elided ? groups <= 7 : groups == 8;
}

/* The decimal port in p[0..end): 1 to 65535, digits only. */
static bool ws_port_parse(const char *p, const char *end, uint16_t *port)
{
    uint32_t value = 0;

    if (p == end)
        return false;
    for (; p < end; p++) {
        if (!ws_is_digit(*p))
            return false;
        value = value * 10u + (uint32_t)(*p - '0');
        if (value > 65535u)
            return false;
    }
    if (value == 0)
        return false;
    *port = (uint16_t)value;
    return true;
}

/* Host and optional port from the authority a[0..end). */
static bool ws_authority_parse(const char *a, const char *end, ws_url *u)
{
    const char *host_end;

    if (ws_find_byte(a, end, '@') != end)
        return false; /* user info has no place in a WebSocket URL */
    if (a < end && *a == '[') {
        const char *close = ws_find_byte(a, end, ']');
        if (close == end || !ws_ipv6_valid(a + 1, close))
            return false;
        u->host = a + 1;
        u->host_len = (size_t)(close - (a + 1));
        u->host_is_ipv6 = true;
        host_end = close + 1;
        if (host_end < end && *host_end != ':')
            return false;
    } else {
        host_end = ws_find_byte(a, end, ':');
        if (host_end == a || !ws_reg_name_valid(a, host_end))
            return false;
        u->host = a;
        u->host_len = (size_t)(host_end - a);
        u->host_is_ipv6 = false;
    }
    u->port_explicit = host_end < end;
    if (u->port_explicit)
        return ws_port_parse(host_end + 1, end, &u->port);
    u->port = u->secure ? 443 : 80;
    return true;
}

/* Only printable ASCII can go into a request line and Host header unescaped, and a
 * fragment has no meaning for a WebSocket URL (RFC 6455 §3). */
static bool ws_url_bytes_valid(const char *p, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= 0x20 || c >= 0x7F || c == '#')
            return false;
    }
    return true;
}

int ws_url_parse(const char *url, size_t len, ws_url *out)
{
    ws_url u;
    const char *p, *end, *auth_end, *query_mark;

    if (url == NULL || out == NULL || !ws_url_bytes_valid(url, len))
        return WS_E_URL;
    memset(&u, 0, sizeof u);
    end = url + len;
    if (ws_has_prefix_ci(url, len, "ws://")) {
        p = url + 5;
    } else if (ws_has_prefix_ci(url, len, "wss://")) {
        u.secure = true;
        p = url + 6;
    } else {
        return WS_E_URL;
    }

    for (auth_end = p; auth_end < end && *auth_end != '/' && *auth_end != '?'; auth_end++)
        ;
    if (!ws_authority_parse(p, auth_end, &u))
        return WS_E_URL;

    query_mark = ws_find_byte(auth_end, end, '?');
    if (query_mark > auth_end) {
        u.path = auth_end;
        u.path_len = (size_t)(query_mark - auth_end);
    } else {
        u.path = ws_root_path;
        u.path_len = 1;
    }
    if (query_mark < end) {
        u.query = query_mark + 1;
        u.query_len = (size_t)(end - u.query);
    }
    *out = u;
    return WS_OK;
}
