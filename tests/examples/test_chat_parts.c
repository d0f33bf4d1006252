/*
 * The chat cluster's pieces that do no I/O, on their own: bus messages (examples/bus.c),
 * the room table (rooms.c) and the reconnect backoff (backoff.c). The cluster as a whole,
 * with Redis, nodes and nginx, is tests/interop/test_cluster.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"
#include "bus.h"
#include "rooms.h"

#include <string.h>

#define S(lit) lit, sizeof lit - 1

static void bus_reads_each_kind(void **state)
{
    static const char msg[] = "M\nn0\nlobby\nalice\nhello\nworld";
    static const char join[] = "J\nn0\nnews\nbob smith";
    static const char beat[] = "P\nn1\nlobby 3\nnews 12\n";
    static const char gone[] = "G\nn2";
    bus_frame f;

    (void)state;
    assert_true(bus_parse(S(msg), &f));
    assert_int_equal(f.kind, 'M');
    assert_int_equal(f.msg.kind, CLUSTER_MESSAGE);
    assert_int_equal(f.node_len, 2);
    assert_memory_equal(f.msg.room, "lobby", 5);
    assert_int_equal(f.msg.room_len, 5);
    assert_memory_equal(f.msg.name, "alice", 5);
    assert_int_equal(f.msg.text_len, 11); /* the text keeps its newline */
    assert_memory_equal(f.msg.text, "hello\nworld", 11);

    assert_true(bus_parse(S(join), &f));
    assert_int_equal(f.msg.kind, CLUSTER_JOINED);
    assert_int_equal(f.msg.name_len, 9);
    assert_null(f.msg.text);

    assert_true(bus_parse(S(beat), &f));
    assert_int_equal(f.kind, 'P');
    assert_int_equal(bus_presence_count(f.body, f.body_len, S("news")), 12);
    assert_int_equal(bus_presence_count(f.body, f.body_len, S("lobby")), 3);
    assert_int_equal(bus_presence_count(f.body, f.body_len, S("lob")), 0);
    assert_int_equal(bus_presence_count(f.body, f.body_len, S("other")), 0);

    assert_true(bus_parse(S(gone), &f));
    assert_int_equal(f.kind, 'G');
    assert_int_equal(f.node_len, 2);
}

static void bus_refuses_malformed(void **state)
{
    static const char *const bad[] = {
        "",    "M",     "X\nn0", "MM\nn0\nr\nn\nt", "M\nn0\nroom", "M\nn0\nroom\nname", "J\nn0",
        "G\n", "P\nn0", "\nn0",  "M\n\nr\nn\nt",
    };
    size_t i;
    bus_frame f;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(bus_parse(bad[i], strlen(bad[i]), &f));
}

static void bus_writes_what_it_reads(void **state)
{
    cluster_msg m = {CLUSTER_MESSAGE, S("news"), S("zoë"), S("a line\nand more")};
    char buf[128];
    size_t n = bus_format(buf, sizeof buf, "abcd", &m);
    bus_frame f;

    (void)state;
    assert_int_equal(n, strlen("M\nabcd\nnews\nzoë\na line\nand more"));
    assert_memory_equal(buf, "M\nabcd\nnews\nzoë\na line\nand more", n);
    assert_true(bus_parse(buf, n, &f));
    assert_int_equal(f.msg.text_len, m.text_len);
    assert_int_equal(bus_format(buf, n - 1, "abcd", &m), 0); /* one byte short */
    m.kind = CLUSTER_LEFT;
    n = bus_format(buf, sizeof buf, "abcd", &m);
    assert_memory_equal(buf, "L\nabcd\nnews\nzoë", n);
}

static void rooms_track_members(void **state)
{
    static rooms t;
    int a, b, c;
    room *r1, *r2;
    char buf[256];
    size_t n;

    (void)state;
    assert_true(room_name_ok(S("news-1.fr_x")));
    assert_false(room_name_ok(S("")));
    assert_false(room_name_ok(S("a b")));
    assert_false(room_name_ok(S("a\n")));
    assert_false(room_name_ok(S("0123456789012345678901234567890123")));
    assert_null(rooms_join(&t, S("bad room"), &a));

    r1 = rooms_join(&t, S("news"), &a);
    assert_non_null(r1);
    assert_ptr_equal(rooms_join(&t, S("news"), &b), r1);
    r2 = rooms_join(&t, S("lobby"), &c);
    assert_int_equal(t.count, 2);
    assert_int_equal(r1->count, 2);
    assert_ptr_equal(r1->members[0], &a);
    assert_ptr_equal(rooms_find(&t, S("news")), r1);
    assert_null(rooms_find(&t, S("new")));

    n = rooms_presence(&t, buf, sizeof buf);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "news 2\n"));
    assert_non_null(strstr(buf, "lobby 1\n"));
    assert_int_equal(rooms_presence(&t, buf, 3), 0); /* no line fits */

    rooms_leave(&t, r1, &a);
    assert_int_equal(r1->count, 1);
    assert_ptr_equal(r1->members[0], &b);
    rooms_leave(&t, r1, &b); /* empty: freed */
    assert_null(rooms_find(&t, S("news")));
    assert_int_equal(t.count, 1);
    rooms_leave(&t, r2, &c);
    assert_int_equal(t.count, 0);
    rooms_free(&t);
}

static void backoff_grows_jitters_and_caps(void **state)
{
    ex_backoff b;
    uint32_t d;
    unsigned i;

    (void)state;
    ex_backoff_init(&b, 100, 1000);
    for (i = 0; i < 200; i++) { /* the first wait: in [50, 100] */
        d = ex_backoff_next(&b);
        ex_backoff_reset(&b);
        assert_in_range(d, 50, 100);
    }
    assert_in_range(ex_backoff_next(&b), 50, 100);
    assert_in_range(ex_backoff_next(&b), 100, 200);
    assert_in_range(ex_backoff_next(&b), 200, 400);
    assert_in_range(ex_backoff_next(&b), 400, 800);
    for (i = 0; i < 100; i++) /* capped, also after many attempts */
        assert_in_range(ex_backoff_next(&b), 500, 1000);
    ex_backoff_reset(&b);
    assert_in_range(ex_backoff_next(&b), 50, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bus_reads_each_kind),
        cmocka_unit_test(bus_refuses_malformed),
        cmocka_unit_test(bus_writes_what_it_reads),
        cmocka_unit_test(rooms_track_members),
        cmocka_unit_test(backoff_grows_jitters_and_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
