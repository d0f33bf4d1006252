/*
 * ws-client: a wscat-like WebSocket client over plain TCP and poll(). Lines typed on stdin
 * go out as text messages and received messages are printed; --send and --echo make it a
 * one-shot or echoing client for scripts. libws runs in whole-message mode here.
 * --reconnect keeps it connected: a lost connection is made again after an exponential
 * backoff with jitter and a cap (backoff.c), the --on-open messages are sent again (to
 * re-join rooms, say), and its state is printed on stderr as it changes.
 */
#define _GNU_SOURCE
#include "backoff.h"
#include "common.h"
#include "deflate_flags.h"
#include "tls.h"
#include "ws.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE          (64u * 1024u)
#define SEND_PIECE         (64u * 1024u) /* largest fragment queued with one call */
#define CONNECT_TIMEOUT_MS 10000
#define CLOSE_TIMEOUT_MS   5000 /* for the peer's close frame, and for the last write */
#define LINGER_MS          2000 /* from the last write to the server's end of stream */
#define MAX_PROTOCOLS      16
#define MAX_HEADERS        32
#define MAX_ON_OPEN        16

enum mode { MODE_INTERACTIVE, MODE_SEND, MODE_ECHO };

struct options {
    const char *url;
    enum mode mode;
    const char *send_text;
    const char *protocols[MAX_PROTOCOLS];
    size_t protocol_count;
    ws_header headers[MAX_HEADERS];
    size_t header_count;
    size_t max_message;
    bool verbose;
    bool reconnect;
    uint32_t backoff_min_ms, backoff_max_ms;
    uint32_t ping_interval_ms, pong_timeout_ms;
    const char *on_open[MAX_ON_OPEN];
    size_t on_open_count;
    const char *ca_file; /* wss://: trust this CA file instead of the system's */
    bool insecure;       /* wss://: no certificate or host name check */
    ex_limits limits;    /* --max-frame, --max-fragments ... */
    ex_deflate deflate;  /* --no-deflate, the permessage-deflate parameters */
};

struct app {
    const struct options *opt;
    int fd;
    ex_tls *tls; /* wss:// */
    ws_conn *ws;
    bool in_events; /* input was fed and not all of its events pulled yet */
    bool eof;       /* the socket reached end of stream */
    bool opened;
    bool closing;        /* we started the close handshake */
    bool closed;         /* WS_EV_CLOSED seen */
    unsigned user_pings; /* '/ping' commands whose pong is still to be shown */
    int exit_code;
    long deadline; /* monotonic ms; 0 when nothing is timed */
    const char *waiting_for;
    ex_pending out; /* a message waiting for room in the output queue */
    size_t piece;
    /* Interactive mode: stdin bytes not yet turned into messages. */
    bool stdin_eof;
    char *line;
    size_t line_len, line_cap, line_max;
    uint8_t in[READ_SIZE];
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ws-client [options] ws[s]://HOST[:PORT][/PATH]\n"
                 "  Interactive: each stdin line is sent as a text message and received messages\n"
                 "  are printed; '/ping [TEXT]' sends a ping, '/close [CODE [REASON]]' closes,\n"
                 "  end of input closes with 1000.\n"
                 "  --send TEXT          send one message, print the reply, close\n"
                 "  --echo               send every received message back until the server closes\n"
                 "  --protocol P         offer subprotocol P (repeatable)\n"
                 "  --header 'N: V'      add a request header (repeatable)\n"
                 "  --max-message BYTES  largest message accepted (default 16M)\n"
                 "  --verbose            show the opening handshake\n"
                 "  --on-open TEXT       send TEXT once connected (repeatable; again after each\n"
                 "                       reconnect)\n"
                 "  --reconnect          connect again when the connection is lost (not after\n"
                 "                       our own close): exponential backoff with jitter\n"
                 "  --backoff MIN:MAX    first and largest reconnect delay in ms (default\n"
                 "                       250:10000)\n"
                 "  --ping-interval MS   ping the server this often (default 0: never)\n"
                 "  --pong-timeout MS    a pong later than this ends the connection\n"
                 "  --ca-file FILE       wss://: trust the CAs in FILE (PEM), not the system's\n"
                 "  --insecure           wss://: skip certificate and host name checks (tests)\n"
                 "exit status: 0 clean close, 1 connection or protocol error, 2 usage\n");
    ex_deflate_usage(out);
    ex_limits_usage(out);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Parses "Name: value"; the header points into arg, which outlives the connection. */
