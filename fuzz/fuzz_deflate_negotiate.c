/*
 * permessage-deflate negotiation: the fuzzer's header lines are read as a request's offers
 * by ws_deflate_server_negotiate and as a response's answers by ws_deflate_client_check.
 * The server answers exactly when some offer is acceptable (a reference reading of RFC 7692
 * §7.1 decides), and its answer is one well-formed permessage-deflate element the client
 * accepts with the same parameters; the client's verdict follows the RFC's rules; and an
 * offer the client writes is always answered and the answer always accepted.
 * Input: server settings byte, client settings byte, flags byte, then up to 4 header
 * values separated by '\n'.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define FZ_MAX_HEADERS 4

/* Settings from one byte: windows 8..15 from two 3-bit fields, then the two flags. */
static void fz_cfg(uint8_t b, ws_deflate_config *cfg)
{
    ws_deflate_config_init(cfg);
    cfg->enable = true;
    cfg->server_max_window_bits = (uint8_t)(8 + (b & 7));
    cfg->client_max_window_bits = (uint8_t)(8 + ((b >> 3) & 7));
    cfg->server_no_context_takeover = (b & 0x40) != 0;
    cfg->client_no_context_takeover = (b & 0x80) != 0;
}

static bool fz_named(const ws_extension_param *p, const char *name)
{
    return p->name_len == strlen(name) && memcmp(p->name, name, p->name_len) == 0;
}

/* A window value as RFC 7692 §7.1.2 allows it: 1*DIGIT, no leading zero, 8 to 15. */
static int fz_window(const char *v, size_t n)
{
    int value = 0;
    size_t i;

    if (v == NULL || n == 0 || n > 2 || v[0] == '0')
        return -1;
    for (i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        value = value * 10 + (v[i] - '0');
    }
    return (value >= 8 && value <= 15) ? value : -1;
}

/* One element's parameters as the reference reads them. Windows: 0 absent, -2 present
 * without value (client window in an offer). */
typedef struct fz_elem {
    bool ok;
    bool snct, cnct;
    int sw, cw;
} fz_elem;

static fz_elem fz_read(const ws_extension *e, bool offer)
{
    static const char *const names[4] = {"server_no_context_takeover", "client_no_context_takeover",
                                         "server_max_window_bits", "client_max_window_bits"};
    fz_elem r;
    int count[4] = {0, 0, 0, 0};
    size_t i;
    int k;

    memset(&r, 0, sizeof r);
    for (i = 0; i < e->param_count; i++) {
        const ws_extension_param *p = &e->params[i];
        for (k = 0; k < 4 && !fz_named(p, names[k]); k++)
            ;
        if (k == 4 || ++count[k] > 1)
            return r; /* unknown or repeated: not ok */
        if (k < 2) {
            if (p->value != NULL)
                return r;
            if (k == 0)
                r.snct = true;
            else
                r.cnct = true;
        } else if (k == 3 && p->value == NULL) {
            if (!offer)
                return r;
            r.cw = -2;
        } else {
            int w = fz_window(p->value, p->value_len);
            if (w < 0)
                return r;
            if (k == 2)
                r.sw = w;
            else
                r.cw = w;
        }
    }
    r.ok = true;
    return r;
}

static bool fz_is_pmd(const ws_extension *e)
{
    return e->name_len == 18 && memcmp(e->name, "permessage-deflate", 18) == 0;
}

static void fz_check_server(const ws_deflate_config *cfg, const ws_header *h, size_t n)
{
    char answer[WS_DEFLATE_HEADER_MAX];
    size_t len = 0;
    ws_deflate_params p, cp;
    ws_deflate_config client;
    ws_extension_iter it;
    ws_extension e;
    ws_header ah;
    int rc = ws_deflate_server_negotiate(cfg, h, n, answer, sizeof answer, &len, &p);
    int want = 0;

    /* Reference: the first element that reads well and leaves the client's window within
     * cfg decides; a list that stops parsing ends the search. */
    ws_extension_iter_init(&it, h, n);
    while (want == 0 && ws_extension_iter_next(&it, &e) == 1) {
        fz_elem r;
        if (!fz_is_pmd(&e))
            continue;
        r = fz_read(&e, true);
        if (!r.ok || (r.cw == 0 && cfg->client_max_window_bits < 15))
            continue;
        want = 1;
        FZ_CHECK(rc == 1);
        FZ_CHECK(p.server_no_context_takeover == (r.snct || cfg->server_no_context_takeover));
        FZ_CHECK(p.client_no_context_takeover == (r.cnct || cfg->client_no_context_takeover));
        FZ_CHECK(p.server_max_window_bits <= cfg->server_max_window_bits);
        FZ_CHECK(r.sw == 0 || p.server_max_window_bits <= r.sw);
        FZ_CHECK(p.client_max_window_bits <= cfg->client_max_window_bits);
        FZ_CHECK(r.cw <= 0 || p.client_max_window_bits <= r.cw);
    }
    FZ_CHECK(rc == want);
    if (rc != 1)
        return;
    FZ_CHECK(len == strlen(answer) && len < sizeof answer);
    /* The answer is one permessage-deflate element, with no value-less client window. */
    ah.name = "Sec-WebSocket-Extensions";
    ah.name_len = strlen(ah.name);
    ah.value = answer;
    ah.value_len = len;
    ws_extension_iter_init(&it, &ah, 1);
    FZ_CHECK(ws_extension_iter_next(&it, &e) == 1);
    FZ_CHECK(fz_is_pmd(&e) && fz_read(&e, false).ok);
    FZ_CHECK(ws_extension_iter_next(&it, &e) == 0);
    /* A client that allows everything accepts it and agrees. */
    ws_deflate_config_init(&client);
    client.enable = true;
    FZ_CHECK(ws_deflate_client_check(&client, &ah, 1, &cp) == 1);
    FZ_CHECK(memcmp(&cp, &p, sizeof p) == 0);
}

