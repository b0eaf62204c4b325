/*
 * test_txbuf.c - the sender's retransmit buffer: push/get/release, the
 * byte bound (the flow-control window, CO_TXREC_OVERHEAD included) at its
 * exact edge, ring growth across the wrap, and lookups of released or
 * never-sent seqs; then a seeded run against a model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "txbuf.h"
#include "rng.h"
#include "wire.h"

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

/* Payload of seq s is bytes (s * 3 + i) & 0xff, so a record found under the
 * wrong seq is caught by content. */
static uint8_t *payload_for(uint64_t seq, uint16_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seq * 3 + i);
    return p;
}

/* Push a record of len bytes, which must get seq want (0: must not fit). */
static void push_expect(co_txbuf_t *b, uint16_t len, uint64_t want)
{
    uint8_t *p = payload_for(b->next, len);
    uint64_t next = b->next;
    size_t bytes = b->bytes;
    uint64_t seq = co_txbuf_push(b, p, len, CO_REC_FIRST | CO_REC_LAST, 0);
    memset(p, 0, len); /* the buffer holds its own copy */
    free(p);
    assert_true(seq == want);
    if (want == 0) {
        assert_true(b->next == next);
        assert_int_equal(b->bytes, bytes);
    } else {
        assert_true(b->next == want + 1);
        assert_int_equal(b->bytes, bytes + len + CO_TXREC_OVERHEAD);
    }
    assert_true(b->bytes <= b->max_bytes);
}

static void get_expect(co_txbuf_t *b, uint64_t seq, uint16_t len)
{
    co_txrec_t *r = co_txbuf_get(b, seq);
    assert_non_null(r);
    assert_non_null(r->data);
    assert_int_equal(r->len, len);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(r->data[i], (uint8_t)(seq * 3 + i));
}

/* ---------------------------------------------------------------- */
/* Init                                                              */
/* ---------------------------------------------------------------- */

static void init_state(void **state)
{
    (void)state;
    static const struct {
        size_t max_bytes, max_records;
    } cases[] = {
        {0, 64},     {31, 64},     {2047, 64},          {2048, 128},
        {4096, 256}, {65567, 4096}, {1u << 22, 1u << 18},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        co_txbuf_t b;
        assert_int_equal(co_txbuf_init(&b, cases[i].max_bytes, NULL), 0);
        assert_int_equal(b.max_records, cases[i].max_records);
        assert_int_equal(b.cap, 64);
        assert_true(b.low == 1 && b.next == 1);
        assert_int_equal(co_txbuf_count(&b), 0);
        assert_int_equal(b.bytes, 0);
        assert_null(co_txbuf_get(&b, 0));
        assert_null(co_txbuf_get(&b, 1));
        co_txbuf_free(&b);
        assert_null(b.ring);
        co_txbuf_free(&b); /* a second free is harmless */
    }
}

/* ---------------------------------------------------------------- */
/* Push, get                                                         */
/* ---------------------------------------------------------------- */

static void push_assigns_seqs_and_copies(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 1 << 16, NULL), 0);
    push_expect(&b, 10, 1);
    push_expect(&b, 0, 2);
    push_expect(&b, 300, 3);
    assert_int_equal(co_txbuf_count(&b), 3);
    assert_int_equal(b.bytes, 310 + 3 * CO_TXREC_OVERHEAD);
    get_expect(&b, 1, 10);
    get_expect(&b, 2, 0);
    get_expect(&b, 3, 300);

    /* Fragment metadata is kept; retransmission state starts clear. */
    uint8_t bytes[5] = {1, 2, 3, 4, 5};
    uint64_t seq = co_txbuf_push(&b, bytes, 5, CO_REC_FIRST, 99999);
    assert_true(seq == 4);
    co_txrec_t *r = co_txbuf_get(&b, 4);
    assert_non_null(r);
    assert_int_equal(r->flags, CO_REC_FIRST);
    assert_int_equal(r->total_len, 99999);
    assert_int_equal(r->retx_to, 0);
    assert_true(r->retx_at_ns == 0);
    assert_memory_equal(r->data, bytes, 5);
    assert_ptr_not_equal(r->data, bytes);
    co_txbuf_free(&b);
}

static void push_empty_without_data(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 1024, NULL), 0);
    uint64_t seq = co_txbuf_push(&b, NULL, 0, CO_REC_FIRST | CO_REC_LAST, 0);
    assert_true(seq == 1);
    co_txrec_t *r = co_txbuf_get(&b, 1);
    assert_non_null(r);
    assert_non_null(r->data); /* held records always own a buffer */
    assert_int_equal(r->len, 0);
    assert_int_equal(b.bytes, CO_TXREC_OVERHEAD);
    co_txbuf_free(&b);
}

