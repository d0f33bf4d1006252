/*
 * Reading values out of parsed HTTP heads: header lookup, comma-separated lists (the
 * RFC 9110 "#rule") spread over repeated headers, Sec-WebSocket-Extensions offers, cookies
 * and query parameters. Everything is a pointer into the head; every walk is one pass.
 */
#include "ws_internal.h"

/* 1 for the tchar of RFC 9110 §5.6.2: ALPHA, DIGIT and !#$%&'*+-.^_`|~. */
#ifdef WS_SMALL
/* Bit c & 7 of byte c >> 3, for c below 0x80. */
const uint8_t ws_tchar_bits[16] = {0x00, 0x00, 0x00, 0x00, 0xFA, 0x6C, 0xFF, 0x03,
                                   0xFE, 0xFF, 0xFF, 0xC7, 0xFF, 0xFF, 0xFF, 0x57};
#else
const uint8_t ws_tchar_table[256] = {
    /* 0x00 - 0x1F: control bytes */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /*  SP !  "  #  $  %  &  '  (  )  *  +  ,  -  .  /  0-9                    :  ;  <  =  >  ? */
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    /*  @  A-Z                                                                   [  \  ]  ^  _ */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,
    /*  `  a-z                                                                   {  |  }  ~ DEL */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
    /* 0x80 - 0xFF: zero */
};
#endif

const char ws_extensions_header[] = "Sec-WebSocket-Extensions";

static const char *ws_skip_ows(const char *p, const char *end)
{
    while (p < end && ws_is_ows(*p))
        p++;
    return p;
}

static const char *ws_trim_ows_end(const char *start, const char *end)
{
    while (end > start && ws_is_ows(end[-1]))
        end--;
    return end;
}

static bool ws_bytes_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

const ws_header *ws_header_find(const ws_header *headers, size_t count, const char *name)
{
    size_t i;
    for (i = 0; i < count; i++) {
        if (ws_ascii_ieq(headers[i].name, headers[i].name_len, name))
            return &headers[i];
    }
    return NULL;
}

/* The next non-empty element of the list v[0..len) from *pos, trimmed; advances *pos past
 * it and its comma. Elements are not quote-aware: the lists read this way (Connection,
 * Upgrade, Sec-WebSocket-Protocol ...) hold tokens only. */
static bool ws_list_next(const char *v, size_t len, size_t *pos, const char **item,
                         size_t *item_len)
{
    const char *p, *end, *start;

    if (*pos >= len) {
        *pos = len; /* also keeps an empty value's NULL pointer out of the arithmetic */
        return false;
    }
    p = v + *pos;
    end = v + len;
    while (p < end && (ws_is_ows(*p) || *p == ','))
        p++;
    if (p == end) {
        *pos = len;
        return false;
    }
    start = p;
    p = ws_find_byte(p, end, ',');
    *item = start;
    *item_len = (size_t)(ws_trim_ows_end(start, p) - start);
    *pos = (size_t)(p - v) + (p < end ? 1u : 0u);
    return true;
}

/* The first element of the list v[0..len) equal to token[0..tlen), exactly or, with icase,
 * ignoring ASCII case; NULL when there is none. */
static const char *ws_list_find(const char *v, size_t len, const char *token, size_t tlen,
                                bool icase)
{
    size_t pos = 0, item_len;
    const char *item;

    while (ws_list_next(v, len, &pos, &item, &item_len)) {
        /* Elements are never empty, so neither comparison sees a length of 0. */
        if (item_len == tlen &&
            (icase ? ws_ascii_ieq_n(item, token, tlen) : memcmp(item, token, tlen) == 0))
            return item;
    }
    return NULL;
}

bool ws_http_list_has(const char *value, size_t len, const char *token)
{
    return ws_list_find(value, len, token, strlen(token), true) != NULL;
}

void ws_list_iter_init(ws_list_iter *it, const ws_header *headers, size_t count, const char *name)
{
    it->headers = headers;
    it->count = count;
    it->name = name;
    it->index = 0;
    it->pos = 0;
}

