/*
 * test_total.c - TOTAL and SAFE delivery of the sans-IO core (total.c),
 * one behaviour at a time, on the in-test network of corenet.h: one
 * order at every member, the sender's own copy in its place, a sender's
 * modes kept in its order, SAFE only once every member holds it, and the
 * view change after a sequencer crash (one sequence at every survivor).
 * Also the ORDER codec's bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"
#include "core_internal.h" /* white box: co_vs_holding */
#include "wire.h"

#include "corenet.h"

#define ALL(k) ((1u << (k)) - 1)
#define BIT(t) (1u << (t))

/* Node r's TOTAL and SAFE deliveries in view v, as (sender << 16 |
 * index), in order; their count. Checks the order numbers as it goes:
 * 1, 2, 3 ... within the view. */
static size_t ordered_in(const net_t *n, int r, uint64_t v, uint32_t *out,
                         size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n->nlog[r]; i++) {
        const entry_t *e = &n->log[r][i];
        if (e->type != COHORT_EVENT_MESSAGE || e->view_id != v ||
            (e->mode != COHORT_TOTAL && e->mode != COHORT_SAFE))
            continue;
        assert_int_equal(e->order, k + 1);
        assert_true(k < max);
        out[k++] = (uint32_t)e->sender << 16 | e->index;
    }
    return k;
}

/* Every node of mask delivered the same ordered sequence in view v;
 * its length. */
static size_t same_order(const net_t *n, uint32_t mask, uint64_t v)
{
    static uint32_t a[8192], b[8192];
    int first = -1;
    size_t na = 0;
    for (int r = 0; r < n->nodes; r++) {
        if (!(mask >> r & 1))
            continue;
        if (first < 0) {
            first = r;
            na = ordered_in(n, r, v, a, 8192);
            continue;
        }
        size_t nb = ordered_in(n, r, v, b, 8192);
        if (nb != na)
            fail_msg("node %d delivered %zu ordered messages in the view, "
                     "node %d %zu", r, nb, first, na);
        for (size_t i = 0; i < na; i++)
            if (a[i] != b[i])
                fail_msg("order differs at %zu: node %d %x, node %d %x", i,
                         first, a[i], r, b[i]);
    }
    return na;
}

/* Per sender, node r delivered its messages (any mode) in index order,
 * each once, with none missing below the highest. */
static void sender_order(const net_t *n, int r)
{
    for (int s = 0; s < n->nodes; s++) {
        long last = -1;
        for (size_t i = 0; i < n->nlog[r]; i++) {
            const entry_t *e = &n->log[r][i];
            if (e->type != COHORT_EVENT_MESSAGE || e->sender != s)
                continue;
            if ((long)e->index != last + 1)
                fail_msg("node %d: from %d, index %u after %ld", r, s,
                         e->index, last);
            last = e->index;
        }
    }
}

static size_t count_mode(const net_t *n, int r, cohort_mode_t mode)
{
    size_t k = 0;
    for (size_t i = 0; i < n->nlog[r]; i++)
        if (n->log[r][i].type == COHORT_EVENT_MESSAGE &&
            n->log[r][i].mode == mode)
            k++;
    return k;
}

static void test_one_order_everywhere(void **state)
{
    (void)state;
    net_t *n = net_new(3, 3);
    uint64_t v = settle(n, ALL(3), 5000 * MS);
    for (int round = 0; round < 40; round++)
        for (int i = 0; i < 3; i++)
            send_mode(n, i, COHORT_TOTAL);
    run_for(n, 300 * MS);
    assert_int_equal(same_order(n, ALL(3), v), 120);
    for (int r = 0; r < 3; r++) {
        sender_order(n, r);
        assert_int_equal(count_mode(n, r, COHORT_TOTAL), 120);
    }
    net_free(n);
}

/* A sender's FIFO message sent after its TOTAL one is delivered after it,
 * everywhere, the sender included. */
static void test_modes_keep_sender_order(void **state)
{
    (void)state;
    net_t *n = net_new(3, 3);
    uint64_t v = settle(n, ALL(3), 5000 * MS);
    static const cohort_mode_t mix[] = {COHORT_TOTAL, COHORT_FIFO,
                                        COHORT_SAFE, COHORT_FIFO,
                                        COHORT_TOTAL};
    for (int round = 0; round < 30; round++)
        for (int i = 0; i < 3; i++)
            send_mode(n, i, mix[(round + i) % 5]);
    run_for(n, 400 * MS);
    size_t ordered = same_order(n, ALL(3), v);
    assert_int_equal(ordered, 54); /* 3 of every 5, 90 messages */
    for (int r = 0; r < 3; r++) {
        sender_order(n, r);
        assert_int_equal(count_mode(n, r, COHORT_FIFO), 36);
    }
    net_free(n);
}

/* With node 2 receiving nothing, a SAFE message is delivered nowhere;
 * once it hears again, everywhere. A TOTAL one is not held back. */