/* Point 3: unpush takes the newest records back, as if never pushed:
 * bytes and seqs return, and the next push reuses the seq. */
static void unpush_takes_back_newest(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 1 << 16, NULL), 0);
    push_expect(&b, 10, 1);
    push_expect(&b, 20, 2);
    co_txbuf_release(&b, 1);
    size_t bytes = b.bytes;
    push_expect(&b, 30, 3);
    push_expect(&b, 40, 4);
    co_txbuf_unpush(&b, 3);
    assert_true(b.next == 3 && b.low == 2);
    assert_int_equal(b.bytes, bytes);
    assert_null(co_txbuf_get(&b, 3));
    get_expect(&b, 2, 20);
    co_txbuf_unpush(&b, 3); /* nothing newer: no change */
    assert_true(b.next == 3);
    push_expect(&b, 5, 3);
    get_expect(&b, 3, 5);
    co_txbuf_free(&b);
}

static void get_outside_held_range(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 1 << 16, NULL), 0);
    for (int i = 0; i < 5; i++)
        push_expect(&b, 4, (uint64_t)i + 1);
    assert_null(co_txbuf_get(&b, 0));
    assert_null(co_txbuf_get(&b, 6)); /* not sent yet */
    assert_null(co_txbuf_get(&b, 7));
    assert_null(co_txbuf_get(&b, 6 + 64)); /* aliases a used slot */
    assert_null(co_txbuf_get(&b, UINT64_MAX));
    co_txbuf_release(&b, 2);
    assert_null(co_txbuf_get(&b, 1)); /* stable */
    assert_null(co_txbuf_get(&b, 2));
    get_expect(&b, 3, 4);
    get_expect(&b, 5, 4);
    co_txbuf_free(&b);
}

static void retx_state_is_kept_and_reset_on_reuse(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 1 << 16, NULL), 0);
    push_expect(&b, 8, 1);
    co_txrec_t *r = co_txbuf_get(&b, 1);
    r->retx_to = 42;
    r->retx_at_ns = 123456789;
    push_expect(&b, 8, 2);
    r = co_txbuf_get(&b, 1);
    assert_int_equal(r->retx_to, 42);
    assert_true(r->retx_at_ns == 123456789);
    /* Seq 65 lands in seq 1's slot once 1 is released. */
    co_txbuf_release(&b, 1);
    for (uint64_t s = 3; s <= 65; s++)
        push_expect(&b, 1, s);
    assert_int_equal(b.cap, 64);
    r = co_txbuf_get(&b, 65);
    assert_non_null(r);
    assert_int_equal(r->retx_to, 0);
    assert_true(r->retx_at_ns == 0);
    co_txbuf_free(&b);
}

/* ---------------------------------------------------------------- */
/* The byte bound                                                    */
/* ---------------------------------------------------------------- */

static void fits_at_exact_edge(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 100, NULL), 0);
    assert_true(co_txbuf_fits(&b, 100 - CO_TXREC_OVERHEAD));
    assert_false(co_txbuf_fits(&b, 100 - CO_TXREC_OVERHEAD + 1));
    push_expect(&b, 100 - CO_TXREC_OVERHEAD + 1, 0);
    push_expect(&b, 100 - CO_TXREC_OVERHEAD, 1);
    assert_int_equal(b.bytes, 100); /* window exactly full */
    assert_false(co_txbuf_fits(&b, 0));
    push_expect(&b, 0, 0);
    /* Stability opens the window again. */
    co_txbuf_release(&b, 1);
    assert_int_equal(b.bytes, 0);
    assert_true(co_txbuf_fits(&b, 100 - CO_TXREC_OVERHEAD));
    push_expect(&b, 30, 2);
    push_expect(&b, 100 - 2 * CO_TXREC_OVERHEAD - 30 + 1, 0);
    push_expect(&b, 100 - 2 * CO_TXREC_OVERHEAD - 30, 3);
    assert_int_equal(b.bytes, 100);
    co_txbuf_free(&b);
}

static void smaller_than_one_record(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, CO_TXREC_OVERHEAD - 1, NULL), 0);
    assert_false(co_txbuf_fits(&b, 0));
    push_expect(&b, 0, 0);
    co_txbuf_free(&b);
    assert_int_equal(co_txbuf_init(&b, 0, NULL), 0);
    push_expect(&b, 0, 0);
    co_txbuf_free(&b);
}

