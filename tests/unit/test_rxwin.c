/*
 * test_rxwin.c - the receive window over one sender's FIFO records: every
 * insert outcome, the slot and byte bounds at their exact edges, ring
 * growth across the wrap, in-order hand-out, gap ranges, skip_to, and a
 * seeded model run that checks delivery order and gaps() after each step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rng.h"
#include "rxwin.h"
#include "txbuf.h"
#include "wire.h"

/* Why the record that fills a gap always fits: everything a receiver holds
 * from a sender is also in that sender's retransmit buffer, whose bytes are
 * bounded by send_window_bytes <= recv_buffer_bytes. That holds only if the
 * receiver charges a record no more than the sender does. */
_Static_assert(CO_RXREC_OVERHEAD <= CO_TXREC_OVERHEAD,
               "receive accounting must not exceed send accounting");

/* ---------------------------------------------------------------- */
/* Helpers                                                           */
/* ---------------------------------------------------------------- */

/* Payload of seq s is bytes (s + i) & 0xff: taken from pattern at offset
 * s % 256, so a record handed out for the wrong seq is caught by content. */
#define PATTERN_BYTES (65535 + 256)
static uint8_t pattern[PATTERN_BYTES];

static void pattern_fill(void)
{
    for (size_t i = 0; i < PATTERN_BYTES; i++)
        pattern[i] = (uint8_t)i;
}

static co_record_t rec(uint64_t seq, uint16_t len)
{
    co_record_t r = {.type = CO_REC_FIFO,
                     .flags = CO_REC_FIRST | CO_REC_LAST,
                     .len = len,
                     .seq = seq,
                     .payload = pattern + (seq & 0xff)};
    return r;
}

static enum co_rxwin_result put(co_rxwin_t *w, uint64_t seq, uint16_t len)
{
    co_record_t r = rec(seq, len);
    return co_rxwin_insert(w, &r);
}

static void check_payload(uint64_t seq, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        assert_int_equal(data[i], (uint8_t)(seq + i));
}

/* Take the ready record, which must be seq with len bytes. */
static void take_expect(co_rxwin_t *w, uint64_t seq, uint16_t len)
{
    const co_rxslot_t *ready = co_rxwin_ready(w);
    assert_non_null(ready);
    assert_true(w->next == seq);
    co_rxslot_t out;
    uint8_t *data = co_rxwin_take(w, &out);
    assert_non_null(data);
    assert_ptr_equal(data, out.data);
    assert_int_equal(out.len, len);
    assert_int_equal(out.present, 1);
    check_payload(seq, data, len);
    free(data);
    assert_true(w->next == seq + 1);
}

static void expect_gaps(const co_rxwin_t *w, const co_nack_range_t *want,
                        size_t n)
{
    co_nack_range_t got[16];
    assert_true(n < 16);
    memset(got, 0xA5, sizeof got);
    assert_int_equal(co_rxwin_gaps(w, got, 16), n);
    for (size_t i = 0; i < n; i++) {
        assert_true(got[i].first == want[i].first);
        assert_true(got[i].last == want[i].last);
    }
    assert_int_equal(co_rxwin_has_gap(w), n > 0);
}

/* ---------------------------------------------------------------- */
/* Init, sync, accounting                                            */
/* ---------------------------------------------------------------- */

static void init_derives_slot_bound(void **state)
{
    (void)state;
    /* max_slots: smallest power of two >= 64 and > max_bytes / 32. */
    static const struct {
        size_t max_bytes, max_slots;
    } cases[] = {
        {0, 64},           {1, 64},           {2047, 64},
        {2048, 128},       {4095, 128},       {4096, 256},
        {1u << 20, 65536}, {(1u << 20) - 1, 32768},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        co_rxwin_t w;
        assert_int_equal(co_rxwin_init(&w, cases[i].max_bytes, NULL), 0);
        assert_int_equal(w.max_slots, cases[i].max_slots);
        assert_int_equal(w.cap, 64);
        assert_int_equal(w.max_bytes, cases[i].max_bytes);
        assert_false(co_rxwin_synced(&w));
        assert_null(co_rxwin_ready(&w));
        assert_false(co_rxwin_has_gap(&w));
        co_nack_range_t r[1];
        assert_int_equal(co_rxwin_gaps(&w, r, 1), 0);
        co_rxwin_free(&w);
        assert_null(w.ring);
        co_rxwin_free(&w); /* a second free is harmless */
    }
}

static void sync_sets_next_and_highest(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 4096, NULL), 0);
    co_rxwin_sync(&w, 1);
    assert_true(co_rxwin_synced(&w));
    assert_true(w.next == 1 && w.highest == 0);
    assert_false(co_rxwin_has_gap(&w));
    assert_null(co_rxwin_ready(&w));
    co_rxwin_free(&w);

    /* A heartbeat before the first data: what it announced stays known. */
    assert_int_equal(co_rxwin_init(&w, 4096, NULL), 0);
    co_rxwin_saw(&w, 500);
    co_rxwin_sync(&w, 100);
    assert_true(w.next == 100 && w.highest == 500);
    /* 256 slots: only [100, 355] is worth asking for yet. */
    expect_gaps(&w, (co_nack_range_t[]){{100, 355}}, 1);
    co_rxwin_free(&w);

    /* Syncing above what was announced raises highest to next - 1. */
    assert_int_equal(co_rxwin_init(&w, 4096, NULL), 0);
    co_rxwin_saw(&w, 5);
    co_rxwin_sync(&w, 1000);
    assert_true(w.highest == 999);
    assert_false(co_rxwin_has_gap(&w));
    co_rxwin_free(&w);
}

