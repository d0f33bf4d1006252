/*
 * echo-server: a non-blocking epoll WebSocket server that sends every message back as it
 * came (text as text, binary as binary). libws runs in streaming mode: each received chunk
 * is echoed at once as a fragment, so no connection ever holds a whole message.
 */
#define _GNU_SOURCE
#include "common.h"
#include "echo_app.h"
#include "tls.h"
#include "ws.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE            (64u * 1024u) /* bytes read (and fed to libws) at once */
#define HANDSHAKE_TIMEOUT_MS 10000         /* from accept to a complete upgrade request */
#define CLOSE_TIMEOUT_MS     5000 /* from the start of the close handshake to the last write */
#define LINGER_MS            2000 /* from our last write to the peer's end of stream */

enum source_kind { SRC_LISTENER, SRC_SIGNAL, SRC_CLIENT };

/* What an epoll event points at. */
struct source {
    enum source_kind kind;
    int fd;
};

struct client {
    struct source src; /* first, so a source of kind SRC_CLIENT is a client */
    struct client *prev, *next;
    ws_conn *ws;
    ex_tls *tls;           /* NULL for plain TCP */
    uint32_t interest;     /* epoll events registered */
    bool in_events;        /* input was fed and not all of its events pulled yet */
    bool eof;              /* the peer ended the stream (or the socket failed) */
    bool closed;           /* WS_EV_CLOSED seen: flush, then shut our side and linger */
    bool draining;         /* all written and our side shut: input is dropped until the peer ends */
    long deadline;         /* monotonic ms when the handshake, close or linger ends; 0: none */
    ex_echo app;           /* the echo in progress, the peer's name */
    uint8_t in[READ_SIZE]; /* libws unmasks in place here; kept until the events are pulled */
};

struct server {
    int epfd;
    struct source listener;
    struct source signals;
    bool accept_paused; /* out of file descriptors: stop accepting until one closes */
    bool stopping;
    struct client *clients;
    size_t count;
    ws_config cfg;
    size_t piece;
    bool verbose;
    ex_tls_ctx *tls; /* --cert/--key: wss:// */
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int watch(const struct server *srv, int op, struct source *src, uint32_t events)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = src;
    return epoll_ctl(srv->epfd, op, src->fd, &ev);
}

/* Puts the listener back after accept ran out of descriptors or memory. */
static void resume_accept(struct server *srv)
{
    if (srv->accept_paused && !srv->stopping) {
        srv->accept_paused = false;
        watch(srv, EPOLL_CTL_ADD, &srv->listener, EPOLLIN);
    }
}

static void client_destroy(struct server *srv, struct client *cl)
{
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, cl->src.fd, NULL);
    close(cl->src.fd);
    ws_conn_free(cl->ws);
    ex_tls_free(cl->tls);
    ex_echo_free(&cl->app);
    if (cl->prev != NULL)
        cl->prev->next = cl->next;
    else
        srv->clients = cl->next;
    if (cl->next != NULL)
        cl->next->prev = cl->prev;
    srv->count--;
    free(cl);
    resume_accept(srv);
}

/* Handles one event; returns false when there are none left for this input. */
static bool client_next_event(struct client *cl)
{
    ws_event ev;

    if (ws_conn_next_event(cl->ws, &ev) == WS_EV_NONE)
        return false;
    if (ev.type == WS_EV_OPEN)
        cl->deadline = 0;
    else if (ev.type == WS_EV_CLOSED)
        cl->closed = true;
    /* An echo that does not fit stays in cl->app.echo; client_service sends the rest. */
    (void)ex_echo_event(&cl->app, cl->ws, &ev);
    return true;
}

static void client_watch(const struct server *srv, struct client *cl, uint32_t want)
{
    if (want != cl->interest) {
        cl->interest = want;
        watch(srv, EPOLL_CTL_MOD, &cl->src, want);
    }
}

/* Everything is written: shut our side, so the peer reads our close frame and then the end
 * of the stream, and read away what it still sends until it ends its side (or LINGER_MS
 * pass). A close now, with its input unread, would reset the connection instead, and a peer
 * still sending could lose the close frame. */
static void client_linger(struct server *srv, struct client *cl)
{
    ex_tls_close_notify(cl->tls);
    if (shutdown(cl->src.fd, SHUT_WR) < 0 || ex_drain(cl->src.fd)) {
        client_destroy(srv, cl);
        return;
    }
    cl->draining = true;
    cl->deadline = now_ms() + LINGER_MS;
    client_watch(srv, cl, EPOLLIN);
}

