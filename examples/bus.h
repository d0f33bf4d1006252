/*
 * The chat cluster's bus messages (see bus.c for the format): building them and reading
 * them back, with no I/O, so the parser can be fuzzed on its own (fuzz/fuzz_bus.c).
 */
#ifndef EXAMPLES_BUS_H
#define EXAMPLES_BUS_H

#include <stdbool.h>
#include <stddef.h>

/* What travels between nodes besides heartbeats. */
enum cluster_kind {
    CLUSTER_MESSAGE = 'M', /* a chat line: room, name, text */
    CLUSTER_JOINED = 'J',  /* name joined room */
    CLUSTER_LEFT = 'L'     /* name left room */
};

typedef struct cluster_msg {
    enum cluster_kind kind;
    const char *room;
    size_t room_len;
    const char *name;
    size_t name_len;
    const char *text; /* CLUSTER_MESSAGE only */
    size_t text_len;
} cluster_msg;

/* One payload read back; every pointer points into the payload. */
typedef struct bus_frame {
    char kind; /* 'M', 'J', 'L' (msg is set), 'P' (body), 'G' or 'Q' */
    const char *node;
    size_t node_len;
    const char *body; /* 'P': the "room count" lines */
    size_t body_len;
    cluster_msg msg;
} bus_frame;

/* Reads payload s[0..len). False for anything that is not a well-formed bus message. */
bool bus_parse(const char *s, size_t len, bus_frame *f);

/* Writes m as sent by node into buf; returns the length, or 0 when it does not fit in cap. */
size_t bus_format(char *buf, size_t cap, const char *node, const cluster_msg *m);

/* The count for room in a heartbeat's body ("room count" lines); 0 when it is not there. */
unsigned long bus_presence_count(const char *body, size_t len, const char *room, size_t room_len);

#endif /* EXAMPLES_BUS_H */
