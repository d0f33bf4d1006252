/*
 * The chat cluster's Redis side (see cluster.h): two hiredis asynchronous connections driven
 * by the host's epoll set through hiredis's event hooks, reconnected with backoff when Redis
 * goes away, and the bus protocol spoken over them.
 *
 * The payloads on the channel "<prefix>:bus" are bus.c's.
 */
#define _GNU_SOURCE
#include "bus.h"
#include "cluster.h"
#include "common.h"
#include "ws.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <time.h>

#define BUS_MAX          (80u * 1024u) /* largest payload built or accepted */
#define PRESENCE_MAX     (32u * 1024u) /* one node's heartbeat body */
#define CONNECT_TIMEOUT  2000u         /* ms for a Redis connection to come up */
#define RETRY_MIN_MS     100u
#define RETRY_MAX_MS     2000u
#define HEARTBEAT_MIN_MS 100u /* heartbeats after presence changes come no faster */
#define NODE_ID_LEN      16u

struct link {
    struct cluster *cl;
    int index;
    redisAsyncContext *ac; /* NULL between connections */
    bool connected;        /* TCP connection to Redis up */
    bool ready;            /* and, for the subscriber, subscribed */
    bool registered;       /* its fd is in the epoll set */
    uint32_t events;
    uint64_t connect_deadline;
    uint64_t retry_at;
    uint32_t backoff_ms;
};

struct node {
    char id[NODE_ID_LEN + 1];
    uint64_t seen;  /* last heartbeat, monotonic ms */
    char *presence; /* its "room count" lines, NUL-terminated */
};

struct cluster_ticket {
    cluster *cl;
    void *owner; /* NULL once cancelled */
};

