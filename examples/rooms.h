/*
 * The chat server's rooms on one node: a table from room name to the members connected
 * here, so that a line for a room reaches its members without a walk over every client.
 */
#ifndef EXAMPLES_ROOMS_H
#define EXAMPLES_ROOMS_H

#include <stdbool.h>
#include <stddef.h>

#define ROOM_NAME_MAX 32u /* bytes of a room name: letters, digits, '-', '_', '.' */

typedef struct room {
    char name[ROOM_NAME_MAX + 1];
    size_t name_len;
    void **members; /* the host's client pointers, in joining order */
    size_t count, cap;
    struct room *next; /* in its bucket */
} room;

#define ROOMS_BUCKETS 1024u

typedef struct rooms {
    room *buckets[ROOMS_BUCKETS];
    size_t count; /* rooms with at least one member */
} rooms;

/* True when name[0..len) can name a room. */
bool room_name_ok(const char *name, size_t len);

/* The room called name, or NULL when nobody here is in it. */
room *rooms_find(const rooms *t, const char *name, size_t len);

/* Adds member to the room called name (created on first use). Returns the room, or NULL
 * without memory or for a bad name. The caller makes sure a member joins a room once. */
room *rooms_join(rooms *t, const char *name, size_t len, void *member);

/* Removes member from r; an empty room is freed (r is then invalid). */
void rooms_leave(rooms *t, room *r, void *member);

/* "name count\n" for every room, into buf (at most cap bytes; rooms that do not fit are
 * left out). Returns the length written. */
size_t rooms_presence(const rooms *t, char *buf, size_t cap);

/* Frees every room (the members are the host's). */
void rooms_free(rooms *t);

#endif /* EXAMPLES_ROOMS_H */
