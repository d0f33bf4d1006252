/*
 * chat-server: a broadcast chat on a non-blocking epoll loop. Every text message goes to all
 * other clients as "<name>: <text>", and the same port serves the chat page at "/". Shows
 * libws's request hooks (origin policy, signed tokens) and its keepalive (pings, pong timeout)
 * driven by one epoll timeout taken from every connection's next deadline.
 *
 * What a client sees, all as text messages:
 *   "* welcome, NAME (N online)"   first, to the client that joined
 *   "* NAME joined" / "* NAME left" to everyone else
 *   "NAME: text"                    a message, to everyone but its sender (the page shows
 *                                   its own lines itself)
 * NAME is the token's subject with --token-secret, else "guest-N". Binary messages are
 * refused (close 1003); a client too slow to take what the room says is closed (1008)
 * rather than buffered for without bound.
 */
#define _GNU_SOURCE
#include "common.h"
#include "ws.h"

#include <errno.h>
#include <limits.h>
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

/* The page, generated from chat.html by embed.py at build time. */
extern const unsigned char chat_page[];
extern const size_t chat_page_len;

#define READ_SIZE       (16u * 1024u) /* bytes read (and fed to libws) at once */
#define MAX_MESSAGE     (64u * 1024u) /* longest chat message accepted (1009 beyond) */
#define LINGER_MS       5000u /* after the end, how long the last output may take to drain */
#define DRAIN_MS        2000u /* then, how long the peer may take to end its side */
#define NOTE_MAX        (WS_TOKEN_SUBJECT_MAX + 64u)
#define CHAT_PATH       "/chat"
#define SHUTDOWN_REASON "server shutting down"
#define SLOW_REASON     "too slow to keep up"

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
    uint32_t interest;     /* epoll events registered */
    bool joined;           /* WS_EV_OPEN seen and WS_EV_CLOSED not yet: in the chat */
    bool closed;           /* WS_EV_CLOSED seen: flush, then shut our side and linger */
    bool draining;         /* all written and our side shut: input is dropped until the end */
    bool dirty;            /* may have output to write or interest to change */
    bool dead;             /* freed by reap() once the current pass is over */
    uint64_t linger_until; /* closed: give up on the remaining output (or the drain) then */
    char name[WS_TOKEN_SUBJECT_MAX + 1];
    char peer[80];
    uint8_t in[READ_SIZE]; /* libws unmasks in place here; drained before the next read */
};

struct options {
    const char *host;
    unsigned port;
    const char **allow; /* --allow-origin values */
    size_t allow_count;
    const char *secret;
    uint32_t ping_interval_ms;
    uint32_t pong_timeout_ms;
    const char *print_token; /* subject to mint a token for, or NULL */
    uint64_t ttl;
    ex_limits limits;   /* --max-frame, --max-message ... */
    ex_trusted trusted; /* --trusted-host */
};

struct server {
    int epfd;
    struct source listener;
    struct source signals;
    bool accept_paused; /* out of file descriptors: stop accepting until one closes */
    bool stopping;
    struct client *clients;
    size_t count;
    size_t online;        /* clients in the chat */
    unsigned long guests; /* names handed out when there is no token */
    uint64_t now;         /* CLOCK_MONOTONIC ms, read once per loop turn */
    ws_config cfg;
    ws_origin_policy origin;
    ws_token_auth auth;
    char *line; /* a broadcast being put together: name ": " text */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: chat-server [--host HOST] [--port PORT] [--allow-origin ORIGIN]...\n"
            "                   [--token-secret SECRET] [--ping-interval MS] [--pong-timeout MS]\n"
            "       chat-server --print-token SUBJECT --token-secret SECRET [--ttl SECONDS]\n"
            "  --host HOST            address to listen on (default 127.0.0.1)\n"
            "  --port PORT            port (default 9002; 0 picks a free one)\n"
            "  --allow-origin ORIGIN  also accept pages from ORIGIN (repeatable), e.g.\n"
            "                         https://app.example.com or https://*.example.com; pages\n"
            "                         served by this server are always accepted, requests\n"
            "                         without an Origin header (non-browser clients) too\n"
            "  --token-secret SECRET  require a signed token (cookie \"token\", query ?token=\n"
            "                         or Authorization: Bearer); its subject is the chat name\n"
            "  --ping-interval MS     ping each client this often (default 20000; 0: never)\n"
            "  --pong-timeout MS      drop a client whose pong is this late (default 10000)\n"
            "  --print-token SUBJECT  print a token for SUBJECT valid for --ttl seconds\n"
            "                         (default 3600) and exit\n");
    ex_trusted_usage(out);
    ex_limits_usage(out); /* --max-message here: default 64K */
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int watch(const struct server *srv, int op, struct source *src, uint32_t events)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = src;
    return epoll_ctl(srv->epfd, op, src->fd, &ev);
}

