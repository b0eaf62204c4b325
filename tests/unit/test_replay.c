/*
 * test_replay.c - the anti-replay window (src/core/replay.c).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"
#include "wire.h"

#define W CO_REPLAY_WINDOW_BITS
#define REPLAY CO_DROP(COHORT_DROP_REPLAY)

/* check then commit, as the core does once the datagram has verified. */
static int accept_seq(co_replay_t *w, uint64_t seq)
{
    int rc = co_replay_check(w, seq);
    if (rc == 0)
        co_replay_commit(w, seq);
    return rc;
}

static void test_zero_rejected(void **state)
{
    (void)state;
    co_replay_t w;
    co_replay_init(&w);
    assert_int_equal(co_replay_check(&w, 0), REPLAY);
    assert_int_equal(co_replay_top(&w), 0);
    assert_int_equal(accept_seq(&w, 5), 0);
    assert_int_equal(co_replay_check(&w, 0), REPLAY);
}

static void test_in_order(void **state)
{
    (void)state;
    co_replay_t w;
    co_replay_init(&w);
    for (uint64_t s = 1; s <= 3 * W; s++) {
        assert_int_equal(accept_seq(&w, s), 0);
        assert_int_equal(co_replay_top(&w), s);
        assert_int_equal(co_replay_check(&w, s), REPLAY);
    }
}

/* check alone never changes the window. */
static void test_check_is_pure(void **state)
{
    (void)state;
    co_replay_t w, copy;
    co_replay_init(&w);
    assert_int_equal(accept_seq(&w, 10), 0);
    memcpy(&copy, &w, sizeof w);
    assert_int_equal(co_replay_check(&w, 11), 0);
    assert_int_equal(co_replay_check(&w, 11), 0);
    assert_int_equal(co_replay_check(&w, 5), 0);
    assert_memory_equal(&w, &copy, sizeof w);
}

static void test_out_of_order_within_window(void **state)
{
    (void)state;
    co_replay_t w;
    co_replay_init(&w);
    assert_int_equal(accept_seq(&w, 100), 0);
    /* Everything below it, down to the window's edge, is still fresh. */
    for (uint64_t s = 99; s >= 1; s--)
        assert_int_equal(accept_seq(&w, s), 0);
    for (uint64_t s = 1; s <= 100; s++)
        assert_int_equal(co_replay_check(&w, s), REPLAY);
    /* Odd ones first, then the even ones they skipped. */
    for (uint64_t s = 201; s <= 400; s += 2)
        assert_int_equal(accept_seq(&w, s), 0);
    for (uint64_t s = 200; s <= 400; s += 2)
        assert_int_equal(accept_seq(&w, s), 0);
    assert_int_equal(co_replay_top(&w), 400);
}

static void test_duplicates(void **state)
{
    (void)state;
    co_replay_t w;
    co_replay_init(&w);
    assert_int_equal(accept_seq(&w, 1), 0);
    assert_int_equal(accept_seq(&w, 1), REPLAY);
    assert_int_equal(accept_seq(&w, 3), 0);
    assert_int_equal(accept_seq(&w, 3), REPLAY);
    assert_int_equal(accept_seq(&w, 2), 0);
    assert_int_equal(accept_seq(&w, 2), REPLAY);
    assert_int_equal(accept_seq(&w, 1), REPLAY);
}

static void test_too_old(void **state)
{
    (void)state;
    co_replay_t w;
    co_replay_init(&w);
    uint64_t top = 10 * W + 17;
    assert_int_equal(accept_seq(&w, top), 0);
    /* The window is (top - W, top]. */
    assert_int_equal(co_replay_check(&w, top - W), REPLAY);
    assert_int_equal(co_replay_check(&w, top - W - 1), REPLAY);
    assert_int_equal(co_replay_check(&w, 1), REPLAY);
    assert_int_equal(accept_seq(&w, top - W + 1), 0);
    assert_int_equal(accept_seq(&w, top - 1), 0);
    /* One step ahead pushes the oldest slot out. */
    assert_int_equal(accept_seq(&w, top + 1), 0);
    assert_int_equal(co_replay_check(&w, top - W + 1), REPLAY);
    assert_int_equal(co_replay_check(&w, top - W + 2), 0);
}

