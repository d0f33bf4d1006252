/*
 * cluster.h without hiredis: chat-server still builds and runs as a node of its own, and
 * --redis says what is missing instead of joining a cluster.
 */
#include "cluster.h"

#include <stdio.h>

cluster *cluster_new(const cluster_config *cfg, const cluster_callbacks *cb)
{
    (void)cfg;
    (void)cb;
    fprintf(stderr, "chat-server: built without hiredis, so --redis is not available "
                    "(apt-get install libhiredis-dev, then rebuild)\n");
    return NULL;
}

/* Nothing below is reached: there is never a cluster to call them with. */
void cluster_free(cluster *cl)
{
    (void)cl;
}

const char *cluster_node_id(const cluster *cl)
{
    (void)cl;
    return "";
}

void cluster_io(cluster *cl, int link, uint32_t events)
{
    (void)cl;
    (void)link;
    (void)events;
}

uint64_t cluster_next_deadline(const cluster *cl)
{
    (void)cl;
    return UINT64_MAX;
}

void cluster_tick(cluster *cl, uint64_t now)
{
    (void)cl;
    (void)now;
}

bool cluster_publish(cluster *cl, const cluster_msg *m)
{
    (void)cl;
    (void)m;
    return false;
}

void cluster_presence_changed(cluster *cl)
{
    (void)cl;
}

size_t cluster_room_count(const cluster *cl, const char *room, size_t room_len)
{
    (void)cl;
    (void)room;
    (void)room_len;
    return 0;
}

bool cluster_ticket_use(cluster *cl, const char *id, size_t id_len, uint64_t expires, void *owner,
                        cluster_ticket **handle)
{
    (void)cl;
    (void)id;
    (void)id_len;
    (void)expires;
    (void)owner;
    (void)handle;
    return false;
}

void cluster_ticket_cancel(cluster_ticket *t)
{
    (void)t;
}

bool cluster_ticket_take(cluster *cl, const char *ticket, size_t len, void *owner,
                         cluster_ticket **handle)
{
    (void)cl;
    (void)ticket;
    (void)len;
    (void)owner;
    (void)handle;
    return false;
}

bool cluster_ticket_mint(const char *host, unsigned port, const char *prefix, const char *subject,
                         uint64_t ttl, char *out)
{
    (void)host;
    (void)port;
    (void)prefix;
    (void)subject;
    (void)ttl;
    (void)out;
    return cluster_new(NULL, NULL) != NULL; /* says why */
}

void cluster_leave(cluster *cl)
{
    (void)cl;
}

bool cluster_idle(const cluster *cl)
{
    (void)cl;
    return true;
}

bool cluster_up(const cluster *cl)
{
    (void)cl;
    return false;
}
