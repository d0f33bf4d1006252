/*
 * permessage-deflate negotiation (RFC 7692 §5, §7.1): the server picks the first offer its
 * settings can accept and writes the answer; the client writes its offer and holds the
 * answer to it. Pure parsing over the handshake's headers, no zlib; one pass over them.
 */
#include "deflate.h"

static const char ws_pmd_name[] = "permessage-deflate";

void ws_deflate_config_init(ws_deflate_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->server_max_window_bits = WS_DEFLATE_WBITS_MAX;
    cfg->client_max_window_bits = WS_DEFLATE_WBITS_MAX;
    cfg->level = 6;
    cfg->mem_level = 8;
    cfg->min_size = 64;
}

static bool ws_wbits_ok(unsigned bits)
{
    return bits >= WS_DEFLATE_WBITS_MIN && bits <= WS_DEFLATE_WBITS_MAX;
}

bool ws_deflate_params_valid(const ws_deflate_params *p)
{
    return p != NULL && ws_wbits_ok(p->server_max_window_bits) &&
           ws_wbits_ok(p->client_max_window_bits);
}

bool ws_deflate_config_valid(const ws_deflate_config *cfg)
{
    return cfg != NULL && ws_wbits_ok(cfg->server_max_window_bits) &&
           ws_wbits_ok(cfg->client_max_window_bits) && cfg->level >= 0 && cfg->level <= 9 &&
           cfg->mem_level >= 1 && cfg->mem_level <= 9;
}

/* ---- reading one offer or answer ------------------------------------------------------ */

/* The parameters of one permessage-deflate element. A window is 0 when absent; the client
 * window may also be present without a value (client_window_bare). */
typedef struct ws_pmd_elem {
    bool server_nct;
    bool client_nct;
    uint8_t server_window;
    uint8_t client_window;
    bool client_window_bare;
} ws_pmd_elem;

enum { WS_PMD_SNCT = 1, WS_PMD_CNCT = 2, WS_PMD_SMWB = 4, WS_PMD_CMWB = 8 };

static bool ws_name_is(const char *p, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(p, name, len) == 0;
}

/* A window size as RFC 7692 §7.1.2 writes it: 8..15 in decimal, no leading zero (the
 * iterator has already removed any quotes). 0 when it is not one. */
