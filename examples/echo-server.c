/*
 * echo-server: a non-blocking epoll WebSocket server that sends every message back as it
 * came (text as text, binary as binary). libws runs in streaming mode: each received chunk
 * is echoed at once as a fragment, so no connection ever holds a whole message.
 *
 * Each loop reads into one buffer it shares between its connections; a connection keeps
 * input of its own only while events of it wait for room in its output queue (see
 * client_keep_input). --threads N (default 1) runs N such loops, one per thread, each with
 * its own listening socket on the same port (SO_REUSEPORT: the kernel spreads the
 * connections); the first thread takes the signals and tells the others.
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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE            (64u * 1024u) /* bytes read (and fed to libws) at once */
#define MAX_THREADS          64
#define HANDSHAKE_TIMEOUT_MS 10000 /* from accept to a complete upgrade request */
#define CLOSE_TIMEOUT_MS     5000  /* from the start of the close handshake to the last write */
#define LINGER_MS            2000  /* from our last write to the peer's end of stream */

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
    ex_tls *tls;       /* NULL for plain TCP */
    uint32_t interest; /* epoll events registered */
    bool in_events;    /* input was fed and not all of its events pulled yet */
    bool eof;          /* the peer ended the stream (or the socket failed) */
    bool closed;       /* WS_EV_CLOSED seen: flush, then shut our side and linger */
    bool draining;     /* all written and our side shut: input is dropped until the peer ends */
    long deadline;     /* monotonic ms when the handshake, close or linger ends; 0: none */
    ex_echo app;       /* the echo in progress, the peer's name */
    bool fed_shared;   /* the input being pulled lies in the loop's read buffer */
    uint8_t *in;       /* else, in this buffer taken over from the loop (or NULL) */
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
    ex_tls_ctx *tls;      /* --cert/--key: wss:// */
    uint8_t *rbuf;        /* READ_SIZE bytes: every connection of this loop reads here */
    uint8_t *spare;       /* a read buffer given back by a connection, kept for the next one */
    bool main_loop;       /* signals is the signalfd (else this loop's eventfd) */
    struct server *loops; /* main loop only: all loops, to tell them about a signal */
    unsigned loop_count;
    int status;
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

/* The events of cl's input are all pulled: a buffer it took over goes back to the loop. */
static void release_input(struct server *srv, struct client *cl)
{
    cl->fed_shared = false;
    if (cl->in == NULL)
        return;
    if (srv->spare == NULL)
        srv->spare = cl->in;
    else
        free(cl->in);
    cl->in = NULL;
}

/*
 * Called when cl stops pulling events with some left (its echo waits for room in the output
 * queue). libws keeps pointers into the bytes fed to it until its events are pulled, so
 * the loop's read buffer cannot serve the next connection: cl takes it over, and the loop
 * reads into a spare one from now on. This is the only per-connection input buffer, and it
 * lives only while the connection is held up. Returns false when out of memory.
 */
static bool client_keep_input(struct server *srv, struct client *cl)
{
    uint8_t *next;

    if (!cl->in_events || !cl->fed_shared)
        return true;
    next = srv->spare != NULL ? srv->spare : malloc(READ_SIZE);
    if (next == NULL)
        return false;
    srv->spare = NULL;
    cl->in = srv->rbuf;
    cl->fed_shared = false;
    srv->rbuf = next;
    return true;
}

