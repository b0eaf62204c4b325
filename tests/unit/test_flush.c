/*
 * test_flush.c - the cut table of a view change: the largest sequence of
 * each (old view, sender) wins, a holder that really holds it is named,
 * the sender itself is preferred at a tie, the table does not depend on
 * the order answers arrive in (seeded permutations), a full table says so;
 * FLUSH_OK and CUT chunk round trips and the rejection of malformed ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flush.h"
#include "rng.h"
#include "view.h"
#include "wire.h"

#define CAP 64
#define V1 co_view_make_id(1, 10)
#define V2 co_view_make_id(2, 20)

static co_flush_entry_t ent(uint32_t id, uint64_t seq)
{
    return (co_flush_entry_t){.id = id, .incarnation = 1, .seq = seq};
}

/* Field by field: the struct has tail padding. */
static void assert_rows_equal(const co_cut_t *a, const co_cut_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a[i].old_view_id, b[i].old_view_id);
        assert_int_equal(a[i].old_proposer_inc, b[i].old_proposer_inc);
        assert_int_equal(a[i].id, b[i].id);
        assert_int_equal(a[i].incarnation, b[i].incarnation);
        assert_int_equal(a[i].seq, b[i].seq);
        assert_int_equal(a[i].holder_id, b[i].holder_id);
    }
}

static void test_max_and_holder(void **state)
{
    (void)state;
    co_cut_t store[CAP];
    co_cut_table_t t;
    co_cut_table_init(&t, store, CAP);
    co_flush_entry_t a[] = {ent(10, 5), ent(11, 7), ent(12, 3)};
    co_flush_entry_t b[] = {ent(10, 9), ent(11, 7), ent(12, 2)};
    co_flush_entry_t c[] = {ent(11, 8), ent(12, 3)}; /* 11 reports itself */
    assert_int_equal(co_cut_table_fold(&t, 12, V1, 7, a, 3), 0);
    assert_int_equal(co_cut_table_fold(&t, 13, V1, 7, b, 3), 0);
    assert_int_equal(co_cut_table_fold(&t, 11, V1, 7, c, 2), 0);
    assert_int_equal(t.count, 3);
    const co_cut_t *r = co_cut_table_find(&t, V1, 7, 10, 1);
    assert_non_null(r);
    assert_int_equal(r->seq, 9);
    assert_int_equal(r->holder_id, 13);
    r = co_cut_table_find(&t, V1, 7, 11, 1);
    assert_int_equal(r->seq, 8);
    assert_int_equal(r->holder_id, 11);
    /* 12 at 3: reported by 12 itself and by 11: the sender is preferred */
    r = co_cut_table_find(&t, V1, 7, 12, 1);
    assert_int_equal(r->seq, 3);
    assert_int_equal(r->holder_id, 12);
    assert_null(co_cut_table_find(&t, V2, 7, 10, 1));
    assert_null(co_cut_table_find(&t, V1, 7, 10, 2));
}

static void test_views_kept_apart(void **state)
{
    (void)state;
    co_cut_t store[CAP];
    co_cut_table_t t;
    co_cut_table_init(&t, store, CAP);
    co_flush_entry_t a[] = {ent(10, 5)};
    co_flush_entry_t b[] = {ent(10, 50)};
    assert_int_equal(co_cut_table_fold(&t, 1, V2, 7, b, 1), 0);
    assert_int_equal(co_cut_table_fold(&t, 2, V1, 7, a, 1), 0);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.rows[0].old_view_id, V1); /* table order */
    assert_int_equal(co_cut_table_find(&t, V1, 7, 10, 1)->seq, 5);
    assert_int_equal(co_cut_table_find(&t, V2, 7, 10, 1)->seq, 50);
}

