/*
 * Conformance, section 2 (pings and pongs): payload echo, the 125-byte limit, unsolicited
 * pongs, runs of pings, and the pong owed to a ping (RFC 6455 §5.5, §5.5.2, §5.5.3).
 */
#include "conf_driver.h"

#include <string.h>

static const cf_case pingpong[] = {
    {.id = "2.1 empty ping", .in = {F(PING, "")}, .events = "PING:", .out = "PONG:"},
    {.id = "2.2 ping with a text payload",
     .in = {F(PING, "Hello, world!")},
     .events = "PING:Hello, world!",
     .out = "PONG:Hello, world!"},
    {.id = "2.3 ping with a binary payload",
     .in = {F(PING, "\x00\xff\xfe\x80\x7f")},
     .events = "PING:\\x00\\xff\\xfe\\x80\\x7f",
     .out = "PONG:\\x00\\xff\\xfe\\x80\\x7f"},
    {.id = "2.4 ping of 125 bytes",
     .in = {FILL(PING, ALL_BYTES, 125)},
     .events = "PING:<fill*125>",
     .out = "PONG:<fill*125>"},
    {.id = "2.5 ping of 126 bytes",
     .in = {FILL(PING, ALPHA, 126)},
     .events = "CLOSED:1002:CONTROL_TOO_LONG",
     .out = "CLOSE:1002",
     .at = AT_H(0, 1)},
    {.id = "2.6 ping declaring 65536 bytes",
     .in = {HDR(PING, 65536, 0)},
     .events = "CLOSED:1002:CONTROL_TOO_LONG",
     .out = "CLOSE:1002",
     .at = AT_H(0, 1)},
    {.id = "2.7 ping of 126 bytes, non-minimal lengths allowed",
     .in = {FILL(PING, ALPHA, 126)},
     .events = "CLOSED:1002:CONTROL_TOO_LONG",
     .out = "CLOSE:1002",
     .at = AT_H(0, 3),
     .flags = CF_NONMINIMAL},
    {.id = "2.8 ping with a 16-bit length for 5 bytes",
     .in = {FX(PING, "hello", CF_LEN16)},
     .events = "CLOSED:1002:CONTROL_TOO_LONG",
     .out = "CLOSE:1002",
     .at = AT_H(0, 1)},
    {.id = "2.9 unsolicited empty pong", .in = {F(PONG, "")}, .events = "PONG:", .out = ""},
    {.id = "2.10 unsolicited pong with a payload",
     .in = {F(PONG, "heartbeat")},
     .events = "PONG:heartbeat",
     .out = ""},
    {.id = "2.11 pong of 125 bytes",
     .in = {FILL(PONG, ALPHA, 125)},
     .events = "PONG:<fill*125>",
     .out = ""},
    {.id = "2.12 pong of 126 bytes",
     .in = {FILL(PONG, ALPHA, 126)},
     .events = "CLOSED:1002:CONTROL_TOO_LONG",
     .out = "CLOSE:1002",
     .at = AT_H(0, 1)},
    {.id = "2.13 pong declaring 126 bytes in the 64-bit form",
     .in = {HDR(PONG, 126, CF_LEN64)},
     .events = "CLOSED:1002:CONTROL_TOO_LONG",
     .out = "CLOSE:1002",
     .at = AT_H(0, 1)},
    {.id = "2.14 ten pings in a row, answered in order",
     .in = {F(PING, "1"), F(PING, "2"), F(PING, "3"), F(PING, "4"), F(PING, "5"), F(PING, "6"),
            F(PING, "7"), F(PING, "8"), F(PING, "9"), F(PING, "10")},
     .events = "PING:1|PING:2|PING:3|PING:4|PING:5|PING:6|PING:7|PING:8|PING:9|PING:10",
     .out = "PONG:1|PONG:2|PONG:3|PONG:4|PONG:5|PONG:6|PONG:7|PONG:8|PONG:9|PONG:10"},
    {.id = "2.15 1000 pings in a row",
     .in = {REP(PING, "x", 1000)},
     .events = "PING:x*1000",
     .out = "PONG:x*1000"},
    {.id = "2.16 50 pings of 125 bytes in a row",
     .in = {REPFILL(PING, ALPHA, 125, 50)},
     .events = "PING:<fill*125>*50",
     .out = "PONG:<fill*125>*50"},
    {.id = "2.17 pongs and echoes keep wire order",
     .in = {F(PING, "1"), F(TXT, "t"), F(PING, "2"), F(BIN, "b"), F(PONG, "u"), F(PING, "3")},
     .events = "PING:1|TEXT:t|PING:2|BIN:b|PONG:u|PING:3",
     .out = "PONG:1|TEXT:t|PONG:2|BIN:b|PONG:3",
     .flags = CF_ECHO},
    {.id = "2.18 ping with auto_pong off",
     .in = {F(PING, "x")},
     .events = "PING:x",
     .out = "",
     .flags = CF_NO_AUTO_PONG},
    {.id = "2.19 fragmented ping",
     .in = {F(WS_OP_PING, "frag"), F(CONT, "ment")},
     .events = "CLOSED:1002:CONTROL_FRAGMENTED",
     .out = "CLOSE:1002",
     .at = AT_H(0, 0)},
    {.id = "2.20 fragmented pong",
     .in = {F(WS_OP_PONG, "frag"), F(CONT, "ment")},
     .events = "CLOSED:1002:CONTROL_FRAGMENTED",
     .out = "CLOSE:1002",
     .at = AT_H(0, 0)},
    {.id = "2.21 empty fragmented ping",
     .in = {F(WS_OP_PING, "")},
     .events = "CLOSED:1002:CONTROL_FRAGMENTED",
     .out = "CLOSE:1002",
     .at = AT_H(0, 0)},
    {.id = "2.22 the host's ping, answered",
     .in = {F(PONG, "hi")},
     .events = "PONG:hi",
     .out = "PING:hi",
     .flags = CF_HOST_PING},
    {.id = "2.23 the host's ping, answered with another payload",
     .in = {F(PONG, "zz")},
     .events = "PONG:zz",
     .out = "PING:hi",
     .flags = CF_HOST_PING},
    {.id = "2.24 ping payload that is not UTF-8",
     .in = {F(PING, "\xff\xc0\xed\xa0\x80")},
     .events = "PING:\\xff\\xc0\\xed\\xa0\\x80",
     .out = "PONG:\\xff\\xc0\\xed\\xa0\\x80"},
    {.id = "2.25 pong payload that is not UTF-8",
     .in = {F(PONG, "\xf8\x80")},
     .events = "PONG:\\xf8\\x80",
     .out = ""},
    {.id = "2.26 pings and pongs alternating",
     .in = {F(PING, "a"), F(PONG, "b"), F(PING, "c"), F(PONG, "d")},
     .events = "PING:a|PONG:b|PING:c|PONG:d",
     .out = "PONG:a|PONG:c"},
    {.id = "2.27 ping after a protocol error is not answered",
     .in = {F(PING, "1"), F(CONT, "x"), F(PING, "2")},
     .events = "PING:1|CLOSED:1002:UNEXPECTED_CONTINUATION",
     .out = "PONG:1|CLOSE:1002",
     .at = AT_HEND(1)},
    {.id = "2.28 while the output queue is full, pings wait for a drain (libws choice)",
     .in = {REPFILL(PING, ALPHA, 100, 16)},
     .events = "PING:<fill*100>*16",
     .out = "PONG:<fill*100>*9",
     .max_output = 1024},
};