static void test_huge_jumps(void **state)
{
    (void)state;
    co_replay_t w;
    co_replay_init(&w);
    for (uint64_t s = 1; s <= 50; s++)
        assert_int_equal(accept_seq(&w, s), 0);
    uint64_t far = (uint64_t)1 << 40;
    assert_int_equal(accept_seq(&w, far), 0);
    /* Bits left by 1..50 must not make far-W+1..far-1 look seen. */
    for (uint64_t s = far - W + 1; s < far; s++)
        assert_int_equal(co_replay_check(&w, s), 0);
    assert_int_equal(co_replay_check(&w, 50), REPLAY);
    assert_int_equal(co_replay_check(&w, far), REPLAY);
    /* Near the end of the seq space. */
    assert_int_equal(accept_seq(&w, UINT64_MAX - 1), 0);
    assert_int_equal(accept_seq(&w, UINT64_MAX), 0);
    assert_int_equal(co_replay_check(&w, UINT64_MAX), REPLAY);
    assert_int_equal(accept_seq(&w, UINT64_MAX - 2), 0);
    assert_int_equal(co_replay_check(&w, far), REPLAY);
}

/* Jumps shorter than the window, across word and bitmap boundaries:
 * slots reused by the new seqs must start clear. */
static void test_bitmap_wrap(void **state)
{
    (void)state;
    co_replay_t w;
    co_replay_init(&w);
    for (uint64_t s = 1; s <= W; s++)
        assert_int_equal(accept_seq(&w, s), 0);
    /* Slot of W+k held k until now. */
    const uint64_t jumps[] = {1, 63, 64, 65, 127, W / 2, W - 1, 3, W};
    uint64_t top = W;
    for (size_t j = 0; j < sizeof jumps / sizeof jumps[0]; j++) {
        uint64_t next = top + jumps[j];
        for (uint64_t s = top + 1; s < next; s++)
            assert_int_equal(co_replay_check(&w, s), 0);
        assert_int_equal(accept_seq(&w, next), 0);
        for (uint64_t s = top + 1; s < next; s++)
            assert_int_equal(co_replay_check(&w, s), 0);
        /* Committed seqs still in the window stay rejected. */
        if (next - top < W)
            assert_int_equal(co_replay_check(&w, top), REPLAY);
        top = next;
    }
}

/* Random walk against a plain model: every seq up to LIMIT remembered. */
#define LIMIT (4 * W)

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_against_model(void **state)
{
    (void)state;
    static uint8_t seen[LIMIT + 1];
    memset(seen, 0, sizeof seen);
    co_replay_t w;
    co_replay_init(&w);
    uint64_t x = 0x9E3779B97F4A7C15ULL, top = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t r = xorshift(&x);
        /* Mostly near the top, sometimes behind, sometimes ahead. */
        int64_t delta = (int64_t)(r % (W + 400)) - (int64_t)W;
        if (r % 53 == 0)
            delta = (int64_t)(r % (2 * W));
        int64_t t = (int64_t)top + delta;
        if (t < 0 || t > LIMIT)
            continue;
        uint64_t s = (uint64_t)t;
        int fresh = s != 0 && !seen[s] && (s > top || top - s < W);
        int rc = accept_seq(&w, s);
        assert_int_equal(rc, fresh ? 0 : REPLAY);
        if (fresh) {
            seen[s] = 1;
            if (s > top)
                top = s;
        }
        assert_int_equal(co_replay_top(&w), top);
    }
    assert_true(top > W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_rejected),
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_check_is_pure),
        cmocka_unit_test(test_out_of_order_within_window),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_too_old),
        cmocka_unit_test(test_huge_jumps),
        cmocka_unit_test(test_bitmap_wrap),
        cmocka_unit_test(test_against_model),
    };
    return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}