/* ---- names and messages ---------------------------------------------------------------- */

/* A name goes in front of every message the client sends, so it must be printable text:
 * valid UTF-8 without control characters. */
static bool name_ok(const char *name, size_t len)
{
    size_t i;

    if (len == 0 || !ws_utf8_valid((const uint8_t *)name, len))
        return false;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

/* ws_token_auth.on_claims: the token's subject becomes the client's name in the room; a
 * name that could not be shown gets 403. */
static bool take_claims(void *ud, ws_conn *c, const ws_token_claims *claims)
{
    struct client *cl = ws_conn_user(c);

    (void)ud;
    if (!name_ok(claims->subject, claims->subject_len))
        return false;
    memcpy(cl->name, claims->subject, claims->subject_len + 1);
    return true;
}

static void client_log(const struct client *cl, const char *fmt, const char *what)
{
    fprintf(stderr, "[%s] ", cl->peer);
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
}

/* Queues text for one client. A client whose output queue stays full after the socket took
 * what it would is too slow for the room: it is closed (1008) rather than buffered for. */
static void send_to(struct client *cl, const char *text, size_t len)
{
    int rc = ws_conn_send(cl->ws, WS_OP_TEXT, text, len);
    long written = 0;

    if (rc == WS_E_BACKPRESSURE && (written = ex_flush(cl->src.fd, cl->ws)) > 0)
        rc = ws_conn_send(cl->ws, WS_OP_TEXT, text, len);
    if (rc == WS_E_BACKPRESSURE && written >= 0) { /* (a failed socket: settled later) */
        client_log(cl, "%s is too slow: closing", cl->name);
        ws_conn_close(cl->ws, WS_CLOSE_POLICY, SLOW_REASON, sizeof SLOW_REASON - 1);
    }
    /* Other failures mean the client is closing: it is leaving and misses the message. */
    cl->dirty = true;
}

/* Sends text to everyone in the chat but `except` (which may be NULL). */
static void broadcast(struct server *srv, const struct client *except, const char *text, size_t len)
{
    struct client *cl;

    for (cl = srv->clients; cl != NULL; cl = cl->next) {
        if (cl != except && cl->joined && !cl->dead)
            send_to(cl, text, len);
    }
}

/* "<name>: <text>" to everyone else; text is valid UTF-8 (libws checked it). */
static void broadcast_message(struct server *srv, const struct client *from, const uint8_t *text,
                              size_t len)
{
    size_t name_len = strlen(from->name);

    memcpy(srv->line, from->name, name_len);
    memcpy(srv->line + name_len, ": ", 2);
    if (len > 0)
        memcpy(srv->line + name_len + 2, text, len);
    broadcast(srv, from, srv->line, name_len + 2 + len);
}

static void broadcast_note(struct server *srv, const struct client *except, const char *fmt,
                           const char *name)
{
    char note[NOTE_MAX];
    int n = snprintf(note, sizeof note, fmt, name);

    if (n > 0 && (size_t)n < sizeof note)
        broadcast(srv, except, note, (size_t)n);
}

/* ---- the connection's events ------------------------------------------------------------ */

/* The page at "/", 404 for anything else. Plain requests never pass the hooks: the page is
 * public, the WebSocket behind it is what the origin and token guard. */
static void serve_http(struct client *cl, const ws_request *r)
{
    static const ws_header page_headers[] = {
        {"Content-Type", 12, "text/html; charset=utf-8", 24},
        {"Cache-Control", 13, "no-cache", 8},
    };
    static const char not_found[] = "not found\n";

    int rc;

    if (r->path_len == 1 && r->path[0] == '/')
        rc = ws_conn_respond(cl->ws, 200, page_headers, 2, (const char *)chat_page, chat_page_len);
    else
        rc = ws_conn_respond(cl->ws, 404, NULL, 0, not_found, sizeof not_found - 1);
    if (rc != WS_OK) /* out of memory for the answer: a short one may still fit */
        ws_conn_respond(cl->ws, 500, NULL, 0, NULL, 0);
}

/* A request every hook allowed: the chat lives at CHAT_PATH only. */
static void answer_upgrade(struct server *srv, struct client *cl, const ws_request *r)
{
    if (r->path_len != sizeof CHAT_PATH - 1 || memcmp(r->path, CHAT_PATH, r->path_len) != 0) {
        ws_conn_reject(cl->ws, 404, NULL, 0, NULL, 0);
        return;
    }
    if (cl->name[0] == '\0') /* no token auth: a made-up name */
        snprintf(cl->name, sizeof cl->name, "guest-%lu", ++srv->guests);
    if (ws_conn_accept(cl->ws, NULL) != WS_OK)
        ws_conn_reject(cl->ws, 500, NULL, 0, NULL, 0);
}

static void on_open(struct server *srv, struct client *cl)
{
    char note[NOTE_MAX];
    int n;

    cl->joined = true;
    srv->online++;
    client_log(cl, "%s joined", cl->name);
    n = snprintf(note, sizeof note, "* welcome, %s (%zu online)", cl->name, srv->online);
    if (n > 0 && (size_t)n < sizeof note)
        send_to(cl, note, (size_t)n);
    broadcast_note(srv, cl, "* %s joined", cl->name);
}

static void on_closed(struct server *srv, struct client *cl, const ws_event *ev)
{
    char why[160];

    if (ev->http_status != 0)
        snprintf(why, sizeof why, "HTTP %d%s%s", ev->http_status, ev->error != WS_OK ? ", " : "",
                 ev->error != WS_OK ? ws_strerror(ev->error) : "");
    else if (ev->error == WS_E_PONG_TIMEOUT)
        snprintf(why, sizeof why, "dropped: pong timeout (none within %u ms), sent 1001",
                 (unsigned)srv->cfg.pong_timeout_ms);
    else
        snprintf(why, sizeof why, "%u%s%s", (unsigned)ev->close_code,
                 ev->error != WS_OK ? ", " : "", ev->error != WS_OK ? ws_strerror(ev->error) : "");
    if (cl->joined)
        fprintf(stderr, "[%s] %s left (%s)\n", cl->peer, cl->name, why);
    else if (ev->http_status != 0)
        client_log(cl, "answered %s", why);
    else
        client_log(cl, "ended before joining (%s)", why);

    cl->closed = true;
    cl->dirty = true;
    cl->linger_until = srv->now + LINGER_MS;
    if (cl->joined) {
        cl->joined = false;
        srv->online--;
        broadcast_note(srv, cl, "* %s left", cl->name);
    }
}

/* Pulls every event the last input (or tick) produced. */
static void client_pull(struct server *srv, struct client *cl)
{
    ws_event ev;

    for (;;) {
        switch (ws_conn_next_event(cl->ws, &ev)) {
        case WS_EV_NONE:
            return;
        case WS_EV_HTTP_REQUEST:
            serve_http(cl, ev.request);
            break;
        case WS_EV_REQUEST:
            answer_upgrade(srv, cl, ev.request);
            break;
        case WS_EV_OPEN:
            on_open(srv, cl);
            break;
        case WS_EV_MESSAGE:
            if (ev.opcode == WS_OP_TEXT)
                broadcast_message(srv, cl, ev.data, ev.len);
            else
                ws_conn_close(cl->ws, WS_CLOSE_UNSUPPORTED_DATA, "text only", 9);
            break;
        case WS_EV_CLOSED:
            on_closed(srv, cl, &ev);
            break;
        case WS_EV_CHUNK: /* whole_messages is on: never */
        case WS_EV_PING:  /* answered by libws (auto_pong) */
        case WS_EV_PONG:  /* noted by libws's keepalive */
        case WS_EV_CLOSE: /* answered by libws; WS_EV_CLOSED follows */
            break;
        }
        cl->dirty = true;
    }
}

/* ---- request hooks ----------------------------------------------------------------------- */

static uint64_t unix_time(void *ud)
{
    (void)ud;
    return (uint64_t)time(NULL);
}

/* ---- sockets ----------------------------------------------------------------------------- */

static void mark_dead(struct client *cl)
{
    cl->dead = true;
    cl->dirty = false;
}

static void client_read(struct server *srv, struct client *cl)
{
    ssize_t n = recv(cl->src.fd, cl->in, sizeof cl->in, 0);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    /* The time first, so that these bytes count as received now; deadlines are acted on
     * after every read of this turn (serve), so a pong already here is not missed. */
    ws_conn_set_time(cl->ws, srv->now);
    if (n > 0)
        (void)ws_conn_feed(cl->ws, cl->in, (size_t)n); /* WS_E_CLOSED after the end: ignored */
    else
        ws_conn_feed_eof(cl->ws);
    client_pull(srv, cl);
    cl->dirty = true;
}

static void client_watch(const struct server *srv, struct client *cl, uint32_t want)
{
    if (want != cl->interest) {
        cl->interest = want;
        watch(srv, EPOLL_CTL_MOD, &cl->src, want);
    }
}

/* Everything is written: shut our side, so the peer reads our last frames and then the end
 * of the stream, and read away what it still sends until it ends its side (or DRAIN_MS
 * pass). A close now, with its input unread, would reset the connection instead, and a peer
 * still sending could lose the close frame. */
static void client_linger(struct server *srv, struct client *cl)
{
    if (shutdown(cl->src.fd, SHUT_WR) < 0 || ex_drain(cl->src.fd)) {
        mark_dead(cl);
        return;
    }
    cl->draining = true;
    cl->linger_until = srv->now + DRAIN_MS;
    client_watch(srv, cl, EPOLLIN);
}

static void client_drain(struct client *cl)
{
    if (ex_drain(cl->src.fd))
        mark_dead(cl);
}

/* Writes what waits and sets what to wait for; a closed client lingers once its output is
 * out. */
static void client_settle(struct server *srv, struct client *cl)
{
    uint32_t want = 0;

    if (cl->draining)
        return;
    if (ex_flush(cl->src.fd, cl->ws) < 0) {
        if (!cl->closed) { /* the peer is gone: let libws end it, announcing the leave */
            ws_conn_feed_eof(cl->ws);
            client_pull(srv, cl);
        }
        mark_dead(cl);
        return;
    }
    if (cl->closed && !ex_has_output(cl->ws)) {
        client_linger(srv, cl);
        return;
    }
    if (!cl->closed)
        want |= EPOLLIN;
    if (ex_has_output(cl->ws))
        want |= EPOLLOUT;
    client_watch(srv, cl, want);
}

/* Settles every client with something to do, until a settle causes no more work (a client
 * found gone announces its leave to the others). */
static void settle_all(struct server *srv)
{
    bool again = true;

    while (again) {
        struct client *cl;
        again = false;
        for (cl = srv->clients; cl != NULL; cl = cl->next) {
            if (cl->dirty && !cl->dead) {
                cl->dirty = false;
                client_settle(srv, cl);
                again = true;
            }
        }
    }
}

/* Gives every connection whose deadline has come the time: keepalive pings, the pong,
 * handshake and close timeouts (libws), and the host's own limits on a last flush and on
 * the linger after it. */
static void tick_all(struct server *srv)
{
    struct client *cl;

    for (cl = srv->clients; cl != NULL; cl = cl->next) {
        if (cl->dead)
            continue;
        if (cl->closed) {
            if (srv->now >= cl->linger_until) {
                client_log(cl, "%s",
                           cl->draining ? "no end of stream in time: dropping"
                                        : "output not taken in time: dropping");
                mark_dead(cl);
            }
        } else if (ws_conn_next_deadline(cl->ws) <= srv->now) {
            ws_conn_tick(cl->ws, srv->now);
            client_pull(srv, cl);
            cl->dirty = true;
        }
    }
}

/* The epoll_wait timeout: until the earliest deadline of any connection. */
static int next_timeout(const struct server *srv)
{
    uint64_t best = UINT64_MAX, now = now_ms();
    const struct client *cl;

    for (cl = srv->clients; cl != NULL; cl = cl->next) {
        uint64_t d;
        if (cl->dead)
            continue;
        if (cl->dirty)
            return 0;
        d = cl->closed ? cl->linger_until : ws_conn_next_deadline(cl->ws);
        if (d < best)
            best = d;
    }
    if (srv->accept_paused && now + 1000u < best)
        best = now + 1000u;
    if (best == UINT64_MAX)
        return -1;
    if (best <= now)
        return 0;
    return best - now > (uint64_t)INT_MAX ? INT_MAX : (int)(best - now);
}

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

/* Frees the clients marked dead. Only here, between loop turns: a client freed while a
 * batch of epoll events is being handled could still be named by a later one. */
static void reap(struct server *srv)
{
    struct client *cl = srv->clients;

    while (cl != NULL) {
        struct client *next = cl->next;
        if (cl->dead)
            client_destroy(srv, cl);
        cl = next;
    }
}

static void client_new(struct server *srv, int fd, const char *peer)
{
    struct client *cl = calloc(1, sizeof *cl);

    if (cl == NULL || (cl->ws = ws_conn_new(&srv->cfg)) == NULL) {
        free(cl);
        close(fd);
        return;
    }
    cl->src.kind = SRC_CLIENT;
    cl->src.fd = fd;
    cl->interest = EPOLLIN;
    ws_conn_set_user(cl->ws, cl);
    ws_conn_tick(cl->ws, now_ms()); /* starts the handshake timeout */
    snprintf(cl->peer, sizeof cl->peer, "%s", peer);
    if (watch(srv, EPOLL_CTL_ADD, &cl->src, cl->interest) < 0) {
        ws_conn_free(cl->ws);
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

    while ((fd = ex_accept("chat-server", srv->listener.fd, peer, sizeof peer)) >= 0)
        client_new(srv, fd, peer);
    if (fd == EX_ACCEPT_FULL) {
        /* Level-triggered: left in the set, the listener would spin. */
        srv->accept_paused = true;
        epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->listener.fd, NULL);
    }
}

/* Stops accepting and starts the close handshake (1001) with everyone in the chat; libws's
 * close timeout bounds how long each may take to answer. */
static void begin_shutdown(struct server *srv)
{
    struct client *cl;

    srv->stopping = true;
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->listener.fd, NULL);
    close(srv->listener.fd);
    for (cl = srv->clients; cl != NULL; cl = cl->next) {
        if (cl->dead || cl->closed)
            continue;
        if (ws_conn_phase(cl->ws) == WS_PHASE_CONNECTING) {
            mark_dead(cl);
            continue;
        }
        ws_conn_close(cl->ws, WS_CLOSE_GOING_AWAY, SHUTDOWN_REASON, sizeof SHUTDOWN_REASON - 1);
        client_pull(srv, cl);
        cl->dirty = true;
    }
}