static bool parse_header(const char *arg, ws_header *h)
{
    const char *colon = strchr(arg, ':');
    const char *v;
    size_t n;

    if (colon == NULL || colon == arg)
        return false;
    n = (size_t)(colon - arg);
    while (n > 0 && (arg[n - 1] == ' ' || arg[n - 1] == '\t'))
        n--;
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    h->name = arg;
    h->name_len = n;
    h->value = v;
    h->value_len = strlen(v);
    return n > 0;
}

/* Milliseconds, a decimal number ending at `end`. */
static bool parse_ms(const char *s, uint32_t *out, char end)
{
    unsigned long v = 0;

    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9') {
        v = v * 10u + (unsigned long)(*s++ - '0');
        if (v > 86400000u)
            return false;
    }
    if (*s != end)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_args(int argc, char **argv, struct options *o)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_value = true;
        int rc;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(arg, "--echo") == 0) {
            if (o->mode != MODE_INTERACTIVE)
                return false;
            o->mode = MODE_ECHO;
            takes_value = false;
        } else if (strcmp(arg, "--insecure") == 0) {
            o->insecure = true;
            takes_value = false;
        } else if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
            o->verbose = true;
            takes_value = false;
        } else if (strcmp(arg, "--reconnect") == 0) {
            o->reconnect = true;
            takes_value = false;
        } else if ((rc = ex_deflate_arg(&o->deflate, arg, val)) != 0) {
            if (rc < 0)
                return false;
            takes_value = rc == 2;
        } else if (arg[0] == '-' && arg[1] == '-' && val == NULL) {
            return false;
        } else if (strcmp(arg, "--send") == 0) {
            if (o->mode != MODE_INTERACTIVE)
                return false;
            o->mode = MODE_SEND;
            o->send_text = val;
        } else if (strcmp(arg, "--ca-file") == 0) {
            o->ca_file = val;
        } else if (strcmp(arg, "--protocol") == 0) {
            if (o->protocol_count == MAX_PROTOCOLS)
                return false;
            o->protocols[o->protocol_count++] = val;
        } else if (strcmp(arg, "--header") == 0) {
            if (o->header_count == MAX_HEADERS || !parse_header(val, &o->headers[o->header_count]))
                return false;
            o->header_count++;
        } else if (strcmp(arg, "--on-open") == 0) {
            if (o->on_open_count == MAX_ON_OPEN)
                return false;
            o->on_open[o->on_open_count++] = val;
        } else if (strcmp(arg, "--backoff") == 0) {
            if (!parse_ms(val, &o->backoff_min_ms, ':') ||
                !parse_ms(strchr(val, ':') + 1, &o->backoff_max_ms, '\0') ||
                o->backoff_min_ms == 0 || o->backoff_max_ms < o->backoff_min_ms)
                return false;
        } else if (strcmp(arg, "--ping-interval") == 0) {
            if (!parse_ms(val, &o->ping_interval_ms, '\0'))
                return false;
        } else if (strcmp(arg, "--pong-timeout") == 0) {
            if (!parse_ms(val, &o->pong_timeout_ms, '\0'))
                return false;
        } else if (strcmp(arg, "--max-message") == 0) {
            if (!ex_parse_size(val, &o->max_message))
                return false;
        } else if (ex_limits_arg(&o->limits, arg, val) > 0) {
            /* taken: applied over the defaults once the configuration exists */
        } else if (arg[0] != '-' && o->url == NULL) {
            o->url = arg;
            takes_value = false;
        } else {
            return false;
        }
        if (takes_value)
            i++;
    }
    return o->url != NULL;
}

