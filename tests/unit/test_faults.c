/*
 * test_faults.c - the fault-injection spec parser and lanes (src/io/faults.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "faults.h"

#define SLOT_BYTES 64
#define MS_NS 1000000ULL

static void expect_rates(const co_fault_rates_t *r, double drop, double dup,
                         double reorder)
{
    assert_true(r->drop == drop);
    assert_true(r->dup == dup);
    assert_true(r->reorder == reorder);
}

static void test_parse_empty(void **state)
{
    (void)state;
    co_faults_spec_t s;
    char why[128] = "";
    assert_int_equal(co_faults_parse(NULL, &s, why, sizeof why), 0);
    assert_false(co_faults_active(&s, CO_FAULT_TX));
    assert_false(co_faults_active(&s, CO_FAULT_RX));
    assert_int_equal(co_faults_parse("", &s, why, sizeof why), 0);
    assert_false(co_faults_active(&s, CO_FAULT_TX));
    assert_false(s.has_seed);
}

static void test_parse_both_directions(void **state)
{
    (void)state;
    co_faults_spec_t s;
    char why[128] = "";
    assert_int_equal(co_faults_parse("drop=0.1,dup=0.01,reorder=0.05,seed=7",
                                     &s, why, sizeof why),
                     0);
    expect_rates(&s.rate[CO_FAULT_TX], 0.1, 0.01, 0.05);
    expect_rates(&s.rate[CO_FAULT_RX], 0.1, 0.01, 0.05);
    assert_true(s.has_seed);
    assert_int_equal(s.seed, 7);
    assert_true(co_faults_active(&s, CO_FAULT_TX));
    assert_true(co_faults_active(&s, CO_FAULT_RX));
}

static void test_parse_directional_wins(void **state)
{
    (void)state;
    co_faults_spec_t s;
    char why[128] = "";
    /* The directional key wins whatever the order. */
    assert_int_equal(co_faults_parse("rx_drop=0.5,drop=0.25", &s, why,
                                     sizeof why),
                     0);
    expect_rates(&s.rate[CO_FAULT_TX], 0.25, 0, 0);
    expect_rates(&s.rate[CO_FAULT_RX], 0.5, 0, 0);
    assert_int_equal(co_faults_parse("tx_dup=1,rx_reorder=.5,tx_reorder=0",
                                     &s, why, sizeof why),
                     0);
    expect_rates(&s.rate[CO_FAULT_TX], 0, 1, 0);
    expect_rates(&s.rate[CO_FAULT_RX], 0, 0, 0.5);
    assert_true(co_faults_active(&s, CO_FAULT_TX));
    assert_false(s.has_seed);
    assert_int_equal(co_faults_parse("tx_drop=1.0,seed=18446744073709551615",
                                     &s, why, sizeof why),
                     0);
    assert_false(co_faults_active(&s, CO_FAULT_RX));
    assert_true(s.seed == UINT64_MAX);
    assert_int_equal(co_faults_parse("drop=0,seed=0", &s, why, sizeof why), 0);
    assert_false(co_faults_active(&s, CO_FAULT_TX));
    assert_true(s.has_seed);
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "drop",          "drop=",          "=0.1",
        "drop=1.5",      "drop=-0.1",      "drop=+0.1",
        "drop=0.1x",     "drop= 0.1",      " drop=0.1",
        "drop=0.1 ",     "drop=0.1,",      ",drop=0.1",
        "drop=0.1,,dup=0.1", "bogus=1",    "DROP=0.1",
        "drop=0.1,drop=0.2", "seed=abc",   "seed=-1",
        "seed=18446744073709551616",       "seed=",
        "drop=1e-1",     "drop=nan",       "drop=inf",
        "drop=0x1",      "drop=.",         "rx_drop=2",
        "drop=0.1;dup=0.1", "tx=0.1",      "drop=0.5=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        co_faults_spec_t s;
        char why[160] = "";
        int rc = co_faults_parse(bad[i], &s, why, sizeof why);
        if (rc != COHORT_ERR_INVAL)
            fail_msg("spec '%s' accepted", bad[i]);
        assert_true(strncmp(why, "faults:", 7) == 0);
    }
    char longspec[CO_FAULTS_SPEC_MAX + 16];
    memset(longspec, 'x', sizeof longspec - 1);
    longspec[sizeof longspec - 1] = '\0';
    co_faults_spec_t s;
    char why[160] = "";
    assert_int_equal(co_faults_parse(longspec, &s, why, sizeof why),
                     COHORT_ERR_INVAL);
    assert_non_null(strstr(why, "longer"));
    /* A NULL why is allowed. */
    assert_int_equal(co_faults_parse("nope", &s, NULL, 0), COHORT_ERR_INVAL);
}

