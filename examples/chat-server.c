/*
 * chat-server: a chat with rooms on a non-blocking epoll loop. Every text message goes to
 * the other members of a room as "<name>: <text>", and the same port serves the chat page at
 * "/". Shows libws's request hooks (origin policy, signed tokens) and its keepalive (pings,
 * pong timeout) driven by one epoll timeout taken from every connection's next deadline.
 * With --redis, the server is one node of a cluster (cluster.c): rooms span the nodes,
 * presence counts are cluster-wide, and --tickets (or --single-use signed tokens) are refused
 * on every node after their first use. SIGTERM drains: 1001 to everyone, close handshakes
 * finished, then exit. docs/scaling.md tells the whole story.
 *
 * A client starts in the rooms of its URL's ?rooms=a,b (default "lobby"); the first is its
 * home, where plain lines go. What a client sees, all as text messages:
 *   "* welcome, NAME (N online)"   first, to the client that joined (N: members of its home)
 *   "* NAME joined" / "* NAME left" to the others in the lobby ("* NAME joined ROOM" in other
 *                                   rooms)
 *   "NAME: text"                    a line said in the lobby, to everyone but its sender (the
 *                                   page shows its own lines itself); "[ROOM] NAME: text"
 *                                   in another room
 * and its commands, answered with a notice:
 *   "/join ROOM", "/leave ROOM"     "* joined ROOM (N here)", "* left ROOM"
 *   "/who ROOM"                     "* ROOM: N here" (members on every node)
 *   "/to ROOM text"                 says text in ROOM (a room the client is in)
 * NAME is the subject of the client's token (--token-secret) or ticket (--tickets), else
 * "guest-N" ("guest-XXXX-N" in a cluster, XXXX from the node's id). Binary messages are
 * refused (close 1003); a client too slow to take what the room says is closed (1008)
 * rather than buffered for without bound.
 */
#define _GNU_SOURCE
#include "cluster.h"
#include "common.h"
#include "deflate_flags.h"
#include "rooms.h"
#include "ws.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
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
#define LOBBY           "lobby"
#define MAX_ROOMS       8u    /* rooms one client may be in */
#define CLUSTER_DRAIN   2000u /* ms a draining node waits for Redis to take its last lines */

enum source_kind { SRC_LISTENER, SRC_SIGNAL, SRC_CLIENT, SRC_REDIS };

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
    room *rooms[MAX_ROOMS]; /* rooms[0] is home */
    size_t room_count;
    char want[MAX_ROOMS * (ROOM_NAME_MAX + 1)]; /* ?rooms= of the request, joined at open */
    uint64_t token_expires;                     /* of the token the client came with */
    cluster_ticket *ticket;                     /* a single-use check waiting for Redis */
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
    const char *redis_host; /* --redis: join the cluster on this Redis */
    unsigned redis_port;
    const char *cluster_name;
    uint32_t heartbeat_ms;
    bool single_use;
    bool tickets;             /* --tickets: opaque single-use tickets kept in Redis */
    const char *print_ticket; /* subject to mint a ticket for, or NULL */
    ex_limits limits;         /* --max-frame, --max-message ... */
    ex_trusted trusted;       /* --trusted-host */
    ex_deflate deflate;       /* --no-deflate, the permessage-deflate parameters */
};

