/*
 * Calls made from inside host callbacks: every request hook and keepalive hook x every
 * public call on the connection, as a table of (hook, call) -> the call's result, the events
 * the host then pulls and the output the connection wrote. A call is either well defined
 * from inside a callback or refused with WS_E_STATE; nothing is half done.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ws.h"

static const char request[] = "GET /chat HTTP/1.1\r\n"
                              "Host: example.com\r\n"
                              "Origin: http://example.com\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "\r\n";

enum hook_kind { H_ORIGIN, H_AUTH, H_WANT_PING, H_PING_PAYLOAD, H_IS_ACTIVITY, H_COUNT };

enum call_kind {
    C_ACCEPT,
    C_REJECT,
    C_RESPOND,
    C_RESUME,
    C_CLOSE,
    C_SEND,
    C_PING,
    C_FEED,
    C_NEXT_EVENT,
    C_TICK,
    C_HANDOFF,
    C_START_OPEN,
    C_COUNT
};

static const char *const hook_names[H_COUNT] = {"origin", "auth", "want_ping", "ping_payload",
                                                "is_activity"};
static const char *const call_names[C_COUNT] = {"accept", "reject", "respond", "resume",
                                                "close",  "send",   "ping",    "feed",
                                                "next",   "tick",   "handoff", "start_open"};

/* One row: the result of the call made from inside the hook, then the events the host pulls
 * afterwards and a summary of the output ("101", "403", frames as opcode names). */
typedef struct reentry_case {
    enum hook_kind hook;
    enum call_kind call;
    int rc;
    const char *events;
    const char *out;
} reentry_case;

/* What a request hook does with the calls: refused, except reject, which decides (the hook's
 * own verdict is then moot). Keepalive hooks run on an open connection: sends and close are
 * well defined there, and a ping a hook asked for is not sent after a close. */
#define REQ_ROWS(h)                                                                                \
    {h, C_ACCEPT, WS_E_STATE, "REQUEST|", ""}, {h, C_REJECT, WS_OK, "CLOSED:403:-61|", "403"},     \
        {h, C_RESPOND, WS_E_STATE, "REQUEST|", ""}, {h, C_RESUME, WS_E_STATE, "REQUEST|", ""},     \
        {h, C_CLOSE, WS_E_STATE, "REQUEST|", ""}, {h, C_SEND, WS_E_STATE, "REQUEST|", ""},         \
        {h, C_PING, WS_E_STATE, "REQUEST|", ""}, {h, C_FEED, WS_E_STATE, "REQUEST|", ""},          \
        {h, C_NEXT_EVENT, WS_EV_NONE, "REQUEST|", ""}, {h, C_TICK, WS_OK, "REQUEST|", ""},         \
        {h, C_HANDOFF, WS_E_STATE, "REQUEST|", ""},                                                \
    {                                                                                              \
        h, C_START_OPEN, WS_E_STATE, "REQUEST|", ""                                                \
    }

#define PING_ROWS(h)                                                                               \
    {h, C_ACCEPT, WS_E_STATE, "", "PING|"}, {h, C_REJECT, WS_E_STATE, "", "PING|"},                \
        {h, C_RESPOND, WS_E_STATE, "", "PING|"}, {h, C_RESUME, WS_E_STATE, "", "PING|"},           \
        {h, C_CLOSE, WS_OK, "", "CLOSE:1000|"}, {h, C_SEND, WS_OK, "", "TEXT|PING|"},              \
        {h, C_PING, WS_OK, "", "PING|PING|"}, {h, C_FEED, WS_E_STATE, "", "PING|"},                \
        {h, C_NEXT_EVENT, WS_EV_NONE, "", "PING|"}, {h, C_TICK, WS_OK, "", "PING|"},               \
        {h, C_HANDOFF, WS_E_STATE, "", "PING|"},                                                   \
    {                                                                                              \
        h, C_START_OPEN, WS_E_STATE, "", "PING|"                                                   \
    }

static const reentry_case cases[] = {
    REQ_ROWS(H_ORIGIN),
    REQ_ROWS(H_AUTH),
    PING_ROWS(H_WANT_PING),
    PING_ROWS(H_PING_PAYLOAD),
    {H_IS_ACTIVITY, C_ACCEPT, WS_E_STATE, "TEXT:hi|", ""},
    {H_IS_ACTIVITY, C_REJECT, WS_E_STATE, "TEXT:hi|", ""},
    {H_IS_ACTIVITY, C_RESPOND, WS_E_STATE, "TEXT:hi|", ""},
    {H_IS_ACTIVITY, C_RESUME, WS_E_STATE, "TEXT:hi|", ""},
    {H_IS_ACTIVITY, C_CLOSE, WS_OK, "TEXT:hi|", "CLOSE:1000|"},
    {H_IS_ACTIVITY, C_SEND, WS_OK, "TEXT:hi|", "TEXT|"},
    {H_IS_ACTIVITY, C_PING, WS_OK, "TEXT:hi|", "PING|"},
    {H_IS_ACTIVITY, C_FEED, WS_E_STATE, "TEXT:hi|", ""},
    {H_IS_ACTIVITY, C_NEXT_EVENT, WS_EV_NONE, "TEXT:hi|", ""},
    {H_IS_ACTIVITY, C_TICK, WS_OK, "TEXT:hi|", ""},
    {H_IS_ACTIVITY, C_HANDOFF, WS_E_STATE, "TEXT:hi|", ""},
    {H_IS_ACTIVITY, C_START_OPEN, WS_E_STATE, "TEXT:hi|", ""},
};

