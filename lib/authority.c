/*
 * The host and port of an authority (RFC 3986 §3.2.2, RFC 9110 §7.2): one set of rules for
 * ws:// URLs, Origin values and allow patterns, Host headers, absolute-form request targets
 * and trusted host lists, so that no two parts of the library disagree about a host.
 */
#include "ws_internal.h"

static bool ws_is_label_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ws_is_digit(ch) || ch == '-' ||
           ch == '_';
}

bool ws_reg_name_valid(const char *p, const char *end)
{
    bool label_started = false;

    if (p == end)
        return false;
    for (; p < end; p++) {
        if (*p == '.') {
            if (!label_started)
                return false; /* an empty label: "a..b", ".a" */
            label_started = false;
        } else if (ws_is_label_char(*p)) {
            label_started = true;
        } else {
            return false;
        }
    }
    return true; /* "example.com." (a rooted name) ends without a label */
}

bool ws_port_parse(const char *p, const char *end, uint16_t *port)
{
    uint32_t v = 0;

    if (p == end || end - p > 5 || *p == '0')
        return false;
    for (; p < end; p++) {
        if (!ws_is_digit(*p))
            return false;
        v = v * 10u + (uint32_t)(*p - '0');
    }
    if (v > 65535u)
        return false;
    *port = (uint16_t)v;
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

bool ws_ipv6_valid(const char *p, const char *end)
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

bool ws_hostport_parse(const char *p, const char *end, ws_hostport *hp)
{
    const char *host_end;

    hp->ipv6 = false;
    if (p < end && *p == '[') {
        host_end = ws_find_byte(p, end, ']');
        if (host_end == end || !ws_ipv6_valid(p + 1, host_end))
            return false;
        host_end++;
        hp->ipv6 = true;
    } else {
        host_end = ws_find_byte(p, end, ':');
        if (!ws_reg_name_valid(p, host_end))
            return false;
    }
    hp->host = p;
    hp->host_len = (size_t)(host_end - p);
    hp->has_port = host_end < end;
    if (!hp->has_port)
        return true;
    return *host_end == ':' && ws_port_parse(host_end + 1, end, &hp->port);
}