static void test_overflow(void **state)
{
    (void)state;
    co_cut_t store[2];
    co_cut_table_t t;
    co_cut_table_init(&t, store, 2);
    co_flush_entry_t a[] = {ent(1, 1), ent(2, 1), ent(3, 1)};
    assert_int_equal(co_cut_table_fold(&t, 1, V1, 7, a, 3), -1);
    assert_int_equal(t.count, 2);
    assert_int_equal(t.overflow, 1);
    /* updates of rows already there still work */
    co_flush_entry_t b[] = {ent(1, 4)};
    assert_int_equal(co_cut_table_fold(&t, 2, V1, 7, b, 1), 0);
    assert_int_equal(co_cut_table_find(&t, V1, 7, 1, 1)->seq, 4);
    co_cut_table_clear(&t);
    assert_int_equal(t.count, 0);
    assert_int_equal(t.overflow, 0);
}

/* Members each delivered a random prefix of each sender's stream; in any
 * order of answers the table is the same, each cut is the longest prefix
 * and its holder is a member that has it. */
static void test_order_independent(void **state)
{
    (void)state;
    enum { MEMBERS = 7, SENDERS = 9 };
    for (uint64_t seed = 1; seed <= 200; seed++) {
        co_rng_t r;
        co_rng_seed(&r, seed);
        co_flush_entry_t have[MEMBERS][SENDERS];
        for (size_t m = 0; m < MEMBERS; m++)
            for (size_t s = 0; s < SENDERS; s++)
                have[m][s] = ent(100 + (uint32_t)s, co_rng_below(&r, 6));
        co_cut_t first[CAP];
        size_t first_count = 0;
        for (int perm = 0; perm < 5; perm++) {
            size_t order[MEMBERS];
            for (size_t i = 0; i < MEMBERS; i++)
                order[i] = i;
            for (size_t i = MEMBERS; i > 1; i--) {
                size_t j = (size_t)co_rng_below(&r, i);
                size_t x = order[i - 1];
                order[i - 1] = order[j];
                order[j] = x;
            }
            co_cut_t store[CAP];
            co_cut_table_t t;
            co_cut_table_init(&t, store, CAP);
            for (size_t i = 0; i < MEMBERS; i++)
                assert_int_equal(co_cut_table_fold(&t, 1 + (uint32_t)order[i],
                                                   V1, 7, have[order[i]],
                                                   SENDERS),
                                 0);
            assert_int_equal(t.count, SENDERS);
            for (size_t s = 0; s < SENDERS; s++) {
                const co_cut_t *row = &t.rows[s];
                uint64_t max = 0;
                for (size_t m = 0; m < MEMBERS; m++)
                    if (have[m][s].seq > max)
                        max = have[m][s].seq;
                assert_int_equal(row->seq, max);
                assert_int_equal(have[row->holder_id - 1][s].seq, max);
            }
            if (perm == 0) {
                memcpy(first, store, sizeof store[0] * t.count);
                first_count = t.count;
            } else {
                assert_int_equal(first_count, t.count);
                assert_rows_equal(first, store, t.count);
            }
        }
    }
}

static void test_flush_ok_round_trip_and_rejects(void **state)
{
    (void)state;
    co_flush_entry_t e[] = {ent(3, 0), ent(5, 77), ent(9, CO_SEQ_LIMIT - 1)};
    uint8_t buf[256], bad[256];
    size_t len = co_flush_ok_encode(buf, V2, V1, 7, e, 3);
    assert_int_equal(len, co_flush_ok_size(3));
    co_flush_ok_t f;
    assert_int_equal(co_flush_ok_decode(buf, len, &f), 0);
    assert_int_equal(f.proposal_id, V2);
    assert_int_equal(f.old_view_id, V1);
    assert_int_equal(f.count, 3);
    for (size_t i = 0; i < 3; i++) {
        co_flush_entry_t got = co_flush_ok_entry(&f, i);
        assert_int_equal(got.id, e[i].id);
        assert_int_equal(got.incarnation, e[i].incarnation);
        assert_int_equal(got.seq, e[i].seq);
    }
    for (size_t l = 0; l < len; l++)
        assert_int_equal(co_flush_ok_decode(buf, l, &f),
                         CO_DROP(COHORT_DROP_TRUNCATED));
    assert_int_equal(co_flush_ok_decode(buf, len + 1, &f),
                     CO_DROP(COHORT_DROP_TRUNCATED));
    /* an empty answer (a member of a fresh view with no senders) is fine */
    len = co_flush_ok_encode(buf, V2, 0, 0, NULL, 0);
    assert_int_equal(co_flush_ok_decode(buf, len, &f), 0);
    len = co_flush_ok_encode(buf, V2, V1, 7, e, 3);
    size_t offs[] = {3,           /* proposal counter 0 */
                     7,           /* proposal coordinator 0 */
                     22 + 3,      /* first id 0 */
                     22 + 7,      /* first incarnation 0 */
                     22 + 16 + 3, /* second id below first */
                     22 + 32 + 8};/* third seq at the limit */
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        memcpy(bad, buf, len);
        if (i == 0)
            memset(bad, 0, 4);
        else if (i == 1)
            memset(bad + 4, 0, 4);
        else if (i == 4)
            bad[offs[i]] = 1;
        else if (i == 5)
            bad[offs[i]] = 0x40;
        else
            bad[offs[i]] = 0;
        assert_int_equal(co_flush_ok_decode(bad, len, &f),
                         CO_DROP(COHORT_DROP_BAD_FIELD));
    }
}