static co_fault_dgram_t dgram_of(uint8_t *buf, uint32_t id)
{
    co_fault_dgram_t d;
    memset(&d, 0, sizeof d);
    memcpy(buf, &id, sizeof id);
    d.data = buf;
    d.len = sizeof id;
    d.kind = (int)(id & 1);
    d.addr.len = 1;
    d.addr.bytes[0] = (uint8_t)id;
    return d;
}

static uint32_t id_of(const co_fault_dgram_t *d)
{
    uint32_t id;
    assert_int_equal(d->len, sizeof id);
    memcpy(&id, d->data, sizeof id);
    assert_int_equal(d->kind, (int)(id & 1));
    assert_int_equal(d->addr.bytes[0], (uint8_t)id);
    return id;
}

/* Run n datagrams through a lane at 0.5 ms intervals, writing the order in
 * which they come out (and how many times) into out[]; returns its length.
 * Everything still held is forced out at the end. */
static size_t run_lane(co_fault_lane_t *lane, uint32_t n, uint32_t *out,
                       size_t out_cap)
{
    size_t k = 0;
    uint8_t buf[SLOT_BYTES];
    uint64_t now = 1000;
    co_fault_dgram_t h;
    for (uint32_t id = 0; id < n; id++, now += MS_NS / 2) {
        co_fault_dgram_t d = dgram_of(buf, id);
        unsigned copies = co_fault_admit(lane, now, &d);
        assert_true(copies <= 2);
        for (unsigned c = 0; c < copies && k < out_cap; c++)
            out[k++] = id;
        while (k < out_cap && co_fault_release(lane, now, false, &h))
            out[k++] = id_of(&h);
        assert_true(co_fault_held_count(lane) <= CO_FAULTS_HOLD_MAX);
    }
    for (size_t i = 0; i < CO_FAULTS_HOLD_MAX + 1 && k < out_cap &&
                       co_fault_release(lane, now, true, &h);
         i++)
        out[k++] = id_of(&h);
    assert_int_equal(co_fault_held_count(lane), 0);
    return k;
}

static void test_determinism(void **state)
{
    (void)state;
    co_fault_rates_t r = {.drop = 0.1, .dup = 0.1, .reorder = 0.2};
    enum { N = 2000, CAP = 2 * N };
    static uint32_t a[CAP], b[CAP], c[CAP];
    co_fault_lane_t la, lb, lc;
    assert_int_equal(co_fault_lane_init(&la, &r, 99, SLOT_BYTES), 0);
    assert_int_equal(co_fault_lane_init(&lb, &r, 99, SLOT_BYTES), 0);
    assert_int_equal(co_fault_lane_init(&lc, &r, 100, SLOT_BYTES), 0);
    size_t na = run_lane(&la, N, a, CAP);
    size_t nb = run_lane(&lb, N, b, CAP);
    size_t nc = run_lane(&lc, N, c, CAP);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof a[0]);
    assert_int_equal(la.dropped, lb.dropped);
    assert_int_equal(la.duplicated, lb.duplicated);
    assert_int_equal(la.reordered, lb.reordered);
    /* Another seed, other decisions. */
    assert_true(na != nc || memcmp(a, c, na * sizeof a[0]) != 0);
    co_fault_lane_free(&la);
    co_fault_lane_free(&lb);
    co_fault_lane_free(&lc);
}

static void test_rates(void **state)
{
    (void)state;
    co_fault_rates_t r = {.drop = 0.1, .dup = 0.2, .reorder = 0.05};
    enum { N = 100000 };
    static uint32_t out[2 * N];
    co_fault_lane_t lane;
    assert_int_equal(co_fault_lane_init(&lane, &r, 7, SLOT_BYTES), 0);
    size_t k = run_lane(&lane, N, out, 2 * N);
    double kept = (double)(N - lane.dropped);
    assert_in_range(lane.dropped, 9000, 11000);
    /* dup and reorder apply to the datagrams not dropped. */
    assert_true(lane.duplicated > 0.18 * kept && lane.duplicated < 0.22 * kept);
    assert_true(lane.reordered > 0.04 * kept && lane.reordered < 0.06 * kept);
    /* Nothing is lost except the drops, nothing made up beyond the dups. */
    assert_int_equal(k, N - lane.dropped + lane.duplicated);
    co_fault_lane_free(&lane);
}

