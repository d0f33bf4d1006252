/*
 * The chat server's link to the other nodes of a cluster, through Redis: chat lines and
 * join/leave notes on one pub/sub channel, presence counts per room kept from the nodes'
 * heartbeats, and single-use tokens marked used with an atomic SET NX in Redis. hiredis's
 * asynchronous API runs on the host's epoll loop (a small adapter here), so nothing blocks.
 */
#ifndef EXAMPLES_CLUSTER_H
#define EXAMPLES_CLUSTER_H

#include "bus.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cluster cluster;

/* The two Redis connections: pub/sub needs one of its own. */
enum { CLUSTER_LINK_SUB = 0, CLUSTER_LINK_CMD = 1, CLUSTER_LINKS = 2 };

typedef struct cluster_callbacks {
    void *ud;
    /* A message another node published. */
    void (*deliver)(void *ud, const cluster_msg *m);
    /* This node's presence, for a heartbeat: writes "room count" lines into buf (at most
     * cap bytes) and returns the length. */
    size_t (*presence)(void *ud, char *buf, size_t cap);
    /* The answer to cluster_ticket_use or cluster_ticket_take: a hook verdict
     * (WS_HOOK_ALLOW; WS_E_AUTH_INVALID for a second use or an unknown ticket; 503 when
     * Redis could not be asked). owner is as given; subject is the ticket's subject
     * (cluster_ticket_take and WS_HOOK_ALLOW only, else NULL). */
    void (*ticket_done)(void *ud, void *owner, int verdict, const char *subject,
                        size_t subject_len);
} cluster_callbacks;

typedef struct cluster_config {
    const char *redis_host;
    unsigned redis_port;
    const char *prefix;        /* channel and key prefix; nodes sharing it form a cluster */
    uint32_t heartbeat_ms;     /* presence heartbeat; a node silent for 3 of them is gone */
    int epfd;                  /* the host's epoll set */
    void *tags[CLUSTER_LINKS]; /* epoll data.ptr of each link's socket: the host hands its
                                  events to cluster_io with the link's index */
} cluster_config;

/* Starts connecting (the first attempt is made by cluster_tick). NULL without memory. */
cluster *cluster_new(const cluster_config *cfg, const cluster_callbacks *cb);

/* Closes both links; pending ticket checks get no answer. */
void cluster_free(cluster *cl);

/* This node's id (16 hex digits, random per process). */
const char *cluster_node_id(const cluster *cl);

/* Readiness of link's socket, as epoll reported it. */
void cluster_io(cluster *cl, int link, uint32_t events);

/* When cluster_tick wants to run next (monotonic ms), and running it: reconnects with
 * backoff, connect timeouts, heartbeats, forgetting silent nodes. */
uint64_t cluster_next_deadline(const cluster *cl);
void cluster_tick(cluster *cl, uint64_t now);

/* Publishes m to the other nodes. Returns false when it could not go (Redis down): the
 * other nodes miss it (at most once). */
bool cluster_publish(cluster *cl, const cluster_msg *m);

/* Sends a heartbeat now (after the local presence changed). */
void cluster_presence_changed(cluster *cl);

/* The number of members of room on the other live nodes, from their last heartbeats. */
size_t cluster_room_count(const cluster *cl, const char *room, size_t room_len);

/* Marks a single-use token used: SET prefix:used:<id> NX EXAT expires. The answer comes
 * through ticket_done(owner) from a later cluster_io or cluster_tick; *handle lets the owner
 * cancel it (cluster_ticket_cancel) if it goes away first. Returns false when Redis is not
 * connected (then no callback comes). */
typedef struct cluster_ticket cluster_ticket;
bool cluster_ticket_use(cluster *cl, const char *id, size_t id_len, uint64_t expires, void *owner,
                        cluster_ticket **handle);
void cluster_ticket_cancel(cluster_ticket *t);

/* Takes an opaque ticket: GETDEL prefix:ticket:<ticket>, so the first taker on any node gets
 * its subject and every later one nothing. Answered and cancelled as cluster_ticket_use. */
bool cluster_ticket_take(cluster *cl, const char *ticket, size_t len, void *owner,
                         cluster_ticket **handle);

/* Mints an opaque ticket for subject, valid ttl seconds: 32 random hex digits stored with
 * SET prefix:ticket:<ticket> <subject> EX ttl NX on the Redis at host:port. Blocking: for
 * a command-line tool or a login service, never for the event loop. Writes the ticket and
 * a NUL into out (CLUSTER_TICKET_LEN + 1 bytes); returns false, with the reason printed,
 * when Redis could not be reached. */
#define CLUSTER_TICKET_LEN 32u
bool cluster_ticket_mint(const char *host, unsigned port, const char *prefix, const char *subject,
                         uint64_t ttl, char *out);

/* Drain: tells the other nodes this one is gone (they drop its presence at once). */
void cluster_leave(cluster *cl);

/* True when no command waits for its reply (so a draining node may exit). */
bool cluster_idle(const cluster *cl);

/* True when both links are connected and subscribed. */
bool cluster_up(const cluster *cl);

#endif /* EXAMPLES_CLUSTER_H */
