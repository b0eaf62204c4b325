/*
 * test_rtt.c - the repair round-trip estimate and NACK retry interval
 * (src/core/rtt.c).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rtt.h"

#define MS 1000000ull
#define CEIL (40 * MS)

static void test_no_sample_waits_the_ceiling(void **state)
{
    (void)state;
    co_rtt_t r;
    memset(&r, 0, sizeof r);
    assert_int_equal(co_rtt_retry_ns(&r, CEIL), CEIL);
    assert_int_equal(co_rtt_retry_ns(&r, 3 * MS), 3 * MS);
}

static void test_first_sample(void **state)
{
    (void)state;
    co_rtt_t r;
    memset(&r, 0, sizeof r);
    co_rtt_arm(&r, 7, 100 * MS);
    assert_int_equal(r.probe_seq, 7);
    /* Another record is not the probe's. */
    assert_false(co_rtt_arrived(&r, 8, true, 101 * MS, CEIL));
    assert_true(co_rtt_arrived(&r, 7, true, 102 * MS, CEIL));
    assert_int_equal(r.srtt_ns, 2 * MS);
    assert_int_equal(r.probe_seq, 0);
    assert_int_equal(co_rtt_retry_ns(&r, CEIL), 2 * MS);
    /* The mean moves an eighth of the way to each new sample. */
    co_rtt_arm(&r, 9, 200 * MS);
    assert_true(co_rtt_arrived(&r, 9, true, 210 * MS, CEIL));
    assert_int_equal(r.srtt_ns, 3 * MS);
    /* The same record again (a duplicate repair) is no second sample. */
    assert_false(co_rtt_arrived(&r, 7, true, 213 * MS, CEIL));
    assert_int_equal(r.samples, 2);
}

static void test_one_probe_at_a_time(void **state)
{
    (void)state;
    co_rtt_t r;
    memset(&r, 0, sizeof r);
    co_rtt_arm(&r, 5, 10 * MS);
    co_rtt_arm(&r, 9, 11 * MS); /* ignored: 5 is being timed */
    assert_int_equal(r.probe_seq, 5);
    assert_int_equal(r.probe_ns, 10 * MS);
    co_rtt_arm(&r, 0, 12 * MS);
    assert_int_equal(r.probe_seq, 5);
}

/* Karn's rule: the original arriving late, a second ask, or the record
 * given up end the probe without a sample. */
static void test_no_sample_without_a_clean_repair(void **state)
{
    (void)state;
    co_rtt_t r;
    memset(&r, 0, sizeof r);
    co_rtt_arm(&r, 5, 10 * MS);
    assert_false(co_rtt_arrived(&r, 5, false, 11 * MS, CEIL));
    assert_int_equal(r.probe_seq, 0);
    co_rtt_arm(&r, 6, 12 * MS);
    co_rtt_asked_again(&r, 6);
    assert_false(co_rtt_arrived(&r, 6, true, 13 * MS, CEIL));
    co_rtt_arm(&r, 8, 14 * MS);
    co_rtt_passed(&r, 8); /* 8 still wanted */
    assert_int_equal(r.probe_seq, 8);
    co_rtt_passed(&r, 9); /* skipped past it */
    assert_int_equal(r.probe_seq, 0);
    assert_int_equal(r.samples, 0);
    assert_int_equal(co_rtt_retry_ns(&r, CEIL), CEIL);
    /* A clock that went back is no sample either. */
    co_rtt_arm(&r, 10, 20 * MS);
    assert_false(co_rtt_arrived(&r, 10, true, 19 * MS, CEIL));
    assert_int_equal(r.samples, 0);
}

