/*
 * Host-side helpers for the examples: getrandom() as the random source, realloc as the
 * allocator, draining a connection's output into a non-blocking socket, sends that wait
 * out backpressure, and reading away a peer's last bytes before a close.
 */
#define _GNU_SOURCE
#include "common.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>

int ex_random(void *ud, uint8_t *buf, size_t len)
{
    (void)ud;
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

void *ex_realloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

int ex_set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

bool ex_parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;
    unsigned long long mult = 1;

    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return false;
    if (*end == 'K' || *end == 'k')
        mult = 1024u;
    else if (*end == 'M' || *end == 'm')
        mult = 1024u * 1024u;
    else if (*end == 'G' || *end == 'g')
        mult = 1024u * 1024u * 1024u;
    if (mult != 1)
        end++;
    if (*end != '\0' || v == 0 || v > SIZE_MAX / mult)
        return false;
    *out = (size_t)(v * mult);
    return true;
}

long ex_flush(int fd, ws_conn *c)
{
    long total = 0;

    for (;;) {
        const uint8_t *data;
        size_t len = ws_conn_output(c, &data);
        ssize_t n;

        if (len == 0)
            return total;
        /* MSG_NOSIGNAL: a peer that went away is an error value here, not a SIGPIPE. */
        n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return total;
            return -1;
        }
        ws_conn_consume(c, (size_t)n);
        total += (long)n;
    }
}

bool ex_has_output(const ws_conn *c)
{
    const uint8_t *data;
    return ws_conn_output(c, &data) > 0;
}

#define DRAIN_BUDGET (1024u * 1024u) /* bytes one ex_drain call reads at most */

bool ex_drain(int fd)
{
    uint8_t scrap[16u * 1024u];
    size_t budget = DRAIN_BUDGET;

    while (budget > 0) {
        ssize_t n = recv(fd, scrap, sizeof scrap, 0);
        if (n > 0) {
            budget -= (size_t)n < budget ? (size_t)n : budget;
            continue;
        }
        if (n == 0)
            return true;
        if (errno == EINTR)
            continue;
        return errno != EAGAIN && errno != EWOULDBLOCK;
    }
    return false;
}

void ex_pending_set(ex_pending *p, uint8_t opcode, const uint8_t *data, size_t len, bool final,
                    size_t piece)
{
    p->active = true;
    p->opcode = opcode;
    p->final = final;
    p->data = data;
    p->len = len;
    p->piece = piece > 0 ? piece : 1;
}

/* Keeps the unsent rest in the helper's own storage so the caller may go on with other
 * calls on the connection (writing its output) before retrying. */
static int pending_keep(ex_pending *p)
{
    if (p->data == p->own)
        return WS_OK;
    if (p->len > p->own_cap) {
        uint8_t *grown = realloc(p->own, p->len);
        if (grown == NULL)
            return WS_E_NOMEM;
        p->own = grown;
        p->own_cap = p->len;
    }
    if (p->len > 0)
        memmove(p->own, p->data, p->len);
    p->data = p->own;
    return WS_OK;
}

int ex_pending_send(ex_pending *p, ws_conn *c)
{
    while (p->active) {
        size_t n = p->len < p->piece ? p->len : p->piece;
        bool last = n == p->len;
        int r;

        if (last && !p->final && n == 0) {
            /* Nothing to say until the rest of the message arrives. */
            p->active = false;
            break;
        }
        /* The message's own opcode on every piece: libws treats it as a continuation
         * once a fragmented send is in progress. */
        r = ws_conn_send_fragment(c, (ws_opcode)p->opcode, p->data, n, last && p->final);
        if (r == WS_E_BACKPRESSURE) {
            int k = pending_keep(p);
            if (k != WS_OK) {
                p->active = false;
                return k;
            }
            return r;
        }
        if (r != WS_OK) {
            p->active = false;
            return r;
        }
        p->data += n;
        p->len -= n;
        if (last)
            p->active = false;
    }
    return WS_OK;
}

void ex_pending_free(ex_pending *p)
{
    free(p->own);
    p->own = NULL;
    p->own_cap = 0;
    p->active = false;
}

/* A listening TCP socket on host:port (port 0: any free one, reported in *bound_port),
 * non-blocking, with SO_REUSEADDR (and SO_REUSEPORT when shared). Errors are printed with
 * the program name prog. */
static int listen_on(const char *prog, const char *host, unsigned port, unsigned *bound_port,
                     bool shared)
{
    struct addrinfo hints, *res, *ai;
    char port_str[16];
    int fd = -1;
    int err;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port_str, sizeof port_str, "%u", port);
    err = getaddrinfo(host, port_str, &hints, &res);
    if (err != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, host, gai_strerror(err));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int one = 1;
        int saved;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (shared)
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
            break;
        saved = errno;
        close(fd);
        errno = saved;
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot listen on %s:%u: %s\n", prog, host, port, strerror(errno));
        return -1;
    }
    {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        getsockname(fd, (struct sockaddr *)&addr, &len);
        *bound_port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                       : ((struct sockaddr_in *)&addr)->sin_port);
    }
    return fd;
}

int ex_listen(const char *prog, const char *host, unsigned port, unsigned *bound_port)
{
    return listen_on(prog, host, port, bound_port, false);
}

int ex_listen_shared(const char *prog, const char *host, unsigned port, unsigned *bound_port)
{
    return listen_on(prog, host, port, bound_port, true);
}