/* Connects to host:port, trying each resolved address, with a timeout per attempt. */
static int connect_to(const char *host, unsigned port)
{
    struct addrinfo hints, *res, *ai;
    char port_str[8];
    int fd = -1, err = 0, one = 1;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port_str, sizeof port_str, "%u", port);
    err = getaddrinfo(host, port_str, &hints, &res);
    if (err != 0) {
        fprintf(stderr, "ws-client: %s: %s\n", host, gai_strerror(err));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        struct pollfd p;
        socklen_t len = sizeof err;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        if (err == EINPROGRESS) {
            p.fd = fd;
            p.events = POLLOUT;
            if (poll(&p, 1, CONNECT_TIMEOUT_MS) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
                break;
            if (err == EINPROGRESS)
                err = ETIMEDOUT;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "ws-client: cannot connect to %s port %u: %s\n", host, port, strerror(err));
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Prints an HTTP head line by line with a direction marker (--verbose). */
static void print_head(const char *mark, const uint8_t *p, size_t len)
{
    size_t start = 0, i;
    for (i = 0; i + 1 < len; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n') {
            if (i == start)
                break;
            fprintf(stderr, "%s %.*s\n", mark, (int)(i - start), (const char *)p + start);
            start = i + 2;
        }
    }
}

static void print_response(const ws_response *r)
{
    size_t i;
    fprintf(stderr, "< HTTP/1.1 %d %.*s\n", r->status, (int)r->reason_len, r->reason);
    for (i = 0; i < r->header_count; i++)
        fprintf(stderr, "< %.*s: %.*s\n", (int)r->headers[i].name_len, r->headers[i].name,
                (int)r->headers[i].value_len, r->headers[i].value);
}

static int start_close(struct app *a, unsigned code, const char *reason, size_t reason_len)
{
    int r = ws_conn_close(a->ws, code, reason, reason_len);
    if (r == WS_OK) {
        a->closing = true;
        a->deadline = now_ms() + CLOSE_TIMEOUT_MS;
        a->waiting_for = "the server's close frame";
    }
    return r;
}

/* Queues a message now (data is only borrowed for this call); a full queue leaves it in
 * a->out, which the service loop retries after writing. */
static void send_message(struct app *a, uint8_t opcode, const uint8_t *data, size_t len)
{
    int r;
    ex_pending_set(&a->out, opcode, data, len, true, a->piece);
    r = ex_pending_send(&a->out, a->ws);
    if (r != WS_OK && r != WS_E_BACKPRESSURE)
        fprintf(stderr, "ws-client: send: %s\n", ws_strerror(r));
}

static void on_closed(struct app *a, const ws_event *ev)
{
    a->closed = true;
    a->deadline = now_ms() + CLOSE_TIMEOUT_MS;
    a->waiting_for = "the last write";
    if (!a->opened) {
        fprintf(stderr, "ws-client: handshake failed: %s", ws_strerror(ev->error));
        if (ev->http_status != 0 && ev->response != NULL)
            fprintf(stderr, " (HTTP %d %.*s)", ev->http_status, (int)ev->response->reason_len,
                    ev->response->reason);
        else if (ev->http_status != 0)
            fprintf(stderr, " (HTTP %d)", ev->http_status);
        fprintf(stderr, "\n");
        a->exit_code = 1;
        return;
    }
    fprintf(stderr, "closed: %u%s%.*s\n", (unsigned)ev->close_code, ev->reason_len ? " " : "",
            (int)ev->reason_len, ev->reason != NULL ? ev->reason : "");
    if (ev->error != WS_OK) {
        fprintf(stderr, "ws-client: %s\n", ws_strerror(ev->error));
        a->exit_code = 1;
    }
}

static void on_open(struct app *a, const ws_event *ev)
{
    char deflate[160];
    size_t i;

    a->opened = true;
    a->deadline = 0;
    if (a->opt->verbose && ev->response != NULL)
        print_response(ev->response);
    fprintf(stderr, "connected to %s", a->opt->url);
    if (ev->subprotocol != NULL)
        fprintf(stderr, " (subprotocol %.*s)", (int)ev->subprotocol_len, ev->subprotocol);
    fprintf(stderr, "\n");
    ex_deflate_describe(a->ws, deflate, sizeof deflate);
    fprintf(stderr, "%s\n", deflate);
    if (a->opt->reconnect)
        fprintf(stderr, "ws-client: state open\n");
    for (i = 0; i < a->opt->on_open_count; i++) {
        int r = ws_conn_send(a->ws, WS_OP_TEXT, a->opt->on_open[i], strlen(a->opt->on_open[i]));
        if (r != WS_OK)
            fprintf(stderr, "ws-client: send: %s\n", ws_strerror(r));
    }
    if (a->opt->mode == MODE_SEND)
        send_message(a, WS_OP_TEXT, (const uint8_t *)a->opt->send_text, strlen(a->opt->send_text));
}

static void on_message(struct app *a, const ws_event *ev)
{
    if (a->opt->mode == MODE_ECHO) {
        send_message(a, (uint8_t)ev->opcode, ev->data, ev->len);
        return;
    }
    if (ev->opcode == WS_OP_TEXT) {
        fwrite(ev->data, 1, ev->len, stdout);
        putchar('\n');
    } else
        printf("<binary %zu bytes>\n", ev->len);
    fflush(stdout);
    if (a->opt->mode == MODE_SEND && !a->closing)
        start_close(a, WS_CLOSE_NORMAL, NULL, 0);
}

/* Handles one event; returns false when there are none left for this input. */
static bool next_event(struct app *a)
{
    ws_event ev;

    switch (ws_conn_next_event(a->ws, &ev)) {
    case WS_EV_NONE:
        return false;
    case WS_EV_OPEN:
        on_open(a, &ev);
        break;
    case WS_EV_MESSAGE:
        on_message(a, &ev);
        break;
    case WS_EV_PONG:
        if (a->user_pings == 0) /* the keepalive's own */
            break;
        a->user_pings--;
        fputs(ev.len > 0 ? "< pong " : "< pong", stdout);
        fwrite(ev.data, 1, ev.len, stdout);
        putchar('\n');
        fflush(stdout);
        break;
    case WS_EV_CLOSED:
        on_closed(a, &ev);
        break;
    case WS_EV_REQUEST: /* server only */
    case WS_EV_HTTP_REQUEST:
    case WS_EV_CHUNK: /* streaming mode only */
    case WS_EV_PING:  /* answered by libws (auto_pong) */
    case WS_EV_CLOSE: /* libws answers; WS_EV_CLOSED follows */
        break;
    }
    return true;
}

/* "/close [CODE [REASON]]"; line is NUL-terminated. */
static void command_close(struct app *a, const char *args)
{
    unsigned long code = WS_CLOSE_NORMAL;
    const char *reason = "";
    char *end;
    int r;

    while (*args == ' ')
        args++;
    if (*args != '\0') {
        code = strtoul(args, &end, 10);
        if (end == args || (*end != '\0' && *end != ' ') || code > 65535) {
            fprintf(stderr, "usage: /close [CODE [REASON]]\n");
            return;
        }
        reason = *end == ' ' ? end + 1 : end;
    }
    r = start_close(a, (unsigned)code, reason, strlen(reason));
    if (r != WS_OK)
        fprintf(stderr, "ws-client: close: %s\n", ws_strerror(r));
}

/* One stdin line, without its newline and NUL-terminated. */
static void handle_line(struct app *a, char *line, size_t len)
{
    if (strncmp(line, "/ping", 5) == 0 && (len == 5 || line[5] == ' ')) {
        const char *payload = len > 6 ? line + 6 : "";
        int r = ws_conn_ping(a->ws, payload, strlen(payload));
        if (r == WS_OK)
            a->user_pings++;
        else
            fprintf(stderr, "ws-client: ping: %s\n", ws_strerror(r));
    } else if (strncmp(line, "/close", 6) == 0 && (len == 6 || line[6] == ' ')) {
        command_close(a, line + 6);
    } else {
        send_message(a, WS_OP_TEXT, (const uint8_t *)line, len);
    }
}

/* Turns the next complete stdin line into a message or command, or starts the close once
 * stdin is done. Returns false when there is nothing to do yet. */
static bool next_line(struct app *a)
{
    char *nl;
    size_t len, used;

    if (a->opt->mode != MODE_INTERACTIVE || !a->opened || a->closing || a->closed)
        return false;
    nl = memchr(a->line, '\n', a->line_len);
    if (nl == NULL && !a->stdin_eof && a->line_len < a->line_max)
        return false;
    if (nl == NULL && a->line_len == 0) {
        int r = start_close(a, WS_CLOSE_NORMAL, NULL, 0);
        if (r != WS_OK) {
            fprintf(stderr, "ws-client: close: %s\n", ws_strerror(r));
            a->closing = true; /* nothing more to send either way */
        }
        return true;
    }
    len = nl != NULL ? (size_t)(nl - a->line) : a->line_len;
    used = nl != NULL ? len + 1 : len;
    if (len > 0 && a->line[len - 1] == '\r')
        len--;
    a->line[len] = '\0'; /* line_cap > line_len leaves room for this */
    handle_line(a, a->line, len);
    memmove(a->line, a->line + used, a->line_len - used);
    a->line_len -= used;
    return true;
}

static bool stdin_wanted(const struct app *a)
{
    return a->opt->mode == MODE_INTERACTIVE && a->opened && !a->stdin_eof && !a->closing &&
           !a->closed && !a->out.active && a->line_len < a->line_max &&
           memchr(a->line, '\n', a->line_len) == NULL;
}

static bool stdin_read(struct app *a)
{
    ssize_t n;

    if (a->line_cap - a->line_len < 4096 + 1) {
        size_t cap = a->line_cap * 2 + 4096 + 1;
        char *grown = realloc(a->line, cap);
        if (grown == NULL)
            return false;
        a->line = grown;
        a->line_cap = cap;
    }
    n = read(STDIN_FILENO, a->line + a->line_len, a->line_cap - a->line_len - 1);
    if (n > 0)
        a->line_len += (size_t)n;
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        a->stdin_eof = true;
    return true;
}

static void socket_read(struct app *a)
{
    long n = ex_tls_recv(a->tls, a->fd, a->in, sizeof a->in);

    ws_conn_set_time(a->ws, (uint64_t)now_ms()); /* these bytes count as received now */
    if (n > 0) {
        ws_conn_feed(a->ws, a->in, (size_t)n);
        a->in_events = true;
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        ws_conn_feed_eof(a->ws);
        a->eof = true;
        a->in_events = true;
    }
}

/* Sends what waits, pulls events, handles stdin lines, writes output. Returns -1 when
 * the socket failed. */
static int service(struct app *a)
{
    for (;;) {
        if (a->out.active) {
            int r = ex_pending_send(&a->out, a->ws);
            if (r == WS_E_BACKPRESSURE) {
                long w = ex_tls_flush(a->tls, a->fd, a->ws);
                if (w < 0)
                    return -1;
                if (w > 0)
                    continue;
                break; /* wait for POLLOUT */
            }
            if (r != WS_OK)
                fprintf(stderr, "ws-client: send: %s\n", ws_strerror(r));
        }
        if (a->in_events) {
            if (!next_event(a))
                a->in_events = false;
            continue;
        }
        if (!next_line(a))
            break;
    }
    return ex_tls_flush(a->tls, a->fd, a->ws) < 0 ? -1 : 0;
}

/* Everything is written: shut our side, so the server reads our close frame and then the
 * end of the stream, and read away what it still sends until it ends its side (the server
 * closes the TCP connection first, RFC 6455 7.1.1) or LINGER_MS pass. A close now, with
 * input unread, would reset the connection instead, and a server still sending could lose
 * our close frame. */
static void linger(int fd, ex_tls *tls)
{
    long deadline = now_ms() + LINGER_MS;

    ex_tls_close_notify(tls);
    if (shutdown(fd, SHUT_WR) < 0)
        return;
    while (!ex_drain(fd)) {
        struct pollfd p;
        long left = deadline - now_ms();

        if (left <= 0)
            return;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            return;
    }
}

static int run(struct app *a)
{
    for (;;) {
        struct pollfd p[2];
        bool want_in = !a->in_events && !a->out.active && !a->eof && !a->closed;
        int timeout = -1;

        if (a->closed && !ex_has_output(a->ws)) {
            if (a->opened) /* after a failed handshake there is no close frame to protect */
                linger(a->fd, a->tls);
            return a->exit_code;
        }
        if (a->eof && !a->in_events && !a->closed) {
            /* Not expected: libws reports WS_EV_CLOSED after ws_conn_feed_eof. */
            fprintf(stderr, "ws-client: connection ended\n");
            return 1;
        }
        if (a->deadline != 0) {
            long left = a->deadline - now_ms();
            if (left <= 0) {
                if (a->closed)
                    return a->exit_code;
                fprintf(stderr, "ws-client: timed out waiting for %s\n", a->waiting_for);
                return 1;
            }
            timeout = (int)left;
        }
        if (!a->closed) { /* keepalive: pings, the pong timeout */
            uint64_t due = ws_conn_next_deadline(a->ws), now = (uint64_t)now_ms();
            if (due <= now) {
                ws_conn_tick(a->ws, now);
                a->in_events = true;
                if (service(a) < 0 && !a->closed)
                    return 1;
                continue;
            }
            if (due != UINT64_MAX && (timeout < 0 || due - now < (uint64_t)timeout))
                timeout = (int)(due - now);
        }
        p[0].fd = a->fd;
        p[0].events = (short)((want_in ? POLLIN : 0) | (ex_has_output(a->ws) ? POLLOUT : 0));
        p[1].fd = stdin_wanted(a) ? STDIN_FILENO : -1;
        p[1].events = POLLIN;
        p[0].revents = p[1].revents = 0;
        if (poll(p, 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "ws-client: poll: %s\n", strerror(errno));
            return 1;
        }
        if (want_in && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            socket_read(a);
        if (p[1].fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !stdin_read(a)) {
            fprintf(stderr, "ws-client: out of memory\n");
            return 1;
        }
        if (service(a) < 0) {
            if (a->closed)
                return a->exit_code; /* the server may hang up right after its close */
            fprintf(stderr, "ws-client: connection failed: %s\n", strerror(errno));
            return 1;
        }
    }
}

/* One connection, from connect to the end: returns run()'s exit status. */
static int session(struct app *a, const ws_config *cfg, const char *host, unsigned port,
                   bool secure)
{
    const struct options *opt = a->opt;
    ws_client_opts copts;
    int r;

    a->in_events = a->eof = a->opened = a->closing = a->closed = false;
    a->exit_code = 0;
    a->user_pings = 0;
    a->out.active = false;
    a->fd = connect_to(host, port);
    if (a->fd < 0)
        return 1;
    if (secure) {
        /* TLS sits between the socket and libws: see examples/tls.c and docs/tls.md. */
        ex_tls_ctx *tls = ex_tls_client_ctx("ws-client", opt->ca_file, opt->insecure);
        a->tls =
            tls != NULL ? ex_tls_connect("ws-client", tls, a->fd, host, CONNECT_TIMEOUT_MS) : NULL;
        ex_tls_ctx_free(tls); /* the connection keeps what it needs */
        if (a->tls == NULL) {
            close(a->fd);
            return 1;
        }
    }
    a->ws = ws_conn_new(cfg);
    if (a->ws == NULL) {
        fprintf(stderr, "ws-client: cannot create the connection\n");
        ex_tls_free(a->tls);
        a->tls = NULL;
        close(a->fd);
        return 1;
    }
    ws_conn_tick(a->ws, (uint64_t)now_ms()); /* starts the keepalive clocks */
    memset(&copts, 0, sizeof copts);
    copts.url = opt->url;
    copts.subprotocols = opt->protocols;
    copts.subprotocol_count = opt->protocol_count;
    copts.headers = opt->headers;
    copts.header_count = opt->header_count;
    r = ws_conn_connect(a->ws, &copts);
    if (r != WS_OK) {
        fprintf(stderr, "ws-client: %s\n", ws_strerror(r));
        r = r == WS_E_INVALID ? 2 : 1;
    } else {
        if (opt->verbose) {
            const uint8_t *req;
            size_t len = ws_conn_output(a->ws, &req);
            print_head(">", req, len);
        }
        a->deadline = now_ms() + CONNECT_TIMEOUT_MS;
        a->waiting_for = "the opening handshake";
        r = run(a);
    }
    ws_conn_free(a->ws);
    a->ws = NULL;
    ex_tls_free(a->tls);
    a->tls = NULL;
    close(a->fd);
    return r;
}

/* --reconnect: waits out the backoff before the next attempt. Returns false when there is
 * nothing to come back for (our own close, end of input). */
static bool reconnect_wait(struct app *a, ex_backoff *b, int status)
{
    uint32_t delay;
    struct timespec ts;

    if (!a->opt->reconnect || status == 2 || a->closing || a->stdin_eof)
        return false;
    if (a->opened)
        ex_backoff_reset(b);
    delay = ex_backoff_next(b);
    fprintf(stderr, "ws-client: state reconnecting in %u ms (attempt %u)\n", (unsigned)delay,
            b->attempts);
    ts.tv_sec = (time_t)(delay / 1000u);
    ts.tv_nsec = (long)(delay % 1000u) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    fprintf(stderr, "ws-client: state connecting\n");
    return true;
}

int main(int argc, char **argv)
{
    static struct app a; /* static: holds the read buffer */
    struct options opt;
    ws_config cfg;
    ws_url url;
    ex_backoff backoff;
    char host[256];
    int r;

    memset(&opt, 0, sizeof opt);
    opt.max_message = 16u * 1024u * 1024u;
    opt.backoff_min_ms = 250;
    opt.backoff_max_ms = 10000;
    ex_deflate_init(&opt.deflate);
    if (!parse_args(argc, argv, &opt)) {
        usage(stderr);
        return 2;
    }
    if (ws_url_parse(opt.url, strlen(opt.url), &url) != WS_OK) {
        fprintf(stderr, "ws-client: not a ws:// URL: %s\n", opt.url);
        return 2;
    }
    if (url.host_len >= sizeof host) {
        fprintf(stderr, "ws-client: host name too long\n");
        return 2;
    }
    memcpy(host, url.host, url.host_len);
    host[url.host_len] = '\0';

    ws_config_init(&cfg, WS_ROLE_CLIENT);
    cfg.max_message_size = opt.max_message;
    cfg.max_frame_size = opt.max_message;
    cfg.whole_messages = true;
    cfg.random = ex_random;
    cfg.realloc = ex_realloc;
    cfg.ping_interval_ms = opt.ping_interval_ms;
    cfg.pong_timeout_ms = opt.pong_timeout_ms;
    ex_deflate_apply(&opt.deflate, &cfg); /* offered unless --no-deflate */
    ex_limits_apply(&opt.limits, &cfg);
    if (ws_conn_storage_size(&cfg) == 0) {
        fprintf(stderr, "ws-client: those limits make no valid configuration\n");
        return 2;
    }

    a.opt = &opt;
    a.piece = cfg.max_output / 2 < SEND_PIECE ? cfg.max_output / 2 : SEND_PIECE;
    a.line_max = opt.max_message;
    a.line_cap = 4096 + 1;
    a.line = malloc(a.line_cap);
    if (a.line == NULL)
        return 1;
    ex_backoff_init(&backoff, opt.backoff_min_ms, opt.backoff_max_ms);
    do {
        r = session(&a, &cfg, host, url.port, url.secure);
    } while (reconnect_wait(&a, &backoff, r));
    ex_pending_free(&a.out);
    free(a.line);
    return r;
}