struct cluster {
    cluster_config cfg;
    cluster_callbacks cb;
    char id[NODE_ID_LEN + 1];
    char channel[128];
    struct link links[CLUSTER_LINKS];
    uint64_t now;
    uint64_t next_heartbeat;
    uint64_t last_heartbeat;
    bool leaving;
    size_t pending; /* commands on the command link awaiting their reply */
    struct node *nodes;
    size_t node_count;
    char *buf; /* payloads being built */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *link_name(const struct link *l)
{
    return l->index == CLUSTER_LINK_SUB ? "subscriber" : "commands";
}

/* ---- hiredis's event hooks over epoll ---------------------------------------------------- */

static void ev_update(struct link *l)
{
    struct epoll_event ev;

    if (l->ac == NULL)
        return;
    memset(&ev, 0, sizeof ev);
    ev.events = l->events;
    ev.data.ptr = l->cl->cfg.tags[l->index];
    if (!l->registered) {
        if (epoll_ctl(l->cl->cfg.epfd, EPOLL_CTL_ADD, l->ac->c.fd, &ev) == 0)
            l->registered = true;
    } else {
        epoll_ctl(l->cl->cfg.epfd, EPOLL_CTL_MOD, l->ac->c.fd, &ev);
    }
}

static void ev_set(void *p, uint32_t bit, bool on)
{
    struct link *l = p;
    l->events = on ? l->events | bit : l->events & ~bit;
    ev_update(l);
}

static void ev_add_read(void *p)
{
    ev_set(p, EPOLLIN, true);
}

static void ev_del_read(void *p)
{
    ev_set(p, EPOLLIN, false);
}

static void ev_add_write(void *p)
{
    ev_set(p, EPOLLOUT, true);
}

static void ev_del_write(void *p)
{
    ev_set(p, EPOLLOUT, false);
}

/* Called by hiredis before it closes the socket. */
static void ev_cleanup(void *p)
{
    struct link *l = p;
    if (l->registered && l->ac != NULL)
        epoll_ctl(l->cl->cfg.epfd, EPOLL_CTL_DEL, l->ac->c.fd, NULL);
    l->registered = false;
    l->events = 0;
}

/* ---- connections ----------------------------------------------------------------------------- */

/* The link is down: try again after a backoff (doubling, with jitter, capped). */
static void link_lost(struct link *l)
{
    uint32_t jitter = 0;

    l->ac = NULL;
    l->connected = false;
    l->ready = false;
    l->registered = false;
    l->events = 0;
    ex_random(NULL, (uint8_t *)&jitter, sizeof jitter);
    l->retry_at = l->cl->now + l->backoff_ms / 2u + jitter % (l->backoff_ms / 2u + 1u);
    l->backoff_ms = l->backoff_ms * 2u > RETRY_MAX_MS ? RETRY_MAX_MS : l->backoff_ms * 2u;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;

    if (status != REDIS_OK) {
        fprintf(stderr, "chat-server: redis %s link: %s\n", link_name(l), ac->errstr);
        link_lost(l); /* hiredis frees the context after this */
        return;
    }
    l->connected = true;
    if (l->index == CLUSTER_LINK_CMD) {
        l->ready = true;
        l->backoff_ms = RETRY_MIN_MS;
        fprintf(stderr, "chat-server: redis commands link up\n");
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;

    if (!l->cl->leaving || status != REDIS_OK)
        fprintf(stderr, "chat-server: redis %s link lost: %s\n", link_name(l),
                status == REDIS_OK ? "closed" : ac->errstr);
    link_lost(l);
}

static void on_bus(redisAsyncContext *ac, void *reply, void *ud);

static void link_start(struct link *l)
{
    cluster *cl = l->cl;
    redisAsyncContext *ac = redisAsyncConnect(cl->cfg.redis_host, (int)cl->cfg.redis_port);

    if (ac == NULL || ac->err) {
        fprintf(stderr, "chat-server: redis %s link: %s\n", link_name(l),
                ac != NULL ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        link_lost(l);
        return;
    }
    l->ac = ac;
    l->connected = false;
    l->ready = false;
    l->connect_deadline = cl->now + CONNECT_TIMEOUT;
    ac->data = l;
    ac->ev.data = l;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Named, so that a test (or an operator's CLIENT LIST) can see which nodes are on. */
    redisAsyncCommand(ac, NULL, NULL, "CLIENT SETNAME %s-%s-%s", cl->cfg.prefix, cl->id,
                      l->index == CLUSTER_LINK_SUB ? "sub" : "cmd");
    if (l->index == CLUSTER_LINK_SUB)
        redisAsyncCommand(ac, on_bus, cl, "SUBSCRIBE %s", cl->channel);
}

/* A reply to a command whose answer does not matter beyond its arrival. */
static void on_done(redisAsyncContext *ac, void *reply, void *ud)
{
    cluster *cl = ud;
    (void)ac;
    (void)reply;
    if (cl->pending > 0)
        cl->pending--;
}

static bool cmd_send(cluster *cl, const char *payload, size_t len)
{
    struct link *l = &cl->links[CLUSTER_LINK_CMD];

    if (l->ac == NULL || !l->ready)
        return false;
    if (redisAsyncCommand(l->ac, on_done, cl, "PUBLISH %s %b", cl->channel, payload, len) !=
        REDIS_OK)
        return false;
    cl->pending++;
    return true;
}

/* ---- presence ------------------------------------------------------------------------------- */

static void heartbeat(cluster *cl)
{
    size_t n = (size_t)snprintf(cl->buf, BUS_MAX, "P\n%s\n", cl->id);

    n += cl->cb.presence(cl->cb.ud, cl->buf + n, PRESENCE_MAX);
    if (cmd_send(cl, cl->buf, n))
        cl->last_heartbeat = cl->now;
    cl->next_heartbeat = cl->now + cl->cfg.heartbeat_ms;
}

void cluster_presence_changed(cluster *cl)
{
    uint64_t soon = cl->last_heartbeat + HEARTBEAT_MIN_MS;
    if (soon < cl->next_heartbeat)
        cl->next_heartbeat = soon;
}

static struct node *node_find(const cluster *cl, const char *id, size_t len)
{
    size_t i;
    for (i = 0; i < cl->node_count; i++) {
        if (strlen(cl->nodes[i].id) == len && memcmp(cl->nodes[i].id, id, len) == 0)
            return &cl->nodes[i];
    }
    return NULL;
}

static void node_drop(cluster *cl, struct node *n)
{
    fprintf(stderr, "chat-server: node %s left the cluster\n", n->id);
    free(n->presence);
    *n = cl->nodes[--cl->node_count];
}

static void node_seen(cluster *cl, const char *id, size_t id_len, const char *body, size_t len)
{
    struct node *n = node_find(cl, id, id_len);
    char *copy;

    if (id_len > NODE_ID_LEN || len > PRESENCE_MAX)
        return;
    if (n == NULL) {
        struct node *grown = realloc(cl->nodes, (cl->node_count + 1) * sizeof *grown);
        if (grown == NULL)
            return;
        cl->nodes = grown;
        n = &cl->nodes[cl->node_count++];
        memcpy(n->id, id, id_len);
        n->id[id_len] = '\0';
        n->presence = NULL;
        fprintf(stderr, "chat-server: node %s is in the cluster\n", n->id);
    }
    copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, body, len);
        copy[len] = '\0';
        free(n->presence);
        n->presence = copy;
    }
    n->seen = cl->now;
}

size_t cluster_room_count(const cluster *cl, const char *room, size_t room_len)
{
    size_t total = 0, i;

    for (i = 0; i < cl->node_count; i++) {
        const char *p = cl->nodes[i].presence;
        if (p != NULL)
            total += bus_presence_count(p, strlen(p), room, room_len);
    }
    return total;
}

/* ---- the bus --------------------------------------------------------------------------------- */

static void bus_payload(cluster *cl, const char *s, size_t len)
{
    bus_frame f;
    struct node *n;

    if (!bus_parse(s, len, &f))
        return;
    if (f.node_len == strlen(cl->id) && memcmp(f.node, cl->id, f.node_len) == 0)
        return; /* our own: delivered locally already */
    switch (f.kind) {
    case 'P':
        node_seen(cl, f.node, f.node_len, f.body, f.body_len);
        break;
    case 'G':
        if ((n = node_find(cl, f.node, f.node_len)) != NULL)
            node_drop(cl, n);
        break;
    case 'Q':
        cl->next_heartbeat = cl->now; /* a newcomer wants everyone's presence */
        break;
    default:
        cl->cb.deliver(cl->cb.ud, &f.msg);
        break;
    }
}

static void on_bus(redisAsyncContext *ac, void *reply, void *ud)
{
    cluster *cl = ud;
    redisReply *r = reply;
    struct link *l = ac->data;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(r->element[0]->str, "subscribe") == 0) {
        l->ready = true;
        l->backoff_ms = RETRY_MIN_MS;
        fprintf(stderr, "chat-server: redis subscriber link up, node %s on %s\n", cl->id,
                cl->channel);
        /* Ask the others for their presence; send ours. */
        {
            int n = snprintf(cl->buf, BUS_MAX, "Q\n%s", cl->id);
            cmd_send(cl, cl->buf, (size_t)n);
        }
        cl->next_heartbeat = cl->now;
    } else if (strcmp(r->element[0]->str, "message") == 0 &&
               r->element[2]->type == REDIS_REPLY_STRING && r->element[2]->len <= BUS_MAX) {
        bus_payload(cl, r->element[2]->str, r->element[2]->len);
    }
}

bool cluster_publish(cluster *cl, const cluster_msg *m)
{
    size_t n = bus_format(cl->buf, BUS_MAX, cl->id, m);
    return n > 0 && cmd_send(cl, cl->buf, n);
}

/* ---- tickets ------------------------------------------------------------------------------- */

static void on_ticket(redisAsyncContext *ac, void *reply, void *ud)
{
    cluster_ticket *t = ud;
    redisReply *r = reply;
    int verdict = 503;
    const char *subject = NULL;
    size_t subject_len = 0;

    (void)ac;
    if (t->cl->pending > 0)
        t->cl->pending--;
    if (r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0) {
        verdict = WS_HOOK_ALLOW; /* SET NX: the first use */
    } else if (r != NULL && r->type == REDIS_REPLY_STRING) {
        verdict = WS_HOOK_ALLOW; /* GETDEL: the ticket was there, and is gone now */
        subject = r->str;
        subject_len = r->len;
    } else if (r != NULL && r->type == REDIS_REPLY_NIL) {
        verdict = WS_E_AUTH_INVALID; /* used before, or never issued, or expired */
    } else if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "chat-server: redis: %s\n", r->str);
    }
    if (t->owner != NULL)
        t->cl->cb.ticket_done(t->cl->cb.ud, t->owner, verdict, subject, subject_len);
    free(t);
}