/* ---- command line -------------------------------------------------------------------------- */

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

/* Returns 0, or -1 for a bad command line. o->allow must have room for argc entries. */
static int parse_args(int argc, char **argv, struct options *o)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long v;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (val == NULL)
            return -1;
        i++;
        if (strcmp(arg, "--host") == 0) {
            o->host = val;
        } else if (strcmp(arg, "--port") == 0 && parse_uint(val, 65535, &v)) {
            o->port = (unsigned)v;
        } else if (strcmp(arg, "--allow-origin") == 0) {
            o->allow[o->allow_count++] = val;
        } else if (strcmp(arg, "--token-secret") == 0 && *val != '\0') {
            o->secret = val;
        } else if (strcmp(arg, "--ping-interval") == 0 && parse_uint(val, UINT32_MAX, &v)) {
            o->ping_interval_ms = (uint32_t)v;
        } else if (strcmp(arg, "--pong-timeout") == 0 && parse_uint(val, UINT32_MAX, &v)) {
            o->pong_timeout_ms = (uint32_t)v;
        } else if (strcmp(arg, "--print-token") == 0) {
            o->print_token = val;
        } else if (strcmp(arg, "--ttl") == 0 && parse_uint(val, UINT32_MAX, &v) && v > 0) {
            o->ttl = v;
        } else if (ex_limits_arg(&o->limits, arg, val) <= 0 &&
                   ex_trusted_arg(&o->trusted, arg, val) <= 0) {
            return -1;
        }
    }
    return 0;
}