static void client_drain(struct server *srv, struct client *cl)
{
    if (ex_drain(cl->src.fd))
        client_destroy(srv, cl);
}

/* Sends what waits, pulls events, writes output, then decides what to wait for. The
 * order matters: an echo that does not fit stops the event pulling (and so the reading)
 * until the socket has taken enough output. */
static void client_service(struct server *srv, struct client *cl)
{
    uint32_t want = 0;

    for (;;) {
        if (cl->app.echo.active) {
            int r = ex_pending_send(&cl->app.echo, cl->ws);
            if (r == WS_E_BACKPRESSURE) {
                long w = ex_tls_flush(cl->tls, cl->src.fd, cl->ws);
                if (w < 0 || (w == 0 && !ex_has_output(cl->ws))) {
                    client_destroy(srv, cl); /* socket failed, or the echo can never fit */
                    return;
                }
                if (w > 0)
                    continue;
                break; /* wait for EPOLLOUT */
            }
            /* Any other failure means the connection is closing: the echo is dropped. */
        }
        if (!cl->in_events)
            break;
        if (!client_next_event(cl))
            cl->in_events = false;
    }

    if (ex_tls_flush(cl->tls, cl->src.fd, cl->ws) < 0) {
        client_destroy(srv, cl);
        return;
    }
    if ((cl->closed || (cl->eof && !cl->in_events)) && !ex_has_output(cl->ws)) {
        client_linger(srv, cl);
        return;
    }
    /* libws has no clock: the host bounds how long a closing peer may take. */
    if (cl->deadline == 0 && ws_conn_phase(cl->ws) >= WS_PHASE_CLOSING)
        cl->deadline = now_ms() + CLOSE_TIMEOUT_MS;
    if (!cl->in_events && !cl->app.echo.active && !cl->eof && !cl->closed)
        want |= EPOLLIN;
    if (ex_has_output(cl->ws))
        want |= EPOLLOUT;
    client_watch(srv, cl, want);
}

static void client_read(struct client *cl)
{
    long n = ex_tls_recv(cl->tls, cl->src.fd, cl->in, sizeof cl->in);

    if (n > 0) {
        /* WS_E_CLOSED after the close handshake: the bytes are ignored, nothing to do. */
        ws_conn_feed(cl->ws, cl->in, (size_t)n);
        cl->in_events = true;
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        ws_conn_feed_eof(cl->ws);
        cl->eof = true;
        cl->in_events = true;
    }
}

static void client_new(struct server *srv, int fd, const char *peer)
{
    struct client *cl = calloc(1, sizeof *cl);

    if (cl == NULL || (cl->ws = ws_conn_new(&srv->cfg)) == NULL ||
        (srv->tls != NULL && (cl->tls = ex_tls_accept(srv->tls, fd)) == NULL)) {
        if (cl != NULL)
            ws_conn_free(cl->ws);
        free(cl);
        close(fd);
        return;
    }
    cl->src.kind = SRC_CLIENT;
    cl->src.fd = fd;
    cl->interest = EPOLLIN;
    cl->deadline = now_ms() + HANDSHAKE_TIMEOUT_MS;
    snprintf(cl->app.peer, sizeof cl->app.peer, "%s", peer);
    cl->app.piece = srv->piece;
    cl->app.verbose = srv->verbose;
    if (watch(srv, EPOLL_CTL_ADD, &cl->src, cl->interest) < 0) {
        ws_conn_free(cl->ws);
        ex_tls_free(cl->tls);
        free(cl);
        close(fd);
        return;
    }
    cl->next = srv->clients;
    if (cl->next != NULL)
        cl->next->prev = cl;
    srv->clients = cl;
    srv->count++;
}

static void accept_clients(struct server *srv)
{
    char peer[80];
    int fd;

    while ((fd = ex_accept("echo-server", srv->listener.fd, peer, sizeof peer)) >= 0)
        client_new(srv, fd, peer);
    if (fd == EX_ACCEPT_FULL) {
        /* Level-triggered: left in the set, the listener would spin. */
        srv->accept_paused = true;
        epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->listener.fd, NULL);
    }
}

/* Once a second: drops the connections whose handshake, close or linger took too long, and
 * tries accepting again if that was paused. */