/* A check waiting for Redis, or NULL when the command link is not up (or no memory). */
static cluster_ticket *ticket_new(cluster *cl, void *owner)
{
    struct link *l = &cl->links[CLUSTER_LINK_CMD];
    cluster_ticket *t;

    if (l->ac == NULL || !l->ready || (t = malloc(sizeof *t)) == NULL)
        return NULL;
    t->cl = cl;
    t->owner = owner;
    return t;
}

/* After redisAsyncCommand returned rc for t. */
static bool ticket_sent(cluster *cl, cluster_ticket *t, int rc, cluster_ticket **handle)
{
    if (rc != REDIS_OK) {
        free(t);
        return false;
    }
    cl->pending++;
    *handle = t;
    return true;
}

bool cluster_ticket_use(cluster *cl, const char *id, size_t id_len, uint64_t expires, void *owner,
                        cluster_ticket **handle)
{
    cluster_ticket *t = ticket_new(cl, owner);

    /* One atomic step: the first SET NX wins, on whichever node; the key goes away when the
     * token would have expired anyway. */
    return t != NULL &&
           ticket_sent(cl, t,
                       redisAsyncCommand(cl->links[CLUSTER_LINK_CMD].ac, on_ticket, t,
                                         "SET %s:used:%b 1 NX EXAT %llu", cl->cfg.prefix, id,
                                         id_len, (unsigned long long)expires),
                       handle);
}