bool ws_list_iter_next(ws_list_iter *it, const char **item, size_t *item_len)
{
    while (it->index < it->count) {
        const ws_header *h = &it->headers[it->index];
        /* pos is past an element already returned from this header, so a non-zero pos
         * means its name matched; each name is compared once. */
        if (it->pos != 0 || ws_ascii_ieq(h->name, h->name_len, it->name)) {
            if (ws_list_next(h->value, h->value_len, &it->pos, item, item_len))
                return true;
        }
        it->index++;
        it->pos = 0;
    }
    return false;
}

const char *ws_request_subprotocol_item(const ws_request *r, const char *proto, size_t len)
{
    const char *item = NULL;
    size_t i;

    if (r == NULL || len == 0)
        return NULL;
    for (i = 0; i < r->header_count && item == NULL; i++) {
        const ws_header *h = &r->headers[i];
        if (ws_ascii_ieq(h->name, h->name_len, "Sec-WebSocket-Protocol"))
            item = ws_list_find(h->value, h->value_len, proto, len, false);
    }
    return item;
}

bool ws_request_offers_subprotocol(const ws_request *r, const char *proto, size_t len)
{
    return ws_request_subprotocol_item(r, proto, len) != NULL;
}

/* ---- Sec-WebSocket-Extensions ------------------------------------------------------- */

void ws_extension_iter_init(ws_extension_iter *it, const ws_header *headers, size_t count)
{
    ws_list_iter_init(&it->headers, headers, count, "Sec-WebSocket-Extensions");
    it->cur = NULL;
    it->end = NULL;
    it->error = WS_OK;
}

/* Moves cur/end to the next Sec-WebSocket-Extensions value; false when there is none. */
static bool ws_extension_next_header(ws_extension_iter *it)
{
    ws_list_iter *h = &it->headers;

    while (h->index < h->count) {
        const ws_header *hd = &h->headers[h->index++];
        if (hd->value_len > 0 && ws_ascii_ieq(hd->name, hd->name_len, h->name)) {
            it->cur = hd->value;
            it->end = hd->value + hd->value_len;
            return true;
        }
    }
    it->cur = it->end = NULL;
    return false;
}

/* A token at p; returns its end (== p when there is none). */
static const char *ws_scan_token(const char *p, const char *end)
{
    while (p < end && ws_is_tchar(*p))
        p++;
    return p;
}

/* qdtext of RFC 9110 §5.6.4, minus the backslash and DQUOTE handled by the caller. */
static bool ws_is_qdtext(char ch)
{
    unsigned char c = (unsigned char)ch;
    return c == '\t' || (c >= 0x20 && c != 0x7F);
}

/* A quoted-string whose opening DQUOTE is at p; returns the position of the closing
 * DQUOTE, or NULL when the string is unterminated or holds a control character. */
static const char *ws_scan_quoted(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '"')
            return p;
        if (*p == '\\') {
            if (++p == end)
                return NULL;
        }
        if (!ws_is_qdtext(*p))
            return NULL;
    }
    return NULL;
}

/* One parameter "name [= value]" at p (whitespace skipped); returns the position after
 * it, or NULL when it is malformed. */
static const char *ws_parse_ext_param(const char *p, const char *end, ws_extension_param *prm)
{
    const char *q = ws_scan_token(p, end);

    if (q == p)
        return NULL;
    prm->name = p;
    prm->name_len = (size_t)(q - p);
    prm->value = NULL;
    prm->value_len = 0;

    p = ws_skip_ows(q, end);
    if (p == end || *p != '=')
        return p;
    p = ws_skip_ows(p + 1, end);
    if (p < end && *p == '"') {
        q = ws_scan_quoted(p, end);
        if (q == NULL)
            return NULL;
        prm->value = p + 1;
        prm->value_len = (size_t)(q - (p + 1));
        return q + 1;
    }
    q = ws_scan_token(p, end);
    if (q == p)
        return NULL;
    prm->value = p;
    prm->value_len = (size_t)(q - p);
    return q;
}

/* One extension at p (a non-separator byte): name *(";" param), then ',' or the end.
 * Returns the position after its comma, or NULL when it is malformed. */
