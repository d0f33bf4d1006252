/*
 * Conformance, section 7 (close handling): close payloads, every valid and invalid status
 * code, reasons, frames after a close, the host's own close, and the transport ending
 * (RFC 6455 §5.5.1, §7.1.5-§7.1.7, §7.4).
 */
#include "conf_driver.h"

#include <string.h>

#define A10  "aaaaaaaaaa"
#define A100 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10
#define A123 A100 A10 A10 "aaa"

/* A peer's close with a code (2 bytes) that may be sent, echoed; or one that may not. */
/* clang-format off */
#define CODE_OK(id_, bytes, num)                                                               \
    {.id = id_, .in = {F(CLOSE, bytes)}, .events = "CLOSE:" num "|CLOSED:" num ":OK",         \
     .out = "CLOSE:" num, .at = AT_PEND(0)}
#define CODE_BAD(id_, bytes)                                                                   \
    {.id = id_, .in = {F(CLOSE, bytes)}, .events = "CLOSED:1002:CLOSE_CODE",                  \
     .out = "CLOSE:1002", .at = AT_PEND(0)}
/* clang-format on */

static const cf_case closing[] = {
    /* Close payloads. */
    {.id = "7.1 close without a payload",
     .in = {F(CLOSE, "")},
     .events = "CLOSE:1005|CLOSED:1005:OK",
     .out = "CLOSE",
     .at = AT_HEND(0)},
    {.id = "7.2 close 1000",
     .in = {F(CLOSE, "\x03\xe8")},
     .events = "CLOSE:1000|CLOSED:1000:OK",
     .out = "CLOSE:1000",
     .at = AT_PEND(0)},
    {.id = "7.3 close 1000 with a reason",
     .in = {F(CLOSE, "\x03\xe8"
                     "bye")},
     .events = "CLOSE:1000:bye|CLOSED:1000:OK",
     .out = "CLOSE:1000:bye",
     .at = AT_PEND(0)},
    {.id = "7.4 close with the longest reason, 123 bytes",
     .in = {F(CLOSE, "\x03\xe8" A123)},
     .events = "CLOSE:1000:" A123 "|CLOSED:1000:OK",
     .out = "CLOSE:1000:" A123,
     .at = AT_PEND(0)},
    {.id = "7.5 close with a 124-byte reason",
     .in = {F(CLOSE, "\x03\xe8" A123 "a")},
     .events = "CLOSED:1002:CONTROL_TOO_LONG",
     .out = "CLOSE:1002",
     .at = AT_H(0, 1)},
    {.id = "7.6 close with a 1-byte payload",
     .in = {F(CLOSE, "\x03")},
     .events = "CLOSED:1002:CLOSE_PAYLOAD",
     .out = "CLOSE:1002",
     .at = AT_PEND(0)},
    {.id = "7.7 close reason not UTF-8",
     .in = {F(CLOSE, "\x03\xe8"
                     "a\xff"
                     "b")},
     .events = "CLOSED:1007:CLOSE_REASON",
     .out = "CLOSE:1007",
     .at = AT_PEND(0)},
    {.id = "7.8 close reason ends inside a character",
     .in = {F(CLOSE, "\x03\xe8\xe2\x82")},
     .events = "CLOSED:1007:CLOSE_REASON",
     .out = "CLOSE:1007",
     .at = AT_PEND(0)},
    {.id = "7.9 close reason with a surrogate",
     .in = {F(CLOSE, "\x03\xe8\xed\xa0\x80")},
     .events = "CLOSED:1007:CLOSE_REASON",
     .out = "CLOSE:1007",
     .at = AT_PEND(0)},
    {.id = "7.10 close reason of 2- and 3-byte characters",
     .in = {F(CLOSE, "\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")},
     .events = "CLOSE:1000:\\xce\\xba\\xe1\\xbd\\xb9\\xcf\\x83\\xce\\xbc\\xce\\xb5|CLOSED:1000:OK",
     .out = "CLOSE:1000:\\xce\\xba\\xe1\\xbd\\xb9\\xcf\\x83\\xce\\xbc\\xce\\xb5",
     .at = AT_PEND(0)},
    {.id = "7.11 close reason holding NUL",
     .in = {F(CLOSE, "\x0b\xb8"
                     "a\x00z")},
     .events = "CLOSE:3000:a\\x00z|CLOSED:3000:OK",
     .out = "CLOSE:3000:a\\x00z",
     .at = AT_PEND(0)},
    {.id = "7.12 invalid code and invalid reason: the code is reported",
     .in = {F(CLOSE, "\x03\xed\xff")},
     .events = "CLOSED:1002:CLOSE_CODE",
     .out = "CLOSE:1002",
     .at = AT_PEND(0)},
    {.id = "7.13 fragmented close",
     .in = {F(WS_OP_CLOSE, "\x03\xe8"), F(CONT, "")},
     .events = "CLOSED:1002:CONTROL_FRAGMENTED",
     .out = "CLOSE:1002",
     .at = AT_H(0, 0)},

    /* Every code that may be sent (RFC 6455 §7.4.1, §7.4.2 and the IANA registry). */
    CODE_OK("7.14 code 1001", "\x03\xe9", "1001"),
    CODE_OK("7.15 code 1002", "\x03\xea", "1002"),
    CODE_OK("7.16 code 1003", "\x03\xeb", "1003"),
    CODE_OK("7.17 code 1007", "\x03\xef", "1007"),
    CODE_OK("7.18 code 1008", "\x03\xf0", "1008"),
    CODE_OK("7.19 code 1009", "\x03\xf1", "1009"),
    CODE_OK("7.20 code 1010", "\x03\xf2", "1010"),
    CODE_OK("7.21 code 1011", "\x03\xf3", "1011"),
    CODE_OK("7.22 code 1012 (IANA: service restart)", "\x03\xf4", "1012"),
    CODE_OK("7.23 code 1013 (IANA: try again later)", "\x03\xf5", "1013"),
    CODE_OK("7.24 code 1014 (IANA: bad gateway)", "\x03\xf6", "1014"),
    CODE_OK("7.25 code 3000", "\x0b\xb8", "3000"),
    CODE_OK("7.26 code 3999", "\x0f\x9f", "3999"),
    CODE_OK("7.27 code 4000", "\x0f\xa0", "4000"),
    CODE_OK("7.28 code 4999", "\x13\x87", "4999"),
    /* Codes that may not. */
    CODE_BAD("7.29 code 0", "\x00\x00"),
    CODE_BAD("7.30 code 999", "\x03\xe7"),
    CODE_BAD("7.31 code 1004 (reserved)", "\x03\xec"),
    CODE_BAD("7.32 code 1005 (no status: never on the wire)", "\x03\xed"),
    CODE_BAD("7.33 code 1006 (abnormal: never on the wire)", "\x03\xee"),
    CODE_BAD("7.34 code 1015 (TLS failure: never on the wire)", "\x03\xf7"),
    CODE_BAD("7.35 code 1016 (unassigned)", "\x03\xf8"),
    CODE_BAD("7.36 code 1100", "\x04\x4c"),
    CODE_BAD("7.37 code 2000", "\x07\xd0"),
    CODE_BAD("7.38 code 2999", "\x0b\xb7"),
    CODE_BAD("7.39 code 5000", "\x13\x88"),
    CODE_BAD("7.40 code 65535", "\xff\xff"),

    /* After the peer's close nothing is read. */
    {.id = "7.41 data after the close is ignored",
     .in = {F(CLOSE, "\x03\xe8"), F(TXT, "late")},
     .events = "CLOSE:1000|CLOSED:1000:OK",
     .out = "CLOSE:1000",
     .at = AT_PEND(0)},
    {.id = "7.42 ping after the close is not answered",
     .in = {F(CLOSE, "\x03\xe8"), F(PING, "late")},
     .events = "CLOSE:1000|CLOSED:1000:OK",
     .out = "CLOSE:1000",
     .at = AT_PEND(0)},
    {.id = "7.43 a second close is ignored",
     .in = {F(CLOSE, "\x03\xe8"), F(CLOSE, "\x03\xe9")},
     .events = "CLOSE:1000|CLOSED:1000:OK",
     .out = "CLOSE:1000",
     .at = AT_PEND(0)},
    {.id = "7.44 a protocol error after the close is ignored",
     .in = {F(CLOSE, "\x03\xe8"), F(TXT | RSV1, "x"), F(FIN | 3, "")},
     .events = "CLOSE:1000|CLOSED:1000:OK",
     .out = "CLOSE:1000",
     .at = AT_PEND(0)},
    {.id = "7.45 garbage after the close is ignored",
     .in = {F(CLOSE, ""), RAW("\xff\xff\xff\xff")},
     .events = "CLOSE:1005|CLOSED:1005:OK",
     .out = "CLOSE",
     .at = AT_HEND(0)},
    {.id = "7.46 close, then the transport ends",
     .in = {F(CLOSE, "\x03\xe8")},
     .events = "CLOSE:1000|CLOSED:1000:OK",
     .out = "CLOSE:1000",
     .at = AT_PEND(0),
     .flags = CF_EOF},
    {.id = "7.47 echoes and pongs come before the close reply",
     .in = {F(TXT, "m"), F(PING, "p"), F(BIN, "n"),
            F(CLOSE, "\x03\xe8"
                     "end")},
     .events = "TEXT:m|PING:p|BIN:n|CLOSE:1000:end|CLOSED:1000:OK",
     .out = "TEXT:m|PONG:p|BIN:n|CLOSE:1000:end",
     .at = AT_PEND(3),
     .flags = CF_ECHO},

    /* The host closes first (it sent 1000 "bye"). */
    {.id = "7.48 host closes, the peer answers 1000",
     .in = {F(CLOSE, "\x03\xe8")},
     .events = "CLOSE:1000|CLOSED:1000:OK",
     .out = "CLOSE:1000:bye",
     .at = AT_PEND(0),
     .flags = CF_HOST_CLOSE},
    {.id = "7.49 host closes, the peer answers without a code",
     .in = {F(CLOSE, "")},
     .events = "CLOSE:1005|CLOSED:1005:OK",
     .out = "CLOSE:1000:bye",
     .at = AT_HEND(0),
     .flags = CF_HOST_CLOSE},
    {.id = "7.50 host closes, the peer answers with another code",
     .in = {F(CLOSE, "\x03\xe9"
                     "away")},
     .events = "CLOSE:1001:away|CLOSED:1001:OK",
     .out = "CLOSE:1000:bye",
     .at = AT_PEND(0),
     .flags = CF_HOST_CLOSE},
    {.id = "7.51 host closes, the peer still sends messages first",
     .in = {F(TXT, "late"), F(BIN0, "a"), F(CONT, "b"), F(CLOSE, "\x03\xe8")},
     .events = "TEXT:late|BIN:ab|CLOSE:1000|CLOSED:1000:OK",
     .out = "CLOSE:1000:bye",
     .at = AT_PEND(3),
     .flags = CF_HOST_CLOSE},
    {.id = "7.52 host closes, a ping before the peer's close is still answered",
     .in = {F(PING, "p"), F(CLOSE, "\x03\xe8")},
     .events = "PING:p|CLOSE:1000|CLOSED:1000:OK",
     .out = "CLOSE:1000:bye|PONG:p",
     .at = AT_PEND(1),
     .flags = CF_HOST_CLOSE},
    {.id = "7.53 host closes, the peer answers with a 1-byte close",
     .in = {F(CLOSE, "\x03")},
     .events = "CLOSED:1000:CLOSE_PAYLOAD", /* the code reported is the one we sent */
     .out = "CLOSE:1000",
     .at = AT_PEND(0),
     .flags = CF_HOST_CLOSE},
    {.id = "7.54 host closes, the peer answers with a protocol error",
     .in = {F(FIN | 0xB, "")},
     .events = "CLOSED:1000:RESERVED_OPCODE",
     .out = "CLOSE:1000",
     .at = AT_H(0, 0),
     .flags = CF_HOST_CLOSE},
    {.id = "7.55 host closes, the transport ends before the peer's close",
     .in = {F(TXT, "x")},
     .events = "TEXT:x|CLOSED:1006:EOF",
     .out = "CLOSE:1000",
     .flags = CF_HOST_CLOSE | CF_EOF},

    /* The transport ends without a close handshake: 1006, nothing is sent. */
    {.id = "7.56 transport ends without a close",
     .in = {{0}},
     .events = "CLOSED:1006:EOF",
     .out = "",
     .flags = CF_EOF},
    {.id = "7.57 transport ends after a message",
     .in = {F(TXT, "done")},
     .events = "TEXT:done|CLOSED:1006:EOF",
     .out = "",
     .flags = CF_EOF},
    {.id = "7.58 transport ends inside a header",
     .in = {RAW("\x81")},
     .events = "CLOSED:1006:EOF",
     .out = "",
     .flags = CF_EOF},
    {.id = "7.59 transport ends inside a payload",
     .in = {CUT(TXT, "ab", 10)},
     .events = "PART:TEXT:ab|CLOSED:1006:EOF",
     .out = "",
     .flags = CF_EOF},
    {.id = "7.60 transport ends inside a close frame",
     .in = {CUT(CLOSE, "\x03", 2)},
     .events = "CLOSED:1006:EOF",
     .out = "",
     .flags = CF_EOF},
};

