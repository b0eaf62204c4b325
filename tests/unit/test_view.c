/*
 * test_view.c - the view module: canonical order (oldest first, then id,
 * then incarnation), add/remove keep it, one incarnation per id, the
 * coordinator, differences, the primary rule, the counter's end, and the
 * chunked wire form: round trips at every chunk size and order, and
 * rejection of every malformed or contradicting chunk. A seeded model run
 * checks add/remove against a sorted reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"
#include "view.h"
#include "wire.h"

#define CAP 64

typedef struct fixture {
    co_vmember_t store[CAP];
    co_view_t v;
} fixture_t;

static co_vmember_t mem(uint32_t since, uint32_t id, uint32_t inc)
{
    return (co_vmember_t){.id = id, .incarnation = inc, .since = since};
}

static void fresh(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    co_view_init(&f->v, f->store, CAP);
}

static void test_order_oldest_first(void **state)
{
    (void)state;
    fixture_t f;
    fresh(&f);
    assert_int_equal(co_view_add(&f.v, mem(5, 1, 9)), 0);
    assert_int_equal(co_view_add(&f.v, mem(2, 7, 1)), 0);
    assert_int_equal(co_view_add(&f.v, mem(2, 3, 4)), 0);
    assert_int_equal(co_view_add(&f.v, mem(9, 2, 2)), 0);
    assert_int_equal(f.v.count, 4);
    /* since first, then id */
    assert_int_equal(f.v.members[0].id, 3);
    assert_int_equal(f.v.members[1].id, 7);
    assert_int_equal(f.v.members[2].id, 1);
    assert_int_equal(f.v.members[3].id, 2);
    assert_true(co_view_canonical(&f.v));
    assert_int_equal(co_view_coordinator(&f.v)->id, 3);
    /* incarnation breaks a tie of (since, id) in the comparison */
    co_vmember_t a = mem(1, 1, 1), b = mem(1, 1, 2);
    assert_true(co_vmember_cmp(&a, &b) < 0);
    assert_true(co_vmember_cmp(&b, &a) > 0);
    assert_int_equal(co_vmember_cmp(&a, &a), 0);
}

static void test_one_incarnation_per_id(void **state)
{
    (void)state;
    fixture_t f;
    fresh(&f);
    assert_int_equal(co_view_add(&f.v, mem(1, 4, 1)), 0);
    assert_int_equal(co_view_add(&f.v, mem(3, 4, 2)), -1);
    assert_int_equal(co_view_find(&f.v, 4, 1), 0);
    assert_int_equal(co_view_find(&f.v, 4, 2), -1);
    assert_int_equal(co_view_find_id(&f.v, 4), 0);
    /* a sort of a hand-built list with a repeated id is not canonical */
    f.v.members[1] = mem(3, 4, 2);
    f.v.count = 2;
    assert_false(co_view_canonical(&f.v));
    f.v.members[1] = mem(0, 5, 0); /* zero incarnation */
    co_view_sort(&f.v);
    assert_false(co_view_canonical(&f.v));
}

static void test_full_and_remove(void **state)
{
    (void)state;
    co_vmember_t store[3];
    co_view_t v;
    co_view_init(&v, store, 3);
    assert_null(co_view_coordinator(&v));
    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal(co_view_add(&v, mem(i, i, 1)), 0);
    assert_int_equal(co_view_add(&v, mem(4, 4, 1)), -1);
    assert_false(co_view_remove(&v, 2, 9)); /* another incarnation */
    assert_true(co_view_remove(&v, 1, 1));
    assert_false(co_view_remove(&v, 1, 1));
    assert_int_equal(v.count, 2);
    assert_int_equal(co_view_coordinator(&v)->id, 2);
    assert_true(co_view_canonical(&v));
}

static void test_minus_gives_joined_and_left(void **state)
{
    (void)state;
    fixture_t a, b;
    fresh(&a);
    fresh(&b);
    for (uint32_t i = 1; i <= 4; i++)
        assert_int_equal(co_view_add(&a.v, mem(1, i, 1)), 0);
    assert_int_equal(co_view_add(&b.v, mem(1, 1, 1)), 0);
    assert_int_equal(co_view_add(&b.v, mem(1, 3, 1)), 0);
    assert_int_equal(co_view_add(&b.v, mem(2, 4, 2)), 0); /* restarted */
    assert_int_equal(co_view_add(&b.v, mem(2, 9, 1)), 0);
    co_vmember_t out[CAP];
    size_t left = co_view_minus(&a.v, &b.v, out, CAP);
    assert_int_equal(left, 2);
    assert_int_equal(out[0].id, 2);
    assert_int_equal(out[1].id, 4);
    assert_int_equal(out[1].incarnation, 1);
    size_t joined = co_view_minus(&b.v, &a.v, out, 1);
    assert_int_equal(joined, 2); /* counted past max */
    assert_int_equal(out[0].id, 4);
    assert_int_equal(co_view_minus(&a.v, &a.v, NULL, 0), 0);
}