/* --print-token: what a login service would hand a user after checking who they are. */
static int print_token(const struct options *o)
{
    char token[WS_TOKEN_MAX + 1];
    size_t len;
    int rc;

    if (o->secret == NULL) {
        fprintf(stderr, "chat-server: --print-token needs --token-secret\n");
        return 2;
    }
    if (!name_ok(o->print_token, strlen(o->print_token))) {
        fprintf(stderr, "chat-server: the subject must be printable UTF-8 text\n");
        return 2;
    }
    rc = ws_token_sign((const uint8_t *)o->secret, strlen(o->secret), o->print_token,
                       strlen(o->print_token), (uint64_t)time(NULL) + o->ttl, token, sizeof token,
                       &len);
    if (rc != WS_OK) {
        fprintf(stderr, "chat-server: cannot sign a token: %s\n", ws_strerror(rc));
        return 1;
    }
    printf("%.*s\n", (int)len, token);
    return 0;
}

/* The libws side: whole messages (chat lines are short), keepalive, and the two hooks. */
static void configure(struct server *srv, const struct options *o)
{
    ws_config *cfg = &srv->cfg;

    ws_config_init(cfg, WS_ROLE_SERVER);
    cfg->realloc = ex_realloc;
    cfg->whole_messages = true;
    cfg->max_message_size = MAX_MESSAGE;
    cfg->max_frame_size = MAX_MESSAGE;
    cfg->http_requests = true; /* the page */
    cfg->ping_interval_ms = o->ping_interval_ms;
    cfg->pong_timeout_ms = o->pong_timeout_ms;
    ex_limits_apply(&o->limits, cfg);

    /* Same-origin is on by default; the listed origins are allowed besides. */
    ws_origin_policy_init(&srv->origin);
    srv->origin.allow = o->allow;
    srv->origin.allow_count = o->allow_count;
    cfg->origin_hook.fn = ws_origin_hook;
    cfg->origin_hook.ud = &srv->origin;

    if (o->secret != NULL) {
        ws_token_auth_init(&srv->auth);
        srv->auth.sources = WS_TOKEN_BEARER | WS_TOKEN_COOKIE | WS_TOKEN_QUERY;
        srv->auth.key = (const uint8_t *)o->secret;
        srv->auth.key_len = strlen(o->secret);
        srv->auth.unix_time = unix_time;
        srv->auth.on_claims = take_claims;
        cfg->auth_hook.fn = ws_token_auth_hook;
        cfg->auth_hook.ud = &srv->auth;
    }
}