struct server {
    int epfd;
    struct source listener;
    struct source signals;
    bool accept_paused; /* out of file descriptors: stop accepting until one closes */
    bool stopping;
    struct client *clients;
    size_t count;
    unsigned long guests; /* names handed out when there is no token */
    uint64_t now;         /* CLOCK_MONOTONIC ms, read once per loop turn */
    ws_config cfg;
    ws_origin_policy origin;
    ws_token_auth auth;
    char *line; /* a line being put together: [room] name ": " text */
    rooms rooms;
    cluster *cluster; /* NULL on a node of its own */
    struct source redis[CLUSTER_LINKS];
    uint64_t drain_until; /* stopping: how long Redis may take the last lines */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: chat-server [--host HOST] [--port PORT] [--allow-origin ORIGIN]...\n"
            "                   [--token-secret SECRET [--single-use]] [--ping-interval MS]\n"
            "                   [--pong-timeout MS] [--redis HOST:PORT [--cluster NAME]\n"
            "                   [--heartbeat MS] [--tickets]]\n"
            "       chat-server --print-token SUBJECT --token-secret SECRET [--ttl SECONDS]\n"
            "       chat-server --print-ticket SUBJECT --redis HOST:PORT [--cluster NAME]\n"
            "                   [--ttl SECONDS]\n"
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
            "  --redis HOST:PORT      be a node of a cluster: rooms, presence and lines are\n"
            "                         shared through this Redis (pub/sub)\n"
            "  --cluster NAME         the cluster's channel and key prefix (default libws-chat)\n"
            "  --heartbeat MS         presence heartbeat (default 1000); a node silent for three\n"
            "                         is counted out\n"
            "  --single-use           with --token-secret and --redis: a token opens one\n"
            "                         connection, on whichever node (marked used in Redis)\n"
            "  --tickets              with --redis: require a ticket (?ticket= or Bearer) that\n"
            "                         --print-ticket stored in Redis; each opens one connection\n"
            "  --print-ticket SUBJECT with --redis: store a ticket for SUBJECT valid --ttl\n"
            "                         seconds (default 3600), print it and exit\n"
            "  --print-token SUBJECT  print a token for SUBJECT valid for --ttl seconds\n"
            "                         (default 3600) and exit\n");
    ex_deflate_usage(out);
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
    cl->token_expires = claims->expires;
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

/* ---- rooms --------------------------------------------------------------------------------- */

static bool is_lobby(const char *room_name, size_t len)
{
    return len == sizeof LOBBY - 1 && memcmp(room_name, LOBBY, len) == 0;
}

/* Members of a room on every node. */
static size_t room_total(const struct server *srv, const char *name, size_t len)
{
    const room *r = rooms_find(&srv->rooms, name, len);
    size_t here = r != NULL ? r->count : 0;

    return here + (srv->cluster != NULL ? cluster_room_count(srv->cluster, name, len) : 0);
}

/* Sends text to the members of room name here but `except` (which may be NULL). */
static void to_room(struct server *srv, const char *name, size_t name_len,
                    const struct client *except, const char *text, size_t len)
{
    const room *r = rooms_find(&srv->rooms, name, name_len);
    size_t i;

    for (i = 0; r != NULL && i < r->count; i++) {
        struct client *cl = r->members[i];
        if (cl != except && cl->joined && !cl->dead)
            send_to(cl, text, len);
    }
}

/* What members of a room see of a message or a note (m, from this node or another). */
static void show(struct server *srv, const cluster_msg *m, const struct client *except)
{
    char *line = srv->line;
    size_t len = 0;
    bool lobby = is_lobby(m->room, m->room_len);
    const char *what = m->kind == CLUSTER_JOINED ? " joined" : " left";

    if (m->kind == CLUSTER_MESSAGE && !lobby)
        len += (size_t)sprintf(line, "[%.*s] ", (int)m->room_len, m->room);
    if (m->kind != CLUSTER_MESSAGE) {
        memcpy(line, "* ", 2);
        len = 2;
    }
    memcpy(line + len, m->name, m->name_len);
    len += m->name_len;
    if (m->kind == CLUSTER_MESSAGE) {
        memcpy(line + len, ": ", 2);
        len += 2;
        if (m->text_len > 0)
            memcpy(line + len, m->text, m->text_len);
        len += m->text_len;
    } else {
        memcpy(line + len, what, strlen(what));
        len += strlen(what);
        if (!lobby)
            len += (size_t)sprintf(line + len, " %.*s", (int)m->room_len, m->room);
    }
    to_room(srv, m->room, m->room_len, except, line, len);
}