/* A model of RFC 6455 §7.4 written apart from the library: the codes a close may carry. */
static bool code_may_be_sent(unsigned code)
{
    if (code >= 3000 && code <= 4999)
        return true; /* registered by libraries and frameworks, or private use */
    if (code < 1000 || code > 1014)
        return false; /* not used, or unassigned in the protocol range */
    return code != 1004 && code != 1005 && code != 1006;
}

/* The close code of the first frame the connection wrote, or 0. */
static unsigned first_close_code(ws_conn *c, ws_role role)
{
    const uint8_t *o;
    size_t n = ws_conn_output(c, &o), h = role == WS_ROLE_CLIENT ? 6 : 2;

    if (n < h + 2 || o[0] != CLOSE || (o[1] & 0x7f) < 2)
        return 0;
    if (role == WS_ROLE_CLIENT)
        return (unsigned)((o[6] ^ o[2]) << 8 | (o[7] ^ o[3]));
    return (unsigned)(o[2] << 8 | o[3]);
}

static void test_every_close_code(void **state)
{
    static uint64_t mem[4096];
    static const ws_role roles[2] = {WS_ROLE_SERVER, WS_ROLE_CLIENT};
    size_t r;
    (void)state;

    for (r = 0; r < 2; r++) {
        unsigned code;
        uint32_t rnd = 7;
        for (code = 0; code <= 0xFFFF; code++) {
            uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code}, in[16];
            bool ok = code_may_be_sent(code);
            ws_config cfg;
            ws_conn *c;
            ws_event ev;
            size_t n;

            ws_config_init(&cfg, roles[r]);
            cfg.random = cf_random;
            cfg.random_ud = &rnd;
            cfg.max_output = 256;
            cfg.max_head_size = 64;
            cfg.max_headers = 8;
            c = ws_conn_init(mem, sizeof mem, &cfg);
            assert_non_null(c);
            assert_int_equal(ws_conn_start_open(c, NULL), WS_OK);
            assert_int_equal(ws_conn_next_event(c, &ev), WS_EV_OPEN);
            n = cf_write_frame(in, roles[r], CLOSE, payload, 2);
            assert_int_equal(ws_conn_feed(c, in, n), WS_OK);
            if (ok) {
                if (ws_conn_next_event(c, &ev) != WS_EV_CLOSE || ev.close_code != code)
                    fail_msg("code %u: no WS_EV_CLOSE with it", code);
            }
            if (ws_conn_next_event(c, &ev) != WS_EV_CLOSED)
                fail_msg("code %u: no WS_EV_CLOSED", code);
            if (ok ? (ev.error != WS_OK || ev.close_code != code)
                   : (ev.error != WS_E_CLOSE_CODE || ev.close_code != 1002))
                fail_msg("code %u: closed with %u, %s", code, ev.close_code,
                         cf_error_name(ev.error));
            if (first_close_code(c, roles[r]) != (ok ? code : 1002u))
                fail_msg("code %u: the close sent carries %u", code, first_close_code(c, roles[r]));
        }
    }
}

int main(void)
{
    static const struct CMUnitTest extra[] = {
        {"7.61 every code from 0 to 65535, both roles", test_every_close_code, NULL, NULL, NULL},
    };

    return cf_run_group("7 close handling", closing, sizeof closing / sizeof closing[0], extra,
                        sizeof extra / sizeof extra[0]);
}
