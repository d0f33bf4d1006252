/*
 * The chat cluster's bus messages (examples/bus.c, compiled in here: it is example code, not
 * part of libws): bus_parse on any payload must stay inside it and give fields that
 * bus_format writes back to the same bytes; bus_presence_count must stay inside its body.
 * Input: the payload; its first line after a parse also serves as the room to count.
 */
#include "fuzz.h"

#include "../examples/bus.c"

#include <stdlib.h>
#include <string.h>

static bool fz_inside(const char *p, size_t n, const uint8_t *data, size_t size)
{
    return n == 0 || (p >= (const char *)data && p + n <= (const char *)data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: reading one byte past it is caught by ASan. */
    uint8_t *copy = fz_dup(data, size);
    const char *s = (const char *)copy;
    bus_frame f;

    if (bus_parse(s, size, &f)) {
        FZ_CHECK(fz_inside(f.node, f.node_len, copy, size) && f.node_len > 0);
        FZ_CHECK(fz_inside(f.body, f.body_len, copy, size));
        if (f.kind == 'M' || f.kind == 'J' || f.kind == 'L') {
            char node[64];
            char *again = (char *)fz_block(size + 1);
            size_t n;

            FZ_CHECK(fz_inside(f.msg.room, f.msg.room_len, copy, size));
            FZ_CHECK(fz_inside(f.msg.name, f.msg.name_len, copy, size));
            FZ_CHECK(fz_inside(f.msg.text, f.msg.text_len, copy, size));
            FZ_CHECK(memchr(f.msg.room, '\n', f.msg.room_len) == NULL);
            if (f.node_len < sizeof node && memchr(f.node, '\0', f.node_len) == NULL) {
                memcpy(node, f.node, f.node_len);
                node[f.node_len] = '\0';
                n = bus_format(again, size + 1, node, &f.msg);
                FZ_CHECK(n == size && memcmp(again, s, size) == 0);
            }
            free(again);
        }
        if (f.kind == 'P' && f.body_len > 0)
            (void)bus_presence_count(f.body, f.body_len, s, size < 8 ? size : 8);
    }
    (void)bus_presence_count(s, size, "lobby", 5);
    free(copy);
    return 0;
}
