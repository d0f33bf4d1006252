/*
 * ws-client: a wscat-like WebSocket client over plain TCP and poll(). Lines typed on stdin
 * go out as text messages and received messages are printed; --send and --echo make it a
 * one-shot or echoing client for scripts. libws runs in whole-message mode here.
 */
#define _GNU_SOURCE
#include "common.h"
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
    ex_limits limits; /* --max-frame, --max-fragments ... */
};

struct app {
    const struct options *opt;
    int fd;
    ws_conn *ws;
    bool in_events; /* input was fed and not all of its events pulled yet */
    bool eof;       /* the socket reached end of stream */
    bool opened;
    bool closing; /* we started the close handshake */
    bool closed;  /* WS_EV_CLOSED seen */
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
    fprintf(out, "usage: ws-client [options] ws://HOST[:PORT][/PATH]\n"
                 "  Interactive: each stdin line is sent as a text message and received messages\n"
                 "  are printed; '/ping [TEXT]' sends a ping, '/close [CODE [REASON]]' closes,\n"
                 "  end of input closes with 1000.\n"
                 "  --send TEXT          send one message, print the reply, close\n"
                 "  --echo               send every received message back until the server closes\n"
                 "  --protocol P         offer subprotocol P (repeatable)\n"
                 "  --header 'N: V'      add a request header (repeatable)\n"
                 "  --max-message BYTES  largest message accepted (default 16M)\n"
                 "  --verbose            show the opening handshake\n"
                 "exit status: 0 clean close, 1 connection or protocol error, 2 usage\n");
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

static bool parse_args(int argc, char **argv, struct options *o)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_value = true;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(arg, "--echo") == 0) {
            if (o->mode != MODE_INTERACTIVE)
                return false;
            o->mode = MODE_ECHO;
            takes_value = false;
        } else if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
            o->verbose = true;
            takes_value = false;
        } else if (arg[0] == '-' && arg[1] == '-' && val == NULL) {
            return false;
        } else if (strcmp(arg, "--send") == 0) {
            if (o->mode != MODE_INTERACTIVE)
                return false;
            o->mode = MODE_SEND;
            o->send_text = val;
        } else if (strcmp(arg, "--protocol") == 0) {
            if (o->protocol_count == MAX_PROTOCOLS)
                return false;
            o->protocols[o->protocol_count++] = val;
        } else if (strcmp(arg, "--header") == 0) {
            if (o->header_count == MAX_HEADERS || !parse_header(val, &o->headers[o->header_count]))
                return false;
            o->header_count++;
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
    a->opened = true;
    a->deadline = 0;
    if (a->opt->verbose && ev->response != NULL)
        print_response(ev->response);
    fprintf(stderr, "connected to %s", a->opt->url);
    if (ev->subprotocol != NULL)
        fprintf(stderr, " (subprotocol %.*s)", (int)ev->subprotocol_len, ev->subprotocol);
    fprintf(stderr, "\n");
    if (a->opt->mode == MODE_SEND)
        send_message(a, WS_OP_TEXT, (const uint8_t *)a->opt->send_text, strlen(a->opt->send_text));
}

static void on_message(struct app *a, const ws_event *ev)
{
    if (a->opt->mode == MODE_ECHO) {
        send_message(a, ev->opcode, ev->data, ev->len);
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
        if (r != WS_OK)
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
    ssize_t n = recv(a->fd, a->in, sizeof a->in, 0);
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
                long w = ex_flush(a->fd, a->ws);
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
    return ex_flush(a->fd, a->ws) < 0 ? -1 : 0;
}

/* Everything is written: shut our side, so the server reads our close frame and then the
 * end of the stream, and read away what it still sends until it ends its side (the server
 * closes the TCP connection first, RFC 6455 7.1.1) or LINGER_MS pass. A close now, with
 * input unread, would reset the connection instead, and a server still sending could lose
 * our close frame. */
static void linger(int fd)
{
    long deadline = now_ms() + LINGER_MS;

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
                linger(a->fd);
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

int main(int argc, char **argv)
{
    static struct app a; /* static: holds the read buffer */
    struct options opt;
    ws_config cfg;
    ws_client_opts copts;
    ws_url url;
    char host[256];
    int r;

    memset(&opt, 0, sizeof opt);
    opt.max_message = 16u * 1024u * 1024u;
    if (!parse_args(argc, argv, &opt)) {
        usage(stderr);
        return 2;
    }
    if (ws_url_parse(opt.url, strlen(opt.url), &url) != WS_OK) {
        fprintf(stderr, "ws-client: not a ws:// URL: %s\n", opt.url);
        return 2;
    }
    if (url.secure) {
        fprintf(stderr, "ws-client: wss:// needs TLS, and TLS is the host's job (libws only "
                        "speaks the protocol); this example supports ws:// only\n");
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
    a.fd = connect_to(host, url.port);
    if (a.fd < 0)
        return 1;
    a.ws = ws_conn_new(&cfg);
    if (a.ws == NULL) {
        fprintf(stderr, "ws-client: cannot create the connection\n");
        return 1;
    }
    memset(&copts, 0, sizeof copts);
    copts.url = opt.url;
    copts.subprotocols = opt.protocols;
    copts.subprotocol_count = opt.protocol_count;
    copts.headers = opt.headers;
    copts.header_count = opt.header_count;
    r = ws_conn_connect(a.ws, &copts);
    if (r != WS_OK) {
        fprintf(stderr, "ws-client: %s\n", ws_strerror(r));
        return r == WS_E_INVALID ? 2 : 1;
    }
    if (opt.verbose) {
        const uint8_t *req;
        size_t len = ws_conn_output(a.ws, &req);
        print_head(">", req, len);
    }
    a.deadline = now_ms() + CONNECT_TIMEOUT_MS;
    a.waiting_for = "the opening handshake";

    r = run(&a);
    ws_conn_free(a.ws);
    close(a.fd);
    ex_pending_free(&a.out);
    free(a.line);
    return r;
}