static void uint16_max_record(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 65535 + CO_TXREC_OVERHEAD - 1, NULL), 0);
    assert_false(co_txbuf_fits(&b, UINT16_MAX));
    push_expect(&b, UINT16_MAX, 0);
    co_txbuf_free(&b);

    assert_int_equal(co_txbuf_init(&b, 65535 + CO_TXREC_OVERHEAD, NULL), 0);
    push_expect(&b, UINT16_MAX, 1);
    get_expect(&b, 1, UINT16_MAX);
    assert_int_equal(b.bytes, b.max_bytes);
    push_expect(&b, 0, 0);
    co_txbuf_free(&b);
}

/* The overhead bounds a window of empty records too. */
static void empty_records_fill_window(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 64 * CO_TXREC_OVERHEAD, NULL), 0);
    for (uint64_t s = 1; s <= 64; s++)
        push_expect(&b, 0, s);
    assert_int_equal(b.cap, 64); /* never needed to grow */
    push_expect(&b, 0, 0);
    co_txbuf_release(&b, 1);
    push_expect(&b, 0, 65);
    assert_int_equal(b.cap, 64);
    co_txbuf_free(&b);

    /* Ten more records than the first ring: grows once, then full. */
    assert_int_equal(co_txbuf_init(&b, 74 * CO_TXREC_OVERHEAD, NULL), 0);
    assert_int_equal(b.max_records, 128);
    for (uint64_t s = 1; s <= 74; s++)
        push_expect(&b, 0, s);
    assert_int_equal(b.cap, 128);
    push_expect(&b, 0, 0);
    assert_int_equal(co_txbuf_count(&b), 74);
    co_txbuf_free(&b);
}

/* ---------------------------------------------------------------- */
/* Growth and release                                                */
/* ---------------------------------------------------------------- */

static void ring_grows_across_the_wrap(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 1 << 20, NULL), 0);
    for (uint64_t s = 1; s <= 64; s++)
        push_expect(&b, (uint16_t)s, s);
    assert_int_equal(b.cap, 64);
    co_txbuf_release(&b, 40);
    /* Wrap: seqs 65..104 reuse the slots of 1..40. */
    for (uint64_t s = 65; s <= 104; s++)
        push_expect(&b, (uint16_t)s, s);
    assert_int_equal(b.cap, 64);
    assert_int_equal(co_txbuf_count(&b), 64);
    push_expect(&b, 105, 105); /* full ring: doubles */
    assert_int_equal(b.cap, 128);
    for (uint64_t s = 41; s <= 105; s++)
        get_expect(&b, s, (uint16_t)s);
    assert_null(co_txbuf_get(&b, 40));
    /* Keep going well past several doublings. */
    for (uint64_t s = 106; s <= 1000; s++)
        push_expect(&b, 3, s);
    assert_int_equal(b.cap, 1024);
    for (uint64_t s = 41; s <= 105; s++)
        get_expect(&b, s, (uint16_t)s);
    for (uint64_t s = 106; s <= 1000; s++)
        get_expect(&b, s, 3);
    co_txbuf_free(&b);
}

static void release_partial_and_all(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 1 << 16, NULL), 0);
    for (uint64_t s = 1; s <= 10; s++)
        push_expect(&b, 10, s);
    co_txbuf_release(&b, 0); /* nothing below the first seq */
    assert_true(b.low == 1);
    co_txbuf_release(&b, 4);
    assert_true(b.low == 5);
    assert_int_equal(co_txbuf_count(&b), 6);
    assert_int_equal(b.bytes, 6 * (10 + CO_TXREC_OVERHEAD));
    co_txbuf_release(&b, 4); /* again: no effect */
    co_txbuf_release(&b, 2); /* below low: no effect */
    assert_true(b.low == 5);
    assert_int_equal(co_txbuf_count(&b), 6);
    get_expect(&b, 5, 10);
    /* Beyond next: releases what is held and stops there. */
    co_txbuf_release(&b, UINT64_MAX);
    assert_true(b.low == 11 && b.next == 11);
    assert_int_equal(co_txbuf_count(&b), 0);
    assert_int_equal(b.bytes, 0);
    for (uint64_t s = 1; s <= 11; s++)
        assert_null(co_txbuf_get(&b, s));
    /* Numbering continues. */
    push_expect(&b, 1, 11);
    get_expect(&b, 11, 1);
    co_txbuf_release(&b, 11);
    assert_int_equal(co_txbuf_count(&b), 0);
    co_txbuf_free(&b);
}

