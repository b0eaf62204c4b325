/*
 * test_peers.c - the member table: add/find/remove, a full table, slot
 * reuse in index order, what remove releases, the bytes a table holds, and
 * co_peers_stable_through(): the minimum over members of what each has
 * delivered of ours (reported) or needed since we first heard it; each
 * peer's recorded stability vector (co_peers_note_vector) and the
 * group-stable minimum over a member set (co_peers_group_stable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "failmem.h"
#include "peers.h"
#include "wire.h"

#define RX_BYTES 4096

static co_peer_t *add(co_peers_t *p, uint32_t id)
{
    co_peer_t *peer = co_peers_add(p, id, 1000 + id, RX_BYTES);
    assert_non_null(peer);
    peer->in_view = true; /* stability counts members of the view only */
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
    co_peer_t *b = add(&p, 9); /* (ids are never 0: the header refuses it) */
    co_peer_t *c = add(&p, UINT32_MAX);
    assert_int_equal(p.count, 3);
    assert_ptr_equal(co_peers_find(&p, 7), a);
    assert_ptr_equal(co_peers_find(&p, 9), b);
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

/* ---------------------------------------------------------------- */
/* Stability vectors and the group-stable minimum                    */
/* ---------------------------------------------------------------- */

#define SELF 100
static const co_member_ref_t S = {9, 90}; /* the sender asked about */

/* peer reports entries[0 .. n), in wire form as an ACK carries them. */
static void note(co_peers_t *p, co_peer_t *peer, const co_ack_entry_t *e,
                 size_t n)
{
    uint8_t body[2 + 16 * 16];
    assert_true(n >= 1 && n <= 16);
    co_ack_encode(body, e, n);
    co_ack_t ack;
    assert_int_equal(co_ack_decode(body, co_ack_size(n), &ack), 0);
    co_peers_note_vector(p, peer, ack.entries, ack.count);
}

static void note1(co_peers_t *p, co_peer_t *peer, co_member_ref_t sender,
                  uint64_t delivered)
{
    co_ack_entry_t e = {sender.id, sender.incarnation, delivered};
    note(p, peer, &e, 1);
}

static co_member_ref_t ref(const co_peer_t *peer)
{
    return (co_member_ref_t){peer->id, peer->incarnation};
}

static uint64_t gstable(const co_peers_t *p, const co_member_ref_t *m,
                        size_t n, uint64_t own)
{
    return co_peers_group_stable(p, m, n, SELF, S, own);
}

/* A member that never reported, or is not in the table, holds everything
 * back; with nobody to consider, our own position is the answer. */
static void group_stable_never_reported(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 8, NULL), 0);
    co_peer_t *a = add(&p, 1);
    co_peer_t *b = add(&p, 2);
    assert_true(gstable(&p, NULL, 0, 77) == 77);
    co_member_ref_t m[3] = {ref(a), ref(b), {7, 1007}};
    assert_true(gstable(&p, m, 1, 77) == 0); /* a has said nothing */
    note1(&p, a, S, 50);
    assert_true(gstable(&p, m, 1, 77) == 50);
    assert_true(gstable(&p, m, 1, 40) == 40); /* we are behind */
    assert_true(gstable(&p, m, 2, 77) == 0);  /* b has said nothing */
    /* b reports, but about other senders only. */
    co_ack_entry_t other[2] = {{8, 80, 500}, {10, 100, 500}};
    note(&p, b, other, 2);
    assert_true(gstable(&p, m, 2, 77) == 0);
    note1(&p, b, S, 60);
    assert_true(gstable(&p, m, 2, 77) == 50);
    assert_true(gstable(&p, m, 3, 77) == 0); /* 7 is not in the table */
    assert_true(co_peers_reported(a, S.id, S.incarnation) == 50);
    assert_true(co_peers_reported(a, 8, 80) == 0);
    co_peers_free(&p);
}

/* Only the members passed count; this member and the sender itself are
 * skipped. */
static void group_stable_only_members_considered(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 8, NULL), 0);
    co_peer_t *a = add(&p, 1);
    co_peer_t *b = add(&p, 2);
    co_peer_t *c = add(&p, 3);
    co_peer_t *snd = co_peers_add(&p, S.id, S.incarnation, RX_BYTES);
    assert_non_null(snd);
    note1(&p, a, S, 10);
    note1(&p, b, S, 50);
    note1(&p, c, S, 1);
    co_member_ref_t ab[2] = {ref(a), ref(b)};
    co_member_ref_t b_only[1] = {ref(b)};
    co_member_ref_t bc[2] = {ref(b), ref(c)};
    assert_true(gstable(&p, ab, 2, 99) == 10);
    assert_true(gstable(&p, b_only, 1, 99) == 50);
    assert_true(gstable(&p, bc, 2, 99) == 1);
    /* The view as the caller has it: us, the sender, b. Neither we nor the
     * sender report on the sender, and neither holds it back. */
    co_member_ref_t view[3] = {{SELF, 1100}, S, ref(b)};
    assert_true(gstable(&p, view, 3, 99) == 50);
    /* The order of the members does not matter. */
    co_member_ref_t ba[2] = {ref(b), ref(a)};
    assert_true(gstable(&p, ba, 2, 99) == 10);
    co_peers_free(&p);
}

