/*
 * test_peers.c - the member table: add/find/remove, a full table, slot
 * reuse in index order, what remove releases, the bytes a table holds, and
 * co_peers_stable_through(): the minimum over members of what each has
 * delivered of ours (reported) or needed since we first heard it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "peers.h"
#include "wire.h"

#define RX_BYTES 4096

static co_peer_t *add(co_peers_t *p, uint32_t id)
{
    co_peer_t *peer = co_peers_add(p, id, 1000 + id, RX_BYTES);
    assert_non_null(peer);
    return peer;
}

/* A peer as the core leaves it after admitting it at our_next. */
static co_peer_t *add_needing(co_peers_t *p, uint32_t id, uint64_t needs_from)
{
    co_peer_t *peer = add(p, id);
    peer->needs_from = needs_from;
    return peer;
}

static void report(co_peer_t *peer, uint64_t delivered_ours)
{
    peer->reports_us = true;
    peer->delivered_ours = delivered_ours;
}

/* Hold one record of len bytes at seq in the peer's receive window. */
static void hold_record(co_peer_t *peer, uint64_t seq, uint16_t len)
{
    static uint8_t zeros[512];
    assert_true(len <= sizeof zeros);
    co_record_t r = {.type = CO_REC_FIFO,
                     .flags = CO_REC_FIRST | CO_REC_LAST,
                     .len = len,
                     .seq = seq,
                     .payload = zeros};
    assert_int_equal(co_rxwin_insert(&peer->rx, &r), CO_RXWIN_NEW);
}

/* Start a fragmented message in the peer's reassembler. */
static void start_message(co_peer_t *peer, uint16_t len, uint32_t total_len)
{
    uint8_t *data = calloc(1, len);
    assert_non_null(data);
    uint8_t *msg = NULL;
    size_t msg_len = 0;
    assert_int_equal(co_reasm_feed(&peer->reasm, CO_REC_FIRST, total_len, data,
                                   len, total_len, &msg, &msg_len),
                     CO_REASM_MORE);
}

/* ---------------------------------------------------------------- */
/* Add, find, remove                                                 */
/* ---------------------------------------------------------------- */

static void empty_table(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 8, NULL), 0);
    assert_int_equal(p.cap, 8);
    assert_int_equal(p.count, 0);
    assert_null(co_peers_find(&p, 0));
    assert_null(co_peers_find(&p, 1));
    assert_int_equal(co_peers_rx_bytes(&p), 0);
    co_peers_free(&p);
    assert_null(p.slots);
}

static void add_and_find(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 4, NULL), 0);
    co_peer_t *a = add(&p, 7);
    co_peer_t *b = add(&p, 0); /* id 0 is just an id here */
    co_peer_t *c = add(&p, UINT32_MAX);
    assert_int_equal(p.count, 3);
    assert_ptr_equal(co_peers_find(&p, 7), a);
    assert_ptr_equal(co_peers_find(&p, 0), b);
    assert_ptr_equal(co_peers_find(&p, UINT32_MAX), c);
    assert_null(co_peers_find(&p, 8));
    /* Slots fill in index order. */
    assert_ptr_equal(a, &p.slots[0]);
    assert_ptr_equal(b, &p.slots[1]);
    assert_ptr_equal(c, &p.slots[2]);
    /* A fresh entry: identity set, receive side empty, nothing reported. */
    assert_true(a->in_use);
    assert_int_equal(a->id, 7);
    assert_int_equal(a->incarnation, 1007);
    assert_int_equal(a->rx.max_bytes, RX_BYTES);
    assert_false(co_rxwin_synced(&a->rx));
    assert_int_equal(a->reasm.total, 0);
    assert_true(a->reasm.abandoned == 0);
    assert_true(co_replay_top(&a->packets) == 0);
    assert_true(co_replay_top(&a->unreliable) == 0);
    assert_false(a->reports_us);
    assert_true(a->delivered_ours == 0 && a->needs_from == 0);
    assert_true(a->nack_at_ns == 0 && a->ack_at_ns == 0);
    assert_true(a->last_heard_ns == 0);
    co_peers_free(&p);
}

static void full_table_returns_null(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 3, NULL), 0);
    add(&p, 1);
    add(&p, 2);
    add(&p, 3);
    assert_null(co_peers_add(&p, 4, 1, RX_BYTES));
    assert_int_equal(p.count, 3);
    assert_null(co_peers_find(&p, 4));
    co_peers_free(&p);

    assert_int_equal(co_peers_init(&p, 1, NULL), 0);
    add(&p, 9);
    assert_null(co_peers_add(&p, 10, 1, RX_BYTES));
    co_peers_free(&p);
}

