/*
 * test_hold.c - a sender's messages waiting for the total order
 * (src/core/hold.c): order, byte accounting, the bound, the ring growing
 * across its wrap, and the reserved place that lets a put never fail.
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
    assert_null(co_hold_head(&h));
    for (uint8_t i = 0; i < 5; i++) {
        size_t len = 100u * i;
        assert_true(co_hold_put(&h, &fm.mem, false, 10 + i, i,
                                payload(&fm.mem, i, len), len));
    }
    assert_int_equal(h.count, 5);
    assert_int_equal(h.bytes, 1000 + 5 * CO_HOLD_OVERHEAD);
    for (uint8_t i = 0; i < 5; i++) {
        assert_int_equal(co_hold_head(&h)->seq, 10 + i);
        assert_int_equal(co_hold_head(&h)->cls, i);
        uint8_t *d;
        size_t len;
        co_hold_pop(&h, &d, &len);
        assert_int_equal(len, 100u * i);
        for (size_t k = 0; k < len; k++)
            assert_int_equal(d[k], i);
        co_free(&fm.mem, d);
    }
    assert_true(co_hold_empty(&h));
    assert_int_equal(h.bytes, 0);
    co_hold_free(&h, &fm.mem);
    assert_int_equal(fm.live, 0);
}

/* Puts and pops interleaved so the ring wraps, then grows while wrapped:
 * the order survives every move. */
static void test_ring_wraps_and_grows(void **state)
{
    (void)state;
    failmem_t fm;
    failmem_init(&fm);
    co_hold_t h;
    memset(&h, 0, sizeof h);
    uint64_t next_in = 1, next_out = 1;
    for (int round = 0; round < 200; round++) {
        int puts = 3 + round % 7, pops = 2 + round % 5;
        for (int k = 0; k < puts; k++)
            assert_true(co_hold_put(&h, &fm.mem, false, next_in++, 1, NULL, 0));
        for (int k = 0; k < pops && !co_hold_empty(&h); k++) {
            assert_int_equal(co_hold_head(&h)->seq, next_out++);
            uint8_t *d;
            size_t len;
            co_hold_pop(&h, &d, &len);
            assert_null(d);
        }
        assert_int_equal(h.count, next_in - next_out);
        assert_true(h.cap >= h.count && (h.cap & (h.cap - 1)) == 0);
    }
    assert_true(h.cap > 16); /* it grew, several times */
    while (!co_hold_empty(&h)) {
        assert_int_equal(co_hold_head(&h)->seq, next_out++);
        uint8_t *d;
        size_t len;
        co_hold_pop(&h, &d, &len);
    }
    assert_int_equal(next_out, next_in);
    co_hold_free(&h, &fm.mem);
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
    assert_true(co_hold_put(&h, mem, false, 1, 0, payload(mem, 1, 500), 500));
    size_t room = 1000 - 500 - 2 * CO_HOLD_OVERHEAD;
    assert_true(co_hold_fits(&h, room, 1000));
    assert_false(co_hold_fits(&h, room + 1, 1000));
    co_hold_clear(&h, mem);
    assert_true(co_hold_empty(&h));
    assert_int_equal(h.count, 0);
    co_hold_free(&h, mem);
}

/* Out of memory: a put with no place reserved says so and leaves data to
 * the caller; a reserved place is the only allocation, so a put into it
 * allocates nothing and cannot fail, even when the ring must be full. */
static void test_reserve_first(void **state)
{
    (void)state;
    failmem_t fm;
    failmem_init(&fm);
    co_hold_t h;
    memset(&h, 0, sizeof h);
    uint8_t *d = payload(&fm.mem, 7, 10);
    fm.fail_at = fm.calls + 1;
    assert_false(co_hold_put(&h, &fm.mem, false, 1, 0, d, 10));
    assert_true(co_hold_empty(&h));
    fm.fail_at = fm.calls + 1;
    assert_false(co_hold_reserve(&h, &fm.mem));
    assert_int_equal(h.reserved, 0);
    /* Fill the first ring exactly with reservations, one more grows it. */
    for (int i = 0; i < 16; i++)
        assert_true(co_hold_reserve(&h, &fm.mem));
    size_t cap = h.cap;
    assert_int_equal(cap, 16);
    assert_true(co_hold_reserve(&h, &fm.mem));
    assert_true(h.cap > cap);
    co_hold_unreserve(&h);
    assert_int_equal(h.reserved, 16);
    uint64_t calls = fm.calls;
    fm.fail_at = fm.calls + 1; /* any allocation now would fail */
    assert_true(co_hold_put(&h, &fm.mem, true, 2, 1, d, 10));
    for (uint64_t s = 3; s < 18; s++)
        assert_true(co_hold_put(&h, &fm.mem, true, s, 2, NULL, 0));
    assert_int_equal(fm.calls, calls); /* put itself allocated nothing */
    assert_int_equal(h.reserved, 0);
    assert_int_equal(h.count, 16);
    assert_int_equal(co_hold_head(&h)->seq, 2);
    fm.fail_at = 0;
    /* A put with no place of its own never takes one promised to
     * another: with every free place of the ring promised, such a put
     * must grow the ring, and fails when it cannot. */
    while (h.count + h.reserved < h.cap)
        assert_true(co_hold_reserve(&h, &fm.mem));
    size_t promised = h.reserved;
    fm.fail_at = fm.calls + 1;
    assert_false(co_hold_put(&h, &fm.mem, false, 99, 3, NULL, 0));
    assert_int_equal(h.reserved, promised);
    assert_true(co_hold_put(&h, &fm.mem, false, 99, 3, NULL, 0)); /* grows */
    assert_int_equal(h.reserved, promised);
    while (h.reserved > 0)
        co_hold_unreserve(&h);
    /* Clearing keeps the ring and any promise still out. */
    assert_true(co_hold_reserve(&h, &fm.mem));
    co_hold_clear(&h, &fm.mem);
    assert_int_equal(h.reserved, 1);
    assert_true(h.cap > 0);
    co_hold_unreserve(&h);
    co_hold_free(&h, &fm.mem);
    assert_int_equal(fm.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_order_and_bytes),
        cmocka_unit_test(test_ring_wraps_and_grows),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_reserve_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
