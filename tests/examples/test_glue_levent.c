/*
 * The libevent glue (examples/glue/ws_libevent.c) when the host ends a connection from its
 * own event callback: ws_levent_close on a request (the handshake still pending, so the
 * connection is dropped at once) and ws_levent_abort on an open connection. The glue must
 * not touch the connection after that (the sanitizer build catches it), call on_finish
 * once, and end the socket. Over a socketpair, no network.
 */
#define _GNU_SOURCE
#include "glue/ws_libevent.h"
#include "../alloc_count.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>
#include <event2/event.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char request[] =
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

static struct event_base *base;
static int finished;
static bool abort_on_open; /* false: close at the request */

static bool on_event(ws_levent *l, const ws_event *ev)
{
    if (ev->type == WS_EV_REQUEST && !abort_on_open)
        ws_levent_close(l, 1000, NULL, 0); /* still connecting: dropped now */
    else if (ev->type == WS_EV_REQUEST)
        ws_conn_accept(ws_levent_conn(l), NULL);
    else if (ev->type == WS_EV_OPEN)
        ws_levent_abort(l);
    return false;
}

static void on_finish(ws_levent *l)
{
    (void)l;
    finished++;
    event_base_loopexit(base, NULL);
}

/* Runs one connection whose host ends it from on_event; returns what the peer read. */
static size_t run(bool at_open, char *got, size_t cap)
{
    ws_levent_config glue;
    ws_config cfg;
    struct timeval bound = {10, 0};
    int sv[2];
    size_t n = 0;
    ssize_t r;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    base = event_base_new();
    assert_non_null(base);
    finished = 0;
    abort_on_open = at_open;
    ws_config_init(&cfg, WS_ROLE_SERVER);
    cfg.realloc = plain_realloc; /* also in a -Ddefault_alloc=false build */
    ws_levent_config_init(&glue);
    glue.on_event = on_event;
    glue.on_finish = on_finish;
    evutil_make_socket_nonblocking(sv[0]);
    assert_non_null(ws_levent_start(bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE),
                                    &glue, ws_conn_new(&cfg), NULL));
    assert_int_equal(write(sv[1], request, sizeof request - 1), (ssize_t)(sizeof request - 1));
    event_base_loopexit(base, &bound); /* a glue that never finishes fails below */
    event_base_dispatch(base);
    assert_int_equal(finished, 1);
    event_base_free(base); /* runs the bufferevent's deferred release: the socket closes */
    while (n < cap && (r = read(sv[1], got + n, cap - n)) > 0)
        n += (size_t)r;
    close(sv[1]);
    return n;
}

static void close_at_request(void **state)
{
    char got[512];
    (void)state;
    /* Dropped before any answer: the peer reads the end of stream only. */
    assert_int_equal(run(false, got, sizeof got), 0);
}

static void abort_at_open(void **state)
{
    char got[512];
    (void)state;
    /* Aborted in the same pull as the accept: whatever was written, the stream ends (a
     * socket the glue kept open would block this read until the test times out). */
    assert_true(run(true, got, sizeof got) < sizeof got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(close_at_request),
        cmocka_unit_test(abort_at_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