static const char *ws_parse_extension(const char *p, const char *end, ws_extension *ext)
{
    const char *q = ws_scan_token(p, end);

    if (q == p)
        return NULL;
    ext->name = p;
    ext->name_len = (size_t)(q - p);
    ext->param_count = 0;

    p = ws_skip_ows(q, end);
    while (p < end && *p == ';') {
        if (ext->param_count == WS_EXTENSION_PARAMS_MAX)
            return NULL;
        p = ws_parse_ext_param(ws_skip_ows(p + 1, end), end, &ext->params[ext->param_count]);
        if (p == NULL)
            return NULL;
        ext->param_count++;
        p = ws_skip_ows(p, end);
    }
    if (p == end)
        return p;
    return (*p == ',') ? p + 1 : NULL;
}

int ws_extension_iter_next(ws_extension_iter *it, ws_extension *ext)
{
    for (;;) {
        const char *p;

        if (it->error != WS_OK)
            return it->error;
        if (it->cur == it->end) {
            if (!ws_extension_next_header(it))
                return 0;
            continue;
        }
        if (ws_is_ows(*it->cur) || *it->cur == ',') {
            it->cur++; /* empty list elements are allowed and skipped */
            continue;
        }
        p = ws_parse_extension(it->cur, it->end, ext);
        if (p == NULL) {
            it->error = WS_E_HTTP_EXTENSION;
            return it->error;
        }
        it->cur = p;
        return 1;
    }
}

/* ---- Cookies and query parameters --------------------------------------------------- */

/* Looks for name in one Cookie value: pairs "name=value" separated by ';', whitespace
 * around names and values ignored, a value in DQUOTEs given without them. */
static bool ws_cookie_in(const char *v, size_t len, const char *name, size_t name_len,
                         const char **value, size_t *value_len)
{
    const char *p, *end;

    if (len == 0)
        return false;
    p = v;
    end = v + len;
    while (p < end) {
        const char *pair = ws_skip_ows(p, end);
        const char *pair_end = ws_find_byte(pair, end, ';');
        const char *eq = ws_find_byte(pair, pair_end, '=');

        p = (pair_end < end) ? pair_end + 1 : end;
        if (eq == pair_end)
            continue; /* no '=': not a cookie-pair */
        if (ws_bytes_eq(pair, (size_t)(ws_trim_ows_end(pair, eq) - pair), name, name_len)) {
            const char *vs = ws_skip_ows(eq + 1, pair_end);
            const char *ve = ws_trim_ows_end(vs, pair_end);
            if (ve - vs >= 2 && vs[0] == '"' && ve[-1] == '"') {
                vs++;
                ve--;
            }
            *value = vs;
            *value_len = (size_t)(ve - vs);
            return true;
        }
    }
    return false;
}

bool ws_request_cookie(const ws_request *r, const char *name, const char **value, size_t *value_len)
{
    size_t i, name_len;

    if (r == NULL || name == NULL)
        return false;
    name_len = strlen(name);
    for (i = 0; i < r->header_count; i++) {
        const ws_header *h = &r->headers[i];
        if (ws_ascii_ieq(h->name, h->name_len, "Cookie") &&
            ws_cookie_in(h->value, h->value_len, name, name_len, value, value_len))
            return true;
    }
    return false;
}

bool ws_request_query_param(const ws_request *r, const char *name, const char **value,
                            size_t *value_len)
{
    const char *p, *end;
    size_t name_len;

    if (r == NULL || r->query == NULL || name == NULL)
        return false;
    name_len = strlen(name);
    p = r->query;
    end = r->query + r->query_len;
    while (p < end) {
        const char *part = p;
        const char *part_end = ws_find_byte(part, end, '&');
        const char *eq = ws_find_byte(part, part_end, '=');

        p = (part_end < end) ? part_end + 1 : end;
        if (part_end == part)
            continue; /* "a=1&&b=2" */
        if (ws_bytes_eq(part, (size_t)(eq - part), name, name_len)) {
            *value = (eq < part_end) ? eq + 1 : part_end;
            *value_len = (size_t)(part_end - *value);
            return true;
        }
    }
    return false;
}