static void test_safe_waits_for_every_member(void **state)
{
    (void)state;
    net_t *n = net_new(3, 3);
    uint64_t v = settle(n, ALL(3), 5000 * MS);
    for (int from = 0; from < 3; from++)
        n->drop_types[from][2] = BIT(CO_TYPE_DATA);
    send_mode(n, 1, COHORT_SAFE);
    run_for(n, 20 * MS);
    for (int r = 0; r < 3; r++)
        assert_int_equal(count_mode(n, r, COHORT_SAFE), 0);
    for (int from = 0; from < 3; from++)
        n->drop_types[from][2] = 0;
    run_for(n, 100 * MS); /* node 2 asks for what it missed */
    for (int r = 0; r < 3; r++)
        assert_int_equal(count_mode(n, r, COHORT_SAFE), 1);
    assert_int_equal(same_order(n, ALL(3), v), 1);
    net_free(n);
}

/* The view's sequencer (members[0], its coordinator). */
static int sequencer_of(const net_t *n, int i)
{
    cohort_member_t m[MAXN];
    assert_true(co_core_view(n->cores[i], NULL, m, MAXN) > 0);
    return node_of(m[0].id);
}

/* The sequencer crashes while the others send TOTAL messages, some of
 * its ORDER records lost on the way to one of them, and the last rounds
 * never reach it: the survivors deliver one and the same sequence in the
 * old view, each sender's messages in order (what it never ordered,
 * last and transitional), then install the view without it. */
static void test_sequencer_crash(void **state)
{
    (void)state;
    net_t *n = net_new(4, 4);
    uint64_t v = settle(n, ALL(4), 5000 * MS);
    int seq = sequencer_of(n, 0), other = (seq + 1) % 4;
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 4; i++)
            if (i != seq)
                send_mode(n, i, COHORT_TOTAL);
        run_for(n, 2 * MS);
        if (round == 20)
            n->drop_types[seq][other] = BIT(CO_TYPE_DATA);
        if (round == 24)
            n->cut[seq] = 1; /* what follows is never ordered */
    }
    crash(n, seq);
    uint32_t alive = ALL(4) & ~BIT(seq);
    uint64_t v2 = settle(n, alive, 5000 * MS);
    assert_true(v2 != v);
    run_for(n, 100 * MS);
    size_t k = same_order(n, alive, v);
    assert_int_equal(k, 90); /* every sender lives: nothing is lost */
    size_t transitional = 0;
    for (int r = 0; r < 4; r++) {
        if (r == seq)
            continue;
        sender_order(n, r);
        for (size_t i = 0; i < n->nlog[r]; i++)
            transitional += (n->log[r][i].flags &
                             COHORT_MESSAGE_TRANSITIONAL) != 0;
    }
    /* The last 5 rounds were never ordered: 15 at each survivor. */
    assert_int_equal(transitional, 45);
    net_free(n);
}

/* The sequencer is cut off while the others send TOTAL messages, so none
 * is ordered, and the application of another node stops taking events
 * (every queue holds 8). The sequencer crashes; at the COMMIT the slow
 * node's flush is complete at once and the old view's end (every message, in the fixed
 * order) starts to go out, but stops for room. Its install must not be
 * given up at the flush deadline: what went out binds it to the members
 * it installs with (sim heavy 9124: given up, the member later moved on
 * with another that held an order for those places). Once its
 * application reads again it installs the same view, with the same
 * sequence as the others. */
static void test_end_stopped_for_room_binds_install(void **state)
{
    (void)state;
    net_t *n = net_new(4, 0);
    for (int i = 0; i < 4; i++) {
        n->evq_len[i] = 8;
        spawn(n, i);
    }
    uint64_t v = settle(n, ALL(4), 5000 * MS);
    int seq = sequencer_of(n, 0), slow = (seq + 1) % 4;
    n->cut[seq] = 1;
    n->app_paused[slow] = 1;
    for (int round = 0; round < 10; round++)
        for (int i = 0; i < 4; i++)
            if (i != seq && i != slow)
                send_mode(n, i, COHORT_TOTAL);
    run_for(n, 50 * MS);
    crash(n, seq);
    uint32_t alive = ALL(4) & ~BIT(seq);
    /* the change begins (the slow node answered it): what it sends now
     * waits for the install, with room kept for its own delivery */
    for (uint64_t end = n->now_ns + 2000 * MS; !co_vs_holding(n->cores[slow]);)
        assert_true((step(n), n->now_ns) < end);
    for (int k = 0; k < 3; k++)
        assert_int_equal(try_send(n, slow), 0);
    run_for(n, 3000 * MS); /* past the flush deadline */
    assert_int_equal(co_core_stats(n->cores[slow])->flushes_abandoned, 0);
    n->app_paused[slow] = 0;
    uint64_t v2 = settle(n, alive, 5000 * MS);
    assert_true(v2 != v);
    assert_int_equal(same_order(n, alive, v), 20);
    for (int r = 0; r < 4; r++)
        if (r != seq)
            sender_order(n, r);
    assert_int_equal(co_core_stats(n->cores[slow])->flushes_abandoned, 0);
    net_free(n);
}

/* Every datagram queued now reaches its receivers with no tick between
 * them, as the datagrams one turn of an application's loop reads. */