static uint8_t ws_pmd_wbits(const char *v, size_t len)
{
    if (len == 1 && (v[0] == '8' || v[0] == '9'))
        return (uint8_t)(v[0] - '0');
    if (len == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return (uint8_t)(10 + (v[1] - '0'));
    return 0;
}

/* Reads ext's parameters into *e. False for an unknown or repeated parameter, a value on
 * a flag, or a window without a valid value (the client window may lack a value only in an
 * offer). */
static bool ws_pmd_parse(const ws_extension *ext, bool offer, ws_pmd_elem *e)
{
    unsigned seen = 0;
    size_t i;

    memset(e, 0, sizeof *e);
    for (i = 0; i < ext->param_count; i++) {
        const ws_extension_param *prm = &ext->params[i];
        unsigned bit;

        if (ws_name_is(prm->name, prm->name_len, "server_no_context_takeover"))
            bit = WS_PMD_SNCT;
        else if (ws_name_is(prm->name, prm->name_len, "client_no_context_takeover"))
            bit = WS_PMD_CNCT;
        else if (ws_name_is(prm->name, prm->name_len, "server_max_window_bits"))
            bit = WS_PMD_SMWB;
        else if (ws_name_is(prm->name, prm->name_len, "client_max_window_bits"))
            bit = WS_PMD_CMWB;
        else
            return false;
        if (seen & bit)
            return false;
        seen |= bit;

        switch (bit) {
        case WS_PMD_SNCT:
        case WS_PMD_CNCT:
            if (prm->value != NULL)
                return false;
            if (bit == WS_PMD_SNCT)
                e->server_nct = true;
            else
                e->client_nct = true;
            break;
        case WS_PMD_SMWB:
            if (prm->value == NULL)
                return false;
            e->server_window = ws_pmd_wbits(prm->value, prm->value_len);
            if (e->server_window == 0)
                return false;
            break;
        default: /* WS_PMD_CMWB */
            if (prm->value == NULL) {
                if (!offer)
                    return false;
                e->client_window_bare = true;
                break;
            }
            e->client_window = ws_pmd_wbits(prm->value, prm->value_len);
            if (e->client_window == 0)
                return false;
            break;
        }
    }
    return true;
}

/* ---- writing an offer or answer -------------------------------------------------------- */

typedef struct ws_pmd_out {
    char *p;
    size_t cap;
    size_t len;
    bool overflow;
} ws_pmd_out;

static void ws_pmd_put(ws_pmd_out *o, const char *s)
{
    size_t n = strlen(s);

    if (o->overflow || o->cap - o->len <= n) { /* keep room for the NUL */
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void ws_pmd_put_window(ws_pmd_out *o, const char *name, unsigned bits)
{
    char num[3];

    num[0] = bits >= 10 ? '1' : (char)('0' + bits);
    num[1] = bits >= 10 ? (char)('0' + bits - 10) : '\0';
    num[2] = '\0';
    ws_pmd_put(o, "; ");
    ws_pmd_put(o, name);
    ws_pmd_put(o, "=");
    ws_pmd_put(o, num);
}

/* Writes "permessage-deflate" with the given flags and windows (a window of 0 is left
 * out; client_bare writes client_max_window_bits without a value). */
static int ws_pmd_write(char *out, size_t cap, size_t *out_len, bool snct, bool cnct,
                        unsigned server_window, unsigned client_window, bool client_bare)
{
    ws_pmd_out o = {out, cap, 0, false};

    if (cap == 0)
        return WS_E_BUFFER;
    out[0] = '\0';
    ws_pmd_put(&o, ws_pmd_name);
    if (snct)
        ws_pmd_put(&o, "; server_no_context_takeover");
    if (cnct)
        ws_pmd_put(&o, "; client_no_context_takeover");
    if (server_window != 0)
        ws_pmd_put_window(&o, "server_max_window_bits", server_window);
    if (client_window != 0)
        ws_pmd_put_window(&o, "client_max_window_bits", client_window);
    else if (client_bare)
        ws_pmd_put(&o, "; client_max_window_bits");
    if (o.overflow) {
        out[0] = '\0';
        return WS_E_BUFFER;
    }
    if (out_len != NULL)
        *out_len = o.len;
    return WS_OK;
}

int ws_deflate_params_write(const ws_deflate_params *p, char *out, size_t cap, size_t *out_len)
{
    return ws_pmd_write(
        out, cap, out_len, p->server_no_context_takeover, p->client_no_context_takeover,
        p->server_max_window_bits < WS_DEFLATE_WBITS_MAX ? p->server_max_window_bits : 0u,
        p->client_max_window_bits < WS_DEFLATE_WBITS_MAX ? p->client_max_window_bits : 0u, false);
}

/* ---- server ------------------------------------------------------------------------------ */

/* Whether cfg can accept offer e; fills *p with what would be agreed. */
static bool ws_pmd_server_accepts(const ws_deflate_config *cfg, const ws_pmd_elem *e,
                                  ws_deflate_params *p)
{
    unsigned client_offered = e->client_window != 0 ? e->client_window : WS_DEFLATE_WBITS_MAX;

    /* Without client_max_window_bits the client may use a 32 KiB window: acceptable only
     * when cfg allows that much. */
    if (e->client_window == 0 && !e->client_window_bare &&
        cfg->client_max_window_bits < WS_DEFLATE_WBITS_MAX)
        return false;
    p->server_no_context_takeover = e->server_nct || cfg->server_no_context_takeover;
    p->client_no_context_takeover = e->client_nct || cfg->client_no_context_takeover;
    p->server_max_window_bits =
        (uint8_t)(e->server_window != 0 ? WS_MIN(e->server_window, cfg->server_max_window_bits)
                                        : cfg->server_max_window_bits);
    p->client_max_window_bits = (uint8_t)WS_MIN(client_offered, cfg->client_max_window_bits);
    return true;
}

int ws_deflate_server_negotiate(const ws_deflate_config *cfg, const ws_header *headers,
                                size_t count, char *answer, size_t cap, size_t *answer_len,
                                ws_deflate_params *params)
{
    ws_extension_iter it;
    ws_extension ext;

    if (!ws_deflate_available())
        return WS_E_UNSUPPORTED;
    if (!ws_deflate_config_valid(cfg) || answer == NULL || params == NULL ||
        (headers == NULL && count > 0))
        return WS_E_INVALID;
    if (!cfg->enable)
        return 0;
    ws_extension_iter_init(&it, headers, count);
    while (ws_extension_iter_next(&it, &ext) == 1) {
        ws_pmd_elem e;
        ws_deflate_params p;
        int rc;

        if (!ws_name_is(ext.name, ext.name_len, ws_pmd_name) || !ws_pmd_parse(&ext, true, &e) ||
            !ws_pmd_server_accepts(cfg, &e, &p))
            continue;
        /* The server's window is answered when the offer asked for one or cfg lowers it;
         * the client's only when offered (RFC 7692 §7.1.2.2) and below 15. */
        rc = ws_pmd_write(
            answer, cap, answer_len, p.server_no_context_takeover, p.client_no_context_takeover,
            (e.server_window != 0 || p.server_max_window_bits < WS_DEFLATE_WBITS_MAX)
                ? p.server_max_window_bits
                : 0u,
            p.client_max_window_bits < WS_DEFLATE_WBITS_MAX ? p.client_max_window_bits : 0u, false);
        if (rc != WS_OK)
            return rc;
        *params = p;
        return 1;
    }
    return 0;
}

/* ---- client ------------------------------------------------------------------------------ */

int ws_deflate_client_offer(const ws_deflate_config *cfg, char *out, size_t cap, size_t *out_len)
{
    if (!ws_deflate_available())
        return WS_E_UNSUPPORTED;
    if (!ws_deflate_config_valid(cfg) || !cfg->enable || out == NULL)
        return WS_E_INVALID;
    return ws_pmd_write(
        out, cap, out_len, cfg->server_no_context_takeover, cfg->client_no_context_takeover,
        cfg->server_max_window_bits < WS_DEFLATE_WBITS_MAX ? cfg->server_max_window_bits : 0u,
        cfg->client_max_window_bits < WS_DEFLATE_WBITS_MAX ? cfg->client_max_window_bits : 0u,
        true);
}

/* Whether answer e fits what cfg offered; fills *p with what is agreed. */
static bool ws_pmd_client_accepts(const ws_deflate_config *cfg, const ws_pmd_elem *e,
                                  ws_deflate_params *p)
{
    bool limited = cfg->server_max_window_bits < WS_DEFLATE_WBITS_MAX;

    if (cfg->server_no_context_takeover && !e->server_nct)
        return false;
    /* Asked for a smaller server window, the server must say it uses one (§7.1.2.1). */
    if (limited && (e->server_window == 0 || e->server_window > cfg->server_max_window_bits))
        return false;
    if (e->client_window > cfg->client_max_window_bits)
        return false;
    p->server_no_context_takeover = e->server_nct;
    p->client_no_context_takeover = e->client_nct || cfg->client_no_context_takeover;
    p->server_max_window_bits =
        (uint8_t)(e->server_window != 0 ? e->server_window : WS_DEFLATE_WBITS_MAX);
    p->client_max_window_bits =
        (uint8_t)(e->client_window != 0 ? e->client_window : cfg->client_max_window_bits);
    return true;
}

int ws_deflate_client_check(const ws_deflate_config *cfg, const ws_header *headers, size_t count,
                            ws_deflate_params *params)
{
    ws_extension_iter it;
    ws_extension ext;
    ws_deflate_params agreed;
    bool found = false;
    int rc;

    if (!ws_deflate_available())
        return WS_E_UNSUPPORTED;
    if (!ws_deflate_config_valid(cfg) || params == NULL || (headers == NULL && count > 0))
        return WS_E_INVALID;
    ws_extension_iter_init(&it, headers, count);
    while ((rc = ws_extension_iter_next(&it, &ext)) == 1) {
        ws_pmd_elem e;

        if (!ws_name_is(ext.name, ext.name_len, ws_pmd_name))
            continue;
        if (!cfg->enable || found || !ws_pmd_parse(&ext, false, &e) ||
            !ws_pmd_client_accepts(cfg, &e, &agreed))
            return WS_E_HTTP_EXTENSION;
        found = true;
    }
    if (rc != 0)
        return WS_E_HTTP_EXTENSION;
    if (found)
        *params = agreed;
    return found ? 1 : 0;
}