static void insert_copies_and_accounts(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1 << 16, NULL), 0);
    co_rxwin_sync(&w, 7);

    uint8_t src[10];
    memcpy(src, pattern + 7, sizeof src);
    co_record_t r = {.type = CO_REC_FIFO, .flags = CO_REC_FIRST, .len = 10,
                     .seq = 7, .total_len = 1234, .payload = src};
    assert_int_equal(co_rxwin_insert(&w, &r), CO_RXWIN_NEW);
    memset(src, 0, sizeof src); /* the window holds its own copy */
    assert_int_equal(w.count, 1);
    assert_int_equal(w.bytes, 10 + CO_RXREC_OVERHEAD);
    assert_true(w.highest == 7);

    const co_rxslot_t *ready = co_rxwin_ready(&w);
    assert_non_null(ready);
    assert_int_equal(ready->flags, CO_REC_FIRST);
    assert_int_equal(ready->total_len, 1234);
    assert_int_equal(ready->len, 10);

    co_rxslot_t out;
    uint8_t *data = co_rxwin_take(&w, &out);
    assert_int_equal(out.flags, CO_REC_FIRST);
    assert_int_equal(out.total_len, 1234);
    check_payload(7, data, 10);
    free(data);
    assert_int_equal(w.count, 0);
    assert_int_equal(w.bytes, 0);
    assert_true(w.next == 8);
    assert_null(co_rxwin_ready(&w));
    co_rxwin_free(&w);
}

static void zero_length_record(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1024, NULL), 0);
    co_rxwin_sync(&w, 1);
    co_record_t r = {.type = CO_REC_FIFO,
                     .flags = CO_REC_FIRST | CO_REC_LAST,
                     .len = 0,
                     .seq = 1,
                     .payload = NULL};
    assert_int_equal(co_rxwin_insert(&w, &r), CO_RXWIN_NEW);
    assert_int_equal(w.bytes, CO_RXREC_OVERHEAD);
    take_expect(&w, 1, 0); /* a non-NULL, freeable pointer even when empty */
    co_rxwin_free(&w);
}

/* ---------------------------------------------------------------- */
/* Order and duplicates                                              */
/* ---------------------------------------------------------------- */

static void out_of_order_delivers_in_order(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1 << 16, NULL), 0);
    co_rxwin_sync(&w, 10);
    assert_int_equal(put(&w, 13, 3), CO_RXWIN_NEW);
    assert_int_equal(put(&w, 12, 2), CO_RXWIN_NEW);
    assert_int_equal(put(&w, 11, 1), CO_RXWIN_NEW);
    assert_null(co_rxwin_ready(&w));
    assert_true(w.highest == 13);
    expect_gaps(&w, (co_nack_range_t[]){{10, 10}}, 1);
    assert_int_equal(put(&w, 10, 0), CO_RXWIN_NEW);
    assert_false(co_rxwin_has_gap(&w));
    for (uint64_t s = 10; s <= 13; s++)
        take_expect(&w, s, (uint16_t)(s - 10));
    assert_null(co_rxwin_ready(&w));
    assert_int_equal(w.count, 0);
    assert_int_equal(w.bytes, 0);
    co_rxwin_free(&w);
}

static void duplicates_are_reported(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1 << 16, NULL), 0);
    co_rxwin_sync(&w, 1);
    assert_int_equal(put(&w, 3, 5), CO_RXWIN_NEW);
    size_t bytes = w.bytes;
    assert_int_equal(put(&w, 3, 5), CO_RXWIN_DUPLICATE); /* held */
    assert_int_equal(w.bytes, bytes);
    assert_int_equal(w.count, 1);
    assert_int_equal(put(&w, 1, 1), CO_RXWIN_NEW);
    take_expect(&w, 1, 1);
    assert_int_equal(put(&w, 1, 1), CO_RXWIN_DUPLICATE); /* delivered */
    assert_int_equal(put(&w, 2, 2), CO_RXWIN_NEW);
    take_expect(&w, 2, 2);
    take_expect(&w, 3, 5);
    for (uint64_t s = 1; s <= 3; s++)
        assert_int_equal(put(&w, s, 9), CO_RXWIN_DUPLICATE);
    assert_int_equal(w.count, 0);
    assert_int_equal(w.bytes, 0);
    co_rxwin_free(&w);
}

/* ---------------------------------------------------------------- */
/* Bounds                                                            */
/* ---------------------------------------------------------------- */