static bool handle_signals(const struct server *srv)
{
    struct signalfd_siginfo si;
    bool got = false;

    while (read(srv->signals.fd, &si, sizeof si) == (ssize_t)sizeof si)
        got = true;
    return got;
}

static int serve(struct server *srv)
{
    while (!srv->stopping || srv->count > 0) {
        struct epoll_event evs[64];
        bool stop = false;
        int i, n = epoll_wait(srv->epfd, evs, 64, next_timeout(srv));

        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "chat-server: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        srv->now = now_ms();
        for (i = 0; i < n; i++) {
            struct source *src = evs[i].data.ptr;
            struct client *cl = (struct client *)src;

            if (src->kind == SRC_LISTENER)
                accept_clients(srv);
            else if (src->kind == SRC_SIGNAL)
                stop = handle_signals(srv) || stop;
            else if (cl->dead)
                continue;
            else if (cl->draining)
                client_drain(cl);
            else if (!cl->closed && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0)
                client_read(srv, cl);
            else
                cl->dirty = true; /* writable, or an error to find while writing */
        }
        if (stop && srv->stopping)
            return 0; /* a second signal: do not wait for the peers */
        if (stop)
            begin_shutdown(srv);
        tick_all(srv);
        settle_all(srv);
        reap(srv);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct server srv;
    struct options opt;
    unsigned bound = 0;
    int status;

    memset(&opt, 0, sizeof opt);
    opt.host = "127.0.0.1";
    opt.port = 9002;
    opt.ping_interval_ms = 20000;
    opt.pong_timeout_ms = 10000;
    opt.ttl = 3600;
    opt.allow = calloc((size_t)argc, sizeof *opt.allow);
    if (opt.allow == NULL || parse_args(argc, argv, &opt) < 0) {
        usage(stderr);
        free(opt.allow);
        return 2;
    }
    if (opt.print_token != NULL) {
        status = print_token(&opt);
        free(opt.allow);
        return status;
    }

    memset(&srv, 0, sizeof srv);
    configure(&srv, &opt);
    ex_trusted_apply(&opt.trusted, opt.host, &srv.cfg);
    if (ws_conn_storage_size(&srv.cfg) == 0) {
        fprintf(stderr, "chat-server: those limits make no valid configuration\n");
        free(opt.allow);
        return 2;
    }
    /* A broadcast line holds a name and a whole message (whole_messages keeps it bounded). */
    srv.line = malloc(WS_TOKEN_SUBJECT_MAX + 2 + srv.cfg.max_message_size);
    srv.listener.kind = SRC_LISTENER;
    srv.signals.kind = SRC_SIGNAL;
    srv.signals.fd = ex_signals_fd();
    srv.listener.fd = ex_listen("chat-server", opt.host, opt.port, &bound);
    srv.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv.line == NULL || srv.signals.fd < 0 || srv.listener.fd < 0 || srv.epfd < 0 ||
        watch(&srv, EPOLL_CTL_ADD, &srv.listener, EPOLLIN) < 0 ||
        watch(&srv, EPOLL_CTL_ADD, &srv.signals, EPOLLIN) < 0) {
        if (srv.listener.fd >= 0)
            fprintf(stderr, "chat-server: setup failed: %s\n", strerror(errno));
        return 1;
    }
    printf("listening on %s%s%s:%u\n", strchr(opt.host, ':') ? "[" : "", opt.host,
           strchr(opt.host, ':') ? "]" : "", bound);
    fflush(stdout);

    status = serve(&srv);

    while (srv.clients != NULL)
        client_destroy(&srv, srv.clients);
    if (!srv.stopping)
        close(srv.listener.fd);
    close(srv.signals.fd);
    close(srv.epfd);
    free(srv.line);
    free(opt.allow);
    return status;
}