static void test_no_faults_is_identity(void **state)
{
    (void)state;
    co_fault_rates_t r = {0, 0, 0};
    enum { N = 500 };
    static uint32_t out[N];
    co_fault_lane_t lane;
    assert_int_equal(co_fault_lane_init(&lane, &r, 1, SLOT_BYTES), 0);
    assert_int_equal(run_lane(&lane, N, out, N), N);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(out[i], i);
    co_fault_lane_free(&lane);
}

/* Every datagram held back comes out exactly once, reordered, and none is
 * held longer than the bounds say. */
static void test_reorder_releases_everything(void **state)
{
    (void)state;
    co_fault_rates_t r = {.drop = 0, .dup = 0, .reorder = 1.0};
    enum { N = 1000 };
    static uint32_t out[N];
    static unsigned times[N];
    co_fault_lane_t lane;
    assert_int_equal(co_fault_lane_init(&lane, &r, 3, SLOT_BYTES), 0);
    size_t k = run_lane(&lane, N, out, N);
    assert_int_equal(k, N);
    memset(times, 0, sizeof times);
    size_t out_of_order = 0;
    for (size_t i = 0; i < k; i++) {
        assert_true(out[i] < N);
        times[out[i]]++;
        out_of_order += i > 0 && out[i] < out[i - 1];
        /* Released after at most HOLD_AFTER_MAX later ones, plus slots. */
        long lag = (long)i - (long)out[i];
        assert_true(lag <= CO_FAULTS_HOLD_AFTER_MAX + CO_FAULTS_HOLD_MAX);
    }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(times[i], 1);
    assert_true(out_of_order > 0);
    co_fault_lane_free(&lane);
}

static void test_release_by_time(void **state)
{
    (void)state;
    co_fault_rates_t r = {.drop = 0, .dup = 0, .reorder = 1.0};
    co_fault_lane_t lane;
    uint8_t buf[SLOT_BYTES];
    co_fault_dgram_t h;
    assert_int_equal(co_fault_lane_init(&lane, &r, 11, SLOT_BYTES), 0);
    assert_true(co_fault_deadline(&lane) == UINT64_MAX);
    co_fault_dgram_t d = dgram_of(buf, 42);
    uint64_t now = 5 * MS_NS;
    assert_int_equal(co_fault_admit(&lane, now, &d), 0);
    assert_int_equal(co_fault_held_count(&lane), 1);
    uint64_t due = co_fault_deadline(&lane);
    assert_true(due > now && due <= now + CO_FAULTS_HOLD_MAX_NS + 1);
    assert_false(co_fault_release(&lane, now, false, &h));
    /* No later datagram came: the time bound alone lets it go. */
    assert_true(co_fault_release(&lane, due, false, &h));
    assert_int_equal(id_of(&h), 42);
    assert_true(co_fault_deadline(&lane) == UINT64_MAX);
    assert_false(co_fault_release(&lane, due, true, &h));
    co_fault_lane_free(&lane);
}

/* With every slot busy the lane passes datagrams through rather than hold
 * more than it can. */
static void test_hold_is_bounded(void **state)
{
    (void)state;
    co_fault_rates_t r = {.drop = 0, .dup = 0, .reorder = 1.0};
    co_fault_lane_t lane;
    uint8_t buf[SLOT_BYTES];
    assert_int_equal(co_fault_lane_init(&lane, &r, 5, SLOT_BYTES), 0);
    unsigned passed = 0;
    for (uint32_t id = 0; id < 3 * CO_FAULTS_HOLD_MAX; id++) {
        co_fault_dgram_t d = dgram_of(buf, id);
        passed += co_fault_admit(&lane, 0, &d);
        assert_true(co_fault_held_count(&lane) <= CO_FAULTS_HOLD_MAX);
    }
    assert_int_equal(co_fault_held_count(&lane), CO_FAULTS_HOLD_MAX);
    assert_int_equal(passed, 2 * CO_FAULTS_HOLD_MAX);
    co_fault_lane_free(&lane);
    co_fault_lane_free(&lane); /* freeing twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_both_directions),
        cmocka_unit_test(test_parse_directional_wins),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_no_faults_is_identity),
        cmocka_unit_test(test_reorder_releases_everything),
        cmocka_unit_test(test_release_by_time),
        cmocka_unit_test(test_hold_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