static void slot_bound_at_window_end(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 4096, NULL), 0); /* 256 slots */
    assert_int_equal(w.max_slots, 256);
    co_rxwin_sync(&w, 1000);
    assert_int_equal(put(&w, 1000 + 256, 0), CO_RXWIN_NO_ROOM);
    assert_true(w.highest == 999); /* a refused record is not announced */
    assert_int_equal(put(&w, 1000 + 255, 0), CO_RXWIN_NEW); /* last slot */
    assert_int_equal(w.cap, 256);
    assert_int_equal(put(&w, 1000 + 255, 0), CO_RXWIN_DUPLICATE);
    assert_int_equal(put(&w, UINT64_MAX, 0), CO_RXWIN_NO_ROOM);
    expect_gaps(&w, (co_nack_range_t[]){{1000, 1254}}, 1);

    /* Delivering the first slot moves the window end by one. */
    assert_int_equal(put(&w, 1000, 1), CO_RXWIN_NEW);
    take_expect(&w, 1000, 1);
    assert_int_equal(put(&w, 1001 + 256, 0), CO_RXWIN_NO_ROOM);
    assert_int_equal(put(&w, 1001 + 255, 2), CO_RXWIN_NEW);
    expect_gaps(&w, (co_nack_range_t[]){{1001, 1254}}, 1);
    co_rxwin_free(&w);
}

static void byte_budget_exactly_reached(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1000, NULL), 0);
    co_rxwin_sync(&w, 1);
    /* One byte over on an empty window. */
    assert_int_equal(put(&w, 2, 1000 - CO_RXREC_OVERHEAD + 1),
                     CO_RXWIN_NO_ROOM);
    assert_int_equal(w.bytes, 0);
    assert_int_equal(w.count, 0);
    /* Exactly the budget. */
    assert_int_equal(put(&w, 2, 1000 - CO_RXREC_OVERHEAD), CO_RXWIN_NEW);
    assert_int_equal(w.bytes, 1000);
    /* Nothing more fits, not even an empty record... */
    assert_int_equal(put(&w, 3, 0), CO_RXWIN_NO_ROOM);
    assert_int_equal(w.count, 1);
    /* ...except the record next in line: refusing the one that fills the
     * gap would stall the sender for good. It may exceed the budget by
     * itself. */
    assert_int_equal(put(&w, 1, 0), CO_RXWIN_NEW);
    assert_int_equal(w.count, 2);
    assert_int_equal(w.bytes, 1000 + CO_RXREC_OVERHEAD);
    co_rxwin_free(&w);

    /* Split across two records, then freed by delivery. */
    assert_int_equal(co_rxwin_init(&w, 1000, NULL), 0);
    co_rxwin_sync(&w, 1);
    assert_int_equal(put(&w, 1, 468), CO_RXWIN_NEW);
    assert_int_equal(put(&w, 2, 469), CO_RXWIN_NO_ROOM);
    assert_int_equal(put(&w, 2, 468), CO_RXWIN_NEW);
    assert_int_equal(w.bytes, 1000);
    assert_int_equal(put(&w, 3, 0), CO_RXWIN_NO_ROOM);
    take_expect(&w, 1, 468);
    assert_int_equal(put(&w, 3, 468), CO_RXWIN_NEW);
    assert_int_equal(w.bytes, 1000);
    co_rxwin_free(&w);
}

/*
 * Regression: once the byte budget is full, a copy of a record the
 * window already holds must come back DUPLICATE (storing it takes no
 * room), not NO_ROOM, or the core would count a plain duplicate as
 * COHORT_DROP_NO_BUFFER exactly when the receiver is busiest.
 */
static void held_duplicate_when_budget_full(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1000, NULL), 0);
    co_rxwin_sync(&w, 1);
    assert_int_equal(put(&w, 2, 1000 - CO_RXREC_OVERHEAD), CO_RXWIN_NEW);
    assert_int_equal(w.bytes, w.max_bytes);
    assert_int_equal(put(&w, 2, 1000 - CO_RXREC_OVERHEAD),
                     CO_RXWIN_DUPLICATE);
    co_rxwin_free(&w);
}

static void uint16_max_records(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 65535 + CO_RXREC_OVERHEAD - 1, NULL), 0);
    co_rxwin_sync(&w, 1);
    assert_int_equal(put(&w, 2, UINT16_MAX), CO_RXWIN_NO_ROOM);
    assert_int_equal(put(&w, 1, UINT16_MAX), CO_RXWIN_NEW); /* next in line */
    co_rxwin_free(&w);

    assert_int_equal(co_rxwin_init(&w, 2 * (65535 + CO_RXREC_OVERHEAD), NULL), 0);
    co_rxwin_sync(&w, 1);
    assert_int_equal(put(&w, 2, UINT16_MAX), CO_RXWIN_NEW);
    assert_int_equal(put(&w, 1, UINT16_MAX), CO_RXWIN_NEW);
    assert_int_equal(w.bytes, w.max_bytes);
    take_expect(&w, 1, UINT16_MAX);
    take_expect(&w, 2, UINT16_MAX);
    co_rxwin_free(&w);
}

/* ---------------------------------------------------------------- */
/* Ring growth                                                       */
/* ---------------------------------------------------------------- */