/* ---- the harness --------------------------------------------------------------------- */

typedef struct run {
    const reentry_case *tc;
    int rc;
    int calls;
} run;

static uint64_t storage[1 << 13];
static uint8_t spare[64];

/* Makes the call of the case, from inside a hook. */
static int do_call(ws_conn *c, enum call_kind call)
{
    ws_event ev;

    switch (call) {
    case C_ACCEPT:
        return ws_conn_accept(c, NULL);
    case C_REJECT:
        return ws_conn_reject(c, 403, NULL, 0, NULL, 0);
    case C_RESPOND:
        return ws_conn_respond(c, 200, NULL, 0, "x", 1);
    case C_RESUME:
        return ws_conn_resume(c, WS_HOOK_ALLOW);
    case C_CLOSE:
        return ws_conn_close(c, 1000, NULL, 0);
    case C_SEND:
        return ws_conn_send(c, WS_OP_TEXT, "t", 1);
    case C_PING:
        return ws_conn_ping(c, "p", 1);
    case C_FEED:
        return ws_conn_feed(c, spare, sizeof spare);
    case C_NEXT_EVENT:
        return (int)ws_conn_next_event(c, &ev);
    case C_TICK:
        ws_conn_tick(c, 1000000); /* long past every deadline */
        return WS_OK;
    case C_HANDOFF:
        return ws_conn_handoff(c, "GET", 3, "/", 1, 1, NULL, 0, NULL, 0);
    case C_START_OPEN:
        return ws_conn_start_open(c, NULL);
    case C_COUNT:
    default:
        break;
    }
    return WS_E_INVALID;
}

static int request_hook(void *ud, ws_conn *c, const ws_request *r)
{
    run *t = (run *)ud;
    (void)r;
    t->calls++;
    t->rc = do_call(c, t->tc->call);
    return WS_HOOK_ALLOW;
}

static bool want_ping(void *ud, ws_conn *c, uint64_t now)
{
    run *t = (run *)ud;
    (void)now;
    if (t->tc->hook == H_WANT_PING) {
        t->calls++;
        t->rc = do_call(c, t->tc->call);
    }
    return true;
}

static size_t ping_payload(void *ud, ws_conn *c, uint64_t now, uint8_t buf[125])
{
    run *t = (run *)ud;
    (void)now;
    if (t->tc->hook == H_PING_PAYLOAD) {
        t->calls++;
        t->rc = do_call(c, t->tc->call);
    }
    memcpy(buf, "kp", 2);
    return 2;
}

static bool is_activity(void *ud, ws_conn *c, const ws_event *ev)
{
    run *t = (run *)ud;
    if (t->tc->hook == H_IS_ACTIVITY && ev->type == WS_EV_CHUNK) {
        t->calls++;
        t->rc = do_call(c, t->tc->call);
    }
    return true;
}

/* Pulls every event into a transcript. */
static void pull(ws_conn *c, char *text, size_t cap)
{
    ws_event ev;
    ws_event_type type;

    while ((type = ws_conn_next_event(c, &ev)) != WS_EV_NONE) {
        size_t used = strlen(text);
        switch (type) {
        case WS_EV_REQUEST:
            snprintf(text + used, cap - used, "REQUEST|");
            break;
        case WS_EV_OPEN:
            snprintf(text + used, cap - used, "OPEN|");
            break;
        case WS_EV_CHUNK:
            snprintf(text + used, cap - used, "TEXT:%.*s|", (int)ev.len, (const char *)ev.data);
            break;
        case WS_EV_CLOSED:
            snprintf(text + used, cap - used, "CLOSED:%d:%d|", ev.http_status, ev.error);
            break;
        default:
            snprintf(text + used, cap - used, "EV%d|", (int)type);
            break;
        }
    }
}

static const char *op_name(uint8_t op)
{
    switch (op) {
    case WS_OP_TEXT:
        return "TEXT";
    case WS_OP_BINARY:
        return "BIN";
    case WS_OP_PING:
        return "PING";
    case WS_OP_PONG:
        return "PONG";
    default:
        return "OTHER";
    }
}

/* The output in short: the status of an HTTP answer (a refusal ends the output there), then
 * the server's frames by opcode. */
