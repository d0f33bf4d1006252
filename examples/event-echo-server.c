/*
 * event-echo-server: echo-server on libevent. The same command line and behaviour as the
 * epoll echo-server (every message sent back as it came, chunk by chunk);
 * glue/ws_libevent.c does the libws side of the loop, this file the listening, the signals
 * and the echo. With --cert/--key (built with OpenSSL and libevent_openssl) it serves wss://
 * through libevent's OpenSSL bufferevent: libws and the glue see the same decrypted stream.
 */
#define _GNU_SOURCE
#include "common.h"
#include "echo_app.h"
#include "glue/ws_libevent.h"
#include "ws.h"

#include <arpa/inet.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifdef EX_HAVE_LIBEVENT_OPENSSL
#include "tls.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#endif

struct server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *sigint, *sigterm;
    ws_levent_config glue;
    ws_config cfg;
    size_t piece;
    bool verbose;
    bool stopping;
    ex_echo_client *clients;
    void *ssl_ctx; /* --cert/--key: the SSL_CTX for wss://, else NULL */
};

static struct server srv;

static bool on_event(ws_levent *l, const ws_event *ev)
{
    ex_echo_client *cl = ws_levent_user(l);
    bool waits = ex_echo_event(&cl->echo, ws_levent_conn(l), ev);
#ifdef EX_HAVE_LIBEVENT_OPENSSL
    /* Closed before the TLS handshake finished (a client silent past the handshake timeout):
     * what libws queued (a 408) can never be sent, so waiting to flush it is pointless. */
    if (ev->type == WS_EV_CLOSED && srv.ssl_ctx != NULL &&
        !SSL_is_init_finished(bufferevent_openssl_get_ssl(ws_levent_bufferevent(l))))
        ws_levent_abort(l);
#endif
    return waits;
}

static bool on_drained(ws_levent *l)
{
    ex_echo_client *cl = ws_levent_user(l);
    return ex_echo_retry(&cl->echo, ws_levent_conn(l));
}

static void on_finish(ws_levent *l)
{
    ex_echo_client_free(&srv.clients, ws_levent_user(l));
    /* Shutting down: the loop ends with the last connection. */
    if (srv.stopping && srv.clients == NULL)
        event_base_loopexit(srv.base, NULL);
}

#ifdef EX_HAVE_LIBEVENT_OPENSSL
/* TLS: close_notify before the glue ends our side of the TCP stream. */
static void on_flushed(ws_levent *l)
{
    SSL *ssl = bufferevent_openssl_get_ssl(ws_levent_bufferevent(l));
    if (ssl != NULL)
        (void)SSL_shutdown(ssl);
}

/* A bufferevent that runs the TLS handshake as the client's bytes arrive. */
static struct bufferevent *tls_bufferevent(evutil_socket_t fd)
{
    SSL *ssl = SSL_new(srv.ssl_ctx);
    struct bufferevent *bev;

    if (ssl == NULL)
        return NULL;
    bev = bufferevent_openssl_socket_new(srv.base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* A peer that ends TCP without close_notify is an end of stream, as without TLS. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}
#endif

static void peer_name(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    }
    snprintf(out, cap, "%s:%u", ip, port);
}

static void on_accept(struct evconnlistener *lst, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    ex_echo_client *cl;
    struct bufferevent *bev;
    int one = 1;

    (void)lst;
    (void)salen;
    (void)arg;
    evutil_make_socket_nonblocking(fd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* small frames, low latency */
#ifdef EX_HAVE_LIBEVENT_OPENSSL
    if (srv.ssl_ctx != NULL)
        bev = tls_bufferevent(fd);
    else
#endif
        bev = bufferevent_socket_new(srv.base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        evutil_closesocket(fd);
        return;
    }
    cl = ex_echo_client_new(&srv.clients, srv.piece, srv.verbose);
    if (cl == NULL) {
        bufferevent_free(bev);
        return;
    }
    peer_name(sa, cl->echo.peer, sizeof cl->echo.peer);
    cl->conn = ws_levent_start(bev, &srv.glue, ws_conn_new(&srv.cfg), cl);
    if (cl->conn == NULL)
        ex_echo_client_free(&srv.clients, cl);
}

/* The first signal: stop accepting, close every connection with 1001 and let the loop run
 * until they are done. The second: stop now. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    ex_echo_client *cl = srv.clients;

    (void)sig;
    (void)what;
    (void)arg;
    if (srv.stopping) {
        event_base_loopbreak(srv.base);
        return;
    }
    srv.stopping = true;
    evconnlistener_free(srv.listener);
    srv.listener = NULL;
    if (srv.clients == NULL) {
        event_base_loopexit(srv.base, NULL);
        return;
    }
    while (cl != NULL) {
        ex_echo_client *next = cl->next; /* cl may be freed by the close */
        ws_levent_close(cl->conn, WS_CLOSE_GOING_AWAY, EX_ECHO_SHUTDOWN_REASON,
                        sizeof EX_ECHO_SHUTDOWN_REASON - 1);
        cl = next;
    }
}

int main(int argc, char **argv)
{
    ex_echo_opts o;
    unsigned bound = 0;
    int fd;
#ifdef EX_HAVE_LIBEVENT_OPENSSL
    ex_tls_ctx *tls = NULL;
    bool with_tls = true;
#else
    bool with_tls = false;
#endif

    ws_levent_config_init(&srv.glue);
    if (ex_echo_parse("event-echo-server", with_tls, NULL, argc, argv, &o) < 0)
        return 2;
#ifdef EX_HAVE_LIBEVENT_OPENSSL
    if (o.cert != NULL) {
        if ((tls = ex_tls_server_ctx("event-echo-server", o.cert, o.key)) == NULL)
            return 1;
        srv.ssl_ctx = ex_tls_ctx_openssl(tls);
        srv.glue.on_flushed = on_flushed;
    }
#endif
    signal(SIGPIPE, SIG_IGN);
    if (ex_echo_config(&o, &srv.cfg, &srv.piece) < 0)
        return 2;
    srv.verbose = o.verbose;
    srv.glue.on_event = on_event;
    srv.glue.on_drained = on_drained;
    srv.glue.on_finish = on_finish;

    fd = ex_listen("event-echo-server", o.host, o.port, &bound);
    if (fd < 0)
        return 1;
    srv.base = event_base_new();
    if (srv.base == NULL ||
        (srv.listener = evconnlistener_new(srv.base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, -1,
                                           fd)) == NULL ||
        (srv.sigint = evsignal_new(srv.base, SIGINT, on_signal, NULL)) == NULL ||
        (srv.sigterm = evsignal_new(srv.base, SIGTERM, on_signal, NULL)) == NULL ||
        evsignal_add(srv.sigint, NULL) < 0 || evsignal_add(srv.sigterm, NULL) < 0) {
        fprintf(stderr, "event-echo-server: setup failed\n");
        return 1;
    }
    ex_echo_announce(o.host, bound);

    event_base_dispatch(srv.base);
    while (srv.clients != NULL)
        ws_levent_abort(srv.clients->conn); /* after a second signal */
    event_free(srv.sigint);
    event_free(srv.sigterm);
    event_base_free(srv.base);
#ifdef EX_HAVE_LIBEVENT_OPENSSL
    ex_tls_ctx_free(tls);
#endif
    return 0;
}