static void ring_grows_across_the_wrap(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1 << 20, NULL), 0);
    /* Start at 60 so that held records straddle the end of the ring. */
    co_rxwin_sync(&w, 60);
    for (uint64_t s = 61; s < 60 + 64; s++)
        assert_int_equal(put(&w, s, (uint16_t)(s % 50)), CO_RXWIN_NEW);
    assert_int_equal(w.cap, 64);
    /* One past the ring: doubles. */
    assert_int_equal(put(&w, 60 + 64, 7), CO_RXWIN_NEW);
    assert_int_equal(w.cap, 128);
    /* Far ahead: several doublings at once. */
    assert_int_equal(put(&w, 60 + 1000, 3), CO_RXWIN_NEW);
    assert_int_equal(w.cap, 1024);
    assert_int_equal(w.count, 65);
    expect_gaps(&w, (co_nack_range_t[]){{60, 60}, {125, 1059}}, 2);
    assert_int_equal(put(&w, 60, 1), CO_RXWIN_NEW);
    for (uint64_t s = 60; s < 60 + 64; s++)
        take_expect(&w, s, s == 60 ? 1 : (uint16_t)(s % 50));
    take_expect(&w, 124, 7);
    assert_null(co_rxwin_ready(&w));
    expect_gaps(&w, (co_nack_range_t[]){{125, 1059}}, 1);
    co_rxwin_free(&w);
}

static void ring_grows_in_reverse_fill(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1 << 20, NULL), 0);
    co_rxwin_sync(&w, 1u << 20); /* unaligned to nothing in particular */
    uint64_t base = w.next;
    for (uint64_t i = 500; i-- > 0;)
        assert_int_equal(put(&w, base + i, (uint16_t)i), CO_RXWIN_NEW);
    assert_int_equal(w.cap, 512);
    for (uint64_t i = 0; i < 500; i++)
        take_expect(&w, base + i, (uint16_t)i);
    assert_int_equal(w.bytes, 0);
    co_rxwin_free(&w);
}

/* ---------------------------------------------------------------- */
/* Gaps, saw, has_gap                                                */
/* ---------------------------------------------------------------- */

static void gaps_lists_missing_ranges(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1 << 16, NULL), 0);
    co_rxwin_sync(&w, 1);
    put(&w, 3, 0);
    put(&w, 4, 0);
    put(&w, 7, 0);
    expect_gaps(&w, (co_nack_range_t[]){{1, 2}, {5, 6}}, 2);
    co_rxwin_saw(&w, 10);
    expect_gaps(&w, (co_nack_range_t[]){{1, 2}, {5, 6}, {8, 10}}, 3);
    co_rxwin_saw(&w, 9); /* never lowers highest */
    assert_true(w.highest == 10);

    co_nack_range_t two[2];
    assert_int_equal(co_rxwin_gaps(&w, two, 2), 2);
    assert_true(two[1].first == 5 && two[1].last == 6);
    assert_int_equal(co_rxwin_gaps(&w, two, 0), 0);
    co_nack_range_t one[1];
    assert_int_equal(co_rxwin_gaps(&w, one, 1), 1);
    assert_true(one[0].first == 1 && one[0].last == 2);
    /* The next NACK of a round goes on after the last range of the one
     * before (output.c asks for every gap, several NACKs if need be);
     * from inside a gap, from there; from below next, as from next. */
    assert_int_equal(co_rxwin_gaps_from(&w, two[1].last + 1, two, 2), 1);
    assert_true(two[0].first == 8 && two[0].last == 10);
    assert_int_equal(co_rxwin_gaps_from(&w, 6, one, 1), 1);
    assert_true(one[0].first == 6 && one[0].last == 6);
    assert_int_equal(co_rxwin_gaps_from(&w, 11, one, 1), 0);
    assert_int_equal(co_rxwin_gaps_from(&w, 0, one, 1), 1);
    assert_true(one[0].first == 1 && one[0].last == 2);

    /* Fill the lowest gap: its records go out, the rest stays. */
    put(&w, 1, 0);
    put(&w, 2, 0);
    for (uint64_t s = 1; s <= 4; s++)
        take_expect(&w, s, 0);
    expect_gaps(&w, (co_nack_range_t[]){{5, 6}, {8, 10}}, 2);
    put(&w, 5, 0);
    put(&w, 6, 0);
    put(&w, 8, 0);
    put(&w, 10, 0);
    expect_gaps(&w, (co_nack_range_t[]){{9, 9}}, 1);
    put(&w, 9, 0);
    expect_gaps(&w, NULL, 0);
    for (uint64_t s = 5; s <= 10; s++)
        take_expect(&w, s, 0);
    expect_gaps(&w, NULL, 0);
    co_rxwin_free(&w);
}