/* Pings of 125 bytes whose payload is all `tag`, as a peer of a server sends them. */
static size_t pings(uint8_t *out, const char *tags)
{
    uint8_t payload[125];
    size_t n = 0;

    for (; *tags; tags++) {
        memset(payload, *tags, sizeof payload);
        n += cf_write_frame(out + n, WS_ROLE_SERVER, PING, payload, sizeof payload);
    }
    return n;
}

/* RFC 6455 §5.5.2: a ping MUST be answered; §5.5.3 only lets an endpoint skip the pongs of
 * earlier pings in favour of the most recent one. When the output queue is too full for a
 * pong, the one owed to the latest ping must still go out once the host has drained. */
static void test_latest_ping_answered_after_backpressure(void **state)
{
    static uint8_t in[1024];
    ws_config cfg;
    ws_conn *c;
    ws_event ev;
    const uint8_t *o;
    size_t n, len, round, pongs = 0;
    uint8_t last = 0;
    static uint64_t mem[8192];
    (void)state;

    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.max_output = 256; /* room for one 125-byte pong at a time */
    c = ws_conn_init(mem, sizeof mem, &cfg);
    assert_non_null(c);
    assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
    assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
    n = pings(in, "ABC");
    assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
    while (ws_conn_next_event(c, &ev) != WS_EV_NONE)
        assert_int_equal(ev.type, WS_EV_PING);
    /* The host drains everything, then runs its loop again. */
    for (round = 0; round < 4; round++) {
        len = ws_conn_output(c, &o);
        while (len >= 127 && o[0] == PONG && o[1] == 125) {
            pongs++;
            last = o[2];
            o += 127;
            len -= 127;
        }
        ws_conn_consume(c, ws_conn_output(c, &o));
        assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_NONE);
    }
    if (last != 'C')
        fail_msg("after draining, %zu pong(s) went out, the last for ping '%c'; the pong owed "
                 "to the latest ping 'C' never did (RFC 6455 5.5.2, 5.5.3)",
                 pongs, last ? last : '-');
}

int main(void)
{
    static const struct CMUnitTest extra[] = {
        {"2.29 the latest ping is answered once a full queue drains",
         test_latest_ping_answered_after_backpressure, NULL, NULL, NULL},
    };

    return cf_run_group("2 pings and pongs", pingpong, sizeof pingpong / sizeof pingpong[0], extra,
                        sizeof extra / sizeof extra[0]);
}