static void test_primary_rule(void **state)
{
    (void)state;
    assert_true(co_view_is_primary(1, 0));
    assert_true(co_view_is_primary(3, 5));
    assert_false(co_view_is_primary(2, 5));
    assert_false(co_view_is_primary(2, 4)); /* half is not a majority */
    assert_true(co_view_is_primary(3, 4));
    assert_true(co_view_is_primary(7, 4)); /* more than expected */
}

static void test_ids_and_counter(void **state)
{
    (void)state;
    uint64_t id = co_view_make_id(7, 0xabcdef01);
    assert_int_equal(co_view_counter(id), 7);
    assert_int_equal(co_view_coord_id(id), 0xabcdef01);
    /* the counter dominates: a higher counter is a higher id whatever
     * the coordinators */
    assert_true(co_view_make_id(8, 1) > co_view_make_id(7, UINT32_MAX));
    uint32_t next = 0;
    assert_true(co_view_next_counter(41, &next));
    assert_int_equal(next, 42);
    assert_false(co_view_next_counter(UINT32_MAX, &next));
}

static void fill(fixture_t *f, size_t n, uint64_t seed)
{
    co_rng_t r;
    co_rng_seed(&r, seed);
    fresh(f);
    while (f->v.count < n) {
        co_vmember_t m = mem((uint32_t)co_rng_below(&r, 5),
                             1 + (uint32_t)co_rng_below(&r, 1000),
                             1 + (uint32_t)co_rng_below(&r, 9));
        (void)co_view_add(&f->v, m); /* repeats of an id are refused */
    }
    f->v.id = co_view_make_id(3, f->v.members[0].id);
    f->v.primary = (seed & 1) != 0;
}

/* Every chunk size, chunks fed in reverse and repeated: the list comes
 * back identical. */
static void test_chunks_round_trip(void **state)
{
    (void)state;
    fixture_t f;
    fill(&f, 40, 7);
    for (size_t per = 1; per <= 40; per++) {
        co_vmember_t store[CAP];
        co_vasm_t a;
        co_vasm_init(&a, store, CAP);
        size_t chunks = (40 + per - 1) / per;
        int done = 0;
        for (size_t k = chunks; k-- > 0;) {
            size_t first = k * per;
            size_t count = first + per > 40 ? 40 - first : per;
            uint8_t buf[1024];
            size_t len = co_vchunk_encode(buf, &f.v, 11, first, count);
            assert_int_equal(len, co_vchunk_size(count));
            co_vchunk_t c;
            assert_int_equal(co_vchunk_decode(buf, len, &c), 0);
            int rc = co_vasm_feed(&a, &c);
            assert_true(rc == 0 || rc == 1);
            if (rc == 1) {
                assert_int_equal(k, 0);
                done = 1;
            }
            assert_int_equal(co_vasm_feed(&a, &c), 0); /* a repeat */
        }
        assert_true(done);
        assert_int_equal(a.view.id, f.v.id);
        assert_int_equal(a.view.primary, f.v.primary);
        assert_int_equal(a.view.count, 40);
        assert_int_equal(a.attempt, 11);
        assert_memory_equal(a.view.members, f.v.members,
                            40 * sizeof f.v.members[0]);
    }
}

static void test_chunk_fits(void **state)
{
    (void)state;
    assert_int_equal(co_vchunk_fits(CO_VCHUNK_FIXED_BYTES + 11), 0);
    assert_int_equal(co_vchunk_fits(co_vchunk_size(1)), 1);
    assert_int_equal(co_vchunk_fits(co_vchunk_size(100) + 11), 100);
    /* a default datagram's body carries well over a hundred members */
    assert_true(co_vchunk_fits(1400 - 36 - 16) >= 100);
}

static size_t good_chunk(uint8_t *buf)
{
    fixture_t f;
    fresh(&f);
    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal(co_view_add(&f.v, mem(1, i, 1)), 0);
    f.v.id = co_view_make_id(2, 1);
    return co_vchunk_encode(buf, &f.v, 1, 0, 3);
}

static int decode(const uint8_t *buf, size_t len)
{
    co_vchunk_t c;
    return co_vchunk_decode(buf, len, &c);
}