/* Delivery never goes back: a lower value reported later is a reordered
 * old report and changes nothing; a report that leaves a sender out does
 * not forget it. */
static void group_stable_lower_report_later(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 8, NULL), 0);
    co_peer_t *a = add(&p, 1);
    co_member_ref_t m[1] = {ref(a)};
    note1(&p, a, S, 50);
    note1(&p, a, S, 30);
    assert_true(gstable(&p, m, 1, 99) == 50);
    note1(&p, a, S, 0);
    assert_true(gstable(&p, m, 1, 99) == 50);
    co_ack_entry_t other = {8, 80, 3};
    note(&p, a, &other, 1);
    assert_true(gstable(&p, m, 1, 99) == 50);
    note1(&p, a, S, 51);
    assert_true(gstable(&p, m, 1, 99) == 51);
    /* Entries in one report, the same sender twice: the higher wins. */
    co_ack_entry_t twice[2] = {{S.id, S.incarnation, 70},
                               {S.id, S.incarnation, 60}};
    note(&p, a, twice, 2);
    assert_true(gstable(&p, m, 1, 99) == 70);
    co_peers_free(&p);
}

/* A restarted sender is a new stream; a restarted reporter starts with
 * nothing, and the member list must name the incarnation it reports
 * from. */
static void group_stable_restarts(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 8, NULL), 0);
    co_peer_t *a = add(&p, 1);
    co_member_ref_t m[1] = {ref(a)};
    const co_member_ref_t s2 = {S.id, S.incarnation + 1};
    note1(&p, a, S, 50);
    note1(&p, a, s2, 5);
    assert_true(co_peers_group_stable(&p, m, 1, SELF, s2, 99) == 5);
    /* The old life's entry was replaced: nothing of it counts as stable. */
    assert_true(gstable(&p, m, 1, 99) == 0);
    /* A late report about the old life is ignored. */
    note1(&p, a, S, 60);
    assert_true(gstable(&p, m, 1, 99) == 0);
    assert_true(co_peers_group_stable(&p, m, 1, SELF, s2, 99) == 5);
    assert_int_equal(a->vec_count, 1);

    /* The reporter restarts: its old slot goes, the new one knows
     * nothing until it reports. */
    note1(&p, a, S, 40);
    assert_true(co_peers_reported(a, S.id, S.incarnation) == 0);
    co_peers_remove(&p, a);
    co_peer_t *a2 = co_peers_add(&p, 1, 2001, RX_BYTES);
    assert_non_null(a2);
    co_member_ref_t m2[1] = {ref(a2)};
    assert_true(co_peers_group_stable(&p, m2, 1, SELF, s2, 99) == 0);
    note1(&p, a2, s2, 8);
    assert_true(co_peers_group_stable(&p, m2, 1, SELF, s2, 99) == 8);
    /* A member list still naming the old life of the reporter: 0. */
    assert_true(co_peers_group_stable(&p, m, 1, SELF, s2, 99) == 0);
    co_peers_free(&p);
}

/* At most cap + 1 entries a peer: a new sender in a full vector evicts
 * the one reported least recently, never one of the current report. */
static void vector_bounded(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 3, NULL), 0);
    assert_int_equal(p.vec_cap, 4);
    co_peer_t *a = add(&p, 1);
    co_ack_entry_t hb[4] = {{20, 1, 1}, {21, 1, 2}, {22, 1, 3}, {23, 1, 4}};
    note(&p, a, hb, 4);
    assert_int_equal(a->vec_count, 4);
    /* Three refreshed, then a new one: 20 goes. */
    co_ack_entry_t hb2[4] = {{21, 1, 5}, {22, 1, 6}, {23, 1, 7}, {24, 1, 8}};
    note(&p, a, hb2, 4);
    assert_int_equal(a->vec_count, 4);
    assert_true(co_peers_reported(a, 20, 1) == 0);
    assert_true(co_peers_reported(a, 21, 1) == 5);
    assert_true(co_peers_reported(a, 24, 1) == 8);
    /* A report with more distinct senders than room (forged or broken)
     * churns within the bound. */
    co_ack_entry_t many[8];
    for (uint32_t i = 0; i < 8; i++)
        many[i] = (co_ack_entry_t){30 + i, 1, i + 1};
    note(&p, a, many, 8);
    assert_int_equal(a->vec_count, 4);
    for (size_t i = 1; i < a->vec_count; i++)
        assert_true(a->vec[i - 1].id < a->vec[i].id); /* sorted by id */
    assert_true(co_peers_reported(a, 37, 1) == 8);
    co_peers_free(&p);
}

/* The vector is allocated with the peer: either allocation refused, no
 * peer and nothing held. */
/* A LEAVE from a member never tracked leaves a tomb that says it left and
 * holds the LEAVE's packet_seq (so replays are refused); repeats are
 * taken once; a newer incarnation's tomb is not overwritten. */