static void fz_check_client(const ws_deflate_config *cfg, const ws_header *h, size_t n)
{
    ws_deflate_params p;
    ws_extension_iter it;
    ws_extension e;
    int rc = ws_deflate_client_check(cfg, h, n, &p), it_rc, count = 0;
    bool bad = false;

    ws_extension_iter_init(&it, h, n);
    while ((it_rc = ws_extension_iter_next(&it, &e)) == 1) {
        fz_elem r;
        if (!fz_is_pmd(&e))
            continue;
        count++;
        r = fz_read(&e, false);
        if (!r.ok || (cfg->server_no_context_takeover && !r.snct) ||
            (cfg->server_max_window_bits < 15 &&
             (r.sw == 0 || r.sw > cfg->server_max_window_bits)) ||
            r.cw > cfg->client_max_window_bits)
            bad = true;
    }
    if (it_rc != 0 || (count > 0 && !cfg->enable) || count > 1 || bad) {
        FZ_CHECK(rc == WS_E_HTTP_EXTENSION);
        return;
    }
    FZ_CHECK(rc == (count == 1 ? 1 : 0));
    if (rc == 1) {
        FZ_CHECK(p.server_max_window_bits >= 8 && p.server_max_window_bits <= 15);
        FZ_CHECK(p.client_max_window_bits >= 8 &&
                 p.client_max_window_bits <= cfg->client_max_window_bits);
        FZ_CHECK(!cfg->client_no_context_takeover || p.client_no_context_takeover);
    }
}

/* The client's own offer is always answered, and the answer always accepted, alike. */
static void fz_check_agreement(const ws_deflate_config *scfg, const ws_deflate_config *ccfg)
{
    char offer[WS_DEFLATE_HEADER_MAX], answer[WS_DEFLATE_HEADER_MAX];
    ws_deflate_params sp, cp;
    ws_header h;

    FZ_CHECK(ws_deflate_client_offer(ccfg, offer, sizeof offer, NULL) == WS_OK);
    h.name = "Sec-WebSocket-Extensions";
    h.name_len = strlen(h.name);
    h.value = offer;
    h.value_len = strlen(offer);
    FZ_CHECK(ws_deflate_server_negotiate(scfg, &h, 1, answer, sizeof answer, NULL, &sp) == 1);
    h.value = answer;
    h.value_len = strlen(answer);
    FZ_CHECK(ws_deflate_client_check(ccfg, &h, 1, &cp) == 1);
    FZ_CHECK(memcmp(&sp, &cp, sizeof sp) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    ws_deflate_config scfg, ccfg;
    ws_header h[FZ_MAX_HEADERS];
    uint8_t *copies[FZ_MAX_HEADERS];
    size_t n = 0, i;
    uint8_t flags;
    const uint8_t *rest;
    size_t rest_len;

    fz_reader_init(&r, data, size);
    fz_cfg(fz_u8(&r), &scfg);
    fz_cfg(fz_u8(&r), &ccfg);
    flags = fz_u8(&r);
    ccfg.enable = (flags & 1) == 0;
    rest_len = fz_take(&r, size, &rest);

    /* Each line an exact-size copy, so a read past a value is caught. */
    while (n < FZ_MAX_HEADERS && (rest_len > 0 || n == 0)) {
        const uint8_t *nl = rest_len ? memchr(rest, '\n', rest_len) : NULL;
        size_t line = nl ? (size_t)(nl - rest) : rest_len;

        copies[n] = fz_dup(rest, line);
        h[n].name = "Sec-WebSocket-Extensions";
        h[n].name_len = 24;
        h[n].value = (const char *)copies[n];
        h[n].value_len = line;
        n++;
        if (nl == NULL)
            break;
        rest += line + 1;
        rest_len -= line + 1;
    }
    fz_check_server(&scfg, h, n);
    fz_check_client(&ccfg, h, n);
    if (ccfg.enable)
        fz_check_agreement(&scfg, &ccfg);
    for (i = 0; i < n; i++)
        free(copies[i]);
    return 0;
}