void cluster_ticket_cancel(cluster_ticket *t)
{
    t->owner = NULL;
}

bool cluster_ticket_take(cluster *cl, const char *ticket, size_t len, void *owner,
                         cluster_ticket **handle)
{
    cluster_ticket *t = ticket_new(cl, owner);

    /* GETDEL: reading and removing are one step, so one taker gets the subject. */
    return t != NULL &&
           ticket_sent(cl, t,
                       redisAsyncCommand(cl->links[CLUSTER_LINK_CMD].ac, on_ticket, t,
                                         "GETDEL %s:ticket:%b", cl->cfg.prefix, ticket, len),
                       handle);
}

bool cluster_ticket_mint(const char *host, unsigned port, const char *prefix, const char *subject,
                         uint64_t ttl, char *out)
{
    struct timeval timeout = {5, 0};
    redisContext *c = redisConnectWithTimeout(host, (int)port, timeout);
    redisReply *r = NULL;
    uint8_t raw[CLUSTER_TICKET_LEN / 2];
    bool ok = false;
    size_t i;

    if (c == NULL || c->err) {
        fprintf(stderr, "chat-server: redis %s:%u: %s\n", host, port,
                c != NULL ? c->errstr : "out of memory");
        redisFree(c);
        return false;
    }
    redisSetTimeout(c, timeout);
    if (ex_random(NULL, raw, sizeof raw) == 0) {
        for (i = 0; i < sizeof raw; i++)
            snprintf(out + 2 * i, 3, "%02x", raw[i]);
        r = redisCommand(c, "SET %s:ticket:%s %s EX %llu NX", prefix, out, subject,
                         (unsigned long long)ttl);
    }
    if (r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0)
        ok = true;
    else
        fprintf(stderr, "chat-server: redis: %s\n",
                r != NULL && r->type == REDIS_REPLY_ERROR ? r->str
                : c->err                                  ? c->errstr
                                                          : "ticket not stored");
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* ---- the host's loop ------------------------------------------------------------------------- */

cluster *cluster_new(const cluster_config *cfg, const cluster_callbacks *cb)
{
    cluster *cl = calloc(1, sizeof *cl);
    uint8_t raw[NODE_ID_LEN / 2];
    size_t i;

    if (cl == NULL || (cl->buf = malloc(BUS_MAX + 1)) == NULL) {
        free(cl);
        return NULL;
    }
    cl->cfg = *cfg;
    cl->cb = *cb;
    ex_random(NULL, raw, sizeof raw);
    for (i = 0; i < sizeof raw; i++)
        snprintf(cl->id + 2 * i, 3, "%02x", raw[i]);
    snprintf(cl->channel, sizeof cl->channel, "%s:bus", cfg->prefix);
    cl->now = mono_ms();
    for (i = 0; i < CLUSTER_LINKS; i++) {
        cl->links[i].cl = cl;
        cl->links[i].index = (int)i;
        cl->links[i].backoff_ms = RETRY_MIN_MS;
        cl->links[i].retry_at = cl->now;
    }
    cl->next_heartbeat = cl->now + cfg->heartbeat_ms;
    return cl;
}

void cluster_free(cluster *cl)
{
    size_t i;

    if (cl == NULL)
        return;
    for (i = 0; i < CLUSTER_LINKS; i++) {
        redisAsyncContext *ac = cl->links[i].ac;
        if (ac != NULL) {
            cl->leaving = true;
            redisAsyncFree(ac); /* calls on_disconnect, which forgets it */
            cl->links[i].ac = NULL;
        }
    }
    for (i = 0; i < cl->node_count; i++)
        free(cl->nodes[i].presence);
    free(cl->nodes);
    free(cl->buf);
    free(cl);
}

const char *cluster_node_id(const cluster *cl)
{
    return cl->id;
}

void cluster_io(cluster *cl, int link, uint32_t events)
{
    struct link *l = &cl->links[link];

    cl->now = mono_ms();
    if (l->ac != NULL && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0)
        redisAsyncHandleRead(l->ac);
    if (l->ac != NULL && (events & EPOLLOUT) != 0)
        redisAsyncHandleWrite(l->ac);
}

uint64_t cluster_next_deadline(const cluster *cl)
{
    uint64_t best = UINT64_MAX;
    size_t i;

    for (i = 0; i < CLUSTER_LINKS; i++) {
        const struct link *l = &cl->links[i];
        uint64_t d = l->ac == NULL ? l->retry_at : l->connected ? UINT64_MAX : l->connect_deadline;
        if (d < best)
            best = d;
    }
    if (cl->links[CLUSTER_LINK_CMD].ready && cl->next_heartbeat < best)
        best = cl->next_heartbeat;
    for (i = 0; i < cl->node_count; i++) {
        uint64_t d = cl->nodes[i].seen + 3u * (uint64_t)cl->cfg.heartbeat_ms;
        if (d < best)
            best = d;
    }
    return best;
}

void cluster_tick(cluster *cl, uint64_t now)
{
    size_t i;

    cl->now = now;
    for (i = 0; i < CLUSTER_LINKS; i++) {
        struct link *l = &cl->links[i];
        if (l->ac == NULL && now >= l->retry_at && !cl->leaving) {
            link_start(l);
        } else if (l->ac != NULL && !l->connected && now >= l->connect_deadline) {
            redisAsyncContext *ac = l->ac;
            fprintf(stderr, "chat-server: redis %s link: connect timed out\n", link_name(l));
            ev_cleanup(l);
            l->ac = NULL;
            redisAsyncFree(ac); /* never connected: no on_disconnect */
            link_lost(l);
        }
    }
    if (!cl->leaving && cl->links[CLUSTER_LINK_CMD].ready && now >= cl->next_heartbeat)
        heartbeat(cl);
    i = 0;
    while (i < cl->node_count) {
        if (now >= cl->nodes[i].seen + 3u * (uint64_t)cl->cfg.heartbeat_ms)
            node_drop(cl, &cl->nodes[i]);
        else
            i++;
    }
}

void cluster_leave(cluster *cl)
{
    int n = snprintf(cl->buf, BUS_MAX, "G\n%s", cl->id);

    cmd_send(cl, cl->buf, (size_t)n);
    cl->leaving = true;
}

bool cluster_idle(const cluster *cl)
{
    return cl->pending == 0 || cl->links[CLUSTER_LINK_CMD].ac == NULL;
}

bool cluster_up(const cluster *cl)
{
    return cl->links[CLUSTER_LINK_SUB].ready && cl->links[CLUSTER_LINK_CMD].ready;
}
