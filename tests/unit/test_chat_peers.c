/*
 * test_chat_peers.c - cohort-chat's table of members (tools/chat_peers.c):
 * names are set sanitised and cut, the table is bounded (the least
 * recently used entry goes), colours are stable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "chat_peers.h"
#include "chat_term.h"

static struct chat_peers g_ps;

static void test_names(void **state)
{
    (void)state;
    memset(&g_ps, 0, sizeof g_ps);
    assert_null(chat_peers_find(&g_ps, 7));
    assert_int_equal(chat_peers_set_name(&g_ps, 7, "bob", 3), 1);
    assert_int_equal(chat_peers_set_name(&g_ps, 7, "bob", 3), 0);
    assert_string_equal(chat_peers_find(&g_ps, 7)->name, "bob");
    assert_int_equal(chat_peers_set_name(&g_ps, 7, "", 0), 0);
    assert_int_equal(chat_peers_set_name(&g_ps, 7, "b\033[2Jx", 6), 1);
    assert_string_equal(chat_peers_find(&g_ps, 7)->name, "b?[2Jx");
    char longname[200];
    memset(longname, 'n', sizeof longname);
    chat_peers_set_name(&g_ps, 7, longname, sizeof longname);
    assert_int_equal(strlen(chat_peers_find(&g_ps, 7)->name), CHAT_NAME_MAX);
}

static void test_bounded(void **state)
{
    (void)state;
    memset(&g_ps, 0, sizeof g_ps);
    for (uint32_t id = 1; id <= CHAT_PEERS_MAX; id++)
        chat_peers_get(&g_ps, id);
    chat_peers_find(&g_ps, 1);            /* 1 is used again: 2 is oldest */
    chat_peers_get(&g_ps, 1000);
    assert_int_equal(g_ps.n, CHAT_PEERS_MAX);
    assert_non_null(chat_peers_find(&g_ps, 1));
    assert_null(chat_peers_find(&g_ps, 2));
    assert_non_null(chat_peers_find(&g_ps, 1000));
    assert_int_equal(chat_peers_get(&g_ps, 1000)->lost, 0);
}

static void test_colors(void **state)
{
    (void)state;
    int seen[CHAT_COLORS] = { 0 };
    for (uint32_t id = 0; id < 1000; id++) {
        int c = chat_peer_color(id * 977u + 12345u);
        assert_true(c >= 0 && c < CHAT_COLORS);
        assert_int_equal(c, chat_peer_color(id * 977u + 12345u));
        seen[c] = 1;
    }
    for (int c = 0; c < CHAT_COLORS; c++)
        assert_true(seen[c]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_colors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
