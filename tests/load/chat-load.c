/*
 * chat-load: many chat clients in one process, for the cluster's load run (tests/load/run.sh).
 * Clients are spread over the nodes given, grouped in rooms of --room-size; once all are in,
 * each says one line every 1/--rate s for --duration s, stamped with its send time, and every
 * line received is checked (sender, order) and timed. Prints figures; never a pass/fail test.
 */
#define _GNU_SOURCE
#include "common.h"
#include "ws.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 16

struct client {
    int fd;
    unsigned index;
    ws_conn *ws;
    bool connected, open, closed;
    uint32_t interest;
    uint32_t sent;
    uint64_t next_send_us;
};

struct load {
    unsigned clients, room_size, duration_s;
    double rate;
    unsigned ports[MAX_NODES];
    size_t node_count;
    int epfd;
    struct client *c;
    uint32_t *last_seq; /* [receiver * room_size + sender's place in the room] */
    uint32_t *lat_us;   /* latencies of the lines received while measuring */
    size_t lat_count, lat_cap;
    unsigned long long delivered, out_of_order, sent, expected, foreign;
    unsigned open_count, closed_count;
    bool sending;
    ws_config cfg;
};

static uint8_t in_buf[64u * 1024u];

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void watch(struct load *L, struct client *cl, uint32_t want)
{
    struct epoll_event ev;

    if (want == cl->interest)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = want;
    ev.data.ptr = cl;
    epoll_ctl(L->epfd, EPOLL_CTL_MOD, cl->fd, &ev);
    cl->interest = want;
}

static void settle(struct load *L, struct client *cl)
{
    if (cl->closed)
        return;
    if (ex_flush(cl->fd, cl->ws) < 0) {
        cl->closed = true;
        L->closed_count++;
        return;
    }
    watch(L, cl, EPOLLIN | (ex_has_output(cl->ws) ? EPOLLOUT : 0u));
}

/* "[room] name: SENDER SEQ STAMP" */
static void on_line(struct load *L, struct client *cl, const uint8_t *p, size_t len)
{
    char text[256];
    const char *colon;
    unsigned sender;
    unsigned long seq;
    unsigned long long stamp;
    size_t slot;

    if (len == 0 || p[0] != '[' || len >= sizeof text)
        return; /* notices */
    memcpy(text, p, len);
    text[len] = '\0';
    colon = strstr(text, ": ");
    if (colon == NULL || sscanf(colon + 2, "%u %lu %llu", &sender, &seq, &stamp) != 3 ||
        sender >= L->clients || sender / L->room_size != cl->index / L->room_size) {
        L->foreign++;
        return;
    }
    slot = (size_t)cl->index * L->room_size + sender % L->room_size;
    if (seq != (unsigned long)L->last_seq[slot] + 1u)
        L->out_of_order++;
    L->last_seq[slot] = (uint32_t)seq;
    L->delivered++;
    if (L->lat_count < L->lat_cap) {
        uint64_t t = now_us();
        L->lat_us[L->lat_count++] = (uint32_t)(t > stamp ? t - stamp : 0);
    }
}

static void pull(struct load *L, struct client *cl)
{
    ws_event ev;

    for (;;) {
        switch (ws_conn_next_event(cl->ws, &ev)) {
        case WS_EV_NONE:
            return;
        case WS_EV_OPEN:
            cl->open = true;
            L->open_count++;
            break;
        case WS_EV_MESSAGE:
            on_line(L, cl, ev.data, ev.len);
            break;
        case WS_EV_CLOSED:
            if (!cl->closed) {
                cl->closed = true;
                L->closed_count++;
                fprintf(stderr, "chat-load: client %u closed: %u %s\n", cl->index,
                        (unsigned)ev.close_code, ws_strerror(ev.error));
            }
            break;
        default:
            break;
        }
    }
}

static void on_io(struct load *L, struct client *cl, uint32_t events)
{
    if (!cl->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(cl->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            fprintf(stderr, "chat-load: client %u: connect: %s\n", cl->index, strerror(err));
            cl->closed = true;
            L->closed_count++;
            return;
        }
        cl->connected = true;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
            ssize_t n = recv(cl->fd, in_buf, sizeof in_buf, 0);
            if (n > 0) {
                ws_conn_feed(cl->ws, in_buf, (size_t)n);
                pull(L, cl);
                if ((size_t)n < sizeof in_buf)
                    break;
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                ws_conn_feed_eof(cl->ws);
                pull(L, cl);
            }
            break;
        }
    }
    settle(L, cl);
}

static int start_client(struct load *L, struct client *cl)
{
    struct sockaddr_in a;
    unsigned port = L->ports[cl->index % L->node_count];
    char url[128];
    ws_client_opts o;
    struct epoll_event ev;
    int one = 1;

    cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (cl->fd < 0)
        return -1;
    setsockopt(cl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(cl->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS)
        return -1;
    cl->ws = ws_conn_new(&L->cfg);
    if (cl->ws == NULL)
        return -1;
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/chat?rooms=load-%u", port,
             cl->index / L->room_size);
    memset(&o, 0, sizeof o);
    o.url = url;
    if (ws_conn_connect(cl->ws, &o) != WS_OK)
        return -1;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLOUT;
    ev.data.ptr = cl;
    cl->interest = EPOLLOUT;
    return epoll_ctl(L->epfd, EPOLL_CTL_ADD, cl->fd, &ev);
}

