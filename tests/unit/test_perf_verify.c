/*
 * test_perf_verify.c - cohort-perf's receive-side checks
 * (tools/perf_verify.c): a sequence tells in-order, gaps, late arrivals,
 * duplicates and numbers older than the window apart; a stamped message
 * passes its check and any change to it (sample, filler on a full-check
 * number, header field, length) fails it, at every size from the bare
 * header up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perf_verify.h"

#define HDR 32u

static struct perf_seq g_seq;

static void test_in_order(void **state)
{
    (void)state;
    memset(&g_seq, 0, sizeof g_seq);
    for (uint64_t i = 0; i < 3 * PERF_VERIFY_WINDOW; i++)
        assert_int_equal(perf_seq_take(&g_seq, i), PERF_SEQ_NEXT);
    assert_int_equal(g_seq.unique, 3 * PERF_VERIFY_WINDOW);
    assert_int_equal(g_seq.next, 3 * PERF_VERIFY_WINDOW);
    assert_int_equal(g_seq.dups + g_seq.late, 0);
    /* Every number still in the window is a duplicate. */
    assert_int_equal(perf_seq_take(&g_seq, g_seq.next - 1), PERF_SEQ_DUP);
    assert_int_equal(perf_seq_take(&g_seq, g_seq.next - PERF_VERIFY_WINDOW),
                     PERF_SEQ_DUP);
    assert_int_equal(perf_seq_take(&g_seq,
                                   g_seq.next - PERF_VERIFY_WINDOW - 1),
                     PERF_SEQ_OLD);
    assert_int_equal(g_seq.dups, 2);
    assert_int_equal(g_seq.late, 1);
    assert_int_equal(g_seq.unique, 3 * PERF_VERIFY_WINDOW);
}

static void test_gap_late_dup(void **state)
{
    (void)state;
    memset(&g_seq, 0, sizeof g_seq);
    assert_int_equal(perf_seq_take(&g_seq, 0), PERF_SEQ_NEXT);
    assert_int_equal(perf_seq_take(&g_seq, 5), PERF_SEQ_JUMP);   /* 1-4 */
    assert_int_equal(perf_seq_take(&g_seq, 3), PERF_SEQ_LATE);
    assert_int_equal(perf_seq_take(&g_seq, 3), PERF_SEQ_DUP);
    assert_int_equal(perf_seq_take(&g_seq, 5), PERF_SEQ_DUP);
    assert_int_equal(perf_seq_take(&g_seq, 6), PERF_SEQ_NEXT);
    assert_int_equal(g_seq.unique, 4);        /* 0 3 5 6 */
    assert_int_equal(g_seq.next - g_seq.unique, 3);   /* 1 2 4 missing */
    assert_int_equal(g_seq.dups, 2);
    assert_int_equal(g_seq.late, 1);
}

/* A jump wider than the window forgets all of it: what was set before is
 * not taken for a duplicate of a number a window later. */
static void test_wide_jump(void **state)
{
    (void)state;
    memset(&g_seq, 0, sizeof g_seq);
    for (uint64_t i = 0; i < 100; i++)
        (void)perf_seq_take(&g_seq, i);
    assert_int_equal(perf_seq_take(&g_seq, 100 + 2 * PERF_VERIFY_WINDOW),
                     PERF_SEQ_JUMP);
    /* 99 + window is in the window now and missing: late, not dup. */
    assert_int_equal(perf_seq_take(&g_seq, 99 + 2 * PERF_VERIFY_WINDOW),
                     PERF_SEQ_LATE);
    assert_int_equal(perf_seq_take(&g_seq, 50 + 2 * PERF_VERIFY_WINDOW),
                     PERF_SEQ_LATE);
    assert_int_equal(g_seq.dups, 0);
    /* A jump of a few words clears whole words and loose bits alike. */
    memset(&g_seq, 0, sizeof g_seq);
    for (uint64_t i = 0; i < 2 * PERF_VERIFY_WINDOW; i++)
        (void)perf_seq_take(&g_seq, i);
    assert_int_equal(perf_seq_take(&g_seq, g_seq.next + 200), PERF_SEQ_JUMP);
    for (uint64_t i = g_seq.next - 201; i < g_seq.next - 1; i++)
        assert_int_equal(perf_seq_take(&g_seq, i), PERF_SEQ_LATE);
    assert_int_equal(g_seq.dups, 0);
}

static uint8_t *stamped(size_t len, uint64_t seq, uint64_t *sum)
{
    uint8_t *m = malloc(len);
    assert_non_null(m);
    memset(m, PERF_VERIFY_FILL, len);
    memset(m, 0x11, HDR);                     /* a header, unchecked here */
    *sum = perf_verify_stamp(m, len, HDR, 7, 2, seq);
    return m;
}

static void test_checksum_sizes(void **state)
{
    static const size_t sizes[] = { 32, 33, 40, 47, 48, 49, 63, 64, 65, 100,
                                    1000, 8000 };
    (void)state;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len = sizes[i];
        for (uint64_t seq = 0; seq < 130; seq += 64) {   /* 0, 64, 128: full */
            uint64_t sum;
            uint8_t *m = stamped(len, seq, &sum);
            assert_int_equal(perf_verify_check(m, len, HDR, len, 7, 2, seq,
                                               sum), 0);
            assert_int_equal(perf_verify_check(m, len, HDR, 0, 7, 2, seq,
                                               sum), 0);
            /* header fields and length */
            assert_int_equal(perf_verify_check(m, len, HDR, len, 7, 2,
                                               seq + 1, sum), -1);
            assert_int_equal(perf_verify_check(m, len, HDR, len, 8, 2, seq,
                                               sum), -1);
            assert_int_equal(perf_verify_check(m, len, HDR, len, 7, 3, seq,
                                               sum), -1);
            assert_int_equal(perf_verify_check(m, len, HDR, len, 7, 2, seq,
                                               sum ^ 1), -1);
            assert_int_equal(perf_verify_check(m, len, HDR, len + 1, 7, 2,
                                               seq, sum), -1);
            /* every payload byte matters on a full-check number */
            for (size_t b = HDR; b < len; b++) {
                m[b] ^= 0x40;
                assert_int_equal(perf_verify_check(m, len, HDR, len, 7, 2,
                                                   seq, sum), -1);
                m[b] ^= 0x40;
            }
            free(m);
        }
    }
}

/* Between full checks only the samples are read: the middle of the
 * filler may differ unseen (that is the price of a cheap check), the two
 * ends may not. */
static void test_sample_only(void **state)
{
    uint64_t sum;
    uint8_t *m = stamped(1000, 5, &sum);
    (void)state;
    m[500] ^= 1;
    assert_int_equal(perf_verify_check(m, 1000, HDR, 1000, 7, 2, 5, sum), 0);
    m[HDR] ^= 1;
    assert_int_equal(perf_verify_check(m, 1000, HDR, 1000, 7, 2, 5, sum), -1);
    m[HDR] ^= 1;
    m[999] ^= 1;
    assert_int_equal(perf_verify_check(m, 1000, HDR, 1000, 7, 2, 5, sum), -1);
    free(m);
    /* Another number's stamp is not this one's. */
    {
        uint64_t s6;
        uint8_t *a = stamped(1000, 6, &s6);
        assert_int_equal(perf_verify_check(a, 1000, HDR, 1000, 7, 2, 5, sum),
                         -1);
        free(a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_gap_late_dup),
        cmocka_unit_test(test_wide_jump),
        cmocka_unit_test(test_checksum_sizes),
        cmocka_unit_test(test_sample_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
