/*
 * Parsing ws:// and wss:// URLs (RFC 6455 §3) into what a client needs to connect and to
 * write its request: host, port, path and query, as pointers into the caller's string.
 * Anything a request line or Host header could not carry safely is rejected here.
 */
#include "ws_internal.h"

/* The path of a URL that has none, such as "ws://h" or "ws://h?x=1". */
static const char ws_root_path[] = "/";

/* Case-insensitive prefix test against the NUL-terminated prefix. */
static bool ws_has_prefix_ci(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && ws_ascii_ieq(s, n, prefix);
}

/* Host and optional port from the authority a[0..end). */
static bool ws_authority_parse(const char *a, const char *end, ws_url *u)
{
    ws_hostport hp;

    if (ws_find_byte(a, end, '@') != end)
        return false; /* user info has no place in a WebSocket URL */
    if (!ws_hostport_parse(a, end, &hp))
        return false;
    u->host_is_ipv6 = hp.ipv6;
    u->host = hp.ipv6 ? hp.host + 1 : hp.host; /* without the brackets */
    u->host_len = hp.ipv6 ? hp.host_len - 2 : hp.host_len;
    u->port_explicit = hp.has_port;
    u->port = hp.has_port ? hp.port : (u->secure ? 443 : 80);
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