static void summarise_output(ws_conn *c, char *text, size_t cap)
{
    const uint8_t *o;
    size_t n = ws_conn_output(c, &o), pos = 0;

    text[0] = '\0';
    if (n >= 12 && memcmp(o, "HTTP/1.1 ", 9) == 0) {
        snprintf(text, cap, "%.3s", (const char *)o + 9);
        if (memcmp(text, "101", 3) != 0)
            return;
        while (pos + 3 < n && memcmp(o + pos, "\r\n\r\n", 4) != 0)
            pos++;
        pos += 4;
    }
    while (pos + 2 <= n) {
        uint8_t op = o[pos] & 0x0f;
        size_t len = o[pos + 1] & 0x7f, used = strlen(text);
        assert_true(len < 126);
        if (op == WS_OP_CLOSE)
            snprintf(text + used, cap - used, "CLOSE:%u|",
                     (unsigned)(o[pos + 2] << 8 | o[pos + 3]));
        else
            snprintf(text + used, cap - used, "%s|", op_name(op));
        pos += 2 + len;
    }
    assert_int_equal(pos, n);
}

static void run_case(const reentry_case *tc)
{
    static const ws_keepalive_hooks kh_all = {want_ping, ping_payload, is_activity, NULL};
    ws_keepalive_hooks kh = kh_all;
    run t = {tc, -1000, 0};
    ws_config cfg;
    ws_conn *c;
    uint8_t in[1024];
    char events[256] = "", out[256];
    size_t n = strlen(request);
    const uint8_t *o;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 4096;
    cfg.max_head_size = 2048;
    cfg.max_headers = 16;
    if (tc->hook == H_ORIGIN)
        cfg.origin_hook.fn = request_hook;
    if (tc->hook == H_AUTH)
        cfg.auth_hook.fn = request_hook;
    cfg.origin_hook.ud = cfg.auth_hook.ud = &t;
    kh.ud = &t;
    if (tc->hook >= H_WANT_PING) {
        cfg.keepalive = &kh;
        cfg.ping_interval_ms = 100;
    }
    c = ws_conn_init(storage, sizeof storage, &cfg);
#ifdef WS_NO_REQUEST_HOOKS /* left out of this build: a configuration with one is refused */
    if (tc->hook == H_ORIGIN || tc->hook == H_AUTH) {
        assert_null(c);
        return;
    }
#endif
    assert_non_null(c);
    ws_conn_tick(c, 0);
    memcpy(in, request, n);
    if (tc->hook >= H_WANT_PING) {
        /* An open connection with nothing written yet. */
        ws_event ev;
        assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
        assert_int_equal(ws_conn_accept(c, NULL), WS_OK);
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
        ws_conn_consume(c, ws_conn_output(c, &o));
        if (tc->hook == H_IS_ACTIVITY) {
            /* "hi", masked with a zero key */
            static const uint8_t hi[] = {0x81, 0x82, 0, 0, 0, 0, 'h', 'i'};
            memcpy(in, hi, sizeof hi);
            assert_int_equal(ws_conn_feed(c, in, sizeof hi), WS_OK);
        } else {
            ws_conn_tick(c, 100);
        }
    } else {
        assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    }
    pull(c, events, sizeof events);
    summarise_output(c, out, sizeof out);
    if (t.calls != 1 || t.rc != tc->rc || strcmp(events, tc->events) != 0 ||
        strcmp(out, tc->out) != 0)
        fail_msg("%s x %s: %d calls, rc %d (want %d), events \"%s\" (want \"%s\"), output "
                 "\"%s\" (want \"%s\")",
                 hook_names[tc->hook], call_names[tc->call], t.calls, t.rc, tc->rc, events,
                 tc->events, out, tc->out);
}

static void test_every_hook_every_call(void **state)
{
    size_t i;
    (void)state;
    assert_int_equal(sizeof cases / sizeof cases[0], (size_t)H_COUNT * C_COUNT);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
}

/* is_activity also sees WS_EV_REQUEST: the decision is the host's loop's, not the hook's. */
static int decide_in(void *ud, ws_conn *c)
{
    int *rc = (int *)ud;
    rc[0] = ws_conn_accept(c, NULL);
    rc[1] = ws_conn_reject(c, 403, NULL, 0, NULL, 0);
    rc[2] = ws_conn_respond(c, 200, NULL, 0, NULL, 0);
    return 0;
}

static bool activity_on_request(void *ud, ws_conn *c, const ws_event *ev)
{
    if (ev->type == WS_EV_REQUEST)
        (void)decide_in(ud, c);
    return true;
}

static void test_no_decision_from_is_activity(void **state)
{
    ws_keepalive_hooks kh = {NULL, NULL, activity_on_request, NULL};
    int rc[3] = {1, 1, 1};
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    uint8_t in[512];
    size_t n = strlen(request);
    (void)state;

    kh.ud = rc;
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 4096;
    cfg.keepalive = &kh;
    c = ws_conn_init(storage, sizeof storage, &cfg);
    assert_non_null(c);
    memcpy(in, request, n);
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_REQUEST);
    assert_int_equal(rc[0], WS_E_STATE);
    assert_int_equal(rc[1], WS_E_STATE);
    assert_int_equal(rc[2], WS_E_STATE);
    assert_int_equal(ws_conn_accept(c, NULL), WS_OK); /* from the loop, as usual */
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_hook_every_call),
        cmocka_unit_test(test_no_decision_from_is_activity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
