/*
 * uv-echo-server: echo-server on libuv. The same command line and behaviour as the epoll
 * echo-server (every message sent back as it came, chunk by chunk); glue/ws_uv.c does the
 * libws side of the loop, this file the listening, the signals and the echo. With
 * --cert/--key (built with OpenSSL) it serves wss://: glue/ws_tls_mem.c runs TLS over memory
 * BIOs between the libuv stream and libws.
 */
#define _GNU_SOURCE /* uv.h needs POSIX types under -std=c99 */
#include "common.h"
#include "echo_app.h"
#include "glue/ws_uv.h"
#include "ws.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#ifdef EX_HAVE_OPENSSL
#include "glue/ws_tls_mem.h"
#include "tls.h"
#endif

struct server {
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    ws_uv_config glue;
    ws_config cfg;
    size_t piece;
    bool verbose;
    bool stopping;
    ex_echo_client *clients;
    void *ssl_ctx; /* --cert/--key: the SSL_CTX for wss://, else NULL */
};

static struct server srv;

static bool on_event(ws_uv *u, const ws_event *ev)
{
    ex_echo_client *cl = ws_uv_user(u);
    return ex_echo_event(&cl->echo, ws_uv_conn(u), ev);
}

static bool on_drained(ws_uv *u)
{
    ex_echo_client *cl = ws_uv_user(u);
    return ex_echo_retry(&cl->echo, ws_uv_conn(u));
}

static void on_finish(ws_uv *u)
{
    ex_echo_client_free(&srv.clients, ws_uv_user(u));
}

static void peer_name(uv_tcp_t *t, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    char ip[64] = "?";
    unsigned port = 0;

    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof ip);
            port = ntohs(a->sin6_port);
        } else {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
            uv_ip4_name(a, ip, sizeof ip);
            port = ntohs(a->sin_port);
        }
    }
    snprintf(out, cap, "%s:%u", ip, port);
}

static void on_connection(uv_stream_t *listener, int status)
{
    ex_echo_client *cl;

    if (status < 0) {
        fprintf(stderr, "uv-echo-server: accept: %s\n", uv_strerror(status));
        return;
    }
    cl = ex_echo_client_new(&srv.clients, srv.piece, srv.verbose);
    if (cl == NULL) {
        ws_uv_accept(listener, &srv.glue, NULL, NULL); /* refused, the listener goes on */
        return;
    }
#ifdef EX_HAVE_OPENSSL
    if (srv.ssl_ctx != NULL) {
        /* TLS between the stream and libws; the handshake runs as the client's bytes come. */
        SSL *ssl = SSL_new(srv.ssl_ctx);
        ws_layer tls;
        if (ssl != NULL)
            SSL_set_accept_state(ssl);
        if (ssl == NULL || !ws_tls_mem_layer(ssl, &tls)) {
            ws_uv_accept(listener, &srv.glue, NULL, NULL); /* refused */
            ex_echo_client_free(&srv.clients, cl);
            return;
        }
        cl->conn = ws_uv_accept_layer(listener, &srv.glue, ws_conn_new(&srv.cfg), &tls, cl);
    } else
#endif
        cl->conn = ws_uv_accept(listener, &srv.glue, ws_conn_new(&srv.cfg), cl);
    if (cl->conn == NULL)
        ex_echo_client_free(&srv.clients, cl);
    else
        peer_name(ws_uv_tcp(cl->conn), cl->echo.peer, sizeof cl->echo.peer);
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

/* The first signal: stop accepting, close every connection with 1001 and let the loop run
 * until they are done. The second: stop now. */
static void on_signal(uv_signal_t *s, int signum)
{
    ex_echo_client *cl = srv.clients;

    (void)signum;
    if (srv.stopping) {
        uv_stop(s->loop);
        return;
    }
    srv.stopping = true;
    uv_close((uv_handle_t *)&srv.listener, on_handle_closed);
    while (cl != NULL) {
        ex_echo_client *next = cl->next; /* cl may be freed by the close */
        ws_uv_close(cl->conn, WS_CLOSE_GOING_AWAY, EX_ECHO_SHUTDOWN_REASON,
                    sizeof EX_ECHO_SHUTDOWN_REASON - 1);
        cl = next;
    }
    /* Signal handles keep the loop alive: unref them so it ends with the last client. */
    uv_unref((uv_handle_t *)&srv.sigint);
    uv_unref((uv_handle_t *)&srv.sigterm);
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    ex_echo_opts o;
    unsigned bound = 0;
    int fd, r;
#ifdef EX_HAVE_OPENSSL
    ex_tls_ctx *tls = NULL;
    bool with_tls = true;
#else
    bool with_tls = false;
#endif

    if (ex_echo_parse("uv-echo-server", with_tls, NULL, argc, argv, &o) < 0)
        return 2;
#ifdef EX_HAVE_OPENSSL
    if (o.cert != NULL) {
        if ((tls = ex_tls_server_ctx("uv-echo-server", o.cert, o.key)) == NULL)
            return 1;
        srv.ssl_ctx = ex_tls_ctx_openssl(tls);
    }
#endif
    signal(SIGPIPE, SIG_IGN);
    if (ex_echo_config(&o, &srv.cfg, &srv.piece) < 0)
        return 2;
    srv.verbose = o.verbose;
    ws_uv_config_init(&srv.glue);
    srv.glue.on_event = on_event;
    srv.glue.on_drained = on_drained;
    srv.glue.on_finish = on_finish;

    fd = ex_listen("uv-echo-server", o.host, o.port, &bound);
    if (fd < 0)
        return 1;
    if ((r = uv_tcp_init(loop, &srv.listener)) < 0 || (r = uv_tcp_open(&srv.listener, fd)) < 0 ||
        (r = uv_listen((uv_stream_t *)&srv.listener, 128, on_connection)) < 0 ||
        (r = uv_signal_init(loop, &srv.sigint)) < 0 ||
        (r = uv_signal_start(&srv.sigint, on_signal, SIGINT)) < 0 ||
        (r = uv_signal_init(loop, &srv.sigterm)) < 0 ||
        (r = uv_signal_start(&srv.sigterm, on_signal, SIGTERM)) < 0) {
        fprintf(stderr, "uv-echo-server: setup failed: %s\n", uv_strerror(r));
        return 1;
    }
    ex_echo_announce(o.host, bound);

    uv_run(loop, UV_RUN_DEFAULT);
#ifdef EX_HAVE_OPENSSL
    ex_tls_ctx_free(tls); /* after the last connection: each SSL holds a reference anyway */
#endif
    return 0;
}