static void free_releases_held_records(void **state)
{
    (void)state;
    co_txbuf_t b;
    assert_int_equal(co_txbuf_init(&b, 1 << 20, NULL), 0);
    for (uint64_t s = 1; s <= 200; s++)
        push_expect(&b, 100, s);
    co_txbuf_release(&b, 50);
    co_txbuf_free(&b); /* the sanitizer build checks nothing leaks */
    assert_null(b.ring);
}

/* ---------------------------------------------------------------- */
/* Seeded run against a model                                        */
/* ---------------------------------------------------------------- */

static void model_random_ops(void **state)
{
    (void)state;
    co_rng_t rng;
    co_rng_seed(&rng, 0x7B0F); /* fixed: a failure replays exactly */
    enum { OPS = 20000, MAXSEQ = OPS + 2 };
    uint16_t *lens = calloc(MAXSEQ, sizeof *lens);
    assert_non_null(lens);
    size_t pushed = 0, refused = 0, released = 0;
    for (int round = 0; round < 4; round++) {
        co_txbuf_t b;
        size_t max_bytes = 512 + (size_t)co_rng_below(&rng, 1u << (12 + round));
        assert_int_equal(co_txbuf_init(&b, max_bytes, NULL), 0);
        uint64_t low = 1, next = 1;
        size_t bytes = 0;
        uint16_t len_max = (uint16_t)(8u << (2 * round));
        for (int op = 0; op < OPS / 4; op++) {
            uint64_t r = co_rng_below(&rng, 10);
            if (r < 6) {
                uint16_t len = (uint16_t)co_rng_below(&rng, len_max + 1u);
                int fits = bytes + len + CO_TXREC_OVERHEAD <= max_bytes;
                assert_int_equal(co_txbuf_fits(&b, len), fits);
                push_expect(&b, len, fits ? next : 0);
                if (fits) {
                    lens[next++] = len;
                    bytes += len + CO_TXREC_OVERHEAD;
                    pushed++;
                } else {
                    refused++;
                }
            } else if (r < 8) {
                /* Stability reports anywhere around the held range. */
                uint64_t to = low + co_rng_below(&rng, next - low + 3);
                to = to >= 2 ? to - 2 : 0;
                co_txbuf_release(&b, to);
                for (; low <= to && low < next; low++) {
                    bytes -= lens[low] + CO_TXREC_OVERHEAD;
                    released++;
                }
            } else {
                uint64_t s = co_rng_below(&rng, next + 2);
                if (s >= low && s < next)
                    get_expect(&b, s, lens[s]);
                else
                    assert_null(co_txbuf_get(&b, s));
            }
            assert_true(b.low == low && b.next == next);
            assert_int_equal(b.bytes, bytes);
            assert_true(b.cap <= b.max_records);
        }
        /* Whatever the sequence did, end with the window full: every round
         * reaches the refusal, checked against the model. */
        for (;;) {
            uint16_t len = (uint16_t)co_rng_below(&rng, len_max + 1u);
            int fits = bytes + len + CO_TXREC_OVERHEAD <= max_bytes;
            assert_true(next < MAXSEQ || !fits);
            push_expect(&b, len, fits ? next : 0);
            if (!fits) {
                refused++;
                break;
            }
            lens[next++] = len;
            bytes += len + CO_TXREC_OVERHEAD;
            pushed++;
            assert_int_equal(b.bytes, bytes);
        }
        co_txbuf_free(&b);
    }
    assert_true(pushed > 0 && refused > 0 && released > 0);
    free(lens);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_state),
        cmocka_unit_test(push_assigns_seqs_and_copies),
        cmocka_unit_test(push_empty_without_data),
        cmocka_unit_test(unpush_takes_back_newest),
        cmocka_unit_test(get_outside_held_range),
        cmocka_unit_test(retx_state_is_kept_and_reset_on_reuse),
        cmocka_unit_test(fits_at_exact_edge),
        cmocka_unit_test(smaller_than_one_record),
        cmocka_unit_test(uint16_max_record),
        cmocka_unit_test(empty_records_fill_window),
        cmocka_unit_test(ring_grows_across_the_wrap),
        cmocka_unit_test(release_partial_and_all),
        cmocka_unit_test(free_releases_held_records),
        cmocka_unit_test(model_random_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