static void sweep(struct server *srv, long now)
{
    struct client *cl = srv->clients;

    resume_accept(srv);
    while (cl != NULL) {
        struct client *next = cl->next;
        if (cl->deadline != 0 && now >= cl->deadline) {
            if (srv->verbose)
                fprintf(stderr, "[%s] timed out %s\n", cl->app.peer,
                        cl->draining ? "waiting for the peer's end of stream"
                        : ws_conn_phase(cl->ws) == WS_PHASE_CONNECTING ? "in the handshake"
                                                                       : "while closing");
            client_destroy(srv, cl);
        }
        cl = next;
    }
}

/* Stops accepting and starts the close handshake (1001) on every connection; each then has
 * CLOSE_TIMEOUT_MS to finish. */
static void begin_shutdown(struct server *srv)
{
    struct client *cl = srv->clients;

    srv->stopping = true;
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->listener.fd, NULL);
    close(srv->listener.fd);
    while (cl != NULL) {
        struct client *next = cl->next;
        if (cl->draining) {
            /* Already over; its linger deadline stands. */
        } else if (ws_conn_phase(cl->ws) == WS_PHASE_CONNECTING) {
            client_destroy(srv, cl);
        } else {
            ws_conn_close(cl->ws, WS_CLOSE_GOING_AWAY, EX_ECHO_SHUTDOWN_REASON,
                          sizeof EX_ECHO_SHUTDOWN_REASON - 1);
            client_service(srv, cl);
        }
        cl = next;
    }
}

int main(int argc, char **argv)
{
    struct server srv;
    ex_echo_opts o;
    unsigned bound = 0;
    long next_sweep = now_ms() + 1000;
    int status = 0;

    memset(&srv, 0, sizeof srv);
    if (ex_echo_parse("echo-server", true, argc, argv, &o) < 0)
        return 2;
    if (o.cert != NULL && (srv.tls = ex_tls_server_ctx("echo-server", o.cert, o.key)) == NULL)
        return 1;
    srv.verbose = o.verbose;
    if (ex_echo_config(&o, &srv.cfg, &srv.piece) < 0)
        return 2;

    srv.listener.kind = SRC_LISTENER;
    srv.signals.kind = SRC_SIGNAL;
    srv.signals.fd = ex_signals_fd();
    srv.listener.fd = ex_listen("echo-server", o.host, o.port, &bound);
    srv.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv.signals.fd < 0 || srv.listener.fd < 0 || srv.epfd < 0 ||
        watch(&srv, EPOLL_CTL_ADD, &srv.listener, EPOLLIN) < 0 ||
        watch(&srv, EPOLL_CTL_ADD, &srv.signals, EPOLLIN) < 0) {
        if (srv.listener.fd >= 0)
            fprintf(stderr, "echo-server: setup failed: %s\n", strerror(errno));
        return 1;
    }
    ex_echo_announce(o.host, bound);

    while (!srv.stopping || srv.count > 0) {
        struct epoll_event evs[64];
        bool stop = false;
        int timeout = -1;
        long now;
        int i, n;

        if (srv.count > 0 || srv.accept_paused) {
            long left = next_sweep - now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        n = epoll_wait(srv.epfd, evs, 64, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "echo-server: epoll_wait: %s\n", strerror(errno));
            status = 1;
            break;
        }
        for (i = 0; i < n; i++) {
            struct source *src = evs[i].data.ptr;
            if (src->kind == SRC_LISTENER) {
                accept_clients(&srv);
            } else if (src->kind == SRC_SIGNAL) {
                struct signalfd_siginfo si;
                while (read(srv.signals.fd, &si, sizeof si) == (ssize_t)sizeof si)
                    stop = true;
            } else if (((struct client *)src)->draining) {
                client_drain(&srv, (struct client *)src);
            } else {
                struct client *cl = (struct client *)src;
                if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !cl->in_events &&
                    !cl->app.echo.active && !cl->eof && !cl->closed)
                    client_read(cl);
                client_service(&srv, cl);
            }
        }
        /* After the batch, so no client freed here is still in evs. */
        if (stop && srv.stopping)
            break; /* a second signal: do not wait for the peers */
        if (stop)
            begin_shutdown(&srv);
        now = now_ms();
        if (now >= next_sweep) {
            sweep(&srv, now);
            next_sweep = now + 1000;
        }
    }

    while (srv.clients != NULL)
        client_destroy(&srv, srv.clients);
    if (!srv.stopping)
        close(srv.listener.fd);
    close(srv.signals.fd);
    close(srv.epfd);
    ex_tls_ctx_free(srv.tls);
    return status;
}
