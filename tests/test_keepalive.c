/*
 * Time as a value: pings, pong/idle/handshake/close timeouts and RTT driven by a fake clock;
 * and the server's request hooks (reject, pending then resumed, nothing after a rejection).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "error_text.h"
#include "ws.h"

static uint64_t storage[1 << 13];
static const uint8_t key[4] = {1, 2, 3, 4};

static ws_conn *open_server(ws_config *cfg)
{
    ws_conn *c;

    cfg->max_output = 4096;
    cfg->max_head_size = 2048;
    cfg->max_headers = 16;
    c = ws_conn_init(storage, sizeof storage, cfg);
    assert_non_null(c);
    return c;
}

/* A masked client frame. */
static size_t client_frame(uint8_t *out, uint8_t b0, const void *p, size_t n)
{
    ws_frame_header h;
    int hl;

    memset(&h, 0, sizeof h);
    h.fin = (b0 & 0x80) != 0;
    h.opcode = b0 & 0x0f;
    h.length = n;
    h.masked = true;
    memcpy(h.mask, key, 4);
    hl = ws_frame_header_encode(out, &h);
    assert_true(hl > 0);
    memcpy(out + hl, p, n);
    ws_mask(out + hl, n, key, 0);
    return (size_t)hl + n;
}

static size_t drain(ws_conn *c, uint8_t *dst)
{
    const uint8_t *o;
    size_t n = ws_conn_output(c, &o);
    memcpy(dst, o, n);
    ws_conn_consume(c, n);
    return n;
}

static ws_event_type next(ws_conn *c, ws_event *ev)
{
    return ws_conn_next_event(c, ev);
}

static void test_ping_interval_and_rtt(void **state)
{
    ws_config cfg;
    ws_conn *c;
    uint8_t out[256], in[64];
    size_t n;
    ws_event ev;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.ping_interval_ms = 1000;
    cfg.pong_timeout_ms = 500;
    c = open_server(&cfg);
    assert_int_equal(ws_conn_next_deadline(c), 0); /* the clocks start at the first tick */
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_OPEN);
    ws_conn_tick(c, 5000);
    assert_int_equal(ws_conn_next_deadline(c), 6000);
    assert_int_equal(ws_conn_rtt(c), -1);
    ws_conn_tick(c, 5999);
    assert_int_equal(drain(c, out), 0);
    ws_conn_tick(c, 6000);
    n = drain(c, out);
    /* A ping whose payload is the send time, big-endian. */
    assert_int_equal(n, 10);
    assert_memory_equal(out, "\x89\x08\x00\x00\x00\x00\x00\x00\x17\x70", 10);
    assert_int_equal(ws_conn_next_deadline(c), 6500);
    ws_conn_tick(c, 6120);
    n = client_frame(in, 0x8A, out + 2, 8);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_PONG);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    assert_int_equal(ws_conn_rtt(c), 120);
    assert_int_equal(ws_conn_next_deadline(c), 7000);
    ws_conn_tick(c, 6500); /* answered: no timeout */
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    ws_conn_tick(c, 7000);
    assert_int_equal(drain(c, out), 10);
    assert_int_equal(ws_conn_phase(c), WS_PHASE_OPEN);
}

/* A host that wakes late sets the time, feeds the pong already read, then ticks: the pong
 * counts, and no timeout fires for a ping that was answered. */
static void test_late_wakeup_set_time(void **state)
{
    ws_config cfg;
    ws_conn *c;
    uint8_t out[64], in[64];
    size_t n;
    ws_event ev;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.ping_interval_ms = 1000;
    cfg.pong_timeout_ms = 500;
    c = open_server(&cfg);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_OPEN);
    ws_conn_tick(c, 0);
    ws_conn_tick(c, 1000);
    assert_int_equal(drain(c, out), 10);
    ws_conn_set_time(c, 1700); /* past the pong deadline (1500), deadlines not yet acted on */
    assert_int_equal(ws_conn_now(c), 1700);
    n = client_frame(in, 0x8A, out + 2, 8);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_PONG);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    ws_conn_tick(c, 1700);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    assert_int_equal(ws_conn_phase(c), WS_PHASE_OPEN);
    assert_int_equal(ws_conn_rtt(c), 700);
}

