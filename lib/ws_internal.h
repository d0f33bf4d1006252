/*
 * Private helpers shared by the libws sources. Not installed; nothing here is API.
 */
#ifndef WS_INTERNAL_H
#define WS_INTERNAL_H

#include "ws.h"

#include <string.h>

/* Functions declared between WS_INTERNAL_BEGIN and WS_INTERNAL_END are shared by the lib/
 * sources but are not API: the shared library keeps them out of its dynamic symbol table, so
 * programs can only link to what ws.h declares. (Tests link the static library and may call
 * them.) Every internal header wraps its declarations, after its own #includes, in the pair. */
#if defined(__GNUC__)
#define WS_INTERNAL_BEGIN _Pragma("GCC visibility push(hidden)")
#define WS_INTERNAL_END   _Pragma("GCC visibility pop")
#else
#define WS_INTERNAL_BEGIN
#define WS_INTERNAL_END
#endif

WS_INTERNAL_BEGIN

/* The handshake roles this build has, 1 or 0 (meson -Droles=, docs/size.md): a test on the
 * role then folds to a constant and the left-out role's code is never referenced. */
#if defined(WS_NO_CLIENT) && defined(WS_NO_SERVER)
#error "WS_NO_CLIENT and WS_NO_SERVER together leave no role to build"
#endif
#ifdef WS_NO_CLIENT
#define WS_BUILT_CLIENT 0
#else
#define WS_BUILT_CLIENT 1
#endif
#ifdef WS_NO_SERVER
#define WS_BUILT_SERVER 0
#else
#define WS_BUILT_SERVER 1
#endif

/* Whether an endpoint of this role is a server / a client, for code that has both roles'
 * paths: the plain comparison when both roles are built, a constant otherwise. */
#if WS_BUILT_CLIENT && WS_BUILT_SERVER
#define WS_ROLE_IS_SERVER(role) ((role) == WS_ROLE_SERVER)
#define WS_ROLE_IS_CLIENT(role) ((role) == WS_ROLE_CLIENT)
#else
#define WS_ROLE_IS_SERVER(role) (WS_BUILT_SERVER != 0)
#define WS_ROLE_IS_CLIENT(role) (WS_BUILT_CLIENT != 0)
#endif

#define WS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define WS_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ASCII lower-casing, independent of the C locale. */
static inline unsigned char ws_ascii_lower(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + ('a' - 'A')) : ch;
}

/* The library's one case-insensitive ASCII comparison: a[0..n) with b[0..n). */
static inline bool ws_ascii_ieq_n(const char *a, const char *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (ws_ascii_lower((unsigned char)a[i]) != ws_ascii_lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

/* The same, of a[0..alen) with the NUL-terminated b. */
static inline bool ws_ascii_ieq(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && ws_ascii_ieq_n(a, b, alen);
}

static inline bool ws_is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static inline bool ws_is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static inline bool ws_is_hex(char ch)
{
    return ws_is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* The header both roles and the extension walker look for (http.c). */
extern const char ws_extensions_header[];

/* SP and HTAB: the only whitespace HTTP allows around values and list separators. */
static inline bool ws_is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* tchar of RFC 9110 §5.6.2: the bytes a token (header name, method, subprotocol) may hold.
 * The one definition is the table in http.c: a byte a character, or with WS_SMALL
 * (docs/size.md) a bit per ASCII character. */
#ifdef WS_SMALL
extern const uint8_t ws_tchar_bits[16];

static inline bool ws_is_tchar(char ch)
{
    unsigned char c = (unsigned char)ch;
    return c < 128 && (((unsigned)ws_tchar_bits[c >> 3] >> (c & 7u)) & 1u) != 0;
}
#else
extern const uint8_t ws_tchar_table[256];

static inline bool ws_is_tchar(char ch)
{
    return ws_tchar_table[(unsigned char)ch] != 0;
}
#endif

/* http_parser.c: an RFC 9110 token (one or more tchar), and text fit for a header value
 * (no control byte but HTAB). */
bool ws_http_is_token(const char *s, size_t len);
bool ws_http_is_field_text(const char *s, size_t len);

/* http_parser.c: the head parser with the first line parsed by first_line, one of the two
 * below. ws_http_parser_init is this with the one it names; the handshake roles pass theirs,
 * so that a one-role image links only the parser of the line it reads. */
typedef int (*ws_http_first_line_fn)(ws_http_parser *hs, const char *line, size_t len);
int ws_http_request_line(ws_http_parser *hs, const char *line, size_t len);
int ws_http_status_line(ws_http_parser *hs, const char *line, size_t len);
void ws_http_parser_setup(ws_http_parser *hs, ws_http_first_line_fn first_line,
                          const ws_http_limits *limits, uint8_t *buf, size_t cap,
                          ws_header *headers, size_t max_headers);

/* http.c: the element of the request's Sec-WebSocket-Protocol lists that is proto[0..len),
 * in the head (the client's own bytes), or NULL when the request does not offer it. */
const char *ws_request_subprotocol_item(const ws_request *r, const char *proto, size_t len);

/* The first ch in [p, end), or end. */
static inline const char *ws_find_byte(const char *p, const char *end, char ch)
{
    while (p < end && *p != ch)
        p++;
    return p;
}

/* The 6-bit value of a base64 digit in the alphabet whose last two digits are c62 and c63
 * ("+/" for base64, "-_" for base64url), or -1 for anything else ('=' included). */
static inline int ws_base64_digit(char ch, char c62, char c63)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == c62)
        return 62;
    if (ch == c63)
        return 63;
    return -1;
}

/* authority.c: host [":" port] as URLs, Origin values, Host headers and trusted host lists
 * write it. A reg-name is dot-separated non-empty labels of letters, digits, '-' and '_',
 * optionally ending in one dot (a rooted name); IPv4 addresses are reg-names too. A port is
 * 1-65535 in decimal without a leading zero. An IPv6 literal is RFC 3986's IPv6address,
 * without a zone id. */
typedef struct ws_hostport {
    const char *host; /* brackets included for an IPv6 literal */
    size_t host_len;
    bool ipv6;
    bool has_port;
    uint16_t port; /* when has_port */
} ws_hostport;

bool ws_reg_name_valid(const char *p, const char *end);
bool ws_port_parse(const char *p, const char *end, uint16_t *port);
bool ws_ipv6_valid(const char *p, const char *end);
/* The whole of [p, end) is host [":" port]; hp is filled when true. */
bool ws_hostport_parse(const char *p, const char *end, ws_hostport *hp);

/* The library's one base64 decoder (base64.c): in[0..len) in the alphabet whose last two
 * digits are c62 and c63, padded with '=' to a multiple of 4 or not padded at all. Strict:
 * nothing outside the alphabet, and the bits past the last whole byte must be zero. Returns
 * the decoded length (out NULL: only checks), WS_E_INVALID or WS_E_BUFFER (n > cap); out is
 * written only on success. */
int ws_base64_decode_with(uint8_t *out, size_t cap, const char *in, size_t len, char c62, char c63,
                          bool padded);

/* The length ws_base64_decode would give for in[0..len) (standard alphabet, padded),
 * without decoding, or WS_E_INVALID. */
int ws_base64_decoded_len(const char *in, size_t len);

WS_INTERNAL_END

#endif /* WS_INTERNAL_H */