static void client_destroy(struct server *srv, struct client *cl)
{
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, cl->src.fd, NULL);
    close(cl->src.fd);
    ws_conn_free(cl->ws);
    ex_tls_free(cl->tls);
    ex_echo_free(&cl->app);
    release_input(srv, cl);
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
        if (!client_next_event(cl)) {
            cl->in_events = false;
            release_input(srv, cl);
        }
    }
    if (!client_keep_input(srv, cl)) {
        client_destroy(srv, cl); /* out of memory */
        return;
    }

    if (ex_tls_flush(cl->tls, cl->src.fd, cl->ws) < 0) {
        client_destroy(srv, cl);
        return;
    }
    if ((cl->closed || (cl->eof && !cl->in_events)) &&
        (!ex_has_output(cl->ws) || !ex_tls_can_send(cl->tls))) {
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

static void client_read(struct server *srv, struct client *cl)
{
    long n = ex_tls_recv(cl->tls, cl->src.fd, srv->rbuf, READ_SIZE);

    if (n > 0) {
        ws_conn_set_time(cl->ws, (uint64_t)now_ms()); /* the idle timeout counts from here */
        /* WS_E_CLOSED after the close handshake: the bytes are ignored, nothing to do. */
        ws_conn_feed(cl->ws, srv->rbuf, (size_t)n);
        cl->fed_shared = true;
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
    /* libws's handshake timeout (--handshake-timeout) answers 408; this one is the bound
     * when it is off. */
    if (srv->cfg.handshake_timeout_ms == 0)
        cl->deadline = now_ms() + HANDSHAKE_TIMEOUT_MS;
    ws_conn_tick(cl->ws, (uint64_t)now_ms()); /* starts libws's clocks */
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

/* Once a second: drops the connections whose handshake, close or linger took too long,
 * gives libws the time (its handshake, idle, ping and close timeouts; a second's
 * precision here), and tries accepting again if that was paused. */
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
        } else if (!cl->draining && ws_conn_next_deadline(cl->ws) <= (uint64_t)now) {
            ws_conn_tick(cl->ws, (uint64_t)now); /* may end it: WS_EV_CLOSED to pull */
            cl->in_events = true;
            client_service(srv, cl);
        }
        cl = next;
    }
}

/* Reads the wake-up descriptor; true when a stop was asked. The main loop reads the signals
 * and passes each on to the other loops. */
static bool take_signal(struct server *srv)
{
    bool stop = false;
    unsigned i;

    if (!srv->main_loop) {
        uint64_t count;
        return read(srv->signals.fd, &count, sizeof count) == (ssize_t)sizeof count;
    }
    for (;;) {
        struct signalfd_siginfo si;
        if (read(srv->signals.fd, &si, sizeof si) != (ssize_t)sizeof si)
            break;
        stop = true;
        for (i = 1; i < srv->loop_count; i++) {
            uint64_t one = 1;
            if (write(srv->loops[i].signals.fd, &one, sizeof one) < 0)
                perror("echo-server: waking a loop");
        }
    }
    return stop;
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

/* One loop: runs until a signal (a second one: at once) and its connections are over. */
static void *serve(void *arg)
{
    struct server *srv = arg;
    long next_sweep = now_ms() + 1000;

    while (!srv->stopping || srv->count > 0) {
        struct epoll_event evs[64];
        bool stop = false;
        int timeout = -1;
        long now;
        int i, n;

        if (srv->count > 0 || srv->accept_paused) {
            long left = next_sweep - now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        n = epoll_wait(srv->epfd, evs, 64, timeout);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "echo-server: epoll_wait: %s\n", strerror(errno));
            srv->status = 1;
            break;
        }
        for (i = 0; i < n; i++) {
            struct source *src = evs[i].data.ptr;
            if (src->kind == SRC_LISTENER) {
                accept_clients(srv);
            } else if (src->kind == SRC_SIGNAL) {
                stop = take_signal(srv);
            } else if (((struct client *)src)->draining) {
                client_drain(srv, (struct client *)src);
            } else {
                struct client *cl = (struct client *)src;
                if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !cl->in_events &&
                    !cl->app.echo.active && !cl->eof && !cl->closed)
                    client_read(srv, cl);
                client_service(srv, cl);
            }
        }
        /* After the batch, so no client freed here is still in evs. */
        if (stop && srv->stopping)
            break; /* a second signal: do not wait for the peers */
        if (stop)
            begin_shutdown(srv);
        now = now_ms();
        if (now >= next_sweep) {
            sweep(srv, now);
            next_sweep = now + 1000;
        }
    }

    while (srv->clients != NULL)
        client_destroy(srv, srv->clients);
    if (!srv->stopping)
        close(srv->listener.fd);
    close(srv->signals.fd);
    close(srv->epfd);
    free(srv->rbuf);
    free(srv->spare);
    return NULL;
}