static void gaps_beyond_ring_and_window(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 4096, NULL), 0); /* 256 slots, cap 64 */
    co_rxwin_sync(&w, 1);
    put(&w, 2, 0);
    co_rxwin_saw(&w, 100); /* inside the window, beyond the ring */
    assert_int_equal(w.cap, 64);
    expect_gaps(&w, (co_nack_range_t[]){{1, 1}, {3, 100}}, 2);
    co_rxwin_saw(&w, 256); /* the window's last slot */
    expect_gaps(&w, (co_nack_range_t[]){{1, 1}, {3, 256}}, 2);
    co_rxwin_saw(&w, 257); /* one beyond: not asked for yet */
    expect_gaps(&w, (co_nack_range_t[]){{1, 1}, {3, 256}}, 2);
    co_rxwin_saw(&w, UINT64_MAX); /* absurd announcement stays bounded */
    expect_gaps(&w, (co_nack_range_t[]){{1, 1}, {3, 256}}, 2);
    /* A record held at the last slot ends the range before it. */
    assert_int_equal(put(&w, 256, 0), CO_RXWIN_NEW);
    expect_gaps(&w, (co_nack_range_t[]){{1, 1}, {3, 255}}, 2);
    co_rxwin_free(&w);
}

/* Held records fill the whole ring, the first one not yet taken: seqs one
 * ring further alias held slots but are missing. */
static void gaps_when_ring_is_full(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 4096, NULL), 0); /* 256 slots, cap 64 */
    co_rxwin_sync(&w, 1);
    for (uint64_t s = 1; s <= 64; s++)
        assert_int_equal(put(&w, s, 1), CO_RXWIN_NEW);
    assert_int_equal(w.cap, 64);
    co_rxwin_saw(&w, 200);
    expect_gaps(&w, (co_nack_range_t[]){{65, 200}}, 1);
    assert_int_equal(put(&w, 66, 1), CO_RXWIN_NEW);
    expect_gaps(&w, (co_nack_range_t[]){{65, 65}, {67, 200}}, 2);
    co_rxwin_free(&w);
}

static void has_gap_cases(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 4096, NULL), 0);
    co_rxwin_saw(&w, 10);
    assert_false(co_rxwin_has_gap(&w)); /* not synced yet */
    co_rxwin_sync(&w, 5);
    assert_true(co_rxwin_has_gap(&w));
    for (uint64_t s = 5; s <= 10; s++)
        put(&w, s, 1);
    assert_false(co_rxwin_has_gap(&w)); /* all held, none delivered */
    co_rxwin_saw(&w, 11);
    assert_true(co_rxwin_has_gap(&w));
    expect_gaps(&w, (co_nack_range_t[]){{11, 11}}, 1);
    for (uint64_t s = 5; s <= 10; s++)
        take_expect(&w, s, 1);
    assert_true(co_rxwin_has_gap(&w));
    put(&w, 11, 1);
    take_expect(&w, 11, 1);
    assert_false(co_rxwin_has_gap(&w)); /* highest == next - 1 */
    co_rxwin_free(&w);
}

/* ---------------------------------------------------------------- */
/* skip_to                                                           */
/* ---------------------------------------------------------------- */

static void skip_to_counts_missing_and_drops_held(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1 << 16, NULL), 0);
    co_rxwin_sync(&w, 1);
    put(&w, 2, 10);
    put(&w, 4, 10);
    put(&w, 8, 10);
    put(&w, 9, 3);
    /* Below next or at it: nothing happens. */
    assert_true(co_rxwin_skip_to(&w, 0) == 0);
    assert_true(co_rxwin_skip_to(&w, 1) == 0);
    assert_true(w.next == 1);
    /* Skip to 6: 1, 3, 5 were missing; 2 and 4 were held and dropped. */
    assert_true(co_rxwin_skip_to(&w, 6) == 3);
    assert_true(w.next == 6);
    assert_int_equal(w.count, 2);
    assert_int_equal(w.bytes, 10 + 3 + 2 * CO_RXREC_OVERHEAD);
    expect_gaps(&w, (co_nack_range_t[]){{6, 7}}, 1);
    /* Skip onto a held record: it becomes ready. */
    assert_true(co_rxwin_skip_to(&w, 8) == 2);
    take_expect(&w, 8, 10);
    take_expect(&w, 9, 3);
    assert_int_equal(w.bytes, 0);
    /* Records at or below the new next are duplicates now. */
    assert_int_equal(put(&w, 4, 10), CO_RXWIN_DUPLICATE);
    co_rxwin_free(&w);
}

/* Point 10: messages given up, grouped by FIRST/LAST where records were
 * held, one per missing record where nothing is known. */
static void lost_messages_groups_held_fragments(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1 << 16, NULL), 0);
    co_rxwin_sync(&w, 1);
    /* 1 missing; 2 FIRST, 3 middle, 4 LAST (one message); 5 whole;
     * 6 missing; 7 middle (its message counted with 6); 8 missing. */
    static const uint8_t flags[] = {0, 0, CO_REC_FIRST, 0, CO_REC_LAST,
                                    CO_REC_FIRST | CO_REC_LAST, 0, 0};
    for (uint64_t s = 2; s <= 7; s++) {
        if (s == 6)
            continue;
        co_record_t r = rec(s, 10);
        r.flags = flags[s];
        r.total_len = s == 2 ? 30 : 0;
        assert_int_equal(co_rxwin_insert(&w, &r), CO_RXWIN_NEW);
    }
    assert_true(co_rxwin_lost_messages(&w, 1, false) == 0);
    assert_true(co_rxwin_lost_messages(&w, 9, false) == 5);
    /* A message in reassembly before next is lost as well (and 1, missing,
     * still counts: nothing says it belonged to that message). */
    assert_true(co_rxwin_lost_messages(&w, 9, true) == 6);
    assert_true(co_rxwin_lost_messages(&w, 2, true) == 2);
    /* Far beyond the ring: every seq there counts. */
    assert_true(co_rxwin_lost_messages(&w, 9 + 1000, false) == 5 + 1000);
    co_rxwin_free(&w);
}

