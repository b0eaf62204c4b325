/*
 * test_hold.c - a sender's messages waiting for the total order
 * (src/core/hold.c): order, byte accounting, the bound, and the two-step
 * put whose node is allocated before the message is taken.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "failmem.h"
#include "hold.h"

static uint8_t *payload(const co_mem_t *mem, uint8_t v, size_t len)
{
    uint8_t *p = co_malloc(mem, len ? len : 1);
    assert_non_null(p);
    memset(p, v, len);
    return p;
}

static void test_fifo_order_and_bytes(void **state)
{
    (void)state;
    failmem_t fm;
    failmem_init(&fm);
    co_hold_t h;
    memset(&h, 0, sizeof h);
    assert_true(co_hold_empty(&h));
    for (uint8_t i = 0; i < 5; i++) {
        size_t len = 100u * i;
        assert_true(co_hold_push(&h, &fm.mem, 10 + i, i,
                                 payload(&fm.mem, i, len), len));
    }
    assert_int_equal(h.count, 5);
    assert_int_equal(h.bytes, 1000 + 5 * CO_HOLD_OVERHEAD);
    for (uint8_t i = 0; i < 5; i++) {
        assert_int_equal(h.head->seq, 10 + i);
        assert_int_equal(h.head->cls, i);
        uint8_t *d;
        size_t len;
        co_hold_pop(&h, &fm.mem, &d, &len);
        assert_int_equal(len, 100u * i);
        for (size_t k = 0; k < len; k++)
            assert_int_equal(d[k], i);
        co_free(&fm.mem, d);
    }
    assert_true(co_hold_empty(&h));
    assert_int_equal(h.bytes, 0);
    assert_null(h.tail);
    assert_int_equal(fm.live, 0);
}

/* An empty hold takes a message larger than the bound; a full one not. */
static void test_bound(void **state)
{
    (void)state;
    co_hold_t h;
    memset(&h, 0, sizeof h);
    const co_mem_t *mem = co_mem_libc();
    assert_true(co_hold_fits(&h, 1 << 20, 1000));
    assert_true(co_hold_push(&h, mem, 1, 0, payload(mem, 1, 500), 500));
    size_t room = 1000 - 500 - 2 * CO_HOLD_OVERHEAD;
    assert_true(co_hold_fits(&h, room, 1000));
    assert_false(co_hold_fits(&h, room + 1, 1000));
    co_hold_clear(&h, mem);
    assert_true(co_hold_empty(&h));
    assert_int_equal(h.count, 0);
}

/* Out of memory: push says so and leaves data to the caller; the node
 * of the two-step form is the only allocation, so put cannot fail. */
static void test_node_first(void **state)
{
    (void)state;
    failmem_t fm;
    failmem_init(&fm);
    co_hold_t h;
    memset(&h, 0, sizeof h);
    uint8_t *d = payload(&fm.mem, 7, 10);
    fm.fail_at = fm.calls + 1;
    assert_false(co_hold_push(&h, &fm.mem, 1, 0, d, 10));
    assert_true(co_hold_empty(&h));
    fm.fail_at = fm.calls + 1;
    assert_null(co_hold_node(&fm.mem));
    co_held_t *node = co_hold_node(&fm.mem);
    assert_non_null(node);
    uint64_t calls = fm.calls;
    co_hold_put(&h, node, 2, 1, d, 10);
    co_hold_put(&h, co_hold_node(&fm.mem), 3, 2, NULL, 0);
    assert_int_equal(fm.calls, calls + 1); /* put itself allocates nothing */
    assert_int_equal(h.count, 2);
    assert_int_equal(h.head->seq, 2);
    assert_int_equal(h.tail->seq, 3);
    co_hold_clear(&h, &fm.mem);
    assert_int_equal(fm.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_order_and_bytes),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_node_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