static void bury_left_remembers(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 4, NULL), 0);
    co_peers_bury_left(&p, 9, 5, 100);
    co_peers_bury_left(&p, 9, 5, 100); /* the repeat */
    co_peers_bury_left(&p, 9, 5, 101);
    co_tomb_t *t = co_peers_tomb(&p, 9);
    assert_non_null(t);
    assert_true(t->left);
    assert_int_equal(t->incarnation, 5);
    assert_int_equal(co_replay_top(&t->packets), 101);
    assert_int_not_equal(co_replay_check(&t->packets, 100), 0);
    co_peers_bury_left(&p, 9, 4, 500); /* an older life: ignored */
    assert_int_equal(co_peers_tomb(&p, 9)->incarnation, 5);
    co_peers_free(&p);
}

/* Ids that share a hint bucket, removed and added again in other slots:
 * find always gives the one entry of the id (checked against a walk of
 * the slots), or NULL once it is gone. Seeded, so every run is the same. */
static void find_by_hint_matches_walk(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 16, NULL), 0);
    uint64_t x = 88172645463325252ULL;
    for (int step = 0; step < 5000; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* 40 ids over 64 buckets: many share one. */
        uint32_t id = 1 + (uint32_t)(x % 40);
        co_peer_t *found = co_peers_find(&p, id);
        co_peer_t *walked = NULL;
        for (size_t i = 0; i < p.cap; i++)
            if (p.slots[i].in_use && p.slots[i].id == id)
                walked = &p.slots[i];
        assert_ptr_equal(found, walked);
        if (found)
            co_peers_remove(&p, found);
        else if (p.count < p.cap)
            assert_non_null(co_peers_add(&p, id, 1, RX_BYTES));
    }
    co_peers_free(&p);
}

static void add_nomem_holds_nothing(void **state)
{
    (void)state;
    failmem_t fm;
    failmem_init(&fm);
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 4, &fm.mem), 0);
    long live = fm.live;
    uint64_t j;
    for (j = 1;; j++) {
        fm.fail_at = fm.calls + j;
        uint64_t failed = fm.failed;
        co_peer_t *peer = co_peers_add(&p, 1, 1001, RX_BYTES);
        if (fm.failed == failed) {
            assert_non_null(peer);
            break;
        }
        assert_null(peer);
        assert_int_equal(p.count, 0);
        assert_int_equal(fm.live, live);
    }
    assert_true(j >= 3); /* the vector and the window were both tried */
    co_peers_free(&p);
    assert_int_equal(fm.live, 0);
}

/* Walks stop at span: it covers every slot in use, and shrinks only past
 * free slots at the top, whatever order peers leave in. */
static void span_covers_every_slot_in_use(void **state)
{
    (void)state;
    co_peers_t p;
    assert_int_equal(co_peers_init(&p, 5, NULL), 0);
    assert_int_equal(p.span, 0);
    for (uint32_t id = 1; id <= 4; id++)
        add(&p, id);
    assert_int_equal(p.span, 4);
    co_peers_remove(&p, co_peers_find(&p, 2));
    assert_int_equal(p.span, 4); /* a hole below the top */
    co_peers_remove(&p, co_peers_find(&p, 4));
    assert_int_equal(p.span, 3); /* the top slot, down to 3 in use */
    assert_non_null(co_peers_find(&p, 3)); /* found by a walk too */
    for (size_t i = 0; i <= p.hint_mask; i++)
        p.hint[i] = 0;
    assert_non_null(co_peers_find(&p, 3));
    co_peers_remove(&p, co_peers_find(&p, 3));
    assert_int_equal(p.span, 1); /* past the hole at 2 */
    add(&p, 9); /* takes the lowest free slot */
    assert_ptr_equal(co_peers_find(&p, 9), &p.slots[1]);
    assert_int_equal(p.span, 2);
    co_peers_remove(&p, co_peers_find(&p, 1));
    co_peers_remove(&p, co_peers_find(&p, 9));
    assert_int_equal(p.span, 0);
    assert_int_equal(p.count, 0);
    co_peers_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_table),
        cmocka_unit_test(add_and_find),
        cmocka_unit_test(full_table_returns_null),
        cmocka_unit_test(remove_and_reuse),
        cmocka_unit_test(span_covers_every_slot_in_use),
        cmocka_unit_test(find_by_hint_matches_walk),
        cmocka_unit_test(remove_releases_what_it_holds),
        cmocka_unit_test(stable_without_peers),
        cmocka_unit_test(stable_non_reporting_peer),
        cmocka_unit_test(stable_reporting_peers),
        cmocka_unit_test(stable_is_minimum_over_peers),
        cmocka_unit_test(group_stable_never_reported),
        cmocka_unit_test(group_stable_only_members_considered),
        cmocka_unit_test(group_stable_lower_report_later),
        cmocka_unit_test(group_stable_restarts),
        cmocka_unit_test(vector_bounded),
        cmocka_unit_test(add_nomem_holds_nothing),
        cmocka_unit_test(bury_left_remembers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