static void deliver_as_one_turn(net_t *n)
{
    for (size_t k = n->count; k > 0; k--)
        deliver_head(n, false);
}

/* The sequencer orders what a turn brought with one ORDER record, at its
 * next tick (due at once), not one record per datagram: ten datagrams of
 * two senders, read in one turn, are ordered by a single record. */
static void test_one_order_record_per_turn(void **state)
{
    (void)state;
    net_t *n = net_new(3, 3);
    uint64_t v = settle(n, ALL(3), 5000 * MS);
    run_for(n, 50 * MS);
    int seqr = -1;
    for (int i = 0; i < 3; i++)
        if (co_total_is_sequencer(n->cores[i]))
            seqr = i;
    assert_true(seqr >= 0);
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < 3; i++)
            if (i != seqr)
                send_mode(n, i, COHORT_TOTAL); /* one datagram each */
    co_core_t *sc = n->cores[seqr];
    uint64_t before = co_core_stats(sc)->order_records_sent;
    deliver_as_one_turn(n);
    assert_int_equal(co_core_stats(sc)->order_records_sent, before);
    /* The tick is due now, and orders all ten. */
    assert_true(co_core_deadline(sc) <= n->now_ns);
    co_core_tick(sc, n->now_ns);
    assert_int_equal(co_core_stats(sc)->order_records_sent, before + 1);
    for (int i = 0; i < 3; i++)
        drain_tx(n, i);
    run_for(n, 100 * MS);
    assert_int_equal(same_order(n, ALL(3), v), 10);
    for (int r = 0; r < 3; r++)
        sender_order(n, r);
    net_free(n);
}

/* Without self-delivery a member gets only the others' messages, in the
 * order the others see them. */
static void test_self_delivery_off(void **state)
{
    (void)state;
    net_t *n = net_new(3, 0);
    n->self_delivery[1] = 0;
    for (int i = 0; i < 3; i++)
        spawn(n, i);
    uint64_t v = settle(n, ALL(3), 5000 * MS);
    for (int round = 0; round < 10; round++)
        for (int i = 0; i < 3; i++)
            send_mode(n, i, COHORT_TOTAL);
    run_for(n, 200 * MS);
    assert_int_equal(same_order(n, BIT(0) | BIT(2), v), 30);
    assert_int_equal(count_mode(n, 1, COHORT_TOTAL), 20);
    net_free(n);
}

static void test_order_codec_rejects(void **state)
{
    (void)state;
    uint8_t buf[64];
    co_order_entry_t e[2] = {{7, 9, 12}, {8, 1, 3}};
    size_t len = co_order_encode(buf, e, 2), count = 0;
    assert_int_equal(len, 2 + 32);
    assert_int_equal(co_order_decode(buf, len, &count), 0);
    assert_int_equal(count, 2);
    co_order_entry_t got = co_order_entry_at(buf, 1);
    assert_int_equal(got.member_id, 8);
    assert_int_equal(got.through, 3);
    assert_int_equal(co_order_decode(buf, len - 1, &count),
                     CO_DROP(COHORT_DROP_TRUNCATED));
    assert_int_equal(co_order_decode(buf, len + 1, &count),
                     CO_DROP(COHORT_DROP_BAD_FIELD));
    assert_int_equal(co_order_decode(buf, 1, &count),
                     CO_DROP(COHORT_DROP_TRUNCATED));
    buf[2 + 16 + 3] = 0; /* second entry's id 8 -> 0 */
    assert_int_equal(co_order_decode(buf, len, &count),
                     CO_DROP(COHORT_DROP_BAD_FIELD));
    co_put16(buf, 0);
    assert_int_equal(co_order_decode(buf, len, &count),
                     CO_DROP(COHORT_DROP_BAD_FIELD));
    /* At most CO_ORDER_ENTRIES_MAX entries, whatever the datagram holds:
     * a receiver keeps room for that many before it takes a record. */
    enum { MAXE = CO_ORDER_ENTRIES_MAX };
    co_order_entry_t many[MAXE + 1];
    uint8_t big[CO_ORDER_FIXED_BYTES + (MAXE + 1) * CO_ORDER_ENTRY_BYTES];
    for (size_t i = 0; i <= MAXE; i++)
        many[i] = (co_order_entry_t){(uint32_t)i + 1, 1, 5};
    len = co_order_encode(big, many, MAXE);
    assert_int_equal(co_order_decode(big, len, &count), 0);
    assert_int_equal(count, MAXE);
    len = co_order_encode(big, many, MAXE + 1);
    assert_int_equal(co_order_decode(big, len, &count),
                     CO_DROP(COHORT_DROP_BAD_FIELD));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_order_everywhere),
        cmocka_unit_test(test_modes_keep_sender_order),
        cmocka_unit_test(test_safe_waits_for_every_member),
        cmocka_unit_test(test_sequencer_crash),
        cmocka_unit_test(test_end_stopped_for_room_binds_install),
        cmocka_unit_test(test_self_delivery_off),
        cmocka_unit_test(test_one_order_record_per_turn),
        cmocka_unit_test(test_order_codec_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