static void test_chunk_rejects(void **state)
{
    (void)state;
    uint8_t buf[256], bad[256];
    size_t len = good_chunk(buf);
    assert_int_equal(decode(buf, len), 0);
    /* every truncation and an extra byte */
    for (size_t l = 0; l < len; l++)
        assert_int_equal(decode(buf, l), CO_DROP(COHORT_DROP_TRUNCATED));
    assert_int_equal(decode(buf, len + 1), CO_DROP(COHORT_DROP_TRUNCATED));
    struct {
        size_t off;
        uint8_t value;
    } flips[] = {
        {0, 0},                               /* counter 0 */
        {18, 2}, {19, 1},                     /* unknown flag, reserved */
        {13, 0}, {13, 2},                     /* total below first+count */
        {15, 1},                              /* first + count > total */
        {20 + 3, 0}, {20 + 4 + 3, 0},         /* id 0, incarnation 0 */
        {20 + 12 + 3, 1},                     /* second entry = first */
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        memcpy(bad, buf, len);
        if (flips[i].off <= 3) /* zero the whole counter */
            memset(bad, 0, 4);
        else
            bad[flips[i].off] = flips[i].value;
        assert_int_equal(decode(bad, len), CO_DROP(COHORT_DROP_BAD_FIELD));
    }
    /* coordinator id 0 */
    memcpy(bad, buf, len);
    memset(bad + 4, 0, 4);
    assert_int_equal(decode(bad, len), CO_DROP(COHORT_DROP_BAD_FIELD));
    /* count 0 with a matching length */
    memcpy(bad, buf, len);
    co_put16(bad + 16, 0);
    assert_int_equal(decode(bad, CO_VCHUNK_FIXED_BYTES),
                     CO_DROP(COHORT_DROP_BAD_FIELD));
}

static void test_assembly_refuses_contradictions(void **state)
{
    (void)state;
    fixture_t f;
    fill(&f, 10, 3);
    uint8_t buf[512];
    co_vchunk_t c;
    co_vmember_t store[CAP];
    co_vasm_t a;
    co_vasm_init(&a, store, CAP);
    size_t len = co_vchunk_encode(buf, &f.v, 5, 0, 4);
    assert_int_equal(co_vchunk_decode(buf, len, &c), 0);
    assert_int_equal(co_vasm_feed(&a, &c), 0);
    /* another attempt, another view id, another flag */
    len = co_vchunk_encode(buf, &f.v, 6, 4, 3);
    assert_int_equal(co_vchunk_decode(buf, len, &c), 0);
    assert_int_equal(co_vasm_feed(&a, &c), CO_DROP(COHORT_DROP_BAD_FIELD));
    f.v.id++;
    len = co_vchunk_encode(buf, &f.v, 5, 4, 3);
    assert_int_equal(co_vchunk_decode(buf, len, &c), 0);
    assert_int_equal(co_vasm_feed(&a, &c), CO_DROP(COHORT_DROP_BAD_FIELD));
    f.v.id--;
    f.v.primary = !f.v.primary;
    len = co_vchunk_encode(buf, &f.v, 5, 4, 3);
    assert_int_equal(co_vchunk_decode(buf, len, &c), 0);
    assert_int_equal(co_vasm_feed(&a, &c), CO_DROP(COHORT_DROP_BAD_FIELD));
    f.v.primary = !f.v.primary;
    /* an overlapping chunk that names another member in a slot */
    co_vmember_t keep = f.v.members[2];
    f.v.members[2].incarnation ^= 0x100;
    len = co_vchunk_encode(buf, &f.v, 5, 2, 3);
    assert_int_equal(co_vchunk_decode(buf, len, &c), 0);
    assert_int_equal(co_vasm_feed(&a, &c), CO_DROP(COHORT_DROP_BAD_FIELD));
    f.v.members[2] = keep;
    /* a list larger than the storage */
    co_vmember_t small[4];
    co_vasm_t b;
    co_vasm_init(&b, small, 4);
    len = co_vchunk_encode(buf, &f.v, 5, 0, 2);
    assert_int_equal(co_vchunk_decode(buf, len, &c), 0);
    assert_int_equal(co_vasm_feed(&b, &c), CO_DROP(COHORT_DROP_NO_BUFFER));
    /* the rest completes the first assembly */
    len = co_vchunk_encode(buf, &f.v, 5, 4, 6);
    assert_int_equal(co_vchunk_decode(buf, len, &c), 0);
    assert_int_equal(co_vasm_feed(&a, &c), 1);
    co_vasm_reset(&a);
    assert_int_equal(a.have, 0);
    assert_false(a.started);
}

/* Two chunks each canonical on its own, but together not (an id in both,
 * or the order broken across the seam): the whole list is refused. */