/* cluster_callbacks.deliver: a line or note from another node. */
static void from_cluster(void *ud, const cluster_msg *m)
{
    struct server *srv = ud;

    /* What goes out as a text frame must be UTF-8, whoever else writes to the channel. */
    if (m->name_len <= WS_TOKEN_SUBJECT_MAX && m->text_len <= MAX_MESSAGE &&
        room_name_ok(m->room, m->room_len) &&
        ws_utf8_valid((const uint8_t *)m->name, m->name_len) &&
        ws_utf8_valid((const uint8_t *)m->text, m->text_len))
        show(srv, m, NULL);
}

/* A line or note from a client here: to the room's members here, and to the other nodes. */
static void say(struct server *srv, struct client *from, enum cluster_kind kind, const room *r,
                const uint8_t *text, size_t len)
{
    cluster_msg m;

    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.room = r->name;
    m.room_len = r->name_len;
    m.name = from->name;
    m.name_len = strlen(from->name);
    m.text = (const char *)text;
    m.text_len = len;
    show(srv, &m, from);
    if (srv->cluster != NULL && !cluster_publish(srv->cluster, &m))
        client_log(from, "%s: not published (Redis unreachable): the other nodes miss it", r->name);
}

static void notice(struct client *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void notice(struct client *cl, const char *fmt, ...)
{
    char note[NOTE_MAX + ROOM_NAME_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(note, sizeof note, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof note)
        send_to(cl, note, (size_t)n);
}

static size_t room_index(const struct client *cl, const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < cl->room_count; i++) {
        if (cl->rooms[i]->name_len == len && memcmp(cl->rooms[i]->name, name, len) == 0)
            return i;
    }
    return SIZE_MAX;
}

/* Joins a room; false when the name is bad, the client is in too many or out of memory. */
static bool join_room(struct server *srv, struct client *cl, const char *name, size_t len)
{
    room *r;

    if (room_index(cl, name, len) != SIZE_MAX)
        return true;
    if (cl->room_count == MAX_ROOMS || (r = rooms_join(&srv->rooms, name, len, cl)) == NULL)
        return false;
    cl->rooms[cl->room_count++] = r;
    say(srv, cl, CLUSTER_JOINED, r, NULL, 0);
    if (srv->cluster != NULL)
        cluster_presence_changed(srv->cluster);
    return true;
}

static void leave_room(struct server *srv, struct client *cl, size_t i)
{
    room *r = cl->rooms[i];

    memmove(&cl->rooms[i], &cl->rooms[i + 1], (cl->room_count - i - 1) * sizeof *cl->rooms);
    cl->room_count--;
    say(srv, cl, CLUSTER_LEFT, r, NULL, 0);
    rooms_leave(&srv->rooms, r, cl);
    if (srv->cluster != NULL)
        cluster_presence_changed(srv->cluster);
}

/* cluster_callbacks.presence */
static size_t local_presence(void *ud, char *buf, size_t cap)
{
    const struct server *srv = ud;
    return rooms_presence(&srv->rooms, buf, cap);
}

/* "/cmd ROOM[ rest]": the room name and what follows it. */
static bool command(const uint8_t *text, size_t len, const char *cmd, const char **room_name,
                    size_t *room_len, const char **rest, size_t *rest_len)
{
    size_t n = strlen(cmd), i;

    if (len <= n + 1 || memcmp(text, cmd, n) != 0 || text[n] != ' ')
        return false;
    *room_name = (const char *)text + n + 1;
    for (i = n + 1; i < len && text[i] != ' '; i++)
        ;
    *room_len = i - n - 1;
    *rest = i < len ? (const char *)text + i + 1 : "";
    *rest_len = i < len ? len - i - 1 : 0;
    return true;
}

/* A text message: a command, or a line said in the client's home room. */
static void on_text(struct server *srv, struct client *cl, const uint8_t *text, size_t len)
{
    const char *name, *rest;
    size_t name_len, rest_len, i;

    if (command(text, len, "/join", &name, &name_len, &rest, &rest_len)) {
        if (!join_room(srv, cl, name, name_len))
            notice(cl, "* cannot join %.*s", (int)name_len, name);
        else
            notice(cl, "* joined %.*s (%zu here)", (int)name_len, name,
                   room_total(srv, name, name_len));
    } else if (command(text, len, "/leave", &name, &name_len, &rest, &rest_len)) {
        if ((i = room_index(cl, name, name_len)) == SIZE_MAX) {
            notice(cl, "* not in %.*s", (int)name_len, name);
        } else {
            leave_room(srv, cl, i);
            notice(cl, "* left %.*s", (int)name_len, name);
        }
    } else if (command(text, len, "/who", &name, &name_len, &rest, &rest_len)) {
        notice(cl, "* %.*s: %zu here", (int)name_len, name, room_total(srv, name, name_len));
    } else if (command(text, len, "/to", &name, &name_len, &rest, &rest_len)) {
        if ((i = room_index(cl, name, name_len)) == SIZE_MAX)
            notice(cl, "* not in %.*s", (int)name_len, name);
        else
            say(srv, cl, CLUSTER_MESSAGE, cl->rooms[i], (const uint8_t *)rest, rest_len);
    } else if (cl->room_count > 0) {
        say(srv, cl, CLUSTER_MESSAGE, cl->rooms[0], text, len);
    } else {
        notice(cl, "* in no room: /join one");
    }
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

/* ?rooms=a,b,c: the rooms to join at open, kept as "a b c" (default: the lobby). */
static bool want_rooms(struct client *cl, const ws_request *r)
{
    const char *v;
    size_t len, i, start = 0, count = 0;

    if (!ws_request_query_param(r, "rooms", &v, &len)) {
        v = LOBBY;
        len = sizeof LOBBY - 1;
    }
    if (len >= sizeof cl->want)
        return false;
    for (i = 0; i <= len; i++) {
        if (i < len && v[i] != ',')
            continue;
        if (!room_name_ok(v + start, i - start) || ++count > MAX_ROOMS)
            return false;
        start = i + 1;
    }
    memcpy(cl->want, v, len);
    cl->want[len] = '\0';
    return true;
}

/* A request every hook allowed: the chat lives at CHAT_PATH only. */
static void answer_upgrade(struct server *srv, struct client *cl, const ws_request *r)
{
    if (r->path_len != sizeof CHAT_PATH - 1 || memcmp(r->path, CHAT_PATH, r->path_len) != 0) {
        ws_conn_reject(cl->ws, 404, NULL, 0, NULL, 0);
        return;
    }
    if (!want_rooms(cl, r)) {
        ws_conn_reject(cl->ws, 400, NULL, 0, "bad ?rooms=\n", 12);
        return;
    }
    if (cl->name[0] == '\0' && srv->cluster != NULL) /* no token auth: a made-up name */
        snprintf(cl->name, sizeof cl->name, "guest-%.4s-%lu", cluster_node_id(srv->cluster),
                 ++srv->guests);
    else if (cl->name[0] == '\0')
        snprintf(cl->name, sizeof cl->name, "guest-%lu", ++srv->guests);
    if (ws_conn_accept(cl->ws, NULL) != WS_OK)
        ws_conn_reject(cl->ws, 500, NULL, 0, NULL, 0);
}

static void on_open(struct server *srv, struct client *cl)
{
    const char *p = cl->want;

    cl->joined = true;
    client_log(cl, "%s joined", cl->name);
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (!join_room(srv, cl, p, len))
            notice(cl, "* cannot join %.*s", (int)len, p);
        p += comma != NULL ? len + 1 : len;
    }
    if (cl->room_count > 0)
        notice(cl, "* welcome, %s (%zu online)", cl->name,
               room_total(srv, cl->rooms[0]->name, cl->rooms[0]->name_len));
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
        while (cl->room_count > 0)
            leave_room(srv, cl, cl->room_count - 1);
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
                on_text(srv, cl, ev.data, ev.len);
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

/* --single-use: the signed-token hook first; a genuine token is then marked used in Redis
 * (cluster_ticket_use) and the answer waits for Redis: the first use on any node passes,
 * any later one gets 401, and no answer from Redis gets 503 (fail closed). */
static int single_use_hook(void *ud, ws_conn *c, const ws_request *r)
{
    struct server *srv = ud;
    struct client *cl = ws_conn_user(c);
    const char *token;
    size_t len;
    unsigned source;
    int verdict = ws_token_auth_hook(&srv->auth, c, r);

    if (verdict != WS_HOOK_ALLOW)
        return verdict;
    if (ws_token_find(r, srv->auth.sources, srv->auth.cookie_name, srv->auth.query_name,
                      srv->auth.subprotocol_prefix, &token, &len, &source) != WS_OK)
        return 500;
    if (!cluster_ticket_use(srv->cluster, token, len, cl->token_expires, cl, &cl->ticket))
        return 503;
    return WS_HOOK_PENDING;
}

/* --tickets: an opaque ticket (from --print-ticket, or a login service) from the query
 * (?ticket=) or a bearer header, taken from Redis with GETDEL: the first taker on any node
 * gets its subject as the chat name, any later one 401; no answer from Redis: 503. */
static int tickets_hook(void *ud, ws_conn *c, const ws_request *r)
{
    struct server *srv = ud;
    struct client *cl = ws_conn_user(c);
    const char *ticket;
    size_t len, i;
    unsigned source;

    if (ws_token_find(r, WS_TOKEN_QUERY | WS_TOKEN_BEARER, NULL, "ticket", NULL, &ticket, &len,
                      &source) != WS_OK)
        return WS_E_AUTH_MISSING;
    if (len != CLUSTER_TICKET_LEN)
        return WS_E_AUTH_INVALID;
    for (i = 0; i < len; i++) { /* only what --print-ticket makes reaches Redis */
        if (!((ticket[i] >= '0' && ticket[i] <= '9') || (ticket[i] >= 'a' && ticket[i] <= 'f')))
            return WS_E_AUTH_INVALID;
    }
    if (!cluster_ticket_take(srv->cluster, ticket, len, cl, &cl->ticket))
        return 503;
    return WS_HOOK_PENDING;
}

/* cluster_callbacks.ticket_done */
static void ticket_done(void *ud, void *owner, int verdict, const char *subject, size_t subject_len)
{
    struct server *srv = ud;
    struct client *cl = owner;

    cl->ticket = NULL;
    if (subject != NULL) {
        if (subject_len > WS_TOKEN_SUBJECT_MAX || !name_ok(subject, subject_len))
            verdict = WS_E_FORBIDDEN;
        else
            memcpy(cl->name, subject, subject_len);
        cl->name[subject_len <= WS_TOKEN_SUBJECT_MAX ? subject_len : 0] = '\0';
    }
    if (verdict == WS_E_AUTH_INVALID)
        client_log(cl, "%s", "ticket or token already used, unknown or expired (single-use)");
    ws_conn_resume(cl->ws, verdict);
    client_pull(srv, cl);
    cl->dirty = true;
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

    if (srv->cluster != NULL && cluster_next_deadline(srv->cluster) <= srv->now)
        cluster_tick(srv->cluster, srv->now);
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
    if (srv->cluster != NULL && cluster_next_deadline(srv->cluster) < best)
        best = cluster_next_deadline(srv->cluster);
    if (srv->stopping && srv->drain_until < best)
        best = srv->drain_until;
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
    if (cl->ticket != NULL)
        cluster_ticket_cancel(cl->ticket);
    while (cl->room_count > 0) /* only when the loop ended early: no notes */
        rooms_leave(&srv->rooms, cl->rooms[--cl->room_count], cl);
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
    srv->drain_until = srv->now + CLUSTER_DRAIN;
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->listener.fd, NULL);
    close(srv->listener.fd);
    fprintf(stderr, "chat-server: draining %zu connections\n", srv->count);
    if (srv->cluster != NULL)
        cluster_leave(srv->cluster);
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
        if (strcmp(arg, "--single-use") == 0) {
            o->single_use = true;
            continue;
        }
        if (strcmp(arg, "--tickets") == 0) {
            o->tickets = true;
            continue;
        }
        switch (ex_deflate_arg(&o->deflate, arg, val)) {
        case -1:
            return -1;
        case 1:
            continue;
        case 2:
            i++;
            continue;
        default:
            break;
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
        } else if (strcmp(arg, "--redis") == 0 && strrchr(val, ':') != NULL &&
                   parse_uint(strrchr(val, ':') + 1, 65535, &v) && v > 0) {
            o->redis_host = val;
            o->redis_port = (unsigned)v;
        } else if (strcmp(arg, "--cluster") == 0 && *val != '\0' && strlen(val) < 64) {
            o->cluster_name = val;
        } else if (strcmp(arg, "--heartbeat") == 0 && parse_uint(val, 600000, &v) && v >= 50) {
            o->heartbeat_ms = (uint32_t)v;
        } else if (strcmp(arg, "--print-ticket") == 0) {
            o->print_ticket = val;
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
    ex_deflate_apply(&o->deflate, cfg); /* on unless --no-deflate */
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
        if (o->single_use) {
            cfg->auth_hook.fn = single_use_hook;
            cfg->auth_hook.ud = srv;
        }
    } else if (o->tickets) {
        cfg->auth_hook.fn = tickets_hook;
        cfg->auth_hook.ud = srv;
    }
}

/* --redis: the host part of HOST:PORT (without brackets) into host, as a numeric address.
 * A name is resolved here, once, before the loop runs: hiredis resolves with getaddrinfo,
 * which would block the loop on every reconnect. */
static bool redis_host(const struct options *o, char *host, size_t cap)
{
    const char *h = o->redis_host;
    size_t len = (size_t)(strrchr(h, ':') - h);
    struct addrinfo hints, *res;
    int err;

    if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
        h++;
        len -= 2;
    }
    if (len == 0 || len >= cap)
        return false;
    memcpy(host, h, len);
    host[len] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    err = getaddrinfo(host, NULL, &hints, &res);
    if (err != 0) {
        fprintf(stderr, "chat-server: redis host %s: %s\n", host, gai_strerror(err));
        return false;
    }
    err = getnameinfo(res->ai_addr, res->ai_addrlen, host, (socklen_t)cap, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    return err == 0;
}

/* Joins the cluster: both Redis links go into the epoll set as SRC_REDIS sources. */
static bool join_cluster(struct server *srv, const struct options *o, char *host, size_t cap)
{
    cluster_config cc;
    cluster_callbacks cb;
    int i;

    if (!redis_host(o, host, cap)) {
        fprintf(stderr, "chat-server: --redis HOST:PORT\n");
        return false;
    }
    memset(&cc, 0, sizeof cc);
    cc.redis_host = host;
    cc.redis_port = o->redis_port;
    cc.prefix = o->cluster_name != NULL ? o->cluster_name : "libws-chat";
    cc.heartbeat_ms = o->heartbeat_ms;
    cc.epfd = srv->epfd;
    for (i = 0; i < CLUSTER_LINKS; i++) {
        srv->redis[i].kind = SRC_REDIS;
        srv->redis[i].fd = i; /* which link: the index, not a descriptor */
        cc.tags[i] = &srv->redis[i];
    }
    memset(&cb, 0, sizeof cb);
    cb.ud = srv;
    cb.deliver = from_cluster;
    cb.presence = local_presence;
    cb.ticket_done = ticket_done;
    srv->cluster = cluster_new(&cc, &cb);
    if (srv->cluster == NULL)
        return false;
    fprintf(stderr, "chat-server: node %s joining cluster %s on %s:%u\n",
            cluster_node_id(srv->cluster), cc.prefix, host, o->redis_port);
    return true;
}

/* --print-ticket: stores a ticket in the cluster's Redis, as a login service would just
 * before the page opens its WebSocket, and prints it. */
static int print_ticket(const struct options *o)
{
    char host[256], ticket[CLUSTER_TICKET_LEN + 1];

    if (o->redis_host == NULL || !redis_host(o, host, sizeof host)) {
        fprintf(stderr, "chat-server: --print-ticket needs --redis HOST:PORT\n");
        return 2;
    }
    if (!name_ok(o->print_ticket, strlen(o->print_ticket)) ||
        strlen(o->print_ticket) > WS_TOKEN_SUBJECT_MAX) {
        fprintf(stderr, "chat-server: the subject must be printable UTF-8 text\n");
        return 2;
    }
    if (!cluster_ticket_mint(host, o->redis_port,
                             o->cluster_name != NULL ? o->cluster_name : "libws-chat",
                             o->print_ticket, o->ttl, ticket))
        return 1;
    printf("%s\n", ticket);
    return 0;
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
    while (!srv->stopping || srv->count > 0 ||
           (srv->cluster != NULL && !cluster_idle(srv->cluster) && srv->now < srv->drain_until)) {
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
            else if (src->kind == SRC_REDIS)
                cluster_io(srv->cluster, src->fd, evs[i].events);
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
    char redis_name[256];

    memset(&opt, 0, sizeof opt);
    opt.host = "127.0.0.1";
    opt.port = 9002;
    opt.ping_interval_ms = 20000;
    opt.pong_timeout_ms = 10000;
    opt.ttl = 3600;
    opt.heartbeat_ms = 1000;
    ex_deflate_init(&opt.deflate);
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

    if (opt.print_ticket != NULL) {
        status = print_ticket(&opt);
        free(opt.allow);
        return status;
    }
    if ((opt.single_use && (opt.secret == NULL || opt.redis_host == NULL)) ||
        (opt.tickets && (opt.secret != NULL || opt.redis_host == NULL))) {
        fprintf(stderr, "chat-server: --single-use needs --token-secret and --redis; "
                        "--tickets needs --redis and no --token-secret\n");
        free(opt.allow);
        return 2;
    }

    memset(&srv, 0, sizeof srv);
    configure(&srv, &opt);
    ex_trusted_apply(&opt.trusted, opt.host, &srv.cfg);
    if (ws_conn_storage_size(&srv.cfg) == 0) {
        fprintf(stderr, "chat-server: those limits make no valid configuration\n");
        free(opt.allow);
        return 2;
    }
    /* A broadcast line holds a room, a name and a whole message (whole_messages keeps it
     * bounded). */
    srv.line = malloc(ROOM_NAME_MAX + 4 + WS_TOKEN_SUBJECT_MAX + 2 + srv.cfg.max_message_size);
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
    if (opt.redis_host != NULL && !join_cluster(&srv, &opt, redis_name, sizeof redis_name))
        return 1;
    printf("listening on %s%s%s:%u\n", strchr(opt.host, ':') ? "[" : "", opt.host,
           strchr(opt.host, ':') ? "]" : "", bound);
    fflush(stdout);

    status = serve(&srv);

    while (srv.clients != NULL)
        client_destroy(&srv, srv.clients);
    cluster_free(srv.cluster);
    rooms_free(&srv.rooms);
    if (!srv.stopping)
        close(srv.listener.fd);
    close(srv.signals.fd);
    close(srv.epfd);
    free(srv.line);
    free(opt.allow);
    return status;
}
