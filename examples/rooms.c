/*
 * Rooms on one node (see rooms.h): a chained hash table of rooms, each with an array of its
 * members here. Joins and leaves are rare next to messages, so a leave may scan its room.
 */
#include "rooms.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool room_name_ok(const char *name, size_t len)
{
    size_t i;

    if (len == 0 || len > ROOM_NAME_MAX)
        return false;
    for (i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

static size_t bucket_of(const char *name, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (uint8_t)name[i];
        h *= 16777619u;
    }
    return h % ROOMS_BUCKETS;
}

room *rooms_find(const rooms *t, const char *name, size_t len)
{
    room *r;

    for (r = t->buckets[bucket_of(name, len)]; r != NULL; r = r->next) {
        if (r->name_len == len && memcmp(r->name, name, len) == 0)
            return r;
    }
    return NULL;
}

room *rooms_join(rooms *t, const char *name, size_t len, void *member)
{
    room *r;

    if (!room_name_ok(name, len))
        return NULL;
    r = rooms_find(t, name, len);
    if (r == NULL) {
        size_t b = bucket_of(name, len);
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return NULL;
        memcpy(r->name, name, len);
        r->name_len = len;
        r->next = t->buckets[b];
        t->buckets[b] = r;
        t->count++;
    }
    if (r->count == r->cap) {
        size_t cap = r->cap * 2 + 4;
        void **grown = realloc(r->members, cap * sizeof *grown);
        if (grown == NULL) {
            if (r->count == 0)
                rooms_leave(t, r, NULL);
            return NULL;
        }
        r->members = grown;
        r->cap = cap;
    }
    r->members[r->count++] = member;
    return r;
}

void rooms_leave(rooms *t, room *r, void *member)
{
    room **link;
    size_t i;

    for (i = 0; i < r->count; i++) {
        if (r->members[i] == member) {
            /* Keep the joining order: members see notes in a stable order. */
            memmove(&r->members[i], &r->members[i + 1], (r->count - i - 1) * sizeof *r->members);
            r->count--;
            break;
        }
    }
    if (r->count > 0)
        return;
    for (link = &t->buckets[bucket_of(r->name, r->name_len)]; *link != r; link = &(*link)->next)
        ;
    *link = r->next;
    t->count--;
    free(r->members);
    free(r);
}

size_t rooms_presence(const rooms *t, char *buf, size_t cap)
{
    size_t len = 0, b;

    for (b = 0; b < ROOMS_BUCKETS; b++) {
        const room *r;
        for (r = t->buckets[b]; r != NULL; r = r->next) {
            char line[ROOM_NAME_MAX + 32];
            int n = snprintf(line, sizeof line, "%s %zu\n", r->name, r->count);
            if (n < 0 || (size_t)n > cap - len)
                return len;
            memcpy(buf + len, line, (size_t)n);
            len += (size_t)n;
        }
    }
    return len;
}

void rooms_free(rooms *t)
{
    size_t b;

    for (b = 0; b < ROOMS_BUCKETS; b++) {
        while (t->buckets[b] != NULL) {
            room *r = t->buckets[b];
            t->buckets[b] = r->next;
            free(r->members);
            free(r);
        }
    }
    t->count = 0;
}