static void remove_and_reuse(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 3, NULL), 0);
    add(&p, 1);
    co_peer_t *two = add(&p, 2);
    add(&p, 3);
    two->reports_us = true;
    two->delivered_ours = 55;
    co_peers_remove(&p, two);
    assert_int_equal(p.count, 2);
    assert_null(co_peers_find(&p, 2));
    assert_false(p.slots[1].in_use);
    assert_non_null(co_peers_find(&p, 1));
    assert_non_null(co_peers_find(&p, 3));
    /* The freed slot is the one reused, and it starts clean. */
    co_peer_t *four = add(&p, 4);
    assert_ptr_equal(four, &p.slots[1]);
    assert_false(four->reports_us);
    assert_true(four->delivered_ours == 0);
    assert_int_equal(p.count, 3);
    assert_null(co_peers_add(&p, 5, 1, RX_BYTES));
    /* The same id again after it left (a new incarnation). */
    co_peers_remove(&p, co_peers_find(&p, 1));
    co_peer_t *again = co_peers_add(&p, 1, 77, RX_BYTES);
    assert_non_null(again);
    assert_ptr_equal(again, &p.slots[0]);
    assert_int_equal(again->incarnation, 77);
    co_peers_free(&p);
}

/* remove and free release every record and partial message held. */
static void remove_releases_what_it_holds(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 2, NULL), 0);
    co_peer_t *a = add(&p, 1);
    co_rxwin_sync(&a->rx, 10);
    hold_record(a, 12, 100);
    hold_record(a, 13, 0);
    start_message(a, 50, 200);
    co_peer_t *b = add(&p, 2);
    co_rxwin_sync(&b->rx, 1);
    hold_record(b, 5, 7);
    start_message(b, 10, 20);
    assert_int_equal(co_peers_rx_bytes(&p),
                     100 + 0 + 7 + 3 * CO_RXREC_OVERHEAD + 200 + 20);
    co_peers_remove(&p, a);
    assert_int_equal(co_peers_rx_bytes(&p), 7 + CO_RXREC_OVERHEAD + 20);
    co_peers_free(&p); /* b still holds data: the sanitizer checks leaks */
    assert_null(p.slots);
}

/* ---------------------------------------------------------------- */
/* Stability                                                         */
/* ---------------------------------------------------------------- */

static void stable_without_peers(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 4, NULL), 0);
    assert_true(co_peers_stable_through(&p, 1) == 0);
    assert_true(co_peers_stable_through(&p, 2) == 1);
    assert_true(co_peers_stable_through(&p, 1000) == 999);
    assert_true(co_peers_stable_through(&p, UINT64_MAX) == UINT64_MAX - 1);
    co_peers_free(&p);
}

static void stable_non_reporting_peer(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 4, NULL), 0);
    /* Heard first when our next seq was 5: it needs 5 onwards. */
    add_needing(&p, 1, 5);
    assert_true(co_peers_stable_through(&p, 5) == 4);
    assert_true(co_peers_stable_through(&p, 100) == 4);
    /* Heard before we sent anything. */
    add_needing(&p, 2, 1);
    assert_true(co_peers_stable_through(&p, 100) == 0);
    co_peers_free(&p);
}

static void stable_reporting_peers(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 4, NULL), 0);
    co_peer_t *a = add_needing(&p, 1, 1);
    report(a, 50);
    assert_true(co_peers_stable_through(&p, 100) == 50);
    /* A report replaces needs_from, even a lower one. */
    a->needs_from = 80;
    assert_true(co_peers_stable_through(&p, 100) == 50);
    report(a, 0);
    assert_true(co_peers_stable_through(&p, 100) == 0);
    /* Everything delivered. */
    report(a, 99);
    assert_true(co_peers_stable_through(&p, 100) == 99);
    /* A report beyond what we sent never exceeds our_next - 1. */
    report(a, 1000);
    assert_true(co_peers_stable_through(&p, 100) == 99);
    co_peers_free(&p);
}

static void stable_is_minimum_over_peers(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 8, NULL), 0);
    co_peer_t *a = add_needing(&p, 1, 1);
    co_peer_t *b = add_needing(&p, 2, 1);
    co_peer_t *c = add_needing(&p, 3, 60);
    report(a, 70);
    report(b, 40);
    /* c has not reported: it holds 59 (needs 60 on). */
    assert_true(co_peers_stable_through(&p, 100) == 40);
    report(b, 65);
    assert_true(co_peers_stable_through(&p, 100) == 59);
    report(c, 90);
    assert_true(co_peers_stable_through(&p, 100) == 65);
    /* A member that leaves no longer holds stability back. */
    co_peers_remove(&p, b);
    assert_true(co_peers_stable_through(&p, 100) == 70);
    co_peers_remove(&p, a);
    assert_true(co_peers_stable_through(&p, 100) == 90);
    co_peers_remove(&p, c);
    assert_true(co_peers_stable_through(&p, 100) == 99);
    /* The order peers sit in does not matter. */
    co_peer_t *d = add_needing(&p, 4, 1);
    co_peer_t *e = add_needing(&p, 5, 1);
    report(d, 30);
    report(e, 20);
    assert_true(co_peers_stable_through(&p, 100) == 20);
    report(d, 20);
    report(e, 30);
    assert_true(co_peers_stable_through(&p, 100) == 20);
    co_peers_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_table),
        cmocka_unit_test(add_and_find),
        cmocka_unit_test(full_table_returns_null),
        cmocka_unit_test(remove_and_reuse),
        cmocka_unit_test(remove_releases_what_it_holds),
        cmocka_unit_test(stable_without_peers),
        cmocka_unit_test(stable_non_reporting_peer),
        cmocka_unit_test(stable_reporting_peers),
        cmocka_unit_test(stable_is_minimum_over_peers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