static const ex_echo_usage threads_usage = {
    " [--threads N]",
    "  --threads N          N event loops, one per thread, each with its own listening\n"
    "                       socket on the same port (SO_REUSEPORT; the kernel spreads the\n"
    "                       connections); default 1, at most 64\n"};

/* Takes "--threads N" out of argv (the rest is the command line of every echo server). */
static bool take_threads(int *argc, char **argv, unsigned *threads)
{
    int i, j;

    *threads = 1;
    for (i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < *argc) {
            char *end;
            unsigned long t = strtoul(argv[i + 1], &end, 10);
            if (*argv[i + 1] == '\0' || *end != '\0' || t < 1 || t > MAX_THREADS) {
                fprintf(stderr, "echo-server: --threads takes 1 to %u\n", MAX_THREADS);
                return false;
            }
            *threads = (unsigned)t;
            for (j = i; j + 2 <= *argc; j++)
                argv[j] = argv[j + 2];
            *argc -= 2;
            i--;
        }
    }
    return true;
}

/* Sets up loop srv: its read buffer, epoll set, listener (port: the first loop's, once it
 * is bound) and wake-up descriptor. */
static bool loop_setup(struct server *srv, const ex_echo_opts *o, bool shared, unsigned *port)
{
    srv->listener.kind = SRC_LISTENER;
    srv->signals.kind = SRC_SIGNAL;
    srv->signals.fd = srv->main_loop ? ex_signals_fd() : eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    srv->listener.fd = shared ? ex_listen_shared("echo-server", o->host, *port, port)
                              : ex_listen("echo-server", o->host, *port, port);
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    srv->rbuf = malloc(READ_SIZE);
    if (srv->signals.fd < 0 || srv->listener.fd < 0 || srv->epfd < 0 || srv->rbuf == NULL ||
        watch(srv, EPOLL_CTL_ADD, &srv->listener, EPOLLIN) < 0 ||
        watch(srv, EPOLL_CTL_ADD, &srv->signals, EPOLLIN) < 0) {
        if (srv->listener.fd >= 0)
            fprintf(stderr, "echo-server: setup failed: %s\n", strerror(errno));
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    static struct server loops[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    ex_echo_opts o;
    ex_tls_ctx *tls = NULL;
    unsigned threads, i, port;
    int status = 0;

    if (!take_threads(&argc, argv, &threads) ||
        ex_echo_parse("echo-server", true, &threads_usage, argc, argv, &o) < 0)
        return 2;
    if (o.cert != NULL && (tls = ex_tls_server_ctx("echo-server", o.cert, o.key)) == NULL)
        return 1;
    /* One configuration for every loop (o keeps the trusted host list it points to). */
    if (ex_echo_config(&o, &loops[0].cfg, &loops[0].piece) < 0)
        return 2;
    port = o.port;
    for (i = 0; i < threads; i++) {
        struct server *srv = &loops[i];
        srv->main_loop = i == 0;
        srv->tls = tls;
        srv->verbose = o.verbose;
        srv->cfg = loops[0].cfg;
        srv->piece = loops[0].piece;
        if (!loop_setup(srv, &o, threads > 1, &port))
            return 1;
    }
    loops[0].loops = loops;
    loops[0].loop_count = threads;
    ex_echo_announce(o.host, port);

    for (i = 1; i < threads; i++) {
        if (pthread_create(&tids[i], NULL, serve, &loops[i]) != 0) {
            fprintf(stderr, "echo-server: cannot start thread %u\n", i);
            return 1;
        }
    }
    serve(&loops[0]);
    for (i = 1; i < threads; i++)
        pthread_join(tids[i], NULL);
    for (i = 0; i < threads; i++)
        status |= loops[i].status;
    ex_tls_ctx_free(tls);
    return status;
}