static void skip_to_far_ahead(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 4096, NULL), 0);
    co_rxwin_sync(&w, 100);
    /* Empty window: jumps at once, everything in between counted. */
    assert_true(co_rxwin_skip_to(&w, 100 + 1000000) == 1000000);
    assert_true(w.next == 1000100);
    assert_true(w.highest == 1000099);
    assert_false(co_rxwin_has_gap(&w));
    /* Held records (one at the window end) and a jump beyond them all. */
    uint64_t base = w.next;
    put(&w, base + 3, 5);
    put(&w, base + 255, 5);
    assert_int_equal(w.cap, 256);
    uint64_t skipped = co_rxwin_skip_to(&w, base + 5000);
    assert_true(skipped == 5000 - 2);
    assert_true(w.next == base + 5000);
    assert_int_equal(w.count, 0);
    assert_int_equal(w.bytes, 0);
    assert_true(w.highest == base + 4999);
    /* The window works normally afterwards. */
    assert_int_equal(put(&w, base + 5001, 1), CO_RXWIN_NEW);
    assert_int_equal(put(&w, base + 5000, 2), CO_RXWIN_NEW);
    take_expect(&w, base + 5000, 2);
    take_expect(&w, base + 5001, 1);
    co_rxwin_free(&w);
}

static void skip_to_keeps_records_beyond(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1 << 16, NULL), 0);
    co_rxwin_sync(&w, 1);
    put(&w, 3, 1);
    put(&w, 50, 2);
    co_rxwin_saw(&w, 60);
    assert_true(co_rxwin_skip_to(&w, 10) == 8);
    assert_true(w.highest == 60);
    assert_int_equal(w.count, 1);
    expect_gaps(&w, (co_nack_range_t[]){{10, 49}, {51, 60}}, 2);
    co_rxwin_free(&w);
}

static void free_releases_held_records(void **state)
{
    (void)state;
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, 1 << 20, NULL), 0);
    co_rxwin_sync(&w, 3);
    for (uint64_t s = 4; s < 300; s += 3)
        assert_int_equal(put(&w, s, 100), CO_RXWIN_NEW);
    co_rxwin_free(&w); /* the sanitizer build checks nothing leaks */
    assert_null(w.ring);
}

/* ---------------------------------------------------------------- */
/* Seeded model run                                                  */
/* ---------------------------------------------------------------- */

/* The model: which of [start, start + n) are held, and the window's
 * state computed from the header's contract alone. */
typedef struct model {
    uint64_t start;
    size_t n;
    uint8_t *held;
    uint64_t next, highest;
    size_t bytes, count;
    size_t max_bytes, max_slots;
    uint16_t max_len;
    uint64_t salt;
    /* outcome tallies, to show every branch ran */
    size_t news, dups, no_room, taken, skipped;
} model_t;

static uint16_t len_of(const model_t *m, uint64_t seq)
{
    uint64_t h = (seq ^ m->salt) * 0x9E3779B97F4A7C15ull;
    return (uint16_t)((h >> 40) % ((uint64_t)m->max_len + 1));
}

static int model_held(const model_t *m, uint64_t seq)
{
    return seq >= m->start && seq - m->start < m->n && m->held[seq - m->start];
}

/* Drain the window and the model together: the same records, in order. */
static void model_drain(model_t *m, co_rxwin_t *w)
{
    for (size_t guard = 0; guard <= m->n; guard++) {
        int want = model_held(m, m->next);
        const co_rxslot_t *ready = co_rxwin_ready(w);
        assert_int_equal(ready != NULL, want);
        if (!want)
            return;
        uint16_t len = len_of(m, m->next);
        take_expect(w, m->next, len);
        m->held[m->next - m->start] = 0;
        m->bytes -= (size_t)len + CO_RXREC_OVERHEAD;
        m->count--;
        m->next++;
        m->taken++;
    }
    fail_msg("drain did not terminate");
}

static void model_insert(model_t *m, co_rxwin_t *w, uint64_t seq)
{
    uint16_t len = len_of(m, seq);
    int over = m->bytes + len + CO_RXREC_OVERHEAD > m->max_bytes;
    enum co_rxwin_result got = put(w, seq, len);
    if (seq < m->next) {
        assert_int_equal(got, CO_RXWIN_DUPLICATE);
    } else if (model_held(m, seq)) {
        assert_int_equal(got, CO_RXWIN_DUPLICATE);
    } else if (seq - m->next >= m->max_slots || (over && seq != m->next)) {
        assert_int_equal(got, CO_RXWIN_NO_ROOM);
    } else {
        assert_int_equal(got, CO_RXWIN_NEW);
        m->held[seq - m->start] = 1;
        m->bytes += (size_t)len + CO_RXREC_OVERHEAD;
        m->count++;
        if (seq > m->highest)
            m->highest = seq;
    }
    m->news += got == CO_RXWIN_NEW;
    m->dups += got == CO_RXWIN_DUPLICATE;
    m->no_room += got == CO_RXWIN_NO_ROOM;
    model_drain(m, w);
}