static void test_missed_pong(void **state)
{
    static const char pong_timeout[] = "\x03\xe9" TEST_MESSAGE("pong timeout");
    ws_config cfg;
    ws_conn *c;
    uint8_t out[256];
    size_t n;
    ws_event ev;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.ping_interval_ms = 1000;
    cfg.pong_timeout_ms = 500;
    c = open_server(&cfg);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    ws_conn_tick(c, 0);
    ws_conn_tick(c, 1000);
    drain(c, out);
    ws_conn_tick(c, 1499);
    assert_int_equal(next(c, &ev), WS_EV_OPEN);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    ws_conn_tick(c, 1500);
    assert_int_equal(next(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_PONG_TIMEOUT);
    assert_int_equal(ev.close_code, 1001);
    n = drain(c, out);
    assert_true(n >= 4);
    assert_memory_equal(out, "\x88", 1);
    assert_int_equal(n - 2, sizeof pong_timeout - 1);
    assert_memory_equal(out + 2, pong_timeout, n - 2);
    assert_int_equal(ws_conn_next_deadline(c), UINT64_MAX);
    assert_int_equal(ws_conn_send(c, WS_OP_TEXT, "x", 1), WS_E_CLOSED);
}

/* Only what the host calls activity keeps an idle connection alive. */
static bool only_heartbeats(void *ud, ws_conn *c, const ws_event *ev)
{
    (void)ud;
    (void)c;
    return ev->type == WS_EV_CHUNK && ev->len == 2 && memcmp(ev->data, "hb", 2) == 0;
}

static void test_idle_timeout(void **state)
{
    ws_config cfg;
    ws_conn *c;
    uint8_t in[64];
    size_t n;
    ws_event ev;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.idle_timeout_ms = 3000;
    c = open_server(&cfg);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    ws_conn_tick(c, 0);
    assert_int_equal(next(c, &ev), WS_EV_OPEN);
    ws_conn_tick(c, 1000);
    n = client_frame(in, 0x82, "data", 4);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_CHUNK);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    assert_int_equal(ws_conn_next_deadline(c), 4000);
    ws_conn_tick(c, 3999);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    ws_conn_tick(c, 4000);
    assert_int_equal(next(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_IDLE_TIMEOUT);
    assert_int_equal(ev.close_code, 1001);
}

static void test_idle_counts_only_heartbeats(void **state)
{
    static const ws_keepalive_hooks hooks = {NULL, NULL, only_heartbeats, NULL};
    ws_config cfg;
    ws_conn *c;
    uint8_t in[64];
    size_t n;
    ws_event ev;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.idle_timeout_ms = 3000;
    cfg.keepalive = &hooks;
    c = open_server(&cfg);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    ws_conn_tick(c, 0);
    assert_int_equal(next(c, &ev), WS_EV_OPEN);
    ws_conn_tick(c, 2000);
    n = client_frame(in, 0x81, "hb", 2);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_CHUNK);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    ws_conn_tick(c, 4000);
    n = client_frame(in, 0x81, "chatter", 7); /* not a heartbeat */
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_CHUNK);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    ws_conn_tick(c, 4999);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    ws_conn_tick(c, 5000);
    assert_int_equal(next(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_IDLE_TIMEOUT);
}

static bool never_ping(void *ud, ws_conn *c, uint64_t now)
{
    int *asked = (int *)ud;
    (void)c;
    (void)now;
    (*asked)++;
    return false;
}

static size_t hello_payload(void *ud, ws_conn *c, uint64_t now, uint8_t buf[125])
{
    (void)ud;
    (void)c;
    (void)now;
    memcpy(buf, "hello", 5);
    return 5;
}

static void test_ping_hooks(void **state)
{
    int asked = 0;
    ws_keepalive_hooks skip = {never_ping, NULL, NULL, &asked};
    ws_keepalive_hooks custom = {NULL, hello_payload, NULL, NULL};
    ws_config cfg;
    ws_conn *c;
    uint8_t out[64];
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.ping_interval_ms = 100;
    cfg.keepalive = &skip;
    c = open_server(&cfg);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    ws_conn_tick(c, 0);
    ws_conn_tick(c, 100);
    ws_conn_tick(c, 200);
    assert_int_equal(asked, 2);
    assert_int_equal(drain(c, out), 0);

    cfg.keepalive = &custom;
    c = open_server(&cfg);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    ws_conn_tick(c, 0);
    ws_conn_tick(c, 100);
    assert_int_equal(drain(c, out), 7);
    assert_memory_equal(out, "\x89\x05hello", 7);
}

