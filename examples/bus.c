/*
 * Bus messages of the chat cluster. A payload is fields separated by '\n', the first two
 * being a kind letter and the sending node's id:
 *   M node room name text   a chat line (the text, last, may hold newlines itself)
 *   J node room name        name joined room;  L node room name: left it
 *   P node body             a presence heartbeat: "room count" lines
 *   G node                  the node is going away (drain)
 *   Q node                  a node (re)joined the bus and asks for heartbeats
 * Names and rooms never hold '\n' (the server checks them), so the fields split cleanly.
 */
#include "bus.h"

#include <string.h>

/* Splits off the next field of [*p, end): up to the next '\n', or (last) to the end. */
static bool field(const char **p, const char *end, const char **f, size_t *len, bool last)
{
    const char *nl;

    if (last) {
        *f = *p;
        *len = (size_t)(end - *p);
        *p = end;
        return true;
    }
    nl = memchr(*p, '\n', (size_t)(end - *p));
    if (nl == NULL)
        return false;
    *f = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return true;
}

bool bus_parse(const char *s, size_t len, bus_frame *f)
{
    const char *p = s, *end = s + len, *kind;
    size_t kind_len;
    bool bare;

    memset(f, 0, sizeof *f);
    if (!field(&p, end, &kind, &kind_len, false) || kind_len != 1 ||
        strchr("MJLPGQ", kind[0]) == NULL || kind[0] == '\0')
        return false;
    f->kind = kind[0];
    bare = f->kind == 'G' || f->kind == 'Q';
    if (!field(&p, end, &f->node, &f->node_len, bare) || f->node_len == 0)
        return false;
    if (bare)
        return true;
    if (f->kind == 'P')
        return field(&p, end, &f->body, &f->body_len, true);
    f->msg.kind = (enum cluster_kind)f->kind;
    if (!field(&p, end, &f->msg.room, &f->msg.room_len, false) ||
        !field(&p, end, &f->msg.name, &f->msg.name_len, f->kind != CLUSTER_MESSAGE))
        return false;
    if (f->kind == CLUSTER_MESSAGE)
        return field(&p, end, &f->msg.text, &f->msg.text_len, true);
    return true;
}

/* Appends src[0..len) and, unless last, a '\n'; false when it does not fit. */
static bool put(char *buf, size_t cap, size_t *at, const char *src, size_t len, bool last)
{
    if (len > cap - *at || (!last && len + 1 > cap - *at))
        return false;
    memcpy(buf + *at, src, len);
    *at += len;
    if (!last)
        buf[(*at)++] = '\n';
    return true;
}

size_t bus_format(char *buf, size_t cap, const char *node, const cluster_msg *m)
{
    char kind = (char)m->kind;
    size_t at = 0;
    bool text = m->kind == CLUSTER_MESSAGE;

    if (!put(buf, cap, &at, &kind, 1, false) || !put(buf, cap, &at, node, strlen(node), false) ||
        !put(buf, cap, &at, m->room, m->room_len, false) ||
        !put(buf, cap, &at, m->name, m->name_len, !text) ||
        (text && !put(buf, cap, &at, m->text, m->text_len, true)))
        return 0;
    return at;
}

unsigned long bus_presence_count(const char *body, size_t len, const char *room, size_t room_len)
{
    const char *p = body, *end = body + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (line > room_len && p[room_len] == ' ' && memcmp(p, room, room_len) == 0) {
            unsigned long n = 0;
            size_t i;
            for (i = room_len + 1; i < line && p[i] >= '0' && p[i] <= '9' && n < 100000000u; i++)
                n = n * 10u + (unsigned long)(p[i] - '0');
            return n;
        }
        p += line + (nl != NULL ? 1 : 0);
    }
    return 0;
}