static void test_cut_chunks(void **state)
{
    (void)state;
    co_cut_t store[CAP];
    co_cut_table_t t;
    co_cut_table_init(&t, store, CAP);
    co_flush_entry_t a[20];
    for (uint32_t i = 0; i < 20; i++)
        a[i] = ent(1 + i, i * 3);
    assert_int_equal(co_cut_table_fold(&t, 4, V1, 7, a, 10), 0);
    assert_int_equal(co_cut_table_fold(&t, 5, V2, 7, a + 10, 10), 0);
    /* every chunk size; chunks fed in order rebuild the table */
    for (size_t per = 1; per <= 20; per++) {
        co_cut_t back_store[CAP];
        co_cut_table_t back;
        co_cut_table_init(&back, back_store, CAP);
        for (size_t first = 0; first < 20; first += per) {
            size_t count = first + per > 20 ? 20 - first : per;
            uint8_t buf[1024];
            size_t len = co_cut_chunk_encode(buf, V2, &t, first, count);
            co_cut_chunk_t c;
            assert_int_equal(co_cut_chunk_decode(buf, len, &c), 0);
            assert_int_equal(c.total, 20);
            for (size_t i = 0; i < c.count; i++) {
                co_cut_t row = co_cut_chunk_row(&c, i);
                assert_int_equal(co_cut_table_append(&back, &row), 0);
            }
        }
        assert_int_equal(back.count, 20);
        assert_rows_equal(back_store, store, 20);
        /* a repeat or a row out of order is refused */
        assert_int_equal(co_cut_table_append(&back, &store[3]), -1);
    }
    uint8_t buf[1024], bad[1024];
    size_t len = co_cut_chunk_encode(buf, V2, &t, 0, 3);
    co_cut_chunk_t c;
    for (size_t l = 0; l < len; l++)
        assert_int_equal(co_cut_chunk_decode(buf, l, &c),
                         CO_DROP(COHORT_DROP_TRUNCATED));
    size_t offs[] = {14 + 15,      /* id 0 */
                     14 + 19,      /* incarnation 0 */
                     14 + 31,      /* holder 0 */
                     14 + 20,      /* seq at the limit */
                     14 + 32 + 15, /* second row = the first */
                     9,            /* total below first + count */
                     11};          /* first + count beyond total */
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        memcpy(bad, buf, len);
        bad[offs[i]] = i == 3 ? 0x40 : i == 4 ? 1 : i == 5 ? 2 : i == 6 ? 19 : 0;
        assert_int_equal(co_cut_chunk_decode(bad, len, &c),
                         CO_DROP(COHORT_DROP_BAD_FIELD));
    }
    assert_int_equal(co_cut_chunk_fits(co_cut_chunk_size(4) + 31), 4);
    assert_int_equal(co_cut_chunk_fits(10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_and_holder),
        cmocka_unit_test(test_views_kept_apart),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_flush_ok_round_trip_and_rejects),
        cmocka_unit_test(test_cut_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