/* Blocks SIGINT and SIGTERM and returns a descriptor that reads them instead. */
int ex_signals_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int ex_accept(const char *prog, int listen_fd, char *peer, size_t peer_len)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t addr_len = sizeof addr;
        char host[64], port[8]; /* numeric: an IPv6 address fits */
        int one = 1;
        int fd =
            accept4(listen_fd, (struct sockaddr *)&addr, &addr_len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd >= 0) {
            snprintf(peer, peer_len, "?");
            if (getnameinfo((const struct sockaddr *)&addr, addr_len, host, sizeof host, port,
                            sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
                snprintf(peer, peer_len, "%s:%s", host, port);
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            fprintf(stderr, "%s: accept: %s (pausing)\n", prog, strerror(errno));
            return EX_ACCEPT_FULL;
        }
        return EX_ACCEPT_NONE;
    }
}

/* ---- limits from the command line ----------------------------------------------------- */

typedef struct ex_limit_flag {
    const char *flag;
    const char *help;
    bool ms; /* a uint32_t deadline in milliseconds, else a size_t */
    size_t offset;
} ex_limit_flag;

static const ex_limit_flag ex_limit_flags[EX_LIMIT_FLAGS] = {
    {"--max-frame", "largest frame payload (default 16M; 0: no limit)", false,
     offsetof(ws_config, max_frame_size)},
    {"--max-message", "largest message (default 16M; 0: no limit when streaming)", false,
     offsetof(ws_config, max_message_size)},
    {"--max-fragments", "frames per message beyond one per 16 bytes (default 4096; 0: none)", false,
     offsetof(ws_config, max_fragments)},
    {"--max-output", "bytes queued for the socket (default 1M)", false,
     offsetof(ws_config, max_output)},
    {"--max-head", "largest handshake head (default 8K)", false,
     offsetof(ws_config, max_head_size)},
    {"--max-headers", "header lines in a handshake head (default 64)", false,
     offsetof(ws_config, max_headers)},
    {"--max-request-line", "longest request line (default 8K; 0: head size only)", false,
     offsetof(ws_config, http) + offsetof(ws_http_limits, max_request_line)},
    {"--max-header-line", "longest header line (default 8K; 0: head size only)", false,
     offsetof(ws_config, http) + offsetof(ws_http_limits, max_header_line)},
    {"--handshake-timeout", "MS to finish the opening handshake (default 10000; 0: off)", true,
     offsetof(ws_config, handshake_timeout_ms)},
    {"--close-timeout", "MS to wait for the peer's close (default 5000; 0: off)", true,
     offsetof(ws_config, close_timeout_ms)},
    {"--idle-timeout", "MS without input before closing (default 0: off)", true,
     offsetof(ws_config, idle_timeout_ms)},
};

int ex_limits_arg(ex_limits *l, const char *arg, const char *val)
{
    size_t i, v = 0;

    for (i = 0; i < EX_LIMIT_FLAGS; i++) {
        if (strcmp(arg, ex_limit_flags[i].flag) != 0)
            continue;
        if (val == NULL || (strcmp(val, "0") != 0 && !ex_parse_size(val, &v)))
            return -1;
        if (ex_limit_flags[i].ms && v > UINT32_MAX)
            return -1;
        l->set[i] = true;
        l->value[i] = v;
        return 1;
    }
    return 0;
}

void ex_limits_apply(const ex_limits *l, ws_config *cfg)
{
    size_t i;

    for (i = 0; i < EX_LIMIT_FLAGS; i++) {
        char *field = (char *)cfg + ex_limit_flags[i].offset;
        if (!l->set[i])
            continue;
        if (ex_limit_flags[i].ms) {
            uint32_t ms = (uint32_t)l->value[i];
            memcpy(field, &ms, sizeof ms);
        } else {
            memcpy(field, &l->value[i], sizeof l->value[i]);
        }
    }
}

void ex_limits_usage(FILE *out)
{
    size_t i;

    for (i = 0; i < EX_LIMIT_FLAGS; i++)
        fprintf(out, "  %-22s %s\n", ex_limit_flags[i].flag, ex_limit_flags[i].help);
}

/* ---- trusted hosts ---------------------------------------------------------------------- */

int ex_trusted_arg(ex_trusted *t, const char *arg, const char *val)
{
    if (strcmp(arg, "--trusted-host") != 0)
        return 0;
    if (val == NULL || *val == '\0' || t->count == EX_TRUSTED_MAX)
        return -1;
    t->names[t->count++] = val;
    return 1;
}

static bool ex_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

void ex_trusted_apply(ex_trusted *t, const char *listen_host, ws_config *cfg)
{
    static const char *const local[] = {"localhost", "127.0.0.1", "[::1]"};
    size_t i;

    if (ex_is_loopback(listen_host) && t->count == 0)
        return; /* nothing outside this machine can reach it */
    snprintf(t->listen_name, sizeof t->listen_name, strchr(listen_host, ':') ? "[%s]" : "%s",
             listen_host);
    t->names[t->count++] = t->listen_name;
    for (i = 0; i < sizeof local / sizeof local[0]; i++)
        t->names[t->count++] = local[i];
    cfg->trusted_hosts = t->names;
    cfg->trusted_host_count = t->count;
}

void ex_trusted_usage(FILE *out)
{
    fprintf(out, "  --trusted-host NAME    answer only for Host NAME (repeatable; the listen\n"
                 "                         address and localhost are added); on by default when\n"
                 "                         listening on a non-loopback address (DNS rebinding)\n");
}