static const char request[] = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nOrigin: https://evil.example\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";

static void test_handshake_and_close_timeouts(void **state)
{
    ws_config cfg;
    ws_conn *c;
    uint8_t in[512];
    ws_event ev;
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    c = open_server(&cfg);
    ws_conn_tick(c, 100);
    memcpy(in, request, 20); /* a client that stops half-way */
    assert_int_equal(ws_conn_feed(c, in, 20), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    assert_int_equal(ws_conn_next_deadline(c), 10100);
    ws_conn_tick(c, 10099);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    ws_conn_tick(c, 10100);
    assert_int_equal(next(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_HANDSHAKE_TIMEOUT);
    assert_int_equal(ev.http_status, 408); /* the slow client is told before the close */
    {
        uint8_t out[512];
        size_t n = drain(c, out);
        static const char line[] = "HTTP/1.1 408 " TEST_PHRASE("Request Timeout") "\r\n";
        assert_true(n > sizeof line - 1);
        assert_memory_equal(out, line, sizeof line - 1);
    }

    /* Our close is never answered. */
    c = open_server(&cfg);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    ws_conn_tick(c, 0);
    assert_int_equal(next(c, &ev), WS_EV_OPEN);
    ws_conn_tick(c, 50);
    assert_int_equal(ws_conn_close(c, 1000, NULL, 0), WS_OK);
    assert_int_equal(ws_conn_next_deadline(c), 5050);
    ws_conn_tick(c, 5050);
    assert_int_equal(next(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_CLOSE_TIMEOUT);
    assert_int_equal(ev.close_code, 1006);
}

#ifndef WS_NO_REQUEST_HOOKS /* a build without them refuses them (test_conn.c) */
/* ---- request hooks ------------------------------------------------------------------- */

typedef struct hook_log {
    int origin_calls, auth_calls;
    int origin_verdict, auth_verdict;
} hook_log;

static int origin_hook(void *ud, ws_conn *c, const ws_request *r)
{
    hook_log *log = (hook_log *)ud;
    (void)c;
    assert_non_null(r->origin);
    log->origin_calls++;
    return log->origin_verdict;
}

static int auth_hook(void *ud, ws_conn *c, const ws_request *r)
{
    hook_log *log = (hook_log *)ud;
    (void)r;
    log->auth_calls++;
    ws_conn_set_user(c, log);
    return log->auth_verdict;
}

static ws_conn *hooked_server(hook_log *log)
{
    ws_config cfg;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.origin_hook.fn = origin_hook;
    cfg.origin_hook.ud = log;
    cfg.auth_hook.fn = auth_hook;
    cfg.auth_hook.ud = log;
    return open_server(&cfg);
}

static void test_origin_hook_rejects(void **state)
{
    hook_log log = {0, 0, 403, WS_HOOK_ALLOW};
    ws_conn *c = hooked_server(&log);
    uint8_t in[512], out[512];
    size_t n = strlen(request);
    ws_event ev;
    (void)state;

    memcpy(in, request, n);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.http_status, 403);
    assert_int_equal(ev.error, WS_E_HTTP_REJECTED);
    assert_int_equal(log.origin_calls, 1);
    assert_int_equal(log.auth_calls, 0); /* nothing is asked after a rejection */
    n = drain(c, out);
    assert_int_equal(memcmp(out, "HTTP/1.1 403 ", 13), 0);
    assert_int_equal(ws_conn_resume(c, WS_HOOK_ALLOW), WS_E_STATE);
}

static void test_auth_pending_then_allowed(void **state)
{
    hook_log log = {0, 0, WS_HOOK_ALLOW, WS_HOOK_PENDING};
    ws_conn *c = hooked_server(&log);
    uint8_t in[512], frame[32], out[512];
    size_t n = strlen(request), m;
    ws_event ev;
    (void)state;

    memcpy(in, request, n);
    n += client_frame(in + n, 0x81, "early", 5);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    assert_int_equal(log.auth_calls, 1);
    assert_ptr_equal(ws_conn_user(c), &log);
    assert_int_equal(ws_conn_accept(c, NULL), WS_E_STATE); /* not before the hook decides */
    memset(in, 0, sizeof in);
    m = client_frame(frame, 0x81, "later", 5);
    assert_int_equal(ws_conn_feed(c, frame, m), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    assert_int_equal(drain(c, out), 0);
    assert_int_equal(ws_conn_resume(c, WS_HOOK_ALLOW), WS_OK);
    assert_int_equal(ws_conn_resume(c, WS_HOOK_ALLOW), WS_E_STATE);
    assert_int_equal(next(c, &ev), WS_EV_REQUEST);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_OPEN);
    assert_int_equal(next(c, &ev), WS_EV_CHUNK);
    assert_memory_equal(ev.data, "early", 5);
    assert_int_equal(next(c, &ev), WS_EV_CHUNK);
    assert_memory_equal(ev.data, "later", 5);
    assert_int_equal(log.origin_calls, 1);
    assert_int_equal(log.auth_calls, 1);
}

static void test_auth_pending_then_rejected(void **state)
{
    hook_log log = {0, 0, WS_HOOK_ALLOW, WS_HOOK_PENDING};
    ws_conn *c = hooked_server(&log);
    uint8_t in[512], out[512];
    size_t n = strlen(request);
    ws_event ev;
    (void)state;

    memcpy(in, request, n);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    assert_int_equal(ws_conn_resume(c, 401), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.http_status, 401);
    n = drain(c, out);
    out[n] = '\0';
    assert_int_equal(memcmp(out, "HTTP/1.1 401 ", 13), 0);
    assert_non_null(strstr((char *)out, "WWW-Authenticate: Bearer\r\n"));
    assert_int_equal(log.auth_calls, 1);
    assert_int_equal(ws_conn_resume(c, WS_HOOK_ALLOW), WS_E_STATE);
    assert_int_equal(ws_conn_feed(c, in, 1), WS_E_CLOSED);
}

/* A decision that never comes: the request was read, the hook never resumed. */
static void test_decision_timeout_answers_503(void **state)
{
    hook_log log = {0, 0, WS_HOOK_ALLOW, WS_HOOK_PENDING};
    ws_conn *c = hooked_server(&log);
    uint8_t in[512], out[512];
    size_t n = strlen(request);
    ws_event ev;
    (void)state;

    ws_conn_tick(c, 0);
    memcpy(in, request, n);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    ws_conn_tick(c, 10000);
    assert_int_equal(next(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.error, WS_E_HANDSHAKE_TIMEOUT);
    assert_int_equal(ev.http_status, 503);
    n = drain(c, out);
    {
        static const char line[] = "HTTP/1.1 503 " TEST_PHRASE("Service Unavailable") "\r\n";
        assert_true(n > sizeof line - 1);
        assert_memory_equal(out, line, sizeof line - 1);
    }
    assert_int_equal(ws_conn_resume(c, WS_HOOK_ALLOW), WS_E_STATE);
}

/* The host may reject on its own while a hook is pending; the hook's answer is then moot. */
static void test_host_rejects_while_pending(void **state)
{
    hook_log log = {0, 0, WS_HOOK_ALLOW, WS_HOOK_PENDING};
    ws_conn *c = hooked_server(&log);
    uint8_t in[512];
    size_t n = strlen(request);
    ws_event ev;
    (void)state;

    memcpy(in, request, n);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(next(c, &ev), WS_EV_NONE);
    assert_int_equal(ws_conn_reject(c, 503, NULL, 0, NULL, 0), WS_OK);
    assert_int_equal(ws_conn_resume(c, WS_HOOK_ALLOW), WS_E_STATE);
    assert_int_equal(next(c, &ev), WS_EV_CLOSED);
    assert_int_equal(ev.http_status, 503);
}
#endif /* !WS_NO_REQUEST_HOOKS */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_interval_and_rtt),
        cmocka_unit_test(test_missed_pong),
        cmocka_unit_test(test_late_wakeup_set_time),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_idle_counts_only_heartbeats),
        cmocka_unit_test(test_ping_hooks),
        cmocka_unit_test(test_handshake_and_close_timeouts),
#ifndef WS_NO_REQUEST_HOOKS
        cmocka_unit_test(test_origin_hook_rejects),
        cmocka_unit_test(test_auth_pending_then_allowed),
        cmocka_unit_test(test_auth_pending_then_rejected),
        cmocka_unit_test(test_host_rejects_while_pending),
        cmocka_unit_test(test_decision_timeout_answers_503),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