static void test_sample_capped_and_bounds(void **state)
{
    (void)state;
    co_rtt_t r;
    memset(&r, 0, sizeof r);
    co_rtt_arm(&r, 1, 0);
    assert_true(co_rtt_arrived(&r, 1, true, 10000 * MS, CEIL));
    assert_int_equal(r.srtt_ns, CEIL);
    assert_int_equal(co_rtt_retry_ns(&r, CEIL), CEIL);
    /* Steady fast repairs: the interval comes down to the floor, never
     * below it, and never below twice the sender's hold-off. */
    for (uint64_t s = 2; s < 200; s++) {
        co_rtt_arm(&r, s, s * MS);
        assert_true(co_rtt_arrived(&r, s, true, s * MS + 100000, CEIL));
        assert_true(co_rtt_retry_ns(&r, CEIL) >= CO_RTT_FLOOR_NS);
        assert_true(co_rtt_retry_ns(&r, CEIL) >= 2 * co_rtt_hold_ns(CEIL));
    }
    assert_int_equal(co_rtt_retry_ns(&r, CEIL), CO_RTT_FLOOR_NS);
    assert_true(r.srtt_ns < 200000);
    /* A ceiling under the floor wins (nack_retry_ns may be 100 us). */
    assert_int_equal(co_rtt_retry_ns(&r, 100000), 100000);
    assert_int_equal(co_rtt_hold_ns(100000), 50000);
    /* A zero-time sample still counts as a sample. */
    co_rtt_t z;
    memset(&z, 0, sizeof z);
    co_rtt_arm(&z, 3, 5 * MS);
    assert_true(co_rtt_arrived(&z, 3, true, 5 * MS, CEIL));
    assert_int_equal(co_rtt_retry_ns(&z, CEIL), CO_RTT_FLOOR_NS);
}

/* A jump in the repair time raises the interval within a few samples. */
static void test_follows_a_slower_path(void **state)
{
    (void)state;
    co_rtt_t r;
    memset(&r, 0, sizeof r);
    uint64_t now = 0;
    for (uint64_t s = 1; s <= 20; s++, now += 10 * MS) {
        co_rtt_arm(&r, s, now);
        co_rtt_arrived(&r, s, true, now + 2 * MS, CEIL);
    }
    uint64_t fast = co_rtt_retry_ns(&r, CEIL);
    for (uint64_t s = 21; s <= 24; s++, now += 30 * MS) {
        co_rtt_arm(&r, s, now);
        co_rtt_arrived(&r, s, true, now + 20 * MS, CEIL);
    }
    uint64_t slower = co_rtt_retry_ns(&r, CEIL);
    for (uint64_t s = 25; s <= 40; s++, now += 30 * MS) {
        co_rtt_arm(&r, s, now);
        co_rtt_arrived(&r, s, true, now + 20 * MS, CEIL);
    }
    uint64_t slow = co_rtt_retry_ns(&r, CEIL);
    assert_int_equal(fast, 2 * MS);
    assert_true(slower > 8 * MS);   /* four samples: 2 -> 9.5 ms */
    assert_true(slow > 18 * MS && slow <= 20 * MS);
}

/* A sender that stops answering is asked less and less often: each
 * retry round without a retransmission since the previous one doubles
 * the interval, up to the ceiling; one retransmission restores it. */
static void test_backoff_without_answers(void **state)
{
    (void)state;
    co_rtt_t r;
    memset(&r, 0, sizeof r);
    co_rtt_arm(&r, 1, 0);
    assert_true(co_rtt_arrived(&r, 1, true, 2 * MS, CEIL));
    co_rtt_round(&r); /* answered: no backoff */
    assert_int_equal(co_rtt_retry_ns(&r, CEIL), 2 * MS);
    uint64_t want[] = {4 * MS, 8 * MS, 16 * MS, 32 * MS, CEIL, CEIL};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        co_rtt_round(&r);
        assert_int_equal(co_rtt_retry_ns(&r, CEIL), want[i]);
    }
    for (int i = 0; i < 40; i++) /* bounded, never overflows */
        co_rtt_round(&r);
    assert_int_equal(co_rtt_retry_ns(&r, 10000 * MS), 10000 * MS);
    /* Any retransmission is an answer, the probe's or not. */
    assert_false(co_rtt_arrived(&r, 99, true, 3 * MS, CEIL));
    co_rtt_round(&r);
    assert_int_equal(co_rtt_retry_ns(&r, CEIL), 2 * MS);
    /* An original arriving is no answer to a NACK. */
    co_rtt_arrived(&r, 100, false, 4 * MS, CEIL);
    co_rtt_round(&r);
    assert_int_equal(co_rtt_retry_ns(&r, CEIL), 4 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_sample_waits_the_ceiling),
        cmocka_unit_test(test_first_sample),
        cmocka_unit_test(test_one_probe_at_a_time),
        cmocka_unit_test(test_no_sample_without_a_clean_repair),
        cmocka_unit_test(test_sample_capped_and_bounds),
        cmocka_unit_test(test_follows_a_slower_path),
        cmocka_unit_test(test_backoff_without_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