static void test_assembly_checks_whole_list(void **state)
{
    (void)state;
    co_vmember_t src[4] = {mem(1, 1, 1), mem(1, 5, 1), mem(1, 2, 1),
                           mem(1, 3, 1)};
    co_view_t v = {.id = co_view_make_id(1, 1), .count = 4, .cap = 4,
                   .members = src};
    uint8_t buf[256];
    co_vchunk_t c;
    co_vmember_t store[CAP];
    co_vasm_t a;
    co_vasm_init(&a, store, CAP);
    size_t len = co_vchunk_encode(buf, &v, 1, 0, 2);
    assert_int_equal(co_vchunk_decode(buf, len, &c), 0);
    assert_int_equal(co_vasm_feed(&a, &c), 0);
    len = co_vchunk_encode(buf, &v, 1, 2, 2);
    assert_int_equal(co_vchunk_decode(buf, len, &c), 0);
    assert_int_equal(co_vasm_feed(&a, &c), CO_DROP(COHORT_DROP_BAD_FIELD));
    assert_false(a.started); /* reset for the next try */
}

/* Seeded model: random adds and removes against a plain array kept
 * sorted by a full sort after every step. */
static int ref_cmp(const void *x, const void *y)
{
    return co_vmember_cmp(x, y);
}

static void test_model(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        co_rng_t r;
        co_rng_seed(&r, seed);
        fixture_t f;
        fresh(&f);
        co_vmember_t ref[CAP];
        size_t nref = 0;
        for (int step = 0; step < 400; step++) {
            uint32_t id = 1 + (uint32_t)co_rng_below(&r, 80);
            if (co_rng_below(&r, 3) != 0) {
                co_vmember_t m = mem((uint32_t)co_rng_below(&r, 4), id,
                                     1 + (uint32_t)co_rng_below(&r, 3));
                bool have = co_view_find_id(&f.v, id) >= 0;
                int rc = co_view_add(&f.v, m);
                if (have || nref == CAP) {
                    assert_int_equal(rc, -1);
                } else {
                    assert_int_equal(rc, 0);
                    ref[nref++] = m;
                }
            } else {
                long i = co_view_find_id(&f.v, id);
                if (i >= 0) {
                    uint32_t inc = f.v.members[i].incarnation;
                    assert_true(co_view_remove(&f.v, id, inc));
                    for (size_t k = 0; k < nref; k++)
                        if (ref[k].id == id) {
                            ref[k] = ref[--nref];
                            break;
                        }
                }
            }
            qsort(ref, nref, sizeof ref[0], ref_cmp);
            assert_int_equal(f.v.count, nref);
            if (nref)
                assert_memory_equal(f.v.members, ref, nref * sizeof ref[0]);
            assert_true(co_view_canonical(&f.v));
        }
        /* a shuffled copy sorts back to the same list */
        fixture_t g;
        fresh(&g);
        co_view_copy(&g.v, &f.v);
        for (size_t i = g.v.count; i > 1; i--) {
            size_t j = (size_t)co_rng_below(&r, i);
            co_vmember_t t = g.v.members[i - 1];
            g.v.members[i - 1] = g.v.members[j];
            g.v.members[j] = t;
        }
        co_view_sort(&g.v);
        if (f.v.count)
            assert_memory_equal(g.v.members, f.v.members,
                                f.v.count * sizeof f.v.members[0]);
    }
}

/* Random and mutated bytes: the decoder never reads past len, and what it
 * accepts assembles only into canonical lists (run under ASan in CI). The
 * fuzz target reaches these decoders through the core once views are on
 * the wire. */
static void test_decode_hostile(void **state)
{
    (void)state;
    co_rng_t r;
    co_rng_seed(&r, 99);
    uint8_t good[256];
    size_t good_len = good_chunk(good);
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)co_rng_below(&r, 120);
        uint8_t *buf = malloc(len ? len : 1);
        assert_non_null(buf);
        for (size_t k = 0; k < len; k++)
            buf[k] = i & 1 && k < good_len ? good[k] : (uint8_t)co_rng_next(&r);
        if (len)
            buf[co_rng_below(&r, len)] ^= (uint8_t)(1u << co_rng_below(&r, 8));
        co_vchunk_t c;
        if (co_vchunk_decode(buf, len, &c) == 0) {
            co_vmember_t store[CAP];
            co_vasm_t a;
            co_vasm_init(&a, store, CAP);
            if (co_vasm_feed(&a, &c) == 1)
                assert_true(co_view_canonical(&a.view));
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_oldest_first),
        cmocka_unit_test(test_one_incarnation_per_id),
        cmocka_unit_test(test_full_and_remove),
        cmocka_unit_test(test_minus_gives_joined_and_left),
        cmocka_unit_test(test_primary_rule),
        cmocka_unit_test(test_ids_and_counter),
        cmocka_unit_test(test_chunks_round_trip),
        cmocka_unit_test(test_chunk_fits),
        cmocka_unit_test(test_chunk_rejects),
        cmocka_unit_test(test_assembly_refuses_contradictions),
        cmocka_unit_test(test_assembly_checks_whole_list),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_decode_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