static void model_saw(model_t *m, co_rxwin_t *w, uint64_t seq)
{
    co_rxwin_saw(w, seq);
    if (seq > m->highest)
        m->highest = seq;
}

static void model_skip(model_t *m, co_rxwin_t *w, uint64_t to)
{
    uint64_t want = 0;
    for (; m->next < to; m->next++) {
        if (model_held(m, m->next)) {
            m->held[m->next - m->start] = 0;
            m->bytes -= (size_t)len_of(m, m->next) + CO_RXREC_OVERHEAD;
            m->count--;
        } else {
            want++;
        }
    }
    if (m->highest < m->next - 1)
        m->highest = m->next - 1;
    assert_true(co_rxwin_skip_to(w, to) == want);
    m->skipped += want;
    model_drain(m, w);
}

/* gaps() must equal the model's missing set over [next, end], end being
 * highest clamped to the last slot of the window. */
static void model_check(const model_t *m, const co_rxwin_t *w,
                        co_nack_range_t *buf, size_t buf_max)
{
    assert_true(w->next == m->next);
    assert_true(w->highest == m->highest);
    assert_int_equal(w->count, m->count);
    assert_int_equal(w->bytes, m->bytes);
    assert_true(w->bytes <= w->max_bytes);
    size_t got = co_rxwin_gaps(w, buf, buf_max);
    size_t k = 0;
    int any_missing = 0;
    if (m->highest >= m->next) {
        uint64_t end = m->highest;
        if (end - m->next >= m->max_slots)
            end = m->next + m->max_slots - 1;
        for (uint64_t s = m->next; s <= end;) {
            if (model_held(m, s)) {
                s++;
                continue;
            }
            uint64_t first = s;
            while (s <= end && !model_held(m, s))
                s++;
            assert_true(k < got);
            assert_true(buf[k].first == first);
            assert_true(buf[k].last == s - 1);
            k++;
            any_missing = 1;
        }
    }
    assert_int_equal(k, got);
    assert_int_equal(co_rxwin_has_gap(w), any_missing);
}

typedef struct round_params {
    uint64_t start;
    size_t n;
    uint16_t max_len;
    size_t max_bytes;
    int full_shuffle;   /* else displacement bounded by spread */
    size_t spread;
    int allow_skips;
} round_params_t;

/* Phase 1: the multiset (drops and duplicates) in shuffled order. */
static void model_phase_one(model_t *m, co_rxwin_t *w,
                            const round_params_t *p, co_rng_t *rng,
                            co_nack_range_t *buf, size_t buf_max)
{
    size_t cap = p->n * 3, k = 0;
    uint64_t *ev = malloc(cap * sizeof *ev);
    uint64_t *key = malloc(cap * sizeof *key);
    assert_true(ev && key);
    for (size_t i = 0; i < p->n; i++) {
        if (co_rng_below(rng, 100) < 8)
            continue; /* lost: only phase two brings it */
        size_t copies = 1 + (co_rng_below(rng, 4) == 0 ? 1 + co_rng_below(rng, 2) : 0);
        for (size_t c = 0; c < copies; c++) {
            ev[k] = p->start + i;
            key[k] = p->full_shuffle ? co_rng_next(rng)
                                     : i + co_rng_below(rng, p->spread + 1);
            k++;
        }
    }
    /* Insertion sort by key (k is at most a few thousand). */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && key[j - 1] > key[j]; j--) {
            uint64_t t = key[j]; key[j] = key[j - 1]; key[j - 1] = t;
            t = ev[j]; ev[j] = ev[j - 1]; ev[j - 1] = t;
        }
    uint64_t last = p->start + p->n - 1;
    for (size_t i = 0; i < k; i++) {
        model_insert(m, w, ev[i]);
        uint64_t r = co_rng_below(rng, 1000);
        if (m->next <= last && r < 20) {
            model_saw(m, w, m->next + co_rng_below(rng, last - m->next + 1));
        } else if (m->next <= last && p->allow_skips && r < 23) {
            uint64_t to = m->next + 1 + co_rng_below(rng, 20);
            model_skip(m, w, to <= last + 1 ? to : last + 1);
        }
        if (i % 5 == 0)
            model_check(m, w, buf, buf_max);
    }
    model_check(m, w, buf, buf_max);
    free(ev);
    free(key);
}

/* Phase 2: the sender's heartbeat and NACK-driven retransmissions until
 * everything is delivered; when the byte budget is full of records beyond
 * a gap, the test plays the sender moving its trail (skip_to). */