/* Runs the loop until `until_us`, sending when L->sending. */
static void loop(struct load *L, uint64_t until_us, bool (*done)(const struct load *))
{
    struct epoll_event evs[256];
    uint64_t period = (uint64_t)(1e6 / L->rate);

    for (;;) {
        uint64_t now = now_us();
        int i, n;

        if (now >= until_us || (done != NULL && done(L)))
            return;
        n = epoll_wait(L->epfd, evs, 256, 1);
        for (i = 0; i < n; i++)
            on_io(L, evs[i].data.ptr, evs[i].events);
        if (!L->sending)
            continue;
        now = now_us();
        for (i = 0; i < (int)L->clients; i++) {
            struct client *cl = &L->c[i];
            char line[64];
            int len;
            if (!cl->open || cl->closed || now < cl->next_send_us)
                continue;
            cl->sent++;
            len = snprintf(line, sizeof line, "%u %u %llu", cl->index, (unsigned)cl->sent,
                           (unsigned long long)now_us());
            if (ws_conn_send(cl->ws, WS_OP_TEXT, line, (size_t)len) == WS_OK) {
                L->sent++;
                L->expected += L->room_size - 1u;
            } else {
                cl->sent--;
            }
            cl->next_send_us += period;
            settle(L, cl);
        }
    }
}

static bool all_open(const struct load *L)
{
    return L->open_count + L->closed_count >= L->clients;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    static struct load L;
    struct rlimit rl;
    unsigned i;
    uint64_t t0, start;

    L.clients = 300;
    L.room_size = 10;
    L.rate = 1.0;
    L.duration_s = 10;
    for (i = 1; i + 1 < (unsigned)argc; i += 2) {
        const char *v = argv[i + 1];
        if (strcmp(argv[i], "--clients") == 0)
            L.clients = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--room-size") == 0)
            L.room_size = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--rate") == 0)
            L.rate = strtod(v, NULL);
        else if (strcmp(argv[i], "--duration") == 0)
            L.duration_s = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--port") == 0 && L.node_count < MAX_NODES)
            L.ports[L.node_count++] = (unsigned)strtoul(v, NULL, 10);
        else
            break;
    }
    if (i + 1 < (unsigned)argc || L.node_count == 0 || L.clients == 0 || L.room_size < 2 ||
        L.rate <= 0 || L.duration_s == 0) {
        fprintf(stderr, "usage: chat-load --port P [--port P]... [--clients N] [--room-size K]\n"
                        "                 [--rate LINES_PER_S_PER_CLIENT] [--duration S]\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    ws_config_init(&L.cfg, WS_ROLE_CLIENT);
    L.cfg.whole_messages = true;
    L.cfg.random = ex_random;
    L.cfg.realloc = ex_realloc;
    L.c = calloc(L.clients, sizeof *L.c);
    L.last_seq = calloc((size_t)L.clients * L.room_size, sizeof *L.last_seq);
    L.lat_cap =
        (size_t)((double)L.clients * L.rate * L.duration_s * (L.room_size - 1) * 1.2) + 1024;
    L.lat_us = malloc(L.lat_cap * sizeof *L.lat_us);
    L.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (L.c == NULL || L.last_seq == NULL || L.lat_us == NULL || L.epfd < 0)
        return 1;

    t0 = now_us();
    for (i = 0; i < L.clients; i++) {
        L.c[i].index = i;
        if (start_client(&L, &L.c[i]) < 0) {
            fprintf(stderr, "chat-load: client %u: %s\n", i, strerror(errno));
            return 1;
        }
        if (i % 100 == 99) /* let the nodes keep up with the handshakes */
            loop(&L, now_us() + 20000, NULL);
    }
    loop(&L, now_us() + 60000000u, all_open);
    printf("clients: %u open, %u failed, in %.2f s\n", L.open_count, L.closed_count,
           (double)(now_us() - t0) / 1e6);
    loop(&L, now_us() + 2000000u, NULL); /* joins and presence settle */

    start = now_us();
    for (i = 0; i < L.clients; i++) /* spread the first lines over one period */
        L.c[i].next_send_us = start + (uint64_t)((double)i / L.clients * 1e6 / L.rate);
    L.sending = true;
    loop(&L, start + (uint64_t)L.duration_s * 1000000u, NULL);
    L.sending = false;
    loop(&L, now_us() + 3000000u, NULL); /* the last lines arrive */

    qsort(L.lat_us, L.lat_count, sizeof *L.lat_us, cmp_u32);
    printf("sent: %llu lines in %u s (%.0f/s)\n", L.sent, L.duration_s,
           (double)L.sent / L.duration_s);
    printf("delivered: %llu of %llu expected (%.4f%%), out of order or missing: %llu, "
           "foreign: %llu, clients closed: %u\n",
           L.delivered, L.expected,
           L.expected ? 100.0 * (double)L.delivered / (double)L.expected : 0.0, L.out_of_order,
           L.foreign, L.closed_count);
    if (L.lat_count > 0)
        printf("latency publish to receipt: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu lines)\n",
               L.lat_us[L.lat_count / 2] / 1000.0, L.lat_us[L.lat_count * 99 / 100] / 1000.0,
               L.lat_us[L.lat_count - 1] / 1000.0, L.lat_count);
    return 0;
}