static void model_phase_two(model_t *m, co_rxwin_t *w,
                            const round_params_t *p, co_rng_t *rng,
                            co_nack_range_t *buf, size_t buf_max)
{
    uint64_t end = p->start + p->n;
    model_saw(m, w, end - 1);
    for (size_t round = 0; m->next < end; round++) {
        assert_true(round < 4 * p->n + 10);
        model_check(m, w, buf, buf_max);
        size_t nr = co_rxwin_gaps(w, buf, buf_max);
        assert_true(nr > 0);
        uint64_t before = m->next;
        size_t news = m->news;
        co_nack_range_t r0 = buf[0];
        for (uint64_t s = r0.first; s <= r0.last && s - r0.first < 64; s++)
            model_insert(m, w, s);
        if (co_rng_below(rng, 3) == 0)
            model_insert(m, w, r0.first); /* a duplicate retransmission */
        if (m->next == before && m->news == news) {
            /* Stuck: only a full budget may refuse the next record. */
            assert_true(m->bytes + len_of(m, m->next) + CO_RXREC_OVERHEAD >
                        m->max_bytes);
            uint64_t to = m->next + 1;
            while (to < end && !model_held(m, to))
                to++;
            model_skip(m, w, to);
        }
    }
    model_check(m, w, buf, buf_max);
    assert_int_equal(m->count, 0);
    assert_int_equal(m->bytes, 0);
    assert_false(co_rxwin_has_gap(w));
}

static void model_round(const round_params_t *p, uint64_t seed,
                        size_t totals[4])
{
    co_rng_t rng;
    co_rng_seed(&rng, seed);
    model_t m = {.start = p->start, .n = p->n, .max_len = p->max_len,
                 .max_bytes = p->max_bytes, .salt = co_rng_next(&rng)};
    m.held = calloc(p->n, 1);
    assert_non_null(m.held);
    co_rxwin_t w;
    assert_int_equal(co_rxwin_init(&w, p->max_bytes, NULL), 0);
    m.max_slots = w.max_slots;
    co_rxwin_sync(&w, p->start);
    m.next = p->start;
    m.highest = p->start - 1;
    size_t buf_max = w.max_slots + 1;
    co_nack_range_t *buf = calloc(buf_max, sizeof *buf);
    assert_non_null(buf);

    model_phase_one(&m, &w, p, &rng, buf, buf_max);
    model_phase_two(&m, &w, p, &rng, buf, buf_max);
    /* Every seq was delivered once, in order, or skipped. */
    assert_true(m.next == p->start + p->n);
    if (!p->allow_skips) {
        assert_int_equal(m.taken, p->n);
        assert_int_equal(m.skipped, 0);
    }
    totals[0] += m.news;
    totals[1] += m.dups;
    totals[2] += m.no_room;
    totals[3] += m.skipped;
    co_rxwin_free(&w);
    free(buf);
    free(m.held);
}

static void model_random_rounds(void **state)
{
    (void)state;
    co_rng_t rng;
    co_rng_seed(&rng, 0xC0407u); /* fixed: a failure replays exactly */
    size_t totals[4] = {0, 0, 0, 0};
    static const uint64_t starts[] = {1, 60, 1000, 1ull << 32, 1ull << 62};
    for (int round = 0; round < 24; round++) {
        round_params_t p;
        p.start = starts[round % 5] + co_rng_below(&rng, 3);
        p.n = 100 + (size_t)co_rng_below(&rng, 900);
        p.max_len = (uint16_t)co_rng_below(&rng, 200);
        int tight = round % 3 == 2;
        p.max_bytes = tight ? 256 + (size_t)co_rng_below(&rng, 6000)
                            : p.n * ((size_t)p.max_len + CO_RXREC_OVERHEAD);
        p.full_shuffle = round % 4 == 1;
        p.spread = 1 + (size_t)co_rng_below(&rng, 300);
        p.allow_skips = tight;
        uint64_t seed = co_rng_next(&rng);
        model_round(&p, seed, totals);
    }
    /* Every outcome happened somewhere across the rounds. */
    for (int i = 0; i < 4; i++)
        assert_true(totals[i] > 0);
}

int main(void)
{
    pattern_fill();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_derives_slot_bound),
        cmocka_unit_test(sync_sets_next_and_highest),
        cmocka_unit_test(insert_copies_and_accounts),
        cmocka_unit_test(zero_length_record),
        cmocka_unit_test(out_of_order_delivers_in_order),
        cmocka_unit_test(duplicates_are_reported),
        cmocka_unit_test(slot_bound_at_window_end),
        cmocka_unit_test(byte_budget_exactly_reached),
        cmocka_unit_test(held_duplicate_when_budget_full),
        cmocka_unit_test(uint16_max_records),
        cmocka_unit_test(ring_grows_across_the_wrap),
        cmocka_unit_test(ring_grows_in_reverse_fill),
        cmocka_unit_test(gaps_lists_missing_ranges),
        cmocka_unit_test(gaps_beyond_ring_and_window),
        cmocka_unit_test(gaps_when_ring_is_full),
        cmocka_unit_test(has_gap_cases),
        cmocka_unit_test(skip_to_counts_missing_and_drops_held),
        cmocka_unit_test(lost_messages_groups_held_fragments),
        cmocka_unit_test(skip_to_far_ahead),
        cmocka_unit_test(skip_to_keeps_records_beyond),
        cmocka_unit_test(free_releases_held_records),
        cmocka_unit_test(model_random_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
